/* The job lifecycle against a real redis-server: enqueue, claim, ack, fail,
 * leases, delays, priorities, unique keys, cancel, the dead set, counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common.h"

static sluice_job *claim_one(sluice_client *c, const char *cls) {
    sluice_job *j[1] = {NULL};
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, cls, "t", 1, j, &info, &err), 0);
    return info.count ? j[0] : NULL;
}

/* Waits until the Redis clock reaches the lease deadline of the leased job
 * "id": the next claim in its class reclaims it. */
static void lease_runs_out(sluice_client *c, const char *id) {
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_LEASED);
    test_redis_after(c, info.at - 1);
    sluice_job_info_clear(&info);
}

static void enqueue_ok(sluice_client *c, const char *cls, const char *payload, const sluice_enqueue_opts *o,
                       char id[SLUICE_ID_MAX]) {
    sluice_error err;
    if (sluice_enqueue(c, cls, payload, o, id, &err) < 0) fail_msg("enqueue: %s", err.text);
}

static void a_job_is_enqueued_claimed_and_acked_once(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "basic", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    enqueue_ok(c, "basic", "{\"n\":1}", NULL, id);
    assert_memory_equal(id, "basic:", 6);
    sluice_job *j = claim_one(c, "basic");
    assert_non_null(j);
    assert_string_equal(sluice_job_id(j), id);
    assert_string_equal(sluice_job_class(j), "basic");
    assert_string_equal(sluice_job_payload(j), "{\"n\":1}");
    assert_int_equal(sluice_job_attempt(j), 1);
    sluice_error err;
    assert_int_equal(sluice_ack(c, id, sluice_job_token(j), &err), 0);
    assert_int_equal(sluice_ack(c, id, sluice_job_token(j), &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "basic", &st, &err), 0);
    assert_int_equal(st.enqueued, 1);
    assert_int_equal(st.claimed, 1);
    assert_int_equal(st.acked, 1);
    assert_int_equal(st.ready + st.delayed + st.leased + st.dead, 0);
    sluice_job_free(j);
    sluice_client_free(c);
}

static void an_empty_class_answers_empty_with_the_next_due_time(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "emptyq", SLUICE_TIER_NORMAL, 10);
    sluice_job *j[4];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, "emptyq", NULL, 4, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_EMPTY);
    assert_int_equal(info.retry_ms, -1);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.delay_ms = 60000};
    enqueue_ok(c, "emptyq", "{}", &o, id);
    assert_int_equal(sluice_claim(c, "emptyq", NULL, 4, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_EMPTY);
    assert_true(info.retry_ms > 59000 && info.retry_ms <= 60000);
    sluice_client_free(c);
}

static void claims_follow_priority_then_fifo(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "prio", SLUICE_TIER_NORMAL, 100);
    int prios[] = {0, 5, 0, -3, 5, 1000, -1000};
    char ids[7][SLUICE_ID_MAX];
    for (int i = 0; i < 7; i++) {
        sluice_enqueue_opts o = {.priority = prios[i]};
        enqueue_ok(c, "prio", "{}", &o, ids[i]);
    }
    int want[] = {5, 1, 4, 0, 2, 3, 6};
    sluice_job *j[7];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, "prio", NULL, 7, j, &info, &err), 0);
    assert_int_equal(info.count, 7);
    for (int i = 0; i < 7; i++) {
        assert_string_equal(sluice_job_id(j[i]), ids[want[i]]);
        sluice_job_free(j[i]);
    }
    sluice_client_free(c);
}

/* One claim of the class "delay": either it leases the job (count 1) or it
 * answers "empty" with the time until the job is due. */
static void assert_claim_before_due(sluice_client *c, sluice_job **j, sluice_claim_info *ci) {
    sluice_error err;
    assert_int_equal(sluice_claim(c, "delay", "t", 1, j, ci, &err), 0);
    if (ci->count == 0) {
        assert_int_equal(ci->status, SLUICE_CLAIM_EMPTY);
        assert_true(ci->retry_ms >= 1 && ci->retry_ms <= 300);
    }
}

static void a_delayed_job_never_starts_before_its_due_time_by_the_redis_clock(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "delay", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.delay_ms = 300};
    enqueue_ok(c, "delay", "{}", &o, id);
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DELAYED);
    int64_t due = info.at;
    sluice_job_info_clear(&info);
    /* Until it is due every claim answers "empty" with the time left (so
     * the claim ran before the due time); the first claim that gets it ran
     * at or after it. */
    sluice_job *j[1] = {NULL};
    sluice_claim_info ci;
    WAIT_UNTIL((assert_claim_before_due(c, j, &ci), ci.count == 1), 10000);
    assert_int_equal(ci.count, 1);
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_true(info.now >= due); /* info.now: the Redis clock just after the claim */
    sluice_job_free(j[0]);
    sluice_job_info_clear(&info);
    /* run_at in the past is ready at once */
    sluice_enqueue_opts past = {.run_at_ms = 1};
    enqueue_ok(c, "delay", "{}", &past, id);
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    sluice_job_info_clear(&info);
    sluice_client_free(c);
}

static void a_duplicate_unique_key_returns_the_live_job_and_creates_nothing(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "uniq", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.unique = "cert-42"};
    enqueue_ok(c, "uniq", "{\"v\":1}", &o, a);
    enqueue_ok(c, "uniq", "{\"v\":2}", &o, b);
    assert_string_equal(a, b);
    /* and within one batch */
    const char *p[] = {"{}", "{}", "{}"};
    sluice_enqueue_opts each[3] = {{.unique = "x"}, {.unique = "x"}, {.unique = "y"}};
    char ids[3][SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue_many(c, "uniq", 3, p, each, 1, ids, NULL, &err), 0);
    assert_string_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "uniq", &st, &err), 0);
    assert_int_equal(st.ready, 3);
    assert_int_equal(st.enqueued, 3);
    /* after the job completes, the key is free again */
    sluice_job *j;
    while ((j = claim_one(c, "uniq"))) {
        assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
        sluice_job_free(j);
    }
    enqueue_ok(c, "uniq", "{\"v\":3}", &o, b);
    assert_string_not_equal(a, b);
    sluice_client_free(c);
}

/* In one batch, each job has its own options, also when the job before it
 * had others (the Function reuses a job's options only for the next job
 * whose option arguments are the same). */
