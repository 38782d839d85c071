/* sluice-proof: the program behind `make proof` (scripts/proof.sh): it
 * enqueues the background backlog, reads the classes' counters, shows a run
 * live and turns the three runs' logs into the summary, the acceptance lines
 * and the plot's data. Redis and the namespace come from SLUICE_REDIS_URL and
 * SLUICE_NAMESPACE.
 *
 *   sluice-proof enqueue CLASS N [CLASS N ...]   N jobs of each class ("{}")
 *   sluice-proof stats CLASS...                  the classes' counters and the
 *                                                signal's levels, key=value
 *   sluice-proof watch DIR                       every second a row of
 *                                                DIR/watch.csv (gates, done,
 *                                                pg_load); every 5 s a line on
 *                                                stdout with the interactive
 *                                                latency read from DIR/int-*
 *   sluice-proof report [--json FILE] BASELINE UNTHROTTLED SLUICE
 *                                                the summary; exit 1 when an
 *                                                acceptance line is not met
 *
 * A run's directory holds meta.txt (key=value: t0, rise_t, peak_t, end_t,
 * the schedule, the database's capacity it was sized from (capacity_tps,
 * empty with a fixed --peak-rate), how busy the machine was, the counters
 * from `stats`),
 * pgbench's per-transaction logs int-base.* and int-surge* ("client txn
 * latency_us script epoch_s us lag_us"), done.csv (one row per job the
 * database recorded: class, epoch s, runs) and watch.csv. A transaction
 * belongs to the phase its scheduled start falls in (completion - latency;
 * with --rate pgbench measures latency from the schedule, so a slow database
 * also delays the transactions behind it), a job to the phase its
 * transaction committed in. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <sluice.h>

#include "../samples.h"

#define NCLS 2
#define SIGNAL "pg_load"
#define NPHASE 4
#define BUCKET_S 5 /* s: the plot's and the live view's window */
#define MAXFILES 16

static const char *const cls_names[NCLS] = {"imports", "reports"};
static const char *const phase_names[NPHASE] = {"calm", "rise", "peak", "calm"};
enum { CALM1, RISE, PEAK, CALM2 };

/* ------------------------------ helpers ------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice-proof: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sluice_client *connect_or_die(void) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(NULL, NULL, &err);
    if (!c) die("connect: %s", err.text);
    sluice_client_set_name(c, "sluice-proof", NULL);
    return c;
}

static int class_index(const char *name) {
    for (int i = 0; i < NCLS; i++)
        if (!strcmp(name, cls_names[i])) return i;
    return -1;
}

/* ---------------------------- key=value files ------------------------- */

#define MAXKV 96
typedef struct kv {
    char k[MAXKV][48];
    char v[MAXKV][48];
    int n;
} kv;

static void kv_load(const char *path, kv *m) {
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    char line[160];
    m->n = 0;
    while (m->n < MAXKV && fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        eq[1 + strcspn(eq + 1, "\n")] = '\0';
        snprintf(m->k[m->n], sizeof(m->k[0]), "%.47s", line);
        snprintf(m->v[m->n], sizeof(m->v[0]), "%.47s", eq + 1);
        m->n++;
    }
    fclose(f);
}

/* The value of "key" (the last one written), or NaN when absent. */
static double kv_num(const kv *m, const char *key) {
    for (int i = m->n - 1; i >= 0; i--)
        if (!strcmp(m->k[i], key)) return strtod(m->v[i], NULL);
    return NAN;
}

static double kv_need(const kv *m, const char *key, const char *path) {
    double v = kv_num(m, key);
    if (isnan(v)) die("%s: no %s", path, key);
    return v;
}

/* ------------------------------- enqueue ------------------------------ */

