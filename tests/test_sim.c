/* Unit tests for the incident simulator (queue/sim*.c): the default incident
 * replayed through every policy, determinism, conservation of jobs, the
 * goals sluice's governor must meet, and refusal of bad scenarios. No Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pthread.h>

#include "sluice/sim.h"

/* ================================================================ rig */

/* The default incident on one seed (0: its own), run in a thread of its
 * own: each run takes about a second, several under sanitizers. */
typedef struct seed_run {
    uint64_t seed;
    sluice_sim_report *r; /* NEW, or NULL if it could not run */
} seed_run;

static void *run_seed(void *arg) {
    seed_run *sr = arg;
    sluice_error err;
    sluice_sim_scenario *s = sluice_sim_scenario_default(&err);
    if (s) {
        if (sr->seed) sluice_sim_scenario_set_seed(s, sr->seed);
        sr->r = sluice_sim_run(s, &err);
        sluice_sim_scenario_free(s);
    }
    return NULL;
}

/* The default incident's runs, made once, side by side, and shared: its
 * own seed (twice, for determinism) and seeds 1 to 5. */
enum { RUN_INCIDENT, RUN_AGAIN, RUN_SEED1, NRUNS = RUN_SEED1 + 5 };
static seed_run runs[NRUNS];
static sluice_sim_report *incident;

static int setup_incident(void **state) {
    (void)state;
    pthread_t th[NRUNS];
    int ok = 1;
    for (int i = 0; i < NRUNS; i++) {
        runs[i] = (seed_run){.seed = i >= RUN_SEED1 ? (uint64_t)(i - RUN_SEED1 + 1) : 0, .r = NULL};
        if (pthread_create(&th[i], NULL, run_seed, &runs[i]) != 0) run_seed(&runs[i]), th[i] = 0;
    }
    for (int i = 0; i < NRUNS; i++) {
        if (th[i]) pthread_join(th[i], NULL);
        ok = ok && runs[i].r;
    }
    incident = runs[RUN_INCIDENT].r;
    return ok ? 0 : -1;
}

static int teardown_incident(void **state) {
    (void)state;
    for (int i = 0; i < NRUNS; i++) sluice_sim_report_free(runs[i].r);
    incident = NULL;
    return 0;
}

static const sluice_sim_result *res(sluice_sim_policy p) {
    const sluice_sim_result *r = sluice_sim_report_result(incident, p);
    assert_non_null(r);
    return r;
}

/* The default incident's JSON with one change applied by "edit". NEW. */
static char *incident_with(void (*edit)(json_t *root)) {
    json_t *root = json_loads(sluice_sim_incident_json(), 0, NULL);
    assert_non_null(root);
    edit(root);
    char *text = json_dumps(root, 0);
    json_decref(root);
    assert_non_null(text);
    return text;
}

/* Runs the incident as "edit" changes it; *s is the scenario, freed by the
 * caller after the report. */
static sluice_sim_report *run_incident_with(void (*edit)(json_t *root), sluice_sim_scenario **s) {
    char *text = incident_with(edit);
    sluice_error err;
    *s = sluice_sim_scenario_parse(text, &err);
    free(text);
    if (!*s) fail_msg("%s", err.text);
    sluice_sim_report *r = sluice_sim_run(*s, &err);
    if (!r) fail_msg("%s", err.text);
    return r;
}

/* Parsing "text" must fail with a message containing every "want". */
static void refused(const char *text, const char *want1, const char *want2) {
    sluice_error err;
    sluice_sim_scenario *s = sluice_sim_scenario_parse(text, &err);
    if (s) sluice_sim_scenario_free(s);
    assert_null(s);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    if (!strstr(err.text, want1) || (want2 && !strstr(err.text, want2)))
        fail_msg("message \"%s\" does not name \"%s\"%s%s", err.text, want1, want2 ? " and " : "", want2 ? want2 : "");
}

/* ================================================================ determinism */

