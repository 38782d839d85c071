/* sluicectl against a real redis-server: every command run as a program
 * (fork/exec build/bin/sluicectl), its output and exit code checked, and its
 * effect (or the absence of one) checked in Redis through the library. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"
#include "sluice/sim.h"

/* ----------------------------------------------------------- running it */

/* The program next to this test binary: <build>/tests/test_ctl ->
 * <build>/bin/sluicectl, so any BUILD= directory works; $SLUICECTL wins. */
static char ctl_bin[4096] = "build/bin/sluicectl";

typedef struct run_result {
    int code;  /* exit code, or -1 if it did not exit normally */
    char *out; /* stdout, NUL-terminated */
    char *err; /* stderr */
} run_result;

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

static char *slurp(int fd) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static int tmpfd(void) {
    char path[] = "/tmp/sluicectl-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) fail_msg("mkstemp");
    unlink(path);
    return fd;
}

/* Runs sluicectl with the harness's server and namespace "t", the given
 * arguments (NULL-terminated) and "input" on stdin (NULL: /dev/null). */
static run_result run_argv(void **state, const char *input, size_t inlen, const char *const *args) {
    harness_redis *r = *state;
    const char *bin = getenv("SLUICECTL") ? getenv("SLUICECTL") : ctl_bin;
    const char *argv[192] = {bin, "--redis", r->url, "--namespace", "t"};
    int n = 5;
    for (int i = 0; args[i] && n < 191; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int in = -1;
    if (input) {
        in = tmpfd();
        if (write(in, input, inlen) != (ssize_t)inlen) fail_msg("write stdin");
        lseek(in, 0, SEEK_SET);
    }
    int out = tmpfd(), err = tmpfd();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (in < 0) in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (in >= 0) close(in);
    run_result res = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
    return res;
}

#define RUN(state, ...) run_argv(state, NULL, 0, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(state, input, ...) run_argv(state, input, strlen(input), (const char *const[]){__VA_ARGS__, NULL})

/* stderr is exactly one line starting "sluicectl: " and naming "what". */
static void assert_one_line_error(const run_result *r, const char *what) {
    if (strncmp(r->err, "sluicectl: ", 11) != 0) fail_msg("stderr: %s", r->err);
    const char *nl = strchr(r->err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
    if (!strstr(r->err, what)) fail_msg("stderr does not name '%s': %s", what, r->err);
}

static json_t *parse_out(const run_result *r) {
    json_error_t je;
    json_t *v = json_loads(r->out, 0, &je);
    if (!v) fail_msg("not JSON (%s): %s", je.text, r->out);
    return v;
}

/* Takes the result of a successful `enqueue`: its id (the first line) into
 * id. */
static void enqueued_id(run_result *r, char id[SLUICE_ID_MAX]) {
    if (r->code != 0) fail_msg("enqueue: exit %d, %s", r->code, r->err);
    snprintf(id, SLUICE_ID_MAX, "%.*s", (int)strcspn(r->out, "\n"), r->out);
    run_free(r);
}

/* `job show --json ID`'s document. NEW. */
static json_t *job_shown(void **state, const char *id) {
    run_result r = RUN(state, "--json", "job", "show", id);
    json_t *job = parse_out(&r);
    run_free(&r);
    return job;
}

static long long dbsize(void **state) {
    return harness_redis_int(*state, "DBSIZE");
}

static sluice_client *connect_t(void **state) {
    return test_connect(state);
}

/* --------------------------------------------------------------- help */

static const char *const COMMANDS[] = {
    "status",     "top",         "class",         "class list", "class get",       "class set",     "class delete",
    "class keys", "pause",       "resume",        "pin",        "unpin",           "signal",        "signal define",
    "signal set", "signal list", "signal delete", "governor",   "governor status", "governor mode", "governor history",
    "enqueue",    "job",         "job show",      "job cancel", "explain",         "dead",          "dead list",
    "dead retry", "dead purge",  "apply",         "export",     "audit",
};
#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static void the_program_help_lists_every_command_on_stdout(void **state) {
    run_result r = RUN(state, "--help");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char word[32];
        snprintf(word, sizeof(word), "%s", COMMANDS[i]);
        char *sp = strchr(word, ' ');
        if (sp) *sp = '\0';
        if (!strstr(r.out, word)) fail_msg("--help misses %s", word);
    }
    assert_non_null(strstr(r.out, "Exit codes"));
    run_free(&r);
}

static void every_command_has_help_that_exits_0_on_stdout(void **state) {
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", COMMANDS[i]);
        char *sub = strchr(buf, ' ');
        if (sub) *sub++ = '\0';
        run_result r = sub ? RUN(state, buf, sub, "--help") : RUN(state, buf, "--help");
        assert_int_equal(r.code, 0);
        char want[80];
        snprintf(want, sizeof(want), "usage: sluicectl %s", COMMANDS[i]);
        if (!strstr(r.out, want)) fail_msg("help of %s: %s", COMMANDS[i], r.out);
        assert_string_equal(r.err, "");
        run_free(&r);
    }
}

static void an_unknown_command_exits_2_naming_it_and_changes_nothing(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "frobnicate", "x");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "frobnicate");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
}

static void an_unreachable_redis_exits_1(void **state) {
    (void)state;
    harness_redis fake = {0};
    snprintf(fake.url, sizeof(fake.url), "redis://127.0.0.1:1");
    void *st = &fake;
    run_result r = run_argv(&st, NULL, 0, (const char *const[]){"status", NULL});
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "127.0.0.1:1");
    run_free(&r);
}

static void a_password_in_the_url_is_never_echoed(void **state) {
    (void)state;
    harness_redis fake = {0};
    snprintf(fake.url, sizeof(fake.url), "redis://bob:hunter2@127.0.0.1:1");
    void *st = &fake;
    run_result r = run_argv(&st, NULL, 0, (const char *const[]){"status", NULL});
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "");
    assert_null(strstr(r.err, "hunter2"));
    run_free(&r);
}

static void a_malformed_url_exits_2(void **state) {
    (void)state;
    harness_redis fake = {0};
    snprintf(fake.url, sizeof(fake.url), "notaurl://x");
    void *st = &fake;
    run_result r = run_argv(&st, NULL, 0, (const char *const[]){"status", NULL});
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "url");
    run_free(&r);
}

/* -------------------------------------------------------------- class */

static void class_set_declares_a_class_with_the_given_limits(void **state) {
    run_result r = RUN(state, "class", "set", "certs", "--tier", "low", "--max-rate", "3000/m", "--max-concurrency",
                       "8", "--floor", "0.1", "--timeout", "2m", "--backoff-base", "500ms", "--burst", "20",
                       "--max-queue", "1000", "--max-attempts", "7", "--max-reclaims", "2", "--keep-done", "5",
                       "--dead-max", "50", "--payload-max", "1024", "--backoff-max", "1h");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "created"));
    sluice_client *c = connect_t(state);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "certs", &cfg, &err), 0);
    assert_int_equal(cfg.tier, SLUICE_TIER_LOW);
    assert_true(cfg.max_rate == 50);
    assert_int_equal(cfg.max_concurrency, 8);
    assert_true(cfg.floor == 0.1);
    assert_int_equal(cfg.timeout_ms, 120000);
    assert_int_equal(cfg.backoff_base_ms, 500);
    assert_int_equal(cfg.backoff_max_ms, 3600000);
    assert_true(cfg.burst == 20);
    assert_int_equal(cfg.max_queue, 1000);
    assert_int_equal(cfg.max_attempts, 7);
    assert_int_equal(cfg.max_reclaims, 2);
    assert_int_equal(cfg.keep_done, 5);
    assert_int_equal(cfg.dead_max, 50);
    assert_int_equal(cfg.payload_max, 1024);
    sluice_client_free(c);
    run_free(&r);
}

static void class_set_changes_only_the_given_fields(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "partial", SLUICE_TIER_HIGH, 4);
    run_result r = RUN(state, "class", "set", "partial", "--max-rate", "100/h");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "updated"));
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "partial", &cfg, &err), 0);
    assert_int_equal(cfg.tier, SLUICE_TIER_HIGH);
    assert_int_equal(cfg.max_concurrency, 4);
    assert_true(cfg.max_rate > 0.0277 && cfg.max_rate < 0.0278);
    assert_int_equal(cfg.backoff_max_ms, 10);
    sluice_client_free(c);
    run_free(&r);
}