static int cmd_enqueue(int argc, char **argv) {
    if (argc < 4 || argc % 2) {
        fprintf(stderr, "usage: sluice-proof enqueue CLASS N [CLASS N ...]\n");
        return 2;
    }
    for (int a = 3; a < argc; a += 2) {
        int64_t n;
        sluice_error err;
        if (sluice_parse_int(argv[a], 1, 1000000, &n, &err) < 0) {
            fprintf(stderr, "sluice-proof: enqueue: N: %s\n", err.text);
            return 2;
        }
    }
    sluice_client *c = connect_or_die();
    for (int a = 2; a + 1 < argc; a += 2) {
        int64_t n;
        sluice_parse_int(argv[a + 1], 1, 1000000, &n, NULL); /* checked above */
        const char **payloads = malloc((size_t)n * sizeof(*payloads));
        if (!payloads) die("out of memory");
        for (size_t i = 0; i < (size_t)n; i++) payloads[i] = "{}";
        size_t done = 0;
        sluice_error err;
        if (sluice_enqueue_many(c, argv[a], (size_t)n, payloads, NULL, 0, NULL, &done, &err) < 0)
            die("enqueue %s: %s (%zu of %lld enqueued)", argv[a], err.text, done, (long long)n);
        free(payloads);
        printf("enqueued %zu jobs of %s\n", done, argv[a]);
    }
    sluice_client_free(c);
    return 0;
}

/* -------------------------------- stats ------------------------------- */

static int cmd_stats(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sluice-proof stats CLASS...\n");
        return 2;
    }
    sluice_client *c = connect_or_die();
    sluice_error err;
    for (int a = 2; a < argc; a++) {
        sluice_class_stats st;
        if (sluice_class_stats_get(c, argv[a], &st, &err) < 0) die("stats %s: %s", argv[a], err.text);
        const char *cl = argv[a];
        printf("enqueued.%s=%lld\nacked.%s=%lld\ncancelled.%s=%lld\nready.%s=%lld\ndelayed.%s=%lld\n"
               "leased.%s=%lld\ndead.%s=%lld\nretried.%s=%lld\nreclaimed.%s=%lld\n",
               cl, (long long)st.enqueued, cl, (long long)st.acked, cl, (long long)st.cancelled, cl,
               (long long)st.ready, cl, (long long)st.delayed, cl, (long long)st.leased, cl, (long long)st.dead, cl,
               (long long)st.retried, cl, (long long)st.reclaimed);
    }
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, &err);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, SIGNAL))
            printf("signal_target=%g\nsignal_critical=%g\n", s[i].def.target, s[i].def.critical);
    sluice_signal_list_free(s, n);
    sluice_client_free(c);
    return 0;
}

/* ---------------------------- pgbench logs ---------------------------- */

typedef struct txn {
    double start, lat_ms;
} txn;
typedef struct tvec {
    txn *v;
    size_t n, cap;
} tvec;

static void tpush(tvec *t, double start, double lat_ms) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->v = realloc(t->v, t->cap * sizeof(*t->v));
        if (!t->v) die("out of memory");
    }
    t->v[t->n++] = (txn){start, lat_ms};
}

/* One line of a pgbench log into *t; a failed or skipped transaction (no
 * latency) counts in *bad, any other line is ignored. */
static void parse_txn(const char *line, tvec *t, long *bad) {
    long client, no, script;
    char lat[32];
    long long epoch, us;
    if (sscanf(line, "%ld %ld %31s %ld %lld %lld", &client, &no, lat, &script, &epoch, &us) != 6) return;
    char *end;
    double lat_us = strtod(lat, &end);
    if (*end || !isfinite(lat_us)) {
        (*bad)++;
        return;
    }
    double done = (double)epoch + (double)us / 1e6;
    tpush(t, done - lat_us / 1e6, lat_us / 1000.0);
}

/* The pgbench logs in "dir" (files named int-*), read from where the last
 * call stopped: complete lines only. */
typedef struct logset {
    char path[MAXFILES][512];
    long off[MAXFILES];
    int n;
} logset;

static void logs_read(const char *dir, logset *ls, tvec *t, long *bad) {
    DIR *d = opendir(dir);
    if (!d) die("%s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "int-", 4) != 0) continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int k = 0;
        while (k < ls->n && strcmp(ls->path[k], path)) k++;
        if (k == ls->n) {
            if (ls->n == MAXFILES) continue;
            snprintf(ls->path[ls->n], sizeof(ls->path[0]), "%s", path);
            ls->off[ls->n++] = 0;
        }
    }
    closedir(d);
    for (int k = 0; k < ls->n; k++) {
        FILE *f = fopen(ls->path[k], "r");
        if (!f) continue;
        fseek(f, ls->off[k], SEEK_SET);
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            size_t len = strlen(line);
            if (len == 0 || line[len - 1] != '\n') break; /* a line pgbench is still writing */
            ls->off[k] += (long)len;
            parse_txn(line, t, bad);
        }
        fclose(f);
    }
}

/* -------------------------------- watch ------------------------------- */

