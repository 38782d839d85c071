/* The Grafana dashboard (scripts/grafana/sluice.json) against a live
 * sluice-worker: every PromQL expression of its panels and variables is
 * evaluated by promtool over the series of a real /metrics scrape, and must
 * return data, so a renamed metric fails the build. Run from the top of the
 * tree; promtool from Debian's prometheus. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <jansson.h>

#define PROMTOOL "/usr/bin/promtool"
#define DASHBOARD "scripts/grafana/sluice.json"

/* Grafana's variables as promtool sees them: every class, signal and job. */
static const char *const variables[][2] = {
    {"$__rate_interval", "1m"},
    {"$job", ".+"},
    {"$class", ".+"},
    {"$signal", ".+"},
};

/* "expr" with the variables replaced; NEW. */
static char *substitute(const char *expr) {
    char *s = strdup(expr);
    for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++) {
        const char *name = variables[i][0], *value = variables[i][1];
        char *at;
        while ((at = strstr(s, name))) {
            char *t = malloc(strlen(s) + strlen(value) + 1);
            sprintf(t, "%.*s%s%s", (int)(at - s), s, value, at + strlen(name));
            free(s);
            s = t;
        }
    }
    return s;
}

/* Every expression of the dashboard, as [title, PromQL] pairs: the panels'
 * targets (rows hold panels too) and the variables' label_values(M, L)
 * queries as count by (L) (M). NEW. */
static json_t *expressions(void) {
    json_error_t jerr;
    json_t *d = json_load_file(DASHBOARD, 0, &jerr);
    if (!d) fail_msg("%s: %s (line %d)", DASHBOARD, jerr.text, jerr.line);
    json_t *out = json_array();
    json_t *stack = json_array();
    json_array_extend(stack, json_object_get(d, "panels"));
    while (json_array_size(stack)) {
        json_t *p = json_incref(json_array_get(stack, 0));
        json_array_remove(stack, 0);
        json_array_extend(stack, json_object_get(p, "panels"));
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(p, "targets"), i, t) {
            char *e = substitute(json_string_value(json_object_get(t, "expr")));
            json_array_append_new(out, json_pack("[ss]", json_string_value(json_object_get(p, "title")), e));
            free(e);
        }
        json_decref(p);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(d, "templating"), "list"), i, v) {
        const char *q = json_string_value(json_object_get(json_object_get(v, "query"), "query"));
        char metric[200], label[64];
        if (!q || sscanf(q, "label_values(%199[^,], %63[a-z_])", metric, label) != 2) continue;
        char *m = substitute(metric), e[400];
        snprintf(e, sizeof(e), "count by (%s) (%s)", label, m);
        free(m);
        json_array_append_new(out, json_pack("[ss]", json_string_value(json_object_get(v, "name")), e));
    }
    json_decref(stack);
    json_decref(d);
    return out;
}

/* The series of a scrape as promtool's input_series, with the labels
 * Prometheus adds: counters rise by 1 a step, gauges stay. NEW. */
static json_t *input_series(const char *body, int port) {
    json_t *out = json_array();
    char *text = strdup(body), counters[8192] = " ";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], type[16];
        if (sscanf(line, "# TYPE %127s %15s", name, type) == 2 && strcmp(type, "counter") == 0) {
            strncat(counters, name, sizeof(counters) - strlen(counters) - 2);
            strcat(counters, " ");
        }
        if (line[0] == '#') continue;
        char *sp = strrchr(line, ' ');
        if (!sp || strstr(sp, "NaN")) continue;
        size_t n = strcspn(line, "{ ");
        char series[1024], values[64], key[140];
        if (line[n] == '{')
            snprintf(series, sizeof(series), "%.*s,job=\"sluice\",instance=\"127.0.0.1:%d\"}", (int)(sp - line - 1),
                     line, port);
        else
            snprintf(series, sizeof(series), "%.*s{job=\"sluice\",instance=\"127.0.0.1:%d\"}", (int)n, line, port);
        snprintf(key, sizeof(key), " %.*s ", (int)n, line);
        snprintf(values, sizeof(values), "%s+%dx40", sp + 1, strstr(counters, key) ? 1 : 0);
        json_array_append_new(out, json_pack("{ssss}", "series", series, "values", values));
    }
    free(text);
    return out;
}

/* promtool test rules: one alert per expression, absent(expr), which must
 * never fire. Returns promtool's exit status; its output into "out". */
