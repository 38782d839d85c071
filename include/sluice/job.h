/* sluice jobs: what a job is and what happens to it.
 *
 * A job is one unit of background work in a class: a JSON object payload
 * (at most the class's payload_max, 64 KiB by default, never over 256 KiB,
 * nested at most 32 deep, no NUL bytes) and options. Its id is
 * "<class>:<sequence>", so every tool can find a job from its id alone.
 *
 * States.
 *   delayed  waiting for its due time (a delay, a run-at time, or a retry's
 *            backoff), by the Redis server's clock, never a client's.
 *   ready    waiting to be claimed, ordered by priority (higher first), then
 *            by the order it became ready (FIFO).
 *   leased   claimed by a worker until its lease deadline (the job's
 *            timeout). Each attempt carries a fencing token; ack, fail,
 *            extend and release must present it.
 *   dead     out of attempts, or poison (its lease expired more than the
 *            class's max_reclaims times: it keeps killing its workers). Kept,
 *            with the reason, in a set capped at the class's dead_max; an
 *            operator retries or purges it.
 *   done     acked; deleted at once unless the class keeps its last
 *            keep_done jobs. A job that is gone looks "unknown".
 *
 * Delivery is at least once. A claim leases the job and counts an attempt.
 * A worker that crashes or stalls loses its lease when the deadline passes;
 * the next claim in the class reclaims the job (the attempt stays counted)
 * and it runs again elsewhere. The late worker's ack is refused as stale, so
 * it can never complete, fail or extend another worker's attempt. Handlers
 * must therefore be idempotent, or deduplicate by job id.
 *
 * Failures retry with exponential backoff and jitter: after attempt a the
 * delay is between b*2^(a-1)/2 and b*2^(a-1) (b = the class's
 * backoff_base_ms, capped at backoff_max_ms), until max_attempts; then the
 * job goes dead with the last reason.
 *
 * Quarantine. A job whose lease expired before (reclaims > 0) is a suspect:
 * it may be what crashed its worker. A claim never leases a suspect together
 * with other jobs: a batch stops before the first suspect, and a suspect at
 * the head of the ready set is leased alone, to a claimer with nothing in
 * flight; a claimer that has jobs in flight is answered "suspect" and nothing
 * changes. The worker runs a suspect with nothing else and claims nothing
 * until it ends. So a poison job's crashes cost only its own reclaims, and
 * its neighbours are never dead-lettered with it. The order of the ready set
 * is unchanged: a suspect waits at the head for an idle claimer.
 *
 * Throttling. A class's gate (paused, admitted fraction, rate, concurrency)
 * decides how many jobs at the head of the ready set a claim may take. A
 * throttled claim answers "throttled, retry in X ms" and changes nothing: a
 * throttled job keeps its place, spends no attempt, is never failed, retried,
 * moved or dead-lettered because of throttling. It waits. When the admitted
 * share of a class's concurrency is below one job (max_concurrency x
 * fraction < 1) the class runs by duty cycle: one job at a time, and after
 * each lease a rest, so that its jobs occupy that share of the time (a lease
 * of d ms at share s is followed by d / s - d ms in which claims answer
 * "throttled", why "duty", with the time left as the retry hint).
 *
 * Unique keys. A job enqueued with a unique key that a live job (delayed,
 * ready or leased) already holds is not created: the enqueue returns the
 * live job's id. The key is released when that job is acked, goes dead or is
 * cancelled. */
#ifndef SLUICE_JOB_H
#define SLUICE_JOB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_ID_MAX 96               /* bytes, with the NUL */
#define SLUICE_PAYLOAD_DEFAULT_MAX 65536
#define SLUICE_PAYLOAD_HARD_MAX 262144
#define SLUICE_PAYLOAD_MAX_DEPTH 32
#define SLUICE_PRIORITY_MAX 1000        /* priorities are -1000..1000 */
#define SLUICE_BATCH_MAX 1000           /* jobs per Function call */

