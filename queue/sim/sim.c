/* The simulator's core: the step loop that joins trace, queue, policy,
 * disk and monitor, the metrics of one run, the fixed-limit sweep and the
 * report. No I/O. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "sim.h"

/* ================================================================ job queue */

/* Jobs that arrived in the same second with the same cost wait together;
 * the last of them is the one whose wait counts as the chunk's. */
typedef struct chunk {
    double t_arr;     /* s */
    int64_t jobs;
    int64_t jobs_done;
    double cost;      /* IO units per job */
    double done_io;   /* IO units of it already run */
    int batch;        /* 1 if from a batch or periodic burst: counts for the makespan */
} chunk;

typedef struct jobq {
    chunk *c;
    size_t head, len, cap;
    double waiting_io;
    int64_t waiting_jobs; /* jobs not yet done */
} jobq;

static int jobq_push(jobq *q, double t, int64_t jobs, double cost, int batch)
{
    if (q->head > 0 && q->head == q->len) q->head = q->len = 0;
    if (q->len == q->cap) {
        if (q->head > q->cap / 2) {
            memmove(q->c, q->c + q->head, (q->len - q->head) * sizeof *q->c);
            q->len -= q->head;
            q->head = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 256;
            chunk *n = realloc(q->c, ncap * sizeof *n);
            if (!n) return -1;
            q->c = n;
            q->cap = ncap;
        }
    }
    q->c[q->len++] = (chunk){t, jobs, 0, cost, 0.0, batch};
    q->waiting_io += (double)jobs * cost;
    q->waiting_jobs += jobs;
    return 0;
}

/* Runs up to "budget" IO units of the queue, oldest first; returns what ran
 * and records finished jobs in *cr at time "now" (s). */
static double jobq_run(jobq *q, double budget, double now, sluice_sim_class_result *cr,
                       double *batch_done)
{
    double ran = 0;
    while (budget > 1e-12 && q->head < q->len) {
        chunk *k = &q->c[q->head];
        double total = (double)k->jobs * k->cost;
        double x = total - k->done_io;
        if (x > budget) x = budget;
        k->done_io += x;
        budget -= x;
        ran += x;
        int64_t done = (int64_t)floor(k->done_io / k->cost + 1e-9);
        if (k->done_io >= total - 1e-9 * total) done = k->jobs;
        if (done > k->jobs) done = k->jobs;
        cr->jobs_done += done - k->jobs_done;
        q->waiting_jobs -= done - k->jobs_done;
        k->jobs_done = done;
        if (done == k->jobs) {
            if (now - k->t_arr > cr->longest_wait_s) cr->longest_wait_s = now - k->t_arr;
            cr->finish_s = now;
            if (k->batch && now > *batch_done) *batch_done = now;
            q->head++;
        } else {
            break;
        }
    }
    q->waiting_io -= ran;
    if (q->head == q->len) {
        q->waiting_io = 0;
    } else if (q->waiting_io <= 0) {
        /* Rounding drift: count again rather than strand the rest. */
        q->waiting_io = 0;
        for (size_t i = q->head; i < q->len; i++)
            q->waiting_io += (double)q->c[i].jobs * q->c[i].cost - q->c[i].done_io;
    }
    return ran;
}

static int64_t jobq_waiting_jobs(const jobq *q)
{
    int64_t n = 0;
    for (size_t i = q->head; i < q->len; i++) n += q->c[i].jobs - q->c[i].jobs_done;
    return n;
}

/* ================================================================ monitor */

/* The monitor averages utilisation over a period and publishes it "delay"
 * later; published samples wait in a ring until their time comes. */
typedef struct monitor {
    double sum;           /* utilisation summed over this period's steps */
    int64_t nsum;
    struct sample { int64_t publish_ms, observed_ms; double value; int gap; } *ring;
    size_t cap, head, len;
    signal_view view;
    int64_t observed_ms;  /* of the sample in view */
} monitor;

static int in_gap(const sluice_sim_scenario *s, int64_t t_ms)
{
    for (size_t i = 0; i < s->ngaps; i++)
        if (t_ms >= s->gaps[i].start_s * 1000 && t_ms < s->gaps[i].end_s * 1000) return 1;
    return 0;
}

