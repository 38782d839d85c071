/* The worker runtime: claims, dispatch, leases, acks, reconnects and
 * graceful stop on libev + hiredis async. See include/sluice/worker.h. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "sluice.h"
#include "runtime.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#define BACKOFF_MIN 0.1        /* s */
#define BACKOFF_MAX 5.0        /* s */
#define OUTAGE_LOG_EVERY 30.0  /* s */
#define SLEEP_CAP 1.0          /* s, longest sleep on a claim hint */
#define SAFETY_POLL 3.0        /* s, re-poll of a class with nothing pending */
#define TICK 0.25              /* s, the lease / watchdog timer */
#define REPLY_DEADLINE 10.0    /* s without a reply while waiting: the link is dead */
#define STOP_EXTRA 0.8         /* s after the grace for releases to be answered */
#define CLAIM_BATCH 100
#define HELD_MIN 1.0           /* s, first pause of a class whose handler cannot run */
#define HELD_MAX 60.0          /* s, longest */

/* ------------------------------ types -------------------------------- */

typedef struct wclass {
    struct sluice_worker *w;
    char name[64 + 1];
    char channel[512];
    sluice_tier tier;
    sluice_worker_handler fn;     /* NULL: not served (unhandled) */
    void *ud;
    int claiming;                 /* a claim is in flight */
    size_t asked;                 /* jobs that claim asked for */
    int asleep;                   /* waiting on the timer or a notification */
    int notified;                 /* a publish arrived during the claim */
    int failing;                  /* the last claim failed: logged once until one succeeds */
    double lat_sum;               /* ms, handler time of the jobs done this window */
    int64_t lat_n;
    double lat_skip_until;        /* ev_now; the job_latency signal is not defined */
    /* the handler cannot run (an infrastructure fault): the class is paused
     * in this worker until held_until, then tried again */
    int held;
    double held_until;            /* ev_now */
    double held_backoff;          /* s, the next pause */
    double held_since, held_logged; /* ev_now, of the first failure and the last log line */
    ev_timer sleep;
    struct wclass *next;
} wclass;

enum { J_RUNNING, J_SENDING, J_WAITING, J_ORPHAN };
enum { C_NONE, C_ACK, C_FAIL, C_RELEASE };

struct sluice_worker_job {
    struct sluice_worker *w;
    wclass *cls;
    sluice_job *job;
    int state;
    int cmd;
    int ok;
    char *reason;
    int handler_owns;             /* the handler has not called done */
    double started;               /* ev_now, s */
    double leased_at;             /* ev_now of the last lease start or extension, s */
    double unextended_at;         /* leased_at before the extension in flight, s */
    int extending;
    sluice_worker_cancel_fn cancel;
    void *cancel_arg;
    struct sluice_worker_job *prev, *next;
};

typedef struct jlist { sluice_worker_job *head; int n; } jlist;

typedef struct wlink {
    struct sluice_worker *w;
    redisAsyncContext *ac;
    int up;
    int sub;                      /* the SUBSCRIBE link */
    int refused;                  /* Redis refused its credentials or database: not up */
    double backoff;               /* s */
    double down_since;            /* ev_now, 0 when up */
    double last_log;
    int ever_up;
    ev_timer retry;
} wlink;

struct sluice_worker {
    struct ev_loop *loop;
    char *url;
    char *ns;
    sluice_url u;
    char name[128];
    int concurrency;
    wclass *classes;
    wclass *rr;                   /* round-robin cursor */
    jlist running, sending, waiting, orphans;
    wlink cmd, sub;
    sluice_client *sync;
    ev_timer tick;
    ev_timer grace;
    ev_timer deadline;
    int started, stopping, stopped, freeing, in_dispatch;
    size_t claims_out;            /* jobs asked for by claims in flight */
    /* quarantine (see sluice/job.h): a suspect runs alone */
    sluice_worker_job *suspect;   /* the running suspect: nothing is claimed until it ends */
    wclass *solo;                 /* the class of the claim in flight that may lease a suspect
                                     (busy '0'): the only claim in flight */
    wclass *quarantine;           /* a class that answered 'suspect': claimed once the worker is idle */
    int outstanding;              /* replies awaited on the cmd link */
    double last_reply;
    sluice_worker_stopped_fn on_stopped;
    void *stopped_ud;
    sluice_worker_log_fn log;
    void *log_ud;
    sluice_worker_stats st;
    /* the hosted governor, and the connection it and the job latency
     * reports use when it has a URL of its own */
    int gov_on;
    int64_t gov_tick_ms;
    char *gov_url;                /* NULL: the worker's url */
    sluice_client *gov_c;
    double gov_backoff;           /* s, the next reconnect backoff */
    double gov_retry_at;          /* ev_now before which no reconnect is tried */
    sluice_governor *gov;
    int gov_leader;
    int gov_failing;
    ev_timer gov_t;
    ev_timer lat_t;               /* job latency reports */
};

static void schedule(sluice_worker *w);
static void link_open(wlink *l);
static void link_down(wlink *l, const char *why);
static void check_stopped(sluice_worker *w);
static void class_sleep(struct wclass *c, double s);

/* ------------------------------ helpers ------------------------------ */

/* The next wait (s) of a capped, jittered exponential backoff: *backoff
 * times 0.5..1.5; then *backoff doubles, up to BACKOFF_MAX. */
static double backoff_next(double *backoff) {
    double d = *backoff * (0.5 + (double)(rand() % 1000) / 1000.0);
    *backoff *= 2;
    if (*backoff > BACKOFF_MAX) *backoff = BACKOFF_MAX;
    return d;
}

static void seterr(sluice_error *err, sluice_error_code code, const char *msg) {
    if (!err) return;
    err->code = code;
    snprintf(err->text, sizeof(err->text), "%s", msg);
}

