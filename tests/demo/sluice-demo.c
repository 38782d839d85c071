/* sluice-demo: the program behind `make demo` (scripts/demo.sh). It plays the
 * database of the incident, its interactive traffic, the
 * producers of background jobs, the live view and the summary; the jobs
 * themselves run in real sluice-worker processes, whose handler is this
 * program's "io" mode.
 *
 *   sluice-demo run [options]       stand-in + traffic + producers + live view
 *   sluice-demo io SOCKET UNITS     a job's handler: asks the stand-in for
 *                                   UNITS of I/O, waits until served, exits 0
 *   sluice-demo summary ON [OFF]    the final summary from the runs' result
 *                                   files and the classes' counters; exits 1
 *                                   if a job was lost or the low tier was
 *                                   never throttled during the peak
 *   sluice-demo wipe                deletes every key of the namespace (an
 *                                   external Redis: only the demo's own keys)
 *
 * Redis and the namespace come from SLUICE_REDIS_URL and SLUICE_NAMESPACE.
 *
 * THE DATABASE MODEL
 *
 * One disk with a capacity of C I/O units per second (default 1000) serves
 * requests first come, first served, one at a time: a request of u units
 * that arrives at time a starts at s = max(a, busy_until), is served for
 * u / C seconds and completes at f = s + u / C; busy_until = f. Its latency
 * is f - a: the queueing wait plus the service. Interactive requests (2
 * units each, Poisson arrivals whose rate follows the load profile below)
 * and background requests (from the jobs' handlers, over a unix socket)
 * share that one queue. Interactive requests are modelled, not sent: their
 * completion time is known on arrival. A handler's request is answered
 * ("ok") at its completion time in real time. Utilisation of a second is the
 * share of it the disk was busy; it is reported every second to the signal
 * "db_util" (sluice_signal_report), which the governor hosted by the workers
 * reads (the first report, at t=0, is the calm interactive load alone).
 * Interactive p50/p99 are computed per second from every modelled request
 * (by arrival second). The same interactive requests are also served by a
 * second, imaginary disk that carries nothing else: its latencies during the
 * peak are "interactive alone at the same load", the baseline the summary
 * compares the governor with. After the peak, each second with jobs waiting
 * has a headroom under the signal's target (target x C minus the
 * interactive I/O, at most what the waiting classes' limits allow) and the
 * summary shows how much of it background I/O used.
 *
 * THE TIMELINE (seconds; every number is an option)
 *
 *   0 .. calm               interactive load at --calm-load (0.35 of C); the
 *                           certificate batch (--batch jobs, tier low) and
 *                           integration syncs (--sync-rate jobs/s, tier
 *                           normal) run at their full limits
 *   .. +ramp                interactive load rises linearly to --peak-load
 *   .. +peak                the peak (0.85 of C): with every background job
 *                           running at its limits the disk would need ~1.2 C
 *   .. +ramp                the load falls back to calm
 *   then                    calm; the backlog drains. Integration syncs stop
 *                           arriving once the certificates are done, and the
 *                           run ends when both backlogs are empty (at least
 *                           --tail s after the ramp down; at most --max s).
 *
 * The jobs' handlers (scripts/demo.sh) ask for 7 units per certificate and
 * 10 per integration sync; the classes' limits are in scripts/demo/demo.json.
 * The run writes one CSV row per second (--csv) for the plot and its results
 * (--result, key=value lines) for the summary. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <sluice.h>

#define CERT "certificates"
#define SYNC "integration_sync"
#define NCLS 2
#define MAXSEC 1200           /* s: longest run the per-second arrays hold */
#define MAXCONN 512

static const char *cls_names[NCLS] = {CERT, SYNC};

/* ------------------------------ helpers ------------------------------ */

static volatile sig_atomic_t stop_sig;
static void on_signal(int sig) { stop_sig = sig; }

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice-demo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double num(const char *s, const char *what, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "sluice-demo: %s: bad number '%s' (%g..%g)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double uniform(void) { /* splitmix64 -> (0,1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double expo(double rate) { return -log(uniform()) / rate; }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n), sorted in place. NaN when empty. */
static double quantile(double *v, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)ceil(q * (double)n);
    if (i > 0) i--;
    if (i >= n) i = n - 1;
    return v[i];
}

typedef struct dvec { double *v; size_t n, cap; } dvec;
static void dpush(dvec *d, double x) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->v = realloc(d->v, d->cap * sizeof(*d->v));
        if (!d->v) die("out of memory");
    }
    d->v[d->n++] = x;
}

/* ------------------------------- io mode ------------------------------ */

static int cmd_io(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: sluice-demo io SOCKET UNITS\n");
        return 2;
    }
    long units = (long)num(argv[3], "UNITS", 1, 100000);
    alarm(60); /* never outlive a stand-in that stopped answering */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[2]) >= sizeof(sa.sun_path)) die("socket path too long");
    strcpy(sa.sun_path, argv[2]);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("database stand-in %s: %s", argv[2], strerror(errno));
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", units);
    if (write(fd, buf, (size_t)n) != n) die("database stand-in: write: %s", strerror(errno));
    ssize_t r;
    do r = read(fd, buf, sizeof(buf)); while (r < 0 && errno == EINTR);
    if (r < 3 || memcmp(buf, "ok\n", 3) != 0) die("database stand-in went away");
    close(fd);
    return 0;
}

