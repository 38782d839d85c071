/* sluice-worker: serves classes with exec handlers on the worker runtime.
 * Options and config file: see usage() below. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "sluice.h"
#include "sluice/worker.h"
#include "program.h"

#define MAX_HANDLERS 256
#define GRACE_MAX_MS 86400000 /* a day */

typedef struct handler {
    char cls[65];
    exec_spec *spec;
} handler;

typedef struct settings {
    const char *redis, *governor_redis, *ns, *config, *name, *log_format, *metrics_bind;
    int concurrency;          /* 0: unset */
    int64_t grace_ms;         /* -1: unset */
    int metrics_port;         /* -1: unset (no metrics) */
    int no_governor;
    handler h[MAX_HANDLERS];
    int nh;
    sampler_spec smp[SAMPLER_MAX];
    int nsmp;
} settings;

static int json_logs;
static sluice_worker *worker;
static settings cli, file;
static exec_spec *old_specs[4096];
static int n_old;
static int signals_seen;
static int64_t grace_ms = 30000;
static sampler_set *samplers;
static const char *redis_url, *redis_ns;
static const char *signals_url;   /* the governor's and samplers' Redis URL */

static void usage(FILE *f) {
    fprintf(f,
        "usage: sluice-worker [options] --handler CLASS=COMMAND [ARG...] [--] ...\n"
        "Runs jobs of the given classes with exec handlers (execve, never a shell).\n"
        "  --redis URL          redis://[user:pass@]host[:port][/db] or unix:///path\n"
        "                       (default: $SLUICE_REDIS_URL, else redis://127.0.0.1:6379)\n"
        "  --governor-redis URL the governor's and samplers' Redis URL, e.g. with the ACL\n"
        "                       governor role (default: $SLUICE_GOVERNOR_REDIS_URL, else\n"
        "                       the worker's)\n"
        "  --namespace NS       key prefix (default: $SLUICE_NAMESPACE, else sluice)\n"
        "  --config FILE        JSON settings: {\"handlers\": {\"CLASS\": [\"/path\", \"arg\"]},\n"
        "                       \"concurrency\": N, \"grace\": \"30s\", \"redis\": URL, \"namespace\": NS,\n"
        "                       \"governor_redis\": URL, \"governor\": false,\n"
        "                       \"name\": NAME, \"log_format\": \"json\", \"samplers\": [...],\n"
        "                       \"metrics_port\": PORT, \"metrics_bind\": ADDR}; SIGHUP re-reads\n"
        "                       handlers, samplers and concurrency; the command line wins\n"
        "  --concurrency N      jobs in flight at most (default 16)\n"
        "  --handler CLASS=COMMAND [ARG...]\n"
        "                       COMMAND is a path run with execve; its arguments end at the\n"
        "                       next argument starting with \"--\" (a lone \"--\" is dropped).\n"
        "                       The payload is on stdin; SLUICE_JOB_ID, SLUICE_JOB_CLASS and\n"
        "                       SLUICE_JOB_ATTEMPT in the environment. Exit 0 acks.\n"
        "  --grace DURATION     on SIGTERM/SIGINT, time for jobs in flight (default 30s;\n"
        "                       units ms, s, m, h, d); the rest is released. A second\n"
        "                       signal releases at once.\n"
        "  --log-format F       text (default) or json, one line per event on stderr\n"
        "  --name NAME          consumer name (default sluice-worker:HOST:PID)\n"
        "  --no-governor        do not run the governor in this worker (nor its samplers)\n"
        "  --sampler SIGNAL=INTERVAL:COMMAND [ARG...]\n"
        "                       while this worker's governor leads, run COMMAND (a path, execve)\n"
        "                       every INTERVAL (e.g. 10s; killed after min(INTERVAL, 10s)) and\n"
        "                       report the one number it prints as SIGNAL; arguments end as for\n"
        "                       --handler. Disk samplers and timeouts: config \"samplers\".\n"
        "  --metrics-port PORT  serve Prometheus metrics at http://ADDR:PORT/metrics (0: any port)\n"
        "  --metrics-bind ADDR  the address to serve them on (default 127.0.0.1)\n"
        "  --help               this text\n");
}

