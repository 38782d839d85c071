/* Fair shares by key against a real redis-server: one key's backlog does
 * not hold back another key's job, weights share the starts, priorities and
 * FIFO hold inside a key, a job whose lease ends keeps its place, and bad
 * keys and weights are refused whole, through the library and by raw FCALL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common_proc.h"

#include "function_calls.h"

#define NS "t"

/* A critical class (never throttled) with the given key weights (NULL:
 * none). */
static void fair_class(sluice_client *c, const char *cls, const char *weights) {
    test_class(c, cls, SLUICE_TIER_CRITICAL, 0);
    if (!weights) return;
    const char *f[] = {"key_weights"}, *v[] = {weights};
    sluice_error err;
    if (sluice_class_update(c, cls, f, v, 1, NULL, &err) < 0) fail_msg("key weights: %s", err.text);
}

/* Enqueues n jobs of "key" (NULL: keyless), payload {"k":"<key>","i":<i>}. */
static void enqueue_key(sluice_client *c, const char *cls, const char *key, int n, int priority) {
    char **p = malloc((size_t)n * sizeof(*p));
    for (int i = 0; i < n; i++) {
        p[i] = malloc(64 + SLUICE_KEY_MAX);
        snprintf(p[i], 64 + SLUICE_KEY_MAX, "{\"k\":\"%s\",\"i\":%d}", key ? key : "", i);
    }
    sluice_enqueue_opts o = {.key = key, .priority = priority};
    sluice_error err;
    size_t done = 0;
    if (sluice_enqueue_many(c, cls, (size_t)n, (const char *const *)p, &o, 0, NULL, &done, &err) < 0)
        fail_msg("enqueue %s: %s", key ? key : "-", err.text);
    for (int i = 0; i < n; i++) free(p[i]);
    free(p);
}

/* The key and index of a job's payload into key (64 bytes); returns i. */
static int job_key(const sluice_job *j, char *key) {
    int i = -1;
    key[0] = '\0';
    if (sscanf(sluice_job_payload(j), "{\"k\":\"%63[^\"]\",\"i\":%d}", key, &i) < 1)
        sscanf(sluice_job_payload(j), "{\"k\":\"\",\"i\":%d}", &i);
    return i;
}

/* Claims up to "max" jobs on c and acks them; their keys and indexes go to
 * keys[at..] and idx[at..]. Returns how many. */
static size_t claim_ack(sluice_client *c, const char *cls, size_t max, char (*keys)[64], int *idx, size_t at) {
    sluice_job *jobs[1000];
    sluice_claim_info info;
    sluice_error err;
    if (sluice_claim(c, cls, "t", max, jobs, &info, &err) < 0) fail_msg("claim: %s", err.text);
    for (size_t i = 0; i < info.count; i++) {
        idx[at + i] = job_key(jobs[i], keys[at + i]);
        if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) fail_msg("ack: %s", err.text);
        sluice_job_free(jobs[i]);
    }
    return info.count;
}

static void one_keys_backlog_delays_another_keys_job_by_about_one_round(void **state) {
    sluice_client *c[4];
    for (int i = 0; i < 4; i++) c[i] = test_connect(state);
    fair_class(c[0], "tenants", NULL);
    enqueue_key(c[0], "tenants", "A", 20000, 0);
    const char *late[] = {"B", "C", "D", "E"};
    for (int i = 0; i < 4; i++) enqueue_key(c[0], "tenants", late[i], 1, 0);
    /* four claimers in turns, one job each, until A's 50th has started */
    enum { STARTS = 200 };
    static char keys[STARTS][64];
    static int idx[STARTS];
    size_t n = 0;
    long a50 = -1, seen[4] = {-1, -1, -1, -1};
    while (n < STARTS && a50 < 0) {
        size_t got = claim_ack(c[n % 4], "tenants", 1, keys, idx, n);
        assert_int_equal(got, 1);
        if (!strcmp(keys[n], "A") && idx[n] == 49) a50 = (long)n;
        for (int k = 0; k < 4; k++)
            if (!strcmp(keys[n], late[k])) seen[k] = (long)n;
        n++;
    }
    assert_true(a50 >= 0);
    test_assert_consistent(c[0], "tenants");
    for (int k = 0; k < 4; k++)
        if (seen[k] < 0 || seen[k] > a50) fail_msg("%s's job started at %ld, A's 50th at %ld", late[k], seen[k], a50);
    /* and A's own jobs ran in order */
    int last = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], "A")) continue;
        assert_int_equal(idx[i], last + 1);
        last = idx[i];
    }
    for (int i = 0; i < 4; i++) sluice_client_free(c[i]);
}

