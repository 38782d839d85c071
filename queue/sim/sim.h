/* The simulator's private header: the scenario, the random streams, the
 * database model and the policies that the files of queue/sim/ share. */
#ifndef SLUICE_SIM_PRIVATE_H
#define SLUICE_SIM_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/deadline.h"
#include "sluice/sim.h"
#include "sluice/window.h"

#define SIM_MAX_POINTS 64
#define SIM_MAX_SPIKES 32
#define SIM_MAX_GAPS 16
#define SIM_MAX_ARRIVALS 8
#define SIM_MAX_KEYS 10000
#define SIM_START_MS 1767571200000LL /* Monday 2026-01-05T00:00:00Z: the default start */

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
    int64_t within_s; /* s: each job's start_by is this long after it arrives; 0: none */
} sim_arrival;

typedef struct sim_class {
    char name[SLUICE_SIM_NAME];
    sluice_tier tier;
    double max_rate;    /* IO/s admitted at fraction 1 (governor) */
    double floor;       /* [0,1] */
    double worker_rate; /* IO/s the class's workers can run flat out */
    double reserve;     /* deadline_reserve, [0,1] (governor) */
    sluice_on_expiry on_expiry;
    size_t nwindows; /* run windows (governor); 0: none */
    sluice_window windows[SLUICE_WINDOWS_MAX];
    sluice_outside_window outside;
    int64_t keys; /* fairness keys its jobs spread over; 1: none */
    double skew;  /* Zipf exponent of the keys' sizes: key k gets a share ~ 1/k^skew */
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
    int64_t start_ms;   /* Unix ms: the wall-clock time of second 0 (windows) */
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

enum { STREAM_NOISE = 1, STREAM_ARRIVAL, STREAM_SIGNAL, STREAM_KEY };

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

/* ------------------------------- job queue (jobs.c) ------------------ */

typedef struct sim_chunk sim_chunk;

/* One fairness key's waiting jobs, FIFO. */
typedef struct sim_key {
    sim_chunk *c;
    size_t head, len, cap;
    double waiting_io;
    int64_t waiting_jobs; /* jobs not yet done */
    int64_t ready;        /* jobs not yet started */
    double head_since;    /* s: when its next job became its next */
    double turn_wait;     /* s: the longest its next job waited for a start */
    int used;             /* 1 once it had a job */
    int active;           /* 1 while in its class's active list */
} sim_key;

/* The jobs that arrived in one second from one arrival pattern, across
 * keys: the class's ready jobs in arrival order, for the deadline view. */
typedef struct sim_group {
    int64_t sec;         /* s: when they arrived */
    int64_t start_by_ms; /* ms from the scenario start; -1: none */
    int64_t ready;       /* of them not yet started */
} sim_group;

/* A class's queue. */
typedef struct sim_queue {
    sim_key *key;
    size_t nkeys;
    size_t *active; /* the keys with jobs waiting */
    size_t nactive;
    double *cdf; /* the keys' cumulative shares of the arrivals */
    sim_group *groups;
    size_t ghead, ngroups, capgroups;
    sluice_on_expiry on_expiry;
    int64_t min_within_s; /* s: the shortest start_within of its arrivals; 0: none has one */
    double waiting_io;    /* IO units waiting */
    int64_t waiting_jobs; /* jobs not yet done */
    int64_t ready;        /* jobs not yet started */
    int64_t starts;       /* jobs started */
} sim_queue;

/* Sets up *q for class c. Returns 0, or -1 when out of memory (simq_free
 * is safe either way). */
int simq_init(sim_queue *q, const sim_class *c);
void simq_free(sim_queue *q);
/* Queues "n" jobs of class "ci" arrival "ai" that arrive in second "sec",
 * spread over the class's keys by their sizes. Returns -1 when out of memory. */
int simq_push(sim_queue *q, const sluice_sim_scenario *s, size_t ci, size_t ai, int64_t sec, int64_t n);
/* Runs up to "budget" IO units of the class in the step that starts at
 * t_ms, the keys that wait in turn, FIFO within a key; records starts,
 * late starts, expiries (on_expiry dead) and jobs done at "now" (s, the
 * step's end) in *cr. Returns the IO units run. */
double simq_run(sim_queue *q, double budget, int64_t t_ms, double now, sluice_sim_class_result *cr, double *batch_done);
/* With on_expiry dead, dead-letters every job not started by its start_by
 * at t_ms (as a claim of the class does), counted in cr->expired. */
void simq_expire(sim_queue *q, int64_t t_ms, sluice_sim_class_result *cr);
/* The earliest SIM_DEADLINE_JOBS start_by of the ready jobs, as
 * sluice_deadline_view reads them (ahead: the job's place among the ready
 * jobs in arrival order, plus one), then, when they are not all of them,
 * the samples sluice_deadline_samples reads, into out (room for
 * SIM_DEADLINE_JOBS + SLUICE_DEADLINE_SAMPLES); returns how many, or 0
 * when out of memory. */
size_t simq_deadlines(sim_queue *q, sluice_deadline_entry *out);
/* At the run's end ("end_s"): the jobs waiting, the longest wait, and the
 * keys' waits for their turn into *cr. Returns -1 when out of memory. */
int simq_tally(const sim_queue *q, double end_s, sluice_sim_class_result *cr);

/* ------------------------------- policies ---------------------------- */

#define SIM_DEADLINE_JOBS 32 /* the earliest deadlines of a class the lift reads, as the governor does */

/* What the policies see of a class's queue in a step. */
typedef struct class_view {
    double avail;   /* IO/s the class could run this step */
    int64_t jobs;   /* jobs queued (started or not) */
    int64_t ready;  /* jobs not started yet */
    int64_t starts; /* jobs started since the run began */
    size_t ndl;     /* the earliest deadlines of its ready jobs, filled when policy_ticks */
    sluice_deadline_entry dl[SIM_DEADLINE_JOBS + SLUICE_DEADLINE_SAMPLES];
} class_view;

/* Which class is allowed how much each step; state of the admission side. */
typedef struct policy_state {
    sluice_sim_policy policy;
    double fixed_rate; /* IO/s, fixed policy */
    int open;          /* threshold: 1 while open */
    sluice_law_state law;
    sluice_law_class law_cls[SLUICE_SIM_MAX_CLASSES]; /* the law's fractions, before any lift */
    int64_t busy_ms[SLUICE_SIM_MAX_CLASSES];          /* ms, governor: when each class last had jobs queued */
    int64_t next_tick_ms;
    int64_t last_tick_ms;                             /* ms, governor: -1 before the first tick */
    double admitted[SLUICE_SIM_MAX_CLASSES];          /* governor: the law's fraction with the lift */
    sluice_start_rate rate[SLUICE_SIM_MAX_CLASSES];   /* governor: each class's measured full start rate */
    int64_t starts[SLUICE_SIM_MAX_CLASSES];           /* governor: starts counted at the last tick */
    int in_window[SLUICE_SIM_MAX_CLASSES];            /* 1 inside its windows (or without any) */
    int64_t window_change_ms[SLUICE_SIM_MAX_CLASSES]; /* Unix ms: when in_window is due again */
} policy_state;

/* The signal as the policies see it at now_ms. */
typedef struct signal_view {
    int has_value;
    double value;
    int64_t age_ms;
} signal_view;

void policy_init(policy_state *ps, const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate);
/* 1 when the policy reads the classes' deadlines at now_ms (a governor
 * tick), so the caller fills class_view.dl. */
int policy_ticks(const policy_state *ps, int64_t now_ms);
/* Advances the policy to now_ms (the governor ticks here) and writes each
 * class's admitted rate (IO/s) given what waits (cv; the governor hands the
 * law a class's queued jobs when its admitted rate holds them back, else
 * 0, as the governor loop does, and lifts a class with a deadline reserve
 * as the governor does). Outside its windows a class runs only its floor
 * (or nothing), under every policy; the governor still lifts it for its
 * deadlines. *dir is +1 when the policy raised admission this step, -1
 * when it cut it, 0 otherwise. Returns -1 only if the law refused its
 * input or the windows could not be read (out of memory). */
int policy_rates(policy_state *ps, const sluice_sim_scenario *s, int64_t now_ms, const signal_view *sig,
                 const class_view *cv, double *rate, int *dir);

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
