/* Admission control against a real redis-server: gates in the claim path,
 * operator overrides, signals and the governor loop. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "claimer.h"
#include "common.h"

static void declare(sluice_client *c, const char *cls, sluice_tier tier, double rate, double burst, int64_t conc,
                    double floor) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = tier;
    cfg.max_rate = rate;
    cfg.burst = burst;
    cfg.max_concurrency = conc;
    cfg.floor = floor;
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) fail_msg("class set %s: %s", cls, err.text);
}

static void fill(sluice_client *c, const char *cls, int n) {
    const char **p = malloc(sizeof(*p) * (size_t)n);
    for (int i = 0; i < n; i++) p[i] = "{}";
    sluice_error err;
    if (sluice_enqueue_many(c, cls, (size_t)n, p, NULL, 0, NULL, NULL, &err) < 0) fail_msg("fill: %s", err.text);
    free(p);
}

static void define_signal(sluice_client *c, const char *name, double target, double critical) {
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = target;
    d.critical = critical;
    d.stale_after_ms = 60000;
    sluice_error err;
    if (sluice_signal_define(c, name, &d, NULL, &err) < 0) fail_msg("signal define: %s", err.text);
}

static sluice_gate_info gate(sluice_client *c, const char *cls) {
    sluice_gate_info g;
    sluice_error err;
    if (sluice_gate_get(c, cls, &g, &err) < 0) fail_msg("gate: %s", err.text);
    return g;
}

/* ------------------------- fleet-wide limits ------------------------- */

#define RATE 40
#define BURST 4
#define CONC 3
#define CLAIMERS 4
#define RUN_MS 2500

typedef struct shared {
    const harness_redis *redis;
    atomic_int inflight, max_inflight, nclaims;
    long long stamps[4096];
    long long start;
    char error[SLUICE_ERROR_TEXT + 32];
} shared;

static void *claimer(void *arg) {
    shared *s = arg;
    sluice_error err;
    sluice_client *c = sluice_client_connect(s->redis->url, "t", &err);
    if (!c) return NULL;
    while (harness_now_ms() - s->start < RUN_MS) {
        sluice_job *j[1];
        sluice_claim_info info;
        if (sluice_claim(c, "limited", NULL, 1, j, &info, &err) < 0) {
            snprintf(s->error, sizeof(s->error), "claim: %s", err.text);
            break;
        }
        if (!info.count) {
            harness_sleep_ms(info.retry_ms > 0 && info.retry_ms < 20 ? info.retry_ms : 5); /* pacing: the hint */
            continue;
        }
        int now = atomic_fetch_add(&s->inflight, 1) + 1;
        int k = atomic_fetch_add(&s->nclaims, 1);
        if (k < 4096) s->stamps[k] = harness_now_ms();
        int m = atomic_load(&s->max_inflight);
        while (now > m && !atomic_compare_exchange_weak(&s->max_inflight, &m, now)) {}
        harness_sleep_ms(15); /* pacing: the job's work */
        /* count it out before the ack: Redis still holds the lease meanwhile */
        atomic_fetch_sub(&s->inflight, 1);
        sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err);
        sluice_job_free(j[0]);
    }
    sluice_client_free(c);
    return NULL;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void a_class_limited_to_r_per_second_and_c_in_flight_never_exceeds_either_fleet_wide(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "limited", SLUICE_TIER_NORMAL, RATE, BURST, CONC, 0.1);
    fill(c, "limited", 1000);
    static shared s;
    memset(&s, 0, sizeof(s));
    s.redis = *state;
    s.start = harness_now_ms();
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) pthread_create(&th[i], NULL, claimer, &s);
    for (int i = 0; i < CLAIMERS; i++) pthread_join(th[i], NULL);
    if (s.error[0]) fail_msg("%s", s.error);
    int n = atomic_load(&s.nclaims);
    qsort(s.stamps, (size_t)n, sizeof(s.stamps[0]), cmp_ll);
    int worst = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (s.stamps[i] - s.stamps[j] >= 1000) j++;
        if (i - j + 1 > worst) worst = i - j + 1;
    }
    print_message(
        "limits: %d claims in %d ms, busiest 1 s window %d (limit %d + burst %d), max in flight %d (limit %d)\n", n,
        RUN_MS, worst, RATE, BURST, atomic_load(&s.max_inflight), CONC);
    assert_true(atomic_load(&s.max_inflight) <= CONC);
    assert_true(worst <= RATE + BURST + 1); /* +1: client-side timestamps jitter */
    assert_true(n >= RATE * RUN_MS / 1000 * 7 / 10);
    sluice_client_free(c);
}

/* ------------------ claims at a fraction between 0 and 1 ------------------ */

/* Claims of one job each, acked at once, for "ms" of the Redis clock:
 * how many the gate admitted, and over how many ms it ran. */
static int claims_for(sluice_client *c, const char *cls, int64_t ms, int64_t *took) {
    int admitted = 0;
    int64_t t0 = test_redis_now(c), now = t0;
    sluice_error err;
    while (now - t0 < ms) {
        sluice_job *j[1];
        sluice_claim_info info;
        if (sluice_claim(c, cls, "t", 1, j, &info, &err) < 0) fail_msg("claim: %s", err.text);
        if (info.count == 1) {
            admitted++;
            if (sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err) < 0) fail_msg("ack: %s", err.text);
            sluice_job_free(j[0]);
        }
        now = test_redis_now(c);
    }
    *took = now - t0;
    return admitted;
}

/* A pinned fraction of 0.5 halves the class's concurrency: of max 4 in
 * flight, 2 are admitted and the next claim is throttled for concurrency. */
