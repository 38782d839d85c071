/* Job latency reports: each class's mean handler time, every 5 s, to the
 * signal job_latency.<class> when it is defined. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

void rt_lat_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, lat_t);
    double now = ev_now(loop);
    for (wclass *c = w->classes; c; c = c->next) {
        if (!c->lat_n) continue;
        double mean = c->lat_sum / (double)c->lat_n;
        c->lat_sum = 0;
        c->lat_n = 0;
        if (now < c->lat_skip_until || !rt_cmd_up(w)) continue;
        sluice_client *sc = w->gov_url ? rt_dial_get(&w->lat_conn, w->gov_url, w->ns, ev_now(loop), NULL) : w->sync;
        if (!sc) continue;
        char name[128];
        snprintf(name, sizeof(name), "job_latency.%s", c->name);
        sluice_error err;
        /* a lost link: the client reconnects on its next call */
        if (sluice_signal_report(sc, name, mean, 0, &err) < 0 && err.code != SLUICE_ERR_UNREACHABLE)
            c->lat_skip_until = now + 60.0; /* not defined (or a name too long): quietly */
    }
}
