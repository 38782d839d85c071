/* libsluice, sluice-worker and sluicectl through a redis-sentinel:// URL on
 * a real Sentinel set (a master, its replica, three sentinels): the job
 * lifecycle, the programs, malformed URLs, an unknown master name, no
 * sentinel up, and the master killed (SIGKILL) and failed over to its
 * replica under an open client, with every acknowledged job counted. */
#include "common_proc.h"
#include "failover.h"

#include <hiredis/hiredis.h>
#include <jansson.h>

#define NS "t"

static harness_sentinel *set_of(void **state) {
    return *state;
}

static sluice_client *sentinel_connect(const char *url) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(url, NS, &err);
    if (!c) fail_msg("connect %s: %s", url, err.text);
    return c;
}

/* 1 when the server has the sluice Functions (any version). */
static int has_sluice_functions(const harness_redis *r) {
    return harness_redis_int(r, "FCALL_RO sluice_version 0") > 0;
}

/* ------------------------------------------------------------- tests */

/* A job acked, then one failed to dead, through the master the sentinels
 * name (the replica refuses writes: every call went to the master). */
static void a_client_on_a_sentinel_url_enqueues_claims_acks_and_fails(void **state) {
    harness_sentinel *s = set_of(state);
    sluice_client *c = sentinel_connect(s->url);
    sluice_error err;
    test_class(c, "life", SLUICE_TIER_NORMAL, 10);
    const char *fields[] = {"max_attempts"}, *values[] = {"1"};
    if (sluice_class_update(c, "life", fields, values, 1, NULL, &err) < 0) fail_msg("update: %s", err.text);
    for (int fail = 0; fail <= 1; fail++) {
        char id[SLUICE_ID_MAX];
        assert_int_equal(sluice_enqueue(c, "life", "{}", NULL, id, &err), 0);
        sluice_job *j = NULL;
        sluice_claim_info info;
        assert_int_equal(sluice_claim(c, "life", "w", 1, &j, &info, &err), 0);
        assert_int_equal(info.count, 1);
        assert_string_equal(sluice_job_id(j), id);
        int64_t retry_ms = 0;
        if (fail) {
            assert_int_equal(sluice_fail(c, id, sluice_job_token(j), "boom", &retry_ms, &err), 0);
            assert_int_equal(retry_ms, -1); /* dead: one attempt */
        } else {
            assert_int_equal(sluice_ack(c, id, sluice_job_token(j), &err), 0);
        }
        sluice_job_free(j);
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "life", &st, &err), 0);
    assert_int_equal(st.acked, 1);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.ready + st.leased, 0);
    assert_true(has_sluice_functions(&s->master));
    WAIT_UNTIL(harness_redis_int(&s->replica, "EXISTS t:{life}:class") == 1, 10000); /* replicated */
    assert_int_equal(harness_redis_int(&s->replica, "EXISTS t:{life}:class"), 1);
    sluice_client_free(c);
}

/* An enqueue asking replicas=1 is confirmed by the replica (WAIT on the
 * master's link); with the replica stopped (SIGSTOP) it returns
 * SLUICE_ERR_NOT_REPLICATED within its timeout, the job created and its id
 * set; sluicectl enqueue --wait-replicas 1 prints the id and exits 4. */
