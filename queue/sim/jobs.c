/* The simulator's job queue: one class's waiting jobs by fairness key,
 * served as a claim serves them (the keys that wait in turn, FIFO within a
 * key), with each job's start_by, late starts and expiry. No I/O. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* ================================================================ a key */

/* Jobs of one key that arrived in the same second from the same arrival
 * pattern wait together; the last of them is the one whose wait counts as
 * the chunk's. */
struct sim_chunk {
    double t_arr; /* s */
    int64_t jobs;
    int64_t jobs_done;
    int64_t started;     /* jobs of it started (their first IO ran) */
    double cost;         /* IO units per job */
    double done_io;      /* IO units of it already run */
    int batch;           /* 1 if from a batch or periodic burst: counts for the makespan */
    int64_t start_by_ms; /* ms from the scenario start; -1: none */
    size_t group;        /* its arrival in the class's groups */
};

static int key_push(sim_key *q, const sim_chunk *k) {
    if (q->head > 0 && q->head == q->len) q->head = q->len = 0;
    if (q->len == q->cap) {
        if (q->head > q->cap / 2) {
            memmove(q->c, q->c + q->head, (q->len - q->head) * sizeof *q->c);
            q->len -= q->head;
            q->head = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 256;
            sim_chunk *n = realloc(q->c, ncap * sizeof *n);
            if (!n) return -1;
            q->c = n;
            q->cap = ncap;
        }
    }
    if (q->ready == 0) q->head_since = k->t_arr;
    q->c[q->len++] = *k;
    q->waiting_io += (double)k->jobs * k->cost;
    q->waiting_jobs += k->jobs;
    q->ready += k->jobs;
    q->used = 1;
    return 0;
}

/* "n" jobs of chunk k leave the ready jobs, started or expired. */
static void leave_ready(sim_queue *cq, sim_key *q, sim_chunk *k, int64_t n) {
    q->ready -= n;
    cq->ready -= n;
    cq->groups[k->group].ready -= n;
}

/* Dead-letters the jobs of chunk k not started by its start_by (at t_ms):
 * counted as expired, never lost. */
static void chunk_expire(sim_queue *cq, sim_key *q, sim_chunk *k, int64_t t_ms, sluice_sim_class_result *cr) {
    if (k->start_by_ms < 0 || t_ms <= k->start_by_ms || k->started == k->jobs) return;
    int64_t n = k->jobs - k->started;
    k->jobs = k->started;
    q->waiting_io -= (double)n * k->cost;
    if (q->waiting_io < 0) q->waiting_io = 0;
    q->waiting_jobs -= n;
    cr->expired += n;
    leave_ready(cq, q, k, n);
}

/* Jobs of chunk k whose first IO ran by now: counts their starts at t_ms,
 * late ones, and the key's wait for its turn. */
static void chunk_starts(sim_queue *cq, sim_key *q, sim_chunk *k, int64_t t_ms, sluice_sim_class_result *cr) {
    int64_t started = (int64_t)ceil(k->done_io / k->cost - 1e-9);
    if (started > k->jobs) started = k->jobs;
    int64_t n = started - k->started;
    if (n <= 0) return;
    double t = (double)t_ms / 1000.0;
    if (t - q->head_since > q->turn_wait) q->turn_wait = t - q->head_since;
    q->head_since = t;
    k->started = started;
    cq->starts += n;
    if (k->start_by_ms >= 0 && t_ms > k->start_by_ms) cr->late_starts += n;
    leave_ready(cq, q, k, n);
}

/* Runs up to "budget" IO units of key q, oldest first, in the step that
 * starts at t_ms; returns what ran and records finished jobs in *cr at time
 * "now" (s, the step's end). */
