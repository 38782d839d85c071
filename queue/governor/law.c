/* sluice governor control law (v3): tiered AIMD with hysteresis and a dwell
 * time on a pressure smoothed over time, cuts sized by the overshoot, raises
 * sized by the room the smoothed or the latest pressure shows, growing
 * multiplicatively far below the band and spaced by their own dwell, a band
 * that narrows after a long hold, and a bounded wait for the database to
 * show the last change. Pure: no I/O, no clock, no Redis. The rules and
 * their defaults are in docs/governor.md. */
#include "sluice/law.h"
#include "law_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ words */

/* Which way is worse, in words. */
static const char *over_word(const sluice_law_signal *s) {
    return s->lower_is_worse ? "below" : "over";
}

static const char *under_word(const sluice_law_signal *s) {
    return s->lower_is_worse ? "above" : "under";
}

/* "db.iops over 0.77": the value of driver d (NULL: stale or none, then
 * the pressure) past which ("over" 1) or short of which (0) pressure
 * "pressure" lies, in d's own units. */
static void threshold_words(const sluice_law_signal *d, int over, double pressure, char *buf, size_t len) {
    if (d)
        law_say(buf, len, "%.64s %s %.4g", d->name, over ? over_word(d) : under_word(d),
                sluice_law_value_at(d, pressure));
    else
        law_say(buf, len, "pressure %s %.4g", over ? "over" : "under", pressure);
}

/* The driver and what the law makes of it, in its own units:
 * "db.iops at 0.3, smoothed 0.51 (pressure 0.68)", "db.iops (stale),
 * counted as pressure 1.50" or "no signal". */
static void signal_words(const sluice_law_signal *s, int stale, double acted, char *buf, size_t len) {
    if (!s) {
        law_say(buf, len, "no signal");
        return;
    }
    if (stale) {
        law_say(buf, len, "%.64s (%s), counted as pressure %.2f", s->name, s->has_value ? "stale" : "never reported",
                acted);
        return;
    }
    law_say(buf, len, "%.64s at %.4g, smoothed %.4g (pressure %.2f)", s->name, s->value, sluice_law_value_at(s, acted),
            acted);
}

/* ================================================================ tick */

static int throttled(const sluice_law_class *c) {
    return c->tier != SLUICE_TIER_CRITICAL;
}

/* The previous fraction clamped into [floor,1]; 1 for critical. */
static double clamped(const sluice_law_class *c) {
    double f = c->fraction;
    if (!throttled(c)) return 1.0;
    if (f < c->floor) f = c->floor;
    if (f > 1.0) f = 1.0;
    return f;
}

/* Work may wait for the class: it has ready jobs, or its caller does not
 * know (waiting < 0). */
static int has_work(const sluice_law_class *c) {
    return c->waiting != 0;
}

/* A class that has had no work for params.idle_ms, while the acted-on
 * pressure is over target, keeps only its floor: it uses none of its
 * admission, and work that comes to it under pressure starts at the floor
 * and is raised as the law raises, rather than landing all at once on an
 * admission granted when the class was busy. */
static int idle_held(const sluice_law_params *p, const struct reading *r, const sluice_law_class *c) {
    return p->idle_ms > 0 && throttled(c) && r->acted > 1.0 && c->idle_ms >= p->idle_ms;
}

/* Which tiers have room to be cut or raised, after clamping. */
struct survey {
    int above_floor[SLUICE_TIERS];
    int below_one[SLUICE_TIERS];
    int below_one_waiting[SLUICE_TIERS]; /* ... and has work waiting */
};

/* A class idle_held counts as at its floor. */
static void survey_classes(const sluice_law_params *p, const struct reading *r, const sluice_law_class *cls, size_t n,
                           struct survey *sv) {
    memset(sv, 0, sizeof *sv);
    for (size_t i = 0; i < n; i++) {
        double f = idle_held(p, r, &cls[i]) ? cls[i].floor : clamped(&cls[i]);
        if (!throttled(&cls[i])) continue;
        if (f > cls[i].floor) sv->above_floor[cls[i].tier] = 1;
        if (f < 1.0) sv->below_one[cls[i].tier] = 1;
        if (f < 1.0 && has_work(&cls[i])) sv->below_one_waiting[cls[i].tier] = 1;
    }
}

