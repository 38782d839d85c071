/* Batched acks: the jobs that end well in one loop iteration are acked in
 * one call per class (sluice_ack_many) when the iteration ends, each with
 * its own fencing token and its own result. */

#define _DEFAULT_SOURCE
#include <stdlib.h>

#include "runtime.h"

/* One call in flight: its jobs, in the order of their pairs. */
typedef struct ack_batch {
    sluice_worker *w;
    size_t n;
    sluice_worker_job *jobs[];
} ack_batch;

void rt_ack_queue(sluice_worker_job *j) {
    sluice_worker *w = j->w;
    rt_job_move(j, J_ACKING);
    ev_prepare_start(w->loop, &w->ack_flush);
}

static void batch_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    ack_batch *b = priv;
    sluice_worker *w = b->w;
    if (w->freeing) {
        free(b); /* the jobs are freed with the worker */
        return;
    }
    sluice_error_code results[SLUICE_BATCH_MAX];
    sluice_error err;
    int parsed = sluice_ack_many_parse(reply, b->n, results, &err) == 0;
    if (!parsed && reply && rt_function_missing(reply, &err)) {
        /* Redis lost the library, or holds an older one: load ours, and
         * resend while the leases may live */
        rt_reload_functions(w, b->jobs[0]->cls);
        err.code = SLUICE_ERR_UNAVAILABLE;
    }
    int ended = 0;
    for (size_t i = 0; i < b->n; i++) {
        sluice_error each = parsed ? (sluice_error){.code = results[i]} : err;
        ended |= rt_job_answered(b->jobs[i], &each);
    }
    free(b);
    if (ended && reply) rt_schedule(w); /* the last lease ended: a quarantined class may be claimed */
    rt_check_stopped(w);
}

/* Sends the acks of b's jobs (all of one class) as one call (TAKES b, freed
 * with its reply): the jobs go to J_SENDING, or to J_WAITING when the link
 * cannot take the call. */
static void send_batch(sluice_worker *w, ack_batch *b) {
    const char *ids[SLUICE_BATCH_MAX];
    int64_t tokens[SLUICE_BATCH_MAX];
    for (size_t i = 0; i < b->n; i++) {
        ids[i] = sluice_job_id(b->jobs[i]->job);
        tokens[i] = sluice_job_token(b->jobs[i]->job);
    }
    sluice_command *m = sluice_command_ack_many(w->ns, b->n, ids, tokens, NULL);
    int sent = rt_send(w, m, batch_reply, b) == 0;
    for (size_t i = 0; i < b->n; i++) rt_job_move(b->jobs[i], sent ? J_SENDING : J_WAITING);
    if (!sent) free(b);
}

void rt_acks_flush(sluice_worker *w) {
    ev_prepare_stop(w->loop, &w->ack_flush);
    while (w->acking.head) {
        wclass *cls = w->acking.head->cls;
        size_t room = (size_t)w->acking.n < SLUICE_BATCH_MAX ? (size_t)w->acking.n : SLUICE_BATCH_MAX;
        ack_batch *b = malloc(sizeof(*b) + room * sizeof(b->jobs[0]));
        if (!b) {
            while (w->acking.head) rt_job_move(w->acking.head, J_WAITING); /* resent by the tick */
            break;
        }
        b->w = w;
        b->n = 0;
        for (sluice_worker_job *j = w->acking.head; j && b->n < room; j = j->next)
            if (j->cls == cls) b->jobs[b->n++] = j;
        /* the list is newest first: the call goes oldest first, the order
         * the jobs were claimed in, which is where Redis finds each in the
         * leased set soonest (a small sorted set is scanned from its start) */
        for (size_t i = 0; i < b->n / 2; i++) {
            sluice_worker_job *t = b->jobs[i];
            b->jobs[i] = b->jobs[b->n - 1 - i];
            b->jobs[b->n - 1 - i] = t;
        }
        send_batch(w, b);
    }
    rt_schedule(w); /* held back while acks waited: claims go out after them */
}

void rt_ack_flush_cb(struct ev_loop *loop, ev_prepare *p, int revents) {
    (void)loop;
    (void)revents;
    rt_acks_flush(container_of(p, sluice_worker, ack_flush));
}
