/* The Functions as a producer in another language calls them: raw FCALL
 * with keys in the wrong order, from two namespaces, or a global Function
 * handed another key, against a real redis-server; ids and tokens across a
 * class's deletion; every change audited once, and the counters adding up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common.h"

#include "function_calls.h"

#define NS "t"

/* Every key with its DUMP: a NEW string that any write changes. */
static char *snapshot(redisContext *rc) {
    char *s = redis_snapshot(rc);
    assert_non_null(s);
    return s;
}

/* The reply is an error naming the keys, and nothing was written. */
static void assert_refused_unchanged(redisReply *r, const char *before, redisContext *rc, const char *what) {
    if (!r || r->type != REDIS_REPLY_ERROR) fail_msg("%s was accepted", what);
    if (!strstr(r->str, "BADARG") || !strstr(r->str, "keys")) fail_msg("%s: unexpected error %s", what, r->str);
    char *after = snapshot(rc);
    if (strcmp(before, after) != 0) fail_msg("%s was refused but wrote:\n%s\n---\n%s", what, before, after);
    free(after);
}

/* Class "k" with a ready job, a leased job and a dead job, named in *st. */
static void class_with_jobs(sluice_client *c, fn_state *st) {
    test_class(c, "k", SLUICE_TIER_NORMAL, 10);
    sluice_enqueue_opts once = {.max_attempts = 1};
    char id[SLUICE_ID_MAX];
    sluice_error err;
    for (int i = 0; i < 3; i++) assert_int_equal(sluice_enqueue(c, "k", "{}", &once, id, &err), 0);
    sluice_job *j[2];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "k", "t", 2, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    assert_int_equal(sluice_fail(c, sluice_job_id(j[0]), sluice_job_token(j[0]), "x", NULL, &err), 0);
    st->cls = "k";
    snprintf(st->dead, sizeof(st->dead), "%s", sluice_job_id(j[0]));
    snprintf(st->leased, sizeof(st->leased), "%s", sluice_job_id(j[1]));
    snprintf(st->token, sizeof(st->token), "%lld", (long long)sluice_job_token(j[1]));
    snprintf(st->ready, sizeof(st->ready), "%s", id);
    sluice_job_free(j[0]);
    sluice_job_free(j[1]);
}

/* Every Function, called with its keys in another order (two swapped, all
 * rotated, reversed) or with one key from another namespace, is refused
 * before it reads or writes anything. */
static void every_function_refuses_keys_out_of_order_or_from_two_namespaces(void **state) {
    sluice_client *c = test_connect(state);
    fn_state st;
    class_with_jobs(c, &st);
    fn_call calls[40];
    size_t ncalls = function_calls(&st, calls);
    redisContext *rc = test_raw(state);
    char *before = snapshot(rc);
    for (size_t f = 0; f < ncalls; f++) {
        int n = calls[f].nkeys, swap[CLASS_NKEYS_NOW], rot[CLASS_NKEYS_NOW], rev[CLASS_NKEYS_NOW];
        for (int i = 0; i < n; i++) {
            swap[i] = i;
            rot[i] = (i + 1) % n;
            rev[i] = n - 1 - i;
        }
        if (n > 1) {
            swap[0] = n > 2 ? 2 : 1; /* for a class: ready where class belongs, and back */
            swap[n > 2 ? 2 : 1] = 0;
        }
        const char *mixed[CLASS_NKEYS_NOW] = {0};
        mixed[n - 1] = "other";
        const int *orders[4] = {swap, rot, rev, NULL};
        for (int o = 0; o < 4; o++) {
            if (n == 1) continue; /* one key: one order, one namespace */
            char what[96];
            snprintf(what, sizeof(what), "%s with %s", calls[f].fn,
                     o == 0   ? "two keys swapped"
                     : o == 1 ? "the keys rotated"
                     : o == 2 ? "the keys reversed"
                              : "a key of another namespace");
            redisReply *r = function_call_send(rc, NS, &calls[f], orders[o], o == 3 ? mixed : NULL);
            assert_refused_unchanged(r, before, rc, what);
            freeReplyObject(r);
        }
    }
    /* a namespace that is no namespace */
    redisReply *r = function_call_send(rc, "t t", &calls[1], NULL, NULL);
    assert_refused_unchanged(r, before, rc, "claim in a namespace holding a space");
    freeReplyObject(r);
    free(before);
    redisFree(rc);
    sluice_client_free(c);
}

