/* Jobs in the worker: their lists, a claimed job handed to its handler,
 * and its end (done, failed, released, cannot run) sent to Redis, resent
 * after an outage. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv);

void rt_jl_add(jlist *l, sluice_worker_job *j) {
    j->prev = NULL;
    j->next = l->head;
    if (l->head) l->head->prev = j;
    l->head = j;
    l->n++;
}

static void jl_del(jlist *l, sluice_worker_job *j) {
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

static jlist *jl_of(sluice_worker *w, int state) {
    switch (state) {
    case J_RUNNING: return &w->running;
    case J_ACKING: return &w->acking;
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

void rt_job_move(sluice_worker_job *j, int state) {
    unlist(j);
    j->state = state;
    rt_jl_add(jl_of(j->w, state), j);
}

void rt_job_free(sluice_worker_job *j) {
    unlist(j);
    sluice_job_free(j->job);
    free(j->reason);
    free(j);
}

/* The worker is done with the Redis side of the job: free it, or leave it
 * as an orphan until its handler calls done. */
static void job_finish(sluice_worker_job *j) {
    if (j->handler_owns && !j->cancel)
        rt_job_move(j, J_ORPHAN);
    else
        rt_job_free(j);
}

void rt_job_dispatch(sluice_worker *w, wclass *c, sluice_job *job) {
    sluice_worker_job *j = calloc(1, sizeof(*j));
    if (!j) {
        sluice_job_free(job);
        return;
    } /* its lease expires; it runs again */
    j->w = w;
    j->cls = c;
    j->job = job;
    j->state = J_RUNNING;
    j->handler_owns = 1;
    j->started = j->leased_at = ev_now(w->loop);
    rt_jl_add(&w->running, j);
    w->st.claimed++;
    if (sluice_job_reclaims(job) > 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "its lease expired %d time(s) before: it runs alone", sluice_job_reclaims(job));
        rt_emit(w, "suspect", j, -1, msg);
        w->suspect = j;
        w->st.suspects++;
    }
    if (w->stopping || !c->fn) {
        /* arrived after the stop began (or the class was dropped): hand back */
        j->handler_owns = 0;
        j->cmd = C_RELEASE;
        rt_job_send(j);
        return;
    }
    c->fn(w, j, c->ud);
}

void rt_job_send(sluice_worker_job *j) {
    if (j->cmd == C_ACK) {
        rt_ack_queue(j);
        return;
    }
    sluice_worker *w = j->w;
    const char *ns = w->ns;
    const char *id = sluice_job_id(j->job);
    int64_t tok = sluice_job_token(j->job);
    sluice_command *m = NULL;
    if (j->cmd == C_FAIL)
        m = sluice_command_fail(ns, id, tok, j->reason ? j->reason : "failed", NULL);
    else
        m = sluice_command_release(ns, id, tok, NULL);
    if (rt_send(w, m, cmd_reply, j) == 0) {
        if (j->state != J_SENDING) rt_job_move(j, J_SENDING);
    } else if (j->state != J_WAITING) {
        rt_job_move(j, J_WAITING);
    }
}

int rt_job_answered(sluice_worker_job *j, const sluice_error *err) {
    sluice_worker *w = j->w;
    if (err->code == SLUICE_ERR_UNREACHABLE) {
        if (!w->stopped) {
            rt_job_move(j, J_WAITING); /* resent after the reconnect */
            return 0;
        }
    } else if (err->code == SLUICE_ERR_UNAVAILABLE) {
        /* Redis did not run it (loading, busy): resent by the tick, while the
         * lease may live, like an end held back by an outage */
        rt_job_move(j, J_WAITING);
        return 0;
    } else if (err->code == SLUICE_ERR_STALE) {
        w->st.stale++;
        rt_emit(w, "stale", j, -1, "the lease was lost before the job ended (it may run again)");
    } else if (err->code != SLUICE_OK) {
        rt_emit(w, "error", j, -1, err->text);
    } else if (j->cmd == C_RELEASE) {
        w->st.released++;
        rt_emit(w, "released", j, -1, NULL);
    }
    job_finish(j);
    return 1;
}

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker_job *j = priv;
    sluice_worker *w = j->w;
    if (w->freeing) return;
    sluice_error err;
    sluice_reply_check(reply, j->cmd == C_FAIL ? "fail" : "release", &err);
    if (rt_job_answered(j, &err) && reply)
        rt_schedule(w); /* the last lease ended: a quarantined class may be claimed */
    rt_check_stopped(w);
}

