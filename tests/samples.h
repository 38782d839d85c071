/* Samples for the summaries of make demo (tests/demo/sluice-demo.c) and
 * make proof (tests/proof/sluice-proof.c): a growable array of doubles and
 * its quantiles. Header-only, for those programs alone. */
#ifndef SLUICE_TESTS_SAMPLES_H
#define SLUICE_TESTS_SAMPLES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec; /* free(v) when done */

/* Appends x; out of memory, exits the program with status 1. */
static inline void dpush(dvec *d, double x) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->v = realloc(d->v, d->cap * sizeof(*d->v));
        if (!d->v) {
            fputs("out of memory\n", stderr);
            exit(1);
        }
    }
    d->v[d->n++] = x;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of v[0..n), sorted in place. NaN when empty. */
static inline double quantile(double *v, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)ceil(q * (double)n);
    if (i > 0) i--;
    if (i >= n) i = n - 1;
    return v[i];
}

#endif
