/* The sluice-worker program against a real redis-server: exec handlers at
 * volume, kill -9 and SIGTERM of the worker, hostile payloads and
 * arguments, hanging handlers, the command line. Run from the top of the
 * tree (it runs <BUILD>/bin/sluice-worker and tests/fixtures/worker/). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common_proc.h"

/* The sluice-worker of the build this test belongs to: <BUILD>/bin, beside
 * <BUILD>/tests (set in main from argv[0]). */
static char worker_bin[PATH_MAX] = "build/bin/sluice-worker";
#define WORKER worker_bin

static char fixtures[PATH_MAX];

static const char *fixture(const char *name) {
    static char buf[4][PATH_MAX + 64];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", fixtures, name);
    return buf[k];
}

/* Starts sluice-worker with "args" (NULL-terminated), its stderr to
 * <dir>/worker.log. "env_url" non-NULL: the URL goes in SLUICE_REDIS_URL. */
static pid_t spawn_worker(const harness_redis *h, const char *const *args, const char *env_url) {
    char log[400];
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    return proc_worker_env(h, args, log, env_url);
}

/* Waits for the worker for at most "ms"; returns its wait status or -1.
 * A worker that exited is no longer the teardown's to kill. */
static int wait_for(pid_t pid, long ms) {
    int st = proc_wait(pid, ms);
    if (st >= 0) proc_forget(pid);
    return st;
}

/* The group is gone once its killed members are reaped (by init, for the
 * orphans): waits up to 10 s. Returns 0 when no process is left in it. */
static int group_gone(int pgid) {
    WAIT_UNTIL(kill(-pgid, 0) < 0 && errno == ESRCH, 10000);
    return kill(-pgid, 0) < 0 && errno == ESRCH ? 0 : -1;
}

/* Lines in a file (0 when it does not exist yet). */
static int lines_in(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

/* The class's depths and counters, or fails the test. */
static sluice_class_stats stats_of(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    if (sluice_class_stats_get(c, cls, &st, NULL) < 0) fail_msg("stats of %s", cls);
    return st;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, f)) > 0) n += r;
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

/* The worker's log file holds "text". */
static int log_has(const char *path, const char *text) {
    size_t len = 0;
    char *s = slurp(path, &len);
    int yes = s && strstr(s, text);
    free(s);
    return yes;
}

static void stop_worker(pid_t pid) {
    proc_stop(pid);
}

static void class_with(sluice_client *c, const char *cls, int64_t conc, int64_t timeout_ms, int max_attempts,
                       int64_t payload_max) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = conc;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    if (timeout_ms) cfg.timeout_ms = timeout_ms;
    if (max_attempts) cfg.max_attempts = max_attempts;
    if (payload_max) cfg.payload_max = payload_max;
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) fail_msg("class set: %s", err.text);
}

static void enqueue_n(sluice_client *c, const char *cls, size_t n) {
    const char **p = malloc(n * sizeof(*p));
    for (size_t i = 0; i < n; i++) p[i] = "{}";
    sluice_error err;
    if (sluice_enqueue_many(c, cls, n, p, NULL, 0, NULL, NULL, &err) < 0) fail_msg("enqueue: %s", err.text);
    free(p);
}

static int drained(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    if (sluice_class_stats_get(c, cls, &st, NULL) < 0) return 0;
    return st.ready + st.delayed + st.leased == 0;
}

static int all_drained(sluice_client *c, const char *const *cls, int n) {
    int all = 1;
    for (int i = 0; i < n; i++) all &= drained(c, cls[i]);
    return all;
}

static int wait_drained(sluice_client *c, const char *const *cls, int n, long ms) {
    WAIT_UNTIL(all_drained(c, cls, n), ms);
    return all_drained(c, cls, n) ? 0 : -1;
}

/* Counts lines of the id file: "n" distinct ids expected as cls:1..n.
 * Returns the number of duplicate lines; fails on a missing id. */
static int check_ids(const char *path, const char *cls, int n) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int *seen = calloc((size_t)n + 1, sizeof(int));
    char line[200];
    size_t cl = strlen(cls);
    int dups = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, cls, cl) != 0 || line[cl] != ':') continue;
        int k = atoi(line + cl + 1);
        if (k >= 1 && k <= n && seen[k]++) dups++;
    }
    fclose(f);
    for (int k = 1; k <= n; k++)
        if (!seen[k]) fail_msg("job %s:%d never ran", cls, k);
    free(seen);
    return dups;
}