__attribute__((format(printf, 1, 2), noreturn))
static void misuse(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sluice-worker: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

/* ------------------------------- logs --------------------------------- */

static void stamp(char *buf, size_t n) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static void log_event(const sluice_worker_event *ev, void *ud) {
    (void)ud;
    char ts[40];
    stamp(ts, sizeof(ts));
    if (strcmp(ev->event, "decision") == 0 && ev->message) {
        /* the governor's decision is JSON already: one line, as an object */
        if (!json_logs) {
            fprintf(stderr, "%s decision %s\n", ts, ev->message);
            return;
        }
        json_t *d = json_loads(ev->message, 0, NULL);
        if (d) {
            json_t *o = json_pack("{s:s, s:s, s:o}", "time", ts, "event", "decision", "decision", d);
            char *line = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
            if (line) fprintf(stderr, "%s\n", line);
            free(line);
            json_decref(o);
            return;
        }
    }
    if (json_logs) {
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(ts));
        json_object_set_new(o, "event", json_string(ev->event));
        if (ev->job_id) json_object_set_new(o, "job", json_string(ev->job_id));
        if (ev->cls) json_object_set_new(o, "class", json_string(ev->cls));
        if (ev->attempt) json_object_set_new(o, "attempt", json_integer(ev->attempt));
        if (ev->duration_ms >= 0) json_object_set_new(o, "duration_ms", json_integer(ev->duration_ms));
        if (ev->message) {
            json_t *m = json_string(ev->message);
            if (!m) m = json_string("(not UTF-8)");
            json_object_set_new(o, "message", m);
        }
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) fprintf(stderr, "%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    char msg[1200] = "";
    if (ev->message) {
        /* one line: escape newlines and quotes */
        size_t k = 0;
        for (const char *p = ev->message; *p && k + 3 < sizeof(msg); p++) {
            if (*p == '\n') { msg[k++] = '\\'; msg[k++] = 'n'; }
            else if (*p == '"' || *p == '\\') { msg[k++] = '\\'; msg[k++] = *p; }
            else if ((unsigned char)*p < 0x20) msg[k++] = ' ';
            else msg[k++] = *p;
        }
        msg[k] = '\0';
    }
    fprintf(stderr, "%s %s", ts, ev->event);
    if (ev->job_id) fprintf(stderr, " job=%s class=%s attempt=%d", ev->job_id, ev->cls ? ev->cls : "", ev->attempt);
    if (ev->duration_ms >= 0) fprintf(stderr, " duration_ms=%lld", (long long)ev->duration_ms);
    if (ev->message) fprintf(stderr, " msg=\"%s\"", msg);
    fputc('\n', stderr);
}

static void log_msg(const char *event, const char *msg) {
    sluice_worker_event ev = {.event = event, .duration_ms = -1, .message = msg};
    log_event(&ev, NULL);
}

/* ---------------------------- parsing --------------------------------- */

/* A handler's command is a path to an executable regular file (checked
 * at start and at each reload: a typo must stop the worker, not drain the
 * queue into the dead set). Returns 0, or -1 with why. */
static int runnable(const char *cls, const char *path, char *why, size_t wn) {
    struct stat st;
    if (path[0] != '/' && !strchr(path, '/')) {
        snprintf(why, wn, "handler command must be a path (no PATH search): %s", path);
        return -1;
    }
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
        snprintf(why, wn, "handler for class %s cannot run %s: %s", cls, path,
                 errno ? strerror(errno) : "not a regular file");
        return -1;
    }
    return 0;
}

