/* sluice governor control law (v3): tiered AIMD with hysteresis and a dwell
 * time on a pressure smoothed over time, cuts sized by the overshoot, raises
 * that grow multiplicatively far below the band, and a bounded wait for the
 * database to show the last change. Pure: no I/O, no clock, no Redis. The
 * rules and their defaults are in docs/governor.md. */
#include "sluice/law.h"
#include "../words.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ================================================================ names */

#define STALE_WORD(constant, name) [constant] = name,
static const char *const stale_words[] = {SLUICE_ON_STALE_LIST(STALE_WORD)};
static const char *const action_words[] = {"hold", "cut", "critical", "raise"};

const char *sluice_on_stale_name(sluice_on_stale policy)
{
    return word_of(stale_words, NWORDS(stale_words), (int)policy);
}

int sluice_on_stale_parse(const char *s, sluice_on_stale *out, sluice_error *err)
{
    sluice_error_reset(err);
    int i = word_index(stale_words, NWORDS(stale_words), s, "on_stale policy", err);
    if (i < 0) return -1;
    *out = (sluice_on_stale)i;
    return 0;
}

const char *sluice_law_action_name(sluice_law_action a)
{
    return word_of(action_words, NWORDS(action_words), (int)a);
}

/* ================================================================ text */

static void say(char *buf, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* snprintf for plain-words text, where cutting a long signal name short is
 * intended (gcc's -Wformat-truncation does not look through a va_list). */
static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || len == 0) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ================================================================ checks */

static int fail(sluice_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Sets SLUICE_ERR_ARGUMENT with the message (the first error wins) and
 * returns -1. */
static int fail(sluice_error *err, const char *fmt, ...)
{
    char text[SLUICE_ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", text);
    return -1;
}

void sluice_law_params_default(sluice_law_params *p)
{
    if (!p) return;
    p->tick_ms = 1000;
    p->decrease = 0.5;
    p->cut_gain = 2.5;
    p->increase = 0.1;
    p->growth = 2.0;
    p->raise_span = 0.3;
    p->band = 0.1;
    p->dwell_ms = 5000;
    p->calm_ms = 3000;
    p->smoothing_ms = 2000;
    p->jump = 0.1;
    p->stale_pressure = 1.5;
    p->escalate = 0.05;
    p->snap = 0.01;
}

int sluice_law_params_check(const sluice_law_params *p, sluice_error *err)
{
    sluice_error_reset(err);
    if (!p) return fail(err, "params is NULL");
    if (p->tick_ms < 1 || p->tick_ms > TICK_MS_MAX)
        return fail(err, "tick_ms must be 1..%d ms", TICK_MS_MAX);
    if (!isfinite(p->decrease) || p->decrease <= 0 || p->decrease >= 1)
        return fail(err, "decrease must be above 0 and below 1");
    if (!isfinite(p->cut_gain) || p->cut_gain < 0)
        return fail(err, "cut_gain must be a finite number of at least 0");
    if (!isfinite(p->increase) || p->increase <= 0 || p->increase > 1)
        return fail(err, "increase must be above 0 and at most 1");
    if (!isfinite(p->growth) || p->growth < 1 || p->growth > GROWTH_MAX)
        return fail(err, "growth must be 1..%d", GROWTH_MAX);
    if (!isfinite(p->raise_span) || p->raise_span < 0)
        return fail(err, "raise_span must be a finite number of at least 0");
    if (!isfinite(p->band) || p->band < 0 || p->band >= 1)
        return fail(err, "band must be at least 0 and below 1");
    if (p->dwell_ms < 0 || p->dwell_ms > DWELL_MS_MAX)
        return fail(err, "dwell_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->calm_ms < 0 || p->calm_ms > DWELL_MS_MAX)
        return fail(err, "calm_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->smoothing_ms < 0 || p->smoothing_ms > DWELL_MS_MAX)
        return fail(err, "smoothing_ms must be 0..%d ms", DWELL_MS_MAX);
    if (!isfinite(p->jump) || p->jump < 0)
        return fail(err, "jump must be a finite number of at least 0");
    if (!isfinite(p->stale_pressure) || p->stale_pressure <= 1)
        return fail(err, "stale_pressure must be a finite number above 1");
    if (!isfinite(p->escalate) || p->escalate < 0)
        return fail(err, "escalate must be a finite number of at least 0");
    if (!isfinite(p->snap) || p->snap < 0 || p->snap >= 0.5)
        return fail(err, "snap must be at least 0 and below 0.5");
    return 0;
}

/* Every param by name, in the struct's order; 1 for a param that counts ms. */
#define LAW_PARAMS(X)                                                                           \
    X(tick_ms, 1) X(decrease, 0) X(cut_gain, 0) X(increase, 0) X(growth, 0) X(raise_span, 0)  \
    X(band, 0) X(dwell_ms, 1) X(calm_ms, 1) X(smoothing_ms, 1) X(jump, 0)                      \
    X(stale_pressure, 0) X(escalate, 0) X(snap, 0)

static const struct param_field {
    const char *name;
    size_t off;
    int is_ms;
} param_fields[] = {
#define FIELD(f, ms) {#f, offsetof(sluice_law_params, f), ms},
    LAW_PARAMS(FIELD)
#undef FIELD
};
#define NPARAMS (sizeof param_fields / sizeof param_fields[0])

const char *sluice_law_param_name(size_t i)
{
    return i < NPARAMS ? param_fields[i].name : NULL;
}

double sluice_law_param_get(const sluice_law_params *p, size_t i)
{
    const char *field = (const char *)p + param_fields[i].off;
    int64_t ms;
    double v;
    if (!param_fields[i].is_ms) {
        memcpy(&v, field, sizeof v);
        return v;
    }
    memcpy(&ms, field, sizeof ms);
    return (double)ms;
}

int sluice_law_param_set(sluice_law_params *p, const char *name, double value, sluice_error *err)
{
    sluice_error_reset(err);
    if (!p || !name) return fail(err, "params or name is NULL");
    for (size_t i = 0; i < NPARAMS; i++) {
        char *field = (char *)p + param_fields[i].off;
        if (strcmp(param_fields[i].name, name) != 0) continue;
        if (!param_fields[i].is_ms) {
            memcpy(field, &value, sizeof value);
            return 0;
        }
        if (!isfinite(value) || value != floor(value) || fabs(value) > 9e15)
            return fail(err, "%s must be a whole number of ms", name);
        int64_t ms = (int64_t)value;
        memcpy(field, &ms, sizeof ms);
        return 0;
    }
    char known[NPARAMS * 16];
    size_t at = 0;
    for (size_t i = 0; i < NPARAMS; i++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? " " : "", param_fields[i].name);
    return fail(err, "unknown governor param '%.64s' (%s)", name, known);
}

static int valid_action(sluice_law_action a)
{
    int i = (int)a;
    return i >= (int)SLUICE_LAW_HOLD && i <= (int)SLUICE_LAW_RAISE;
}

static int check_state(const sluice_law_state *st, sluice_error *err)
{
    if (st->ticks < 0) return fail(err, "state: ticks is negative");
    if (st->has_change != 0 && st->has_change != 1)
        return fail(err, "state: has_change must be 0 or 1");
    if (st->calm != 0 && st->calm != 1) return fail(err, "state: calm must be 0 or 1");
    if (!valid_action(st->last_action)) return fail(err, "state: unknown last_action");
    if (st->has_change && st->last_action == SLUICE_LAW_HOLD)
        return fail(err, "state: a change cannot be a hold");
    if (!isfinite(st->last_pressure)) return fail(err, "state: last_pressure is not finite");
    if (st->has_reading != 0 && st->has_reading != 1)
        return fail(err, "state: has_reading must be 0 or 1");
    if (!isfinite(st->smoothed) || st->smoothed > PRESSURE_MAX || st->smoothed < -PRESSURE_MAX)
        return fail(err, "state: smoothed is not a finite pressure");
    return 0;
}

/* (critical - target) / 2: halved so that no finite inputs overflow. */
static double half_span(const sluice_law_signal *s)
{
    return s->critical * 0.5 - s->target * 0.5;
}

static int check_signal(const sluice_law_signal *s, size_t i, sluice_error *err)
{
    int policy = (int)s->on_stale;
    if (!s->name) return fail(err, "signal %zu has no name", i);
    if (!isfinite(s->target) || !isfinite(s->critical))
        return fail(err, "signal %.64s: target and critical must be finite", s->name);
    double span = half_span(s);
    if (span == 0) return fail(err, "signal %.64s: critical must differ from target", s->name);
    if (s->lower_is_worse && span > 0)
        return fail(err, "signal %.64s: lower is worse, so critical must be below target",
                    s->name);
    if (!s->lower_is_worse && span < 0)
        return fail(err, "signal %.64s: higher is worse, so critical must be above target",
                    s->name);
    if (s->stale_after_ms < 0)
        return fail(err, "signal %.64s: stale_after_ms is negative", s->name);
    if (s->period_ms < 0) return fail(err, "signal %.64s: period_ms is negative", s->name);
    if (policy < (int)SLUICE_STALE_ASSUME_PRESSURE || policy > (int)SLUICE_STALE_IGNORE)
        return fail(err, "signal %.64s: unknown on_stale policy", s->name);
    if (s->has_value && !isfinite(s->value))
        return fail(err, "signal %.64s: value is not a finite number", s->name);
    return 0;
}

static int check_class(const sluice_law_class *c, size_t i, sluice_error *err)
{
    int tier = (int)c->tier;
    if (tier < (int)SLUICE_TIER_CRITICAL || tier > (int)SLUICE_TIER_LOW)
        return fail(err, "class %zu: unknown tier", i);
    if (!isfinite(c->floor) || c->floor < 0 || c->floor > 1)
        return fail(err, "class %zu: floor must be within [0,1]", i);
    if (!isfinite(c->fraction))
        return fail(err, "class %zu: fraction is not a finite number", i);
    return 0;
}

int sluice_law_input_check(const sluice_law_params *p, const sluice_law_state *st,
                           const sluice_law_signal *signals, size_t nsig,
                           const sluice_law_class *classes, size_t ncls,
                           sluice_error *err)
{
    sluice_law_params defaults;
    sluice_error_reset(err);
    if (!p) {
        sluice_law_params_default(&defaults);
        p = &defaults;
    }
    if (sluice_law_params_check(p, err) < 0) return -1;
    if (!st) return fail(err, "state is NULL");
    if (check_state(st, err) < 0) return -1;
    if (nsig > 0 && !signals) return fail(err, "signals is NULL but nsig is %zu", nsig);
    if (ncls > 0 && !classes) return fail(err, "classes is NULL but ncls is %zu", ncls);
    for (size_t i = 0; i < nsig; i++)
        if (check_signal(&signals[i], i, err) < 0) return -1;
    for (size_t i = 0; i < ncls; i++)
        if (check_class(&classes[i], i, err) < 0) return -1;
    return 0;
}

/* ================================================================ pressure */

static double clamp_pressure(double p)
{
    if (p > PRESSURE_MAX) return PRESSURE_MAX;
    if (p < -PRESSURE_MAX) return -PRESSURE_MAX;
    return p;
}

/* Half the scale of the better side of target: |target| / 2, or the half
 * span when target is 0 (or so small that halving it underflows). */
static double half_scale(const sluice_law_signal *s)
{
    double h = fabs(s->target) * 0.5;
    return h > 0 ? h : fabs(half_span(s));
}

static int worse_than_target(const sluice_law_signal *s, double value)
{
    return s->lower_is_worse ? value < s->target : value > s->target;
}

double sluice_law_pressure(const sluice_law_signal *s, double value)
{
    if (worse_than_target(s, value))
        return clamp_pressure(1.0 + (value * 0.5 - s->target * 0.5) / half_span(s));
    return clamp_pressure(1.0 - fabs(value * 0.5 - s->target * 0.5) / half_scale(s));
}

double sluice_law_value_at(const sluice_law_signal *s, double pressure)
{
    if (pressure > 1.0) return s->target + (pressure - 1.0) * 2.0 * half_span(s);
    double d = (1.0 - pressure) * 2.0 * half_scale(s);
    return s->lower_is_worse ? s->target + d : s->target - d;
}

int sluice_law_signal_thresholds(const sluice_law_params *p, const sluice_law_signal *s,
                                 sluice_law_thresholds *out, char *text, size_t textlen,
                                 sluice_error *err)
{
    sluice_law_params defaults;
    sluice_law_thresholds t;
    if (!p) {
        sluice_law_params_default(&defaults);
        p = &defaults;
    }
    sluice_error_reset(err);
    if (!s || !out) return fail(err, "signal or out is NULL");
    if (sluice_law_params_check(p, err) < 0 || check_signal(s, 0, err) < 0) return -1;
    t.raise_at = sluice_law_value_at(s, 1.0 - p->band);
    t.cut_at = s->target;
    t.critical_at = s->critical;
    *out = t;
    say(text, textlen, "raise %s %.4g, cut %s %.4g, floors at %.4g",
        s->lower_is_worse ? "above" : "below", t.raise_at, s->lower_is_worse ? "below" : "above",
        t.cut_at, t.critical_at);
    return 0;
}

/* What this tick's signals add up to. */
struct reading {
    size_t counted;                   /* signals that count toward pressure */
    double pressure;                  /* raw: worst of them; 0 if none */
    const sluice_law_signal *driver;  /* the worst one, NULL if none */
    int driver_stale;
    const sluice_law_signal *held;    /* first stale signal with policy hold, or NULL */
    /* fresh signals only: what the smoothing sees */
    size_t fresh;                     /* fresh signals that count */
    double fresh_pressure;            /* worst of them */
    const sluice_law_signal *fresh_driver;
    /* stale assume-pressure signals: counted at params.stale_pressure */
    const sluice_law_signal *stale_driver; /* the first of them, NULL if none */
    /* what the law acts on: the smoothed fresh pressure or stale_pressure */
    double acted;
    const sluice_law_signal *acted_driver;
    int acted_stale;
};

static int is_stale(const sluice_law_signal *s)
{
    int64_t age = s->age_ms < 0 ? 0 : s->age_ms;
    return !s->has_value || age > s->stale_after_ms;
}

/* ms, when the value of s was observed (now - age; a negative age is 0). */
static int64_t observed_at(const sluice_law_signal *s, int64_t now)
{
    int64_t age = s->age_ms < 0 ? 0 : s->age_ms;
    if (now < 0 && age > INT64_MAX + now) return INT64_MIN;
    return now - age;
}

static void read_signals(const sluice_law_params *p, const sluice_law_signal *sig, size_t n,
                         struct reading *r)
{
    memset(r, 0, sizeof *r);
    r->pressure = 0;
    for (size_t i = 0; i < n; i++) {
        const sluice_law_signal *s = &sig[i];
        int stale = is_stale(s);
        double ps;
        if (stale && s->on_stale == SLUICE_STALE_HOLD) {
            if (!r->held) r->held = s;
            continue;
        }
        if (stale && s->on_stale == SLUICE_STALE_IGNORE) continue;
        ps = stale ? p->stale_pressure : sluice_law_pressure(s, s->value);
        if (r->counted == 0 || ps > r->pressure) {
            r->pressure = ps;
            r->driver = s;
            r->driver_stale = stale;
        }
        r->counted++;
        if (stale) {
            if (!r->stale_driver) r->stale_driver = s;
        } else {
            if (r->fresh == 0 || ps > r->fresh_pressure) {
                r->fresh_pressure = ps;
                r->fresh_driver = s;
            }
            r->fresh++;
        }
    }
}

/* now - then in ms, saturating, and 0 if then is later than now. */
static int64_t elapsed(int64_t now, int64_t then)
{
    if (now <= then) return 0;
    if (then < 0 && now > INT64_MAX + then) return INT64_MAX;
    return now - then;
}

/* Moves the smoothed pressure toward the fresh pressure that stands: an
 * exponential mean over time with time constant smoothing_ms, stepped by the
 * time since the last tick, so a value pushed once and one re-pushed every
 * second weigh the same. A pressure above the smoothed one by more than
 * params.jump is a real step, taken at once. With no fresh signal the
 * smoothing restarts from the next value. */
static void smooth(const sluice_law_params *p, sluice_law_state *st, int64_t now,
                   const struct reading *r)
{
    if (r->fresh == 0) {
        st->has_reading = 0;
        st->smoothed = 0;
        return;
    }
    if (!st->has_reading || p->smoothing_ms == 0 || r->fresh_pressure - st->smoothed > p->jump) {
        st->has_reading = 1;
        st->smoothed = r->fresh_pressure;
        return;
    }
    /* In the driver's own units: its pressure bends at target (a share of
     * the target below it, of the target-to-critical span above), and a
     * mean of bent pressures would read noise around target as over it. */
    const sluice_law_signal *d = r->fresh_driver;
    double dt = (double)elapsed(now, st->last_tick_ms);
    double v = sluice_law_value_at(d, st->smoothed);
    v += -expm1(-dt / (double)p->smoothing_ms) * (d->value - v);
    st->smoothed = sluice_law_pressure(d, v);
}

/* What the law acts on: the smoothed fresh pressure, or stale_pressure when a
 * stale assume-pressure signal counts and is worse. */
static void acted_on(const sluice_law_params *p, const sluice_law_state *st, struct reading *r)
{
    r->acted = 0;
    r->acted_driver = NULL;
    r->acted_stale = 0;
    if (r->counted == 0) return;
    if (r->fresh > 0) {
        r->acted = st->smoothed;
        r->acted_driver = r->fresh_driver;
    }
    if (r->stale_driver && (r->fresh == 0 || p->stale_pressure > r->acted)) {
        r->acted = p->stale_pressure;
        r->acted_driver = r->stale_driver;
        r->acted_stale = 1;
    }
}

/* ================================================================ words */

/* Which way is worse, in words. */
static const char *over_word(const sluice_law_signal *s)
{
    return s->lower_is_worse ? "below" : "over";
}

static const char *under_word(const sluice_law_signal *s)
{
    return s->lower_is_worse ? "above" : "under";
}

/* The driver and what the law makes of it, in its own units:
 * "db.iops at 0.3, smoothed 0.51 (pressure 0.68)", "db.iops (stale),
 * counted as pressure 1.50" or "no signal". */
static void signal_words(const sluice_law_signal *s, int stale, double acted, char *buf,
                         size_t len)
{
    if (!s) {
        say(buf, len, "no signal");
        return;
    }
    if (stale) {
        say(buf, len, "%.64s (%s), counted as pressure %.2f", s->name,
            s->has_value ? "stale" : "never reported", acted);
        return;
    }
    say(buf, len, "%.64s at %.4g, smoothed %.4g (pressure %.2f)", s->name, s->value,
        sluice_law_value_at(s, acted), acted);
}

/* ================================================================ tick */

static int throttled(const sluice_law_class *c)
{
    return c->tier != SLUICE_TIER_CRITICAL;
}

/* The previous fraction clamped into [floor,1]; 1 for critical. */
static double clamped(const sluice_law_class *c)
{
    double f = c->fraction;
    if (!throttled(c)) return 1.0;
    if (f < c->floor) f = c->floor;
    if (f > 1.0) f = 1.0;
    return f;
}

/* Work may wait for the class: it has ready jobs, or its caller does not
 * know (waiting < 0). */
static int has_work(const sluice_law_class *c)
{
    return c->waiting != 0;
}

/* Which tiers have room to be cut or raised, after clamping. */
struct survey {
    int above_floor[SLUICE_TIERS];
    int below_one[SLUICE_TIERS];
    int below_one_waiting[SLUICE_TIERS]; /* ... and has work waiting */
};

static void survey_classes(const sluice_law_class *cls, size_t n, struct survey *sv)
{
    memset(sv, 0, sizeof *sv);
    for (size_t i = 0; i < n; i++) {
        double f = clamped(&cls[i]);
        if (!throttled(&cls[i])) continue;
        if (f > cls[i].floor) sv->above_floor[cls[i].tier] = 1;
        if (f < 1.0) sv->below_one[cls[i].tier] = 1;
        if (f < 1.0 && has_work(&cls[i])) sv->below_one_waiting[cls[i].tier] = 1;
    }
}

/* Lowest tier (shed first) with a class above its floor; -1 if none. */
static int tier_to_cut(const struct survey *sv)
{
    for (int t = SLUICE_TIER_LOW; t > SLUICE_TIER_CRITICAL; t--)
        if (sv->above_floor[t]) return t;
    return -1;
}

/* Highest non-critical tier with a class below 1 that has work waiting;
 * failing that, the highest with a class below 1, so every class still
 * returns to 1 in the end; -1 if none. *skipped is set when a higher tier
 * below 1 is passed over because nothing waits for it. */
static int tier_to_raise(const struct survey *sv, int *skipped)
{
    int first = -1;
    *skipped = 0;
    for (int t = SLUICE_TIER_HIGH; t <= SLUICE_TIER_LOW; t++) {
        if (!sv->below_one[t]) continue;
        if (first < 0) first = t;
        if (sv->below_one_waiting[t]) {
            *skipped = t != first;
            return t;
        }
    }
    return first;
}

/* What this tick does. */
struct plan {
    sluice_law_action action;
    int tier;                          /* the tier cut or raised; -1 otherwise */
    int moves;                         /* 1 if the action moves some fraction */
    double factor;                     /* CUT: what the tier's fractions are multiplied by */
    double step;                       /* RAISE: the additive part of the raise */
    double growth;                     /* RAISE: the most a fraction may be multiplied by */
    const sluice_law_signal *driver;
    int driver_stale;
    char summary[SLUICE_LAW_SUMMARY];
};

/* The multiplier of a cut: proportional to how far the acted-on pressure is
 * over "from" (target, or the last cut's pressure when escalating), never
 * deeper than params.decrease. */
static double cut_factor(const sluice_law_params *p, double over)
{
    double f = 1.0 - p->cut_gain * over;
    if (p->cut_gain == 0 || f < p->decrease) f = p->decrease;
    if (f > 1.0) f = 1.0;
    return f;
}

/* The additive part of a raise: params.increase when the headroom below the
 * band is at least raise_span, proportionally less closer to the band. */
static double raise_step(const sluice_law_params *p, double headroom)
{
    if (p->raise_span <= 0 || headroom >= p->raise_span) return p->increase;
    if (headroom <= 0) return 0;
    return p->increase * headroom / p->raise_span;
}

/* The multiplicative part of a raise: at most params.growth, and at most
 * (1 - band) / A, the factor that would bring pressure A to the band's edge
 * if the whole load grew with the raised class. */
static double raise_growth(const sluice_law_params *p, double A)
{
    double g = p->growth;
    if (A > 0 && (1.0 - p->band) / A < g) g = (1.0 - p->band) / A;
    return g < 1.0 ? 1.0 : g;
}

static double cut_one(const sluice_law_params *p, double factor, double f, double floor)
{
    double nf = f * factor;
    if (nf < floor + p->snap) nf = floor;
    return nf;
}

/* A raise of one class: the larger of the additive step and the growth. */
static double raise_one(const sluice_law_params *p, const struct plan *pl, double f)
{
    double grown = f * pl->growth;
    double nf = f + pl->step > grown ? f + pl->step : grown;
    if (nf > 1.0 - p->snap) nf = 1.0;
    return nf;
}

/* After a change the law waits until the database can show it: a value of
 * the driving signal observed after the change, or, for a signal that
 * declares its period, one period since the change, whichever comes first.
 * A value that stands (no period declared), a stale driver or no signal at
 * all leave only the dwell. */
static int settled(const sluice_law_state *st, const struct reading *r, int64_t now)
{
    const sluice_law_signal *d = r->acted_driver;
    if (!st->has_change || !d || r->acted_stale || d->period_ms == 0) return 1;
    return observed_at(d, now) > st->last_change_ms ||
           elapsed(now, st->last_change_ms) >= d->period_ms;
}

/* Whether the planned cut or raise moves some class of its tier by at least
 * params.snap, or onto its floor or 1: a smaller move is noise, and making
 * it would restart the dwell for nothing. */
static int moves_enough(const sluice_law_params *p, const struct plan *pl,
                        const sluice_law_class *cls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double f = clamped(&cls[i]), nf;
        if (!throttled(&cls[i]) || (int)cls[i].tier != pl->tier) continue;
        nf = pl->action == SLUICE_LAW_CUT ? cut_one(p, pl->factor, f, cls[i].floor)
                                          : raise_one(p, pl, f);
        if (nf != f && (fabs(nf - f) >= p->snap || nf == cls[i].floor || nf == 1.0)) return 1;
    }
    return 0;
}

/* Chooses the action from the pressure, the state and the tiers' room, and
 * moves the calm streak forward. */
static void decide(const sluice_law_params *p, sluice_law_state *st, int64_t now,
                   const struct reading *r, const struct survey *sv,
                   const sluice_law_class *cls, size_t ncls, struct plan *pl)
{
    double P = r->pressure, A = r->acted;
    char who[160];
    int64_t since = st->has_change ? elapsed(now, st->last_change_ms) : INT64_MAX;
    int in_dwell = since < p->dwell_ms;
    int calm_zone = A < 1.0 - p->band;
    int ready = settled(st, r, now);
    const char *last = action_words[st->last_action];
    const sluice_law_signal *d;

    memset(pl, 0, sizeof *pl);
    pl->action = SLUICE_LAW_HOLD;
    pl->tier = -1;
    pl->factor = 1.0;
    pl->growth = 1.0;
    pl->driver = r->acted_driver ? r->acted_driver : r->driver;
    pl->driver_stale = r->acted_driver ? r->acted_stale : r->driver_stale;
    d = pl->driver_stale ? NULL : pl->driver;
    signal_words(pl->driver, pl->driver_stale, A, who, sizeof who);

    /* The calm streak is what a raise waits for; a held stale signal breaks
     * it, since nobody can vouch that its part of the database is calm. */
    if (calm_zone && !r->held) {
        if (!st->calm) {
            st->calm = 1;
            st->calm_since_ms = now;
        }
    } else {
        st->calm = 0;
        st->calm_since_ms = 0;
    }

    if (r->counted > 0 && P >= 2.0) {
        /* Raw, not smoothed: one value at critical is enough. */
        pl->action = SLUICE_LAW_CRITICAL;
        pl->driver = r->driver;
        pl->driver_stale = r->driver_stale;
        for (int t = SLUICE_TIER_HIGH; t <= SLUICE_TIER_LOW; t++)
            if (sv->above_floor[t]) pl->moves = 1;
        if (r->driver_stale) {
            signal_words(r->driver, 1, P, who, sizeof who);
            say(pl->summary, sizeof pl->summary, "critical: %s; every class at its floor", who);
        } else {
            say(pl->summary, sizeof pl->summary,
                "critical: %.64s at %.4g, at or past its critical %.4g; every class at its floor",
                r->driver->name, r->driver->value, r->driver->critical);
        }
    } else if (A > 1.0 && P <= 1.0) {
        /* The smoothed pressure still remembers a peak that the values no
         * longer show: a cut answers the database as it is now. */
        say(pl->summary, sizeof pl->summary, "hold: %s; the value is back %s its target %.4g",
            who, d ? under_word(d) : "under", d ? d->target : 0.0);
    } else if (A > 1.0) {
        int t = tier_to_cut(sv);
        int worse = st->last_action == SLUICE_LAW_CUT && A > st->last_pressure + p->escalate;
        int escalating = worse && (in_dwell || !ready);
        char over[96] = "";
        if (d) say(over, sizeof over, ", %s its target %.4g", over_word(d), d->target);
        if (t < 0) {
            say(pl->summary, sizeof pl->summary, "hold: %s%s, but every class is at its floor", who,
                over);
        } else if (in_dwell && !worse) {
            say(pl->summary, sizeof pl->summary, "hold: %s%s; dwell %lld of %lld ms since the last %s",
                who, over, (long long)since, (long long)p->dwell_ms, last);
        } else if (!ready && !worse) {
            say(pl->summary, sizeof pl->summary,
                "hold: %s%s; waiting for a value newer than the last %s", who, over, last);
        } else {
            pl->action = SLUICE_LAW_CUT;
            pl->tier = t;
            pl->factor = cut_factor(p, escalating ? A - st->last_pressure : A - 1.0);
            pl->moves = moves_enough(p, pl, cls, ncls);
            if (pl->moves) {
                say(pl->summary, sizeof pl->summary, "cut %s tier by %.0f%%: %s%s%s", sluice_tier_name((sluice_tier)t),
                    100.0 * (1.0 - pl->factor), who, over, escalating ? ", and rising" : "");
            } else {
                pl->action = SLUICE_LAW_HOLD;
                say(pl->summary, sizeof pl->summary,
                    "hold: %s%s; a cut would move no class by %.2f or more", who, over, p->snap);
            }
        }
    } else if (calm_zone) {
        int skipped = 0;
        int t = tier_to_raise(sv, &skipped);
        int64_t calm_for = st->calm ? elapsed(now, st->calm_since_ms) : 0;
        char below[96] = "";
        if (d)
            say(below, sizeof below, ", %s %.4g", d->lower_is_worse ? "above" : "below",
                sluice_law_value_at(d, 1.0 - p->band));
        if (r->held) {
            pl->driver = r->held;
            pl->driver_stale = 1;
            say(pl->summary, sizeof pl->summary,
                "hold: %.64s is %s and its policy is hold, so nothing is raised", r->held->name,
                r->held->has_value ? "stale" : "never reported");
        } else if (t < 0) {
            say(pl->summary, sizeof pl->summary, "hold: %s; every class at full admission", who);
        } else if (calm_for < p->calm_ms) {
            say(pl->summary, sizeof pl->summary, "hold: %s%s for %lld of %lld ms before a raise",
                who, below, (long long)calm_for, (long long)p->calm_ms);
        } else if (in_dwell) {
            say(pl->summary, sizeof pl->summary, "hold: %s%s; dwell %lld of %lld ms since the last %s",
                who, below, (long long)since, (long long)p->dwell_ms, last);
        } else if (!ready) {
            say(pl->summary, sizeof pl->summary,
                "hold: %s%s; waiting for a value newer than the last %s", who, below, last);
        } else if (P >= 1.0 - p->band) {
            say(pl->summary, sizeof pl->summary,
                "hold: %s%s, but its latest value is not (pressure %.2f)", who, below, P);
        } else {
            pl->action = SLUICE_LAW_RAISE;
            pl->tier = t;
            pl->step = raise_step(p, 1.0 - p->band - A);
            pl->growth = raise_growth(p, A);
            pl->moves = moves_enough(p, pl, cls, ncls);
            if (pl->moves) {
                say(pl->summary, sizeof pl->summary,
                    "raise %s tier (x%.2f or +%.3f): %s%s for %lld ms%s", sluice_tier_name((sluice_tier)t), pl->growth,
                    pl->step, who, below, (long long)calm_for,
                    skipped ? "; higher tiers have nothing waiting" : "");
            } else {
                pl->action = SLUICE_LAW_HOLD;
                say(pl->summary, sizeof pl->summary,
                    "hold: %s%s; a raise would move no class by %.2f or more", who, below, p->snap);
            }
        }
    } else {
        char band[96] = "";
        if (d)
            say(band, sizeof band, ", between %.4g and its target %.4g",
                sluice_law_value_at(d, 1.0 - p->band), d->target);
        say(pl->summary, sizeof pl->summary, "hold: %s%s", who, band);
    }
}

/* Applies the plan to one class: its new fraction and the reason for it. */
static double apply(const sluice_law_params *p, const struct plan *pl, sluice_law_class *c)
{
    double old = c->fraction, f = clamped(c), nf = f;
    char note[48] = "";
    char body[SLUICE_LAW_REASON];
    int t = (int)c->tier;

    if (f != old) say(note, sizeof note, "clamped from %.3g; ", old);
    if (!throttled(c)) {
        say(body, sizeof body, "critical tier: never throttled");
    } else if (pl->action == SLUICE_LAW_CRITICAL) {
        nf = c->floor;
        say(body, sizeof body, "at floor %.2f: pressure at or over critical", nf);
    } else if (pl->action == SLUICE_LAW_CUT && t == pl->tier) {
        nf = cut_one(p, pl->factor, f, c->floor);
        if (nf < f)
            say(body, sizeof body, "cut %.2f -> %.2f: over target, %s tier shed first", f, nf,
                sluice_tier_name((sluice_tier)t));
        else
            say(body, sizeof body, "at floor %.2f: over target", nf);
    } else if (pl->action == SLUICE_LAW_CUT && t < pl->tier) {
        say(body, sizeof body, "held at %.2f: over target, %s tier is cut first", f,
            sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_CUT) {
        say(body, sizeof body, "at floor %.2f: over target", f);
    } else if (pl->action == SLUICE_LAW_RAISE && t == pl->tier) {
        nf = raise_one(p, pl, f);
        if (nf > f)
            say(body, sizeof body, "raised %.2f -> %.2f: calm, %s tier recovers first", f, nf,
                sluice_tier_name((sluice_tier)t));
        else
            say(body, sizeof body, "full admission");
    } else if (pl->action == SLUICE_LAW_RAISE && t > pl->tier) {
        say(body, sizeof body, "held at %.2f: %s tier recovers first", f, sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_RAISE && f < 1.0) {
        say(body, sizeof body, "held at %.2f: nothing waiting, %s tier with work is raised first",
            f, sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_RAISE) {
        say(body, sizeof body, "full admission");
    } else {
        /* The plan's summary starts with "hold: "; say "held at x: ..." instead. */
        const char *rest = pl->summary;
        if (strncmp(rest, "hold: ", 6) == 0) rest += 6;
        say(body, sizeof body, "held at %.2f: %s", f, rest);
    }
    say(c->reason, sizeof c->reason, "%s%s", note, body);
    c->fraction = nf;
    return old;
}

int sluice_law_tick(const sluice_law_params *p, sluice_law_state *st, int64_t now_ms,
                    const sluice_law_signal *signals, size_t nsig,
                    sluice_law_class *classes, size_t ncls, sluice_law_decision *out,
                    sluice_error *err)
{
    sluice_law_params defaults;
    struct reading r;
    struct survey sv;
    struct plan pl;
    size_t changed = 0;

    if (sluice_law_input_check(p, st, signals, nsig, classes, ncls, err) < 0) return -1;
    if (!p) {
        sluice_law_params_default(&defaults);
        p = &defaults;
    }

    /* A clock that stepped back restarts the dwell instead of stretching it. */
    if (st->has_change && now_ms < st->last_change_ms) st->last_change_ms = now_ms;
    if (st->calm && now_ms < st->calm_since_ms) st->calm_since_ms = now_ms;

    read_signals(p, signals, nsig, &r);
    smooth(p, st, now_ms, &r);
    acted_on(p, st, &r);
    survey_classes(classes, ncls, &sv);
    decide(p, st, now_ms, &r, &sv, classes, ncls, &pl);

    for (size_t i = 0; i < ncls; i++) {
        double old = apply(p, &pl, &classes[i]);
        if (classes[i].fraction != old) changed++;
    }

    if (pl.moves) {
        st->has_change = 1;
        st->last_change_ms = now_ms;
        st->last_action = pl.action;
        st->last_pressure = pl.action == SLUICE_LAW_CRITICAL ? r.pressure : r.acted;
    }
    st->ticks = st->ticks < INT64_MAX ? st->ticks + 1 : INT64_MAX;
    st->last_tick_ms = now_ms;

    if (out) {
        out->action = pl.action;
        out->pressure = r.pressure;
        out->acted = r.acted;
        out->driver = pl.driver ? pl.driver->name : NULL;
        out->driver_stale = pl.driver ? pl.driver_stale : 0;
        out->driver_value = pl.driver && !pl.driver_stale ? pl.driver->value : NAN;
        out->changed = changed;
        say(out->summary, sizeof out->summary, "%s", pl.summary);
    }
    return 0;
}

/* ================================================================ state */

void sluice_law_state_init(sluice_law_state *st)
{
    if (!st) return;
    memset(st, 0, sizeof *st);
    st->last_action = SLUICE_LAW_HOLD;
    st->last_pressure = 0;
    st->smoothed = 0;
}

int sluice_law_state_encode(const sluice_law_state *st, char *buf, size_t len, sluice_error *err)
{
    json_t *o;
    char *text;
    size_t n;

    sluice_error_reset(err);
    if (buf && len > 0) buf[0] = '\0';
    if (!st || !buf || len == 0) return fail(err, "state encode: st or buf is NULL or empty");
    if (check_state(st, err) < 0) return -1;
    o = json_pack("{s:i, s:I, s:I, s:b, s:I, s:s, s:f, s:b, s:I, s:b, s:f}",
                  "v", STATE_VERSION,
                  "ticks", (json_int_t)st->ticks,
                  "last_tick_ms", (json_int_t)st->last_tick_ms,
                  "has_change", st->has_change,
                  "last_change_ms", (json_int_t)st->last_change_ms,
                  "last_action", action_words[st->last_action],
                  "last_pressure", st->last_pressure,
                  "calm", st->calm,
                  "calm_since_ms", (json_int_t)st->calm_since_ms,
                  "has_reading", st->has_reading,
                  "smoothed", st->smoothed);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "state encode: out of memory");
        return -1;
    }
    n = strlen(text);
    if (n >= len) {
        free(text);
        return fail(err, "state encode: buf holds %zu bytes, %zu needed", len, n + 1);
    }
    memcpy(buf, text, n + 1);
    free(text);
    return 0;
}

int sluice_law_state_decode(const char *text, sluice_law_state *st, sluice_error *err)
{
    json_t *root;
    json_error_t jerr;
    sluice_law_state s;
    int has_change = 0, calm = 0, has_reading = 0;
    json_int_t version = 0, ticks = 0, last_tick = 0, last_change = 0, calm_since = 0;
    const char *action = NULL;
    double pressure = 0, smoothed = 0;
    int rc = -1, ok;

    sluice_error_reset(err);
    if (!text || !st) return fail(err, "state decode: text or st is NULL");
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fail(err, "state decode: not JSON (%.100s)", jerr.text);
    ok = json_is_object(root) &&
         json_unpack_ex(root, &jerr, 0, "{s:I, s:I, s:I, s:b, s:I, s:s, s:F, s:b, s:I}",
                        "v", &version,
                        "ticks", &ticks,
                        "last_tick_ms", &last_tick,
                        "has_change", &has_change,
                        "last_change_ms", &last_change,
                        "last_action", &action,
                        "last_pressure", &pressure,
                        "calm", &calm,
                        "calm_since_ms", &calm_since) == 0;
    /* v2 smoothed per reading (its reading_* members are not needed now);
     * v1 did not smooth: the new leader starts from the next value. */
    if (ok && (version == STATE_VERSION || version == 2))
        ok = json_unpack_ex(root, &jerr, 0, "{s:b, s:F}",
                            "has_reading", &has_reading,
                            "smoothed", &smoothed) == 0;
    else if (ok && version != 1)
        ok = fail(err, "state decode: unknown version %lld", (long long)version) == 0;
    if (!ok) fail(err, "state decode: %.100s", json_is_object(root) ? jerr.text : "not an object");
    if (ok) {
        sluice_law_state_init(&s);
        s.ticks = (int64_t)ticks;
        s.last_tick_ms = (int64_t)last_tick;
        s.has_change = has_change ? 1 : 0;
        s.last_change_ms = (int64_t)last_change;
        s.last_pressure = pressure;
        s.calm = calm ? 1 : 0;
        s.calm_since_ms = (int64_t)calm_since;
        s.has_reading = has_reading ? 1 : 0;
        s.smoothed = smoothed;
        int action_at = word_index(action_words, NWORDS(action_words), action, "last_action", err);
        if (action_at >= 0 && (s.last_action = (sluice_law_action)action_at, check_state(&s, err) == 0)) {
            *st = s;
            rc = 0;
        }
    }
    json_decref(root);
    return rc;
}
