/* The fault battery, Redis faults: redis-server killed (kill -9) and
 * restarted with appendfsync always, repeatedly, under load; a reconnect
 * storm of many sluice-worker processes through a counting proxy; Redis
 * full (maxmemory, noeviction). Each run ends with the checker table.
 * SLUICE_CHAOS=long (make chaos) runs the long versions. Run from the top of
 * the tree. */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common.h"
#include "chaos/chaos.h"

#define NS "c"

static sluice_client *connect_to(const harness_redis *r) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(r->url, NS, &err);
    if (!c) fail_msg("connect: %s", err.text);
    return c;
}

/* How many of the names "<prefix>0" .. "<prefix>n-1" CLIENT LIST shows
 * (a sluice-worker names its command link after itself). -1 when Redis
 * does not answer. */
static int clients_named(const harness_redis *r, const char *prefix, int n) {
    redisContext *x = redisConnectUnix(r->sock);
    if (!x || x->err) { redisFree(x); return -1; }
    redisReply *rep = redisCommand(x, "CLIENT LIST");
    int found = -1;
    if (rep && rep->type == REDIS_REPLY_STRING) {
        found = 0;
        for (int i = 0; i < n; i++) {
            char want[80];
            snprintf(want, sizeof(want), " name=%s%d ", prefix, i);
            if (strstr(rep->str, want)) found++;
        }
    }
    freeReplyObject(rep);
    redisFree(x);
    return found;
}

/* ------------- 3. redis-server kill -9 and restart (AOF always) ------------ */

