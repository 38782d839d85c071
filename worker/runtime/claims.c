/* Claiming: which class gets the free slots (critical first, then by tier
 * weight), sleeping on a class's hint until an enqueue wakes it, and the
 * quarantine of suspects; claimed jobs go to rt_job_dispatch (jobs.c). */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------ claiming ------------------------------ */

void rt_class_sleep(wclass *c, double s) {
    sluice_worker *w = c->w;
    c->asleep = 1;
    ev_timer_stop(w->loop, &c->sleep);
    ev_timer_set(&c->sleep, s, 0.);
    ev_timer_start(w->loop, &c->sleep);
}

/* Ends a class's sleep: it may be claimed again, except that a class
 * whose handler cannot run sleeps out its pause whatever wakes it. */
void rt_class_wake(wclass *c) {
    double now = ev_now(c->w->loop);
    if (c->held && now < c->held_until) {
        rt_class_sleep(c, c->held_until - now);
        return;
    }
    ev_timer_stop(c->w->loop, &c->sleep);
    c->asleep = 0;
}

void rt_sleep_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    wclass *c = container_of(t, wclass, sleep);
    c->asleep = 0;
    rt_schedule(c->w);
}

static void claim_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wclass *c = priv;
    sluice_worker *w = c->w;
    if (w->freeing) return;
    c->claiming = 0;
    w->claims_out -= c->asked;
    if (w->solo == c) {
        w->solo = NULL;
        if (w->quarantine == c) w->quarantine = NULL; /* its idle claim is answered */
    }
    redisReply *r = reply;
    if (!r) {
        rt_check_stopped(w);
        return;
    } /* link broke; reconnect wakes the class */
    sluice_job *jobs[CLAIM_BATCH];
    sluice_claim_info info;
    sluice_error err;
    if (sluice_claim_parse(r, c->asked, jobs, &info, &err) < 0) {
        if (!c->failing) {
            char msg[SLUICE_ERROR_TEXT + 160];
            snprintf(msg, sizeof(msg), "class %s: %s (retrying every second, logged once)", c->name, err.text);
            rt_emit(w, "error", NULL, -1, msg);
        }
        c->failing = 1;
        if (rt_function_missing(r, &err)) rt_reload_functions(w, c);
        rt_class_sleep(c, SLEEP_CAP);
        rt_check_stopped(w);
        return;
    }
    c->failing = 0;
    if (info.status == SLUICE_CLAIM_JOBS && info.count > 0) {
        w->in_dispatch = 1;
        for (size_t i = 0; i < info.count; i++) rt_job_dispatch(w, c, jobs[i]);
        w->in_dispatch = 0;
    } else if (info.status == SLUICE_CLAIM_SUSPECT) {
        /* no sleep: the class is claimed again as soon as the worker is idle */
        if (!w->quarantine) {
            char msg[SLUICE_ID_MAX + 96];
            snprintf(msg, sizeof(msg), "%s waits at the head of its class: no claims until this worker is idle",
                     info.id);
            rt_emit(w, "suspect", NULL, -1, msg);
            w->quarantine = c;
        }
    } else if (c->notified) {
        /* an enqueue raced the claim: try again at once */
    } else {
        double s = SAFETY_POLL;
        if (info.retry_ms >= 0) s = (double)info.retry_ms / 1000.0;
        if (s > SLEEP_CAP && info.retry_ms >= 0) s = SLEEP_CAP;
        if (s < 0.005) s = 0.005;
        rt_class_sleep(c, s);
    }
    c->notified = 0;
    if (!w->stopping) rt_schedule(w);
    rt_check_stopped(w);
}

static int weight(sluice_tier t) {
    return t == SLUICE_TIER_HIGH ? 4 : t == SLUICE_TIER_NORMAL ? 2 : 1;
}

/* Whether the worker holds leases (jobs running, or ended but not yet
 * acknowledged by Redis) or may be about to (claims in flight). A crash
 * would take them all with it: a claim that may lease a suspect is sent only
 * when there are none. */
static int busy(const sluice_worker *w) {
    return w->running.n + w->acking.n + w->sending.n + w->waiting.n > 0 || w->claims_out > 0;
}

static void claim(sluice_worker *w, wclass *c, size_t n) {
    if (n > CLAIM_BATCH) n = CLAIM_BATCH;
    int b = busy(w);
    sluice_command *m = sluice_command_claim(w->ns, c->name, w->name, n, b, NULL);
    if (rt_send(w, m, claim_reply, c) == 0) {
        c->claiming = 1;
        c->asked = n;
        c->notified = 0;
        w->claims_out += n;
        if (!b) w->solo = c;
    }
}

static int eligible(const wclass *c) {
    return c->fn && !c->claiming && !c->asleep && !(c->held && ev_now(c->w->loop) < c->held_until);
}

/* Hands the free slots out: critical classes first, then the others in
 * proportion to their weight, starting at a rotating cursor. A suspect runs
 * alone: nothing is claimed while one runs, nor while a claim that may lease
 * one is in flight; a class that answered 'suspect' stops all claiming until
 * the worker is idle, then is claimed alone. */
void rt_schedule(sluice_worker *w) {
    if (!w->started || w->stopping || !rt_cmd_up(w) || w->in_dispatch) return;
    /* acks wait for the end of this turn: claim after them (rt_acks_flush),
     * so that Redis never counts the leases they end against the claim */
    if (w->acking.n > 0) return;
    if (w->suspect || w->solo) return;
    long free_slots = (long)w->concurrency - w->running.n - (long)w->claims_out;
    if (free_slots <= 0) return;
    if (w->quarantine && !w->quarantine->fn) w->quarantine = NULL; /* its handler was dropped */
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
