/* The control law's private parts, shared by queue/governor/law*.c: its
 * limits and its two ways of putting things into words. */
#ifndef SLUICE_LAW_PRIVATE_H
#define SLUICE_LAW_PRIVATE_H

#include "sluice/law.h"

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define PRESSURE_MAX 1e9        /* pressures are clamped to +-this: keeps text and JSON sane */
#define TICK_MS_MAX 3600000     /* ms, one hour */
#define DWELL_MS_MAX 86400000   /* ms, one day */
#define STATE_VERSION 3        /* 1: before smoothing, 2: smoothing per reading; both decoded */
#define GROWTH_MAX 16

/* snprintf for plain-words text, where cutting a long signal name short is
 * intended; a NULL buf or a len of 0 is a no-op. */
void law_say(char *buf, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Sets SLUICE_ERR_ARGUMENT with the message (the first error wins) and
 * returns -1. */
int law_fail(sluice_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* 0 if st is a state the law can act on, else -1 with err saying what is
 * wrong (law_fail). */
int law_state_check(const sluice_law_state *st, sluice_error *err);

#endif