static void weights_share_the_starts_of_keys_that_both_wait(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "weighted", "{\"A\":3,\"B\":1}");
    enqueue_key(c, "weighted", "A", 3000, 0);
    enqueue_key(c, "weighted", "B", 3000, 0);
    enum { STARTS = 2000 };
    static char keys[STARTS][64];
    static int idx[STARTS];
    size_t n = 0;
    while (n < STARTS) n += claim_ack(c, "weighted", STARTS - n < 100 ? STARTS - n : 100, keys, idx, n);
    int a = 0;
    for (size_t i = 0; i < STARTS; i++) a += !strcmp(keys[i], "A");
    double share = (double)a / STARTS;
    if (share < 0.70 || share > 0.80) fail_msg("A's share of %d starts is %.3f, not 0.75 +- 0.05", STARTS, share);
    test_assert_consistent(c, "weighted");
    sluice_client_free(c);
}

static void priorities_and_fifo_hold_inside_a_key(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "ordered", NULL);
    enqueue_key(c, "ordered", "A", 5, 0);
    enqueue_key(c, "ordered", "A", 1, 5); /* A's urgent job, enqueued last */
    enqueue_key(c, "ordered", "B", 2, 0);
    enqueue_key(c, "ordered", NULL, 2, 0);
    /* the keys that wait most, keyless jobs apart */
    sluice_key_depth top[SLUICE_TOP_KEYS_MAX];
    size_t ntop;
    sluice_error err;
    assert_int_equal(sluice_top_keys(c, "ordered", 10, top, &ntop, &err), 0);
    assert_int_equal(ntop, 2);
    assert_string_equal(top[0].key, "A");
    assert_int_equal(top[0].waiting, 6);
    assert_string_equal(top[1].key, "B");
    assert_int_equal(top[1].waiting, 2);
    assert_int_equal(sluice_top_keys(c, "ordered", 1, top, &ntop, &err), 0);
    assert_int_equal(ntop, 1);
    char keys[10][64];
    int idx[10];
    size_t n = 0;
    while (n < 10) {
        size_t got = claim_ack(c, "ordered", 1, keys, idx, n);
        assert_int_equal(got, 1);
        n += got;
    }
    /* the urgent job first; then every key in turn, each in its own order */
    assert_string_equal(keys[0], "A");
    assert_int_equal(idx[0], 0);
    int next_a = 0, next_b = 0, next_none = 0;
    for (size_t i = 1; i < n; i++) {
        int *next = !strcmp(keys[i], "A") ? &next_a : !strcmp(keys[i], "B") ? &next_b : &next_none;
        assert_int_equal(idx[i], (*next)++);
    }
    assert_int_equal(next_a, 5);
    /* B's two and the two keyless jobs started among A's first four */
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i], "A") && i > 6) fail_msg("a %s job waited behind A's backlog (start %zu)", keys[i], i);
    assert_int_equal(sluice_top_keys(c, "ordered", 10, top, &ntop, &err), 0);
    assert_int_equal(ntop, 0);
    sluice_client_free(c);
}

static void a_released_or_reclaimed_keyed_job_keeps_its_place_in_its_key(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "returns", NULL);
    enqueue_key(c, "returns", "A", 100, 0);
    sluice_job *jobs[2];
    sluice_claim_info info;
    sluice_error err;
    /* released: the same job comes back first */
    assert_int_equal(sluice_claim(c, "returns", "t", 1, jobs, &info, &err), 0);
    assert_int_equal(info.count, 1);
    char first[SLUICE_ID_MAX];
    snprintf(first, sizeof(first), "%s", sluice_job_id(jobs[0]));
    assert_int_equal(sluice_release(c, first, sluice_job_token(jobs[0]), &err), 0);
    sluice_job_free(jobs[0]);
    assert_int_equal(sluice_claim(c, "returns", "t", 1, jobs, &info, &err), 0);
    assert_string_equal(sluice_job_id(jobs[0]), first);
    /* reclaimed after its lease expires: first again, before A's backlog */
    assert_int_equal(sluice_extend(c, first, sluice_job_token(jobs[0]), 1, NULL, &err), 0);
    sluice_job_free(jobs[0]);
    int64_t t0 = test_redis_now(c);
    test_redis_after(c, t0 + 5);
    assert_int_equal(sluice_claim(c, "returns", "t", 1, jobs, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(jobs[0]), first);
    assert_int_equal(sluice_job_reclaims(jobs[0]), 1);
    assert_int_equal(sluice_ack(c, first, sluice_job_token(jobs[0]), &err), 0);
    sluice_job_free(jobs[0]);
    test_assert_consistent(c, "returns");
    sluice_client_free(c);
}

