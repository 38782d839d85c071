/* The embedded worker runtime against a real redis-server: in-process
 * handlers, throughput, wake-up on enqueue, graceful stop, a restarted
 * Redis. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "common.h"
#include "sluice/worker.h"

typedef struct run {
    struct ev_loop *loop;
    sluice_worker *w;
    unsigned char *seen; /* per job sequence: times handled */
    size_t n;            /* jobs expected */
    size_t handled;
    size_t dup;
    int stop_when_done;
    int hold; /* async handler: keep jobs */
    sluice_worker_job *held[256];
    int nheld;
    double delay;         /* async completion after s */
    double first_handled; /* ev_time */
    int stopped;
    int reconnected;
    int disconnected;
    int suspect_starts; /* "suspect" events naming a job: a suspect started */
    double reconnected_at;
    sluice_client *c; /* for the completion poll */
    const char *cls[3];
    int ncls;
    ev_timer poll;
    ev_timer guard;
} run;

static long long seq_of(const char *id) {
    const char *p = strrchr(id, ':');
    return p ? atoll(p + 1) : -1;
}

static void on_stopped(sluice_worker *w, void *ud) {
    (void)w;
    run *r = ud;
    r->stopped = 1;
    ev_break(r->loop, EVBREAK_ALL);
}

static void count_job(run *r, sluice_worker_job *j) {
    const sluice_job *sj = sluice_worker_job_get(j);
    long long s = seq_of(sluice_job_id(sj));
    /* sequences are per class; classes are told apart by an offset */
    size_t off = 0;
    for (int i = 0; i < r->ncls; i++)
        if (strcmp(sluice_job_class(sj), r->cls[i]) == 0) off = (size_t)i * (r->n / (size_t)r->ncls + 1);
    size_t k = off + (size_t)s;
    if (s >= 0 && k < r->n + (size_t)r->ncls + 1) {
        if (r->seen[k]) r->dup++;
        if (r->seen[k] < 255) r->seen[k]++;
    }
    if (!r->handled++) r->first_handled = ev_time();
}

static void sync_handler(sluice_worker *w, sluice_worker_job *j, void *ud) {
    run *r = ud;
    count_job(r, j);
    sluice_worker_done(w, j, 1, NULL);
    if (r->stop_when_done && r->handled == r->n) sluice_worker_stop(w, 1000, on_stopped, r);
}

typedef struct later {
    ev_timer t;
    sluice_worker *w;
    sluice_worker_job *j;
} later;

static void later_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    later *l = (later *)(void *)t;
    ev_timer_stop(loop, t);
    sluice_worker_done(l->w, l->j, 1, NULL);
    free(l);
}

static void async_handler(sluice_worker *w, sluice_worker_job *j, void *ud) {
    run *r = ud;
    count_job(r, j);
    if (r->hold) {
        if (r->nheld < 256) r->held[r->nheld++] = j;
        return;
    }
    later *l = calloc(1, sizeof(*l));
    l->w = w;
    l->j = j;
    ev_timer_init(&l->t, later_cb, r->delay, 0.);
    ev_timer_start(r->loop, &l->t);
}

static void guard_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)t;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void log_cb(const sluice_worker_event *ev, void *ud) {
    run *r = ud;
    if (strcmp(ev->event, "disconnected") == 0) r->disconnected++;
    if (strcmp(ev->event, "suspect") == 0 && ev->job_id) r->suspect_starts++;
    if (strcmp(ev->event, "reconnected") == 0) {
        r->reconnected++;
        r->reconnected_at = ev_time();
    }
}

static void setup_run(run *r, harness_redis *h, size_t n, int conc, double guard_s) {
    memset(r, 0, sizeof(*r));
    r->loop = ev_loop_new(EVFLAG_AUTO);
    r->n = n;
    r->seen = calloc(n + 8, 1);
    sluice_error err;
    r->w = sluice_worker_new(r->loop, h->url, "t", &err);
    if (!r->w) fail_msg("worker: %s", err.text);
    assert_int_equal(sluice_worker_set_concurrency(r->w, conc, &err), 0);
    sluice_worker_set_log(r->w, log_cb, r);
    ev_timer_init(&r->guard, guard_cb, guard_s, 0.);
    ev_timer_start(r->loop, &r->guard);
}

static void teardown_run(run *r) {
    ev_timer_stop(r->loop, &r->guard);
    ev_timer_stop(r->loop, &r->poll);
    sluice_worker_free(r->w);
    ev_loop_destroy(r->loop);
    free(r->seen);
}