static void emit(sluice_worker *w, const char *event, const sluice_worker_job *j, double dur,
                 const char *msg) {
    if (!w->log) return;
    sluice_worker_event ev = {.event = event, .duration_ms = -1, .message = msg};
    if (j && j->job) {
        ev.job_id = sluice_job_id(j->job);
        ev.cls = sluice_job_class(j->job);
        ev.attempt = sluice_job_attempt(j->job);
        if (dur >= 0) ev.duration_ms = (int64_t)(dur * 1000.0 + 0.5);
    }
    w->log(&ev, w->log_ud);
}

static void jl_add(jlist *l, sluice_worker_job *j) {
    j->prev = NULL;
    j->next = l->head;
    if (l->head) l->head->prev = j;
    l->head = j;
    l->n++;
}

static void jl_del(jlist *l, sluice_worker_job *j) {
    if (j->prev) j->prev->next = j->next; else l->head = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

static jlist *jl_of(sluice_worker *w, int state) {
    switch (state) {
    case J_RUNNING: return &w->running;
    case J_SENDING: return &w->sending;
    case J_WAITING: return &w->waiting;
    default: return &w->orphans;
    }
}

/* Takes the job off its list; a suspect that stops running ends the
 * quarantine's pause in claiming. */
static void unlist(sluice_worker_job *j) {
    jl_del(jl_of(j->w, j->state), j);
    if (j->w->suspect == j) j->w->suspect = NULL;
}

static void job_move(sluice_worker_job *j, int state) {
    unlist(j);
    j->state = state;
    jl_add(jl_of(j->w, state), j);
}

static void job_free(sluice_worker_job *j) {
    unlist(j);
    sluice_job_free(j->job);
    free(j->reason);
    free(j);
}

/* The worker is done with the Redis side of the job: free it, or leave it
 * as an orphan until its handler calls done. */
static void job_finish(sluice_worker_job *j) {
    if (j->handler_owns && !j->cancel) job_move(j, J_ORPHAN);
    else job_free(j);
}

static int link_send(wlink *l, sluice_command *m, redisCallbackFn *cb, void *priv) {
    if (!m || !l->up || !l->ac) return -1;
    int rc = redisAsyncCommandArgv(l->ac, cb, priv, sluice_command_argc(m), sluice_command_argv(m),
                                   sluice_command_argvlen(m));
    if (rc != REDIS_OK) return -1;
    if (!l->sub) {
        if (l->w->outstanding++ == 0) l->w->last_reply = ev_now(l->w->loop);
    }
    return 0;
}

static void got_reply(sluice_worker *w) {
    if (w->outstanding > 0) w->outstanding--;
    w->last_reply = ev_now(w->loop);
}

/* ------------------------- acks, fails, releases ------------------------- */

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv);

static void job_send(sluice_worker_job *j) {
    sluice_worker *w = j->w;
    const char *ns = w->ns;
    const char *id = sluice_job_id(j->job);
    int64_t tok = sluice_job_token(j->job);
    sluice_command *m = NULL;
    if (j->cmd == C_ACK) m = sluice_command_ack(ns, id, tok, NULL);
    else if (j->cmd == C_FAIL) m = sluice_command_fail(ns, id, tok, j->reason ? j->reason : "failed", NULL);
    else m = sluice_command_release(ns, id, tok, NULL);
    if (link_send(&w->cmd, m, cmd_reply, j) == 0) {
        if (j->state != J_SENDING) job_move(j, J_SENDING);
    } else if (j->state != J_WAITING) {
        job_move(j, J_WAITING);
    }
    sluice_command_free(m);
}

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker_job *j = priv;
    sluice_worker *w = j->w;
    if (w->freeing) return;
    got_reply(w);
    redisReply *r = reply;
    if (!r) {
        if (w->stopped) job_finish(j);
        else job_move(j, J_WAITING);   /* resent after the reconnect */
        check_stopped(w);
        return;
    }
    sluice_error err;
    if (sluice_reply_check(r, "ack", &err) < 0 && err.code == SLUICE_ERR_UNAVAILABLE) {
        /* Redis did not run it (loading, busy): resent by the tick, while the
         * lease may live, like an ack held back by an outage */
        job_move(j, J_WAITING);
        check_stopped(w);
        return;
    }
    if (err.code != SLUICE_OK) {
        if (err.code == SLUICE_ERR_STALE) {
            w->st.stale++;
            emit(w, "stale", j, -1, "the lease was lost before the job ended (it may run again)");
        } else {
            emit(w, "error", j, -1, err.text);
        }
    } else if (j->cmd == C_RELEASE) {
        w->st.released++;
        emit(w, "released", j, -1, NULL);
    }
    job_finish(j);
    schedule(w);   /* the last lease ended: a quarantined class may be claimed */
    check_stopped(w);
}

void sluice_worker_done(sluice_worker *w, sluice_worker_job *j, int ok, const char *reason) {
    if (!j) return;
    if (!j->handler_owns) return;
    j->handler_owns = 0;
    if (j->state != J_RUNNING) {
        /* given up already (released or releasing): only free it */
        if (j->state == J_ORPHAN) job_free(j);
        return;
    }
    double dur = ev_time() - j->started;
    j->ok = ok;
    j->cmd = ok ? C_ACK : C_FAIL;
    if (!ok) {
        j->reason = strdup(reason && *reason ? reason : "failed");
        w->st.failed++;
        emit(w, reason && strcmp(reason, "timeout") == 0 ? "timeout" : "failed", j, dur, j->reason);
    } else {
        w->st.acked++;
        emit(w, "done", j, dur, NULL);
    }
    j->cls->lat_sum += dur * 1000.0;
    j->cls->lat_n++;
    if (j->cls->held) {
        char msg[160];
        snprintf(msg, sizeof(msg), "class %s: its handler runs again after %.0f s", j->cls->name,
                 ev_now(w->loop) - j->cls->held_since);
        emit(w, "handler", NULL, -1, msg);
        j->cls->held = 0;
    }
    job_send(j);
    if (!w->in_dispatch) schedule(w);
    check_stopped(w);
}

