/* Samplers: the governor leader's own signal collectors. A command sampler
 * runs a command every interval (execve, never a shell, in its own process
 * group, stdin /dev/null, killed with its group at the timeout) and reports
 * the one number it prints; a disk sampler reads a diskstats file and
 * reports iostat's util, iops or await over the interval. A run that
 * fails, prints anything but one number, or hangs reports nothing (never
 * zero): its signal goes stale and the governor follows its on_stale.
 *
 * Samplers run only in the worker whose governor holds the lease, so a
 * fleet samples once. Children are reaped with ev_child on libev's default
 * loop, as exec handlers are. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "sluice.h"
#include "diskstats.h"
#include "program.h"

#define SIGNAL_VAR_MAX 96 /* "SLUICE_SIGNAL=" and a 64-byte name */

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#define OUT_MAX 255              /* bytes of stdout a sampler may print */
#define ERR_KEEP 200             /* bytes of stderr kept for the log line */
#define INTERVAL_MIN 100         /* ms */
#define INTERVAL_MAX 86400000    /* ms, a day */
#define TIMEOUT_MIN 10           /* ms */
#define TIMEOUT_DEFAULT 10000    /* ms, or the interval when shorter */
#define RELOG_EVERY 60.0         /* s between lines about a sampler that keeps failing */
#define FIRST_RUN 1.2            /* s after start: just after the governor's first tick */
#define DISKSTATS_MAX (1 << 20)  /* bytes */


typedef struct sampler {
    struct sampler_set *set;
    sampler_spec spec;
    ev_timer every;
    /* the run in progress (pid 0: none) */
    pid_t pid;
    int out_fd, err_fd;
    char out[OUT_MAX + 1];
    size_t out_len;
    int out_over;
    char err[ERR_KEEP + 1];
    size_t err_len;
    int timed_out;
    ev_io out_w, err_w;
    ev_child child_w;
    ev_timer timeout_w;
    /* a disk sampler's previous reading */
    int have_prev;
    sluice_diskstats prev;
    double prev_ms;              /* CLOCK_MONOTONIC */
    /* failures are logged once, then every RELOG_EVERY while they go on */
    int failing;
    int64_t streak;
    double last_log;
    sampler_stat stat;
} sampler;

struct sampler_set {
    sluice_worker *w;
    char *url, *ns;
    sluice_client *c;
    sluice_worker_log_fn log;
    void *log_ud;
    sampler *s[SAMPLER_MAX];
    size_t n;
};

/* --------------------------- configuration --------------------------- */

void sampler_spec_clear(sampler_spec *s) {
    exec_spec_free(s->cmd);
    memset(s, 0, sizeof(*s));
}

static int64_t default_timeout(int64_t interval_ms) {
    return interval_ms < TIMEOUT_DEFAULT ? interval_ms : TIMEOUT_DEFAULT;
}

static int command_ok(char *const *argv, int argc, char *why, size_t wn) {
    if (argc < 1 || !argv[0][0]) { snprintf(why, wn, "a sampler command is empty"); return -1; }
    if (!strchr(argv[0], '/')) {
        snprintf(why, wn, "a sampler command must be a path (no PATH search): %.100s", argv[0]);
        return -1;
    }
    return 0;
}

static int device_ok(const char *d) {
    size_t n = strlen(d);
    if (n == 0 || n >= 64) return 0;
    for (const char *p = d; *p; p++)
        if (*p <= ' ' || *p == '/' || *p == 0x7f) return 0;
    return 1;
}

/* A sampler's "command" and "timeout" (to: NULL if none) into *out. 0 or -1 with why. */
static int command_from_json(const json_t *cmd, const json_t *to, sampler_spec *out, char *why, size_t wn) {
    char *argv[256];
    int argc = config_command(cmd, argv);
    if (argc < 0) {
        snprintf(why, wn, "config: sampler %s: command arguments must be strings", out->signal);
        return -1;
    }
    if (argc == 0) {
        snprintf(why, wn, "config: sampler %s: \"command\" must be a path or an array", out->signal);
        return -1;
    }
    if (command_ok(argv, argc, why, wn) < 0) return -1;
    out->timeout_ms = default_timeout(out->interval_ms);
    if (to && config_duration(to, TIMEOUT_MIN, out->interval_ms, &out->timeout_ms) < 0) {
        snprintf(why, wn, "config: sampler %s: \"timeout\" must be a duration from 10ms to its interval",
                 out->signal);
        return -1;
    }
    out->cmd = exec_spec_new(argv, argc);
    if (!out->cmd) { snprintf(why, wn, "out of memory"); return -1; }
    return 0;
}

