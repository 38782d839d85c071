/* The fault battery, memory: the embedded worker runtime runs 10,000
 * in-process jobs (100,000 with SLUICE_CHAOS=long) under valgrind
 * --leak-check=full --error-exitcode=1 (BUILD/chaos/vg-embedded: synchronous,
 * asynchronous and failing-then-retried completions, a hosted governor,
 * a graceful stop, everything freed), and sluice-worker serves exec jobs
 * under valgrind and stops on SIGTERM. In a sanitizer build (valgrind and
 * ASan do not mix) the same programs run natively: ASan, UBSan and
 * LeakSanitizer check them instead. */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "chaos/chaos.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int have_valgrind(void) {
    return system("valgrind --version > /dev/null 2>&1") == 0;
}

/* Runs argv (NULL-terminated) with stdout and stderr to "log"; returns the
 * exit status, or -1. */
static int run(const char *const *argv, const char *log, long timeout_ms) {
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void)f;
        dup2(1, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = chaos_wait(pid, timeout_ms);
    if (st < 0) {
        chaos_kill(pid);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void show(const char *log) {
    FILE *f = fopen(log, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof(line), f) && n++ < 60) fprintf(stderr, "# | %s", line);
    if (f) fclose(f);
}

static void ten_thousand_in_process_jobs_run_valgrind_clean(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    const long N = CHAOS_PICK(10000, 100000);
    char n[32], log[400];
    snprintf(n, sizeof(n), "%ld", N);
    snprintf(log, sizeof(log), "%s/vg.log", r.dir);
    const char *prog = chaos_program("vg-embedded");
    long long t0 = harness_now_ms();
    int rc;
    if (SANITIZED || !have_valgrind()) {
        const char *argv[] = {prog, r.url, n, NULL};
        rc = run(argv, log, 600000);
        chaos_note("%s: %ld in-process jobs natively (%s) in %lld ms: exit %d", prog, N,
                   SANITIZED ? "sanitizer build: ASan/LSan check it" : "valgrind is not installed",
                   harness_now_ms() - t0, rc);
    } else {
        const char *argv[] = {"valgrind",
                              "-q",
                              "--error-exitcode=1",
                              "--leak-check=full",
                              "--errors-for-leak-kinds=definite,indirect,possible",
                              prog,
                              r.url,
                              n,
                              NULL};
        rc = run(argv, log, 600000);
        chaos_note("valgrind --leak-check=full: %ld in-process jobs in %lld ms: exit %d", N, harness_now_ms() - t0, rc);
    }
    show(log);
    assert_int_equal(rc, 0);
    harness_redis_stop(&r);
}

static void sluice_worker_serving_exec_jobs_and_stopping_on_sigterm_runs_valgrind_clean(void **state) {
    (void)state;
    if (SANITIZED || !have_valgrind()) {
        chaos_note("skipped: %s", SANITIZED ? "a sanitizer build (the other chaos tests run sluice-worker under it)"
                                            : "valgrind is not installed");
        return;
    }
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = sluice_client_connect(r.url, "c", NULL);
    assert_non_null(c);
    assert_int_equal(chaos_class(c, "vgexec", SLUICE_TIER_NORMAL, 0, 30000, 0), 0);
    const long N = CHAOS_PICK(300, 3000);
    chaos_check ck;
    chaos_check_init(&ck, "vgexec");
    long next = 1;
    assert_int_equal(chaos_enqueue(c, &ck, &next, N, 1), N);
    char log[400], rec[400], hcmd[600];
    snprintf(log, sizeof(log), "%s/vgexec.log", r.dir);
    snprintf(rec, sizeof(rec), "%s/vgexec.rec", r.dir);
    snprintf(hcmd, sizeof(hcmd), "vgexec=%s", chaos_fixture("job.sh"));
    /* valgrind follows the forks (up to their execve) but not the handlers */
    const char *argv[] = {"valgrind",
                          "-q",
                          "--error-exitcode=1",
                          "--leak-check=full",
                          "--errors-for-leak-kinds=definite,indirect,possible",
                          chaos_worker_bin(),
                          "--redis",
                          r.url,
                          "--namespace",
                          "c",
                          "--concurrency",
                          "8",
                          "--handler",
                          hcmd,
                          rec,
                          "0",
                          NULL};
    long long t0 = harness_now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (chaos_drained(c, "vgexec", 300000) < 0) {
        chaos_kill(pid);
        show(log);
        fail_msg("sluice-worker under valgrind did not drain the class");
    }
    long long ran = harness_now_ms() - t0;
    kill(pid, SIGTERM);
    int st = chaos_wait(pid, 60000);
    if (st < 0) chaos_kill(pid);
    long errors = chaos_file_lines(log, "==");
    chaos_note("valgrind sluice-worker: %ld exec jobs drained in %lld ms, exit %d, %ld valgrind lines", N, ran,
               st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, errors);
    if (errors) show(log);
    chaos_check_load(&ck, rec);
    chaos_table t = chaos_check_table(&ck, c, "sluice-worker under valgrind");
    assert_true(st >= 0 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(errors, 0);
    assert_int_equal(t.lost, 0);
    assert_int_equal(t.inconsistent, 0);
    assert_int_equal(t.duplicated, 0);
    chaos_check_free(&ck);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

int main(int argc, char **argv) {
    (void)argc;
    if (chaos_init(argv[0]) < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(ten_thousand_in_process_jobs_run_valgrind_clean, chaos_teardown),
        cmocka_unit_test_teardown(sluice_worker_serving_exec_jobs_and_stopping_on_sigterm_runs_valgrind_clean,
                                  chaos_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
