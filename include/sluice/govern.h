/* sluice governor loop: one tick of the governor, as run by whichever
 * process holds the governor lease (sluice-worker hosts it; any program can).
 *
 * Each tick: take or renew the lease (NS:{_}:governor; a new holder gets a
 * higher epoch); if held, read every signal and class (with the size of its
 * ready set and its count of throttled claims, all in one pipelined round
 * trip: a class has work waiting on its gate when it has ready jobs and its
 * gate refused a claim within held_ms), run the control law
 * (sluice/governor.h) from the state the last leader committed, write each
 * class's gate with an expiry (fenced by the epoch, so a deposed leader's
 * late write is refused), and commit the law's state and the decision to the
 * capped history. If the leader dies, another process takes over when the
 * lease lapses (lease_ms; with the defaults within 3 ticks), and if none
 * does, gates expire (gate_ttl_ms) and non-critical classes fall back to
 * their floor. In shadow mode decisions are recorded but gates stay open; in
 * off mode the governor clears its decisions from the gates.
 *
 * Time is the Redis server's: the law runs at the clock the signal list
 * reports, never the host's. */
#ifndef SLUICE_GOVERN_H
#define SLUICE_GOVERN_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/admin.h"
#include "sluice/client.h"
#include "sluice/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_governor_opts {
    int64_t tick_ms;       /* default 1000 */
    int64_t lease_ms;      /* default 2 ticks: a dead leader is replaced within 3 */
    int64_t gate_ttl_ms;   /* default 5 ticks: gates lapse to the floor after this */
    int64_t history_max;   /* decisions kept; default 10000 */
    int64_t held_ms;       /* default 5000: a class's ready jobs count as waiting on its
                            * gate (so a raise goes to its tier) for this long after
                            * the gate last refused one of its claims; 1..3600000 */
    sluice_law_params law; /* default sluice_law_params_default */
} sluice_governor_opts;

void sluice_governor_opts_init(sluice_governor_opts *opts);

typedef struct sluice_governor sluice_governor;

/* What one tick did. */
typedef struct sluice_governor_report {
    int leader;                  /* 1 if this governor held the lease */
    int64_t epoch;
    sluice_governor_mode mode;
    int64_t now;                 /* Unix ms, the Redis clock */
    size_t classes;              /* classes governed */
    sluice_law_action action;
    double pressure;
    char driver[65];             /* "" if none */
    char summary[SLUICE_LAW_SUMMARY];
} sluice_governor_report;

/* A governor named "owner" (1..128 bytes, unique per process, e.g.
 * host:pid) working through "c" (BORROWED: it must outlive the governor, and
 * should be a connection of its own). "opts" may be NULL. Returns NEW, or
 * NULL with err set. */
sluice_governor *sluice_governor_new(sluice_client *c, const char *owner, const sluice_governor_opts *opts,
                                     sluice_error *err);

/* Runs one tick. Fills *report (may be NULL). Returns 0 (also when another
 * process leads), or -1 with err set; a failed tick changes nothing that a
 * later tick does not redo. */
int sluice_governor_tick(sluice_governor *g, sluice_governor_report *report, sluice_error *err);

/* The last decision as a JSON text, BORROWED until the next tick; "" before
 * the first tick this governor led. Members: t, epoch, mode, action,
 * pressure (the worst latest value's), acted (the pressure the law acted
 * on), driver, driver_value, driver_stale, summary, band (the law's), signals
 * (each: name, value, target, critical, pressure, age_ms, stale, period_ms,
 * and where the law raises and cuts in its units: raise_at, cut_at, rule)
 * and classes (each: name, tier, fraction, floor, waiting, reason). */
const char *sluice_governor_last_decision(const sluice_governor *g);

/* Gives up the lease if held (best effort) and frees. NULL is a no-op. */
void sluice_governor_free(sluice_governor *g);

#ifdef __cplusplus
}
#endif
#endif
