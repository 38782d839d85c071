/* Helpers the integration tests share: a connected client on the harness's
 * server, and class declarations with small, fast settings. */
#ifndef SLUICE_TEST_COMMON_H
#define SLUICE_TEST_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "sluice.h"

/* Connects to the harness server or fails the test. NEW. */
static inline sluice_client *test_connect(void **state) {
    harness_redis *r = *state;
    sluice_error err;
    sluice_client *c = sluice_client_connect(r->url, "t", &err);
    if (!c) fail_msg("connect: %s", err.text);
    return c;
}

/* A plain hiredis link to the harness server, for raw calls and
 * snapshots; fails the test if it cannot connect. NEW (redisFree). */
static inline redisContext *test_raw(void **state) {
    harness_redis *h = *state;
    redisContext *rc = redisConnectUnix(h->sock);
    if (!rc || rc->err) fail_msg("connect");
    return rc;
}

/* The invariant checker (sluice check) finds nothing wrong in class "cls";
 * else prints each problem and fails the test. */
static inline void test_assert_consistent(sluice_client *c, const char *cls) {
    sluice_error err;
    sluice_check *k = sluice_namespace_check(c, &cls, 1, INT64_MAX, &err);
    if (!k) fail_msg("check: %s", err.text);
    for (size_t i = 0; i < sluice_check_count(k); i++) {
        const sluice_problem *p = sluice_check_problem(k, i);
        print_error("%s %s: %s\n", p->code, p->subject, p->detail);
    }
    assert_int_equal(sluice_check_count(k), 0);
    sluice_check_free(k);
}

/* Waits up to "ms" for the acked count of class cls to reach n, its
 * counters then into *out (may be NULL); fails the test if it does not. */
static inline void test_wait_acked(sluice_client *c, const char *cls, int64_t n, long ms, sluice_class_stats *out) {
    sluice_class_stats st = {0};
    WAIT_UNTIL(sluice_class_stats_get(c, cls, &st, NULL) == 0 && st.acked >= n, ms);
    if (st.acked < n) fail_msg("%s: %lld of %lld jobs acked", cls, (long long)st.acked, (long long)n);
    if (out) *out = st;
}

/* Declares a class with the given tier and concurrency limit; fails the test
 * on error. */
static inline void test_class(sluice_client *c, const char *cls, sluice_tier tier, int64_t max_conc) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = tier;
    cfg.max_concurrency = max_conc;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) fail_msg("class set: %s", err.text);
}

/* The Redis server's clock, Unix ms (what leases, delays and signal ages
 * are measured by); fails the test if it cannot be read. */
static inline int64_t test_redis_now(sluice_client *c) {
    sluice_governor_status st;
    sluice_error err;
    if (sluice_governor_status_get(c, &st, &err) < 0) fail_msg("redis clock: %s", err.text);
    return st.now;
}

/* Waits until the Redis clock is past "t" (Unix ms), e.g. so that a reading
 * reported now is observed after an event at "t". */
static inline void test_redis_after(sluice_client *c, int64_t t) {
    WAIT_UNTIL(test_redis_now(c) > t, 10000);
    if (test_redis_now(c) <= t) fail_msg("the Redis clock did not pass %lld", (long long)t);
}

#endif
