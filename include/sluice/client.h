/* sluice client: the connection to Redis and the job operations producers
 * and workers use. One client is one hiredis connection; it is not
 * thread-safe (use one per thread).
 *
 * Connection. A URL: redis://[user:password@]host[:port][/db] or
 * unix:///path/to.sock[?db=N] (user and password may be given to unix too:
 * unix://user:password@/path). NULL takes SLUICE_REDIS_URL, else
 * redis://127.0.0.1:6379. The namespace (key prefix) NULL takes
 * SLUICE_NAMESPACE, else "sluice". Passwords are never copied into error
 * messages.
 *
 * Functions. On connect the client checks the Redis Functions library
 * `sluice` and loads it (FUNCTION LOAD REPLACE) when it is missing or older
 * than the one built into the client; if a call finds it gone (Redis
 * restarted without it), it loads it and retries that call once.
 *
 * Failures. If the link breaks, the call in progress fails with
 * SLUICE_ERR_UNREACHABLE — it may or may not have run on the server; enqueue
 * is never silently reported as done — and the next call reconnects. A
 * Redis that answers but cannot serve yet (LOADING after a restart, BUSY
 * running a script, MASTERDOWN, TRYAGAIN, CLUSTERDOWN) gives
 * SLUICE_ERR_UNAVAILABLE: the call did not run, and may be retried.
 *
 * Keys. Class c's keys are NS:{c}:class, :gate, :ready, :delayed, :leased,
 * :dead, :jobs, :meta, :unique, :stats, :done, :audit and :bucket (the rate
 * limiter's state), all in c's hash
 * slot; NS:{c}:ready is also the channel on which enqueues are published.
 * The global keys (NS:{_}:classes, :signals, :signal-values, :governor,
 * :governor:history, :audit) share the tag "_", which no class can take. */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_client sluice_client;

#define SLUICE_DEFAULT_URL "redis://127.0.0.1:6379"
#define SLUICE_DEFAULT_NAMESPACE "sluice"

/* A parsed connection URL, for callers that open their own hiredis
 * connection (the worker's async side). It holds the password: wipe it
 * (memset) when done. */
typedef struct sluice_url {
    int is_unix;           /* 1: path is a unix socket */
    char host[256];
    int port;              /* default 6379 */
    char path[108];        /* the socket path (sun_path's size) */
    char user[256];        /* "" for the default user */
    char password[512];    /* "" for none */
    int db;                /* SELECT this; default 0 */
} sluice_url;

/* Parses "url" (NULL or "": SLUICE_REDIS_URL, else SLUICE_DEFAULT_URL) into
 * *out, %XX escapes in user and password decoded. Returns 0, or -1 with
 * SLUICE_ERR_URL naming the problem (never echoing the password). */
int sluice_url_parse(const char *url, sluice_url *out, sluice_error *err);

/* Connects, authenticates, selects the database and makes sure the
 * Functions library is loaded. "url" and "ns" may be NULL (see above).
 * Returns a NEW client (free with sluice_client_free), or NULL with err set
 * to SLUICE_ERR_URL, SLUICE_ERR_UNREACHABLE, SLUICE_ERR_AUTH (wrong or
 * missing credentials: "authentication failed (check the user and
 * password)"), SLUICE_ERR_UNAVAILABLE, SLUICE_ERR_ARGUMENT (bad namespace)
 * or SLUICE_ERR_SERVER. */
sluice_client *sluice_client_connect(const char *url, const char *ns, sluice_error *err);

/* Closes the connection and frees the client. NULL is a no-op. */
void sluice_client_free(sluice_client *c);

/* Names the client (CLIENT SETNAME, and the actor in audit entries), at most
 * 64 bytes of [A-Za-z0-9_.:@-]. Returns 0 or -1. */
int sluice_client_set_name(sluice_client *c, const char *name, sluice_error *err);

/* The command timeout, ms (default 5000). Returns 0 or -1. */
int sluice_client_set_timeout(sluice_client *c, int64_t ms, sluice_error *err);

/* The namespace in use. BORROWED, valid until sluice_client_free. */
const char *sluice_client_namespace(const sluice_client *c);

/* ----------------------------- producers ----------------------------- */

/* Enqueues one job. "opts" may be NULL. On success writes the job's id
 * (or, for a duplicate unique key, the live job's id) into "id" and returns
 * 0. Returns -1 with SLUICE_ERR_NAME, SLUICE_ERR_PAYLOAD,
 * SLUICE_ERR_ARGUMENT, SLUICE_ERR_UNKNOWN_CLASS, SLUICE_ERR_QUEUE_FULL or a
 * connection error; then no job was created. */
int sluice_enqueue(sluice_client *c, const char *cls, const char *payload,
                   const sluice_enqueue_opts *opts, char id[SLUICE_ID_MAX], sluice_error *err);

/* Enqueues n jobs of one class in one round trip (pipelined calls of up to
 * SLUICE_BATCH_MAX jobs, each atomic). "opts" is NULL, or one struct for
 * all jobs, or an array of n when "opts_each" is 1. Every payload and option
 * is validated before anything is sent. "ids" (may be NULL) receives the n
 * ids. "*done" (may be NULL) receives how many were enqueued: on a failure
 * (queue full, link broken) the batches before the failing one stand.
 * Returns 0 when all n were enqueued, else -1. */
int sluice_enqueue_many(sluice_client *c, const char *cls, size_t n,
                        const char *const *payloads, const sluice_enqueue_opts *opts,
                        int opts_each, char (*ids)[SLUICE_ID_MAX], size_t *done,
                        sluice_error *err);

/* ------------------------------ workers ------------------------------ */

