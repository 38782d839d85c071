/* sluice signals: named gauges of database pressure, each with a target,
 * a critical level and the side that is worse; values carry the Redis time
 * they were observed. Definitions are audited in the global audit stream. */
#ifndef SLUICE_SIGNAL_H
#define SLUICE_SIGNAL_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/law.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------ signals ------------------------------ */

typedef struct sluice_signal_def {
    double target;             /* where we want it */
    double critical;           /* every non-critical class to its floor */
    int lower_is_worse;        /* 1 for e.g. burst balance */
    int64_t stale_after_ms;    /* default 30000 */
    int64_t period_ms;         /* 0..86400000: how long a change in the database takes to
                                * show in a value (the source's interval plus its publishing
                                * delay); default 0, not declared: a value stands, e.g. one
                                * pushed on change */
    sluice_on_stale on_stale;  /* default assume-pressure: a dead collector moves classes to their floor */
} sluice_signal_def;

void sluice_signal_def_init(sluice_signal_def *def);

/* Defines or redefines a signal. "critical" must be on the worse side of
 * "target". Audited. "*created" may be NULL. Returns 0, or -1. */
int sluice_signal_define(sluice_client *c, const char *name, const sluice_signal_def *def,
                         int *created, sluice_error *err);

/* Reports a value observed "age_ms" ago (0 for now; the Redis clock turns
 * it into a time). Values must be finite. Returns 0, or -1 with
 * SLUICE_ERR_NOT_FOUND for an undefined signal. */
int sluice_signal_report(sluice_client *c, const char *name, double value, int64_t age_ms,
                         sluice_error *err);

int sluice_signal_delete(sluice_client *c, const char *name, sluice_error *err);

typedef struct sluice_signal_info {
    char name[65];
    sluice_signal_def def;
    int has_value;
    double value;
    int64_t observed_at;       /* Unix ms */
    int64_t age_ms;            /* now - observed_at */
    int stale;                 /* no value, or age over stale_after_ms */
} sluice_signal_info;

/* Every signal, sorted by name: a NEW array of *n (free with
 * sluice_signal_list_free), or NULL with *n 0. "*now" (may be NULL)
 * receives the Redis clock. */
sluice_signal_info *sluice_signal_list(sluice_client *c, size_t *n, int64_t *now,
                                       sluice_error *err);

/* Frees a list from sluice_signal_list. NULL is a no-op. */
void sluice_signal_list_free(sluice_signal_info *signals, size_t n);

/* The control law's view of a listed signal (sluice/governor.h), e.g. for
 * sluice_law_signal_thresholds. out->name BORROWS in->name. */
void sluice_signal_law(const sluice_signal_info *in, sluice_law_signal *out);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