static int monitor_init(monitor *m, const sluice_sim_scenario *s)
{
    memset(m, 0, sizeof *m);
    m->cap = (size_t)(s->sig_delay_ms / s->sig_period_ms) + 4;
    m->ring = calloc(m->cap, sizeof *m->ring);
    return m->ring ? 0 : -1;
}

/* Feeds the utilisation of the step that ends at end_ms. */
static void monitor_feed(monitor *m, const sluice_sim_scenario *s, int64_t end_ms, double util,
                         int64_t k)
{
    m->sum += util;
    m->nsum++;
    if (end_ms % s->sig_period_ms != 0) return;
    double v = m->sum / (double)m->nsum;
    m->sum = 0;
    m->nsum = 0;
    if (s->sig_noise > 0) v += s->sig_noise * rng_normal(s->seed, STREAM_SIGNAL, 0, (uint64_t)k);
    if (v < 0) v = 0;
    if (m->len < m->cap) {
        struct sample *x = &m->ring[(m->head + m->len) % m->cap];
        x->publish_ms = end_ms + s->sig_delay_ms;
        x->observed_ms = end_ms;
        x->value = v;
        x->gap = in_gap(s, end_ms);
        m->len++;
    }
}

/* What a reader sees at now_ms. */
static void monitor_read(monitor *m, int64_t now_ms)
{
    while (m->len > 0 && m->ring[m->head].publish_ms <= now_ms) {
        struct sample *x = &m->ring[m->head];
        if (!x->gap) {
            m->view.has_value = 1;
            m->view.value = x->value;
            m->observed_ms = x->observed_ms;
        }
        m->head = (m->head + 1) % m->cap;
        m->len--;
    }
    m->view.age_ms = m->view.has_value ? now_ms - m->observed_ms : 0;
}

/* ================================================================ spare */

/* Spare capacity is counted per signal period, as the target is: the target
 * bounds the period's mean utilisation, so a period's spare is its headroom
 * below target (IO units, never negative) summed over the steps with work
 * waiting, as far as that work could have used it: each class offers what
 * waited at the period's start or arrived in it, at most its workers' rate
 * for the period. Background I/O run anywhere in the period uses it. */
typedef struct spare_tally {
    double headroom;                        /* IO units, this period so far */
    double offered[SLUICE_SIM_MAX_CLASSES]; /* IO units, this period so far */
    double ran;                             /* IO units, this period so far */
    double usable, used;                    /* IO units, periods folded */
} spare_tally;

/* A period begins: each class offers what waits. */
static void spare_open(spare_tally *x, const jobq *q, size_t nc)
{
    for (size_t i = 0; i < nc; i++) x->offered[i] = q[i].waiting_io;
}

static void spare_fold(spare_tally *x, const sluice_sim_scenario *s)
{
    double could = 0, period_s = (double)s->sig_period_ms / 1000.0;
    for (size_t i = 0; i < s->nclasses; i++) {
        double most = s->classes[i].worker_rate * period_s;
        could += x->offered[i] < most ? x->offered[i] : most;
        x->offered[i] = 0;
    }
    double usable = x->headroom < 0 ? 0 : x->headroom;
    if (usable > could) usable = could;
    x->usable += usable;
    x->used += x->ran < usable ? x->ran : usable;
    x->headroom = x->ran = 0;
}

/* ================================================================ one run */

void sim_series_free(sim_series *ser)
{
    if (!ser) return;
    free(ser->lat);
    free(ser->util);
    free(ser->admitted);
    free(ser->backlog);
    memset(ser, 0, sizeof *ser);
}

static int series_alloc(sim_series *ser, size_t n)
{
    memset(ser, 0, sizeof *ser);
    ser->n = n;
    ser->lat = calloc(n, sizeof *ser->lat);
    ser->util = calloc(n, sizeof *ser->util);
    ser->admitted = calloc(n, sizeof *ser->admitted);
    ser->backlog = calloc(n, sizeof *ser->backlog);
    if (ser->lat && ser->util && ser->admitted && ser->backlog) return 0;
    sim_series_free(ser);
    return -1;
}

