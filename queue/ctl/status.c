/* sluicectl status and top: classes, signals and the governor at a glance,
 * once or refreshed every second. */
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

/* One class's row. NEW. */
static json_t *class_json(const char *name, const sluice_class_view *v) {
    const sluice_gate_info *g = &v->gate;
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:f, s:f, s:s, s:s, s:b, s:I, s:b, s:I, s:I}",
                     "name", name, "tier", sluice_tier_name(v->cfg.tier), "ready", (json_int_t)v->stats.ready,
                     "delayed", (json_int_t)v->stats.delayed, "leased", (json_int_t)v->stats.leased, "dead",
                     (json_int_t)v->stats.dead, "fraction", g->fraction, "max_rate", v->cfg.max_rate, "max_concurrency",
                     (json_int_t)v->cfg.max_concurrency, "effective_rate", g->effective_rate, "effective_concurrency",
                     g->effective_concurrency, "why", g->paused ? "paused" : g->why, "reason", g->reason, "paused",
                     g->paused, "paused_until", (json_int_t)g->paused_until, "pinned", g->pinned, "pin_until",
                     (json_int_t)g->pin_until, "expires_at", (json_int_t)g->expires_at);
}

/* Adds root.classes, read in one round trip; a class deleted meanwhile is
 * left out. Returns 0, or -1 after printing the error (*code). */
static int status_classes(sluice_client *c, json_t *root, int *code) {
    sluice_error err;
    size_t n = 0;
    char **names = sluice_class_list(c, &n, &err);
    if (!names && err.code != SLUICE_OK) {
        *code = ctl_error(&err);
        return -1;
    }
    sluice_class_view *v = n ? calloc(n, sizeof(*v)) : NULL;
    if (n && !v) {
        sluice_class_list_free(names, n);
        *code = ctl_fail(EXIT_RUNTIME, "out of memory");
        return -1;
    }
    int rc = sluice_class_view_get(c, (const char *const *)names, n, v, &err);
    if (rc < 0) *code = ctl_error(&err);
    json_t *classes = json_array();
    json_object_set_new(root, "classes", classes);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (v[i].found) json_array_append_new(classes, class_json(names[i], &v[i]));
    free(v);
    sluice_class_list_free(names, n);
    return rc;
}

/* Adds root.signals. Returns 0, or -1 after printing the error (*code). */
static int status_signals(sluice_client *c, json_t *root, int *code) {
    sluice_error err;
    size_t n = 0;
    int64_t now = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, &now, &err);
    if (!s && err.code != SLUICE_OK) {
        *code = ctl_error(&err);
        return -1;
    }
    json_t *signals = json_array();
    json_object_set_new(root, "signals", signals);
    for (size_t i = 0; i < n; i++) {
        int v = s[i].has_value;
        json_array_append_new(signals,
                              json_pack("{s:s, s:o, s:f, s:f, s:s, s:o, s:b, s:o}", "name", s[i].name, "value",
                                        v ? json_real(s[i].value) : json_null(), "target", s[i].def.target, "critical",
                                        s[i].def.critical, "direction", s[i].def.lower_is_worse ? "lower" : "higher",
                                        "age_ms", v ? json_integer(s[i].age_ms) : json_null(), "stale", s[i].stale,
                                        "pressure", v ? json_real(ctl_signal_pressure(&s[i])) : json_null()));
    }
    sluice_signal_list_free(s, n);
    return 0;
}

/* Adds root.governor and root.now. Returns 0, or -1 after printing the
 * error (*code). */
static int status_governor(sluice_client *c, json_t *root, int *code) {
    sluice_governor_status gs;
    json_t *gov = ctl_governor_json(c, &gs, code);
    if (!gov) return -1;
    json_object_set_new(root, "governor", gov);
    json_object_set_new(root, "now", json_integer(gs.now));
    return 0;
}