static volatile sig_atomic_t stop_sig;
static void on_signal(int sig) {
    stop_sig = sig;
}

typedef struct gauges {
    double frac[NCLS];
    int64_t acked[NCLS];
    double signal; /* NaN: no value */
} gauges;

static void read_gauges(sluice_client *c, gauges *g) {
    sluice_error err;
    for (int i = 0; i < NCLS; i++) {
        sluice_gate_info gate;
        sluice_class_stats st;
        g->frac[i] = sluice_gate_get(c, cls_names[i], &gate, &err) == 0 ? gate.fraction : NAN;
        g->acked[i] = sluice_class_stats_get(c, cls_names[i], &st, &err) == 0 ? st.acked : -1;
    }
    g->signal = NAN;
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, &err);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, SIGNAL) && s[i].has_value && !s[i].stale) g->signal = s[i].value;
    sluice_signal_list_free(s, n);
}

/* The machine's CPU ticks from /proc/stat: busy (user, nice, system, irq,
 * softirq, steal) and idle (idle, iowait). Returns 0, or -1. */
static int cpu_ticks(double *busy, double *idle) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    double v[8];
    int n = fscanf(f, "cpu %lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8) return -1;
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *idle = v[3] + v[4];
    return 0;
}

static const char *phase_of(const kv *meta, double t) {
    double calm = kv_num(meta, "calm_s"), rise = kv_num(meta, "rise_s"), peak = kv_num(meta, "peak_s");
    return t < calm ? "calm" : t < calm + rise ? "rise" : t < calm + rise + peak ? "PEAK" : "calm";
}

static int cmd_watch(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: sluice-proof watch DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    char path[600];
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    kv meta;
    kv_load(path, &meta);
    const char *run = "";
    for (int i = 0; i < meta.n; i++)
        if (!strcmp(meta.k[i], "run")) run = meta.v[i];
    double t0 = kv_need(&meta, "t0", path);
    snprintf(path, sizeof(path), "%s/watch.csv", dir);
    FILE *csv = fopen(path, "w");
    if (!csv) die("%s: %s", path, strerror(errno));
    fprintf(csv, "t,frac_%s,frac_%s,acked_%s,acked_%s,%s,cpu_busy\n", cls_names[0], cls_names[1], cls_names[0],
            cls_names[1], SIGNAL);
    double busy0 = 0, idle0 = 0;
    int have_cpu = cpu_ticks(&busy0, &idle0) == 0;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sluice_client *c = connect_or_die();
    logset ls = {.n = 0};
    tvec t = {0};
    long bad = 0;
    gauges g0;
    read_gauges(c, &g0);
    long next = 1;
    while (!stop_sig) {
        double el = now_s() - t0;
        if (el < (double)next) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        gauges g;
        read_gauges(c, &g);
        double busy, idle, cpu = NAN; /* the whole machine's busy share in the last second */
        if (cpu_ticks(&busy, &idle) == 0) {
            if (have_cpu && busy + idle > busy0 + idle0) cpu = (busy - busy0) / (busy + idle - busy0 - idle0);
            busy0 = busy, idle0 = idle, have_cpu = 1;
        }
        fprintf(csv, "%.3f,%.4f,%.4f,%lld,%lld,%.4f,%.4f\n", el, g.frac[0], g.frac[1], (long long)g.acked[0],
                (long long)g.acked[1], g.signal, cpu);
        fflush(csv);
        if (next % BUCKET_S == 0) {
            /* the transactions scheduled in the last window (their log
             * lines arrive as pgbench flushes its buffer) */
            logs_read(dir, &ls, &t, &bad);
            dvec lat = {0};
            double from = t0 + (double)(next - BUCKET_S) - 1, to = from + BUCKET_S;
            for (size_t i = 0; i < t.n; i++)
                if (t.v[i].start >= from && t.v[i].start < to) dpush(&lat, t.v[i].lat_ms);
            size_t n = lat.n;
            double p50 = quantile(lat.v, lat.n, 0.5), p99 = quantile(lat.v, lat.n, 0.99);
            free(lat.v);
            /* keep only what a later window can still need */
            size_t k = 0;
            for (size_t i = 0; i < t.n; i++)
                if (t.v[i].start >= to) t.v[k++] = t.v[i];
            t.n = k;
            char sig[32] = "-";
            if (!isnan(g.signal)) snprintf(sig, sizeof(sig), "%.2f", g.signal);
            printf("  %-11s %4lds %-4s | interactive %5.0f tps p50 %6.1f ms p99 %7.1f ms"
                   " | done %s %+3lld %s %+3lld | admitted %.2f %.2f | %s %s\n",
                   run, next, phase_of(&meta, el - 1), (double)n / BUCKET_S, p50, p99, cls_names[0],
                   (long long)(g.acked[0] - g0.acked[0]), cls_names[1], (long long)(g.acked[1] - g0.acked[1]),
                   g.frac[0], g.frac[1], SIGNAL, sig);
            fflush(stdout);
            g0 = g;
        }
        next++;
    }
    free(t.v);
    fclose(csv);
    sluice_client_free(c);
    return 0;
}

