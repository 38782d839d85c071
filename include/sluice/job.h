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
 *            by the order it became ready (FIFO) inside its fairness key,
 *            the class's keys served in turn by weight (sluice/fair.h); a
 *            job released or reclaimed keeps its place.
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

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The limits of a job, checked by the library and by the Functions (which
 * get them from here at build time). */
#define SLUICE_ID_MAX 96                    /* bytes, with the NUL */
#define SLUICE_PAYLOAD_DEFAULT_MAX 65536    /* bytes, a class's payload_max by default */
#define SLUICE_PAYLOAD_HARD_MAX 262144      /* bytes, whatever payload_max says */
#define SLUICE_PAYLOAD_MAX_DEPTH 32         /* JSON nesting */
#define SLUICE_PRIORITY_MAX 1000            /* priorities are -1000..1000 */
#define SLUICE_BATCH_MAX 1000               /* jobs per Function call */
#define SLUICE_DELAY_MAX 3153600000000LL    /* ms, a hundred years */
#define SLUICE_RUN_AT_MAX 253402300799000LL /* Unix ms, 9999-12-31T23:59:59Z */
#define SLUICE_UNIQUE_MAX 256               /* bytes of a unique key */
#define SLUICE_COST_MAX 1000000             /* rate units of one job */
#define SLUICE_REPLICAS_MAX 64              /* replicas an enqueue may WAIT for */
#define SLUICE_REPLICAS_TIMEOUT_MAX 60000   /* ms an enqueue's WAIT may block */

/* Options of one enqueue. Zero (or NULL) fields take the defaults; a
 * zero-initialised struct (or a NULL pointer) is a plain job. */
typedef struct sluice_enqueue_opts {
    int64_t delay_ms;        /* ms from now, up to SLUICE_DELAY_MAX; 0: none */
    int64_t run_at_ms;       /* Unix ms by the Redis clock, up to SLUICE_RUN_AT_MAX; 0: none; not
                              * with delay_ms */
    int priority;            /* -SLUICE_PRIORITY_MAX..SLUICE_PRIORITY_MAX, higher first; default 0 */
    int max_attempts;        /* as the class field; 0: the class's */
    int64_t timeout_ms;      /* the lease, as the class field timeout_ms; 0: the class's */
    const char *unique;      /* at most SLUICE_UNIQUE_MAX bytes; NULL or "": none */
    int64_t cost;            /* rate units, 1..SLUICE_COST_MAX; 0: 1 */
    const char *key;         /* the fairness key (sluice/fair.h), 1..SLUICE_KEY_MAX bytes, no control byte;
                              * NULL or "": none */
    int64_t start_by_ms;     /* its first start by then (sluice/deadline.h): Unix ms by the Redis clock,
                              * at most SLUICE_START_BY_PAST_MAX in the past (then it is late at once), up to
                              * SLUICE_RUN_AT_MAX, not before its run_at or delay; 0: none */
    int64_t start_within_ms; /* the same, as ms from now by the Redis clock; 0: none; not with start_by_ms */
    /* After the enqueue, WAIT for "replicas" replicas of the master that
     * took it, 0..SLUICE_REPLICAS_MAX (0: no WAIT; see sluice_enqueue), as
     * long as replicas_timeout_ms, 1..SLUICE_REPLICAS_TIMEOUT_MAX (0: 1000). */
    int replicas;
    int64_t replicas_timeout_ms; /* ms */
} sluice_enqueue_opts;

typedef enum sluice_job_state {
    SLUICE_JOB_UNKNOWN = 0, /* completed (and not kept) or never existed */
    SLUICE_JOB_DELAYED,
    SLUICE_JOB_READY,
    SLUICE_JOB_LEASED,
    SLUICE_JOB_DEAD,
    SLUICE_JOB_DONE
} sluice_job_state;

/* "unknown", "delayed", "ready", "leased", "dead", "done". BORROWED, static;
 * NULL if invalid. */
const char *sluice_job_state_name(sluice_job_state state);

/* A claimed job: an opaque handle, NEW from sluice_claim, freed with
 * sluice_job_free. Its strings are BORROWED, valid until the free. */
typedef struct sluice_job sluice_job;

const char *sluice_job_id(const sluice_job *job);
const char *sluice_job_class(const sluice_job *job);
const char *sluice_job_payload(const sluice_job *job); /* NUL-terminated JSON */
size_t sluice_job_payload_len(const sluice_job *job);
int sluice_job_attempt(const sluice_job *job); /* 1 on the first run */
int sluice_job_max_attempts(const sluice_job *job);
int64_t sluice_job_token(const sluice_job *job);      /* this attempt's fencing token */
int64_t sluice_job_timeout_ms(const sluice_job *job); /* the lease length */
int sluice_job_reclaims(const sluice_job *job);       /* expired leases before this one; > 0: a suspect */
void sluice_job_free(sluice_job *job);                /* NULL is a no-op */

/* What a lookup (or the dead list) tells about a job. Filled by the
 * library; the strings are NEW and released by sluice_job_info_clear. */