/* A sampler's "diskstats" into *out; "timeout" (to) must be NULL. 0 or -1 with why. */
static int diskstats_from_json(const json_t *disk, const json_t *to, sampler_spec *out, char *why, size_t wn) {
    const char *key;
    json_t *x;
    if (to) {
        snprintf(why, wn, "config: sampler %s: \"timeout\" is for command samplers", out->signal);
        return -1;
    }
    if (!json_is_object(disk)) {
        snprintf(why, wn, "config: sampler %s: \"diskstats\" must be an object", out->signal);
        return -1;
    }
    json_object_foreach((json_t *)disk, key, x) {
        if (strcmp(key, "device") && strcmp(key, "measure") && strcmp(key, "path")) {
            snprintf(why, wn, "config: sampler %s: diskstats: unknown setting \"%.64s\"", out->signal, key);
            return -1;
        }
    }
    const json_t *dev = json_object_get(disk, "device"), *meas = json_object_get(disk, "measure"),
                 *path = json_object_get(disk, "path");
    if (!json_is_string(dev) || !device_ok(json_string_value(dev))) {
        snprintf(why, wn, "config: sampler %s: diskstats \"device\" must be a device name such as \"vda\"",
                 out->signal);
        return -1;
    }
    if (!json_is_string(meas) || sluice_disk_measure_parse(json_string_value(meas), &out->measure) < 0) {
        snprintf(why, wn, "config: sampler %s: diskstats \"measure\" must be util, iops or await", out->signal);
        return -1;
    }
    if (path && (!json_is_string(path) || json_string_value(path)[0] != '/' ||
                 strlen(json_string_value(path)) >= sizeof(out->path))) {
        snprintf(why, wn, "config: sampler %s: diskstats \"path\" must be an absolute path", out->signal);
        return -1;
    }
    snprintf(out->device, sizeof(out->device), "%s", json_string_value(dev));
    snprintf(out->path, sizeof(out->path), "%s", path ? json_string_value(path) : "/proc/diskstats");
    return 0;
}

int sampler_spec_from_json(const json_t *v, sampler_spec *out, char *why, size_t wn) {
    memset(out, 0, sizeof(*out));
    if (!json_is_object(v)) { snprintf(why, wn, "config: each sampler must be an object"); return -1; }
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)v, key, x) {
        if (strcmp(key, "signal") && strcmp(key, "command") && strcmp(key, "diskstats") &&
            strcmp(key, "interval") && strcmp(key, "timeout")) {
            snprintf(why, wn, "config: sampler: unknown setting \"%.64s\"", key);
            return -1;
        }
    }
    const json_t *sig = json_object_get(v, "signal");
    if (!json_is_string(sig) || sluice_name_check(json_string_value(sig), NULL) < 0) {
        snprintf(why, wn, "config: sampler: \"signal\" must be a signal name (^[a-z0-9][a-z0-9_.-]{0,63}$)");
        return -1;
    }
    snprintf(out->signal, sizeof(out->signal), "%s", json_string_value(sig));
    const json_t *iv = json_object_get(v, "interval");
    if (!iv || config_duration(iv, INTERVAL_MIN, INTERVAL_MAX, &out->interval_ms) < 0) {
        snprintf(why, wn, "config: sampler %s: \"interval\" must be a duration 100ms..1d such as \"10s\"",
                 out->signal);
        return -1;
    }
    const json_t *cmd = json_object_get(v, "command"), *disk = json_object_get(v, "diskstats");
    const json_t *to = json_object_get(v, "timeout");
    if (!!cmd == !!disk) {
        snprintf(why, wn, "config: sampler %s needs either \"command\" or \"diskstats\"", out->signal);
        return -1;
    }
    return cmd ? command_from_json(cmd, to, out, why, wn) : diskstats_from_json(disk, to, out, why, wn);
}

