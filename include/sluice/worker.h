/* sluice worker runtime: an embeddable, event-driven job runner on libev and
 * hiredis's async API. Not included by sluice.h (libsluice is loop-free):
 * include "sluice/worker.h" and link libsluice-worker, libsluice, hiredis,
 * jansson and -lev.
 *
 * What it does. For every class given a handler it claims batches of jobs
 * (critical classes first, the others by weighted round robin: high 4,
 * normal 2, low 1), keeping at most "concurrency" jobs in flight. A class
 * that is empty or throttled sleeps until the claim's hint (capped at 1 s;
 * "nothing pending" sleeps 3 s) or until an enqueue is published on
 * NS:{class}:ready (a second connection SUBSCRIBEs), whichever comes first,
 * and never holds the other classes back. One repeating timer extends the
 * lease of every job running for more than half its timeout. Ack and fail
 * present the attempt's fencing token; a stale reply is logged, never fatal.
 * The acks of the jobs done in one turn of the loop go out when the turn
 * ends, one call per class (sluice_ack_many), each job with its own token
 * and its own result; the next claims go out after them.
 *
 * Quarantine. A suspect job (its lease expired before: see sluice/job.h)
 * runs alone: the worker claims as "busy" while it holds any lease or has a
 * claim out, so it is never handed one then; a class that answers "suspect"
 * stops all claiming until the worker's last lease ends, and is then claimed
 * alone; while a suspect runs, nothing is claimed. If the suspect crashes
 * the worker, no other job loses its lease with it.
 *
 * Redis down. The worker keeps running and reconnects with jittered
 * exponential backoff (100 ms doubling to 5 s). Acks and fails that could
 * not be sent are retried after the reconnect while the lease may still be
 * valid (the token fences them anyway). Logged: the first failure, one line
 * per 30 s of outage, and "reconnected".
 *
 * Threads. One worker belongs to one loop and one thread: call it only
 * there. The governor it hosts (sluice_worker_host_governor) ticks on a
 * thread of its own, with every signal blocked, and hands its results back
 * to the loop; callbacks and log events always run on the loop's thread.
 *
 * Signals. hiredis's async writes can raise SIGPIPE when Redis goes away;
 * a program embedding the runtime must ignore it (signal(SIGPIPE, SIG_IGN)),
 * as sluice-worker does. The runtime never changes signal dispositions. */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#pragma GCC visibility push(default)

#include <stdint.h>

#include "sluice/error.h"
#include "sluice/job.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

typedef struct sluice_worker sluice_worker;

/* One job handed to a handler. Valid from the handler call until the
 * handler completes it with sluice_worker_done (or its cancel hook runs). */
typedef struct sluice_worker_job sluice_worker_job;

/* A handler. It is called on the loop with a job it now owns, and
 * completes it exactly once with sluice_worker_done: before returning (a
 * synchronous handler) or later from any callback of the same loop (an
 * asynchronous one). */
typedef void (*sluice_worker_handler)(sluice_worker *w, sluice_worker_job *job, void *userdata);

/* Called once when a graceful stop has finished (or its deadline passed). */
typedef void (*sluice_worker_stopped_fn)(sluice_worker *w, void *userdata);

/* Called when the worker gives a job up (stop's grace ran out) to abort the
 * handler's work. After it returns the job belongs to the worker again: the
 * handler must not call sluice_worker_done for it. */
typedef void (*sluice_worker_cancel_fn)(sluice_worker_job *job, void *arg);

/* One log event. Every string may be NULL; they are BORROWED for the call.
 * "event": start, stop, connected, disconnected, reconnected, done, failed,
 * timeout, released, stale, lease-lost, suspect, handler, governor, decision,
 * error
 * (and, from sluice-worker, sampler and metrics). Payloads and passwords are
 * never put in an event. "suspect": a suspect job starts alone (with its
 * job), or one waits at the head of a class and claiming pauses until the
 * worker is idle (the id in "message"). "decision": the governor this worker hosts led a tick;
 * "message" is the decision as one line of JSON (sluice/governor.h's
 * sluice_governor_last_decision), one event per tick it leads. */
typedef struct sluice_worker_event {
    const char *event;
    const char *job_id;
    const char *cls;
    int attempt;         /* 0 when not about a job */
    int64_t duration_ms; /* handler time; -1 when not about a job */
    const char *message; /* the reason of a failure, or a detail */
} sluice_worker_event;

typedef void (*sluice_worker_log_fn)(const sluice_worker_event *ev, void *userdata);

/* Makes a worker on "loop" (the caller's; the worker never uses
 * EV_DEFAULT). "url" and "ns" NULL take SLUICE_REDIS_URL / SLUICE_NAMESPACE
 * or the defaults (see client.h; %-escapes in the URL are not decoded).
 * Nothing is connected until sluice_worker_start. Returns a NEW worker
 * (free with sluice_worker_free), or NULL with SLUICE_ERR_URL,
 * SLUICE_ERR_ARGUMENT or SLUICE_ERR_NOMEM. */
sluice_worker *sluice_worker_new(struct ev_loop *loop, const char *url, const char *ns, sluice_error *err);

/* Stops every watcher, drops both connections and frees the worker. Jobs
 * still in flight are neither acked nor released (their leases expire).
 * Not from inside a worker callback. NULL is a no-op. */
void sluice_worker_free(sluice_worker *w);

/* Serves class "cls" with "fn" (replacing its handler if it had one, and
 * ending a pause for a handler that could not run; jobs in flight keep
 * running). "userdata" is BORROWED until the worker is freed
 * or the handler replaced and its jobs done. Allowed while running (the
 * class is subscribed and claimed at once). Returns 0, or -1 with
 * SLUICE_ERR_NAME. */