static void a_delayed_keyed_job_joins_its_own_key_when_due_not_the_back_of_the_class(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "later", NULL);
    enqueue_key(c, "later", "A", 500, 0);
    sluice_enqueue_opts o = {.key = "B", .delay_ms = 1};
    char id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, "later", "{\"k\":\"B\",\"i\":0}", &o, id, &err), 0);
    int64_t t0 = test_redis_now(c);
    test_redis_after(c, t0 + 2);
    /* promoted at the next claim: one round of the keys that wait */
    char keys[3][64];
    int idx[3];
    size_t n = 0;
    while (n < 3) n += claim_ack(c, "later", 1, keys, idx, n);
    int b = 0;
    for (size_t i = 0; i < n; i++) b |= !strcmp(keys[i], "B");
    if (!b) fail_msg("B's job was not among the first 3 starts after it was due");
    test_assert_consistent(c, "later");
    sluice_client_free(c);
}

/* ------------------------------------------------------------ bad input */

static void bad_keys_and_weights_by_raw_fcall_are_refused_and_change_nothing(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "hostile", "{\"A\":2}");
    redisContext *rc = test_raw(state);
    char *before = redis_snapshot(rc);
    char *big = malloc(10 * 1024 + 1);
    memset(big, 'k', 10 * 1024);
    big[10 * 1024] = '\0';
    char over[SLUICE_KEY_MAX + 2];
    memset(over, 'x', SLUICE_KEY_MAX + 1);
    over[SLUICE_KEY_MAX + 1] = '\0';
    const char *keys[] = {big, over, "a\nb", "tab\there", "\x7f"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        /* the bad key is the second job's: the first, valid, is not written either */
        const char *argv[] = {"2",  "{}", "0", "0", "0", "0", "0", "",  "0",    "A",
                              "{}", "0",  "0", "0", "0", "0", "",  "0", keys[i]};
        redisReply *r = class_fcall(rc, NS, "sluice_enqueue", "hostile", CLASS_NKEYS_V8, NULL, 19, argv);
        assert_badarg_unchanged(rc, r, before, "fairness key", "a bad key");
    }
    const char *weights[] = {"[]",
                             "{",
                             "3",
                             "{\"A\":0}",
                             "{\"A\":-1}",
                             "{\"A\":1.5}",
                             "{\"A\":\"3\"}",
                             "{\"A\":101}",
                             "{\"A\":NaN}",
                             "{\"A\":1e999}",
                             "{\"\":2}",
                             "{\"a\\nb\":2}",
                             "{\"A\":7,\"B\":11,\"C\":13}",
                             NULL,
                             NULL};
    char many[64 * 16 + 16];
    int at = sprintf(many, "{");
    for (int i = 0; i <= SLUICE_KEY_WEIGHTS_MAX; i++) at += sprintf(many + at, "%s\"k%d\":1", i ? "," : "", i);
    sprintf(many + at, "}");
    weights[13] = many;
    for (size_t i = 0; weights[i]; i++) {
        const char *argv[] = {"op", "key_weights", weights[i]};
        assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_class_set", "hostile", CLASS_NKEYS_V8, NULL, 3, argv),
                                before, "key_weights", weights[i]);
    }
    /* the library refuses the same, before sending */
    sluice_error err;
    const char *f[] = {"key_weights"};
    for (size_t i = 0; weights[i]; i++) {
        const char *v[] = {weights[i]};
        assert_int_equal(sluice_class_update(c, "hostile", f, v, 1, NULL, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        sluice_enqueue_opts o = {.key = keys[i]};
        char id[SLUICE_ID_MAX];
        assert_int_equal(sluice_enqueue(c, "hostile", "{}", &o, id, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
    char *after = redis_snapshot(rc);
    assert_string_equal(before, after);
    free(after);
    free(before);
    free(big);
    redisFree(rc);
    sluice_client_free(c);
}

/* The top keys of "cls" (at most 10) as text: "key waiting running;"... */
static void top_keys_text(sluice_client *c, const char *cls, char *out, size_t cap) {
    sluice_key_depth top[10];
    size_t n;
    sluice_error err;
    if (sluice_top_keys(c, cls, 10, top, &n, &err) < 0) fail_msg("top keys: %s", err.text);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s %lld %lld;", top[i].key, (long long)top[i].waiting,
                               (long long)top[i].running);
}

/* An operator sees each key's leased jobs beside its waiting ones, and a
 * job's key. The key is read past payloads of each string form msgpack
 * has (fixstr, str8, str16, str32). A caller of version 9 gets the replies
 * it knows; a bad flag is refused. */
static void top_keys_count_each_keys_leased_jobs_and_a_job_shows_its_key(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "running", NULL);
    const char *f[] = {"payload_max"}, *v[] = {"200000"};
    sluice_error err;
    if (sluice_class_update(c, "running", f, v, 1, NULL, &err) < 0) fail_msg("payload_max: %s", err.text);
    size_t sizes[] = {2, 100, 1000, 70000};
    char id[SLUICE_ID_MAX], keyless[SLUICE_ID_MAX];
    for (size_t i = 0; i < 4; i++) {
        char *p = malloc(sizes[i] + 1);
        if (sizes[i] == 2) {
            strcpy(p, "{}");
        } else { /* {"p":"xx...x"} */
            memset(p, 'x', sizes[i]);
            memcpy(p, "{\"p\":\"", 6);
            memcpy(p + sizes[i] - 2, "\"}", 3);
        }
        sluice_enqueue_opts o = {.key = "A"};
        if (sluice_enqueue(c, "running", p, &o, id, &err) < 0) fail_msg("enqueue %zu: %s", sizes[i], err.text);
        free(p);
    }
    enqueue_key(c, "running", "B", 1, 0);
    enqueue_key(c, "running", "C", 1, 0);
    if (sluice_enqueue(c, "running", "{}", NULL, keyless, &err) < 0) fail_msg("enqueue: %s", err.text);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_string_equal(info.key, "A");
    sluice_job_info_clear(&info);
    assert_int_equal(sluice_job_get(c, keyless, &info, &err), 0);
    assert_string_equal(info.key, "");
    sluice_job_info_clear(&info);
    char text[512];
    top_keys_text(c, "running", text, sizeof(text));
    assert_string_equal(text, "A 4 0;B 1 0;C 1 0;");
    /* all seven leased, then one more of A and of B waits */
    sluice_job *jobs[8];
    sluice_claim_info ci;
    assert_int_equal(sluice_claim(c, "running", "t", 8, jobs, &ci, &err), 0);
    assert_int_equal(ci.count, 7);
    enqueue_key(c, "running", "A", 1, 0);
    enqueue_key(c, "running", "B", 1, 0);
    top_keys_text(c, "running", text, sizeof(text));
    assert_string_equal(text, "A 1 4;B 1 1;C 0 1;");
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_LEASED);
    assert_string_equal(info.key, "A");
    sluice_job_info_clear(&info);
    for (size_t i = 0; i < ci.count; i++) {
        if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) fail_msg("ack: %s", err.text);
        sluice_job_free(jobs[i]);
    }
    top_keys_text(c, "running", text, sizeof(text));
    assert_string_equal(text, "A 1 0;B 1 0;");

    /* raw: version 9's calls (no flag) get version 9's replies */
    redisContext *rc = test_raw(state);
    enqueue_key(c, "running", "D", 1, 0);
    char last[SLUICE_ID_MAX];
    if (sluice_enqueue(c, "running", "{}", NULL, last, &err) < 0) fail_msg("enqueue: %s", err.text);
    const char *job_argv[] = {last, "1"};
    redisReply *r = class_fcall(rc, NS, "sluice_job", "running", CLASS_NKEYS_NOW, NULL, 1, job_argv);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 14);
    freeReplyObject(r);
    r = class_fcall(rc, NS, "sluice_job", "running", CLASS_NKEYS_NOW, NULL, 2, job_argv);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 15 && r->element[14]->len == 0);
    freeReplyObject(r);
    const char *top_argv[] = {"10", "0"};
    r = class_fcall(rc, NS, "sluice_top_keys", "running", CLASS_NKEYS_NOW, NULL, 1, top_argv);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 6); /* A, B, D: pairs */
    freeReplyObject(r);
    r = class_fcall(rc, NS, "sluice_top_keys", "running", CLASS_NKEYS_NOW, NULL, 2, top_argv);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 6);
    freeReplyObject(r);
    char *before = redis_snapshot(rc);
    const char *bad_job[] = {last, "2"}, *bad_top[] = {"10", "yes"};
    assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_job", "running", CLASS_NKEYS_NOW, NULL, 2, bad_job), before,
                            "with_key", "with_key 2");
    assert_badarg_unchanged(rc, class_fcall(rc, NS, "sluice_top_keys", "running", CLASS_NKEYS_NOW, NULL, 2, bad_top),
                            before, "running", "running yes");
    free(before);
    test_assert_consistent(c, "running");
    redisFree(rc);
    sluice_client_free(c);
}