typedef struct sluice_job_info {
    char id[SLUICE_ID_MAX];
    sluice_job_state state;
    int attempt; /* attempts started so far */
    int max_attempts;
    int priority;
    int64_t cost;
    int64_t enqueued_at; /* Unix ms */
    int64_t at;          /* Unix ms: due (delayed), lease deadline (leased), ended (dead, done); 0 otherwise */
    int64_t now;         /* Unix ms: the Redis clock when read */
    int reclaims;        /* leases that expired */
    int64_t ahead;       /* ready jobs ahead of it (ready only), else -1 */
    int64_t start_by;    /* Unix ms: its start_by (sluice/deadline.h), while it waits for its first start;
                          * 0 otherwise */
    char *reason;        /* last failure or dead reason; "" if none */
    char *payload;
    char *unique; /* "" if none */
    char *key;    /* its fairness key (sluice/fair.h), "" if none */
} sluice_job_info;

/* Frees the strings of *info (not info itself). NULL is a no-op. */
void sluice_job_info_clear(sluice_job_info *info);

/* Checks a payload the way enqueue does: a JSON object, at most
 * SLUICE_PAYLOAD_HARD_MAX bytes, nested at most SLUICE_PAYLOAD_MAX_DEPTH,
 * valid UTF-8, no NUL bytes. Returns 0, or -1 with SLUICE_ERR_PAYLOAD. */
int sluice_payload_check(const char *payload, size_t len, struct sluice_error *err);

/* Checks a class or signal name against ^[a-z0-9][a-z0-9_.-]{0,63}$.
 * Returns 0, or -1 with SLUICE_ERR_NAME. */
int sluice_name_check(const char *name, struct sluice_error *err);

/* ----------------------------- producers ----------------------------- */

/* Enqueues one job. "opts" may be NULL. On success writes the job's id
 * (or, for a duplicate unique key, the live job's id) into "id" and returns
 * 0. Returns -1 with SLUICE_ERR_NAME, SLUICE_ERR_PAYLOAD,
 * SLUICE_ERR_ARGUMENT, SLUICE_ERR_UNKNOWN_CLASS, SLUICE_ERR_QUEUE_FULL or a
 * connection error; then no job was created.
 *
 * With opts->replicas N, the enqueue is followed by WAIT N on the link that
 * took it (the class's master; never a new link, whose WAIT would confirm
 * nothing). When fewer than N replicas acknowledged it within
 * replicas_timeout_ms, or the link broke before WAIT answered, it returns
 * -1 with SLUICE_ERR_NOT_REPLICATED: the job WAS created and "id" is set,
 * but a failover now may lose it. Without replicas, Redis replicates
 * asynchronously: an acknowledged enqueue can be lost if its master dies
 * before a replica has it. */
int sluice_enqueue(sluice_client *c, const char *cls, const char *payload, const sluice_enqueue_opts *opts,
                   char id[SLUICE_ID_MAX], sluice_error *err);

/* Enqueues n jobs of one class in one round trip (pipelined calls of up to
 * SLUICE_BATCH_MAX jobs, each atomic). "opts" is NULL, or one struct for
 * all jobs, or an array of n when "opts_each" is 1. Every payload and option
 * is validated before anything is sent. "ids" (may be NULL) receives the n
 * ids. "*done" (may be NULL) receives how many were enqueued: on a failure
 * (queue full, link broken) the batches before the failing one stand.
 * Returns 0 when all n were enqueued, else -1. The WAIT (see sluice_enqueue)
 * is one, after all n, for the most replicas and the longest timeout any
 * job's options ask; SLUICE_ERR_NOT_REPLICATED leaves "*done" n and every id
 * set. */
int sluice_enqueue_many(sluice_client *c, const char *cls, size_t n, const char *const *payloads,
                        const sluice_enqueue_opts *opts, int opts_each, char (*ids)[SLUICE_ID_MAX], size_t *done,
                        sluice_error *err);

/* ------------------------------ workers ------------------------------ */

typedef enum sluice_claim_status {
    SLUICE_CLAIM_JOBS = 0,  /* count jobs were leased */
    SLUICE_CLAIM_EMPTY,     /* nothing ready; retry_ms until something may be (-1: nothing pending) */
    SLUICE_CLAIM_THROTTLED, /* the gate held the ready jobs back; retry in retry_ms */
    SLUICE_CLAIM_SUSPECT    /* a busy claim only: the head is a suspect (id) that runs alone;
                                claim again with nothing in flight (see sluice/job.h) */
} sluice_claim_status;

typedef struct sluice_claim_info {
    sluice_claim_status status;
    size_t count;           /* jobs written to the caller's array */
    int64_t retry_ms;       /* ms; see the statuses */
    char why[16];           /* throttled: "paused", "fraction", "concurrency", "duty" (a share
                              * below one job slot rests between jobs) or "rate" */
    double fraction;        /* throttled: the admitted fraction in force */
    char id[SLUICE_ID_MAX]; /* suspect: the job at the head */
} sluice_claim_info;

