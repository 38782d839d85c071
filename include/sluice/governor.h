/* sluice governor: its lease, mode, state and history in Redis, and the
 * loop that runs one tick, as whichever process holds the lease does
 * (sluice-worker hosts it; any program can).
 *
 * Each tick: take or renew the lease (NS:{_}:governor; a new holder gets a
 * higher epoch); if held, read every signal and class (with the sizes of
 * its ready and leased sets and its count of throttled claims, all in one
 * pipelined round trip: a class has work waiting on its gate when it has
 * ready jobs and its gate refused a claim within held_ms, and is idle while
 * it has neither ready nor leased jobs), run the control law
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
 * reports, never the host's. A class with run windows (sluice/window.h) is
 * held at its floor, or at nothing, outside them: it is left out of the law
 * until a window opens, and the decision says which window and when.
 *
 * Deadlines: a class with a deadline_reserve and ready jobs is admitted,
 * above what the law (or its window) gives it, what its earliest ready
 * start_by deadlines need at its start rate, within the reserve
 * (sluice_deadline_lift_compute, sluice/deadline.h). The start rate at full
 * admission is measured from the class's claims between ticks over the
 * fraction in force; the law goes on from its own fraction, which the
 * governor keeps between ticks (a new leader starts from the gate's). One
 * read (sluice_deadline_view) per such class a tick. */
#ifndef SLUICE_GOVERNOR_H
#define SLUICE_GOVERNOR_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/law.h"
#include "sluice/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------- governor ------------------------------ */

/* The modes: X(enum constant, name), the one list of the enum, the names
 * and the Functions' mode check. */
#define SLUICE_GOVERNOR_MODE_LIST(X)                                                                                   \
    X(SLUICE_GOVERNOR_ENFORCE, "enforce")                                                                              \
    X(SLUICE_GOVERNOR_SHADOW, "shadow") /* decide and record, don't enforce */                                         \
    X(SLUICE_GOVERNOR_OFF, "off")       /* gates carry no governor decision */

#define SLUICE_GOVERNOR_MODE_ENUM(constant, name) constant,
typedef enum sluice_governor_mode { SLUICE_GOVERNOR_MODE_LIST(SLUICE_GOVERNOR_MODE_ENUM) } sluice_governor_mode;
#undef SLUICE_GOVERNOR_MODE_ENUM

/* "enforce", "shadow" or "off". BORROWED, static; NULL if invalid. */
const char *sluice_governor_mode_name(sluice_governor_mode m);
/* Parses a mode name into *out. Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * (an unknown name; *out unchanged). */
int sluice_governor_mode_parse(const char *s, sluice_governor_mode *out, sluice_error *err);

typedef struct sluice_governor_status {
    char leader[129]; /* "" when no live lease */
    int64_t epoch;
    int64_t lease_until; /* Unix ms */
    sluice_governor_mode mode;
    int64_t last_tick; /* Unix ms of the last committed tick */
    int64_t ticks;
    int64_t now;
} sluice_governor_status;

int sluice_governor_status_get(sluice_client *c, sluice_governor_status *out, sluice_error *err);
int sluice_governor_mode_set(sluice_client *c, sluice_governor_mode mode, sluice_error *err);

/* Takes or renews the governor lease for "owner" for ttl_ms. *held is 1 if
 * owner holds it now; *epoch its epoch; *mode the mode; *state (may be NULL)
 * a NEW string (free()) with the last committed state when held, else NULL.
 * Returns 0, or -1. */
int sluice_governor_lease(sluice_client *c, const char *owner, int64_t ttl_ms, int *held, int64_t *epoch,
                          sluice_governor_mode *mode, char **state, sluice_error *err);

/* Gives the lease up. Returns 0, or -1. */
int sluice_governor_resign(sluice_client *c, const char *owner, sluice_error *err);

/* Stores the state and appends "decision" (a JSON text) to the history
 * capped at history_max. SLUICE_ERR_STALE when the lease was lost. */
int sluice_governor_commit(sluice_client *c, const char *owner, int64_t epoch, const char *state, const char *decision,
                           int64_t history_max, sluice_error *err);

/* The newest "count" history decisions (JSON texts), newest first: a NEW
 * array of NEW strings (sluice_governor_history_free), or NULL with *n 0. */
char **sluice_governor_history_list(sluice_client *c, size_t count, size_t *n, sluice_error *err);

/* For each of the n times at[i] (Unix ms, the Redis clock), the newest
 * decision recorded at or before it, in one round trip: a NEW array of n
 * NEW strings, NULL where there is none (free with
 * sluice_governor_history_free(a, n)), or NULL with err set. */
char **sluice_governor_history_at(sluice_client *c, const int64_t *at, size_t n, sluice_error *err);

/* Frees a list from sluice_governor_history_list or _at. NULL is a no-op. */
void sluice_governor_history_free(char **decisions, size_t n);

/* ------------------------------- the loop ------------------------------ */

typedef struct sluice_governor_opts {
    int64_t tick_ms;         /* default 1000 */
    int64_t lease_ms;        /* default 2 ticks: a dead leader is replaced within 3 */
    int64_t gate_ttl_ms;     /* default 5 ticks: gates lapse to the floor after this */
    int64_t history_max;     /* decisions kept; default 10000 */
    int64_t held_ms;         /* default 5000: a class's ready jobs count as waiting on its
                            * gate (so a raise goes to its tier) for this long after
                            * the gate last refused one of its claims; 1..3600000 */
    sluice_law_params law;   /* default sluice_law_params_default */
    int64_t clock_offset_ms; /* ms added to the Redis clock where the governor reads the
                              * time of day (classes' run windows); default 0. For
                              * tests and rehearsals: it never moves a lease, a gate's
                              * expiry or the law's timing */
} sluice_governor_opts;

void sluice_governor_opts_init(sluice_governor_opts *opts);

typedef struct sluice_governor sluice_governor;

/* What one tick did. */
typedef struct sluice_governor_report {
    int leader; /* 1 if this governor held the lease */
    int64_t epoch;
    sluice_governor_mode mode;
    int64_t now;    /* Unix ms, the Redis clock */
    size_t classes; /* classes governed */
    sluice_law_action action;
    double pressure;
    char driver[65]; /* "" if none */
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
 * and classes (each: name, tier, fraction, floor, waiting, idle_ms (how long
 * it has had nothing ready or leased, as this governor saw it), reason, and
 * window: null for a class without windows, else open (true or false),
 * changes_at (Unix ms of the window clock when it next opens or closes, null
 * if not within 8 days) and unknown_zone (a zone tzdata lacks, or null)),
 * and deadline: null for a class whose deadlines were not read (no
 * deadline_reserve, or nothing ready), else fraction (what it admits, lift
 * included), need (the fraction its earliest ready deadlines need) and
 * miss_ms (how late the job furthest behind would start at that fraction;
 * 0 if none)). */
const char *sluice_governor_last_decision(const sluice_governor *g);

/* Gives up the lease if held (best effort) and frees. NULL is a no-op. */
void sluice_governor_free(sluice_governor *g);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
