/* sluicectl simulate: replays a scenario (default: the compiled-in incident)
 * through every admission policy with the real control law, in virtual time
 * and without Redis, and prints the comparison, the goals, JSON, CSV or a
 * plot (gnuplot, run without a shell). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "sluice/sim.h"

#define CMD "simulate"
#define SCENARIO_MAX (4 * 1024 * 1024) /* bytes: a scenario is a few KiB */

/* ------------------------------------------------------------- options */

typedef struct sim_opts {
    const char *scenario; /* path, "-" for stdin, NULL for the incident */
    const char *csv;      /* --csv FILE */
    const char *plot;     /* --plot FILE.png */
    int64_t csv_period_s; /* --csv-period, s */
    int have_seed;
    uint64_t seed;
    int64_t period_ms, delay_ms; /* -1: the scenario's */
    int minutes;                 /* --minutes: per-minute p50/p99 in --json */
    const char *sets[32];        /* --set NAME=VALUE */
    size_t nsets;
} sim_opts;

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL if a and
 * name differ. Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_opts(int argc, char **argv, sim_opts *o) {
    memset(o, 0, sizeof(*o));
    o->csv_period_s = 10;
    o->period_ms = o->delay_ms = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        if (a[0] != '-' || a[1] == '\0') {
            if (o->scenario) return ctl_usage(CMD, "unexpected argument '%s' (one SCENARIO file)", a);
            o->scenario = a;
        } else if (!strcmp(a, "--minutes")) {
            o->minutes = 1;
        } else if ((v = opt_value(argc, argv, &i, "--seed", &missing))) {
            int64_t s;
            if (sluice_parse_int(v, 0, INT64_MAX, &s, NULL) < 0)
                return ctl_usage(CMD, "--seed: invalid integer '%s' (0 or more)", v);
            o->seed = (uint64_t)s;
            o->have_seed = 1;
        } else if ((v = opt_value(argc, argv, &i, "--csv", &missing))) {
            if (!*v) return ctl_usage(CMD, "--csv needs a file name");
            o->csv = v;
        } else if ((v = opt_value(argc, argv, &i, "--csv-period", &missing))) {
            int64_t ms;
            if (sluice_parse_duration(v, 86400000, &ms, NULL) < 0 || ms < 1000 || ms % 1000 != 0)
                return ctl_usage(CMD, "--csv-period: invalid duration '%s' (whole seconds, 1s..1d)", v);
            o->csv_period_s = ms / 1000;
        } else if ((v = opt_value(argc, argv, &i, "--plot", &missing))) {
            if (!*v) return ctl_usage(CMD, "--plot needs a file name");
            o->plot = v;
        } else if ((v = opt_value(argc, argv, &i, "--signal-period", &missing))) {
            if (sluice_parse_duration(v, 3600000, &o->period_ms, NULL) < 0 || o->period_ms == 0)
                return ctl_usage(CMD, "--signal-period: invalid duration '%s' (e.g. 1s, 10s, 60s; at most 1h)", v);
        } else if ((v = opt_value(argc, argv, &i, "--signal-delay", &missing))) {
            if (sluice_parse_duration(v, 3600000, &o->delay_ms, NULL) < 0)
                return ctl_usage(CMD, "--signal-delay: invalid duration '%s' (e.g. 0s, 60s; at most 1h)", v);
        } else if ((v = opt_value(argc, argv, &i, "--set", &missing))) {
            if (o->nsets == sizeof(o->sets) / sizeof(o->sets[0]))
                return ctl_usage(CMD, "--set: at most %zu", sizeof(o->sets) / sizeof(o->sets[0]));
            o->sets[o->nsets++] = v;
        } else if (missing) {
            return ctl_usage(CMD, "option %s needs a value", a);
        } else {
            const char *eq = strchr(a, '=');
            return ctl_usage(CMD, "unknown option '%.*s'", eq ? (int)(eq - a) : (int)strlen(a), a);
        }
        if (missing) return ctl_usage(CMD, "option %s needs a value", a);
    }
    return EXIT_OK;
}