/* ------------------------------- run mode ----------------------------- */

typedef struct opts {
    const char *sock, *csv, *result, *label, *signal;
    double capacity;     /* I/O units per second */
    double io_int;       /* units per interactive request */
    double calm_load, peak_load; /* fractions of capacity */
    double calm_s, ramp_s, peak_s, tail_s, max_s;
    long batch;          /* certificates enqueued at the start */
    double sync_rate;    /* integration syncs per second */
    double units[NCLS];  /* I/O units a job of each class asks for (its handler's UNITS) */
    int ansi;            /* -1: when stdout is a terminal */
} opts;

typedef struct conn { int fd; char buf[64]; size_t len; } conn;
typedef struct pend { int fd; double finish; } pend;

typedef struct clsview {
    sluice_class_stats st0, st;  /* at the start of the run, now */
    sluice_gate_info gate;
    sluice_tier tier;
    double max_rate;             /* jobs per second at full admission */
    int ok;
} clsview;

typedef struct run {
    opts o;
    double t0;
    /* the disk */
    double busy_until;
    double busy[MAXSEC];         /* s of each second the disk was busy */
    double busy_bg[MAXSEC];      /* ... of which with background requests */
    double alone_until;          /* the imaginary disk with interactive requests only */
    int waiting[MAXSEC];         /* bit i set if class i had jobs waiting in the second */
    double next_int;             /* next interactive arrival, s since t0 */
    long cur_sec;                /* second whose latencies are in lat */
    dvec lat;                    /* that second's interactive latencies, s */
    double p50[MAXSEC], p99[MAXSEC];
    dvec calm_lat, peak_lat;     /* the first calm phase; the peak plateau */
    dvec peak_alone_lat;         /* the peak plateau on the imaginary disk */
    /* background requests */
    conn *conns[MAXCONN];
    size_t nconn;
    pend *pq;                    /* completion order = arrival order (FIFO) */
    size_t pq_head, pq_n, pq_cap;
    long bg_requests;
    /* sluice */
    sluice_client *c;
    clsview cv[NCLS];
    double sig_value, sig_pressure, sig_target, sig_critical;
    sluice_governor_status gov;
    double min_frac[NCLS];       /* during the peak (ramp up to ramp down) */
    double next_sync;
    int sync_on;
    long sync_enq, sync_fail;
    int drained;
    FILE *csv;
} run;

static double load_at(const opts *o, double t) {
    double a = o->calm_s, b = a + o->ramp_s, c = b + o->peak_s, d = c + o->ramp_s;
    if (t < a || t >= d) return o->calm_load;
    if (t < b) return o->calm_load + (o->peak_load - o->calm_load) * (t - a) / o->ramp_s;
    if (t < c) return o->peak_load;
    return o->peak_load - (o->peak_load - o->calm_load) * (t - c) / o->ramp_s;
}

static const char *phase_at(const opts *o, double t, const char **what) {
    double a = o->calm_s, b = a + o->ramp_s, c = b + o->peak_s, d = c + o->ramp_s;
    if (t < a) { *what = "calm: a certificate batch and the syncs run"; return "calm"; }
    if (t < b) { *what = "interactive traffic rising"; return "rising"; }
    if (t < c) { *what = "PEAK: interactive traffic near capacity"; return "PEAK"; }
    if (t < d) { *what = "the peak eases"; return "easing"; }
    *what = "after the peak: the backlog drains"; return "drain";
}

static void add_busy(double *busy, double s, double f) {
    for (long b = (long)s; b <= (long)f && b < MAXSEC; b++) {
        double lo = s > (double)b ? s : (double)b;
        double hi = f < (double)(b + 1) ? f : (double)(b + 1);
        if (hi > lo) busy[b] += hi - lo;
    }
}

/* Serves a request of "units" arriving at "a" (s since t0) on the disk whose
 * queue ends at *until; returns its completion time. */
static double serve_on(double *until, double capacity, double a, double units) {
    double s = a > *until ? a : *until;
    *until = s + units / capacity;
    return *until;
}

/* Serves a request on the shared disk; "bg" marks background I/O. */
static double serve(run *r, double a, double units, int bg) {
    double s = a > r->busy_until ? a : r->busy_until;
    double f = serve_on(&r->busy_until, r->o.capacity, a, units);
    add_busy(r->busy, s, f);
    if (bg) add_busy(r->busy_bg, s, f);
    return f;
}

static void flush_second(run *r) {
    if (r->cur_sec >= 0 && r->cur_sec < MAXSEC) {
        r->p50[r->cur_sec] = quantile(r->lat.v, r->lat.n, 0.50) * 1000.0;
        r->p99[r->cur_sec] = quantile(r->lat.v, r->lat.n, 0.99) * 1000.0;
    }
    r->lat.n = 0;
}

