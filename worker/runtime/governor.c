/* The governor a worker hosts: a thread of its own with its own connection
 * (the governor role's URL), ticking when the loop's timer asks, leading or
 * standing by. The loop never waits on a tick: it takes each result when
 * the thread signals it, and does the logging and counting itself. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ---------------------------- the thread ------------------------------ */

/* Frees the governor (handing a held lease back) and its connection. */
static void gov_drop(gov_thread *t) {
    sluice_governor_free(t->gov);
    t->gov = NULL;
    rt_dial_close(&t->conn);
}

/* One tick, connecting and making the governor first if need be; a tick
 * that made no governor drops the client. A lost link keeps both: the
 * client reconnects itself on its next call (to the master the sentinels
 * name now; on a cluster, through any node it knows, where a new connect
 * would need the URL's node, which may be the master that died). Fills
 * *res. */
static void gov_tick(gov_thread *t, int64_t tick_ms, const char *name, gov_result *res) {
    memset(res, 0, sizeof(*res));
    sluice_error_reset(&res->err);
    if (!t->gov && rt_dial_get(&t->conn, t->url, t->ns, ev_time(), &res->err)) {
        sluice_governor_opts o;
        sluice_governor_opts_init(&o);
        o.tick_ms = tick_ms;
        /* The lease owner is this process, not the name: a worker restarted
         * under the same name must take a new epoch, so the fence can tell
         * it from a frozen predecessor that wakes up. */
        char owner[129];
        snprintf(owner, sizeof(owner), "%.96s#%ld.%lx", name, (long)getpid(),
                 (unsigned long)(ev_time() * 1e6) & 0xffffffffUL);
        t->gov = sluice_governor_new(t->conn.c, owner, &o, &res->err);
    }
    if (t->gov && sluice_governor_tick(t->gov, &res->rep, &res->err) == 0) {
        res->ok = 1;
        const char *d = sluice_governor_last_decision(t->gov);
        if (res->rep.leader && d[0]) res->decision = strdup(d);
    } else if (!t->gov) {
        gov_drop(t);
    }
    res->has_gov = t->gov != NULL;
}

static void *gov_main(void *arg) {
    gov_thread *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->quit && !t->ask) pthread_cond_wait(&t->wake, &t->mu);
        if (t->quit) break;
        t->ask = 0;
        int64_t tick_ms = t->tick_ms;
        char name[sizeof(t->name)];
        memcpy(name, t->name, sizeof(name));
        pthread_mutex_unlock(&t->mu);
        gov_result res;
        gov_tick(t, tick_ms, name, &res);
        pthread_mutex_lock(&t->mu);
        t->res = res;
        t->ready = 1;
        ev_async_send(t->loop, &t->done);
    }
    pthread_mutex_unlock(&t->mu);
    gov_drop(t);
    return NULL;
}

/* ------------------------------ the loop ------------------------------ */

/* Takes a tick's result: the counters, and a log line when the governor
 * starts or stops leading, fails or recovers, and for each decision. */
static void gov_take(sluice_worker *w, gov_result *res) {
    if (!res->has_gov) w->gov_leader = 0;
    if (res->ok) {
        const sluice_governor_report *rep = &res->rep;
        w->st.governor_ticks++;
        if (w->gov_failing) rt_emit(w, "governor", NULL, -1, "ticking again");
        w->gov_failing = 0;
        if (rep->leader != w->gov_leader) {
            char msg[64];
            snprintf(msg, sizeof(msg), rep->leader ? "leading (epoch %lld)" : "standing by", (long long)rep->epoch);
            rt_emit(w, "governor", NULL, -1, msg);
            w->gov_leader = rep->leader;
        }
        if (rep->leader) {
            switch (rep->action) {
            case SLUICE_LAW_CUT: w->st.governor_cuts++; break;
            case SLUICE_LAW_CRITICAL: w->st.governor_criticals++; break;
            case SLUICE_LAW_RAISE: w->st.governor_raises++; break;
            default: w->st.governor_holds++; break;
            }
            if (res->decision) rt_emit(w, "decision", NULL, -1, res->decision);
        }
    } else {
        w->st.governor_failures++;
        if (!w->gov_failing) {
            char msg[SLUICE_ERROR_TEXT + 32];
            snprintf(msg, sizeof(msg), "tick failed: %s", res->err.text);
            rt_emit(w, "governor", NULL, -1, msg);
        }
        w->gov_failing = 1;
    }
}

