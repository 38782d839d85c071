/* Private to worker/runtime/: the worker's structures and what its files
 * share (the rt_ functions). See include/sluice/worker.h for the API. */
#ifndef SLUICE_WORKER_RUNTIME_H
#define SLUICE_WORKER_RUNTIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "sluice.h"
#include "sluice/worker.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

#define BACKOFF_MIN 0.1       /* s */
#define BACKOFF_MAX 5.0       /* s */
#define OUTAGE_LOG_EVERY 30.0 /* s */
#define SLEEP_CAP 1.0         /* s, longest sleep on a claim hint */
#define SAFETY_POLL 3.0       /* s, re-poll of a class with nothing pending */
#define TICK 0.25             /* s, the lease / watchdog timer */
#define REPLY_DEADLINE 10.0   /* s without a reply while waiting: the link is dead */
#define STOP_EXTRA 0.8        /* s after the grace for releases to be answered */
#define CLAIM_BATCH 100
#define HELD_MIN 1.0  /* s, first pause of a class whose handler cannot run */
#define HELD_MAX 60.0 /* s, longest */
#define LAT_EVERY 5.0 /* s, between job latency reports */

/* ------------------------------ types -------------------------------- */

typedef struct wclass {
    struct sluice_worker *w;
    char name[64 + 1];
    char channel[512];
    sluice_tier tier;
    sluice_worker_handler fn; /* NULL: not served (unhandled) */
    void *ud;
    int claiming;   /* a claim is in flight */
    size_t asked;   /* jobs that claim asked for */
    int asleep;     /* waiting on the timer or a notification */
    int notified;   /* a publish arrived during the claim */
    int failing;    /* the last claim failed: logged once until one succeeds */
    double lat_sum; /* ms, handler time of the jobs done this window */
    int64_t lat_n;
    double lat_skip_until; /* ev_now; the job_latency signal is not defined */
    /* the handler cannot run (an infrastructure fault): the class is paused
     * in this worker until held_until, then tried again */
    int held;
    double held_until;              /* ev_now */
    double held_backoff;            /* s, the next pause */
    double held_since, held_logged; /* ev_now, of the first failure and the last log line */
    ev_timer sleep;
    struct wclass *next;
} wclass;

/* A job's place: its handler runs; its ack waits for the end of the loop
 * iteration (acks.c); its end is on the wire; held back by an outage, to be
 * resent; its handler still holds it after the worker let it go. */
enum { J_RUNNING, J_ACKING, J_SENDING, J_WAITING, J_ORPHAN };
enum { C_NONE, C_ACK, C_FAIL, C_RELEASE };

struct sluice_worker_job {
    struct sluice_worker *w;
    wclass *cls;
    sluice_job *job;
    int state;
    int cmd;
    int ok;
    char *reason;
    int handler_owns;     /* the handler has not called done */
    double started;       /* ev_now, s */
    double leased_at;     /* ev_now of the last lease start or extension, s */
    double unextended_at; /* leased_at before the extension in flight, s */
    int extending;
    sluice_worker_cancel_fn cancel;
    void *cancel_arg;
    struct sluice_worker_job *prev, *next;
};

typedef struct jlist {
    sluice_worker_job *head;
    int n;
} jlist;

/* A link to Redis: the URL's node (commands, or the subscription), or on a
 * Redis Cluster one master's (commands for its slots). */
typedef struct wlink {
    struct sluice_worker *w;
    redisAsyncContext *ac;
    int up;
    int sub;           /* the SUBSCRIBE link */
    int refused;       /* Redis refused its credentials or database: not up */
    double backoff;    /* s */
    double down_since; /* ev_now, 0 when up */
    double last_log;
    int ever_up;
    int outstanding;   /* replies awaited (not on the SUBSCRIBE link) */
    double last_reply; /* ev_now */
    char host[256];    /* a cluster master's address; port 0: the URL's node */
    int port;
    ev_timer retry;
    struct wlink *next; /* the worker's command links: the URL's, then the masters' */
} wlink;

/* A command on the wire: what its reply goes to, and the command itself,
 * kept until then so that a reply proving it did not run on a cluster
 * (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) can send it once more. */
typedef struct wcall {
    struct sluice_worker *w;
    sluice_command *m; /* owned */
    redisCallbackFn *cb;
    void *priv;
    int resent;
} wcall;

/* A synchronous connection made on demand: after a failed connect none is
 * tried again before a jittered, doubling backoff (BACKOFF_MIN to
 * BACKOFF_MAX) has passed, so an outage does not cost a blocking connect at
 * every use. Used by one thread only. */
