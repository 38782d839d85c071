/* What the control law is given and keeps: the words of its enums, its
 * parameters (defaults, checks, access by name), its state between ticks
 * (checks, and the JSON form the governor stores), the checks on a tick's
 * signals and classes, a signal's pressure and thresholds, and the reading
 * of a tick's signals into the pressure the law acts on. */
#include "sluice/law.h"
#include "law_private.h"
#include "../words.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------- words -------------------------------- */

#define STALE_WORD(constant, name) [constant] = name,
static const char *const stale_words[] = {SLUICE_ON_STALE_LIST(STALE_WORD)};
static const char *const action_words[] = {"hold", "cut", "critical", "raise"};

const char *sluice_on_stale_name(sluice_on_stale policy) {
    return word_of(stale_words, NWORDS(stale_words), (int)policy);
}

int sluice_on_stale_parse(const char *s, sluice_on_stale *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(stale_words, NWORDS(stale_words), s, "on_stale policy", err);
    if (i < 0) return -1;
    *out = (sluice_on_stale)i;
    return 0;
}

const char *sluice_law_action_name(sluice_law_action a) {
    return word_of(action_words, NWORDS(action_words), (int)a);
}

int sluice_law_action_parse(const char *s, sluice_law_action *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(action_words, NWORDS(action_words), s, "last_action", err);
    if (i < 0) return -1;
    *out = (sluice_law_action)i;
    return 0;
}

/* snprintf for plain-words text, where cutting a long signal name short is
 * intended (gcc's -Wformat-truncation does not look through a va_list). */