static double key_run(sim_queue *cq, sim_key *q, double budget, int64_t t_ms, double now, sluice_sim_class_result *cr,
                      double *batch_done) {
    double ran = 0;
    while (budget > 1e-12 && q->head < q->len) {
        sim_chunk *k = &q->c[q->head];
        if (cq->on_expiry == SLUICE_EXPIRY_DEAD) chunk_expire(cq, q, k, t_ms, cr);
        if (k->jobs == 0) {
            q->head++;
            continue;
        }
        double total = (double)k->jobs * k->cost;
        double x = total - k->done_io;
        if (x > budget) x = budget;
        k->done_io += x;
        budget -= x;
        ran += x;
        chunk_starts(cq, q, k, t_ms, cr);
        int64_t done = (int64_t)floor(k->done_io / k->cost + 1e-9);
        if (k->done_io >= total - 1e-9 * total) done = k->jobs;
        if (done > k->jobs) done = k->jobs;
        cr->jobs_done += done - k->jobs_done;
        q->waiting_jobs -= done - k->jobs_done;
        k->jobs_done = done;
        if (done == k->jobs) {
            if (now - k->t_arr > cr->longest_wait_s) cr->longest_wait_s = now - k->t_arr;
            cr->finish_s = now;
            if (k->batch && now > *batch_done) *batch_done = now;
            q->head++;
        } else {
            break;
        }
    }
    q->waiting_io -= ran;
    while (q->head < q->len && q->c[q->head].jobs == 0) q->head++;
    if (q->head == q->len) {
        q->waiting_io = 0;
    } else if (q->waiting_io <= 0) {
        /* Rounding drift: count again rather than strand the rest. */
        q->waiting_io = 0;
        for (size_t i = q->head; i < q->len; i++)
            q->waiting_io += (double)q->c[i].jobs * q->c[i].cost - q->c[i].done_io;
    }
    return ran;
}

/* ================================================================ a class */

int simq_init(sim_queue *cq, const sim_class *c) {
    memset(cq, 0, sizeof *cq);
    cq->nkeys = (size_t)c->keys;
    cq->on_expiry = c->on_expiry;
    for (size_t a = 0; a < c->narr; a++)
        if (c->arr[a].within_s > 0 && (cq->min_within_s == 0 || c->arr[a].within_s < cq->min_within_s))
            cq->min_within_s = c->arr[a].within_s;
    cq->key = calloc(cq->nkeys, sizeof *cq->key);
    cq->active = calloc(cq->nkeys, sizeof *cq->active);
    cq->cdf = calloc(cq->nkeys, sizeof *cq->cdf);
    if (!cq->key || !cq->active || !cq->cdf) return -1;
    double sum = 0;
    for (size_t k = 0; k < cq->nkeys; k++) sum += pow((double)(k + 1), -c->skew);
    double cum = 0;
    for (size_t k = 0; k < cq->nkeys; k++) {
        cum += pow((double)(k + 1), -c->skew) / sum;
        cq->cdf[k] = cum;
    }
    cq->cdf[cq->nkeys - 1] = 1.0;
    return 0;
}

void simq_free(sim_queue *cq) {
    for (size_t k = 0; cq->key && k < cq->nkeys; k++) free(cq->key[k].c);
    free(cq->key);
    free(cq->active);
    free(cq->cdf);
    free(cq->groups);
    memset(cq, 0, sizeof *cq);
}

/* The class's totals again from its active keys; drops the keys that
 * emptied from the active list. */
static void simq_sum(sim_queue *cq) {
    size_t n = 0;
    cq->waiting_io = 0;
    cq->waiting_jobs = 0;
    for (size_t i = 0; i < cq->nactive; i++) {
        sim_key *q = &cq->key[cq->active[i]];
        cq->waiting_io += q->waiting_io;
        cq->waiting_jobs += q->waiting_jobs;
        if (q->head < q->len)
            cq->active[n++] = cq->active[i];
        else
            q->active = 0;
    }
    cq->nactive = n;
}

static int push_key(sim_queue *cq, size_t key, const sim_chunk *k) {
    sim_key *q = &cq->key[key];
    if (key_push(q, k) < 0) return -1;
    if (!q->active) {
        q->active = 1;
        cq->active[cq->nactive++] = key;
    }
    return 0;
}

