/* The governor on signals as operators feed them, end to end: sluice-worker
 * hosts the governor and runs a low-tier backlog, sluicectl pushes the
 * values (once, or every second as a 1 s collector), and the class must be
 * back at full admission within 30 s of the pressure falling. Run from the
 * top of the tree (it runs <BUILD>/bin/sluice-worker and sluicectl). */
#include "common_proc.h"

#include <math.h>

#include <jansson.h>

#define CLS "bulk"

/* Runs sluicectl with the words after "h" (NULL-terminated) on the
 * harness's server, namespace t; fails on a non-zero exit. */
static void ctl(const harness_redis *h, ...) {
    const char *argv[24] = {proc_bin("sluicectl"), "--redis", h->url, "--namespace", "t"};
    int n = 5;
    va_list ap;
    va_start(ap, h);
    for (const char *a; n < 23 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char out[4096], err[4096];
    int st = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
    if (st != 0) fail_msg("sluicectl %s %s: exit %d: %s", argv[5], argv[6], st, err);
}

static double fraction_of(sluice_client *c) {
    sluice_gate_info g;
    sluice_error err;
    if (sluice_gate_get(c, CLS, &g, &err) < 0) fail_msg("gate: %s", err.text);
    return g.fraction;
}

/* Polls until the class's admitted fraction satisfies "want" (1: full,
 * 0: at its floor 0.1), for at most ms. Returns the ms it took, or -1. */
static long long wait_fraction(sluice_client *c, int full, long ms, const char *signal, double repush) {
    long long t0 = harness_now_ms(), next_push = t0;
    sluice_error err;
    while (harness_now_ms() - t0 <= ms) {
        double f = fraction_of(c);
        if (full ? f == 1.0 : fabs(f - 0.1) < 1e-9) return harness_now_ms() - t0;
        if (signal && harness_now_ms() >= next_push) { /* a 1 s collector */
            if (sluice_signal_report(c, signal, repush, 0, &err) < 0) fail_msg("report: %s", err.text);
            next_push += 1000;
        }
        harness_sleep_ms(100);   /* polls, and paces the collector */
    }
    return -1;
}

/* A low-tier class with a backlog that outlasts the test (jobs of 0.2 s, at
 * most 4 at once), and a sluice-worker hosting the governor. */
static pid_t start_backlog(void **state, sluice_client **c) {
    harness_redis *h = *state;
    harness_redis_int(h, "FLUSHALL");
    *c = test_connect(state);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_LOW;
    cfg.max_concurrency = 4;
    cfg.floor = 0.1;
    sluice_error err;
    if (sluice_class_set(*c, CLS, &cfg, NULL, &err) < 0) fail_msg("class: %s", err.text);
    const char *p[2000];
    for (int i = 0; i < 2000; i++) p[i] = "{}";
    if (sluice_enqueue_many(*c, CLS, 2000, p, NULL, 0, NULL, NULL, &err) < 0) fail_msg("enqueue: %s", err.text);
    ctl(h, "signal", "define", "db.iops", "--target", "0.75", "--critical", "0.95", "--stale-after", "600s", NULL);
    ctl(h, "signal", "set", "db.iops", "0.5", NULL);
    char log[400];
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    const char *args[] = {"--concurrency", "4", "--grace", "1s", "--handler", CLS "=/bin/sleep", "0.2", NULL};
    return proc_worker(h, args, log);
}

/* The last governor decision, parsed. NEW. */
static json_t *last_decision(sluice_client *c) {
    size_t n = 0;
    sluice_error err;
    char **h = sluice_governor_history_list(c, 1, &n, &err);
    json_t *d = n ? json_loads(h[0], 0, NULL) : NULL;
    sluice_governor_history_free(h, n);
    if (!d) fail_msg("no governor decision");
    return d;
}

/* 0.99 pushed once, 6 s later 0.3 pushed once, and nothing more: the value
 * that stands brings the class back to full within 30 s, and the history
 * states the value and never calls 0.3 over its target. */
static void a_value_pushed_once_after_a_critical_one_brings_the_class_back_to_full_within_30s(void **state) {
    harness_redis *h = *state;
    sluice_client *c;
    pid_t w = start_backlog(state, &c);
    long long ms = wait_fraction(c, 1, 15000, NULL, 0);
    if (ms < 0) fail_msg("the governor never opened the class at 0.5");
    ctl(h, "signal", "set", "db.iops", "0.99", NULL);
    if (wait_fraction(c, 0, 10000, NULL, 0) < 0) fail_msg("0.99 did not drop the class to its floor");
    harness_sleep_ms(6000);   /* pacing: the value stands for 6 s, as in the field */
    ctl(h, "signal", "set", "db.iops", "0.3", NULL);
    ms = wait_fraction(c, 1, 45000, NULL, 0);
    print_message("pushed once: back to full admission %.1f s after 0.3 was pushed\n", ms / 1000.0);
    if (ms < 0 || ms > 30000) fail_msg("not back to full within 30 s (%lld ms)", ms);
    /* The decision log states the value, the thresholds in db.iops's own
     * units, and never calls 0.3 over its target. */
    json_t *d = last_decision(c);
    const char *summary = json_string_value(json_object_get(d, "summary"));
    assert_non_null(strstr(summary, "at 0.3"));
    assert_null(strstr(summary, "over"));
    json_t *sig = json_array_get(json_object_get(d, "signals"), 0);
    assert_true(fabs(json_number_value(json_object_get(sig, "raise_at")) - 0.675) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(sig, "cut_at")) - 0.75) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(sig, "rule")), "raise below 0.675, cut above 0.75, floors at 0.95");
    json_decref(d);
    proc_stop(w);
    sluice_client_free(c);
}

/* With a 1 s collector reporting pressure 0.5 (0.375 on a 0.75 target), a
 * class at floor 0.1 is back to full within 30 s at the defaults. */
static void with_a_1s_collector_at_pressure_0_5_a_class_at_its_floor_is_back_to_full_within_30s(void **state) {
    harness_redis *h = *state;
    sluice_client *c;
    pid_t w = start_backlog(state, &c);
    if (wait_fraction(c, 1, 15000, NULL, 0) < 0) fail_msg("the governor never opened the class at 0.5");
    ctl(h, "signal", "set", "db.iops", "0.97", NULL);
    if (wait_fraction(c, 0, 10000, NULL, 0) < 0) fail_msg("0.97 did not drop the class to its floor");
    long long ms = wait_fraction(c, 1, 45000, "db.iops", 0.375);
    print_message("1 s collector at pressure 0.5: back to full admission in %.1f s\n", ms / 1000.0);
    if (ms < 0 || ms > 30000) fail_msg("not back to full within 30 s (%lld ms)", ms);
    proc_stop(w);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_value_pushed_once_after_a_critical_one_brings_the_class_back_to_full_within_30s,
                                  proc_teardown),
        cmocka_unit_test_teardown(with_a_1s_collector_at_pressure_0_5_a_class_at_its_floor_is_back_to_full_within_30s,
                                  proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