static void test_the_same_seed_gives_identical_results(void **state) {
    (void)state;
    const sluice_sim_report *again = runs[RUN_AGAIN].r;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++)
        assert_memory_equal(sluice_sim_report_result(incident, (sluice_sim_policy)p),
                            sluice_sim_report_result(again, (sluice_sim_policy)p), sizeof(sluice_sim_result));
    char *a = sluice_sim_report_json(incident, 1), *b = sluice_sim_report_json(again, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_a_different_seed_gives_different_traffic_and_results(void **state) {
    (void)state;
    const sluice_sim_report *other = runs[RUN_SEED1].r; /* seed 1, not the incident's 7 */
    const sluice_sim_result *a = res(SLUICE_SIM_BASELINE);
    const sluice_sim_result *b = sluice_sim_report_result(other, SLUICE_SIM_BASELINE);
    assert_true(a->p99_ms != b->p99_ms);
    assert_true(res(SLUICE_SIM_GOVERNOR)->classes[1].jobs_arrived !=
                sluice_sim_report_result(other, SLUICE_SIM_GOVERNOR)->classes[1].jobs_arrived);
}

/* ================================================================ jobs */

static void test_no_policy_loses_a_job_every_job_that_arrives_is_done_or_waiting(void **state) {
    (void)state;
    for (int p = SLUICE_SIM_NO_LIMIT; p < SLUICE_SIM_POLICIES; p++) {
        const sluice_sim_result *r = res((sluice_sim_policy)p);
        assert_int_equal(r->jobs_lost, 0);
        int64_t arrived = 0;
        for (size_t i = 0; i < r->nclasses; i++) {
            const sluice_sim_class_result *c = &r->classes[i];
            assert_int_equal(c->jobs_lost, 0);
            assert_int_equal(c->jobs_arrived, c->jobs_done + c->jobs_waiting);
            arrived += c->jobs_arrived;
        }
        assert_true(arrived > 100000);
        /* Every policy drains its queue before the run ends. */
        assert_true(r->makespan_s > 0);
    }
    /* Every policy saw the same arrivals. */
    for (size_t i = 0; i < res(SLUICE_SIM_GOVERNOR)->nclasses; i++)
        assert_int_equal(res(SLUICE_SIM_GOVERNOR)->classes[i].jobs_arrived,
                         res(SLUICE_SIM_NO_LIMIT)->classes[i].jobs_arrived);
    assert_int_equal(res(SLUICE_SIM_BASELINE)->background_io, 0);
}

/* ================================================================ the incident */

static void test_without_a_limit_the_peak_overruns_capacity_and_p99_blows_up(void **state) {
    (void)state;
    const sluice_sim_result *r = res(SLUICE_SIM_NO_LIMIT);
    sluice_sim_goals g;
    assert_true(r->peak_seconds_over_capacity > 60);
    assert_true(r->worst_minute_ratio > 10.0);
    assert_true(r->peak_p99_ms > 10 * res(SLUICE_SIM_BASELINE)->peak_p99_ms);
    sluice_sim_report_goals(incident, &g);
    assert_true(g.incident_shown);
}

static void test_the_governor_keeps_every_peak_minute_within_1_2x_of_the_baseline_p99(void **state) {
    (void)state;
    const sluice_sim_result *r = res(SLUICE_SIM_GOVERNOR);
    sluice_sim_goals g;
    assert_int_equal(r->peak_minutes_over_goal, 0);
    assert_true(r->worst_minute_ratio <= 1.2);
    assert_int_equal(r->peak_seconds_over_capacity, 0);
    /* Checked again minute by minute through the public accessors: the
     * incident's peak is 09:00-12:00. */
    for (size_t m = 9 * 60; m < 12 * 60; m++) {
        double gov, base;
        assert_int_equal(sluice_sim_report_minute(incident, SLUICE_SIM_GOVERNOR, m, NULL, &gov), 0);
        assert_int_equal(sluice_sim_report_minute(incident, SLUICE_SIM_BASELINE, m, NULL, &base), 0);
        if (gov > 1.2 * base) fail_msg("minute %zu: governor p99 %.1f ms, baseline %.1f ms", m, gov, base);
    }
    sluice_sim_report_goals(incident, &g);
    assert_true(g.p99_met);
}

static void test_the_governor_never_saturates_the_disk_while_the_threshold_throttle_does(void **state) {
    (void)state;
    assert_int_equal(res(SLUICE_SIM_GOVERNOR)->seconds_over_capacity, 0);
    /* All-or-nothing reopens every worker at once after the peak. */
    assert_true(res(SLUICE_SIM_THRESHOLD)->seconds_over_capacity > 0);
    assert_true(res(SLUICE_SIM_THRESHOLD)->p99_ms > 10 * res(SLUICE_SIM_GOVERNOR)->p99_ms);
}

static void test_the_best_fixed_limit_is_safe_for_the_peak_and_found_by_the_sweep(void **state) {
    (void)state;
    const sluice_sim_result *r = res(SLUICE_SIM_FIXED);
    assert_true(r->fixed_rate > 0);
    assert_int_equal(r->peak_minutes_over_goal, 0);
    assert_int_equal(r->changes, 0);
}

static void test_the_governor_finishes_the_backlog_sooner_than_the_best_safe_fixed_limit(void **state) {
    (void)state;
    const sluice_sim_result *gov = res(SLUICE_SIM_GOVERNOR), *fix = res(SLUICE_SIM_FIXED);
    sluice_sim_goals g;
    assert_true(gov->makespan_s > 0);
    assert_true(fix->makespan_s < 0 || gov->makespan_s < fix->makespan_s);
    /* Certificates (class 2), the batch that arrived in the peak, too. */
    assert_string_equal(gov->classes[2].name, "certificates");
    assert_true(gov->classes[2].finish_s < fix->classes[2].finish_s);
    /* And it uses far more of the spare capacity than a fixed limit can. */
    assert_true(gov->spare_used > 3 * fix->spare_used);
    sluice_sim_report_goals(incident, &g);
    assert_true(g.sooner_met);
}

static void test_with_a_60s_delayed_signal_the_governor_does_not_oscillate(void **state) {
    (void)state;
    sluice_sim_goals g;
    /* The default incident's signal is a 60 s mean published 60 s late. */
    assert_true(strstr(sluice_sim_incident_json(), "\"delay_ms\": 60000") != NULL);
    assert_true(res(SLUICE_SIM_GOVERNOR)->max_reversals_hour <= 4);
    assert_true(res(SLUICE_SIM_GOVERNOR)->max_reversals_hour < res(SLUICE_SIM_THRESHOLD)->max_reversals_hour);
    sluice_sim_report_goals(incident, &g);
    assert_true(g.stable_met);
}

static void test_the_governor_uses_most_of_the_spare_capacity_while_a_backlog_waits(void **state) {
    (void)state;
    sluice_sim_goals g;
    /* The goal is 95%; raising tiers with ready jobs whatever their gate did
     * used 88.1%, by tier order alone less. Raises sized by the latest
     * value's room, spaced by their own dwell, the creep toward the target,
     * idle classes held at their floors and the reversal dwell use more. */
    assert_true(res(SLUICE_SIM_GOVERNOR)->spare_used >= 0.95);
    assert_true(res(SLUICE_SIM_GOVERNOR)->spare_used > res(SLUICE_SIM_THRESHOLD)->spare_used);
    sluice_sim_report_goals(incident, &g);
    assert_true(g.spare_met);
}

static void test_on_seeds_1_to_5_the_governor_meets_every_goal(void **state) {
    (void)state;
    for (int i = RUN_SEED1; i < NRUNS; i++) {
        uint64_t seed = runs[i].seed;
        const sluice_sim_report *r = runs[i].r;
        sluice_sim_goals g;
        sluice_sim_report_goals(r, &g);
        const sluice_sim_result *gov = sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR);
        if (!g.p99_met || !g.sooner_met || !g.stable_met || !g.spare_met || !g.no_loss || !g.incident_shown)
            fail_msg("seed %llu: p99 %d (worst %.3f) sooner %d stable %d (%lld/h) spare %d (%.4f) no_loss %d",
                     (unsigned long long)seed, g.p99_met, gov->worst_minute_ratio, g.sooner_met, g.stable_met,
                     (long long)gov->max_reversals_hour, g.spare_met, gov->spare_used, g.no_loss);
        assert_true(gov->spare_used >= 0.95);
    }
}