/* A global Function handed another key where one belongs (the history
 * stream as the audit stream, which would let the governor role switch the
 * governor off unaudited) is refused, and nothing changes. */
static void a_global_function_handed_another_key_is_refused(void **state) {
    redisContext *rc = test_raw(state);
    sluice_client *c = test_connect(state); /* loads the Functions */
    static const char *const hist_as_audit[3] = {"governor", "governor:history", "governor:history"};
    static const char *const sig_hist_as_audit[3] = {"signals", "signal-values", "governor:history"};
    fn_call mode = GLOBAL_CALL("sluice_gov_mode", hist_as_audit, 3, "op", "off");
    fn_call define = GLOBAL_CALL("sluice_signal_define", sig_hist_as_audit, 3, "iops", "op", "0.8", "0.95", "higher",
                                 "30000", "assume-pressure");
    fn_call short_keys = GLOBAL_CALL("sluice_gov_mode", GOVERNOR_SUFFIX, 2, "op", "off");
    char *before = snapshot(rc);
    const fn_call *calls[3] = {&mode, &define, &short_keys};
    for (int i = 0; i < 3; i++) {
        redisReply *r = function_call_send(rc, NS, calls[i], NULL, NULL);
        assert_refused_unchanged(r, before, rc, calls[i]->fn);
        freeReplyObject(r);
    }
    free(before);
    sluice_governor_status st;
    assert_int_equal(sluice_governor_status_get(c, &st, NULL), 0);
    assert_int_equal(st.mode, SLUICE_GOVERNOR_ENFORCE);
    sluice_client_free(c);
    redisFree(rc);
}

/* A worker still running job k:1 of a class that is deleted and declared
 * again can never end the new class's k:1: ids and fencing tokens are not
 * reused. */
static void a_class_deleted_and_declared_again_never_reuses_an_id_or_a_token(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "reborn", SLUICE_TIER_NORMAL, 10);
    char old_id[SLUICE_ID_MAX], new_id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, "reborn", "{}", NULL, old_id, &err), 0);
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "reborn", "t", 1, j, &info, &err), 0);
    int64_t old_token = sluice_job_token(j[0]);
    sluice_job_free(j[0]);
    assert_int_equal(sluice_class_delete(c, "reborn", 1, &err), 0);
    test_class(c, "reborn", SLUICE_TIER_NORMAL, 10);
    assert_int_equal(sluice_enqueue(c, "reborn", "{}", NULL, new_id, &err), 0);
    assert_string_not_equal(new_id, old_id);
    assert_int_equal(sluice_claim(c, "reborn", "t", 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_true(sluice_job_token(j[0]) > old_token);
    /* the old worker's ack */
    assert_int_equal(sluice_ack(c, old_id, old_token, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_ack(c, new_id, old_token, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_ack(c, new_id, sluice_job_token(j[0]), &err), 0);
    sluice_job_free(j[0]);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "reborn", &st, &err), 0);
    assert_int_equal(st.enqueued, 1); /* the counters start again; ids and tokens do not */
    assert_int_equal(st.acked, 1);
    sluice_client_free(c);
}

/* A Redis restored from an older snapshot holds an older token counter:
 * the next lease's token is still above every token handed out before,
 * because a token is never below the Redis clock in microseconds. */
static void a_token_counter_rolled_back_as_by_an_older_snapshot_never_repeats_a_token(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "snap", SLUICE_TIER_NORMAL, 10);
    redisContext *rc = test_raw(state);
    sluice_error err;
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_enqueue(c, "snap", "{}", NULL, id, &err), 0);
    assert_int_equal(sluice_enqueue(c, "snap", "{}", NULL, id, &err), 0);
    redisReply *r = redisCommand(rc, "HGET " NS ":{snap}:stats token");
    assert_non_null(r);
    char *before = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL; /* the snapshot's value */
    freeReplyObject(r);
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "snap", "t", 1, j, &info, &err), 0);
    int64_t first = sluice_job_token(j[0]);
    sluice_job_free(j[0]);
    r = before ? redisCommand(rc, "HSET " NS ":{snap}:stats token %s", before)
               : redisCommand(rc, "HDEL " NS ":{snap}:stats token");
    assert_non_null(r);
    freeReplyObject(r);
    free(before);
    assert_int_equal(sluice_claim(c, "snap", "t", 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_true(sluice_job_token(j[0]) > first);
    sluice_job_free(j[0]);
    redisFree(rc);
    sluice_client_free(c);
}

static int64_t audit_len(sluice_client *c, const char *cls) {
    size_t n = 0;
    sluice_audit_entry *a = sluice_audit_list(c, cls, 1000, &n, NULL);
    sluice_audit_list_free(a, n);
    return (int64_t)n;
}

/* enqueued - acked - cancelled - purged - dead_dropped = ready + delayed +
 * leased + dead, and the audit has grown by "more" since *was. */
static void assert_counters_add_up(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, NULL), 0);
    int64_t live = st.ready + st.delayed + st.leased + st.dead;
    int64_t left = st.enqueued - st.acked - st.cancelled - st.purged - st.dead_dropped;
    if (live != left)
        fail_msg("%s: enqueued %lld - acked %lld - cancelled %lld - purged %lld - dead_dropped %lld = %lld, "
                 "but %lld jobs live",
                 cls, (long long)st.enqueued, (long long)st.acked, (long long)st.cancelled, (long long)st.purged,
                 (long long)st.dead_dropped, (long long)left, (long long)live);
}

