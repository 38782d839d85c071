/* The control law's reading: what a tick's signals add up to, the raw
 * pressure, the smoothed fresh pressure and the pressure the law acts on. */
#include "sluice/law.h"
#include "law_private.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static int is_stale(const sluice_law_signal *s)
{
    int64_t age = s->age_ms < 0 ? 0 : s->age_ms;
    return !s->has_value || age > s->stale_after_ms;
}

int64_t law_observed_at(const sluice_law_signal *s, int64_t now)
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

int64_t law_elapsed(int64_t now, int64_t then)
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
    double dt = (double)law_elapsed(now, st->last_tick_ms);
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

void law_read(const sluice_law_params *p, sluice_law_state *st, int64_t now,
              const sluice_law_signal *sig, size_t n, struct reading *r)
{
    read_signals(p, sig, n, r);
    smooth(p, st, now, r);
    acted_on(p, st, r);
}