static int add_handler(settings *s, const char *cls, char *const *argv, int argc, char *why, size_t wn) {
    if (sluice_name_check(cls, NULL) < 0) { snprintf(why, wn, "bad class name in --handler: %s", cls); return -1; }
    if (argc < 1 || !argv[0][0]) { snprintf(why, wn, "--handler %s has no command", cls); return -1; }
    errno = 0;
    if (runnable(cls, argv[0], why, wn) < 0) return -1;
    for (int i = 0; i < s->nh; i++)
        if (strcmp(s->h[i].cls, cls) == 0) { snprintf(why, wn, "two handlers for class %s", cls); return -1; }
    if (s->nh == MAX_HANDLERS) { snprintf(why, wn, "too many handlers"); return -1; }
    exec_spec *sp = exec_spec_new(argv, argc);
    if (!sp) { snprintf(why, wn, "out of memory"); return -1; }
    snprintf(s->h[s->nh].cls, sizeof(s->h[0].cls), "%s", cls);
    s->h[s->nh].spec = sp;
    s->nh++;
    return 0;
}

static void clear_handlers(settings *s) {
    for (int i = 0; i < s->nh; i++) exec_spec_free(s->h[i].spec);
    s->nh = 0;
    for (int i = 0; i < s->nsmp; i++) sampler_spec_clear(&s->smp[i]);
    s->nsmp = 0;
}

/* Takes *sp (cleared on failure too). */
static int add_sampler(settings *s, sampler_spec *sp, char *why, size_t wn) {
    for (int i = 0; i < s->nsmp; i++)
        if (strcmp(s->smp[i].signal, sp->signal) == 0) {
            snprintf(why, wn, "two samplers for signal %s", sp->signal);
            sampler_spec_clear(sp);
            return -1;
        }
    if (s->nsmp == SAMPLER_MAX) {
        snprintf(why, wn, "too many samplers (at most %d)", SAMPLER_MAX);
        sampler_spec_clear(sp);
        return -1;
    }
    s->smp[s->nsmp++] = *sp;
    return 0;
}