/* One governor param from "NAME=VALUE", strictly parsed. */
static int set_param(sluice_law_params *p, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) return ctl_usage(CMD, "--set: expected NAME=VALUE, not '%s'", kv);
    char name[64];
    sluice_error err;
    snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
    double v;
    if (sluice_parse_number(eq + 1, -1e300, 1e300, &v, NULL) < 0)
        return ctl_usage(CMD, "--set %s: invalid number '%s'", name, eq + 1);
    if (sluice_law_param_set(p, name, v, &err) < 0) return ctl_usage(CMD, "--set: %s", err.text);
    return EXIT_OK;
}

/* ------------------------------------------------------------ scenario */

/* The whole of a file or stdin ("-"), NUL-terminated. NEW, or NULL with
 * errno set (EFBIG when over SCENARIO_MAX). */
static char *read_all(const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int e = 0;
    while (buf) {
        size_t k = fread(buf + len, 1, cap - len - 1, f);
        len += k;
        if (k == 0) {
            if (ferror(f)) e = EIO;
            break;
        }
        if (len + 1 == cap) {
            if (cap >= SCENARIO_MAX) {
                e = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                e = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf || e) {
        free(buf);
        errno = e ? e : ENOMEM;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* The scenario with every override applied, or NULL after printing why
 * (*code set). NEW. */
static sluice_sim_scenario *load(const sim_opts *o, int *code) {
    sluice_error err;
    sluice_sim_scenario *s;
    *code = EXIT_USAGE;
    if (o->scenario) {
        char *text = read_all(o->scenario);
        if (!text) {
            ctl_usage(CMD, "cannot read %s: %s", o->scenario, strerror(errno));
            return NULL;
        }
        s = sluice_sim_scenario_parse(text, &err);
        free(text);
        if (!s) {
            *code = ctl_fail(ctl_error_code(err.code), "%s: %s: %s", CMD, o->scenario, err.text);
            return NULL;
        }
    } else {
        s = sluice_sim_scenario_default(&err);
        if (!s) {
            *code = ctl_fail(EXIT_RUNTIME, "%s: the built-in incident: %s", CMD, err.text);
            return NULL;
        }
    }
    if (o->have_seed) sluice_sim_scenario_set_seed(s, o->seed);
    sluice_law_params p;
    sluice_sim_scenario_params(s, &p);
    for (size_t i = 0; i < o->nsets; i++) {
        if (set_param(&p, o->sets[i]) != EXIT_OK) goto fail;
    }
    if (sluice_sim_scenario_set_params(s, &p, &err) < 0) {
        ctl_usage(CMD, "%s", err.text);
        goto fail;
    }
    if (o->period_ms >= 0 || o->delay_ms >= 0) {
        int64_t period, delay;
        sluice_sim_scenario_signal(s, &period, &delay, NULL);
        if (o->period_ms >= 0) period = o->period_ms;
        if (o->delay_ms >= 0) delay = o->delay_ms;
        if (sluice_sim_scenario_set_signal_timing(s, period, delay, &err) < 0) {
            ctl_usage(CMD, "%s", err.text);
            goto fail;
        }
    }
    *code = EXIT_OK;
    return s;
fail:
    sluice_sim_scenario_free(s);
    return NULL;
}

/* --------------------------------------------------------------- table */

/* "hh:mm" from the start of the scenario, "+1d hh:mm" past a day. */
static const char *clock_of(double s, char *buf, size_t len) {
    if (s < 0) {
        snprintf(buf, len, "unfinished");
        return buf;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%s%02ld:%02ld", t >= 86400 ? "+1d " : "", (t % 86400) / 3600, (t % 3600) / 60);
    return buf;
}

static void print_table(const sluice_sim_report *r) {
    const sluice_sim_result *b = sluice_sim_report_result(r, SLUICE_SIM_BASELINE);
    printf("%-10s %9s %7s %7s %9s %11s %9s %10s %6s %7s %8s %6s %4s\n", "policy", "peak p99", "vs base", "worst/m",
           "day p99", "sat s peak", "sat s day", "makespan", "spare", "changes", "rev/hour", "fixed", "lost");
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
        const sluice_sim_result *x = sluice_sim_report_result(r, (sluice_sim_policy)p);
        char mk[32], sp[16];
        clock_of(x->makespan_s, mk, sizeof(mk));
        snprintf(sp, sizeof(sp), "%.1f%%", 100.0 * x->spare_used);
        printf("%-10s %7.1fms %6.2fx %6.2fx %7.1fms %11lld %9lld %10s %6s %7lld %8lld %6.0f %4lld\n",
               sluice_sim_policy_name((sluice_sim_policy)p), x->peak_p99_ms,
               b->peak_p99_ms > 0 ? x->peak_p99_ms / b->peak_p99_ms : 0.0, x->worst_minute_ratio, x->p99_ms,
               (long long)x->peak_seconds_over_capacity, (long long)x->seconds_over_capacity, p == 0 ? "-" : mk,
               p == 0 ? "-" : sp, (long long)x->changes, (long long)x->max_reversals_hour, x->fixed_rate,
               (long long)x->jobs_lost);
    }
    printf("\nper class: longest wait (s) / last job done (hh:mm)\n%-18s", "class");
    for (int p = 1; p < SLUICE_SIM_POLICIES; p++) printf(" %18s", sluice_sim_policy_name((sluice_sim_policy)p));
    printf("\n");
    for (size_t i = 0; i < b->nclasses; i++) {
        printf("%-18s", b->classes[i].name);
        for (int p = 1; p < SLUICE_SIM_POLICIES; p++) {
            const sluice_sim_class_result *c = &sluice_sim_report_result(r, (sluice_sim_policy)p)->classes[i];
            char fin[32];
            printf(" %8.0f / %7s", c->longest_wait_s, clock_of(c->finish_s, fin, sizeof(fin)));
        }
        printf("\n");
    }
}

/* Deadline misses per class and policy; the keys' waits for a turn where
 * a class spreads its jobs over keys. */
static void print_deadlines_and_keys(const sluice_sim_report *r) {
    const sluice_sim_result *b = sluice_sim_report_result(r, SLUICE_SIM_BASELINE);
    int keyed = 0;
    printf("\nper class: deadline misses (late starts + expired)\n%-18s", "class");
    for (int p = 1; p < SLUICE_SIM_POLICIES; p++) printf(" %18s", sluice_sim_policy_name((sluice_sim_policy)p));
    printf("\n");
    for (size_t i = 0; i < b->nclasses; i++) {
        printf("%-18s", b->classes[i].name);
        for (int p = 1; p < SLUICE_SIM_POLICIES; p++) {
            const sluice_sim_class_result *c = &sluice_sim_report_result(r, (sluice_sim_policy)p)->classes[i];
            char m[48];
            snprintf(m, sizeof(m), "%lld + %lld", (long long)c->late_starts, (long long)c->expired);
            printf(" %18s", m);
            keyed |= c->keys > 1;
        }
        printf("\n");
    }
    if (!keyed) return;
    printf("\nper class with keys: a key's longest wait for its turn (s), worst key / median key\n%-18s", "class");
    for (int p = 1; p < SLUICE_SIM_POLICIES; p++) printf(" %18s", sluice_sim_policy_name((sluice_sim_policy)p));
    printf("\n");
    for (size_t i = 0; i < b->nclasses; i++) {
        if (sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR)->classes[i].keys <= 1) continue;
        printf("%-18s", b->classes[i].name);
        for (int p = 1; p < SLUICE_SIM_POLICIES; p++) {
            const sluice_sim_class_result *c = &sluice_sim_report_result(r, (sluice_sim_policy)p)->classes[i];
            printf(" %8.0f / %7.0f", c->key_wait_worst_s, c->key_wait_median_s);
        }
        printf("\n");
    }
}

static void goal_line(const char *what, int met, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void goal_line(const char *what, int met, const char *fmt, ...) {
    char figures[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(figures, sizeof(figures), fmt, ap);
    va_end(ap);
    printf("  %-52s %-8s %s\n", what, met ? "met" : "NOT MET", figures);
}

static void print_goals(const sluice_sim_report *r) {
    const sluice_sim_result *gov = sluice_sim_report_result(r, SLUICE_SIM_GOVERNOR);
    const sluice_sim_result *fix = sluice_sim_report_result(r, SLUICE_SIM_FIXED);
    const sluice_sim_result *nol = sluice_sim_report_result(r, SLUICE_SIM_NO_LIMIT);
    sluice_sim_goals g;
    char what[96], a[32], b[32], w[32];
    sluice_sim_report_goals(r, &g);
    printf("\ngoals (sluice's governor unless named):\n");
    snprintf(what, sizeof(what), "p99 within %.2fx of baseline in every peak minute", g.p99_ratio);
    goal_line(what, g.p99_met, "worst minute %.2fx at %s, %lld peak minutes over", gov->worst_minute_ratio,
              clock_of((double)gov->worst_minute_s, w, sizeof(w)), (long long)gov->peak_minutes_over_goal);
    goal_line("no_limit shows the incident", g.incident_shown, "worst minute %.2fx, %lld s over capacity in the peak",
              nol->worst_minute_ratio, (long long)nol->peak_seconds_over_capacity);
    snprintf(what, sizeof(what), "spare capacity used while a backlog exists >= %.0f%%", 100.0 * g.spare_used);
    goal_line(what, g.spare_met, "%.1f%% (fixed %.1f%%)", 100.0 * gov->spare_used, 100.0 * fix->spare_used);
    goal_line("backlog done before the best safe fixed limit", g.sooner_met, "%s vs %s (fixed %.0f IO/s)",
              clock_of(gov->makespan_s, a, sizeof(a)), clock_of(fix->makespan_s, b, sizeof(b)), fix->fixed_rate);
    snprintf(what, sizeof(what), "stable: at most %lld reversals in any hour", (long long)g.max_reversals_hour);
    goal_line(what, g.stable_met, "%lld (%lld reversals, %lld changes in all)", (long long)gov->max_reversals_hour,
              (long long)gov->reversals, (long long)gov->changes);
    goal_line("every deadline met", g.deadlines_met, "%lld missed (fixed %lld, threshold %lld)",
              (long long)gov->deadline_misses, (long long)fix->deadline_misses,
              (long long)sluice_sim_report_result(r, SLUICE_SIM_THRESHOLD)->deadline_misses);
    long long lost = 0;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) lost += sluice_sim_report_result(r, (sluice_sim_policy)p)->jobs_lost;
    goal_line("no job lost, under any policy", g.no_loss, "%lld lost", lost);
}

/* ---------------------------------------------------------------- files */

static int write_csv(const sluice_sim_report *r, const char *path, int64_t period_s) {
    FILE *f = fopen(path, "w");
    if (!f) return ctl_fail(EXIT_RUNTIME, "%s: cannot write %s: %s", CMD, path, strerror(errno));
    int bad = sluice_sim_report_write_csv(r, f, period_s) < 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) return ctl_fail(EXIT_RUNTIME, "%s: cannot write %s: %s", CMD, path, strerror(e));
    return EXIT_OK;
}

/* A gnuplot single-quoted string: ' doubles. NEW, or NULL for a path with
 * a newline (gnuplot would end the command there). */
static char *gp_quote(const char *s) {
    size_t n = 3;
    for (const char *p = s; *p; p++) {
        if (*p == '\n' || *p == '\r') return NULL;
        n += *p == '\'' ? 2 : 1;
    }
    char *q = malloc(n), *o = q;
    if (!q) return NULL;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') *o++ = '\'';
        *o++ = *p;
    }
    *o++ = '\'';
    *o = '\0';
    return q;
}

/* Runs "gnuplot -e DEFS SCRIPT": execvp and an argv, no shell. A
 * close-on-exec pipe tells a failed exec (gnuplot not installed) from
 * gnuplot failing. */
static int run_gnuplot(const char *defs, const char *script) {
    int st[2];
    if (pipe(st) < 0) return ctl_fail(EXIT_RUNTIME, "%s: pipe: %s", CMD, strerror(errno));
    fcntl(st[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(st[0]);
        close(st[1]);
        return ctl_fail(EXIT_RUNTIME, "%s: fork: %s", CMD, strerror(errno));
    }
    if (pid == 0) {
        char *const argv[] = {"gnuplot", "-e", (char *)defs, (char *)script, NULL};
        int null = open("/dev/null", O_RDONLY);
        close(st[0]);
        if (null >= 0) dup2(null, 0);
        execvp("gnuplot", argv);
        int e = errno;
        if (write(st[1], &e, sizeof(e)) < 0) _exit(127);
        _exit(127);
    }
    close(st[1]);
    int e = 0;
    ssize_t got;
    while ((got = read(st[0], &e, sizeof(e))) < 0 && errno == EINTR) {}
    close(st[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got == (ssize_t)sizeof(e)) {
        if (e == ENOENT)
            return ctl_fail(EXIT_RUNTIME,
                            "%s: --plot needs gnuplot, which is not installed "
                            "(Debian: apt-get install gnuplot-nox)",
                            CMD);
        return ctl_fail(EXIT_RUNTIME, "%s: cannot run gnuplot: %s", CMD, strerror(e));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ctl_fail(EXIT_RUNTIME, "%s: gnuplot failed (%s %d)", CMD, WIFEXITED(status) ? "exit" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return EXIT_OK;
}

/* Writes "text" into a new temporary file named from "tmpl" (modified). */
static int temp_file(char *tmpl, const char *text) {
    int fd = mkstemp(tmpl);
    if (fd < 0) return ctl_fail(EXIT_RUNTIME, "%s: cannot create a temporary file: %s", CMD, strerror(errno));
    size_t len = text ? strlen(text) : 0, off = 0;
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            unlink(tmpl);
            return ctl_fail(EXIT_RUNTIME, "%s: cannot write %s: %s", CMD, tmpl, strerror(e));
        }
        off += (size_t)k;
    }
    if (close(fd) != 0) {
        unlink(tmpl);
        return ctl_fail(EXIT_RUNTIME, "%s: cannot write %s: %s", CMD, tmpl, strerror(errno));
    }
    return EXIT_OK;
}

static int plot(const sluice_sim_report *r, const sim_opts *o, double target) {
    char tmp_csv[] = "/tmp/sluicectl-simulate-XXXXXX";
    char tmp_gp[] = "/tmp/sluicectl-plot-XXXXXX";
    const char *csv = o->csv;
    int code = EXIT_OK, have_csv = 0, have_gp = 0;
    if (!csv) {
        code = temp_file(tmp_csv, NULL);
        have_csv = code == EXIT_OK;
        csv = tmp_csv;
        if (code == EXIT_OK) code = write_csv(r, csv, o->csv_period_s);
    }
    /* Fail before gnuplot does, with a clearer message, if the PNG cannot be written. */
    if (code == EXIT_OK) {
        FILE *f = fopen(o->plot, "w");
        if (!f)
            code = ctl_fail(EXIT_RUNTIME, "%s: cannot write %s: %s", CMD, o->plot, strerror(errno));
        else
            fclose(f);
    }
    if (code == EXIT_OK) {
        code = temp_file(tmp_gp, sluice_sim_plot_script());
        have_gp = code == EXIT_OK;
    }
    if (code == EXIT_OK) {
        char *qc = gp_quote(csv), *qp = gp_quote(o->plot);
        if (!qc || !qp) {
            code = ctl_usage(CMD, "--plot and --csv paths must not hold a newline");
        } else {
            size_t n = strlen(qc) + strlen(qp) + 128;
            char *defs = malloc(n);
            if (!defs) {
                code = ctl_fail(EXIT_RUNTIME, "out of memory");
            } else {
                snprintf(defs, n, "csv=%s; png=%s; target=%.17g", qc, qp, target);
                code = run_gnuplot(defs, tmp_gp);
                free(defs);
            }
        }
        free(qc);
        free(qp);
    }
    if (have_csv) unlink(tmp_csv);
    if (have_gp) unlink(tmp_gp);
    return code;
}

/* ------------------------------------------------------------- command */

int cmd_simulate(ctl *x, int argc, char **argv) {
    sim_opts o;
    int code = parse_opts(argc, argv, &o);
    if (code != EXIT_OK) return code;
    sluice_sim_scenario *s = load(&o, &code);
    if (!s) return code;
    double target = 0;
    sluice_sim_scenario_signal(s, NULL, NULL, &target);
    sluice_error err;
    sluice_sim_report *r = sluice_sim_run(s, &err);
    sluice_sim_scenario_free(s);
    if (!r) return ctl_fail(EXIT_RUNTIME, "%s: %s", CMD, err.text);

    if (o.csv) code = write_csv(r, o.csv, o.csv_period_s);
    if (code == EXIT_OK && o.plot) code = plot(r, &o, target);
    if (code == EXIT_OK) {
        if (x->json) {
            char *text = sluice_sim_report_json(r, o.minutes);
            if (!text)
                code = ctl_fail(EXIT_RUNTIME, "out of memory");
            else {
                printf("%s\n", text);
                free(text);
            }
        } else {
            print_table(r);
            print_deadlines_and_keys(r);
            print_goals(r);
        }
    }
    sluice_sim_report_free(r);
    return code;
}