void sluice_worker_cannot_run(sluice_worker *w, sluice_worker_job *j, const char *reason) {
    if (!j || !j->handler_owns) return;
    j->handler_owns = 0;
    if (j->state != J_RUNNING) {
        if (j->state == J_ORPHAN) job_free(j);
        return;
    }
    wclass *c = j->cls;
    double now = ev_now(w->loop);
    w->st.unrunnable++;
    if (!c->held) {
        c->held = 1;
        c->held_since = c->held_logged = now;
        c->held_backoff = HELD_MIN;
        char msg[SLUICE_ERROR_TEXT + 200];
        snprintf(msg, sizeof(msg), "class %s: its handler cannot run (%.120s): jobs are released untried and the "
                 "class is paused in this worker, tried again after a backoff", c->name, reason ? reason : "");
        emit(w, "handler", j, -1, msg);
    } else if (now - c->held_logged >= OUTAGE_LOG_EVERY) {
        c->held_logged = now;
        char msg[SLUICE_ERROR_TEXT + 160];
        snprintf(msg, sizeof(msg), "class %s: its handler still cannot run after %.0f s (%.120s)", c->name,
                 now - c->held_since, reason ? reason : "");
        emit(w, "handler", j, -1, msg);
    }
    if (now >= c->held_until) {
        c->held_until = now + c->held_backoff;
        c->held_backoff = c->held_backoff * 2 > HELD_MAX ? HELD_MAX : c->held_backoff * 2;
        class_sleep(c, c->held_until - now);
    }
    j->cmd = C_RELEASE;
    job_send(j);
    check_stopped(w);
}

void sluice_worker_job_on_cancel(sluice_worker_job *j, sluice_worker_cancel_fn fn, void *arg) {
    j->cancel = fn;
    j->cancel_arg = arg;
}

const sluice_job *sluice_worker_job_get(const sluice_worker_job *j) { return j->job; }

/* Resends the acks, fails and releases that an outage or a Redis that
 * could not serve held back, while their leases may live. */
static void resend_waiting(sluice_worker *w) {
    double now = ev_now(w->loop);
    sluice_worker_job *j = w->waiting.head;
    while (j) {
        sluice_worker_job *nx = j->next;
        double tmo = (double)sluice_job_timeout_ms(j->job) / 1000.0;
        if (now - j->leased_at > tmo && j->cmd != C_RELEASE) {
            emit(w, "lease-lost", j, -1, "the lease ran out before Redis took the result; the job may run again");
            job_finish(j);
        } else {
            job_send(j);
        }
        j = nx;
    }
}

/* ------------------------------- leases ------------------------------- */

static void extend_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker_job *j = priv;
    sluice_worker *w = j->w;
    if (w->freeing) return;
    got_reply(w);
    j->extending = 0;
    redisReply *r = reply;
    sluice_error err;
    if (sluice_reply_check(r, "extend", &err) == 0) return;
    if (err.code == SLUICE_ERR_STALE)
        emit(w, "lease-lost", j, -1, "lease extension refused: the job may run again elsewhere");
    else
        j->leased_at = j->unextended_at;   /* not extended: the next tick tries again */
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, tick);
    double now = ev_now(loop);
    if (w->cmd.ac && w->outstanding > 0 && now - w->last_reply > REPLY_DEADLINE) {
        if (w->cmd.down_since == 0) emit(w, "error", NULL, -1, "no reply from Redis for 10 s: reconnecting");
        /* not redisAsyncDisconnect: it would wait for the missing replies.
         * The pending callbacks get NULL, then on_disconnect reconnects
         * (hiredis calls it only for a link that had connected). */
        redisAsyncContext *ac = w->cmd.ac;
        redisAsyncFree(ac);
        if (w->cmd.ac == ac) {
            w->outstanding = 0;
            link_down(&w->cmd, "no reply");
        }
        ev_timer_again(loop, t);
        return;
    }
    if (w->cmd.up && w->waiting.n > 0) resend_waiting(w);
    for (sluice_worker_job *j = w->running.head; j; j = j->next) {
        double tmo = (double)sluice_job_timeout_ms(j->job) / 1000.0;
        if (j->extending || now - j->leased_at < tmo / 2) continue;
        sluice_command *m = sluice_command_extend(w->ns, sluice_job_id(j->job), sluice_job_token(j->job),
                                                  sluice_job_timeout_ms(j->job), NULL);
        if (link_send(&w->cmd, m, extend_reply, j) == 0) {
            j->extending = 1;
            j->unextended_at = j->leased_at;
            j->leased_at = now;
        }
        sluice_command_free(m);
    }
    ev_timer_again(loop, t);
}

/* ------------------------------ claiming ------------------------------ */

static void class_sleep(wclass *c, double s) {
    sluice_worker *w = c->w;
    c->asleep = 1;
    ev_timer_stop(w->loop, &c->sleep);
    ev_timer_set(&c->sleep, s, 0.);
    ev_timer_start(w->loop, &c->sleep);
}

/* Ends a class's sleep: it may be claimed again, except that a class
 * whose handler cannot run sleeps out its pause whatever wakes it. */
static void class_wake(wclass *c) {
    double now = ev_now(c->w->loop);
    if (c->held && now < c->held_until) {
        class_sleep(c, c->held_until - now);
        return;
    }
    ev_timer_stop(c->w->loop, &c->sleep);
    c->asleep = 0;
}

static void sleep_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    wclass *c = container_of(t, wclass, sleep);
    c->asleep = 0;
    schedule(c->w);
}

static void reload_functions(sluice_worker *w) {
    sluice_client_free(w->sync);
    w->sync = sluice_client_connect(w->url, w->ns, NULL);  /* loads the library */
}

