/* sluice-worker's Prometheus endpoint and decision log against a real
 * redis-server: a live /metrics scrape passes `promtool check metrics` and
 * carries every family docs/metrics.md promises; the shipped alert rules
 * pass `promtool check rules`; the leader logs each decision as one JSON
 * line. Run from the top of the tree; promtool from Debian's prometheus. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <jansson.h>

#define PROMTOOL "/usr/bin/promtool"

static const char *body_of(const char *resp) {
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* promtool check metrics on "text": exit status, its complaints into "out". */
static int promtool_metrics(const char *text, char *out, size_t n) {
    const char *argv[] = {PROMTOOL, "check", "metrics", NULL};
    char o[2000];
    return proc_run(argv, NULL, text, o, sizeof(o), out, n);
}

static void setup_fleet(sluice_client *c) {
    test_class(c, "emails", SLUICE_TIER_LOW, 8);
    test_class(c, "logins", SLUICE_TIER_CRITICAL, 0);
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = 0.8;
    d.critical = 0.95;
    assert_int_equal(sluice_signal_define(c, "iops_util", &d, NULL, NULL), 0);
    d.target = 50;
    d.critical = 20;
    d.lower_is_worse = 1;
    assert_int_equal(sluice_signal_define(c, "burst_balance", &d, NULL, NULL), 0);
    assert_int_equal(sluice_signal_report(c, "iops_util", 0.9, 0, NULL), 0);
    const char *p[3] = {"{}", "{}", "{}"};
    assert_int_equal(sluice_enqueue_many(c, "emails", 3, p, NULL, 0, NULL, NULL, NULL), 0);
    /* jobs of two fairness keys in a class no worker here runs */
    test_class(c, "tenants", SLUICE_TIER_CRITICAL, 0);
    sluice_enqueue_opts acme = {.key = "acme"}, beta = {.key = "be\"ta"};
    assert_int_equal(sluice_enqueue_many(c, "tenants", 3, p, &acme, 0, NULL, NULL, NULL), 0);
    assert_int_equal(sluice_enqueue_many(c, "tenants", 1, p, &beta, 0, NULL, NULL, NULL), 0);
}