/* A steady load and a large backlog: the loop must settle, not cycle. */
static void steady_load(json_t *root) {
    json_t *prof = json_loads("[[0,0.5],[24,0.5]]", 0, NULL);
    json_object_set_new(json_object_get(root, "interactive"), "profile", prof);
    json_object_set_new(json_object_get(root, "interactive"), "spikes", json_array());
    json_object_set_new(root, "duration_s", json_integer(6 * 3600));
    json_object_set_new(root, "drain_s", json_integer(0));
    json_object_set_new(json_object_get(root, "peak"), "start_s", json_integer(3600));
    json_object_set_new(json_object_get(root, "peak"), "end_s", json_integer(7200));
    json_object_set_new(json_object_get(root, "signal"), "gaps", json_array());
    /* Only certificates, one batch far larger than six hours of spare capacity. */
    json_t *classes = json_object_get(root, "classes");
    json_t *cert = json_incref(json_array_get(classes, 2));
    json_array_clear(classes);
    json_array_append_new(classes, cert);
    json_t *arr = json_object_get(cert, "arrivals");
    json_array_clear(arr);
    json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:i}", "kind", "batch", "at_s", 0, "jobs", 400000, "cost", 25));
}

/* A collector that never reports (assume-pressure holds every class at its
 * floor) and one small batch of emails: 200 IO units at 4 IO/s, done within
 * the minute they arrived in. */