static void each_job_of_a_batch_keeps_its_own_options(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "opts", SLUICE_TIER_NORMAL, 10);
    const char *p[] = {"{}", "{}", "{}", "{}", "{}"};
    sluice_enqueue_opts each[5] = {{.priority = 0},
                                   {.priority = 0},
                                   {.priority = 5, .max_attempts = 3},
                                   {.delay_ms = 60000, .cost = 7, .timeout_ms = 1234},
                                   {.priority = 0}};
    char ids[5][SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue_many(c, "opts", 5, p, each, 1, ids, NULL, &err), 0);
    static const struct {
        sluice_job_state state;
        int priority, max_attempts;
        int64_t cost;
    } want[5] = {{SLUICE_JOB_READY, 0, 5, 1},
                 {SLUICE_JOB_READY, 0, 5, 1},
                 {SLUICE_JOB_READY, 5, 3, 1},
                 {SLUICE_JOB_DELAYED, 0, 5, 7},
                 {SLUICE_JOB_READY, 0, 5, 1}};
    for (int i = 0; i < 5; i++) {
        sluice_job_info info;
        assert_int_equal(sluice_job_get(c, ids[i], &info, &err), 0);
        if (info.state != want[i].state || info.priority != want[i].priority ||
            info.max_attempts != want[i].max_attempts || info.cost != want[i].cost)
            fail_msg("job %d: state %d priority %d max_attempts %d cost %lld", i, (int)info.state, info.priority,
                     info.max_attempts, (long long)info.cost);
        sluice_job_info_clear(&info);
    }
    sluice_job *j = claim_one(c, "opts");
    assert_string_equal(sluice_job_id(j), ids[2]);
    sluice_job_free(j);
    sluice_client_free(c);
}

static void a_claimer_that_never_acks_loses_its_jobs_after_the_lease_and_its_late_ack_is_stale(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "lease", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.timeout_ms = 100};
    enqueue_ok(c, "lease", "{}", &o, id);
    sluice_job *first = claim_one(c, "lease");
    assert_non_null(first);
    assert_null(claim_one(c, "lease"));
    lease_runs_out(c, id);
    sluice_job *second = claim_one(c, "lease");
    assert_non_null(second);
    assert_string_equal(sluice_job_id(second), id);
    assert_int_equal(sluice_job_attempt(second), 2);
    assert_true(sluice_job_token(second) != sluice_job_token(first));
    sluice_error err;
    assert_int_equal(sluice_ack(c, id, sluice_job_token(first), &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_fail(c, id, sluice_job_token(first), "late", NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_extend(c, id, sluice_job_token(first), 1000, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_ack(c, id, sluice_job_token(second), &err), 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "lease", &st, &err), 0);
    assert_int_equal(st.reclaimed, 1);
    assert_int_equal(st.acked, 1);
    sluice_job_free(first);
    sluice_job_free(second);
    sluice_client_free(c);
}

static void an_extended_lease_is_not_reclaimed(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "extend", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.timeout_ms = 100};
    enqueue_ok(c, "extend", "{}", &o, id);
    sluice_job *j = claim_one(c, "extend");
    sluice_job_info first;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &first, &err), 0);
    int64_t deadline = 0;
    assert_int_equal(sluice_extend(c, id, sluice_job_token(j), 5000, &deadline, &err), 0);
    assert_true(deadline >= first.at + 4900);
    test_redis_after(c, first.at); /* past the first lease's deadline */
    sluice_job_info_clear(&first);
    assert_null(claim_one(c, "extend"));
    assert_int_equal(sluice_ack(c, id, sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    sluice_client_free(c);
}

static void a_failing_job_retries_with_backoff_then_goes_dead_with_the_reason(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "flaky", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.max_attempts = 3};
    enqueue_ok(c, "flaky", "{}", &o, id);
    sluice_error err;
    for (int attempt = 1; attempt <= 3; attempt++) {
        sluice_job *j = NULL;
        WAIT_UNTIL((j = claim_one(c, "flaky")) != NULL, 10000);
        assert_non_null(j);
        assert_int_equal(sluice_job_attempt(j), attempt);
        int64_t retry = 0;
        assert_int_equal(sluice_fail(c, id, sluice_job_token(j), "boom", &retry, &err), 0);
        if (attempt < 3) {
            /* base 1 ms, cap 10 ms: equal jitter keeps it within [b/2, b]
             * for b = 1 ms, then 2 ms (rounded down to whole ms) */
            int64_t b = (int64_t)1 << (attempt - 1);
            assert_true(retry >= b / 2 && retry <= b);
        } else {
            assert_int_equal(retry, -1);
        }
        sluice_job_free(j);
    }
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    assert_string_equal(info.reason, "boom");
    assert_int_equal(info.attempt, 3);
    sluice_job_info_clear(&info);
    size_t n;
    sluice_job_info *dead = sluice_dead_list(c, "flaky", 0, 10, &n, &err);
    assert_int_equal(n, 1);
    assert_string_equal(dead[0].id, id);
    assert_string_equal(dead[0].reason, "boom");
    sluice_dead_list_free(dead, n);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "flaky", &st, &err), 0);
    assert_int_equal(st.failed, 3);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.died, 1);
    sluice_client_free(c);
}

/* Fails the one job of "cls" (claimed now) and returns the retry delay. */
static int64_t fail_now(sluice_client *c, const char *cls) {
    sluice_job *j = NULL;
    WAIT_UNTIL((j = claim_one(c, cls)) != NULL, 20000);
    assert_non_null(j);
    int64_t retry = 0;
    sluice_error err;
    assert_int_equal(sluice_fail(c, sluice_job_id(j), sluice_job_token(j), "boom", &retry, &err), 0);
    sluice_job_free(j);
    return retry;
}

/* After attempt a the delay is within [b*2^(a-1)/2, b*2^(a-1)], capped at
 * backoff_max_ms: never 0, never early. A claim right after the failure
 * finds nothing ready and is told how long until the retry is due. */
static void a_retry_waits_its_backoff_within_its_bounds_and_the_claim_says_how_long(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "backoff", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"backoff_base_ms", "backoff_max_ms", "max_attempts"}, *v[] = {"200", "600", "5"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "backoff", f, v, 3, NULL, &err), 0);
    char id[SLUICE_ID_MAX];
    enqueue_ok(c, "backoff", "{}", NULL, id);
    const int64_t want[4] = {200, 400, 600, 600}; /* 200 x 2^(a-1), capped at 600 */
    for (int a = 1; a <= 4; a++) {
        int64_t retry = fail_now(c, "backoff");
        assert_true(retry >= want[a - 1] / 2 && retry <= want[a - 1]);
        sluice_job_info info;
        assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
        assert_int_equal(info.state, SLUICE_JOB_DELAYED);
        assert_int_equal(info.attempt, a);
        assert_true(info.at - info.now >= 1 && info.at - info.now <= retry);
        sluice_job_info_clear(&info);
        sluice_job *j[1];
        sluice_claim_info ci;
        assert_int_equal(sluice_claim(c, "backoff", "t", 1, j, &ci, &err), 0);
        assert_int_equal(ci.status, SLUICE_CLAIM_EMPTY);
        assert_true(ci.retry_ms >= 1 && ci.retry_ms <= retry);
    }
    sluice_client_free(c);
}

/* A lease that runs out on the job's last attempt ends it: dead, with the
 * reason; with an attempt left, it runs again. */