/* Cancel, dead retry and dead purge are audited, once each and only when
 * they change something; a call that changes nothing writes no row; the
 * counters add up after every step. */
static void every_change_is_audited_once_and_the_counters_add_up(void **state) {
    sluice_client *c = test_connect(state);
    assert_int_equal(sluice_client_set_name(c, "ops-ana", NULL), 0);
    test_class(c, "audited", SLUICE_TIER_NORMAL, 10);
    const char *f[] = {"dead_max"}, *v[] = {"2"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "audited", f, v, 1, NULL, &err), 0);
    int64_t rows = audit_len(c, "audited");
    sluice_enqueue_opts once = {.max_attempts = 1};
    char ids[5][SLUICE_ID_MAX];
    for (int i = 0; i < 5; i++) assert_int_equal(sluice_enqueue(c, "audited", "{}", &once, ids[i], &err), 0);
    assert_counters_add_up(c, "audited");
    assert_int_equal(sluice_job_cancel(c, ids[0], &err), 0);
    assert_int_equal(audit_len(c, "audited"), ++rows);
    assert_counters_add_up(c, "audited");
    assert_int_equal(sluice_job_cancel(c, ids[0], &err), -1); /* nothing to cancel: no row */
    assert_int_equal(audit_len(c, "audited"), rows);
    for (int i = 0; i < 4; i++) { /* four die; the cap of 2 drops the two oldest */
        sluice_job *j[1];
        sluice_claim_info info;
        assert_int_equal(sluice_claim(c, "audited", "t", 1, j, &info, &err), 0);
        assert_int_equal(sluice_fail(c, sluice_job_id(j[0]), sluice_job_token(j[0]), "x", NULL, &err), 0);
        sluice_job_free(j[0]);
        assert_counters_add_up(c, "audited");
    }
    int64_t n = 0;
    assert_int_equal(sluice_dead_retry(c, "audited", ids[4], &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(audit_len(c, "audited"), ++rows);
    assert_counters_add_up(c, "audited");
    assert_int_equal(sluice_dead_purge(c, "audited", NULL, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(audit_len(c, "audited"), ++rows);
    assert_counters_add_up(c, "audited");
    assert_int_equal(sluice_dead_purge(c, "audited", NULL, &n, &err), 0); /* none left: no row */
    assert_int_equal(n, 0);
    assert_int_equal(sluice_dead_retry(c, "audited", NULL, &n, &err), 0);
    assert_int_equal(audit_len(c, "audited"), rows);
    size_t k = 0;
    sluice_audit_entry *a = sluice_audit_list(c, "audited", 3, &k, &err);
    assert_int_equal(k, 3);
    assert_string_equal(a[0].what, "dead purged");
    assert_string_equal(a[1].what, "dead retried");
    assert_string_equal(a[2].what, "job cancelled");
    for (size_t i = 0; i < k; i++) assert_string_equal(a[i].actor, "ops-ana");
    sluice_audit_list_free(a, k);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "audited", &st, &err), 0);
    assert_int_equal(st.purged, 1);
    assert_int_equal(st.dead_dropped, 2);
    sluice_client_free(c);
}

/* Bad arguments each get their own words: a claim with no consumer name
 * says so (not "too long"). */
static void a_claim_without_a_consumer_name_says_it_is_missing(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "noname", SLUICE_TIER_NORMAL, 10);
    redisContext *rc = test_raw(state);
    fn_state st = {.cls = "noname"};
    fn_call calls[40];
    function_calls(&st, calls);
    fn_call claim = calls[1];
    assert_string_equal(claim.fn, "sluice_claim");
    claim.argc = 2; /* class and n only */
    redisReply *r = function_call_send(rc, NS, &claim, NULL, NULL);
    assert_true(r && r->type == REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "consumer name is missing"));
    freeReplyObject(r);
    redisFree(rc);
    sluice_client_free(c);
}