static void interactive_until(run *r, double now) {
    const opts *o = &r->o;
    double pk0 = o->calm_s + o->ramp_s, pk1 = pk0 + o->peak_s;
    while (r->next_int <= now) {
        double a = r->next_int;
        long sec = (long)a;
        if (sec != r->cur_sec) {
            flush_second(r);
            r->cur_sec = sec;
        }
        double lat = serve(r, a, o->io_int, 0) - a;
        double alone = serve_on(&r->alone_until, o->capacity, a, o->io_int) - a;
        dpush(&r->lat, lat);
        if (a >= 1.0 && a < o->calm_s) dpush(&r->calm_lat, lat);
        if (a >= pk0 && a < pk1) {
            dpush(&r->peak_lat, lat);
            dpush(&r->peak_alone_lat, alone);
        }
        r->next_int = a + expo(load_at(o, a) * o->capacity / o->io_int);
    }
}

static void conn_close(run *r, size_t i) {
    close(r->conns[i]->fd);
    free(r->conns[i]);
    r->conns[i] = r->conns[--r->nconn];
}

static void pend_push(run *r, int fd, double finish) {
    if (r->pq_head + r->pq_n == r->pq_cap) {
        if (r->pq_head > 0) {
            memmove(r->pq, r->pq + r->pq_head, r->pq_n * sizeof(*r->pq));
            r->pq_head = 0;
        } else {
            r->pq_cap = r->pq_cap ? r->pq_cap * 2 : 256;
            r->pq = realloc(r->pq, r->pq_cap * sizeof(*r->pq));
            if (!r->pq) die("out of memory");
        }
    }
    r->pq[r->pq_head + r->pq_n++] = (pend){fd, finish};
}

/* A line "UNITS\n" from a handler: queue it on the disk. */
static void conn_input(run *r, size_t i, double now) {
    conn *k = r->conns[i];
    ssize_t n = read(k->fd, k->buf + k->len, sizeof(k->buf) - 1 - k->len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        /* a pending answer to this fd is dropped when it comes due */
        for (size_t j = 0; j < r->pq_n; j++)
            if (r->pq[r->pq_head + j].fd == k->fd) r->pq[r->pq_head + j].fd = -1;
        conn_close(r, i);
        return;
    }
    k->len += (size_t)n;
    k->buf[k->len] = '\0';
    char *nl;
    while ((nl = strchr(k->buf, '\n'))) {
        *nl = '\0';
        char *end;
        long units = strtol(k->buf, &end, 10);
        if (end != k->buf && *end == '\0' && units > 0 && units <= 100000) {
            interactive_until(r, now);
            pend_push(r, k->fd, serve(r, now, (double)units, 1));
            r->bg_requests++;
        }
        size_t used = (size_t)(nl + 1 - k->buf);
        memmove(k->buf, nl + 1, k->len - used + 1);
        k->len -= used;
    }
    if (k->len >= sizeof(k->buf) - 1) k->len = 0; /* garbage: drop it */
}

static void answer_due(run *r, double now) {
    while (r->pq_n && r->pq[r->pq_head].finish <= now) {
        int fd = r->pq[r->pq_head].fd;
        if (fd >= 0 && write(fd, "ok\n", 3) != 3) { /* the handler gave up: its close is read later */ }
        r->pq_head++;
        r->pq_n--;
    }
    if (!r->pq_n) r->pq_head = 0;
}

/* ------------------------------ the view ------------------------------ */

static void sample(run *r) {
    sluice_error err;
    for (int i = 0; i < NCLS; i++) {
        clsview *v = &r->cv[i];
        v->ok = sluice_class_stats_get(r->c, cls_names[i], &v->st, &err) == 0 &&
                sluice_gate_get(r->c, cls_names[i], &v->gate, &err) == 0;
    }
    size_t n = 0;
    sluice_signal_info *si = sluice_signal_list(r->c, &n, NULL, &err);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(si[i].name, r->o.signal) != 0) continue;
        r->sig_target = si[i].def.target;
        r->sig_critical = si[i].def.critical;
        r->sig_value = si[i].has_value ? si[i].value : NAN;
        sluice_law_signal ls;
        sluice_signal_law(&si[i], &ls);
        r->sig_pressure = si[i].has_value && !si[i].stale ? sluice_law_pressure(&ls, si[i].value) : NAN;
    }
    sluice_signal_list_free(si, n);
    if (sluice_governor_status_get(r->c, &r->gov, &err) < 0) r->gov.leader[0] = '\0';
}

static void bar(char *out, size_t w, double frac) {
    if (!(frac >= 0)) frac = 0;
    if (frac > 1) frac = 1;
    size_t full = (size_t)lround(frac * (double)w);
    for (size_t i = 0; i < w; i++) out[i] = i < full ? '#' : '.';
    out[w] = '\0';
}

static void fmt_ms(char *out, size_t n, double ms) {
    if (!isfinite(ms)) snprintf(out, n, "-");
    else if (ms < 10) snprintf(out, n, "%.1f ms", ms);
    else if (ms < 10000) snprintf(out, n, "%.0f ms", ms);
    else snprintf(out, n, "%.1f s", ms / 1000.0);
}

static int64_t done_of(const clsview *v) { return v->st.acked - v->st0.acked; }
static int64_t enq_of(const clsview *v) { return v->st.enqueued - v->st0.enqueued; }
static int64_t backlog_of(const clsview *v) { return v->st.ready + v->st.delayed + v->st.leased; }

/* One line of the ANSI view: cut to the terminal's width (a wrapped line
 * would break the redraw in place), in "style" (an SGR code, "" for none). */
