/* The Prometheus endpoint of sluice-worker: GET /metrics, served by
 * libmicrohttpd from its own thread. Each scrape reads classes, gates,
 * signals and the governor from Redis through a connection that only the
 * HTTP thread uses; what the worker counts itself is copied in twice a
 * second under a mutex, so the HTTP thread never touches the worker.
 * Metric names and meanings: docs/metrics.md. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ev.h>
#include <microhttpd.h>

#include "sluice.h"
#include "program.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

#define COLLECT_EVERY 0.5  /* s */
#define REDIS_TIMEOUT 1000 /* ms per command of a scrape */
#define CLASSES_MAX 1000   /* classes shown in one scrape */

struct metrics_server {
    struct MHD_Daemon *d;
    struct ev_loop *loop;
    ev_timer collect_t;
    metrics_collect_fn collect;
    void *collect_ud;
    pthread_mutex_t mu;
    metrics_local local; /* guarded by mu */
    /* used only from the HTTP thread */
    char *url, *ns;
    sluice_client *c;
};

/* ------------------------------- output ------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void out(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(buf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void family(buf *b, const char *name, const char *type, const char *help) {
    out(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped (names are checked against
 * ^[a-z0-9][a-z0-9_.-]{0,63}$ anyway). */
static const char *esc(const char *s, char *dst, size_t n) {
    size_t k = 0;
    for (; *s && k + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            dst[k++] = '\\';
            dst[k++] = *s;
        } else if (*s == '\n') {
            dst[k++] = '\\';
            dst[k++] = 'n';
        } else
            dst[k++] = *s;
    }
    dst[k] = '\0';
    return dst;
}

static void num(buf *b, double v) {
    if (isnan(v))
        out(b, "NaN");
    else if (isinf(v))
        out(b, v > 0 ? "+Inf" : "-Inf");
    else
        out(b, "%.15g", v); /* exact for counters below 1e15, and 0.1 stays 0.1 */
}

static void sample(buf *b, const char *name, const char *label, const char *value, double v) {
    char e[200];
    if (label)
        out(b, "%s{%s=\"%s\"} ", name, label, esc(value, e, sizeof(e)));
    else
        out(b, "%s ", name);
    num(b, v);
    out(b, "\n");
}

/* ------------------------------ scraping ------------------------------ */

#define TOP_KEYS 5 /* fairness keys a class shows, the ones with the most jobs waiting (sluice_top_keys) */

typedef struct class_row {
    char name[65];
    int have_st, have_gate, have_cfg;
    sluice_class_stats st;
    sluice_gate_info gate;
    sluice_class_config cfg;
    size_t nkeys; /* 0 also when the role may not read them */
    sluice_key_depth keys[TOP_KEYS];
} class_row;

typedef struct scrape {
    int redis_ok;
    class_row *cls;
    size_t ncls;
    sluice_signal_info *sig;
    size_t nsig;
    int64_t now; /* Unix ms, the Redis clock */
    int have_gov;
    sluice_governor_status gov;
} scrape;

/* Notes a failed read: a broken link ends this scrape (the client
 * reconnects on the next one). Returns 1 to go on. */
static int read_ok(scrape *sc, const sluice_error *err) {
    if (err->code == SLUICE_OK) return 1;
    /* a class deleted since the list was read is no failure */
    if (err->code == SLUICE_ERR_UNKNOWN_CLASS || err->code == SLUICE_ERR_NOT_FOUND) return 1;
    sc->redis_ok = 0;
    return err->code != SLUICE_ERR_UNREACHABLE && err->code != SLUICE_ERR_AUTH;
}