static void a_lease_that_expires_on_the_last_attempt_sends_the_job_dead(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "lastlease", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"max_reclaims"}, *v[] = {"100"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "lastlease", f, v, 1, NULL, &err), 0);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.timeout_ms = 30, .max_attempts = 2};
    enqueue_ok(c, "lastlease", "{}", &o, id);
    sluice_job *j = claim_one(c, "lastlease");
    assert_non_null(j);
    sluice_job_free(j);
    lease_runs_out(c, id);
    j = claim_one(c, "lastlease"); /* reclaimed: attempt 1 of 2 was spent, one is left */
    assert_non_null(j);
    assert_int_equal(sluice_job_attempt(j), 2);
    sluice_job_free(j);
    lease_runs_out(c, id);
    assert_null(claim_one(c, "lastlease"));
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    assert_int_equal(info.attempt, 2);
    assert_string_equal(info.reason, "lease expired on the last attempt");
    sluice_job_info_clear(&info);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "lastlease", &st, &err), 0);
    assert_int_equal(st.reclaimed, 2);
    assert_int_equal(st.died, 1);
    assert_int_equal(st.claimed, 2);
    sluice_client_free(c);
}

/* A job that goes dead gives its unique key up: the same key makes a new
 * job. Retried from the dead set, a job takes its key back when it is
 * free, and starts clean: attempts and reclaims reset, so it is no suspect
 * and runs beside others. */
