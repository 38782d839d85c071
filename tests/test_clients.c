/* The producers in other languages (queue/clients/) against a real
 * redis-server, beside the C library: every case of
 * queue/clients/conformance.json run through the C library here and through
 * the Python, Ruby and Node clients' own tests (each in a fresh namespace
 * holding the cases' setup, declared with sluicectl apply); a job enqueued
 * from each language run by sluice-worker and acked; a signal pushed from
 * Python that the governor acts on. Run from the top of the tree. */
#define _DEFAULT_SOURCE
#include <math.h>

#include <jansson.h>

#include "common_proc.h"

#define CONFORMANCE "queue/clients/conformance.json"
#define PYTHON "/usr/bin/python3"
#define RUBY "/usr/bin/ruby"
#define NODE "/usr/bin/node"

static json_t *conformance(void) {
    json_error_t jerr;
    json_t *doc = json_load_file(CONFORMANCE, JSON_ALLOW_NUL, &jerr);
    if (!doc) fail_msg("%s: %s (line %d)", CONFORMANCE, jerr.text, jerr.line);
    return doc;
}

/* A fresh namespace "ns" holding the conformance setup (sluicectl apply). */
static void declare_setup(const harness_redis *h, const char *ns) {
    json_t *doc = conformance();
    char *setup = json_dumps(json_object_get(doc, "setup"), 0);
    const char *argv[] = {proc_bin("sluicectl"), "--redis", h->url, "--namespace", ns, "apply", "-", NULL};
    char out[4000], err[2000];
    int rc = proc_run(argv, NULL, setup, out, sizeof(out), err, sizeof(err));
    free(setup);
    json_decref(doc);
    if (rc != 0) fail_msg("sluicectl apply: exit %d: %s%s", rc, out, err);
}

/* ------------------------- the cases, in C ------------------------- */

static double number(json_t *v) {
    const char *s = json_string_value(json_object_get(v, "$special"));
    if (!s) return json_number_value(v);
    return strcmp(s, "nan") == 0 ? NAN : strcmp(s, "inf") == 0 ? INFINITY : -INFINITY;
}

/* The payload of a job spec as NEW bytes (NUL-terminated: the C API takes
 * a C string, so text after a NUL byte is not sent). */
static char *payload_of(json_t *spec) {
    json_t *v;
    if ((v = json_object_get(spec, "payload"))) return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if ((v = json_object_get(spec, "payload_json"))) return strdup(json_string_value(v));
    if ((v = json_object_get(spec, "payload_hex"))) {
        const char *hex = json_string_value(v);
        size_t n = strlen(hex) / 2;
        char *b = calloc(n + 1, 1);
        for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&b[i]);
        return b;
    }
    json_t *gen = json_object_get(spec, "payload_gen");
    size_t size = (size_t)json_integer_value(json_object_get(gen, "size"));
    if (size) {
        char *b = malloc(size + 1);
        memset(b, 'x', size);
        memcpy(b, "{\"p\":\"", 6);
        memcpy(b + size - 2, "\"}", 3);
        return b;
    }
    size_t nest = (size_t)json_integer_value(json_object_get(gen, "nest"));
    char *b = malloc(nest * 6 + 1), *p = b;
    for (size_t i = 1; i < nest; i++) p += sprintf(p, "{\"a\":");
    p += sprintf(p, "{}");
    for (size_t i = 1; i < nest; i++) *p++ = '}';
    *p = '\0';
    return b;
}

static sluice_enqueue_opts opts_of(json_t *spec) {
    sluice_enqueue_opts o = {0};
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(spec, "opts"), k, v) {
        if (json_is_null(v)) continue;
        int64_t n = json_integer_value(v);
        if (strcmp(k, "delay_ms") == 0)
            o.delay_ms = n;
        else if (strcmp(k, "run_at_ms") == 0)
            o.run_at_ms = n;
        else if (strcmp(k, "priority") == 0)
            o.priority = (int)n;
        else if (strcmp(k, "max_attempts") == 0)
            o.max_attempts = (int)n;
        else if (strcmp(k, "timeout_ms") == 0)
            o.timeout_ms = n;
        else if (strcmp(k, "cost") == 0)
            o.cost = n;
        else if (strcmp(k, "unique") == 0)
            o.unique = json_string_value(v);
        else if (strcmp(k, "key") == 0)
            o.key = json_string_value(v);
        else if (strcmp(k, "start_by_ms") == 0)
            o.start_by_ms = n;
        else if (strcmp(k, "start_within_ms") == 0)
            o.start_within_ms = n;
        else if (strcmp(k, "replicas") == 0)
            o.replicas = (int)n;
        else if (strcmp(k, "replicas_timeout_ms") == 0)
            o.replicas_timeout_ms = n;
        else
            fail_msg("%s: unknown option %s", CONFORMANCE, k);
    }
    return o;
}

