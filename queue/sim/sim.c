/* The simulator's core: the step loop that joins trace, queue, policy,
 * disk and monitor into one run's result and per-second series. No I/O. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "sim.h"

/* ================================================================ monitor */

/* The monitor averages utilisation over a period and publishes it "delay"
 * later; published samples wait in a ring until their time comes. */
typedef struct monitor {
    double sum; /* utilisation summed over this period's steps */
    int64_t nsum;
    struct sample {
        int64_t publish_ms, observed_ms;
        double value;
        int gap;
    } * ring;
    size_t cap, head, len;
    signal_view view;
    int64_t observed_ms; /* of the sample in view */
} monitor;

static int in_gap(const sluice_sim_scenario *s, int64_t t_ms) {
    for (size_t i = 0; i < s->ngaps; i++)
        if (t_ms >= s->gaps[i].start_s * 1000 && t_ms < s->gaps[i].end_s * 1000) return 1;
    return 0;
}

static int monitor_init(monitor *m, const sluice_sim_scenario *s) {
    memset(m, 0, sizeof *m);
    m->cap = (size_t)(s->sig_delay_ms / s->sig_period_ms) + 4;
    m->ring = calloc(m->cap, sizeof *m->ring);
    return m->ring ? 0 : -1;
}

/* Feeds the utilisation of the step that ends at end_ms. */
static void monitor_feed(monitor *m, const sluice_sim_scenario *s, int64_t end_ms, double util, int64_t k) {
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
static void monitor_read(monitor *m, int64_t now_ms) {
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
static void spare_open(spare_tally *x, const sim_queue *q, size_t nc) {
    for (size_t i = 0; i < nc; i++) x->offered[i] = q[i].waiting_io;
}

static void spare_fold(spare_tally *x, const sluice_sim_scenario *s) {
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

void sim_series_free(sim_series *ser) {
    if (!ser) return;
    free(ser->lat);
    free(ser->util);
    free(ser->admitted);
    free(ser->backlog);
    memset(ser, 0, sizeof *ser);
}

static int series_alloc(sim_series *ser, size_t n) {
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
static int64_t max_in_window(const double *t, size_t n, double win) {
    int64_t best = 0;
    size_t lo = 0;
    for (size_t hi = 0; hi < n; hi++) {
        while (t[hi] - t[lo] >= win) lo++;
        if ((int64_t)(hi - lo + 1) > best) best = (int64_t)(hi - lo + 1);
    }
    return best;
}

/* One run's state: its queues, policy and monitor, and the tallies of the
 * step, of the second and of the whole run. */
typedef struct run_state {
    const sluice_sim_scenario *s;
    sluice_sim_policy p;
    int64_t stop_s; /* s, > 0: the run ends there */
    int64_t end_ms; /* ms, the run ends at the latest here */
    int64_t sps;    /* steps per second */
    double dt;      /* s, one step */
    sluice_sim_result *res;
    sim_series *ser;
    sim_queue q[SLUICE_SIM_MAX_CLASSES];
    policy_state ps;
    monitor mon;
    class_view cv[SLUICE_SIM_MAX_CLASSES]; /* what each class has waiting this step */
    double rate[SLUICE_SIM_MAX_CLASSES];   /* IO/s each class is admitted this step */
    double *rev;                           /* s, times of the reversals */
    size_t nrev, caprev;
    int last_dir;
    double Q;                   /* IO units queued at the disk */
    double lat_w, lat_m, lat_d; /* this second's latency mixture, summed */
    double util_s, adm_s;       /* this second's utilisation and admitted IO/s, summed */
    int saturated_s;            /* 1 if the disk saturated in this second */
    spare_tally spare;
    double bg_io;      /* IO units of background work run */
    double batch_done; /* s, when the last batch job finished; -1 none yet */
} run_state;

/* Sets up *r for a run and fills in res's names; r->rev and the rings are
 * NULL until allocated, so run_free is safe after a failure. Returns -1 with
 * err set when out of memory. */
static int run_init(run_state *r, const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate, int64_t stop_s,
                    sluice_sim_result *res, sim_series *ser, sluice_error *err) {
    memset(r, 0, sizeof *r);
    r->s = s;
    r->p = p;
    r->stop_s = stop_s;
    r->end_ms = (stop_s > 0 ? stop_s : s->duration_s + s->drain_s) * 1000;
    r->sps = 1000 / s->step_ms;
    r->dt = (double)s->step_ms / 1000.0;
    r->res = res;
    r->ser = ser;
    r->batch_done = -1;
    memset(res, 0, sizeof *res);
    res->policy = p;
    res->fixed_rate = p == SLUICE_SIM_FIXED ? fixed_rate : 0;
    res->nclasses = s->nclasses;
    for (size_t i = 0; i < s->nclasses; i++) {
        memcpy(res->classes[i].name, s->classes[i].name, SLUICE_SIM_NAME);
        res->classes[i].tier = s->classes[i].tier;
        res->classes[i].finish_s = -1;
    }
    int ok = series_alloc(ser, (size_t)s->duration_s) == 0 && monitor_init(&r->mon, s) == 0;
    for (size_t i = 0; ok && i < s->nclasses; i++) ok = simq_init(&r->q[i], &s->classes[i]) == 0;
    if (!ok) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
        return -1;
    }
    policy_init(&r->ps, s, p, fixed_rate);
    return 0;
}

static void run_free(run_state *r) {
    for (size_t i = 0; i < r->s->nclasses; i++) simq_free(&r->q[i]);
    free(r->mon.ring);
    free(r->rev);
}

/* 1 if the run ends at t (ms): its end, or past the duration with nothing
 * waiting when the run drains. */
static int run_over(const run_state *r, int64_t t) {
    if (t >= r->end_ms) return 1;
    if (t >= r->s->duration_s * 1000) {
        double waiting = 0;
        for (size_t i = 0; i < r->s->nclasses; i++) waiting += r->q[i].waiting_io;
        if (waiting <= 0 && r->stop_s <= 0) return 1;
    }
    return 0;
}

/* Queues the jobs arriving in second "sec"; they land at its start.
 * Returns -1 with err set when out of memory. */
static int step_arrivals(run_state *r, int64_t sec, sluice_error *err) {
    const sluice_sim_scenario *s = r->s;
    for (size_t i = 0; i < s->nclasses; i++) {
        for (size_t a = 0; a < s->classes[i].narr; a++) {
            int64_t n = model_arrivals(s, i, a, sec);
            if (n <= 0) continue;
            if (simq_push(&r->q[i], s, i, a, sec, n) < 0) {
                sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
                return -1;
            }
            r->res->classes[i].jobs_arrived += n;
            r->spare.offered[i] += (double)n * s->classes[i].arr[a].cost;
        }
    }
    return 0;
}

/* Fills each class's view from its queue (its deadlines when the policy
 * reads them at t, ms); returns the IO units waiting. */
static double step_offer(run_state *r, int64_t t) {
    double waiting = 0;
    int ticks = policy_ticks(&r->ps, t);
    for (size_t i = 0; i < r->s->nclasses; i++) {
        class_view *v = &r->cv[i];
        double a = r->q[i].waiting_io / r->dt;
        double most = r->s->classes[i].worker_rate;
        v->avail = a < most ? a : most;
        v->jobs = r->q[i].waiting_jobs;
        v->ready = r->q[i].ready;
        v->starts = r->q[i].starts;
        v->ndl = ticks && r->s->classes[i].reserve > 0 ? simq_deadlines(&r->q[i], v->dl) : 0;
        waiting += r->q[i].waiting_io;
    }
    return waiting;
}

/* Records a reversal at t (ms). Returns -1 with err set when out of memory. */
static int note_reversal(run_state *r, int64_t t, sluice_error *err) {
    r->res->reversals++;
    if (r->nrev == r->caprev) {
        size_t ncap = r->caprev ? r->caprev * 2 : 64;
        double *n = realloc(r->rev, ncap * sizeof *n);
        if (!n) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
            return -1;
        }
        r->rev = n;
        r->caprev = ncap;
    }
    r->rev[r->nrev++] = (double)t / 1000.0;
    return 0;
}

/* The policy reads the monitor at t (ms) and sets each class's rate; counts
 * its changes and reversals. Returns -1 with err set if the law refused its
 * input or when out of memory. */
static int step_rates(run_state *r, int64_t t, sluice_error *err) {
    monitor_read(&r->mon, t);
    int dir = 0;
    if (policy_rates(&r->ps, r->s, t, &r->mon.view, r->cv, r->rate, &dir) < 0) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "simulate: the governor law refused its input or out of memory");
        return -1;
    }
    if (dir != 0) {
        r->res->changes++;
        if (r->last_dir != 0 && dir != r->last_dir && note_reversal(r, t, err) < 0) return -1;
        r->last_dir = dir;
    }
    return 0;
}