static void a_fraction_of_one_half_admits_half_the_concurrency(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "half-conc", SLUICE_TIER_LOW, 0, 0, 4, 0.1);
    fill(c, "half-conc", 10);
    sluice_error err;
    assert_int_equal(sluice_class_pin(c, "half-conc", 0.5, 0, &err), 0);
    sluice_job *j[10];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "half-conc", "t", 10, j, &info, &err), 0);
    assert_int_equal(info.count, 2);
    sluice_job *more[10];
    sluice_claim_info again;
    assert_int_equal(sluice_claim(c, "half-conc", "t", 10, more, &again, &err), 0);
    assert_int_equal(again.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(again.why, "concurrency");
    assert_true(fabs(again.fraction - 0.5) < 1e-9);
    /* one ends: one more is admitted, never a third at once */
    assert_int_equal(sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err), 0);
    assert_int_equal(sluice_claim(c, "half-conc", "t", 10, more, &again, &err), 0);
    assert_int_equal(again.count, 1);
    sluice_job_free(more[0]);
    for (size_t i = 0; i < info.count; i++) sluice_job_free(j[i]);
    /* unpinned, the full four */
    assert_int_equal(sluice_class_unpin(c, "half-conc", &err), 0);
    assert_int_equal(sluice_claim(c, "half-conc", "t", 10, more, &again, &err), 0);
    assert_int_equal(again.count, 2);
    for (size_t i = 0; i < again.count; i++) sluice_job_free(more[i]);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "half-conc", &st, &err), 0);
    assert_int_equal(st.leased, 4);
    sluice_client_free(c);
}

/* Claims until the gate throttles for the rate (the burst spent): its
 * answer says when the next job is admitted. */
static sluice_claim_info first_rate_refusal(sluice_client *c, const char *cls) {
    sluice_claim_info info;
    sluice_error err;
    for (int i = 0; i < 100; i++) {
        sluice_job *j[1];
        if (sluice_claim(c, cls, "t", 1, j, &info, &err) < 0) fail_msg("claim: %s", err.text);
        if (info.count == 0) return info;
        if (sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err) < 0) fail_msg("ack: %s", err.text);
        sluice_job_free(j[0]);
    }
    fail_msg("100 claims and no refusal for the rate");
    return info;
}

/* A pinned fraction of 0.5 halves the rate: a class of 100/s (burst 5)
 * admits at most 50/s and its burst of 2.5 (any load: the Redis clock
 * counts), and once the burst is spent the next job is due within 20 ms
 * (1/50 s), where at full admission it is due within 10 ms. */
static void a_fraction_of_one_half_admits_half_the_rate(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "half-rate", SLUICE_TIER_LOW, 100, 5, 0, 0.1);
    fill(c, "half-rate", 1000);
    sluice_error err;
    assert_int_equal(sluice_class_pin(c, "half-rate", 0.5, 0, &err), 0);
    int64_t took;
    int half = claims_for(c, "half-rate", 2000, &took);
    sluice_claim_info refused = first_rate_refusal(c, "half-rate");
    assert_int_equal(refused.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(refused.why, "rate");
    assert_true(fabs(refused.fraction - 0.5) < 1e-9);
    assert_true(refused.retry_ms >= 1 && refused.retry_ms <= 20);
    assert_int_equal(sluice_class_unpin(c, "half-rate", &err), 0);
    int64_t took_full;
    int full = claims_for(c, "half-rate", 2000, &took_full);
    sluice_claim_info full_refused = first_rate_refusal(c, "half-rate");
    assert_true(full_refused.retry_ms >= 1 && full_refused.retry_ms <= 10);
    print_message("rate at fraction 0.5: %d claims in %lld ms (%.1f/s), next due in %lld ms; at 1: %d in %lld ms "
                  "(%.1f/s), next due in %lld ms\n",
                  half, (long long)took, half * 1000.0 / (double)took, (long long)refused.retry_ms, full,
                  (long long)took_full, full * 1000.0 / (double)took_full, (long long)full_refused.retry_ms);
    /* GCRA: at most rate x time + burst, each scaled by the fraction */
    assert_true(half <= 50.0 * (double)took / 1000.0 + 2.5 + 1);
    assert_true(full <= 100.0 * (double)took_full / 1000.0 + 5 + 1);
    sluice_client_free(c);
}

/* ----------------------------- duty cycle ---------------------------- */

#define DUTY_JOB_MS 100
#define DUTY_CLAIMERS 3

/* Jobs per second that DUTY_CLAIMERS claimers finish over a window of "ms". */
static double duty_rate(test_claimer *d, long ms) {
    pthread_t th[DUTY_CLAIMERS];
    atomic_store(&d->done, 0);
    atomic_store(&d->stop, 0);
    for (int i = 0; i < DUTY_CLAIMERS; i++) pthread_create(&th[i], NULL, test_claimer_run, d);
    long long t0 = harness_now_ms();
    harness_sleep_ms(ms); /* pacing: the measuring window */
    atomic_store(&d->stop, 1);
    int done = atomic_load(&d->done);
    for (int i = 0; i < DUTY_CLAIMERS; i++) pthread_join(th[i], NULL);
    if (d->error[0]) fail_msg("%s", d->error);
    return done * 1000.0 / (double)(harness_now_ms() - t0);
}

/* A class of max_concurrency 3 at fraction 0.1 has a tenth of a job slot:
 * it runs one job at a time and rests between them, so its throughput is a
 * tenth of its full rate, not the third that one slot would give. */