int sampler_spec_from_arg(const char *arg, char *const *argv, int argc, sampler_spec *out, char *why,
                          size_t wn) {
    memset(out, 0, sizeof(*out));
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon) {
        snprintf(why, wn, "--sampler wants SIGNAL=INTERVAL:COMMAND [ARG...], got: %.100s", arg);
        return -1;
    }
    if ((size_t)(eq - arg) >= sizeof(out->signal)) { snprintf(why, wn, "signal name too long in --sampler"); return -1; }
    memcpy(out->signal, arg, (size_t)(eq - arg));
    out->signal[eq - arg] = '\0';
    if (sluice_name_check(out->signal, NULL) < 0) {
        snprintf(why, wn, "bad signal name in --sampler: %.64s", out->signal);
        return -1;
    }
    char iv[64];
    if ((size_t)(colon - eq - 1) >= sizeof(iv)) { snprintf(why, wn, "--sampler %s: bad interval", out->signal); return -1; }
    memcpy(iv, eq + 1, (size_t)(colon - eq - 1));
    iv[colon - eq - 1] = '\0';
    if (sluice_parse_duration(iv, INTERVAL_MAX, &out->interval_ms, NULL) < 0 || out->interval_ms < INTERVAL_MIN) {
        snprintf(why, wn, "--sampler %s: the interval must be a duration 100ms..1d such as 10s, got %.32s",
                 out->signal, iv);
        return -1;
    }
    char *av[257];
    int ac = 0;
    av[ac++] = (char *)(colon + 1);
    for (int i = 0; i < argc && ac < 256; i++) av[ac++] = argv[i];
    if (command_ok(av, ac, why, wn) < 0) return -1;
    out->timeout_ms = default_timeout(out->interval_ms);
    out->cmd = exec_spec_new(av, ac);
    if (!out->cmd) { snprintf(why, wn, "out of memory"); return -1; }
    return 0;
}

/* ------------------------------ logging ------------------------------ */

static void say(sampler_set *set, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sampler_set *set, const char *fmt, ...) {
    if (!set->log) return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sluice_worker_event ev = {.event = "sampler", .duration_ms = -1, .message = msg};
    set->log(&ev, set->log_ud);
}

/* The run reported nothing: counted, and one log line (then one a minute
 * while the sampler keeps failing). */
static void failed(sampler *s, const char *why) {
    s->stat.failures++;
    s->streak++;
    double now = ev_now(EV_DEFAULT);
    if (!s->failing) {
        say(s->set, "signal %s: %s; nothing reported (the signal goes stale)", s->spec.signal, why);
        s->last_log = now;
    } else if (now - s->last_log >= RELOG_EVERY) {
        say(s->set, "signal %s: %s; still nothing reported (%lld runs failed in a row)", s->spec.signal, why,
            (long long)s->streak);
        s->last_log = now;
    }
    s->failing = 1;
}

static void report(sampler *s, double value) {
    sampler_set *set = s->set;
    sluice_error err;
    if (!set->c) {
        set->c = sluice_client_connect(set->url, set->ns, &err);
        if (set->c) sluice_client_set_timeout(set->c, 1000, NULL);
    }
    if (set->c && sluice_signal_report(set->c, s->spec.signal, value, 0, &err) == 0) {
        s->stat.reported++;
        if (s->failing) say(set, "signal %s: reporting again (%.6g)", s->spec.signal, value);
        s->failing = 0;
        s->streak = 0;
        return;
    }
    if (set->c && err.code == SLUICE_ERR_UNREACHABLE) { sluice_client_free(set->c); set->c = NULL; }
    char why[SLUICE_ERROR_TEXT + 80];
    if (err.code == SLUICE_ERR_NOT_FOUND)
        snprintf(why, sizeof(why), "the signal is not defined (sluicectl signal define %s ...)", s->spec.signal);
    else
        snprintf(why, sizeof(why), "cannot report %.6g: %s", value, err.text);
    failed(s, why);
}

/* --------------------------- disk samplers --------------------------- */

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static char *read_file(const char *path, char *why, size_t wn) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(why, wn, "cannot open %.200s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 == cap) {
            if (cap >= DISKSTATS_MAX) { snprintf(why, wn, "%.200s is too large", path); break; }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { snprintf(why, wn, "cannot read %.200s: %s", path, strerror(errno)); break; }
        if (n == 0) {
            buf[len] = '\0';
            close(fd);
            return buf;
        }
        len += (size_t)n;
    }
    if (!buf) snprintf(why, wn, "out of memory");
    free(buf);
    close(fd);
    return NULL;
}

static void disk_run(sampler *s) {
    char why[300];
    s->stat.runs++;
    char *text = read_file(s->spec.path, why, sizeof(why));
    double t = mono_ms();
    sluice_diskstats now;
    sluice_error err;
    if (!text) { s->have_prev = 0; failed(s, why); return; }
    int rc = sluice_diskstats_parse(text, s->spec.device, &now, &err);
    free(text);
    if (rc < 0) { s->have_prev = 0; failed(s, err.text); return; }
    if (!s->have_prev) {
        /* the first reading only starts the interval */
        s->prev = now;
        s->prev_ms = t;
        s->have_prev = 1;
        return;
    }
    sluice_disk_rates r;
    rc = sluice_disk_rates_compute(&s->prev, &now, t - s->prev_ms, &r, &err);
    s->prev = now;
    s->prev_ms = t;
    if (rc < 0) { failed(s, err.text); return; }
    report(s, sluice_disk_rates_get(&r, s->spec.measure));
}