static void dispatch(sluice_worker *w, wclass *c, sluice_job *job) {
    sluice_worker_job *j = calloc(1, sizeof(*j));
    if (!j) { sluice_job_free(job); return; }   /* its lease expires; it runs again */
    j->w = w;
    j->cls = c;
    j->job = job;
    j->state = J_RUNNING;
    j->handler_owns = 1;
    j->started = j->leased_at = ev_now(w->loop);
    jl_add(&w->running, j);
    w->st.claimed++;
    if (sluice_job_reclaims(job) > 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "its lease expired %d time(s) before: it runs alone",
                 sluice_job_reclaims(job));
        emit(w, "suspect", j, -1, msg);
        w->suspect = j;
        w->st.suspects++;
    }
    if (w->stopping || !c->fn) {
        /* arrived after the stop began (or the class was dropped): hand back */
        j->handler_owns = 0;
        j->cmd = C_RELEASE;
        job_send(j);
        return;
    }
    c->fn(w, j, c->ud);
}

static void claim_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wclass *c = priv;
    sluice_worker *w = c->w;
    if (w->freeing) return;
    got_reply(w);
    c->claiming = 0;
    w->claims_out -= c->asked;
    if (w->solo == c) {
        w->solo = NULL;
        if (w->quarantine == c) w->quarantine = NULL;   /* its idle claim is answered */
    }
    redisReply *r = reply;
    if (!r) { check_stopped(w); return; }   /* link broke; reconnect wakes the class */
    sluice_job *jobs[CLAIM_BATCH];
    sluice_claim_info info;
    sluice_error err;
    if (sluice_claim_parse(r, c->asked, jobs, &info, &err) < 0) {
        if (!c->failing) {
            char msg[SLUICE_ERROR_TEXT + 160];
            snprintf(msg, sizeof(msg), "class %s: %s (retrying every second, logged once)", c->name, err.text);
            emit(w, "error", NULL, -1, msg);
        }
        c->failing = 1;
        if (strstr(err.text, "unction") || (r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, "unction")))
            reload_functions(w);
        class_sleep(c, SLEEP_CAP);
        check_stopped(w);
        return;
    }
    c->failing = 0;
    if (info.status == SLUICE_CLAIM_JOBS && info.count > 0) {
        w->in_dispatch = 1;
        for (size_t i = 0; i < info.count; i++) dispatch(w, c, jobs[i]);
        w->in_dispatch = 0;
    } else if (info.status == SLUICE_CLAIM_SUSPECT) {
        /* no sleep: the class is claimed again as soon as the worker is idle */
        if (!w->quarantine) {
            char msg[SLUICE_ID_MAX + 96];
            snprintf(msg, sizeof(msg), "%s waits at the head of its class: no claims until this worker is idle",
                     info.id);
            emit(w, "suspect", NULL, -1, msg);
            w->quarantine = c;
        }
    } else if (c->notified) {
        /* an enqueue raced the claim: try again at once */
    } else {
        double s = SAFETY_POLL;
        if (info.retry_ms >= 0) s = (double)info.retry_ms / 1000.0;
        if (s > SLEEP_CAP && info.retry_ms >= 0) s = SLEEP_CAP;
        if (s < 0.005) s = 0.005;
        class_sleep(c, s);
    }
    c->notified = 0;
    if (!w->stopping) schedule(w);
    check_stopped(w);
}

static int weight(sluice_tier t) {
    return t == SLUICE_TIER_HIGH ? 4 : t == SLUICE_TIER_NORMAL ? 2 : 1;
}

/* Whether the worker holds leases (jobs running, or ended but not yet
 * acknowledged by Redis) or may be about to (claims in flight). A crash
 * would take them all with it: a claim that may lease a suspect is sent only
 * when there are none. */
static int busy(const sluice_worker *w) {
    return w->running.n + w->sending.n + w->waiting.n > 0 || w->claims_out > 0;
}

static void claim(sluice_worker *w, wclass *c, size_t n) {
    if (n > CLAIM_BATCH) n = CLAIM_BATCH;
    int b = busy(w);
    sluice_command *m = sluice_command_claim(w->ns, c->name, w->name, n, b, NULL);
    if (link_send(&w->cmd, m, claim_reply, c) == 0) {
        c->claiming = 1;
        c->asked = n;
        c->notified = 0;
        w->claims_out += n;
        if (!b) w->solo = c;
    }
    sluice_command_free(m);
}

static int eligible(const wclass *c) {
    return c->fn && !c->claiming && !c->asleep && !(c->held && ev_now(c->w->loop) < c->held_until);
}

/* Hands the free slots out: critical classes first, then the others in
 * proportion to their weight, starting at a rotating cursor. A suspect runs
 * alone: nothing is claimed while one runs, nor while a claim that may lease
 * one is in flight; a class that answered 'suspect' stops all claiming until
 * the worker is idle, then is claimed alone. */
static void schedule(sluice_worker *w) {
    if (!w->started || w->stopping || !w->cmd.up || w->in_dispatch) return;
    if (w->suspect || w->solo) return;
    long free_slots = (long)w->concurrency - w->running.n - (long)w->claims_out;
    if (free_slots <= 0) return;
    if (w->quarantine && !w->quarantine->fn) w->quarantine = NULL;   /* its handler was dropped */
    if (w->quarantine) {
        if (!busy(w)) claim(w, w->quarantine, (size_t)free_slots);
        return;
    }
    for (wclass *c = w->classes; c && free_slots > 0; c = c->next) {
        if (c->tier != SLUICE_TIER_CRITICAL || !eligible(c)) continue;
        size_t n = (size_t)free_slots;
        claim(w, c, n);
        if (w->solo) return;
        if (c->claiming) free_slots -= (long)c->asked;
    }
    if (free_slots <= 0) return;
    int total = 0;
    for (wclass *c = w->classes; c; c = c->next)
        if (c->tier != SLUICE_TIER_CRITICAL && eligible(c)) total += weight(c->tier);
    if (!total) return;
    if (!w->rr) w->rr = w->classes;
    long pool = free_slots;
    wclass *c = w->rr;
    do {
        if (c->tier != SLUICE_TIER_CRITICAL && eligible(c) && free_slots > 0) {
            long n = pool * weight(c->tier) / total;
            if (n < 1) n = 1;
            if (n > free_slots) n = free_slots;
            claim(w, c, (size_t)n);
            if (w->solo) break;
            if (c->claiming) free_slots -= (long)c->asked;
        }
        c = c->next ? c->next : w->classes;
    } while (c != w->rr);
    w->rr = w->rr->next ? w->rr->next : w->classes;
}

