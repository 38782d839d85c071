/* sluice deadlines: a job's start_by and what its class does when it passes.
 *
 * A job may carry start_by (sluice_enqueue_opts: start_by_ms, absolute Unix
 * ms by the Redis clock, or start_within_ms, resolved against the Redis clock
 * at enqueue): the time by which its FIRST start should come. A claim that
 * leases it removes it; a retry, a release or a reclaim has no start_by. A
 * class's on_expiry says what a job not started by then becomes:
 *   run   (default) it still runs when the gate admits it; the claim that
 *         leases it counts a late start (stats "late").
 *   dead  a claim of the class (throttled or not) dead-letters it with the
 *         reason "expired" (stats "expired", and "dead"); it is never
 *         dropped silently.
 * A class's deadline_reserve (0..1, default 0) is the share of its
 * unthrottled limits the governor may add above the control law's fraction
 * so that waiting jobs meet their start_by.
 *
 * A waiting job's start_by is kept in the class's deadlines set (Redis key
 * NS:{class}:deadlines, member the job id, score start_by). Entries whose job
 * is no longer waiting (claimed by a worker of library version 8 or older,
 * which knows no deadlines) are allowed: readers skip them and, with
 * on_expiry dead, the expiry sweep removes them. */
#ifndef SLUICE_DEADLINE_H
#define SLUICE_DEADLINE_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_START_BY_PAST_MAX 31536000000LL /* ms: start_by at most a year in the past */
#define SLUICE_DEADLINE_VIEW_MAX 100           /* entries of one sluice_deadline_view */

/* What a class does with a job not started by its start_by: X(enum
 * constant, name), the one list of the enum, the names and the Functions'
 * check. */
#define SLUICE_ON_EXPIRY_LIST(X)                                                                                       \
    X(SLUICE_EXPIRY_RUN, "run")   /* it runs late, counted as a late start */                                          \
    X(SLUICE_EXPIRY_DEAD, "dead") /* it is dead-lettered, reason "expired" */

#define SLUICE_ON_EXPIRY_ENUM(constant, name) constant,
typedef enum sluice_on_expiry { SLUICE_ON_EXPIRY_LIST(SLUICE_ON_EXPIRY_ENUM) } sluice_on_expiry;
#undef SLUICE_ON_EXPIRY_ENUM

/* "run" or "dead". BORROWED, static; NULL if invalid. */
const char *sluice_on_expiry_name(sluice_on_expiry o);

/* Parses "run" or "dead" into *out. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT (*out unchanged). */
int sluice_on_expiry_parse(const char *s, sluice_on_expiry *out, sluice_error *err);

/* One entry of a class's deadlines whose job is ready. */
typedef struct sluice_deadline_entry {
    int64_t start_by; /* Unix ms, Redis clock */
    int64_t ahead;    /* the ready jobs that start before it, itself included (its rank + 1) */
} sluice_deadline_entry;

/* Reads the earliest "limit" (1..SLUICE_DEADLINE_VIEW_MAX) entries of class
 * "cls" whose job is ready, in start_by order, into out[0..*n) (out has room
 * for limit). Entries of delayed jobs, and of jobs no longer waiting, are
 * skipped; at most SLUICE_DEADLINE_VIEW_MAX * 10 entries are looked at.
 * "*now" receives the Redis clock (ms) and "*total" every entry of the class.
 * Read-only (FCALL_RO): the governor and operator roles may call it. Returns
 * 0, or -1 with SLUICE_ERR_NAME, SLUICE_ERR_ARGUMENT,
 * SLUICE_ERR_UNKNOWN_CLASS or a connection error. */
int sluice_deadline_view(sluice_client *c, const char *cls, size_t limit, sluice_deadline_entry *out, size_t *n,
                         int64_t *now, int64_t *total, sluice_error *err);

/* The earliest entries say how urgent the head of the line is, not how many
 * jobs stand behind it: a batch enqueued a few at a time, one start_by an
 * hour away, shows its first jobs only, which need almost nothing. So the
 * lift also reads SLUICE_DEADLINE_SAMPLES entries spread over all of a
 * class's "total" entries in start_by order: sample i is the entry at index
 * sluice_deadline_sample_index(total, i) (0-based; the last sample is the
 * last entry), and its "ahead" is that index + 1, the entries due no later
 * than it: every one of them must start by its start_by. */
#define SLUICE_DEADLINE_SAMPLES 16
int64_t sluice_deadline_sample_index(int64_t total, int i);

/* Reads the samples of class "cls" for "total" entries (as
 * sluice_deadline_view gave it) into out[0..*n) (out has room for
 * SLUICE_DEADLINE_SAMPLES), in one pipelined round trip of plain reads
 * (ZRANGE, which the governor and operator roles hold). An entry gone since
 * "total" was read is left out. Returns 0 (*n = 0 when total <= 0), or -1
 * with SLUICE_ERR_NAME or a connection error. */
int sluice_deadline_samples(sluice_client *c, const char *cls, int64_t total, sluice_deadline_entry *out, size_t *n,
                            sluice_error *err);

/* ------------------------------- the lift ------------------------------ */

/* What the governor admits a class for its deadlines beyond the control
 * law's fraction. */
typedef struct sluice_deadline_lift {
    double fraction; /* the law's fraction plus the lift, in [law, min(1, law + reserve)] */
    double need;     /* the fraction its ready deadlines need (1 when the rate is unknown
                      * or a job is already late); 0 with no deadline */
    int64_t miss_ms; /* ms, > 0: at "fraction" the job furthest behind would start this
                      * late; 0 when every one is on time */
} sluice_deadline_lift;

/* The fraction a class admits so that its ready jobs with a start_by
 * (jobs[0..n), as sluice_deadline_view reads them at "now", Unix ms) start
 * in time. A job needs ahead / (0.75 * (start_by - now)) starts a second
 * (a plan to start it with a quarter of its time to spare); the most
 * any job needs, over "full_rate" (the class's starts a second at fraction
 * 1; not above 0 or not finite: unknown), is the fraction they need, rounded
 * up to whole job slots when the class has "slots" (its max_concurrency; 0:
 * none) and needs one or more; the lift is what that exceeds law_fraction
 * by, at most "reserve" (the class's deadline_reserve), and never past 1.
 * Pure: no I/O, no clock. */
void sluice_deadline_lift_compute(double law_fraction, double reserve, double full_rate, int64_t slots,
                                  const sluice_deadline_entry *jobs, size_t n, int64_t now, sluice_deadline_lift *out);

/* A class's full start rate (starts a second at fraction 1) as the
 * governor measures it: its starts and the time it had jobs ready weighted
 * by the share of its rate admitted (sluice_deadline_effective), both
 * decayed with a 10 s time constant. Zero it to begin. */
typedef struct sluice_start_rate {
    double starts;   /* starts counted, decayed */
    double share_ms; /* ms with jobs ready times the share admitted, decayed */
} sluice_start_rate;

/* Adds "starts" made over the last "dt_ms" at "share", counted only when
 * the class had jobs ready ("ready" > 0), to *r. Returns the full rate,
 * starts a second at fraction 1, or 0 (unknown) while the time counted is
 * worth less than 100 ms at full admission. Pure. */
double sluice_start_rate_add(sluice_start_rate *r, int64_t starts, double share, int64_t dt_ms, int64_t ready);

/* The share of its unthrottled start rate a class runs at fraction f: f,
 * or with "slots" (its max_concurrency; 0: none) the whole slots that f
 * leaves it (floor(f * slots), at least one) over slots, and below one slot
 * its duty cycle, f. */
double sluice_deadline_effective(double f, int64_t slots);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