/* Leases up to "max" (1..1000) jobs of a class, the head of its ready set,
 * as far as the gate admits; on the way reclaims expired leases and promotes
 * due delayed jobs. "consumer" (may be NULL) names the claimer. Writes
 * info->count NEW jobs to jobs[0..count) (free each with sluice_job_free)
 * and fills *info. Returns 0 (also when empty or throttled), or -1.
 * The claimer counts as idle (see the quarantine in sluice/job.h): a suspect
 * at the head comes alone, and should run before the next claim. */
int sluice_claim(sluice_client *c, const char *cls, const char *consumer, size_t max, sluice_job **jobs,
                 sluice_claim_info *info, sluice_error *err);

/* Ends the attempt as a success. Returns 0, or -1 with SLUICE_ERR_STALE when
 * "token" is not the current lease's (it expired and the job moved on). */
int sluice_ack(sluice_client *c, const char *id, int64_t token, sluice_error *err);

/* Acks n (1..SLUICE_BATCH_MAX) jobs of one class in one atomic call: job i
 * is ids[i] with its attempt's tokens[i] (1..2^53-1). The arrays are
 * BORROWED. Each job is acked alone, as sluice_ack would: results[i] (room
 * for n, filled on success) receives SLUICE_OK, or SLUICE_ERR_STALE for a
 * job whose token is not the current lease's (the others are acked all the
 * same; a job named twice is acked once, then stale). Returns 0 when the
 * call ran, whatever the results; or -1 with SLUICE_ERR_ARGUMENT (n out of
 * range, a malformed id or token, ids of more than one class: the message
 * names the index), SLUICE_ERR_UNKNOWN_CLASS or a connection error, and
 * then nothing was acked. */
int sluice_ack_many(sluice_client *c, size_t n, const char *const *ids, const int64_t *tokens,
                    sluice_error_code *results, sluice_error *err);

/* Ends the attempt as a failure with "reason" (kept, truncated to 1 KiB).
 * "*retry_ms" (may be NULL) receives the backoff before the next attempt, or
 * -1 when the job went dead. Returns 0, or -1 (SLUICE_ERR_STALE, ...). */
int sluice_fail(sluice_client *c, const char *id, int64_t token, const char *reason, int64_t *retry_ms,
                sluice_error *err);

/* Extends the lease to "ms" from now (1..604800000). "*deadline" (may be
 * NULL) receives the new deadline, Unix ms. Returns 0, or -1. */
int sluice_extend(sluice_client *c, const char *id, int64_t token, int64_t ms, int64_t *deadline, sluice_error *err);

/* Hands the job back untried: it returns to its place in the ready set and
 * the attempt is not counted (a worker shutting down). Returns 0, or -1. */
int sluice_release(sluice_client *c, const char *id, int64_t token, sluice_error *err);

/* ---------------------------- inspection ----------------------------- */

/* Looks a job up by id. Fills *info (release with sluice_job_info_clear);
 * info->state is SLUICE_JOB_UNKNOWN for a job that is gone or never was.
 * Returns 0, or -1 (a malformed id gives SLUICE_ERR_ARGUMENT). */
int sluice_job_get(sluice_client *c, const char *id, sluice_job_info *info, sluice_error *err);

/* Cancels a waiting (ready or delayed) job, audited under the client's
 * name. Returns 0, or -1 with SLUICE_ERR_NOT_FOUND, SLUICE_ERR_BUSY (leased)
 * or SLUICE_ERR_STATE. */
int sluice_job_cancel(sluice_client *c, const char *id, sluice_error *err);

/* Depths and counters. The counters add up: enqueued - acked - cancelled -
 * purged - dead_dropped = ready + delayed + leased + dead. */
/* Lists dead jobs, newest first, from "offset", at most "count" (1..1000).
 * Returns a NEW array of *n infos (free with sluice_dead_list_free), or
 * NULL: then *n is 0, and err tells whether it failed. */
sluice_job_info *sluice_dead_list(sluice_client *c, const char *cls, size_t offset, size_t count, size_t *n,
                                  sluice_error *err);

/* Frees an array from sluice_dead_list. NULL is a no-op. */
void sluice_dead_list_free(sluice_job_info *infos, size_t n);

/* Sends a dead job ("id"), or every dead job of the class (id NULL, up to
 * 1000 a call), back to ready with its attempts and reclaims reset; audited.
 * "*count" (may be NULL) receives how many. Returns 0, or -1
 * (SLUICE_ERR_NOT_FOUND for an id not in the dead set). */
int sluice_dead_retry(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err);

/* Deletes a dead job, or the class's (id NULL, up to 1000 a call); audited
 * and counted in "purged". As sluice_dead_retry. */
int sluice_dead_purge(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err);

/* Parses a job id into its class name (into "cls", SLUICE_ID_MAX bytes).
 * Returns 0, or -1 with SLUICE_ERR_ARGUMENT. */
int sluice_job_id_class(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