static int view_cols = 80, view_lines;
static void line(const char *style, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *style, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    int w = view_cols - 1 < (int)sizeof(buf) - 1 ? view_cols - 1 : (int)sizeof(buf) - 1;
    if (w > 0 && (int)strlen(buf) > w) buf[w] = '\0';
    if (*style) printf("\033[%sm%s\033[0m\033[K\n", style, buf);
    else printf("%s\033[K\n", buf);
    view_lines++;
}

static void view(run *r, double t) {
    const opts *o = &r->o;
    const char *what;
    const char *ph = phase_at(o, t, &what);
    long s = (long)t - 1; /* the last complete second */
    double util = s >= 0 ? r->busy[s] : NAN;
    if (util > 1) util = 1;
    double p50 = s >= 0 ? r->p50[s] : NAN, p99 = s >= 0 ? r->p99[s] : NAN;
    double c99 = NAN;
    if (t >= o->calm_s && r->calm_lat.n) /* sorts in place: harmless, the set is complete */
        c99 = quantile(r->calm_lat.v, r->calm_lat.n, 0.99) * 1000.0;
    char b[64], m1[32], m2[32], m4[32];
    fmt_ms(m1, sizeof(m1), p50);
    fmt_ms(m2, sizeof(m2), p99);
    fmt_ms(m4, sizeof(m4), c99);
    if (!o->ansi) {
        /* one plain line a second, for logs and pipes */
        printf("t=%3.0fs %-6s load=%3.0f%% util=%3.0f%% %s=%.2f p=%.2f p50=%s p99=%s",
               t, ph, load_at(o, t) * 100, util * 100, o->signal, r->sig_value, r->sig_pressure, m1, m2);
        for (int i = 0; i < NCLS; i++) {
            const clsview *v = &r->cv[i];
            printf(" | %s f=%.2f %lld/%lld", cls_names[i], v->gate.fraction,
                   (long long)done_of(v), (long long)enq_of(v));
        }
        printf("\n");
        fflush(stdout);
        return;
    }
    /* redraw in place: back up over the previous frame */
    if (view_lines) printf("\033[%dA\r", view_lines);
    view_lines = 0;
    line("1", "sluice demo | governor %s | t = %3.0f s | %s", o->label, t, what);
    line("", "%s", "");
    bar(b, 36, util);
    char pct[16];
    if (isfinite(util)) snprintf(pct, sizeof(pct), "%3.0f%%", util * 100);
    else snprintf(pct, sizeof(pct), "   -");
    line(util >= r->sig_critical ? "31" : util > r->sig_target ? "33" : "",
         "database    [%s] %s busy (interactive %2.0f%%)", b, pct, load_at(o, t) * 100);
    line(r->sig_value >= r->sig_critical ? "31" : r->sig_value > r->sig_target ? "33" : "",
         "signal      %s %.2f target %.2f critical %.2f pressure %.2f%s", o->signal, r->sig_value,
         r->sig_target, r->sig_critical, r->sig_pressure,
         r->sig_value >= r->sig_critical ? " CRITICAL" : r->sig_value > r->sig_target ? " over target" : "");
    line("", "governor    mode %s, leader %s", sluice_governor_mode_name(r->gov.mode),
         r->gov.leader[0] ? r->gov.leader : "(none yet)");
    if (isfinite(p99) && isfinite(c99) && c99 > 0)
        line(p99 > 4 * c99 ? "31" : "", "interactive p50 %s, p99 %s = %.1fx the p99 before the peak (%s)", m1, m2,
             p99 / c99, m4);
    else
        line("", "interactive p50 %s, p99 %s (the p99 before the peak: measuring)", m1, m2);
    line("", "%s", "");
    line("1", "%-17s %-6s %8s  %s", "class", "tier", "admitted", "why");
    for (int i = 0; i < NCLS; i++) {
        const clsview *v = &r->cv[i];
        line(v->gate.fraction < 1 ? "33" : "", "%-17s %-6s %8.2f  %s%s%s", cls_names[i],
             sluice_tier_name(r->cv[i].tier), v->gate.fraction, v->gate.why, v->gate.reason[0] ? ": " : "",
             v->gate.reason);
    }
    line("", "%s", "");
    line("1", "%-17s %-26s %s", "backlog", "done / enqueued", "waiting  running");
    for (int i = 0; i < NCLS; i++) {
        const clsview *v = &r->cv[i];
        int64_t e = enq_of(v), d = done_of(v);
        bar(b, 26, e > 0 ? (double)d / (double)e : 0);
        line("", "%-17s [%s] %4lld / %-4lld %7lld %8lld", cls_names[i], b, (long long)d, (long long)e,
             (long long)(v->st.ready + v->st.delayed), (long long)v->st.leased);
    }
    fflush(stdout);
}

/* --------------------------------- run -------------------------------- */

static void report_signal(run *r, long s) {
    sluice_error err;
    if (sluice_signal_report(r->c, r->o.signal, r->busy[s] > 1 ? 1 : r->busy[s], 0, &err) < 0)
        fprintf(stderr, "sluice-demo: signal %s: %s\n", r->o.signal, err.text);
}