/* Most reversals within any window of "win" seconds; times ascending. */
static int64_t max_in_window(const double *t, size_t n, double win)
{
    int64_t best = 0;
    size_t lo = 0;
    for (size_t hi = 0; hi < n; hi++) {
        while (t[hi] - t[lo] >= win) lo++;
        if ((int64_t)(hi - lo + 1) > best) best = (int64_t)(hi - lo + 1);
    }
    return best;
}

/* Runs policy "p" over the scenario. "stop_s" > 0 ends the run there (the
 * sweep only needs the peak). Fills *res and *ser (per-second series within
 * the duration). */
static int run(const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate,
               int64_t stop_s, sluice_sim_result *res, sim_series *ser, sluice_error *err)
{
    const size_t nc = s->nclasses;
    const int64_t step = s->step_ms;
    const double dt = (double)step / 1000.0;
    const int64_t sps = 1000 / step;
    const int64_t nsec = s->duration_s;
    const int64_t end_ms = (stop_s > 0 ? stop_s : s->duration_s + s->drain_s) * 1000;
    const double C = s->capacity;
    jobq q[SLUICE_SIM_MAX_CLASSES];
    policy_state ps;
    monitor mon;
    double avail[SLUICE_SIM_MAX_CLASSES], rate[SLUICE_SIM_MAX_CLASSES];
    int64_t jobs[SLUICE_SIM_MAX_CLASSES];
    double *rev = NULL;
    size_t nrev = 0, caprev = 0;
    int last_dir = 0, rc = -1;
    double Q = 0, lat_w = 0, lat_m = 0, lat_d = 0, util_s = 0, adm_s = 0;
    spare_tally spare = {0};
    double bg_io = 0, batch_done = -1;
    int saturated_s = 0;

    memset(res, 0, sizeof *res);
    memset(q, 0, sizeof q);
    res->policy = p;
    res->fixed_rate = p == SLUICE_SIM_FIXED ? fixed_rate : 0;
    res->nclasses = nc;
    for (size_t i = 0; i < nc; i++) {
        memcpy(res->classes[i].name, s->classes[i].name, SLUICE_SIM_NAME);
        res->classes[i].tier = s->classes[i].tier;
        res->classes[i].finish_s = -1;
    }
    if (series_alloc(ser, (size_t)nsec) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
        return -1;
    }
    if (monitor_init(&mon, s) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
        return -1;
    }
    policy_init(&ps, s, p, fixed_rate);

    for (int64_t k = 0;; k++) {
        int64_t t = k * step;
        int64_t sec = t / 1000;
        double waiting = 0;

        if (t >= end_ms) break;
        if (t >= s->duration_s * 1000) {
            for (size_t i = 0; i < nc; i++) waiting += q[i].waiting_io;
            if (waiting <= 0 && stop_s <= 0) break;
        }
        if (t % s->sig_period_ms == 0) spare_open(&spare, q, nc);
        /* Arrivals land at the start of their second. */
        if (t % 1000 == 0 && sec < nsec && p != SLUICE_SIM_BASELINE) {
            for (size_t i = 0; i < nc; i++) {
                for (size_t a = 0; a < s->classes[i].narr; a++) {
                    int64_t n = model_arrivals(s, i, a, sec);
                    if (n <= 0) continue;
                    if (jobq_push(&q[i], (double)sec, n, s->classes[i].arr[a].cost,
                                  s->classes[i].arr[a].kind != ARR_POISSON) < 0) {
                        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
                        goto out;
                    }
                    res->classes[i].jobs_arrived += n;
                    spare.offered[i] += (double)n * s->classes[i].arr[a].cost;
                }
            }
        }
        double I = model_interactive(s, t);
        waiting = 0;
        for (size_t i = 0; i < nc; i++) {
            double a = q[i].waiting_io / dt;
            avail[i] = a < s->classes[i].worker_rate ? a : s->classes[i].worker_rate;
            jobs[i] = q[i].waiting_jobs;
            waiting += q[i].waiting_io;
        }
        monitor_read(&mon, t);
        int dir = 0;
        if (policy_rates(&ps, s, t, &mon.view, avail, jobs, rate, &dir) < 0) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "simulate: the governor law refused its input");
            goto out;
        }
        if (dir != 0) {
            res->changes++;
            if (last_dir != 0 && dir != last_dir) {
                res->reversals++;
                if (nrev == caprev) {
                    size_t ncap = caprev ? caprev * 2 : 64;
                    double *n = realloc(rev, ncap * sizeof *n);
                    if (!n) {
                        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
                        goto out;
                    }
                    rev = n;
                    caprev = ncap;
                }
                rev[nrev++] = (double)t / 1000.0;
            }
            last_dir = dir;
        }
        double B = 0, now_end = (double)(t + step) / 1000.0;
        for (size_t i = 0; i < nc; i++) {
            double r = rate[i] < avail[i] ? rate[i] : avail[i];
            if (r > 0) B += jobq_run(&q[i], r * dt, now_end, &res->classes[i], &batch_done) / dt;
        }
        bg_io += B * dt;
        if (waiting > 0) {
            spare.headroom += (s->sig_target * C - I) * dt;
            spare.ran += B * dt;
        }
        if ((t + step) % s->sig_period_ms == 0) spare_fold(&spare, s);
        /* The disk. */
        double offered = I + B;
        Q += (offered - C) * dt;
        if (Q < 0) Q = 0;
        int sat = Q > 0 || offered >= C;
        double util = sat ? 1.0 : offered / C;
        double rho = offered / C;
        if (rho > s->rho_max) rho = s->rho_max;
        double m = s->service_ms / (1.0 - rho), d = Q / C * 1000.0;
        lat_w += I * dt;
        lat_m += I * dt * m;
        lat_d += I * dt * d;
        util_s += util;
        adm_s += B;
        saturated_s |= sat;
        monitor_feed(&mon, s, t + step, util, k);

        if ((k + 1) % sps == 0) {
            if (sec < nsec) {
                lat_comp *c = &ser->lat[sec];
                c->w = lat_w;
                c->m = lat_w > 0 ? lat_m / lat_w : s->service_ms;
                c->d = lat_w > 0 ? lat_d / lat_w : 0;
                ser->util[sec] = (float)(util_s / (double)sps);
                ser->admitted[sec] = (float)(adm_s / (double)sps);
                double w = 0;
                for (size_t i = 0; i < nc; i++) w += q[i].waiting_io;
                ser->backlog[sec] = (float)w;
                if (saturated_s) {
                    res->seconds_over_capacity++;
                    if (sec >= s->peak_start_s && sec < s->peak_end_s)
                        res->peak_seconds_over_capacity++;
                }
            }
            lat_w = lat_m = lat_d = util_s = adm_s = 0;
            saturated_s = 0;
        }
    }

    res->background_io = bg_io;
    spare_fold(&spare, s);
    res->spare_used = spare.usable > 0 ? spare.used / spare.usable : 1.0;
    res->spare_unused_io = spare.usable - spare.used;
    res->max_reversals_hour = max_in_window(rev, nrev, 3600.0);
    {
        double last = -1;
        int left = 0;
        for (size_t i = 0; i < nc; i++) {
            sluice_sim_class_result *cr = &res->classes[i];
            cr->jobs_waiting = jobq_waiting_jobs(&q[i]);
            cr->jobs_lost = cr->jobs_arrived - cr->jobs_done - cr->jobs_waiting;
            res->jobs_lost += cr->jobs_lost;
            if (cr->jobs_waiting > 0) {
                left = 1;
                /* The oldest waiting job has waited at least this long. */
                double w = (double)end_ms / 1000.0 - q[i].c[q[i].head].t_arr;
                if (w > cr->longest_wait_s) cr->longest_wait_s = w;
            }
            if (cr->finish_s > last) last = cr->finish_s;
        }
        res->makespan_s = left ? -1 : batch_done >= 0 ? batch_done : last;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nc; i++) free(q[i].c);
    free(mon.ring);
    free(rev);
    if (rc < 0) sim_series_free(ser);
    return rc;
}