/* Runs one case through the C library: its outcome as a NEW object of the
 * fields the cases compare, or NULL with *err set (and *done for many). */
static json_t *run_case(sluice_client *c, json_t *k, sluice_error *err, size_t *done) {
    const char *op = json_string_value(json_object_get(k, "op"));
    const char *cls = json_string_value(json_object_get(k, "class"));
    const char *id = json_string_value(json_object_get(k, "id"));
    if (strcmp(op, "enqueue") == 0) {
        json_t *spec = json_object_get(k, "job");
        char *p = payload_of(spec), out[SLUICE_ID_MAX];
        sluice_enqueue_opts o = opts_of(spec);
        int rc = sluice_enqueue(c, cls, p, &o, out, err);
        free(p);
        return rc < 0 ? NULL : json_pack("{ss}", "id", out);
    }
    if (strcmp(op, "enqueue_many") == 0) {
        size_t n = 0, i = 0, j;
        json_t *s;
        json_array_foreach(json_object_get(k, "jobs"), j, s) n +=
            json_is_integer(json_object_get(s, "repeat")) ? (size_t)json_integer_value(json_object_get(s, "repeat"))
                                                          : 1;
        char **payloads = calloc(n + 1, sizeof(*payloads));
        sluice_enqueue_opts *opts = calloc(n + 1, sizeof(*opts));
        char(*ids)[SLUICE_ID_MAX] = calloc(n + 1, sizeof(*ids));
        json_array_foreach(json_object_get(k, "jobs"), j, s) {
            json_t *one = json_object_get(s, "job") ? json_object_get(s, "job") : s;
            size_t times = json_object_get(s, "repeat") ? (size_t)json_integer_value(json_object_get(s, "repeat")) : 1;
            for (size_t t = 0; t < times; t++, i++) {
                payloads[i] = payload_of(one);
                opts[i] = opts_of(one);
            }
        }
        int rc = sluice_enqueue_many(c, cls, n, (const char *const *)payloads, opts, 1, ids, done, err);
        json_t *r = NULL;
        if (rc == 0) {
            json_t *list = json_array();
            for (i = 0; i < n; i++) json_array_append_new(list, json_string(ids[i]));
            r = json_pack("{so sI so so}", "ids", list, "count", (json_int_t)n, "first",
                          n ? json_string(ids[0]) : json_null(), "last", n ? json_string(ids[n - 1]) : json_null());
        }
        for (i = 0; i < n; i++) free(payloads[i]);
        free(payloads);
        free(opts);
        free(ids);
        return r;
    }
    if (strcmp(op, "job") == 0) {
        sluice_job_info info;
        if (sluice_job_get(c, id, &info, err) < 0) return NULL;
        json_t *r = json_pack("{ss ss si si si sI sI sI sI si sI ss ss ss ss}", "id", info.id, "state",
                              sluice_job_state_name(info.state), "attempt", info.attempt, "max_attempts",
                              info.max_attempts, "priority", info.priority, "cost", (json_int_t)info.cost,
                              "enqueued_at", (json_int_t)info.enqueued_at, "at", (json_int_t)info.at, "now",
                              (json_int_t)info.now, "reclaims", info.reclaims, "ahead", (json_int_t)info.ahead,
                              "reason", info.reason ? info.reason : "", "payload", info.payload ? info.payload : "",
                              "unique", info.unique ? info.unique : "", "key", info.key ? info.key : "");
        sluice_job_info_clear(&info);
        return r;
    }
    if (strcmp(op, "cancel") == 0) return sluice_job_cancel(c, id, err) < 0 ? NULL : json_pack("{sb}", "ok", 1);
    if (strcmp(op, "stats") == 0) {
        sluice_class_stats s;
        if (sluice_class_stats_get(c, cls, &s, err) < 0) return NULL;
        return json_pack("{sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI}", "ready", s.ready, "delayed", s.delayed,
                         "leased", s.leased, "dead", s.dead, "enqueued", s.enqueued, "claimed", s.claimed, "acked",
                         s.acked, "failed", s.failed, "retried", s.retried, "died", s.died, "reclaimed", s.reclaimed,
                         "released", s.released, "cancelled", s.cancelled, "throttled", s.throttled, "dead_dropped",
                         s.dead_dropped, "purged", s.purged);
    }
    if (strcmp(op, "signal_report") == 0) {
        const char *name = json_string_value(json_object_get(k, "signal"));
        int64_t age = json_integer_value(json_object_get(k, "age_ms"));
        int rc = sluice_signal_report(c, name, number(json_object_get(k, "value")), age, err);
        return rc < 0 ? NULL : json_pack("{sb}", "ok", 1);
    }
    if (strcmp(op, "url") == 0) {
        sluice_url u;
        if (sluice_url_parse(json_string_value(json_object_get(k, "url")), &u, err) < 0) return NULL;
        json_t *sentinels = json_array();
        for (int i = 0; i < u.nsentinels; i++)
            json_array_append_new(sentinels, json_pack("[si]", u.sentinels[i].host, u.sentinels[i].port));
        return json_pack("{s{sb ss si ss ss ss si so ss}}", "url", "unix", u.is_unix, "host", u.host, "port", u.port,
                         "path", u.path, "user", u.user, "password", u.password, "db", u.db, "sentinels", sentinels,
                         "master", u.master);
    }
    fail_msg("%s: unknown op %s", CONFORMANCE, op);
    return NULL;
}