static void gov_done_cb(struct ev_loop *loop, ev_async *a, int revents) {
    (void)loop;
    (void)revents;
    sluice_worker *w = container_of(a, sluice_worker, gov.done);
    gov_thread *t = &w->gov;
    pthread_mutex_lock(&t->mu);
    gov_result res = t->res;
    int ready = t->ready;
    t->ready = 0;
    pthread_mutex_unlock(&t->mu);
    if (!ready) return;
    t->busy = 0;
    gov_take(w, &res);
    free(res.decision);
    ev_timer_again(w->loop, &w->gov_t);
}

/* Starts the thread, with every signal blocked in it (they are the loop's).
 * Returns 0, or -1 with err set. */
static int gov_start(sluice_worker *w, sluice_error *err) {
    gov_thread *t = &w->gov;
    t->loop = w->loop;
    t->url = w->gov_url ? w->gov_url : w->url;
    t->ns = w->ns;
    t->quit = t->ask = t->ready = 0;
    t->gov = NULL;
    rt_dial_init(&t->conn);
    ev_async_init(&t->done, gov_done_cb);
    if (pthread_mutex_init(&t->mu, NULL) != 0) goto fail;
    if (pthread_cond_init(&t->wake, NULL) != 0) {
        pthread_mutex_destroy(&t->mu);
        goto fail;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->th, NULL, gov_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->mu);
        goto fail;
    }
    ev_async_start(w->loop, &t->done);
    t->running = 1;
    return 0;
fail:
    sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "cannot start the governor's thread");
    return -1;
}

void rt_gov_close(sluice_worker *w) {
    gov_thread *t = &w->gov;
    w->gov_leader = 0;
    if (!t->running) return;
    pthread_mutex_lock(&t->mu);
    t->quit = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    ev_async_stop(w->loop, &t->done);
    if (t->ready) free(t->res.decision);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    t->running = t->busy = t->ready = 0;
}

void rt_gov_cb(struct ev_loop *loop, ev_timer *timer, int revents) {
    (void)revents;
    sluice_worker *w = container_of(timer, sluice_worker, gov_t);
    gov_thread *t = &w->gov;
    if (t->busy) return; /* the result re-arms the timer */
    if (!t->running) {
        gov_result res;
        memset(&res, 0, sizeof(res));
        if (gov_start(w, &res.err) < 0) {
            gov_take(w, &res);
            ev_timer_again(loop, timer);
            return;
        }
    }
    pthread_mutex_lock(&t->mu);
    t->ask = 1;
    t->tick_ms = w->gov_tick_ms;
    snprintf(t->name, sizeof(t->name), "%s", w->name);
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    t->busy = 1;
    ev_timer_stop(loop, timer);
}

int sluice_worker_set_governor_url(sluice_worker *w, const char *url, sluice_error *err) {
    sluice_error_reset(err);
    char *copy = NULL;
    if (url && *url) {
        sluice_url u;
        int bad = sluice_url_parse(url, &u, err);
        memset(&u, 0, sizeof(u)); /* the password */
        if (bad < 0) return -1;
        if (!(copy = strdup(url))) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "out of memory");
            return -1;
        }
    }
    rt_gov_close(w); /* the next tick connects with the new credentials */
    rt_dial_close(&w->lat_conn);
    rt_dial_init(&w->lat_conn); /* connects at once with the new credentials */
    /* a tick that was in flight re-arms the timer no more */
    if (w->gov_on && w->started && !w->stopped && !w->freeing && !ev_is_active(&w->gov_t))
        ev_timer_again(w->loop, &w->gov_t);
    if (w->gov_url) memset(w->gov_url, 0, strlen(w->gov_url));
    free(w->gov_url);
    w->gov_url = copy;
    return 0;
}

int sluice_worker_host_governor(sluice_worker *w, int on, int64_t tick_ms, sluice_error *err) {
    sluice_error_reset(err);
    if (tick_ms == 0) tick_ms = 1000;
    if (tick_ms < 10 || tick_ms > 3600000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "tick must be 10..3600000 ms");
        return -1;
    }
    w->gov_on = on;
    w->gov_tick_ms = tick_ms;
    if (!on) {
        ev_timer_stop(w->loop, &w->gov_t);
        rt_gov_close(w);
    } else if (w->started && !w->stopping) {
        w->gov_t.repeat = (double)tick_ms / 1000.0;
        if (!w->gov.busy) ev_timer_again(w->loop, &w->gov_t);
    }
    return 0;
}
