/* sluice governor control law: turns database pressure into each class's
 * admitted fraction, once per tick. Pure C: no I/O, no clock, no Redis, no
 * globals, so the daemon, the simulator and the tests run the same code.
 *
 * Each tick the caller hands the law every declared signal (its latest value
 * and that value's age), every class (tier, floor, previous fraction, work
 * waiting on its gate), the law's state from the previous tick and the time
 * (the Redis server clock, ms). The law writes each class's new fraction and
 * reason, updates its state, and describes the decision. The rules, their
 * defaults and a worked example in a signal's own units are in
 * docs/governor.md; this header holds the contracts. */
#ifndef SLUICE_LAW_H
#define SLUICE_LAW_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/tier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- signals */

/* What a stale signal counts as (docs/governor.md, "Stale signals"). */
/* X(enum constant, name): the one list of the enum, the names and the
 * Functions' check of a signal's on_stale. */
#define SLUICE_ON_STALE_LIST(X)                                                                                        \
    X(SLUICE_STALE_ASSUME_PRESSURE, "assume-pressure") /* counts as params.stale_pressure */                           \
    X(SLUICE_STALE_HOLD, "hold")                       /* no cut, but no raise either */                               \
    X(SLUICE_STALE_IGNORE, "ignore")                   /* left out */

#define SLUICE_ON_STALE_ENUM(constant, name) constant,
typedef enum sluice_on_stale { SLUICE_ON_STALE_LIST(SLUICE_ON_STALE_ENUM) } sluice_on_stale;
#undef SLUICE_ON_STALE_ENUM

/* "assume-pressure", "hold" or "ignore". BORROWED, static; NULL if invalid. */
const char *sluice_on_stale_name(sluice_on_stale policy);

/* Parses one of the names above into *out. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT (an unknown name; *out unchanged). */
int sluice_on_stale_parse(const char *s, sluice_on_stale *out, sluice_error *err);

/* One declared signal and its latest value: input to sluice_law_tick. A
 * value stands until it is replaced or goes stale. */
typedef struct sluice_law_signal {
    const char *name;         /* BORROWED, not NULL; the decision's driver points here */
    double target;            /* signal units: where we want it */
    double critical;          /* signal units: drop to floors at or past it; != target */
    int lower_is_worse;       /* 1 if falling is bad (burst balance): critical < target */
    int64_t stale_after_ms;   /* ms, >= 0: older values are stale */
    int64_t period_ms;        /* ms, >= 0: how long a change in the database takes to show
                               * in a value (the source's reporting interval plus its
                               * publishing delay); 0: not declared, the value stands */
    sluice_on_stale on_stale; /* what a stale value counts as */
    int has_value;            /* 0: never reported, which is stale */
    double value;             /* signal units; must be finite when has_value */
    int64_t age_ms;           /* ms, now - observed time; a negative age counts as 0 */
} sluice_law_signal;

/* The pressure of "value" on signal s (its other members are not read
 * except target, critical and lower_is_worse): 1 at target, 2 at critical.
 * On the worse side of target it is 1 + (value - target) / (critical -
 * target); on the better side it is the distance from target in shares of
 * |target| (1 - 0.25 for a value 25% of the target better than it), or of
 * |critical - target| when target is 0. Clamped to +-1e9. s must pass the
 * law's input check (finite, target != critical, the right way round). */
double sluice_law_pressure(const sluice_law_signal *s, double value);

/* The value of s at pressure "pressure": the inverse of sluice_law_pressure. */
double sluice_law_value_at(const sluice_law_signal *s, double pressure);

/* ---------------------------------------------------------------- params */

typedef struct sluice_law_params {
    int64_t tick_ms;           /* ms, 1..3600000: the caller's tick period */
    double decrease;           /* (0,1): the deepest cut multiplies a fraction by it */
    double cut_gain;           /* >= 0, finite: a cut multiplies by max(decrease, 1 - cut_gain *
                             * overshoot); 0: always by decrease */
    double increase;           /* (0,1]: the additive raise, full when the headroom below the
                             * band is at least raise_span; of the smoothed pressure's and
                             * the latest value's, the larger headroom */
    double growth;             /* [1,16]: far below the band a raise may multiply a fraction by
                             * up to this (slow start); 1: additive raises only */
    double raise_span;         /* >= 0, finite: headroom below the band that earns a full
                             * increase; less headroom, a proportionally smaller one */
    double band;               /* [0,1): raise only while pressure < 1 - band: a share of the
                             * target value below it */
    double creep_band;         /* [0,1): the band once creep_ms have passed since the last
                             * change (when narrower than band) */
    int64_t creep_ms;          /* ms, 0..86400000: time without a change after which raises
                             * use creep_band; 0: never */
    int64_t dwell_ms;          /* ms, 0..86400000: minimum time between changes */
    int64_t raise_dwell_ms;    /* ms, 0..86400000: minimum time between a raise and the next
                             * raise (the dwell applies too); a cut is never held by it.
                             * 0: the dwell alone */
    int64_t calm_ms;           /* ms, 0..86400000: how long pressure stays below the band
                             * before a raise */
    int64_t smoothing_ms;      /* ms, 0..86400000: time constant of the smoothed pressure;
                             * 0: none */
    double jump;               /* >= 0, finite: a pressure this far above the smoothed one is
                             * taken at once */
    double stale_pressure;     /* > 1, finite: pressure of a stale assume-pressure signal */
    double escalate;           /* >= 0, finite: pressure rise that allows a cut within the dwell */
    double snap;               /* [0,0.5): fractions this close to floor or 1 go there */
    int64_t idle_ms;           /* ms, 0..86400000: a class with no work for this long keeps
                             * only its floor while the pressure is over target, so work
                             * that comes to it then starts at the floor, not at an
                             * admission it was not using; 0: never */
    int64_t reversal_dwell_ms; /* ms, 0..86400000: for this long after a reversal (a change
                                * the other way from the one before it), a change that
                                * would reverse again needs a clear reason: a cut, pressure
                                * over 1 + escalate; a raise, headroom of raise_span below
                                * the band. Critical always acts. 0: never */
} sluice_law_params;