static void a_dead_job_frees_its_unique_key_and_a_retried_one_takes_it_back_clean(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "deadkey", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX], again[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.unique = "cert-7", .timeout_ms = 30, .max_attempts = 1};
    enqueue_ok(c, "deadkey", "{}", &o, a);
    sluice_job *j = claim_one(c, "deadkey");
    sluice_job_free(j);
    lease_runs_out(c, a);
    assert_null(claim_one(c, "deadkey")); /* reclaims it: dead, its key given up */
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, a, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    assert_int_equal(info.reclaims, 1);
    sluice_job_info_clear(&info);
    sluice_enqueue_opts k = {.unique = "cert-7"};
    enqueue_ok(c, "deadkey", "{}", &k, b);
    assert_string_not_equal(a, b);
    assert_int_equal(sluice_job_cancel(c, b, &err), 0); /* the key is free again */

    int64_t n = 0;
    assert_int_equal(sluice_dead_retry(c, "deadkey", a, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sluice_job_get(c, a, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    assert_int_equal(info.attempt, 0);
    assert_int_equal(info.reclaims, 0);
    assert_string_equal(info.unique, "cert-7");
    sluice_job_info_clear(&info);
    enqueue_ok(c, "deadkey", "{}", &k, again);
    assert_string_equal(again, a); /* the retried job holds the key */
    /* no suspect: a claim of two takes it with the job behind it */
    char behind[SLUICE_ID_MAX];
    enqueue_ok(c, "deadkey", "{}", NULL, behind);
    sluice_job *two[2];
    sluice_claim_info ci;
    assert_int_equal(sluice_claim(c, "deadkey", "t", 2, two, &ci, &err), 0);
    assert_int_equal(ci.count, 2);
    assert_string_equal(sluice_job_id(two[0]), a);
    assert_int_equal(sluice_job_reclaims(two[0]), 0);
    assert_string_equal(sluice_job_id(two[1]), behind);
    for (int i = 0; i < 2; i++) sluice_job_free(two[i]);
    sluice_client_free(c);
}

/* Fencing tokens are the attempt's alone: a token never repeats in a class,
 * rises with every lease, and ends only the lease it was issued with, not
 * another job's nor a later attempt's of the same job. */
static void a_fencing_token_ends_only_its_own_lease(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "fence", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    enqueue_ok(c, "fence", "{}", NULL, a);
    enqueue_ok(c, "fence", "{}", NULL, b);
    sluice_job *ja = claim_one(c, "fence"), *jb = claim_one(c, "fence");
    sluice_error err;
    assert_true(sluice_job_token(jb) > sluice_job_token(ja));
    /* another job's token */
    assert_int_equal(sluice_ack(c, a, sluice_job_token(jb), &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_release(c, b, sluice_job_token(ja), &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    /* the first attempt's token after a release and a new lease */
    int64_t first = sluice_job_token(ja);
    assert_int_equal(sluice_release(c, a, first, &err), 0);
    sluice_job_free(ja);
    ja = claim_one(c, "fence");
    assert_string_equal(sluice_job_id(ja), a);
    assert_true(sluice_job_token(ja) > sluice_job_token(jb));
    assert_int_equal(sluice_ack(c, a, first, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_extend(c, a, first, 1000, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_ack(c, a, sluice_job_token(ja), &err), 0);
    assert_int_equal(sluice_ack(c, b, sluice_job_token(jb), &err), 0);
    sluice_job_free(ja);
    sluice_job_free(jb);
    sluice_client_free(c);
}

/* Rewrites the leased job "id" of class "cls" (namespace "t") as library
 * version 6 kept it: its lease in its record, no lease entry. */
static void lease_into_record(harness_redis *r, const char *cls, const char *id) {
    static const char *script = "local e = redis.call('HGET', KEYS[1], ARGV[1] .. ':lease') "
                                "local m = cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1])) "
                                "local _, token, attempt, at, started, duty = struct.unpack('<BlHlld', e) "
                                "m[3], m[7], m[11], m[13], m[14], m[15] = attempt, token, 'leased', at, started, duty "
                                "redis.call('HSET', KEYS[1], ARGV[1], cmsgpack.pack(m)) "
                                "return redis.call('HDEL', KEYS[1], ARGV[1] .. ':lease')";
    char key[128];
    snprintf(key, sizeof key, "t:{%s}:jobs", cls);
    redisContext *admin = redisConnectUnix(r->sock);
    redisReply *rep = redisCommand(admin, "EVAL %s 1 %s %s", script, key, id);
    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer != 1)
        fail_msg("rewriting %s: %s", id, rep && rep->str ? rep->str : "no reply");
    freeReplyObject(rep);
    redisFree(admin);
}

/* Jobs leased under library version 6, whose lease is in their record, are
 * read as leased: each token still ends only its own lease (ack, a batch of
 * acks, extend, fail, release), and the checker finds nothing wrong. */
static void a_lease_kept_in_the_record_by_version_6_is_still_honoured(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "v6lease", SLUICE_TIER_NORMAL, 10);
    char id[4][SLUICE_ID_MAX];
    sluice_job *j[4];
    for (int i = 0; i < 4; i++) enqueue_ok(c, "v6lease", "{}", NULL, id[i]);
    for (int i = 0; i < 4; i++) {
        j[i] = claim_one(c, "v6lease");
        assert_string_equal(sluice_job_id(j[i]), id[i]);
        lease_into_record(*state, "v6lease", id[i]);
    }
    test_assert_consistent(c, "v6lease");
    sluice_error err;
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id[0], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_LEASED);
    assert_int_equal(info.attempt, 1);
    sluice_job_info_clear(&info);

    assert_int_equal(sluice_ack(c, id[0], sluice_job_token(j[1]), &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_ack(c, id[0], sluice_job_token(j[0]), &err), 0);
    const char *ids[2] = {id[1], id[2]};
    int64_t tokens[2] = {sluice_job_token(j[1]), sluice_job_token(j[3])};
    sluice_error_code res[2];
    assert_int_equal(sluice_ack_many(c, 2, ids, tokens, res, &err), 0);
    assert_int_equal(res[0], SLUICE_OK);
    assert_int_equal(res[1], SLUICE_ERR_STALE);
    assert_int_equal(sluice_extend(c, id[2], sluice_job_token(j[2]), 60000, NULL, &err), 0);
    int64_t retry = 0;
    assert_int_equal(sluice_fail(c, id[2], sluice_job_token(j[2]), "no", &retry, &err), 0);
    assert_int_equal(sluice_release(c, id[3], sluice_job_token(j[3]), &err), 0);
    assert_int_equal(sluice_job_get(c, id[3], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    assert_int_equal(info.attempt, 0);
    sluice_job_info_clear(&info);
    test_assert_consistent(c, "v6lease");
    for (int i = 0; i < 4; i++) sluice_job_free(j[i]);
    sluice_client_free(c);
}

/* The checker names a lease entry whose job has no record, and a job whose
 * lease entry is not one. */
static void the_checker_names_a_lease_entry_without_a_job_and_a_malformed_one(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "badlease", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    enqueue_ok(c, "badlease", "{}", NULL, id);
    sluice_job *j = claim_one(c, "badlease");
    redisContext *admin = redisConnectUnix(r->sock);
    freeReplyObject(redisCommand(admin, "HSET t:{badlease}:jobs badlease:99:lease Lxx %s:lease xyz", id));
    redisFree(admin);
    sluice_error err;
    const char *cls = "badlease";
    sluice_check *k = sluice_namespace_check(c, &cls, 1, INT64_MAX, &err);
    if (!k) fail_msg("check: %s", err.text);
    int orphan = 0, malformed = 0;
    for (size_t i = 0; i < sluice_check_count(k); i++) {
        const sluice_problem *p = sluice_check_problem(k, i);
        orphan |= !strcmp(p->code, "lease") && !strcmp(p->subject, "badlease:99");
        malformed |= !strcmp(p->code, "meta") && !strcmp(p->subject, id) && strstr(p->detail, "lease") != NULL;
    }
    assert_true(orphan);
    assert_true(malformed);
    sluice_check_free(k);
    sluice_job_free(j);
    sluice_client_free(c);
}

/* A batch of acks ends each lease with its own token: a job reclaimed by
 * another worker meanwhile is refused alone (stale) while the others are
 * acked, its new holder acks it after, a job named twice is acked once, and
 * the counters add up. */
static void a_batch_of_acks_refuses_a_stale_token_alone_and_acks_the_others(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "acks", SLUICE_TIER_NORMAL, 10);
    char id[4][SLUICE_ID_MAX];
    sluice_enqueue_opts quick = {.timeout_ms = 100};
    for (int i = 0; i < 4; i++) enqueue_ok(c, "acks", "{}", i == 1 ? &quick : NULL, id[i]);
    sluice_job *j[4];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, "acks", "w1", 4, j, &info, &err), 0);
    assert_int_equal(info.count, 4);
    lease_runs_out(c, id[1]);
    sluice_job *again = claim_one(c, "acks"); /* another worker reclaims it */
    assert_non_null(again);
    assert_string_equal(sluice_job_id(again), id[1]);
    const char *ids[5];
    int64_t tokens[5];
    for (int i = 0; i < 4; i++) {
        assert_string_equal(sluice_job_id(j[i]), id[i]);
        ids[i] = id[i];
        tokens[i] = sluice_job_token(j[i]);
    }
    ids[4] = id[0]; /* named twice */
    tokens[4] = tokens[0];
    sluice_error_code res[5];
    assert_int_equal(sluice_ack_many(c, 5, ids, tokens, res, &err), 0);
    const sluice_error_code want[5] = {SLUICE_OK, SLUICE_ERR_STALE, SLUICE_OK, SLUICE_OK, SLUICE_ERR_STALE};
    for (int i = 0; i < 5; i++)
        if (res[i] != want[i]) fail_msg("job %d: result %d, expected %d", i, (int)res[i], (int)want[i]);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "acks", &st, &err), 0);
    assert_int_equal(st.acked, 3);
    assert_int_equal(st.leased, 1);
    assert_int_equal(st.reclaimed, 1);
    assert_int_equal(st.enqueued - st.acked, st.ready + st.delayed + st.leased + st.dead);
    test_assert_consistent(c, "acks");
    ids[0] = id[1]; /* the new holder's ack */
    tokens[0] = sluice_job_token(again);
    assert_int_equal(sluice_ack_many(c, 1, ids, tokens, res, &err), 0);
    assert_int_equal(res[0], SLUICE_OK);
    assert_int_equal(sluice_class_stats_get(c, "acks", &st, &err), 0);
    assert_int_equal(st.acked, 4);
    assert_int_equal(st.ready + st.delayed + st.leased + st.dead, 0);
    test_assert_consistent(c, "acks");
    for (int i = 0; i < 4; i++) sluice_job_free(j[i]);
    sluice_job_free(again);
    sluice_client_free(c);
}

/* sluice_ack_many checks every job before it sends anything: a count out of
 * 1..1000, a malformed id, ids of two classes or a token out of range are
 * refused whole with SLUICE_ERR_ARGUMENT naming the job, and every lease
 * stands; an undeclared class is refused by Redis. */
static void a_batch_of_acks_with_one_bad_job_is_refused_whole(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "acksbad", SLUICE_TIER_NORMAL, 10);
    char id[2][SLUICE_ID_MAX];
    for (int i = 0; i < 2; i++) enqueue_ok(c, "acksbad", "{}", NULL, id[i]);
    sluice_job *j[2];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, "acksbad", "t", 2, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    const char *ids[2] = {id[0], id[1]};
    int64_t tokens[2] = {sluice_job_token(j[0]), sluice_job_token(j[1])};
    sluice_error_code res[2];
    static const char *const many_ids[SLUICE_BATCH_MAX + 1] = {0};
    static const int64_t many_tokens[SLUICE_BATCH_MAX + 1] = {0};
    const struct {
        size_t n;
        const char *id1;
        int64_t token1;
        const char *says;
    } bad[] = {
        {0, id[1], tokens[1], "expected 1..1000 jobs"},
        {SLUICE_BATCH_MAX + 1, id[1], tokens[1], "expected 1..1000 jobs"},
        {2, "acksbad:x", tokens[1], "job 1: invalid job id"},
        {2, "acksbad", tokens[1], "job 1: invalid job id"},
        {2, "other:2", tokens[1], "job 1 is not of the class of job 0"},
        {2, id[1], 0, "job 1: token must be"},
        {2, id[1], 9007199254740992LL, "job 1: token must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ids[1] = bad[i].id1;
        tokens[1] = bad[i].token1;
        int big = bad[i].n > 2;
        assert_int_equal(sluice_ack_many(c, bad[i].n, big ? many_ids : ids, big ? many_tokens : tokens, res, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
        if (!strstr(err.text, bad[i].says)) fail_msg("case %zu: %s", i, err.text);
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "acksbad", &st, &err), 0);
    assert_int_equal(st.leased, 2);
    assert_int_equal(st.acked, 0);
    const char *undeclared[1] = {"nosuch:1"};
    assert_int_equal(sluice_ack_many(c, 1, undeclared, tokens, res, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNKNOWN_CLASS);
    ids[1] = id[1];
    tokens[1] = sluice_job_token(j[1]);
    assert_int_equal(sluice_ack_many(c, 2, ids, tokens, res, &err), 0);
    assert_int_equal(res[0], SLUICE_OK);
    assert_int_equal(res[1], SLUICE_OK);
    for (int i = 0; i < 2; i++) sluice_job_free(j[i]);
    sluice_client_free(c);
}

/* An acked job gives its unique key up even when the class keeps it among
 * its done jobs. */
static void an_acked_job_kept_as_done_frees_its_unique_key(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "keepkey", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"keep_done"}, *v[] = {"10"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "keepkey", f, v, 1, NULL, &err), 0);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.unique = "sync-3"};
    enqueue_ok(c, "keepkey", "{}", &o, a);
    sluice_job *j = claim_one(c, "keepkey");
    assert_int_equal(sluice_ack(c, a, sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, a, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DONE);
    sluice_job_info_clear(&info);
    enqueue_ok(c, "keepkey", "{}", &o, b);
    assert_string_not_equal(a, b);
    sluice_client_free(c);
}

static void a_dead_job_can_be_retried_with_attempts_reset_or_purged(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "revive", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.max_attempts = 1};
    enqueue_ok(c, "revive", "{\"a\":1}", &o, a);
    enqueue_ok(c, "revive", "{\"b\":1}", &o, b);
    sluice_error err;
    for (int i = 0; i < 2; i++) {
        sluice_job *j = claim_one(c, "revive");
        assert_int_equal(sluice_fail(c, sluice_job_id(j), sluice_job_token(j), "x", NULL, &err), 0);
        sluice_job_free(j);
    }
    int64_t k = 0;
    assert_int_equal(sluice_dead_retry(c, "revive", a, &k, &err), 0);
    assert_int_equal(k, 1);
    sluice_job *j = claim_one(c, "revive");
    assert_string_equal(sluice_job_id(j), a);
    assert_int_equal(sluice_job_attempt(j), 1);
    sluice_job_free(j);
    assert_int_equal(sluice_dead_purge(c, "revive", NULL, &k, &err), 0);
    assert_int_equal(k, 1);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, b, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    assert_int_equal(sluice_dead_retry(c, "revive", b, &k, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NOT_FOUND);
    sluice_client_free(c);
}

/* A dead job older than dead_ttl_ms goes when another job of its class dies,
 * counted as dropped; a younger one stays. */
static void a_dead_job_past_its_ttl_is_dropped_at_the_next_death(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "aging", SLUICE_TIER_NORMAL, 100);
    const char *f[] = {"dead_ttl_ms"}, *v[] = {"1000"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "aging", f, v, 1, NULL, &err), 0);
    sluice_enqueue_opts o = {.max_attempts = 1};
    char ids[3][SLUICE_ID_MAX];
    int64_t died[3] = {0};
    for (int i = 0; i < 3; i++) {
        if (i == 2) test_redis_after(c, died[0] + 1000); /* the first is past its ttl, the second may be too */
        enqueue_ok(c, "aging", "{}", &o, ids[i]);
        sluice_job *j = claim_one(c, "aging");
        assert_int_equal(sluice_fail(c, sluice_job_id(j), sluice_job_token(j), "x", NULL, &err), 0);
        died[i] = test_redis_now(c); /* at or after its death */
        sluice_job_free(j);
    }
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, ids[0], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    assert_int_equal(sluice_job_get(c, ids[2], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    sluice_job_info_clear(&info);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "aging", &st, &err), 0);
    assert_int_equal(st.dead + st.dead_dropped, 3);
    assert_true(st.dead_dropped >= 1);
    const char *off[] = {"0"};
    assert_int_equal(sluice_class_update(c, "aging", f, off, 1, NULL, &err), 0); /* 0: kept */
    test_redis_after(c, test_redis_now(c) + 1000);
    enqueue_ok(c, "aging", "{}", &o, NULL);
    sluice_job *j = claim_one(c, "aging");
    assert_int_equal(sluice_fail(c, sluice_job_id(j), sluice_job_token(j), "x", NULL, &err), 0);
    sluice_job_free(j);
    sluice_class_stats after;
    assert_int_equal(sluice_class_stats_get(c, "aging", &after, &err), 0);
    assert_int_equal(after.dead_dropped, st.dead_dropped);
    assert_int_equal(after.dead, st.dead + 1);
    sluice_client_free(c);
}