/* Why the outcome differs from the case's "expect" (into why), or 0. */
static int mismatch(json_t *k, json_t *got, const sluice_error *err, size_t done, char *why, size_t n) {
    json_t *want = json_object_get(k, "expect");
    const char *word = json_string_value(json_object_get(want, "error"));
    if (word) {
        const char *msg = json_string_value(json_object_get(want, "message"));
        json_t *d = json_object_get(want, "done");
        if (got)
            snprintf(why, n, "expected %s, got a result", word);
        else if (strcmp(sluice_error_name(err->code), word) != 0 || (msg && !strstr(err->text, msg)))
            snprintf(why, n, "expected %s (%s), got %s: %s", word, msg ? msg : "", sluice_error_name(err->code),
                     err->text);
        else if (d && (size_t)json_integer_value(d) != done)
            snprintf(why, n, "expected %lld done, got %zu", json_integer_value(d), done);
        else
            return 0;
        return 1;
    }
    if (!got) {
        snprintf(why, n, "expected a result, got %s: %s", sluice_error_name(err->code), err->text);
        return 1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(want, key, v) {
        json_t *g = json_object_get(got, key);
        if (strcmp(key, "url") == 0) {
            const char *f;
            json_t *x;
            json_object_foreach(v, f, x) if (!json_equal(x, json_object_get(g, f))) {
                snprintf(why, n, "url field %s differs", f);
                return 1;
            }
        } else if (!json_equal(v, g)) {
            char *a = json_dumps(v, JSON_ENCODE_ANY), *b = g ? json_dumps(g, JSON_ENCODE_ANY) : strdup("nothing");
            snprintf(why, n, "%s: expected %.100s, got %.100s", key, a, b);
            free(a);
            free(b);
            return 1;
        }
    }
    return 0;
}

static void the_conformance_file_names_the_c_librarys_error_codes_and_words(void **state) {
    (void)state;
    json_t *doc = conformance();
    json_t *table = json_object_get(doc, "errors");
    assert_int_equal(json_array_size(table), SLUICE_ERR_NOT_REPLICATED + 1);
    for (int code = SLUICE_OK; code <= SLUICE_ERR_NOT_REPLICATED; code++) {
        const char *word = json_string_value(json_array_get(json_array_get(table, (size_t)code), 1));
        assert_non_null(word);
        assert_string_equal(word, sluice_error_name((sluice_error_code)code));
    }
    json_decref(doc);
}

static void every_conformance_case_gives_its_answer_in_c(void **state) {
    harness_redis *h = *state;
    declare_setup(h, "conf-c");
    sluice_error err;
    sluice_client *c = sluice_client_connect(h->url, "conf-c", &err);
    if (!c) fail_msg("connect: %s", err.text);
    json_t *doc = conformance();
    size_t i, ran = 0, failed = 0, dynamic = 0;
    json_t *k;
    json_array_foreach(json_object_get(doc, "cases"), i, k) {
        if (json_is_true(json_object_get(k, "dynamic"))) {
            dynamic++;
            continue;
        }
        ran++;
        size_t done = 0;
        memset(&err, 0, sizeof(err));
        json_t *got = run_case(c, k, &err, &done);
        char why[600];
        if (mismatch(k, got, &err, done, why, sizeof(why))) {
            fprintf(stderr, "conformance: %s: %s\n", json_string_value(json_object_get(k, "name")), why);
            failed++;
        }
        json_decref(got);
    }
    fprintf(stderr, "# c: %zu conformance cases, %zu passed, %zu failed, %zu not expressible in C (wrong types)\n",
            ran + dynamic, ran - failed, failed, dynamic);
    json_decref(doc);
    sluice_client_free(c);
    assert_int_equal(failed, 0);
}

/* ------------------------ the other languages ------------------------ */

/* Runs a client's test command in a fresh namespace holding the setup:
 * it must exit 0; its closing lines are shown. */
static void client_tests_pass(const harness_redis *h, const char *lang, const char *const *argv) {
    if (access(argv[0], X_OK) != 0) fail_msg("%s is missing (scripts/bootstrap.sh installs it)", argv[0]);
    char ns[64], url_env[512], ns_env[128];
    snprintf(ns, sizeof(ns), "conf-%s", lang);
    declare_setup(h, ns);
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", h->url);
    snprintf(ns_env, sizeof(ns_env), "SLUICE_NAMESPACE=%s", ns);
    const char *env[] = {url_env, ns_env, NULL};
    static char out[1 << 16], err[1 << 16];
    int rc = proc_run(argv, env, NULL, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("%s client tests: exit %d\n%s%s", lang, rc, out, err);
    /* the runner's summary lines: the cases', and its own count */
    static const char *const summary[] = {" conformance cases, ", "Ran ", " runs, ", "# pass ", "# fail "};
    int cases = 0;
    for (const char *text = out; text; text = text == out ? err : NULL) {
        for (const char *line = text; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != '\0')) {
            int len = (int)strcspn(line, "\n");
            for (size_t i = 0; i < sizeof(summary) / sizeof(summary[0]); i++) {
                const char *hit = strstr(line, summary[i]);
                if (!hit || hit - line >= len) continue;
                fprintf(stderr, "# %s client: %.*s\n", lang, len, line);
                cases += i == 0;
                break;
            }
        }
    }
    if (!cases) fail_msg("%s client tests ran no conformance case:\n%s%s", lang, out, err);
}

static void the_python_client_passes_its_tests_and_every_conformance_case(void **state) {
    const char *argv[] = {PYTHON, "queue/clients/python/test_sluice.py", NULL};
    client_tests_pass(*state, "python", argv);
}

static void the_ruby_client_passes_its_tests_and_every_conformance_case(void **state) {
    const char *argv[] = {RUBY, "queue/clients/ruby/test_sluice.rb", NULL};
    client_tests_pass(*state, "ruby", argv);
}

static void the_node_client_passes_its_tests_and_every_conformance_case(void **state) {
    const char *argv[] = {NODE, "--test", "queue/clients/node/sluice.test.js", NULL};
    client_tests_pass(*state, "node", argv);
}

/* Each language's one-line producer: enqueues {"from": LANG} into class
 * "polyglot" of namespace "t" and prints the id. */
static const struct {
    const char *lang;
    const char *argv[6];
} producers[] = {
    {"python",
     {PYTHON, "-c",
      "import sys; sys.path.insert(0, 'queue/clients/python'); import sluice\n"
      "with sluice.connect() as c: print(c.enqueue('polyglot', {'from': 'python'}))",
      NULL}},
    {"ruby",
     {RUBY, "-Iqueue/clients/ruby", "-rsluice", "-e",
      "c = Sluice.connect; puts c.enqueue('polyglot', {from: 'ruby'}); c.close", NULL}},
    {"node",
     {NODE, "-e",
      "const sluice = require('./queue/clients/node/sluice');\n"
      "sluice.connect().then(async (c) => { console.log(await c.enqueue('polyglot', {from: 'node'}));"
      " await c.close(); });",
      NULL}},
};

static void a_job_enqueued_from_each_language_is_run_by_sluice_worker_and_acked(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "polyglot", SLUICE_TIER_NORMAL, 4);
    char url_env[512], out[200], err[2000], ids[3][SLUICE_ID_MAX];
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", h->url);
    const char *env[] = {url_env, "SLUICE_NAMESPACE=t", NULL};
    for (size_t i = 0; i < 3; i++) {
        int rc = proc_run(producers[i].argv, env, NULL, out, sizeof(out), err, sizeof(err));
        if (rc != 0) fail_msg("%s producer: exit %d: %s%s", producers[i].lang, rc, out, err);
        out[strcspn(out, "\n")] = '\0';
        assert_int_equal(strncmp(out, "polyglot:", 9), 0);
        snprintf(ids[i], sizeof(ids[i]), "%.*s", SLUICE_ID_MAX - 1, out);
    }
    char log[400], body[600];
    snprintf(log, sizeof(log), "%s/polyglot.log", h->dir);
    snprintf(body, sizeof(body), "#!/bin/sh\ncat > \"%s/$SLUICE_JOB_ID\"\n", h->dir);
    const char *handler = proc_script(h->dir, "record.sh", body);
    char spec[500];
    snprintf(spec, sizeof(spec), "polyglot=%s", handler);
    const char *args[] = {"--no-governor", "--handler", spec, NULL};
    sluice_class_stats st;
    proc_drain(h, args, log, c, "polyglot", 3, 20000, &st);
    assert_int_equal(st.acked, 3);
    assert_int_equal(st.failed, 0);
    for (size_t i = 0; i < 3; i++) {
        char path[600], want[64];
        snprintf(path, sizeof(path), "%s/%s", h->dir, ids[i]);
        snprintf(want, sizeof(want), "{\"from\":\"%s\"}", producers[i].lang);
        char *ran = proc_slurp(path);
        if (strcmp(ran, want) != 0) fail_msg("the %s job ran with \"%s\"", producers[i].lang, ran);
        free(ran);
        sluice_job_info info;
        assert_int_equal(sluice_job_get(c, ids[i], &info, NULL), 0);
        assert_int_equal(info.state, SLUICE_JOB_UNKNOWN); /* acked and gone */
        sluice_job_info_clear(&info);
    }
    sluice_client_free(c);
}

