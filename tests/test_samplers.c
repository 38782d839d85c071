/* Signal sources against a real redis-server: sluice-worker's exec and
 * disk samplers (good, garbage, failing and hanging commands), their
 * configuration, and the push scripts of scripts/samplers (the cron
 * example, the cloud-metrics template, the Datadog webhook). Run from the
 * top of the tree; the programs are found in ../bin from this test. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <jansson.h>

static double signal_value(sluice_client *c, const char *name, int *has, int *stale, int64_t *observed) {
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, NULL);
    double v = -1;
    *has = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].name, name) != 0) continue;
        *has = s[i].has_value;
        v = s[i].value;
        if (stale) *stale = s[i].stale;
        if (observed) *observed = s[i].observed_at;
    }
    sluice_signal_list_free(s, n);
    return v;
}

static void define(sluice_client *c, const char *name, double target, double critical, int64_t stale_ms) {
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = target;
    d.critical = critical;
    d.stale_after_ms = stale_ms;
    d.on_stale = SLUICE_STALE_ASSUME_PRESSURE;
    sluice_error err;
    if (sluice_signal_define(c, name, &d, NULL, &err) < 0) fail_msg("define %s: %s", name, err.text);
}

/* Each of the three bad signals still holds the value pushed before (0.2,
 * observed at before[i]), and is stale exactly when its age exceeds its
 * stale_after (2 s): returns 1 when all three are stale. */
static int bad_signals_stale(sluice_client *c, const char *const bad[3], const int64_t before[3]) {
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, NULL);
    int all = 1, seen = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 3; b++) {
            if (strcmp(s[i].name, bad[b]) != 0) continue;
            seen++;
            assert_true(s[i].has_value);
            assert_float_equal(s[i].value, 0.2, 1e-12);
            assert_int_equal(s[i].observed_at, before[b]);
            assert_int_equal(s[i].stale, s[i].age_ms > 2000);
            all &= s[i].stale;
        }
    }
    sluice_signal_list_free(s, n);
    assert_int_equal(seen, 3);
    return all;
}

/* The last decision's driver is one of the bad signals, counted as stale. */
static int last_driver_is_bad(sluice_client *c, const char *const bad[3]) {
    size_t n = 0;
    char **hist = sluice_governor_history_list(c, 1, &n, NULL);
    json_t *d = n == 1 ? json_loads(hist[0], 0, NULL) : NULL;
    const char *driver = json_string_value(json_object_get(d, "driver"));
    int yes = driver && json_is_true(json_object_get(d, "driver_stale")) &&
              (strcmp(driver, bad[0]) == 0 || strcmp(driver, bad[1]) == 0 || strcmp(driver, bad[2]) == 0);
    json_decref(d);
    sluice_governor_history_free(hist, n);
    return yes;
}