static void class_set_windows_round_trip_through_get_export_and_apply(void **state) {
    run_result r = RUN(state, "class", "set", "nightly", "--tier", "low", "--max-rate", "10/s", "--window",
                       "mon-fri 20:00-07:00 America/New_York", "--window", "sat,sun 00:00-12:00 Europe/London",
                       "--outside-window", "none");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "class", "get", "nightly");
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "windows          mon-fri 20:00-07:00 America/New_York\n"
                       "                 sat,sun 00:00-12:00 Europe/London\n"))
        fail_msg("class get: %s", r.out);
    assert_non_null(strstr(r.out, "outside_window   none\n"));
    run_free(&r);
    /* export, change the file's windows, apply: the diff names them */
    r = RUN(state, "export");
    json_t *doc = parse_out(&r);
    run_free(&r);
    json_t *cls = json_object_get(json_object_get(doc, "classes"), "nightly");
    json_t *w = json_object_get(cls, "windows");
    assert_int_equal(json_array_size(w), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 1), "tz")), "Europe/London");
    assert_string_equal(json_string_value(json_object_get(cls, "outside_window")), "none");
    json_array_remove(w, 1);
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    r = RUN_IN(state, text, "apply", "-");
    free(text);
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "~ class nightly: windows [{\"days\":\"mon-fri\",\"from\":\"20:00\",\"to\":\"07:00\",\"tz\":"
                       "\"America/New_York\"},{\"days\":\"sat,sun\""))
        fail_msg("apply: %s", r.out);
    run_free(&r);
    sluice_client *c = connect_t(state);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "nightly", &cfg, &err), 0);
    assert_int_equal(cfg.nwindows, 1);
    assert_int_equal(cfg.outside_window, SLUICE_OUTSIDE_NONE);
    r = RUN(state, "class", "set", "nightly", "--no-windows");
    assert_int_equal(r.code, 0);
    assert_int_equal(sluice_class_get(c, "nightly", &cfg, &err), 0);
    assert_int_equal(cfg.nwindows, 0);
    sluice_client_free(c);
    run_free(&r);
}

static void fairness_keys_round_trip_show_in_job_show_and_class_keys_and_bad_ones_exit_2(void **state) {
    run_result r = RUN(state, "class", "set", "tenants", "--tier", "critical", "--key-weight", "acme=3", "--key-weight",
                       "small=1");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "class", "get", "tenants");
    if (r.code != 0 || !strstr(r.out, "key_weights      acme=3\n                 small=1\n"))
        fail_msg("class get: %s", r.out);
    run_free(&r);
    /* export carries them, apply changes them and names the change */
    r = RUN(state, "export");
    json_t *doc = parse_out(&r);
    run_free(&r);
    json_t *w = json_object_get(json_object_get(json_object_get(doc, "classes"), "tenants"), "key_weights");
    assert_int_equal(json_integer_value(json_object_get(w, "acme")), 3);
    json_object_set_new(w, "acme", json_integer(4));
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    r = RUN_IN(state, text, "apply", "-");
    free(text);
    if (r.code != 0 || !strstr(r.out, "~ class tenants: key_weights {\"acme\":3,\"small\":1} -> {\"acme\":4,"))
        fail_msg("apply: %s", r.out);
    run_free(&r);
    char key[SLUICE_KEY_MAX + 2], big[10 * 1024 + 1];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const struct {
        const char *args[6];
        const char *says;
    } bad[] = {
        {{"class", "set", "tenants", "--key-weight", "acme=0"}, "key weight"},
        {{"class", "set", "tenants", "--key-weight", "acme=-2"}, "key weight"},
        {{"class", "set", "tenants", "--key-weight", "acme=nan"}, "key weight"},
        {{"class", "set", "tenants", "--key-weight", "acme=x"}, "key weight"},
        {{"class", "set", "tenants", "--key-weight", "acme"}, "KEY=WEIGHT"},
        {{"class", "set", "tenants", "--key-weight", "=2"}, "fairness key"},
        {{"class", "set", "tenants", "--key-weight", "a=7", "--no-key-weights"}, "not both"},
        {{"enqueue", "tenants", "{}", "--key", big}, "fairness key"},
        {{"enqueue", "tenants", "{}", "--key", key}, "fairness key"},
        {{"enqueue", "tenants", "{}", "--key", ""}, "fairness key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = run_argv(state, NULL, 0, bad[i].args);
        if (r.code != 2) fail_msg("case %zu: exit %d, stderr %s", i, r.code, r.err);
        assert_one_line_error(&r, bad[i].says);
        run_free(&r);
    }
    /* too many weights: 65 */
    const char *many[3 + 2 * (SLUICE_KEY_WEIGHTS_MAX + 1) + 1] = {"class", "set", "tenants"};
    char names[SLUICE_KEY_WEIGHTS_MAX + 1][16];
    for (int i = 0; i <= SLUICE_KEY_WEIGHTS_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d=1", i);
        many[3 + 2 * i] = "--key-weight";
        many[4 + 2 * i] = names[i];
    }
    r = run_argv(state, NULL, 0, many);
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--key-weight");
    run_free(&r);
    sluice_client *c = connect_t(state);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "tenants", &cfg, &err), 0);
    assert_int_equal(cfg.nkey_weights, 2);
    assert_int_equal(cfg.key_weights[0].weight, 4);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "tenants", &st, &err), 0);
    assert_int_equal(st.enqueued, 0);
    r = RUN(state, "enqueue", "tenants", "{}", "--key", "acme");
    char id[SLUICE_ID_MAX];
    enqueued_id(&r, id);
    json_t *job = job_shown(state, id);
    assert_string_equal(json_string_value(json_object_get(job, "key")), "acme");
    json_decref(job);
    r = RUN(state, "enqueue", "tenants", "{}", "--key", "acme");
    assert_int_equal(r.code, 0);
    run_free(&r);
    /* one of acme's two runs, one waits */
    sluice_job *leased;
    sluice_claim_info ci;
    assert_int_equal(sluice_claim(c, "tenants", "t", 1, &leased, &ci, &err), 0);
    assert_int_equal(ci.count, 1);
    r = RUN(state, "--json", "class", "keys", "tenants");
    json_t *top = parse_out(&r);
    run_free(&r);
    assert_int_equal(json_array_size(top), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "key")), "acme");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "waiting")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "running")), 1);
    json_decref(top);
    r = RUN(state, "class", "keys", "tenants");
    if (r.code != 0 || !strstr(r.out, "RUNNING") || !strstr(r.out, "acme")) fail_msg("class keys: %s", r.out);
    run_free(&r);
    r = RUN(state, "job", "show", id);
    if (r.code != 0 || !strstr(r.out, "key          acme\n")) fail_msg("job show: %s", r.out);
    run_free(&r);
    assert_int_equal(sluice_ack(c, sluice_job_id(leased), sluice_job_token(leased), &err), 0);
    sluice_job_free(leased);
    /* a cap of one a key: acme's second job is held, and explain says why */
    r = RUN(state, "class", "set", "tenants", "--max-concurrency-per-key", "1");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "class", "set", "tenants", "--max-concurrency-per-key", "-1");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--max-concurrency-per-key");
    run_free(&r);
    char held[SLUICE_ID_MAX];
    r = RUN(state, "enqueue", "tenants", "{}", "--key", "acme");
    enqueued_id(&r, held);
    r = RUN(state, "enqueue", "tenants", "{}", "--key", "acme");
    enqueued_id(&r, held); /* the later of acme's two */
    assert_int_equal(sluice_claim(c, "tenants", "t", 2, &leased, &ci, &err), 0);
    assert_int_equal(ci.count, 1);
    assert_string_not_equal(sluice_job_id(leased), held);
    sluice_job *none;
    assert_int_equal(sluice_claim(c, "tenants", "t", 1, &none, &ci, &err), 0);
    assert_int_equal(ci.status, SLUICE_CLAIM_EMPTY);
    r = RUN(state, "explain", held);
    if (r.code != 0 || !strstr(r.out, "max_concurrency_per_key") || !strstr(r.out, "jobs in flight ends"))
        fail_msg("explain: %s", r.out);
    run_free(&r);
    assert_int_equal(sluice_ack(c, sluice_job_id(leased), sluice_job_token(leased), &err), 0);
    sluice_job_free(leased);
    r = RUN(state, "class", "keys", "tenants", "--count", "101");
    assert_int_equal(r.code, 2);
    run_free(&r);
    r = RUN(state, "class", "keys", "nosuch");
    assert_int_equal(r.code, 3);
    run_free(&r);
    r = RUN(state, "class", "set", "tenants", "--no-key-weights");
    assert_int_equal(r.code, 0);
    run_free(&r);
    assert_int_equal(sluice_class_get(c, "tenants", &cfg, &err), 0);
    assert_int_equal(cfg.nkey_weights, 0);
    sluice_client_free(c);
}

