/* Deadlines against a real redis-server: a job's start_by is kept by the
 * Redis clock until its first start, a late start is counted, a class whose
 * on_expiry is dead dead-letters its expired jobs even while it admits
 * nothing (none lost), the deadline view lists the ready ones in start_by
 * order, and bad start_by values, class fields and raw calls (of an old
 * caller too) are refused whole. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include <jansson.h>

#include "claimer.h"
#include "common.h"

#include "function_calls.h"

#define NS "t"

/* The score of job "id" in class "cls"'s deadlines set; -1 for none. */
static long long entry(redisContext *rc, const char *cls, const char *id) {
    redisReply *r = redisCommand(rc, "ZSCORE " NS ":{%s}:deadlines %s", cls, id);
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

static long long entries(redisContext *rc, const char *cls) {
    redisReply *r = redisCommand(rc, "ZCARD " NS ":{%s}:deadlines", cls);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static sluice_class_stats stats(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    sluice_error err;
    if (sluice_class_stats_get(c, cls, &st, &err) < 0) fail_msg("stats: %s", err.text);
    return st;
}

/* A class that runs what it is given (critical: never throttled), with
 * on_expiry "dead" when "dead" is 1. */
static void deadline_class(sluice_client *c, const char *cls, int dead) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_CRITICAL;
    cfg.on_expiry = dead ? SLUICE_EXPIRY_DEAD : SLUICE_EXPIRY_RUN;
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) fail_msg("class set: %s", err.text);
}

static void enqueue(sluice_client *c, const char *cls, const sluice_enqueue_opts *o, char *id) {
    sluice_error err;
    if (sluice_enqueue(c, cls, "{}", o, id, &err) < 0) fail_msg("enqueue: %s", err.text);
}

/* Claims up to n jobs of cls and acks them; returns how many. */
static size_t claim_ack(sluice_client *c, const char *cls, size_t n, sluice_claim_info *info) {
    sluice_job *jobs[1000];
    sluice_error err;
    if (sluice_claim(c, cls, "t", n, jobs, info, &err) < 0) fail_msg("claim: %s", err.text);
    for (size_t i = 0; i < info->count; i++) {
        if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) fail_msg("ack: %s", err.text);
        sluice_job_free(jobs[i]);
    }
    return info->count;
}

