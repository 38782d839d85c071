/* vg-embedded: the embedded worker runtime (libsluice-worker) runs N
 * in-process jobs end to end, for valgrind (the fault battery's "valgrind
 * clean on a 10,000-job run"). Jobs complete synchronously, asynchronously
 * (on a timer) and by failing once then succeeding; the runtime also hosts
 * the governor. Exits 0 when every job was acked exactly once and
 * everything was freed, 1 otherwise, 2 on misuse.
 *
 *   vg-embedded URL [N]        N jobs (default 10000) in namespace "vg" */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "sluice.h"
#include "sluice/worker.h"

#define CLS "vg"

typedef struct run {
    long n;
    long acked; /* handler completions with ok */
    long failed_once;
    unsigned char *ok; /* by id number */
    long dup;
    sluice_worker *w;
    int stopping;
    int timed_out;
} run;

typedef struct later {
    ev_timer t;
    sluice_worker *w;
    sluice_worker_job *job;
    run *r;
} later;

static long id_num(const char *id) {
    const char *p = strrchr(id, ':');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

static void stopped(sluice_worker *w, void *ud) {
    (void)ud;
    ev_break(sluice_worker_loop(w), EVBREAK_ALL);
}

static void complete(run *r, sluice_worker_job *job) {
    const sluice_job *j = sluice_worker_job_get(job);
    long k = id_num(sluice_job_id(j));
    if (k >= 1 && k <= r->n) {
        if (r->ok[k]++) r->dup++;
    }
    r->acked++;
    sluice_worker_done(r->w, job, 1, NULL);
    if (r->acked == r->n && !r->stopping) {
        r->stopping = 1;
        sluice_worker_stop(r->w, 2000, stopped, NULL);
    }
}

static void later_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    later *l = (later *)(void *)t;
    ev_timer_stop(loop, t);
    complete(l->r, l->job);
    free(l);
}

static void handler(sluice_worker *w, sluice_worker_job *job, void *ud) {
    run *r = ud;
    const sluice_job *j = sluice_worker_job_get(job);
    long k = id_num(sluice_job_id(j));
    if (k % 100 == 0 && sluice_job_attempt(j) == 1) {
        r->failed_once++;
        sluice_worker_done(w, job, 0, "fails once on purpose");
        return;
    }
    if (k % 7 == 0) {
        later *l = calloc(1, sizeof(*l));
        if (!l) {
            sluice_worker_done(w, job, 0, "out of memory");
            return;
        }
        l->w = w;
        l->job = job;
        l->r = r;
        ev_timer_init(&l->t, later_cb, 0.001, 0.);
        ev_timer_start(sluice_worker_loop(w), &l->t);
        return;
    }
    complete(r, job);
}

static void watchdog(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    run *r = t->data;
    r->timed_out = 1;
    fprintf(stderr, "vg-embedded: not done after %.0f s (%ld of %ld acked)\n", t->repeat, r->acked, r->n);
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: vg-embedded URL [N]\n");
        return 2;
    }
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 10000;
    if (n < 1 || n > 10000000) {
        fprintf(stderr, "vg-embedded: N must be 1..10000000\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sluice_error err;
    sluice_client *c = sluice_client_connect(argv[1], CLS, &err);
    if (!c) {
        fprintf(stderr, "vg-embedded: connect: %s\n", err.text);
        return 1;
    }
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_CRITICAL;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 5;
    if (sluice_class_set(c, CLS, &cfg, NULL, &err) < 0) {
        fprintf(stderr, "vg-embedded: %s\n", err.text);
        return 1;
    }
    const char **p = malloc(1000 * sizeof(*p));
    for (int i = 0; i < 1000; i++) p[i] = "{\"vg\":true}";
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done > 1000 ? 1000 : n - done);
        if (sluice_enqueue_many(c, CLS, k, p, NULL, 0, NULL, NULL, &err) < 0) {
            fprintf(stderr, "vg-embedded: enqueue: %s\n", err.text);
            return 1;
        }
        done += (long)k;
    }
    free(p);

    run r = {.n = n};
    r.ok = calloc((size_t)n + 1, 1);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    r.w = sluice_worker_new(loop, argv[1], CLS, &err);
    if (!r.w) {
        fprintf(stderr, "vg-embedded: %s\n", err.text);
        return 1;
    }
    sluice_worker_set_concurrency(r.w, 64, NULL);
    sluice_worker_set_name(r.w, "vg-embedded");
    sluice_worker_host_governor(r.w, 1, 200, NULL);
    if (sluice_worker_handle(r.w, CLS, handler, &r, &err) < 0 || sluice_worker_start(r.w, &err) < 0) {
        fprintf(stderr, "vg-embedded: %s\n", err.text);
        return 1;
    }
    ev_timer wd;
    ev_timer_init(&wd, watchdog, 600., 600.);
    wd.data = &r;
    ev_timer_start(loop, &wd);
    ev_run(loop, 0);
    ev_timer_stop(loop, &wd);
    sluice_worker_stats ws;
    sluice_worker_stats_get(r.w, &ws);
    sluice_worker_free(r.w);
    ev_loop_destroy(loop);

    long missing = 0;
    for (long k = 1; k <= n; k++) missing += !r.ok[k];
    sluice_class_stats st;
    int rc = sluice_class_stats_get(c, CLS, &st, &err);
    printf("vg-embedded: %ld jobs: %ld acked by handlers, %ld missing, %ld twice, %ld failed once on purpose; "
           "Redis: acked %lld, failed %lld, ready %lld, leased %lld\n",
           n, r.acked, missing, r.dup, r.failed_once, rc == 0 ? (long long)st.acked : -1LL,
           rc == 0 ? (long long)st.failed : -1LL, rc == 0 ? (long long)st.ready : -1LL,
           rc == 0 ? (long long)st.leased : -1LL);
    int ok = !r.timed_out && missing == 0 && r.dup == 0 && rc == 0 && st.acked == n && st.ready + st.leased == 0 &&
             ws.in_flight == 0;
    free(r.ok);
    sluice_client_free(c);
    return ok ? 0 : 1;
}