static void deadlines_through_enqueue_job_show_and_class_set_and_bad_ones_exit_2(void **state) {
    run_result r =
        RUN(state, "class", "set", "due", "--tier", "critical", "--on-expiry", "dead", "--deadline-reserve", "0.3");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "--json", "class", "get", "due");
    json_t *cfg = parse_out(&r);
    run_free(&r);
    assert_string_equal(json_string_value(json_object_get(cfg, "on_expiry")), "dead");
    assert_true(json_real_value(json_object_get(cfg, "deadline_reserve")) == 0.3);
    json_decref(cfg);
    r = RUN(state, "enqueue", "due", "{}", "--start-within", "1m");
    char id[SLUICE_ID_MAX];
    enqueued_id(&r, id);
    json_t *job = job_shown(state, id);
    json_int_t by = json_integer_value(json_object_get(job, "start_by"));
    json_int_t at = json_integer_value(json_object_get(job, "enqueued_at"));
    if (by < at + 60000 || by > at + 61000) fail_msg("start_by %lld for a job enqueued at %lld", by, at);
    json_decref(job);
    r = RUN(state, "job", "show", id);
    if (r.code != 0 || !strstr(r.out, "start_by ")) fail_msg("job show: %s", r.out);
    run_free(&r);
    /* an RFC 3339 time, as --run-at takes too */
    r = RUN(state, "enqueue", "due", "{}", "--start-by", "2099-01-01T01:00:00+01:00");
    enqueued_id(&r, id);
    job = job_shown(state, id);
    assert_int_equal(json_integer_value(json_object_get(job, "start_by")), 4070908800000);
    json_decref(job);
    const struct {
        const char *args[8];
        const char *says;
    } bad[] = {
        {{"enqueue", "due", "{}", "--start-by", "abc"}, "--start-by"},
        {{"enqueue", "due", "{}", "--start-by", "2026-02-30T00:00:00Z"}, "RFC 3339"},
        {{"enqueue", "due", "{}", "--start-by", "1"}, "more than a year in the past"},
        {{"enqueue", "due", "{}", "--start-within", "nope"}, "--start-within"},
        {{"enqueue", "due", "{}", "--start-within", "1m", "--start-by", "99999999999999"}, "exclude each other"},
        {{"enqueue", "due", "{}", "--start-within", "1s", "--delay", "1m"}, "before the job's run_at"},
        {{"class", "set", "due", "--deadline-reserve", "1.5"}, "deadline_reserve"},
        {{"class", "set", "due", "--deadline-reserve", "nan"}, "deadline_reserve"},
        {{"class", "set", "due", "--on-expiry", "maybe"}, "on_expiry"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = run_argv(state, NULL, 0, bad[i].args);
        if (r.code != 2) fail_msg("case %zu: exit %d, stderr %s", i, r.code, r.err);
        assert_one_line_error(&r, bad[i].says);
        run_free(&r);
    }
    sluice_client *c = connect_t(state);
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "due", &st, &err), 0);
    assert_int_equal(st.enqueued, 2);
    sluice_class_config got;
    assert_int_equal(sluice_class_get(c, "due", &got, &err), 0);
    assert_int_equal(got.on_expiry, SLUICE_EXPIRY_DEAD);
    assert_true(got.deadline_reserve == 0.3);
    sluice_client_free(c);
}

static void class_set_bad_windows_exit_2_naming_the_problem_and_change_nothing(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "windowed", SLUICE_TIER_CRITICAL, 4); /* critical: the windows need the limits */
    run_result r = RUN(state, "class", "set", "windowed", "--window", "mon-fri 20:00-07:00 America/New_York");
    assert_int_equal(r.code, 0);
    run_free(&r);
    const char *bad[][3] = {
        {"--window", "mon-fri 20:00-07:00 Mars/Base", "unknown zone Mars/Base"},
        {"--window", "mon-fry 20:00-07:00 UTC", "bad days \"mon-fry\""},
        {"--window", "mon 08:00-08:00 UTC", "is empty"},
        {"--window", "mon 08:00-25:00 UTC", "bad time \"25:00\""},
        {"--window", "mon 8:00-09:00 UTC", "bad times"},
        {"--window", "mon 08:00-09:00", "is not DAYS HH:MM-HH:MM ZONE"},
        {"--outside-window", "never", "unknown outside_window \"never\""},
    };
    sluice_class_config before, after;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "windowed", &before, &err), 0);
    long long audit = harness_redis_int(*state, "XLEN t:{windowed}:audit");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = RUN(state, "class", "set", "windowed", bad[i][0], bad[i][1]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, bad[i][2]);
        run_free(&r);
    }
    r = RUN(state, "class", "set", "windowed", "--window", "mon-fri 20:00-07:00 UTC", "--window",
            "tue 06:00-08:00 UTC");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "tue 06:00-08:00 UTC overlaps mon-fri 20:00-07:00 UTC");
    run_free(&r);
    r = RUN(state, "class", "set", "windowed", "--window", "mon 01:00-02:00 UTC", "--no-windows");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "not both");
    run_free(&r);
    r = RUN(state, "class", "set", "windowed", "--max-concurrency", "0");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "a class with windows needs max_rate or max_concurrency");
    run_free(&r);
    const char *doc = "{\"classes\":{\"windowed\":{\"max_concurrency\":4,\"windows\":[{\"days\":\"mon\","
                      "\"from\":\"08:00\",\"to\":\"09:00\",\"tz\":\"Mars/Base\"}]}}}";
    r = RUN_IN(state, doc, "apply", "-");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "unknown zone Mars/Base");
    run_free(&r);
    assert_int_equal(sluice_class_get(c, "windowed", &after, &err), 0);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(harness_redis_int(*state, "XLEN t:{windowed}:audit"), audit);
    sluice_client_free(c);
}

static void class_get_json_prints_every_field(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "getme", SLUICE_TIER_NORMAL, 3);
    run_result r = RUN(state, "class", "get", "getme", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_string_equal(json_string_value(json_object_get(v, "name")), "getme");
    assert_string_equal(json_string_value(json_object_get(v, "tier")), "normal");
    assert_int_equal(json_integer_value(json_object_get(v, "max_concurrency")), 3);
    const char *fields[] = {"max_rate",     "burst",       "floor",           "max_queue",
                            "max_attempts", "timeout_ms",  "max_reclaims",    "keep_done",
                            "dead_max",     "payload_max", "backoff_base_ms", "backoff_max_ms"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) assert_non_null(json_object_get(v, fields[i]));
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void class_get_of_an_unknown_class_exits_3(void **state) {
    run_result r = RUN(state, "class", "get", "nosuchclass");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "nosuchclass");
    assert_string_equal(r.out, "");
    run_free(&r);
}

static void class_list_json_lists_the_declared_classes(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "listed-a", SLUICE_TIER_NORMAL, 1);
    test_class(c, "listed-b", SLUICE_TIER_LOW, 1);
    run_result r = RUN(state, "class", "list", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_true(json_is_array(v));
    int seen = 0;
    size_t i;
    json_t *o;
    json_array_foreach(v, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (!strcmp(n, "listed-a") || !strcmp(n, "listed-b")) seen++;
    }
    assert_int_equal(seen, 2);
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void class_delete_removes_the_class(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "doomed", SLUICE_TIER_NORMAL, 1);
    run_result r = RUN(state, "class", "delete", "doomed");
    assert_int_equal(r.code, 0);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "doomed", &cfg, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNKNOWN_CLASS);
    sluice_client_free(c);
    run_free(&r);
}

static void class_delete_refuses_a_class_holding_jobs_without_force(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "holding", SLUICE_TIER_NORMAL, 1);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, "holding", "{}", NULL, id, &err), 0);
    run_result r = RUN(state, "class", "delete", "holding");
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "--force");
    sluice_class_config cfg;
    assert_int_equal(sluice_class_get(c, "holding", &cfg, &err), 0);
    run_free(&r);
    r = RUN(state, "class", "delete", "holding", "--force");
    assert_int_equal(r.code, 0);
    assert_int_equal(sluice_class_get(c, "holding", &cfg, &err), -1);
    sluice_client_free(c);
    run_free(&r);
}

static void check_of_a_consistent_class_exits_0(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "sound", SLUICE_TIER_NORMAL, 1);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, "sound", "{}", NULL, id, &err), 0);
    run_result r = RUN(state, "check", "sound");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "checked 1 class and 1 job: consistent"));
    run_free(&r);
    r = RUN(state, "check", "sound", "--json");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\"consistent\": true"));
    run_free(&r);
    sluice_client_free(c);
}

static void check_names_a_broken_invariant_in_words_and_exits_1(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "broken", SLUICE_TIER_NORMAL, 1);
    /* a ready member without a job, written around the Functions */
    assert_int_equal(harness_redis_int(*state, "ZADD t:{broken}:ready 1 broken:999"), 1);
    run_result r = RUN(state, "check", "broken");
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "class broken: broken:999 is in ready but has no job record (orphan)"));
    assert_non_null(strstr(r.out, "problem"));
    run_free(&r);
    r = RUN(state, "check", "broken", "--json");
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "\"consistent\": false"));
    assert_non_null(strstr(r.out, "\"code\": \"orphan\""));
    run_free(&r);
    sluice_client_free(c);
}

static void check_refuses_a_class_over_max_jobs_and_bad_options(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "bulky", SLUICE_TIER_NORMAL, 1);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    for (int i = 0; i < 2; i++) assert_int_equal(sluice_enqueue(c, "bulky", "{}", NULL, id, &err), 0);
    run_result r = RUN(state, "check", "bulky", "--max-jobs", "2");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "check", "bulky", "--max-jobs", "1");
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "--max-jobs");
    run_free(&r);
    r = RUN(state, "check", "bulky", "--force");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "check", "bulky", "--max-jobs", "0");
    assert_int_equal(r.code, 2);
    run_free(&r);
    r = RUN(state, "check", "nosuchclass");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "nosuchclass");
    run_free(&r);
    sluice_client_free(c);
}