int sluice_worker_handle(sluice_worker *w, const char *cls, sluice_worker_handler fn, void *userdata,
                         sluice_error *err);

/* Stops claiming class "cls"; its jobs in flight finish. Returns 0, or -1
 * with SLUICE_ERR_NOT_FOUND. */
int sluice_worker_unhandle(sluice_worker *w, const char *cls, sluice_error *err);

/* Jobs in flight at most, 1..10000 (default 16). Allowed while running. */
int sluice_worker_set_concurrency(sluice_worker *w, int n, sluice_error *err);

/* The consumer name used in claims and in CLIENT SETNAME (default
 * "sluice-worker:<host>:<pid>"). "name" is copied. */
void sluice_worker_set_name(sluice_worker *w, const char *name);

/* Receives the log events (default: none; the library never prints). */
void sluice_worker_set_log(sluice_worker *w, sluice_worker_log_fn fn, void *userdata);

/* Hosts the governor (sluice/governor.h) in this worker: "on" 1 runs
 * sluice_governor_tick every "tick_ms" (0: 1000) on a connection of its
 * own, named after the worker; the lease in Redis makes one governor act
 * fleet-wide, the others stand by. Off by default; sluice-worker turns it on
 * unless --no-governor. A tick runs on the governor's own thread and never
 * blocks the loop; the next starts "tick_ms" after the last one's result
 * reached the loop. Turning it off, a new governor URL, a finished stop and
 * sluice_worker_free end the thread, and wait for a tick in flight and the
 * lease's hand-back (each at most 1 s per command). While Redis is
 * unreachable the governor reconnects with the worker's backoff (100 ms
 * doubling to 5 s, jittered), not at every tick. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT. */
int sluice_worker_host_governor(sluice_worker *w, int on, int64_t tick_ms, sluice_error *err);

/* Gives the hosted governor, and the job latency signals this worker
 * reports, a Redis URL of their own (same syntax as sluice_worker_new's;
 * NULL or "" goes back to the worker's). With the shipped ACL roles
 * (scripts/acl/sluice.acl) the worker's URL carries the worker role, which
 * may not write gates or signals, and this one the governor role. The URL
 * is copied and checked here; the connection is made at the next tick
 * (a held lease is handed back first). Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT (a malformed URL; the old one stays) or
 * SLUICE_ERR_NOMEM. */
int sluice_worker_set_governor_url(sluice_worker *w, const char *url, sluice_error *err);

/* 1 if the governor this worker hosts held the lease at its last tick (it
 * leads the fleet), else 0. Samplers run only where this is 1. */
int sluice_worker_governor_leading(const sluice_worker *w);

/* Connects (in the background: an unreachable Redis is retried, not an
 * error) and starts claiming. Returns 0, or -1 with SLUICE_ERR_STATE when
 * already started. */
int sluice_worker_start(sluice_worker *w, sluice_error *err);

/* Graceful stop: claims nothing more, lets the jobs in flight finish for
 * "grace_ms", then cancels the rest (their cancel hooks) and releases them
 * to Redis (released, not failed: the attempt is not counted), then drops
 * the connections and calls "fn" once (may be NULL). A second call while
 * stopping only shortens the grace (0: release now); its "fn" is ignored.
 * "fn" must not free the worker; free it after the loop returns. */
void sluice_worker_stop(sluice_worker *w, int64_t grace_ms, sluice_worker_stopped_fn fn, void *userdata);

/* Completes a job: "ok" 1 acks it, 0 fails the attempt with "reason" (may
 * be NULL; copied). Exactly once per job, on the worker's loop. */
void sluice_worker_done(sluice_worker *w, sluice_worker_job *job, int ok, const char *reason);

/* The handler could not run the job at all (its command is missing or not
 * executable, it could not be started): an infrastructure fault, never
 * charged to the job. The job is released untried (no attempt spent) and
 * the class is paused in this worker, logged ("handler" events, bounded)
 * and counted (sluice_worker_stats.unrunnable, .classes_held), then tried
 * again after a pause of 1 s doubling to 60 s; the first job that runs
 * ends the pause. Instead of sluice_worker_done, once per job. */
void sluice_worker_cannot_run(sluice_worker *w, sluice_worker_job *job, const char *reason);

/* Sets the job's cancel hook (see sluice_worker_cancel_fn); NULL clears
 * it. Without a hook a given-up job still waits for its sluice_worker_done,
 * which then only frees it. */
void sluice_worker_job_on_cancel(sluice_worker_job *job, sluice_worker_cancel_fn fn, void *arg);

/* The claimed job: id, class, payload, attempt, timeout. BORROWED, valid
 * while the handler owns the job. */
const sluice_job *sluice_worker_job_get(const sluice_worker_job *job);

/* The loop the worker runs on. BORROWED. */
struct ev_loop *sluice_worker_loop(const sluice_worker *w);

/* Counters since sluice_worker_new. */
typedef struct sluice_worker_stats {
    int64_t claimed, acked, failed, released, stale, reconnects;
    int64_t suspects;   /* suspects (jobs whose lease expired before) run alone */
    int64_t unrunnable; /* jobs released untried because their handler could not run */
    int classes_held;   /* classes paused in this worker because their handler cannot run */
    int in_flight;
    /* the hosted governor: ticks run (leading or standing by), and the
     * decisions of the ticks it led, by action (sluice_law_action) */
    int64_t governor_ticks;
    int64_t governor_failures; /* ticks that failed (Redis down, refused, ...) */
    int64_t governor_holds, governor_cuts, governor_criticals, governor_raises;
    int governor_hosted; /* 1 when sluice_worker_host_governor is on */
    int governor_leader; /* as sluice_worker_governor_leading */
} sluice_worker_stats;

void sluice_worker_stats_get(const sluice_worker *w, sluice_worker_stats *out);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