static void write_row(run *r, long s) {
    if (!r->csv) return;
    const clsview *a = &r->cv[0], *b = &r->cv[1];
    fprintf(r->csv, "%ld,%.4f,%.4f,%.3f,%.3f,%.4f,%.4f,%lld,%lld,%lld,%lld\n", s,
            load_at(&r->o, (double)s + 0.5), r->busy[s] > 1 ? 1.0 : r->busy[s], r->p50[s], r->p99[s],
            a->gate.fraction, b->gate.fraction, (long long)backlog_of(a), (long long)backlog_of(b),
            (long long)done_of(a), (long long)done_of(b));
    fflush(r->csv);
}

static void enqueue_batch(run *r) {
    sluice_error err;
    size_t n = (size_t)r->o.batch, done = 0;
    if (!n) return;
    char **payloads = calloc(n, sizeof(*payloads));
    if (!payloads) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        payloads[i] = malloc(64);
        if (!payloads[i]) die("out of memory");
        snprintf(payloads[i], 64, "{\"user\":%zu,\"course\":\"intro\"}", i + 1);
    }
    if (sluice_enqueue_many(r->c, CERT, n, (const char *const *)payloads, NULL, 0, NULL, &done, &err) < 0)
        die("enqueue %s: %s (%zu of %zu enqueued)", CERT, err.text, done, n);
    for (size_t i = 0; i < n; i++) free(payloads[i]);
    free(payloads);
}

static void produce_sync(run *r, double t) {
    while (r->sync_on && r->next_sync <= t) {
        char payload[64], id[SLUICE_ID_MAX];
        snprintf(payload, sizeof(payload), "{\"tenant\":%ld,\"kind\":\"zoom\"}", r->sync_enq + 1);
        sluice_error err;
        if (sluice_enqueue(r->c, SYNC, payload, NULL, id, &err) == 0) r->sync_enq++;
        else if (r->sync_fail++ == 0) fprintf(stderr, "sluice-demo: enqueue %s: %s\n", SYNC, err.text);
        r->next_sync += expo(r->o.sync_rate);
    }
}

