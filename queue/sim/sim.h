/* The simulator's private header: the scenario, the random streams, the
 * database model and the policies that the files of queue/sim/ share. */
#ifndef SLUICE_SIM_PRIVATE_H
#define SLUICE_SIM_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/sim.h"

#define SIM_MAX_POINTS 64
#define SIM_MAX_SPIKES 32
#define SIM_MAX_GAPS 16
#define SIM_MAX_ARRIVALS 8

/* ------------------------------- scenario ---------------------------- */

typedef enum arrival_kind { ARR_POISSON, ARR_BATCH, ARR_EVERY } arrival_kind;

typedef struct sim_arrival {
    arrival_kind kind;
    double rate;      /* jobs/s (poisson) */
    int64_t jobs;     /* jobs (batch, every) */
    int64_t at_s;     /* s (batch) */
    int64_t period_s; /* s (every) */
    int64_t start_s;  /* s, first second (poisson, every) */
    int64_t end_s;    /* s, end, exclusive (poisson, every) */
    double cost;      /* IO units per job */
} sim_arrival;

typedef struct sim_class {
    char name[SLUICE_SIM_NAME];
    sluice_tier tier;
    double max_rate;    /* IO/s admitted at fraction 1 (governor) */
    double floor;       /* [0,1] */
    double worker_rate; /* IO/s the class's workers can run flat out */
    size_t narr;
    sim_arrival arr[SIM_MAX_ARRIVALS];
} sim_class;

typedef struct sim_spike {
    int64_t at_s, duration_s; /* s */
    double add;               /* fraction of capacity added to interactive demand */
} sim_spike;

typedef struct sim_gap {
    int64_t start_s, end_s; /* s: no signal sample is published in [start, end) */
} sim_gap;

struct sluice_sim_scenario {
    char name[SLUICE_SIM_NAME];
    uint64_t seed;
    int64_t duration_s; /* s */
    int64_t step_ms;    /* ms, divides 1000 */
    int64_t drain_s;    /* s, how long to run past duration to empty the queue */
    double capacity;    /* IO/s */
    double service_ms;  /* ms, interactive service time at zero load */
    double rho_max;     /* utilisation cap of the M/M/1 term */
    size_t npoints;
    double point_h[SIM_MAX_POINTS]; /* hours of day, ascending in [0,24] */
    double point_f[SIM_MAX_POINTS]; /* fraction of capacity */
    double noise;                   /* relative sd of interactive demand, per second */
    size_t nspikes;
    sim_spike spikes[SIM_MAX_SPIKES];
    int64_t peak_start_s, peak_end_s;
    double goal_p99_ratio, goal_spare_used;
    int64_t goal_max_reversals_hour;
    /* the signal */
    char sig_name[SLUICE_SIM_NAME];
    double sig_target, sig_critical; /* utilisation, 0..1 */
    int64_t sig_period_ms, sig_delay_ms, sig_stale_after_ms;
    double sig_noise; /* absolute sd of utilisation */
    sluice_on_stale sig_on_stale;
    size_t ngaps;
    sim_gap gaps[SIM_MAX_GAPS];
    double threshold;        /* threshold policy: utilisation */
    double sweep_resolution; /* IO/s: the fixed sweep's precision */
    sluice_law_params params;
    size_t nclasses;
    sim_class classes[SLUICE_SIM_MAX_CLASSES];
};

/* The default incident (queue/sim/incident.c). */
extern const char sim_incident_json[];

/* ------------------------------- random ------------------------------ */

enum { STREAM_NOISE = 1, STREAM_ARRIVAL, STREAM_SIGNAL };

/* A uniform in [0,1) from (seed, stream, a, b): the same key, the same number. */
double rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
/* A standard normal from the same kind of key. */
double rng_normal(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
/* A Poisson count with mean "mean" from the key. */
int64_t rng_poisson(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b, double mean);

/* ------------------------------- model ------------------------------- */

/* Interactive demand in IO/s at time t (ms). */
double model_interactive(const sluice_sim_scenario *s, int64_t t_ms);
/* Jobs of class "ci" arrival "ai" arriving during second "sec". */
int64_t model_arrivals(const sluice_sim_scenario *s, size_t ci, size_t ai, int64_t sec);

/* One second's interactive latency: an exponential mixture component. */
typedef struct lat_comp {
    double w; /* weight: interactive IO units */
    double m; /* ms, mean of the exponential part */
    double d; /* ms, fixed wait behind the overload queue */
} lat_comp;

/* The q-quantile (0<q<1) in ms of the mixture of comps[0..n). 0 if empty. */
double model_quantile(const lat_comp *comps, size_t n, double q);

/* ------------------------------- policies ---------------------------- */

/* Which class is allowed how much each step; state of the admission side. */
typedef struct policy_state {
    sluice_sim_policy policy;
    double fixed_rate; /* IO/s, fixed policy */
    int open;          /* threshold: 1 while open */
    sluice_law_state law;
    sluice_law_class law_cls[SLUICE_SIM_MAX_CLASSES];
    int64_t busy_ms[SLUICE_SIM_MAX_CLASSES]; /* ms, governor: when each class last had jobs queued */
    int64_t next_tick_ms;
} policy_state;

/* The signal as the policies see it at now_ms. */
typedef struct signal_view {
    int has_value;
    double value;
    int64_t age_ms;
} signal_view;

void policy_init(policy_state *ps, const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate);
/* Advances the policy to now_ms (the governor ticks here) and writes each
 * class's admitted rate (IO/s) given the waiting work "avail" (IO/s the
 * class could run this step) and "waiting" (jobs queued; the governor hands
 * the law a class's queued jobs when its admitted rate holds them back, else
 * 0, as the governor loop does). *dir is +1 when the policy raised admission
 * this step, -1 when it cut it, 0 otherwise. Returns -1 only if the law
 * refused its input. */
int policy_rates(policy_state *ps, const sluice_sim_scenario *s, int64_t now_ms, const signal_view *sig,
                 const double *avail, const int64_t *waiting, double *rate, int *dir);

/* ------------------------------- core and report --------------------- */

/* Per-second series of one run, within duration_s. */
typedef struct sim_series {
    size_t n;        /* seconds */
    lat_comp *lat;   /* interactive latency components */
    float *util;     /* mean utilisation */
    float *admitted; /* mean admitted background, IO/s */
    float *backlog;  /* IO units waiting at the end of the second */
} sim_series;

void sim_series_free(sim_series *ser);

/* Runs policy "p" (with "fixed_rate", IO/s, for the fixed policy) over the
 * scenario "s"; "stop_s" > 0 ends the run there, else it runs the duration
 * and drains. Fills *res and *ser (NEW: per-second series within the
 * duration, freed with sim_series_free). Returns 0, or -1 with err set when
 * out of memory or the law refused its input (*ser is then empty). */
int sim_run(const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate, int64_t stop_s,
            sluice_sim_result *res, sim_series *ser, sluice_error *err);

struct sluice_sim_report {
    sluice_sim_scenario scen;
    sluice_sim_result res[SLUICE_SIM_POLICIES];
    sim_series ser[SLUICE_SIM_POLICIES];
    size_t minutes;
    double *min_p50[SLUICE_SIM_POLICIES]; /* ms, per minute */
    double *min_p99[SLUICE_SIM_POLICIES];
};

#endif