/* A gate fenced by the highest epoch there is (a hostile or broken caller)
 * locks every governor out, until governor mode off clears the fence. */
static void governor_mode_off_clears_a_gate_fenced_by_an_epoch_no_governor_can_reach(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "fenced", SLUICE_TIER_LOW, 10);
    sluice_error err;
    assert_int_equal(sluice_gate_govern(c, "fenced", 9007199254740991LL, 0.5, 60000, "hostile", 0, &err), 0);
    assert_int_equal(sluice_gate_govern(c, "fenced", 5, 0.8, 60000, "the real governor", 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    assert_int_equal(sluice_gate_ungovern(c, "fenced", &err), 0); /* what mode off does */
    assert_int_equal(sluice_gate_govern(c, "fenced", 5, 0.8, 60000, "the real governor", 0, &err), 0);
    sluice_gate_info g;
    assert_int_equal(sluice_gate_get(c, "fenced", &g, &err), 0);
    assert_int_equal(g.epoch, 5);
    sluice_client_free(c);
}

/* sluice_ack_many called raw with class k's keys, "argc" arguments from
 * argv; the reply is NEW. */
static redisReply *ack_many_raw(redisContext *rc, int argc, const char *const *argv) {
    const char **a = malloc((size_t)(3 + 13 + argc) * sizeof(*a));
    char keys[13][64];
    int n = 0;
    a[n++] = "FCALL";
    a[n++] = "sluice_ack_many";
    a[n++] = "13";
    for (int i = 0; i < 13; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s:{k}:%s", NS, CLASS_SUFFIX[i]);
        a[n++] = keys[i];
    }
    for (int i = 0; i < argc; i++) a[n++] = argv[i];
    redisReply *r = redisCommandArgv(rc, n, a, NULL);
    free(a);
    return r;
}

/* A producer in another language acking a batch: one malformed pair
 * anywhere (a wrong count, a token that is no token, an id of another
 * class, more than 1000 pairs) refuses the whole call with BADARG naming the
 * problem and the pair, and nothing changes; a well-formed batch answers
 * per pair. */
static void a_batch_of_acks_with_one_malformed_pair_is_refused_whole_by_raw_fcall(void **state) {
    sluice_client *c = test_connect(state);
    fn_state st;
    class_with_jobs(c, &st);
    redisContext *rc = test_raw(state);
    char *before = snapshot(rc);
    const char *id = st.leased, *tok = st.token;
    const struct {
        int argc;
        const char *argv[6];
        const char *says;
    } bad[] = {
        {1, {"k"}, "wrong number of arguments"},
        {2, {"k", id}, "wrong number of arguments"},
        {4, {"k", id, tok, id}, "wrong number of arguments"},
        {5, {"k", id, tok, id, "x1"}, "token of pair 2 is not an integer"},
        {5, {"k", id, tok, id, "0"}, "token of pair 2 is out of range"},
        {5, {"k", id, tok, id, "1.5"}, "token of pair 2 is not an integer"},
        {5, {"k", id, tok, "other:1", tok}, "job id of pair 2 does not name this class"},
        {3, {"k", "k:", tok}, "job id of pair 1 does not name this class"},
        {5, {"k", id, tok, "k:1", tok}, NULL}, /* well-formed, see below */
    };
    for (size_t i = 0; bad[i].says; i++) {
        redisReply *r = ack_many_raw(rc, bad[i].argc, bad[i].argv);
        if (!r || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "BADARG") || !strstr(r->str, bad[i].says))
            fail_msg("case %zu: expected BADARG %s, got %s", i, bad[i].says, r && r->str ? r->str : "no error");
        freeReplyObject(r);
        char *after = snapshot(rc);
        if (strcmp(before, after) != 0) fail_msg("case %zu was refused but wrote", i);
        free(after);
    }
    /* 1001 well-formed pairs */
    enum { OVER = 1001 };
    const char **many = malloc((1 + 2 * OVER) * sizeof(*many));
    many[0] = "k";
    for (int i = 0; i < OVER; i++) {
        many[1 + 2 * i] = id;
        many[2 + 2 * i] = tok;
    }
    redisReply *r = ack_many_raw(rc, 1 + 2 * OVER, many);
    assert_true(r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "BADARG") && strstr(r->str, "1..1000 pairs"));
    freeReplyObject(r);
    free(many);
    char *after = snapshot(rc);
    assert_string_equal(before, after);
    free(after);
    /* the leased job and a job that is not leased (dead or gone): acked, and stale */
    size_t last = sizeof(bad) / sizeof(bad[0]) - 1;
    r = ack_many_raw(rc, bad[last].argc, bad[last].argv);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->element[0]->integer, 1);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[1]->str, "STALE");
    freeReplyObject(r);
    free(before);
    redisFree(rc);
    sluice_client_free(c);
}

