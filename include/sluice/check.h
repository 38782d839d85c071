/* sluice check: the invariant checker of a namespace. It only reads.
 *
 * Per class, in one atomic snapshot (the read-only Function sluice_check):
 *   - every job (meta entry) is in exactly one of ready, delayed, leased,
 *     dead and done, the one its state names, with a score that matches its
 *     priority and sequence (ready) or its time (the others);
 *   - every set member and payload has a job, and every job a payload;
 *   - each job's fields are in range: attempts, priority, cost, timeout,
 *     sequence and token no higher than the class has issued, a waiting job
 *     has an attempt left, a leased one has an attempt and a token;
 *   - no time is absurd: enqueued and ended in the past, a lease deadline
 *     at most the longest lease (7 days) ahead, a due time before 9999;
 *   - unique keys name live jobs that hold them, and every live job with a
 *     unique key holds it;
 *   - the counters add up:
 *       enqueued - acked - cancelled - purged - dead_dropped
 *           = ready + delayed + leased + dead
 *     (an acked job kept in the done list has left through "acked"), and
 *       claimed - acked - failed - released - reclaimed = leased;
 *   - the class hash, the gate and the rate bucket hold only known fields
 *     with values the Functions accept.
 * Globally (sluice_check_global, atomic): registry names, signal
 * definitions and values parse and agree, the governor hash is sane. The
 * registry is compared with the declared classes by the caller: a class is
 * declared and registered by two calls, so a mismatch seen during a
 * concurrent class set or delete can be transient; check again to confirm.
 *
 * Cost: the per-class check blocks Redis for O(jobs of the class) (reads
 * every meta entry and set member). A class holding more than "max_jobs"
 * jobs (the most entries of its job hashes, or of its sets together) is
 * not read; the check fails with SLUICE_ERR_STATE.
 * Needs the operator (or deploy) role. */
#ifndef SLUICE_CHECK_H
#define SLUICE_CHECK_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/job.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_CHECK_MAX_JOBS 10000 /* the default bound on jobs per class */

/* One inconsistency. */
typedef struct sluice_problem {
    char cls[65];                /* the class; "" for the global keys */
    char code[16];               /* membership, orphan, payload, meta, lease, state, field,
                                   time, score, unique, counter, counters, class,
                                   gate, bucket, noclass, registry, signal,
                                   governor, id, duplicate, truncated,
                                   fair, deadline, parked */
    char subject[SLUICE_ID_MAX]; /* a job id, a field, a class or signal name */
    char detail[200];            /* what is wrong, in words */
} sluice_problem;

typedef struct sluice_check sluice_check;

/* Checks the classes named in classes[0..n) (NULL or n 0: every class in
 * the registry) and the global keys, each class with at most "max_jobs"
 * (>= 1; INT64_MAX: no bound) jobs. Returns a NEW result (free with
 * sluice_check_free), or NULL with err set: SLUICE_ERR_NAME,
 * SLUICE_ERR_ARGUMENT, SLUICE_ERR_STATE (a class over max_jobs),
 * SLUICE_ERR_SERVER (e.g. NOPERM for a role that may not read), a
 * connection error. */
sluice_check *sluice_namespace_check(sluice_client *c, const char *const *classes, size_t n, int64_t max_jobs,
                                     sluice_error *err);

/* The problems found, 0 when the namespace is consistent. */
size_t sluice_check_count(const sluice_check *k);
/* Problem i < count. BORROWED, valid until sluice_check_free. */
const sluice_problem *sluice_check_problem(const sluice_check *k, size_t i);

/* The classes checked, in order; name BORROWED. "declared" says whether the
 * class hash exists, "jobs" how many jobs it holds. */
size_t sluice_check_classes(const sluice_check *k);
const char *sluice_check_class(const sluice_check *k, size_t i, int *declared, int64_t *jobs);

void sluice_check_free(sluice_check *k); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