static void small_batch_at_the_floor(json_t *root) {
    steady_load(root);
    json_t *gaps = json_array();
    json_array_append_new(gaps, json_pack("{s:i,s:i}", "start_s", 0, "end_s", 6 * 3600));
    json_object_set_new(json_object_get(root, "signal"), "gaps", gaps);
    json_t *classes = json_object_get(root, "classes");
    json_t *emails =
        json_pack("{s:s,s:s,s:i,s:i,s:f,s:[{s:s,s:i,s:i,s:i}]}", "name", "emails", "tier", "low", "worker_rate", 400,
                  "max_rate", 400, "floor", 0.01, "arrivals", "kind", "batch", "at_s", 3600, "jobs", 100, "cost", 2);
    json_array_clear(classes);
    json_array_append_new(classes, emails);
}

static void test_spare_capacity_is_counted_per_period_and_only_as_far_as_the_work_could_use_it(void **state) {
    (void)state;
    sluice_sim_scenario *s;
    sluice_sim_report *r = run_incident_with(small_batch_at_the_floor, &s);
    const sluice_sim_result *gov = sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR);
    /* At its floor the class ran 4 IO/s, far below the 400 its workers could,
     * yet the batch was done in the minute it came: no spare went unused. A
     * per-step count charged its workers' whole rate for 50 s (about 1%). */
    assert_true(gov->classes[0].longest_wait_s > 40 && gov->classes[0].longest_wait_s < 60);
    assert_int_equal(gov->classes[0].jobs_done, 100);
    assert_true(gov->spare_used > 0.999);
    assert_true(gov->spare_unused_io < 1);
    sluice_sim_report_free(r);
    sluice_sim_scenario_free(s);
}

static void test_under_a_steady_load_with_a_60s_delayed_signal_the_governor_settles(void **state) {
    (void)state;
    sluice_sim_scenario *s;
    sluice_sim_report *r = run_incident_with(steady_load, &s);
    const sluice_sim_result *gov = sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR);
    const sluice_sim_result *thr = sluice_sim_report_result(r, SLUICE_SIM_THRESHOLD);
    /* Only signal noise moves it once settled: a cut and a raise now and then. */
    assert_true(gov->max_reversals_hour <= 6);
    assert_true(thr->max_reversals_hour > 4 * gov->max_reversals_hour);
    assert_int_equal(gov->seconds_over_capacity, 0);
    assert_int_equal(gov->jobs_lost, 0);
    assert_true(gov->spare_used > 0.8);
    /* After the first hour the admitted rate (minute means) stays within
     * 25% of its mean (one 15% cut and the raises back): no swing from idle
     * to flat out and back as the threshold throttle makes. */
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(sluice_sim_report_write_csv(r, f, 60), 0);
    rewind(f);
    char line[1024];
    double lo = 1e300, hi = 0, sum = 0;
    int n = 0;
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        double v[1 + 4 * SLUICE_SIM_POLICIES];
        char *p = line;
        for (int i = 0; i < 1 + 4 * SLUICE_SIM_POLICIES; i++) {
            v[i] = strtod(p, &p);
            if (*p == ',') p++;
        }
        double adm = v[1 + 4 * SLUICE_SIM_GOVERNOR + 2], backlog = v[1 + 4 * SLUICE_SIM_GOVERNOR + 3];
        if (v[0] < 3600 || backlog <= 0) continue;
        lo = adm < lo ? adm : lo;
        hi = adm > hi ? adm : hi;
        sum += adm;
        n++;
    }
    fclose(f);
    assert_true(n > 60);
    double mean = sum / n;
    if (hi > 1.25 * mean || lo < 0.75 * mean)
        fail_msg("admitted rate swings %.0f..%.0f IO/s around %.0f", lo, hi, mean);
    sluice_sim_report_free(r);
    sluice_sim_scenario_free(s);
}

/* ================================================================ keys, deadlines, windows */

/* A small scenario: a steady interactive load "load" (fraction of
 * capacity), no spikes, gaps or peak of note, "hours" long, with the one
 * class "cls" (NEW, taken). NEW text. */
static char *small_scenario(double load, int64_t hours, json_t *cls) {
    json_t *root = json_loads(sluice_sim_incident_json(), 0, NULL);
    assert_non_null(root);
    json_t *interactive = json_object_get(root, "interactive");
    json_object_set_new(interactive, "profile", json_pack("[[i,f],[i,f]]", 0, load, 24, load));
    json_object_set_new(interactive, "spikes", json_array());
    json_object_set_new(root, "duration_s", json_integer(hours * 3600));
    json_object_set_new(root, "drain_s", json_integer(0));
    json_object_set_new(json_object_get(root, "peak"), "start_s", json_integer(0));
    json_object_set_new(json_object_get(root, "peak"), "end_s", json_integer(hours * 3600));
    json_object_set_new(json_object_get(root, "signal"), "gaps", json_array());
    /* A 10 s signal, published at once: these tests are about the queue. */
    json_object_set_new(json_object_get(root, "signal"), "period_ms", json_integer(10000));
    json_object_set_new(json_object_get(root, "signal"), "delay_ms", json_integer(0));
    json_object_set_new(json_object_get(root, "signal"), "stale_after_ms", json_integer(60000));
    json_t *classes = json_array();
    json_array_append_new(classes, cls);
    json_object_set_new(root, "classes", classes);
    char *text = json_dumps(root, 0);
    json_decref(root);
    assert_non_null(text);
    return text;
}