/* Lowest tier (shed first) with a class above its floor; -1 if none. */
static int tier_to_cut(const struct survey *sv) {
    for (int t = SLUICE_TIER_LOW; t > SLUICE_TIER_CRITICAL; t--)
        if (sv->above_floor[t]) return t;
    return -1;
}

/* Highest non-critical tier with a class below 1 that has work waiting;
 * failing that, the highest with a class below 1, so every class still
 * returns to 1 in the end; -1 if none. *skipped is set when a higher tier
 * below 1 is passed over because nothing waits for it. */
static int tier_to_raise(const struct survey *sv, int *skipped) {
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
    int tier;      /* the tier cut or raised; -1 otherwise */
    int moves;     /* 1 if the action moves some fraction */
    double factor; /* CUT: what the tier's fractions are multiplied by */
    double step;   /* RAISE: the additive part of the raise */
    double growth; /* RAISE: the most a fraction may be multiplied by */
    const sluice_law_signal *driver;
    int driver_stale;
    char summary[SLUICE_LAW_SUMMARY];
};

/* The multiplier of a cut: proportional to how far the acted-on pressure is
 * over "from" (target, or the last cut's pressure when escalating), never
 * deeper than params.decrease. */
static double cut_factor(const sluice_law_params *p, double over) {
    double f = 1.0 - p->cut_gain * over;
    if (p->cut_gain == 0 || f < p->decrease) f = p->decrease;
    if (f > 1.0) f = 1.0;
    return f;
}

/* The additive part of a raise: params.increase when the headroom below the
 * band is at least raise_span, proportionally less closer to the band. */
static double raise_step(const sluice_law_params *p, double headroom) {
    if (p->raise_span <= 0 || headroom >= p->raise_span) return p->increase;
    if (headroom <= 0) return 0;
    return p->increase * headroom / p->raise_span;
}

/* The multiplicative part of a raise: at most params.growth, and at most
 * (1 - band) / A, the factor that would bring pressure A to the band's edge
 * if the whole load grew with the raised class. */
static double raise_growth(const sluice_law_params *p, double A) {
    double g = p->growth;
    if (A > 0 && (1.0 - p->band) / A < g) g = (1.0 - p->band) / A;
    return g < 1.0 ? 1.0 : g;
}

static double cut_one(const sluice_law_params *p, double factor, double f, double floor) {
    double nf = f * factor;
    if (nf < floor + p->snap) nf = floor;
    return nf;
}

/* A raise of one class: the larger of the additive step and the growth. */
static double raise_one(const sluice_law_params *p, const struct plan *pl, double f) {
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
static int settled(const sluice_law_state *st, const struct reading *r, int64_t now) {
    const sluice_law_signal *d = r->acted_driver;
    if (!st->has_change || !d || r->acted_stale || d->period_ms == 0) return 1;
    return law_observed_at(d, now) > st->last_change_ms || law_elapsed(now, st->last_change_ms) >= d->period_ms;
}

/* Whether the planned cut or raise moves some class of its tier (an
 * idle_held one is not moved by it) by at least params.snap, or onto its
 * floor or 1: a smaller move is noise, and making it would restart the
 * dwell for nothing. */
static int moves_enough(const sluice_law_params *p, const struct reading *r, const struct plan *pl,
                        const sluice_law_class *cls, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double f = clamped(&cls[i]), nf;
        if (!throttled(&cls[i]) || (int)cls[i].tier != pl->tier || idle_held(p, r, &cls[i])) continue;
        nf = pl->action == SLUICE_LAW_CUT ? cut_one(p, pl->factor, f, cls[i].floor) : raise_one(p, pl, f);
        if (nf != f && (fabs(nf - f) >= p->snap || nf == cls[i].floor || nf == 1.0)) return 1;
    }
    return 0;
}

