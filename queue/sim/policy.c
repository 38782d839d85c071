/* The simulator's admission policies: what each one lets every class run,
 * step by step. The governor policy calls the real sluice_law_tick. */
#include <string.h>

#include "sim.h"

static int is_critical(const sim_class *c) {
    return c->tier == SLUICE_TIER_CRITICAL;
}

void policy_init(policy_state *ps, const sluice_sim_scenario *s, sluice_sim_policy p, double fixed_rate) {
    memset(ps, 0, sizeof *ps);
    ps->policy = p;
    ps->fixed_rate = fixed_rate;
    ps->open = 1;
    sluice_law_state_init(&ps->law);
    for (size_t i = 0; i < s->nclasses; i++) {
        ps->law_cls[i].name = s->classes[i].name;
        ps->law_cls[i].tier = s->classes[i].tier;
        ps->law_cls[i].floor = s->classes[i].floor;
        ps->law_cls[i].fraction = 1.0;
        ps->admitted[i] = 1.0;
        ps->in_window[i] = 1;
    }
    ps->next_tick_ms = 0;
    ps->last_tick_ms = -1;
}

int policy_ticks(const policy_state *ps, int64_t now_ms) {
    return ps->policy == SLUICE_SIM_GOVERNOR && now_ms >= ps->next_tick_ms;
}

/* Where each class's wall clock (the scenario's start + now_ms) falls in
 * its windows, read again only when due. Returns -1 when out of memory. */
static int windows_update(policy_state *ps, const sluice_sim_scenario *s, int64_t now_ms) {
    int64_t wall = s->start_ms + now_ms;
    for (size_t i = 0; i < s->nclasses; i++) {
        const sim_class *c = &s->classes[i];
        if (c->nwindows == 0 || wall < ps->window_change_ms[i]) continue;
        int open = sluice_windows_open(c->windows, c->nwindows, wall, &ps->window_change_ms[i], NULL);
        if (open < 0) return -1;
        ps->in_window[i] = open;
    }
    return 0;
}

/* What class i may run outside its windows: its floor, or nothing. */
static double outside_fraction(const sim_class *c) {
    return c->outside == SLUICE_OUTSIDE_NONE ? 0 : c->floor;
}

/* A signal counts as missing when never published or older than stale_after. */
static int fresh(const sluice_sim_scenario *s, const signal_view *sig) {
    return sig->has_value && sig->age_ms <= s->sig_stale_after_ms;
}

/* The law over the classes inside their windows, as the governor loop
 * runs it: a class's queued jobs count as waiting when its gate holds them
 * back (they could run faster than it admits them), else 0; idle_ms is how
 * long it has had none. Classes outside hold at their floor (or nothing). */
static int law_tick(policy_state *ps, const sluice_sim_scenario *s, int64_t now, const signal_view *sig,
                    const class_view *cv, int *dir) {
    sluice_law_signal ls;
    sluice_law_decision d;
    sluice_law_class open[SLUICE_SIM_MAX_CLASSES];
    size_t at[SLUICE_SIM_MAX_CLASSES], nopen = 0;

    memset(&ls, 0, sizeof ls);
    ls.name = s->sig_name;
    ls.target = s->sig_target;
    ls.critical = s->sig_critical;
    ls.lower_is_worse = 0;
    ls.stale_after_ms = s->sig_stale_after_ms;
    /* What an operator declares for a late publisher: its interval plus its delay. */
    ls.period_ms = s->sig_period_ms + s->sig_delay_ms;
    ls.on_stale = s->sig_on_stale;
    ls.has_value = sig->has_value;
    ls.value = sig->has_value ? sig->value : 0.0;
    ls.age_ms = sig->age_ms;
    for (size_t i = 0; i < s->nclasses; i++) {
        double admitted = ps->admitted[i] * s->classes[i].max_rate;
        ps->law_cls[i].waiting = cv[i].avail > admitted ? cv[i].jobs : 0;
        if (cv[i].jobs > 0) ps->busy_ms[i] = now;
        ps->law_cls[i].idle_ms = now - ps->busy_ms[i];
        if (ps->in_window[i]) at[nopen] = i, open[nopen++] = ps->law_cls[i];
    }
    if (sluice_law_tick(&s->params, &ps->law, now, &ls, 1, open, nopen, &d, NULL) < 0) return -1;
    for (size_t k = 0; k < nopen; k++) ps->law_cls[at[k]] = open[k];
    for (size_t i = 0; i < s->nclasses; i++)
        if (!ps->in_window[i]) ps->law_cls[i].fraction = outside_fraction(&s->classes[i]);
    if (d.changed > 0) {
        if (d.action == SLUICE_LAW_RAISE)
            *dir = 1;
        else if (d.action == SLUICE_LAW_CUT || d.action == SLUICE_LAW_CRITICAL)
            *dir = -1;
    }
    return 0;
}