/* The whole status as JSON. NEW, or NULL after printing the error (*code). */
static json_t *status_json(ctl *x, int *code) {
    sluice_client *c = ctl_client(x, code);
    if (!c) return NULL;
    json_t *root = json_object();
    if (status_classes(c, root, code) < 0 || status_signals(c, root, code) < 0 || status_governor(c, root, code) < 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static const char *num_or_dash(json_t *v, char *buf, size_t len) {
    if (!json_is_number(v)) return "-";
    return ctl_num(json_number_value(v), buf, len);
}

/* Prints one line, cut to "width" columns with an ellipsis when it is
 * wider (0: never cut). The text is ASCII or UTF-8; a column is a code
 * point. */
static void fit(FILE *out, int width, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fit(FILE *out, int width, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t cols = 0, i = 0, cut = 0;
    for (; line[i]; i++) {
        if (((unsigned char)line[i] & 0xC0) == 0x80) continue; /* a continuation byte */
        if (width > 0 && (int)cols == width - 1) cut = i;
        cols++;
    }
    if (width > 0 && (int)cols > width)
        fprintf(out, "%.*s\xE2\x80\xA6\n", (int)cut, line); /* U+2026 */
    else
        fprintf(out, "%s\n", line);
}

/* The classes' table of status_json. */
static void classes_table(json_t *root, FILE *out, int width) {
    size_t i;
    json_t *o;
    fit(out, width, "%-20s %-8s %7s %7s %7s %6s %8s %9s %6s  %s", "CLASS", "TIER", "READY", "DELAYED", "LEASED", "DEAD",
        "ADMITTED", "RATE/S", "CONC", "WHY");
    json_array_foreach(json_object_get(root, "classes"), i, o) {
        char rate[32] = "-", conc[32] = "-";
        double r = json_real_value(json_object_get(o, "effective_rate"));
        double cc = json_number_value(json_object_get(o, "effective_concurrency"));
        if (r > 0) snprintf(rate, sizeof(rate), "%.4g", r);
        if (cc > 0) snprintf(conc, sizeof(conc), "%.3g", cc);
        const char *why = json_string_value(json_object_get(o, "why"));
        const char *reason = json_string_value(json_object_get(o, "reason"));
        const char *name = json_string_value(json_object_get(o, "name"));
        char cut[32];
        if (width > 0 && strlen(name) > 20) { /* cut to its column, so the columns stay in line */
            snprintf(cut, sizeof(cut), "%.19s\xE2\x80\xA6", name);
            name = cut;
        }
        /* printf pads bytes: the ellipsis is 3 bytes in 1 column */
        fit(out, width, "%-*s %-8s %7lld %7lld %7lld %6lld %7.0f%% %9s %6s  %s%s%s", name == cut ? 22 : 20, name,
            json_string_value(json_object_get(o, "tier")), (long long)json_integer_value(json_object_get(o, "ready")),
            (long long)json_integer_value(json_object_get(o, "delayed")),
            (long long)json_integer_value(json_object_get(o, "leased")),
            (long long)json_integer_value(json_object_get(o, "dead")),
            100 * json_real_value(json_object_get(o, "fraction")), rate, conc, why, reason && *reason ? ": " : "",
            reason ? reason : "");
    }
}

/* The human rendering of status_json, each line cut to "width" columns (0:
 * never cut). */
static void status_table(json_t *root, FILE *out, int width) {
    size_t i;
    json_t *o;
    classes_table(root, out, width);
    fputc('\n', out);
    fit(out, width, "%-20s %12s %12s %10s %-5s %8s", "SIGNAL", "VALUE", "TARGET", "AGE", "STALE", "PRESSURE");
    json_array_foreach(json_object_get(root, "signals"), i, o) {
        char v[32], t[32], age[32] = "-", p[32] = "-";
        json_t *a = json_object_get(o, "age_ms"), *pr = json_object_get(o, "pressure");
        if (json_is_integer(a)) ctl_duration(json_integer_value(a), age, sizeof(age));
        if (json_is_number(pr)) snprintf(p, sizeof(p), "%.2f", json_number_value(pr));
        fit(out, width, "%-20s %12s %12s %10s %-5s %8s", json_string_value(json_object_get(o, "name")),
            num_or_dash(json_object_get(o, "value"), v, sizeof(v)),
            num_or_dash(json_object_get(o, "target"), t, sizeof(t)), age,
            json_is_true(json_object_get(o, "stale")) ? "yes" : "no", p);
    }
    json_t *g = json_object_get(root, "governor");
    const char *leader = json_string_value(json_object_get(g, "leader"));
    char tb[40], words[1024];
    fputc('\n', out);
    fit(out, width, "governor: leader %s, epoch %lld, mode %s, %lld ticks (last %s)", leader ? leader : "(none)",
        (long long)json_integer_value(json_object_get(g, "epoch")), json_string_value(json_object_get(g, "mode")),
        (long long)json_integer_value(json_object_get(g, "ticks")),
        ctl_time(json_integer_value(json_object_get(g, "last_tick")), tb, sizeof(tb)));
    json_t *d = json_object_get(g, "last_decision");
    fit(out, width, "last decision: %s",
        ctl_decision_words(json_is_object(d) ? d : NULL, json_integer_value(json_object_get(root, "now")), words,
                           sizeof(words)));
}

int status_print(ctl *x, FILE *out, int width) {
    int code = EXIT_OK;
    json_t *root = status_json(x, &code);
    if (!root) return code;
    if (x->json) {
        json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', out);
    } else {
        status_table(root, out, width);
    }
    json_decref(root);
    return EXIT_OK;
}

int cmd_status(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos;
    if (ctl_args("status", argc, argv, NULL, 0, pos, 0, &npos) < 0) return EXIT_USAGE;
    return status_print(x, stdout, 0);
}

/* -------------------------------- top -------------------------------- */

static volatile sig_atomic_t stop;
static struct termios saved;
static int raw_on;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void raw_restore(void) {
    if (raw_on) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        raw_on = 0;
        fputs("\033[?25h", stdout); /* cursor back */
        fflush(stdout);
    }
}

/* Raw-ish input: no echo, no line buffering; signals still arrive (ISIG)
 * so Ctrl-C reaches on_signal, which restores the terminal on the way out. */
static void raw_enter(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0) return;
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) raw_on = 1;
    atexit(raw_restore);
}