static void a_malformed_rate_exits_2_naming_it_and_changes_nothing(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "class", "set", "badrate", "--max-rate", "50/fortnight");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "50/fortnight");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
}

static void a_malformed_number_exits_2_naming_it_and_changes_nothing(void **state) {
    const char *bad[] = {"8x", "", " 8", "1e3", "nan", "9999999999999999999999"};
    long long before = dbsize(state);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_result r = RUN(state, "class", "set", "badnum", "--max-concurrency", bad[i]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, "--max-concurrency");
        run_free(&r);
    }
    run_result r = RUN(state, "class", "set", "badnum", "--burst", "inf");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "inf");
    run_free(&r);
    assert_int_equal(dbsize(state), before);
}

static void a_malformed_duration_exits_2_naming_it_and_changes_nothing(void **state) {
    const char *bad[] = {"30", "30x", "-5s", "s", "1.5ms", "9999999d"};
    long long before = dbsize(state);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_result r = RUN(state, "class", "set", "baddur", "--max-rate", "1/s", "--timeout", bad[i]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, "--timeout");
        run_free(&r);
    }
    assert_int_equal(dbsize(state), before);
}

static void an_invalid_class_name_exits_2_and_changes_nothing(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "class", "set", "Bad Name", "--max-rate", "1/s");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "Bad Name");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
}

static void an_unknown_option_exits_2_naming_it(void **state) {
    run_result r = RUN(state, "class", "set", "opt", "--max-rat", "1/s");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--max-rat");
    run_free(&r);
}

/* ------------------------------------------------------ gate overrides */

static void pause_and_resume_toggle_the_gate(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "pausable", SLUICE_TIER_NORMAL, 2);
    run_result r = RUN(state, "pause", "pausable", "--for", "15m");
    assert_int_equal(r.code, 0);
    sluice_gate_info g;
    sluice_error err;
    assert_int_equal(sluice_gate_get(c, "pausable", &g, &err), 0);
    assert_true(g.paused);
    assert_true(g.paused_until > g.now + 14 * 60000 && g.paused_until <= g.now + 15 * 60000);
    run_free(&r);
    r = RUN(state, "resume", "pausable");
    assert_int_equal(r.code, 0);
    assert_int_equal(sluice_gate_get(c, "pausable", &g, &err), 0);
    assert_false(g.paused);
    sluice_client_free(c);
    run_free(&r);
}

static void pin_fixes_the_fraction_and_unpin_removes_the_pin(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "pinned", SLUICE_TIER_LOW, 10);
    run_result r = RUN(state, "pin", "pinned", "0.3", "--for", "1h");
    assert_int_equal(r.code, 0);
    sluice_gate_info g;
    sluice_error err;
    assert_int_equal(sluice_gate_get(c, "pinned", &g, &err), 0);
    assert_true(g.pinned);
    assert_true(g.pin > 0.299 && g.pin < 0.301);
    assert_true(g.pin_until > g.now);
    run_free(&r);
    r = RUN(state, "unpin", "pinned");
    assert_int_equal(r.code, 0);
    assert_int_equal(sluice_gate_get(c, "pinned", &g, &err), 0);
    assert_false(g.pinned);
    sluice_client_free(c);
    run_free(&r);
}

static void a_fraction_outside_0_1_exits_2_and_changes_nothing(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "fracbad", SLUICE_TIER_LOW, 10);
    long long before = dbsize(state);
    const char *bad[] = {"1.5", "-0.1", "half", "nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_result r = RUN(state, "pin", "fracbad", bad[i]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, "fraction");
        run_free(&r);
    }
    assert_int_equal(dbsize(state), before);
    sluice_gate_info g;
    sluice_error err;
    assert_int_equal(sluice_gate_get(c, "fracbad", &g, &err), 0);
    assert_false(g.pinned);
    sluice_client_free(c);
}

static void pinning_an_unknown_class_exits_3_and_changes_nothing(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "pin", "ghostclass", "0.5");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "ghostclass");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
}

/* ------------------------------------------------------------- signals */

static void a_defined_and_reported_signal_shows_in_signal_list_json(void **state) {
    run_result r = RUN(state, "signal", "define", "repl_lag", "--target", "5", "--critical", "30", "--stale-after",
                       "1m", "--on-stale", "hold");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "set", "repl_lag", "12.5", "--age", "2s");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "list", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    size_t i;
    json_t *o, *found = NULL;
    json_array_foreach(v, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), "repl_lag")) found = o;
    assert_non_null(found);
    assert_true(json_number_value(json_object_get(found, "value")) == 12.5);
    assert_true(json_number_value(json_object_get(found, "target")) == 5);
    assert_int_equal(json_integer_value(json_object_get(found, "stale_after_ms")), 60000);
    assert_string_equal(json_string_value(json_object_get(found, "on_stale")), "hold");
    assert_string_equal(json_string_value(json_object_get(found, "direction")), "higher");
    assert_true(json_integer_value(json_object_get(found, "age_ms")) >= 2000);
    assert_true(json_number_value(json_object_get(found, "pressure")) == 1.3);
    json_decref(v);
    run_free(&r);
}

/* Where the governor raises and cuts is shown in the signal's own units:
 * SELECT 1 latency with target 2 and critical 20 is raised below 1.8 (90%
 * of the target at the default band), not below 0.9 of the span. */
static void signal_list_shows_where_the_governor_raises_and_cuts_in_the_signals_units(void **state) {
    run_result r =
        RUN(state, "signal", "define", "pg_select1_ms", "--target", "2", "--critical", "20", "--period", "1s");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "set", "pg_select1_ms", "1");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "list");
    assert_int_equal(r.code, 0);
    const char *row = strstr(r.out, "pg_select1_ms");
    assert_non_null(row);
    assert_non_null(strstr(r.out, "RAISE"));
    assert_non_null(strstr(row, "<1.8"));
    assert_non_null(strstr(row, ">2"));
    assert_non_null(strstr(row, "0.50")); /* half its target: pressure 0.5 */
    assert_non_null(strstr(row, "1.0s")); /* the period */
    run_free(&r);
    r = RUN(state, "signal", "list", "--json");
    json_t *v = parse_out(&r);
    size_t i;
    json_t *o, *found = NULL;
    json_array_foreach(v, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), "pg_select1_ms")) found = o;
    assert_non_null(found);
    assert_true(fabs(json_number_value(json_object_get(found, "raise_at")) - 1.8) < 1e-12);
    assert_true(json_number_value(json_object_get(found, "cut_at")) == 2);
    assert_int_equal(json_integer_value(json_object_get(found, "period_ms")), 1000);
    assert_string_equal(json_string_value(json_object_get(found, "rule")),
                        "raise below 1.8, cut above 2, floors at 20");
    json_decref(v);
    run_free(&r);
    r = RUN(state, "signal", "define", "pg_select1_ms", "--target", "2", "--critical", "20", "--period", "soon");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--period");
    run_free(&r);
}

static void a_lower_is_worse_signal_needs_critical_below_target(void **state) {
    long long before = dbsize(state);
    run_result r =
        RUN(state, "signal", "define", "burst_bal", "--target", "50", "--critical", "80", "--lower-is-worse");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--critical");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
    r = RUN(state, "signal", "define", "burst_bal", "--target", "50", "--critical", "10", "--lower-is-worse");
    assert_int_equal(r.code, 0);
    sluice_client *c = connect_t(state);
    size_t n;
    sluice_error err;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, &err);
    int ok = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, "burst_bal")) ok = s[i].def.lower_is_worse;
    assert_true(ok);
    sluice_signal_list_free(s, n);
    sluice_client_free(c);
    run_free(&r);
}

static void setting_an_undefined_signal_exits_3(void **state) {
    run_result r = RUN(state, "signal", "set", "nosignal", "1");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "nosignal");
    run_free(&r);
}

static void signal_delete_removes_the_signal(void **state) {
    run_result r = RUN(state, "signal", "define", "shortlived", "--target", "1", "--critical", "2");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "delete", "shortlived");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "delete", "shortlived");
    assert_int_equal(r.code, 3);
    run_free(&r);
}

/* ------------------------------------------------------------ governor */

static int64_t lead(sluice_client *c) {
    int held = 0;
    int64_t epoch = 0;
    sluice_governor_mode mode;
    sluice_error err;
    if (sluice_governor_lease(c, "test-governor", 60000, &held, &epoch, &mode, NULL, &err) < 0 || !held)
        fail_msg("lease: %s", err.text);
    return epoch;
}

static void commit(sluice_client *c, int64_t epoch, const char *decision) {
    sluice_error err;
    if (sluice_governor_commit(c, "test-governor", epoch, "{}", decision, 100, &err) < 0)
        fail_msg("commit: %s", err.text);
}