static void enqueue_n(sluice_client *c, const char *cls, size_t n) {
    const char **p = malloc(n * sizeof(*p));
    for (size_t i = 0; i < n; i++) p[i] = "{}";
    sluice_error err;
    size_t done = 0;
    if (sluice_enqueue_many(c, cls, n, p, NULL, 0, NULL, &done, &err) < 0) fail_msg("enqueue: %s", err.text);
    free(p);
}

static void assert_drained(sluice_client *c, const char *cls, int64_t n) {
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), 0);
    assert_int_equal(st.enqueued, n);
    assert_int_equal(st.acked, n);
    assert_int_equal(st.ready + st.delayed + st.leased + st.dead, 0);
}

static void every_one_of_100000_in_process_jobs_is_acked_exactly_once(void **state) {
    sluice_client *c = test_connect(state);
    const char *cls[2] = {"inproc_a", "inproc_b"};
    size_t per = 50000;
    for (int i = 0; i < 2; i++) {
        test_class(c, cls[i], SLUICE_TIER_NORMAL, 1000);
        enqueue_n(c, cls[i], per);
    }
    run r;
    setup_run(&r, *state, 2 * per, 64, 80);
    r.cls[0] = cls[0];
    r.cls[1] = cls[1];
    r.ncls = 2;
    r.stop_when_done = 1;
    for (int i = 0; i < 2; i++) assert_int_equal(sluice_worker_handle(r.w, cls[i], sync_handler, &r, NULL), 0);
    double t0 = ev_time();
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_run(r.loop, 0);
    double secs = ev_time() - t0;
    fprintf(stderr, "# 100000 in-process jobs in %.2f s: %.0f jobs/s\n", secs, (double)(2 * per) / secs);
    assert_true(r.stopped);
    assert_int_equal(r.handled, 2 * per);
    assert_int_equal(r.dup, 0);
    sluice_worker_stats ws;
    sluice_worker_stats_get(r.w, &ws);
    assert_int_equal(ws.acked, 2 * per);
    for (int i = 0; i < 2; i++) assert_drained(c, cls[i], (int64_t)per);
    teardown_run(&r);
    sluice_client_free(c);
}

static void enqueue_later_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    run *r = (run *)(void *)((char *)t - offsetof(run, poll));
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_enqueue(r->c, "wake", "{}", NULL, id, NULL), 0);
    r->reconnected_at = ev_time(); /* reused: the enqueue time */
}

static void an_enqueue_wakes_an_idle_worker_at_once_not_at_its_next_poll(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "wake", SLUICE_TIER_NORMAL, 10);
    run r;
    setup_run(&r, *state, 1, 4, 10);
    r.c = c;
    r.cls[0] = "wake";
    r.ncls = 1;
    r.stop_when_done = 1;
    assert_int_equal(sluice_worker_handle(r.w, "wake", sync_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    /* pacing: the class claims at once, finds nothing pending and sleeps
     * for 3 s (its safety poll); 1.2 s in, an enqueue must wake it */
    ev_timer_init(&r.poll, enqueue_later_cb, 1.2, 0.);
    ev_timer_start(r.loop, &r.poll);
    ev_run(r.loop, 0);
    assert_int_equal(r.handled, 1);
    double lat = r.first_handled - r.reconnected_at;
    fprintf(stderr, "# enqueue to handler: %.1f ms\n", lat * 1000);
    assert_true(lat < 0.3);
    assert_drained(c, "wake", 1);
    teardown_run(&r);
    sluice_client_free(c);
}

/* Polls until the worker holds 8 jobs (its concurrency), then stops it with
 * a grace of 200 ms. */
static void stop_when_held_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    run *r = (run *)(void *)((char *)t - offsetof(run, poll));
    if (r->nheld < 8) return;
    ev_timer_stop(loop, t);
    r->reconnected_at = ev_time(); /* reused: when the stop began */
    sluice_worker_stop(r->w, 200, on_stopped, r);
}

/* Polls until every job of the run's class is acked, then stops the worker. */
static void stop_when_acked_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    run *r = (run *)(void *)((char *)t - offsetof(run, poll));
    sluice_class_stats st;
    if (sluice_class_stats_get(r->c, r->cls[0], &st, NULL) < 0 || st.acked < (int64_t)r->n) return;
    ev_timer_stop(loop, t);
    sluice_worker_stop(r->w, 1000, on_stopped, r);
}

