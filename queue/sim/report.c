/* The simulator's report: every policy run over the scenario, the sweep
 * for the best fixed limit, the per-minute quantiles and the goals. No I/O. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "sim.h"

/* ================================================================ metrics */

static double window_quantile(const sim_series *ser, int64_t from, int64_t to, double q) {
    if (from < 0) from = 0;
    if (to > (int64_t)ser->n) to = (int64_t)ser->n;
    if (to <= from) return 0;
    return model_quantile(ser->lat + from, (size_t)(to - from), q);
}

/* Worst p99 ratio to the baseline over the peak's minutes; also counts the
 * minutes over the goal and names the worst one. */
static double peak_ratio(const sluice_sim_scenario *s, const sim_series *ser, const double *base_p99, int64_t *worst_s,
                         int64_t *over) {
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

const char *sluice_sim_policy_name(sluice_sim_policy p) {
    static const char *const names[SLUICE_SIM_POLICIES] = {"baseline", "no_limit", "fixed", "threshold", "governor"};
    return (unsigned)p < SLUICE_SIM_POLICIES ? names[p] : NULL;
}

void sluice_sim_report_free(sluice_sim_report *r) {
    if (!r) return;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
        sim_series_free(&r->ser[p]);
        free(r->min_p50[p]);
        free(r->min_p99[p]);
    }
    free(r);
}

static int fill_minutes(sluice_sim_report *r, int p) {
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

static void finish(sluice_sim_report *r, int p) {
    const sluice_sim_scenario *s = &r->scen;
    sluice_sim_result *res = &r->res[p];
    res->p50_ms = window_quantile(&r->ser[p], 0, s->duration_s, 0.50);
    res->p99_ms = window_quantile(&r->ser[p], 0, s->duration_s, 0.99);
    res->peak_p50_ms = window_quantile(&r->ser[p], s->peak_start_s, s->peak_end_s, 0.50);
    res->peak_p99_ms = window_quantile(&r->ser[p], s->peak_start_s, s->peak_end_s, 0.99);
    res->worst_minute_ratio =
        peak_ratio(s, &r->ser[p], r->min_p99[SLUICE_SIM_BASELINE], &res->worst_minute_s, &res->peak_minutes_over_goal);
}

/* Is the fixed budget "rate" safe for the peak? Runs only up to the peak's end. */
static int fixed_safe(sluice_sim_report *r, double rate, int *safe, sluice_error *err) {
    sluice_sim_result res;
    sim_series ser;
    int64_t worst_s, over;
    if (sim_run(&r->scen, SLUICE_SIM_FIXED, rate, r->scen.peak_end_s, &res, &ser, err) < 0) return -1;
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
static int sweep(sluice_sim_report *r, double *best, sluice_error *err) {
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

sluice_sim_report *sluice_sim_run(const sluice_sim_scenario *s, sluice_error *err) {
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
    static const sluice_sim_policy order[] = {SLUICE_SIM_BASELINE, SLUICE_SIM_NO_LIMIT, SLUICE_SIM_FIXED,
                                              SLUICE_SIM_THRESHOLD, SLUICE_SIM_GOVERNOR};
    for (size_t i = 0; i < SLUICE_SIM_POLICIES; i++) {
        sluice_sim_policy p = order[i];
        if (p == SLUICE_SIM_FIXED && sweep(r, &best, err) < 0) goto fail;
        if (sim_run(s, p, best, 0, &r->res[p], &r->ser[p], err) < 0) goto fail;
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

const sluice_sim_result *sluice_sim_report_result(const sluice_sim_report *r, sluice_sim_policy p) {
    if (!r || (unsigned)p >= SLUICE_SIM_POLICIES) return NULL;
    return &r->res[p];
}

size_t sluice_sim_report_minutes(const sluice_sim_report *r) {
    return r ? r->minutes : 0;
}

int sluice_sim_report_minute(const sluice_sim_report *r, sluice_sim_policy p, size_t m, double *p50_ms,
                             double *p99_ms) {
    if (!r || (unsigned)p >= SLUICE_SIM_POLICIES || m >= r->minutes) return -1;
    if (p50_ms) *p50_ms = r->min_p50[p][m];
    if (p99_ms) *p99_ms = r->min_p99[p][m];
    return 0;
}

void sluice_sim_report_goals(const sluice_sim_report *r, sluice_sim_goals *g) {
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
    g->sooner_met = gov->makespan_s >= 0 && (fix->makespan_s < 0 || gov->makespan_s < fix->makespan_s);
    g->stable_met = gov->max_reversals_hour <= s->goal_max_reversals_hour;
    g->deadlines_met = gov->deadline_misses == 0;
    g->no_loss = 1;
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++)
        if (r->res[p].jobs_lost != 0) g->no_loss = 0;
}