static void a_live_scrape_passes_promtool_and_carries_every_documented_family(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    setup_fleet(c);
    char log[400];
    snprintf(log, sizeof(log), "%s/metrics.log", h->dir);
    const char *args[] = {
        "--metrics-port", "0", "--handler", "emails=/bin/true", "--sampler", "burst_balance=1s:/bin/false", NULL};
    pid_t pid = proc_worker(h, args, log);
    int port = proc_metrics_port(log);
    assert_true(port > 0);
    /* scraped once the jobs are done and the governor has cut the low tier */
    char *resp = NULL;
    WAIT_UNTIL((free(resp), resp = proc_http(port, "GET", "/metrics")) &&
                   strstr(resp, "sluice_worker_acked_total 3\n") &&
                   strstr(resp, "sluice_class_admitted_fraction{class=\"emails\"} 0.5\n") &&
                   strstr(resp, "sluice_governor_decisions_total{action=\"cut\"} 1\n"),
               20000);
    assert_non_null(resp);
    assert_true(strncmp(resp, "HTTP/1.0 200", 12) == 0 || strncmp(resp, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
    const char *body = body_of(resp);
    char complaints[2000];
    int rc = promtool_metrics(body, complaints, sizeof(complaints));
    if (rc != 0) fail_msg("promtool check metrics: exit %d: %s\n%s", rc, complaints, body);
    assert_string_equal(complaints, "");
    static const char *const want[] = {
        "sluice_class_info{class=\"emails\",tier=\"low\"} 1",
        "sluice_class_info{class=\"logins\",tier=\"critical\"} 1",
        "sluice_class_ready{class=\"emails\"} ",
        "sluice_class_delayed{class=\"emails\"} ",
        "sluice_class_in_flight{class=\"emails\"} ",
        "sluice_class_dead{class=\"emails\"} ",
        "sluice_class_enqueued_total{class=\"emails\"} 3",
        "sluice_class_claimed_total{class=\"emails\"} 3",
        "sluice_class_acked_total{class=\"emails\"} 3",
        "sluice_class_failed_total{class=\"emails\"} 0",
        "sluice_class_died_total{class=\"emails\"} 0",
        "sluice_class_late_starts_total{class=\"emails\"} 0",
        "sluice_class_expired_total{class=\"emails\"} 0",
        "sluice_class_throttled_claims_total{class=\"emails\"} ",
        "sluice_class_admitted_fraction{class=\"emails\"} 0.5",
        "sluice_class_admitted_fraction{class=\"logins\"} 1",
        "sluice_class_floor{class=\"emails\"} 0.1",
        "sluice_class_effective_rate{class=\"emails\"} 0",
        "sluice_class_effective_concurrency{class=\"emails\"} 4",
        "sluice_class_paused{class=\"emails\"} 0",
        "sluice_class_key_waiting{class=\"tenants\",key=\"acme\"} 3",
        "sluice_class_key_waiting{class=\"tenants\",key=\"be\\\"ta\"} 1",
        "sluice_class_key_running{class=\"tenants\",key=\"acme\"} 0",
        "sluice_signal_value{signal=\"iops_util\"} 0.9",
        "sluice_signal_target{signal=\"iops_util\"} 0.8",
        "sluice_signal_critical{signal=\"burst_balance\"} 20",
        "sluice_signal_pressure{signal=\"iops_util\"} 1.666666",
        "sluice_signal_age_seconds{signal=\"iops_util\"} ",
        "sluice_signal_stale{signal=\"iops_util\"} 0",
        "sluice_signal_stale{signal=\"burst_balance\"} 1",
        "sluice_signal_stale_after_seconds{signal=\"iops_util\"} 30",
        "sluice_governor_leader 1",
        "sluice_governor_hosted 1",
        "sluice_governor_mode{mode=\"enforce\"} 1",
        "sluice_governor_mode{mode=\"shadow\"} 0",
        "sluice_governor_ticks_total ",
        "sluice_governor_worker_ticks_total ",
        "sluice_governor_decisions_total{action=\"cut\"} 1",
        "sluice_governor_decisions_total{action=\"hold\"} ",
        "sluice_governor_epoch 1",
        "sluice_governor_has_leader 1",
        "sluice_governor_last_tick_age_seconds ",
        "sluice_worker_claimed_total 3",
        "sluice_worker_acked_total 3",
        "sluice_worker_suspects_total 0",
        "sluice_worker_in_flight 0",
        "sluice_sampler_runs_total{signal=\"burst_balance\"} ",
        "sluice_sampler_failures_total{signal=\"burst_balance\"} ",
        "sluice_sampler_reported_total{signal=\"burst_balance\"} 0",
        "sluice_redis_up 1",
        "sluice_scrape_duration_seconds ",
        "# HELP sluice_class_ready ",
        "# TYPE sluice_class_enqueued_total counter",
        "# TYPE sluice_class_admitted_fraction gauge",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(body, want[i])) fail_msg("no \"%s\" in the scrape:\n%s", want[i], body);
    assert_null(strstr(body, "sluice_signal_value{signal=\"burst_balance\"}")); /* never reported: absent, not 0 */
    free(resp);
    /* anything else is refused */
    resp = proc_http(port, "GET", "/");
    assert_non_null(resp);
    assert_non_null(strstr(resp, " 404 "));
    free(resp);
    resp = proc_http(port, "POST", "/metrics");
    assert_non_null(resp);
    assert_non_null(strstr(resp, " 405 "));
    free(resp);
    proc_stop(pid);
    sluice_client_free(c);
}

static void the_metrics_server_binds_to_loopback_by_default_and_answers_while_redis_is_unreachable(void **state) {
    harness_redis *h = *state;
    char log[400], cfg[400];
    snprintf(log, sizeof(log), "%s/down.log", h->dir);
    snprintf(cfg, sizeof(cfg), "%s/down.json", h->dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "{\"handlers\": {\"emails\": \"/bin/true\"}, \"metrics_port\": 0, \"metrics_bind\": \"127.0.0.1\","
            " \"redis\": \"unix://%s/nothing.sock\"}",
            h->dir);
    fclose(f);
    const char *argv[] = {proc_bin("sluice-worker"), "--config", cfg, NULL};
    pid_t pid = proc_start(argv, NULL, log, 0);
    int port = proc_metrics_port(log);
    assert_true(port > 0);
    char *resp = proc_http(port, "GET", "/metrics");
    assert_non_null(resp);
    assert_non_null(strstr(resp, " 200 "));
    const char *body = body_of(resp);
    assert_non_null(strstr(body, "sluice_redis_up 0"));
    assert_non_null(strstr(body, "sluice_worker_claimed_total 0"));
    assert_non_null(strstr(body, "sluice_governor_leader 0"));
    char complaints[2000];
    assert_int_equal(promtool_metrics(body, complaints, sizeof(complaints)), 0);
    free(resp);
    /* only 127.0.0.1 listens */
    char *t = proc_slurp(log);
    assert_non_null(strstr(t, "serving http://127.0.0.1:"));
    free(t);
    proc_stop(pid);
    /* bad settings are usage errors */
    char out[100], err[600];
    const char *b1[] = {proc_bin("sluice-worker"),
                        "--metrics-port",
                        "0",
                        "--metrics-bind",
                        "localhost",
                        "--handler",
                        "x=/bin/true",
                        NULL};
    assert_int_equal(proc_run(b1, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "IPv4 or IPv6 address"));
    const char *b2[] = {proc_bin("sluice-worker"), "--metrics-bind", "127.0.0.1", "--handler", "x=/bin/true", NULL};
    assert_int_equal(proc_run(b2, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    const char *b3[] = {proc_bin("sluice-worker"), "--metrics-port", "http", "--handler", "x=/bin/true", NULL};
    assert_int_equal(proc_run(b3, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
}

static void the_shipped_alert_rules_pass_promtool(void **state) {
    (void)state;
    const char *argv[] = {PROMTOOL, "check", "rules", "scripts/prometheus/sluice-alerts.yml", NULL};
    char out[2000], err[2000];
    int rc = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("promtool check rules: %s%s", out, err);
    assert_non_null(strstr(out, "SUCCESS: 7 rules found"));
    const char *tests[] = {PROMTOOL, "test", "rules", "scripts/prometheus/sluice-alerts.test.yml", NULL};
    rc = proc_run(tests, NULL, NULL, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("promtool test rules: %s%s", out, err);
}

/* Each whole line of "log" that is a decision: in JSON logs an object with
 * "event":"decision" and the decision as an object; in text logs
 * "<time> decision <JSON>". Returns how many parsed; fails on a malformed
 * one. A last line still being written is not counted. */
static int decisions(const char *log, int json_format) {
    char *t = proc_slurp(log);
    char *end = strrchr(t, '\n');
    if (end)
        end[1] = '\0';
    else
        t[0] = '\0';
    int n = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *d = NULL, *o = NULL;
        if (json_format) {
            o = json_loads(line, 0, NULL);
            if (!o) fail_msg("a log line is not JSON: %s", line);
            if (strcmp(json_string_value(json_object_get(o, "event")), "decision") != 0) {
                json_decref(o);
                continue;
            }
            d = json_object_get(o, "decision");
            assert_true(json_is_object(d));
            json_incref(d);
        } else {
            char *p = strstr(line, " decision {");
            if (!p) continue;
            d = json_loads(p + strlen(" decision "), 0, NULL);
            if (!d) fail_msg("a decision line is not one JSON object: %s", line);
        }
        assert_non_null(json_string_value(json_object_get(d, "action")));
        assert_true(json_is_array(json_object_get(d, "classes")));
        assert_true(json_is_array(json_object_get(d, "signals")));
        assert_true(json_is_integer(json_object_get(d, "epoch")));
        n++;
        json_decref(d);
        json_decref(o);
    }
    free(t);
    return n;
}

static void the_leading_worker_logs_every_decision_as_one_json_line_in_both_log_formats(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "reports", SLUICE_TIER_LOW, 4);
    char jlog[400], tlog[400], slog[400];
    snprintf(jlog, sizeof(jlog), "%s/decisions.json.log", h->dir);
    snprintf(tlog, sizeof(tlog), "%s/decisions.text.log", h->dir);
    snprintf(slog, sizeof(slog), "%s/standby.log", h->dir);
    const char *ja[] = {"--log-format", "json", "--handler", "reports=/bin/true", NULL};
    pid_t leader = proc_worker(h, ja, jlog);
    WAIT_UNTIL(decisions(jlog, 1) >= 1, 20000); /* it leads */
    assert_true(decisions(jlog, 1) >= 1);
    /* a second worker stands by while the leader decides three times more:
     * it logs no decisions */
    const char *sa[] = {"--handler", "reports=/bin/true", NULL};
    pid_t standby = proc_worker(h, sa, slog);
    WAIT_UNTIL(proc_count_file(slog, "connected") >= 1, 20000);
    int from = decisions(jlog, 1);
    WAIT_UNTIL(decisions(jlog, 1) >= from + 3, 20000);
    proc_stop(standby);
    proc_stop(leader);
    int nj = decisions(jlog, 1);
    fprintf(stderr, "# %d decisions logged while leading\n", nj);
    assert_true(nj >= 4);
    assert_int_equal(decisions(slog, 0), 0);
    size_t n = 0;
    char **hist = sluice_governor_history_list(c, 100, &n, NULL);
    sluice_governor_history_free(hist, n);
    assert_true((size_t)nj <= n);
    const char *ta[] = {"--handler", "reports=/bin/true", NULL};
    pid_t text = proc_worker(h, ta, tlog);
    WAIT_UNTIL(decisions(tlog, 0) >= 1, 20000);
    proc_stop(text);
    assert_true(decisions(tlog, 0) >= 1);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access("scripts/prometheus/sluice-alerts.yml", R_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    if (access(PROMTOOL, X_OK) != 0) {
        fprintf(stderr, "test_metrics: FAILED: %s is missing (Debian's prometheus package; make deps installs it)\n",
                PROMTOOL);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_live_scrape_passes_promtool_and_carries_every_documented_family, proc_teardown),
        cmocka_unit_test_teardown(
            the_metrics_server_binds_to_loopback_by_default_and_answers_while_redis_is_unreachable, proc_teardown),
        cmocka_unit_test_teardown(the_shipped_alert_rules_pass_promtool, proc_teardown),
        cmocka_unit_test_teardown(the_leading_worker_logs_every_decision_as_one_json_line_in_both_log_formats,
                                  proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