static void read_redis(metrics_server *m, scrape *sc) {
    sluice_error err;
    sc->redis_ok = 1;
    if (!m->c) {
        m->c = sluice_client_connect(m->url, m->ns, &err);
        if (!m->c) {
            sc->redis_ok = 0;
            return;
        }
        sluice_client_set_timeout(m->c, REDIS_TIMEOUT, NULL);
    }
    size_t n = 0;
    char **names = sluice_class_list(m->c, &n, &err);
    if (!names && !read_ok(sc, &err)) return;
    if (n > CLASSES_MAX) n = CLASSES_MAX;
    sc->cls = n ? calloc(n, sizeof(*sc->cls)) : NULL;
    int go = 1;
    for (size_t i = 0; sc->cls && i < n && go; i++) {
        class_row *r = &sc->cls[sc->ncls++];
        snprintf(r->name, sizeof(r->name), "%s", names[i]);
        r->have_st = sluice_class_stats_get(m->c, r->name, &r->st, &err) == 0;
        if (!r->have_st && !(go = read_ok(sc, &err))) break;
        r->have_gate = sluice_gate_get(m->c, r->name, &r->gate, &err) == 0;
        if (!r->have_gate && !(go = read_ok(sc, &err))) break;
        r->have_cfg = sluice_class_get(m->c, r->name, &r->cfg, &err) == 0;
        if (!r->have_cfg && !(go = read_ok(sc, &err))) break;
        /* optional: a role that may not read them shows none, and the rest stands */
        if (sluice_top_keys(m->c, r->name, TOP_KEYS, r->keys, &r->nkeys, &err) < 0 &&
            (err.code == SLUICE_ERR_UNREACHABLE || err.code == SLUICE_ERR_AUTH))
            go = read_ok(sc, &err);
    }
    sluice_class_list_free(names, n);
    if (!go) return;
    sc->sig = sluice_signal_list(m->c, &sc->nsig, &sc->now, &err);
    if (!sc->sig && !read_ok(sc, &err)) return;
    sc->have_gov = sluice_governor_status_get(m->c, &sc->gov, &err) == 0;
    if (!sc->have_gov) read_ok(sc, &err);
}

/* ------------------------------ families ------------------------------ */

typedef enum { F_DEPTH, F_TOTAL, F_GATE } class_src;

typedef struct class_metric {
    const char *name, *type, *help;
    size_t off; /* offsetof in sluice_class_stats, or a gate code */
} class_metric;

#define ST(f) offsetof(sluice_class_stats, f)
static const class_metric depths[] = {
    {"sluice_class_ready", "gauge", "Jobs ready to be claimed.", ST(ready)},
    {"sluice_class_delayed", "gauge", "Jobs waiting for their due time (delays and retry backoff).", ST(delayed)},
    {"sluice_class_in_flight", "gauge", "Jobs leased to workers, fleet-wide.", ST(leased)},
    {"sluice_class_dead", "gauge", "Jobs in the dead set.", ST(dead)},
};
static const class_metric totals[] = {
    {"sluice_class_enqueued_total", "counter", "Jobs enqueued.", ST(enqueued)},
    {"sluice_class_claimed_total", "counter", "Attempts started (jobs claimed).", ST(claimed)},
    {"sluice_class_acked_total", "counter", "Jobs acknowledged as done.", ST(acked)},
    {"sluice_class_failed_total", "counter", "Attempts failed by their handler.", ST(failed)},
    {"sluice_class_retried_total", "counter", "Failed attempts scheduled for a retry.", ST(retried)},
    {"sluice_class_died_total", "counter", "Jobs moved to the dead set.", ST(died)},
    {"sluice_class_reclaimed_total", "counter", "Expired leases reclaimed.", ST(reclaimed)},
    {"sluice_class_released_total", "counter", "Jobs handed back untried by a stopping worker.", ST(released)},
    {"sluice_class_cancelled_total", "counter", "Waiting jobs cancelled.", ST(cancelled)},
    {"sluice_class_dead_dropped_total", "counter", "Dead jobs dropped by the dead set cap.", ST(dead_dropped)},
    {"sluice_class_purged_total", "counter", "Dead jobs deleted by an operator.", ST(purged)},
    {"sluice_class_late_starts_total", "counter", "First starts that came after the job's start_by.", ST(late)},
    {"sluice_class_expired_total", "counter", "Jobs dead-lettered because they were not started by their start_by.",
     ST(expired)},
    {"sluice_class_throttled_claims_total", "counter",
     "Claims answered \"throttled\" by the class's gate (the jobs only waited).", ST(throttled)},
};
#undef ST