static void a_sampler_that_prints_garbage_fails_or_hangs_reports_nothing_and_the_governor_follows_on_stale(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    define(c, "good", 0.5, 0.9, 2000);
    define(c, "garbage", 0.5, 0.9, 2000);
    define(c, "failing", 0.5, 0.9, 2000);
    define(c, "hanging", 0.5, 0.9, 2000);
    test_class(c, "lowjobs", SLUICE_TIER_LOW, 10);
    char pgid_file[400], log[400], cfg[400];
    snprintf(pgid_file, sizeof(pgid_file), "%s/hang.pgid", h->dir);
    snprintf(log, sizeof(log), "%s/samplers.log", h->dir);
    snprintf(cfg, sizeof(cfg), "%s/samplers.json", h->dir);
    const char *good = proc_script(h->dir, "good.sh", "#!/bin/sh\necho 0.1\n");
    const char *garbage = proc_script(h->dir, "garbage.sh", "#!/bin/sh\nprintf '0.2 and more\\n'\n");
    const char *failing = proc_script(h->dir, "failing.sh", "#!/bin/sh\necho 0.7\necho 'psql: connection refused' >&2\nexit 3\n");
    const char *hanging = proc_script(h->dir, "hanging.sh",
                                      "#!/bin/sh\necho $$ > \"$1\"\necho 0.6\nsleep 1000 &\nsleep 1000 &\nwait\n");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"handlers\": {\"lowjobs\": \"/bin/true\"},\n"
            " \"samplers\": [\n"
            "  {\"signal\": \"garbage\", \"command\": [\"%s\"], \"interval\": \"300ms\"},\n"
            "  {\"signal\": \"failing\", \"command\": \"%s\", \"interval\": \"300ms\"},\n"
            "  {\"signal\": \"hanging\", \"command\": [\"%s\", \"%s\"], \"interval\": \"500ms\", \"timeout\": \"200ms\"}]}\n",
            garbage, failing, hanging, pgid_file);
    fclose(f);
    /* Every bad signal starts fresh: a value a collector pushed before. */
    int64_t before[3];
    const char *bad[3] = {"garbage", "failing", "hanging"};
    for (int i = 0; i < 3; i++) assert_int_equal(sluice_signal_report(c, bad[i], 0.2, 0, NULL), 0);
    long long t0 = harness_now_ms();
    for (int i = 0; i < 3; i++) {
        int has;
        signal_value(c, bad[i], &has, NULL, &before[i]);
        assert_true(has);
    }
    char gs[600];
    snprintf(gs, sizeof(gs), "good=300ms:%s", good);
    const char *args[] = {"--config", cfg, "--sampler", gs, NULL};
    pid_t pid = proc_worker(h, args, log);

    /* The good sampler's value arrives. */
    int has = 0;
    double v = -1;
    WAIT_UNTIL((v = signal_value(c, "good", &has, NULL, NULL), has), 10000);
    assert_true(has);
    assert_float_equal(v, 0.1, 1e-12);

    /* The bad ones go stale at stale_after (2 s, by the Redis clock) after
     * their last value, and nothing was ever reported for them: not 0, not
     * 0.7, not 0.6. */
    int all_stale = 0;
    WAIT_UNTIL((all_stale = bad_signals_stale(c, bad, before)), 10000);
    assert_true(all_stale);
    fprintf(stderr, "# stale %lld ms after the last value (stale_after 2000 ms)\n", harness_now_ms() - t0);

    /* The governor follows on_stale (assume-pressure): the low class is cut,
     * and a decision taken while the good sampler reports names a stale bad
     * signal as its driver (before the good one's first value, the good one
     * itself may drive: it was never reported). */
    sluice_gate_info g;
    WAIT_UNTIL(sluice_gate_get(c, "lowjobs", &g, NULL) == 0 &&
                   g.governed && g.fraction <= 0.5 && last_driver_is_bad(c, bad),
               15000);
    assert_true(g.governed);
    assert_true(g.fraction <= 0.5);
    assert_true(last_driver_is_bad(c, bad));

    /* Nothing crashed; each failing sampler logged one line (not one per run). */
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
    proc_stop(pid);
    char *text = proc_slurp(log);
    assert_int_equal(proc_count(text, "signal garbage: "), 1);
    assert_non_null(strstr(text, "printed no number: \\\"0.2 and more\\\""));
    assert_int_equal(proc_count(text, "signal failing: "), 1);
    assert_non_null(strstr(text, "exit status 3: psql: connection refused"));
    assert_int_equal(proc_count(text, "signal hanging: "), 1);
    assert_non_null(strstr(text, "timed out after 200 ms"));
    assert_int_equal(proc_count(text, "signal good: "), 0);
    free(text);
    /* the hanging sampler's whole process group was killed */
    f = fopen(pgid_file, "r");
    assert_non_null(f);
    int pgid = 0;
    assert_int_equal(fscanf(f, "%d", &pgid), 1);
    fclose(f);
    WAIT_UNTIL(kill(-pgid, 0) < 0 && errno == ESRCH, 10000);
    assert_true(kill(-pgid, 0) < 0 && errno == ESRCH);
    sluice_client_free(c);
}

static void copy_file(const char *from, const char *to) {
    char *s = proc_slurp(from);
    assert_true(s[0] != '\0');
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
    assert_int_equal(rename(tmp, to), 0);
    free(s);
}