/* A critical class "cls" whose keys may each run "cap" leases at once. */
static void capped_class(sluice_client *c, const char *cls, const char *cap) {
    fair_class(c, cls, NULL);
    const char *f[] = {"max_concurrency_per_key"}, *v[] = {cap};
    sluice_error err;
    if (sluice_class_update(c, cls, f, v, 1, NULL, &err) < 0) fail_msg("cap: %s", err.text);
}

/* Claims one job of cls: its key into key (64 bytes) and its index
 * (returned), the job into *job; -1 when the claim answered otherwise
 * (its status in *status). */
static int claim_one(sluice_client *c, const char *cls, sluice_job **job, char *key, sluice_claim_status *status) {
    sluice_claim_info info;
    sluice_error err;
    if (sluice_claim(c, cls, "t", 1, job, &info, &err) < 0) fail_msg("claim: %s", err.text);
    *status = info.status;
    if (info.count == 0) return -1;
    return job_key(*job, key);
}

/* Claims one job of cls and checks it is key's job number i. */
static sluice_job *claim_expect(sluice_client *c, const char *cls, const char *key, int i) {
    sluice_job *j = NULL;
    char got[64];
    sluice_claim_status st;
    int idx = claim_one(c, cls, &j, got, &st);
    if (idx < 0) fail_msg("expected %s's job %d, the claim answered status %d", key, i, (int)st);
    if (strcmp(got, key) || idx != i) fail_msg("expected %s's job %d, got %s's job %d", key, i, got, idx);
    return j;
}