typedef enum sluice_claim_status {
    SLUICE_CLAIM_JOBS = 0,   /* count jobs were leased */
    SLUICE_CLAIM_EMPTY,      /* nothing ready; retry_ms until something may be (-1: nothing pending) */
    SLUICE_CLAIM_THROTTLED,  /* the gate held the ready jobs back; retry in retry_ms */
    SLUICE_CLAIM_SUSPECT     /* a busy claim only: the head is a suspect (id) that runs alone;
                                claim again with nothing in flight (see sluice/job.h) */
} sluice_claim_status;

typedef struct sluice_claim_info {
    sluice_claim_status status;
    size_t count;            /* jobs written to the caller's array */
    int64_t retry_ms;        /* ms; see the statuses */
    char why[16];            /* throttled: "paused", "fraction", "concurrency", "duty" (a share
                              * below one job slot rests between jobs) or "rate" */
    double fraction;         /* throttled: the admitted fraction in force */
    char id[SLUICE_ID_MAX];  /* suspect: the job at the head */
} sluice_claim_info;

/* Leases up to "max" (1..1000) jobs of a class, the head of its ready set,
 * as far as the gate admits; on the way reclaims expired leases and promotes
 * due delayed jobs. "consumer" (may be NULL) names the claimer. Writes
 * info->count NEW jobs to jobs[0..count) (free each with sluice_job_free)
 * and fills *info. Returns 0 (also when empty or throttled), or -1.
 * The claimer counts as idle (see the quarantine in sluice/job.h): a suspect
 * at the head comes alone, and should run before the next claim. */
int sluice_claim(sluice_client *c, const char *cls, const char *consumer, size_t max,
                 sluice_job **jobs, sluice_claim_info *info, sluice_error *err);

/* Ends the attempt as a success. Returns 0, or -1 with SLUICE_ERR_STALE when
 * "token" is not the current lease's (it expired and the job moved on). */
int sluice_ack(sluice_client *c, const char *id, int64_t token, sluice_error *err);

/* Ends the attempt as a failure with "reason" (kept, truncated to 1 KiB).
 * "*retry_ms" (may be NULL) receives the backoff before the next attempt, or
 * -1 when the job went dead. Returns 0, or -1 (SLUICE_ERR_STALE, ...). */
int sluice_fail(sluice_client *c, const char *id, int64_t token, const char *reason,
                int64_t *retry_ms, sluice_error *err);

/* Extends the lease to "ms" from now (1..604800000). "*deadline" (may be
 * NULL) receives the new deadline, Unix ms. Returns 0, or -1. */
int sluice_extend(sluice_client *c, const char *id, int64_t token, int64_t ms,
                  int64_t *deadline, sluice_error *err);

/* Hands the job back untried: it returns to its place in the ready set and
 * the attempt is not counted (a worker shutting down). Returns 0, or -1. */
int sluice_release(sluice_client *c, const char *id, int64_t token, sluice_error *err);

/* ---------------------------- inspection ----------------------------- */

/* Looks a job up by id. Fills *info (release with sluice_job_info_clear);
 * info->state is SLUICE_JOB_UNKNOWN for a job that is gone or never was.
 * Returns 0, or -1 (a malformed id gives SLUICE_ERR_ARGUMENT). */
int sluice_job_lookup(sluice_client *c, const char *id, sluice_job_info *info, sluice_error *err);

/* Cancels a waiting (ready or delayed) job, audited under the client's
 * name. Returns 0, or -1 with SLUICE_ERR_NOT_FOUND, SLUICE_ERR_BUSY (leased)
 * or SLUICE_ERR_STATE. */
int sluice_job_cancel(sluice_client *c, const char *id, sluice_error *err);

/* Depths and counters. The counters add up: enqueued - acked - cancelled -
 * purged - dead_dropped = ready + delayed + leased + dead. */
typedef struct sluice_class_stats {
    int64_t ready, delayed, leased, dead;           /* current depths */
    int64_t enqueued, claimed, acked, failed, retried, died, reclaimed,
            released, cancelled, throttled, dead_dropped,
            purged;                                 /* totals since the class was declared */
} sluice_class_stats;

/* Reads a class's depths and counters. Returns 0, or -1. */
int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out,
                           sluice_error *err);

/* Lists dead jobs, newest first, from "offset", at most "count" (1..1000).
 * Returns a NEW array of *n infos (free with sluice_job_info_array_free), or
 * NULL: then *n is 0, and err tells whether it failed. */
sluice_job_info *sluice_dead_list(sluice_client *c, const char *cls, size_t offset, size_t count,
                                  size_t *n, sluice_error *err);

/* Frees an array from sluice_dead_list. NULL is a no-op. */
void sluice_job_info_array_free(sluice_job_info *infos, size_t n);

/* Sends a dead job ("id"), or every dead job of the class (id NULL, up to
 * 1000 a call), back to ready with its attempts and reclaims reset; audited.
 * "*count" (may be NULL) receives how many. Returns 0, or -1
 * (SLUICE_ERR_NOT_FOUND for an id not in the dead set). */
int sluice_dead_retry(sluice_client *c, const char *cls, const char *id, int64_t *count,
                      sluice_error *err);

/* Deletes a dead job, or the class's (id NULL, up to 1000 a call); audited
 * and counted in "purged". As sluice_dead_retry. */
int sluice_dead_purge(sluice_client *c, const char *cls, const char *id, int64_t *count,
                      sluice_error *err);

/* Parses a job id into its class name (into "cls", SLUICE_ID_MAX bytes).
 * Returns 0, or -1 with SLUICE_ERR_ARGUMENT. */
int sluice_id_class(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err);

#ifdef __cplusplus
}
#endif
#endif
