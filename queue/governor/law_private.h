/* The control law's private parts, shared by queue/governor/law*.c: its
 * limits, its two ways of putting things into words, and the reading of
 * a tick's signals. */
#ifndef SLUICE_LAW_PRIVATE_H
#define SLUICE_LAW_PRIVATE_H

#include "sluice/law.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define PRESSURE_MAX 1e9      /* pressures are clamped to +-this: keeps text and JSON sane */
#define TICK_MS_MAX 3600000   /* ms, one hour */
#define DWELL_MS_MAX 86400000 /* ms, one day */
#define STATE_VERSION 3       /* 1: before smoothing, 2: smoothing per reading; both decoded */
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

/* What this tick's signals add up to. */
struct reading {
    size_t counted;                  /* signals that count toward pressure */
    double pressure;                 /* raw: worst of them; 0 if none */
    const sluice_law_signal *driver; /* the worst one, NULL if none */
    int driver_stale;
    const sluice_law_signal *held; /* first stale signal with policy hold, or NULL */
    /* fresh signals only: what the smoothing sees */
    size_t fresh;          /* fresh signals that count */
    double fresh_pressure; /* worst of them */
    const sluice_law_signal *fresh_driver;
    /* stale assume-pressure signals: counted at params.stale_pressure */
    const sluice_law_signal *stale_driver; /* the first of them, NULL if none */
    /* what the law acts on: the smoothed fresh pressure or stale_pressure */
    double acted;
    const sluice_law_signal *acted_driver;
    int acted_stale;
};

/* Reads the "n" signals "sig" at "now" (ms) into *r and moves st's
 * smoothed pressure forward (law_input.c). */
void law_read(const sluice_law_params *p, sluice_law_state *st, int64_t now, const sluice_law_signal *sig, size_t n,
              struct reading *r);

/* ms, when the value of s was observed (now - age; a negative age is 0). */
int64_t law_observed_at(const sluice_law_signal *s, int64_t now);

/* now - then in ms, saturating, and 0 if then is later than now. */
int64_t law_elapsed(int64_t now, int64_t then);

#endif