/* Fills *p with the defaults (docs/governor.md, "Parameters"). */
void sluice_law_params_default(sluice_law_params *p);

/* Checks every field's range. Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * naming the first bad field. */
int sluice_law_params_check(const sluice_law_params *p, sluice_error *err);

/* The name of the i-th param (from 0, in the order above), NULL past the
 * last. BORROWED, static. */
const char *sluice_law_param_name(size_t i);

/* The value of the i-th param in *p (a *_ms param as a whole number); i
 * must name a param. */
double sluice_law_param_get(const sluice_law_params *p, size_t i);

/* Sets the param "name" to "value"; a *_ms param takes a whole number of
 * ms. Ranges are left to sluice_law_params_check. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT (an unknown name, listing the known ones, or a
 * fractional or out-of-range ms) and *p unchanged. */
int sluice_law_param_set(sluice_law_params *p, const char *name, double value, sluice_error *err);

/* ---------------------------------------------------------------- thresholds */

/* Where the law raises, holds and cuts, in one signal's own units. */
typedef struct sluice_law_thresholds {
    double raise_at;    /* signal units: raises while the value is better than this */
    double cut_at;      /* signal units: cuts while it is worse than this (the target) */
    double critical_at; /* signal units: every class at its floor at or past this */
} sluice_law_thresholds;

#define SLUICE_LAW_THRESHOLDS_TEXT 96

/* Fills *out for signal s under params p (NULL: defaults), and, when "text"
 * is not NULL, writes the rule in words: "raise below 1.8, cut above 2,
 * floors at 20" ("raise above 55, cut below 50, floors at 20" when lower is
 * worse), numbers in %g. Returns 0, or -1 with SLUICE_ERR_ARGUMENT for
 * invalid params or signal (then *out and text are unchanged). The one
 * wording every tool shows. */
int sluice_law_signal_thresholds(const sluice_law_params *p, const sluice_law_signal *s, sluice_law_thresholds *out,
                                 char *text, size_t textlen, sluice_error *err);

/* ---------------------------------------------------------------- classes */

#define SLUICE_LAW_REASON 256

/* One class: input and output of sluice_law_tick. */
typedef struct sluice_law_class {
    const char *name;               /* BORROWED, input; not read by the law, may be NULL */
    sluice_tier tier;               /* input */
    double floor;                   /* input, [0,1]: the share it keeps under any pressure */
    double fraction;                /* in: previous admitted fraction (1 for a new class), finite;
                        * out: new one, in [floor,1]; 1 for critical */
    int64_t waiting;                /* input, jobs its gate holds back; < 0: unknown, which counts
                        * as work waiting. Only raises read it: they go first to the
                        * highest tier with work waiting */
    int64_t idle_ms;                /* input, ms: how long it has had no work at all (nothing
                        * ready, nothing running); 0 when it has work or the caller
                        * does not know; a negative time counts as 0 */
    char reason[SLUICE_LAW_REASON]; /* out: why it has this fraction after this tick */
} sluice_law_class;

/* ---------------------------------------------------------------- state */

typedef enum sluice_law_action {
    SLUICE_LAW_HOLD = 0, /* nothing was cut or raised (clamps may still apply) */
    SLUICE_LAW_CUT,      /* one tier was cut multiplicatively */
    SLUICE_LAW_CRITICAL, /* at or over critical: every non-critical class at its floor */
    SLUICE_LAW_RAISE     /* one tier was raised */
} sluice_law_action;

/* "hold", "cut", "critical" or "raise". BORROWED, static; NULL if invalid. */
const char *sluice_law_action_name(sluice_law_action a);

/* The action named s (as sluice_law_action_name gives it) into *out; -1 with
 * SLUICE_ERR_ARGUMENT naming the known actions if s is not one. */
int sluice_law_action_parse(const char *s, sluice_law_action *out, sluice_error *err);

/* What the law remembers between ticks. A plain struct so the simulator can
 * inspect it; the leader persists it with sluice_law_state_encode so a new
 * leader continues where the old one stopped. */