/* --------------------------- subscriptions --------------------------- */

static void sub_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker *w = priv;
    redisReply *r = reply;
    if (w->freeing || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    if (!r->element[0]->str || strcmp(r->element[0]->str, "message") != 0) return;
    const char *ch = r->element[1]->str;
    if (!ch) return;
    for (wclass *c = w->classes; c; c = c->next) {
        if (strcmp(c->channel, ch) != 0) continue;
        if (c->claiming) c->notified = 1;
        else if (c->asleep) class_wake(c);
    }
    schedule(w);
}

static void subscribe(sluice_worker *w, wclass *c) {
    if (!w->sub.up || !w->sub.ac) return;
    const char *argv[2] = {"SUBSCRIBE", c->channel};
    redisAsyncCommandArgv(w->sub.ac, sub_reply, w, 2, argv, NULL);
}

/* ------------------------------- links -------------------------------- */

static void read_tiers(sluice_worker *w) {
    if (!w->sync) {
        w->sync = sluice_client_connect(w->url, w->ns, NULL);
        if (w->sync) sluice_client_set_timeout(w->sync, 1000, NULL);
    }
    if (!w->sync) return;
    for (wclass *c = w->classes; c; c = c->next) {
        sluice_class_config cfg;
        sluice_error err;
        if (sluice_class_get(w->sync, c->name, &cfg, &err) == 0) c->tier = cfg.tier;
        else if (err.code == SLUICE_ERR_UNREACHABLE) { sluice_client_free(w->sync); w->sync = NULL; return; }
    }
}

static void link_up(wlink *l) {
    sluice_worker *w = l->w;
    char msg[160];
    l->up = 1;
    l->backoff = BACKOFF_MIN;
    if (l->sub) {
        for (wclass *c = w->classes; c; c = c->next) subscribe(w, c);
    } else {
        if (l->down_since > 0) {
            w->st.reconnects++;
            snprintf(msg, sizeof(msg), "after %.1f s", ev_now(w->loop) - l->down_since);
            emit(w, "reconnected", NULL, -1, msg);
        } else {
            emit(w, "connected", NULL, -1, NULL);
        }
        read_tiers(w);
        resend_waiting(w);
    }
    l->down_since = 0;
    l->ever_up = 1;
    /* notifications may have been missed: poll every class */
    for (wclass *c = w->classes; c; c = c->next) class_wake(c);
    schedule(w);
    check_stopped(w);
}

static void link_down(wlink *l, const char *why) {
    sluice_worker *w = l->w;
    l->ac = NULL;
    l->up = 0;
    if (w->freeing || w->stopped) return;
    double now = ev_now(w->loop);
    if (!l->sub) {
        if (l->down_since == 0) {
            l->down_since = now;
            l->last_log = now;
            emit(w, "disconnected", NULL, -1, why);
        } else if (now - l->last_log >= OUTAGE_LOG_EVERY) {
            l->last_log = now;
            char msg[200];
            snprintf(msg, sizeof(msg), "still unreachable after %.0f s: %s", now - l->down_since, why);
            emit(w, "disconnected", NULL, -1, msg);
        }
    } else if (l->down_since == 0) {
        l->down_since = now;
    }
    double d = backoff_next(&l->backoff);
    ev_timer_stop(w->loop, &l->retry);
    ev_timer_set(&l->retry, d, 0.);
    ev_timer_start(w->loop, &l->retry);
    check_stopped(w);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    wlink *l = ac->data;
    if (status != REDIS_OK) link_down(l, ac->errstr[0] ? ac->errstr : "connect failed");
    /* else the link is up at the reply to its handshake */
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    wlink *l = ac->data;
    (void)status;
    if (!l->sub) l->w->outstanding = 0;
    link_down(l, l->refused ? "authentication failed (check the user, the password and the database)"
                 : ac->errstr[0] ? ac->errstr : "connection closed");
}

/* The reply to AUTH or SELECT: a refusal (wrong password, NOPERM, no such
 * database) keeps the link down and retries it with the backoff, logged as
 * an outage is. */
static void auth_reply(redisAsyncContext *ac, void *reply, void *priv) {
    wlink *l = priv;
    redisReply *r = reply;
    if (l->w->freeing || !r) return;
    if (!l->sub) got_reply(l->w);
    if (r->type == REDIS_REPLY_ERROR && !l->refused) {
        l->refused = 1;
        redisAsyncDisconnect(ac);
    }
}

/* The reply to the handshake's last command (CLIENT SETNAME on the command
 * link, PING on the subscription link): Redis answers, so the link is up
 * unless it refused the credentials (an error here, e.g. no ACL permission
 * for CLIENT, does not matter). */
static void hello_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wlink *l = priv;
    if (l->w->freeing || !reply) return;
    if (!l->sub) got_reply(l->w);
    if (!l->up && l->ac && !l->refused) link_up(l);
}

static void retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    link_open(container_of(t, wlink, retry));
}