/* A handler that runs five times its lease keeps it: the worker extends the
 * lease while the job runs, so it is never reclaimed (max_reclaims 0 would
 * send it dead at once) nor run twice. */
static void a_handler_that_runs_longer_than_its_lease_keeps_it(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "longjob", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"timeout_ms", "max_reclaims"}, *v[] = {"300", "0"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "longjob", f, v, 2, NULL, &err), 0);
    enqueue_n(c, "longjob", 4);
    run r;
    /* a slot to spare: the class is claimed again while its jobs run, and
     * such a claim would reclaim a lease that had lapsed */
    setup_run(&r, *state, 4, 5, 30);
    r.c = c;
    r.cls[0] = "longjob";
    r.ncls = 1;
    r.delay = 1.5;
    assert_int_equal(sluice_worker_handle(r.w, "longjob", async_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_timer_init(&r.poll, stop_when_acked_cb, 0.05, 0.05);
    ev_timer_start(r.loop, &r.poll);
    ev_run(r.loop, 0);
    assert_true(r.stopped);
    assert_int_equal(r.handled, 4);
    assert_int_equal(r.dup, 0);
    sluice_worker_stats ws;
    sluice_worker_stats_get(r.w, &ws);
    assert_int_equal(ws.stale, 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "longjob", &st, &err), 0);
    assert_int_equal(st.reclaimed, 0);
    assert_int_equal(st.claimed, 4);
    assert_int_equal(st.acked, 4);
    assert_int_equal(st.dead, 0);
    teardown_run(&r);
    sluice_client_free(c);
}

static void a_graceful_stop_releases_the_jobs_still_running_at_the_end_of_the_grace(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "held", SLUICE_TIER_NORMAL, 100);
    enqueue_n(c, "held", 20);
    run r;
    setup_run(&r, *state, 20, 8, 10);
    r.hold = 1;
    r.cls[0] = "held";
    r.ncls = 1;
    assert_int_equal(sluice_worker_handle(r.w, "held", async_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_timer_init(&r.poll, stop_when_held_cb, 0.01, 0.01);
    ev_timer_start(r.loop, &r.poll);
    ev_run(r.loop, 0);
    assert_true(r.stopped);
    /* the grace (0.2 s) and the releases' answer (at most 0.8 s more) */
    assert_true(ev_time() - r.reconnected_at < 1.5);
    assert_int_equal(r.nheld, 8); /* concurrency, no more */
    /* the handler completes late: a no-op for Redis */
    for (int i = 0; i < r.nheld; i++) sluice_worker_done(r.w, r.held[i], 1, NULL);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "held", &st, NULL), 0);
    assert_int_equal(st.released, 8);
    assert_int_equal(st.failed + st.acked + st.leased, 0);
    assert_int_equal(st.ready, 20);
    teardown_run(&r);
    sluice_client_free(c);
}

/* Keeps Redis busy: a script that spins for 1.5 s, from its own thread.
 * Past busy-reply-threshold, Redis answers every other command -BUSY. */
static void *busy_script(void *arg) {
    const harness_redis *h = arg;
    redisContext *rc = redisConnectUnix(h->sock);
    if (!rc || rc->err) return NULL;
    redisReply *rep = redisCommand(rc, "EVAL %s 0",
                                   "local t = redis.call('TIME'); local t0 = t[1] * 1000000 + t[2]; "
                                   "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - t0 > 1500000; "
                                   "return 1");
    freeReplyObject(rep);
    redisFree(rc);
    return NULL;
}

typedef struct busy_run {
    run r;
    harness_redis *h;
    pthread_t th;
    int started;
    ev_timer finish;
} busy_run;

/* Once the worker holds all four jobs: Redis goes busy, and 0.3 s later
 * (past the 100 ms threshold) the handler completes them. */
static void busy_when_held_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    busy_run *b = (busy_run *)(void *)((char *)t - offsetof(busy_run, r.poll));
    if (b->started || b->r.nheld < 4) return;
    b->started = 1;
    pthread_create(&b->th, NULL, busy_script, b->h);
    ev_timer_start(loop, &b->finish);
}

static void complete_held_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    busy_run *b = (busy_run *)(void *)((char *)t - offsetof(busy_run, finish));
    for (int i = 0; i < b->r.nheld; i++) sluice_worker_done(b->r.w, b->r.held[i], 1, NULL);
    b->r.nheld = 0;
    b->r.hold = 0;
    ev_timer_stop(loop, &b->r.poll);
    ev_timer_init(&b->r.poll, stop_when_acked_cb, 0.05, 0.05);
    ev_timer_start(loop, &b->r.poll);
}