/* -------------------------- command samplers -------------------------- */

static void run_end(sampler *s) {
    struct ev_loop *loop = EV_DEFAULT;
    ev_io_stop(loop, &s->out_w);
    ev_io_stop(loop, &s->err_w);
    ev_child_stop(loop, &s->child_w);
    ev_timer_stop(loop, &s->timeout_w);
    if (s->out_fd >= 0) close(s->out_fd);
    if (s->err_fd >= 0) close(s->err_fd);
    s->out_fd = s->err_fd = -1;
    s->pid = 0;
}

/* Reads what is there; returns 1 at EOF (or error), 0 when it would block. */
static int drain(int fd, char *buf, size_t cap, size_t *len, int *over) {
    char tmp[512];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n > 0) {
            size_t k = (size_t)n;
            if (*len + k > cap) {
                if (over) *over = 1;
                k = cap - *len;
            }
            memcpy(buf + *len, tmp, k);
            *len += k;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return 1;
    }
}

static void out_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)revents;
    sampler *s = container_of(io, sampler, out_w);
    if (drain(s->out_fd, s->out, OUT_MAX, &s->out_len, &s->out_over)) ev_io_stop(loop, io);
}

static void err_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)revents;
    sampler *s = container_of(io, sampler, err_w);
    if (drain(s->err_fd, s->err, ERR_KEEP, &s->err_len, NULL)) ev_io_stop(loop, io);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sampler *s = container_of(t, sampler, timeout_w);
    s->timed_out = 1;
    kill(-s->pid, SIGKILL);
}

/* The first line of what the command wrote to stderr, printable, or "". */
static void err_line(const sampler *s, char *buf, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < s->err_len && k + 1 < n; i++) {
        char c = s->err[i];
        if (c == '\n') break;
        buf[k++] = (c < ' ' || c == 0x7f) ? ' ' : c;
    }
    buf[k] = '\0';
}

static void child_cb(struct ev_loop *loop, ev_child *cw, int revents) {
    (void)loop; (void)revents;
    sampler *s = container_of(cw, sampler, child_w);
    int status = cw->rstatus;
    kill(-s->pid, SIGKILL);   /* whatever it left behind in its group */
    if (s->out_fd >= 0) drain(s->out_fd, s->out, OUT_MAX, &s->out_len, &s->out_over);
    if (s->err_fd >= 0) drain(s->err_fd, s->err, ERR_KEEP, &s->err_len, NULL);
    int timed_out = s->timed_out;
    run_end(s);
    char why[400], line[ERR_KEEP + 1];
    err_line(s, line, sizeof(line));
    if (timed_out) {
        snprintf(why, sizeof(why), "%s timed out after %lld ms and was killed", s->spec.cmd->argv[0],
                 (long long)s->spec.timeout_ms);
        failed(s, why);
        return;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char st[48];
        if (WIFEXITED(status)) snprintf(st, sizeof(st), "exit status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) snprintf(st, sizeof(st), "killed by signal %d", WTERMSIG(status));
        else snprintf(st, sizeof(st), "ended abnormally");
        snprintf(why, sizeof(why), "%.100s: %s%s%.200s", s->spec.cmd->argv[0], st, line[0] ? ": " : "", line);
        failed(s, why);
        return;
    }
    /* exactly one number, and at most one newline after it */
    size_t n = s->out_len;
    s->out[n] = '\0';
    if (n > 0 && s->out[n - 1] == '\n') s->out[--n] = '\0';
    double v;
    if (s->out_over || memchr(s->out, '\0', n) ||
        sluice_parse_number(s->out, -1e300, 1e300, &v, NULL) < 0) {
        char shown[48];
        size_t k = 0;
        for (size_t i = 0; i < n && k + 1 < sizeof(shown); i++)
            shown[k++] = (s->out[i] < ' ' || s->out[i] == 0x7f) ? '?' : s->out[i];
        shown[k] = '\0';
        if (s->out_over) snprintf(why, sizeof(why), "%.100s printed more than %d bytes", s->spec.cmd->argv[0], OUT_MAX);
        else if (n == 0) snprintf(why, sizeof(why), "%.100s printed nothing", s->spec.cmd->argv[0]);
        else snprintf(why, sizeof(why), "%.100s printed no number: \"%s\"", s->spec.cmd->argv[0], shown);
        failed(s, why);
        return;
    }
    report(s, v);
}

/* Starts the command with SLUICE_SIGNAL naming the sampler's signal. */
static void command_run(sampler *s) {
    int out[2] = {-1, -1}, er[2] = {-1, -1}, devnull = -1;
    char var[SIGNAL_VAR_MAX];
    snprintf(var, sizeof(var), "SLUICE_SIGNAL=%s", s->spec.signal);
    const char *env[] = {var, NULL};
    if (pipe(out) < 0 || pipe(er) < 0 || (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
        fcntl(er[i], F_SETFD, FD_CLOEXEC);
    }
    pid_t pid = spawn_group(s->spec.cmd->argv, env, devnull, out[1], er[1]);
    if (pid < 0) goto fail;
    close(out[1]);
    close(er[1]);
    close(devnull);
    s->stat.runs++;
    s->pid = pid;
    s->out_fd = out[0];
    s->err_fd = er[0];
    s->out_len = s->err_len = 0;
    s->out_over = s->timed_out = 0;
    fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
    struct ev_loop *loop = EV_DEFAULT;
    ev_io_init(&s->out_w, out_cb, s->out_fd, EV_READ);
    ev_io_init(&s->err_w, err_cb, s->err_fd, EV_READ);
    ev_child_init(&s->child_w, child_cb, pid, 0);
    ev_timer_init(&s->timeout_w, timeout_cb, (double)s->spec.timeout_ms / 1000.0, 0.);
    ev_io_start(loop, &s->out_w);
    ev_io_start(loop, &s->err_w);
    ev_child_start(loop, &s->child_w);
    ev_timer_start(loop, &s->timeout_w);
    return;
fail:;
    char why[160];
    snprintf(why, sizeof(why), "could not start %.100s: %s", s->spec.cmd->argv[0], strerror(errno));
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (er[i] >= 0) close(er[i]);
    }
    if (devnull >= 0) close(devnull);
    s->stat.runs++;
    failed(s, why);
}

/* ------------------------------- the set ------------------------------ */

static void every_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop; (void)revents;
    sampler *s = container_of(t, sampler, every);
    if (!sluice_worker_governor_leading(s->set->w)) {
        s->have_prev = 0;   /* a leader's next disk reading starts afresh */
        return;
    }
    if (s->spec.cmd) {
        if (s->pid) return;   /* still running: its timeout is at most the interval */
        command_run(s);
    } else {
        disk_run(s);
    }
}