static void governor_mode_sets_the_mode(void **state) {
    run_result r = RUN(state, "governor", "mode", "shadow");
    assert_int_equal(r.code, 0);
    sluice_client *c = connect_t(state);
    sluice_governor_status st;
    sluice_error err;
    assert_int_equal(sluice_governor_status_get(c, &st, &err), 0);
    assert_int_equal(st.mode, SLUICE_GOVERNOR_SHADOW);
    run_free(&r);
    r = RUN(state, "governor", "mode", "sideways");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "sideways");
    run_free(&r);
    r = RUN(state, "governor", "mode", "enforce");
    assert_int_equal(r.code, 0);
    assert_int_equal(sluice_governor_status_get(c, &st, &err), 0);
    assert_int_equal(st.mode, SLUICE_GOVERNOR_ENFORCE);
    sluice_client_free(c);
    run_free(&r);
}

static void governor_status_json_names_the_leader_and_the_last_decision(void **state) {
    sluice_client *c = connect_t(state);
    commit(c, lead(c), "{\"action\":\"hold\",\"pressure\":0.5}");
    run_result r = RUN(state, "governor", "status", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_string_equal(json_string_value(json_object_get(v, "leader")), "test-governor");
    assert_string_equal(json_string_value(json_object_get(v, "mode")), "enforce");
    assert_true(json_integer_value(json_object_get(v, "ticks")) >= 1);
    json_t *d = json_object_get(v, "last_decision");
    assert_true(json_is_object(d));
    assert_non_null(json_object_get(d, "pressure"));
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void governor_history_json_is_an_array_of_parsed_decisions_newest_first(void **state) {
    sluice_client *c = connect_t(state);
    int64_t epoch = lead(c);
    commit(c, epoch, "{\"seq\":1}");
    commit(c, epoch, "{\"seq\":2}");
    run_result r = RUN(state, "governor", "history", "--count", "2", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "seq")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 1), "seq")), 1);
    json_decref(v);
    run_free(&r);
    r = RUN(state, "governor", "history", "--count", "1");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "{\"seq\":2}\n");
    run_free(&r);
    r = RUN(state, "governor", "history", "--count", "0");
    assert_int_equal(r.code, 2);
    run_free(&r);
    sluice_client_free(c);
}

/* ------------------------------------------------------------- enqueue */

static void enqueue_prints_the_new_id_and_nothing_else(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "enq", SLUICE_TIER_NORMAL, 1);
    run_result r = RUN(state, "enqueue", "enq", "{\"n\":1}", "--priority", "5", "--max-attempts", "3", "--cost", "2",
                       "--timeout", "10s", "--unique", "u1");
    assert_int_equal(r.code, 0);
    assert_memory_equal(r.out, "enq:", 4);
    char id[SLUICE_ID_MAX];
    snprintf(id, sizeof(id), "%s", r.out);
    char *nl = strchr(id, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(r.out + strlen(id), "\n");
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    assert_int_equal(info.priority, 5);
    assert_int_equal(info.max_attempts, 3);
    assert_int_equal(info.cost, 2);
    assert_string_equal(info.payload, "{\"n\":1}");
    assert_string_equal(info.unique, "u1");
    sluice_job_info_clear(&info);
    sluice_client_free(c);
    run_free(&r);
}

static void enqueue_reads_the_payload_from_stdin(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "enqstdin", SLUICE_TIER_NORMAL, 1);
    run_result r = RUN_IN(state, "{\"from\":\"stdin\"}", "enqueue", "enqstdin", "-", "--delay", "1h");
    assert_int_equal(r.code, 0);
    r.out[strcspn(r.out, "\n")] = '\0';
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, r.out, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_DELAYED);
    assert_string_equal(info.payload, "{\"from\":\"stdin\"}");
    assert_true(info.at > info.now + 3500000);
    sluice_job_info_clear(&info);
    sluice_client_free(c);
    run_free(&r);
}

static void enqueue_of_invalid_json_exits_2_and_creates_nothing(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "enqbad", SLUICE_TIER_NORMAL, 1);
    long long before = dbsize(state);
    const char *bad[] = {"{\"a\":", "[1,2]", "not json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_result r = RUN(state, "enqueue", "enqbad", bad[i]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, "payload");
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    assert_int_equal(dbsize(state), before);
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "enqbad", &st, &err), 0);
    assert_int_equal(st.enqueued, 0);
    sluice_client_free(c);
}

static void enqueue_of_an_oversize_payload_exits_2_rather_than_truncating(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "enqbig", SLUICE_TIER_NORMAL, 1);
    size_t len = SLUICE_PAYLOAD_HARD_MAX + 100;
    char *big = malloc(len + 1);
    memset(big, ' ', len);
    memcpy(big, "{\"a\":1}", 7);
    big[len] = '\0';
    long long before = dbsize(state);
    run_result r = run_argv(state, big, len, (const char *const[]){"enqueue", "enqbig", NULL});
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "262144");
    assert_int_equal(dbsize(state), before);
    free(big);
    sluice_client_free(c);
    run_free(&r);
}

static void enqueue_to_an_unknown_class_exits_3(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "enqueue", "undeclared", "{}");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "undeclared");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
}

static void enqueue_to_a_full_queue_exits_1(void **state) {
    sluice_client *c = connect_t(state);
    run_result r = RUN(state, "class", "set", "enqfull", "--max-concurrency", "1", "--max-queue", "1");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "enqueue", "enqfull", "{}");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "enqueue", "enqfull", "{}");
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "");
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "enqfull", &st, &err), 0);
    assert_int_equal(st.ready, 1);
    sluice_client_free(c);
    run_free(&r);
}

/* ----------------------------------------------------------------- jobs */

static void enqueue_id(sluice_client *c, const char *cls, const sluice_enqueue_opts *o, char id[SLUICE_ID_MAX]) {
    sluice_error err;
    if (sluice_enqueue(c, cls, "{\"k\":\"v\"}", o, id, &err) < 0) fail_msg("enqueue: %s", err.text);
}

static void job_show_json_describes_the_job(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "showme", SLUICE_TIER_NORMAL, 1);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.priority = 7};
    enqueue_id(c, "showme", &o, id);
    run_result r = RUN(state, "job", "show", id, "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_string_equal(json_string_value(json_object_get(v, "id")), id);
    assert_string_equal(json_string_value(json_object_get(v, "class")), "showme");
    assert_string_equal(json_string_value(json_object_get(v, "state")), "ready");
    assert_int_equal(json_integer_value(json_object_get(v, "priority")), 7);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "payload"), "k")), "v");
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void job_show_of_a_job_that_never_was_exits_3(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "showmiss", SLUICE_TIER_NORMAL, 1);
    run_result r = RUN(state, "job", "show", "showmiss:999");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "showmiss:999");
    run_free(&r);
    r = RUN(state, "job", "show", "no-colon");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "no-colon");
    sluice_client_free(c);
    run_free(&r);
}

static void job_cancel_removes_a_waiting_job(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "cancelme", SLUICE_TIER_NORMAL, 1);
    char id[SLUICE_ID_MAX];
    enqueue_id(c, "cancelme", NULL, id);
    run_result r = RUN(state, "job", "cancel", id);
    assert_int_equal(r.code, 0);
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_UNKNOWN);
    sluice_job_info_clear(&info);
    run_free(&r);
    r = RUN(state, "job", "cancel", id);
    assert_int_equal(r.code, 3);
    sluice_client_free(c);
    run_free(&r);
}

/* -------------------------------------------------------------- explain */

static void explain_names_the_driving_signal_and_the_admitted_fraction_when_throttled(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "lowjobs", SLUICE_TIER_LOW, 8);
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 0.80;
    def.critical = 1.0;
    sluice_error err;
    assert_int_equal(sluice_signal_define(c, "iops_util", &def, NULL, &err), 0);
    assert_int_equal(sluice_signal_report(c, "iops_util", 0.92, 0, &err), 0);
    int64_t epoch = lead(c);
    assert_int_equal(sluice_gate_govern(c, "lowjobs", epoch, 0.25, 10000, "cut: iops_util over target", 0, &err), 0);
    commit(c, epoch,
           "{\"action\":\"cut\",\"pressure\":1.6,\"acted\":1.55,\"driver\":\"iops_util\",\"driver_value\":0.92,"
           "\"classes\":[{\"name\":\"lowjobs\",\"fraction\":0.25,\"reason\":\"cut: iops_util over target\"}]}");
    char id[SLUICE_ID_MAX];
    enqueue_id(c, "lowjobs", NULL, id);
    run_result r = RUN(state, "explain", id);
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "iops_util is 0.92, 15% over its target 0.8")) fail_msg("explain: %s", r.out);
    if (!strstr(r.out, "raise below 0.72, cut above 0.8, floors at 1")) fail_msg("explain: %s", r.out);
    if (!strstr(r.out, "acted on pressure 1.55 (smoothed) with iops_util at 0.92")) fail_msg("explain: %s", r.out);
    assert_non_null(strstr(r.out, "throttled"));
    assert_non_null(strstr(r.out, "0.25"));
    run_free(&r);
    r = RUN(state, "explain", id, "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_true(json_is_true(json_object_get(v, "throttled")));
    assert_true(json_number_value(json_object_get(v, "fraction")) == 0.25);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "driver"), "name")), "iops_util");
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void explain_says_when_a_closed_window_opens(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "nightjobs", SLUICE_TIER_LOW, 8);
    int64_t epoch = lead(c);
    const char *reason = "outside its window mon-fri 20:00-07:00 America/New_York; opens in 3h12m; held at floor 0.10";
    sluice_error err;
    assert_int_equal(sluice_gate_govern(c, "nightjobs", epoch, 0.1, 10000, reason, 0, &err), 0);
    char decision[512];
    snprintf(decision, sizeof(decision),
             "{\"action\":\"hold\",\"classes\":[{\"name\":\"nightjobs\",\"fraction\":0.1,\"reason\":\"%s\","
             "\"window\":{\"open\":false,\"changes_at\":%lld,\"unknown_zone\":null}}]}",
             reason, (long long)(test_redis_now(c) + (3 * 60 + 12) * 60000));
    commit(c, epoch, decision);
    char id[SLUICE_ID_MAX];
    enqueue_id(c, "nightjobs", NULL, id);
    run_result r = RUN(state, "explain", id);
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "by the governor: outside its window mon-fri 20:00-07:00 America/New_York; opens in 3h12m"))
        fail_msg("explain: %s", r.out);
    if (!strstr(r.out, "It waits for its class's window, which opens at ") || !strstr(r.out, "(in 3h1"))
        fail_msg("explain: %s", r.out);
    run_free(&r);
    /* the class alone */
    r = RUN(state, "explain", "nightjobs");
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "Class nightjobs is throttled: admitted fraction 0.10") ||
        !strstr(r.out, "outside its window mon-fri 20:00-07:00 America/New_York; opens in 3h12m") ||
        !strstr(r.out, "Its window opens at "))
        fail_msg("explain CLASS: %s", r.out);
    run_free(&r);
    r = RUN(state, "explain", "nosuchclass");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "unknown class 'nosuchclass'");
    run_free(&r);
    r = RUN(state, "explain", "Bad Name");
    assert_int_equal(r.code, 2);
    sluice_client_free(c);
    run_free(&r);
}