/* Reads a config file into *s (fresh). Returns 0 or -1 with why. */
static int read_config(const char *path, settings *s, char *why, size_t wn) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    memset(s, 0, sizeof(*s));
    s->grace_ms = -1;
    s->metrics_port = -1;
    if (!root) { snprintf(why, wn, "config %s: line %d: %s", path, je.line, je.text); return -1; }
    int rc = -1;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) { snprintf(why, wn, "config %s: not a JSON object", path); goto out; }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "handlers") == 0) {
            if (!json_is_object(v)) { snprintf(why, wn, "config: handlers must be an object"); goto out; }
            const char *cls;
            json_t *cmd;
            json_object_foreach(v, cls, cmd) {
                char *argv[256];
                int argc = 0;
                if (json_is_string(cmd)) {
                    argv[argc++] = (char *)json_string_value(cmd);
                } else if (json_is_array(cmd) && json_array_size(cmd) > 0 && json_array_size(cmd) < 256) {
                    size_t i;
                    json_t *a;
                    json_array_foreach(cmd, i, a) {
                        if (!json_is_string(a)) { snprintf(why, wn, "config: handler %s: arguments must be strings", cls); goto out; }
                        argv[argc++] = (char *)json_string_value(a);
                    }
                } else {
                    snprintf(why, wn, "config: handler %s must be a path or an array", cls);
                    goto out;
                }
                if (add_handler(s, cls, argv, argc, why, wn) < 0) goto out;
            }
        } else if (strcmp(key, "concurrency") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000) {
                snprintf(why, wn, "config: concurrency must be an integer 1..10000"); goto out;
            }
            s->concurrency = (int)json_integer_value(v);
        } else if (strcmp(key, "grace") == 0) {
            if (config_duration(v, 0, GRACE_MAX_MS, &s->grace_ms) < 0) {
                snprintf(why, wn, "config: grace must be a duration with a unit, such as \"30s\" (not a bare number)");
                goto out;
            }
        } else if (strcmp(key, "samplers") == 0) {
            if (!json_is_array(v)) { snprintf(why, wn, "config: samplers must be an array"); goto out; }
            size_t i;
            json_t *a;
            json_array_foreach(v, i, a) {
                sampler_spec sp;
                if (sampler_spec_from_json(a, &sp, why, wn) < 0) { sampler_spec_clear(&sp); goto out; }
                if (add_sampler(s, &sp, why, wn) < 0) goto out;
            }
        } else if (strcmp(key, "metrics_port") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
                snprintf(why, wn, "config: metrics_port must be an integer 0..65535"); goto out;
            }
            s->metrics_port = (int)json_integer_value(v);
        } else if (strcmp(key, "redis") == 0 || strcmp(key, "governor_redis") == 0 ||
                   strcmp(key, "namespace") == 0 || strcmp(key, "name") == 0 ||
                   strcmp(key, "log_format") == 0 || strcmp(key, "metrics_bind") == 0) {
            if (!json_is_string(v)) { snprintf(why, wn, "config: %s must be a string", key); goto out; }
        } else if (strcmp(key, "governor") == 0) {
            if (!json_is_boolean(v)) { snprintf(why, wn, "config: governor must be true or false"); goto out; }
            s->no_governor = json_is_false(v);
        } else {
            snprintf(why, wn, "config: unknown setting \"%.64s\"", key);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc == 0) {
        /* strings live in static storage for the process's lifetime */
        static char redis[1024], gredis[1024], ns[256], name[128], lf[16], mb[64];
        json_t *x;
        if ((x = json_object_get(root, "redis"))) { snprintf(redis, sizeof(redis), "%s", json_string_value(x)); s->redis = redis; }
        if ((x = json_object_get(root, "governor_redis"))) {
            snprintf(gredis, sizeof(gredis), "%s", json_string_value(x));
            s->governor_redis = gredis;
        }
        if ((x = json_object_get(root, "namespace"))) { snprintf(ns, sizeof(ns), "%s", json_string_value(x)); s->ns = ns; }
        if ((x = json_object_get(root, "name"))) { snprintf(name, sizeof(name), "%s", json_string_value(x)); s->name = name; }
        if ((x = json_object_get(root, "log_format"))) { snprintf(lf, sizeof(lf), "%s", json_string_value(x)); s->log_format = lf; }
        if ((x = json_object_get(root, "metrics_bind"))) { snprintf(mb, sizeof(mb), "%s", json_string_value(x)); s->metrics_bind = mb; }
    } else {
        clear_handlers(s);
    }
    json_decref(root);
    return rc;
}