typedef struct rt_dial {
    sluice_client *c; /* NULL: not connected */
    double backoff;   /* s, the next backoff */
    double retry_at;  /* ev_time before which no connect is tried */
} rt_dial;

/* What one governor tick hands the loop. */
typedef struct gov_result {
    int ok;      /* the tick succeeded: rep is filled */
    int has_gov; /* the thread holds a governor after the tick */
    sluice_governor_report rep;
    sluice_error err; /* !ok: why */
    char *decision;   /* NEW: the decision of a tick that led, else NULL */
} gov_result;

/* The hosted governor's thread: it owns its connection and its governor and
 * ticks when the loop asks; the loop takes each result through "done". */
typedef struct gov_thread {
    pthread_t th;
    int running;   /* loop only: the thread exists */
    int busy;      /* loop only: a tick was asked and its result not yet taken */
    ev_async done; /* sent by the thread when "res" is ready */
    struct ev_loop *loop;
    const char *url;    /* BORROWED from the worker, unchanged while the thread runs */
    const char *ns;     /* BORROWED, likewise */
    pthread_mutex_t mu; /* guards the fields down to "res" */
    pthread_cond_t wake;
    int quit;        /* the loop asks the thread to end */
    int ask;         /* the loop asks for a tick ... */
    int64_t tick_ms; /* ... with this tick ... */
    char name[128];  /* ... by a governor named after this worker name */
    int ready;       /* "res" holds a result not yet taken */
    gov_result res;
    /* the thread's own */
    rt_dial conn;
    sluice_governor *gov;
} gov_thread;

struct sluice_worker {
    struct ev_loop *loop;
    char *url;
    char *ns;
    sluice_url u;
    char name[128];
    int concurrency;
    wclass *classes;
    wclass *rr; /* round-robin cursor */
    jlist running, acking, sending, waiting, orphans;
    ev_prepare ack_flush; /* active while acking holds jobs */
    wlink cmd, sub;       /* cmd.next: the cluster masters' links (NEW each) */
    sluice_client *sync;
    int on_cluster; /* sync found a Redis Cluster: commands go to their slot's master */
    ev_timer tick;
    ev_timer grace;
    ev_timer deadline;
    int started, stopping, stopped, freeing, in_dispatch;
    size_t claims_out; /* jobs asked for by claims in flight */
    /* quarantine (see sluice/job.h): a suspect runs alone */
    sluice_worker_job *suspect; /* the running suspect: nothing is claimed until it ends */
    wclass *solo;               /* the class of the claim in flight that may lease a suspect
                                     (busy '0'): the only claim in flight */
    wclass *quarantine;         /* a class that answered 'suspect': claimed once the worker is idle */
    sluice_worker_stopped_fn on_stopped;
    void *stopped_ud;
    sluice_worker_log_fn log;
    void *log_ud;
    sluice_worker_stats st;
    /* the hosted governor, ticking on a thread of its own */
    int gov_on;
    int64_t gov_tick_ms;
    char *gov_url; /* NULL: the worker's url */
    gov_thread gov;
    int gov_leader; /* as of the last tick taken, 0 without a governor */
    int gov_failing;
    ev_timer gov_t;
    ev_timer lat_t;   /* job latency reports */
    rt_dial lat_conn; /* their connection when the governor has a URL of its own */
};

/* ------------------------------ worker.c ------------------------------ */

/* Logs an event through the worker's log callback (none: nothing). "j"
 * (may be NULL) names the job; "dur" is its handler time in s, or < 0. */
void rt_emit(sluice_worker *w, const char *event, const sluice_worker_job *j, double dur, const char *msg);

/* ------------------------------ links.c ------------------------------- */

/* The next wait (s) of a capped, jittered exponential backoff: *backoff
 * times 0.5..1.5; then *backoff doubles, up to BACKOFF_MAX. */
double rt_backoff_next(double *backoff);
/* Sends "m" (TAKES it; NULL: nothing sent) with "cb"(priv) for its reply,
 * on the link that serves it: the URL's node, or on a cluster the master of
 * its slot (that link opened on first use). A reply proving that it did not
 * run on a cluster re-reads the slot map and sends it again, once; "cb"
 * gets the last reply (NULL: the link broke, it may have run). Re-reading
 * the map is a blocking CLUSTER SLOTS through the sync client. Returns 0,
 * or -1 when no link can take it now (nothing sent). */
