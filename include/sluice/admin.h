/* sluice administration: declaring classes, operating their gates, pressure
 * signals, and the governor's lease, mode and history. Used by operators
 * (sluicectl), by the governor loop, and by monitoring.
 *
 * Classes must be declared before jobs can be enqueued (an undeclared class
 * gets SLUICE_ERR_UNKNOWN_CLASS): limits are part of a class, and a typo in
 * a producer must not create an unthrottled stream. Every class, gate and
 * signal change is validated whole by one Redis Function before it writes,
 * and appended to a capped audit stream (per class, atomically with the
 * change; global for signals and the governor mode). */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/governor.h"
#include "sluice/tier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------ classes ------------------------------ */

/* A class's configuration. sluice_class_config_init sets the defaults. */
typedef struct sluice_class_config {
    sluice_tier tier;          /* default normal */
    double max_rate;           /* cost units per second; 0: no rate limit */
    double burst;              /* cost units; 0: one second's worth of max_rate */
    int64_t max_concurrency;   /* leases in flight, fleet-wide; 0: no limit */
    double floor;              /* [0,1], fraction kept under pressure; default 0.1 */
    int64_t max_queue;         /* ready + delayed; 0: no limit */
    int max_attempts;          /* default 5 */
    int64_t timeout_ms;        /* the lease; default 30000 */
    int max_reclaims;          /* expired leases before a job is poison; default 3 */
    int64_t keep_done;         /* completed jobs kept; default 0 */
    int64_t dead_max;          /* dead set cap; default 10000 */
    int64_t payload_max;       /* bytes, at most 262144; default 65536 */
    int64_t backoff_base_ms;   /* default 1000 */
    int64_t backoff_max_ms;    /* default 3600000 */
} sluice_class_config;

void sluice_class_config_init(sluice_class_config *cfg);

/* Declares or replaces a class with every field of *cfg. A non-critical
 * class needs max_rate or max_concurrency (what the governor scales).
 * "*created" (may be NULL) receives 1 for a new class. Returns 0, or -1 with
 * SLUICE_ERR_NAME or SLUICE_ERR_ARGUMENT; then nothing changed. */
int sluice_class_set(sluice_client *c, const char *cls, const sluice_class_config *cfg,
                     int *created, sluice_error *err);

/* Changes the named fields only ("fields" and "values" are n strings, the
 * field names of sluice_class_config, values in its units, e.g. "max_rate"
 * "50"), declaring the class if it is new. Validated as a whole. */
int sluice_class_update(sluice_client *c, const char *cls, const char *const *fields,
                        const char *const *values, size_t n, int *created, sluice_error *err);

/* Reads a class's configuration. Returns 0, or -1 (SLUICE_ERR_UNKNOWN_CLASS). */
int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out,
                     sluice_error *err);

/* Deletes a class and its jobs. Without "force" a class holding jobs is
 * refused with SLUICE_ERR_STATE. Returns 0, or -1. */
int sluice_class_delete(sluice_client *c, const char *cls, int force, sluice_error *err);

/* The declared classes, sorted: a NEW array of *n NEW strings (free with
 * sluice_strings_free), or NULL with *n 0 (err tells whether it failed). */
char **sluice_class_list(sluice_client *c, size_t *n, sluice_error *err);

void sluice_strings_free(char **strings, size_t n);

/* ------------------------------- gates ------------------------------- */

/* Pauses a class (claims are throttled with why "paused") for "for_ms", or
 * until resumed when 0. Audited. Returns 0, or -1. */
int sluice_class_pause(sluice_client *c, const char *cls, int64_t for_ms, sluice_error *err);
int sluice_class_resume(sluice_client *c, const char *cls, sluice_error *err);

/* Pins the admitted fraction ([0,1]) over the governor's, for "for_ms" or
 * until unpinned when 0. Audited. Returns 0, or -1. */
int sluice_class_pin(sluice_client *c, const char *cls, double fraction, int64_t for_ms,
                     sluice_error *err);
int sluice_class_unpin(sluice_client *c, const char *cls, sluice_error *err);

/* A gate as a claim would see it now. */
typedef struct sluice_gate_info {
    double fraction;           /* effective admitted fraction */
    char why[24];              /* critical, pinned, governor, governor silent, ungoverned */
    double effective_rate;     /* cost units/s; 0: no rate limit */
    double effective_concurrency; /* jobs in flight on average: max_concurrency x fraction,
                                   * below 1 by duty cycle (sluice/job.h); 0: no limit (or
                                   * fraction 0) */
    int paused;
    int64_t paused_until;      /* Unix ms; 0: until resumed */
    int pinned;
    double pin;
    int64_t pin_until;         /* Unix ms; 0: until unpinned */
    int governed;              /* the governor has written this gate */
    double governor_fraction;
    int64_t expires_at;        /* Unix ms: the governor's decision lapses to the floor */
    char reason[256];          /* the governor's reason */
    int64_t epoch;             /* the governor epoch that wrote it */
    int shadow;                /* a shadow decision is recorded */
    double shadow_fraction;
    int64_t now;               /* Unix ms, the Redis clock */
} sluice_gate_info;

