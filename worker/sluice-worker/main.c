/* sluice-worker: serves classes with exec handlers on the worker runtime.
 * Options and config file: see config_usage() below. */
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

static int json_logs;
static sluice_worker *worker;
static settings cli, file;
static exec_spec *old_specs[4096];
static int n_old;
static int signals_seen;
static int64_t grace_ms = 30000;
static sampler_set *samplers;
static const char *redis_url, *redis_ns;
static const char *signals_url; /* the governor's and samplers' Redis URL */

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
            if (*p == '\n') {
                msg[k++] = '\\';
                msg[k++] = 'n';
            } else if (*p == '"' || *p == '\\') {
                msg[k++] = '\\';
                msg[k++] = *p;
            } else if ((unsigned char)*p < 0x20)
                msg[k++] = ' ';
            else
                msg[k++] = *p;
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
    if (!samplers) {
        log_msg("error", "samplers: out of memory");
        return;
    }
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

static void reload(void) {
    settings next;
    char why[300];
    if (!cli.config) {
        log_msg("reload", "no --config file: nothing to reload");
        return;
    }
    if (config_read(cli.config, &next, why, sizeof(why)) < 0 || config_check(&cli, &next, why, sizeof(why)) < 0) {
        config_clear(&next);
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
    (void)w;
    (void)ud;
    ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)loop;
    (void)revents;
    signals_seen++;
    char msg[64];
    snprintf(msg, sizeof(msg), "signal %d: %s", s->signum, signals_seen == 1 ? "stopping" : "stopping at once");
    log_msg("signal", msg);
    sluice_worker_stop(worker, signals_seen == 1 ? grace_ms : 0, stopped, NULL);
}

static void on_hup(struct ev_loop *loop, ev_signal *s, int revents) {
    (void)loop;
    (void)s;
    (void)revents;
    reload();
}

/* ------------------------------ start --------------------------------- */

/* Checks what the command line and the config file give together and takes
 * the log format and the grace from them; exits 2 on misuse. */
static void settle_settings(void) {
    char why[300];
    if (config_check(&cli, &file, why, sizeof(why)) < 0) config_misuse("%s", why);
    if ((cli.metrics_bind || file.metrics_bind) && cli.metrics_port < 0 && file.metrics_port < 0)
        config_misuse("%s", "--metrics-bind needs --metrics-port (or \"metrics_port\")");
    const char *mb = cli.metrics_bind ? cli.metrics_bind : file.metrics_bind;
    unsigned char addr[16];
    if (mb && inet_pton(AF_INET, mb, addr) != 1 && inet_pton(AF_INET6, mb, addr) != 1)
        config_misuse("the metrics bind address must be an IPv4 or IPv6 address, not %s", mb);
    const char *lf = cli.log_format ? cli.log_format : file.log_format;
    if (lf && strcmp(lf, "json") == 0)
        json_logs = 1;
    else if (lf && strcmp(lf, "text") != 0)
        config_misuse("log_format is text or json, not %s", lf);
    if (cli.grace_ms >= 0)
        grace_ms = cli.grace_ms;
    else if (file.grace_ms >= 0)
        grace_ms = file.grace_ms;
}

/* The governor role's URL (--governor-redis, the config file, then
 * SLUICE_GOVERNOR_REDIS_URL), or NULL when none is given. */
static const char *governor_url(void) {
    const char *u = cli.governor_redis ? cli.governor_redis : file.governor_redis;
    if (!u) u = getenv("SLUICE_GOVERNOR_REDIS_URL");
    return u && *u ? u : NULL;
}

/* Makes the worker on "loop" with its Redis URLs, name, concurrency,
 * handlers, governor and samplers. Returns 0, or -1 after printing why. */
static int make_worker(struct ev_loop *loop) {
    sluice_error err;
    redis_url = cli.redis ? cli.redis : file.redis;
    redis_ns = cli.ns ? cli.ns : file.ns;
    worker = sluice_worker_new(loop, redis_url, redis_ns, &err);
    if (!worker) {
        fprintf(stderr, "sluice-worker: %s\n", err.text);
        return -1;
    }
    sluice_worker_set_log(worker, log_event, NULL);
    const char *gurl = governor_url();
    if (gurl) {
        if (sluice_worker_set_governor_url(worker, gurl, &err) < 0) {
            fprintf(stderr, "sluice-worker: governor: %s\n", err.text);
            return -1;
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
    return 0;
}

/* Serves the metrics on "loop" when a port is set; they are read with the
 * governor role's URL when one is given (the worker role cannot list the
 * classes and signals), else with the worker's. *metrics is the server
 * (NULL if none). Returns 0, or -1 after printing why. */
static int serve_metrics(struct ev_loop *loop, metrics_server **metrics) {
    char why[300];
    int mport = cli.metrics_port >= 0 ? cli.metrics_port : file.metrics_port;
    const char *mbind = cli.metrics_bind ? cli.metrics_bind : file.metrics_bind;
    *metrics = NULL;
    if (mport < 0) return 0;
    int bound = 0;
    const char *url = governor_url() ? governor_url() : redis_url;
    *metrics = metrics_start(loop, url, redis_ns, mbind, mport, collect, NULL, &bound, why, sizeof(why));
    if (!*metrics) {
        fprintf(stderr, "sluice-worker: %s\n", why);
        return -1;
    }
    char msg[160];
    const char *b = mbind ? mbind : "127.0.0.1";
    snprintf(msg, sizeof(msg), strchr(b, ':') ? "serving http://[%s]:%d/metrics" : "serving http://%s:%d/metrics", b,
             bound);
    log_msg("metrics", msg);
    return 0;
}

int main(int argc, char **argv) {
    config_parse_args(argc, argv, &cli);
    memset(&file, 0, sizeof(file));
    file.grace_ms = -1;
    file.metrics_port = -1;
    char why[300];
    if (cli.config && config_read(cli.config, &file, why, sizeof(why)) < 0) {
        fprintf(stderr, "sluice-worker: %s\n", why);
        return 2;
    }
    settle_settings();

    signal(SIGPIPE, SIG_IGN);
    struct ev_loop *loop = ev_default_loop(0);
    sluice_error err;
    if (make_worker(loop) < 0) return 2;
    metrics_server *metrics;
    if (serve_metrics(loop, &metrics) < 0) return 1;

    ev_signal sterm, sint, shup;
    ev_signal_init(&sterm, on_stop_signal, SIGTERM);
    ev_signal_init(&sint, on_stop_signal, SIGINT);
    ev_signal_init(&shup, on_hup, SIGHUP);
    ev_signal_start(loop, &sterm);
    ev_signal_start(loop, &sint);
    ev_signal_start(loop, &shup);

    if (sluice_worker_start(worker, &err) < 0) {
        fprintf(stderr, "sluice-worker: %s\n", err.text);
        return 1;
    }
    ev_run(loop, 0);

    ev_signal_stop(loop, &sterm);
    ev_signal_stop(loop, &sint);
    ev_signal_stop(loop, &shup);
    metrics_stop(metrics);
    sampler_set_free(samplers);
    sluice_worker_free(worker);
    exec_cleanup();
    config_clear(&cli);
    config_clear(&file);
    for (int i = 0; i < n_old; i++) exec_spec_free(old_specs[i]);
    ev_loop_destroy(loop);
    return 0;
}