/* -------------------------------- report ------------------------------ */

typedef struct phase {
    double from, to; /* s since t0 */
    size_t txns;
    double p50, p99; /* ms */
    long done[NCLS]; /* jobs recorded by the database */
    double signal;   /* the median of the signal's per-second readings; NaN: none */
    double admitted; /* the mean admitted fraction of the classes */
} phase;

typedef struct runres {
    char name[48], dir[512];
    kv meta;
    phase ph[NPHASE];
    long failed_txns;
    int64_t enqueued, acked, waiting, dead, lost, retried;
    long recorded, reruns; /* rows in proof_done; of them, run more than once */
} runres;

static long phase_done(const phase *p) {
    long n = 0;
    for (int i = 0; i < NCLS; i++) n += p->done[i];
    return n;
}

static long calm_done(const runres *r) {
    return phase_done(&r->ph[CALM1]) + phase_done(&r->ph[CALM2]);
}

/* The phase that "s" (s since t0) falls in, or -1 outside the run. */
static int phase_at(const double *bounds, double s) {
    for (int p = 0; p < NPHASE; p++)
        if (s >= bounds[p] && s < bounds[p + 1]) return p;
    return -1;
}

/* A run cut into BUCKET_S s buckets, for the plot. */
enum { G_FRAC0, G_FRAC1, G_ROWS, G_SIG, G_SIGROWS, G_CPU, G_CPUROWS, G_N };
typedef struct series {
    long n;               /* buckets */
    dvec *lat;            /* [n]: interactive latencies, ms */
    long (*done)[NCLS];   /* [n]: jobs the database recorded, per class */
    double (*gauge)[G_N]; /* [n]: sums and counts of the watch's readings */
} series;

/* The run's phase boundaries, s since t0: bounds[p] to bounds[p + 1]. */
typedef struct run_times {
    double t0, bounds[NPHASE + 1];
} run_times;

/* The jobs' fate from the counters `stats` appended to meta.txt ("path"). */
static void read_counters(runres *r, const char *path) {
    const kv *m = &r->meta;
    for (int i = 0; i < NCLS; i++) {
        const char *keys[] = {"enqueued", "acked", "cancelled", "ready", "delayed", "leased", "dead", "retried"};
        int64_t v[8];
        for (int j = 0; j < 8; j++) {
            char k[64];
            snprintf(k, sizeof(k), "%s.%s", keys[j], cls_names[i]);
            v[j] = (int64_t)kv_need(m, k, path);
        }
        int64_t waiting = v[3] + v[4] + v[5];
        r->enqueued += v[0];
        r->acked += v[1];
        r->waiting += waiting;
        r->dead += v[6];
        r->retried += v[7];
        r->lost += v[0] - v[1] - v[2] - waiting - v[6];
    }
}

/* The pgbench logs: each phase's p50/p99 and count, each bucket's latencies. */
static void read_transactions(const char *dir, const run_times *rt, runres *r, series *sr) {
    logset ls = {.n = 0};
    tvec t = {0};
    logs_read(dir, &ls, &t, &r->failed_txns);
    if (ls.n == 0) die("%s: no pgbench logs (int-*)", dir);
    dvec ph[NPHASE] = {{0}};
    for (size_t i = 0; i < t.n; i++) {
        double s = t.v[i].start - rt->t0;
        int p = phase_at(rt->bounds, s);
        if (p < 0) continue;
        dpush(&ph[p], t.v[i].lat_ms);
        long b = (long)(s / BUCKET_S);
        if (b < sr->n) dpush(&sr->lat[b], t.v[i].lat_ms);
    }
    free(t.v);
    for (int p = 0; p < NPHASE; p++) {
        r->ph[p].txns = ph[p].n;
        r->ph[p].p50 = quantile(ph[p].v, ph[p].n, 0.5);
        r->ph[p].p99 = quantile(ph[p].v, ph[p].n, 0.99);
        free(ph[p].v);
    }
}