/* The governor's gate of "cls" has been written with "fraction". */
static int governed_at(sluice_client *c, const char *cls, double fraction) {
    sluice_gate_info g;
    return sluice_gate_get(c, cls, &g, NULL) == 0 && g.governed && fabs(g.governor_fraction - fraction) < 1e-9;
}

static void python_report(const harness_redis *h, const char *signal, double value) {
    char code[300], url_env[512], out[200], err[2000];
    snprintf(code, sizeof(code),
             "import sys; sys.path.insert(0, 'queue/clients/python'); import sluice\n"
             "with sluice.connect() as c: print(c.report_signal('%s', %.17g))",
             signal, value);
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", h->url);
    const char *env[] = {url_env, "SLUICE_NAMESPACE=t", NULL};
    const char *argv[] = {PYTHON, "-c", code, NULL};
    int rc = proc_run(argv, env, NULL, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("python report: exit %d: %s%s", rc, out, err);
}

static void a_signal_pushed_from_python_is_acted_on_by_the_governor(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    test_class(c, "reports", SLUICE_TIER_LOW, 8);
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = 0.5;
    d.critical = 0.8;
    d.on_stale = SLUICE_STALE_IGNORE; /* no pressure but what Python reports */
    assert_int_equal(sluice_signal_define(c, "pg_load", &d, NULL, NULL), 0);
    char log[400];
    snprintf(log, sizeof(log), "%s/governor.log", h->dir);
    const char *args[] = {"--handler", "reports=/bin/true", NULL};
    pid_t pid = proc_worker(h, args, log);
    python_report(h, "pg_load", 0.2);
    WAIT_UNTIL(governed_at(c, "reports", 1.0), 20000);
    assert_true(governed_at(c, "reports", 1.0));
    python_report(h, "pg_load", 0.95); /* over critical: the low tier to its floor */
    WAIT_UNTIL(governed_at(c, "reports", 0.1), 20000);
    proc_stop(pid);
    assert_true(governed_at(c, "reports", 0.1));
    /* the decision that cut names the signal Python reported */
    size_t n = 0;
    char **hist = sluice_governor_history_list(c, 100, &n, NULL);
    int named = 0;
    for (size_t i = 0; i < n; i++)
        named |= strstr(hist[i], "\"action\":\"critical\"") && strstr(hist[i], "\"driver\":\"pg_load\"");
    sluice_governor_history_free(hist, n);
    if (!named) fail_msg("no critical decision driven by pg_load in the governor's history");
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access(CONFORMANCE, R_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_conformance_file_names_the_c_librarys_error_codes_and_words),
        cmocka_unit_test(every_conformance_case_gives_its_answer_in_c),
        cmocka_unit_test(the_python_client_passes_its_tests_and_every_conformance_case),
        cmocka_unit_test(the_ruby_client_passes_its_tests_and_every_conformance_case),
        cmocka_unit_test(the_node_client_passes_its_tests_and_every_conformance_case),
        cmocka_unit_test_teardown(a_job_enqueued_from_each_language_is_run_by_sluice_worker_and_acked, proc_teardown),
        cmocka_unit_test_teardown(a_signal_pushed_from_python_is_acted_on_by_the_governor, proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