typedef struct sluice_law_state {
    int64_t ticks;                 /* ticks run so far */
    int64_t last_tick_ms;          /* ms, now_ms of the last tick; 0 before the first */
    int has_change;                /* 0 until the law first cut, dropped or raised */
    int64_t last_change_ms;        /* ms, when it last did (valid if has_change) */
    sluice_law_action last_action; /* CUT, CRITICAL or RAISE (HOLD if no change yet) */
    double last_pressure;          /* pressure at that change (0 if none) */
    int calm;                      /* 1 while pressure stays below 1 - band and no
                                    * stale hold-policy signal blocks raises */
    int64_t calm_since_ms;         /* ms, when that calm streak began (valid if calm) */
    int has_reading;               /* 1 while fresh signals feed the smoothed pressure */
    double smoothed;               /* pressure: the smoothed worst fresh pressure */
    int has_reversal;              /* 0 until a change went the other way from the one
                                    * before it (a raise after a cut, or a cut after a raise) */
    int64_t last_reversal_ms;      /* ms, when one last did (valid if has_reversal) */
} sluice_law_state;

/* Room enough for any encoded state, terminating NUL included (the widest,
 * every number at its longest, is 352 bytes). */
#define SLUICE_LAW_STATE_JSON 512

/* Sets *st to "no history": the first cut will happen at once and the first
 * raise after calm_ms of calm. */
void sluice_law_state_init(sluice_law_state *st);

/* Writes *st as a compact, NUL-terminated JSON object into buf (caller-owned,
 * len bytes; SLUICE_LAW_STATE_JSON always suffices), e.g.
 * {"v":3,"ticks":28,"last_tick_ms":28000,"has_change":true,
 *  "last_change_ms":26000,"last_action":"raise","last_pressure":0.33,
 *  "calm":true,"calm_since_ms":16000,"has_reading":true,"smoothed":0.41,
 *  "has_reversal":true,"last_reversal_ms":26000}.
 * Numbers round-trip exactly. Returns 0, or -1 with SLUICE_ERR_ARGUMENT if
 * buf is too small, an argument is NULL or the state is corrupt (e.g. a
 * non-finite number), SLUICE_ERR_NOMEM; then buf holds "" when len > 0. */
int sluice_law_state_encode(const sluice_law_state *st, char *buf, size_t len, sluice_error *err);

/* Parses text produced by sluice_law_state_encode into *st. Unknown members
 * are ignored. States of earlier laws (written by a leader not yet upgraded)
 * are accepted: "v":2 keeps its smoothed pressure, "v":1 has none, so the
 * next value starts it. Returns 0, or -1 with SLUICE_ERR_ARGUMENT for NULL
 * arguments, malformed or truncated JSON, a missing member, a wrong type or
 * an out-of-range value; *st is then unchanged. */
int sluice_law_state_decode(const char *text, sluice_law_state *st, sluice_error *err);

/* ---------------------------------------------------------------- tick */

#define SLUICE_LAW_SUMMARY 256

/* What one tick decided. CUT and RAISE are reported only when a fraction
 * moved; CRITICAL whenever the pressure is at or over critical, even if every
 * class was already at its floor (changed is then 0); otherwise HOLD, with
 * the summary saying what it waits for. */
typedef struct sluice_law_decision {
    sluice_law_action action;
    double pressure;                  /* worst counting signal's pressure, clamped to +-1e9; 0 when none counts */
    double acted;                     /* the pressure the law acted on: the smoothed fresh pressure, or
                           * stale_pressure if a stale signal is worse; 0 when none counts */
    const char *driver;               /* BORROWED from signals[i].name, valid while signals is:
                           * the signal that drove the decision; NULL if none */
    double driver_value;              /* its value; NaN if it was stale, never reported, or no driver */
    int driver_stale;                 /* 1 if the driver counted (or blocked a raise) because it was stale */
    size_t changed;                   /* classes whose fraction differs from their input */
    char summary[SLUICE_LAW_SUMMARY]; /* one line, plain words, the driver's value in its
                                       * own units */
} sluice_law_decision;

/* Checks everything sluice_law_tick would reject, without running it.
 * "p" may be NULL (defaults). Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * naming the first problem. */
int sluice_law_input_check(const sluice_law_params *p, const sluice_law_state *st, const sluice_law_signal *signals,
                           size_t nsig, const sluice_law_class *classes, size_t ncls, sluice_error *err);

/* Runs one tick at now_ms (ms, the Redis server clock): reads
 * signals[0..nsig), updates classes[i].fraction and .reason in place, *st,
 * and *out if out is not NULL. "p" may be NULL for the defaults. Every
 * class's reason is rewritten each tick. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT if any argument is invalid (see
 * sluice_law_input_check: st NULL, an array NULL with n > 0,
 * a NULL signal name, a floor outside [0,1], a non-finite number, target ==
 * critical or the wrong way round for lower_is_worse, a negative period, a
 * bad enum, bad params, a corrupt state); then nothing, *out included, is
 * modified. */
int sluice_law_tick(const sluice_law_params *p, sluice_law_state *st, int64_t now_ms, const sluice_law_signal *signals,
                    size_t nsig, sluice_law_class *classes, size_t ncls, sluice_law_decision *out, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
