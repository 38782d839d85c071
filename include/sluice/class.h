/* sluice classes: a class is a stream of jobs with a tier and limits.
 * Classes must be declared before jobs can be enqueued (an undeclared class
 * gets SLUICE_ERR_UNKNOWN_CLASS): limits are part of a class, and a typo in
 * a producer must not create an unthrottled stream. Every change is
 * validated whole by one Redis Function before it writes, and appended to
 * the class's capped audit stream atomically with it. */
#ifndef SLUICE_CLASS_H
#define SLUICE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/tier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------ classes ------------------------------ */

/* A class's configuration. sluice_class_config_init sets the defaults. */
typedef struct sluice_class_config {
    sluice_tier tier;          /* default normal */
    double max_rate;           /* cost units per second; 0: no rate limit */
    double burst;              /* cost units; 0: one second's worth of max_rate */
    int64_t max_concurrency;   /* leases in flight, fleet-wide; 0: no limit */
    double floor;              /* [0,1], fraction kept under pressure; default 0.1 */
    int64_t max_queue;         /* ready + delayed; 0: no limit */
    int max_attempts;          /* default 5 */
    int64_t timeout_ms;        /* the lease; default 30000 */
    int max_reclaims;          /* expired leases before a job is poison; default 3 */
    int64_t keep_done;         /* completed jobs kept; default 0 */
    int64_t dead_max;          /* dead set cap; default 10000 */
    int64_t payload_max;       /* bytes, at most 262144; default 65536 */
    int64_t backoff_base_ms;   /* default 1000 */
    int64_t backoff_max_ms;    /* default 3600000 */
} sluice_class_config;

void sluice_class_config_init(sluice_class_config *cfg);

/* Declares or replaces a class with every field of *cfg. A non-critical
 * class needs max_rate or max_concurrency (what the governor scales).
 * "*created" (may be NULL) receives 1 for a new class. Returns 0, or -1 with
 * SLUICE_ERR_NAME or SLUICE_ERR_ARGUMENT; then nothing changed. */
int sluice_class_set(sluice_client *c, const char *cls, const sluice_class_config *cfg,
                     int *created, sluice_error *err);

/* Changes the named fields only ("fields" and "values" are n strings, the
 * field names of sluice_class_config, values in its units, e.g. "max_rate"
 * "50"), declaring the class if it is new. Validated as a whole. */
int sluice_class_update(sluice_client *c, const char *cls, const char *const *fields,
                        const char *const *values, size_t n, int *created, sluice_error *err);

/* Reads a class's configuration. Returns 0, or -1 (SLUICE_ERR_UNKNOWN_CLASS). */
int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out,
                     sluice_error *err);

/* Deletes a class and its jobs. Without "force" a class holding jobs is
 * refused with SLUICE_ERR_STATE. Returns 0, or -1. */
int sluice_class_delete(sluice_client *c, const char *cls, int force, sluice_error *err);

/* The declared classes, sorted: a NEW array of *n NEW strings (free with
 * sluice_class_list_free), or NULL with *n 0 (err tells whether it failed). */
char **sluice_class_list(sluice_client *c, size_t *n, sluice_error *err);

/* Frees a list from sluice_class_list. NULL is a no-op. */
void sluice_class_list_free(char **names, size_t n);


typedef struct sluice_class_stats {
    int64_t ready, delayed, leased, dead;           /* current depths */
    int64_t enqueued, claimed, acked, failed, retried, died, reclaimed,
            released, cancelled, throttled, dead_dropped,
            purged;                                 /* totals since the class was declared */
} sluice_class_stats;

/* Reads a class's depths and counters. Returns 0, or -1. */
int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out,
                           sluice_error *err);

#ifdef __cplusplus
}
#endif
#endif