int sim_run_policy(const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate,
                   sluice_sim_result *res, sim_series *ser, sluice_error *err)
{
    return run(s, p, fixed_rate, 0, res, ser, err);
}

/* ================================================================ metrics */

static double window_quantile(const sim_series *ser, int64_t from, int64_t to, double q)
{
    if (from < 0) from = 0;
    if (to > (int64_t)ser->n) to = (int64_t)ser->n;
    if (to <= from) return 0;
    return model_quantile(ser->lat + from, (size_t)(to - from), q);
}

/* Worst p99 ratio to the baseline over the peak's minutes; also counts the
 * minutes over the goal and names the worst one. */
static double peak_ratio(const sluice_sim_scenario *s, const sim_series *ser,
                         const double *base_p99, int64_t *worst_s, int64_t *over)
{
    double worst = 0;
    *over = 0;
    *worst_s = s->peak_start_s;
    for (int64_t m0 = s->peak_start_s / 60 * 60; m0 < s->peak_end_s; m0 += 60) {
        double b = base_p99[m0 / 60];
        double x = window_quantile(ser, m0, m0 + 60, 0.99);
        double r = b > 0 ? x / b : 0;
        if (r > s->goal_p99_ratio) (*over)++;
        if (r > worst) {
            worst = r;
            *worst_s = m0;
        }
    }
    return worst;
}