/* Options of one enqueue. Zero (or NULL) fields take the defaults; a
 * zero-initialised struct (or a NULL pointer) is a plain job. */
typedef struct sluice_enqueue_opts {
    int64_t delay_ms;     /* ms from now; 0: none */
    int64_t run_at_ms;    /* Unix ms by the Redis clock; 0: none; not with delay_ms */
    int priority;         /* -1000..1000, higher first; default 0 */
    int max_attempts;     /* 1..1000; 0: the class's */
    int64_t timeout_ms;   /* the lease, 1..604800000; 0: the class's */
    const char *unique;   /* at most 256 bytes; NULL or "": none */
    int64_t cost;         /* rate units, 1..1000000; 0: 1 */
} sluice_enqueue_opts;

typedef enum sluice_job_state {
    SLUICE_JOB_UNKNOWN = 0,  /* completed (and not kept) or never existed */
    SLUICE_JOB_DELAYED,
    SLUICE_JOB_READY,
    SLUICE_JOB_LEASED,
    SLUICE_JOB_DEAD,
    SLUICE_JOB_DONE
} sluice_job_state;

/* "unknown", "delayed", "ready", "leased", "dead", "done". BORROWED, static. */
const char *sluice_job_state_name(sluice_job_state state);

/* A claimed job: an opaque handle, NEW from sluice_claim, freed with
 * sluice_job_free. Its strings are BORROWED, valid until the free. */
typedef struct sluice_job sluice_job;

const char *sluice_job_id(const sluice_job *job);
const char *sluice_job_class(const sluice_job *job);
const char *sluice_job_payload(const sluice_job *job);   /* NUL-terminated JSON */
size_t sluice_job_payload_len(const sluice_job *job);
int sluice_job_attempt(const sluice_job *job);            /* 1 on the first run */
int sluice_job_max_attempts(const sluice_job *job);
int64_t sluice_job_token(const sluice_job *job);          /* this attempt's fencing token */
int64_t sluice_job_timeout_ms(const sluice_job *job);     /* the lease length */
int sluice_job_reclaims(const sluice_job *job);           /* expired leases before this one; > 0: a suspect */
void sluice_job_free(sluice_job *job);                    /* NULL is a no-op */

/* What a lookup (or the dead list) tells about a job. Filled by the
 * library; the strings are NEW and released by sluice_job_info_clear. */
typedef struct sluice_job_info {
    char id[SLUICE_ID_MAX];
    sluice_job_state state;
    int attempt;            /* attempts started so far */
    int max_attempts;
    int priority;
    int64_t cost;
    int64_t enqueued_at;    /* Unix ms */
    int64_t at;             /* Unix ms: due (delayed), lease deadline (leased), ended (dead, done); 0 otherwise */
    int64_t now;            /* Unix ms: the Redis clock when read */
    int reclaims;           /* leases that expired */
    int64_t ahead;          /* ready jobs ahead of it (ready only), else -1 */
    char *reason;           /* last failure or dead reason; "" if none */
    char *payload;
    char *unique;           /* "" if none */
} sluice_job_info;

/* Frees the strings of *info (not info itself). NULL is a no-op. */
void sluice_job_info_clear(sluice_job_info *info);

/* Checks a payload the way enqueue does: a JSON object, at most
 * SLUICE_PAYLOAD_HARD_MAX bytes, nested at most SLUICE_PAYLOAD_MAX_DEPTH,
 * valid UTF-8, no NUL bytes. Returns 0, or -1 with SLUICE_ERR_PAYLOAD. */
struct sluice_error;
int sluice_payload_check(const char *payload, size_t len, struct sluice_error *err);

/* Checks a class or signal name against ^[a-z0-9][a-z0-9_.-]{0,63}$.
 * Returns 0, or -1 with SLUICE_ERR_NAME. */
int sluice_name_check(const char *name, struct sluice_error *err);

#ifdef __cplusplus
}
#endif
#endif