/* Acks that Redis refuses while busy running a script (-BUSY, as for
 * -LOADING) did not run: the worker sends them again once Redis serves, so
 * the jobs are acked once and none runs again after its lease. */
static void acks_refused_by_a_busy_redis_are_sent_again_not_dropped(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    assert_int_equal(harness_redis_int(h, "CONFIG SET busy-reply-threshold 100"), -1); /* a status reply */
    test_class(c, "busyacks", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"timeout_ms"}, *v[] = {"4000"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "busyacks", f, v, 1, NULL, &err), 0);
    enqueue_n(c, "busyacks", 4);
    busy_run b;
    memset(&b, 0, sizeof(b));
    setup_run(&b.r, h, 4, 4, 30);
    b.r.c = c;
    b.r.cls[0] = "busyacks";
    b.r.ncls = 1;
    b.h = h;
    b.r.hold = 1;
    assert_int_equal(sluice_worker_handle(b.r.w, "busyacks", async_handler, &b.r, NULL), 0);
    assert_int_equal(sluice_worker_start(b.r.w, NULL), 0);
    ev_timer_init(&b.finish, complete_held_cb, 0.3, 0.);
    ev_timer_init(&b.r.poll, busy_when_held_cb, 0.01, 0.01);
    ev_timer_start(b.r.loop, &b.r.poll);
    ev_run(b.r.loop, 0);
    if (b.started) pthread_join(b.th, NULL);
    ev_timer_stop(b.r.loop, &b.finish);
    assert_true(b.started);
    assert_true(b.r.stopped);
    assert_int_equal(b.r.handled, 4); /* none ran again */
    sluice_worker_stats ws;
    sluice_worker_stats_get(b.r.w, &ws);
    assert_int_equal(ws.stale, 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "busyacks", &st, &err), 0);
    assert_int_equal(st.acked, 4);
    assert_int_equal(st.claimed, 4);
    assert_int_equal(st.reclaimed, 0);
    teardown_run(&b.r);
    harness_redis_int(h, "CONFIG SET busy-reply-threshold 5000");
    sluice_client_free(c);
}

/* The FCALLs Redis has run since it started (INFO commandstats). */
static long long fcalls_run(const harness_redis *h) {
    redisContext *rc = redisConnectUnix(h->sock);
    if (!rc || rc->err) fail_msg("connect");
    redisReply *r = redisCommand(rc, "INFO commandstats");
    static const char key[] = "cmdstat_fcall:calls=";
    const char *p = r && r->str ? strstr(r->str, key) : NULL;
    long long n = p ? atoll(p + strlen(key)) : 0;
    freeReplyObject(r);
    redisFree(rc);
    return n;
}

/* The acks of the jobs that end in one loop iteration go out in one call
 * per class: 500 no-op jobs at concurrency 64 cost far fewer FCALLs,
 * claims and acks together, than jobs, and each is acked once. */
static void acks_that_end_together_go_to_redis_in_one_call(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    enum { JOBS = 500 };
    test_class(c, "batched", SLUICE_TIER_NORMAL, 1000);
    enqueue_n(c, "batched", JOBS);
    run r;
    setup_run(&r, h, JOBS, 64, 60);
    r.cls[0] = "batched";
    r.ncls = 1;
    r.stop_when_done = 1;
    assert_int_equal(sluice_worker_handle(r.w, "batched", sync_handler, &r, NULL), 0);
    long long before = fcalls_run(h);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_run(r.loop, 0);
    long long calls = fcalls_run(h) - before;
    fprintf(stderr, "# %d jobs drained with %lld FCALLs (claims and acks)\n", JOBS, calls);
    assert_true(r.stopped);
    assert_int_equal(r.handled, JOBS);
    assert_int_equal(r.dup, 0);
    assert_true(calls < JOBS / 2);
    sluice_worker_stats ws;
    sluice_worker_stats_get(r.w, &ws);
    assert_int_equal(ws.acked, JOBS);
    assert_int_equal(ws.stale, 0);
    assert_drained(c, "batched", JOBS);
    teardown_run(&r);
    sluice_client_free(c);
}

/* A class whose concurrency limit is the worker's: its next claim goes out
 * after the acks that free its slots, so Redis never throttles it for the
 * leases those acks end. */