static sluice_sim_report *run_text(char *text) {
    sluice_error err;
    sluice_sim_scenario *s = sluice_sim_scenario_parse(text, &err);
    free(text);
    if (!s) fail_msg("%s", err.text);
    sluice_sim_report *r = sluice_sim_run(s, &err);
    sluice_sim_scenario_free(s);
    if (!r) fail_msg("%s", err.text);
    return r;
}

static void test_a_big_keys_backlog_delays_another_keys_job_by_about_one_round(void **state) {
    (void)state;
    /* 50 tenants with Zipf sizes (the biggest has about a quarter of the
     * jobs): a 600,000 IO batch across them takes about 25 minutes at the
     * workers' 400 IO/s, while a stream of single jobs keeps arriving. */
    json_t *cls = json_pack("{s:s,s:s,s:i,s:i,s:f,s:{s:i,s:f},s:[{s:s,s:i,s:i,s:i},{s:s,s:f,s:i}]}", "name", "tenants",
                            "tier", "low", "worker_rate", 400, "max_rate", 400, "floor", 0.01, "keys", "count", 50,
                            "skew", 1.2, "arrivals", "kind", "batch", "at_s", 3600, "jobs", 200000, "cost", 3, "kind",
                            "poisson", "rate", 1.0, "cost", 3);
    sluice_sim_report *r = run_text(small_scenario(0.3, 3, cls));
    const sluice_sim_class_result *c = &sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR)->classes[0];
    assert_int_equal(c->keys, 50);
    assert_true(c->longest_wait_s > 1200);
    /* A round of 50 keys at 400 IO/s is 0.4 s: no key waits more than a
     * few rounds for its turn, however long the biggest key's backlog. */
    if (c->key_wait_worst_s > 5 || c->key_wait_worst_s > 10 * c->key_wait_median_s + 1)
        fail_msg("worst key waited %.1f s for its turn, the median key %.1f s (the backlog %.0f s)",
                 c->key_wait_worst_s, c->key_wait_median_s, c->longest_wait_s);
    assert_int_equal(c->jobs_lost, 0);
    sluice_sim_report_free(r);
}

/* The admitted background rate (IO/s) of the governor in minute m. */
static double admitted_in_minute(const sluice_sim_report *r, size_t m) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(sluice_sim_report_write_csv(r, f, 60), 0);
    rewind(f);
    char line[1024];
    double v[1 + 4 * SLUICE_SIM_POLICIES] = {0};
    for (size_t row = 0; row <= m + 1 && fgets(line, sizeof line, f); row++) {
        if (row != m + 1) continue;
        char *p = line;
        for (int i = 0; i < 1 + 4 * SLUICE_SIM_POLICIES; i++) {
            v[i] = strtod(p, &p);
            if (*p == ',') p++;
        }
    }
    fclose(f);
    return v[1 + 4 * SLUICE_SIM_GOVERNOR + 2];
}

/* A class held at its floor by pressure (interactive load above the
 * target): its floor runs 10 jobs a second, 15 a second arrive, each to
 * start within a minute. */
static json_t *held_class(double reserve) {
    return json_pack("{s:s,s:s,s:i,s:i,s:f,s:f,s:[{s:s,s:f,s:i,s:i,s:i,s:i}]}", "name", "certificates", "tier", "low",
                     "worker_rate", 200, "max_rate", 200, "floor", 0.05, "deadline_reserve", reserve, "arrivals",
                     "kind", "poisson", "rate", 15.0, "cost", 1, "start_s", 1800, "end_s", 5400, "start_within_s", 60);
}