static void an_enqueue_waits_for_its_replica_and_says_when_none_confirmed_it(void **state) {
    harness_sentinel *s = set_of(state);
    sluice_client *c = sentinel_connect(s->url);
    test_class(c, "wait", SLUICE_TIER_NORMAL, 10);
    sluice_error err;
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts up = {.replicas = 1, .replicas_timeout_ms = 5000},
                        o = {.replicas = 1, .replicas_timeout_ms = 300};
    if (sluice_enqueue(c, "wait", "{}", &up, id, &err) < 0) fail_msg("with the replica up: %s", err.text);
    assert_int_equal(kill(s->replica.pid, SIGSTOP), 0);
    long long t0 = harness_now_ms();
    id[0] = '\0';
    int rc = sluice_enqueue(c, "wait", "{}", &o, id, &err);
    long long took = harness_now_ms() - t0;
    char out[256] = "", errout[1024] = "";
    const char *argv[] = {
        proc_bin("sluicectl"), "--redis", s->url,           "--namespace", NS,  "enqueue", "wait", "{}",
        "--wait-replicas",     "1",       "--wait-timeout", "100ms",       NULL};
    int exit_code = proc_run(argv, NULL, NULL, out, sizeof(out), errout, sizeof(errout));
    kill(s->replica.pid, SIGCONT);
    assert_int_equal(rc, -1);
    if (err.code != SLUICE_ERR_NOT_REPLICATED ||
        !strstr(err.text, "not confirmed on 1 replicas: 0 acknowledged within 300 ms"))
        fail_msg("with the replica stopped: %s", err.text);
    if (took < 300 || took > 3000) fail_msg("took %lld ms for a 300 ms WAIT", took);
    sluice_job_info info;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0); /* created all the same */
    sluice_job_info_clear(&info);
    if (exit_code != 4 || strncmp(out, "wait:", 5) != 0 || !strstr(errout, "not confirmed"))
        fail_msg("sluicectl exited %d, printed '%s', said '%s'", exit_code, out, errout);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "wait", &st, &err), 0);
    assert_int_equal(st.ready, 3);
    sluice_client_free(c);
}

/* sluice-worker with the sentinel URL (in SLUICE_REDIS_URL) runs a class's
 * jobs; sluicectl --json status on the same URL lists them as acked. */
static void sluice_worker_and_sluicectl_status_run_on_a_sentinel_url(void **state) {
    harness_sentinel *s = set_of(state);
    sluice_client *c = sentinel_connect(s->url);
    test_class(c, "prog", SLUICE_TIER_NORMAL, 10);
    sluice_error err;
    for (int i = 0; i < 20; i++) {
        char id[SLUICE_ID_MAX];
        if (sluice_enqueue(c, "prog", "{}", NULL, id, &err) < 0) fail_msg("enqueue: %s", err.text);
    }
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/worker.log", s->master.dir);
    const char *args[] = {"--concurrency", "4", "--metrics-port", "0", "--handler", "prog=/bin/true", NULL};
    pid_t pid = proc_worker_env(&s->master, args, log, s->url);
    sluice_class_stats st = {0};
    WAIT_UNTIL(sluice_class_stats_get(c, "prog", &st, NULL) == 0 && st.acked == 20, 20000);
    if (st.acked != 20) {
        char *text = proc_slurp(log);
        fail_msg("%lld of 20 jobs acked; worker log:\n%s", (long long)st.acked, text);
    }
    proc_stop(pid);

    char out[65536], errout[4096];
    const char *argv[] = {proc_bin("sluicectl"), "--redis", s->url, "--namespace", NS, "--json", "status", NULL};
    int rc = proc_run(argv, NULL, NULL, out, sizeof(out), errout, sizeof(errout));
    if (rc != 0) fail_msg("sluicectl status exited %d: %s", rc, errout);
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    if (!root) fail_msg("sluicectl status: not JSON: %s", je.text);
    json_t *list = json_object_get(root, "classes");
    int seen = 0;
    for (size_t k = 0; k < json_array_size(list); k++) {
        json_t *row = json_array_get(list, k);
        if (strcmp(json_string_value(json_object_get(row, "name")), "prog") != 0) continue;
        seen++;
        assert_int_equal(json_integer_value(json_object_get(row, "ready")), 0);
    }
    assert_int_equal(seen, 1);
    json_decref(root);
    sluice_client_free(c);
}