static void the_dead_set_is_capped_oldest_first(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "capped", SLUICE_TIER_NORMAL, 100);
    const char *f[] = {"dead_max"}, *v[] = {"3"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "capped", f, v, 1, NULL, &err), 0);
    sluice_enqueue_opts o = {.max_attempts = 1};
    char ids[5][SLUICE_ID_MAX];
    for (int i = 0; i < 5; i++) {
        enqueue_ok(c, "capped", "{}", &o, ids[i]);
        sluice_job *j = claim_one(c, "capped");
        assert_int_equal(sluice_fail(c, sluice_job_id(j), sluice_job_token(j), "x", NULL, &err), 0);
        sluice_job_free(j);
        test_redis_after(c, test_redis_now(c)); /* the next one dies a millisecond later */
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "capped", &st, &err), 0);
    assert_int_equal(st.dead, 3);
    assert_int_equal(st.dead_dropped, 2);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, ids[0], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    assert_int_equal(sluice_job_get(c, ids[4], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    sluice_job_info_clear(&info);
    sluice_client_free(c);
}

static void a_job_whose_lease_keeps_expiring_goes_dead_as_poison(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "poison", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"max_reclaims", "max_attempts"}, *v[] = {"2", "100"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "poison", f, v, 2, NULL, &err), 0);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.timeout_ms = 20};
    enqueue_ok(c, "poison", "{}", &o, id);
    for (int i = 0; i < 3; i++) {
        sluice_job *j = claim_one(c, "poison");
        assert_non_null(j);
        sluice_job_free(j);
        lease_runs_out(c, id);
    }
    assert_null(claim_one(c, "poison"));
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DEAD);
    assert_non_null(strstr(info.reason, "poison"));
    sluice_job_info_clear(&info);
    sluice_client_free(c);
}

