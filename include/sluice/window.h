/* sluice run windows: the hours in which a class may run above its floor.
 * A window is a set of days, a start and an end in wall-clock time, and an
 * IANA time zone whose rules come from the system's tzdata, e.g. "mon-fri
 * 20:00-07:00 America/New_York". A window whose end is not after its start
 * crosses midnight and belongs to the day it starts on. Outside every window
 * of a class the governor holds it at its floor, or at nothing (its
 * outside_window), whatever the pressure; inside one the control law decides
 * as for any class. A class without windows is never held by them. */
#ifndef SLUICE_WINDOW_H
#define SLUICE_WINDOW_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_WINDOWS_MAX 8    /* windows per class */
#define SLUICE_ZONE_NAME_MAX 64 /* bytes of a zone name */

/* What a class admits outside its windows: X(enum constant, name), the one
 * list of the enum, the names and the Functions' check. */
#define SLUICE_OUTSIDE_WINDOW_LIST(X)                                                                                  \
    X(SLUICE_OUTSIDE_FLOOR, "floor") /* its floor */                                                                   \
    X(SLUICE_OUTSIDE_NONE, "none")   /* nothing: its jobs wait for a window */

#define SLUICE_OUTSIDE_WINDOW_ENUM(constant, name) constant,
typedef enum sluice_outside_window { SLUICE_OUTSIDE_WINDOW_LIST(SLUICE_OUTSIDE_WINDOW_ENUM) } sluice_outside_window;
#undef SLUICE_OUTSIDE_WINDOW_ENUM

/* "floor" or "none". BORROWED, static; NULL if invalid. */
const char *sluice_outside_window_name(sluice_outside_window o);

/* Parses "floor" or "none" into *out. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT (*out unchanged). */
int sluice_outside_window_parse(const char *s, sluice_outside_window *out, sluice_error *err);

typedef struct sluice_window {
    unsigned days;                     /* bit 0 Monday .. bit 6 Sunday: the days it starts on; not 0 */
    int from_min;                      /* minutes after local midnight, 0..1439: when it opens */
    int to_min;                        /* minutes after local midnight, 0..1439, != from_min: when it
                    * closes; not after from_min: on the next day */
    char tz[SLUICE_ZONE_NAME_MAX + 1]; /* the zone, e.g. "America/New_York" */
} sluice_window;

/* Room enough for any formatted window, terminating NUL included. */
#define SLUICE_WINDOW_TEXT 128

/* Parses "DAYS HH:MM-HH:MM ZONE" into *out: DAYS a comma-separated list of
 * days (mon..sun) and ranges of them ("mon-fri", "sat,sun", "fri-mon"),
 * times 00:00..23:59, ZONE by its syntax (components of [A-Za-z0-9_+-]
 * joined by '/'; whether tzdata has it is sluice_zone_check's). Returns 0,
 * or -1 with SLUICE_ERR_ARGUMENT naming the problem (*out unchanged). */
int sluice_window_parse(const char *text, sluice_window *out, sluice_error *err);

/* Writes *w as sluice_window_parse reads it, days in their shortest form
 * ("mon-fri", "sat,sun"), into buf. Returns the length, as snprintf. */
int sluice_window_format(const sluice_window *w, char *buf, size_t len);

/* Checks a class's windows as the Functions do: at most SLUICE_WINDOWS_MAX,
 * each well formed, and no two in the same zone open at the same wall-clock
 * minute of the week. Returns 0, or -1 with SLUICE_ERR_ARGUMENT naming the
 * problem. */
int sluice_windows_check(const sluice_window *w, size_t n, sluice_error *err);

/* The windows as the class hash and config files hold them: a JSON array
 * of {"days", "from", "to", "tz"} strings. Writes it into buf; returns the
 * length, as snprintf (a buffer of 32 + n * 160 bytes always suffices). */
int sluice_windows_json(const sluice_window *w, size_t n, char *buf, size_t len);

/* Parses such a JSON text into out[0..SLUICE_WINDOWS_MAX) and *n, checked
 * as sluice_windows_check does. Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * naming the problem (out and *n unchanged). */
int sluice_windows_parse_json(const char *json, sluice_window *out, size_t *n, sluice_error *err);

/* Whether the instant "now_ms" (Unix ms) falls in one of the windows
 * w[0..n), as the governor decides it (zones from the system's tzdata; a
 * zone it lacks never opens; no windows: always open), and in *change_ms
 * (may be NULL) when that next changes (INT64_MAX: not within 8 days).
 * Reads the zones afresh: for a caller that asks again at *change_ms, not
 * at every tick. Returns 1 (open), 0 (closed), or -1 with SLUICE_ERR_NOMEM. */
int sluice_windows_open(const sluice_window *w, size_t n, int64_t now_ms, int64_t *change_ms, sluice_error *err);

/* Whether the system's tzdata has the zone "name". Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT "unknown zone NAME". */
int sluice_zone_check(const char *name, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