sampler_set *sampler_set_new(sluice_worker *w, const char *url, const char *ns, sluice_worker_log_fn log,
                             void *log_ud) {
    sampler_set *set = calloc(1, sizeof(*set));
    if (!set) return NULL;
    set->w = w;
    set->url = url ? strdup(url) : NULL;
    set->ns = ns ? strdup(ns) : NULL;
    if ((url && !set->url) || (ns && !set->ns)) {
        free(set->url);
        free(set->ns);
        free(set);
        return NULL;
    }
    set->log = log;
    set->log_ud = log_ud;
    return set;
}

int sampler_set_add(sampler_set *set, const sampler_spec *spec) {
    if (set->n == SAMPLER_MAX) return -1;
    sampler *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    s->set = set;
    s->spec = *spec;
    s->spec.cmd = NULL;
    if (spec->cmd && !(s->spec.cmd = exec_spec_new(spec->cmd->argv, spec->cmd->argc))) {
        free(s);
        return -1;
    }
    s->out_fd = s->err_fd = -1;
    snprintf(s->stat.signal, sizeof(s->stat.signal), "%s", spec->signal);
    double iv = (double)spec->interval_ms / 1000.0;
    ev_timer_init(&s->every, every_cb, iv < FIRST_RUN ? iv : FIRST_RUN, iv);
    set->s[set->n++] = s;
    return 0;
}

void sampler_set_start(sampler_set *set) {
    for (size_t i = 0; i < set->n; i++) ev_timer_start(EV_DEFAULT, &set->s[i]->every);
}

void sampler_set_free(sampler_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) {
        sampler *s = set->s[i];
        ev_timer_stop(EV_DEFAULT, &s->every);
        if (s->pid) {
            kill(-s->pid, SIGKILL);   /* libev's default loop reaps it */
            run_end(s);
        }
        sampler_spec_clear(&s->spec);
        free(s);
    }
    sluice_client_free(set->c);
    if (set->url) memset(set->url, 0, strlen(set->url));   /* the password */
    free(set->url);
    free(set->ns);
    free(set);
}

size_t sampler_set_stats(const sampler_set *set, sampler_stat *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; set && i < set->n && k < max; i++) out[k++] = set->s[i]->stat;
    return k;
}
