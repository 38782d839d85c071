/* The control law's parameters: defaults, checks, and access by name (for
 * sluicectl governor set and the config file). */
#include "sluice/law.h"
#include "law_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (!p) return law_fail(err, "params is NULL");
    if (p->tick_ms < 1 || p->tick_ms > TICK_MS_MAX)
        return law_fail(err, "tick_ms must be 1..%d ms", TICK_MS_MAX);
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
    if (!isfinite(p->band) || p->band < 0 || p->band >= 1)
        return law_fail(err, "band must be at least 0 and below 1");
    if (p->dwell_ms < 0 || p->dwell_ms > DWELL_MS_MAX)
        return law_fail(err, "dwell_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->calm_ms < 0 || p->calm_ms > DWELL_MS_MAX)
        return law_fail(err, "calm_ms must be 0..%d ms", DWELL_MS_MAX);
    if (p->smoothing_ms < 0 || p->smoothing_ms > DWELL_MS_MAX)
        return law_fail(err, "smoothing_ms must be 0..%d ms", DWELL_MS_MAX);
    if (!isfinite(p->jump) || p->jump < 0)
        return law_fail(err, "jump must be a finite number of at least 0");
    if (!isfinite(p->stale_pressure) || p->stale_pressure <= 1)
        return law_fail(err, "stale_pressure must be a finite number above 1");
    if (!isfinite(p->escalate) || p->escalate < 0)
        return law_fail(err, "escalate must be a finite number of at least 0");
    if (!isfinite(p->snap) || p->snap < 0 || p->snap >= 0.5)
        return law_fail(err, "snap must be at least 0 and below 0.5");
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
    return law_fail(err, "unknown governor param '%.64s' (%s)", name, known);
}