static void redis_killed_and_restarted_again_and_again_loses_no_acknowledged_enqueue(void **state) {
    (void)state;
    harness_redis r = {.aof = 1};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    sluice_client_set_timeout(c, 500, NULL);
    const int RESTARTS = CHAOS_PICK(3, 25), W = 2;
    const long EVERY = CHAOS_PICK(2500, 6000), DOWN = CHAOS_PICK(300, 1500);
    assert_int_equal(chaos_class(c, "durable", SLUICE_TIER_NORMAL, 0, 3000, 20), 0);
    char rec[400], hcmd[600];
    snprintf(rec, sizeof(rec), "%s/durable.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "durable=%s", chaos_fixture("job.sh"));
    pid_t w[2];
    char log[2][400], name[2][32];
    for (int i = 0; i < W; i++) {
        snprintf(log[i], sizeof(log[i]), "%s/durable-%d.log", r.dir, i);
        snprintf(name[i], sizeof(name[i]), "durable-%d", i);
        const char *args[] = {"--no-governor", "--name", name[i], "--concurrency", "4", "--grace", "10s",
                              "--handler", hcmd, rec, "0.02", NULL};
        w[i] = chaos_spawn_worker(r.url, NS, log[i], args);
    }
    chaos_check ck;
    chaos_check_init(&ck, "durable");
    long next = 1;
    long long worst_producer = 0, worst_workers = 0;
    for (int k = 0; k < RESTARTS; k++) {
        long long until = harness_now_ms() + EVERY;
        while (harness_now_ms() < until) {
            chaos_enqueue(c, &ck, &next, 1, 0);
            harness_sleep_ms(10);   /* pacing: a producer's steady stream */
        }
        harness_redis_kill(&r);
        until = harness_now_ms() + DOWN;
        while (harness_now_ms() < until) {   /* producing into the outage */
            chaos_enqueue(c, &ck, &next, 1, 0);
            harness_sleep_ms(10);   /* pacing: a producer's steady stream */
        }
        assert_int_equal(harness_redis_restart(&r), 0);
        long long up = harness_now_ms(), producer = -1, workers = -1;
        while (harness_now_ms() - up < 10000 && (producer < 0 || workers < 0)) {
            if (chaos_enqueue(c, &ck, &next, 1, 0) == 1 && producer < 0) producer = harness_now_ms() - up;
            if (workers < 0 && clients_named(&r, "durable-", W) == W) workers = harness_now_ms() - up;
            harness_sleep_ms(10);   /* polls, and paces the producer */
        }
        chaos_note("restart %d: producer back after %lld ms, both workers after %lld ms", k + 1, producer, workers);
        if (producer < 0 || producer > 5000) fail_msg("the producer was not back within 5 s of restart %d", k + 1);
        if (workers < 0 || workers > 5000) fail_msg("the workers were not back within 5 s of restart %d", k + 1);
        if (producer > worst_producer) worst_producer = producer;
        if (workers > worst_workers) worst_workers = workers;
    }
    assert_int_equal(chaos_drained(c, "durable", 60000), 0);
    for (int i = 0; i < W; i++) {
        int st = chaos_stop(w[i], 15000);
        assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "redis-server kill -9 and restart, appendfsync always");
    chaos_note("%d restarts (down %ld ms each, every %ld ms): %lld of %lld enqueues acknowledged, %lld refused "
               "while down, %lld of those ran anyway (recovered); slowest back: producer %lld ms, workers %lld ms",
               RESTARTS, DOWN, EVERY, t.enqueued, t.attempted, t.attempted - t.enqueued, t.recovered,
               worst_producer, worst_workers);
    assert_true(t.attempted > t.enqueued);   /* the outages were real */
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(t.dead, 0);
    assert_int_equal(t.completed, t.enqueued);
    /* a crash between a handler's end and its ack makes a repeat: at most
     * the jobs in flight at each restart */
    assert_true(t.duplicated <= (long long)RESTARTS * W * 4);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* --------------------------- 6. reconnect storm ---------------------------- */

/* The fewest links any of the n workers holds open through the proxy. */
static int fewest_links(chaos_proxy *px, int n) {
    int fewest = 1 << 30;
    for (int i = 0; i < n; i++)
        if (chaos_proxy_open(px, i) < fewest) fewest = chaos_proxy_open(px, i);
    return fewest;
}

static void a_reconnect_storm_of_many_workers_is_spread_out_and_all_come_back_within_ten_seconds(void **state) {
    (void)state;
    const int N = CHAOS_PICK(50, 200);
    const long DOWN = CHAOS_PICK(3000, 15000);
    harness_redis r = {.aof = 1};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    assert_int_equal(chaos_class(c, "storm", SLUICE_TIER_CRITICAL, 0, 5000, 0), 0);
    chaos_proxy *px = chaos_proxy_new(r.sock, N);
    assert_non_null(px);
    pid_t *pid = calloc((size_t)N, sizeof(pid_t));
    char (*log)[400] = calloc((size_t)N, 400);
    /* every worker keeps the defaults: it hosts the governor too, so it holds
     * four links (commands, subscription, a synchronous client, the
     * governor's); each gets its own proxy port so attempts are counted
     * per worker */
    for (int i = 0; i < N; i++) {
        char url[64], name[32];
        snprintf(url, sizeof(url), "redis://127.0.0.1:%d", chaos_proxy_port(px, i));
        snprintf(name, sizeof(name), "storm-%d", i);
        snprintf(log[i], 400, "%s/storm-%d.log", r.dir, i);
        const char *args[] = {"--name", name, "--concurrency", "1", "--grace", "5s", "--handler", "storm=/bin/true",
                              NULL};
        pid[i] = chaos_spawn_worker(url, NS, log[i], args);
        assert_true(pid[i] > 0);
    }
    assert_int_equal(chaos_proxy_start(px), 0);
    WAIT_UNTIL(clients_named(&r, "storm-", N) == N, 60000);
    assert_int_equal(clients_named(&r, "storm-", N), N);
    /* every worker holds its four links, the governor's included */
    WAIT_UNTIL(fewest_links(px, N) >= 4, 60000);
    assert_true(fewest_links(px, N) >= 4);
    int *links = calloc((size_t)N, sizeof(int));
    long *lines0 = calloc((size_t)N, sizeof(long)), *decisions0 = calloc((size_t)N, sizeof(long));
    int min_links = 1 << 30, max_links = 0;
    for (int i = 0; i < N; i++) {
        links[i] = chaos_proxy_open(px, i);
        if (links[i] < min_links) min_links = links[i];
        if (links[i] > max_links) max_links = links[i];
        lines0[i] = chaos_file_lines(log[i], NULL);
        decisions0[i] = chaos_file_lines(log[i], " decision ");
    }

    /* the outage: redis-server dies and its port refuses connections */
    chaos_proxy_down(px);
    harness_redis_kill(&r);
    harness_sleep_ms(DOWN);   /* pacing: the outage lasts DOWN ms */
    assert_int_equal(harness_redis_restart(&r), 0);
    long long t0 = harness_now_ms();
    assert_int_equal(chaos_proxy_up(px), 0);
    long long all_back = -1;
    WAIT_UNTIL(clients_named(&r, "storm-", N) == N, 15000);
    if (clients_named(&r, "storm-", N) == N) all_back = harness_now_ms() - t0;
    long long settle = t0 + 3000 - harness_now_ms();
    if (settle > 0) harness_sleep_ms((long)settle);   /* pacing: the attempts are counted over 3 s */

    int worst = 0, worst_cmd = 0, worst_sub = 0, total = 0, worst_10s = 0;
    long worst_lines = 0, sum_lines = 0;
    int worst_i = 0;
    int per_sec[10] = {0};
    for (int i = 0; i < N; i++) {
        int a = chaos_proxy_accepts(px, i, t0, t0 + 1000, NULL);
        int ac = chaos_proxy_accepts(px, i, t0, t0 + 1000, "CLIENT");
        int as = chaos_proxy_accepts(px, i, t0, t0 + 1000, "SUBSCRIBE");
        int a10 = chaos_proxy_accepts(px, i, t0, t0 + 10000, NULL);
        for (int s = 0; s < 10; s++) per_sec[s] += chaos_proxy_accepts(px, i, t0 + s * 1000, t0 + (s + 1) * 1000, NULL);
        total += a;
        if (a > worst) worst = a;
        if (ac > worst_cmd) worst_cmd = ac;
        if (as > worst_sub) worst_sub = as;
        if (a10 > worst_10s) worst_10s = a10;
        /* the governor leader logs each decision: not about the outage */
        long l = chaos_file_lines(log[i], NULL) - lines0[i] -
                 (chaos_file_lines(log[i], " decision ") - decisions0[i]);
        sum_lines += l;
        if (l > worst_lines) { worst_lines = l; worst_i = i; }
    }
    char hist[200];
    int k = 0;
    for (int s = 0; s < 10; s++) k += snprintf(hist + k, sizeof(hist) - (size_t)k, " %d", per_sec[s]);
    chaos_note("storm: %d workers holding %d..%d links each, Redis down %ld ms; all back after %lld ms", N, min_links,
               max_links, DOWN, all_back);
    chaos_note("storm: connection attempts in the first second: %d in all (%.2f per link), worst worker %d "
               "(command link %d, subscription %d); worst worker over 10 s %d", total,
               (double)total / (double)(N * (max_links ? max_links : 1)), worst, worst_cmd, worst_sub, worst_10s);
    chaos_note("storm: attempts per second after the return:%s", hist);
    chaos_note("storm: log lines per worker for the outage: worst %ld, mean %.1f", worst_lines,
               (double)sum_lines / N);

    {   /* the chattiest worker's outage, line by line */
        FILE *f = fopen(log[worst_i], "r");
        char line[600];
        for (long k2 = 0; f && fgets(line, sizeof(line), f); k2++)
            if (k2 >= lines0[worst_i] && !strstr(line, " decision ")) {
                line[strcspn(line, "\n")] = '\0';
                chaos_note("storm-%d: %s", worst_i, line);
            }
        if (f) fclose(f);
    }

    /* back at work: one job each */
    long next = 1;
    chaos_check ck;
    chaos_check_init(&ck, "storm");
    sluice_class_stats cs;
    sluice_class_stats_get(c, "storm", &cs, NULL);   /* our own link broke too: this call reconnects it */
    assert_int_equal(chaos_enqueue(c, &ck, &next, N, 1), N);
    assert_int_equal(chaos_drained(c, "storm", 10000), 0);
    for (int i = 0; i < N; i++) kill(pid[i], SIGTERM);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        int st = chaos_wait(pid[i], 10000);
        if (st < 0) { chaos_kill(pid[i]); bad++; }
    }
    chaos_proxy_free(px);
    assert_int_equal(bad, 0);
    assert_true(all_back >= 0 && all_back <= 10000);
    /* a "client" is one connection a process keeps (Redis's CLIENT LIST
     * sense): at most 2 attempts each in the first second */
    assert_true(worst_cmd <= 2);
    assert_true(worst_sub <= 2);
    assert_true(worst <= 2 * max_links);
    assert_true(worst_lines <= 8);
    chaos_check_free(&ck);
    free(pid);
    free(log);
    free(links);
    free(lines0);
    free(decisions0);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* ------------------- 8. Redis full (maxmemory, noeviction) ----------------- */

static void when_redis_is_full_producers_get_an_explicit_error_and_workers_keep_draining(void **state) {
    (void)state;
    const char *extra[] = {"--maxmemory", CHAOS_PICK("12mb", "64mb"), "--maxmemory-policy", "noeviction", NULL};
    harness_redis r = {.extra = extra};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = connect_to(&r);
    assert_int_equal(chaos_class(c, "full", SLUICE_TIER_NORMAL, 0, 10000, 0), 0);
    chaos_check ck;
    chaos_check_init(&ck, "full");
    /* 2 KiB payloads until Redis refuses */
    char pad[2048];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    char payload[2200];
    long n = 1, accepted = 0;
    sluice_error err = {0};
    for (;;) {
        snprintf(payload, sizeof(payload), "{\"n\":%ld,\"pad\":\"%s\"}", n, pad);
        char id[SLUICE_ID_MAX];
        if (sluice_enqueue(c, "full", payload, NULL, id, &err) < 0) {
            chaos_check_attempt(&ck, n++, NULL);
            break;
        }
        chaos_check_attempt(&ck, n++, id);
        accepted++;
        assert_true(accepted < 1000000);
    }
    chaos_note("full: %ld jobs of 2 KiB accepted, then: [%s] %s", accepted, sluice_error_name(err.code), err.text);
    assert_int_equal(err.code, SLUICE_ERR_SERVER);
    assert_non_null(strstr(err.text, "OOM"));
    /* the bulk path says the same, and creates nothing (memory hovers at the
     * limit: what it still takes is recorded like any acknowledged job) */
    int refused_many = 0;
    for (int k = 0; k < 100 && !refused_many; k++) {
        char bulk[3][2200], ids[3][SLUICE_ID_MAX];
        const char *many[3];
        for (int i = 0; i < 3; i++) {
            snprintf(bulk[i], sizeof(bulk[i]), "{\"n\":%ld,\"pad\":\"%s\"}", n + i, pad);
            many[i] = bulk[i];
        }
        size_t done = 99;
        if (sluice_enqueue_many(c, "full", 3, many, NULL, 0, ids, &done, &err) < 0) {
            assert_int_equal(err.code, SLUICE_ERR_SERVER);
            assert_non_null(strstr(err.text, "OOM"));
            refused_many = 1;
        }
        for (size_t i = 0; i < 3; i++) chaos_check_attempt(&ck, n + (long)i, i < done ? ids[i] : NULL);
        accepted += (long)done;
        n += 3;
    }
    assert_true(refused_many);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "full", &st, NULL), 0);
    assert_int_equal(st.ready, accepted);

    /* workers drain a full Redis; the producer keeps trying meanwhile */
    char rec[400], hcmd[600], log[2][400];
    snprintf(rec, sizeof(rec), "%s/full.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "full=%s", chaos_fixture("job.sh"));
    pid_t w[2];
    for (int i = 0; i < 2; i++) {
        snprintf(log[i], sizeof(log[i]), "%s/full-%d.log", r.dir, i);
        const char *args[] = {"--concurrency", "8", "--grace", "10s", "--handler", hcmd, rec, "0", NULL};
        w[i] = chaos_spawn_worker(r.url, NS, log[i], args);
    }
    long refused = 1, later = 0;
    long long t0 = harness_now_ms(), first_ok = -1;
    for (;;) {
        if (later >= 50) {   /* enough: the producer is served again; now only drain */
            assert_int_equal(sluice_class_stats_get(c, "full", &st, NULL), 0);
            if (st.ready + st.leased == 0) break;
            if (harness_now_ms() - t0 > 300000) fail_msg("not drained: %lld ready", (long long)st.ready);
            harness_sleep_ms(20);   /* polls the drain */
            continue;
        }
        snprintf(payload, sizeof(payload), "{\"n\":%ld,\"pad\":\"%s\"}", n, pad);
        char id[SLUICE_ID_MAX];
        if (sluice_enqueue(c, "full", payload, NULL, id, &err) == 0) {
            chaos_check_attempt(&ck, n++, id);
            if (first_ok < 0) first_ok = harness_now_ms() - t0;
            later++;
        } else {
            assert_int_equal(err.code, SLUICE_ERR_SERVER);
            chaos_check_attempt(&ck, n++, NULL);
            refused++;
        }
        if (harness_now_ms() - t0 > 120000) fail_msg("the producer was never served again");
        harness_sleep_ms(5);   /* pacing: a producer's steady stream */
    }
    long long drained_ms = harness_now_ms() - t0;
    for (int i = 0; i < 2; i++) {
        int s = chaos_stop(w[i], 15000);
        assert_true(s >= 0 && WIFEXITED(s) && WEXITSTATUS(s) == 0);
    }
    chaos_check_load(&ck, rec);
    assert_int_equal(chaos_check_dead(&ck, c), 0);
    chaos_table t = chaos_check_table(&ck, c, "Redis full (maxmemory, noeviction)");
    chaos_note("full: drained in %lld ms; enqueues refused with OOM meanwhile %ld, accepted again after %lld ms "
               "(%ld more)", drained_ms, refused, first_ok, later);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.unexpected, 0);
    assert_int_equal(t.recovered, 0);   /* a refusal is definite: nothing was created */
    assert_int_equal(t.duplicated, 0);
    assert_int_equal(t.completed, t.enqueued);
    assert_int_equal(t.acknowledged, t.enqueued);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

int main(int argc, char **argv) {
    (void)argc;
    if (chaos_init(argv[0]) < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(redis_killed_and_restarted_again_and_again_loses_no_acknowledged_enqueue, chaos_teardown),
        cmocka_unit_test_teardown(a_reconnect_storm_of_many_workers_is_spread_out_and_all_come_back_within_ten_seconds, chaos_teardown),
        cmocka_unit_test_teardown(when_redis_is_full_producers_get_an_explicit_error_and_workers_keep_draining, chaos_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
