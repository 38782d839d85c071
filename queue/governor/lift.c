/* The deadline lift: what a class admits beyond the control law so that its
 * waiting jobs start by their start_by, within its deadline_reserve
 * (sluice/deadline.h). Pure. */
#include <math.h>

#include "sluice/deadline.h"

/* A lift plans each start by this share of the time its job has left: the
 * measured start rate moves with the workers and the machine, and a plan
 * to start the last job just in time would make it late half the time. */
#define PLAN_SHARE 0.75

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