/* The claim answers empty: every job waiting is of a key at its cap. */
static void claim_empty(sluice_client *c, const char *cls) {
    sluice_job *j = NULL;
    char got[64];
    sluice_claim_status st;
    int idx = claim_one(c, cls, &j, got, &st);
    if (idx >= 0) fail_msg("expected no job, got %s's job %d", got, idx);
    assert_int_equal(st, SLUICE_CLAIM_EMPTY);
}

/* Key A's backlog under a cap of 2: A runs two at a time while B and C
 * start; the jobs A may not start are parked, still waiting and counted;
 * each lease of A that ends (ack, release, fail) lets the next of A's
 * jobs start, in A's order; raising the cap lets more start and removing
 * it lets all start. The checker finds nothing wrong at each step. */
static void a_key_at_its_cap_waits_while_other_keys_run_and_goes_on_in_order(void **state) {
    sluice_client *c = test_connect(state);
    capped_class(c, "capped", "2");
    enqueue_key(c, "capped", "A", 200, 0);
    enqueue_key(c, "capped", "B", 1, 0);
    enqueue_key(c, "capped", "C", 1, 0);
    sluice_job *a0 = claim_expect(c, "capped", "A", 0);
    sluice_job *b0 = claim_expect(c, "capped", "B", 0);
    sluice_job *c0 = claim_expect(c, "capped", "C", 0);
    sluice_job *a1 = claim_expect(c, "capped", "A", 1);
    claim_empty(c, "capped"); /* A at its cap: its other 198 are parked */
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "capped", &st, &err), 0);
    assert_int_equal(st.ready, 198);
    assert_int_equal(st.leased, 4);
    char text[512];
    top_keys_text(c, "capped", text, sizeof(text));
    assert_string_equal(text, "A 198 2;B 0 1;C 0 1;");
    test_assert_consistent(c, "capped");

    /* an ack: A's next */
    assert_int_equal(sluice_ack(c, sluice_job_id(a0), sluice_job_token(a0), &err), 0);
    sluice_job *a2 = claim_expect(c, "capped", "A", 2);
    claim_empty(c, "capped");
    /* a release: the released job first (its place), then A is full again */
    assert_int_equal(sluice_release(c, sluice_job_id(a1), sluice_job_token(a1), &err), 0);
    sluice_job_free(a1);
    a1 = claim_expect(c, "capped", "A", 1);
    claim_empty(c, "capped");
    /* a failure (retried later): A's next */
    int64_t retry;
    assert_int_equal(sluice_fail(c, sluice_job_id(a2), sluice_job_token(a2), "x", &retry, &err), 0);
    sluice_job *a3 = claim_expect(c, "capped", "A", 3);
    test_assert_consistent(c, "capped");
    /* B and C end; keys under their caps never wait */
    assert_int_equal(sluice_ack(c, sluice_job_id(b0), sluice_job_token(b0), &err), 0);
    assert_int_equal(sluice_ack(c, sluice_job_id(c0), sluice_job_token(c0), &err), 0);
    enqueue_key(c, "capped", "B", 1, 0);
    sluice_job *b1 = claim_expect(c, "capped", "B", 0);
    claim_empty(c, "capped");
    /* a cap raised to 3: one more of A */
    const char *f[] = {"max_concurrency_per_key"}, *three[] = {"3"}, *none[] = {"0"};
    assert_int_equal(sluice_class_update(c, "capped", f, three, 1, NULL, &err), 0);
    sluice_job *a4 = claim_expect(c, "capped", "A", 4);
    claim_empty(c, "capped");
    /* no cap: the rest of A in order, from A's retried job once due */
    assert_int_equal(sluice_class_update(c, "capped", f, none, 1, NULL, &err), 0);
    test_assert_consistent(c, "capped");
    for (int i = 5; i < 200; i++) {
        sluice_job *j = claim_expect(c, "capped", "A", i);
        assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
        sluice_job_free(j);
    }
    sluice_job *ends[] = {a1, a3, a4, b1};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sluice_ack(c, sluice_job_id(ends[i]), sluice_job_token(ends[i]), &err), 0);
        sluice_job_free(ends[i]);
    }
    sluice_job_free(a0);
    sluice_job_free(a2);
    sluice_job_free(b0);
    sluice_job_free(c0);
    top_keys_text(c, "capped", text, sizeof(text));
    assert_string_equal(text, "A 1 0;"); /* A's retried job, waiting for its backoff */
    test_assert_consistent(c, "capped");
    sluice_client_free(c);
}