/* ================================================================ report */

const char *sluice_sim_policy_name(sluice_sim_policy p)
{
    static const char *const names[SLUICE_SIM_POLICIES] = {"baseline", "no_limit", "fixed",
                                                           "threshold", "governor"};
    return (unsigned)p < SLUICE_SIM_POLICIES ? names[p] : NULL;
}

void sluice_sim_report_free(sluice_sim_report *r)
{
    if (!r) return;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
        sim_series_free(&r->ser[p]);
        free(r->min_p50[p]);
        free(r->min_p99[p]);
    }
    free(r);
}

static int fill_minutes(sluice_sim_report *r, int p)
{
    r->min_p50[p] = calloc(r->minutes, sizeof(double));
    r->min_p99[p] = calloc(r->minutes, sizeof(double));
    if (!r->min_p50[p] || !r->min_p99[p]) return -1;
    for (size_t m = 0; m < r->minutes; m++) {
        int64_t a = (int64_t)m * 60;
        r->min_p50[p][m] = window_quantile(&r->ser[p], a, a + 60, 0.50);
        r->min_p99[p][m] = window_quantile(&r->ser[p], a, a + 60, 0.99);
    }
    return 0;
}

static void finish(sluice_sim_report *r, int p)
{
    const sluice_sim_scenario *s = &r->scen;
    sluice_sim_result *res = &r->res[p];
    res->p50_ms = window_quantile(&r->ser[p], 0, s->duration_s, 0.50);
    res->p99_ms = window_quantile(&r->ser[p], 0, s->duration_s, 0.99);
    res->peak_p50_ms = window_quantile(&r->ser[p], s->peak_start_s, s->peak_end_s, 0.50);
    res->peak_p99_ms = window_quantile(&r->ser[p], s->peak_start_s, s->peak_end_s, 0.99);
    res->worst_minute_ratio = peak_ratio(s, &r->ser[p], r->min_p99[SLUICE_SIM_BASELINE],
                                         &res->worst_minute_s, &res->peak_minutes_over_goal);
}

/* Is the fixed budget "rate" safe for the peak? Runs only up to the peak's end. */
static int fixed_safe(sluice_sim_report *r, double rate, int *safe, sluice_error *err)
{
    sluice_sim_result res;
    sim_series ser;
    int64_t worst_s, over;
    if (run(&r->scen, SLUICE_SIM_FIXED, rate, r->scen.peak_end_s, &res, &ser, err) < 0)
        return -1;
    double worst = peak_ratio(&r->scen, &ser, r->min_p99[SLUICE_SIM_BASELINE], &worst_s, &over);
    sim_series_free(&ser);
    *safe = worst <= r->scen.goal_p99_ratio;
    return 0;
}

/* The highest fixed budget whose every peak minute meets the p99 goal:
 * bisection between 0 and the workers' total rate, to sweep_resolution.
 * Bisection assumes more budget is never safer: true while work waits
 * through the peak (the peak then runs exactly the budget), as in the
 * incident. The report's fixed run is checked again in full, so a wrong
 * assumption shows as peak_minutes_over_goal > 0, never silently. */
