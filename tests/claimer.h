/* A claimer thread for integration tests: it claims one job of its class at
 * a time, runs it for job_ms (a sleep: the job's work) and acks it, until
 * stopped; a throttled claim waits out its retry hint (at most 20 ms). */
#ifndef SLUICE_TEST_CLAIMER_H
#define SLUICE_TEST_CLAIMER_H

#include <stdatomic.h>
#include <stdio.h>

#include "common.h"

typedef struct test_claimer {
    const harness_redis *redis;
    const char *cls;
    int job_ms;
    atomic_int stop;
    atomic_int started; /* jobs leased */
    atomic_int done;    /* jobs acked */
    char error[SLUICE_ERROR_TEXT + 32];
} test_claimer;

/* The thread's body (pthread_create's start routine); arg is a test_claimer
 * that several threads may share. */
static inline void *test_claimer_run(void *arg) {
    test_claimer *d = arg;
    sluice_error err;
    sluice_client *c = sluice_client_connect(d->redis->url, "t", &err);
    if (!c) return NULL;
    while (!atomic_load(&d->stop)) {
        sluice_job *j[1];
        sluice_claim_info info;
        if (sluice_claim(c, d->cls, NULL, 1, j, &info, &err) < 0) {
            snprintf(d->error, sizeof(d->error), "claim: %s", err.text);
            break;
        }
        if (!info.count) {
            harness_sleep_ms(info.retry_ms > 0 && info.retry_ms < 20 ? info.retry_ms : 20); /* pacing: the hint */
            continue;
        }
        atomic_fetch_add(&d->started, 1);
        harness_sleep_ms(d->job_ms); /* pacing: the job's work */
        sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err);
        sluice_job_free(j[0]);
        atomic_fetch_add(&d->done, 1);
    }
    sluice_client_free(c);
    return NULL;
}

#endif