static void three_thousand_exec_jobs_across_three_classes_are_each_acked_once(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    const char *cls[3] = {"ex_a", "ex_b", "ex_c"};
    int per[3] = {1000, 1000, 1000};
    for (int i = 0; i < 3; i++) {
        class_with(c, cls[i], 1000, 0, 0, 0);
        enqueue_n(c, cls[i], (size_t)per[i]);
    }
    long long t0 = harness_now_ms();
    const char *args[] = {"--concurrency",  "32", "--handler", "ex_a=/bin/true", "--handler",
                          "ex_b=/bin/true", "--", "--handler", "ex_c=/bin/true", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    assert_int_equal(wait_drained(c, cls, 3, 300000), 0);
    long long ms = harness_now_ms() - t0;
    fprintf(stderr, "# 3000 exec jobs (/bin/true, concurrency 32) in %.2f s: %.0f jobs/s\n", ms / 1000.0,
            3000.0 * 1000.0 / (double)ms);
    stop_worker(pid);
    for (int i = 0; i < 3; i++) {
        sluice_class_stats st;
        assert_int_equal(sluice_class_stats_get(c, cls[i], &st, NULL), 0);
        assert_int_equal(st.enqueued, per[i]);
        assert_int_equal(st.acked, per[i]);
        assert_int_equal(st.claimed, per[i]);
        assert_int_equal(st.dead + st.failed + st.ready + st.leased, 0);
    }
    sluice_client_free(c);
}

static void a_worker_killed_mid_run_loses_nothing_and_repeats_only_the_jobs_it_had_in_flight(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    const char *cls[1] = {"kill9"};
    class_with(c, "kill9", 100, 2000, 5, 0);
    enqueue_n(c, "kill9", 120);
    char ids[400];
    snprintf(ids, sizeof(ids), "%s/kill9.ids", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "kill9=%s", fixture("append-id.sh"));
    const char *args[] = {"--concurrency", "8", "--handler", cmd, ids, "0.2", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    /* killed mid-run: some jobs done, eight in flight */
    WAIT_UNTIL(lines_in(ids) >= 16 && stats_of(c, "kill9").leased == 8, 30000);
    assert_true(lines_in(ids) >= 16);
    kill(pid, SIGKILL);
    assert_true(wait_for(pid, 10000) >= 0);
    pid = spawn_worker(h, args, NULL);
    assert_int_equal(wait_drained(c, cls, 1, 60000), 0);
    stop_worker(pid);
    /* the killed worker's orphaned handlers have appended and exited */
    WAIT_UNTIL(harness_procs_with_arg(ids) == 0, 10000);
    assert_int_equal(harness_procs_with_arg(ids), 0);
    int dups = check_ids(ids, "kill9", 120);
    fprintf(stderr, "# kill -9: %d duplicate runs (concurrency 8)\n", dups);
    assert_true(dups <= 8);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, "kill9", &st, NULL), 0);
    assert_int_equal(st.acked, 120);
    assert_int_equal(st.dead, 0);
    sluice_client_free(c);
}