static void explain_says_how_many_jobs_are_ahead_when_not_throttled(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "queued", SLUICE_TIER_CRITICAL, 8);
    char id[SLUICE_ID_MAX];
    for (int i = 0; i < 4; i++) enqueue_id(c, "queued", NULL, id);
    run_result r = RUN(state, "explain", id);
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "3 jobs are ahead")) fail_msg("explain: %s", r.out);
    assert_non_null(strstr(r.out, "not throttled"));
    run_free(&r);
    r = RUN(state, "explain", id, "--json");
    json_t *v = parse_out(&r);
    assert_int_equal(json_integer_value(json_object_get(v, "ahead")), 3);
    assert_false(json_is_true(json_object_get(v, "throttled")));
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void explain_gives_the_due_time_of_a_delayed_job(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "later", SLUICE_TIER_NORMAL, 8);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.delay_ms = 600000};
    enqueue_id(c, "later", &o, id);
    run_result r = RUN(state, "explain", id, "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_string_equal(json_string_value(json_object_get(v, "state")), "delayed");
    assert_true(json_integer_value(json_object_get(v, "due_at")) > 0);
    json_decref(v);
    run_free(&r);
    r = RUN(state, "explain", id);
    assert_non_null(strstr(r.out, "delayed until"));
    sluice_client_free(c);
    run_free(&r);
}

static void explain_of_an_unknown_job_exits_3(void **state) {
    run_result r = RUN(state, "explain", "later:424242");
    assert_int_equal(r.code, 3);
    assert_one_line_error(&r, "later:424242");
    run_free(&r);
}

/* ----------------------------------------------------------------- dead */

/* Makes one dead job in class "cls" (max_attempts 1) and returns its id. */
static void make_dead(sluice_client *c, const char *cls, char id[SLUICE_ID_MAX]) {
    sluice_error err;
    sluice_enqueue_opts o = {.max_attempts = 1};
    enqueue_id(c, cls, &o, id);
    sluice_job *j[1] = {NULL};
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, cls, "t", 1, j, &info, &err), 0);
    assert_int_equal(info.count, 1);
    int64_t retry;
    assert_int_equal(sluice_fail(c, sluice_job_id(j[0]), sluice_job_token(j[0]), "boom", &retry, &err), 0);
    snprintf(id, SLUICE_ID_MAX, "%s", sluice_job_id(j[0]));
    sluice_job_free(j[0]);
}

static void dead_list_json_shows_dead_jobs_with_their_reason(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "deadlist", SLUICE_TIER_NORMAL, 8);
    char id[SLUICE_ID_MAX];
    make_dead(c, "deadlist", id);
    run_result r = RUN(state, "dead", "list", "deadlist", "--count", "10", "--offset", "0", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "id")), id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "reason")), "boom");
    json_decref(v);
    run_free(&r);
    r = RUN(state, "dead", "list", "nosuchdead");
    assert_int_equal(r.code, 3);
    sluice_client_free(c);
    run_free(&r);
}

static void dead_retry_sends_a_dead_job_back_to_ready(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "deadretry", SLUICE_TIER_NORMAL, 8);
    char id[SLUICE_ID_MAX];
    make_dead(c, "deadretry", id);
    run_result r = RUN(state, "dead", "retry", "deadretry", id);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "retried 1"));
    sluice_job_info info;
    sluice_error err;
    assert_int_equal(sluice_job_get(c, id, &info, &err), 0);
    assert_int_equal(info.state, SLUICE_JOB_READY);
    sluice_job_info_clear(&info);
    run_free(&r);
    r = RUN(state, "dead", "retry", "deadretry", id);
    assert_int_equal(r.code, 3);
    sluice_client_free(c);
    run_free(&r);
}

static void dead_purge_all_deletes_every_dead_job(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "deadpurge", SLUICE_TIER_NORMAL, 8);
    char id[SLUICE_ID_MAX];
    make_dead(c, "deadpurge", id);
    make_dead(c, "deadpurge", id);
    run_result r = RUN(state, "dead", "purge", "deadpurge");
    assert_int_equal(r.code, 2);
    run_free(&r);
    r = RUN(state, "dead", "purge", "deadpurge", "--all");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "purged 2"));
    sluice_class_stats st;
    sluice_error err;
    assert_int_equal(sluice_class_stats_get(c, "deadpurge", &st, &err), 0);
    assert_int_equal(st.dead, 0);
    sluice_client_free(c);
    run_free(&r);
}

/* ------------------------------------------------------- apply / export */

static void apply_creates_the_classes_and_signals_of_a_file(void **state) {
    run_result r = RUN(state, "apply", "tests/fixtures/ctl/good.json");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "+ class app-certs"));
    sluice_client *c = connect_t(state);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "app-certs", &cfg, &err), 0);
    assert_int_equal(cfg.tier, SLUICE_TIER_LOW);
    assert_true(cfg.max_rate == 50);
    assert_int_equal(cfg.max_concurrency, 8);
    assert_int_equal(sluice_class_get(c, "app-logins", &cfg, &err), 0);
    assert_int_equal(cfg.tier, SLUICE_TIER_CRITICAL);
    size_t n;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, &err);
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= !strcmp(s[i].name, "app_iops") && s[i].def.critical == 0.95;
    assert_true(found);
    sluice_signal_list_free(s, n);
    sluice_client_free(c);
    run_free(&r);
}

static void export_then_apply_is_a_no_op_diff(void **state) {
    run_result r = RUN(state, "export");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_non_null(json_object_get(v, "classes"));
    assert_non_null(json_object_get(v, "signals"));
    json_decref(v);
    char path[] = "/tmp/sluicectl-export-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r.out, strlen(r.out)), (ssize_t)strlen(r.out));
    close(fd);
    run_free(&r);
    long long before = dbsize(state);
    long long audit = harness_redis_int(*state, "XLEN t:{_}:audit");
    r = RUN(state, "apply", path, "--dry-run");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "no changes\n");
    run_free(&r);
    r = RUN(state, "apply", path);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "no changes\n");
    assert_int_equal(dbsize(state), before);
    assert_int_equal(harness_redis_int(*state, "XLEN t:{_}:audit"), audit);
    unlink(path);
    run_free(&r);
}

static void apply_dry_run_prints_the_diff_and_writes_nothing(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "drydiff", SLUICE_TIER_NORMAL, 4);
    long long before = dbsize(state);
    long long audit = harness_redis_int(*state, "XLEN t:{drydiff}:audit");
    const char *doc = "{\"classes\":{\"drydiff\":{\"tier\":\"low\",\"max_concurrency\":4,\"backoff_base_ms\":1,"
                      "\"backoff_max_ms\":10},\"drynew\":{\"max_rate\":5}}}";
    run_result r = RUN_IN(state, doc, "apply", "-", "--dry-run");
    assert_int_equal(r.code, 0);
    if (!strstr(r.out, "~ class drydiff: tier normal -> low")) fail_msg("diff: %s", r.out);
    assert_non_null(strstr(r.out, "+ class drynew"));
    assert_null(strstr(r.out, "~ class drydiff: max_concurrency"));
    assert_int_equal(dbsize(state), before);
    assert_int_equal(harness_redis_int(*state, "XLEN t:{drydiff}:audit"), audit);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "drydiff", &cfg, &err), 0);
    assert_int_equal(cfg.tier, SLUICE_TIER_NORMAL);
    sluice_client_free(c);
    run_free(&r);
}