static void a_claim_follows_the_acks_that_free_its_slots(void **state) {
    sluice_client *c = test_connect(state);
    enum { JOBS = 200 };
    test_class(c, "tight", SLUICE_TIER_NORMAL, 4);
    enqueue_n(c, "tight", JOBS);
    run r;
    setup_run(&r, *state, JOBS, 4, 60);
    r.cls[0] = "tight";
    r.ncls = 1;
    r.stop_when_done = 1;
    assert_int_equal(sluice_worker_handle(r.w, "tight", sync_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_run(r.loop, 0);
    assert_true(r.stopped);
    assert_int_equal(r.handled, JOBS);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "tight", &st, NULL), 0);
    assert_int_equal(st.throttled, 0);
    assert_drained(c, "tight", JOBS);
    teardown_run(&r);
    sluice_client_free(c);
}

typedef struct steal_run {
    run r;
    int stolen;
    char stolen_id[SLUICE_ID_MAX];
    sluice_job *thief; /* the other worker's lease of the stolen job */
    int stale_events;
    char stale_id[SLUICE_ID_MAX];
    int done_events;
} steal_run;

static void steal_log(const sluice_worker_event *ev, void *ud) {
    steal_run *s = ud;
    if (strcmp(ev->event, "stale") == 0) {
        s->stale_events++;
        snprintf(s->stale_id, sizeof(s->stale_id), "%s", ev->job_id ? ev->job_id : "");
    }
}

/* Once the worker holds its four jobs: the first one's lease passes to
 * another worker (released and claimed again), then the handler ends all
 * four in this one callback, so their acks go out as one batch. */
static void steal_then_end_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    steal_run *s = (steal_run *)(void *)((char *)t - offsetof(steal_run, r.poll));
    if (s->stolen || s->r.nheld < 4) return;
    const sluice_job *first = sluice_worker_job_get(s->r.held[0]);
    snprintf(s->stolen_id, sizeof(s->stolen_id), "%s", sluice_job_id(first));
    sluice_error err;
    assert_int_equal(sluice_release(s->r.c, s->stolen_id, sluice_job_token(first), &err), 0);
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(s->r.c, "stolen", "thief", 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(j[0]), s->stolen_id);
    s->thief = j[0];
    s->stolen = 1;
    for (int i = 0; i < s->r.nheld; i++) sluice_worker_done(s->r.w, s->r.held[i], 1, NULL);
    s->r.nheld = 0;
    ev_timer_stop(loop, t);
    s->r.n = 3; /* the acks that will be taken */
    ev_timer_init(&s->r.poll, stop_when_acked_cb, 0.05, 0.05);
    ev_timer_start(loop, &s->r.poll);
}

/* Fencing in a batch: of four jobs acked in one call, one whose lease
 * passed to another worker is refused alone, logged "stale" for that job
 * only; the other three are acked, and the other worker's lease stands. */
static void a_stale_job_in_a_batch_of_acks_is_refused_alone(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "stolen", SLUICE_TIER_NORMAL, 10);
    enqueue_n(c, "stolen", 4);
    steal_run s;
    memset(&s, 0, sizeof(s));
    setup_run(&s.r, h, 4, 4, 30);
    sluice_worker_set_log(s.r.w, steal_log, &s);
    s.r.c = c;
    s.r.cls[0] = "stolen";
    s.r.ncls = 1;
    s.r.hold = 1;
    assert_int_equal(sluice_worker_handle(s.r.w, "stolen", async_handler, &s.r, NULL), 0);
    assert_int_equal(sluice_worker_start(s.r.w, NULL), 0);
    ev_timer_init(&s.r.poll, steal_then_end_cb, 0.01, 0.01);
    ev_timer_start(s.r.loop, &s.r.poll);
    ev_run(s.r.loop, 0);
    assert_true(s.stolen);
    assert_true(s.r.stopped);
    assert_int_equal(s.stale_events, 1);
    assert_string_equal(s.stale_id, s.stolen_id);
    sluice_worker_stats ws;
    sluice_worker_stats_get(s.r.w, &ws);
    assert_int_equal(ws.stale, 1);
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "stolen", &st, &err), 0);
    assert_int_equal(st.acked, 3);
    assert_int_equal(st.leased, 1);
    assert_int_equal(sluice_ack(c, s.stolen_id, sluice_job_token(s.thief), &err), 0);
    assert_drained(c, "stolen", 4);
    sluice_job_free(s.thief);
    teardown_run(&s.r);
    sluice_client_free(c);
}