static void a_floor_below_one_slot_scales_the_job_rate_by_duty_cycle(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "duty", SLUICE_TIER_LOW, 0, 0, DUTY_CLAIMERS, 0.1);
    fill(c, "duty", 3000);
    static test_claimer d;
    memset(&d, 0, sizeof(d));
    d.redis = *state;
    d.cls = "duty";
    d.job_ms = DUTY_JOB_MS;
    double full = duty_rate(&d, 4000);
    sluice_error err;
    assert_int_equal(sluice_class_pin(c, "duty", 0.1, 0, &err), 0);
    sluice_gate_info g = gate(c, "duty");
    assert_true(fabs(g.effective_concurrency - 0.3) < 1e-9);
    double held = duty_rate(&d, 20000);
    print_message("duty cycle: %.1f jobs/s at full admission, %.2f jobs/s at fraction 0.1 (%.1f%%)\n", full, held,
                  100 * held / full);
    assert_true(held <= 0.15 * full);
    assert_true(held >= 0.05 * full); /* rests, but runs */
    /* Right after a job ends the class rests: the claim is throttled with why
     * "duty" and a retry hint of the time until it is admitted again. */
    sluice_job *j[1];
    sluice_claim_info info;
    WAIT_UNTIL(sluice_claim(c, "duty", NULL, 1, j, &info, &err) == 0 && info.count == 1, 10000);
    assert_int_equal(info.count, 1);
    harness_sleep_ms(DUTY_JOB_MS); /* pacing: the job's work */
    assert_int_equal(sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err), 0);
    sluice_job_free(j[0]);
    assert_int_equal(sluice_claim(c, "duty", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(info.why, "duty");
    /* the rest after a job of d at share 0.3 is d / 0.3 - d, about 2.3 d */
    assert_true(info.retry_ms >= DUTY_JOB_MS && info.retry_ms <= DUTY_JOB_MS * 10);
    test_redis_after(c, test_redis_now(c) + info.retry_ms); /* the rest is over, by the Redis clock */
    assert_int_equal(sluice_claim(c, "duty", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    assert_int_equal(sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err), 0);
    sluice_job_free(j[0]);
    /* a whole slot or more: no rest, and nothing read for it */
    assert_int_equal(sluice_class_pin(c, "duty", 0.34, 0, &err), 0);
    assert_true(gate(c, "duty").effective_concurrency == 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sluice_claim(c, "duty", NULL, 1, j, &info, &err), 0);
        assert_int_equal(info.count, 1);
        assert_int_equal(sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err), 0);
        sluice_job_free(j[0]);
    }
    sluice_client_free(c);
}

/* Claims one job of "cls" (waiting out a rest of at most "rest_ms"), holds it
 * until the Redis clock has moved DUTY_JOB_MS past the claim, and acks it.
 * Returns the most the lease can have lasted, in ms by the Redis clock. */
static int64_t run_one_job(sluice_client *c, const char *cls, int64_t rest_ms) {
    sluice_job *j[1];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, cls, NULL, 1, j, &info, &err), 0);
    if (info.count == 0) {
        assert_string_equal(info.why, "duty");
        assert_true(info.retry_ms <= rest_ms);
        test_redis_after(c, test_redis_now(c) + info.retry_ms); /* the rest is over, by the Redis clock */
        assert_int_equal(sluice_claim(c, cls, NULL, 1, j, &info, &err), 0);
        assert_int_equal(info.count, 1);
    }
    int64_t t0 = test_redis_now(c);
    test_redis_after(c, t0 + DUTY_JOB_MS); /* the job's work, by the Redis clock */
    assert_int_equal(sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err), 0);
    sluice_job_free(j[0]);
    return test_redis_now(c) - t0 + 1;
}

/* Right after a job of "d" ms, a claim of "cls" rests at least as long as
 * share 0.01 asks: about 99 d. */
static void rests_as_the_floor_asks(sluice_client *c, const char *cls, int64_t d) {
    sluice_claim_info info;
    sluice_job *j[1];
    sluice_error err;
    assert_int_equal(sluice_claim(c, cls, NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(info.why, "duty");
    assert_true(info.retry_ms >= 100 * DUTY_JOB_MS - d);
}

/* The rest after a job follows the share the class has when it next claims:
 * a class raised from its floor starts its next job at once rather than
 * after the floor's long rest, and a class cut to its floor does not start
 * another job on the short rest the old share allowed. */
static void a_rest_follows_the_share_the_class_has_now(void **state) {
    sluice_client *c = test_connect(state);
    sluice_error err;
    declare(c, "resting", SLUICE_TIER_LOW, 0, 0, 1, 0.01);
    fill(c, "resting", 10);

    assert_int_equal(sluice_class_pin(c, "resting", 0.01, 0, &err), 0);
    int64_t d = run_one_job(c, "resting", 0);
    rests_as_the_floor_asks(c, "resting", d);

    /* raised to 0.5: the rest is d / 0.5 from the job's start, mostly over */
    assert_int_equal(sluice_class_pin(c, "resting", 0.5, 0, &err), 0);
    d = run_one_job(c, "resting", 2 * d);

    /* a job at 0.5, then cut to 0.01: the rest is that of 0.01 */
    assert_int_equal(sluice_class_pin(c, "resting", 0.01, 0, &err), 0);
    rests_as_the_floor_asks(c, "resting", d);
    sluice_client_free(c);
}

/* --------------------------- throttled jobs -------------------------- */

static void throttled_jobs_lose_nothing_spend_no_attempt_and_keep_their_order(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "held", SLUICE_TIER_LOW, 0, 0, 10, 0);
    char ids[20][SLUICE_ID_MAX];
    const char *p[20];
    for (int i = 0; i < 20; i++) p[i] = "{}";
    sluice_error err;
    assert_int_equal(sluice_enqueue_many(c, "held", 20, p, NULL, 0, ids, NULL, &err), 0);
    assert_int_equal(sluice_class_pin(c, "held", 0, 0, &err), 0);
    for (int i = 0; i < 50; i++) {
        sluice_job *j[5];
        sluice_claim_info info;
        assert_int_equal(sluice_claim(c, "held", NULL, 5, j, &info, &err), 0);
        assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
        assert_string_equal(info.why, "fraction");
        assert_true(info.retry_ms > 0);
    }
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "held", &st, &err), 0);
    assert_int_equal(st.ready, 20);
    assert_int_equal(st.claimed + st.failed + st.died + st.dead, 0);
    assert_int_equal(st.throttled, 50);
    for (int i = 0; i < 20; i++) {
        sluice_job_info info;
        assert_int_equal(sluice_job_get(c, ids[i], &info, &err), 0);
        assert_int_equal(info.state, SLUICE_JOB_READY);
        assert_int_equal(info.attempt, 0);
        assert_int_equal(info.ahead, i);
        sluice_job_info_clear(&info);
    }
    assert_int_equal(sluice_class_unpin(c, "held", &err), 0);
    sluice_job *j[20];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "held", NULL, 20, j, &info, &err), 0);
    assert_int_equal(info.count, 10); /* max_concurrency */
    for (size_t i = 0; i < info.count; i++) {
        assert_string_equal(sluice_job_id(j[i]), ids[i]);
        assert_int_equal(sluice_job_attempt(j[i]), 1);
        sluice_job_free(j[i]);
    }
    sluice_client_free(c);
}

