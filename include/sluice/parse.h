/* sluice parsing: the strict syntax of numbers, durations and rates shared by
 * sluicectl, sluice-worker and config files. Each function takes the whole
 * string or nothing: it returns 0, or -1 with SLUICE_ERR_ARGUMENT in *err (a
 * message quoting the text and saying what was expected) and *out unchanged. */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#pragma GCC visibility push(default)

#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decimal integer within [lo, hi]. */
int sluice_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, sluice_error *err);

/* A plain decimal number (digits, sign, point, exponent) within [lo, hi]. */
int sluice_parse_number(const char *s, double lo, double hi, double *out, sluice_error *err);

/* "500ms", "30s", "15m", "2h", "1d" (a unit is required but for a bare "0"; fractions allowed
 * when they give whole ms) into ms within [0, hi]. */
int sluice_parse_duration(const char *s, int64_t hi, int64_t *ms, sluice_error *err);

/* "50/s", "3000/m", "100/h", or a bare number (per second), into units per
 * second, at most 1e9. */
int sluice_parse_rate(const char *s, double *per_second, sluice_error *err);

/* An instant: Unix ms (a decimal integer), or an RFC 3339 date and time,
 * "2026-12-24T18:00:00Z", "2026-12-24T18:00:00.250+01:00" (T and Z in either
 * case; seconds 00..59; fractions past ms are dropped), into Unix ms within
 * 1..SLUICE_RUN_AT_MAX (sluice/job.h). */
int sluice_parse_time(const char *s, int64_t *ms, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