static int sweep(sluice_sim_report *r, double *best, sluice_error *err)
{
    const sluice_sim_scenario *s = &r->scen;
    double lo = 0, hi = 0;
    int safe = 0;
    for (size_t i = 0; i < s->nclasses; i++)
        if (s->classes[i].tier != SLUICE_TIER_CRITICAL) hi += s->classes[i].worker_rate;
    if (fixed_safe(r, hi, &safe, err) < 0) return -1;
    if (safe) {
        *best = hi;
        return 0;
    }
    while (hi - lo > s->sweep_resolution) {
        double mid = 0.5 * (lo + hi);
        if (fixed_safe(r, mid, &safe, err) < 0) return -1;
        if (safe)
            lo = mid;
        else
            hi = mid;
    }
    *best = floor(lo / s->sweep_resolution) * s->sweep_resolution;
    return 0;
}

sluice_sim_report *sluice_sim_run(const sluice_sim_scenario *s, sluice_error *err)
{
    sluice_error_reset(err);
    if (!s) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "simulate: no scenario");
        return NULL;
    }
    sluice_sim_report *r = calloc(1, sizeof *r);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
        return NULL;
    }
    r->scen = *s;
    r->minutes = (size_t)((s->duration_s + 59) / 60);
    double best = 0;
    static const sluice_sim_policy order[] = {SLUICE_SIM_BASELINE, SLUICE_SIM_NO_LIMIT,
                                              SLUICE_SIM_FIXED, SLUICE_SIM_THRESHOLD,
                                              SLUICE_SIM_GOVERNOR};
    for (size_t i = 0; i < SLUICE_SIM_POLICIES; i++) {
        sluice_sim_policy p = order[i];
        if (p == SLUICE_SIM_FIXED && sweep(r, &best, err) < 0) goto fail;
        if (run(s, p, best, 0, &r->res[p], &r->ser[p], err) < 0) goto fail;
        if (fill_minutes(r, (int)p) < 0) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
            goto fail;
        }
        finish(r, (int)p);
    }
    return r;
fail:
    sluice_sim_report_free(r);
    return NULL;
}

const sluice_sim_result *sluice_sim_report_result(const sluice_sim_report *r,
                                                  sluice_sim_policy p)
{
    if (!r || (unsigned)p >= SLUICE_SIM_POLICIES) return NULL;
    return &r->res[p];
}

size_t sluice_sim_report_minutes(const sluice_sim_report *r)
{
    return r ? r->minutes : 0;
}

int sluice_sim_report_minute(const sluice_sim_report *r, sluice_sim_policy p, size_t m,
                             double *p50_ms, double *p99_ms)
{
    if (!r || (unsigned)p >= SLUICE_SIM_POLICIES || m >= r->minutes) return -1;
    if (p50_ms) *p50_ms = r->min_p50[p][m];
    if (p99_ms) *p99_ms = r->min_p99[p][m];
    return 0;
}

void sluice_sim_report_goals(const sluice_sim_report *r, sluice_sim_goals *g)
{
    memset(g, 0, sizeof *g);
    if (!r) return;
    const sluice_sim_scenario *s = &r->scen;
    const sluice_sim_result *gov = &r->res[SLUICE_SIM_GOVERNOR];
    const sluice_sim_result *fix = &r->res[SLUICE_SIM_FIXED];
    const sluice_sim_result *nol = &r->res[SLUICE_SIM_NO_LIMIT];
    g->p99_ratio = s->goal_p99_ratio;
    g->spare_used = s->goal_spare_used;
    g->max_reversals_hour = s->goal_max_reversals_hour;
    g->p99_met = gov->peak_minutes_over_goal == 0;
    g->incident_shown = nol->peak_seconds_over_capacity > 0 && nol->worst_minute_ratio > 2.0;
    g->spare_met = gov->spare_used >= s->goal_spare_used;
    g->sooner_met = gov->makespan_s >= 0 &&
                    (fix->makespan_s < 0 || gov->makespan_s < fix->makespan_s);
    g->stable_met = gov->max_reversals_hour <= s->goal_max_reversals_hour;
    g->no_loss = 1;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++)
        if (r->res[p].jobs_lost != 0) g->no_loss = 0;
}