/* Malformed sentinel URLs are refused before any I/O, naming the problem. */
static void malformed_sentinel_urls_are_refused_naming_the_problem(void **state) {
    (void)state;
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"redis-sentinel://", "host:port of each sentinel"},
        {"redis-sentinel:///mymaster", "host:port of each sentinel"},
        {"redis-sentinel://127.0.0.1:26379", "the master's name"},
        {"redis-sentinel://127.0.0.1:26379/", "the master's name"},
        {"redis-sentinel://a:1,/m", "empty sentinel address"},
        {"redis-sentinel://a:1,,b:2/m", "host:port of each sentinel"},
        {"redis-sentinel://a:0/m", "port must be 1..65535"},
        {"redis-sentinel://a:99999/m", "port must be 1..65535"},
        {"redis-sentinel://a:1/my master", "space"},
        {"redis-sentinel://a:1/my*master", "master's name may hold only"},
        {"redis-sentinel://a:1/m?db=x", "?db= must be a number"},
        {"redis-sentinel://a:1/m?timeout=1", "unknown query parameter 'timeout'"},
        {"redis-sentinel://a!b:1/m", "invalid character in host"},
        {"redis-sentinel://a:1/0123456789012345678901234567890123456789012345678901234567890123456789", "1..64"},
        {"redis-sentinel://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17/m", "more than 16 sentinels"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sluice_url u;
        sluice_error err;
        if (sluice_url_parse(bad[i].url, &u, &err) == 0) fail_msg("%s was accepted", bad[i].url);
        assert_int_equal(err.code, SLUICE_ERR_URL);
        if (!strstr(err.text, bad[i].says)) fail_msg("%s: expected '%s', got '%s'", bad[i].url, bad[i].says, err.text);
    }
    sluice_url u;
    sluice_error err;
    assert_int_equal(sluice_url_parse("redis-sentinel://u:secret@h1,[::1]:26380,h3:7/my-master_1.a?db=3", &u, &err), 0);
    assert_int_equal(u.nsentinels, 3);
    assert_string_equal(u.sentinels[0].host, "h1");
    assert_int_equal(u.sentinels[0].port, 26379);
    assert_string_equal(u.sentinels[1].host, "::1");
    assert_int_equal(u.sentinels[1].port, 26380);
    assert_int_equal(u.sentinels[2].port, 7);
    assert_string_equal(u.master, "my-master_1.a");
    assert_string_equal(u.user, "u");
    assert_string_equal(u.password, "secret");
    assert_int_equal(u.db, 3);
    assert_string_equal(u.host, "");
}

/* A name no sentinel monitors: SLUICE_ERR_NOT_FOUND naming it, at once
 * (the sentinels answered: waiting would not change it); sluicectl says
 * so and exits 3 (not found). */
static void an_unknown_master_name_is_refused_at_once_naming_it(void **state) {
    harness_sentinel *s = set_of(state);
    char url[600];
    snprintf(url, sizeof(url), "%.*s/nosuch", (int)(strrchr(s->url, '/') - s->url), s->url);
    sluice_error err;
    long long t0 = harness_now_ms();
    assert_null(sluice_client_connect(url, NS, &err));
    long long took = harness_now_ms() - t0;
    assert_int_equal(err.code, SLUICE_ERR_NOT_FOUND);
    if (!strstr(err.text, "no sentinel knows a master named 'nosuch'")) fail_msg("got: %s", err.text);
    if (took > 5000) fail_msg("took %lld ms, past the 5 s timeout", took); /* it does not wait for the timeout */

    char out[4096], errout[4096];
    const char *argv[] = {proc_bin("sluicectl"), "--redis", url, "status", NULL};
    assert_int_equal(proc_run(argv, NULL, NULL, out, sizeof(out), errout, sizeof(errout)), 3); /* not found */
    if (!strstr(errout, "nosuch")) fail_msg("sluicectl said: %s", errout);
}

/* Every sentinel down (closed ports on 127.0.0.1): SLUICE_ERR_UNREACHABLE
 * that says so, without waiting for the timeout. */
static void no_sentinel_up_is_unreachable_naming_it(void **state) {
    (void)state;
    harness_redis gone[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) assert_int_equal(harness_redis_start(&gone[i]), 0);
    char url[200];
    snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/%s", gone[0].port, gone[1].port,
             HARNESS_SENTINEL_MASTER);
    for (int i = 0; i < 2; i++) harness_redis_stop(&gone[i]); /* their ports are closed now */
    sluice_error err;
    assert_null(sluice_client_connect(url, NS, &err));
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    if (!strstr(err.text, "no sentinel answers") || !strstr(err.text, "cannot reach sentinel 127.0.0.1:"))
        fail_msg("got: %s", err.text);
}