typedef struct order {
    run r;
    int crit_done;
    int low_before_crit_done; /* low jobs handled while critical ones were left */
} order;

static void order_handler(sluice_worker *w, sluice_worker_job *j, void *ud) {
    order *o = ud;
    const char *cls = sluice_job_class(sluice_worker_job_get(j));
    if (strcmp(cls, "crit") == 0)
        o->crit_done++;
    else if (o->crit_done < 200)
        o->low_before_crit_done++;
    o->r.handled++;
    sluice_worker_done(w, j, 1, NULL);
    if (o->r.handled == o->r.n) sluice_worker_stop(w, 1000, on_stopped, &o->r);
}

static void critical_classes_are_served_before_the_others(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "crit", SLUICE_TIER_CRITICAL, 0);
    test_class(c, "lowq", SLUICE_TIER_LOW, 100);
    enqueue_n(c, "lowq", 200);
    enqueue_n(c, "crit", 200);
    order o;
    setup_run(&o.r, *state, 400, 4, 20);
    o.crit_done = o.low_before_crit_done = 0;
    assert_int_equal(sluice_worker_handle(o.r.w, "lowq", order_handler, &o, NULL), 0);
    assert_int_equal(sluice_worker_handle(o.r.w, "crit", order_handler, &o, NULL), 0);
    assert_int_equal(sluice_worker_start(o.r.w, NULL), 0);
    ev_run(o.r.loop, 0);
    assert_true(o.r.stopped);
    assert_int_equal(o.crit_done, 200);
    fprintf(stderr, "# low-tier jobs run while critical ones waited: %d\n", o.low_before_crit_done);
    assert_true(o.low_before_crit_done <= 4);
    assert_drained(c, "crit", 200);
    assert_drained(c, "lowq", 200);
    teardown_run(&o.r);
    sluice_client_free(c);
}

static void a_paused_class_never_holds_back_the_others_and_its_jobs_keep_their_attempts(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "pausedq", SLUICE_TIER_NORMAL, 100);
    test_class(c, "openq", SLUICE_TIER_NORMAL, 100);
    enqueue_n(c, "pausedq", 50);
    enqueue_n(c, "openq", 500);
    sluice_error err;
    if (sluice_class_pause(c, "pausedq", 0, &err) < 0) fail_msg("pause: %s", err.text);
    run r;
    setup_run(&r, *state, 500, 8, 20);
    r.stop_when_done = 1;
    r.cls[0] = "openq";
    r.ncls = 1;
    assert_int_equal(sluice_worker_handle(r.w, "pausedq", sync_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_handle(r.w, "openq", sync_handler, &r, NULL), 0);
    double t0 = ev_time();
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_run(r.loop, 0);
    assert_true(r.stopped);
    assert_true(ev_time() - t0 < 5);
    assert_drained(c, "openq", 500);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "pausedq", &st, NULL), 0);
    assert_int_equal(st.ready, 50);
    assert_int_equal(st.claimed, 0);
    teardown_run(&r);
    sluice_client_free(c);
}

/* Quarantine: what the handlers saw of suspects (jobs reclaimed before). */
typedef struct alone {
    run r;
    int in_flight; /* handlers started and not done */
    int max_in_flight;
    int suspect_running;
    int suspects; /* suspects started */
    int beside;   /* starts that overlapped a suspect */
} alone;

typedef struct alone_job {
    ev_timer t;
    alone *a;
    sluice_worker_job *j;
    int suspect;
} alone_job;

static void alone_done_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    alone_job *l = (alone_job *)(void *)t;
    alone *a = l->a;
    ev_timer_stop(loop, t);
    a->in_flight--;
    if (l->suspect) a->suspect_running = 0;
    sluice_worker_done(a->r.w, l->j, 1, NULL);
    if (++a->r.handled == a->r.n) sluice_worker_stop(a->r.w, 1000, on_stopped, &a->r);
    free(l);
}

static void alone_handler(sluice_worker *w, sluice_worker_job *j, void *ud) {
    (void)w;
    alone *a = ud;
    alone_job *l = calloc(1, sizeof(*l));
    l->a = a;
    l->j = j;
    l->suspect = sluice_job_reclaims(sluice_worker_job_get(j)) > 0;
    if (a->suspect_running || (l->suspect && a->in_flight)) a->beside++;
    a->suspects += l->suspect;
    a->suspect_running |= l->suspect;
    if (++a->in_flight > a->max_in_flight) a->max_in_flight = a->in_flight;
    ev_timer_init(&l->t, alone_done_cb, 0.01, 0.);
    ev_timer_start(a->r.loop, &l->t);
}