static void parse_args(int argc, char **argv, settings *s) {
    memset(s, 0, sizeof(*s));
    s->grace_ms = -1;
    s->metrics_port = -1;
    char why[300];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); exit(0); }
        else if (strcmp(a, "--no-governor") == 0) s->no_governor = 1;
        else if (strcmp(a, "--handler") == 0) {
            if (!val) misuse("%s needs CLASS=COMMAND", a);
            const char *eq = strchr(val, '=');
            if (!eq) misuse("--handler wants CLASS=COMMAND, got: %s", val);
            char cls[65];
            if ((size_t)(eq - val) >= sizeof(cls)) misuse("class name too long in --handler %s", val);
            memcpy(cls, val, (size_t)(eq - val));
            cls[eq - val] = '\0';
            char *hv[256];
            int hc = 0;
            hv[hc++] = (char *)(eq + 1);
            i += 2;
            while (i < argc && strncmp(argv[i], "--", 2) != 0) {
                if (hc == 255) misuse("too many arguments for handler %s", cls);
                hv[hc++] = argv[i++];
            }
            if (i < argc && strcmp(argv[i], "--") != 0) i--;   /* the next option */
            if (add_handler(s, cls, hv, hc, why, sizeof(why)) < 0) misuse("%s", why);
        } else if (strcmp(a, "--sampler") == 0) {
            if (!val) misuse("%s needs SIGNAL=INTERVAL:COMMAND", a);
            char *sv[256];
            int sc = 0;
            i += 2;
            while (i < argc && strncmp(argv[i], "--", 2) != 0) {
                if (sc == 255) misuse("too many arguments for a sampler");
                sv[sc++] = argv[i++];
            }
            if (i < argc && strcmp(argv[i], "--") != 0) i--;   /* the next option */
            sampler_spec sp;
            if (sampler_spec_from_arg(val, sv, sc, &sp, why, sizeof(why)) < 0) misuse("%s", why);
            if (add_sampler(s, &sp, why, sizeof(why)) < 0) misuse("%s", why);
        } else if (strcmp(a, "--") == 0) {
            continue;
        } else if (!val) {
            misuse("unknown option or missing value: %s", a);
        } else if (strcmp(a, "--redis") == 0) { s->redis = val; i++; }
        else if (strcmp(a, "--governor-redis") == 0) { s->governor_redis = val; i++; }
        else if (strcmp(a, "--namespace") == 0) { s->ns = val; i++; }
        else if (strcmp(a, "--config") == 0) { s->config = val; i++; }
        else if (strcmp(a, "--name") == 0) { s->name = val; i++; }
        else if (strcmp(a, "--metrics-bind") == 0) { s->metrics_bind = val; i++; }
        else if (strcmp(a, "--metrics-port") == 0) {
            if (sluice_parse_int(val, 0, 65535, &n) < 0) misuse("--metrics-port wants a port 0..65535, got %s", val);
            s->metrics_port = (int)n; i++;
        }
        else if (strcmp(a, "--log-format") == 0) {
            if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0) misuse("--log-format is text or json, not %s", val);
            s->log_format = val; i++;
        } else if (strcmp(a, "--concurrency") == 0) {
            if (sluice_parse_int(val, 1, 10000, &n) < 0) misuse("--concurrency wants an integer 1..10000, got %s", val);
            s->concurrency = (int)n; i++;
        } else if (strcmp(a, "--grace") == 0) {
            if (sluice_parse_duration(val, GRACE_MAX_MS, &s->grace_ms) < 0) misuse("--grace wants a duration such as 30s or 500ms, got %s", val);
            i++;
        } else {
            misuse("unknown option: %s", a);
        }
    }
}

/* ------------------------- applying settings ------------------------- */

static const exec_spec *find_spec(const settings *s, const char *cls) {
    for (int i = 0; i < s->nh; i++)
        if (strcmp(s->h[i].cls, cls) == 0) return s->h[i].spec;
    return NULL;
}

/* The handlers in force: the file's, with the command line's winning. */
static void apply_handlers(const settings *prev_file) {
    sluice_error err;
    for (int i = 0; i < cli.nh; i++)
        if (sluice_worker_handle(worker, cli.h[i].cls, exec_handler, cli.h[i].spec, &err) < 0)
            log_msg("error", err.text);
    for (int i = 0; i < file.nh; i++) {
        if (find_spec(&cli, file.h[i].cls)) continue;
        if (sluice_worker_handle(worker, file.h[i].cls, exec_handler, file.h[i].spec, &err) < 0)
            log_msg("error", err.text);
    }
    if (prev_file)
        for (int i = 0; i < prev_file->nh; i++)
            if (!find_spec(&cli, prev_file->h[i].cls) && !find_spec(&file, prev_file->h[i].cls))
                sluice_worker_unhandle(worker, prev_file->h[i].cls, NULL);
}

/* The samplers in force: the command line's, and the file's for the
 * signals the command line does not sample. Replaces the running set. */