static int listen_on(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) die("socket path too long: %s", path);
    strcpy(sa.sun_path, path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
        die("listen on %s: %s", path, strerror(errno));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void usage_run(FILE *f) {
    fprintf(f,
        "usage: sluice-demo run --socket PATH [options]\n"
        "  --csv FILE --result FILE --label on|off --signal NAME (db_util)\n"
        "  --capacity UNITS/s (1000) --io-interactive UNITS (2)\n"
        "  --calm-load F (0.35) --peak-load F (0.85)\n"
        "  --calm S (10) --ramp S (8) --peak S (22) --tail S (5) --max S (150)\n"
        "  --batch N (900 certificates) --sync-rate N/s (5) --seed N --ansi|--plain\n"
        "  --cert-units U (7) --sync-units U (10): the jobs' I/O units, as their handlers ask\n");
}

static int cmd_run(int argc, char **argv) {
    static run R;
    run *r = &R;
    opts *o = &r->o;
    *o = (opts){.signal = "db_util", .label = "on", .capacity = 1000, .io_int = 2,
                .calm_load = 0.35, .peak_load = 0.85, .calm_s = 10, .ramp_s = 8, .peak_s = 22,
                .tail_s = 5, .max_s = 150, .batch = 900, .sync_rate = 5, .units = {7, 10}, .ansi = -1};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { usage_run(stdout); return 0; }
        if (!strcmp(a, "--ansi")) { o->ansi = 1; continue; }
        if (!strcmp(a, "--plain")) { o->ansi = 0; continue; }
        if (!v) { usage_run(stderr); return 2; }
        i++;
        if (!strcmp(a, "--socket")) o->sock = v;
        else if (!strcmp(a, "--csv")) o->csv = v;
        else if (!strcmp(a, "--result")) o->result = v;
        else if (!strcmp(a, "--label")) o->label = v;
        else if (!strcmp(a, "--signal")) o->signal = v;
        else if (!strcmp(a, "--capacity")) o->capacity = num(v, a, 1, 1e7);
        else if (!strcmp(a, "--io-interactive")) o->io_int = num(v, a, 0.01, 1e6);
        else if (!strcmp(a, "--calm-load")) o->calm_load = num(v, a, 0.01, 2);
        else if (!strcmp(a, "--peak-load")) o->peak_load = num(v, a, 0.01, 2);
        else if (!strcmp(a, "--calm")) o->calm_s = num(v, a, 1, 600);
        else if (!strcmp(a, "--ramp")) o->ramp_s = num(v, a, 0.1, 600);
        else if (!strcmp(a, "--peak")) o->peak_s = num(v, a, 1, 600);
        else if (!strcmp(a, "--tail")) o->tail_s = num(v, a, 0, 600);
        else if (!strcmp(a, "--max")) o->max_s = num(v, a, 1, MAXSEC - 2);
        else if (!strcmp(a, "--batch")) o->batch = (long)num(v, a, 0, 1000000);
        else if (!strcmp(a, "--cert-units")) o->units[0] = num(v, a, 1, 100000);
        else if (!strcmp(a, "--sync-units")) o->units[1] = num(v, a, 1, 100000);
        else if (!strcmp(a, "--sync-rate")) o->sync_rate = num(v, a, 0.01, 1000);
        else if (!strcmp(a, "--seed")) rng_state = (uint64_t)num(v, a, 0, 1e15);
        else { usage_run(stderr); return 2; }
    }
    if (!o->sock) { usage_run(stderr); return 2; }
    if (o->ansi < 0) o->ansi = isatty(STDOUT_FILENO);
    struct winsize ws;
    if (o->ansi && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) view_cols = ws.ws_col;

    sluice_error err;
    r->c = sluice_client_connect(NULL, NULL, &err);
    if (!r->c) die("connect: %s", err.text);
    sluice_client_set_name(r->c, "sluice-demo", NULL);
    for (int i = 0; i < NCLS; i++) {
        sluice_class_config cfg;
        if (sluice_class_get(r->c, cls_names[i], &cfg, &err) < 0)
            die("class %s: %s (apply scripts/demo/demo.json first)", cls_names[i], err.text);
        r->cv[i].tier = cfg.tier;
        r->cv[i].max_rate = cfg.max_rate;
        if (sluice_class_stats_get(r->c, cls_names[i], &r->cv[i].st0, &err) < 0)
            die("stats %s: %s", cls_names[i], err.text);
        r->min_frac[i] = 2;
    }
    if (o->csv && !(r->csv = fopen(o->csv, "w"))) die("%s: %s", o->csv, strerror(errno));
    if (r->csv) fprintf(r->csv, "t,load,util,p50_ms,p99_ms,frac_cert,frac_sync,backlog_cert,backlog_sync,done_cert,done_sync\n");

    /* The reading at t=0, before any background work: the database carries
     * only its calm interactive load. Without it the governor's first ticks
     * would see a stale signal and (on_stale assume-pressure) cut at once. */
    if (sluice_signal_report(r->c, o->signal, o->calm_load, 0, &err) < 0)
        die("signal %s: %s", o->signal, err.text);
    int lfd = listen_on(o->sock);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (long s = 0; s < MAXSEC; s++) r->p50[s] = r->p99[s] = NAN;

    r->t0 = mono();
    r->cur_sec = -1;
    r->next_int = expo(o->calm_load * o->capacity / o->io_int);
    r->next_sync = expo(o->sync_rate);
    r->sync_on = 1;
    enqueue_batch(r);
    sample(r);

    double ramp_end = o->calm_s + 2 * o->ramp_s + o->peak_s;
    long next_row = 1;            /* write second next_row-1 at t >= next_row */
    double next_view = 0;
    double end_at = -1;
    while (!stop_sig) {
        double t = mono() - r->t0;
        interactive_until(r, t);
        answer_due(r, t);
        produce_sync(r, t);
        while (t >= (double)next_row && next_row < MAXSEC) {
            long s = next_row - 1;
            if (r->cur_sec == s) { flush_second(r); r->cur_sec = -1; }
            report_signal(r, s);
            write_row(r, s);
            next_row++;
        }
        if (t >= next_view) {
            sample(r);
            if (t >= o->calm_s && t < ramp_end)
                for (int i = 0; i < NCLS; i++)
                    if (r->cv[i].ok && r->cv[i].gate.fraction < r->min_frac[i])
                        r->min_frac[i] = r->cv[i].gate.fraction;
            for (int i = 0; i < NCLS && (long)t < MAXSEC; i++)
                if (backlog_of(&r->cv[i]) > 0) r->waiting[(long)t] |= 1 << i;
            if (o->ansi || (long)(t * 2) % 2 == 0) view(r, t);
            next_view += 0.5;
            /* the end: certificates done after the peak -> syncs stop arriving;
             * both backlogs empty -> finish the second in progress and stop */
            int empty0 = backlog_of(&r->cv[0]) == 0, empty1 = backlog_of(&r->cv[1]) == 0;
            if (t >= ramp_end + o->tail_s && empty0) r->sync_on = 0;
            if (end_at < 0 && !r->sync_on && empty0 && empty1) {
                r->drained = 1;
                end_at = ceil(t) + 1e-3;
            }
            if (end_at < 0 && t >= o->max_s) end_at = t;
        }
        if (end_at >= 0 && t >= end_at && !r->pq_n) break;
        double timeout = 0.005;
        if (r->pq_n) {
            double d = r->pq[r->pq_head].finish - t;
            if (d < timeout) timeout = d > 0 ? d : 0;
        }
        struct pollfd pfd[MAXCONN + 1];
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (size_t i = 0; i < r->nconn; i++) pfd[i + 1] = (struct pollfd){.fd = r->conns[i]->fd, .events = POLLIN};
        size_t np = r->nconn + 1;
        int n = poll(pfd, np, (int)ceil(timeout * 1000));
        if (n <= 0) continue;
        double now = mono() - r->t0;
        for (size_t i = np - 1; i >= 1; i--)
            if (pfd[i].revents) conn_input(r, i - 1, now);
        if (pfd[0].revents & POLLIN) {
            int fd;
            while ((fd = accept(lfd, NULL, NULL)) >= 0) {
                if (r->nconn == MAXCONN) { close(fd); continue; }
                conn *k = calloc(1, sizeof(*k));
                if (!k) die("out of memory");
                k->fd = fd;
                fcntl(fd, F_SETFL, O_NONBLOCK);
                r->conns[r->nconn++] = k;
            }
        }
    }
    close(lfd);
    unlink(o->sock);
    while (r->nconn) conn_close(r, 0);
    if (stop_sig) {
        if (r->csv) fclose(r->csv);
        sluice_client_free(r->c);
        return 128 + stop_sig;
    }
    double t = mono() - r->t0;
    sample(r);
    if (o->ansi) view(r, t);
    if (r->csv) fclose(r->csv);

    /* results for the summary */
    FILE *f = o->result ? fopen(o->result, "w") : NULL;
    if (o->result && !f) die("%s: %s", o->result, strerror(errno));
    if (f) {
        double pk0 = o->calm_s + o->ramp_s;
        double umean = 0;
        int un = 0;
        for (long s = (long)ceil(pk0); s < (long)(pk0 + o->peak_s) && s < MAXSEC; s++) { umean += r->busy[s]; un++; }
        fprintf(f, "label=%s\nduration_s=%.1f\ndrained=%d\n", o->label, t, r->drained);
        fprintf(f, "calm_p50_ms=%.3f\ncalm_p99_ms=%.3f\n",
                quantile(r->calm_lat.v, r->calm_lat.n, 0.5) * 1000, quantile(r->calm_lat.v, r->calm_lat.n, 0.99) * 1000);
        fprintf(f, "peak_p50_ms=%.3f\npeak_p99_ms=%.3f\npeak_util=%.4f\n",
                quantile(r->peak_lat.v, r->peak_lat.n, 0.5) * 1000, quantile(r->peak_lat.v, r->peak_lat.n, 0.99) * 1000,
                un ? umean / un : NAN);
        fprintf(f, "peak_alone_p99_ms=%.3f\n",
                quantile(r->peak_alone_lat.v, r->peak_alone_lat.n, 0.99) * 1000);
        /* Spare capacity after the peak: each complete second from the end of
         * the plateau with jobs waiting offers target x C minus its
         * interactive I/O, as far as the waiting classes could use it at
         * full admission; background I/O that second uses up to that. */
        double usable = 0, used = 0;
        for (long s = (long)ceil(pk0 + o->peak_s); s + 1 < (long)t && s < MAXSEC; s++) {
            double could = 0;
            for (int i = 0; i < NCLS; i++)
                if (r->waiting[s] & (1 << i)) could += r->cv[i].max_rate * o->units[i] / o->capacity;
            double head = r->sig_target - (r->busy[s] - r->busy_bg[s]);
            if (head > could) head = could;
            if (head <= 0) continue;
            usable += head;
            used += r->busy_bg[s] < head ? r->busy_bg[s] : head;
        }
        fprintf(f, "spare_after_peak=%.4f\nspare_after_peak_s=%.1f\n", usable > 0 ? used / usable : NAN,
                usable);
        fprintf(f, "peak_from_s=%.1f\npeak_to_s=%.1f\ncalm_s=%.1f\n", o->calm_s, ramp_end, o->calm_s);
        for (int i = 0; i < NCLS; i++)
            fprintf(f, "min_fraction.%s=%.4f\nenqueued.%s=%lld\ndone.%s=%lld\n", cls_names[i],
                    r->min_frac[i] > 1 ? 1.0 : r->min_frac[i], cls_names[i], (long long)enq_of(&r->cv[i]),
                    cls_names[i], (long long)done_of(&r->cv[i]));
        fprintf(f, "background_requests=%ld\n", r->bg_requests);
        fclose(f);
    }
    sluice_client_free(r->c);
    return 0;
}