/* The master killed (SIGKILL) under an open client, after N jobs were
 * enqueued and half of them claimed and acked, the replica caught up
 * (WAIT 1). The call on the dead link fails as unreachable (it may have
 * run); once a sentinel names the replica, the next calls through the SAME
 * client reach it within 3 attempts, the Functions are there, and every
 * job is there exactly once: the rest are claimed once, none lost, none
 * duplicated. A sluice-worker running through the failover reconnects to
 * the promoted replica and runs jobs enqueued there. A producer enqueues
 * into the worker's class with WAIT 1 throughout: none of the confirmed
 * enqueues is lost. Within 10 s of the promotion (the replica's ROLE
 * polled) the worker acks again and its hosted governor ticks again, the
 * one leader throughout (after its lost link, under a new epoch). The
 * master stays down. */
#define N_JOBS 200
static void a_failover_moves_the_same_client_to_the_promoted_replica(void **state) {
    harness_sentinel *s = set_of(state);
    sluice_client *c = sentinel_connect(s->url);
    const char *cls = "fo";
    test_class(c, cls, SLUICE_TIER_NORMAL, N_JOBS);
    test_class(c, "fow", SLUICE_TIER_NORMAL, 10);
    char log[PATH_MAX], ran[PATH_MAX], handler[PATH_MAX + 8] = "fow=";
    snprintf(log, sizeof(log), "%s/worker-failover.log", s->replica.dir);
    snprintf(ran, sizeof(ran), "%s/worker-failover.ids", s->replica.dir);
    assert_non_null(realpath("tests/fixtures/worker/append-id.sh", handler + 4));
    const char *args[] = {"--concurrency", "2", "--metrics-port", "0", "--handler", handler, ran, "0.02", NULL};
    pid_t worker = proc_worker_env(&s->replica, args, log, s->url);
    char leader[129] = "", seen[129] = "";
    WAIT_UNTIL(failover_governor(c, leader) > 0 && leader[0], 20000);
    if (!leader[0]) fail_msg("the hosted governor took no lease (log %s)", log);
    static const char fow[1][16] = {"fow"};
    static failover_producer producer;
    memset(&producer, 0, sizeof(producer));
    producer.url = s->url;
    producer.classes = fow;
    producer.nclasses = 1;
    failover_producer_start(&producer);
    sluice_error err;
    static char ids[N_JOBS][SLUICE_ID_MAX];
    int state_of[N_JOBS] = {0}; /* 1 acked before the kill, then +1 per claim after it */
    for (int i = 0; i < N_JOBS; i++)
        if (sluice_enqueue(c, cls, "{}", NULL, ids[i], &err) < 0) fail_msg("enqueue: %s", err.text);
    int acked = 0;
    while (acked < N_JOBS / 2) {
        sluice_job *j[10];
        sluice_claim_info info;
        if (sluice_claim(c, cls, "w", 10, j, &info, &err) < 0) fail_msg("claim: %s", err.text);
        for (size_t k = 0; k < info.count; k++) {
            if (sluice_ack(c, sluice_job_id(j[k]), sluice_job_token(j[k]), &err) < 0) fail_msg("ack: %s", err.text);
            for (int i = 0; i < N_JOBS; i++)
                if (strcmp(ids[i], sluice_job_id(j[k])) == 0) state_of[i] = 1;
            sluice_job_free(j[k]);
            acked++;
        }
    }
    /* the replica has every write so far: WAIT on a link that wrote last */
    redisContext *w = redisConnectUnix(s->master.sock);
    assert_true(w && !w->err);
    redisReply *rep = redisCommand(w, "SET sentinel-test-barrier 1");
    freeReplyObject(rep);
    rep = redisCommand(w, "WAIT 1 10000");
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
    freeReplyObject(rep);
    redisFree(w);

    WAIT_UNTIL(atomic_load(&producer.confirmed) >= 20 || producer.error[0], 20000);
    if (atomic_load(&producer.confirmed) == 0) fail_msg("no enqueue confirmed before the kill: %s", producer.error);
    assert_true(failover_governor(c, seen) > 0);
    if (!failover_same_governor(leader, seen)) fail_msg("a second leader: %s, then %s", leader, seen);
    harness_redis_kill(&s->master);
    long long killed = harness_now_ms();
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    WAIT_UNTIL(failover_is_master(&s->replica), 30000);
    long long promoted = harness_now_ms();
    assert_true(failover_is_master(&s->replica));
    long long acked0 = -1, ticks0 = -1;
    WAIT_UNTIL((acked0 = failover_acked(c, fow, 1)) >= 0 && (ticks0 = failover_governor(c, seen)) >= 0, 10000);
    long long acked1 = acked0, ticks1 = ticks0;
    WAIT_UNTIL((acked1 = failover_acked(c, fow, 1)) > acked0, 10000);
    long long resumed = harness_now_ms();
    WAIT_UNTIL((ticks1 = failover_governor(c, seen)) > ticks0, 10000);
    long long governed = harness_now_ms();
    fprintf(stderr, "#   killed -> promoted %lld ms; promoted -> first ack %lld ms, -> first governor tick %lld ms\n",
            promoted - killed, resumed - promoted, governed - promoted);
    if (acked1 <= acked0) fail_msg("no ack within 10 s of the promotion (log %s)", log);
    if (ticks1 <= ticks0) fail_msg("no governor tick within 10 s of the promotion (log %s)", log);
    if (!failover_same_governor(leader, seen)) fail_msg("a second leader: %s, then %s", leader, seen);
    int before = atomic_load(&producer.enqueued); /* and some more on the promoted master */
    WAIT_UNTIL(atomic_load(&producer.enqueued) >= before + 10 || producer.error[0], 20000);
    failover_producer_stop(&producer);
    WAIT_UNTIL(harness_sentinel_master_port(s, 0) == s->replica.port, 30000);
    assert_int_equal(harness_sentinel_master_port(s, 0), s->replica.port);

    int attempts = 0, ok = -1;
    while (ok < 0 && attempts < 3) {
        attempts++;
        ok = sluice_class_stats_get(c, cls, &st, &err);
    }
    if (ok < 0) fail_msg("after the failover, %d attempts: %s", attempts, err.text);
    assert_true(has_sluice_functions(&s->replica));
    int claimed_after = 0;
    for (;;) {
        sluice_job *j[20];
        sluice_claim_info info;
        if (sluice_claim(c, cls, "w", 20, j, &info, &err) < 0) fail_msg("claim after: %s", err.text);
        if (info.count == 0) break;
        for (size_t k = 0; k < info.count; k++) {
            for (int i = 0; i < N_JOBS; i++)
                if (strcmp(ids[i], sluice_job_id(j[k])) == 0) state_of[i]++;
            if (sluice_ack(c, sluice_job_id(j[k]), sluice_job_token(j[k]), &err) < 0)
                fail_msg("ack after: %s", err.text);
            sluice_job_free(j[k]);
            claimed_after++;
        }
    }
    int lost = 0, duplicated = 0;
    for (int i = 0; i < N_JOBS; i++) {
        lost += state_of[i] == 0;
        duplicated += state_of[i] > 1;
    }
    printf("sentinel failover: %-10s %-14s %-14s %-6s %-10s %s\n", "enqueued", "acked before", "claimed after", "lost",
           "duplicated", "attempts after");
    printf("sentinel failover: %-10d %-14d %-14d %-6d %-10d %d\n", N_JOBS, acked, claimed_after, lost, duplicated,
           attempts);
    assert_int_equal(lost, 0);
    assert_int_equal(duplicated, 0);
    assert_int_equal(acked + claimed_after, N_JOBS);
    WAIT_UNTIL(sluice_class_stats_get(c, "fow", &st, NULL) == 0 && st.ready + st.delayed + st.leased == 0, 30000);
    if (st.ready + st.delayed + st.leased != 0) {
        char *text = proc_slurp(log);
        fail_msg("the worker left %lld jobs after the failover; its log:\n%s",
                 (long long)(st.ready + st.delayed + st.leased), text);
    }
    assert_int_equal(failover_producer_table(&producer, c, ran, "sentinel failover"), 0);
    assert_true(resumed - promoted <= 10000);
    assert_true(governed - promoted <= 10000);
    proc_stop(worker);
    sluice_client_free(c);
}