void law_say(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    if (!buf || len == 0) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Sets SLUICE_ERR_ARGUMENT with the message (the first error wins) and
 * returns -1. */
int law_fail(sluice_error *err, const char *fmt, ...) {
    char text[SLUICE_ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", text);
    return -1;
}

/* ------------------------------ parameters ----------------------------- */

void sluice_law_params_default(sluice_law_params *p) {
    if (!p) return;
    p->tick_ms = 1000;
    p->decrease = 0.5;
    p->cut_gain = 2.5;
    p->increase = 0.1;
    p->growth = 3.0;
    p->raise_span = 0.3;
    p->band = 0.1;
    p->creep_band = 0.05;
    p->creep_ms = 0;
    p->dwell_ms = 5000;
    p->raise_dwell_ms = 0;
    p->calm_ms = 3000;
    p->smoothing_ms = 2000;
    p->jump = 0.1;
    p->stale_pressure = 1.5;
    p->escalate = 0.05;
    p->snap = 0.01;
    p->idle_ms = 0;
    p->reversal_dwell_ms = 0;
}

int sluice_law_params_check(const sluice_law_params *p, sluice_error *err) {
    sluice_error_reset(err);
    if (!p) return law_fail(err, "params is NULL");
    if (p->tick_ms < 1 || p->tick_ms > TICK_MS_MAX) return law_fail(err, "tick_ms must be 1..%d ms", TICK_MS_MAX);
    if (!isfinite(p->decrease) || p->decrease <= 0 || p->decrease >= 1)
        return law_fail(err, "decrease must be above 0 and below 1");
    if (!isfinite(p->cut_gain) || p->cut_gain < 0)
        return law_fail(err, "cut_gain must be a finite number of at least 0");
    if (!isfinite(p->increase) || p->increase <= 0 || p->increase > 1)
        return law_fail(err, "increase must be above 0 and at most 1");
    if (!isfinite(p->growth) || p->growth < 1 || p->growth > GROWTH_MAX)
        return law_fail(err, "growth must be 1..%d", GROWTH_MAX);
    if (!isfinite(p->raise_span) || p->raise_span < 0)
        return law_fail(err, "raise_span must be a finite number of at least 0");
    if (!isfinite(p->band) || p->band < 0 || p->band >= 1) return law_fail(err, "band must be at least 0 and below 1");
    if (!isfinite(p->creep_band) || p->creep_band < 0 || p->creep_band >= 1)
        return law_fail(err, "creep_band must be at least 0 and below 1");
    if (p->creep_ms < 0 || p->creep_ms > DWELL_MS_MAX) return law_fail(err, "creep_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->dwell_ms < 0 || p->dwell_ms > DWELL_MS_MAX) return law_fail(err, "dwell_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->raise_dwell_ms < 0 || p->raise_dwell_ms > DWELL_MS_MAX)
        return law_fail(err, "raise_dwell_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->calm_ms < 0 || p->calm_ms > DWELL_MS_MAX) return law_fail(err, "calm_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->smoothing_ms < 0 || p->smoothing_ms > DWELL_MS_MAX)
        return law_fail(err, "smoothing_ms must be 0..%d ms", DWELL_MS_MAX);
    if (!isfinite(p->jump) || p->jump < 0) return law_fail(err, "jump must be a finite number of at least 0");
    if (!isfinite(p->stale_pressure) || p->stale_pressure <= 1)
        return law_fail(err, "stale_pressure must be a finite number above 1");
    if (!isfinite(p->escalate) || p->escalate < 0)
        return law_fail(err, "escalate must be a finite number of at least 0");
    if (!isfinite(p->snap) || p->snap < 0 || p->snap >= 0.5)
        return law_fail(err, "snap must be at least 0 and below 0.5");
    if (p->idle_ms < 0 || p->idle_ms > DWELL_MS_MAX) return law_fail(err, "idle_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->reversal_dwell_ms < 0 || p->reversal_dwell_ms > DWELL_MS_MAX)
        return law_fail(err, "reversal_dwell_ms must be 0..%d ms", DWELL_MS_MAX);
    return 0;
}

/* Every param by name, in the struct's order; 1 for a param that counts ms
 * (one a line, as clang-format would join them). */
/* clang-format off */
#define LAW_PARAMS(X) \
    X(tick_ms, 1) \
    X(decrease, 0) \
    X(cut_gain, 0) \
    X(increase, 0) \
    X(growth, 0) \
    X(raise_span, 0) \
    X(band, 0) \
    X(creep_band, 0) \
    X(creep_ms, 1) \
    X(dwell_ms, 1) \
    X(raise_dwell_ms, 1) \
    X(calm_ms, 1) \
    X(smoothing_ms, 1) \
    X(jump, 0) \
    X(stale_pressure, 0) \
    X(escalate, 0) \
    X(snap, 0) \
    X(idle_ms, 1) \
    X(reversal_dwell_ms, 1)
/* clang-format on */

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

const char *sluice_law_param_name(size_t i) {
    return i < NPARAMS ? param_fields[i].name : NULL;
}

double sluice_law_param_get(const sluice_law_params *p, size_t i) {
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

int sluice_law_param_set(sluice_law_params *p, const char *name, double value, sluice_error *err) {
    sluice_error_reset(err);
    if (!p || !name) return law_fail(err, "params or name is NULL");
    for (size_t i = 0; i < NPARAMS; i++) {
        char *field = (char *)p + param_fields[i].off;
        if (strcmp(param_fields[i].name, name) != 0) continue;
        if (!param_fields[i].is_ms) {
            memcpy(field, &value, sizeof value);
            return 0;
        }
        if (!isfinite(value) || value != floor(value) || fabs(value) > 9e15)
            return law_fail(err, "%s must be a whole number of ms", name);
        int64_t ms = (int64_t)value;
        memcpy(field, &ms, sizeof ms);
        return 0;
    }
    char known[NPARAMS * 16];
    size_t at = 0;
    for (size_t i = 0; i < NPARAMS; i++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? " " : "", param_fields[i].name);
    return law_fail(err, "unknown governor param '%.48s' (%s)", name, known);
}

/* -------------------------------- state -------------------------------- */

int law_state_check(const sluice_law_state *st, sluice_error *err) {
    if (st->ticks < 0) return law_fail(err, "state: ticks is negative");
    if (st->has_change != 0 && st->has_change != 1) return law_fail(err, "state: has_change must be 0 or 1");
    if (st->calm != 0 && st->calm != 1) return law_fail(err, "state: calm must be 0 or 1");
    if (!sluice_law_action_name(st->last_action)) return law_fail(err, "state: unknown last_action");
    if (st->has_change && st->last_action == SLUICE_LAW_HOLD) return law_fail(err, "state: a change cannot be a hold");
    if (!isfinite(st->last_pressure)) return law_fail(err, "state: last_pressure is not finite");
    if (st->has_reading != 0 && st->has_reading != 1) return law_fail(err, "state: has_reading must be 0 or 1");
    if (!isfinite(st->smoothed) || st->smoothed > PRESSURE_MAX || st->smoothed < -PRESSURE_MAX)
        return law_fail(err, "state: smoothed is not a finite pressure");
    if (st->has_reversal != 0 && st->has_reversal != 1) return law_fail(err, "state: has_reversal must be 0 or 1");
    return 0;
}

void sluice_law_state_init(sluice_law_state *st) {
    if (!st) return;
    memset(st, 0, sizeof *st);
    st->last_action = SLUICE_LAW_HOLD;
    st->last_pressure = 0;
    st->smoothed = 0;
}

int sluice_law_state_encode(const sluice_law_state *st, char *buf, size_t len, sluice_error *err) {
    json_t *o;
    char *text;
    size_t n;

    sluice_error_reset(err);
    if (buf && len > 0) buf[0] = '\0';
    if (!st || !buf || len == 0) return law_fail(err, "state encode: st or buf is NULL or empty");
    if (law_state_check(st, err) < 0) return -1;
    o = json_pack("{s:i, s:I, s:I, s:b, s:I, s:s, s:f, s:b, s:I, s:b, s:f, s:b, s:I}", "v", STATE_VERSION, "ticks",
                  (json_int_t)st->ticks, "last_tick_ms", (json_int_t)st->last_tick_ms, "has_change", st->has_change,
                  "last_change_ms", (json_int_t)st->last_change_ms, "last_action",
                  sluice_law_action_name(st->last_action), "last_pressure", st->last_pressure, "calm", st->calm,
                  "calm_since_ms", (json_int_t)st->calm_since_ms, "has_reading", st->has_reading, "smoothed",
                  st->smoothed, "has_reversal", st->has_reversal, "last_reversal_ms", (json_int_t)st->last_reversal_ms);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "state encode: out of memory");
        return -1;
    }
    n = strlen(text);
    if (n >= len) {
        free(text);
        return law_fail(err, "state encode: buf holds %zu bytes, %zu needed", len, n + 1);
    }
    memcpy(buf, text, n + 1);
    free(text);
    return 0;
}

int sluice_law_state_decode(const char *text, sluice_law_state *st, sluice_error *err) {
    json_t *root;
    json_error_t jerr;
    sluice_law_state s;
    int has_change = 0, calm = 0, has_reading = 0, has_reversal = 0;
    json_int_t version = 0, ticks = 0, last_tick = 0, last_change = 0, calm_since = 0, last_reversal = 0;
    const char *action = NULL;
    double pressure = 0, smoothed = 0;
    int rc = -1, ok;

    sluice_error_reset(err);
    if (!text || !st) return law_fail(err, "state decode: text or st is NULL");
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return law_fail(err, "state decode: not JSON (%.100s)", jerr.text);
    ok = json_is_object(root) &&
         json_unpack_ex(root, &jerr, 0, "{s:I, s:I, s:I, s:b, s:I, s:s, s:F, s:b, s:I}", "v", &version, "ticks", &ticks,
                        "last_tick_ms", &last_tick, "has_change", &has_change, "last_change_ms", &last_change,
                        "last_action", &action, "last_pressure", &pressure, "calm", &calm, "calm_since_ms",
                        &calm_since) == 0;
    /* v2 smoothed per reading (its reading_* members are not needed now);
     * v1 did not smooth: the new leader starts from the next value. A
     * leader before reversal_dwell_ms wrote no reversal: none. */
    if (ok && (version == STATE_VERSION || version == 2))
        ok = json_unpack_ex(root, &jerr, 0, "{s:b, s:F, s?b, s?I}", "has_reading", &has_reading, "smoothed", &smoothed,
                            "has_reversal", &has_reversal, "last_reversal_ms", &last_reversal) == 0;
    else if (ok && version != 1)
        ok = law_fail(err, "state decode: unknown version %lld", (long long)version) == 0;
    if (!ok) law_fail(err, "state decode: %.100s", json_is_object(root) ? jerr.text : "not an object");
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
        s.has_reversal = has_reversal ? 1 : 0;
        s.last_reversal_ms = (int64_t)last_reversal;
        if (sluice_law_action_parse(action, &s.last_action, err) == 0 && law_state_check(&s, err) == 0) {
            *st = s;
            rc = 0;
        }
    }
    json_decref(root);
    return rc;
}

/* ------------------------- signals and classes ------------------------- */

/* (critical - target) / 2: halved so that no finite inputs overflow. */
static double half_span(const sluice_law_signal *s) {
    return s->critical * 0.5 - s->target * 0.5;
}

static int check_signal(const sluice_law_signal *s, size_t i, sluice_error *err) {
    int policy = (int)s->on_stale;
    if (!s->name) return law_fail(err, "signal %zu has no name", i);
    if (!isfinite(s->target) || !isfinite(s->critical))
        return law_fail(err, "signal %.64s: target and critical must be finite", s->name);
    double span = half_span(s);
    if (span == 0) return law_fail(err, "signal %.64s: critical must differ from target", s->name);
    if (s->lower_is_worse && span > 0)
        return law_fail(err, "signal %.64s: lower is worse, so critical must be below target", s->name);
    if (!s->lower_is_worse && span < 0)
        return law_fail(err, "signal %.64s: higher is worse, so critical must be above target", s->name);
    if (s->stale_after_ms < 0) return law_fail(err, "signal %.64s: stale_after_ms is negative", s->name);
    if (s->period_ms < 0) return law_fail(err, "signal %.64s: period_ms is negative", s->name);
    if (policy < (int)SLUICE_STALE_ASSUME_PRESSURE || policy > (int)SLUICE_STALE_IGNORE)
        return law_fail(err, "signal %.64s: unknown on_stale policy", s->name);
    if (s->has_value && !isfinite(s->value))
        return law_fail(err, "signal %.64s: value is not a finite number", s->name);
    return 0;
}

static int check_class(const sluice_law_class *c, size_t i, sluice_error *err) {
    int tier = (int)c->tier;
    if (tier < (int)SLUICE_TIER_CRITICAL || tier > (int)SLUICE_TIER_LOW)
        return law_fail(err, "class %zu: unknown tier", i);
    if (!isfinite(c->floor) || c->floor < 0 || c->floor > 1)
        return law_fail(err, "class %zu: floor must be within [0,1]", i);
    if (!isfinite(c->fraction)) return law_fail(err, "class %zu: fraction is not a finite number", i);
    return 0;
}

int sluice_law_input_check(const sluice_law_params *p, const sluice_law_state *st, const sluice_law_signal *signals,
                           size_t nsig, const sluice_law_class *classes, size_t ncls, sluice_error *err) {
    sluice_law_params defaults;
    sluice_error_reset(err);
    if (!p) {
        sluice_law_params_default(&defaults);
        p = &defaults;
    }
    if (sluice_law_params_check(p, err) < 0) return -1;
    if (!st) return law_fail(err, "state is NULL");
    if (law_state_check(st, err) < 0) return -1;
    if (nsig > 0 && !signals) return law_fail(err, "signals is NULL but nsig is %zu", nsig);
    if (ncls > 0 && !classes) return law_fail(err, "classes is NULL but ncls is %zu", ncls);
    for (size_t i = 0; i < nsig; i++)
        if (check_signal(&signals[i], i, err) < 0) return -1;
    for (size_t i = 0; i < ncls; i++)
        if (check_class(&classes[i], i, err) < 0) return -1;
    return 0;
}

/* ================================================================ pressure */

static double clamp_pressure(double p) {
    if (p > PRESSURE_MAX) return PRESSURE_MAX;
    if (p < -PRESSURE_MAX) return -PRESSURE_MAX;
    return p;
}

/* Half the scale of the better side of target: |target| / 2, or the half
 * span when target is 0 (or so small that halving it underflows). */
static double half_scale(const sluice_law_signal *s) {
    double h = fabs(s->target) * 0.5;
    return h > 0 ? h : fabs(half_span(s));
}

static int worse_than_target(const sluice_law_signal *s, double value) {
    return s->lower_is_worse ? value < s->target : value > s->target;
}

double sluice_law_pressure(const sluice_law_signal *s, double value) {
    if (worse_than_target(s, value)) return clamp_pressure(1.0 + (value * 0.5 - s->target * 0.5) / half_span(s));
    return clamp_pressure(1.0 - fabs(value * 0.5 - s->target * 0.5) / half_scale(s));
}

double sluice_law_value_at(const sluice_law_signal *s, double pressure) {
    if (pressure > 1.0) return s->target + (pressure - 1.0) * 2.0 * half_span(s);
    double d = (1.0 - pressure) * 2.0 * half_scale(s);
    return s->lower_is_worse ? s->target + d : s->target - d;
}

int sluice_law_signal_thresholds(const sluice_law_params *p, const sluice_law_signal *s, sluice_law_thresholds *out,
                                 char *text, size_t textlen, sluice_error *err) {
    sluice_law_params defaults;
    sluice_law_thresholds t;
    if (!p) {
        sluice_law_params_default(&defaults);
        p = &defaults;
    }
    sluice_error_reset(err);
    if (!s || !out) return law_fail(err, "signal or out is NULL");
    if (sluice_law_params_check(p, err) < 0 || check_signal(s, 0, err) < 0) return -1;
    t.raise_at = sluice_law_value_at(s, 1.0 - p->band);
    t.cut_at = s->target;
    t.critical_at = s->critical;
    *out = t;
    law_say(text, textlen, "raise %s %.4g, cut %s %.4g, floors at %.4g", s->lower_is_worse ? "above" : "below",
            t.raise_at, s->lower_is_worse ? "below" : "above", t.cut_at, t.critical_at);
    return 0;
}

/* ------------------------------- reading ------------------------------- */

static int is_stale(const sluice_law_signal *s) {
    int64_t age = s->age_ms < 0 ? 0 : s->age_ms;
    return !s->has_value || age > s->stale_after_ms;
}

int64_t law_observed_at(const sluice_law_signal *s, int64_t now) {
    int64_t age = s->age_ms < 0 ? 0 : s->age_ms;
    if (now < 0 && age > INT64_MAX + now) return INT64_MIN;
    return now - age;
}

static void read_signals(const sluice_law_params *p, const sluice_law_signal *sig, size_t n, struct reading *r) {
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

int64_t law_elapsed(int64_t now, int64_t then) {
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
static void smooth(const sluice_law_params *p, sluice_law_state *st, int64_t now, const struct reading *r) {
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
    double dt = (double)law_elapsed(now, st->last_tick_ms);
    double v = sluice_law_value_at(d, st->smoothed);
    v += -expm1(-dt / (double)p->smoothing_ms) * (d->value - v);
    st->smoothed = sluice_law_pressure(d, v);
}

/* What the law acts on: the smoothed fresh pressure, or stale_pressure when a
 * stale assume-pressure signal counts and is worse. */
static void acted_on(const sluice_law_params *p, const sluice_law_state *st, struct reading *r) {
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

void law_read(const sluice_law_params *p, sluice_law_state *st, int64_t now, const sluice_law_signal *sig, size_t n,
              struct reading *r) {
    read_signals(p, sig, n, r);
    smooth(p, st, now, r);
    acted_on(p, st, r);
}