/* ---- quarantine: a job whose lease expired (a suspect) is leased alone ---- */

/* A claim as the worker sends it, on a connection of its own: "busy" 1 says
 * the claimer has jobs in flight. "busy" -1 sends the argument "2". Returns
 * sluice_claim_parse's result; err filled. */
static int claim_as(void **state, const char *cls, size_t n, int busy, sluice_job **j, sluice_claim_info *info,
                    sluice_error *err) {
    harness_redis *r = *state;
    redisContext *rc = redisConnectUnix(r->sock);
    assert_true(rc && !rc->err);
    sluice_command *m = sluice_command_claim("t", cls, "t", n, busy > 0, err);
    assert_non_null(m);
    int argc = sluice_command_argc(m);
    const char *argv[32];
    assert_true(argc <= 32);
    memcpy(argv, sluice_command_argv(m), (size_t)argc * sizeof(*argv));
    assert_string_equal(argv[argc - 1], busy > 0 ? "1" : "0");
    if (busy < 0) argv[argc - 1] = "2"; /* its length, 1, stays right */
    redisReply *reply = redisCommandArgv(rc, argc, argv, sluice_command_argvlen(m));
    int ret = sluice_claim_parse(reply, n, j, info, err);
    freeReplyObject(reply);
    sluice_command_free(m);
    redisFree(rc);
    return ret;
}

/* Enqueues "n" jobs, then makes ids[at] a suspect: the first claim takes
 * ids[0..at] (the others with a long lease) and releases all but ids[at],
 * whose 30 ms lease expires; the next claim reclaims it. ids[] are in the
 * ready set's order. */
/* The n claimed jobs are ids[0..n-1] in that order, each with "reclaims"
 * expired leases (unchecked if < 0); frees them. */
static void expect_claimed(sluice_job **j, int n, char ids[][SLUICE_ID_MAX], int reclaims) {
    for (int i = 0; i < n; i++) {
        assert_string_equal(sluice_job_id(j[i]), ids[i]);
        if (reclaims >= 0) assert_int_equal(sluice_job_reclaims(j[i]), reclaims);
        sluice_job_free(j[i]);
    }
}

static void make_suspect(sluice_client *c, const char *cls, int n, int at, char ids[][SLUICE_ID_MAX]) {
    for (int i = 0; i < n; i++) {
        sluice_enqueue_opts o = {.timeout_ms = i == at ? 30 : 60000};
        enqueue_ok(c, cls, "{}", &o, ids[i]);
    }
    sluice_job *j[8];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, cls, "t", (size_t)at + 1, j, &info, &err), 0);
    assert_int_equal(info.count, at + 1);
    for (int i = 0; i <= at; i++) {
        assert_int_equal(sluice_job_reclaims(j[i]), 0);
        if (i != at) assert_int_equal(sluice_release(c, ids[i], sluice_job_token(j[i]), &err), 0);
        sluice_job_free(j[i]);
    }
    lease_runs_out(c, ids[at]);
}