static void test_a_deadline_reserve_lets_the_governor_meet_deadlines_it_misses_without_one(void **state) {
    (void)state;
    sluice_sim_report *none = run_text(small_scenario(0.75, 2, held_class(0)));
    sluice_sim_report *some = run_text(small_scenario(0.75, 2, held_class(0.5)));
    const sluice_sim_result *a = sluice_sim_report_result(none, SLUICE_SIM_GOVERNOR);
    const sluice_sim_result *b = sluice_sim_report_result(some, SLUICE_SIM_GOVERNOR);
    if (a->deadline_misses < 1000 || b->deadline_misses != 0)
        fail_msg("misses without a reserve %lld, with 0.5 %lld", (long long)a->deadline_misses,
                 (long long)b->deadline_misses);
    assert_int_equal(a->classes[0].late_starts, a->deadline_misses);
    assert_int_equal(a->classes[0].expired, 0);
    /* Held at its floor (10 IO/s) by the pressure, the lift admits it at
     * most its reserve more: 110 IO/s of its workers' 200. */
    for (size_t m = 30; m < 90; m++) {
        double x = admitted_in_minute(some, m);
        if (x > 110.5) fail_msg("minute %zu: %.1f IO/s, above floor + reserve (110)", m, x);
    }
    sluice_sim_goals g;
    sluice_sim_report_goals(some, &g);
    assert_true(g.deadlines_met);
    sluice_sim_report_free(none);
    sluice_sim_report_free(some);
}

static void test_with_on_expiry_dead_late_jobs_are_dead_lettered_never_lost(void **state) {
    (void)state;
    json_t *cls = held_class(0);
    json_object_set_new(cls, "on_expiry", json_string("dead"));
    sluice_sim_report *r = run_text(small_scenario(0.75, 2, cls));
    const sluice_sim_class_result *c = &sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR)->classes[0];
    assert_true(c->expired > 1000);
    assert_int_equal(c->late_starts, 0);
    assert_int_equal(c->jobs_lost, 0);
    assert_int_equal(c->jobs_arrived, c->jobs_done + c->jobs_waiting + c->expired);
    assert_int_equal(sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR)->deadline_misses, c->expired);
    sluice_sim_report_free(r);
}

static void test_a_window_keeps_a_class_at_its_floor_outside_and_lets_it_run_inside(void **state) {
    (void)state;
    /* Monday 2026-01-05 from midnight UTC; the window is 03:00-05:00 in
     * Paris (UTC+1 in winter): 02:00-04:00 UTC. No pressure at all. */
    json_t *cls =
        json_pack("{s:s,s:s,s:i,s:i,s:f,s:[{s:s,s:s,s:s,s:s}],s:[{s:s,s:i,s:i,s:i}]}", "name", "reports", "tier", "low",
                  "worker_rate", 300, "max_rate", 300, "floor", 0.1, "windows", "days", "mon", "from", "03:00", "to",
                  "05:00", "tz", "Europe/Paris", "arrivals", "kind", "batch", "at_s", 60, "jobs", 3000, "cost", 1000);
    sluice_sim_report *r = run_text(small_scenario(0.2, 6, cls));
    for (size_t m = 5; m < 120; m += 23) {
        double x = admitted_in_minute(r, m);
        if (x > 30.5 || x < 29.5) fail_msg("minute %zu, before the window: %.1f IO/s, not the floor's 30", m, x);
    }
    for (size_t m = 140; m < 240; m += 20) {
        double x = admitted_in_minute(r, m);
        if (x < 290) fail_msg("minute %zu, in the window: %.1f IO/s, not the workers' 300", m, x);
    }
    for (size_t m = 245; m < 360; m += 23) {
        double x = admitted_in_minute(r, m);
        if (x > 30.5) fail_msg("minute %zu, after the window: %.1f IO/s, above the floor's 30", m, x);
    }
    sluice_sim_report_free(r);
}

static void test_the_incident_reports_every_policys_certificates_deadline_misses(void **state) {
    (void)state;
    /* The certificates are due within the hour; the fixed limit and the
     * threshold throttle miss most of them, and the report says so. */
    assert_true(strstr(sluice_sim_incident_json(), "\"start_within_s\": 3600") != NULL);
    assert_string_equal(res(SLUICE_SIM_GOVERNOR)->classes[2].name, "certificates");
    assert_true(res(SLUICE_SIM_FIXED)->classes[2].late_starts > 20000);
    assert_true(res(SLUICE_SIM_THRESHOLD)->classes[2].late_starts >= 20000);
    assert_int_equal(res(SLUICE_SIM_NO_LIMIT)->deadline_misses, 0);
    for (int p = SLUICE_SIM_NO_LIMIT; p < SLUICE_SIM_POLICIES; p++) {
        const sluice_sim_result *x = res((sluice_sim_policy)p);
        assert_int_equal(x->deadline_misses, x->classes[2].late_starts + x->classes[2].expired);
    }
    char *text = sluice_sim_report_json(incident, 0);
    assert_non_null(text);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    json_t *gov = json_array_get(json_object_get(root, "policies"), SLUICE_SIM_GOVERNOR);
    assert_int_equal(json_integer_value(json_object_get(gov, "deadline_misses")),
                     res(SLUICE_SIM_GOVERNOR)->deadline_misses);
    json_t *cert = json_array_get(json_object_get(gov, "classes"), 2);
    assert_true(json_is_integer(json_object_get(cert, "late_starts")));
    assert_true(json_is_number(json_object_get(cert, "key_wait_worst_s")));
    assert_true(json_is_boolean(json_object_get(json_object_get(root, "goals"), "deadlines_met")));
    json_decref(root);
}