/* The master demoted under two open clients (REPLICAOF a server the
 * sentinels do not know, as an operator's mistake would): a write alone
 * (pause) and a pipelined one (enqueue) are refused READONLY, fail as
 * unavailable (they did not run) and drop their links. The calls after
 * them ask the sentinels, which still name that server: it says it is a
 * replica, so they fail as unreachable within the client's timeout (never
 * served by a replica). Once the server is master again (REPLICAOF NO ONE)
 * the next call connects and loads the Functions the sync flushed. */
static void a_readonly_reply_drops_the_link_and_the_next_call_asks_the_sentinels(void **state) {
    harness_sentinel *s = set_of(state);
    harness_redis *m = harness_sentinel_master_port(s, 0) == s->replica.port ? &s->replica : &s->master;
    harness_redis other = {0};
    assert_int_equal(harness_redis_start(&other), 0);
    sluice_client *c[2] = {sentinel_connect(s->url), sentinel_connect(s->url)};
    sluice_error err;
    for (int i = 0; i < 2; i++) assert_int_equal(sluice_client_set_timeout(c[i], 500, &err), 0);
    test_class(c[0], "ro", SLUICE_TIER_NORMAL, 10);
    assert_int_equal(harness_redis_int(m, "REPLICAOF 127.0.0.1 %d", other.port), -1); /* +OK is no integer */
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_class_pause(c[0], "ro", 0, &err), -1);
    if (err.code != SLUICE_ERR_UNAVAILABLE || !strstr(err.text, "READONLY")) fail_msg("pause: %s", err.text);
    assert_int_equal(sluice_enqueue(c[1], "ro", "{}", NULL, id, &err), -1);
    if (err.code != SLUICE_ERR_UNAVAILABLE || !strstr(err.text, "READONLY")) fail_msg("enqueue: %s", err.text);
    for (int i = 0; i < 2; i++) {
        sluice_class_stats st;
        assert_int_equal(sluice_class_stats_get(c[i], "ro", &st, &err), -1);
        if (err.code != SLUICE_ERR_UNREACHABLE || !strstr(err.text, "is not the master"))
            fail_msg("client %d: %s", i, err.text);
    }
    harness_redis_int(m, "REPLICAOF NO ONE");
    harness_redis_stop(&other);
    test_class(c[0], "ro", SLUICE_TIER_NORMAL, 10); /* the sync from the other server emptied it */
    if (sluice_enqueue(c[1], "ro", "{}", NULL, id, &err) < 0) fail_msg("after REPLICAOF NO ONE: %s", err.text);
    assert_true(has_sluice_functions(m));
    sluice_client_free(c[0]);
    sluice_client_free(c[1]);
}

static int teardown(void **state) {
    proc_teardown(state);
    return harness_sentinel_group_teardown(state);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_sentinel_urls_are_refused_naming_the_problem),
        cmocka_unit_test(no_sentinel_up_is_unreachable_naming_it),
        cmocka_unit_test(a_client_on_a_sentinel_url_enqueues_claims_acks_and_fails),
        cmocka_unit_test(an_enqueue_waits_for_its_replica_and_says_when_none_confirmed_it),
        cmocka_unit_test_teardown(sluice_worker_and_sluicectl_status_run_on_a_sentinel_url, proc_teardown),
        cmocka_unit_test(an_unknown_master_name_is_refused_at_once_naming_it),
        cmocka_unit_test_teardown(a_failover_moves_the_same_client_to_the_promoted_replica, proc_teardown),
        cmocka_unit_test(a_readonly_reply_drops_the_link_and_the_next_call_asks_the_sentinels),
    };
    return cmocka_run_group_tests_name("sentinel", tests, harness_sentinel_group_setup, teardown);
}
