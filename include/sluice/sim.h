/* sluice incident simulator: replays a day of database traffic in virtual
 * time and compares the admission policies users have today with sluice's
 * governor, which runs the REAL control law (sluice_law_tick) here.
 *
 * WHAT IS SIMULATED
 *
 * One database with a fixed I/O capacity C (I/O units per second) serves
 * interactive requests, whose demand follows a daily profile with spikes and
 * noise, and the I/O of background jobs, which arrive in classes (Poisson
 * streams, batches, periodic bursts), wait in sluice's queue and run at the
 * rate the policy admits. Nothing is ever dropped: a job only waits.
 *
 * The disk, every step (step_ms, default 100 ms):
 *
 *     offered  = I + B                 interactive + admitted background, IO/s
 *     Q       <- max(0, Q + (offered - C) * dt)     disk queue, IO units
 *     rho      = min(offered / C, rho_max)          utilisation, rho_max 0.99
 *     util     = min(1, offered / C), 1 while Q > 0 what a monitor reports
 *
 * Interactive latency is M/M/1: a request's time is exponential with mean
 * m = service / (1 - rho), plus a fixed wait d = Q / C behind an overload
 * backlog. A second's latency distribution is the mixture of its steps
 * (weights: interactive I/O), a minute's the mixture of its seconds, and
 * p50/p99 are that mixture's quantiles, found by bisection (no sampling).
 * The baseline is the same trace with no background at all.
 *
 * The signal the policies read is a monitor's view of util: the mean over a
 * period (1 s, 10 s, 60 s as cloud metrics come), published delay ms after
 * the period ends, with Gaussian noise, and missing during scenario gaps.
 *
 * POLICIES, all on the same trace, arrivals and signal noise
 *
 *   baseline   no background work at all (the reference for the p99 goal)
 *   no_limit   every worker runs flat out (the incident)
 *   fixed      one fixed background budget (IO/s) shared in tier order, the
 *              highest one whose peak p99 meets the goal in every peak
 *              minute, found by a sweep (what Sidekiq, BullMQ, Oban users set)
 *   threshold  all non-critical work stops while the signal is over the
 *              threshold (or stale) and runs flat out below it (freno,
 *              gh-ost, Vitess); checked every tick_ms
 *   governor   sluice_law_tick every tick_ms; a class runs at
 *              min(worker_rate, fraction * max_rate)
 *
 * Critical classes are never limited by any policy.
 *
 * THE QUEUE
 *
 * A class's jobs may be spread over fairness keys (tenants of Zipf sizes,
 * seeded); the keys that wait share its admitted rate in turn, FIFO within
 * a key, as a claim serves them. A job may carry a start_by (its arrival's
 * start_within_s); one that starts after it is a late start, and with
 * on_expiry dead one not started by then is dead-lettered (expired, never
 * lost). Outside its windows (evaluated by the library, on the wall clock
 * of the scenario's start) a class runs only its floor, or nothing, under
 * every policy. The governor policy also lifts a class above the law for
 * its deadlines within its deadline_reserve, as the governor does
 * (sluice_deadline_lift_compute over its earliest ready deadlines, at its
 * start rate measured by sluice_start_rate_add).
 *
 * METRICS (per policy)
 *
 *   p50/p99 per minute and overall; peak p99 and, per peak minute, the
 *   ratio p99 / baseline p99 (worst_minute_ratio); seconds the disk was
 *   saturated; makespan (when the last job of a batch or periodic burst
 *   finished, counted from the scenario start: steady Poisson streams last
 *   all day under every policy, so their waits show in the longest wait
 *   instead; the run continues past duration_s without new arrivals until
 *   the queue is empty, or reports -1 if drain_s ends first); each class's longest
 *   wait; spare capacity used, counted per signal period (the target bounds
 *   the period's mean utilisation): a period's headroom is the sum of
 *   (target * C - I) * dt over its steps with work waiting; "usable" is
 *   max(0, headroom), at most what the work could have used (each class's
 *   IO waiting at the period's start or arriving in it, at most its worker
 *   rate for the period); "used" is min(background IO run in the period,
 *   usable); spare_used = sum used / sum usable; jobs
 *   lost (arrived - done - waiting - expired, always 0); deadline misses
 *   (late starts + expired) per class; per class with keys, each key's
 *   longest wait for its turn (the longest it had jobs ready and none
 *   started), the worst key's and the median key's; admission changes (steps where
 *   some class's admitted rate moved) and reversals (a change in the
 *   opposite direction of the previous one); max_reversals_hour, the most
 *   reversals in any hour: the oscillation measure.
 *
 * Everything is deterministic for a seed: every random number comes from a
 * counter-based splitmix64 stream keyed by (seed, purpose, time), so the
 * policies see identical traffic and the same seed gives identical results. */