void sluice_worker_done(sluice_worker *w, sluice_worker_job *j, int ok, const char *reason) {
    if (!j) return;
    if (!j->handler_owns) return;
    j->handler_owns = 0;
    if (j->state != J_RUNNING) {
        /* given up already (released or releasing): only free it */
        if (j->state == J_ORPHAN) rt_job_free(j);
        return;
    }
    double dur = ev_time() - j->started;
    j->ok = ok;
    j->cmd = ok ? C_ACK : C_FAIL;
    if (!ok) {
        j->reason = strdup(reason && *reason ? reason : "failed");
        w->st.failed++;
        rt_emit(w, reason && strcmp(reason, "timeout") == 0 ? "timeout" : "failed", j, dur, j->reason);
    } else {
        w->st.acked++;
        rt_emit(w, "done", j, dur, NULL);
    }
    j->cls->lat_sum += dur * 1000.0;
    j->cls->lat_n++;
    if (j->cls->held) {
        char msg[160];
        snprintf(msg, sizeof(msg), "class %s: its handler runs again after %.0f s", j->cls->name,
                 ev_now(w->loop) - j->cls->held_since);
        rt_emit(w, "handler", NULL, -1, msg);
        j->cls->held = 0;
    }
    rt_job_send(j);
    if (!w->in_dispatch) rt_schedule(w);
    rt_check_stopped(w);
}

void sluice_worker_cannot_run(sluice_worker *w, sluice_worker_job *j, const char *reason) {
    if (!j || !j->handler_owns) return;
    j->handler_owns = 0;
    if (j->state != J_RUNNING) {
        if (j->state == J_ORPHAN) rt_job_free(j);
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
        snprintf(msg, sizeof(msg),
                 "class %s: its handler cannot run (%.120s): jobs are released untried and the "
                 "class is paused in this worker, tried again after a backoff",
                 c->name, reason ? reason : "");
        rt_emit(w, "handler", j, -1, msg);
    } else if (now - c->held_logged >= OUTAGE_LOG_EVERY) {
        c->held_logged = now;
        char msg[SLUICE_ERROR_TEXT + 160];
        snprintf(msg, sizeof(msg), "class %s: its handler still cannot run after %.0f s (%.120s)", c->name,
                 now - c->held_since, reason ? reason : "");
        rt_emit(w, "handler", j, -1, msg);
    }
    if (now >= c->held_until) {
        c->held_until = now + c->held_backoff;
        c->held_backoff = c->held_backoff * 2 > HELD_MAX ? HELD_MAX : c->held_backoff * 2;
        rt_class_sleep(c, c->held_until - now);
    }
    j->cmd = C_RELEASE;
    rt_job_send(j);
    rt_check_stopped(w);
}

void sluice_worker_job_on_cancel(sluice_worker_job *j, sluice_worker_cancel_fn fn, void *arg) {
    j->cancel = fn;
    j->cancel_arg = arg;
}

const sluice_job *sluice_worker_job_get(const sluice_worker_job *j) {
    return j->job;
}

/* Resends the acks, fails and releases that an outage or a Redis that
 * could not serve held back, while their leases may live. */
void rt_resend_waiting(sluice_worker *w) {
    double now = ev_now(w->loop);
    sluice_worker_job *j = w->waiting.head;
    while (j) {
        sluice_worker_job *nx = j->next;
        double tmo = (double)sluice_job_timeout_ms(j->job) / 1000.0;
        if (now - j->leased_at > tmo && j->cmd != C_RELEASE) {
            rt_emit(w, "lease-lost", j, -1, "the lease ran out before Redis took the result; the job may run again");
            job_finish(j);
        } else {
            rt_job_send(j);
        }
        j = nx;
    }
}