/* Whether a change up (a raise, "up" 1) or down (a cut, 0) would reverse
 * the last change again within params.reversal_dwell_ms of the last
 * reversal. */
static int reversing_again(const sluice_law_params *p, const sluice_law_state *st, int64_t now, int up) {
    if (p->reversal_dwell_ms <= 0 || !st->has_change || !st->has_reversal) return 0;
    if ((st->last_action == SLUICE_LAW_RAISE) == up) return 0;
    return law_elapsed(now, st->last_reversal_ms) < p->reversal_dwell_ms;
}

/* What every branch of decide reads: the law's inputs, the dwell, whether
 * the last change has settled, and the acted-on driver in words. */
struct basis {
    const sluice_law_params *p;
    const sluice_law_state *st;
    int64_t now;
    const struct reading *r;
    const struct survey *sv;
    const sluice_law_class *cls;
    size_t ncls;
    int64_t since;              /* ms since the last change; INT64_MAX if none */
    int in_dwell;               /* 1 while since < params.dwell_ms */
    int ready;                  /* settled() */
    const char *last;           /* the last action's name */
    const sluice_law_signal *d; /* the plan's driver, NULL if stale or none */
    char who[160];              /* the plan's driver in words */
};

/* A hold plan driven by the acted-on signal, or else the raw driver. */
static void plan_start(struct plan *pl, const struct reading *r) {
    memset(pl, 0, sizeof *pl);
    pl->action = SLUICE_LAW_HOLD;
    pl->tier = -1;
    pl->factor = 1.0;
    pl->growth = 1.0;
    pl->driver = r->acted_driver ? r->acted_driver : r->driver;
    pl->driver_stale = r->acted_driver ? r->acted_stale : r->driver_stale;
}

/* The calm streak is what a raise waits for; a held stale signal breaks
 * it, since nobody can vouch that its part of the database is calm.
 * "calm" is 1 when the acted-on pressure is under the band and nothing is
 * held. */
static void calm_streak(sluice_law_state *st, int64_t now, int calm) {
    if (calm) {
        if (!st->calm) {
            st->calm = 1;
            st->calm_since_ms = now;
        }
    } else {
        st->calm = 0;
        st->calm_since_ms = 0;
    }
}

/* Raw pressure at critical: every class to its floor. */
static void decide_critical(const struct basis *b, struct plan *pl) {
    const struct reading *r = b->r;
    char who[160];
    /* Raw, not smoothed: one value at critical is enough. */
    pl->action = SLUICE_LAW_CRITICAL;
    pl->driver = r->driver;
    pl->driver_stale = r->driver_stale;
    for (int t = SLUICE_TIER_HIGH; t <= SLUICE_TIER_LOW; t++)
        if (b->sv->above_floor[t]) pl->moves = 1;
    if (r->driver_stale) {
        signal_words(r->driver, 1, r->pressure, who, sizeof who);
        law_say(pl->summary, sizeof pl->summary, "critical: %s; every class at its floor", who);
    } else {
        law_say(pl->summary, sizeof pl->summary,
                "critical: %.64s at %.4g, at or past its critical %.4g; every class at its floor", r->driver->name,
                r->driver->value, r->driver->critical);
    }
}

/* The smoothed pressure still remembers a peak that the values no longer
 * show: a cut answers the database as it is now, so hold. */
static void hold_back_under(const struct basis *b, struct plan *pl) {
    const sluice_law_signal *d = b->d;
    law_say(pl->summary, sizeof pl->summary, "hold: %s; the value is back %s its target %.4g", b->who,
            d ? under_word(d) : "under", d ? d->target : 0.0);
}

/* Acted-on pressure over target: cut the lowest tier with room, unless the
 * dwell or an unsettled change holds it (a worsening pressure escalates). */
