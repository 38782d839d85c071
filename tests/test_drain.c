/* At-least-once under concurrency: 100,000 jobs enqueued in bulk, drained by
 * four claimers in threads with batch claims and random failures. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define JOBS 100000
#define CLAIMERS 4
#define MAX_ATTEMPTS 3

typedef struct claimer {
    const harness_redis *redis;
    unsigned seed;
    unsigned char *acked;  /* per job sequence: times acked by this claimer */
    long acks, fails, stale;
    char error[SLUICE_ERROR_TEXT + 32];
} claimer;

static int64_t seq_of(const char *id) {
    return strtoll(strrchr(id, ':') + 1, NULL, 10);
}

static void *drain(void *arg) {
    claimer *w = arg;
    sluice_error err;
    sluice_client *c = sluice_client_connect(w->redis->url, "t", &err);
    if (!c) {
        snprintf(w->error, sizeof(w->error), "connect: %s", err.text);
        return NULL;
    }
    int idle = 0;
    while (idle < 50) {
        sluice_job *jobs[50];
        sluice_claim_info info;
        if (sluice_claim(c, "drain", "t", 50, jobs, &info, &err) < 0) {
            snprintf(w->error, sizeof(w->error), "claim: %s", err.text);
            break;
        }
        if (info.count == 0) {
            idle++;
            harness_sleep_ms(info.retry_ms > 0 && info.retry_ms < 10 ? info.retry_ms : 10);   /* pacing: the hint */
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < info.count; i++) {
            const char *id = sluice_job_id(jobs[i]);
            int rc;
            if (rand_r(&w->seed) % 10 == 0) {
                rc = sluice_fail(c, id, sluice_job_token(jobs[i]), "random failure", NULL, &err);
                if (rc == 0) w->fails++;
            } else {
                rc = sluice_ack(c, id, sluice_job_token(jobs[i]), &err);
                if (rc == 0) {
                    w->acks++;
                    w->acked[seq_of(id)]++;
                }
            }
            if (rc < 0 && err.code == SLUICE_ERR_STALE) w->stale++;
            else if (rc < 0) snprintf(w->error, sizeof(w->error), "ack/fail: %s", err.text);
            sluice_job_free(jobs[i]);
        }
    }
    sluice_client_free(c);
    return NULL;
}

static void every_job_is_acked_exactly_once_or_dead_and_the_counters_add_up(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "drain", SLUICE_TIER_CRITICAL, 0);
    const char *f[] = {"max_attempts", "dead_max", "backoff_base_ms", "backoff_max_ms"};
    const char *v[] = {"3", "100000", "1", "2"};
    sluice_error err;
    assert_int_equal(sluice_class_update(c, "drain", f, v, 4, NULL, &err), 0);

    const char **payloads = malloc(sizeof(*payloads) * JOBS);
    char (*ids)[SLUICE_ID_MAX] = malloc(sizeof(*ids) * JOBS);
    char *bodies = malloc((size_t)JOBS * 24);
    for (int i = 0; i < JOBS; i++) {
        snprintf(bodies + (size_t)i * 24, 24, "{\"n\":%d}", i);
        payloads[i] = bodies + (size_t)i * 24;
    }
    size_t done = 0;
    if (sluice_enqueue_many(c, "drain", JOBS, payloads, NULL, 0, ids, &done, &err) < 0)
        fail_msg("enqueue_many: %s", err.text);
    assert_int_equal(done, JOBS);

    claimer w[CLAIMERS];
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].redis = r;
        w[i].seed = 1234u + (unsigned)i;
        w[i].acked = calloc(JOBS + 2, 1);
        pthread_create(&th[i], NULL, drain, &w[i]);
    }
    long acks = 0, fails = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].error[0]) fail_msg("claimer %d: %s", i, w[i].error);
        acks += w[i].acks;
        fails += w[i].fails;
    }

    size_t n = 0;
    sluice_job_info *dead = NULL;
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "drain", &st, &err), 0);
    unsigned char *is_dead = calloc(JOBS + 2, 1);
    for (size_t off = 0; off < (size_t)st.dead; off += n) {
        dead = sluice_dead_list(c, "drain", off, 1000, &n, &err);
        assert_non_null(dead);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(dead[i].attempt, MAX_ATTEMPTS);
            is_dead[seq_of(dead[i].id)] = 1;
        }
        sluice_dead_list_free(dead, n);
    }
    long lost = 0, dup = 0;
    for (int i = 0; i < JOBS; i++) {
        int64_t s = seq_of(ids[i]);
        int times = 0;
        for (int k = 0; k < CLAIMERS; k++) times += w[k].acked[s];
        if (times > 1) dup++;
        if (times == 0 && !is_dead[s]) lost++;
        if (times == 1 && is_dead[s]) dup++;
    }
    print_message("drain: %ld acked, %ld failed attempts, %lld dead, %ld lost, %ld duplicated\n", acks, fails,
                  (long long)st.dead, lost, dup);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(acks + st.dead, JOBS);
    assert_int_equal(st.enqueued, JOBS);
    assert_int_equal(st.acked, acks);
    assert_int_equal(st.failed, fails);
    assert_int_equal(st.retried + st.died, st.failed);
    assert_int_equal(st.claimed, st.acked + st.failed);
    assert_int_equal(st.ready + st.delayed + st.leased, 0);
    for (int i = 0; i < CLAIMERS; i++) free(w[i].acked);
    free(is_dead);
    free(bodies);
    free(ids);
    free(payloads);
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_job_is_acked_exactly_once_or_dead_and_the_counters_add_up),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