int sluice_gate_get(sluice_client *c, const char *cls, sluice_gate_info *out, sluice_error *err);

/* The governor's write: fraction for ttl_ms, fenced by its epoch (a gate
 * last written by a newer epoch refuses with SLUICE_ERR_STALE). With
 * "shadow" the fraction is recorded but the gate stays open. */
int sluice_gate_govern(sluice_client *c, const char *cls, int64_t epoch, double fraction,
                       int64_t ttl_ms, const char *reason, int shadow, sluice_error *err);

/* Clears the governor's decision (governor mode off). */
int sluice_gate_ungovern(sluice_client *c, const char *cls, sluice_error *err);

/* ------------------------------ signals ------------------------------ */

typedef struct sluice_signal_def {
    double target;             /* where we want it */
    double critical;           /* every non-critical class to its floor */
    int lower_is_worse;        /* 1 for e.g. burst balance */
    int64_t stale_after_ms;    /* default 30000 */
    int64_t period_ms;         /* 0..86400000: how long a change in the database takes to
                                * show in a value (the source's interval plus its publishing
                                * delay); default 0, not declared: a value stands, e.g. one
                                * pushed on change */
    sluice_on_stale on_stale;  /* default assume-pressure: a dead collector moves classes to their floor */
} sluice_signal_def;

void sluice_signal_def_init(sluice_signal_def *def);

/* Defines or redefines a signal. "critical" must be on the worse side of
 * "target". Audited. "*created" may be NULL. Returns 0, or -1. */
int sluice_signal_define(sluice_client *c, const char *name, const sluice_signal_def *def,
                         int *created, sluice_error *err);

/* Reports a value observed "age_ms" ago (0 for now; the Redis clock turns
 * it into a time). Values must be finite. Returns 0, or -1 with
 * SLUICE_ERR_NOT_FOUND for an undefined signal. */
int sluice_signal_report(sluice_client *c, const char *name, double value, int64_t age_ms,
                         sluice_error *err);

int sluice_signal_delete(sluice_client *c, const char *name, sluice_error *err);

typedef struct sluice_signal_info {
    char name[65];
    sluice_signal_def def;
    int has_value;
    double value;
    int64_t observed_at;       /* Unix ms */
    int64_t age_ms;            /* now - observed_at */
    int stale;                 /* no value, or age over stale_after_ms */
} sluice_signal_info;

/* Every signal, sorted by name: a NEW array (free()) of *n, or NULL with *n
 * 0. "*now" (may be NULL) receives the Redis clock. */
sluice_signal_info *sluice_signal_list(sluice_client *c, size_t *n, int64_t *now,
                                       sluice_error *err);

/* The control law's view of a listed signal (sluice/governor.h), e.g. for
 * sluice_law_signal_thresholds. out->name BORROWS in->name. */
void sluice_signal_law(const sluice_signal_info *in, sluice_law_signal *out);

/* ----------------------------- governor ------------------------------ */

typedef enum sluice_governor_mode {
    SLUICE_GOVERNOR_ENFORCE = 0,
    SLUICE_GOVERNOR_SHADOW,    /* decide and record, don't enforce */
    SLUICE_GOVERNOR_OFF        /* gates carry no governor decision */
} sluice_governor_mode;

const char *sluice_governor_mode_name(sluice_governor_mode m);
int sluice_governor_mode_parse(const char *s, sluice_governor_mode *out);

typedef struct sluice_governor_status {
    char leader[129];          /* "" when no live lease */
    int64_t epoch;
    int64_t lease_until;       /* Unix ms */
    sluice_governor_mode mode;
    int64_t last_tick;         /* Unix ms of the last committed tick */
    int64_t ticks;
    int64_t now;
} sluice_governor_status;

int sluice_governor_status_get(sluice_client *c, sluice_governor_status *out, sluice_error *err);
int sluice_governor_mode_set(sluice_client *c, sluice_governor_mode mode, sluice_error *err);

/* Takes or renews the governor lease for "owner" for ttl_ms. *held is 1 if
 * owner holds it now; *epoch its epoch; *mode the mode; *state (may be NULL)
 * a NEW string (free()) with the last committed state when held, else NULL.
 * Returns 0, or -1. */
int sluice_governor_lease(sluice_client *c, const char *owner, int64_t ttl_ms, int *held,
                          int64_t *epoch, sluice_governor_mode *mode, char **state,
                          sluice_error *err);

/* Gives the lease up. Returns 0, or -1. */
int sluice_governor_resign(sluice_client *c, const char *owner, sluice_error *err);

/* Stores the state and appends "decision" (a JSON text) to the history
 * capped at history_max. SLUICE_ERR_STALE when the lease was lost. */
int sluice_governor_commit(sluice_client *c, const char *owner, int64_t epoch, const char *state,
                           const char *decision, int64_t history_max, sluice_error *err);

/* The newest "count" history decisions (JSON texts), newest first: a NEW
 * array of NEW strings (sluice_strings_free), or NULL with *n 0. */
char **sluice_governor_history(sluice_client *c, size_t count, size_t *n, sluice_error *err);

#ifdef __cplusplus
}
#endif
#endif