/* The key of the j-th job arriving: Zipf by the class's cdf. */
static size_t key_of(const sim_queue *cq, double u) {
    size_t lo = 0, hi = cq->nkeys - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cq->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int simq_push(sim_queue *cq, const sluice_sim_scenario *s, size_t ci, size_t ai, int64_t sec, int64_t n) {
    const sim_arrival *a = &s->classes[ci].arr[ai];
    if (cq->ngroups == cq->capgroups) {
        size_t ncap = cq->capgroups ? cq->capgroups * 2 : 64;
        sim_group *g = realloc(cq->groups, ncap * sizeof *g);
        if (!g) return -1;
        cq->groups = g;
        cq->capgroups = ncap;
    }
    sim_chunk k = {
        (double)sec, 0, 0, 0, a->cost, 0.0, a->kind != ARR_POISSON, a->within_s > 0 ? (sec + a->within_s) * 1000 : -1,
        cq->ngroups};
    cq->groups[cq->ngroups++] = (sim_group){sec, k.start_by_ms, n};
    cq->ready += n;
    int rc = 0;
    if (cq->nkeys == 1) {
        k.jobs = n;
        rc = push_key(cq, 0, &k);
    } else if (n <= 64) {
        /* Few jobs: each draws its key. */
        int64_t count[64] = {0};
        size_t keys[64], nk = 0;
        for (int64_t j = 0; j < n; j++) {
            double u = rng_uniform(s->seed, STREAM_KEY, (uint64_t)(ci * SIM_MAX_ARRIVALS + ai),
                                   (uint64_t)sec * 64 + (uint64_t)j);
            size_t key = key_of(cq, u), x = 0;
            while (x < nk && keys[x] != key) x++;
            if (x == nk) keys[nk++] = key;
            count[x]++;
        }
        for (size_t x = 0; rc == 0 && x < nk; x++) {
            k.jobs = count[x];
            rc = push_key(cq, keys[x], &k);
        }
    } else {
        /* Many: each key its share, rounded so that they add up to n. */
        int64_t prev = 0;
        for (size_t key = 0; rc == 0 && key < cq->nkeys; key++) {
            int64_t cum = llround((double)n * cq->cdf[key]);
            k.jobs = cum - prev;
            prev = cum;
            if (k.jobs > 0) rc = push_key(cq, key, &k);
        }
    }
    simq_sum(cq);
    return rc;
}

double simq_run(sim_queue *cq, double budget, int64_t t_ms, double now, sluice_sim_class_result *cr,
                double *batch_done) {
    double ran = 0, left = budget;
    /* The keys that wait share the budget equally, as a claim serves them
     * in turn; a key that needs less leaves the rest to the others. */
    for (int round = 0; round < 8 && left > 1e-12 && cq->nactive > 0; round++) {
        double share = left / (double)cq->nactive, got = 0;
        for (size_t i = 0; i < cq->nactive; i++)
            got += key_run(cq, &cq->key[cq->active[i]], share, t_ms, now, cr, batch_done);
        ran += got;
        left -= got;
        simq_sum(cq);
        if (got <= 1e-12) break;
    }
    return ran;
}

void simq_expire(sim_queue *cq, int64_t t_ms, sluice_sim_class_result *cr) {
    if (cq->on_expiry != SLUICE_EXPIRY_DEAD) return;
    for (size_t i = 0; i < cq->nactive; i++) {
        sim_key *q = &cq->key[cq->active[i]];
        for (size_t j = q->head; j < q->len; j++) chunk_expire(cq, q, &q->c[j], t_ms, cr);
        while (q->head < q->len && q->c[q->head].jobs == 0) q->head++;
    }
    simq_sum(cq);
}

/* Inserts (start_by, ahead) into out[0..*n), kept in start_by order (ties
 * by ahead), at most SIM_DEADLINE_JOBS; returns 0 when it did not fit. */
static int insert_entry(sluice_deadline_entry *out, size_t *n, int64_t start_by, int64_t ahead) {
    size_t at = *n;
    while (at > 0 &&
           (out[at - 1].start_by > start_by || (out[at - 1].start_by == start_by && out[at - 1].ahead > ahead)))
        at--;
    if (at >= SIM_DEADLINE_JOBS) return 0;
    size_t last = *n < SIM_DEADLINE_JOBS ? *n : SIM_DEADLINE_JOBS - 1;
    memmove(out + at + 1, out + at, (last - at) * sizeof *out);
    out[at] = (sluice_deadline_entry){start_by, ahead};
    if (*n < SIM_DEADLINE_JOBS) (*n)++;
    return 1;
}

static int cmp_group_start_by(const void *a, const void *b) {
    int64_t x = ((const sim_group *)a)->start_by_ms, y = ((const sim_group *)b)->start_by_ms;
    return (x > y) - (x < y);
}

/* Appends to out[n..] the samples of the ready jobs' start_by, as
 * sluice_deadline_samples reads them of a class's entries; returns the new
 * count, or 0 when out of memory. */
static size_t add_samples(const sim_queue *cq, sluice_deadline_entry *out, size_t n) {
    sim_group *by = malloc((cq->ngroups - cq->ghead + 1) * sizeof *by);
    size_t m = 0;
    int64_t total = 0;
    if (!by) return 0;
    for (size_t g = cq->ghead; g < cq->ngroups; g++)
        if (cq->groups[g].start_by_ms >= 0 && cq->groups[g].ready > 0) {
            by[m++] = cq->groups[g];
            total += cq->groups[g].ready;
        }
    qsort(by, m, sizeof *by, cmp_group_start_by);
    if (total > (int64_t)n) {
        size_t g = 0;
        int64_t before = 0; /* entries in by[0..g) */
        for (int i = 0; i < SLUICE_DEADLINE_SAMPLES; i++) {
            int64_t at = sluice_deadline_sample_index(total, i);
            while (before + by[g].ready <= at) before += by[g++].ready;
            out[n++] = (sluice_deadline_entry){by[g].start_by_ms, at + 1};
        }
    }
    free(by);
    return n;
}

size_t simq_deadlines(sim_queue *cq, sluice_deadline_entry *out) {
    size_t n = 0;
    int64_t ahead = 0;
    while (cq->ghead < cq->ngroups && cq->groups[cq->ghead].ready == 0) cq->ghead++;
    for (size_t g = cq->ghead; g < cq->ngroups; g++) {
        const sim_group *x = &cq->groups[g];
        /* Later arrivals are due no sooner than this one's shortest start_within. */
        if (n == SIM_DEADLINE_JOBS && (x->sec + cq->min_within_s) * 1000 >= out[n - 1].start_by) break;
        for (int64_t j = 1; x->start_by_ms >= 0 && j <= x->ready; j++)
            if (!insert_entry(out, &n, x->start_by_ms, ahead + j)) break;
        ahead += x->ready;
    }
    return n ? add_samples(cq, out, n) : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int simq_tally(const sim_queue *cq, double end_s, sluice_sim_class_result *cr) {
    double *w = calloc(cq->nkeys, sizeof *w);
    if (!w) return -1;
    size_t n = 0;
    cr->jobs_waiting = 0;
    for (size_t k = 0; k < cq->nkeys; k++) {
        const sim_key *q = &cq->key[k];
        if (!q->used) continue;
        double wait = q->turn_wait;
        if (q->ready > 0 && end_s - q->head_since > wait) wait = end_s - q->head_since;
        w[n++] = wait;
        for (size_t i = q->head; i < q->len; i++) {
            cr->jobs_waiting += q->c[i].jobs - q->c[i].jobs_done;
            /* The oldest waiting job has waited at least this long. */
            if (q->c[i].jobs > q->c[i].jobs_done && end_s - q->c[i].t_arr > cr->longest_wait_s)
                cr->longest_wait_s = end_s - q->c[i].t_arr;
        }
    }
    qsort(w, n, sizeof *w, cmp_double);
    cr->keys = (int64_t)n;
    cr->key_wait_worst_s = n ? w[n - 1] : 0;
    cr->key_wait_median_s = n ? (n % 2 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2])) : 0;
    free(w);
    return 0;
}