/* A lease under a cap that expires: the claim that reclaims it lets the
 * key start again, with the reclaimed job first. */
static void an_expired_lease_under_a_cap_lets_its_key_start_again(void **state) {
    sluice_client *c = test_connect(state);
    capped_class(c, "expiring", "1");
    const char *f[] = {"timeout_ms"}, *v[] = {"200"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "expiring", f, v, 1, NULL, &err), 0);
    enqueue_key(c, "expiring", "A", 3, 0);
    sluice_job *a0 = claim_expect(c, "expiring", "A", 0);
    claim_empty(c, "expiring");
    sluice_job_free(a0);
    /* after the lease's 200 ms: A's first again (a suspect, alone) */
    sluice_job *j = NULL;
    char got[64];
    sluice_claim_status st;
    int idx = -1;
    WAIT_UNTIL((idx = claim_one(c, "expiring", &j, got, &st)) >= 0, 5000);
    if (idx != 0 || strcmp(got, "A")) fail_msg("expected A's job 0 again, got %s %d", got, idx);
    assert_int_equal(sluice_job_reclaims(j), 1);
    claim_empty(c, "expiring");
    test_assert_consistent(c, "expiring");
    assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    j = claim_expect(c, "expiring", "A", 1);
    assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    test_assert_consistent(c, "expiring");
    sluice_client_free(c);
}