static void decide_cut(const struct basis *b, struct plan *pl) {
    const sluice_law_params *p = b->p;
    const sluice_law_state *st = b->st;
    const sluice_law_signal *d = b->d;
    double A = b->r->acted;
    const char *who = b->who, *last = b->last;
    int t = tier_to_cut(b->sv);
    int worse = st->last_action == SLUICE_LAW_CUT && A > st->last_pressure + p->escalate;
    int escalating = worse && (b->in_dwell || !b->ready);
    char over[96] = "";
    if (d) law_say(over, sizeof over, ", %s its target %.4g", over_word(d), d->target);
    if (t < 0) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s, but every class is at its floor", who, over);
    } else if (b->in_dwell && !worse) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s; dwell %lld of %lld ms since the last %s", who, over,
                (long long)b->since, (long long)p->dwell_ms, last);
    } else if (!b->ready && !worse) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s; waiting for a value newer than the last %s", who, over,
                last);
    } else if (reversing_again(p, st, b->now, 0) && A <= 1.0 + p->escalate) {
        char need[128];
        threshold_words(d, 1, 1.0 + p->escalate, need, sizeof need);
        law_say(pl->summary, sizeof pl->summary,
                "hold: %s%s; a raise reversed a cut %lld s ago (reversal dwell %lld s): a cut now needs %s", who, over,
                (long long)(law_elapsed(b->now, st->last_reversal_ms) / 1000), (long long)(p->reversal_dwell_ms / 1000),
                need);
    } else {
        pl->action = SLUICE_LAW_CUT;
        pl->tier = t;
        pl->factor = cut_factor(p, escalating ? A - st->last_pressure : A - 1.0);
        pl->moves = moves_enough(p, b->r, pl, b->cls, b->ncls);
        if (pl->moves) {
            law_say(pl->summary, sizeof pl->summary, "cut %s tier by %.0f%%: %s%s%s", sluice_tier_name((sluice_tier)t),
                    100.0 * (1.0 - pl->factor), who, over, escalating ? ", and rising" : "");
        } else {
            pl->action = SLUICE_LAW_HOLD;
            law_say(pl->summary, sizeof pl->summary, "hold: %s%s; a cut would move no class by %.2f or more", who, over,
                    p->snap);
        }
    }
}

/* Acted-on pressure under the band: raise the highest tier with work held
 * back, once calm long enough, out of the dwell, settled, and the latest
 * value agrees. */
static void decide_raise(const struct basis *b, struct plan *pl) {
    const sluice_law_params *p = b->p;
    const struct reading *r = b->r;
    const sluice_law_signal *d = b->d;
    double P = r->pressure, A = r->acted;
    const char *who = b->who, *last = b->last;
    int skipped = 0;
    int t = tier_to_raise(b->sv, &skipped);
    int64_t calm_for = b->st->calm ? law_elapsed(b->now, b->st->calm_since_ms) : 0;
    char below[96] = "";
    if (d)
        law_say(below, sizeof below, ", %s %.4g", d->lower_is_worse ? "above" : "below",
                sluice_law_value_at(d, 1.0 - p->band));
    if (r->held) {
        pl->driver = r->held;
        pl->driver_stale = 1;
        law_say(pl->summary, sizeof pl->summary, "hold: %.64s is %s and its policy is hold, so nothing is raised",
                r->held->name, r->held->has_value ? "stale" : "never reported");
    } else if (t < 0) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s; every class at full admission", who);
    } else if (calm_for < p->calm_ms) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s for %lld of %lld ms before a raise", who, below,
                (long long)calm_for, (long long)p->calm_ms);
    } else if (b->in_dwell) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s; dwell %lld of %lld ms since the last %s", who, below,
                (long long)b->since, (long long)p->dwell_ms, last);
    } else if (b->st->last_action == SLUICE_LAW_RAISE && b->since < p->raise_dwell_ms) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s; raise dwell %lld of %lld ms since the last raise", who,
                below, (long long)b->since, (long long)p->raise_dwell_ms);
    } else if (reversing_again(p, b->st, b->now, 1) && 1.0 - p->band - (P < A ? P : A) < p->raise_span) {
        char need[128];
        threshold_words(d, 0, 1.0 - p->band - p->raise_span, need, sizeof need);
        law_say(pl->summary, sizeof pl->summary,
                "hold: %s%s; a cut reversed a raise %lld s ago (reversal dwell %lld s): a raise now needs %s", who,
                below, (long long)(law_elapsed(b->now, b->st->last_reversal_ms) / 1000),
                (long long)(p->reversal_dwell_ms / 1000), need);
    } else if (!b->ready) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s; waiting for a value newer than the last %s", who, below,
                last);
    } else if (P >= 1.0 - p->band) {
        law_say(pl->summary, sizeof pl->summary, "hold: %s%s, but its latest value is not (pressure %.2f)", who, below,
                P);
    } else {
        pl->action = SLUICE_LAW_RAISE;
        pl->tier = t;
        /* The smoothed pressure lags a falling load: once both agree there
         * is room, the step is sized by the more room either shows. */
        pl->step = raise_step(p, 1.0 - p->band - (P < A ? P : A));
        pl->growth = raise_growth(p, A);
        pl->moves = moves_enough(p, b->r, pl, b->cls, b->ncls);
        if (pl->moves) {
            law_say(pl->summary, sizeof pl->summary, "raise %s tier (x%.2f or +%.3f): %s%s for %lld ms%s",
                    sluice_tier_name((sluice_tier)t), pl->growth, pl->step, who, below, (long long)calm_for,
                    skipped ? "; higher tiers have nothing waiting" : "");
        } else {
            pl->action = SLUICE_LAW_HOLD;
            law_say(pl->summary, sizeof pl->summary, "hold: %s%s; a raise would move no class by %.2f or more", who,
                    below, p->snap);
        }
    }
}