static void a_suspect_job_runs_alone_in_the_worker_and_the_others_in_batches(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "alone", SLUICE_TIER_NORMAL, 100);
    /* jobs 10 and 25 lose a 30 ms lease: suspects in the middle of the queue */
    enum { N = 40, S1 = 10, S2 = 25 };
    char ids[N][SLUICE_ID_MAX];
    sluice_error err;
    for (int i = 0; i < N; i++) {
        sluice_enqueue_opts o = {.timeout_ms = i == S1 || i == S2 ? 30 : 60000};
        if (sluice_enqueue(c, "alone", "{}", &o, ids[i], &err) < 0) fail_msg("enqueue: %s", err.text);
    }
    sluice_job *j[S2 + 1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "alone", "t", S2 + 1, j, &info, &err), 0);
    assert_int_equal(info.count, S2 + 1);
    for (int i = 0; i <= S2; i++) {
        if (i != S1 && i != S2) assert_int_equal(sluice_release(c, ids[i], sluice_job_token(j[i]), &err), 0);
        sluice_job_free(j[i]);
    }
    /* the two 30 ms leases run out, by the Redis clock */
    sluice_job_info li;
    assert_int_equal(sluice_job_get(c, ids[S2], &li, &err), 0);
    test_redis_after(c, li.at);
    sluice_job_info_clear(&li);
    alone a = {0};
    setup_run(&a.r, *state, N, 4, 20);
    assert_int_equal(sluice_worker_handle(a.r.w, "alone", alone_handler, &a, NULL), 0);
    assert_int_equal(sluice_worker_start(a.r.w, NULL), 0);
    ev_run(a.r.loop, 0);
    assert_true(a.r.stopped);
    assert_int_equal(a.suspects, 2);
    assert_int_equal(a.beside, 0);
    assert_int_equal(a.max_in_flight, 4);
    sluice_worker_stats st;
    sluice_worker_stats_get(a.r.w, &st);
    assert_int_equal(st.suspects, 2);
    assert_int_equal(a.r.suspect_starts, 2);
    assert_drained(c, "alone", N);
    teardown_run(&a.r);
    sluice_client_free(c);
}

static void latency_stop_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    run *r = (run *)(void *)((char *)t - offsetof(run, poll));
    sluice_worker_stop(r->w, 1000, on_stopped, r);
}

static void the_mean_handler_time_is_reported_to_a_defined_job_latency_signal(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "latq", SLUICE_TIER_NORMAL, 10);
    test_class(c, "nolat", SLUICE_TIER_NORMAL, 10);
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 1000;
    def.critical = 5000;
    sluice_error err;
    if (sluice_signal_define(c, "job_latency.latq", &def, NULL, &err) < 0) fail_msg("define: %s", err.text);
    enqueue_n(c, "latq", 20);
    enqueue_n(c, "nolat", 20); /* no signal defined for it: ignored quietly */
    run r;
    setup_run(&r, *state, 40, 4, 20);
    r.delay = 0.05;
    r.cls[0] = "latq";
    r.cls[1] = "nolat";
    r.ncls = 2;
    assert_int_equal(sluice_worker_handle(r.w, "latq", async_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_handle(r.w, "nolat", async_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    ev_timer_init(&r.poll, latency_stop_cb, 5.3, 0.);
    ev_timer_start(r.loop, &r.poll);
    ev_run(r.loop, 0);
    assert_true(r.stopped);
    size_t n = 0;
    sluice_signal_info *sig = sluice_signal_list(c, &n, NULL, &err);
    assert_non_null(sig);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(sig[i].name, "job_latency.latq") != 0) continue;
        found = 1;
        assert_true(sig[i].has_value);
        fprintf(stderr, "# job_latency.latq = %.1f ms\n", sig[i].value);
        assert_true(sig[i].value >= 45 && sig[i].value < 500);
    }
    assert_true(found);
    sluice_signal_list_free(sig, n);
    teardown_run(&r);
    sluice_client_free(c);
}

/* ---------------------- a restarted redis-server ---------------------- */

static harness_redis aofsrv;
static sluice_worker *restarted; /* the worker that runs across the restart */
static double restart_done;

/* Restarts Redis while handlers hold jobs, so that the outage holds their
 * acks back (a worker between a batch of acks and the next claim has
 * none): polls every ms until one runs. */