/* ================================================================ scenarios */

static void test_the_shipped_incident_file_is_the_compiled_in_default(void **state) {
    (void)state;
    FILE *f = fopen("scripts/sim/incident.json", "rb");
    if (!f) skip(); /* run from the top of the tree */
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, sluice_sim_incident_json());
}

static void test_the_shipped_plot_script_is_the_compiled_in_one(void **state) {
    (void)state;
    FILE *f = fopen("scripts/sim/plot.gp", "rb");
    if (!f) skip(); /* run from the top of the tree */
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, sluice_sim_plot_script());
}

static void unknown_top_key(json_t *root) {
    json_object_set_new(root, "colour", json_true());
}
static void unknown_class_key(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 1), "colour", json_true());
}
static void negative_capacity(json_t *root) {
    json_object_set_new(json_object_get(root, "database"), "capacity_iops", json_real(-3000));
}
static void bad_decrease(json_t *root) {
    json_object_set_new(json_object_get(root, "governor"), "decrease", json_real(1.5));
}
static void bad_tier(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 0), "tier", json_string("urgent"));
}
static void peak_outside(json_t *root) {
    json_object_set_new(json_object_get(root, "peak"), "end_s", json_integer(90000));
}
static void floor_too_big(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 2), "floor", json_real(1.5));
}

static void test_a_scenario_with_an_unknown_key_is_refused_naming_the_key(void **state) {
    (void)state;
    char *a = incident_with(unknown_top_key), *b = incident_with(unknown_class_key);
    refused(a, "colour", "unknown key");
    refused(b, "classes[1].colour", "unknown key");
    free(a);
    free(b);
}

static void test_a_negative_capacity_is_refused_naming_the_member(void **state) {
    (void)state;
    char *t = incident_with(negative_capacity);
    refused(t, "database.capacity_iops", "> 0");
    free(t);
}

static void test_malformed_json_is_refused_with_its_position(void **state) {
    (void)state;
    refused("{\"name\": \"x\",", "malformed JSON", "line 1");
    refused("", "malformed JSON", NULL);
    refused("[]", "must be a JSON object", NULL);
}

static void test_out_of_range_members_are_refused_naming_them(void **state) {
    (void)state;
    char *t;
    t = incident_with(bad_decrease);
    refused(t, "governor", "decrease");
    free(t);
    t = incident_with(bad_tier);
    refused(t, "classes[0].tier", NULL);
    free(t);
    t = incident_with(peak_outside);
    refused(t, "peak", NULL);
    free(t);
    t = incident_with(floor_too_big);
    refused(t, "classes[2].floor", NULL);
    free(t);
}

static void unknown_zone(json_t *root) {
    json_object_set_new(
        json_array_get(json_object_get(root, "classes"), 4), "windows",
        json_pack("[{s:s,s:s,s:s,s:s}]", "days", "mon-fri", "from", "20:00", "to", "07:00", "tz", "Mars/Olympus_Mons"));
}
static void zero_start_within(json_t *root) {
    json_t *a = json_array_get(json_object_get(json_array_get(json_object_get(root, "classes"), 2), "arrivals"), 0);
    json_object_set_new(a, "start_within_s", json_integer(0));
}
static void reserve_too_big(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 2), "deadline_reserve", json_real(1.5));
}
static void no_keys(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 3), "keys", json_pack("{s:i}", "count", 0));
}
static void bad_expiry(json_t *root) {
    json_object_set_new(json_array_get(json_object_get(root, "classes"), 2), "on_expiry", json_string("drop"));
}
static void bad_start(json_t *root) {
    json_object_set_new(root, "start", json_string("next monday"));
}

