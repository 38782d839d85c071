/* sluice classes: a class is a stream of jobs with a tier and limits.
 * Classes must be declared before jobs can be enqueued (an undeclared class
 * gets SLUICE_ERR_UNKNOWN_CLASS): limits are part of a class, and a typo in
 * a producer must not create an unthrottled stream. Every change is
 * validated whole by one Redis Function before it writes, and appended to
 * the class's capped audit stream atomically with it. */
#ifndef SLUICE_CLASS_H
#define SLUICE_CLASS_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/deadline.h"
#include "sluice/error.h"
#include "sluice/fair.h"
#include "sluice/job.h"
#include "sluice/tier.h"
#include "sluice/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------ fields ------------------------------- */

/* How a field's value is written: TIER a tier name; RATE cost units per
 * second ("50/s", "3000/m", "100/h" or a bare number); NUMBER a decimal;
 * INT a whole number; DURATION whole ms ("500ms", "30s", "15m", "2h", "1d"). */
typedef enum sluice_field_kind {
    SLUICE_FIELD_TIER,
    SLUICE_FIELD_RATE,
    SLUICE_FIELD_NUMBER,
    SLUICE_FIELD_INT,
    SLUICE_FIELD_DURATION
} sluice_field_kind;

/* The fields of a class: X(name, kind, lo, hi, default, flag, help). The one
 * table that makes sluice_class_config, its defaults and range checks,
 * sluice_class_set and _get, sluicectl's class options, help and config
 * files, and the Functions' checks (generated into their Lua at build time).
 * Adding a field is one line here plus what the field does. */
#define SLUICE_CLASS_FIELDS(X)                                                                                         \
    X(tier, TIER, 0, 3, SLUICE_TIER_NORMAL, "--tier", "critical, high, normal or low: low is shed first")              \
    X(max_rate, RATE, 0, 1e9, 0, "--max-rate", "cost units per second; 0: no rate limit")                              \
    X(burst, NUMBER, 0, 1e9, 0, "--burst", "cost units; 0: one second's worth of max_rate")                            \
    X(max_concurrency, INT, 0, 1000000, 0, "--max-concurrency", "leases in flight, fleet-wide; 0: no limit")           \
    X(max_concurrency_per_key, INT, 0, 1000000, 0, "--max-concurrency-per-key",                                        \
      "leases in flight of one fairness key, fleet-wide; 0: no limit")                                                 \
    X(floor, NUMBER, 0, 1, 0.1, "--floor", "the fraction kept under pressure")                                         \
    X(max_queue, INT, 0, 1e12, 0, "--max-queue", "ready + delayed jobs; 0: no limit")                                  \
    X(max_attempts, INT, 1, 1000, 5, "--max-attempts", "tries before a job is dead")                                   \
    X(timeout_ms, DURATION, 1, 604800000, 30000, "--timeout", "the lease a job runs under")                            \
    X(max_reclaims, INT, 0, 1000, 3, "--max-reclaims", "expired leases before a job is dead as poison")                \
    X(keep_done, INT, 0, 1000000, 0, "--keep-done", "completed jobs kept for lookups")                                 \
    X(dead_max, INT, 1, 10000000, 10000, "--dead-max", "dead jobs kept, the oldest dropped first")                     \
    X(dead_ttl_ms, DURATION, 0, 31536000000, 0, "--dead-ttl",                                                          \
      "how long a dead job is kept; 0: until dead_max drops it")                                                       \
    X(payload_max, INT, 2, SLUICE_PAYLOAD_HARD_MAX, SLUICE_PAYLOAD_DEFAULT_MAX, "--payload-max",                       \
      "bytes of payload a job may carry")                                                                              \
    X(backoff_base_ms, DURATION, 1, 86400000, 1000, "--backoff-base", "the first retry's delay, then doubled")         \
    X(backoff_max_ms, DURATION, 1, 604800000, 3600000, "--backoff-max", "the longest retry delay")                     \
    X(deadline_reserve, NUMBER, 0, 1, 0, "--deadline-reserve",                                                         \
      "the share of its limits the governor may add so waiting jobs meet their start_by")

#define SLUICE_CLASS_FIELD_COUNT(name, kind, lo, hi, def, flag, help) +1
enum { SLUICE_CLASS_NFIELDS = 0 SLUICE_CLASS_FIELDS(SLUICE_CLASS_FIELD_COUNT) };
#undef SLUICE_CLASS_FIELD_COUNT

#define SLUICE_FIELD_TYPE_TIER sluice_tier
#define SLUICE_FIELD_TYPE_RATE double
#define SLUICE_FIELD_TYPE_NUMBER double
#define SLUICE_FIELD_TYPE_INT int64_t
#define SLUICE_FIELD_TYPE_DURATION int64_t
#define SLUICE_CLASS_MEMBER(name, kind, lo, hi, def, flag, help) SLUICE_FIELD_TYPE_##kind name;

/* A class's configuration: one member per field above, in its units, its
 * run windows (sluice/window.h; the class hash's fields "windows", as
 * sluice_windows_json writes them, and "outside_window"), its key weights
 * (sluice/fair.h; the field "key_weights", as sluice_key_weights_json writes
 * them) and what becomes of its jobs past their start_by (sluice/deadline.h;
 * the field "on_expiry"). sluice_class_config_init sets the defaults: no
 * windows, outside_window floor, no key weights, on_expiry run. */