static void apply_samplers(void) {
    sampler_set_free(samplers);
    samplers = NULL;
    if (cli.nsmp + file.nsmp == 0) return;
    samplers = sampler_set_new(worker, signals_url, redis_ns, log_event, NULL);
    if (!samplers) { log_msg("error", "samplers: out of memory"); return; }
    for (int i = 0; i < cli.nsmp; i++)
        if (sampler_set_add(samplers, &cli.smp[i]) < 0) log_msg("error", "samplers: out of memory");
    for (int i = 0; i < file.nsmp; i++) {
        int dup = 0;
        for (int k = 0; k < cli.nsmp; k++) dup |= strcmp(cli.smp[k].signal, file.smp[i].signal) == 0;
        if (!dup && sampler_set_add(samplers, &file.smp[i]) < 0) log_msg("error", "samplers: out of memory");
    }
    sampler_set_start(samplers);
}

static void collect(metrics_local *out, void *ud) {
    (void)ud;
    sluice_worker_stats_get(worker, &out->st);
    out->nsamplers = sampler_set_stats(samplers, out->samplers, SAMPLER_MAX);
}

/* What the command line and a config file must give together: something
 * to do. Returns 0, or -1 with why. */
static int settings_check(const settings *c, const settings *f, char *why, size_t wn) {
    if (c->nh + f->nh + c->nsmp + f->nsmp == 0) {
        snprintf(why, wn, "no handlers: give --handler CLASS=COMMAND or a --config file with \"handlers\"");
        return -1;
    }
    return 0;
}

static void reload(void) {
    settings next;
    char why[300];
    if (!cli.config) { log_msg("reload", "no --config file: nothing to reload"); return; }
    if (read_config(cli.config, &next, why, sizeof(why)) < 0 || settings_check(&cli, &next, why, sizeof(why)) < 0) {
        clear_handlers(&next);
        log_msg("error", why);
        log_msg("reload", "config rejected; keeping the running settings");
        return;
    }
    static settings prev;
    prev = file;
    file = next;
    apply_handlers(&prev);
    /* the old specs may still be in use by running children: keep them */
    for (int i = 0; i < prev.nh; i++) {
        if (n_old < (int)(sizeof(old_specs) / sizeof(old_specs[0]))) old_specs[n_old++] = prev.h[i].spec;
    }
    for (int i = 0; i < prev.nsmp; i++) sampler_spec_clear(&prev.smp[i]);
    prev.nsmp = 0;
    apply_samplers();
    if (!cli.concurrency && file.concurrency) sluice_worker_set_concurrency(worker, file.concurrency, NULL);
    if (cli.grace_ms < 0 && file.grace_ms >= 0) grace_ms = file.grace_ms;
    log_msg("reload", "config re-read");
}

/* ------------------------------ signals ------------------------------- */

static void stopped(sluice_worker *w, void *ud) {
    (void)w; (void)ud;
    ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)loop; (void)revents;
    signals_seen++;
    char msg[64];
    snprintf(msg, sizeof(msg), "signal %d: %s", s->signum, signals_seen == 1 ? "stopping" : "stopping at once");
    log_msg("signal", msg);
    sluice_worker_stop(worker, signals_seen == 1 ? grace_ms : 0, stopped, NULL);
}

static void on_hup(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)loop; (void)s; (void)revents;
    reload();
}