static void a_paused_class_is_throttled_until_resumed_or_its_pause_expires(void **state) {
    harness_redis *r = *state;
    sluice_client *c = test_connect(state);
    declare(c, "pausing", SLUICE_TIER_CRITICAL, 0, 0, 0, 1);
    fill(c, "pausing", 3);
    sluice_error err;
    assert_int_equal(sluice_client_set_name(c, "ops-alice", &err), 0);
    assert_int_equal(sluice_class_pause(c, "pausing", 0, &err), 0);
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "pausing", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    assert_string_equal(info.why, "paused");
    assert_int_equal(sluice_class_resume(c, "pausing", &err), 0);
    assert_int_equal(sluice_claim(c, "pausing", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    sluice_job_free(j[0]);
    assert_int_equal(sluice_class_pause(c, "pausing", 100, &err), 0);
    assert_int_equal(sluice_claim(c, "pausing", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    /* the pause lapses by the Redis clock, 100 ms after it began */
    int64_t until = gate(c, "pausing").paused_until;
    WAIT_UNTIL(sluice_claim(c, "pausing", NULL, 1, j, &info, &err) == 0 && info.count == 1, 10000);
    assert_int_equal(info.count, 1);
    assert_true(test_redis_now(c) >= until);
    sluice_job_free(j[0]);
    /* created, paused, resumed, paused: four audit entries */
    assert_int_equal(harness_redis_int(r, "XLEN t:{pausing}:audit"), 4);
    sluice_client_free(c);
}

static void a_pinned_fraction_expires_back_to_the_governor(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "pinned", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    sluice_error err;
    assert_int_equal(sluice_class_pin(c, "pinned", 0.5, 100, &err), 0);
    sluice_gate_info g = gate(c, "pinned");
    assert_string_equal(g.why, "pinned");
    assert_true(fabs(g.fraction - 0.5) < 1e-9);
    assert_true(fabs(g.effective_rate - 50) < 1e-9);
    WAIT_UNTIL(strcmp((g = gate(c, "pinned")).why, "ungoverned") == 0, 10000);
    assert_string_equal(g.why, "ungoverned");
    assert_true(g.fraction == 1);
    sluice_client_free(c);
}

/* ------------------------------ governor ----------------------------- */

/* A governor ticking every "tick" ms whose lease lasts "lease" ms: a short
 * lease where a test needs a quick failover, a long one elsewhere, so a busy
 * machine's slow tick does not lose it between lease and commit. */
static sluice_governor *governor(sluice_client *c, const char *owner, int64_t tick, int64_t lease, int64_t ttl) {
    sluice_governor_opts o;
    sluice_governor_opts_init(&o);
    o.tick_ms = tick;
    o.lease_ms = lease;
    o.gate_ttl_ms = ttl;
    o.law.dwell_ms = 5 * tick;
    sluice_error err;
    sluice_governor *g = sluice_governor_new(c, owner, &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    return g;
}

static sluice_governor_report tick(sluice_governor *g) {
    sluice_governor_report r;
    sluice_error err;
    if (sluice_governor_tick(g, &r, &err) < 0) fail_msg("tick: %s", err.text);
    return r;
}

static void reset_namespace(harness_redis *r) {
    harness_redis_int(r, "FLUSHALL");
}

/* A counter of INFO stats, read on a connection of its own. */
static long long info_stat(redisContext *rc, const char *field) {
    redisReply *r = redisCommand(rc, "INFO stats");
    long long n = -1;
    char key[64];
    snprintf(key, sizeof(key), "\n%s:", field);
    if (r && r->str && strstr(r->str, key)) n = atoll(strstr(r->str, key) + strlen(key));
    freeReplyObject(r);
    if (n < 0) fail_msg("INFO stats: no %s", field);
    return n;
}

/* The commands and the socket reads Redis spends on one leading tick with
 * n wide-open classes and a signal at half its target (the tick writes
 * every gate). */
static void one_tick(void **state, int n, long long *cmds, long long *reads) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    for (int i = 0; i < n; i++) {
        char cls[16];
        snprintf(cls, sizeof(cls), "rt%03d", i);
        declare(c, cls, SLUICE_TIER_NORMAL, 1e9, 0, 1000000, 0.1);
    }
    define_signal(c, "rt_load", 100, 200);
    sluice_error err;
    if (sluice_signal_report(c, "rt_load", 50, 0, &err) < 0) fail_msg("report: %s", err.text);
    sluice_governor *g = governor(c, "counter", 1000, 60000, 5000);
    assert_true(tick(g).leader); /* the lease taken, the connection warm */
    redisContext *rc = redisConnectUnix(r->sock);
    assert_true(rc && !rc->err);
    long long c0 = info_stat(rc, "total_commands_processed"), r0 = info_stat(rc, "total_reads_processed");
    sluice_governor_report rep = tick(g);
    long long c1 = info_stat(rc, "total_commands_processed"), r1 = info_stat(rc, "total_reads_processed");
    assert_true(rep.leader);
    assert_int_equal(rep.classes, n);
    /* less the first INFO's command and the second's read */
    *cmds = c1 - c0 - 1;
    *reads = r1 - r0 - 1;
    redisFree(rc);
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* A tick reads every class, and writes the gates that change, in a fixed number of round trips:
 * Redis reads the commands of a tick over 200 classes in far fewer socket
 * reads than there are classes (one pipeline for the reads, one for the
 * writes), where a round trip per class would need at least one read each;
 * and the commands grow by the same count for every class added. */
static void a_tick_costs_the_same_round_trips_with_10_classes_and_with_200(void **state) {
    long long cmds10, reads10, cmds200, reads200;
    one_tick(state, 10, &cmds10, &reads10);
    one_tick(state, 200, &cmds200, &reads200);
    print_message("one tick: %lld commands in %lld reads with 10 classes, %lld in %lld with 200\n", cmds10, reads10,
                  cmds200, reads200);
    assert_true(reads200 < 200 / 4);
    assert_int_equal((cmds200 - cmds10) % 190, 0);
}

static void over_target_the_lowest_tier_falls_within_two_ticks_and_critical_is_untouched(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "gov-low", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    declare(c, "gov-normal", SLUICE_TIER_NORMAL, 100, 0, 0, 0.2);
    declare(c, "gov-crit", SLUICE_TIER_CRITICAL, 100, 0, 0, 1);
    define_signal(c, "iops", 0.8, 0.95);
    sluice_error err;
    assert_int_equal(sluice_signal_report(c, "iops", 0.5, 0, &err), 0);
    sluice_governor *g = governor(c, "gov-a", 100, 2000, 5000);
    sluice_governor_report rep = tick(g);
    assert_true(rep.leader);
    assert_true(gate(c, "gov-low").fraction == 1);
    assert_int_equal(sluice_signal_report(c, "iops", 0.87, 0, &err), 0);
    int ticks = 0;
    while (gate(c, "gov-low").fraction >= 1 && ticks < 5) {
        tick(g);
        ticks++;
    }
    sluice_gate_info low = gate(c, "gov-low");
    print_message("governor: low tier cut after %d tick(s) to %.2f (rate %.0f/s)\n", ticks, low.fraction,
                  low.effective_rate);
    assert_true(ticks <= 2);
    assert_true(low.effective_rate < 100);
    assert_string_equal(low.why, "governor");
    assert_true(gate(c, "gov-normal").fraction == 1);
    assert_true(gate(c, "gov-crit").fraction == 1);
    /* at critical, every non-critical class to its floor in one tick */
    assert_int_equal(sluice_signal_report(c, "iops", 0.97, 0, &err), 0);
    rep = tick(g);
    assert_int_equal(rep.action, SLUICE_LAW_CRITICAL);
    assert_string_equal(rep.driver, "iops");
    assert_true(fabs(gate(c, "gov-low").fraction - 0.1) < 1e-9);
    assert_true(fabs(gate(c, "gov-normal").fraction - 0.2) < 1e-9);
    assert_true(gate(c, "gov-crit").fraction == 1);
    size_t n;
    char **hist = sluice_governor_history_list(c, 10, &n, &err);
    assert_true(n >= 3);
    assert_non_null(strstr(hist[0], "\"driver\":\"iops\""));
    assert_non_null(strstr(hist[0], "\"action\":\"critical\""));
    sluice_governor_history_free(hist, n);
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* Seconds for "ops" claim+ack round trips of one critical job each. */
static double claim_seconds(sluice_client *c, const char *cls, int ops) {
    sluice_error err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < ops; i++) {
        sluice_job *j[1];
        sluice_claim_info info;
        if (sluice_claim(c, cls, NULL, 1, j, &info, &err) < 0 || info.count != 1) fail_msg("critical claim refused");
        sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err);
        sluice_job_free(j[0]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define RATE_ROUNDS 21
#define RATE_OPS 300

/* Calm and critical pressure alternate in short rounds, so load from
 * elsewhere on the machine hits both alike; the median of the paired
 * ratios is what the critical class keeps. */
static void a_critical_class_keeps_its_claim_rate_under_critical_pressure(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "crit", SLUICE_TIER_CRITICAL, 0, 0, 0, 1);
    declare(c, "bulk", SLUICE_TIER_LOW, 1000, 0, 0, 0);
    define_signal(c, "lag", 10, 30);
    fill(c, "crit", RATE_ROUNDS * RATE_OPS * 2 + 10);
    sluice_error err;
    sluice_governor *g = governor(c, "gov-c", 100, 2000, 60000);
    double ratio[RATE_ROUNDS];
    for (int round = 0; round < RATE_ROUNDS; round++) {
        assert_int_equal(sluice_signal_report(c, "lag", 1, 0, &err), 0);
        tick(g);
        double calm = claim_seconds(c, "crit", RATE_OPS);
        assert_int_equal(sluice_signal_report(c, "lag", 45, 0, &err), 0);
        tick(g);
        assert_true(gate(c, "bulk").fraction == 0);
        double pressed = claim_seconds(c, "crit", RATE_OPS);
        ratio[round] = calm / pressed;
    }
    qsort(ratio, RATE_ROUNDS, sizeof(ratio[0]), cmp_double);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "crit", &st, &err), 0);
    print_message("critical: claim rate under critical pressure at %.1f%% of calm (median of %d paired rounds; "
                  "range %.1f%%..%.1f%%), %lld throttled\n",
                  100 * ratio[RATE_ROUNDS / 2], RATE_ROUNDS, 100 * ratio[0], 100 * ratio[RATE_ROUNDS - 1],
                  (long long)st.throttled);
    assert_int_equal(st.throttled, 0);
    assert_true(ratio[RATE_ROUNDS / 2] >= 0.95);
    sluice_governor_free(g);
    sluice_client_free(c);
}

static void when_the_leader_dies_another_governor_takes_over_within_three_ticks(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *ca = test_connect(state), *cb = test_connect(state);
    declare(ca, "failover", SLUICE_TIER_LOW, 10, 0, 0, 0.1);
    sluice_governor *a = governor(ca, "gov-a", 200, 400, 5000), *b = governor(cb, "gov-b", 200, 400, 5000);
    assert_true(tick(a).leader);
    assert_false(tick(b).leader);
    /* a dies: it stops ticking, without resigning */
    int ticks = 0;
    int64_t epoch_a = 0;
    sluice_governor_report rb;
    do {
        harness_sleep_ms(200); /* pacing: b ticks every 200 ms, as its host would */
        rb = tick(b);
        ticks++;
    } while (!rb.leader && ticks < 10);
    print_message("failover: new leader after %d ticks\n", ticks);
    assert_true(rb.leader);
    assert_true(ticks <= 3);
    /* the deposed leader's next gate write is refused by the epoch fence */
    sluice_governor_status st;
    sluice_error err;
    assert_int_equal(sluice_governor_status_get(ca, &st, &err), 0);
    assert_string_equal(st.leader, "gov-b");
    epoch_a = st.epoch - 1;
    assert_int_equal(sluice_gate_govern(ca, "failover", epoch_a, 1, 1000, "late", 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_STALE);
    sluice_governor_free(b);
    sluice_governor_free(a);
    sluice_client_free(ca);
    sluice_client_free(cb);
}

/* A governor that ticks every 100 ms and changes a fraction at every tick
 * that calls for it (no dwell, no calm wait). */
static void quick_governor_opts(sluice_governor_opts *o) {
    sluice_governor_opts_init(o);
    o->tick_ms = 100;
    o->lease_ms = 2000;
    o->gate_ttl_ms = 5000;
    o->law.dwell_ms = 0;
    o->law.calm_ms = 0;
    o->law.smoothing_ms = 0;
}

/* The loop reads each class's ready set and hands its size to the law, so a
 * raise after a drop goes to the tier whose jobs wait, not to an idle one
 * above it; the decision records what waited. */
static void a_raise_goes_to_the_tier_with_ready_jobs_and_the_decision_records_them(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "w-normal", SLUICE_TIER_NORMAL, 100, 0, 0, 0.2);
    declare(c, "w-low", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    fill(c, "w-low", 5);
    define_signal(c, "iops", 0.8, 0.95);
    sluice_governor_opts o;
    quick_governor_opts(&o);
    sluice_error err;
    sluice_governor *g = sluice_governor_new(c, "gov-w", &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    assert_int_equal(sluice_signal_report(c, "iops", 0.97, 0, &err), 0);
    sluice_governor_report drop = tick(g);
    assert_int_equal(drop.action, SLUICE_LAW_CRITICAL);
    assert_true(fabs(gate(c, "w-normal").fraction - 0.2) < 1e-9);
    assert_true(fabs(gate(c, "w-low").fraction - 0.1) < 1e-9);
    test_redis_after(c, drop.now); /* a reading observed after the drop */
    assert_int_equal(sluice_signal_report(c, "iops", 0.2, 0, &err), 0);
    sluice_governor_report rep = tick(g);
    assert_int_equal(rep.action, SLUICE_LAW_RAISE);
    assert_non_null(strstr(rep.summary, "raise low tier"));
    assert_true(gate(c, "w-low").fraction > 0.1);
    assert_true(fabs(gate(c, "w-normal").fraction - 0.2) < 1e-9);
    size_t n;
    char **hist = sluice_governor_history_list(c, 1, &n, &err);
    assert_int_equal(n, 1);
    assert_non_null(strstr(hist[0], "\"waiting\":5"));
    assert_non_null(strstr(hist[0], "\"waiting\":0"));
    sluice_governor_history_free(hist, n);
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* With idle_ms set, over target a class with nothing ready and nothing
 * leased for that long keeps only its floor; a class with a job in flight
 * or jobs ready is not idle, and its tier is cut as before. */
static void over_target_a_class_with_no_work_keeps_only_its_floor(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "i-idle", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    declare(c, "i-running", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    declare(c, "i-ready", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    fill(c, "i-running", 1);
    fill(c, "i-ready", 5);
    sluice_job *j[1];
    sluice_claim_info info;
    sluice_error err;
    assert_int_equal(sluice_claim(c, "i-running", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    define_signal(c, "iops", 0.8, 0.95);
    assert_int_equal(sluice_signal_report(c, "iops", 0.5, 0, &err), 0);
    sluice_governor_opts o;
    quick_governor_opts(&o);
    o.law.idle_ms = 50;
    sluice_governor *g = sluice_governor_new(c, "gov-i", &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    sluice_governor_report calm = tick(g);
    assert_true(gate(c, "i-idle").fraction == 1); /* calm, and not seen idle long yet */
    test_redis_after(c, calm.now + o.law.idle_ms);
    assert_int_equal(sluice_signal_report(c, "iops", 0.87, 0, &err), 0);
    sluice_governor_report cut = tick(g);
    assert_int_equal(cut.action, SLUICE_LAW_CUT);
    sluice_gate_info idle = gate(c, "i-idle"), running = gate(c, "i-running"), ready = gate(c, "i-ready");
    assert_true(fabs(idle.fraction - 0.1) < 1e-9);
    assert_non_null(strstr(idle.reason, "no work for"));
    assert_true(running.fraction > 0.1 && running.fraction < 1);
    assert_true(fabs(ready.fraction - running.fraction) < 1e-9);
    sluice_ack(c, sluice_job_id(j[0]), sluice_job_token(j[0]), &err);
    sluice_job_free(j[0]);
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* A class's "waiting" in the governor's last decision, as JSON text. */
static const char *decision_waiting(const sluice_governor *g, const char *cls) {
    static char text[32];
    json_error_t jerr;
    json_t *d = json_loads(sluice_governor_last_decision(g), 0, &jerr);
    if (!d) fail_msg("decision: %s", jerr.text);
    json_t *c;
    size_t i;
    text[0] = '\0';
    json_array_foreach(json_object_get(d, "classes"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), cls) != 0) continue;
        char *w = json_dumps(json_object_get(c, "waiting"), JSON_ENCODE_ANY);
        snprintf(text, sizeof(text), "%s", w ? w : "?");
        free(w);
    }
    json_decref(d);
    return text;
}

/* Ready jobs that no claim was refused for wait on their workers, not on
 * their gate: raising their tier would admit nothing. Once held_ms has
 * passed without a refused claim, the law sees nothing waiting there and a
 * raise goes to the tier whose gate refuses claims. */
static void a_raise_passes_over_a_class_whose_gate_refused_no_claim_lately(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "h-normal", SLUICE_TIER_NORMAL, 100, 0, 0, 0.2);
    declare(c, "h-low", SLUICE_TIER_LOW, 100, 0, 0, 0);
    fill(c, "h-normal", 5);
    fill(c, "h-low", 5);
    define_signal(c, "iops", 0.8, 0.95);
    sluice_governor_opts o;
    quick_governor_opts(&o);
    o.held_ms = 300;
    sluice_error err;
    sluice_governor *g = sluice_governor_new(c, "gov-h", &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    assert_int_equal(sluice_signal_report(c, "iops", 0.97, 0, &err), 0);
    sluice_governor_report drop = tick(g);
    assert_int_equal(drop.action, SLUICE_LAW_CRITICAL);
    test_redis_after(c, drop.now + o.held_ms); /* h-normal's held window is over */
    /* h-low at floor 0 refuses its workers; nobody claims h-normal. */
    sluice_job *j[1];
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, "h-low", NULL, 1, j, &info, &err), 0);
    assert_int_equal(info.status, SLUICE_CLAIM_THROTTLED);
    assert_int_equal(sluice_signal_report(c, "iops", 0.2, 0, &err), 0);
    sluice_governor_report rep = tick(g);
    assert_int_equal(rep.action, SLUICE_LAW_RAISE);
    assert_non_null(strstr(rep.summary, "raise low tier"));
    assert_true(gate(c, "h-low").fraction > 0);
    assert_true(fabs(gate(c, "h-normal").fraction - 0.2) < 1e-9);
    /* The decision records what the law saw waiting on each gate. */
    assert_string_equal(decision_waiting(g, "h-normal"), "0");
    assert_string_equal(decision_waiting(g, "h-low"), "5");
    /* A governor told a bad window refuses to start. */
    o.held_ms = 0;
    assert_null(sluice_governor_new(c, "gov-h2", &o, &err));
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    sluice_governor_free(g);
    sluice_client_free(c);
}

static void with_no_governor_running_gates_lapse_to_the_floor(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "lapse", SLUICE_TIER_NORMAL, 100, 0, 0, 0.25);
    declare(c, "lapse-crit", SLUICE_TIER_CRITICAL, 100, 0, 0, 0.1); /* a floor that must not apply */
    sluice_governor *g = governor(c, "gov-l", 100, 2000, 200);
    tick(g);
    assert_true(gate(c, "lapse").fraction == 1);
    sluice_governor_free(g);
    sluice_gate_info lapsed;
    WAIT_UNTIL(strcmp((lapsed = gate(c, "lapse")).why, "governor silent") == 0, 10000);
    assert_string_equal(lapsed.why, "governor silent");
    assert_true(fabs(lapsed.fraction - 0.25) < 1e-9);
    assert_true(fabs(lapsed.effective_rate - 25) < 1e-9);
    assert_true(gate(c, "lapse-crit").fraction == 1);
    sluice_client_free(c);
}

static void shadow_mode_records_decisions_without_enforcing_them(void **state) {
    harness_redis *r = *state;
    reset_namespace(r);
    sluice_client *c = test_connect(state);
    declare(c, "shadowed", SLUICE_TIER_LOW, 100, 0, 0, 0.1);
    define_signal(c, "cpu", 0.7, 0.9);
    sluice_error err;
    assert_int_equal(sluice_governor_mode_set(c, SLUICE_GOVERNOR_SHADOW, &err), 0);
    assert_int_equal(sluice_signal_report(c, "cpu", 0.95, 0, &err), 0);
    sluice_governor *g = governor(c, "gov-s", 100, 2000, 5000);
    sluice_governor_report rep = tick(g);
    assert_int_equal(rep.mode, SLUICE_GOVERNOR_SHADOW);
    sluice_gate_info s = gate(c, "shadowed");
    assert_true(s.fraction == 1);
    assert_true(s.shadow);
    assert_true(fabs(s.shadow_fraction - 0.1) < 1e-9);
    assert_int_equal(sluice_governor_mode_set(c, SLUICE_GOVERNOR_OFF, &err), 0);
    tick(g);
    s = gate(c, "shadowed");
    assert_false(s.governed);
    assert_string_equal(s.why, "ungoverned");
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* ----------------------------- bad input ----------------------------- */

static void bad_class_settings_are_refused_and_nothing_is_half_applied(void **state) {
    sluice_client *c = test_connect(state);
    declare(c, "strict-class", SLUICE_TIER_LOW, 50, 0, 4, 0.1);
    struct {
        const char *field, *value;
    } bad[] = {{"tier", "urgent"}, {"max_rate", "-1"},         {"max_rate", "fast"}, {"floor", "1.5"},
               {"floor", "-0.1"},  {"max_concurrency", "2.5"}, {"max_rate", "nan"},  {"max_rate", "inf"},
               {"colour", "blue"}, {"max_attempts", "0"}};
    sluice_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *f[] = {"max_concurrency", bad[i].field}, *v[] = {"99", bad[i].value};
        assert_int_equal(sluice_class_update(c, "strict-class", f, v, 2, NULL, &err), -1);
        if (err.code != SLUICE_ERR_ARGUMENT) fail_msg("%s=%s: %s", bad[i].field, bad[i].value, err.text);
    }
    sluice_class_config cfg;
    assert_int_equal(sluice_class_get(c, "strict-class", &cfg, &err), 0);
    assert_int_equal(cfg.max_concurrency, 4);
    assert_int_equal(cfg.tier, SLUICE_TIER_LOW);
    /* a non-critical class with nothing to scale */
    sluice_class_config none;
    sluice_class_config_init(&none);
    assert_int_equal(sluice_class_set(c, "unscalable", &none, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    none.floor = NAN;
    none.max_rate = 5;
    assert_int_equal(sluice_class_set(c, "unscalable", &none, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_int_equal(sluice_class_get(c, "unscalable", &cfg, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNKNOWN_CLASS);
    assert_int_equal(sluice_class_pin(c, "strict-class", 1.01, 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    sluice_client_free(c);
}

static void bad_signal_values_and_unknown_signals_are_refused(void **state) {
    sluice_client *c = test_connect(state);
    define_signal(c, "latency", 20, 100);
    sluice_error err;
    assert_int_equal(sluice_signal_report(c, "latency", NAN, 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_int_equal(sluice_signal_report(c, "latency", INFINITY, 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_int_equal(sluice_signal_report(c, "nosuch", 1, 0, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NOT_FOUND);
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = 50;
    d.critical = 20; /* higher is worse, so critical must be above target */
    assert_int_equal(sluice_signal_define(c, "backwards", &d, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    d.lower_is_worse = 1; /* burst balance: fine the other way round */
    assert_int_equal(sluice_signal_define(c, "burst-balance", &d, NULL, &err), 0);
    assert_int_equal(sluice_signal_report(c, "burst-balance", 42, 5000, &err), 0);
    size_t n;
    int64_t now;
    sluice_signal_info *s = sluice_signal_list(c, &n, &now, &err);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].name, "burst-balance") == 0) {
            found = 1;
            assert_true(s[i].def.lower_is_worse);
            assert_true(s[i].value == 42);
            assert_true(s[i].age_ms >= 5000 && s[i].age_ms < 6000);
        }
        assert_string_not_equal(s[i].name, "backwards");
    }
    assert_true(found);
    free(s);
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_class_limited_to_r_per_second_and_c_in_flight_never_exceeds_either_fleet_wide),
        cmocka_unit_test(a_fraction_of_one_half_admits_half_the_concurrency),
        cmocka_unit_test(a_fraction_of_one_half_admits_half_the_rate),
        cmocka_unit_test(a_floor_below_one_slot_scales_the_job_rate_by_duty_cycle),
        cmocka_unit_test(a_rest_follows_the_share_the_class_has_now),
        cmocka_unit_test(throttled_jobs_lose_nothing_spend_no_attempt_and_keep_their_order),
        cmocka_unit_test(a_paused_class_is_throttled_until_resumed_or_its_pause_expires),
        cmocka_unit_test(a_pinned_fraction_expires_back_to_the_governor),
        cmocka_unit_test(over_target_the_lowest_tier_falls_within_two_ticks_and_critical_is_untouched),
        cmocka_unit_test(a_critical_class_keeps_its_claim_rate_under_critical_pressure),
        cmocka_unit_test(when_the_leader_dies_another_governor_takes_over_within_three_ticks),
        cmocka_unit_test(a_raise_goes_to_the_tier_with_ready_jobs_and_the_decision_records_them),
        cmocka_unit_test(a_raise_passes_over_a_class_whose_gate_refused_no_claim_lately),
        cmocka_unit_test(over_target_a_class_with_no_work_keeps_only_its_floor),
        cmocka_unit_test(with_no_governor_running_gates_lapse_to_the_floor),
        cmocka_unit_test(shadow_mode_records_decisions_without_enforcing_them),
        cmocka_unit_test(bad_class_settings_are_refused_and_nothing_is_half_applied),
        cmocka_unit_test(bad_signal_values_and_unknown_signals_are_refused),
        cmocka_unit_test(a_tick_costs_the_same_round_trips_with_10_classes_and_with_200),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