#ifndef SLUICE_SIM_H
#define SLUICE_SIM_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/error.h"
#include "sluice/law.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_sim_scenario sluice_sim_scenario;
typedef struct sluice_sim_report sluice_sim_report;

typedef enum sluice_sim_policy {
    SLUICE_SIM_BASELINE = 0,
    SLUICE_SIM_NO_LIMIT,
    SLUICE_SIM_FIXED,
    SLUICE_SIM_THRESHOLD,
    SLUICE_SIM_GOVERNOR
} sluice_sim_policy;

#define SLUICE_SIM_POLICIES 5
#define SLUICE_SIM_MAX_CLASSES 16
#define SLUICE_SIM_NAME 64

/* "baseline", "no_limit", "fixed", "threshold" or "governor". BORROWED,
 * static; NULL if invalid. */
const char *sluice_sim_policy_name(sluice_sim_policy p);

/* ---------------------------------------------------------------- scenarios */

/* The default incident scenario, as JSON text (the same text as
 * scripts/sim/incident.json). BORROWED, static. */
const char *sluice_sim_incident_json(void);

/* Parses and validates a whole scenario from JSON text. Unknown keys, wrong
 * types and out-of-range values are refused with a message naming the
 * member (e.g. "database.capacity_iops: must be > 0"). Returns NEW (free with
 * sluice_sim_scenario_free), or NULL and SLUICE_ERR_ARGUMENT in *err. */
sluice_sim_scenario *sluice_sim_scenario_parse(const char *json, sluice_error *err);

/* sluice_sim_scenario_parse(sluice_sim_incident_json(), err). NEW or NULL. */
sluice_sim_scenario *sluice_sim_scenario_default(sluice_error *err);

void sluice_sim_scenario_free(sluice_sim_scenario *s);

/* The scenario's seed (its "seed" member) and a way to change it. */
uint64_t sluice_sim_scenario_seed(const sluice_sim_scenario *s);
void sluice_sim_scenario_set_seed(sluice_sim_scenario *s, uint64_t seed);

/* The governor params the scenario carries (its "governor" member). */
void sluice_sim_scenario_params(const sluice_sim_scenario *s, sluice_law_params *out);
/* Replaces them; returns 0, or -1 with the first bad field in *err. */
int sluice_sim_scenario_set_params(sluice_sim_scenario *s, const sluice_law_params *p, sluice_error *err);

/* The signal's period and delay (ms) and its target (utilisation); any out
 * pointer may be NULL. */
void sluice_sim_scenario_signal(const sluice_sim_scenario *s, int64_t *period_ms, int64_t *delay_ms, double *target);

/* Changes the signal's period and delay (ms, period >= step, delay >= 0);
 * returns 0 or -1 with *err set. */
int sluice_sim_scenario_set_signal_timing(sluice_sim_scenario *s, int64_t period_ms, int64_t delay_ms,
                                          sluice_error *err);

/* ---------------------------------------------------------------- results */

typedef struct sluice_sim_class_result {
    char name[SLUICE_SIM_NAME];
    sluice_tier tier;
    int64_t jobs_arrived;     /* jobs, within duration_s */
    int64_t jobs_done;        /* jobs completed by the end of the run */
    int64_t jobs_waiting;     /* jobs still queued at the end (0 when drained) */
    int64_t jobs_lost;        /* arrived - done - waiting - expired: always 0 */
    double longest_wait_s;    /* s, arrival to completion, worst job */
    double finish_s;          /* s from start: last completion; -1 if none */
    int64_t late_starts;      /* jobs started after their start_by */
    int64_t expired;          /* jobs dead-lettered unstarted past their start_by (on_expiry dead) */
    int64_t keys;             /* fairness keys that had jobs */
    double key_wait_worst_s;  /* s: the longest a key's next job waited for its turn, worst key */
    double key_wait_median_s; /* s: the same, the median key */
} sluice_sim_class_result;