static int evaluate(const char *dir, json_t *exprs, json_t *series, char *out, size_t n) {
    json_t *rules = json_array(), *tests = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(exprs, i, e) {
        char alert[48], expr[1200];
        snprintf(alert, sizeof(alert), "DashboardExpr%zu", i + 1);
        snprintf(expr, sizeof(expr), "absent(%s)", json_string_value(json_array_get(e, 1)));
        json_array_append_new(rules, json_pack("{sssss{ssss}}", "alert", alert, "expr", expr, "labels", "panel",
                                               json_string_value(json_array_get(e, 0)), "expr",
                                               json_string_value(json_array_get(e, 1))));
        json_array_append_new(tests, json_pack("{sssss[]}", "eval_time", "5m", "alertname", alert, "exp_alerts"));
    }
    char rules_path[400], test_path[400];
    snprintf(rules_path, sizeof(rules_path), "%s/dashboard-rules.json", dir);
    snprintf(test_path, sizeof(test_path), "%s/dashboard-test.json", dir);
    json_t *r = json_pack("{s[{ssso}]}", "groups", "name", "dashboard", "rules", rules);
    json_t *t = json_pack("{s[s]sss[{sssOso}]}", "rule_files", "dashboard-rules.json", "evaluation_interval", "15s",
                          "tests", "interval", "15s", "input_series", series, "alert_rule_test", tests);
    int rc = json_dump_file(r, rules_path, JSON_INDENT(1)) | json_dump_file(t, test_path, JSON_INDENT(1));
    json_decref(r);
    json_decref(t);
    if (rc) fail_msg("cannot write %s", test_path);
    const char *argv[] = {PROMTOOL, "test", "rules", test_path, NULL};
    char err[4000];
    rc = proc_run(argv, NULL, NULL, out, n, err, sizeof(err));
    strncat(out, err, n - strlen(out) - 1);
    return rc;
}

static void every_promql_expression_of_the_dashboard_returns_data_over_a_live_scrape(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "emails", SLUICE_TIER_LOW, 8);
    test_class(c, "logins", SLUICE_TIER_CRITICAL, 0);
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = 0.8;
    d.critical = 0.95;
    assert_int_equal(sluice_signal_define(c, "iops_util", &d, NULL, NULL), 0);
    assert_int_equal(sluice_signal_report(c, "iops_util", 0.9, 0, NULL), 0);
    const char *p[3] = {"{}", "{}", "{}"};
    assert_int_equal(sluice_enqueue_many(c, "emails", 3, p, NULL, 0, NULL, NULL, NULL), 0);
    char log[400];
    snprintf(log, sizeof(log), "%s/dashboard.log", h->dir);
    const char *args[] = {"--metrics-port",          "0", "--handler", "emails=/bin/true", "--sampler",
                          "iops_util=1s:/bin/false", NULL};
    pid_t pid = proc_worker(h, args, log);
    int port = proc_metrics_port(log);
    assert_true(port > 0);
    char *resp = NULL;
    WAIT_UNTIL((free(resp), resp = proc_http(port, "GET", "/metrics")) &&
                   strstr(resp, "sluice_worker_acked_total 3\n") &&
                   strstr(resp, "sluice_governor_decisions_total{action=\"cut\"} 1\n"),
               20000);
    proc_stop(pid);
    assert_non_null(resp);
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    json_t *series = input_series(body + 4, port);
    json_t *exprs = expressions();
    fprintf(stderr, "# %zu expressions of the dashboard over %zu series of a live scrape\n", json_array_size(exprs),
            json_array_size(series));
    assert_true(json_array_size(exprs) >= 30);
    static char out[1 << 16];
    int rc = evaluate(h->dir, exprs, series, out, sizeof(out));
    if (rc != 0)
        fail_msg("promtool test rules: exit %d: an expression returned nothing or did not parse:\n%s", rc, out);
    /* the check can fail: a renamed metric returns nothing */
    json_t *renamed = json_deep_copy(exprs);
    json_array_append_new(renamed, json_pack("[ss]", "renamed", "max by (class) (sluice_class_redy)"));
    assert_int_not_equal(evaluate(h->dir, renamed, series, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "sluice_class_redy"));
    json_decref(renamed);
    json_decref(exprs);
    json_decref(series);
    free(resp);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access(DASHBOARD, R_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    if (access(PROMTOOL, X_OK) != 0) {
        fprintf(stderr, "test_dashboard: FAILED: %s is missing (Debian's prometheus package; make deps installs it)\n",
                PROMTOOL);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(every_promql_expression_of_the_dashboard_returns_data_over_a_live_scrape,
                                  proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