/* A producer in another language gets the payload checks the C library
 * makes: a JSON object, nested at most 32 deep, no NaN, no NUL. */
static void an_enqueue_by_raw_fcall_checks_the_payload_as_the_c_library_does(void **state) {
    sluice_client *c = test_connect(state);
    test_class(c, "payloads", SLUICE_TIER_NORMAL, 10);
    redisContext *rc = test_raw(state);
    fn_state st = {.cls = "payloads"};
    fn_call calls[40];
    function_calls(&st, calls);
    fn_call enq = calls[0];
    assert_string_equal(enq.fn, "sluice_enqueue");
    char deep[200], deeper[220];
    int k = 0;
    for (int i = 0; i < 31; i++) k += sprintf(deep + k, "{\"a\":");
    k += sprintf(deep + k, "{}");
    for (int i = 0; i < 31; i++) deep[k++] = '}';
    deep[k] = '\0';
    snprintf(deeper, sizeof(deeper), "{\"b\":%s}", deep);
    const char *good[] = {"{}", " {\"a\":[1,{\"b\":null}]} \n", deep};
    const char *bad[] = {"{garbage}",           "{\"a\":1} x", "[]",   "{\"a\":NaN}",
                         "{\"a\":\"\\u0000\"}", "{",           deeper, "{\"a\":1,}"};
    sluice_error err;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(sluice_payload_check(good[i], strlen(good[i]), &err), 0);
        enq.argv[2] = good[i];
        redisReply *r = function_call_send(rc, NS, &enq, NULL, NULL);
        if (!r || r->type != REDIS_REPLY_ARRAY) fail_msg("%s refused: %s", good[i], r ? r->str : "");
        freeReplyObject(r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_payload_check(bad[i], strlen(bad[i]), &err), -1);
        enq.argv[2] = bad[i];
        redisReply *r = function_call_send(rc, NS, &enq, NULL, NULL);
        if (!r || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "PAYLOAD")) fail_msg("%s accepted", bad[i]);
        freeReplyObject(r);
    }
    sluice_class_stats s;
    assert_int_equal(sluice_class_stats_get(c, "payloads", &s, &err), 0);
    assert_int_equal(s.enqueued, 3);
    redisFree(rc);
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_function_refuses_keys_out_of_order_or_from_two_namespaces),
        cmocka_unit_test(a_global_function_handed_another_key_is_refused),
        cmocka_unit_test(a_class_deleted_and_declared_again_never_reuses_an_id_or_a_token),
        cmocka_unit_test(a_token_counter_rolled_back_as_by_an_older_snapshot_never_repeats_a_token),
        cmocka_unit_test(every_change_is_audited_once_and_the_counters_add_up),
        cmocka_unit_test(a_claim_without_a_consumer_name_says_it_is_missing),
        cmocka_unit_test(an_enqueue_by_raw_fcall_checks_the_payload_as_the_c_library_does),
        cmocka_unit_test(a_batch_of_acks_with_one_malformed_pair_is_refused_whole_by_raw_fcall),
        cmocka_unit_test(governor_mode_off_clears_a_gate_fenced_by_an_epoch_no_governor_can_reach),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