static void a_suspect_at_the_head_is_leased_alone_to_an_idle_claimer_and_refused_to_a_busy_one(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "quarantine", SLUICE_TIER_NORMAL, 100);
    char ids[3][SLUICE_ID_MAX];
    make_suspect(c, "quarantine", 3, 0, ids);
    sluice_job *j[3];
    sluice_claim_info info;
    sluice_error err;
    /* busy: refused, nothing changes (the claim reclaimed the expired lease) */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(claim_as(state, "quarantine", 3, 1, j, &info, &err), 0);
        assert_int_equal(info.status, SLUICE_CLAIM_SUSPECT);
        assert_int_equal(info.count, 0);
        assert_string_equal(info.id, ids[0]);
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "quarantine", &st, &err), 0);
    assert_int_equal(st.ready, 3);
    assert_int_equal(st.leased, 0);
    assert_int_equal(st.claimed, 1);
    assert_int_equal(st.reclaimed, 1);
    assert_int_equal(st.throttled, 0);
    sluice_job_info ji;
    assert_int_equal(sluice_job_get(c, ids[0], &ji, &err), 0);
    assert_int_equal(ji.state, SLUICE_JOB_READY);
    assert_int_equal(ji.attempt, 1);
    assert_int_equal(ji.reclaims, 1);
    assert_int_equal(ji.ahead, 0);
    sluice_job_info_clear(&ji);
    /* idle: the suspect alone, its reclaims with it */
    assert_int_equal(claim_as(state, "quarantine", 3, 0, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_JOBS);
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(j[0]), ids[0]);
    assert_int_equal(sluice_job_attempt(j[0]), 2);
    assert_int_equal(sluice_job_reclaims(j[0]), 1);
    assert_int_equal(sluice_ack(c, ids[0], sluice_job_token(j[0]), &err), 0);
    sluice_job_free(j[0]);
    /* then the others, together, in order */
    assert_int_equal(claim_as(state, "quarantine", 3, 1, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    expect_claimed(j, 2, ids + 1, 0);
    sluice_client_free(c);
}

static void a_batch_stops_before_a_suspect_and_the_order_is_unchanged(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "quarantine-mid", SLUICE_TIER_NORMAL, 100);
    char ids[5][SLUICE_ID_MAX];
    make_suspect(c, "quarantine-mid", 5, 2, ids);
    sluice_job *j[5];
    sluice_claim_info info;
    sluice_error err;
    /* the sync API is an idle claimer: it gets what precedes the suspect */
    assert_int_equal(sluice_claim(c, "quarantine-mid", "t", 5, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    expect_claimed(j, 2, ids, 0);
    assert_int_equal(claim_as(state, "quarantine-mid", 5, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_SUSPECT);
    assert_string_equal(info.id, ids[2]);
    assert_int_equal(sluice_claim(c, "quarantine-mid", "t", 5, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(j[0]), ids[2]);
    assert_int_equal(sluice_job_reclaims(j[0]), 1);
    sluice_job_free(j[0]);
    assert_int_equal(sluice_claim(c, "quarantine-mid", "t", 5, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    expect_claimed(j, 2, ids + 3, -1);
    sluice_client_free(c);
}

static void a_refused_suspect_spends_no_rate_and_a_throttled_claim_stays_throttled(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "quarantine-rate", SLUICE_TIER_NORMAL, 100);
    char ids[2][SLUICE_ID_MAX];
    make_suspect(c, "quarantine-rate", 2, 0, ids);
    /* one job per 10 s from here on: the bucket admits one claim */
    const char *f[] = {"max_rate", "burst"}, *v[] = {"0.1", "1"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "quarantine-rate", f, v, 2, NULL, &err), 0);
    sluice_job *j[2];
    sluice_claim_info info;
    assert_int_equal(claim_as(state, "quarantine-rate", 2, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_SUSPECT);
    assert_int_equal(claim_as(state, "quarantine-rate", 2, 0, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(j[0]), ids[0]);
    sluice_job_free(j[0]);
    /* the gate decides first: a throttled claim says so, suspect or not */
    assert_int_equal(claim_as(state, "quarantine-rate", 2, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(info.why, "rate");
    /* busy is '0' or '1' */
    assert_int_equal(claim_as(state, "quarantine-rate", 2, -1, j, &info, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    sluice_client_free(c);
}

static void a_released_job_keeps_its_place_and_its_attempt(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "release", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    enqueue_ok(c, "release", "{}", NULL, a);
    enqueue_ok(c, "release", "{}", NULL, b);
    sluice_job *j = claim_one(c, "release");
    sluice_error err;
    assert_int_equal(sluice_release(c, a, sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    j = claim_one(c, "release");
    assert_string_equal(sluice_job_id(j), a);
    assert_int_equal(sluice_job_attempt(j), 1);
    sluice_job_free(j);
    sluice_client_free(c);
}

static void a_waiting_job_can_be_cancelled_but_a_leased_one_cannot(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "cancel", SLUICE_TIER_NORMAL, 10);
    char a[SLUICE_ID_MAX], b[SLUICE_ID_MAX];
    sluice_enqueue_opts u = {.unique = "k"};
    enqueue_ok(c, "cancel", "{}", &u, a);
    enqueue_ok(c, "cancel", "{}", NULL, b);
    sluice_error err;
    assert_int_equal(sluice_job_cancel(c, a, &err), 0);
    assert_int_equal(sluice_job_cancel(c, a, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NOT_FOUND);
    sluice_job *j = claim_one(c, "cancel");
    assert_int_equal(sluice_job_cancel(c, b, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_BUSY);
    sluice_job_free(j);
    char again[SLUICE_ID_MAX];
    enqueue_ok(c, "cancel", "{}", &u, again);
    assert_string_not_equal(again, a);
    sluice_client_free(c);
}

static void acked_jobs_are_kept_when_the_class_retains_them(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "keep", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"keep_done"}, *v[] = {"2"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "keep", f, v, 1, NULL, &err), 0);
    char ids[3][SLUICE_ID_MAX];
    for (int i = 0; i < 3; i++) {
        enqueue_ok(c, "keep", "{}", NULL, ids[i]);
        sluice_job *j = claim_one(c, "keep");
        assert_int_equal(sluice_ack(c, ids[i], sluice_job_token(j), &err), 0);
        sluice_job_free(j);
    }
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, ids[0], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    assert_int_equal(sluice_job_get(c, ids[2], &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DONE);
    sluice_job_info_clear(&info);
    sluice_client_free(c);
}

static void a_full_queue_refuses_the_whole_batch(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "full", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"max_queue"}, *v[] = {"3"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "full", f, v, 1, NULL, &err), 0);
    const char *p[] = {"{}", "{}"};
    size_t done;
    assert_int_equal(sluice_enqueue_many(c, "full", 2, p, NULL, 0, NULL, &done, &err), 0);
    assert_int_equal(sluice_enqueue_many(c, "full", 2, p, NULL, 0, NULL, &done, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_QUEUE_FULL);
    assert_int_equal(done, 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "full", &st, &err), 0);
    assert_int_equal(st.ready, 2);
    sluice_client_free(c);
}

static void a_payload_with_json_whitespace_around_it_is_accepted_as_sent(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "spaced", SLUICE_TIER_NORMAL, 10);
    char id[SLUICE_ID_MAX];
    enqueue_ok(c, "spaced", " \t{\"a\":1}\r\n", NULL, id);
    sluice_job *j = claim_one(c, "spaced");
    assert_string_equal(sluice_job_payload(j), " \t{\"a\":1}\r\n");
    sluice_job_free(j);
    sluice_client_free(c);
}

static void an_undeclared_class_is_refused(void **state) {
    sluice_client *c = test_connect(state);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, "nosuch", "{}", NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNKNOWN_CLASS);
    sluice_client_free(c);
}

static void bad_inputs_get_distinct_errors_and_leave_no_partial_job(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "strict", SLUICE_TIER_NORMAL, 10);
    long long keys_before = harness_redis_int(r, "DBSIZE");
    sluice_error err;
    char id[SLUICE_ID_MAX];
    struct {
        const char *cls;
        const char *payload;
        sluice_error_code want;
    } cases[] = {
        {"Bad", "{}", SLUICE_ERR_NAME},
        {"", "{}", SLUICE_ERR_NAME},
        {"a b", "{}", SLUICE_ERR_NAME},
        {"x{y}", "{}", SLUICE_ERR_NAME},
        {"0123456789012345678901234567890123456789012345678901234567890123456789", "{}", SLUICE_ERR_NAME},
        {"strict", "[1,2]", SLUICE_ERR_PAYLOAD},
        {"strict", "\"s\"", SLUICE_ERR_PAYLOAD},
        {"strict", "{\"a\":", SLUICE_ERR_PAYLOAD},
        {"strict", "{\"a\":\"\\u0000\"}", SLUICE_ERR_PAYLOAD},
        {"strict", "{\"a\":\"\xff\xfe\"}", SLUICE_ERR_PAYLOAD},
        {"strict", "", SLUICE_ERR_PAYLOAD},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sluice_enqueue(c, cases[i].cls, cases[i].payload, NULL, id, &err), -1);
        if (err.code != cases[i].want) fail_msg("case %zu: got %s (%s)", i, sluice_error_name(err.code), err.text);
    }
    /* 256 KiB + 1, and nesting deeper than 32 */
    size_t big = SLUICE_PAYLOAD_HARD_MAX + 1;
    char *p = malloc(big + 1);
    memset(p, ' ', big);
    p[0] = '{';
    p[big - 1] = '}';
    p[big] = '\0';
    assert_int_equal(sluice_enqueue(c, "strict", p, NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    /* within the hard cap but over the class's 64 KiB default: refused by the Function */
    p[70000] = '}';
    p[70001] = '\0';
    assert_int_equal(sluice_enqueue(c, "strict", p, NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    char deep[200] = "";
    for (int i = 0; i < 33; i++) strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 33; i++) strcat(deep, "}");
    assert_int_equal(sluice_enqueue(c, "strict", deep, NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    free(p);
    /* options */
    sluice_enqueue_opts bad[] = {{.priority = 1001},     {.delay_ms = -1},
                                 {.max_attempts = 1001}, {.delay_ms = 5, .run_at_ms = 5},
                                 {.cost = -2},           {.timeout_ms = -1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_enqueue(c, "strict", "{}", &bad[i], id, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
    /* a batch with one bad payload sends nothing */
    const char *batch[] = {"{}", "{}", "[]"};
    size_t done = 99;
    assert_int_equal(sluice_enqueue_many(c, "strict", 3, batch, NULL, 0, NULL, &done, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    assert_int_equal(done, 0);
    assert_int_equal(harness_redis_int(r, "DBSIZE"), keys_before);
    sluice_client_free(c);
}

static void bad_urls_and_a_wrong_password_get_their_own_errors(void **state) {
    (void)state;
    const char *urls[] = {"http://x",          "redis://",        "redis://host:0",       "redis://host:99999",
                          "redis://host:12ab", "redis://host/db", "unix://relative.sock", "redis://ho st",
                          "unix:///x?db=a"};
    sluice_error err;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        assert_null(sluice_client_connect(urls[i], NULL, &err));
        if (err.code != SLUICE_ERR_URL) fail_msg("%s: got %s", urls[i], sluice_error_name(err.code));
    }
    assert_null(sluice_client_connect("redis://127.0.0.1:1", NULL, &err));
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    assert_null(sluice_client_connect("unix:///nonexistent/sluice.sock", NULL, &err));
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);

    const char *extra[] = {"--requirepass", "s3cret", NULL};
    harness_redis auth = {.extra = extra};
    assert_int_equal(harness_redis_start(&auth), 0);
    char url[512];
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", auth.port);
    assert_null(sluice_client_connect(url, NULL, &err));
    assert_int_equal(err.code, SLUICE_ERR_AUTH);
    assert_null(strstr(err.text, "wrong"));
    assert_non_null(strstr(err.text, "authentication failed (check the user and password)"));
    /* no password where one is needed: the same documented words */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", auth.port);
    assert_null(sluice_client_connect(url, NULL, &err));
    assert_int_equal(err.code, SLUICE_ERR_AUTH);
    assert_non_null(strstr(err.text, "authentication failed (check the user and password)"));
    snprintf(url, sizeof(url), "redis://default:s3cret@127.0.0.1:%d/2", auth.port);
    sluice_client *c = sluice_client_connect(url, NULL, &err);
    if (!c) fail_msg("connect: %s", err.text);
    sluice_client_free(c);
    harness_redis_stop(&auth);
}

static void the_functions_are_reloaded_when_redis_loses_them(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "reload", SLUICE_TIER_NORMAL, 10);
    assert_int_equal(harness_redis_int(r, "FUNCTION FLUSH") == -1, 1); /* +OK is not an integer */
    char id[SLUICE_ID_MAX];
    sluice_error err;
    if (sluice_enqueue(c, "reload", "{}", NULL, id, &err) < 0) fail_msg("enqueue: %s", err.text);
    sluice_client_free(c);
}

static void when_redis_is_full_producers_are_refused_and_workers_keep_draining(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "full-mem", SLUICE_TIER_CRITICAL, 0);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    for (int i = 0; i < 200; i++)
        enqueue_ok(c, "full-mem", "{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", NULL, id);
    /* maxmemory just under what is in use: Redis is now full */
    redisContext *admin = redisConnectUnix(r->sock);
    freeReplyObject(redisCommand(admin, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(redisCommand(admin, "CONFIG SET maxmemory 1"));
    assert_int_equal(sluice_enqueue(c, "full-mem", "{}", NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_SERVER);
    assert_non_null(strstr(err.text, "OOM"));
    int drained = 0;
    sluice_job *j;
    while ((j = claim_one(c, "full-mem"))) {
        assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
        sluice_job_free(j);
        drained++;
    }
    assert_int_equal(drained, 200);
    freeReplyObject(redisCommand(admin, "CONFIG SET maxmemory 0"));
    redisFree(admin);
    enqueue_ok(c, "full-mem", "{}", NULL, id);
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_job_is_enqueued_claimed_and_acked_once),
        cmocka_unit_test(an_empty_class_answers_empty_with_the_next_due_time),
        cmocka_unit_test(claims_follow_priority_then_fifo),
        cmocka_unit_test(a_delayed_job_never_starts_before_its_due_time_by_the_redis_clock),
        cmocka_unit_test(a_duplicate_unique_key_returns_the_live_job_and_creates_nothing),
        cmocka_unit_test(each_job_of_a_batch_keeps_its_own_options),
        cmocka_unit_test(a_claimer_that_never_acks_loses_its_jobs_after_the_lease_and_its_late_ack_is_stale),
        cmocka_unit_test(an_extended_lease_is_not_reclaimed),
        cmocka_unit_test(a_failing_job_retries_with_backoff_then_goes_dead_with_the_reason),
        cmocka_unit_test(a_retry_waits_its_backoff_within_its_bounds_and_the_claim_says_how_long),
        cmocka_unit_test(a_lease_that_expires_on_the_last_attempt_sends_the_job_dead),
        cmocka_unit_test(a_dead_job_frees_its_unique_key_and_a_retried_one_takes_it_back_clean),
        cmocka_unit_test(a_fencing_token_ends_only_its_own_lease),
        cmocka_unit_test(a_batch_of_acks_refuses_a_stale_token_alone_and_acks_the_others),
        cmocka_unit_test(a_lease_kept_in_the_record_by_version_6_is_still_honoured),
        cmocka_unit_test(the_checker_names_a_lease_entry_without_a_job_and_a_malformed_one),
        cmocka_unit_test(a_batch_of_acks_with_one_bad_job_is_refused_whole),
        cmocka_unit_test(an_acked_job_kept_as_done_frees_its_unique_key),
        cmocka_unit_test(a_dead_job_can_be_retried_with_attempts_reset_or_purged),
        cmocka_unit_test(the_dead_set_is_capped_oldest_first),
        cmocka_unit_test(a_dead_job_past_its_ttl_is_dropped_at_the_next_death),
        cmocka_unit_test(a_job_whose_lease_keeps_expiring_goes_dead_as_poison),
        cmocka_unit_test(a_suspect_at_the_head_is_leased_alone_to_an_idle_claimer_and_refused_to_a_busy_one),
        cmocka_unit_test(a_batch_stops_before_a_suspect_and_the_order_is_unchanged),
        cmocka_unit_test(a_refused_suspect_spends_no_rate_and_a_throttled_claim_stays_throttled),
        cmocka_unit_test(a_released_job_keeps_its_place_and_its_attempt),
        cmocka_unit_test(a_waiting_job_can_be_cancelled_but_a_leased_one_cannot),
        cmocka_unit_test(acked_jobs_are_kept_when_the_class_retains_them),
        cmocka_unit_test(a_full_queue_refuses_the_whole_batch),
        cmocka_unit_test(a_payload_with_json_whitespace_around_it_is_accepted_as_sent),
        cmocka_unit_test(an_undeclared_class_is_refused),
        cmocka_unit_test(bad_inputs_get_distinct_errors_and_leave_no_partial_job),
        cmocka_unit_test(bad_urls_and_a_wrong_password_get_their_own_errors),
        cmocka_unit_test(the_functions_are_reloaded_when_redis_loses_them),
        cmocka_unit_test(when_redis_is_full_producers_are_refused_and_workers_keep_draining),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