static void a_failed_apply_writes_nothing(void **state) {
    const char *files[] = {"tests/fixtures/ctl/bad_field.json", "tests/fixtures/ctl/bad_range.json",
                           "tests/fixtures/ctl/bad_signal.json", "tests/fixtures/ctl/unknown_key.json"};
    const char *names[] = {"max_concurency", "floor", "critical", "queues"};
    long long before = dbsize(state);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        run_result r = RUN(state, "apply", files[i]);
        assert_int_equal(r.code, 2);
        assert_one_line_error(&r, names[i]);
        assert_int_equal(dbsize(state), before);
        run_free(&r);
    }
    sluice_client *c = connect_t(state);
    sluice_class_config cfg;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "bad-first", &cfg, &err), -1);
    assert_int_equal(sluice_class_get(c, "range-a", &cfg, &err), -1);
    sluice_client_free(c);
}

static void apply_of_invalid_json_exits_2_naming_the_position(void **state) {
    long long before = dbsize(state);
    run_result r = RUN(state, "apply", "tests/fixtures/ctl/invalid.json");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "invalid.json:1:");
    assert_int_equal(dbsize(state), before);
    run_free(&r);
    r = RUN(state, "apply", "tests/fixtures/ctl/missing.json");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "missing.json");
    run_free(&r);
}

/* ------------------------------------------------- status, top, audit */

static void status_json_shows_depths_gates_signals_and_the_governor(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "stat", SLUICE_TIER_NORMAL, 4);
    char id[SLUICE_ID_MAX];
    enqueue_id(c, "stat", NULL, id);
    enqueue_id(c, "stat", NULL, id);
    sluice_enqueue_opts o = {.delay_ms = 60000};
    enqueue_id(c, "stat", &o, id);
    sluice_error err;
    assert_int_equal(sluice_class_pause(c, "stat", 0, &err), 0);
    run_result r = RUN(state, "status", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r), *cls = NULL, *o2;
    size_t i;
    json_array_foreach(json_object_get(v, "classes"), i,
                       o2) if (!strcmp(json_string_value(json_object_get(o2, "name")), "stat")) cls = o2;
    assert_non_null(cls);
    assert_int_equal(json_integer_value(json_object_get(cls, "ready")), 2);
    assert_int_equal(json_integer_value(json_object_get(cls, "delayed")), 1);
    assert_int_equal(json_integer_value(json_object_get(cls, "leased")), 0);
    assert_string_equal(json_string_value(json_object_get(cls, "why")), "paused");
    assert_non_null(json_object_get(cls, "fraction"));
    assert_non_null(json_object_get(cls, "effective_concurrency"));
    assert_true(json_is_array(json_object_get(v, "signals")));
    assert_true(json_is_object(json_object_get(v, "governor")));
    json_decref(v);
    run_free(&r);
    r = RUN(state, "status");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "READY"));
    assert_non_null(strstr(r.out, "stat"));
    sluice_client_free(c);
    run_free(&r);
}

static void a_changed_limit_shows_in_status_and_in_audit(void **state) {
    sluice_client *c = connect_t(state);
    test_class(c, "limited", SLUICE_TIER_LOW, 4);
    run_result r = RUN(state, "class", "set", "limited", "--max-concurrency", "12");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "status", "--json");
    json_t *v = parse_out(&r), *o;
    size_t i;
    int64_t conc = -1;
    json_array_foreach(json_object_get(v, "classes"), i,
                       o) if (!strcmp(json_string_value(json_object_get(o, "name")), "limited")) conc =
        json_integer_value(json_object_get(o, "max_concurrency"));
    assert_int_equal(conc, 12);
    json_decref(v);
    run_free(&r);
    r = RUN(state, "audit", "--class", "limited", "--count", "1", "--json");
    assert_int_equal(r.code, 0);
    v = parse_out(&r);
    assert_int_equal(json_array_size(v), 1);
    o = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(o, "class")), "limited");
    assert_string_equal(json_string_value(json_object_get(o, "what")), "class updated");
    assert_string_equal(json_string_value(json_object_get(o, "detail")), "max_concurrency=12");
    assert_memory_equal(json_string_value(json_object_get(o, "actor")), "sluicectl:", 10);
    json_decref(v);
    sluice_client_free(c);
    run_free(&r);
}

static void audit_merges_class_and_global_entries_newest_first(void **state) {
    run_result r = RUN(state, "class", "set", "audited", "--max-rate", "1/s");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "signal", "define", "audited_sig", "--target", "1", "--critical", "2");
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN(state, "audit", "--count", "2", "--json");
    assert_int_equal(r.code, 0);
    json_t *v = parse_out(&r);
    assert_int_equal(json_array_size(v), 2);
    json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    assert_string_equal(json_string_value(json_object_get(a, "what")), "signal defined");
    assert_true(json_is_null(json_object_get(a, "class")));
    assert_string_equal(json_string_value(json_object_get(b, "class")), "audited");
    assert_true(json_integer_value(json_object_get(a, "at")) >= json_integer_value(json_object_get(b, "at")));
    json_decref(v);
    run_free(&r);
    r = RUN(state, "audit", "--class", "neverexisted");
    assert_int_equal(r.code, 3);
    run_free(&r);
}

static void top_prints_a_snapshot_per_second_when_not_a_terminal(void **state) {
    long long t0 = harness_now_ms();
    run_result r = RUN(state, "top", "--iterations", "2");
    long long took = harness_now_ms() - t0;
    assert_int_equal(r.code, 0);
    const char *first = strstr(r.out, "READY");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "READY"));
    assert_true(took >= 900);
    run_free(&r);
    r = RUN(state, "top", "--iterations", "0");
    assert_int_equal(r.code, 2);
    run_free(&r);
}

/* ----------------------------------------------------------- simulate */

/* A fresh temporary directory's path + "/" + name, into buf. */
static const char *sim_path(char *buf, size_t len, const char *name) {
    static char dir[64] = "";
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/sluicectl-sim-XXXXXX");
        if (!mkdtemp(dir)) fail_msg("mkdtemp");
    }
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* 1 if "prog" is an executable in $PATH. */
static int in_path(const char *prog) {
    const char *path = getenv("PATH");
    char dir[4096], file[4200];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(file, sizeof(file), "%s/%s", n ? dir : ".", prog);
        if (access(file, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static void simulate_json_names_every_policy_and_the_goals_without_redis(void **state) {
    /* A dead Redis URL: simulate must not connect at all. */
    run_result r = RUN(state, "simulate", "--json", "--redis", "redis://127.0.0.1:1");
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    json_t *v = parse_out(&r);
    json_t *pol = json_object_get(v, "policies");
    static const char *const names[] = {"baseline", "no_limit", "fixed", "threshold", "governor"};
    assert_int_equal(json_array_size(pol), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(pol, i), "policy")), names[i]);
    json_t *g = json_object_get(v, "goals");
    static const char *const goals[] = {"p99_met",    "incident_shown", "spare_met",
                                        "sooner_met", "stable_met",     "no_loss"};
    for (size_t i = 0; i < sizeof(goals) / sizeof(goals[0]); i++)
        if (!json_is_boolean(json_object_get(g, goals[i]))) fail_msg("goals.%s missing", goals[i]);
    assert_true(json_is_true(json_object_get(g, "p99_met")));
    assert_string_equal(json_string_value(json_object_get(v, "scenario")), "incident");
    json_decref(v);
    run_free(&r);
}

static void simulate_prints_the_table_and_every_goal_with_its_figures(void **state) {
    run_result r = RUN(state, "simulate", "--seed", "3", "--signal-period", "10s", "--signal-delay", "0s");
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    assert_string_equal(r.err, "");
    static const char *const want[] = {"policy",         "baseline",        "no_limit",     "fixed",      "threshold",
                                       "governor",       "per class",       "certificates", "goals",      "peak minute",
                                       "spare capacity", "best safe fixed", "reversals",    "no job lost"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(r.out, want[i])) fail_msg("output misses '%s':\n%s", want[i], r.out);
    run_free(&r);
}

static void simulate_of_a_bad_scenario_exits_2_naming_the_problem(void **state) {
    json_t *root = json_loads(sluice_sim_incident_json(), 0, NULL);
    assert_non_null(root);
    json_object_set_new(json_object_get(root, "database"), "capacity_iops", json_real(-5));
    char *text = json_dumps(root, 0);
    json_decref(root);
    run_result r = RUN_IN(state, text, "simulate", "-");
    assert_int_equal(r.code, 2);
    assert_string_equal(r.out, "");
    assert_one_line_error(&r, "database.capacity_iops");
    run_free(&r);
    free(text);

    r = RUN_IN(state, "{\"name\": \"x\",", "simulate", "-");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "malformed JSON");
    run_free(&r);

    char path[256];
    FILE *f = fopen(sim_path(path, sizeof(path), "colour.json"), "w");
    assert_non_null(f);
    root = json_loads(sluice_sim_incident_json(), 0, NULL);
    json_object_set_new(root, "colour", json_true());
    json_dumpf(root, f, 0);
    json_decref(root);
    fclose(f);
    r = RUN(state, "simulate", path);
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "colour");
    run_free(&r);

    r = RUN(state, "simulate", "--signal-delay", "soon");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--signal-delay");
    run_free(&r);
    r = RUN(state, "simulate", "--set", "band=1.5");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "band");
    run_free(&r);
    r = RUN(state, "simulate", sim_path(path, sizeof(path), "missing.json"));
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "missing.json");
    run_free(&r);
}