/* Waits up to ms for a key; returns 1 when q was pressed. */
static int wait_key(int ms) {
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int64_t deadline = ms;
    while (deadline > 0 && !stop) {
        int r = poll(raw_on ? &p : NULL, raw_on ? 1 : 0, 100);
        if (r > 0 && raw_on) {
            char ch;
            if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q')) return 1;
        } else if (r < 0 && errno != EINTR) {
            return 0;
        }
        deadline -= 100;
    }
    return 0;
}

/* The terminal's width in columns, else $COLUMNS, else 0 (no limit). */
static int terminal_width(void) {
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    int64_t cols = 0;
    const char *env = getenv("COLUMNS");
    if (env && sluice_parse_int(env, 1, 10000, &cols, NULL) == 0) return (int)cols;
    return 0;
}

int cmd_top(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--iterations", 1, NULL}, {"--wide", 0, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("top", argc, argv, opts, NOPTS(opts), pos, 0, &npos) < 0) return EXIT_USAGE;
    int64_t iterations = 0;
    if (opts[0].val && sluice_parse_int(opts[0].val, 1, 1000000000, &iterations, NULL) < 0)
        return ctl_usage("top", "--iterations: invalid integer '%s' (1..1000000000)", opts[0].val);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int tty = isatty(STDOUT_FILENO);
    if (tty) {
        raw_enter();
        fputs("\033[?25l", stdout);
    }
    for (int64_t i = 0; !stop && (iterations == 0 || i < iterations); i++) {
        if (tty)
            fputs("\033[H\033[2J", stdout);
        else if (i > 0)
            fputs("\n", stdout);
        if (tty && !x->json) {
            char tb[40];
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            printf("sluice top   %s   (q quits)\n\n", ctl_time((int64_t)ts.tv_sec * 1000, tb, sizeof(tb)));
        }
        code = status_print(x, stdout, opts[1].val ? 0 : terminal_width());
        fflush(stdout);
        if (code != EXIT_OK) break;
        if (iterations && i + 1 >= iterations) break;
        if (wait_key(1000)) break;
    }
    if (tty) raw_restore();
    return code;
}
