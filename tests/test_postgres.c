/* The PostgreSQL sampler (scripts/samplers/postgres.sh) against a real
 * PostgreSQL that this test starts: Debian's server binaries
 * (/usr/lib/postgresql/N/bin), a cluster in a temp dir owned by the
 * `postgres` user (initdb and pg_ctl refuse to run as root, so as root the
 * test runs them through runuser), a unix socket in that dir and a free
 * port, TCP off; always stopped and removed. sluice-worker runs the sampler
 * and the signal rises under pgbench load. Skipped, saying why, only where
 * no PostgreSQL server is installed or no user can own the cluster. Run
 * from the top of the tree. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>

static struct {
    int ready;
    char why[300];      /* why not, when the tests are skipped */
    char bin[PATH_MAX]; /* /usr/lib/postgresql/N/bin */
    char dir[PATH_MAX]; /* the temp dir: data/, the socket, the log */
    int port;
    int as_postgres; /* root: run server programs as `postgres` */
    char env_host[PATH_MAX + 10], env_port[32];
} pg;

/* Runs a server program (initdb, pg_ctl) as the cluster's owner; its
 * output into "out". Returns its exit status. */
static int pg_run(const char *const *args, char *out, size_t n) {
    const char *argv[32];
    int k = 0;
    if (pg.as_postgres) {
        argv[k++] = "/usr/sbin/runuser";
        argv[k++] = "-u";
        argv[k++] = "postgres";
        argv[k++] = "--";
    }
    for (int i = 0; args[i] && k < 31; i++) argv[k++] = args[i];
    argv[k] = NULL;
    char err[2000];
    int rc = proc_run(argv, NULL, NULL, out, n, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "# %s: exit %d: %s%s\n", args[0], rc, out, err);
    return rc;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void pg_stop(void) {
    if (!pg.dir[0]) return;
    char data[PATH_MAX + 8], out[2000];
    snprintf(data, sizeof(data), "%s/data", pg.dir);
    char ctl[PATH_MAX + 16];
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", pg.bin);
    if (pg.ready) {
        const char *stop[] = {ctl, "-D", data, "-m", "immediate", "-w", "stop", NULL};
        pg_run(stop, out, sizeof(out));
    }
    pg.ready = 0;
    const char *rm[] = {"/bin/rm", "-rf", pg.dir, NULL};
    proc_run(rm, NULL, NULL, out, sizeof(out), NULL, 0);
    pg.dir[0] = '\0';
}

static int pg_start(void) {
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        snprintf(pg.why, sizeof(pg.why),
                 "no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb; "
                 "Debian's postgresql package, installed by make deps)");
        return -1;
    }
    snprintf(pg.bin, sizeof(pg.bin), "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - strlen("/initdb")),
             g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    struct passwd *pw = NULL;
    if (geteuid() == 0) {
        pw = getpwnam("postgres");
        if (!pw || access("/usr/sbin/runuser", X_OK) != 0) {
            snprintf(pg.why, sizeof(pg.why),
                     "running as root without a `postgres` user or runuser: "
                     "initdb refuses to run as root");
            return -1;
        }
        pg.as_postgres = 1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(pg.dir, sizeof(pg.dir), "%s/sluice-pg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(pg.dir)) {
        snprintf(pg.why, sizeof(pg.why), "mkdtemp: %s", strerror(errno));
        pg.dir[0] = 0;
        return -1;
    }
    if (pw && chown(pg.dir, pw->pw_uid, pw->pw_gid) < 0) {
        snprintf(pg.why, sizeof(pg.why), "chown %.200s: %s", pg.dir, strerror(errno));
        return -1;
    }
    pg.port = free_port();
    char data[PATH_MAX + 8], logf[PATH_MAX + 16], initdb[PATH_MAX + 16], ctl[PATH_MAX + 16], opts[PATH_MAX + 200];
    char out[4000];
    snprintf(data, sizeof(data), "%s/data", pg.dir);
    snprintf(logf, sizeof(logf), "%s/server.log", pg.dir);
    snprintf(initdb, sizeof(initdb), "%s/initdb", pg.bin);
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", pg.bin);
    const char *init[] = {
        initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions", NULL};
    if (pg_run(init, out, sizeof(out)) != 0) {
        snprintf(pg.why, sizeof(pg.why), "initdb failed");
        return -1;
    }
    snprintf(opts, sizeof(opts), "-k %s -p %d -c listen_addresses= -c max_connections=20 -c fsync=off", pg.dir,
             pg.port);
    const char *start[] = {ctl, "-D", data, "-l", logf, "-w", "-t", "60", "-o", opts, "start", NULL};
    if (pg_run(start, out, sizeof(out)) != 0) {
        snprintf(pg.why, sizeof(pg.why), "pg_ctl start failed");
        return -1;
    }
    pg.ready = 1;
    /* the sampler and pgbench find the server through libpq's environment */
    setenv("PGHOST", pg.dir, 1);
    snprintf(pg.env_port, sizeof(pg.env_port), "%d", pg.port);
    setenv("PGPORT", pg.env_port, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGDATABASE", "postgres", 1);
    return 0;
}

static pid_t watchdog;

/* A child that outlives a killed test (timeout, kill -9) just long enough
 * to stop the server and remove its dir. */
static void start_watchdog(void) {
    pid_t parent = getpid();
    watchdog = fork();
    if (watchdog != 0) return;
    setpgid(0, 0); /* out of the test's group: timeout(1) kills a whole group */
    signal(SIGINT, SIG_IGN);
    while (getppid() == parent) sleep(1); /* polls: the parent is gone */
    pg_stop();
    _exit(0);
}

static int group_setup(void **state) {
    if (pg_start() < 0) {
        fprintf(stderr, "test_postgres: SKIPPED: %s\n", pg.why);
        pg_stop();
    } else {
        start_watchdog();
    }
    return harness_group_setup(state);
}

static int group_teardown(void **state) {
    if (watchdog > 0) {
        kill(watchdog, SIGKILL);
        waitpid(watchdog, NULL, 0);
        watchdog = 0;
    }
    pg_stop();
    return harness_group_teardown(state);
}

static void at_exit(void) {
    if (watchdog > 0) {
        kill(watchdog, SIGKILL);
        waitpid(watchdog, NULL, 0);
        watchdog = 0;
    }
    pg_stop();
}

#define NEED_PG()                                                                                                      \
    do {                                                                                                               \
        if (!pg.ready) {                                                                                               \
            fprintf(stderr, "# skipped: %s\n", pg.why);                                                                \
            skip();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* postgres.sh MODE with "env" (NAME=VALUE strings, may be NULL): its
 * stdout, exit status in *rc. */
static const char *sampler_env(const char *mode, const char *const *env, int *rc) {
    static char out[200];
    char err[500];
    const char *argv[] = {"scripts/samplers/postgres.sh", mode, NULL};
    *rc = proc_run(argv, env, NULL, out, sizeof(out), err, sizeof(err));
    return out;
}

static const char *sampler(const char *mode, int *rc) {
    return sampler_env(mode, NULL, rc);
}

static double value_of(const char *out) {
    double v = -1;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", out);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n') buf[n - 1] = '\0';
    if (sluice_parse_number(buf, -1e300, 1e300, &v, NULL) < 0) fail_msg("not one number: \"%s\"", out);
    return v;
}

static void each_mode_prints_exactly_one_number_and_an_unreachable_server_prints_nothing(void **state) {
    (void)state;
    NEED_PG();
    int rc;
    const char *out = sampler("active", &rc);
    assert_int_equal(rc, 0);
    assert_float_equal(value_of(out), 0, 0); /* nobody else is connected */
    out = sampler("connections", &rc);
    assert_int_equal(rc, 0);
    assert_float_equal(value_of(out), 1.0 / 20.0, 1e-9); /* the sampler's own session */
    out = sampler("lag", &rc);
    assert_int_equal(rc, 0);
    assert_float_equal(value_of(out), 0, 0); /* a primary without standbys */
    out = sampler("latency", &rc);
    assert_int_equal(rc, 0);
    double ms = value_of(out);
    fprintf(stderr, "# SELECT 1 took %.3f ms\n", ms);
    assert_true(ms > 0 && ms < 5000);
    out = sampler("load", &rc);
    assert_int_equal(rc, 0);
    assert_float_equal(value_of(out), 0, 0);
    /* load's window: the server looks for as long as it says, however slow */
    const char *const window[] = {"SLUICE_PG_LOAD_MS=300", NULL};
    long long t0 = harness_now_ms();
    out = sampler_env("load", window, &rc);
    assert_int_equal(rc, 0);
    assert_true(harness_now_ms() - t0 >= 300);
    assert_float_equal(value_of(out), 0, 0);
    static const char *const bad_windows[] = {"SLUICE_PG_LOAD_MS=abc", "SLUICE_PG_LOAD_MS=9",
                                              "SLUICE_PG_LOAD_MS=60001"};
    for (size_t i = 0; i < sizeof(bad_windows) / sizeof(bad_windows[0]); i++) {
        const char *const env[] = {bad_windows[i], NULL};
        out = sampler_env("load", env, &rc);
        assert_int_equal(rc, 2); /* a usage error, not a missed reading */
        assert_string_equal(out, "");
    }
    out = sampler("bogus", &rc);
    assert_int_equal(rc, 2);
    assert_string_equal(out, "");
    /* a server that is not there: no number, a non-zero exit */
    char port[32];
    snprintf(port, sizeof(port), "%d", pg.port + 1 == 65536 ? 1 : pg.port + 1);
    setenv("PGPORT", port, 1);
    out = sampler("active", &rc);
    setenv("PGPORT", pg.env_port, 1);
    assert_int_not_equal(rc, 0);
    assert_string_equal(out, "");
}

/* Starts psql as application "app" running "SELECT pg_sleep(30)". */
static pid_t sleeping_session(const char *app) {
    char psql[PATH_MAX + 16];
    snprintf(psql, sizeof(psql), "%s/psql", pg.bin);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("PGAPPNAME", app, 1);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(psql, psql, "-X", "-q", "-c", "SELECT pg_sleep(30)", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void load_averages_the_active_sessions_and_leaves_out_the_excluded_application(void **state) {
    (void)state;
    NEED_PG();
    pid_t job = sleeping_session("sluice-job:imports"), app = sleeping_session("web");
    const char *const exclude[] = {"SLUICE_PG_EXCLUDE=sluice-job%", NULL};
    int rc;
    double all = -1;
    long long end = harness_now_ms() + 10000;
    while (harness_now_ms() < end && all != 2) {
        all = value_of(sampler("load", &rc));
        assert_int_equal(rc, 0);
        if (all != 2) harness_sleep_ms(50);
    }
    assert_float_equal(all, 2, 0); /* both sessions, in every look */
    assert_float_equal(value_of(sampler_env("load", exclude, &rc)), 1, 0);
    assert_float_equal(value_of(sampler_env("active", exclude, &rc)), 1.0 / 20.0, 1e-9);
    assert_float_equal(value_of(sampler_env("connections", exclude, &rc)), 2.0 / 20.0, 1e-9); /* web + the sampler */
    /* end both sessions in the server (a sleeping backend would outlive its psql) */
    char out[200], psql[PATH_MAX + 16];
    snprintf(psql, sizeof(psql), "%s/psql", pg.bin);
    const char *term[] = {psql,
                          "-X",
                          "-q",
                          "-A",
                          "-t",
                          "-c",
                          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE application_name IN ('sluice-job:imports', 'web')",
                          NULL};
    assert_int_equal(proc_run(term, NULL, NULL, out, sizeof(out), NULL, 0), 0);
    assert_int_not_equal(proc_wait(job, 10000), -1);
    assert_int_not_equal(proc_wait(app, 10000), -1);
    double v = 1;
    end = harness_now_ms() + 10000;
    while (harness_now_ms() < end && v != 0) {
        v = value_of(sampler("load", &rc));
        if (v != 0) harness_sleep_ms(50);
    }
    assert_float_equal(v, 0, 0);
}

static double pg_active_value(sluice_client *c, int *has) {
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, NULL);
    double v = -1;
    *has = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, "pg_active") == 0 && s[i].has_value) {
            *has = 1;
            v = s[i].value;
        }
    sluice_signal_list_free(s, n);
    return v;
}

static void the_sampler_reports_active_sessions_rising_under_pgbench_load(void **state) {
    NEED_PG();
    harness_redis *h = *state;
    sluice_client *c = test_connect(state);
    sluice_signal_def d;
    sluice_signal_def_init(&d);
    d.target = 0.3;
    d.critical = 0.6;
    d.stale_after_ms = 10000;
    assert_int_equal(sluice_signal_define(c, "pg_active", &d, NULL, NULL), 0);
    char out[4000], err[4000], bench[PATH_MAX + 16], script[PATH_MAX + 16];
    snprintf(bench, sizeof(bench), "%s/pgbench", pg.bin);
    const char *init[] = {bench, "-i", "-s", "1", "-q", NULL};
    assert_int_equal(proc_run(init, NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
    char log[400], smp[PATH_MAX + 64];
    snprintf(log, sizeof(log), "%s/pg.log", h->dir);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    /* every 2 s, so a psql slowed by a busy machine still ends within its run */
    snprintf(smp, sizeof(smp), "pg_active=2s:%s/scripts/samplers/postgres.sh", cwd);
    const char *args[] = {"--sampler", smp, "active", NULL};
    pid_t pid = proc_worker(h, args, log);
    /* idle: the value arrives, and it is 0 */
    int has = 0;
    double idle = -1;
    WAIT_UNTIL((idle = pg_active_value(c, &has), has), 20000);
    assert_true(has);
    assert_float_equal(idle, 0, 0);
    /* 8 pgbench clients for 6 s, each transaction a TPC-B-like update and
     * a short sleep in the server, so sessions are busy in PostgreSQL */
    snprintf(script, sizeof(script), "%s/busy.sql", h->dir);
    FILE *f = fopen(script, "w");
    fputs("\\set aid random(1, 100000)\n"
          "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n"
          "SELECT pg_sleep(0.02);\n",
          f);
    fclose(f);
    const char *load[] = {bench, "-n", "-c", "8", "-j", "2", "-T", "6", "-f", script, NULL};
    pid_t lp = fork();
    if (lp == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(load[0], (char *const *)load);
        _exit(127);
    }
    double peak = 0;
    long long end = harness_now_ms() + 6000;
    while (harness_now_ms() < end) {
        double v = pg_active_value(c, &has);
        if (v > peak) peak = v;
        harness_sleep_ms(100); /* pacing: samples during the load */
    }
    int st;
    assert_int_equal(waitpid(lp, &st, 0), lp);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fprintf(stderr, "# pg_active: idle %.3f, under 8 pgbench clients up to %.3f (max_connections 20)\n", idle, peak);
    assert_true(peak >= 4.0 / 20.0);
    /* and it falls back when the load ends */
    double v = peak;
    WAIT_UNTIL((v = pg_active_value(c, &has)) == 0, 20000);
    assert_float_equal(v, 0, 0);
    proc_stop(pid);
    char *text = proc_slurp(log);
    assert_int_equal(proc_count(text, "signal pg_active: "), 0); /* no failed run */
    free(text);
    sluice_client_free(c);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access("scripts/samplers/postgres.sh", X_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    atexit(at_exit);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(each_mode_prints_exactly_one_number_and_an_unreachable_server_prints_nothing,
                                  proc_teardown),
        cmocka_unit_test_teardown(load_averages_the_active_sessions_and_leaves_out_the_excluded_application,
                                  proc_teardown),
        cmocka_unit_test_teardown(the_sampler_reports_active_sessions_rising_under_pgbench_load, proc_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