static void sigterm_under_load_exits_within_the_grace_with_nothing_lost_or_run_twice(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    const char *cls[1] = {"term"};
    class_with(c, "term", 100, 5000, 5, 0);
    enqueue_n(c, "term", 80);
    char ids[400];
    snprintf(ids, sizeof(ids), "%s/term.ids", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "term=%s", fixture("append-id.sh"));
    const char *args[] = {"--concurrency", "8", "--grace", "1s", "--handler", cmd, ids, "0.3", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    /* under load: some jobs done, eight in flight */
    WAIT_UNTIL(stats_of(c, "term").acked >= 8 && stats_of(c, "term").leased == 8, 30000);
    assert_int_equal(stats_of(c, "term").leased, 8);
    long long t0 = harness_now_ms();
    kill(pid, SIGTERM);
    int st = wait_for(pid, 10000);
    long long took = harness_now_ms() - t0;
    assert_true(st >= 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    fprintf(stderr, "# SIGTERM to exit: %lld ms (grace 1 s)\n", took);
    /* within the grace (1 s) and the releases' answer (STOP_EXTRA, 0.8 s);
     * the 80 jobs would take 3 s */
    assert_true(took <= 2000);
    sluice_class_stats cs;
    assert_int_equal(sluice_class_stats_get(c, "term", &cs, NULL), 0);
    assert_int_equal(cs.leased, 0);
    assert_true(cs.ready > 0); /* it stopped claiming */
    pid = spawn_worker(h, args, NULL);
    assert_int_equal(wait_drained(c, cls, 1, 30000), 0);
    stop_worker(pid);
    assert_int_equal(check_ids(ids, "term", 80), 0);
    assert_int_equal(sluice_class_stats_get(c, "term", &cs, NULL), 0);
    assert_int_equal(cs.acked, 80);
    assert_int_equal(cs.failed + cs.dead, 0);
    sluice_client_free(c);
}

static void jobs_still_running_when_the_grace_ends_are_released_not_failed_and_their_processes_killed(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "rel", 100, 30000, 5, 0);
    enqueue_n(c, "rel", 10);
    char pidf[400];
    snprintf(pidf, sizeof(pidf), "%s/rel.pgid", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rel=%s", fixture("hang.sh"));
    const char *args[] = {"--concurrency", "1", "--grace", "200ms", "--handler", cmd, pidf, "--", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    /* the hanging job runs: leased, and its script wrote its group id */
    WAIT_UNTIL(stats_of(c, "rel").leased == 1 && lines_in(pidf) == 1, 30000);
    assert_int_equal(lines_in(pidf), 1);
    long long t0 = harness_now_ms();
    kill(pid, SIGTERM);
    int st = wait_for(pid, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* grace 0.2 s and STOP_EXTRA 0.8 s, with a margin: never the job's 30 s */
    long long took = harness_now_ms() - t0;
    fprintf(stderr, "# SIGTERM to exit: %lld ms (grace 200 ms, the job 30 s)\n", took);
    assert_true(took < 1500);
    sluice_class_stats cs;
    assert_int_equal(sluice_class_stats_get(c, "rel", &cs, NULL), 0);
    assert_int_equal(cs.released, 1);
    assert_int_equal(cs.failed + cs.leased + cs.acked, 0);
    assert_int_equal(cs.ready, 10);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    int pgid = 0;
    assert_int_equal(fscanf(f, "%d", &pgid), 1);
    fclose(f);
    assert_int_equal(group_gone(pgid), 0);
    sluice_client_free(c);
}

static void a_second_signal_releases_the_jobs_in_flight_at_once(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "twice", 100, 30000, 5, 0);
    enqueue_n(c, "twice", 4);
    char pidf[400];
    snprintf(pidf, sizeof(pidf), "%s/twice.pgid", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "twice=%s", fixture("hang.sh"));
    const char *args[] = {"--concurrency", "2", "--grace", "30s", "--handler", cmd, pidf, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    WAIT_UNTIL(stats_of(c, "twice").leased == 2 && lines_in(pidf) >= 1, 30000);
    assert_int_equal(stats_of(c, "twice").leased, 2);
    kill(pid, SIGTERM);
    char log[400];
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    WAIT_UNTIL(log_has(log, "signal 15: stopping"), 10000);
    assert_true(log_has(log, "signal 15: stopping"));
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still in its grace (30 s) */
    long long t0 = harness_now_ms();
    kill(pid, SIGINT);
    int st = wait_for(pid, 10000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* at once: the releases' answer (STOP_EXTRA 0.8 s) at most, with a margin */
    long long took = harness_now_ms() - t0;
    fprintf(stderr, "# second signal to exit: %lld ms (grace 30 s)\n", took);
    assert_true(took < 1000);
    sluice_class_stats cs;
    assert_int_equal(sluice_class_stats_get(c, "twice", &cs, NULL), 0);
    assert_int_equal(cs.released, 2);
    assert_int_equal(cs.ready, 4);
    assert_int_equal(cs.failed + cs.leased, 0);
    sluice_client_free(c);
}

static void hostile_payloads_and_arguments_reach_the_handler_verbatim_and_never_a_shell(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    const char *cls[1] = {"hostile"};
    class_with(c, "hostile", 10, 10000, 1, SLUICE_PAYLOAD_HARD_MAX);
    /* a payload just under 256 KiB with shell syntax and escaped newlines */
    size_t cap = SLUICE_PAYLOAD_HARD_MAX;
    char *payload = malloc(cap + 1);
    const char *head = "{\"cmd\":\"; rm -rf / $(id) `id` | cat /etc/passwd &\\n'\\\"x\",\"pad\":\"";
    size_t n = strlen(head);
    memcpy(payload, head, n);
    while (n < cap - 2) {
        payload[n] = (char)('a' + n % 26);
        n++;
    }
    payload[n++] = '"';
    payload[n++] = '}';
    payload[n] = '\0';
    assert_int_equal(n, SLUICE_PAYLOAD_HARD_MAX);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    if (sluice_enqueue(c, "hostile", payload, NULL, id, &err) < 0) fail_msg("enqueue: %s", err.text);
    /* a payload over the hard cap is refused at enqueue */
    char *big = malloc(1 << 20 | 1);
    memset(big, 'b', 1 << 20);
    memcpy(big, "{\"p\":\"", 6);
    memcpy(big + (1 << 20) - 2, "\"}", 2);
    big[1 << 20] = '\0';
    assert_int_equal(sluice_enqueue(c, "hostile", big, NULL, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    free(big);

    char out[400];
    snprintf(out, sizeof(out), "%s/hostile", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "hostile=%s", fixture("record.sh"));
    const char *hostile[] = {"; rm -rf /", "$(id)", "`id`", "a\nb", "*", "'\"", "", NULL};
    const char *args[] = {"--handler", cmd,        out,        hostile[0], hostile[1],      hostile[2], hostile[3],
                          hostile[4],  hostile[5], hostile[6], "--",       "--concurrency", "2",        NULL};
    char url[500];
    snprintf(url, sizeof(url), "%s", h->url);
    setenv("SLUICE_GOVERNOR_REDIS_URL", url, 1);
    pid_t pid = spawn_worker(h, args, url); /* the URL through SLUICE_REDIS_URL */
    unsetenv("SLUICE_GOVERNOR_REDIS_URL");
    assert_int_equal(wait_drained(c, cls, 1, 20000), 0);
    stop_worker(pid);
    sluice_class_stats cs;
    assert_int_equal(sluice_class_stats_get(c, "hostile", &cs, NULL), 0);
    assert_int_equal(cs.acked, 1);

    char path[500];
    size_t len;
    snprintf(path, sizeof(path), "%s.stdin", out);
    char *got = slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, SLUICE_PAYLOAD_HARD_MAX);
    assert_memory_equal(got, payload, len);
    free(got);
    snprintf(path, sizeof(path), "%s.args", out);
    got = slurp(path, &len);
    assert_non_null(got);
    size_t off = 0;
    for (int i = 0; hostile[i]; i++) {
        assert_true(off < len);
        assert_string_equal(got + off, hostile[i]);
        off += strlen(hostile[i]) + 1;
    }
    assert_int_equal(off, len);
    free(got);
    snprintf(path, sizeof(path), "%s.env", out);
    got = slurp(path, &len);
    assert_non_null(got);
    assert_null(strstr(got, "SLUICE_REDIS_URL"));
    assert_null(strstr(got, "SLUICE_GOVERNOR_REDIS_URL"));
    char want[200];
    snprintf(want, sizeof(want), "SLUICE_JOB_ID=%s\n", id);
    assert_non_null(strstr(got, want));
    assert_non_null(strstr(got, "SLUICE_JOB_CLASS=hostile\n"));
    assert_non_null(strstr(got, "SLUICE_JOB_ATTEMPT=1\n"));
    free(got);
    free(payload);
    sluice_client_free(c);
}

static void a_hanging_handler_is_killed_at_its_timeout_with_all_its_children(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "hang", 10, 1000, 1, 0);
    char id[SLUICE_ID_MAX];
    assert_int_equal(sluice_enqueue(c, "hang", "{}", NULL, id, NULL), 0);
    char pidf[400];
    snprintf(pidf, sizeof(pidf), "%s/hang.pgid", h->dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "hang=%s", fixture("hang.sh"));
    const char *args[] = {"--handler", cmd, pidf, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    sluice_class_stats cs;
    WAIT_UNTIL((cs = stats_of(c, "hang")).dead == 1, 20000);
    assert_int_equal(cs.dead, 1);
    stop_worker(pid);
    size_t n = 0;
    sluice_job_info *dead = sluice_dead_list(c, "hang", 0, 10, &n, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(dead[0].reason, "timeout");
    sluice_dead_list_free(dead, n);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    int pgid = 0;
    assert_int_equal(fscanf(f, "%d", &pgid), 1);
    fclose(f);
    assert_int_equal(group_gone(pgid), 0);
    sluice_client_free(c);
}

static void a_failing_handler_fails_the_attempt_with_the_tail_of_its_stderr(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "failing", 10, 5000, 2, 0);
    assert_int_equal(sluice_enqueue(c, "failing", "{}", NULL, NULL, NULL), 0);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "failing=%s", fixture("fail.sh"));
    const char *args[] = {"--handler", cmd, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    sluice_class_stats cs;
    WAIT_UNTIL((cs = stats_of(c, "failing")).dead == 1, 20000);
    stop_worker(pid);
    assert_int_equal(cs.dead, 1);
    assert_int_equal(cs.failed, 2);
    size_t n = 0;
    sluice_job_info *dead = sluice_dead_list(c, "failing", 0, 10, &n, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(dead[0].reason, "first line\nboom: the handler failed");
    sluice_dead_list_free(dead, n);
    sluice_client_free(c);
}

/* Exit 0 acks, whatever the handler wrote to stderr; a handler killed by a
 * signal, or exiting non-zero in silence, fails the attempt with a reason
 * that says so. */
static void the_exit_status_alone_decides_ack_or_fail(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "noisy", 10, 5000, 1, 0);
    class_with(c, "signalled", 10, 5000, 1, 0);
    class_with(c, "silent", 10, 5000, 1, 0);
    enqueue_n(c, "noisy", 3);
    enqueue_n(c, "signalled", 1);
    enqueue_n(c, "silent", 1);
    const char *args[] = {"--handler",
                          "noisy=/bin/sh",
                          "-c",
                          "echo 'warning: slow disk' >&2; exit 0",
                          "--",
                          "--handler",
                          "signalled=/bin/sh",
                          "-c",
                          "kill -TERM $$",
                          "--",
                          "--handler",
                          "silent=/bin/sh",
                          "-c",
                          "exit 3",
                          NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    WAIT_UNTIL(stats_of(c, "noisy").acked == 3 && stats_of(c, "signalled").dead == 1 && stats_of(c, "silent").dead == 1,
               20000);
    stop_worker(pid);
    sluice_class_stats noisy = stats_of(c, "noisy");
    assert_int_equal(noisy.acked, 3);
    assert_int_equal(noisy.failed, 0);
    const char *cls[2] = {"signalled", "silent"}, *why[2] = {"killed by signal 15", "exit status 3"};
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        sluice_job_info *dead = sluice_dead_list(c, cls[i], 0, 10, &n, NULL);
        assert_int_equal(n, 1);
        assert_string_equal(dead[0].reason, why[i]);
        sluice_dead_list_free(dead, n);
        assert_int_equal(stats_of(c, cls[i]).acked, 0);
    }
    sluice_client_free(c);
}

/* A handler that exits leaves nothing behind: what it started in its
 * process group is killed with it. */
static void a_handler_that_exits_takes_its_background_children_with_it(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "leaky", 10, 30000, 1, 0);
    enqueue_n(c, "leaky", 1);
    char pidf[400], script[600];
    snprintf(pidf, sizeof(pidf), "%s/leaky.pid", h->dir);
    snprintf(script, sizeof(script), "sleep 1000 & echo $! > '%s'; exit 0", pidf);
    const char *args[] = {"--handler", "leaky=/bin/sh", "-c", script, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    WAIT_UNTIL(stats_of(c, "leaky").acked == 1, 20000);
    assert_int_equal(stats_of(c, "leaky").acked, 1);
    FILE *f = fopen(pidf, "r");
    assert_non_null(f);
    int child = 0;
    assert_int_equal(fscanf(f, "%d", &child), 1);
    fclose(f);
    WAIT_UNTIL(kill(child, 0) < 0 && errno == ESRCH, 10000);
    assert_true(kill(child, 0) < 0 && errno == ESRCH);
    stop_worker(pid);
    sluice_client_free(c);
}

/* Runs one job of class "cls" through "/bin/sh -c script" and asserts it is
 * acked; a script that exits non-zero fails the test with what it printed. */
static void assert_one_job_passes_script(void **state, const char *cls, const char *script) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, cls, 10, 5000, 1, 0);
    assert_int_equal(sluice_enqueue(c, cls, "{}", NULL, NULL, NULL), 0);
    char handler[64];
    snprintf(handler, sizeof(handler), "%s=/bin/sh", cls);
    const char *args[] = {"--handler", handler, "-c", script, "--", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    sluice_class_stats cs;
    WAIT_UNTIL((cs = stats_of(c, cls), cs.acked + cs.dead > 0), 20000);
    stop_worker(pid);
    if (cs.dead) {
        size_t n = 0;
        sluice_job_info *dead = sluice_dead_list(c, cls, 0, 1, &n, NULL);
        fail_msg("the handler saw: %s", n ? dead[0].reason : "?");
    }
    assert_int_equal(cs.acked, 1);
    sluice_client_free(c);
}

/* The handler must not hold the worker's authenticated Redis links (ls
 * inherits whatever the handler's shell holds). */
static void a_handler_inherits_none_of_the_workers_redis_connections(void **state) {
    assert_one_job_passes_script(state, "fds",
                                 "if ls -l /proc/self/fd | grep -q socket; then ls -l /proc/self/fd >&2; exit 1; fi");
}

/* The handler leads a process group of its own (a timeout kills the group,
 * so a handler outside one would leave its children behind), with no signal
 * blocked and none of 1..31 ignored (the worker ignores SIGPIPE). */
static void a_handler_leads_its_own_process_group_with_signals_at_their_defaults(void **state) {
    assert_one_job_passes_script(state, "fresh",
                                 "read -r stat < /proc/$$/stat; set -- $stat\n"
                                 "[ \"$5\" = \"$$\" ] || { echo \"process group $5, pid $$\" >&2; exit 1; }\n"
                                 "while read -r k v; do case $k in\n"
                                 "  SigBlk:) [ $((0x$v)) = 0 ] || { echo \"$k $v\" >&2; exit 1; };;\n"
                                 "  SigIgn:) [ $((0x$v & 0x7fffffff)) = 0 ] || { echo \"$k $v\" >&2; exit 1; };; esac\n"
                                 "done < /proc/$$/status");
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void a_config_file_sets_the_handlers_and_sighup_reloads_them_without_a_restart(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    const char *a[1] = {"cfg_a"}, *b[1] = {"cfg_b"};
    class_with(c, "cfg_a", 10, 5000, 3, 0);
    class_with(c, "cfg_b", 10, 5000, 3, 0);
    enqueue_n(c, "cfg_a", 5);
    enqueue_n(c, "cfg_b", 5);
    char cfg[400], ids[400], text[2000];
    snprintf(cfg, sizeof(cfg), "%s/worker.json", h->dir);
    snprintf(ids, sizeof(ids), "%s/cfg.ids", h->dir);
    snprintf(text, sizeof(text),
             "{\"concurrency\": 4, \"grace\": \"2s\", \"log_format\": \"json\",\n"
             " \"handlers\": {\"cfg_a\": [\"%s\", \"%s\"]}}\n",
             fixture("append-id.sh"), ids);
    write_file(cfg, text);
    const char *args[] = {"--config", cfg, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    assert_int_equal(wait_drained(c, a, 1, 20000), 0);
    /* one more cfg_a job done after the first five: the worker has been
     * claiming all along, and cfg_b, with no handler, was never served */
    enqueue_n(c, "cfg_a", 1);
    WAIT_UNTIL(stats_of(c, "cfg_a").acked == 6, 20000);
    assert_int_equal(stats_of(c, "cfg_a").acked, 6);
    sluice_class_stats cs = stats_of(c, "cfg_b");
    assert_int_equal(cs.ready, 5); /* not served yet */
    assert_int_equal(cs.claimed, 0);
    snprintf(text, sizeof(text),
             "{\"concurrency\": 2, \"handlers\": {\"cfg_a\": [\"%s\", \"%s\"],\n"
             " \"cfg_b\": [\"%s\", \"%s\"]}}\n",
             fixture("append-id.sh"), ids, fixture("append-id.sh"), ids);
    write_file(cfg, text);
    kill(pid, SIGHUP);
    assert_int_equal(wait_drained(c, b, 1, 10000), 0);
    stop_worker(pid);
    assert_int_equal(check_ids(ids, "cfg_a", 6), 0);
    assert_int_equal(check_ids(ids, "cfg_b", 5), 0);
    sluice_client_free(c);
}

/* A handler that cannot run stops the worker from starting: a typo in its
 * path, a file that is not executable, a directory. */
static void a_handler_that_cannot_run_stops_the_worker_from_starting(void **state) {
    harness_redis *h = *state;
    char noexec[400], out[200], err[1000];
    snprintf(noexec, sizeof(noexec), "%s/not-executable.sh", h->dir);
    write_file(noexec, "#!/bin/sh\nexit 0\n");
    chmod(noexec, 0644);
    char typo[500], plain[500], dir[500];
    snprintf(typo, sizeof(typo), "k=%s/typo", h->dir);
    snprintf(plain, sizeof(plain), "k=%s", noexec);
    snprintf(dir, sizeof(dir), "k=%s", h->dir);
    const char *why[3] = {"No such file or directory", "Permission denied", "not a regular file"};
    const char *cmd[3] = {typo, plain, dir};
    for (int i = 0; i < 3; i++) {
        const char *argv[] = {WORKER, "--redis", h->url, "--handler", cmd[i], NULL};
        int rc = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
        if (rc != 2 || !strstr(err, why[i]) || !strstr(err, "handler for class k cannot run"))
            fail_msg("--handler %s: exit %d, %s", cmd[i], rc, err);
    }
}

/* A handler that becomes unrunnable while the worker runs (deleted, made
 * not executable, or a command it runs is missing: exit 127) is an
 * infrastructure fault: its jobs are released untried, no attempt is spent,
 * none goes dead; the class is paused in this worker, said once in the log;
 * once the handler can run again, every job runs and is acked. */
static void a_handler_that_becomes_unrunnable_releases_its_jobs_untried_and_nothing_goes_dead(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "fragile", 10, 10000, 2, 0);
    class_with(c, "missing", 10, 10000, 2, 0);
    char script[400], log[400];
    snprintf(script, sizeof(script), "%s/fragile.sh", h->dir);
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    write_file(script, "#!/bin/sh\nexit 0\n");
    chmod(script, 0755);
    char hf[500];
    snprintf(hf, sizeof(hf), "fragile=%s", script);
    const char *args[] = {"--concurrency",   "4",  "--metrics-port",           "0", "--handler", hf, "--", "--handler",
                          "missing=/bin/sh", "-c", "no-such-command-anywhere", NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    enqueue_n(c, "fragile", 2);
    WAIT_UNTIL(stats_of(c, "fragile").acked == 2, 20000);
    assert_int_equal(stats_of(c, "fragile").acked, 2);
    chmod(script, 0644); /* a broken deploy */
    enqueue_n(c, "fragile", 20);
    enqueue_n(c, "missing", 5);
    WAIT_UNTIL(stats_of(c, "fragile").released >= 3 && stats_of(c, "missing").released >= 3, 20000);
    int port = 0;
    WAIT_UNTIL((port = proc_port_in(log)) > 0, 10000);
    char *resp = NULL;
    WAIT_UNTIL((free(resp), resp = proc_http(port, "GET", "/metrics")) &&
                   strstr(resp, "\nsluice_worker_classes_held 2\n"),
               10000);
    assert_non_null(resp);
    assert_non_null(strstr(resp, "\nsluice_worker_classes_held 2\n"));
    free(resp);
    sluice_class_stats f = stats_of(c, "fragile"), m = stats_of(c, "missing");
    assert_int_equal(f.failed + f.dead + m.failed + m.dead, 0);
    assert_int_equal(proc_count_file(log, "class fragile: its handler cannot run"), 1);
    assert_int_equal(proc_count_file(log, "class missing: its handler cannot run"), 1);
    chmod(script, 0755); /* fixed */
    WAIT_UNTIL(stats_of(c, "fragile").acked == 22, 60000);
    stop_worker(pid);
    f = stats_of(c, "fragile");
    assert_int_equal(f.acked, 22);
    assert_int_equal(f.ready + f.delayed + f.leased + f.dead + f.failed, 0);
    assert_int_equal(f.claimed - f.released, 22); /* every release spent no attempt */
    assert_int_equal(proc_count_file(log, "class fragile: its handler runs again"), 1);
    m = stats_of(c, "missing");
    assert_int_equal(m.ready, 5); /* waiting, untried, for a handler that can run */
    assert_int_equal(m.failed + m.dead, 0);
    size_t n = 0;
    sluice_job_info info;
    char id[SLUICE_ID_MAX];
    snprintf(id, sizeof(id), "missing:1");
    assert_int_equal(sluice_job_get(c, id, &info, NULL), 0);
    assert_int_equal(info.attempt, 0);
    sluice_job_info_clear(&info);
    (void)n;
    sluice_client_free(c);
}

/* A config whose handler cannot run is refused at SIGHUP, like one with no
 * handlers at all (which a start refuses too): the worker keeps its
 * running settings. */
static void a_reload_refuses_a_config_that_a_start_would_refuse(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "kept", 10, 5000, 3, 0);
    char cfg[400], log[400], text[1000];
    snprintf(cfg, sizeof(cfg), "%s/reload.json", h->dir);
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    write_file(cfg, "{\"handlers\": {\"kept\": \"/bin/true\"}}\n");
    const char *args[] = {"--config", cfg, NULL};
    int started = proc_count_file(log, " connected");
    pid_t pid = spawn_worker(h, args, NULL);
    WAIT_UNTIL(proc_count_file(log, " connected") > started, 20000); /* it handles SIGHUP from here on */
    const char *bad[3] = {"{\"handlers\": {\"kept\": \"/opt/app/bin/typo\"}}\n", "{\"handlers\": {}}\n",
                          "{\"handlers\": {\"kept\": \"/bin/true\"}, \"grace\": 30}\n"};
    for (int i = 0; i < 3; i++) {
        int before = proc_count_file(log, "config rejected");
        snprintf(text, sizeof(text), "%s", bad[i]);
        write_file(cfg, text);
        kill(pid, SIGHUP);
        WAIT_UNTIL(proc_count_file(log, "config rejected") == before + 1, 10000);
        assert_int_equal(proc_count_file(log, "config rejected"), before + 1);
    }
    enqueue_n(c, "kept", 3); /* still served by /bin/true */
    WAIT_UNTIL(stats_of(c, "kept").acked == 3, 20000);
    assert_int_equal(stats_of(c, "kept").acked, 3);
    stop_worker(pid);
    assert_true(proc_count_file(log, "cannot run /opt/app/bin/typo") >= 1);
    assert_true(proc_count_file(log, "no handlers") >= 1);
    assert_true(proc_count_file(log, "grace must be a duration with a unit") >= 1);
    sluice_client_free(c);
}

/* Connections Redis accepted since it started (INFO stats), or -1. */
static long long connections_received(redisContext *rc) {
    redisReply *r = redisCommand(rc, "INFO stats");
    long long n = -1;
    if (r && r->str && strstr(r->str, "total_connections_received:"))
        n = atoll(strstr(r->str, "total_connections_received:") + strlen("total_connections_received:"));
    freeReplyObject(r);
    return n;
}

/* A wrong password is an outage like any other: the worker retries with
 * the jittered backoff (100 ms doubling to 5 s), not in a loop, and says
 * "authentication failed" once, not once per attempt. */
static void a_wrong_password_is_retried_with_backoff_and_logged_once(void **state) {
    harness_redis *h = *state;
    char log[400];
    snprintf(log, sizeof(log), "%s/wrong-password.log", h->dir);
    assert_int_equal(harness_redis_int(h, "CONFIG SET requirepass right-one"), -1); /* a status reply */
    char url[500];
    snprintf(url, sizeof(url), "redis://:wrong-one@127.0.0.1:%d", h->port);
    const char *args[] = {"--no-governor", "--handler", "x=/bin/true", NULL};
    /* the accepted connections, counted by Redis, over 6 s of refusals */
    redisContext *rc = redisConnectUnix(h->sock);
    assert_true(rc && !rc->err);
    freeReplyObject(redisCommand(rc, "AUTH right-one"));
    long long conn0 = connections_received(rc);
    pid_t pid = proc_worker_env(h, args, log, url);
    long long t0 = harness_now_ms();
    while (harness_now_ms() - t0 < 6000) harness_sleep_ms(100); /* pacing: six seconds of refusals */
    long long conn1 = connections_received(rc);
    freeReplyObject(redisCommand(rc, "CONFIG SET requirepass %s", ""));
    redisFree(rc);
    stop_worker(pid);
    int lines = proc_count_file(log, "\n");
    int auth = proc_count_file(log, "authentication failed");
    fprintf(stderr, "# wrong password: %lld connections and %d log lines in 6 s, %d saying authentication failed\n",
            conn1 - conn0, lines, auth);
    /* two links, each 100 ms doubling to 5 s with jitter: ~7 attempts each */
    assert_true(conn0 >= 0 && conn1 - conn0 <= 24);
    assert_true(auth >= 1 && auth <= 2);
    assert_true(lines <= 8);
}

/* A worker stopped (SIGSTOP) past its job's timeout, whose handler ended
 * meanwhile, reports the job as done, not as timed out. */
static void a_handler_that_ended_while_the_worker_was_stopped_is_done_not_timed_out(void **state) {
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    class_with(c, "paused", 10, 1000, 3, 0);
    char pidf[400], log[400], script[600];
    snprintf(pidf, sizeof(pidf), "%s/paused.pid", h->dir);
    snprintf(log, sizeof(log), "%s/worker.log", h->dir);
    snprintf(script, sizeof(script), "echo $$ > '%s'; sleep 0.2", pidf);
    const char *args[] = {"--no-governor", "--handler", "paused=/bin/sh", "-c", script, NULL};
    pid_t pid = spawn_worker(h, args, NULL);
    enqueue_n(c, "paused", 1);
    WAIT_UNTIL(lines_in(pidf) == 1, 20000);
    assert_int_equal(lines_in(pidf), 1);
    kill(pid, SIGSTOP);
    long long t0 = harness_now_ms();
    FILE *f = fopen(pidf, "r");
    int child = 0;
    assert_true(f && fscanf(f, "%d", &child) == 1);
    fclose(f);
    char stat_path[64];
    snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", child);
    WAIT_UNTIL(proc_count_file(stat_path, ") Z ") == 1, 10000); /* the handler has exited */
    while (harness_now_ms() - t0 < 1500) harness_sleep_ms(50);  /* pacing: stopped past the 1 s timeout */
    kill(pid, SIGCONT);
    WAIT_UNTIL(proc_count_file(log, "job=paused:1") >= 1, 10000);
    stop_worker(pid);
    assert_int_equal(proc_count_file(log, " timeout job=paused:1"), 0);
    assert_int_equal(proc_count_file(log, " done job=paused:1"), 1);
    sluice_client_free(c);
}

static int run_cli(const char *const *argv, int out_fd_to_devnull) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        if (out_fd_to_devnull) dup2(fd, 1);
        execv(WORKER, (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void help_exits_0_and_misuse_exits_2(void **state) {
    harness_redis *h = *state;
    const char *help[] = {WORKER, "--help", NULL};
    assert_int_equal(run_cli(help, 1), 0);
    const char *none[] = {WORKER, NULL};
    assert_int_equal(run_cli(none, 1), 2);
    const char *badc[] = {WORKER, "--concurrency", "12x", "--handler", "a=/bin/true", NULL};
    assert_int_equal(run_cli(badc, 1), 2);
    const char *shell[] = {WORKER, "--handler", "a=true", NULL};
    assert_int_equal(run_cli(shell, 1), 2);
    const char *badname[] = {WORKER, "--handler", "Bad Name=/bin/true", NULL};
    assert_int_equal(run_cli(badname, 1), 2);
    const char *unknown[] = {WORKER, "--frobnicate", NULL};
    assert_int_equal(run_cli(unknown, 1), 2);
    const char *nocfg[] = {WORKER, "--config", "/nonexistent/worker.json", NULL};
    assert_int_equal(run_cli(nocfg, 1), 2);
    const char *badgrace[] = {WORKER, "--grace", "soon", "--handler", "a=/bin/true", NULL};
    assert_int_equal(run_cli(badgrace, 1), 2);
    /* a duration in a config file needs its unit: 30 is not 30 ms, nor 30 s */
    char cfg[400];
    snprintf(cfg, sizeof(cfg), "%s/bare-grace.json", h->dir);
    write_file(cfg, "{\"handlers\": {\"a\": \"/bin/true\"}, \"grace\": 30}\n");
    const char *bare[] = {WORKER, "--config", cfg, NULL};
    char out[100], err[600];
    assert_int_equal(proc_run(bare, NULL, NULL, out, sizeof(out), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "grace must be a duration with a unit"));
}

int main(int argc, char **argv) {
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    if (slash) snprintf(worker_bin, sizeof(worker_bin), "%.*s/../bin/sluice-worker", (int)(slash - argv[0]), argv[0]);
    if (!realpath("tests/fixtures/worker", fixtures)) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(help_exits_0_and_misuse_exits_2, proc_teardown),
        cmocka_unit_test_teardown(three_thousand_exec_jobs_across_three_classes_are_each_acked_once, proc_teardown),
        cmocka_unit_test_teardown(a_worker_killed_mid_run_loses_nothing_and_repeats_only_the_jobs_it_had_in_flight,
                                  proc_teardown),
        cmocka_unit_test_teardown(sigterm_under_load_exits_within_the_grace_with_nothing_lost_or_run_twice,
                                  proc_teardown),
        cmocka_unit_test_teardown(
            jobs_still_running_when_the_grace_ends_are_released_not_failed_and_their_processes_killed, proc_teardown),
        cmocka_unit_test_teardown(a_second_signal_releases_the_jobs_in_flight_at_once, proc_teardown),
        cmocka_unit_test_teardown(hostile_payloads_and_arguments_reach_the_handler_verbatim_and_never_a_shell,
                                  proc_teardown),
        cmocka_unit_test_teardown(a_hanging_handler_is_killed_at_its_timeout_with_all_its_children, proc_teardown),
        cmocka_unit_test_teardown(a_failing_handler_fails_the_attempt_with_the_tail_of_its_stderr, proc_teardown),
        cmocka_unit_test_teardown(the_exit_status_alone_decides_ack_or_fail, proc_teardown),
        cmocka_unit_test_teardown(a_handler_that_exits_takes_its_background_children_with_it, proc_teardown),
        cmocka_unit_test_teardown(a_handler_inherits_none_of_the_workers_redis_connections, proc_teardown),
        cmocka_unit_test_teardown(a_handler_leads_its_own_process_group_with_signals_at_their_defaults, proc_teardown),
        cmocka_unit_test_teardown(a_config_file_sets_the_handlers_and_sighup_reloads_them_without_a_restart,
                                  proc_teardown),
        cmocka_unit_test_teardown(a_handler_that_cannot_run_stops_the_worker_from_starting, proc_teardown),
        cmocka_unit_test_teardown(a_handler_that_becomes_unrunnable_releases_its_jobs_untried_and_nothing_goes_dead,
                                  proc_teardown),
        cmocka_unit_test_teardown(a_reload_refuses_a_config_that_a_start_would_refuse, proc_teardown),
        cmocka_unit_test_teardown(a_wrong_password_is_retried_with_backoff_and_logged_once, proc_teardown),
        cmocka_unit_test_teardown(a_handler_that_ended_while_the_worker_was_stopped_is_done_not_timed_out,
                                  proc_teardown),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