static void a_start_by_is_kept_by_the_redis_clock_until_the_first_start(void **state) {
    sluice_client *c = test_connect(state);
    redisContext *rc = test_raw(state);
    deadline_class(c, "soon", 0);
    sluice_error err;
    char by[SLUICE_ID_MAX], within[SLUICE_ID_MAX], later[SLUICE_ID_MAX], plain[SLUICE_ID_MAX];
    int64_t t0 = test_redis_now(c);
    sluice_enqueue_opts abs = {.start_by_ms = t0 + 60000};
    enqueue(c, "soon", &abs, by);
    sluice_enqueue_opts rel = {.start_within_ms = 30000};
    enqueue(c, "soon", &rel, within);
    int64_t t1 = test_redis_now(c);
    sluice_enqueue_opts delayed = {.delay_ms = 60000, .start_within_ms = 90000};
    enqueue(c, "soon", &delayed, later);
    enqueue(c, "soon", NULL, plain);
    assert_int_equal(entry(rc, "soon", by), t0 + 60000);
    long long w = entry(rc, "soon", within);
    if (w < t0 + 30000 || w > t1 + 30000)
        fail_msg("start_within 30 s resolved to %lld, not in %lld..%lld", w, (long long)t0 + 30000,
                 (long long)t1 + 30000);
    assert_true(entry(rc, "soon", later) >= t0 + 90000);
    assert_int_equal(entry(rc, "soon", plain), -1);
    assert_int_equal(entries(rc, "soon"), 3);
    /* a lookup shows it while the job waits, delayed or ready */
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, by, &info, &err), 0);
    assert_int_equal(info.start_by, t0 + 60000);
    sluice_job_info_clear(&info);
    assert_int_equal(sluice_job_get(c, later, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DELAYED);
    assert_true(info.start_by >= t0 + 90000);
    sluice_job_info_clear(&info);
    assert_int_equal(sluice_job_get(c, plain, &info, &err), 0);
    assert_int_equal(info.start_by, 0);
    sluice_job_info_clear(&info);

    /* the first start removes it, on time: nothing late; a release brings
     * the job back without one */
    sluice_job *jobs[3];
    sluice_claim_info ci;
    assert_int_equal(sluice_claim(c, "soon", "t", 1, jobs, &ci, &err), 0);
    assert_int_equal(ci.count, 1);
    assert_string_equal(sluice_job_id(jobs[0]), by);
    assert_int_equal(entry(rc, "soon", by), -1);
    assert_int_equal(sluice_release(c, by, sluice_job_token(jobs[0]), &err), 0);
    sluice_job_free(jobs[0]);
    assert_int_equal(sluice_job_get(c, by, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    assert_int_equal(info.start_by, 0);
    sluice_job_info_clear(&info);
    assert_int_equal(entry(rc, "soon", by), -1);
    assert_int_equal(claim_ack(c, "soon", 3, &ci), 3);
    assert_int_equal(entries(rc, "soon"), 1); /* the delayed job's */
    assert_int_equal(stats(c, "soon").late, 0);

    /* a start_by already past (within a year) is accepted: late at once,
     * and on_expiry run still runs it, counted as a late start */
    char late[SLUICE_ID_MAX];
    sluice_enqueue_opts past = {.start_by_ms = test_redis_now(c) - 86400000};
    enqueue(c, "soon", &past, late);
    assert_int_equal(claim_ack(c, "soon", 1, &ci), 1);
    assert_int_equal(stats(c, "soon").late, 1);
    assert_int_equal(stats(c, "soon").expired, 0);
    /* a cancel removes the entry of the job it ends */
    assert_int_equal(sluice_job_cancel(c, later, &err), 0);
    assert_int_equal(entries(rc, "soon"), 0);
    test_assert_consistent(c, "soon");
    redisFree(rc);
    sluice_client_free(c);
}

static void a_throttled_class_dead_letters_its_expired_jobs_and_loses_none(void **state) {
    sluice_client *c = test_connect(state);
    deadline_class(c, "expiring", 1);
    sluice_error err;
    /* a non-critical class held at nothing: paused */
    const char *f[] = {"tier", "max_concurrency"}, *v[] = {"low", "10"};
    assert_int_equal(sluice_class_update(c, "expiring", f, v, 2, NULL, &err), 0);
    assert_int_equal(sluice_class_pause(c, "expiring", 0, &err), 0);
    enum { N = 200, FREE = 5 };
    const char *payloads[N];
    for (int i = 0; i < N; i++) payloads[i] = "{\"due\":1}";
    int64_t t0 = test_redis_now(c);
    sluice_enqueue_opts o = {.start_by_ms = t0 + 2000};
    size_t done = 0;
    assert_int_equal(sluice_enqueue_many(c, "expiring", N, payloads, &o, 0, NULL, &done, &err), 0);
    assert_int_equal(sluice_enqueue_many(c, "expiring", FREE, payloads, NULL, 0, NULL, &done, &err), 0);
    /* before the deadline a throttled claim changes nothing */
    sluice_claim_info ci;
    assert_int_equal(claim_ack(c, "expiring", 10, &ci), 0);
    assert_int_equal(ci.status, SLUICE_CLAIM_THROTTLED);
    if (test_redis_now(c) < t0 + 2000) assert_int_equal(stats(c, "expiring").dead, 0);
    test_redis_after(c, t0 + 2000);
    /* past it, throttled claims sweep them, a batch at a time */
    for (int i = 0; i < 10 && stats(c, "expiring").dead < N; i++) {
        assert_int_equal(claim_ack(c, "expiring", 10, &ci), 0);
        assert_int_equal(ci.status, SLUICE_CLAIM_THROTTLED);
    }
    sluice_class_stats st = stats(c, "expiring");
    assert_int_equal(st.dead, N);
    assert_int_equal(st.expired, N);
    assert_int_equal(st.ready, FREE);
    assert_int_equal(st.enqueued, N + FREE);
    assert_int_equal(st.enqueued, st.dead + st.ready + st.delayed + st.leased + st.acked);
    size_t ndead = 0;
    sluice_job_info *dead = sluice_dead_list(c, "expiring", 0, N, &ndead, &err);
    assert_non_null(dead);
    assert_int_equal(ndead, N);
    for (size_t i = 0; i < ndead; i++) assert_string_equal(dead[i].reason, "expired");
    sluice_dead_list_free(dead, ndead);
    redisContext *rc = test_raw(state);
    assert_int_equal(entries(rc, "expiring"), 0);
    redisFree(rc);
    /* and the class still runs its deadline-free jobs once admitted */
    assert_int_equal(sluice_class_resume(c, "expiring", &err), 0);
    size_t ran = 0;
    for (int i = 0; i < 10 && ran < FREE; i++) ran += claim_ack(c, "expiring", FREE, &ci);
    assert_int_equal(ran, FREE);
    test_assert_consistent(c, "expiring");
    sluice_client_free(c);
}

static void the_deadline_view_lists_ready_entries_in_start_by_order_with_their_place(void **state) {
    sluice_client *c = test_connect(state);
    deadline_class(c, "viewed", 0);
    int64_t t0 = test_redis_now(c);
    char id[SLUICE_ID_MAX];
    enqueue(c, "viewed", NULL, id); /* first in line, no deadline */
    sluice_enqueue_opts a = {.start_by_ms = t0 + 50000}, b = {.start_by_ms = t0 + 20000},
                        d = {.start_by_ms = t0 + 10000, .delay_ms = 5000};
    enqueue(c, "viewed", &a, id);
    enqueue(c, "viewed", &b, id);
    enqueue(c, "viewed", &d, id); /* delayed: skipped */
    sluice_deadline_entry e[SLUICE_DEADLINE_VIEW_MAX];
    size_t n = 0;
    int64_t now = 0, total = 0;
    sluice_error err;
    assert_int_equal(sluice_deadline_view(c, "viewed", 10, e, &n, &now, &total, &err), 0);
    assert_int_equal(total, 3);
    assert_true(now >= t0);
    assert_int_equal(n, 2);
    assert_int_equal(e[0].start_by, t0 + 20000);
    assert_int_equal(e[0].ahead, 3);
    assert_int_equal(e[1].start_by, t0 + 50000);
    assert_int_equal(e[1].ahead, 2);
    assert_int_equal(sluice_deadline_view(c, "viewed", 1, e, &n, &now, &total, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].start_by, t0 + 20000);
    assert_int_equal(sluice_deadline_view(c, "viewed", 0, e, &n, &now, &total, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_int_equal(sluice_deadline_view(c, "nosuch", 1, e, &n, &now, &total, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNKNOWN_CLASS);
    sluice_client_free(c);
}

/* ------------------------------------------------------------ bad input */

static void bad_start_by_and_deadline_fields_are_refused_whole_and_change_nothing(void **state) {
    sluice_client *c = test_connect(state);
    deadline_class(c, "strict", 0);
    redisContext *rc = test_raw(state);
    char *before = redis_snapshot(rc);
    int64_t now = test_redis_now(c);
    char year_ago[32], soon[32], later[32], beyond[32];
    snprintf(year_ago, sizeof(year_ago), "%lld", (long long)(now - 366LL * 86400000));
    snprintf(soon, sizeof(soon), "%lld", (long long)(now + 30000));
    snprintf(later, sizeof(later), "%lld", (long long)(now + 60000));
    snprintf(beyond, sizeof(beyond), "%lld", (long long)SLUICE_RUN_AT_MAX + 1);
    const struct {
        const char *run_at, *by, *within, *says;
    } bad[] = {
        {"0", year_ago, "0", "more than a year in the past"},
        {"0", soon, "1000", "exclusive"},
        {later, soon, "0", "before the job's run_at"},
        {"0", "0", "1", "before the job's run_at"}, /* a delay of 60 s below */
        {"0", "abc", "0", "start_by_ms is not an integer"},
        {"0", "NaN", "0", "start_by_ms is not an integer"},
        {"0", "1.5", "0", "start_by_ms is not an integer"},
        {"0", "-5", "0", "start_by_ms is out of range"},
        {"0", beyond, "0", "start_by_ms is out of range"},
        {"0", "0", "nan", "start_within_ms is not an integer"},
        {"0", "0", beyond, "start_within_ms is out of range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *delay = i == 3 ? "60000" : "0";
        /* the bad job is the second: the first, valid, is not written either */
        const char *argv[] = {"2",  "{}",  "0",           "0", "0", "0", "0", "",  "0", "",        "0",          soon,
                              "{}", delay, bad[i].run_at, "0", "0", "0", "",  "0", "",  bad[i].by, bad[i].within};
        char what[64];
        snprintf(what, sizeof(what), "start_by case %zu", i);
        assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_enqueue", "strict", CLASS_NKEYS_NOW, NULL, 23, argv),
                                before, bad[i].says, what);
    }
    const struct {
        const char *field, *value, *says;
    } fields[] = {
        {"deadline_reserve", "-0.1", "deadline_reserve is out of range"},
        {"deadline_reserve", "1.5", "deadline_reserve is out of range"},
        {"deadline_reserve", "NaN", "deadline_reserve is not a finite number"},
        {"deadline_reserve", "abc", "deadline_reserve is not a finite number"},
        {"on_expiry", "maybe", "on_expiry must be one of run, dead"},
        {"on_expiry", "", "on_expiry must be one of run, dead"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *argv[] = {"op", fields[i].field, fields[i].value};
        assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_class_set", "strict", CLASS_NKEYS_NOW, NULL, 3, argv),
                                before, fields[i].says, fields[i].value);
    }
    /* the library refuses the same, before sending or from the Function */
    sluice_error err;
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts both = {.start_by_ms = now + 30000, .start_within_ms = 1000};
    assert_int_equal(sluice_enqueue(c, "strict", "{}", &both, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    sluice_enqueue_opts old = {.start_by_ms = now - 366LL * 86400000};
    assert_int_equal(sluice_enqueue(c, "strict", "{}", &old, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    if (!strstr(err.text, "more than a year in the past")) fail_msg("error: %s", err.text);
    sluice_enqueue_opts negative = {.start_within_ms = -1};
    assert_int_equal(sluice_enqueue(c, "strict", "{}", &negative, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_CRITICAL;
    cfg.deadline_reserve = 1.5;
    assert_int_equal(sluice_class_set(c, "strict", &cfg, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    cfg.deadline_reserve = 0.25;
    cfg.on_expiry = (sluice_on_expiry)7;
    assert_int_equal(sluice_class_set(c, "strict", &cfg, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    char *after = redis_snapshot(rc);
    assert_string_equal(before, after);
    free(after);
    free(before);
    /* good values round-trip */
    cfg.on_expiry = SLUICE_EXPIRY_DEAD;
    assert_int_equal(sluice_class_set(c, "strict", &cfg, NULL, &err), 0);
    sluice_class_config got;
    assert_int_equal(sluice_class_get(c, "strict", &got, &err), 0);
    assert_true(got.deadline_reserve == 0.25);
    assert_int_equal(got.on_expiry, SLUICE_EXPIRY_DEAD);
    redisFree(rc);
    sluice_client_free(c);
}

static void an_old_caller_without_the_deadlines_key_does_no_deadline_work(void **state) {
    sluice_client *c = test_connect(state);
    deadline_class(c, "mixed", 1);
    redisContext *rc = test_raw(state);
    char *before = redis_snapshot(rc);
    /* 13 keys with a start_by: refused whole */
    const char *with[] = {"1", "{}", "0", "0", "0", "0", "0", "", "0", "", "0", "60000"};
    assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_enqueue", "mixed", CLASS_NKEYS_V8, NULL, 12, with), before,
                            "start_by needs the deadlines key", "13 keys and a start_by");
    assert_badarg_unchanged(
        rc, class_fcall(rc, NS, "sluice_deadline_view", "mixed", CLASS_NKEYS_V8, NULL, 1, (const char *[]){"1"}),
        before, "needs the deadlines key", "the view with 13 keys");
    /* keys out of order: the deadlines key where the bucket belongs */
    int order[CLASS_NKEYS_NOW];
    for (int i = 0; i < CLASS_NKEYS_NOW; i++) order[i] = i;
    order[12] = 13;
    order[13] = 12;
    assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_enqueue", "mixed", CLASS_NKEYS_NOW, order, 12, with),
                            before, "keys are not the expected keys", "keys out of order");
    assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_enqueue", "mixed", 12, NULL, 12, with), before,
                            "wrong number of keys", "12 keys");
    free(before);
    /* an old producer's and an old worker's calls still work, and a stale
     * entry (a job an old worker claimed) is skipped, then swept */
    const char *v8[] = {"1", "{}", "0", "0", "0", "0", "0", "", "0", ""};
    redisReply *r = class_fcall(rc, NS, "sluice_enqueue", "mixed", CLASS_NKEYS_V8, NULL, 10, v8);
    if (!r || r->type != REDIS_REPLY_ARRAY) fail_msg("v8 enqueue: %s", r && r->str ? r->str : "");
    freeReplyObject(r);
    int64_t now = test_redis_now(c);
    sluice_enqueue_opts o = {.start_by_ms = now + 1};
    char id[SLUICE_ID_MAX];
    enqueue(c, "mixed", &o, id);
    r = class_fcall(rc, NS, "sluice_claim", "mixed", CLASS_NKEYS_V8, NULL, 3, (const char *[]){"5", "old", "0"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->integer != 2)
        fail_msg("v8 claim: %s", r && r->str ? r->str : "not 2 jobs");
    freeReplyObject(r);
    assert_int_equal(entries(rc, "mixed"), 1);
    sluice_deadline_entry e[1];
    size_t n = 0;
    int64_t total = 0;
    sluice_error err;
    assert_int_equal(sluice_deadline_view(c, "mixed", 1, e, &n, &now, &total, &err), 0);
    assert_int_equal(total, 1);
    assert_int_equal(n, 0);
    test_assert_consistent(c, "mixed");
    test_redis_after(c, now + 1);
    sluice_claim_info ci;
    assert_int_equal(claim_ack(c, "mixed", 1, &ci), 0);
    assert_int_equal(entries(rc, "mixed"), 0);
    assert_int_equal(stats(c, "mixed").expired, 0); /* its job was leased, not expired */
    redisFree(rc);
    sluice_client_free(c);
}

/* ------------------------------------------------ the governor's lift */

enum { LIFT_JOBS = 200, LIFT_CHUNK = 10, LIFT_WORKERS = 10, LIFT_JOB_MS = 100, LIFT_WITHIN_MS = 10000 };

/* A class held at its floor by critical pressure, worked by LIFT_WORKERS
 * claimers (jobs of LIFT_JOB_MS) and governed by a hosted governor: what
 * one run saw. */
typedef struct lift_run {
    test_claimer work;
    double floor, most; /* the class's floor; the largest fraction its gate had */
    char lifted[512];   /* the gate's reason when it was first above the floor */
    char decision[64];  /* the class's "deadline" in the governor's decision then */
} lift_run;

/* The class's "deadline" member in the governor's last decision, as JSON. */
static void decision_deadline(const sluice_governor *g, const char *cls, char *out, size_t len) {
    json_t *d = json_loads(sluice_governor_last_decision(g), 0, NULL), *c;
    size_t i;
    snprintf(out, len, "?");
    json_array_foreach(json_object_get(d, "classes"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), cls) != 0) continue;
        char *t = json_dumps(json_object_get(c, "deadline"), JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(out, len, "%s", t ? t : "?");
        free(t);
    }
    json_decref(d);
}

/* Enqueues LIFT_JOBS jobs due within LIFT_WITHIN_MS into d->work.cls (a low
 * class of LIFT_WORKERS slots at floor 0.1, with "reserve" and on_expiry
 * dead when "dead"), holds it at its floor with a critical signal, and runs
 * the claimers and a governor until every job has started or is dead. */
static void lift_class_run(void **state, lift_run *d, double reserve, int dead) {
    sluice_client *c = test_connect(state);
    sluice_error err;
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_LOW;
    cfg.max_concurrency = LIFT_WORKERS;
    cfg.floor = d->floor = 0.1;
    cfg.deadline_reserve = reserve;
    cfg.on_expiry = dead ? SLUICE_EXPIRY_DEAD : SLUICE_EXPIRY_RUN;
    if (sluice_class_set(c, d->work.cls, &cfg, NULL, &err) < 0) fail_msg("class set: %s", err.text);
    sluice_signal_def sd;
    sluice_signal_def_init(&sd);
    sd.target = 0.8;
    sd.critical = 0.95;
    sd.stale_after_ms = 600000;
    if (sluice_signal_define(c, "db", &sd, NULL, &err) < 0) fail_msg("signal: %s", err.text);
    assert_int_equal(sluice_signal_report(c, "db", 0.97, 0, &err), 0);
    sluice_governor_opts o;
    sluice_governor_opts_init(&o);
    o.tick_ms = 100;
    sluice_client *gc = test_connect(state);
    sluice_governor *g = sluice_governor_new(gc, "lift", &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    sluice_governor_report rep;
    assert_int_equal(sluice_governor_tick(g, &rep, &err), 0);
    assert_int_equal(rep.action, SLUICE_LAW_CRITICAL);
    /* as a producer enqueues them, a few at a time: each chunk due a
     * millisecond after the one before, so the earliest deadlines are the
     * first few jobs in line and the rest of the batch stands behind them */
    const char *payloads[LIFT_CHUNK];
    for (int i = 0; i < LIFT_CHUNK; i++) payloads[i] = "{}";
    for (int k = 0; k < LIFT_JOBS / LIFT_CHUNK; k++) {
        sluice_enqueue_opts eo = {.start_within_ms = LIFT_WITHIN_MS + k};
        size_t done = 0;
        assert_int_equal(sluice_enqueue_many(c, d->work.cls, LIFT_CHUNK, payloads, &eo, 0, NULL, &done, &err), 0);
    }
    pthread_t th[LIFT_WORKERS];
    for (int i = 0; i < LIFT_WORKERS; i++) pthread_create(&th[i], NULL, test_claimer_run, &d->work);
    long long until = harness_now_ms() + 60000;
    sluice_class_stats st;
    do {
        harness_sleep_ms(o.tick_ms); /* pacing: the governor's tick */
        if (sluice_governor_tick(g, &rep, &err) < 0) fail_msg("tick: %s", err.text);
        sluice_gate_info gi;
        if (sluice_gate_get(c, d->work.cls, &gi, &err) < 0) fail_msg("gate: %s", err.text);
        if (gi.fraction > d->most) d->most = gi.fraction;
        if (gi.fraction > d->floor + 1e-9 && !d->lifted[0]) {
            snprintf(d->lifted, sizeof(d->lifted), "%s", gi.reason);
            decision_deadline(g, d->work.cls, d->decision, sizeof(d->decision));
        }
        if (sluice_class_stats_get(c, d->work.cls, &st, &err) < 0) fail_msg("stats: %s", err.text);
    } while (atomic_load(&d->work.started) + st.dead < LIFT_JOBS && harness_now_ms() < until);
    atomic_store(&d->work.stop, 1);
    for (int i = 0; i < LIFT_WORKERS; i++) pthread_join(th[i], NULL);
    if (d->work.error[0]) fail_msg("%s", d->work.error);
    sluice_governor_free(g);
    sluice_client_free(gc);
    sluice_client_free(c);
}

/* A low class held at floor 0.1 by critical pressure: at its floor its 200
 * jobs would take 20 s, their start_by is 10 s away. The governor admits it
 * what they need, within its reserve of 0.3, and says so; every job starts
 * by its start_by. With no reserve and on_expiry dead, the jobs the floor
 * cannot start in time are dead-lettered as expired, none lost. */
static void a_class_at_its_floor_is_admitted_what_its_deadlines_need_within_its_reserve(void **state) {
    static lift_run d;
    memset(&d, 0, sizeof(d));
    d.work.redis = *state;
    d.work.cls = "lifted";
    d.work.job_ms = LIFT_JOB_MS;
    lift_class_run(state, &d, 0.3, 0);
    sluice_client *c = test_connect(state);
    sluice_class_stats st = stats(c, "lifted");
    print_message("deadline lift: %d started, %lld late, most %.2f (floor %.2f, reserve 0.3): %s; %s\n",
                  atomic_load(&d.work.started), (long long)st.late, d.most, d.floor, d.lifted, d.decision);
    assert_int_equal(atomic_load(&d.work.started), LIFT_JOBS);
    assert_int_equal(st.late, 0);
    assert_true(d.most > d.floor + 1e-9);
    assert_true(d.most <= d.floor + 0.3 + 1e-9);
    assert_non_null(strstr(d.lifted, "admitted early for its deadline"));
    assert_non_null(strstr(d.decision, "\"need\""));

    static lift_run x;
    memset(&x, 0, sizeof(x));
    x.work.redis = *state;
    x.work.cls = "expiring-at-floor";
    x.work.job_ms = LIFT_JOB_MS;
    lift_class_run(state, &x, 0, 1);
    st = stats(c, "expiring-at-floor");
    print_message("no reserve, on_expiry dead: %d started, %lld expired\n", atomic_load(&x.work.started),
                  (long long)st.expired);
    assert_true(x.most <= x.floor + 1e-9);
    assert_true(st.expired > 0);
    assert_int_equal(st.dead, st.expired);
    assert_int_equal(atomic_load(&x.work.started) + st.dead, LIFT_JOBS);
    assert_int_equal(st.late, 0);
    test_assert_consistent(c, "expiring-at-floor");
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_start_by_is_kept_by_the_redis_clock_until_the_first_start),
        cmocka_unit_test(a_throttled_class_dead_letters_its_expired_jobs_and_loses_none),
        cmocka_unit_test(the_deadline_view_lists_ready_entries_in_start_by_order_with_their_place),
        cmocka_unit_test(bad_start_by_and_deadline_fields_are_refused_whole_and_change_nothing),
        cmocka_unit_test(an_old_caller_without_the_deadlines_key_does_no_deadline_work),
        cmocka_unit_test(a_class_at_its_floor_is_admitted_what_its_deadlines_need_within_its_reserve),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