/* Raw calls against a capped class: a caller of version 9 (14 keys) may
 * not claim, cancel a parked job, change the cap or delete the class, and
 * each refusal writes nothing; a bad cap is refused; a caller of this
 * version cancels a parked job. */
static void a_cap_refuses_old_callers_and_bad_values_and_a_parked_job_can_be_cancelled(void **state) {
    sluice_client *c = test_connect(state);
    capped_class(c, "oldies", "1");
    enqueue_key(c, "oldies", "A", 2, 0);
    sluice_job *a0 = claim_expect(c, "oldies", "A", 0);
    claim_empty(c, "oldies"); /* A's job 1 is parked */
    char parked[SLUICE_ID_MAX];
    snprintf(parked, sizeof(parked), "oldies:2");
    redisContext *rc = test_raw(state);
    char *before = redis_snapshot(rc);
    assert_badarg_unchanged(
        rc, class_fcall(rc, NS, "sluice_claim", "oldies", CLASS_NKEYS_V9, NULL, 3, (const char *[]){"1", "old", "0"}),
        before, "library version 10", "a claim with 14 keys");
    assert_badarg_unchanged(
        rc, class_fcall(rc, NS, "sluice_cancel", "oldies", CLASS_NKEYS_V9, NULL, 2, (const char *[]){parked, "op"}),
        before, "library version 10", "a cancel with 14 keys");
    assert_badarg_unchanged(rc,
                            class_fcall(rc, NS, "sluice_class_set", "oldies", CLASS_NKEYS_V9, NULL, 3,
                                        (const char *[]){"op", "max_concurrency_per_key", "5"}),
                            before, "library version 10", "a cap change with 14 keys");
    assert_badarg_unchanged(
        rc, class_fcall(rc, NS, "sluice_class_delete", "oldies", CLASS_NKEYS_V9, NULL, 2, (const char *[]){"op", "1"}),
        before, "library version 10", "a delete with 14 keys");
    const char *bad[] = {"-1", "1.5", "1000001", "x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_badarg_unchanged(rc,
                                class_fcall(rc, NS, "sluice_class_set", "oldies", CLASS_NKEYS_NOW, NULL, 3,
                                            (const char *[]){"op", "max_concurrency_per_key", bad[i]}),
                                before, "max_concurrency_per_key", bad[i]);
    free(before);
    sluice_error err;
    assert_int_equal(sluice_job_cancel(c, parked, &err), 0);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "oldies", &st, &err), 0);
    assert_int_equal(st.ready, 0);
    assert_int_equal(st.cancelled, 1);
    assert_int_equal(sluice_ack(c, sluice_job_id(a0), sluice_job_token(a0), &err), 0);
    sluice_job_free(a0);
    test_assert_consistent(c, "oldies");
    redisFree(rc);
    sluice_client_free(c);
}

/* sluice-worker (4 slots) on a class whose keys may run one job at a time:
 * A's six jobs never overlap, nor B's, while an A and a B run side by side;
 * all twelve run once. */