/* Acted-on pressure inside the band: hold. */
static void hold_in_band(const struct basis *b, struct plan *pl) {
    const sluice_law_signal *d = b->d;
    char band[96] = "";
    if (d)
        law_say(band, sizeof band, ", between %.4g and its target %.4g", sluice_law_value_at(d, 1.0 - b->p->band),
                d->target);
    law_say(pl->summary, sizeof pl->summary, "hold: %s%s", b->who, band);
}

/* Chooses the action from the pressure, the state and the tiers' room, and
 * moves the calm streak forward. */
static void decide(const sluice_law_params *p, sluice_law_state *st, int64_t now, const struct reading *r,
                   const struct survey *sv, const sluice_law_class *cls, size_t ncls, struct plan *pl) {
    double P = r->pressure, A = r->acted;
    int64_t since = st->has_change ? law_elapsed(now, st->last_change_ms) : INT64_MAX;
    int in_dwell = since < p->dwell_ms;
    int calm_zone = A < 1.0 - p->band;
    struct basis b = {
        p,    st, now, r, sv, cls, ncls, since, in_dwell, settled(st, r, now), sluice_law_action_name(st->last_action),
        NULL, ""};

    plan_start(pl, r);
    b.d = pl->driver_stale ? NULL : pl->driver;
    signal_words(pl->driver, pl->driver_stale, A, b.who, sizeof b.who);
    calm_streak(st, now, calm_zone && !r->held);

    if (r->counted > 0 && P >= 2.0)
        decide_critical(&b, pl);
    else if (A > 1.0 && P <= 1.0)
        hold_back_under(&b, pl);
    else if (A > 1.0)
        decide_cut(&b, pl);
    else if (calm_zone)
        decide_raise(&b, pl);
    else
        hold_in_band(&b, pl);
}

