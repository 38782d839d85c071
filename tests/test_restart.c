/* A redis-server restarted (kill -9, same data dir, appendfsync always) in
 * the middle of a run: the client reconnects, and no acknowledged enqueue is
 * lost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        assert_int_equal(sluice_job_lookup(c, acked[i], &info, &err), 0);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_acknowledged_enqueue_is_lost_across_a_redis_restart),
        cmocka_unit_test(a_call_while_redis_is_down_reports_an_error_not_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