static void link_open(wlink *l) {
    sluice_worker *w = l->w;
    if (w->stopped || w->freeing || l->ac) return;
    l->refused = 0;
    redisAsyncContext *ac = w->u.is_unix ? redisAsyncConnectUnix(w->u.path)
                                         : redisAsyncConnect(w->u.host, w->u.port);
    if (!ac) { link_down(l, "out of memory"); return; }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        link_down(l, why);
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibevAttach(w->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued before anything else, sent once connected */
    if (w->u.password[0]) {
        const char *argv[3] = {"AUTH", w->u.user[0] ? w->u.user : w->u.password, w->u.password};
        redisAsyncCommandArgv(ac, auth_reply, l, w->u.user[0] ? 3 : 2, argv, NULL);
        if (!l->sub) w->outstanding++;
    }
    if (w->u.db && !l->sub) {
        char db[16];
        snprintf(db, sizeof(db), "%d", w->u.db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(ac, auth_reply, l, 2, argv, NULL);
        w->outstanding++;
    }
    if (!l->sub) {
        const char *argv[3] = {"CLIENT", "SETNAME", w->name};
        redisAsyncCommandArgv(ac, hello_reply, l, 3, argv, NULL);
        w->outstanding++;
        w->last_reply = ev_now(w->loop);
    } else {
        const char *argv[1] = {"PING"};
        redisAsyncCommandArgv(ac, hello_reply, l, 1, argv, NULL);
    }
}

/* ------------------------------ governor ------------------------------ */

static void gov_close(sluice_worker *w) {
    sluice_governor_free(w->gov);   /* hands the lease back if held */
    sluice_client_free(w->gov_c);
    w->gov = NULL;
    w->gov_c = NULL;
    w->gov_leader = 0;
}

/* The governor's own connection (to gov_url, else the worker's url),
 * connected on demand. After a failed connect none is tried again before a
 * jittered, doubling backoff (100 ms to 5 s) has passed, so a Redis outage
 * does not cost the loop a blocking connect every tick. NULL with *err when
 * there is none. */
static sluice_client *gov_connection(sluice_worker *w, sluice_error *err) {
    if (w->gov_c) return w->gov_c;
    double now = ev_now(w->loop);
    if (now < w->gov_retry_at) {
        seterr(err, SLUICE_ERR_UNREACHABLE, "waiting to reconnect");
        return NULL;
    }
    w->gov_c = sluice_client_connect(w->gov_url ? w->gov_url : w->url, w->ns, err);
    if (!w->gov_c) {
        w->gov_retry_at = now + backoff_next(&w->gov_backoff);
        return NULL;
    }
    w->gov_backoff = BACKOFF_MIN;
    w->gov_retry_at = 0;
    sluice_client_set_timeout(w->gov_c, 1000, NULL);
    return w->gov_c;
}

/* One synchronous tick on the governor's own connection. Blocks the loop
 * for its round trips (bounded by a 1 s command timeout). */
static void gov_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, gov_t);
    sluice_error err;
    if (!w->gov) {
        if (gov_connection(w, &err)) {
            sluice_governor_opts o;
            sluice_governor_opts_init(&o);
            o.tick_ms = w->gov_tick_ms;
            /* The lease owner is this process, not the name: a worker restarted
             * under the same name must take a new epoch, so the fence can tell
             * it from a frozen predecessor that wakes up. */
            char owner[129];
            snprintf(owner, sizeof(owner), "%.96s#%ld.%lx", w->name, (long)getpid(),
                     (unsigned long)(ev_time() * 1e6) & 0xffffffffUL);
            w->gov = sluice_governor_new(w->gov_c, owner, &o, &err);
        }
    }
    sluice_governor_report rep;
    if (w->gov && sluice_governor_tick(w->gov, &rep, &err) == 0) {
        w->st.governor_ticks++;
        if (w->gov_failing) emit(w, "governor", NULL, -1, "ticking again");
        w->gov_failing = 0;
        if (rep.leader != w->gov_leader) {
            char msg[64];
            snprintf(msg, sizeof(msg), rep.leader ? "leading (epoch %lld)" : "standing by", (long long)rep.epoch);
            emit(w, "governor", NULL, -1, msg);
            w->gov_leader = rep.leader;
        }
        if (rep.leader) {
            switch (rep.action) {
            case SLUICE_LAW_CUT: w->st.governor_cuts++; break;
            case SLUICE_LAW_CRITICAL: w->st.governor_criticals++; break;
            case SLUICE_LAW_RAISE: w->st.governor_raises++; break;
            default: w->st.governor_holds++; break;
            }
            const char *d = sluice_governor_last_decision(w->gov);
            if (d[0]) emit(w, "decision", NULL, -1, d);
        }
    } else {
        w->st.governor_failures++;
        if (!w->gov_failing) {
            char msg[SLUICE_ERROR_TEXT + 32];
            snprintf(msg, sizeof(msg), "tick failed: %s", err.text);
            emit(w, "governor", NULL, -1, msg);
        }
        w->gov_failing = 1;
        if (err.code == SLUICE_ERR_UNREACHABLE || !w->gov) gov_close(w);
    }
    ev_timer_again(w->loop, t);
}

int sluice_worker_set_governor_url(sluice_worker *w, const char *url, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    char *copy = NULL;
    if (url && *url) {
        sluice_url u;
        int bad = sluice_url_parse(url, &u, err);
        memset(&u, 0, sizeof(u)); /* the password */
        if (bad < 0) return -1;
        if (!(copy = strdup(url))) { seterr(err, SLUICE_ERR_NOMEM, "out of memory"); return -1; }
    }
    gov_close(w);   /* the next tick connects with the new credentials */
    w->gov_backoff = BACKOFF_MIN;
    w->gov_retry_at = 0;
    if (w->gov_url) memset(w->gov_url, 0, strlen(w->gov_url));
    free(w->gov_url);
    w->gov_url = copy;
    return 0;
}

int sluice_worker_host_governor(sluice_worker *w, int on, int64_t tick_ms, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    if (tick_ms == 0) tick_ms = 1000;
    if (tick_ms < 10 || tick_ms > 3600000) { seterr(err, SLUICE_ERR_ARGUMENT, "tick must be 10..3600000 ms"); return -1; }
    w->gov_on = on;
    w->gov_tick_ms = tick_ms;
    if (!on) {
        ev_timer_stop(w->loop, &w->gov_t);
        gov_close(w);
    } else if (w->started && !w->stopping) {
        w->gov_t.repeat = (double)tick_ms / 1000.0;
        ev_timer_again(w->loop, &w->gov_t);
    }
    return 0;
}