static void restart_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    sluice_worker_stats ws;
    sluice_worker_stats_get(restarted, &ws);
    if (ws.in_flight == 0) {
        ev_timer_set(t, 0.001, 0.);
        ev_timer_start(loop, t);
        return;
    }
    assert_int_equal(harness_redis_restart(&aofsrv), 0);
    restart_done = ev_time();
}

static void drained_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    run *r = (run *)(void *)((char *)t - offsetof(run, poll));
    sluice_class_stats st;
    if (restart_done == 0 || sluice_class_stats_get(r->c, "survive", &st, NULL) < 0) return;
    if (st.ready + st.delayed + st.leased == 0 && st.acked + st.dead >= st.enqueued)
        sluice_worker_stop(r->w, 1000, on_stopped, r);
}

static void a_worker_survives_a_redis_restart_reconnects_and_finishes_the_run(void **state) {
    (void)state;
    memset(&aofsrv, 0, sizeof(aofsrv));
    aofsrv.aof = 1;
    assert_int_equal(harness_redis_start(&aofsrv), 0);
    sluice_error err;
    sluice_client *c = sluice_client_connect(aofsrv.url, "t", &err);
    if (!c) fail_msg("connect: %s", err.text);
    test_class(c, "survive", SLUICE_TIER_NORMAL, 100);
    enqueue_n(c, "survive", 3000);
    run r;
    setup_run(&r, &aofsrv, 3000, 16, 40);
    r.c = c;
    r.delay = 0.005;
    r.cls[0] = "survive";
    r.ncls = 1;
    assert_int_equal(sluice_worker_handle(r.w, "survive", async_handler, &r, NULL), 0);
    assert_int_equal(sluice_worker_start(r.w, NULL), 0);
    restarted = r.w;
    ev_timer restart;
    ev_timer_init(&restart, restart_cb, 0.4, 0.);
    ev_timer_start(r.loop, &restart);
    ev_timer_init(&r.poll, drained_cb, 0.2, 0.2);
    ev_timer_start(r.loop, &r.poll);
    ev_run(r.loop, 0);
    ev_timer_stop(r.loop, &restart);
    assert_true(r.stopped);
    assert_int_equal(r.reconnected, 1);
    assert_int_equal(r.disconnected, 1); /* one line per outage, not one per retry */
    fprintf(stderr, "# reconnected %.2f s after Redis came back; %zu handler runs for 3000 jobs\n",
            r.reconnected_at - restart_done, r.handled);
    assert_true(r.reconnected_at - restart_done < 5.0);
    /* 0 lost: every job handled at least once, none left; and none twice:
     * the acks the outage held back were sent once Redis was back, within
     * their leases (30 s) */
    for (size_t i = 1; i <= 3000; i++) assert_true(r.seen[i] >= 1);
    assert_int_equal(r.dup, 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "survive", &st, &err), 0);
    assert_int_equal(st.enqueued, 3000);
    assert_int_equal(st.dead + st.ready + st.delayed + st.leased, 0);
    teardown_run(&r);
    sluice_client_free(c);
    harness_redis_stop(&aofsrv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_one_of_100000_in_process_jobs_is_acked_exactly_once),
        cmocka_unit_test(an_enqueue_wakes_an_idle_worker_at_once_not_at_its_next_poll),
        cmocka_unit_test(a_graceful_stop_releases_the_jobs_still_running_at_the_end_of_the_grace),
        cmocka_unit_test(a_handler_that_runs_longer_than_its_lease_keeps_it),
        cmocka_unit_test(acks_refused_by_a_busy_redis_are_sent_again_not_dropped),
        cmocka_unit_test(acks_that_end_together_go_to_redis_in_one_call),
        cmocka_unit_test(a_stale_job_in_a_batch_of_acks_is_refused_alone),
        cmocka_unit_test(a_claim_follows_the_acks_that_free_its_slots),
        cmocka_unit_test(critical_classes_are_served_before_the_others),
        cmocka_unit_test(a_paused_class_never_holds_back_the_others_and_its_jobs_keep_their_attempts),
        cmocka_unit_test(a_suspect_job_runs_alone_in_the_worker_and_the_others_in_batches),
        cmocka_unit_test(the_mean_handler_time_is_reported_to_a_defined_job_latency_signal),
        cmocka_unit_test(a_worker_survives_a_redis_restart_reconnects_and_finishes_the_run),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
