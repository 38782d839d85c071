/* Leases: extended while a job runs, past half its timeout; the same timer
 * watches the command link for replies that never come. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------- leases ------------------------------- */

static void extend_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker_job *j = priv;
    sluice_worker *w = j->w;
    if (w->freeing) return;
    j->extending = 0;
    redisReply *r = reply;
    sluice_error err;
    if (sluice_reply_check(r, "extend", &err) == 0) return;
    if (err.code == SLUICE_ERR_STALE)
        rt_emit(w, "lease-lost", j, -1, "lease extension refused: the job may run again elsewhere");
    else
        j->leased_at = j->unextended_at; /* not extended: the next tick tries again */
}

void rt_tick_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sluice_worker *w = container_of(t, sluice_worker, tick);
    double now = ev_now(loop);
    for (wlink *l = &w->cmd; l; l = l->next) {
        if (!l->ac || l->outstanding == 0 || now - l->last_reply <= REPLY_DEADLINE) continue;
        if (l->down_since == 0) rt_emit(w, "error", NULL, -1, "no reply from Redis for 10 s: reconnecting");
        /* not redisAsyncDisconnect: it would wait for the missing replies.
         * The pending callbacks get NULL, then on_disconnect reconnects
         * (hiredis calls it only for a link that had connected). */
        redisAsyncContext *ac = l->ac;
        redisAsyncFree(ac);
        if (l->ac == ac) {
            l->outstanding = 0;
            rt_link_down(l, "no reply");
        }
        ev_timer_again(loop, t);
        return;
    }
    if (rt_cmd_up(w) && w->waiting.n > 0) rt_resend_waiting(w);
    for (sluice_worker_job *j = w->running.head; j; j = j->next) {
        double tmo = (double)sluice_job_timeout_ms(j->job) / 1000.0;
        if (j->extending || now - j->leased_at < tmo / 2) continue;
        sluice_command *m = sluice_command_extend(w->ns, sluice_job_id(j->job), sluice_job_token(j->job),
                                                  sluice_job_timeout_ms(j->job), NULL);
        if (rt_send(w, m, extend_reply, j) == 0) {
            j->extending = 1;
            j->unextended_at = j->leased_at;
            j->leased_at = now;
        }
    }
    ev_timer_again(loop, t);
}