int rt_send(sluice_worker *w, sluice_command *m, redisCallbackFn *cb, void *priv);
/* Whether commands may be sent: the URL's link is up, or on a cluster
 * always (each command waits for its master's link). */
int rt_cmd_up(const sluice_worker *w);
void rt_link_open(wlink *l);
void rt_link_down(wlink *l, const char *why);
void rt_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);
/* Subscribes the class's ready channel, if the subscription link is up. */
void rt_subscribe(sluice_worker *w, wclass *c);
/* Loads the Functions library where class "c"'s calls go: reconnects the
 * sync client (which loads it), or on a cluster asks c's master through it
 * (which loads it there). */
void rt_reload_functions(sluice_worker *w, const wclass *c);
/* Whether a failed call ("r" its reply, BORROWED, may be NULL; "err" its
 * decoded error) failed because Redis lacks the Function (restarted
 * without the library, or holding an older one). */
int rt_function_missing(const redisReply *r, const sluice_error *err);

/* ------------------------------- dial.c ------------------------------- */

void rt_dial_init(rt_dial *d);
/* The connection to "url" in namespace "ns", made now unless the backoff
 * after the last failed connect runs past "now" (ev_time, s); it has a 1 s
 * command timeout. Returns it (BORROWED: d owns it), or NULL with *err set
 * (err may be NULL). */
sluice_client *rt_dial_get(rt_dial *d, const char *url, const char *ns, double now, sluice_error *err);
/* Drops the connection; the backoff stays (rt_dial_init resets it). */
void rt_dial_close(rt_dial *d);

/* ------------------------------ claims.c ------------------------------ */

/* Hands the free slots out as claims (see claims.c). */
void rt_schedule(sluice_worker *w);
void rt_class_sleep(wclass *c, double s);
void rt_class_wake(wclass *c);
void rt_sleep_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ------------------------------- jobs.c ------------------------------- */

void rt_jl_add(jlist *l, sluice_worker_job *j);
/* Takes a claimed job (TAKES job) into the running list and hands it to
 * its class's handler; after the stop began, or for a dropped class, it is
 * released instead. The quarantine's suspect is marked here. */
void rt_job_dispatch(sluice_worker *w, wclass *c, sluice_job *job);
void rt_job_move(sluice_worker_job *j, int state);
void rt_job_free(sluice_worker_job *j);
/* Sends the job's end (ack, fail or release, as j->cmd says); an ack goes
 * out with the others of the loop iteration (acks.c). */
void rt_job_send(sluice_worker_job *j);
/* Takes what Redis answered to the job's end ("err": SLUICE_OK;
 * SLUICE_ERR_UNREACHABLE when no reply came; SLUICE_ERR_UNAVAILABLE when
 * Redis did not run it; another error) and logs it. Returns 1 when the job
 * is done with Redis, 0 when it waits to be resent. Neither schedules
 * claims nor checks the stop: the caller does, once per reply. */
int rt_job_answered(sluice_worker_job *j, const sluice_error *err);
/* Resends the ends an outage or a Redis that could not serve held back. */
void rt_resend_waiting(sluice_worker *w);

/* ------------------------------- acks.c ------------------------------- */

/* Lists the job (its cmd C_ACK) among the acks sent at the end of the
 * loop iteration. */
void rt_ack_queue(sluice_worker_job *j);
/* Sends the listed acks now: one call per class, up to SLUICE_BATCH_MAX
 * jobs each; a job that cannot be sent waits to be resent. Then hands the
 * free slots out (rt_schedule waits while acks are listed). */
void rt_acks_flush(sluice_worker *w);
void rt_ack_flush_cb(struct ev_loop *loop, ev_prepare *p, int revents);

/* ------------------------------ leases.c ------------------------------ */

void rt_tick_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ------------------------------- stop.c ------------------------------- */

/* Finishes a stop once nothing is left in flight. */
void rt_check_stopped(sluice_worker *w);
void rt_stop_timers(sluice_worker *w);
void rt_grace_cb(struct ev_loop *loop, ev_timer *t, int revents);
void rt_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ----------------------------- governor.c ----------------------------- */

/* Ends the governor's thread, which hands a held lease back first (blocks
 * for a tick in flight and the hand-back, each bounded by the 1 s command
 * timeout). No-op without a thread. */
void rt_gov_close(sluice_worker *w);
/* The tick timer: asks the thread for a tick (starting it if need be). */
void rt_gov_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* ----------------------------- latency.c ------------------------------ */

void rt_lat_cb(struct ev_loop *loop, ev_timer *t, int revents);

#endif