/* ------------------------------- summary ------------------------------ */

typedef struct results { char k[64][64]; char v[64][64]; int n; } results;

static int load_results(const char *path, results *res) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[160];
    res->n = 0;
    while (res->n < 64 && fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        eq[strcspn(eq + 1, "\n") + 1] = '\0';
        snprintf(res->k[res->n], 64, "%.63s", line);
        snprintf(res->v[res->n], 64, "%.63s", eq + 1);
        res->n++;
    }
    fclose(f);
    return 0;
}

static double rget(const results *res, const char *k) {
    for (int i = 0; i < res->n; i++)
        if (!strcmp(res->k[i], k)) return strtod(res->v[i], NULL);
    return NAN;
}

static int cmd_summary(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: sluice-demo summary ON-RESULTS [OFF-RESULTS]\n");
        return 2;
    }
    results on, off;
    if (load_results(argv[2], &on) < 0) die("%s: %s", argv[2], strerror(errno));
    int has_off = argc == 4 && load_results(argv[3], &off) == 0;
    sluice_error err;
    sluice_client *c = sluice_client_connect(NULL, NULL, &err);
    if (!c) die("connect: %s", err.text);

    printf("\nsummary\n");
    int64_t lost_total = 0, left_total = 0;
    printf("  %-17s %-7s %9s %7s %6s %6s %6s %8s\n", "class", "tier", "enqueued", "done", "lost",
           "dead", "retried", "waiting");
    for (int i = 0; i < NCLS; i++) {
        sluice_class_stats st;
        sluice_class_config cfg;
        if (sluice_class_stats_get(c, cls_names[i], &st, &err) < 0 ||
            sluice_class_get(c, cls_names[i], &cfg, &err) < 0)
            die("class %s: %s", cls_names[i], err.text);
        int64_t left = st.ready + st.delayed + st.leased + st.dead;
        int64_t lost = st.enqueued - st.acked - st.cancelled - left;
        lost_total += lost;
        left_total += left;
        printf("  %-17s %-7s %9lld %7lld %6lld %6lld %6lld %8lld\n", cls_names[i],
               sluice_tier_name(cfg.tier), (long long)st.enqueued, (long long)st.acked, (long long)lost,
               (long long)st.dead, (long long)st.retried, (long long)(st.ready + st.delayed + st.leased));
    }
    sluice_client_free(c);
    int ok = 1;
    if (lost_total == 0 && left_total == 0)
        printf("  0 lost: every job enqueued was done (acked == enqueued; nothing ready, delayed, leased or dead)\n");
    else {
        printf("  FAIL: %lld lost, %lld not done (ready+delayed+leased+dead)\n", (long long)lost_total,
               (long long)left_total);
        ok = 0;
    }
    double mf = rget(&on, "min_fraction." CERT), mfs = rget(&on, "min_fraction." SYNC);
    printf("  low tier (%s) admitted fraction during the peak: min %.2f%s\n", CERT, mf,
           mf < 1 ? "  -> throttled" : "  -> NEVER THROTTLED");
    printf("  normal tier (%s) admitted fraction during the peak: min %.2f\n", SYNC, mfs);
    if (!(mf < 1)) ok = 0;
    char a[32], b[32], d[32];
    double on99 = rget(&on, "peak_p99_ms"), alone99 = rget(&on, "peak_alone_p99_ms");
    fmt_ms(a, sizeof(a), alone99);
    fmt_ms(b, sizeof(b), on99);
    printf("  interactive p99 during the peak, alone (no background): %s\n", a);
    printf("  interactive p99 during the peak, governor on:           %s = %.2fx alone (disk %.0f%% busy)\n", b,
           on99 / alone99, rget(&on, "peak_util") * 100);
    printf("  spare capacity the backlog used after the peak:         %.0f%% (of %.1f s of disk time under the\n"
           "                                                          target that the waiting jobs could use)\n",
           rget(&on, "spare_after_peak") * 100, rget(&on, "spare_after_peak_s"));
    if (has_off) {
        fmt_ms(d, sizeof(d), rget(&off, "peak_p99_ms"));
        printf("  interactive p99 during the peak, governor off:          %s = %.2fx alone (disk %.0f%% busy)\n", d,
               rget(&off, "peak_p99_ms") / rget(&off, "peak_alone_p99_ms"), rget(&off, "peak_util") * 100);
        printf("  runs: %.0f s with the governor on, %.0f s off\n", rget(&on, "duration_s"),
               rget(&off, "duration_s"));
    } else {
        printf("  (the governor-off run was skipped: it would not fit in 3 minutes)\n");
        printf("  run: %.0f s with the governor on\n", rget(&on, "duration_s"));
    }
    printf("  %s\n", ok ? "OK" : "FAILED");
    fflush(stdout);
    return ok ? 0 : 1;
}