typedef struct sluice_class_config {
    SLUICE_CLASS_FIELDS(SLUICE_CLASS_MEMBER)
    size_t nwindows;                                       /* 0: never held by windows */
    sluice_window windows[SLUICE_WINDOWS_MAX];             /* the first nwindows */
    sluice_outside_window outside_window;                  /* what it admits outside them */
    size_t nkey_weights;                                   /* 0: every key weighs 1 */
    sluice_key_weight key_weights[SLUICE_KEY_WEIGHTS_MAX]; /* the first nkey_weights */
    sluice_on_expiry on_expiry;                            /* a job not started by its start_by */
} sluice_class_config;

#undef SLUICE_CLASS_MEMBER

/* One field of the table, for tools that list, parse or print fields. */
typedef struct sluice_class_field {
    const char *name; /* the member's name, as the Functions and config files spell it */
    sluice_field_kind kind;
    double lo, hi, def; /* the range and the default (a tier as its enum value) */
    const char *flag;   /* sluicectl's option, e.g. "--max-rate" */
    const char *help;   /* one line */
} sluice_class_field;

/* The i-th field (from 0, in table order), or NULL past the last. BORROWED,
 * static. */
const sluice_class_field *sluice_class_field_at(size_t i);

/* The field called "name", or NULL. BORROWED, static. */
const sluice_class_field *sluice_class_field_find(const char *name);

/* The field's value in *cfg as a number (a tier as its enum value). */
double sluice_class_field_get(const sluice_class_config *cfg, const sluice_class_field *f);

/* Sets the field in *cfg to v after checking it: finite, within [lo, hi],
 * whole for INT, DURATION and TIER. Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * naming the field (*cfg unchanged). */
int sluice_class_field_set(sluice_class_config *cfg, const sluice_class_field *f, double v, sluice_error *err);

/* Sets the field in *cfg from text written as its kind says (a tier name,
 * "50/s", "0.25", "100", "30s"), range checked. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT naming the field (*cfg unchanged). */
int sluice_class_field_parse(sluice_class_config *cfg, const sluice_class_field *f, const char *text,
                             sluice_error *err);

/* Writes the field's value in *cfg as its kind is written ("low", "50",
 * "0.25", "30000"; a RATE per second, a DURATION in ms) into buf. Returns the
 * length, as snprintf. */
int sluice_class_field_format(const sluice_class_config *cfg, const sluice_class_field *f, char *buf, size_t len);

/* ------------------------------ classes ------------------------------ */

/* Sets every field to its default. */
void sluice_class_config_init(sluice_class_config *cfg);

/* Checks what the Functions check before a class is written: every field in
 * range, a non-critical class or one with windows has max_rate or
 * max_concurrency (what the governor scales), backoff_base_ms <=
 * backoff_max_ms, the windows as sluice_windows_check checks them, the key
 * weights as sluice_key_weights_check does, on_expiry a known word. Returns
 * 0, or -1 with SLUICE_ERR_ARGUMENT naming the problem. */
int sluice_class_config_check(const sluice_class_config *cfg, sluice_error *err);

/* Declares or replaces a class with every field of *cfg, windows and key
 * weights included.
 * A non-critical class needs max_rate or max_concurrency (what the governor
 * scales); every window's zone must be in the system's tzdata. "*created"
 * (may be NULL) receives 1 for a new class. Returns 0, or -1 with
 * SLUICE_ERR_NAME or SLUICE_ERR_ARGUMENT; then nothing changed. */
int sluice_class_set(sluice_client *c, const char *cls, const sluice_class_config *cfg, int *created,
                     sluice_error *err);

/* Changes the named fields only ("fields" and "values" are n strings, the
 * field names of sluice_class_config, values in its units, e.g. "max_rate"
 * "50"; "windows" as sluice_windows_json writes them, each zone checked
 * against tzdata here; "outside_window" "floor" or "none"; "key_weights" as
 * sluice_key_weights_json writes them; "on_expiry" "run" or "dead"), declaring the class if it is new.
 * Validated as a whole. */
int sluice_class_update(sluice_client *c, const char *cls, const char *const *fields, const char *const *values,
                        size_t n, int *created, sluice_error *err);

/* Reads a class's configuration. Returns 0, or -1 (SLUICE_ERR_UNKNOWN_CLASS). */
int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out, sluice_error *err);

/* Deletes a class and its jobs. Without "force" a class holding jobs is
 * refused with SLUICE_ERR_STATE. Returns 0, or -1. */
int sluice_class_delete(sluice_client *c, const char *cls, int force, sluice_error *err);

/* The declared classes, sorted: a NEW array of *n NEW strings (free with
 * sluice_class_list_free), or NULL with *n 0 (err tells whether it failed). */
char **sluice_class_list(sluice_client *c, size_t *n, sluice_error *err);

/* Frees a list from sluice_class_list. NULL is a no-op. */
void sluice_class_list_free(char **names, size_t n);

/* Writes the name of the pub/sub channel on which the Functions announce
 * that jobs of class "cls" in namespace "ns" became ready into buf.
 * Returns its length, as snprintf. */
int sluice_class_channel(const char *ns, const char *cls, char *buf, size_t len);

typedef struct sluice_class_stats {
    int64_t ready, delayed, leased, dead; /* current depths */
    int64_t enqueued, claimed, acked, failed, retried, died, reclaimed, released, cancelled, throttled, dead_dropped,
        purged, late, expired; /* totals since the class was declared; late: first starts past their start_by,
                                * expired: dead-lettered by it (sluice/deadline.h) */
} sluice_class_stats;

/* Reads a class's depths and counters. Returns 0, or -1. */
int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