static void test_bad_keys_deadlines_and_windows_are_refused_naming_them(void **state) {
    (void)state;
    char *t;
    t = incident_with(unknown_zone);
    refused(t, "classes[4].windows", "unknown zone Mars/Olympus_Mons");
    free(t);
    t = incident_with(zero_start_within);
    refused(t, "classes[2].arrivals[0].start_within_s", "must be in [1, 604800]");
    free(t);
    t = incident_with(reserve_too_big);
    refused(t, "classes[2].deadline_reserve", "must be in [0, 1]");
    free(t);
    t = incident_with(no_keys);
    refused(t, "classes[3].keys.count", "must be in [1, 10000]");
    free(t);
    t = incident_with(bad_expiry);
    refused(t, "classes[2].on_expiry", "run or dead");
    free(t);
    t = incident_with(bad_start);
    refused(t, "start", "RFC 3339");
    free(t);
}

/* ================================================================ output */

static void test_the_json_report_names_every_policy_and_the_goals(void **state) {
    (void)state;
    char *text = sluice_sim_report_json(incident, 0);
    assert_non_null(text);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(root);
    json_t *pol = json_object_get(root, "policies");
    assert_int_equal(json_array_size(pol), SLUICE_SIM_POLICIES);
    for (size_t i = 0; i < SLUICE_SIM_POLICIES; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(pol, i), "policy")),
                            sluice_sim_policy_name((sluice_sim_policy)i));
    assert_true(json_is_true(json_object_get(json_object_get(root, "goals"), "p99_met")));
    json_decref(root);
}

static void test_the_csv_has_a_row_per_period_and_four_columns_per_policy(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(sluice_sim_report_write_csv(incident, f, 60), 0);
    rewind(f);
    char line[1024];
    size_t rows = 0;
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "t_s,baseline_util,baseline_p99_ms,", 34) == 0);
    size_t commas = 0;
    for (char *p = line; *p; p++) commas += *p == ',';
    assert_int_equal(commas, 4 * SLUICE_SIM_POLICIES);
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    assert_int_equal(rows, sluice_sim_report_minutes(incident));
    assert_int_equal(sluice_sim_report_write_csv(incident, stdout, 0), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_seed_gives_identical_results),
        cmocka_unit_test(test_a_different_seed_gives_different_traffic_and_results),
        cmocka_unit_test(test_no_policy_loses_a_job_every_job_that_arrives_is_done_or_waiting),
        cmocka_unit_test(test_without_a_limit_the_peak_overruns_capacity_and_p99_blows_up),
        cmocka_unit_test(test_the_governor_keeps_every_peak_minute_within_1_2x_of_the_baseline_p99),
        cmocka_unit_test(test_the_governor_never_saturates_the_disk_while_the_threshold_throttle_does),
        cmocka_unit_test(test_the_best_fixed_limit_is_safe_for_the_peak_and_found_by_the_sweep),
        cmocka_unit_test(test_the_governor_finishes_the_backlog_sooner_than_the_best_safe_fixed_limit),
        cmocka_unit_test(test_with_a_60s_delayed_signal_the_governor_does_not_oscillate),
        cmocka_unit_test(test_the_governor_uses_most_of_the_spare_capacity_while_a_backlog_waits),
        cmocka_unit_test(test_on_seeds_1_to_5_the_governor_meets_every_goal),
        cmocka_unit_test(test_under_a_steady_load_with_a_60s_delayed_signal_the_governor_settles),
        cmocka_unit_test(test_spare_capacity_is_counted_per_period_and_only_as_far_as_the_work_could_use_it),
        cmocka_unit_test(test_a_big_keys_backlog_delays_another_keys_job_by_about_one_round),
        cmocka_unit_test(test_a_deadline_reserve_lets_the_governor_meet_deadlines_it_misses_without_one),
        cmocka_unit_test(test_with_on_expiry_dead_late_jobs_are_dead_lettered_never_lost),
        cmocka_unit_test(test_a_window_keeps_a_class_at_its_floor_outside_and_lets_it_run_inside),
        cmocka_unit_test(test_the_incident_reports_every_policys_certificates_deadline_misses),
        cmocka_unit_test(test_the_shipped_incident_file_is_the_compiled_in_default),
        cmocka_unit_test(test_the_shipped_plot_script_is_the_compiled_in_one),
        cmocka_unit_test(test_a_scenario_with_an_unknown_key_is_refused_naming_the_key),
        cmocka_unit_test(test_a_negative_capacity_is_refused_naming_the_member),
        cmocka_unit_test(test_malformed_json_is_refused_with_its_position),
        cmocka_unit_test(test_out_of_range_members_are_refused_naming_them),
        cmocka_unit_test(test_bad_keys_deadlines_and_windows_are_refused_naming_them),
        cmocka_unit_test(test_the_json_report_names_every_policy_and_the_goals),
        cmocka_unit_test(test_the_csv_has_a_row_per_period_and_four_columns_per_policy),
    };
    return cmocka_run_group_tests(tests, setup_incident, teardown_incident);
}