/* Runs each class's admitted work in the step that starts at t (ms) beside
 * interactive demand "I" (IO/s); tallies the spare capacity. Returns the
 * background IO/s run. */
static double step_service(run_state *r, int64_t t, double I, double waiting) {
    const sluice_sim_scenario *s = r->s;
    const double dt = r->dt;
    double B = 0, now_end = (double)(t + s->step_ms) / 1000.0;
    for (size_t i = 0; i < s->nclasses; i++) {
        double rt = r->rate[i] < r->cv[i].avail ? r->rate[i] : r->cv[i].avail;
        if (rt > 0) B += simq_run(&r->q[i], rt * dt, t, now_end, &r->res->classes[i], &r->batch_done) / dt;
    }
    r->bg_io += B * dt;
    if (waiting > 0) {
        r->spare.headroom += (s->sig_target * s->capacity - I) * dt;
        r->spare.ran += B * dt;
    }
    if ((t + s->step_ms) % s->sig_period_ms == 0) spare_fold(&r->spare, s);
    return B;
}

/* The disk serves interactive "I" and background "B" (IO/s) in step k that
 * starts at t (ms): its queue, utilisation and latency, fed to the monitor. */
static void step_disk(run_state *r, int64_t t, int64_t k, double I, double B) {
    const sluice_sim_scenario *s = r->s;
    const double C = s->capacity, dt = r->dt;
    double offered = I + B;
    r->Q += (offered - C) * dt;
    if (r->Q < 0) r->Q = 0;
    int sat = r->Q > 0 || offered >= C;
    double util = sat ? 1.0 : offered / C;
    double rho = offered / C;
    if (rho > s->rho_max) rho = s->rho_max;
    double m = s->service_ms / (1.0 - rho), d = r->Q / C * 1000.0;
    r->lat_w += I * dt;
    r->lat_m += I * dt * m;
    r->lat_d += I * dt * d;
    r->util_s += util;
    r->adm_s += B;
    r->saturated_s |= sat;
    monitor_feed(&r->mon, s, t + s->step_ms, util, k);
}