/* done.csv: the jobs the database recorded, per phase and bucket. */
static void read_jobs(const char *dir, const run_times *rt, runres *r, series *sr) {
    char path[600], line[256];
    snprintf(path, sizeof(path), "%s/done.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        char cls[64];
        double at;
        long runs;
        if (sscanf(line, "%63[^,],%lf,%ld", cls, &at, &runs) != 3) die("%s: bad line: %s", path, line);
        int i = class_index(cls);
        if (i < 0) die("%s: unknown class %s", path, cls);
        r->recorded++;
        if (runs > 1) r->reruns++;
        double s = at - rt->t0;
        int p = phase_at(rt->bounds, s);
        if (p < 0) continue;
        r->ph[p].done[i]++;
        long b = (long)(s / BUCKET_S);
        if (b < sr->n) sr->done[b][i]++;
    }
    fclose(f);
}

/* watch.csv: per phase the signal's median and the mean admitted fraction;
 * per bucket the sums the plot averages. A row at second el describes the
 * second before it. */
static void read_watch(const char *dir, const run_times *rt, runres *r, series *sr) {
    char path[600], line[256];
    snprintf(path, sizeof(path), "%s/watch.csv", dir);
    dvec sigs[NPHASE] = {{0}};
    double frac_sum[NPHASE] = {0}, frac_rows[NPHASE] = {0};
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        double el, fr0, fr1, sig, cpu;
        long long a0, a1;
        if (sscanf(line, "%lf,%lf,%lf,%lld,%lld,%lf,%lf", &el, &fr0, &fr1, &a0, &a1, &sig, &cpu) != 7) continue;
        int p = phase_at(rt->bounds, el - 0.5);
        if (p >= 0) {
            if (!isnan(sig)) dpush(&sigs[p], sig);
            frac_sum[p] += (fr0 + fr1) / NCLS;
            frac_rows[p] += 1;
        }
        long b = (long)((el - 1) / BUCKET_S);
        if (b < 0 || b >= sr->n) continue;
        double *g = sr->gauge[b];
        g[G_FRAC0] += fr0;
        g[G_FRAC1] += fr1;
        g[G_ROWS] += 1;
        if (!isnan(sig)) g[G_SIG] += sig, g[G_SIGROWS] += 1;
        if (!isnan(cpu)) g[G_CPU] += cpu, g[G_CPUROWS] += 1;
    }
    fclose(f);
    for (int p = 0; p < NPHASE; p++) {
        r->ph[p].signal = quantile(sigs[p].v, sigs[p].n, 0.5);
        r->ph[p].admitted = frac_rows[p] > 0 ? frac_sum[p] / frac_rows[p] : NAN;
        free(sigs[p].v);
    }
}

/* "sum / count", or "nan" when nothing was counted, then "sep". */
static void print_mean(FILE *out, double sum, double count, char sep) {
    if (count > 0)
        fprintf(out, "%.3f%c", sum / count, sep);
    else
        fprintf(out, "nan%c", sep);
}

/* DIR/series.csv, one row per bucket: tps, p50, p99, jobs done, the gates,
 * the signal and the machine's CPU; and DIR/series.meta, where the rise and
 * the peak are, for the plot. Frees the buckets' latencies. */
