/* What the control law is given: the checks on its state, signals and
 * classes, and a signal's pressure and thresholds. */
#include "sluice/law.h"
#include "law_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (critical - target) / 2: halved so that no finite inputs overflow. */
static double half_span(const sluice_law_signal *s)
{
    return s->critical * 0.5 - s->target * 0.5;
}

static int check_signal(const sluice_law_signal *s, size_t i, sluice_error *err)
{
    int policy = (int)s->on_stale;
    if (!s->name) return law_fail(err, "signal %zu has no name", i);
    if (!isfinite(s->target) || !isfinite(s->critical))
        return law_fail(err, "signal %.64s: target and critical must be finite", s->name);
    double span = half_span(s);
    if (span == 0) return law_fail(err, "signal %.64s: critical must differ from target", s->name);
    if (s->lower_is_worse && span > 0)
        return law_fail(err, "signal %.64s: lower is worse, so critical must be below target",
                    s->name);
    if (!s->lower_is_worse && span < 0)
        return law_fail(err, "signal %.64s: higher is worse, so critical must be above target",
                    s->name);
    if (s->stale_after_ms < 0)
        return law_fail(err, "signal %.64s: stale_after_ms is negative", s->name);
    if (s->period_ms < 0) return law_fail(err, "signal %.64s: period_ms is negative", s->name);
    if (policy < (int)SLUICE_STALE_ASSUME_PRESSURE || policy > (int)SLUICE_STALE_IGNORE)
        return law_fail(err, "signal %.64s: unknown on_stale policy", s->name);
    if (s->has_value && !isfinite(s->value))
        return law_fail(err, "signal %.64s: value is not a finite number", s->name);
    return 0;
}

static int check_class(const sluice_law_class *c, size_t i, sluice_error *err)
{
    int tier = (int)c->tier;
    if (tier < (int)SLUICE_TIER_CRITICAL || tier > (int)SLUICE_TIER_LOW)
        return law_fail(err, "class %zu: unknown tier", i);
    if (!isfinite(c->floor) || c->floor < 0 || c->floor > 1)
        return law_fail(err, "class %zu: floor must be within [0,1]", i);
    if (!isfinite(c->fraction))
        return law_fail(err, "class %zu: fraction is not a finite number", i);
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
    if (!s || !out) return law_fail(err, "signal or out is NULL");
    if (sluice_law_params_check(p, err) < 0 || check_signal(s, 0, err) < 0) return -1;
    t.raise_at = sluice_law_value_at(s, 1.0 - p->band);
    t.cut_at = s->target;
    t.critical_at = s->critical;
    *out = t;
    law_say(text, textlen, "raise %s %.4g, cut %s %.4g, floors at %.4g",
        s->lower_is_worse ? "above" : "below", t.raise_at, s->lower_is_worse ? "below" : "above",
        t.cut_at, t.critical_at);
    return 0;
}
