/* A redis-server restarted (kill -9, same data dir, appendfsync always) in
 * the middle of a run: the client reconnects, and no acknowledged enqueue is
 * lost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common.h"

#define ROUNDS 600

static void no_acknowledged_enqueue_is_lost_across_a_redis_restart(void **state) {
    (void)state;
    harness_redis r = {.aof = 1};
    assert_int_equal(harness_redis_start(&r), 0);
    /* The harness ignores SIGPIPE; a producer may not. The library must not
     * die writing to the dead server's socket. */
    signal(SIGPIPE, SIG_DFL);
    sluice_error err;
    sluice_client *c = sluice_client_connect(r.url, "t", &err);
    assert_non_null(c);
    test_class(c, "durable", SLUICE_TIER_CRITICAL, 0);
    sluice_client_set_timeout(c, 500, NULL);

    char (*acked)[SLUICE_ID_MAX] = calloc(ROUNDS, SLUICE_ID_MAX);
    int nacked = 0, refused = 0, reconnected_after = -1;
    long long down_at = 0, back_at = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (i == 200) {
            harness_redis_kill(&r);
            down_at = harness_now_ms();
        }
        if (i == 250) {
            assert_int_equal(harness_redis_restart(&r), 0);
            back_at = harness_now_ms();
        }
        char payload[64];
        snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
        if (sluice_enqueue(c, "durable", payload, NULL, acked[nacked], &err) == 0) {
            nacked++;
            if (i > 250 && reconnected_after < 0) reconnected_after = (int)(harness_now_ms() - back_at);
        } else {
            assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
            refused++;
        }
    }
    print_message("restart: %d acknowledged, %d refused while down (%lld ms), back after %d ms\n", nacked, refused,
                  back_at - down_at, reconnected_after);
    assert_true(refused >= 50);
    assert_true(reconnected_after >= 0 && reconnected_after < 5000);
    for (int i = 0; i < nacked; i++) {
        sluice_job_info info;
        assert_int_equal(sluice_job_get(c, acked[i], &info, &err), 0);
        if (info.state != SLUICE_JOB_READY) fail_msg("acknowledged job %s is %s", acked[i], sluice_job_state_name(info.state));
        sluice_job_info_clear(&info);
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "durable", &st, &err), 0);
    assert_int_equal(st.ready, nacked);
    free(acked);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

static void a_call_while_redis_is_down_reports_an_error_not_success(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_error err;
    sluice_client *c = sluice_client_connect(r.url, "t", &err);
    test_class(c, "down", SLUICE_TIER_CRITICAL, 0);
    signal(SIGPIPE, SIG_DFL);
    harness_redis_kill(&r);
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_enqueue(c, "down", "{}", NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "down", NULL, 1, j, &info, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

/* Redis answers -LOADING while it reads its data after a restart. The call
 * did not run, so a producer must be told it may retry, not that the server
 * failed: SLUICE_ERR_UNAVAILABLE, for connect and for an enqueue. */
static void a_call_while_redis_loads_its_data_is_refused_as_unavailable(void **state) {
    (void)state;
    /* 200 us a key, and clients served (answered -LOADING) while it loads */
    const char *slow_load[] = {"--key-load-delay", "200", "--loading-process-events-interval-bytes", "1024", NULL};
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_error err;
    sluice_client *c = sluice_client_connect(r.url, "t", &err);
    assert_non_null(c);
    test_class(c, "loading", SLUICE_TIER_CRITICAL, 0);
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_enqueue(c, "loading", "{}", NULL, id, &err), 0);
    /* 20,000 filler keys at 200 us each: loading takes about 4 s */
    redisContext *raw = redisConnectUnix(r.sock);
    assert_true(raw && !raw->err);
    for (int i = 0; i < 20000; i++) redisAppendCommand(raw, "SET filler:%d x", i);
    for (int i = 0; i < 20000; i++) {
        redisReply *rep = NULL;
        assert_int_equal(redisGetReply(raw, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
    }
    redisReply *saved = redisCommand(raw, "SAVE");
    assert_true(saved && saved->type == REDIS_REPLY_STATUS);
    freeReplyObject(saved);
    redisFree(raw);

    r.extra = slow_load;
    assert_int_equal(harness_redis_restart_answering(&r), 0);
    assert_null(sluice_client_connect(r.url, "t", &err));
    assert_int_equal(err.code, SLUICE_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.text, "LOADING"));
    /* the old link broke with the restart: that call is UNREACHABLE, the
     * next one reconnects and meets the loading server */
    assert_int_equal(sluice_enqueue(c, "loading", "{}", NULL, id, &err), -1);
    if (err.code == SLUICE_ERR_UNREACHABLE) assert_int_equal(sluice_enqueue(c, "loading", "{}", NULL, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNAVAILABLE);

    /* once loaded, the same client works and the first job is there */
    int rc = -1;
    WAIT_UNTIL((rc = sluice_enqueue(c, "loading", "{}", NULL, id, &err)) == 0 || err.code != SLUICE_ERR_UNAVAILABLE,
               60000);
    if (rc != 0) fail_msg("enqueue after loading: %s", err.text);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "loading", &st, &err), 0);
    assert_int_equal(st.ready, 2);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_acknowledged_enqueue_is_lost_across_a_redis_restart),
        cmocka_unit_test(a_call_while_redis_is_down_reports_an_error_not_success),
        cmocka_unit_test(a_call_while_redis_loads_its_data_is_refused_as_unavailable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
