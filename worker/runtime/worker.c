/* The worker: making one, serving classes, its settings, starting it and
 * its counters (sluice/worker.h). Its parts: links.c, claims.c, jobs.c,
 * leases.c, stop.c, governor.c, latency.c, dial.c. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------- API ---------------------------------- */

sluice_worker *sluice_worker_new(struct ev_loop *loop, const char *url, const char *ns, sluice_error *err) {
    sluice_error_reset(err);
    if (!loop) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "no event loop");
        return NULL;
    }
    if (!ns) ns = getenv("SLUICE_NAMESPACE");
    if (!ns || !*ns) ns = SLUICE_DEFAULT_NAMESPACE;
    sluice_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "out of memory");
        return NULL;
    }
    if (sluice_url_parse(url, &w->u, err) < 0) {
        free(w);
        return NULL;
    }
    w->url = strdup(url ? url : "");
    w->ns = strdup(ns);
    if (!w->url || !w->ns) {
        free(w->url);
        free(w->ns);
        free(w);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "out of memory");
        return NULL;
    }
    w->loop = loop;
    w->concurrency = 16;
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-'))
            *p = '_';
    snprintf(w->name, sizeof(w->name), "sluice-worker:%s:%ld", host, (long)getpid());
    w->cmd.w = w->sub.w = w;
    w->sub.sub = 1;
    w->cmd.backoff = w->sub.backoff = BACKOFF_MIN;
    ev_timer_init(&w->cmd.retry, rt_retry_cb, 0., 0.);
    ev_timer_init(&w->sub.retry, rt_retry_cb, 0., 0.);
    ev_timer_init(&w->tick, rt_tick_cb, 0., TICK);
    ev_timer_init(&w->grace, rt_grace_cb, 0., 0.);
    ev_timer_init(&w->deadline, rt_deadline_cb, 0., 0.);
    ev_timer_init(&w->gov_t, rt_gov_cb, 0., 1.);
    ev_timer_init(&w->lat_t, rt_lat_cb, LAT_EVERY, LAT_EVERY);
    ev_prepare_init(&w->ack_flush, rt_ack_flush_cb);
    w->gov_tick_ms = 1000;
    rt_dial_init(&w->lat_conn);
    srand((unsigned)getpid() ^ (unsigned)((uint64_t)(ev_time() * 1000.0) & 0xffffffffu));
    return w;
}

void sluice_worker_free(sluice_worker *w) {
    if (!w) return;
    w->freeing = 1;
    rt_stop_timers(w);
    for (wlink *l = &w->cmd; l; l = l->next)
        if (l->ac) redisAsyncFree(l->ac);
    if (w->sub.ac) redisAsyncFree(w->sub.ac);
    while (w->cmd.next) {
        wlink *l = w->cmd.next;
        w->cmd.next = l->next;
        free(l);
    }
    while (w->running.head) rt_job_free(w->running.head);
    while (w->acking.head) rt_job_free(w->acking.head);
    while (w->sending.head) rt_job_free(w->sending.head);
    while (w->waiting.head) rt_job_free(w->waiting.head);
    while (w->orphans.head) rt_job_free(w->orphans.head);
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

int sluice_worker_handle(sluice_worker *w, const char *cls, sluice_worker_handler fn, void *ud, sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(cls, err) < 0) return -1;
    if (!fn) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "no handler");
        return -1;
    }
    wclass *c;
    for (c = w->classes; c; c = c->next)
        if (strcmp(c->name, cls) == 0) break;
    if (c) {
        c->fn = fn;
        c->ud = ud;
        c->held = 0; /* a new handler is tried at once */
    } else {
        c = calloc(1, sizeof(*c));
        if (!c) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "out of memory");
            return -1;
        }
        c->w = w;
        snprintf(c->name, sizeof(c->name), "%s", cls);
        sluice_class_channel(w->ns, cls, c->channel, sizeof(c->channel));
        c->tier = SLUICE_TIER_NORMAL;
        c->fn = fn;
        c->ud = ud;
        ev_timer_init(&c->sleep, rt_sleep_cb, 0., 0.);
        wclass **tail = &w->classes;
        while (*tail) tail = &(*tail)->next;
        *tail = c;
        if (w->started && !w->stopping) {
            if (w->sync) {
                sluice_class_config cfg;
                if (sluice_class_get(w->sync, c->name, &cfg, NULL) == 0) c->tier = cfg.tier;
            }
            rt_subscribe(w, c);
        }
    }
    rt_class_wake(c);
    rt_schedule(w);
    return 0;
}

int sluice_worker_unhandle(sluice_worker *w, const char *cls, sluice_error *err) {
    sluice_error_reset(err);
    for (wclass *c = w->classes; c; c = c->next) {
        if (strcmp(c->name, cls) != 0 || !c->fn) continue;
        c->fn = NULL;
        rt_class_wake(c);
        return 0;
    }
    sluice_error_set(err, SLUICE_ERR_NOT_FOUND, "%s", "no handler for that class");
    return -1;
}

int sluice_worker_set_concurrency(sluice_worker *w, int n, sluice_error *err) {
    sluice_error_reset(err);
    if (n < 1 || n > 10000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "concurrency must be 1..10000");
        return -1;
    }
    w->concurrency = n;
    rt_schedule(w);
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
    sluice_error_reset(err);
    if (w->started || w->stopping) {
        sluice_error_set(err, SLUICE_ERR_STATE, "%s", "the worker was already started");
        return -1;
    }
    w->started = 1;
    rt_emit(w, "start", NULL, -1, w->name);
    ev_timer_again(w->loop, &w->tick);
    rt_link_open(&w->cmd);
    rt_link_open(&w->sub);
    ev_timer_start(w->loop, &w->lat_t);
    if (w->gov_on) {
        w->gov_t.repeat = (double)w->gov_tick_ms / 1000.0;
        ev_timer_again(w->loop, &w->gov_t);
    }
    return 0;
}

struct ev_loop *sluice_worker_loop(const sluice_worker *w) {
    return w->loop;
}

int sluice_worker_governor_leading(const sluice_worker *w) {
    return w->gov_on && w->gov_leader;
}

void sluice_worker_stats_get(const sluice_worker *w, sluice_worker_stats *out) {
    *out = w->st;
    out->in_flight = w->running.n;
    out->classes_held = 0;
    for (const wclass *c = w->classes; c; c = c->next) out->classes_held += c->held;
    out->governor_hosted = w->gov_on;
    out->governor_leader = sluice_worker_governor_leading(w);
}

void rt_emit(sluice_worker *w, const char *event, const sluice_worker_job *j, double dur, const char *msg) {
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
