/* A graceful stop: claim nothing more, let jobs finish within the grace,
 * release the rest, then drop the links. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------- stop --------------------------------- */

/* Stops every timer the worker owns, ends the governor's thread and drops
 * the latency reports' connection: what both a finished stop and a free
 * must do, whichever comes first. */
void rt_stop_timers(sluice_worker *w) {
    ev_timer_stop(w->loop, &w->tick);
    ev_timer_stop(w->loop, &w->grace);
    ev_timer_stop(w->loop, &w->deadline);
    for (wlink *l = &w->cmd; l; l = l->next) ev_timer_stop(w->loop, &l->retry);
    ev_timer_stop(w->loop, &w->sub.retry);
    ev_timer_stop(w->loop, &w->gov_t);
    ev_timer_stop(w->loop, &w->lat_t);
    ev_prepare_stop(w->loop, &w->ack_flush);
    rt_gov_close(w);
    rt_dial_close(&w->lat_conn);
}

static void finish_stop(sluice_worker *w) {
    if (w->stopped) return;
    w->stopped = 1;
    rt_acks_flush(w); /* the acks of this iteration go out before the links close */
    rt_stop_timers(w);
    for (wclass *c = w->classes; c; c = c->next) {
        ev_timer_stop(w->loop, &c->sleep);
        c->asleep = 0;
    }
    if (w->sub.ac) redisAsyncDisconnect(w->sub.ac);
    for (wlink *l = &w->cmd; l; l = l->next)
        if (l->ac) redisAsyncDisconnect(l->ac);
    rt_emit(w, "stop", NULL, -1, NULL);
    if (w->on_stopped) {
        sluice_worker_stopped_fn fn = w->on_stopped;
        w->on_stopped = NULL;
        fn(w, w->stopped_ud);
    }
}

void rt_check_stopped(sluice_worker *w) {
    if (!w->stopping || w->stopped || w->freeing) return;
    int claiming = 0;
    for (wclass *c = w->classes; c; c = c->next) claiming |= c->claiming;
    if (w->running.n == 0 && w->acking.n == 0 && w->sending.n == 0 && w->waiting.n == 0 && !claiming) finish_stop(w);
}

static void give_up_running(sluice_worker *w) {
    while (w->running.head) {
        sluice_worker_job *j = w->running.head;
        j->cmd = C_RELEASE;
        if (j->cancel) {
            j->handler_owns = 0;
            j->cancel(j, j->cancel_arg);
        }
        rt_job_move(j, J_WAITING);
        rt_job_send(j);
    }
    /* waiting acks that cannot be sent now stay until the deadline */
}

void rt_grace_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, grace);
    give_up_running(w);
    rt_check_stopped(w);
}

void rt_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
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
        if (!w->started) {
            finish_stop(w);
            return;
        }
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
    rt_check_stopped(w);
}