static double stat_at(const sluice_class_stats *st, size_t off) {
    return (double)*(const int64_t *)(const void *)((const char *)st + off);
}

static void class_families(buf *b, const scrape *sc) {
    char e[200];
    family(b, "sluice_class_info", "gauge", "A declared class, with its tier as a label; always 1.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_cfg)
            out(b, "sluice_class_info{class=\"%s\",tier=\"%s\"} 1\n", esc(sc->cls[i].name, e, sizeof(e)),
                sluice_tier_name(sc->cls[i].cfg.tier));
    for (size_t k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
        family(b, depths[k].name, depths[k].type, depths[k].help);
        for (size_t i = 0; i < sc->ncls; i++)
            if (sc->cls[i].have_st)
                sample(b, depths[k].name, "class", sc->cls[i].name, stat_at(&sc->cls[i].st, depths[k].off));
    }
    for (size_t k = 0; k < sizeof(totals) / sizeof(totals[0]); k++) {
        family(b, totals[k].name, totals[k].type, totals[k].help);
        for (size_t i = 0; i < sc->ncls; i++)
            if (sc->cls[i].have_st)
                sample(b, totals[k].name, "class", sc->cls[i].name, stat_at(&sc->cls[i].st, totals[k].off));
    }
    static const struct {
        const char *name, *help;
        size_t off; /* offsetof in sluice_key_depth */
    } key_metrics[] = {
        {"sluice_class_key_waiting",
         "Jobs waiting (ready or delayed) of the fairness keys of a class with the most, at most 5 a class.",
         offsetof(sluice_key_depth, waiting)},
        {"sluice_class_key_running", "Jobs leased of those fairness keys.", offsetof(sluice_key_depth, running)},
    };
    for (size_t m = 0; m < sizeof(key_metrics) / sizeof(key_metrics[0]); m++) {
        family(b, key_metrics[m].name, "gauge", key_metrics[m].help);
        for (size_t i = 0; i < sc->ncls; i++) {
            char k[2 * SLUICE_KEY_MAX + 4];
            for (size_t j = 0; j < sc->cls[i].nkeys; j++) {
                const sluice_key_depth *d = &sc->cls[i].keys[j];
                out(b, "%s{class=\"%s\",key=\"%s\"} ", key_metrics[m].name, esc(sc->cls[i].name, e, sizeof(e)),
                    esc(d->key, k, sizeof(k)));
                num(b, (double)*(const int64_t *)(const void *)((const char *)d + key_metrics[m].off));
                out(b, "\n");
            }
        }
    }
    family(b, "sluice_class_admitted_fraction", "gauge",
           "The share of its limits a class is admitted now (governor, pin or pause), 0..1.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_gate)
            sample(b, "sluice_class_admitted_fraction", "class", sc->cls[i].name,
                   sc->cls[i].gate.paused ? 0.0 : sc->cls[i].gate.fraction);
    family(b, "sluice_class_floor", "gauge", "The fraction a class keeps under any pressure, 0..1.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_cfg) sample(b, "sluice_class_floor", "class", sc->cls[i].name, sc->cls[i].cfg.floor);
    family(b, "sluice_class_effective_rate", "gauge",
           "Cost units per second the gate admits now; 0 when the class has no rate limit.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_gate)
            sample(b, "sluice_class_effective_rate", "class", sc->cls[i].name, sc->cls[i].gate.effective_rate);
    family(b, "sluice_class_effective_concurrency", "gauge",
           "Jobs in flight the gate admits now, fleet-wide; 0 when there is no limit.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_gate)
            sample(b, "sluice_class_effective_concurrency", "class", sc->cls[i].name,
                   (double)sc->cls[i].gate.effective_concurrency);
    family(b, "sluice_class_paused", "gauge", "1 while an operator has paused the class.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_gate) sample(b, "sluice_class_paused", "class", sc->cls[i].name, sc->cls[i].gate.paused);
    family(b, "sluice_class_pinned", "gauge", "1 while an operator has pinned the admitted fraction.");
    for (size_t i = 0; i < sc->ncls; i++)
        if (sc->cls[i].have_gate) sample(b, "sluice_class_pinned", "class", sc->cls[i].name, sc->cls[i].gate.pinned);
}

static double pressure(const sluice_signal_info *s) {
    return 1.0 + (s->value - s->def.target) / (s->def.critical - s->def.target);
}

static void signal_families(buf *b, const scrape *sc) {
    family(b, "sluice_signal_value", "gauge", "The last value reported for the signal (absent until one is).");
    for (size_t i = 0; i < sc->nsig; i++)
        if (sc->sig[i].has_value) sample(b, "sluice_signal_value", "signal", sc->sig[i].name, sc->sig[i].value);
    family(b, "sluice_signal_target", "gauge", "Where the signal should be.");
    for (size_t i = 0; i < sc->nsig; i++)
        sample(b, "sluice_signal_target", "signal", sc->sig[i].name, sc->sig[i].def.target);
    family(b, "sluice_signal_critical", "gauge", "The level at which every non-critical class drops to its floor.");
    for (size_t i = 0; i < sc->nsig; i++)
        sample(b, "sluice_signal_critical", "signal", sc->sig[i].name, sc->sig[i].def.critical);
    family(b, "sluice_signal_pressure", "gauge",
           "The last value against target and critical: 1 at target, 2 at critical, either direction.");
    for (size_t i = 0; i < sc->nsig; i++)
        if (sc->sig[i].has_value) sample(b, "sluice_signal_pressure", "signal", sc->sig[i].name, pressure(&sc->sig[i]));
    family(b, "sluice_signal_age_seconds", "gauge", "Seconds since the last value was observed (Redis clock).");
    for (size_t i = 0; i < sc->nsig; i++)
        if (sc->sig[i].has_value)
            sample(b, "sluice_signal_age_seconds", "signal", sc->sig[i].name, (double)sc->sig[i].age_ms / 1000.0);
    family(b, "sluice_signal_stale_after_seconds", "gauge", "Age at which a value is stale.");
    for (size_t i = 0; i < sc->nsig; i++)
        sample(b, "sluice_signal_stale_after_seconds", "signal", sc->sig[i].name,
               (double)sc->sig[i].def.stale_after_ms / 1000.0);
    family(b, "sluice_signal_stale", "gauge",
           "1 when the signal has no value or it is older than stale_after; the governor applies on_stale.");
    for (size_t i = 0; i < sc->nsig; i++) sample(b, "sluice_signal_stale", "signal", sc->sig[i].name, sc->sig[i].stale);
}

static void governor_families(buf *b, const scrape *sc, const metrics_local *l) {
    family(b, "sluice_governor_leader", "gauge", "1 if the governor hosted by this worker leads the fleet.");
    sample(b, "sluice_governor_leader", NULL, NULL, l->st.governor_leader);
    family(b, "sluice_governor_hosted", "gauge", "1 if this worker hosts a governor (not --no-governor).");
    sample(b, "sluice_governor_hosted", NULL, NULL, l->st.governor_hosted);
    family(b, "sluice_governor_worker_ticks_total", "counter",
           "Governor ticks this worker ran, leading or standing by.");
    sample(b, "sluice_governor_worker_ticks_total", NULL, NULL, (double)l->st.governor_ticks);
    family(b, "sluice_governor_tick_failures_total", "counter",
           "Ticks of this worker's governor that failed (Redis unreachable, refused by the ACL, ...).");
    sample(b, "sluice_governor_tick_failures_total", NULL, NULL, (double)l->st.governor_failures);
    family(b, "sluice_governor_decisions_total", "counter",
           "Decisions this worker's governor made while leading, by action.");
    sample(b, "sluice_governor_decisions_total", "action", "hold", (double)l->st.governor_holds);
    sample(b, "sluice_governor_decisions_total", "action", "cut", (double)l->st.governor_cuts);
    sample(b, "sluice_governor_decisions_total", "action", "critical", (double)l->st.governor_criticals);
    sample(b, "sluice_governor_decisions_total", "action", "raise", (double)l->st.governor_raises);
    if (!sc->have_gov) return;
    family(b, "sluice_governor_mode", "gauge", "The governor mode: 1 for the mode in force.");
    const sluice_governor_mode modes[3] = {SLUICE_GOVERNOR_ENFORCE, SLUICE_GOVERNOR_SHADOW, SLUICE_GOVERNOR_OFF};
    for (int i = 0; i < 3; i++)
        sample(b, "sluice_governor_mode", "mode", sluice_governor_mode_name(modes[i]), sc->gov.mode == modes[i]);
    family(b, "sluice_governor_ticks_total", "counter", "Ticks committed by the fleet's governor (stored in Redis).");
    sample(b, "sluice_governor_ticks_total", NULL, NULL, (double)sc->gov.ticks);
    family(b, "sluice_governor_epoch", "gauge", "The lease epoch: it rises at every change of leader.");
    sample(b, "sluice_governor_epoch", NULL, NULL, (double)sc->gov.epoch);
    family(b, "sluice_governor_has_leader", "gauge", "1 while some process holds a live governor lease.");
    sample(b, "sluice_governor_has_leader", NULL, NULL, sc->gov.leader[0] != '\0');
    if (sc->gov.last_tick > 0) {
        family(b, "sluice_governor_last_tick_age_seconds", "gauge", "Seconds since the last committed tick.");
        sample(b, "sluice_governor_last_tick_age_seconds", NULL, NULL,
               (double)(sc->gov.now - sc->gov.last_tick) / 1000.0);
    }
}

static void worker_families(buf *b, const metrics_local *l) {
    static const struct {
        const char *name, *help;
        size_t off;
    } c[] = {
        {"sluice_worker_claimed_total", "Jobs this worker claimed.", offsetof(sluice_worker_stats, claimed)},
        {"sluice_worker_acked_total", "Jobs this worker acknowledged.", offsetof(sluice_worker_stats, acked)},
        {"sluice_worker_failed_total", "Attempts that failed in this worker (timeouts included).",
         offsetof(sluice_worker_stats, failed)},
        {"sluice_worker_released_total", "Jobs this worker handed back untried when stopping.",
         offsetof(sluice_worker_stats, released)},
        {"sluice_worker_stale_total", "Acks or fails refused because the lease had been lost.",
         offsetof(sluice_worker_stats, stale)},
        {"sluice_worker_reconnects_total", "Reconnections to Redis after an outage.",
         offsetof(sluice_worker_stats, reconnects)},
        {"sluice_worker_suspects_total", "Suspect jobs (their lease expired before) this worker ran alone.",
         offsetof(sluice_worker_stats, suspects)},
        {"sluice_worker_unrunnable_total", "Jobs released untried because their handler could not run.",
         offsetof(sluice_worker_stats, unrunnable)},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        family(b, c[i].name, "counter", c[i].help);
        sample(b, c[i].name, NULL, NULL, (double)*(const int64_t *)(const void *)((const char *)&l->st + c[i].off));
    }
    family(b, "sluice_worker_in_flight", "gauge", "Jobs running in this worker.");
    sample(b, "sluice_worker_in_flight", NULL, NULL, l->st.in_flight);
    family(b, "sluice_worker_classes_held", "gauge",
           "Classes this worker does not claim because their handler cannot run (retried after a backoff).");
    sample(b, "sluice_worker_classes_held", NULL, NULL, l->st.classes_held);
    family(b, "sluice_sampler_runs_total", "counter", "Sampler runs, while this worker led the governor.");
    for (size_t i = 0; i < l->nsamplers; i++)
        sample(b, "sluice_sampler_runs_total", "signal", l->samplers[i].signal, (double)l->samplers[i].runs);
    family(b, "sluice_sampler_reported_total", "counter", "Values samplers reported.");
    for (size_t i = 0; i < l->nsamplers; i++)
        sample(b, "sluice_sampler_reported_total", "signal", l->samplers[i].signal, (double)l->samplers[i].reported);
    family(b, "sluice_sampler_failures_total", "counter",
           "Sampler runs that reported nothing (failed, garbage, timeout, or the report failed).");
    for (size_t i = 0; i < l->nsamplers; i++)
        sample(b, "sluice_sampler_failures_total", "signal", l->samplers[i].signal, (double)l->samplers[i].failures);
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The exposition text of one scrape: NEW, or NULL when out of memory. */
static char *render(metrics_server *m, size_t *len) {
    double t0 = mono();
    metrics_local l;
    pthread_mutex_lock(&m->mu);
    l = m->local;
    pthread_mutex_unlock(&m->mu);
    scrape sc;
    memset(&sc, 0, sizeof(sc));
    read_redis(m, &sc);
    buf b = {0};
    class_families(&b, &sc);
    signal_families(&b, &sc);
    governor_families(&b, &sc, &l);
    worker_families(&b, &l);
    family(&b, "sluice_redis_up", "gauge", "1 if every read of this scrape from Redis succeeded.");
    sample(&b, "sluice_redis_up", NULL, NULL, sc.redis_ok);
    family(&b, "sluice_scrape_duration_seconds", "gauge", "Time this scrape took.");
    sample(&b, "sluice_scrape_duration_seconds", NULL, NULL, mono() - t0);
    free(sc.cls);
    sluice_signal_list_free(sc.sig, sc.nsig);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ------------------------------ HTTP ------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
                             int owned) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    (void)upload;
    metrics_server *m = cls;
    static int first;
    if (*con_cls != &first) { /* headers only so far: wait for the whole request */
        *con_cls = &first;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    } /* a body is ignored */
    static char not_found[] = "not found: metrics are at /metrics\n";
    static char bad_method[] = "method not allowed\n";
    static char failed[] = "out of memory\n";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad_method, strlen(bad_method), 0);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, strlen(not_found), 0);
    size_t len = 0;
    char *text = render(m, &len);
    if (!text) return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", failed, strlen(failed), 0);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len, 1);
}

/* ------------------------------- API -------------------------------- */

static void collect_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    metrics_server *m = container_of(t, metrics_server, collect_t);
    metrics_local l;
    memset(&l, 0, sizeof(l));
    m->collect(&l, m->collect_ud);
    pthread_mutex_lock(&m->mu);
    m->local = l;
    pthread_mutex_unlock(&m->mu);
}

metrics_server *metrics_start(struct ev_loop *loop, const char *url, const char *ns, const char *bind, int port,
                              metrics_collect_fn collect, void *ud, int *bound_port, char *why, size_t wn) {
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (port < 0 || port > 65535) {
        snprintf(why, wn, "metrics port must be 0..65535");
        return NULL;
    }
    if (!bind) bind = "127.0.0.1";
    if (inet_pton(AF_INET, bind, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, bind, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(why, wn, "metrics bind address must be an IPv4 or IPv6 address, got %.64s", bind);
        return NULL;
    }
    metrics_server *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(why, wn, "out of memory");
        return NULL;
    }
    m->url = url ? strdup(url) : NULL;
    m->ns = ns ? strdup(ns) : NULL;
    m->loop = loop;
    m->collect = collect;
    m->collect_ud = ud;
    pthread_mutex_init(&m->mu, NULL);
    collect(&m->local, ud);
    m->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_END);
    if (!m->d) {
        snprintf(why, wn, "cannot serve metrics on %.64s port %d (in use, or not an address of this host?)", bind,
                 port);
        metrics_stop(m);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    if (bound_port) *bound_port = info ? (int)info->port : port;
    ev_timer_init(&m->collect_t, collect_cb, COLLECT_EVERY, COLLECT_EVERY);
    ev_timer_start(loop, &m->collect_t);
    return m;
}

void metrics_stop(metrics_server *m) {
    if (!m) return;
    if (m->d) {
        MHD_stop_daemon(m->d);
        ev_timer_stop(m->loop, &m->collect_t);
    }
    sluice_client_free(m->c);
    pthread_mutex_destroy(&m->mu);
    if (m->url) memset(m->url, 0, strlen(m->url)); /* the password */
    free(m->url);
    free(m->ns);
    free(m);
}
