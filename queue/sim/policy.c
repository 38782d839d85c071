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
    }
    ps->next_tick_ms = 0;
}

/* A signal counts as missing when never published or older than stale_after. */
static int fresh(const sluice_sim_scenario *s, const signal_view *sig) {
    return sig->has_value && sig->age_ms <= s->sig_stale_after_ms;
}

/* What the governor loop reads from Redis, and hands the law as waiting: a
 * class's queued jobs when its gate holds them back (they could run faster
 * than it admits them), else 0; and as idle_ms, how long it has had none. */
static int governor_tick(policy_state *ps, const sluice_sim_scenario *s, int64_t now, const signal_view *sig,
                         const double *avail, const int64_t *jobs, int *dir) {
    sluice_law_signal ls;
    sluice_law_decision d;

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
        double admitted = ps->law_cls[i].fraction * s->classes[i].max_rate;
        ps->law_cls[i].waiting = avail[i] > admitted ? jobs[i] : 0;
        if (jobs[i] > 0) ps->busy_ms[i] = now;
        ps->law_cls[i].idle_ms = now - ps->busy_ms[i];
    }
    if (sluice_law_tick(&s->params, &ps->law, now, &ls, 1, ps->law_cls, s->nclasses, &d, NULL) < 0) return -1;
    if (d.changed > 0) {
        if (d.action == SLUICE_LAW_RAISE)
            *dir = 1;
        else if (d.action == SLUICE_LAW_CUT || d.action == SLUICE_LAW_CRITICAL)
            *dir = -1;
    }
    return 0;
}

int policy_rates(policy_state *ps, const sluice_sim_scenario *s, int64_t now_ms, const signal_view *sig,
                 const double *avail, const int64_t *waiting, double *rate, int *dir) {
    *dir = 0;
    switch (ps->policy) {
    case SLUICE_SIM_BASELINE:
        for (size_t i = 0; i < s->nclasses; i++) rate[i] = 0;
        return 0;
    case SLUICE_SIM_NO_LIMIT:
        for (size_t i = 0; i < s->nclasses; i++) rate[i] = s->classes[i].worker_rate;
        return 0;
    case SLUICE_SIM_FIXED: {
        /* One budget for all non-critical work, handed out in tier order:
         * the most generous fixed limit a user could configure, since no
         * share of it idles while another class waits. */
        double left = ps->fixed_rate;
        for (size_t i = 0; i < s->nclasses; i++)
            if (is_critical(&s->classes[i])) rate[i] = s->classes[i].worker_rate;
        for (int t = SLUICE_TIER_HIGH; t <= SLUICE_TIER_LOW; t++) {
            for (size_t i = 0; i < s->nclasses; i++) {
                if ((int)s->classes[i].tier != t) continue;
                double r = avail[i];
                if (r > s->classes[i].worker_rate) r = s->classes[i].worker_rate;
                if (r > left) r = left;
                rate[i] = r;
                left -= r;
            }
        }
        return 0;
    }
    case SLUICE_SIM_THRESHOLD:
        if (now_ms >= ps->next_tick_ms) {
            int open = fresh(s, sig) && sig->value <= s->threshold;
            if (open != ps->open) *dir = open ? 1 : -1;
            ps->open = open;
            ps->next_tick_ms = now_ms + s->params.tick_ms;
        }
        for (size_t i = 0; i < s->nclasses; i++)
            rate[i] = is_critical(&s->classes[i]) || ps->open ? s->classes[i].worker_rate : 0;
        return 0;
    case SLUICE_SIM_GOVERNOR:
        if (now_ms >= ps->next_tick_ms) {
            /* The law needs a positive clock; the scenario starts at 0. */
            if (governor_tick(ps, s, now_ms + 1000, sig, avail, waiting, dir) < 0) return -1;
            ps->next_tick_ms = now_ms + s->params.tick_ms;
        }
        for (size_t i = 0; i < s->nclasses; i++) {
            const sim_class *c = &s->classes[i];
            double r = is_critical(c) ? c->worker_rate : ps->law_cls[i].fraction * c->max_rate;
            rate[i] = r < c->worker_rate ? r : c->worker_rate;
        }
        return 0;
    }
    return -1;
}