/* Each class's full start rate measured since the last tick, and the lift
 * for its deadlines above what the law gave it, as the governor makes them
 * (sluice_start_rate_add, sluice_deadline_lift_compute). */
static void lift_tick(policy_state *ps, const sluice_sim_scenario *s, int64_t now, const class_view *cv) {
    for (size_t i = 0; i < s->nclasses; i++) {
        const sim_class *c = &s->classes[i];
        double full = 0;
        if (ps->last_tick_ms >= 0)
            full = sluice_start_rate_add(&ps->rate[i], cv[i].starts - ps->starts[i],
                                         sluice_deadline_effective(ps->admitted[i], 0), now - ps->last_tick_ms,
                                         cv[i].ready);
        ps->starts[i] = cv[i].starts;
        ps->admitted[i] = ps->law_cls[i].fraction;
        if (c->reserve <= 0 || c->tier == SLUICE_TIER_CRITICAL || cv[i].ready <= 0 || cv[i].ndl == 0) continue;
        sluice_deadline_lift l;
        sluice_deadline_lift_compute(ps->law_cls[i].fraction, c->reserve, full, 0, cv[i].dl, cv[i].ndl, now, &l);
        ps->admitted[i] = l.fraction;
    }
    ps->last_tick_ms = now;
}

/* The fixed budget, handed out in tier order: the most generous fixed
 * limit a user could configure, since no share of it idles while another
 * class waits. */
static void fixed_rates(const policy_state *ps, const sluice_sim_scenario *s, const class_view *cv, double *rate) {
    double left = ps->fixed_rate;
    for (size_t i = 0; i < s->nclasses; i++)
        if (is_critical(&s->classes[i])) rate[i] = s->classes[i].worker_rate;
    for (int t = SLUICE_TIER_HIGH; t <= SLUICE_TIER_LOW; t++) {
        for (size_t i = 0; i < s->nclasses; i++) {
            const sim_class *c = &s->classes[i];
            if ((int)c->tier != t) continue;
            double r = cv[i].avail;
            if (r > c->worker_rate) r = c->worker_rate;
            if (!ps->in_window[i] && r > outside_fraction(c) * c->max_rate) r = outside_fraction(c) * c->max_rate;
            if (r > left) r = left;
            rate[i] = r;
            left -= r;
        }
    }
}

int policy_rates(policy_state *ps, const sluice_sim_scenario *s, int64_t now_ms, const signal_view *sig,
                 const class_view *cv, double *rate, int *dir) {
    *dir = 0;
    if (ps->policy != SLUICE_SIM_BASELINE && windows_update(ps, s, now_ms) < 0) return -1;
    switch (ps->policy) {
    case SLUICE_SIM_BASELINE:
        for (size_t i = 0; i < s->nclasses; i++) rate[i] = 0;
        return 0;
    case SLUICE_SIM_NO_LIMIT:
        for (size_t i = 0; i < s->nclasses; i++) rate[i] = s->classes[i].worker_rate;
        break;
    case SLUICE_SIM_FIXED: fixed_rates(ps, s, cv, rate); return 0;
    case SLUICE_SIM_THRESHOLD:
        if (now_ms >= ps->next_tick_ms) {
            int open = fresh(s, sig) && sig->value <= s->threshold;
            if (open != ps->open) *dir = open ? 1 : -1;
            ps->open = open;
            ps->next_tick_ms = now_ms + s->params.tick_ms;
        }
        for (size_t i = 0; i < s->nclasses; i++)
            rate[i] = is_critical(&s->classes[i]) || ps->open ? s->classes[i].worker_rate : 0;
        break;
    case SLUICE_SIM_GOVERNOR:
        if (now_ms >= ps->next_tick_ms) {
            /* The law needs a positive clock; the scenario starts at 0. */
            if (law_tick(ps, s, now_ms + 1000, sig, cv, dir) < 0) return -1;
            lift_tick(ps, s, now_ms, cv);
            ps->next_tick_ms = now_ms + s->params.tick_ms;
        }
        for (size_t i = 0; i < s->nclasses; i++) {
            const sim_class *c = &s->classes[i];
            double r = is_critical(c) ? c->worker_rate : ps->admitted[i] * c->max_rate;
            rate[i] = r < c->worker_rate ? r : c->worker_rate;
        }
        return 0;
    }
    /* no_limit and threshold: outside its windows a class runs its floor. */
    for (size_t i = 0; i < s->nclasses; i++) {
        double most = outside_fraction(&s->classes[i]) * s->classes[i].max_rate;
        if (!ps->in_window[i] && !is_critical(&s->classes[i]) && rate[i] > most) rate[i] = most;
    }
    return 0;
}