/* Every LAT_EVERY s: the mean handler time of each class's jobs done in
 * that window goes to the signal job_latency.<class>, if one is defined
 * (an undefined one is looked at again after a minute). Reported on the
 * governor's connection when it has a URL of its own (reporting a signal is
 * the governor role's right, not the worker role's). */
#define LAT_EVERY 5.0
static void lat_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, lat_t);
    double now = ev_now(loop);
    for (wclass *c = w->classes; c; c = c->next) {
        if (!c->lat_n) continue;
        double mean = c->lat_sum / (double)c->lat_n;
        c->lat_sum = 0;
        c->lat_n = 0;
        if (now < c->lat_skip_until || !w->cmd.up) continue;
        sluice_client *sc = w->gov_url ? gov_connection(w, NULL) : w->sync;
        if (!sc) continue;
        char name[128];
        snprintf(name, sizeof(name), "job_latency.%s", c->name);
        sluice_error err;
        if (sluice_signal_report(sc, name, mean, 0, &err) < 0) {
            if (err.code == SLUICE_ERR_UNREACHABLE) {
                if (sc == w->sync) { sluice_client_free(w->sync); w->sync = NULL; }
            }
            else c->lat_skip_until = now + 60.0;   /* not defined (or a name too long): quietly */
        }
    }
}

/* ------------------------------- stop --------------------------------- */

/* Stops every timer the worker owns and closes the governor: what both a
 * finished stop and a free must do, whichever comes first. */
static void stop_timers(sluice_worker *w) {
    ev_timer_stop(w->loop, &w->tick);
    ev_timer_stop(w->loop, &w->grace);
    ev_timer_stop(w->loop, &w->deadline);
    ev_timer_stop(w->loop, &w->cmd.retry);
    ev_timer_stop(w->loop, &w->sub.retry);
    ev_timer_stop(w->loop, &w->gov_t);
    ev_timer_stop(w->loop, &w->lat_t);
    gov_close(w);
}

static void finish_stop(sluice_worker *w) {
    if (w->stopped) return;
    w->stopped = 1;
    stop_timers(w);
    for (wclass *c = w->classes; c; c = c->next) {
        ev_timer_stop(w->loop, &c->sleep);
        c->asleep = 0;
    }
    if (w->sub.ac) redisAsyncDisconnect(w->sub.ac);
    if (w->cmd.ac) redisAsyncDisconnect(w->cmd.ac);
    emit(w, "stop", NULL, -1, NULL);
    if (w->on_stopped) {
        sluice_worker_stopped_fn fn = w->on_stopped;
        w->on_stopped = NULL;
        fn(w, w->stopped_ud);
    }
}

static void check_stopped(sluice_worker *w) {
    if (!w->stopping || w->stopped || w->freeing) return;
    int claiming = 0;
    for (wclass *c = w->classes; c; c = c->next) claiming |= c->claiming;
    if (w->running.n == 0 && w->sending.n == 0 && w->waiting.n == 0 && !claiming) finish_stop(w);
}

static void give_up_running(sluice_worker *w) {
    while (w->running.head) {
        sluice_worker_job *j = w->running.head;
        j->cmd = C_RELEASE;
        if (j->cancel) {
            j->handler_owns = 0;
            j->cancel(j, j->cancel_arg);
        }
        job_move(j, J_WAITING);
        job_send(j);
    }
    /* waiting acks that cannot be sent now stay until the deadline */
}

static void grace_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, grace);
    give_up_running(w);
    check_stopped(w);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, deadline);
    give_up_running(w);
    finish_stop(w);
}

void sluice_worker_stop(sluice_worker *w, int64_t grace_ms, sluice_worker_stopped_fn fn, void *ud) {
    if (!w || w->stopped) return;
    double g = grace_ms > 0 ? (double)grace_ms / 1000.0 : 0.;
    if (!w->stopping) {
        w->stopping = 1;
        w->on_stopped = fn;
        w->stopped_ud = ud;
        for (wclass *c = w->classes; c; c = c->next) ev_timer_stop(w->loop, &c->sleep);
        if (!w->started) { finish_stop(w); return; }
    } else {
        double left = ev_timer_remaining(w->loop, &w->grace);
        if (!ev_is_active(&w->grace) || left <= g) return;
    }
    ev_timer_stop(w->loop, &w->grace);
    ev_timer_stop(w->loop, &w->deadline);
    ev_timer_set(&w->grace, g, 0.);
    ev_timer_set(&w->deadline, g + STOP_EXTRA, 0.);
    ev_timer_start(w->loop, &w->grace);
    ev_timer_start(w->loop, &w->deadline);
    check_stopped(w);
}

/* ------------------------------- API ---------------------------------- */