static void a_disk_sampler_reports_utilisation_from_a_diskstats_file_and_nothing_for_a_missing_device(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    define(c, "disk_util", 70, 95, 10000);
    define(c, "disk_gone", 70, 95, 10000);
    char ds[400], log[400], cfg[400];
    snprintf(ds, sizeof(ds), "%s/diskstats", h->dir);
    snprintf(log, sizeof(log), "%s/disk.log", h->dir);
    snprintf(cfg, sizeof(cfg), "%s/disk.json", h->dir);
    copy_file("tests/fixtures/diskstats/before", ds);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"samplers\": [\n"
            "  {\"signal\": \"disk_util\", \"diskstats\": {\"device\": \"vda\", \"measure\": \"util\", \"path\": \"%s\"},"
            "   \"interval\": \"400ms\"},\n"
            "  {\"signal\": \"disk_gone\", \"diskstats\": {\"device\": \"sdq\", \"measure\": \"iops\", \"path\": \"%s\"},"
            "   \"interval\": \"400ms\"}]}\n",
            ds, ds);
    fclose(f);
    const char *args[] = {"--config", cfg, NULL};
    pid_t pid = proc_worker(h, args, log);
    /* the governor leads after its first tick; from the second reading on,
     * an unchanged file is a measured idle device: 0 */
    int has = 0;
    double v = -1;
    WAIT_UNTIL((v = signal_value(c, "disk_util", &has, NULL, NULL), has), 10000);
    assert_true(has);
    assert_float_equal(v, 0, 0);
    /* then the device does 1500 busy ms within one interval: over 0, at most 100 */
    copy_file("tests/fixtures/diskstats/after", ds);
    WAIT_UNTIL((v = signal_value(c, "disk_util", &has, NULL, NULL)) != 0, 10000);
    fprintf(stderr, "# disk_util after 1500 busy ms: %g\n", v);
    assert_true(v > 0 && v <= 100);
    /* no change since: a measured 0 */
    WAIT_UNTIL((v = signal_value(c, "disk_util", &has, NULL, NULL)) == 0, 10000);
    assert_float_equal(v, 0, 0);
    signal_value(c, "disk_gone", &has, NULL, NULL);
    assert_false(has);
    proc_stop(pid);
    char *text = proc_slurp(log);
    assert_int_equal(proc_count(text, "signal disk_gone: diskstats: no device sdq"), 1);
    free(text);
    sluice_client_free(c);
}

/* Runs sluice-worker with a config holding "samplers" (a JSON array text):
 * it must refuse to start (exit 2) with "want" in its message. */
static void refused(const harness_redis *h, const char *samplers, const char *want) {
    char cfg[400], body[2000], err[2000], out[100];
    snprintf(cfg, sizeof(cfg), "%s/bad.json", h->dir);
    snprintf(body, sizeof(body), "{\"handlers\": {\"x\": \"/bin/true\"}, \"samplers\": %s}", samplers);
    FILE *f = fopen(cfg, "w");
    fputs(body, f);
    fclose(f);
    const char *argv[] = {proc_bin("sluice-worker"), "--redis", h->url, "--config", cfg, NULL};
    int rc = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
    if (rc != 2 || !strstr(err, want)) fail_msg("config %s: exit %d, stderr %s (wanted \"%s\")", samplers, rc, err, want);
}