static void write_series(const char *dir, const run_times *rt, series *sr) {
    char path[600];
    snprintf(path, sizeof(path), "%s/series.csv", dir);
    FILE *out = fopen(path, "w");
    if (!out) die("%s: %s", path, strerror(errno));
    fprintf(out, "t,tps,p50_ms,p99_ms,done_%s,done_%s,frac_%s,frac_%s,%s,cpu_busy\n", cls_names[0], cls_names[1],
            cls_names[0], cls_names[1], SIGNAL);
    for (long b = 0; b < sr->n; b++) {
        const double *g = sr->gauge[b];
        dvec *lat = &sr->lat[b];
        fprintf(out, "%ld,%.1f,%.3f,%.3f,%ld,%ld,", b * BUCKET_S + BUCKET_S / 2, (double)lat->n / BUCKET_S,
                quantile(lat->v, lat->n, 0.5), quantile(lat->v, lat->n, 0.99), sr->done[b][0], sr->done[b][1]);
        print_mean(out, g[G_FRAC0], g[G_ROWS], ',');
        print_mean(out, g[G_FRAC1], g[G_ROWS], ',');
        print_mean(out, g[G_SIG], g[G_SIGROWS], ',');
        print_mean(out, g[G_CPU], g[G_CPUROWS], '\n');
        free(lat->v);
        lat->v = NULL;
    }
    fclose(out);
    snprintf(path, sizeof(path), "%s/series.meta", dir);
    if (!(out = fopen(path, "w"))) die("%s: %s", path, strerror(errno));
    fprintf(out, "rise_from_s=%.1f\npeak_from_s=%.1f\npeak_to_s=%.1f\nend_s=%.1f\n", rt->bounds[RISE], rt->bounds[PEAK],
            rt->bounds[CALM2], rt->bounds[NPHASE]);
    fclose(out);
}

/* Reads one run's directory into *r (its phases and its jobs' fate) and
 * writes its series for the plot. */
static void load_run(const char *dir, runres *r) {
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    char path[600];
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    kv_load(path, &r->meta);
    const kv *m = &r->meta;
    snprintf(r->name, sizeof(r->name), "%s", dir);
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], "run")) snprintf(r->name, sizeof(r->name), "%s", m->v[i]);
    run_times rt;
    rt.t0 = kv_need(m, "t0", path);
    double rise_t = kv_need(m, "rise_t", path), peak_t = kv_need(m, "peak_t", path);
    double end_t = kv_need(m, "end_t", path), peak_s = kv_need(m, "peak_s", path);
    double bounds[NPHASE + 1] = {0, rise_t - rt.t0, peak_t - rt.t0, peak_t - rt.t0 + peak_s, end_t - rt.t0};
    memcpy(rt.bounds, bounds, sizeof(bounds));
    for (int p = 0; p < NPHASE; p++) {
        r->ph[p].from = bounds[p];
        r->ph[p].to = bounds[p + 1];
    }
    read_counters(r, path);
    series sr;
    sr.n = (long)ceil(bounds[NPHASE] / BUCKET_S);
    if (sr.n < 1) sr.n = 1;
    sr.lat = calloc((size_t)sr.n, sizeof(*sr.lat));
    sr.done = calloc((size_t)sr.n, sizeof(*sr.done));
    sr.gauge = calloc((size_t)sr.n, sizeof(*sr.gauge));
    if (!sr.lat || !sr.done || !sr.gauge) die("out of memory");
    read_transactions(dir, &rt, r, &sr);
    read_jobs(dir, &rt, r, &sr);
    read_watch(dir, &rt, r, &sr);
    write_series(dir, &rt, &sr);
    free(sr.lat);
    free(sr.done);
    free(sr.gauge);
}

