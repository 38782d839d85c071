/* sluice gates: what a claim of a class is admitted. An operator pauses a
 * class or pins its admitted fraction, with an optional expiry (audited);
 * the governor writes its decision with an expiry, fenced by its epoch. */
#ifndef SLUICE_GATE_H
#define SLUICE_GATE_H

#pragma GCC visibility push(default)

#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