int main(int argc, char **argv) {
    parse_args(argc, argv, &cli);
    memset(&file, 0, sizeof(file));
    file.grace_ms = -1;
    file.metrics_port = -1;
    char why[300];
    if (cli.config && read_config(cli.config, &file, why, sizeof(why)) < 0) {
        fprintf(stderr, "sluice-worker: %s\n", why);
        return 2;
    }
    if (settings_check(&cli, &file, why, sizeof(why)) < 0) misuse("%s", why);
    if ((cli.metrics_bind || file.metrics_bind) && cli.metrics_port < 0 && file.metrics_port < 0)
        misuse("%s", "--metrics-bind needs --metrics-port (or \"metrics_port\")");
    const char *mb = cli.metrics_bind ? cli.metrics_bind : file.metrics_bind;
    unsigned char addr[16];
    if (mb && inet_pton(AF_INET, mb, addr) != 1 && inet_pton(AF_INET6, mb, addr) != 1)
        misuse("the metrics bind address must be an IPv4 or IPv6 address, not %s", mb);
    const char *lf = cli.log_format ? cli.log_format : file.log_format;
    if (lf && strcmp(lf, "json") == 0) json_logs = 1;
    else if (lf && strcmp(lf, "text") != 0) misuse("log_format is text or json, not %s", lf);
    if (cli.grace_ms >= 0) grace_ms = cli.grace_ms;
    else if (file.grace_ms >= 0) grace_ms = file.grace_ms;

    signal(SIGPIPE, SIG_IGN);
    struct ev_loop *loop = ev_default_loop(0);
    sluice_error err;
    redis_url = cli.redis ? cli.redis : file.redis;
    redis_ns = cli.ns ? cli.ns : file.ns;
    worker = sluice_worker_new(loop, redis_url, redis_ns, &err);
    if (!worker) { fprintf(stderr, "sluice-worker: %s\n", err.text); return 2; }
    sluice_worker_set_log(worker, log_event, NULL);
    const char *gurl = cli.governor_redis ? cli.governor_redis : file.governor_redis;
    if (!gurl) gurl = getenv("SLUICE_GOVERNOR_REDIS_URL");
    if (gurl && *gurl) {
        if (sluice_worker_set_governor_url(worker, gurl, &err) < 0) {
            fprintf(stderr, "sluice-worker: governor: %s\n", err.text);
            return 2;
        }
        signals_url = gurl;
    } else {
        signals_url = redis_url;
    }
    const char *name = cli.name ? cli.name : file.name;
    if (name) sluice_worker_set_name(worker, name);
    int conc = cli.concurrency ? cli.concurrency : file.concurrency ? file.concurrency : 16;
    sluice_worker_set_concurrency(worker, conc, NULL);
    apply_handlers(NULL);
    int governor = !cli.no_governor && !file.no_governor;
    if (governor) sluice_worker_host_governor(worker, 1, 1000, NULL);
    if (!governor && cli.nsmp + file.nsmp > 0)
        log_msg("sampler", "this worker runs no governor (--no-governor), so its samplers never run");
    apply_samplers();
    metrics_server *metrics = NULL;
    int mport = cli.metrics_port >= 0 ? cli.metrics_port : file.metrics_port;
    const char *mbind = cli.metrics_bind ? cli.metrics_bind : file.metrics_bind;
    if (mport >= 0) {
        int bound = 0;
        metrics = metrics_start(loop, redis_url, redis_ns, mbind, mport, collect, NULL, &bound, why, sizeof(why));
        if (!metrics) { fprintf(stderr, "sluice-worker: %s\n", why); return 1; }
        char msg[160];
        const char *b = mbind ? mbind : "127.0.0.1";
        snprintf(msg, sizeof(msg), strchr(b, ':') ? "serving http://[%s]:%d/metrics" : "serving http://%s:%d/metrics",
                 b, bound);
        log_msg("metrics", msg);
    }

    ev_signal sterm, sint, shup;
    ev_signal_init(&sterm, on_stop_signal, SIGTERM);
    ev_signal_init(&sint, on_stop_signal, SIGINT);
    ev_signal_init(&shup, on_hup, SIGHUP);
    ev_signal_start(loop, &sterm);
    ev_signal_start(loop, &sint);
    ev_signal_start(loop, &shup);

    if (sluice_worker_start(worker, &err) < 0) { fprintf(stderr, "sluice-worker: %s\n", err.text); return 1; }
    ev_run(loop, 0);

    ev_signal_stop(loop, &sterm);
    ev_signal_stop(loop, &sint);
    ev_signal_stop(loop, &shup);
    metrics_stop(metrics);
    sampler_set_free(samplers);
    sluice_worker_free(worker);
    exec_cleanup();
    clear_handlers(&cli);
    clear_handlers(&file);
    for (int i = 0; i < n_old; i++) exec_spec_free(old_specs[i]);
    ev_loop_destroy(loop);
    return 0;
}