/* Applies the plan to one class: its new fraction and the reason for it. */
static double apply(const sluice_law_params *p, const struct reading *r, const struct plan *pl, sluice_law_class *c) {
    double old = c->fraction, f = clamped(c), nf = f;
    char note[48] = "";
    char body[SLUICE_LAW_REASON];
    int t = (int)c->tier;

    if (f != old) law_say(note, sizeof note, "clamped from %.3g; ", old);
    if (!throttled(c)) {
        law_say(body, sizeof body, "critical tier: never throttled");
    } else if (idle_held(p, r, c) && pl->action != SLUICE_LAW_CRITICAL) {
        nf = c->floor;
        law_say(body, sizeof body, "at floor %.2f: no work for %lld s while over target", nf,
                (long long)(c->idle_ms / 1000));
    } else if (pl->action == SLUICE_LAW_CRITICAL) {
        nf = c->floor;
        law_say(body, sizeof body, "at floor %.2f: pressure at or over critical", nf);
    } else if (pl->action == SLUICE_LAW_CUT && t == pl->tier) {
        nf = cut_one(p, pl->factor, f, c->floor);
        if (nf < f)
            law_say(body, sizeof body, "cut %.2f -> %.2f: over target, %s tier shed first", f, nf,
                    sluice_tier_name((sluice_tier)t));
        else
            law_say(body, sizeof body, "at floor %.2f: over target", nf);
    } else if (pl->action == SLUICE_LAW_CUT && t < pl->tier) {
        law_say(body, sizeof body, "held at %.2f: over target, %s tier is cut first", f,
                sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_CUT) {
        law_say(body, sizeof body, "at floor %.2f: over target", f);
    } else if (pl->action == SLUICE_LAW_RAISE && t == pl->tier) {
        nf = raise_one(p, pl, f);
        if (nf > f)
            law_say(body, sizeof body, "raised %.2f -> %.2f: calm, %s tier recovers first", f, nf,
                    sluice_tier_name((sluice_tier)t));
        else
            law_say(body, sizeof body, "full admission");
    } else if (pl->action == SLUICE_LAW_RAISE && t > pl->tier) {
        law_say(body, sizeof body, "held at %.2f: %s tier recovers first", f, sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_RAISE && f < 1.0) {
        law_say(body, sizeof body, "held at %.2f: nothing waiting, %s tier with work is raised first", f,
                sluice_tier_name((sluice_tier)pl->tier));
    } else if (pl->action == SLUICE_LAW_RAISE) {
        law_say(body, sizeof body, "full admission");
    } else {
        /* The plan's summary starts with "hold: "; say "held at x: ..." instead. */
        const char *rest = pl->summary;
        if (strncmp(rest, "hold: ", 6) == 0) rest += 6;
        law_say(body, sizeof body, "held at %.2f: %s", f, rest);
    }
    law_say(c->reason, sizeof c->reason, "%s%s", note, body);
    c->fraction = nf;
    return old;
}

/* The band this tick raises below: params.band, or creep_band when it is
 * narrower and creep_ms have passed since the last change. A band exists
 * so that noise does not flap the law; pressure that has held inside it
 * that long is steady, and holding there for good would leave the room
 * between the band's edge and the target unused. */
static double tick_band(const sluice_law_params *p, const sluice_law_state *st, int64_t now) {
    int creeping = p->creep_ms > 0 && st->has_change && law_elapsed(now, st->last_change_ms) >= p->creep_ms;
    return creeping && p->creep_band < p->band ? p->creep_band : p->band;
}

int sluice_law_tick(const sluice_law_params *p, sluice_law_state *st, int64_t now_ms, const sluice_law_signal *signals,
                    size_t nsig, sluice_law_class *classes, size_t ncls, sluice_law_decision *out, sluice_error *err) {
    sluice_law_params defaults, acting;
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
    if (st->has_reversal && now_ms < st->last_reversal_ms) st->last_reversal_ms = now_ms;
    acting = *p;
    acting.band = tick_band(p, st, now_ms);
    p = &acting;

    law_read(p, st, now_ms, signals, nsig, &r);
    survey_classes(p, &r, classes, ncls, &sv);
    decide(p, st, now_ms, &r, &sv, classes, ncls, &pl);

    for (size_t i = 0; i < ncls; i++) {
        double old = apply(p, &r, &pl, &classes[i]);
        if (classes[i].fraction != old) changed++;
    }

    if (pl.moves) {
        if (st->has_change && (pl.action == SLUICE_LAW_RAISE) != (st->last_action == SLUICE_LAW_RAISE)) {
            st->has_reversal = 1;
            st->last_reversal_ms = now_ms;
        }
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
        law_say(out->summary, sizeof out->summary, "%s", pl.summary);
    }
    return 0;
}