static void sluice_worker_runs_one_job_of_each_key_at_a_time_under_a_cap_of_one(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    capped_class(c, "tenants1", "1");
    enqueue_key(c, "tenants1", "A", 6, 0);
    enqueue_key(c, "tenants1", "B", 6, 0);
    char runs[400], log[400], body[1200], spec[1000];
    snprintf(runs, sizeof(runs), "%s/tenants1.runs", h->dir);
    snprintf(log, sizeof(log), "%s/tenants1.log", h->dir);
    snprintf(body, sizeof(body),
             "#!/bin/sh\nk=$(sed -n 's/.*\"k\":\"\\([^\"]*\\)\".*/\\1/p')\necho \"start $k\" >> \"%s\"\nsleep 0.2\n"
             "echo \"end $k\" >> \"%s\"\n",
             runs, runs);
    snprintf(spec, sizeof(spec), "tenants1=%s", proc_script(h->dir, "tenant.sh", body));
    const char *args[] = {"--no-governor", "--concurrency", "4", "--handler", spec, NULL};
    sluice_class_stats st;
    proc_drain(h, args, log, c, "tenants1", 12, 30000, &st);
    assert_int_equal(st.acked, 12);
    assert_int_equal(st.claimed, 12);
    char *text = proc_slurp(runs);
    int running[2] = {0, 0}, most[2] = {0, 0}, both = 0;
    for (char *l = text; l && *l;) {
        char *end = strchr(l, '\n');
        if (!end) break;
        *end = '\0';
        char what[8], key[8];
        if (sscanf(l, "%7s %7s", what, key) == 2 && (key[0] == 'A' || key[0] == 'B')) {
            int k = key[0] - 'A';
            running[k] += strcmp(what, "start") == 0 ? 1 : -1;
            if (running[k] > most[k]) most[k] = running[k];
            if (running[0] + running[1] == 2) both = 1;
        } else {
            fail_msg("a line of the handler: %s", l);
        }
        l = end + 1;
    }
    free(text);
    if (most[0] != 1 || most[1] != 1) fail_msg("at most %d of A and %d of B ran at once, not 1", most[0], most[1]);
    if (!both) fail_msg("A and B never ran side by side");
    test_assert_consistent(c, "tenants1");
    sluice_client_free(c);
}

static void key_weights_round_trip_and_a_class_and_a_client_of_version_7_still_work(void **state) {
    sluice_client *c = test_connect(state);
    fair_class(c, "kept", "{\"acme\":3,\"other one\":2}");
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "kept", &cfg, &err), 0);
    assert_int_equal(cfg.nkey_weights, 2);
    assert_string_equal(cfg.key_weights[0].key, "acme");
    assert_int_equal(cfg.key_weights[0].weight, 3);
    assert_string_equal(cfg.key_weights[1].key, "other one");
    /* sluice_class_set writes them back as read */
    assert_int_equal(sluice_class_set(c, "kept", &cfg, NULL, &err), 0);
    sluice_class_config again;
    assert_int_equal(sluice_class_get(c, "kept", &again, &err), 0);
    assert_int_equal(again.nkey_weights, 2);
    assert_int_equal(again.key_weights[1].weight, 2);
    /* a class declared before version 8 has no key_weights field, and a
     * client of version 7 sends 8 fields a job, no key */
    redisContext *rc = test_raw(state);
    redisReply *r = redisCommand(rc, "HDEL " NS ":{kept}:class key_weights");
    assert_true(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    const char *argv[] = {"1", "{}", "0", "0", "0", "0", "0", "", "0"};
    r = class_fcall(rc, NS, "sluice_enqueue", "kept", CLASS_NKEYS_V8, NULL, 9, argv);
    if (!r || r->type != REDIS_REPLY_ARRAY) fail_msg("refused: %s", r && r->str ? r->str : "");
    freeReplyObject(r);
    enqueue_key(c, "kept", "acme", 2, 0);
    char keys[3][64];
    int idx[3];
    assert_int_equal(claim_ack(c, "kept", 3, keys, idx, 0), 3);
    test_assert_consistent(c, "kept");
    redisFree(rc);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_keys_backlog_delays_another_keys_job_by_about_one_round),
        cmocka_unit_test(weights_share_the_starts_of_keys_that_both_wait),
        cmocka_unit_test(priorities_and_fifo_hold_inside_a_key),
        cmocka_unit_test(a_released_or_reclaimed_keyed_job_keeps_its_place_in_its_key),
        cmocka_unit_test(a_delayed_keyed_job_joins_its_own_key_when_due_not_the_back_of_the_class),
        cmocka_unit_test(bad_keys_and_weights_by_raw_fcall_are_refused_and_change_nothing),
        cmocka_unit_test(top_keys_count_each_keys_leased_jobs_and_a_job_shows_its_key),
        cmocka_unit_test(a_key_at_its_cap_waits_while_other_keys_run_and_goes_on_in_order),
        cmocka_unit_test(an_expired_lease_under_a_cap_lets_its_key_start_again),
        cmocka_unit_test(a_cap_refuses_old_callers_and_bad_values_and_a_parked_job_can_be_cancelled),
        cmocka_unit_test_teardown(sluice_worker_runs_one_job_of_each_key_at_a_time_under_a_cap_of_one, proc_teardown),
        cmocka_unit_test(key_weights_round_trip_and_a_class_and_a_client_of_version_7_still_work),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