/* Second "sec" ends: writes its series (within the duration) and counts it
 * if saturated, then clears the second's tallies. */
static void step_second(run_state *r, int64_t sec) {
    const sluice_sim_scenario *s = r->s;
    sim_series *ser = r->ser;
    if (sec < s->duration_s) {
        lat_comp *c = &ser->lat[sec];
        c->w = r->lat_w;
        c->m = r->lat_w > 0 ? r->lat_m / r->lat_w : s->service_ms;
        c->d = r->lat_w > 0 ? r->lat_d / r->lat_w : 0;
        ser->util[sec] = (float)(r->util_s / (double)r->sps);
        ser->admitted[sec] = (float)(r->adm_s / (double)r->sps);
        double w = 0;
        for (size_t i = 0; i < s->nclasses; i++) w += r->q[i].waiting_io;
        ser->backlog[sec] = (float)w;
        if (r->saturated_s) {
            r->res->seconds_over_capacity++;
            if (sec >= s->peak_start_s && sec < s->peak_end_s) r->res->peak_seconds_over_capacity++;
        }
    }
    r->lat_w = r->lat_m = r->lat_d = r->util_s = r->adm_s = 0;
    r->saturated_s = 0;
}

/* The run ends: spare capacity, reversals, what waits, expired or was
 * lost, the keys' waits and the makespan go into the result. Returns -1
 * when out of memory. */
static int run_tally(run_state *r) {
    sluice_sim_result *res = r->res;
    double last = -1;
    int left = 0;
    res->background_io = r->bg_io;
    spare_fold(&r->spare, r->s);
    res->spare_used = r->spare.usable > 0 ? r->spare.used / r->spare.usable : 1.0;
    res->spare_unused_io = r->spare.usable - r->spare.used;
    res->max_reversals_hour = max_in_window(r->rev, r->nrev, 3600.0);
    for (size_t i = 0; i < r->s->nclasses; i++) {
        sluice_sim_class_result *cr = &res->classes[i];
        if (simq_tally(&r->q[i], (double)r->end_ms / 1000.0, cr) < 0) return -1;
        cr->jobs_lost = cr->jobs_arrived - cr->jobs_done - cr->jobs_waiting - cr->expired;
        res->jobs_lost += cr->jobs_lost;
        res->deadline_misses += cr->late_starts + cr->expired;
        if (cr->jobs_waiting > 0) left = 1;
        if (cr->finish_s > last) last = cr->finish_s;
    }
    res->makespan_s = left ? -1 : r->batch_done >= 0 ? r->batch_done : last;
    return 0;
}

/* One step, k, of the run: arrivals, rates, service, disk, and at a second's
 * end its series. Returns -1 with err set on failure. */
static int run_step(run_state *r, int64_t k, sluice_error *err) {
    const sluice_sim_scenario *s = r->s;
    int64_t t = k * s->step_ms;
    int64_t sec = t / 1000;
    if (t % s->sig_period_ms == 0) spare_open(&r->spare, r->q, s->nclasses);
    if (t % 1000 == 0 && sec < s->duration_s && r->p != SLUICE_SIM_BASELINE && step_arrivals(r, sec, err) < 0)
        return -1;
    double I = model_interactive(s, t);
    if (t % 1000 == 0)
        for (size_t i = 0; i < s->nclasses; i++) simq_expire(&r->q[i], t, &r->res->classes[i]);
    double waiting = step_offer(r, t);
    if (step_rates(r, t, err) < 0) return -1;
    double B = step_service(r, t, I, waiting);
    step_disk(r, t, k, I, B);
    if ((k + 1) % r->sps == 0) step_second(r, sec);
    return 0;
}

/* Runs every step of *r up to its end, then tallies the result. Returns -1
 * with err set on failure. */
static int run_steps(run_state *r, sluice_error *err) {
    for (int64_t k = 0; !run_over(r, k * r->s->step_ms); k++)
        if (run_step(r, k, err) < 0) return -1;
    if (run_tally(r) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "simulate: out of memory");
        return -1;
    }
    return 0;
}

int sim_run(const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate, int64_t stop_s,
            sluice_sim_result *res, sim_series *ser, sluice_error *err) {
    run_state r;
    int rc = run_init(&r, s, p, fixed_rate, stop_s, res, ser, err) < 0 ? -1 : run_steps(&r, err);
    run_free(&r);
    if (rc < 0) sim_series_free(ser);
    return rc;
}