/* NaN (nothing measured) as null. */
static json_t *num_or_null(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *phase_json(const phase *p, int idx) {
    json_t *done = json_object();
    for (int i = 0; i < NCLS; i++) json_object_set_new(done, cls_names[i], json_integer(p->done[i]));
    double secs = p->to - p->from;
    return json_pack("{s:s, s:f, s:f, s:I, s:f, s:o, s:o, s:I, s:o, s:o, s:o}", "phase", phase_names[idx], "from_s",
                     p->from, "to_s", p->to, "txns", (json_int_t)p->txns, "tps",
                     secs > 0 ? (double)p->txns / secs : 0.0, "p50_ms", num_or_null(p->p50), "p99_ms",
                     num_or_null(p->p99), "jobs_done", (json_int_t)phase_done(p), "jobs_done_by_class", done,
                     "admitted", num_or_null(p->admitted), SIGNAL, num_or_null(p->signal));
}

static json_t *run_json(const runres *r) {
    json_t *ph = json_array();
    for (int p = 0; p < NPHASE; p++) json_array_append_new(ph, phase_json(&r->ph[p], p));
    return json_pack("{s:s, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:o, s:o}}", "run", r->name,
                     "phases", ph, "failed_txns", (json_int_t)r->failed_txns, "jobs", "enqueued",
                     (json_int_t)r->enqueued, "done", (json_int_t)r->acked, "waiting", (json_int_t)r->waiting, "dead",
                     (json_int_t)r->dead, "lost", (json_int_t)r->lost, "recorded", (json_int_t)r->recorded, "reruns",
                     (json_int_t)r->reruns, "retried", (json_int_t)r->retried, "machine", "busy",
                     num_or_null(kv_num(&r->meta, "machine_busy")), "others_busy",
                     num_or_null(kv_num(&r->meta, "others_busy")), "loadavg", num_or_null(kv_num(&r->meta, "loadavg")));
}

#define PEAK_RATIO_MAX 1.5 /* sluice's peak p99 against the baseline's */
#define CALM_DONE_MIN 0.9  /* sluice's calm-phase jobs against the unthrottled run's */
#define HURT_MIN 2.0       /* the unthrottled peak p99 against the baseline's: the setup check */

static int cmd_report(int argc, char **argv) {
    const char *json_path = NULL;
    int a = 2;
    if (a + 1 < argc && !strcmp(argv[a], "--json")) {
        json_path = argv[a + 1];
        a += 2;
    }
    if (argc - a != 3) {
        fprintf(stderr, "usage: sluice-proof report [--json FILE] BASELINE-DIR UNTHROTTLED-DIR SLUICE-DIR\n");
        return 2;
    }
    runres *runs = calloc(3, sizeof(*runs));
    if (!runs) die("out of memory");
    for (int i = 0; i < 3; i++) load_run(argv[a + i], &runs[i]);
    const runres *base = &runs[0], *flat = &runs[1], *gov = &runs[2];

    printf("\nsummary (interactive: pgbench transactions by scheduled start; jobs: as the database recorded them)\n");
    printf("  %-12s %-5s %9s %8s %6s %8s %9s %10s %8s %8s %8s %8s\n", "run", "phase", "seconds", "txns", "tps",
           "p50 ms", "p99 ms", "jobs done", cls_names[0], cls_names[1], "admitted", SIGNAL);
    for (int i = 0; i < 3; i++) {
        const runres *r = &runs[i];
        for (int p = 0; p < NPHASE; p++) {
            const phase *ph = &r->ph[p];
            char span[32];
            snprintf(span, sizeof(span), "%.0f-%.0f", ph->from, ph->to);
            double secs = ph->to - ph->from;
            printf("  %-12s %-5s %9s %8zu %6.0f %8.1f %9.1f %10ld %8ld %8ld %8.2f %8.2f\n", p == 0 ? r->name : "",
                   phase_names[p], span, ph->txns, secs > 0 ? (double)ph->txns / secs : 0, ph->p50, ph->p99,
                   phase_done(ph), ph->done[0], ph->done[1], ph->admitted, ph->signal);
        }
    }
    printf("\n  %-12s %9s %8s %8s %6s %6s %9s %7s %8s   %s\n", "run", "enqueued", "done", "waiting", "dead", "lost",
           "recorded", "re-run", "retried", "CPU busy: all, other users'; load");
    int64_t lost = 0;
    long unrecorded = 0, failed = 0;
    for (int i = 0; i < 3; i++) {
        const runres *r = &runs[i];
        lost += r->lost;
        if (r->acked > r->recorded) unrecorded += (long)(r->acked - r->recorded);
        failed += r->failed_txns;
        printf("  %-12s %9lld %8lld %8lld %6lld %6lld %9ld %7ld %8lld   %3.0f%%, %3.0f%%; %.1f\n", r->name,
               (long long)r->enqueued, (long long)r->acked, (long long)r->waiting, (long long)r->dead,
               (long long)r->lost, r->recorded, r->reruns, (long long)r->retried,
               kv_num(&r->meta, "machine_busy") * 100, kv_num(&r->meta, "others_busy") * 100,
               kv_num(&r->meta, "loadavg"));
    }

    double ratio = gov->ph[PEAK].p99 / base->ph[PEAK].p99;
    double hurt = flat->ph[PEAK].p99 / base->ph[PEAK].p99;
    long cd_gov = calm_done(gov), cd_flat = calm_done(flat);
    double calm_ratio = cd_flat > 0 ? (double)cd_gov / (double)cd_flat : NAN;
    int ok_peak = ratio <= PEAK_RATIO_MAX, ok_calm = calm_ratio >= CALM_DONE_MIN;
    int ok_lost = lost == 0 && unrecorded == 0 && gov->dead == 0 && flat->dead == 0;
    int ok_hurt = hurt >= HURT_MIN;
    printf("\nacceptance\n");
    printf("  interactive p99 at the peak, sluice vs baseline:         %8.1f / %.1f ms = %.2fx (<= %.2fx)  %s\n",
           gov->ph[PEAK].p99, base->ph[PEAK].p99, ratio, PEAK_RATIO_MAX, ok_peak ? "met" : "NOT MET");
    printf("  jobs done in the calm phases, sluice vs unthrottled:      %8ld / %ld = %.1f%% (>= %.0f%%)  %s\n", cd_gov,
           cd_flat, calm_ratio * 100, CALM_DONE_MIN * 100, ok_calm ? "met" : "NOT MET");
    printf("  jobs lost (enqueued - done - waiting - dead), dead, done but not recorded: %lld, %lld, %ld  %s\n",
           (long long)lost, (long long)(gov->dead + flat->dead), unrecorded, ok_lost ? "met" : "NOT MET");
    printf("  setup: unthrottled peak p99 vs baseline (the jobs must hurt): %.1f / %.1f ms = %.1fx (>= %.0fx)  %s\n",
           flat->ph[PEAK].p99, base->ph[PEAK].p99, hurt, HURT_MIN, ok_hurt ? "met" : "NOT MET");
    if (failed) printf("  note: %ld interactive transactions failed or were skipped\n", failed);
    double tgt = kv_num(&gov->meta, "signal_target"), crit = kv_num(&gov->meta, "signal_critical");
    printf("  signal %s: target %g, critical %g; runs in build order, one database\n", SIGNAL, tgt, crit);
    double peak_tps = kv_num(&gov->meta, "peak_rate"), capacity = kv_num(&gov->meta, "capacity_tps");
    if (capacity > 0)
        printf("  the peak: %g tps, %.0f%% of the database's capacity measured on this machine (%g tps)\n", peak_tps,
               peak_tps / capacity * 100, capacity);
    else
        printf("  the peak: %g tps (a fixed --peak-rate)\n", peak_tps);
    int ok = ok_peak && ok_calm && ok_lost && ok_hurt;
    printf("  %s\n", ok ? "OK: acceptance met" : "FAILED: acceptance not met");

    if (json_path) {
        json_t *rs = json_array();
        for (int i = 0; i < 3; i++) json_array_append_new(rs, run_json(&runs[i]));
        json_t *sig =
            json_pack("{s:s, s:o, s:o}", "name", SIGNAL, "target", num_or_null(tgt), "critical", num_or_null(crit));
        json_t *peak = json_pack("{s:o, s:o}", "tps", num_or_null(peak_tps), "capacity_tps",
                                 capacity > 0 ? json_real(capacity) : json_null());
        json_t *acc =
            json_pack("{s:o, s:f, s:b, s:o, s:f, s:b, s:I, s:I, s:I, s:b, s:o, s:f, s:b, s:b}", "peak_p99_ratio",
                      num_or_null(ratio), "peak_p99_ratio_max", PEAK_RATIO_MAX, "peak_p99_met", ok_peak,
                      "calm_done_ratio", num_or_null(calm_ratio), "calm_done_ratio_min", CALM_DONE_MIN, "calm_done_met",
                      ok_calm, "lost", (json_int_t)lost, "dead", (json_int_t)(gov->dead + flat->dead), "unrecorded",
                      (json_int_t)unrecorded, "lost_met", ok_lost, "unthrottled_peak_p99_ratio", num_or_null(hurt),
                      "unthrottled_peak_p99_ratio_min", HURT_MIN, "setup_met", ok_hurt, "met", ok);
        json_t *root = json_pack("{s:o, s:o, s:o, s:o}", "runs", rs, "signal", sig, "peak", peak, "acceptance", acc);
        if (!root || json_dump_file(root, json_path, JSON_INDENT(2)) < 0) die("%s: cannot write", json_path);
        json_decref(root);
    }
    free(runs);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(cmd, "enqueue")) return cmd_enqueue(argc, argv);
    if (!strcmp(cmd, "stats")) return cmd_stats(argc, argv);
    if (!strcmp(cmd, "watch")) return cmd_watch(argc, argv);
    if (!strcmp(cmd, "report")) return cmd_report(argc, argv);
    FILE *f = !strcmp(cmd, "--help") ? stdout : stderr;
    fprintf(f, "usage: sluice-proof enqueue|stats|watch|report ... (see tests/proof/sluice-proof.c)\n");
    return f == stdout ? 0 : 2;
}