/* -------------------------------- wipe -------------------------------- */

/* Deletes NS:* with SCAN + UNLINK (the namespace is the demo's own). */
static int cmd_wipe(void) {
    sluice_url u;
    sluice_error err;
    if (sluice_url_parse(NULL, &u, &err) < 0) die("%s", err.text);
    const char *ns = getenv("SLUICE_NAMESPACE");
    if (!ns || !*ns) die("wipe: set SLUICE_NAMESPACE (refusing to wipe the default namespace)");
    struct timeval tv = {5, 0};
    redisContext *rc = u.is_unix ? redisConnectUnixWithTimeout(u.path, tv)
                                 : redisConnectWithTimeout(u.host, u.port, tv);
    if (!rc || rc->err) die("wipe: cannot connect");
    redisReply *rep;
    if (u.password[0]) {
        rep = u.user[0] ? redisCommand(rc, "AUTH %s %s", u.user, u.password)
                        : redisCommand(rc, "AUTH %s", u.password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) die("wipe: auth failed");
        freeReplyObject(rep);
    }
    memset(u.password, 0, sizeof(u.password));
    if (u.db) {
        rep = redisCommand(rc, "SELECT %d", u.db);
        if (rep) freeReplyObject(rep);
    }
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "%s:*", ns);
    char cursor[32] = "0";
    long deleted = 0;
    do {
        rep = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) die("wipe: SCAN failed");
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            redisReply *d = redisCommand(rc, "UNLINK %s", rep->element[1]->element[i]->str);
            if (d) { deleted += d->type == REDIS_REPLY_INTEGER ? (long)d->integer : 0; freeReplyObject(d); }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    redisFree(rc);
    fprintf(stderr, "sluice-demo: wiped %ld keys of namespace %s\n", deleted, ns);
    return 0;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "io")) return cmd_io(argc, argv);
    if (!strcmp(cmd, "run")) return cmd_run(argc, argv);
    if (!strcmp(cmd, "summary")) return cmd_summary(argc, argv);
    if (!strcmp(cmd, "wipe")) return cmd_wipe();
    FILE *f = !strcmp(cmd, "--help") ? stdout : stderr;
    fprintf(f, "usage: sluice-demo run|io|summary|wipe ... (see scripts/demo/sluice-demo.c)\n");
    return f == stdout ? 0 : 2;
}
