/* The deadline lift: what a class admits beyond the control law so that its
 * waiting jobs start by their start_by, within its deadline_reserve
 * (sluice/deadline.h). Pure. */
#include <math.h>

#include "sluice/deadline.h"

/* A lift plans each start by this share of the time its job has left: the
 * measured start rate moves with the workers and the machine, and a plan
 * to start the last job just in time would make it late half the time. */
#define PLAN_SHARE 0.75
#define RATE_MS 10000.0     /* ms: time constant of a class's measured full start rate */
#define RATE_SHARE_MS 100.0 /* ms at full admission before a measured rate counts */

double sluice_start_rate_add(sluice_start_rate *r, int64_t starts, double share, int64_t dt_ms, int64_t ready) {
    if (dt_ms > 0 && starts >= 0 && ready > 0) {
        double keep = exp(-(double)dt_ms / RATE_MS);
        r->starts = r->starts * keep + (double)starts;
        r->share_ms = r->share_ms * keep + share * (double)dt_ms;
    }
    return r->share_ms >= RATE_SHARE_MS ? r->starts * 1000.0 / r->share_ms : 0;
}

int64_t sluice_deadline_sample_index(int64_t total, int i) {
    if (total <= 0 || i < 0) return 0;
    if (i >= SLUICE_DEADLINE_SAMPLES) i = SLUICE_DEADLINE_SAMPLES - 1;
    /* evenly up to the last entry, without overflow for any total */
    int64_t at =
        total / SLUICE_DEADLINE_SAMPLES * (i + 1) + total % SLUICE_DEADLINE_SAMPLES * (i + 1) / SLUICE_DEADLINE_SAMPLES;
    return at > 0 ? at - 1 : 0;
}

double sluice_deadline_effective(double f, int64_t slots) {
    if (slots <= 0 || f * (double)slots < 1) return f;
    return floor(f * (double)slots + 1e-9) / (double)slots;
}

void sluice_deadline_lift_compute(double law_fraction, double reserve, double full_rate, int64_t slots,
                                  const sluice_deadline_entry *jobs, size_t n, int64_t now, sluice_deadline_lift *out) {
    int known = isfinite(full_rate) && full_rate > 0;
    double need = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t left = jobs[i].start_by - now;
        double rate = left > 0 ? (double)jobs[i].ahead * 1000.0 / (PLAN_SHARE * (double)left) : INFINITY;
        double f = known ? rate / full_rate : 1.0;
        if (f > need) need = f;
    }
    if (slots > 0 && need * (double)slots > 1) need = ceil(need * (double)slots - 1e-9) / (double)slots;
    if (need > 1) need = 1;
    double lift = need - law_fraction;
    if (lift > reserve) lift = reserve;
    if (lift < 0) lift = 0;
    double fraction = law_fraction + lift > 1 ? 1 : law_fraction + lift;
    int64_t miss = 0;
    for (size_t i = 0; known && i < n; i++) {
        double share = sluice_deadline_effective(fraction, slots);
        double start = share > 0 ? (double)jobs[i].ahead * 1000.0 / (share * full_rate) : INFINITY;
        double late = start - (double)(jobs[i].start_by - now);
        if (late > (double)miss) miss = late > 9e15 ? INT64_MAX : (int64_t)ceil(late);
    }
    out->fraction = fraction;
    out->need = need;
    out->miss_ms = miss;
}
