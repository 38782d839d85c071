/* The governor a worker hosts: its own connection (the governor role's URL),
 * a tick on a timer, leading or standing by. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------ governor ------------------------------ */

void rt_gov_close(sluice_worker *w) {
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
sluice_client *rt_gov_connection(sluice_worker *w, sluice_error *err) {
    if (w->gov_c) return w->gov_c;
    double now = ev_now(w->loop);
    if (now < w->gov_retry_at) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s", "waiting to reconnect");
        return NULL;
    }
    w->gov_c = sluice_client_connect(w->gov_url ? w->gov_url : w->url, w->ns, err);
    if (!w->gov_c) {
        w->gov_retry_at = now + rt_backoff_next(&w->gov_backoff);
        return NULL;
    }
    w->gov_backoff = BACKOFF_MIN;
    w->gov_retry_at = 0;
    sluice_client_set_timeout(w->gov_c, 1000, NULL);
    return w->gov_c;
}

/* One synchronous tick on the governor's own connection. Blocks the loop
 * for its round trips (bounded by a 1 s command timeout). */
void rt_gov_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, gov_t);
    sluice_error err;
    if (!w->gov) {
        if (rt_gov_connection(w, &err)) {
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
        if (w->gov_failing) rt_emit(w, "governor", NULL, -1, "ticking again");
        w->gov_failing = 0;
        if (rep.leader != w->gov_leader) {
            char msg[64];
            snprintf(msg, sizeof(msg), rep.leader ? "leading (epoch %lld)" : "standing by", (long long)rep.epoch);
            rt_emit(w, "governor", NULL, -1, msg);
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
            if (d[0]) rt_emit(w, "decision", NULL, -1, d);
        }
    } else {
        w->st.governor_failures++;
        if (!w->gov_failing) {
            char msg[SLUICE_ERROR_TEXT + 32];
            snprintf(msg, sizeof(msg), "tick failed: %s", err.text);
            rt_emit(w, "governor", NULL, -1, msg);
        }
        w->gov_failing = 1;
        if (err.code == SLUICE_ERR_UNREACHABLE || !w->gov) rt_gov_close(w);
    }
    ev_timer_again(w->loop, t);
}

int sluice_worker_set_governor_url(sluice_worker *w, const char *url, sluice_error *err) {
    sluice_error_reset(err);
    char *copy = NULL;
    if (url && *url) {
        sluice_url u;
        int bad = sluice_url_parse(url, &u, err);
        memset(&u, 0, sizeof(u)); /* the password */
        if (bad < 0) return -1;
        if (!(copy = strdup(url))) { sluice_error_set(err, SLUICE_ERR_NOMEM, "%s", "out of memory"); return -1; }
    }
    rt_gov_close(w);   /* the next tick connects with the new credentials */
    w->gov_backoff = BACKOFF_MIN;
    w->gov_retry_at = 0;
    if (w->gov_url) memset(w->gov_url, 0, strlen(w->gov_url));
    free(w->gov_url);
    w->gov_url = copy;
    return 0;
}

int sluice_worker_host_governor(sluice_worker *w, int on, int64_t tick_ms, sluice_error *err) {
    sluice_error_reset(err);
    if (tick_ms == 0) tick_ms = 1000;
    if (tick_ms < 10 || tick_ms > 3600000) { sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "tick must be 10..3600000 ms"); return -1; }
    w->gov_on = on;
    w->gov_tick_ms = tick_ms;
    if (!on) {
        ev_timer_stop(w->loop, &w->gov_t);
        rt_gov_close(w);
    } else if (w->started && !w->stopping) {
        w->gov_t.repeat = (double)tick_ms / 1000.0;
        ev_timer_again(w->loop, &w->gov_t);
    }
    return 0;
}