static void sampler_settings_are_validated_whole_and_a_bad_one_stops_the_worker_from_starting(void **state) {
    harness_redis *h = *state;
    refused(h, "{}", "samplers must be an array");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\"}]", "\"interval\" must be a duration");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"10\"}]", "\"interval\" must be a duration");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": 300}]", "\"interval\" must be a duration");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"50ms\"}]", "\"interval\" must be a duration");
    refused(h, "[{\"signal\": \"Bad\", \"command\": \"/bin/true\", \"interval\": \"1s\"}]", "\"signal\" must be a signal name");
    refused(h, "[{\"signal\": \"a\", \"command\": \"true\", \"interval\": \"1s\"}]", "must be a path");
    refused(h, "[{\"signal\": \"a\", \"command\": [], \"interval\": \"1s\"}]", "\"command\" must be a path or an array");
    refused(h, "[{\"signal\": \"a\", \"command\": [\"/bin/echo\", 1], \"interval\": \"1s\"}]", "must be strings");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"1s\", \"timeout\": \"2s\"}]",
            "\"timeout\" must be a duration from 10ms to its interval");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"1s\", \"every\": \"1s\"}]",
            "unknown setting \"every\"");
    refused(h, "[{\"signal\": \"a\", \"interval\": \"1s\"}]", "either \"command\" or \"diskstats\"");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"diskstats\": {}, \"interval\": \"1s\"}]",
            "either \"command\" or \"diskstats\"");
    refused(h, "[{\"signal\": \"a\", \"diskstats\": {\"device\": \"vda\", \"measure\": \"busy\"}, \"interval\": \"1s\"}]",
            "must be util, iops or await");
    refused(h, "[{\"signal\": \"a\", \"diskstats\": {\"device\": \"/dev/vda\", \"measure\": \"util\"}, \"interval\": \"1s\"}]",
            "device name");
    refused(h, "[{\"signal\": \"a\", \"diskstats\": {\"device\": \"vda\", \"measure\": \"util\", \"path\": \"proc\"}, \"interval\": \"1s\"}]",
            "absolute path");
    refused(h, "[{\"signal\": \"a\", \"diskstats\": {\"device\": \"vda\", \"measure\": \"util\"}, \"interval\": \"1s\", \"timeout\": \"1s\"}]",
            "\"timeout\" is for command samplers");
    refused(h, "[{\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"1s\"}, {\"signal\": \"a\", \"command\": \"/bin/true\", \"interval\": \"2s\"}]",
            "two samplers for signal a");
    /* the command line */
    char out[100], err[1000];
    const char *a1[] = {proc_bin("sluice-worker"), "--sampler", "x=1s", "--handler", "x=/bin/true", NULL};
    assert_int_equal(proc_run(a1, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "SIGNAL=INTERVAL:COMMAND"));
    const char *a2[] = {proc_bin("sluice-worker"), "--sampler", "x=soon:/bin/true", NULL};
    assert_int_equal(proc_run(a2, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    const char *a3[] = {proc_bin("sluice-worker"), "--sampler", "x=1s:true", NULL};
    assert_int_equal(proc_run(a3, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    const char *a4[] = {proc_bin("sluice-worker"), "--metrics-port", "70000", "--handler", "x=/bin/true", NULL};
    assert_int_equal(proc_run(a4, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
}

static void the_cron_example_pushes_one_sample_and_a_failing_collector_pushes_nothing(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    define(c, "rds_iops", 0.8, 0.95, 120000);
    char file[400], url_env[500], ctl_env[PATH_MAX + 20];
    snprintf(file, sizeof(file), "%s/rds-metrics", h->dir);
    FILE *f = fopen(file, "w");
    fputs("read_iops 1200\nwrite_iops 800\nprovisioned_iops 3000\nqueue_depth 4.2\nburst_balance 87\n", f);
    fclose(f);
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", h->url);
    snprintf(ctl_env, sizeof(ctl_env), "SLUICECTL=%s", proc_bin("sluicectl"));
    const char *env[] = {url_env, "SLUICE_NAMESPACE=t", ctl_env, NULL};
    /* the crontab line of docs/signals.md, as cron's /bin/sh runs it */
    char line[1500];
    snprintf(line, sizeof(line),
             "scripts/samplers/push.sh rds_iops scripts/samplers/cloud-metrics.sh iops-util --file %s --max-age 120",
             file);
    const char *sh[] = {"/bin/sh", "-c", line, NULL};
    char out[200], err[500];
    assert_int_equal(proc_run(sh, env, NULL, out, sizeof(out), err, sizeof(err)), 0);
    int has;
    int64_t obs1;
    assert_float_equal(signal_value(c, "rds_iops", &has, NULL, &obs1), 0.666667, 1e-9);
    assert_true(has);
    /* a collector that fails (here: provisioned_iops missing) pushes nothing */
    f = fopen(file, "w");
    fputs("read_iops 1200\nwrite_iops 800\n", f);
    fclose(f);
    /* the Redis clock moves past obs1, so a push now would show */
    test_redis_after(c, obs1);
    assert_int_equal(proc_run(sh, env, NULL, out, sizeof(out), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "nothing pushed to rds_iops"));
    int64_t obs2;
    assert_float_equal(signal_value(c, "rds_iops", &has, NULL, &obs2), 0.666667, 1e-9);
    assert_int_equal(obs1, obs2);
    /* the other measures of the template */
    f = fopen(file, "w");
    fputs("queue_depth 4.2\nburst_balance 87\n", f);
    fclose(f);
    const char *qd[] = {"scripts/samplers/cloud-metrics.sh", "queue-depth", "--file", file, NULL};
    assert_int_equal(proc_run(qd, NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "4.2\n");
    const char *bb[] = {"scripts/samplers/cloud-metrics.sh", "burst-balance", "--command", "/bin/cat", file, NULL};
    assert_int_equal(proc_run(bb, NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "87\n");
    const char *old[] = {"scripts/samplers/cloud-metrics.sh", "queue-depth", "--file", "/nonexistent", "--max-age", "60", NULL};
    assert_int_equal(proc_run(old, NULL, NULL, out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(out, "");
    sluice_client_free(c);
}

static void the_datadog_webhook_script_sets_a_signal_from_a_monitor_transition(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    define(c, "dd_cpu", 0.7, 0.9, 120000);
    char url_env[500], ctl_env[PATH_MAX + 20];
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", h->url);
    snprintf(ctl_env, sizeof(ctl_env), "SLUICECTL=%s", proc_bin("sluicectl"));
    const char *env[] = {url_env, "SLUICE_NAMESPACE=t", ctl_env, "SLUICE_DD_SIGNALS=dd_cpu", "SLUICE_DD_TRIGGERED=0.95",
                         "REQUEST_METHOD=POST", NULL};
    const char *argv[] = {"scripts/samplers/datadog-webhook.sh", NULL};
    char out[500];
    int has;
    assert_int_equal(proc_run(argv, env, "{\"signal\": \"dd_cpu\", \"transition\": \"Triggered\"}", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "Status: 200"));
    assert_float_equal(signal_value(c, "dd_cpu", &has, NULL, NULL), 0.95, 1e-12);
    assert_int_equal(proc_run(argv, env, "{\"signal\": \"dd_cpu\", \"value\": \"0.42\"}", out, sizeof(out), NULL, 0), 0);
    assert_float_equal(signal_value(c, "dd_cpu", &has, NULL, NULL), 0.42, 1e-12);
    /* "No Data" sets nothing, so the signal goes stale */
    assert_int_equal(proc_run(argv, env, "{\"signal\": \"dd_cpu\", \"transition\": \"No Data\"}", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "Status: 202"));
    assert_float_equal(signal_value(c, "dd_cpu", &has, NULL, NULL), 0.42, 1e-12);
    /* a signal not allowed, or a value that is no number, is refused */
    assert_int_equal(proc_run(argv, env, "{\"signal\": \"other\", \"value\": \"1\"}", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "Status: 403"));
    assert_int_equal(proc_run(argv, env, "{\"signal\": \"dd_cpu\", \"value\": \"1; rm -rf /\"}", out, sizeof(out), NULL, 0), 0);
    assert_non_null(strstr(out, "Status: 400"));
    assert_float_equal(signal_value(c, "dd_cpu", &has, NULL, NULL), 0.42, 1e-12);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access("scripts/samplers/push.sh", X_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_sampler_that_prints_garbage_fails_or_hangs_reports_nothing_and_the_governor_follows_on_stale, proc_teardown),
        cmocka_unit_test_teardown(a_disk_sampler_reports_utilisation_from_a_diskstats_file_and_nothing_for_a_missing_device, proc_teardown),
        cmocka_unit_test_teardown(sampler_settings_are_validated_whole_and_a_bad_one_stops_the_worker_from_starting, proc_teardown),
        cmocka_unit_test_teardown(the_cron_example_pushes_one_sample_and_a_failing_collector_pushes_nothing, proc_teardown),
        cmocka_unit_test_teardown(the_datadog_webhook_script_sets_a_signal_from_a_monitor_transition, proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
