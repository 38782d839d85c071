/* sluicectl top in a terminal: run in an 80-column pseudo-terminal, with a
 * class whose name and governor reason are long and a decision in the
 * history, no line is wider than the terminal (long ones end in an
 * ellipsis), and the decision is in words, not JSON; --wide prints the
 * lines whole. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <pty.h>

#define COLUMNS 80

/* Runs "sluicectl top --iterations 1 [extra]" on a pty of COLUMNS x 40;
 * returns its output with the escape sequences removed. NEW. */
static char *top_on_a_pty(void **state, const char *extra) {
    harness_redis *r = *state;
    struct winsize ws = {.ws_row = 40, .ws_col = COLUMNS};
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) fail_msg("forkpty");
    if (pid == 0) {
        const char *argv[] = {proc_bin("sluicectl"), "--redis", r->url, "--namespace", "t", "top",
                              "--iterations",        "1",       extra,  NULL};
        unsetenv("COLUMNS");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    static char raw[1 << 16];
    size_t n = proc_read_all(master, raw, sizeof(raw), 10000);
    close(master);
    int st = proc_wait(pid, 10000);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("top exited with status %d: %.*s", st, (int)n, raw);
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\033' && i + 1 < n && raw[i + 1] == '[') { /* CSI ... final byte */
            i += 2;
            while (i < n && !(raw[i] >= '@' && raw[i] <= '~')) i++;
            continue;
        }
        if (raw[i] != '\r') out[k++] = raw[i];
    }
    out[k] = '\0';
    return out;
}

/* The widest line of "text" in columns (UTF-8 code points). */
static size_t widest(const char *text, const char **where) {
    size_t best = 0, cols = 0;
    const char *start = text;
    for (const char *p = text;; p++) {
        if (*p == '\n' || *p == '\0') {
            if (cols > best) {
                best = cols;
                *where = start;
            }
            if (!*p) break;
            cols = 0;
            start = p + 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            cols++;
        }
    }
    return best;
}

/* A long-named class the governor cuts, with a signal over its target, and
 * a decision in the history. */
static void governed_setup(void **state) {
    sluice_client *c = test_connect(state);
    sluice_error err;
    test_class(c, "a-class-with-a-rather-long-name-for-the-table", SLUICE_TIER_LOW, 8);
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 0.8;
    def.critical = 0.95;
    if (sluice_signal_define(c, "replica_lag_of_the_reporting_database", &def, NULL, &err) < 0 ||
        sluice_signal_report(c, "replica_lag_of_the_reporting_database", 0.97, 0, &err) < 0)
        fail_msg("signal: %s", err.text);
    sluice_governor *g = sluice_governor_new(c, "top-test", NULL, &err);
    if (!g || sluice_governor_tick(g, NULL, &err) < 0) fail_msg("governor: %s", err.text);
    sluice_governor_free(g);
    sluice_client_free(c);
}

static void top_fits_an_80_column_terminal_and_says_the_decision_in_words(void **state) {
    governed_setup(state);
    char *out = top_on_a_pty(state, NULL);
    const char *where = out;
    size_t w = widest(out, &where);
    if (w > COLUMNS) fail_msg("a line of %zu columns: %.*s", w, (int)strcspn(where, "\n"), where);
    assert_non_null(strstr(out, "\xE2\x80\xA6"));            /* a long line was cut with an ellipsis */
    assert_non_null(strstr(out, "last decision: critical")); /* the law's words */
    assert_null(strstr(out, "{\""));                         /* no raw JSON */
    assert_null(strstr(out, "0000000"));                     /* no 17-digit floats */
    free(out);
}

static void top_wide_prints_the_lines_whole(void **state) {
    char *out = top_on_a_pty(state, "--wide");
    const char *where = out;
    assert_true(widest(out, &where) > COLUMNS);
    assert_null(strstr(out, "\xE2\x80\xA6"));
    assert_non_null(strstr(out, "every class at its floor (enforced"));
    free(out);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(top_fits_an_80_column_terminal_and_says_the_decision_in_words),
        cmocka_unit_test(top_wide_prints_the_lines_whole),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