sluice_worker *sluice_worker_new(struct ev_loop *loop, const char *url, const char *ns, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    if (!loop) { seterr(err, SLUICE_ERR_ARGUMENT, "no event loop"); return NULL; }
    if (!ns) ns = getenv("SLUICE_NAMESPACE");
    if (!ns || !*ns) ns = SLUICE_DEFAULT_NAMESPACE;
    sluice_worker *w = calloc(1, sizeof(*w));
    if (!w) { seterr(err, SLUICE_ERR_NOMEM, "out of memory"); return NULL; }
    if (sluice_url_parse(url, &w->u, err) < 0) {
        free(w);
        return NULL;
    }
    w->url = strdup(url ? url : "");
    w->ns = strdup(ns);
    if (!w->url || !w->ns) {
        free(w->url); free(w->ns); free(w);
        seterr(err, SLUICE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->loop = loop;
    w->concurrency = 16;
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            *p = '_';
    snprintf(w->name, sizeof(w->name), "sluice-worker:%s:%ld", host, (long)getpid());
    w->cmd.w = w->sub.w = w;
    w->sub.sub = 1;
    w->cmd.backoff = w->sub.backoff = BACKOFF_MIN;
    ev_timer_init(&w->cmd.retry, retry_cb, 0., 0.);
    ev_timer_init(&w->sub.retry, retry_cb, 0., 0.);
    ev_timer_init(&w->tick, tick_cb, 0., TICK);
    ev_timer_init(&w->grace, grace_cb, 0., 0.);
    ev_timer_init(&w->deadline, deadline_cb, 0., 0.);
    ev_timer_init(&w->gov_t, gov_cb, 0., 1.);
    ev_timer_init(&w->lat_t, lat_cb, LAT_EVERY, LAT_EVERY);
    w->gov_tick_ms = 1000;
    w->gov_backoff = BACKOFF_MIN;
    srand((unsigned)getpid() ^ (unsigned)((uint64_t)(ev_time() * 1000.0) & 0xffffffffu));
    return w;
}

void sluice_worker_free(sluice_worker *w) {
    if (!w) return;
    w->freeing = 1;
    stop_timers(w);
    if (w->cmd.ac) redisAsyncFree(w->cmd.ac);
    if (w->sub.ac) redisAsyncFree(w->sub.ac);
    while (w->running.head) job_free(w->running.head);
    while (w->sending.head) job_free(w->sending.head);
    while (w->waiting.head) job_free(w->waiting.head);
    while (w->orphans.head) job_free(w->orphans.head);
    while (w->classes) {
        wclass *c = w->classes;
        w->classes = c->next;
        ev_timer_stop(w->loop, &c->sleep);
        free(c);
    }
    sluice_client_free(w->sync);
    sluice_worker_set_governor_url(w, NULL, NULL);
    memset(w->url, 0, strlen(w->url)); /* the password */
    free(w->url);
    free(w->ns);
    memset(&w->u, 0, sizeof(w->u)); /* the password */
    free(w);
}

int sluice_worker_handle(sluice_worker *w, const char *cls, sluice_worker_handler fn, void *ud,
                         sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    if (sluice_name_check(cls, err) < 0) return -1;
    if (!fn) { seterr(err, SLUICE_ERR_ARGUMENT, "no handler"); return -1; }
    wclass *c;
    for (c = w->classes; c; c = c->next)
        if (strcmp(c->name, cls) == 0) break;
    if (c) {
        c->fn = fn;
        c->ud = ud;
        c->held = 0;   /* a new handler is tried at once */
    } else {
        c = calloc(1, sizeof(*c));
        if (!c) { seterr(err, SLUICE_ERR_NOMEM, "out of memory"); return -1; }
        c->w = w;
        snprintf(c->name, sizeof(c->name), "%s", cls);
        snprintf(c->channel, sizeof(c->channel), "%s:{%s}:ready", w->ns, cls);
        c->tier = SLUICE_TIER_NORMAL;
        c->fn = fn;
        c->ud = ud;
        ev_timer_init(&c->sleep, sleep_cb, 0., 0.);
        wclass **tail = &w->classes;
        while (*tail) tail = &(*tail)->next;
        *tail = c;
        if (w->started && !w->stopping) {
            if (w->sync) {
                sluice_class_config cfg;
                if (sluice_class_get(w->sync, c->name, &cfg, NULL) == 0) c->tier = cfg.tier;
            }
            subscribe(w, c);
        }
    }
    class_wake(c);
    schedule(w);
    return 0;
}

int sluice_worker_unhandle(sluice_worker *w, const char *cls, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    for (wclass *c = w->classes; c; c = c->next) {
        if (strcmp(c->name, cls) != 0 || !c->fn) continue;
        c->fn = NULL;
        class_wake(c);
        return 0;
    }
    seterr(err, SLUICE_ERR_NOT_FOUND, "no handler for that class");
    return -1;
}

int sluice_worker_set_concurrency(sluice_worker *w, int n, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    if (n < 1 || n > 10000) { seterr(err, SLUICE_ERR_ARGUMENT, "concurrency must be 1..10000"); return -1; }
    w->concurrency = n;
    schedule(w);
    return 0;
}

void sluice_worker_set_name(sluice_worker *w, const char *name) {
    if (name && *name) snprintf(w->name, sizeof(w->name), "%s", name);
}

void sluice_worker_set_log(sluice_worker *w, sluice_worker_log_fn fn, void *ud) {
    w->log = fn;
    w->log_ud = ud;
}

int sluice_worker_start(sluice_worker *w, sluice_error *err) {
    if (err) { err->code = SLUICE_OK; err->text[0] = '\0'; }
    if (w->started || w->stopping) { seterr(err, SLUICE_ERR_STATE, "the worker was already started"); return -1; }
    w->started = 1;
    emit(w, "start", NULL, -1, w->name);
    ev_timer_again(w->loop, &w->tick);
    link_open(&w->cmd);
    link_open(&w->sub);
    ev_timer_start(w->loop, &w->lat_t);
    if (w->gov_on) {
        w->gov_t.repeat = (double)w->gov_tick_ms / 1000.0;
        ev_timer_again(w->loop, &w->gov_t);
    }
    return 0;
}

struct ev_loop *sluice_worker_loop(const sluice_worker *w) { return w->loop; }

int sluice_worker_governor_leading(const sluice_worker *w) { return w->gov_on && w->gov && w->gov_leader; }

void sluice_worker_stats_get(const sluice_worker *w, sluice_worker_stats *out) {
    *out = w->st;
    out->in_flight = w->running.n;
    out->classes_held = 0;
    for (const wclass *c = w->classes; c; c = c->next) out->classes_held += c->held;
    out->governor_hosted = w->gov_on;
    out->governor_leader = sluice_worker_governor_leading(w);
}