static void simulate_csv_writes_the_time_series(void **state) {
    char path[256];
    sim_path(path, sizeof(path), "incident.csv");
    run_result r = RUN(state, "simulate", "--csv", path, "--csv-period", "60s");
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    run_free(&r);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    size_t rows = 0;
    assert_non_null(fgets(line, sizeof(line), f));
    assert_true(strncmp(line, "t_s,baseline_util,baseline_p99_ms,", 34) == 0);
    assert_non_null(strstr(line, "governor_backlog_io"));
    while (fgets(line, sizeof(line), f)) rows++;
    fclose(f);
    assert_int_equal(rows, 24 * 60);
    /* a file that cannot be written is a runtime failure */
    r = RUN(state, "simulate", "--csv", "/nonexistent-dir/x.csv");
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "/nonexistent-dir/x.csv");
    run_free(&r);
}

static void simulate_plot_writes_a_png_with_gnuplot(void **state) {
    if (!in_path("gnuplot")) skip(); /* scripts/bootstrap.sh installs gnuplot-nox */
    char path[256];
    sim_path(path, sizeof(path), "incident.png");
    run_result r = RUN(state, "simulate", "--plot", path);
    if (r.code != 0) fail_msg("exit %d: %s", r.code, r.err);
    run_free(&r);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char magic[8] = {0};
    assert_int_equal(fread(magic, 1, 8, f), 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    assert_true(size > 10000);
}

static void simulate_plot_without_gnuplot_exits_1_saying_so(void **state) {
    char path[256];
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", "/nonexistent", 1);
    run_result r = RUN(state, "simulate", "--plot", sim_path(path, sizeof(path), "none.png"));
    if (old)
        setenv("PATH", old, 1);
    else
        unsetenv("PATH");
    free(old);
    assert_int_equal(r.code, 1);
    assert_one_line_error(&r, "gnuplot");
    run_free(&r);
}

static void simulate_help_lists_every_option(void **state) {
    run_result r = RUN(state, "simulate", "--help");
    assert_int_equal(r.code, 0);
    static const char *const want[] = {"--seed",          "--json",         "--csv", "--plot",
                                       "--signal-period", "--signal-delay", "--set", "Exit codes"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(r.out, want[i])) fail_msg("simulate --help misses %s", want[i]);
    run_free(&r);
    r = RUN(state, "--help");
    assert_non_null(strstr(r.out, "simulate"));
    run_free(&r);
    r = RUN(state, "simulate", "--frobnicate");
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r, "--frobnicate");
    run_free(&r);
}

int main(int argc, char **argv) {
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    if (slash) snprintf(ctl_bin, sizeof(ctl_bin), "%.*s/../bin/sluicectl", (int)(slash - argv[0]), argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_program_help_lists_every_command_on_stdout),
        cmocka_unit_test(every_command_has_help_that_exits_0_on_stdout),
        cmocka_unit_test(an_unknown_command_exits_2_naming_it_and_changes_nothing),
        cmocka_unit_test(an_unreachable_redis_exits_1),
        cmocka_unit_test(a_password_in_the_url_is_never_echoed),
        cmocka_unit_test(a_malformed_url_exits_2),
        cmocka_unit_test(class_set_declares_a_class_with_the_given_limits),
        cmocka_unit_test(class_set_changes_only_the_given_fields),
        cmocka_unit_test(class_set_windows_round_trip_through_get_export_and_apply),
        cmocka_unit_test(fairness_keys_round_trip_show_in_job_show_and_class_keys_and_bad_ones_exit_2),
        cmocka_unit_test(deadlines_through_enqueue_job_show_and_class_set_and_bad_ones_exit_2),
        cmocka_unit_test(class_set_bad_windows_exit_2_naming_the_problem_and_change_nothing),
        cmocka_unit_test(class_get_json_prints_every_field),
        cmocka_unit_test(class_get_of_an_unknown_class_exits_3),
        cmocka_unit_test(class_list_json_lists_the_declared_classes),
        cmocka_unit_test(class_delete_removes_the_class),
        cmocka_unit_test(class_delete_refuses_a_class_holding_jobs_without_force),
        cmocka_unit_test(check_of_a_consistent_class_exits_0),
        cmocka_unit_test(check_names_a_broken_invariant_in_words_and_exits_1),
        cmocka_unit_test(check_refuses_a_class_over_max_jobs_and_bad_options),
        cmocka_unit_test(a_malformed_rate_exits_2_naming_it_and_changes_nothing),
        cmocka_unit_test(a_malformed_number_exits_2_naming_it_and_changes_nothing),
        cmocka_unit_test(a_malformed_duration_exits_2_naming_it_and_changes_nothing),
        cmocka_unit_test(an_invalid_class_name_exits_2_and_changes_nothing),
        cmocka_unit_test(an_unknown_option_exits_2_naming_it),
        cmocka_unit_test(pause_and_resume_toggle_the_gate),
        cmocka_unit_test(pin_fixes_the_fraction_and_unpin_removes_the_pin),
        cmocka_unit_test(a_fraction_outside_0_1_exits_2_and_changes_nothing),
        cmocka_unit_test(pinning_an_unknown_class_exits_3_and_changes_nothing),
        cmocka_unit_test(a_defined_and_reported_signal_shows_in_signal_list_json),
        cmocka_unit_test(signal_list_shows_where_the_governor_raises_and_cuts_in_the_signals_units),
        cmocka_unit_test(a_lower_is_worse_signal_needs_critical_below_target),
        cmocka_unit_test(setting_an_undefined_signal_exits_3),
        cmocka_unit_test(signal_delete_removes_the_signal),
        cmocka_unit_test(governor_mode_sets_the_mode),
        cmocka_unit_test(governor_status_json_names_the_leader_and_the_last_decision),
        cmocka_unit_test(governor_history_json_is_an_array_of_parsed_decisions_newest_first),
        cmocka_unit_test(enqueue_prints_the_new_id_and_nothing_else),
        cmocka_unit_test(enqueue_reads_the_payload_from_stdin),
        cmocka_unit_test(enqueue_of_invalid_json_exits_2_and_creates_nothing),
        cmocka_unit_test(enqueue_of_an_oversize_payload_exits_2_rather_than_truncating),
        cmocka_unit_test(enqueue_to_an_unknown_class_exits_3),
        cmocka_unit_test(enqueue_to_a_full_queue_exits_1),
        cmocka_unit_test(job_show_json_describes_the_job),
        cmocka_unit_test(job_show_of_a_job_that_never_was_exits_3),
        cmocka_unit_test(job_cancel_removes_a_waiting_job),
        cmocka_unit_test(explain_names_the_driving_signal_and_the_admitted_fraction_when_throttled),
        cmocka_unit_test(explain_says_when_a_closed_window_opens),
        cmocka_unit_test(explain_says_how_many_jobs_are_ahead_when_not_throttled),
        cmocka_unit_test(explain_gives_the_due_time_of_a_delayed_job),
        cmocka_unit_test(explain_of_an_unknown_job_exits_3),
        cmocka_unit_test(dead_list_json_shows_dead_jobs_with_their_reason),
        cmocka_unit_test(dead_retry_sends_a_dead_job_back_to_ready),
        cmocka_unit_test(dead_purge_all_deletes_every_dead_job),
        cmocka_unit_test(apply_creates_the_classes_and_signals_of_a_file),
        cmocka_unit_test(export_then_apply_is_a_no_op_diff),
        cmocka_unit_test(apply_dry_run_prints_the_diff_and_writes_nothing),
        cmocka_unit_test(a_failed_apply_writes_nothing),
        cmocka_unit_test(apply_of_invalid_json_exits_2_naming_the_position),
        cmocka_unit_test(status_json_shows_depths_gates_signals_and_the_governor),
        cmocka_unit_test(a_changed_limit_shows_in_status_and_in_audit),
        cmocka_unit_test(audit_merges_class_and_global_entries_newest_first),
        cmocka_unit_test(top_prints_a_snapshot_per_second_when_not_a_terminal),
        cmocka_unit_test(simulate_json_names_every_policy_and_the_goals_without_redis),
        cmocka_unit_test(simulate_prints_the_table_and_every_goal_with_its_figures),
        cmocka_unit_test(simulate_of_a_bad_scenario_exits_2_naming_the_problem),
        cmocka_unit_test(simulate_csv_writes_the_time_series),
        cmocka_unit_test(simulate_plot_writes_a_png_with_gnuplot),
        cmocka_unit_test(simulate_plot_without_gnuplot_exits_1_saying_so),
        cmocka_unit_test(simulate_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