typedef struct sluice_sim_result {
    sluice_sim_policy policy;
    double fixed_rate;               /* IO/s: the fixed budget (fixed policy only, else 0) */
    double p50_ms, p99_ms;           /* ms, interactive, over duration_s */
    double peak_p50_ms, peak_p99_ms; /* ms, interactive, over the peak window */
    double worst_minute_ratio;       /* max over peak minutes of p99 / baseline p99 */
    int64_t worst_minute_s;          /* s from start: the minute it happened */
    int64_t peak_minutes_over_goal;  /* peak minutes with ratio > goal.p99_ratio */
    int64_t seconds_over_capacity;   /* s within duration_s with the disk saturated */
    int64_t peak_seconds_over_capacity;
    double makespan_s;          /* s from start until the last job of a batch or
                                 * periodic burst finished (of any job if there
                                 * were none); -1 if work was left at the end */
    double spare_used;          /* [0,1]: used / usable spare capacity (1 if none usable) */
    double spare_unused_io;     /* IO units of usable spare capacity left unused */
    double background_io;       /* IO units of background work done */
    int64_t changes;            /* admission changes */
    int64_t reversals;          /* changes in the opposite direction of the previous */
    int64_t max_reversals_hour; /* most reversals in any 3600 s window */
    int64_t jobs_lost;          /* sum over classes; must be 0 */
    int64_t deadline_misses;    /* late starts and expired jobs, summed over classes */
    size_t nclasses;
    sluice_sim_class_result classes[SLUICE_SIM_MAX_CLASSES];
} sluice_sim_result;

/* Runs every policy on the scenario (the fixed policy after its sweep).
 * Pure computation: no I/O. Returns NEW (free with sluice_sim_report_free)
 * or NULL with *err set (SLUICE_ERR_NOMEM or SLUICE_ERR_ARGUMENT). */
sluice_sim_report *sluice_sim_run(const sluice_sim_scenario *s, sluice_error *err);

void sluice_sim_report_free(sluice_sim_report *r);

/* One policy's results. BORROWED, valid until the report is freed; NULL for
 * an invalid policy. */
const sluice_sim_result *sluice_sim_report_result(const sluice_sim_report *r, sluice_sim_policy p);

/* Minutes of the duration (duration_s / 60, rounded up). */
size_t sluice_sim_report_minutes(const sluice_sim_report *r);

/* Interactive p50 and p99 (ms) of one policy in minute "m". Returns 0, or -1
 * for a bad policy or minute. Either out pointer may be NULL. */
int sluice_sim_report_minute(const sluice_sim_report *r, sluice_sim_policy p, size_t m, double *p50_ms, double *p99_ms);

/* The goals of the scenario checked on the governor's results. */
typedef struct sluice_sim_goals {
    double p99_ratio;           /* the goal: peak minute p99 <= this * baseline */
    double spare_used;          /* the goal: fraction of usable spare capacity used */
    int64_t max_reversals_hour; /* the goal: at most this many reversals per hour */
    int p99_met;                /* governor: every peak minute within p99_ratio */
    int incident_shown;         /* no_limit: saturated in the peak and ratio > 2 */
    int spare_met;              /* governor spare_used >= spare_used goal */
    int sooner_met;             /* governor makespan < fixed makespan (or fixed unfinished) */
    int stable_met;             /* governor max_reversals_hour <= the goal */
    int no_loss;                /* every policy lost 0 jobs */
    int deadlines_met;          /* governor: no job started late or expired */
} sluice_sim_goals;

void sluice_sim_report_goals(const sluice_sim_report *r, sluice_sim_goals *out);

/* Writes the results as one JSON object (with per-minute p50/p99 when
 * "minutes" is non-zero). Returns NEW text (free with free()) or NULL. */
char *sluice_sim_report_json(const sluice_sim_report *r, int minutes);

/* The gnuplot script that plots the CSV below, one row of panels per
 * policy (the same text as scripts/sim/plot.gp). It reads the variables csv
 * (input path), png (output path), title and target when they are set (e.g.
 * with gnuplot -e). BORROWED, static. */
const char *sluice_sim_plot_script(void);

/* Writes a CSV time series, one row per "period_s" seconds (>= 1): time,
 * then for each policy utilisation (mean), interactive p99 (ms), admitted
 * background rate (IO/s, mean) and backlog (IO units waiting, at the end).
 * Returns 0, or -1 on a bad argument or a write error. */
int sluice_sim_report_write_csv(const sluice_sim_report *r, FILE *f, int64_t period_s);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
