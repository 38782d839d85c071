/* Unit tests for the governor's control law (queue/governor.c): scripted
 * signal sequences over many ticks on a virtual clock, no Redis, no time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sluice/deadline.h"
#include "sluice/law.h"

/* ================================================================ rig */

/* One governor and its world: four tiers of classes and up to four signals.
 * The first signal, "iops_util", has target 100 and critical 200, so a
 * value of 100 * P reads as pressure P. */
enum { C_CRIT, C_HIGH, C_NORMAL, C_LOW_A, C_LOW_B, NCLS };

typedef struct rig {
    sluice_law_params p;
    sluice_law_state st;
    int64_t now; /* ms, the virtual clock */
    sluice_law_signal sig[4];
    size_t nsig;
    sluice_law_class cls[NCLS];
    sluice_law_decision d;
    int64_t last_change; /* ms, time of the last law change seen by step() */
    int64_t min_gap;     /* ms, shortest gap between two law changes */
    int changes;         /* law changes (cut, raise, critical drop) that moved a fraction */
    int raises;
} rig;

static void rig_init(rig *r) {
    static const struct {
        const char *name;
        sluice_tier tier;
        double floor;
    } C[NCLS] = {
        {"logins", SLUICE_TIER_CRITICAL, 0.5},         {"certificates", SLUICE_TIER_HIGH, 0.3},
        {"integration_sync", SLUICE_TIER_NORMAL, 0.2}, {"reports", SLUICE_TIER_LOW, 0.1},
        {"emails_bulk", SLUICE_TIER_LOW, 0.05},
    };
    memset(r, 0, sizeof *r);
    sluice_law_params_default(&r->p);
    sluice_law_state_init(&r->st);
    r->now = 1000000;
    r->nsig = 1;
    r->sig[0].name = "iops_util";
    r->sig[0].target = 100;
    r->sig[0].critical = 200;
    r->sig[0].stale_after_ms = 5000;
    r->sig[0].on_stale = SLUICE_STALE_ASSUME_PRESSURE;
    r->sig[0].has_value = 1;
    r->sig[0].value = 50;
    for (int i = 0; i < NCLS; i++) {
        r->cls[i].name = C[i].name;
        r->cls[i].tier = C[i].tier;
        r->cls[i].floor = C[i].floor;
        r->cls[i].fraction = 1.0;
    }
    r->last_change = INT64_MIN;
    r->min_gap = INT64_MAX;
}

/* Checks what must hold after every tick, whatever the input. */
static void check_invariants(const rig *r) {
    for (int i = 0; i < NCLS; i++) {
        const sluice_law_class *c = &r->cls[i];
        if (c->tier == SLUICE_TIER_CRITICAL) assert_true(c->fraction == 1.0);
        assert_true(c->fraction >= c->floor);
        assert_true(c->fraction <= 1.0);
        assert_true(c->reason[0] != '\0');
    }
    assert_true(r->d.summary[0] != '\0');
}

/* Advances the clock by one tick and runs the law; the signals keep their
 * values and age with the clock. Records when the law changed something. */
static void tick(rig *r) {
    r->now += r->p.tick_ms;
    assert_int_equal(sluice_law_tick(&r->p, &r->st, r->now, r->sig, r->nsig, r->cls, NCLS, &r->d, NULL), 0);
    check_invariants(r);
    if (r->d.action != SLUICE_LAW_HOLD && r->d.changed > 0) {
        if (r->last_change != INT64_MIN && r->now - r->last_change < r->min_gap) r->min_gap = r->now - r->last_change;
        r->last_change = r->now;
        r->changes++;
        if (r->d.action == SLUICE_LAW_RAISE) r->raises++;
    }
}

/* One tick with a fresh reading of pressure P on iops_util. */
static void step(rig *r, double P) {
    r->sig[0].has_value = 1;
    r->sig[0].value = 100 * P;
    r->sig[0].age_ms = 0;
    tick(r);
}

/* Sets every non-critical class's fraction (critical ones stay at 1). */
static void set_all(rig *r, double f) {
    for (int i = C_HIGH; i < NCLS; i++) r->cls[i].fraction = f;
}

static void at_floors(rig *r) {
    for (int i = C_HIGH; i < NCLS; i++) r->cls[i].fraction = r->cls[i].floor;
}

static int is_at_floor(const rig *r, int i) {
    return r->cls[i].fraction == r->cls[i].floor;
}

#define F(r, i) ((r)->cls[(i)].fraction)

/* ================================================================ cuts */

static void
test_a_step_over_target_cuts_the_lowest_tier_first_and_leaves_higher_tiers_and_critical_alone(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_float_equal(r.d.pressure, 1.2, 1e-9);
    assert_string_equal(r.d.driver, "iops_util");
    assert_float_equal(r.d.driver_value, 120, 1e-9);
    assert_int_equal(r.d.driver_stale, 0);
    assert_int_equal(r.d.changed, 2);
    assert_float_equal(F(&r, C_LOW_A), 0.5, 1e-12);
    assert_float_equal(F(&r, C_LOW_B), 0.5, 1e-12);
    assert_true(F(&r, C_NORMAL) == 1.0);
    assert_true(F(&r, C_HIGH) == 1.0);
    assert_true(F(&r, C_CRIT) == 1.0);
    assert_non_null(strstr(r.cls[C_LOW_A].reason, "cut"));
    assert_non_null(strstr(r.d.summary, "iops_util"));
}

static void test_tiers_are_cut_low_then_normal_then_high_only_after_lower_tiers_are_at_their_floors(void **unused) {
    rig r;
    int64_t first_cut[NCLS], at_floor[NCLS];
    (void)unused;
    rig_init(&r);
    for (int i = 0; i < NCLS; i++) first_cut[i] = at_floor[i] = INT64_MAX;
    for (int t = 0; t < 300; t++) {
        step(&r, 1.3);
        for (int i = C_HIGH; i < NCLS; i++) {
            if (F(&r, i) < 1.0 && first_cut[i] == INT64_MAX) first_cut[i] = r.now;
            if (is_at_floor(&r, i) && at_floor[i] == INT64_MAX) at_floor[i] = r.now;
        }
    }
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i)); /* floors hold */
    assert_true(F(&r, C_CRIT) == 1.0);
    /* normal waits for both low classes, high waits for normal */
    assert_true(first_cut[C_NORMAL] > at_floor[C_LOW_A]);
    assert_true(first_cut[C_NORMAL] > at_floor[C_LOW_B]);
    assert_true(first_cut[C_HIGH] > at_floor[C_NORMAL]);
    /* steady pressure is not "getting worse": one cut per dwell */
    assert_true(r.min_gap >= r.p.dwell_ms);
}

static void test_floors_hold_under_pressure_that_never_clears(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    for (int t = 0; t < 600; t++) step(&r, 1.9);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
    assert_true(F(&r, C_CRIT) == 1.0);
    step(&r, 1.9);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_int_equal(r.d.changed, 0);
    assert_non_null(strstr(r.d.summary, "floor"));
}

static void test_a_step_over_critical_drops_every_noncritical_class_to_its_floor_in_one_tick(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 2.0);
    assert_int_equal(r.d.action, SLUICE_LAW_CRITICAL);
    assert_int_equal(r.d.changed, 4);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
    assert_true(F(&r, C_CRIT) == 1.0);
}

static void test_the_critical_drop_is_not_delayed_by_the_dwell(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 1.1);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    step(&r, 2.4);
    assert_int_equal(r.d.action, SLUICE_LAW_CRITICAL);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
}

static void test_critical_classes_are_never_throttled_even_when_handed_a_lower_fraction(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.cls[C_CRIT].fraction = 0.2;
    step(&r, 3.0);
    assert_true(F(&r, C_CRIT) == 1.0);
    assert_non_null(strstr(r.cls[C_CRIT].reason, "never throttled"));
    for (int t = 0; t < 100; t++) step(&r, t % 2 ? 2.5 : 1.3);
    assert_true(F(&r, C_CRIT) == 1.0);
}

static void test_the_first_cut_after_a_calm_period_happens_on_the_tick_that_crosses_target(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 1.3); /* an old cut ... */
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    for (int t = 0; t < 30; t++) step(&r, 0.9); /* ... then a calm spell inside the band */
    assert_int_equal(r.changes, 1);
    double before = F(&r, C_LOW_A);
    step(&r, 1.05);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(F(&r, C_LOW_A) < before);
}

static void test_a_cut_within_the_dwell_needs_pressure_worse_than_at_the_last_cut(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 1.1);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    step(&r, 1.1);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_non_null(strstr(r.d.summary, "dwell"));
    step(&r, 1.12); /* within escalate (0.05) of the last cut: noise */
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    step(&r, 1.3); /* getting worse: cut again at once */
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    step(&r, 1.2); /* better than at the last cut: wait out the dwell */
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    int64_t cut_at = r.now - r.p.tick_ms;
    while (r.now + r.p.tick_ms - cut_at < r.p.dwell_ms) {
        step(&r, 1.2);
        assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    }
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
}

/* ================================================================ flapping */

static void test_oscillation_around_target_for_60s_changes_at_most_once_per_dwell(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    for (int t = 0; t < 60; t++) step(&r, t % 2 ? 0.95 : 1.05);
    assert_true(r.changes >= 1); /* the first crossing does cut */
    assert_true(r.changes <= 60000 / r.p.dwell_ms + 1);
    if (r.changes > 1) assert_true(r.min_gap >= r.p.dwell_ms);
    assert_int_equal(r.raises, 0);
}

static void test_oscillation_across_the_band_never_raises_and_changes_at_most_once_per_dwell(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.6);
    for (int t = 0; t < 60; t++) step(&r, t % 2 ? 0.5 : 1.05);
    assert_int_equal(r.raises, 0);
    assert_true(r.changes >= 1);
    if (r.changes > 1) assert_true(r.min_gap >= r.p.dwell_ms);
}

static void test_pressure_inside_the_band_holds(void **unused) {
    rig r;
    static const double P[] = {0.8, 0.85, 0.9, 0.95, 1.0};
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.6);
    for (int t = 0; t < 120; t++) {
        step(&r, P[t % 5]);
        assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
        assert_int_equal(r.d.changed, 0);
    }
    assert_non_null(strstr(r.cls[C_LOW_A].reason, "held"));
}

/* ================================================================ recovery */

static void test_recovery_ramps_gradually_highest_tier_first(void **unused) {
    rig r;
    int64_t full[NCLS], rising[NCLS], start;
    double prev[NCLS];
    (void)unused;
    rig_init(&r);
    step(&r, 2.0); /* everything to its floor */
    start = r.now;
    for (int i = 0; i < NCLS; i++) full[i] = rising[i] = INT64_MAX;
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < NCLS; i++) prev[i] = F(&r, i);
        step(&r, 0.3);
        for (int i = C_HIGH; i < NCLS; i++) {
            /* no stampede: each raise at most doubles a fraction or adds increase */
            assert_true(F(&r, i) <= fmax(prev[i] + r.p.increase, prev[i] * r.p.growth) + r.p.snap + 1e-12);
            if (F(&r, i) > prev[i] && rising[i] == INT64_MAX) rising[i] = r.now;
            if (F(&r, i) == 1.0 && full[i] == INT64_MAX) full[i] = r.now;
        }
    }
    for (int i = C_HIGH; i < NCLS; i++) assert_true(F(&r, i) == 1.0);
    /* the first raise waits for a dwell after the drop */
    assert_true(rising[C_HIGH] - start >= r.p.dwell_ms);
    /* several raises: high goes 0.3 -> 0.6 -> 1.0 */
    assert_true(full[C_HIGH] - rising[C_HIGH] >= r.p.dwell_ms);
    /* lower tiers wait for higher ones */
    assert_true(rising[C_NORMAL] > full[C_HIGH]);
    assert_true(rising[C_LOW_A] > full[C_NORMAL]);
    assert_true(rising[C_LOW_B] > full[C_NORMAL]);
    assert_true(r.min_gap >= r.p.dwell_ms);
}

static void test_a_raise_never_jumps_a_low_fraction_straight_to_full(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    at_floors(&r);
    r.cls[C_HIGH].fraction = 0.2;
    for (int t = 0; t < 30; t++) {
        double before = F(&r, C_HIGH);
        step(&r, 0.0);
        if (F(&r, C_HIGH) == 1.0) assert_true(before >= 1.0 / r.p.growth - r.p.snap);
    }
    assert_true(r.raises >= 2);
}

/* A class at its floor is back to full within 30 s of the pressure falling
 * to 0.5 or below, with a 1 s collector and the defaults (raises of 0.1 a
 * dwell apart would need nine of them). */
static void test_recovery_from_the_floor_to_full_takes_at_most_30s_at_pressure_0_5(void **unused) {
    (void)unused;
    for (double P = 0.5; P >= 0.0; P -= 0.1) {
        rig r;
        rig_init(&r);
        r.cls[C_HIGH].tier = SLUICE_TIER_LOW;
        r.cls[C_HIGH].floor = 0.1;
        r.cls[C_NORMAL].tier = SLUICE_TIER_CRITICAL;
        r.cls[C_LOW_A].tier = r.cls[C_LOW_B].tier = SLUICE_TIER_CRITICAL;
        step(&r, 2.2); /* at critical: the class to its floor */
        assert_true(is_at_floor(&r, C_HIGH));
        int64_t fell = r.now;
        while (F(&r, C_HIGH) < 1.0 && r.now - fell < 60000) step(&r, P);
        if (F(&r, C_HIGH) < 1.0 || r.now - fell > 30000)
            fail_msg("pressure %.1f: %.2f after %lld ms", P, F(&r, C_HIGH), (long long)(r.now - fell));
        assert_true(r.min_gap >= r.p.dwell_ms); /* each raise waited for the last */
    }
}

static void test_no_signal_at_all_leaves_the_law_free_to_raise(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.nsig = 0;
    at_floors(&r);
    for (int t = 0; t < 20; t++) tick(&r);
    assert_true(r.d.pressure == 0);
    assert_null(r.d.driver);
    assert_true(isnan(r.d.driver_value));
    assert_true(r.raises >= 2);
    assert_true(F(&r, C_HIGH) > r.cls[C_HIGH].floor);
}

/* ================================================================ stale */

/* Makes iops_util report value once at the current time, then go silent. */
static void report_then_silence(rig *r, double P, sluice_on_stale policy, int ticks) {
    r->sig[0].on_stale = policy;
    r->sig[0].has_value = 1;
    r->sig[0].value = 100 * P;
    for (int t = 0; t < ticks; t++) {
        r->sig[0].age_ms = (int64_t)t * r->p.tick_ms;
        tick(r);
    }
}

static void test_a_stale_signal_with_assume_pressure_moves_classes_toward_their_floors(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    report_then_silence(&r, 0.5, SLUICE_STALE_ASSUME_PRESSURE, 7);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT); /* 6 s old > stale_after 5 s */
    assert_int_equal(r.d.driver_stale, 1);
    assert_true(isnan(r.d.driver_value));
    assert_float_equal(r.d.pressure, r.p.stale_pressure, 1e-12);
    assert_non_null(strstr(r.d.summary, "stale"));
    report_then_silence(&r, 0.5, SLUICE_STALE_ASSUME_PRESSURE, 300);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
    assert_true(F(&r, C_CRIT) == 1.0);
    assert_true(r.min_gap >= r.p.dwell_ms); /* gradually, not a critical drop */
}

static void test_a_stale_signal_with_hold_neither_cuts_nor_raises(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.6);
    r.sig[0].stale_after_ms = 2000; /* silent before a dwell of calm could raise */
    report_then_silence(&r, 0.2, SLUICE_STALE_HOLD, 120);
    for (int i = C_HIGH; i < NCLS; i++) assert_float_equal(F(&r, i), 0.6, 1e-12);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_string_equal(r.d.driver, "iops_util");
    assert_int_equal(r.d.driver_stale, 1);
    assert_non_null(strstr(r.d.summary, "hold"));
    /* the calm before the silence does not count: after the signal returns,
     * the first raise still waits a whole dwell */
    int raises = r.raises;
    for (int t = 0; t * r.p.tick_ms < r.p.calm_ms; t++) step(&r, 0.2);
    assert_int_equal(r.raises, raises);
}

static void test_a_stale_hold_signal_does_not_block_a_cut_driven_by_another_signal(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.nsig = 2;
    r.sig[1] = r.sig[0];
    r.sig[1].name = "read_latency_ms";
    r.sig[1].target = 20;
    r.sig[1].critical = 100;
    r.sig[1].value = 60; /* pressure 1.5 */
    report_then_silence(&r, 0.2, SLUICE_STALE_HOLD, 8);
    assert_true(F(&r, C_LOW_A) < 1.0);
    assert_string_equal(r.d.driver, "read_latency_ms");
}

static void test_a_stale_signal_with_ignore_is_left_out(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    at_floors(&r);
    report_then_silence(&r, 1.9, SLUICE_STALE_IGNORE, 60);
    /* its last value was high, but once stale it does not count at all */
    assert_true(r.d.pressure == 0);
    assert_null(r.d.driver);
    assert_true(r.raises >= 2);

    r.nsig = 2;
    r.sig[1] = r.sig[0];
    r.sig[1].name = "fresh";
    r.sig[1].age_ms = 0;
    r.sig[1].value = 130;
    tick(&r);
    assert_string_equal(r.d.driver, "fresh");
    assert_float_equal(r.d.pressure, 1.3, 1e-9);
}

static void test_a_never_reported_signal_counts_as_stale(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.sig[0].has_value = 0;
    r.sig[0].value = 0;
    tick(&r);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_int_equal(r.d.driver_stale, 1);
    assert_true(isnan(r.d.driver_value));
    assert_non_null(strstr(r.d.summary, "never reported"));

    rig_init(&r);
    set_all(&r, 0.5);
    r.sig[0].has_value = 0;
    r.sig[0].on_stale = SLUICE_STALE_HOLD;
    for (int t = 0; t < 30; t++) tick(&r);
    assert_int_equal(r.changes, 0);
}

/* ================================================================ signals */

static void test_a_lower_is_worse_signal_cuts_as_its_value_falls_below_target(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.sig[0].name = "burst_balance";
    r.sig[0].lower_is_worse = 1;
    r.sig[0].target = 50;
    r.sig[0].critical = 20;
    r.sig[0].value = 80; /* 60% of its target better than it */
    tick(&r);
    assert_float_equal(r.d.pressure, 0.4, 1e-12);
    r.sig[0].value = 40;
    tick(&r);
    assert_float_equal(r.d.pressure, 1.0 + 1.0 / 3.0, 1e-9);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_float_equal(r.d.driver_value, 40, 1e-12);
    r.sig[0].value = 20;
    tick(&r);
    assert_int_equal(r.d.action, SLUICE_LAW_CRITICAL);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
}

static void test_the_worst_signal_drives_and_is_named(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.nsig = 3;
    r.sig[1] = r.sig[0];
    r.sig[2] = r.sig[0];
    r.sig[1].name = "replication_lag_s";
    r.sig[1].target = 5;
    r.sig[1].critical = 30;
    r.sig[1].value = 15; /* pressure 1.4 */
    r.sig[2].name = "connections";
    r.sig[2].value = 120; /* pressure 1.2 */
    step(&r, 0.7);
    assert_string_equal(r.d.driver, "replication_lag_s");
    assert_float_equal(r.d.pressure, 1.4, 1e-9);
    assert_float_equal(r.d.driver_value, 15, 1e-12);
    assert_non_null(strstr(r.d.summary, "replication_lag_s"));
}

static void test_a_fraction_outside_floor_and_one_is_clamped_into_it(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.cls[C_HIGH].fraction = 1.7;
    r.cls[C_NORMAL].fraction = 0.9;
    r.cls[C_LOW_A].fraction = 0.02; /* an operator raised the floor to 0.1 */
    r.cls[C_LOW_B].fraction = -3;
    step(&r, 0.9); /* inside the band: nothing else moves */
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_int_equal(r.d.changed, 3);
    assert_true(F(&r, C_HIGH) == 1.0);
    assert_float_equal(F(&r, C_NORMAL), 0.9, 1e-12);
    assert_true(is_at_floor(&r, C_LOW_A));
    assert_true(is_at_floor(&r, C_LOW_B));
    assert_non_null(strstr(r.cls[C_LOW_A].reason, "clamped"));
}

/* ================================================================ time */

static void test_a_clock_that_steps_back_restarts_the_dwell_instead_of_blocking_forever(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    step(&r, 1.3);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    r.now -= 3600 * 1000; /* a new leader whose clock is an hour behind */
    int changes = r.changes;
    for (int t = 0; t < 2 * r.p.dwell_ms / r.p.tick_ms; t++) step(&r, 1.3);
    assert_true(r.changes > changes);
}

/* A tiny deterministic generator, so failures replay. */
static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void test_random_pressure_keeps_fractions_in_bounds_and_changes_only_as_the_dwell_allows(void **unused) {
    rig r;
    uint32_t seed = 12345;
    sluice_law_action prev_action = SLUICE_LAW_HOLD;
    double prev_pressure = 0;
    (void)unused;
    rig_init(&r);
    for (int t = 0; t < 20000; t++) {
        int64_t before = r.last_change;
        double P = -0.5 + 3.0 * (double)(lcg(&seed) % 10000) / 10000.0;
        if (lcg(&seed) % 50 == 0) { /* now and then the collector misses */
            r.sig[0].has_value = 0;
            tick(&r);
        } else {
            step(&r, P); /* check_invariants runs inside */
        }
        if (r.last_change == r.now) {
            if (before != INT64_MIN && r.now - before < r.p.dwell_ms) {
                /* only getting worse may act inside the dwell */
                assert_true(r.d.action == SLUICE_LAW_CRITICAL ||
                            (r.d.action == SLUICE_LAW_CUT && prev_action == SLUICE_LAW_CUT &&
                             r.d.pressure > prev_pressure + r.p.escalate));
            }
            prev_action = r.d.action;
            prev_pressure = r.d.pressure;
        }
    }
    assert_true(r.changes > 10);
}

/* ================================================================ input */

static void test_invalid_input_returns_minus_one_and_modifies_nothing(void **unused) {
    rig r, copy;
    sluice_error lerr;
    (void)unused;
    rig_init(&r);
    step(&r, 1.2);
    step(&r, 1.2);
    memcpy(&copy, &r, sizeof r);

#define REJECTS(mutate)                                                                                                \
    do {                                                                                                               \
        memcpy(&r, &copy, sizeof r);                                                                                   \
        mutate;                                                                                                        \
        sluice_law_class before_cls[NCLS];                                                                             \
        sluice_law_state before_st;                                                                                    \
        sluice_law_decision before_d;                                                                                  \
        memcpy(before_cls, r.cls, sizeof before_cls);                                                                  \
        memcpy(&before_st, &r.st, sizeof before_st);                                                                   \
        memcpy(&before_d, &r.d, sizeof before_d);                                                                      \
        assert_int_equal(sluice_law_tick(&r.p, &r.st, r.now + 1000, r.sig, r.nsig, r.cls, NCLS, &r.d, NULL), -1);      \
        assert_memory_equal(before_cls, r.cls, sizeof before_cls);                                                     \
        assert_memory_equal(&before_st, &r.st, sizeof before_st);                                                      \
        assert_memory_equal(&before_d, &r.d, sizeof before_d);                                                         \
    } while (0)

    REJECTS(r.cls[C_LOW_A].floor = 1.5);
    REJECTS(r.cls[C_LOW_A].floor = -0.1);
    REJECTS(r.cls[C_NORMAL].floor = NAN);
    REJECTS(r.cls[C_NORMAL].fraction = NAN);
    REJECTS(r.cls[C_NORMAL].fraction = INFINITY);
    REJECTS(r.cls[C_NORMAL].tier = (sluice_tier)7);
    REJECTS(r.sig[0].value = NAN);
    REJECTS(r.sig[0].value = -INFINITY);
    REJECTS(r.sig[0].target = INFINITY);
    REJECTS(r.sig[0].critical = r.sig[0].target);
    REJECTS(r.sig[0].lower_is_worse = 1); /* but critical is above target */
    REJECTS(r.sig[0].stale_after_ms = -1);
    REJECTS(r.sig[0].on_stale = (sluice_on_stale)9);
    REJECTS(r.sig[0].name = NULL);
    REJECTS(r.p.decrease = 1.5);
    REJECTS(r.p.band = NAN);
    REJECTS(r.st.has_change = 2);
    REJECTS(r.st.last_pressure = NAN);
#undef REJECTS

    memcpy(&r, &copy, sizeof r);
    assert_int_equal(sluice_law_tick(&r.p, &r.st, r.now, NULL, 1, r.cls, NCLS, &r.d, NULL), -1);
    assert_int_equal(sluice_law_tick(&r.p, &r.st, r.now, r.sig, 1, NULL, NCLS, &r.d, NULL), -1);
    assert_int_equal(sluice_law_tick(&r.p, NULL, r.now, r.sig, 1, r.cls, NCLS, &r.d, NULL), -1);
    assert_memory_equal(&copy.cls, &r.cls, sizeof r.cls);
    assert_memory_equal(&copy.d, &r.d, sizeof r.d);

    /* the check says what is wrong */
    r.cls[C_LOW_A].floor = 1.5;
    assert_int_equal(sluice_law_input_check(&r.p, &r.st, r.sig, r.nsig, r.cls, NCLS, &lerr), -1);
    assert_non_null(strstr(lerr.text, "floor"));
    r.cls[C_LOW_A].floor = 0.1;
    r.sig[0].value = NAN;
    assert_int_equal(sluice_law_input_check(&r.p, &r.st, r.sig, r.nsig, r.cls, NCLS, &lerr), -1);
    assert_non_null(strstr(lerr.text, "iops_util"));

    /* empty is fine, and p and out may be NULL */
    memcpy(&r, &copy, sizeof r);
    assert_int_equal(sluice_law_tick(NULL, &r.st, r.now, NULL, 0, NULL, 0, NULL, NULL), 0);
}

/* Param "field" of the defaults d set to v is refused by the check, which
 * names "word" (p, d and lerr are the test's locals). */
#define BAD(field, v, word)                                                                                            \
    do {                                                                                                               \
        p = d;                                                                                                         \
        p.field = v;                                                                                                   \
        assert_int_equal(sluice_law_params_check(&p, &lerr), -1);                                                      \
        assert_non_null(strstr(lerr.text, word));                                                                      \
    } while (0)

static void test_params_defaults_pass_their_check_and_out_of_range_params_are_rejected(void **unused) {
    sluice_law_params p, d;
    sluice_error lerr;
    (void)unused;
    sluice_law_params_default(&d);
    assert_int_equal(sluice_law_params_check(&d, &lerr), 0);
    assert_int_equal(d.tick_ms, 1000);
    assert_true(d.decrease > 0 && d.decrease < 1);
    assert_int_equal(sluice_law_params_check(NULL, &lerr), -1);

    BAD(tick_ms, 0, "tick_ms");
    BAD(decrease, 0, "decrease");
    BAD(decrease, 1, "decrease");
    BAD(increase, 0, "increase");
    BAD(increase, INFINITY, "increase");
    BAD(band, 1, "band");
    BAD(band, -0.1, "band");
    BAD(dwell_ms, -1, "dwell_ms");
    BAD(stale_pressure, 1.0, "stale_pressure");
    BAD(escalate, -1, "escalate");
    BAD(snap, 0.5, "snap");
    assert_int_equal(sluice_law_params_check(&d, NULL), 0);
}

static void test_names_and_parsers_round_trip_and_reject_unknown_words(void **unused) {
    sluice_on_stale s = SLUICE_STALE_IGNORE;
    (void)unused;
    assert_string_equal(sluice_on_stale_name(SLUICE_STALE_ASSUME_PRESSURE), "assume-pressure");
    assert_string_equal(sluice_on_stale_name(SLUICE_STALE_HOLD), "hold");
    assert_string_equal(sluice_on_stale_name(SLUICE_STALE_IGNORE), "ignore");
    assert_null(sluice_on_stale_name((sluice_on_stale)3));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sluice_on_stale_parse(sluice_on_stale_name((sluice_on_stale)i), &s, NULL), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(sluice_on_stale_parse("assume", &s, NULL), -1);
    assert_int_equal(sluice_on_stale_parse("", &s, NULL), -1);
    assert_int_equal(sluice_on_stale_parse(NULL, &s, NULL), -1);
    assert_int_equal(s, SLUICE_STALE_IGNORE); /* unchanged on failure */
    assert_string_equal(sluice_law_action_name(SLUICE_LAW_HOLD), "hold");
    assert_string_equal(sluice_law_action_name(SLUICE_LAW_CUT), "cut");
    assert_string_equal(sluice_law_action_name(SLUICE_LAW_CRITICAL), "critical");
    assert_string_equal(sluice_law_action_name(SLUICE_LAW_RAISE), "raise");
    assert_null(sluice_law_action_name((sluice_law_action)4));
}

/* ================================================================ state */

static void assert_state_equal(const sluice_law_state *a, const sluice_law_state *b) {
    assert_true(a->ticks == b->ticks);
    assert_true(a->last_tick_ms == b->last_tick_ms);
    assert_int_equal(a->has_change, b->has_change);
    assert_true(a->last_change_ms == b->last_change_ms);
    assert_int_equal(a->last_action, b->last_action);
    assert_true(a->last_pressure == b->last_pressure); /* bit-exact */
    assert_int_equal(a->calm, b->calm);
    assert_true(a->calm_since_ms == b->calm_since_ms);
    assert_int_equal(a->has_reading, b->has_reading);
    assert_true(a->smoothed == b->smoothed); /* bit-exact */
    assert_int_equal(a->has_reversal, b->has_reversal);
    assert_true(a->last_reversal_ms == b->last_reversal_ms);
}

static void test_state_encode_decode_round_trips_exactly(void **unused) {
    sluice_law_state st, back;
    char buf[SLUICE_LAW_STATE_JSON]; /* enough even for the widest numbers below */
    (void)unused;
    sluice_law_state_init(&st);
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), 0);
    assert_int_equal(sluice_law_state_decode(buf, &back, NULL), 0);
    assert_state_equal(&st, &back);

    st.ticks = INT64_MAX;
    st.last_tick_ms = INT64_MAX;
    st.has_change = 1;
    st.last_change_ms = INT64_MIN;
    st.last_action = SLUICE_LAW_CUT;
    st.last_pressure = -(1.0 / 3.0 + 1e8) / 7e-3; /* 17 significant digits and an exponent */
    st.calm = 1;
    st.calm_since_ms = INT64_MIN;
    st.has_reversal = 1;
    st.last_reversal_ms = INT64_MAX;
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), 0);
    assert_non_null(strstr(buf, "\"last_action\":\"cut\""));
    assert_int_equal(sluice_law_state_decode(buf, &back, NULL), 0);
    assert_state_equal(&st, &back);

    /* a state written before reversal_dwell_ms had no last reversal: none */
    assert_int_equal(sluice_law_state_decode("{\"v\":3,\"ticks\":1,\"last_tick_ms\":5,\"has_change\":true,"
                                             "\"last_change_ms\":5,\"last_action\":\"raise\",\"last_pressure\":0.3,"
                                             "\"calm\":true,\"calm_since_ms\":1,\"has_reading\":true,\"smoothed\":0.3}",
                                             &back, NULL),
                     0);
    assert_int_equal(back.has_reversal, 0);
}

static void test_a_new_leader_with_the_decoded_state_decides_exactly_as_the_old_one_would(void **unused) {
    rig old, fresh;
    char buf[512];
    (void)unused;
    rig_init(&old);
    for (int t = 0; t < 40; t++) step(&old, t < 20 ? 1.4 : 0.3);
    memcpy(&fresh, &old, sizeof old);
    assert_int_equal(sluice_law_state_encode(&old.st, buf, sizeof buf, NULL), 0);
    memset(&fresh.st, 0xa5, sizeof fresh.st);
    assert_int_equal(sluice_law_state_decode(buf, &fresh.st, NULL), 0);
    for (int t = 0; t < 60; t++) {
        double P = t < 30 ? 0.3 : 1.25;
        step(&old, P);
        step(&fresh, P);
        assert_int_equal(old.d.action, fresh.d.action);
        for (int i = 0; i < NCLS; i++) assert_true(F(&old, i) == F(&fresh, i));
    }
    /* and the dwell carried over: a change right before the hand-over is
     * still respected right after it */
    assert_true(fresh.min_gap >= fresh.p.dwell_ms);
}

static void test_state_decode_rejects_garbage_and_truncated_json_without_crashing(void **unused) {
    static const char *const bad[] = {
        "",
        " ",
        "null",
        "[]",
        "42",
        "\"state\"",
        "{",
        "}",
        "{}",
        "{\"v\":1}",
        "not json at all",
        "\xff\xfe\x00",
        /* wrong version */
        "{\"v\":2,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
        /* wrong type */
        "{\"v\":1,\"ticks\":\"1\",\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
        /* unknown action */
        "{\"v\":1,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":true,\"last_change_ms\":0,"
        "\"last_action\":\"panic\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
        /* a change that is a hold */
        "{\"v\":1,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":true,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
        /* negative ticks */
        "{\"v\":1,\"ticks\":-1,\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
        /* overflowing number */
        "{\"v\":1,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":1e999,\"calm\":false,\"calm_since_ms\":0}",
        /* trailing garbage */
        "{\"v\":1,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}x",
        /* duplicate member */
        "{\"v\":1,\"v\":1,\"ticks\":1,\"last_tick_ms\":0,\"has_change\":false,\"last_change_ms\":0,"
        "\"last_action\":\"hold\",\"last_pressure\":0,\"calm\":false,\"calm_since_ms\":0}",
    };
    sluice_law_state st, sentinel, src;
    char good[512], part[512], noise[64];
    uint32_t seed = 7;
    (void)unused;
    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&st, &sentinel, sizeof st);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sluice_law_state_decode(bad[i], &st, NULL), -1);
        assert_memory_equal(&st, &sentinel, sizeof st);
    }
    assert_int_equal(sluice_law_state_decode(NULL, &st, NULL), -1);
    assert_int_equal(sluice_law_state_decode("{}", NULL, NULL), -1);

    /* every proper prefix of a good encoding is refused */
    sluice_law_state_init(&src);
    src.has_change = 1;
    src.last_action = SLUICE_LAW_RAISE;
    src.last_pressure = 0.25;
    assert_int_equal(sluice_law_state_encode(&src, good, sizeof good, NULL), 0);
    for (size_t n = 0; n < strlen(good); n++) {
        memcpy(part, good, n);
        part[n] = '\0';
        assert_int_equal(sluice_law_state_decode(part, &st, NULL), -1);
        assert_memory_equal(&st, &sentinel, sizeof st);
    }

    /* random bytes, and good text with random bytes flipped */
    for (int k = 0; k < 2000; k++) {
        size_t n = lcg(&seed) % (sizeof noise - 1);
        for (size_t i = 0; i < n; i++) noise[i] = (char)(1 + lcg(&seed) % 255);
        noise[n] = '\0';
        assert_int_equal(sluice_law_state_decode(noise, &st, NULL), -1);
        strcpy(part, good);
        part[lcg(&seed) % strlen(part)] = (char)(1 + lcg(&seed) % 255);
        if (sluice_law_state_decode(part, &st, NULL) == 0) {
            /* a flip can still be valid (a digit for a digit): then it must be sane */
            char again[512];
            assert_int_equal(sluice_law_state_encode(&st, again, sizeof again, NULL), 0);
            memcpy(&st, &sentinel, sizeof st);
        }
    }
}

static void test_state_encode_fails_cleanly_when_the_buffer_is_too_small(void **unused) {
    sluice_law_state st;
    char buf[512];
    size_t need;
    (void)unused;
    sluice_law_state_init(&st);
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), 0);
    need = strlen(buf) + 1;
    for (size_t len = 1; len < need; len++) {
        memset(buf, 'x', sizeof buf);
        assert_int_equal(sluice_law_state_encode(&st, buf, len, NULL), -1);
        assert_int_equal(buf[0], '\0');
    }
    assert_int_equal(sluice_law_state_encode(&st, buf, need, NULL), 0);
    assert_int_equal(sluice_law_state_encode(&st, buf, 0, NULL), -1);
    assert_int_equal(sluice_law_state_encode(NULL, buf, sizeof buf, NULL), -1);
    assert_int_equal(sluice_law_state_encode(&st, NULL, 10, NULL), -1);
    st.last_pressure = INFINITY;
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), -1);
}

/* ================================================================ smoothing */

static void db_iops_rig(rig *r);

/* One tick where iops_util reads pressure P, observed "age" ms ago. */
static void step_aged(rig *r, double P, int64_t age) {
    r->sig[0].has_value = 1;
    r->sig[0].value = 100 * P;
    r->sig[0].age_ms = age;
    tick(r);
}

static void test_a_single_noisy_reading_over_target_does_not_cut_but_a_sustained_one_does(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.smoothing_ms = 3000;
    r.p.jump = 0.3;
    for (int t = 0; t < 20; t++) step(&r, 0.95);
    step(&r, 1.05); /* one second of it moves the mean by a quarter of the step */
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_float_equal(r.d.pressure, 1.05, 1e-9);
    assert_float_equal(r.d.acted, 0.95 + 0.1 * (1 - exp(-1.0 / 3.0)), 1e-9);
    step(&r, 0.95);
    assert_int_equal(r.changes, 0);
    int t = 0;
    while (r.d.action != SLUICE_LAW_CUT && t++ < 20) step(&r, 1.05);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(t >= 2); /* sustained: more than one second of it */
    assert_true(r.d.acted > 1.0);
}

static void test_a_reading_far_above_the_smoothed_pressure_is_taken_at_once(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.smoothing_ms = 10000;
    for (int t = 0; t < 20; t++) step(&r, 0.5);
    step(&r, 1.3); /* 0.8 above: more than jump, a real step */
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_float_equal(r.d.acted, 1.3, 1e-9);
}

/* The smoothing is a function of time, not of the number of reports: a
 * value pushed once (it stands, and ages) and the same value re-pushed
 * every second move the smoothed pressure alike, and it converges on the
 * value within a few time constants either way. */
static void test_a_value_pushed_once_weighs_as_much_as_one_re_pushed_every_second(void **unused) {
    rig once, every;
    (void)unused;
    rig_init(&once);
    rig_init(&every);
    once.sig[0].stale_after_ms = every.sig[0].stale_after_ms = 600000;
    for (int t = 0; t < 10; t++) {
        step(&once, 0.8);
        step(&every, 0.8);
    }
    for (int t = 0; t < 30; t++) {
        step_aged(&once, 0.2, (int64_t)t * once.p.tick_ms); /* pushed once, then it ages */
        step(&every, 0.2);                                  /* re-pushed each second */
        assert_float_equal(once.st.smoothed, every.st.smoothed, 1e-12);
    }
    assert_float_equal(once.st.smoothed, 0.2, 1e-3); /* 30 s = 15 time constants */
}

/* The pressure bends at target (shares of the target below it, of the
 * span above it), so the mean runs on the value: noise around target is not
 * read as pressure over it. */
static void test_noise_around_target_is_not_read_as_over_it(void **unused) {
    rig r;
    (void)unused;
    double sum = 0;
    int n = 0;
    db_iops_rig(&r);
    r.p.smoothing_ms = 20000;
    r.p.jump = 1; /* no step is taken at once */
    r.sig[0].age_ms = 0;
    for (int t = 0; t < 200; t++) {
        r.sig[0].value = t % 2 ? 0.77 : 0.73; /* pressures 1.1 and 0.97, mean value 0.75 */
        tick(&r);
        if (t < 100) continue;
        sum += r.st.smoothed;
        n++;
    }
    /* a mean of the pressures would sit at 1.037: over target */
    assert_float_equal(sum / n, 1.0, 0.005);
}

static void test_the_smoothing_follows_the_time_between_ticks(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.smoothing_ms = 4000;
    step(&r, 0.9);
    r.p.tick_ms = 2000; /* a late tick: the mean moves as far as two ticks would */
    step(&r, 0.1);
    assert_float_equal(r.st.smoothed, 0.1 + 0.8 * exp(-0.5), 1e-9);
    r.p.smoothing_ms = 0; /* none */
    step(&r, 0.4);
    assert_float_equal(r.st.smoothed, 0.4, 1e-12);
}

static void test_a_critical_reading_drops_to_floors_at_once_whatever_the_smoothed_pressure(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.smoothing_ms = 30000;
    r.p.jump = 10; /* no shortcut through the smoothing */
    for (int t = 0; t < 30; t++) step(&r, 0.3);
    step(&r, 2.0);
    assert_int_equal(r.d.action, SLUICE_LAW_CRITICAL);
    assert_true(r.d.acted < 1.0);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(is_at_floor(&r, i));
}

static void test_after_a_change_the_law_waits_for_a_reading_observed_after_it(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.dwell_ms = 5000;
    r.sig[0].stale_after_ms = 300000;
    r.sig[0].period_ms = 180000; /* it declares how long a change may take to show */
    /* A 60 s mean published 60 s late: the reading in hand at each tick was
     * observed (60 + s) seconds ago, s into the current period. */
    int64_t t0 = r.now;
    step_aged(&r, 1.3, 60000);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    double after_cut = F(&r, C_LOW_A);
    /* Two more minutes of readings observed before the cut: however long
     * the dwell has run, they show the world before it, so no second cut. */
    for (int s = 1; s < 120; s++) {
        int64_t observed = t0 + (int64_t)(s / 60) * 60000 - 60000;
        step_aged(&r, 1.3, r.now - observed);
        assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
        assert_float_equal(F(&r, C_LOW_A), after_cut, 1e-12);
    }
    assert_non_null(strstr(r.d.summary, "newer"));
    /* The first reading observed after the cut still says over target: cut. */
    step_aged(&r, 1.3, 0);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(F(&r, C_LOW_A) < after_cut);
}

static void test_a_delayed_signal_also_delays_the_next_raise_until_it_shows_the_last_one(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    at_floors(&r);
    r.sig[0].stale_after_ms = 300000;
    r.sig[0].period_ms = 150000;
    int raises = 0;
    int64_t last_raise = INT64_MIN;
    for (int s = 0; s < 600; s++) {
        /* readings every 60 s, each 90 s old when it arrives */
        int64_t observed = (r.now + r.p.tick_ms - 90000) / 60000 * 60000;
        step_aged(&r, 0.2, r.now + r.p.tick_ms - observed);
        if (r.d.action == SLUICE_LAW_RAISE) {
            assert_true(observed > last_raise); /* only on a reading newer than the raise */
            last_raise = r.now;
            raises++;
        }
    }
    assert_true(raises >= 3);
    assert_true(raises <= 600 / 60 + 1);
}

static void test_cuts_are_proportional_to_the_overshoot_and_never_deeper_than_decrease(void **unused) {
    rig a, b, c;
    (void)unused;
    rig_init(&a);
    rig_init(&b);
    rig_init(&c);
    step(&a, 1.05);
    step(&b, 1.15);
    step(&c, 1.9);
    assert_int_equal(a.d.action, SLUICE_LAW_CUT);
    assert_int_equal(b.d.action, SLUICE_LAW_CUT);
    assert_int_equal(c.d.action, SLUICE_LAW_CUT);
    assert_float_equal(F(&a, C_LOW_A), 1.0 - a.p.cut_gain * 0.05, 1e-9);
    assert_true(F(&b, C_LOW_A) < F(&a, C_LOW_A));
    assert_float_equal(F(&c, C_LOW_A), c.p.decrease, 1e-12);
    /* cut_gain 0: every cut is by decrease, as the first law did */
    rig_init(&a);
    a.p.cut_gain = 0;
    step(&a, 1.01);
    assert_float_equal(F(&a, C_LOW_A), a.p.decrease, 1e-12);
}

static void test_raise_steps_are_sized_by_the_headroom_below_the_band(void **unused) {
    rig far, near;
    (void)unused;
    rig_init(&far);
    rig_init(&near);
    set_all(&far, 0.3);
    set_all(&near, 0.3);
    for (int t = 0; t < 30 && far.raises == 0; t++) step(&far, 0.1);
    for (int t = 0; t < 30 && near.raises == 0; t++) step(&near, 1.0 - near.p.band - 0.03);
    assert_int_equal(far.raises, 1);
    assert_int_equal(near.raises, 1);
    /* far below: multiplied by growth (x2 at the defaults) */
    assert_float_equal(F(&far, C_HIGH), 0.3 * far.p.growth, 1e-9);
    /* close to the band: the larger of a proportionally smaller step and
     * the growth that would bring the pressure to the band's edge */
    double A = near.d.acted, g = (1.0 - near.p.band) / A;
    double step = near.p.increase * (1.0 - near.p.band - A) / near.p.raise_span;
    assert_float_equal(F(&near, C_HIGH), fmax(0.3 + step, 0.3 * g), 1e-9);
    assert_true(F(&near, C_HIGH) < 0.3 + near.p.increase);
    assert_true(F(&near, C_NORMAL) == 0.3); /* still one tier at a time */
}

/* A raise at most multiplies a fraction by growth or adds increase, and at
 * most by (1 - band) / pressure, so it cannot push the pressure past the
 * band's edge even if the raised class were the whole load. */
static void test_a_raise_is_bounded_by_growth_and_by_the_room_below_the_band(void **unused) {
    rig r;
    (void)unused;
    for (double P = 0.05; P < 0.9; P += 0.05) {
        rig_init(&r);
        set_all(&r, 0.4);
        for (int t = 0; t < 30 && r.raises == 0; t++) step(&r, P);
        assert_int_equal(r.raises, 1);
        double f = F(&r, C_HIGH), A = r.d.acted;
        double most = fmax(0.4 + r.p.increase, 0.4 * fmin(r.p.growth, (1.0 - r.p.band) / A));
        if (f > most + 1e-12) fail_msg("P %.2f A %.4f: 0.4 -> %.4f, more than %.4f", P, A, f, most);
        assert_true(f > 0.4);
    }
}

/* The smoothed pressure lags a falling load: when it is barely under the
 * band but the latest value is far under it, the raise is sized by the
 * latest value's room, not by the smoothed pressure's. */
static void test_a_raise_is_sized_by_the_room_the_latest_value_shows_when_the_smoothed_pressure_lags(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.3);
    r.p.calm_ms = 0;
    r.p.smoothing_ms = 600000;
    r.st.has_reading = 1;
    r.st.smoothed = 0.89; /* just under the band's edge, 0.9 */
    r.st.last_tick_ms = r.now;
    step(&r, 0.3);
    assert_int_equal(r.d.action, SLUICE_LAW_RAISE);
    assert_true(r.d.acted > 0.88 && r.d.acted < 0.9);
    /* room 0.9 - 0.3 >= raise_span: the full additive step */
    assert_float_equal(F(&r, C_HIGH), 0.3 + r.p.increase, 1e-9);
    assert_true(F(&r, C_NORMAL) == 0.3);
}

/* After a raise the next raise waits raise_dwell_ms (longer than the
 * dwell here); a cut does not wait for it. */
static void test_a_raise_follows_a_raise_only_after_the_raise_dwell_but_a_cut_does_not_wait_for_it(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.1);
    r.p.raise_dwell_ms = 20000;
    for (int t = 0; t < 60 && r.raises < 3; t++) step(&r, 0.3);
    assert_int_equal(r.raises, 3);
    assert_int_equal(r.min_gap, r.p.raise_dwell_ms);
    /* a cut after a raise waits only for the dwell */
    rig_init(&r);
    set_all(&r, 0.1);
    r.p.raise_dwell_ms = 20000;
    while (r.raises == 0) step(&r, 0.3);
    int64_t raised_at = r.now;
    while (r.now - raised_at < r.p.dwell_ms) step(&r, 0.3);
    step(&r, 1.5);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(r.now - raised_at < r.p.raise_dwell_ms);
}

/* Pressure that holds inside the band is left there until creep_ms have
 * passed since the last change; then raises use the narrower creep_band,
 * one at most per creep_ms while the pressure stays inside the band. */
static void test_pressure_held_inside_the_band_for_creep_ms_is_raised_toward_the_target(void **unused) {
    rig r;
    int64_t cut_at, raised_at;
    (void)unused;
    rig_init(&r);
    r.p.creep_ms = 30000;
    r.p.creep_band = 0.02;
    step(&r, 1.2); /* a cut: the last change */
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    cut_at = r.now;
    while (r.raises == 0 && r.now - cut_at < 120000) step(&r, 0.95); /* inside the band, 0.9..1 */
    assert_int_equal(r.raises, 1);
    raised_at = r.now;
    assert_true(raised_at - cut_at >= r.p.creep_ms);
    assert_true(raised_at - cut_at <= r.p.creep_ms + r.p.calm_ms + r.p.tick_ms);
    assert_true(F(&r, C_LOW_A) > 0.5);
    while (r.raises == 1 && r.now - raised_at < 120000) step(&r, 0.95);
    assert_int_equal(r.raises, 2);
    assert_true(r.now - raised_at >= r.p.creep_ms);
    /* without creep_ms the same pressure holds for good */
    rig_init(&r);
    step(&r, 1.2);
    for (int t = 0; t < 300; t++) step(&r, 0.95);
    assert_int_equal(r.raises, 0);
    /* nor does a creep raise past the narrower band */
    rig_init(&r);
    r.p.creep_ms = 30000;
    r.p.creep_band = 0.02;
    step(&r, 1.2);
    for (int t = 0; t < 300; t++) step(&r, 0.99);
    assert_int_equal(r.raises, 0);
}

/* A cut or raise that would move no class by snap (1% of its limits) or
 * more is noise: it is not made, and does not restart the dwell. */
static void test_a_change_smaller_than_snap_is_not_made(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.cut_gain = 0.1;
    step(&r, 1.02); /* a cut by 0.2% */
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_int_equal(r.changes, 0);
    assert_false(r.st.has_change);
    assert_non_null(strstr(r.d.summary, "would move no class"));
    step(&r, 1.3); /* a real one is made at once */
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
}

/* A raise needs the latest value, not only the smoothed one, below the
 * band; a cut needs it over target. */
static void test_the_latest_value_must_agree_with_the_smoothed_pressure_before_a_change(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.5);
    r.p.smoothing_ms = 60000;
    r.p.jump = 10;
    r.p.dwell_ms = r.p.calm_ms = 0;
    step(&r, 0.3);
    assert_int_equal(r.raises, 1); /* nothing else holds a raise back */
    int raises = r.raises;
    step(&r, 0.95); /* smoothed still far below the band, the value is not */
    assert_true(r.d.acted < 1.0 - r.p.band);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_int_equal(r.raises, raises);
    assert_non_null(strstr(r.d.summary, "latest value"));
    for (int t = 0; t < 200; t++) step(&r, 1.5);
    int changes = r.changes;
    step(&r, 0.6); /* smoothed still over target, the value is under it */
    assert_true(r.d.acted > 1.0);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_int_equal(r.changes, changes);
    assert_non_null(strstr(r.d.summary, "back under its target"));
}

/* ================================================================ real signals */

/* A rig with one low class and one signal "db.iops": target 0.75, critical
 * 0.95, stale after 600 s, as an operator would define it. */
static void db_iops_rig(rig *r) {
    rig_init(r);
    r->sig[0].name = "db.iops";
    r->sig[0].target = 0.75;
    r->sig[0].critical = 0.95;
    r->sig[0].stale_after_ms = 600000;
    r->cls[C_HIGH].tier = r->cls[C_NORMAL].tier = r->cls[C_LOW_B].tier = SLUICE_TIER_CRITICAL;
    r->cls[C_LOW_A].floor = 0.1;
}

/* Pushes "value" once at the current time: from now on it stands and ages. */
static void push(rig *r, double value, int64_t *pushed_at) {
    r->sig[0].has_value = 1;
    r->sig[0].value = value;
    *pushed_at = r->now;
}

/* Ticks with the value that stands, aging since it was pushed. */
static void tick_standing(rig *r, int64_t pushed_at) {
    r->sig[0].age_ms = r->now + r->p.tick_ms - pushed_at;
    tick(r);
}

/* Every summary that says "over its target" is about a value over it. */
static void assert_no_false_over(const rig *r) {
    if (strstr(r->d.summary, "over its target") && r->sig[0].value <= r->sig[0].target)
        fail_msg("value %g under target %g, yet: %s", r->sig[0].value, r->sig[0].target, r->d.summary);
}

/* 0.99 pushed, then 0.3 pushed once: the value that stands is smoothed over
 * time, so the class is back to full within 30 s with no further push (a
 * mean over reports would count one report and hold for ever). */
static void test_a_value_pushed_once_at_0_3_after_0_99_brings_a_class_back_to_full_within_30s(void **unused) {
    rig r;
    int64_t at;
    (void)unused;
    db_iops_rig(&r);
    push(&r, 0.99, &at);
    for (int t = 0; t < 6; t++) tick_standing(&r, at);
    assert_true(is_at_floor(&r, C_LOW_A));
    push(&r, 0.3, &at);
    int64_t pushed = at;
    while (F(&r, C_LOW_A) < 1.0 && r.now - pushed < 120000) {
        tick_standing(&r, at);
        assert_no_false_over(&r);
    }
    if (r.now - pushed > 30000) fail_msg("back to full after %lld ms", (long long)(r.now - pushed));
    assert_true(F(&r, C_LOW_A) == 1.0);
}

/* SELECT 1 latency with target 2 ms and critical 20 ms: a database at rest
 * answers in 1 ms, half its target, which is pressure 0.5 whatever the
 * critical level (as a share of the target-to-critical span it would be
 * 0.94, inside the band), and a class cut to its floor is raised within
 * 10 s. */
static void test_a_value_of_half_its_target_raises_a_class_at_its_floor_whatever_its_critical(void **unused) {
    rig r;
    int64_t at;
    (void)unused;
    db_iops_rig(&r);
    r.sig[0].name = "pg_select1_ms";
    r.sig[0].target = 2;
    r.sig[0].critical = 20;
    push(&r, 25, &at);
    tick_standing(&r, at);
    assert_true(is_at_floor(&r, C_LOW_A));
    for (int t = 0; t < 5; t++) tick_standing(&r, at); /* the dwell since the drop */
    push(&r, 1, &at);
    int64_t pushed = at;
    while (r.raises == 0 && r.now - pushed < 10000) tick_standing(&r, at);
    assert_float_equal(r.d.pressure, 0.5, 1e-12);
    assert_int_equal(r.raises, 1);
    assert_true(F(&r, C_LOW_A) > r.cls[C_LOW_A].floor);
}

static void test_pressure_below_target_is_a_share_of_the_target_and_above_it_of_the_span(void **unused) {
    sluice_law_signal s;
    (void)unused;
    memset(&s, 0, sizeof s);
    s.name = "lat";
    s.target = 2;
    s.critical = 20;
    assert_float_equal(sluice_law_pressure(&s, 2), 1.0, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 1), 0.5, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 0), 0.0, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 11), 1.5, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 20), 2.0, 1e-12);
    for (double v = -3; v < 30; v += 0.37) /* and value_at is its inverse */
        assert_float_equal(sluice_law_value_at(&s, sluice_law_pressure(&s, v)), v, 1e-9);
    s.lower_is_worse = 1; /* burst balance: target 50, critical 20 */
    s.target = 50;
    s.critical = 20;
    assert_float_equal(sluice_law_pressure(&s, 55), 0.9, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 35), 1.5, 1e-12);
    s.lower_is_worse = 0; /* a target of 0: the span is the scale */
    s.target = 0;
    s.critical = 10;
    assert_float_equal(sluice_law_pressure(&s, -5), 0.5, 1e-12);
    assert_float_equal(sluice_law_pressure(&s, 5), 1.5, 1e-12);
}

static void test_thresholds_are_stated_in_the_signals_own_units(void **unused) {
    sluice_law_signal s;
    sluice_law_thresholds t;
    sluice_law_params p;
    char text[SLUICE_LAW_THRESHOLDS_TEXT];
    (void)unused;
    memset(&s, 0, sizeof s);
    s.name = "pg_select1_ms";
    s.target = 2;
    s.critical = 20;
    assert_int_equal(sluice_law_signal_thresholds(NULL, &s, &t, text, sizeof text, NULL), 0);
    assert_float_equal(t.raise_at, 1.8, 1e-12); /* band 0.1: 90% of the target */
    assert_float_equal(t.cut_at, 2, 1e-12);
    assert_float_equal(t.critical_at, 20, 1e-12);
    assert_string_equal(text, "raise below 1.8, cut above 2, floors at 20");
    s.lower_is_worse = 1;
    s.target = 50;
    s.critical = 20;
    sluice_law_params_default(&p);
    p.band = 0.2;
    assert_int_equal(sluice_law_signal_thresholds(&p, &s, &t, text, sizeof text, NULL), 0);
    assert_float_equal(t.raise_at, 60, 1e-12);
    assert_string_equal(text, "raise above 60, cut below 50, floors at 20");
    /* the law acts where the words say */
    rig r;
    rig_init(&r);
    set_all(&r, 0.5);
    r.sig[0].target = 2;
    r.sig[0].critical = 20;
    r.sig[0].value = 1.81;
    for (int i = 0; i < 30; i++) tick(&r);
    assert_int_equal(r.changes, 0);
    r.sig[0].value = 1.7;
    for (int i = 0; i < 30; i++) tick(&r);
    assert_true(r.raises > 0);
    /* bad input is refused */
    s.critical = s.target;
    assert_int_equal(sluice_law_signal_thresholds(NULL, &s, &t, text, sizeof text, NULL), -1);
}

/* A value that stands (no period declared) leaves only the dwell between
 * changes: the law never waits for a report that will not come. */
static void test_a_value_that_stands_is_never_waited_for_beyond_the_dwell(void **unused) {
    rig r;
    int64_t at;
    (void)unused;
    db_iops_rig(&r);
    r.cls[C_LOW_A].fraction = 0.1;
    push(&r, 0.2, &at);
    for (int t = 0; t < 60; t++) tick_standing(&r, at);
    assert_true(F(&r, C_LOW_A) == 1.0);
    assert_true(r.raises >= 3);
    assert_true(r.min_gap >= r.p.dwell_ms && r.min_gap < r.p.dwell_ms + 2 * r.p.tick_ms);
}

/* A signal that declares its period: after a change the law waits for a
 * value observed after it, or one period, whichever comes first. */
static void test_with_a_declared_period_the_wait_after_a_change_is_at_most_one_period(void **unused) {
    rig r;
    int64_t at;
    (void)unused;
    db_iops_rig(&r);
    r.cls[C_LOW_A].fraction = 0.1;
    r.sig[0].period_ms = 15000;
    push(&r, 0.2, &at);
    for (int t = 0; t < 120; t++) tick_standing(&r, at); /* no newer value ever comes */
    assert_true(r.raises >= 3);
    assert_true(r.min_gap >= r.sig[0].period_ms && r.min_gap < r.sig[0].period_ms + 2 * r.p.tick_ms);
    /* a value observed after the change ends the wait at once (after the dwell) */
    rig_init(&r);
    set_all(&r, 0.1);
    r.sig[0].period_ms = 15000;
    for (int t = 0; t < 120; t++) step(&r, 0.2);
    assert_true(r.min_gap >= r.p.dwell_ms && r.min_gap < r.sig[0].period_ms);
}

/* Decisions report the raw value and the pressure acted on, and never call
 * a value under its target over it, whatever the sequence. */
static void test_a_decision_never_says_over_target_about_a_value_under_it(void **unused) {
    rig r;
    uint32_t seed = 777;
    (void)unused;
    db_iops_rig(&r);
    r.sig[0].stale_after_ms = 5000;
    for (int t = 0; t < 5000; t++) {
        uint32_t x = lcg(&seed);
        r.sig[0].has_value = x % 40 != 0;
        r.sig[0].value = 0.2 + 0.9 * (double)(lcg(&seed) % 1000) / 1000.0;
        r.sig[0].age_ms = x % 7 == 0 ? 9000 : 0;
        tick(&r);
        assert_no_false_over(&r);
        if (r.d.driver && !r.d.driver_stale) {
            char v[32];
            snprintf(v, sizeof v, "at %.4g", r.sig[0].value);
            if (!strstr(r.d.summary, v)) fail_msg("summary without the value %s: %s", v, r.d.summary);
        }
    }
}

/* ================================================================ work waiting */

/* A fraction f after one raise far below the band (pressure 0.1). */
static double far_raise(const rig *r, double f) {
    return fmax(f + r->p.increase, f * r->p.growth);
}

/* Runs calm ticks (pressure 0.1) until the law raises once. */
static void until_a_raise(rig *r) {
    for (int t = 0; t < 30 && r->raises == 0; t++) step(r, 0.1);
    assert_int_equal(r->raises, 1);
}

static void test_a_raise_skips_an_idle_higher_tier_for_a_lower_tier_with_work_waiting(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.3);
    r.cls[C_HIGH].waiting = 0;
    r.cls[C_NORMAL].waiting = 0;
    r.cls[C_LOW_A].waiting = 5000;
    r.cls[C_LOW_B].waiting = 0;
    until_a_raise(&r);
    /* the whole low tier is raised: one tier at a time, as before */
    assert_float_equal(F(&r, C_LOW_A), far_raise(&r, 0.3), 1e-9);
    assert_float_equal(F(&r, C_LOW_B), far_raise(&r, 0.3), 1e-9);
    assert_true(F(&r, C_HIGH) == 0.3);
    assert_true(F(&r, C_NORMAL) == 0.3);
    assert_non_null(strstr(r.d.summary, "raise low tier"));
    assert_non_null(strstr(r.d.summary, "nothing waiting"));
    assert_non_null(strstr(r.cls[C_HIGH].reason, "nothing waiting"));
    assert_non_null(strstr(r.cls[C_LOW_A].reason, "raised"));
    /* once work waits for the higher tier, it recovers first again */
    r.cls[C_NORMAL].waiting = 1;
    for (int t = 0; t < 30 && r.raises == 1; t++) step(&r, 0.1);
    assert_int_equal(r.raises, 2);
    assert_float_equal(F(&r, C_NORMAL), far_raise(&r, 0.3), 1e-9);
    assert_float_equal(F(&r, C_LOW_A), far_raise(&r, 0.3), 1e-9);
    assert_true(F(&r, C_HIGH) == 0.3);
}

static void test_with_nothing_waiting_anywhere_the_highest_tier_below_one_is_raised_first(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.3); /* rig_init leaves every waiting at 0 */
    until_a_raise(&r);
    assert_float_equal(F(&r, C_HIGH), far_raise(&r, 0.3), 1e-9);
    assert_true(F(&r, C_NORMAL) == 0.3);
    assert_true(F(&r, C_LOW_A) == 0.3);
    assert_null(strstr(r.d.summary, "nothing waiting"));
    /* a tier with work waiting but already at 1 does not hold idle ones back:
     * everything still returns to full admission */
    rig_init(&r);
    set_all(&r, 0.3);
    r.cls[C_LOW_A].fraction = r.cls[C_LOW_B].fraction = 1.0;
    r.cls[C_LOW_A].waiting = 100;
    until_a_raise(&r);
    assert_float_equal(F(&r, C_HIGH), far_raise(&r, 0.3), 1e-9);
    for (int t = 0; t < 2000; t++) step(&r, 0.1);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(F(&r, i) == 1.0);
}

static void test_unknown_waiting_counts_as_work_waiting_so_callers_that_do_not_know_keep_the_old_order(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    set_all(&r, 0.3);
    for (int i = 0; i < NCLS; i++) r.cls[i].waiting = -1;
    until_a_raise(&r);
    assert_float_equal(F(&r, C_HIGH), far_raise(&r, 0.3), 1e-9);
    assert_true(F(&r, C_LOW_A) == 0.3);
    /* an unknown higher tier is not skipped for a lower one with work */
    rig_init(&r);
    set_all(&r, 0.3);
    r.cls[C_HIGH].waiting = 0;
    r.cls[C_NORMAL].waiting = -1;
    r.cls[C_LOW_A].waiting = 10;
    until_a_raise(&r);
    assert_float_equal(F(&r, C_NORMAL), far_raise(&r, 0.3), 1e-9);
    assert_true(F(&r, C_HIGH) == 0.3);
    assert_true(F(&r, C_LOW_A) == 0.3);
}

static void test_cuts_ignore_work_waiting_and_shed_the_lowest_tier_first(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.cls[C_HIGH].waiting = 100;
    r.cls[C_NORMAL].waiting = 100;
    r.cls[C_LOW_A].waiting = 0;
    r.cls[C_LOW_B].waiting = 0;
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(F(&r, C_LOW_A) < 1.0);
    assert_true(F(&r, C_LOW_B) < 1.0);
    assert_true(F(&r, C_NORMAL) == 1.0);
    assert_true(F(&r, C_HIGH) == 1.0);
}

/* ================================================================ idle classes */

static void test_a_class_idle_for_idle_ms_keeps_only_its_floor_while_over_target(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.idle_ms = 60000;
    set_all(&r, 0.6);
    r.cls[C_NORMAL].idle_ms = 60000;
    r.cls[C_HIGH].idle_ms = 59999;
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_true(is_at_floor(&r, C_NORMAL));
    assert_non_null(strstr(r.cls[C_NORMAL].reason, "no work for 60 s while over target"));
    assert_true(F(&r, C_HIGH) == 0.6);
    assert_true(F(&r, C_LOW_A) < 0.6);
    assert_int_equal(r.d.changed, 3);
    /* inside the band and below it, an idle class is left where it is */
    set_all(&r, 0.6);
    r.st = (sluice_law_state){0};
    sluice_law_state_init(&r.st);
    step(&r, 0.95);
    assert_true(F(&r, C_NORMAL) == 0.6);
    /* with idle_ms 0 (the default) idleness is ignored */
    rig_init(&r);
    set_all(&r, 0.6);
    r.cls[C_NORMAL].idle_ms = 86400000;
    step(&r, 1.2);
    assert_true(F(&r, C_NORMAL) == 0.6);
}

static void test_a_cut_passes_over_a_tier_whose_only_room_is_in_idle_classes(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.idle_ms = 1000;
    set_all(&r, 0.6);
    r.cls[C_LOW_A].idle_ms = r.cls[C_LOW_B].idle_ms = 5000;
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    assert_non_null(strstr(r.d.summary, "cut normal tier"));
    assert_true(F(&r, C_NORMAL) < 0.6);
    assert_true(is_at_floor(&r, C_LOW_A));
    assert_true(is_at_floor(&r, C_LOW_B));
}

static void test_idle_classes_are_raised_as_before_once_pressure_is_below_the_band(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.idle_ms = 1000;
    set_all(&r, 0.3);
    for (int i = C_HIGH; i < NCLS; i++) r.cls[i].idle_ms = 600000;
    until_a_raise(&r);
    assert_float_equal(F(&r, C_HIGH), far_raise(&r, 0.3), 1e-9);
    for (int t = 0; t < 2000; t++) step(&r, 0.1);
    for (int i = C_HIGH; i < NCLS; i++) assert_true(F(&r, i) == 1.0);
}

/* ================================================================ reversals */

/* A cut at 1.2, then calm at 0.3 until the law raises: that raise reverses
 * the cut. Returns when it has. */
static void cut_then_raise(rig *r) {
    step(r, 1.2);
    assert_int_equal(r->d.action, SLUICE_LAW_CUT);
    for (int t = 0; t < 60 && r->d.action != SLUICE_LAW_RAISE; t++) step(r, 0.3);
    assert_int_equal(r->d.action, SLUICE_LAW_RAISE);
    assert_int_equal(r->st.has_reversal, 1);
    assert_true(r->st.last_reversal_ms == r->now);
}

static void test_within_the_reversal_dwell_only_a_clear_overshoot_cuts_after_a_raise(void **unused) {
    rig r;
    double before[NCLS];
    (void)unused;
    rig_init(&r);
    r.p.reversal_dwell_ms = 600000;
    cut_then_raise(&r);
    for (int i = 0; i < NCLS; i++) before[i] = F(&r, i);
    /* just over target (under 1 + escalate): held, and the hold says why */
    for (int t = 0; t < 120; t++) step(&r, 1.0 + r.p.escalate / 2);
    assert_int_equal(r.d.action, SLUICE_LAW_HOLD);
    assert_non_null(strstr(r.d.summary, "a raise reversed a cut"));
    assert_non_null(strstr(r.d.summary, "a cut now needs iops_util over 105"));
    for (int i = 0; i < NCLS; i++) assert_true(F(&r, i) == before[i]);
    /* a clear overshoot cuts at once */
    step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);

    /* without the dwell, the same small overshoot cuts */
    rig_init(&r);
    cut_then_raise(&r);
    for (int t = 0; t < 120 && r.d.action != SLUICE_LAW_CUT; t++) step(&r, 1.0 + r.p.escalate / 2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);

    /* and once the dwell has passed, it cuts too */
    rig_init(&r);
    r.p.reversal_dwell_ms = 60000;
    cut_then_raise(&r);
    for (int t = 0; t < 60; t++) step(&r, 0.95);
    for (int t = 0; t < 120 && r.d.action != SLUICE_LAW_CUT; t++) step(&r, 1.0 + r.p.escalate / 2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
}

static void test_within_the_reversal_dwell_only_room_of_raise_span_raises_after_a_cut(void **unused) {
    rig r;
    (void)unused;
    rig_init(&r);
    r.p.reversal_dwell_ms = 600000;
    cut_then_raise(&r);
    /* a clear overshoot cuts once the dwell allows: a second reversal */
    for (int t = 0; t < 30 && r.d.action != SLUICE_LAW_CUT; t++) step(&r, 1.2);
    assert_int_equal(r.d.action, SLUICE_LAW_CUT);
    int64_t cut_at = r.now;
    assert_true(r.st.last_reversal_ms == cut_at);
    /* under the band (0.9) but with less room than raise_span (0.3) below
     * it: held */
    for (int t = 0; t < 120; t++) step(&r, 0.8);
    assert_true(r.st.last_change_ms == cut_at);
    assert_non_null(strstr(r.d.summary, "a cut reversed a raise"));
    assert_non_null(strstr(r.d.summary, "a raise now needs iops_util under 60"));
    /* room enough: raised */
    for (int t = 0; t < 60 && r.d.action != SLUICE_LAW_RAISE; t++) step(&r, 0.5);
    assert_int_equal(r.d.action, SLUICE_LAW_RAISE);

    /* without the dwell, 0.8 raises */
    rig_init(&r);
    cut_then_raise(&r);
    for (int t = 0; t < 30 && r.d.action != SLUICE_LAW_CUT; t++) step(&r, 1.2);
    for (int t = 0; t < 120 && r.d.action != SLUICE_LAW_RAISE; t++) step(&r, 0.8);
    assert_int_equal(r.d.action, SLUICE_LAW_RAISE);
}

/* ================================================================ deadline lift */

static void test_deadline_samples_are_spread_evenly_up_to_the_last_entry(void **unused) {
    (void)unused;
    int64_t totals[] = {1, 2, 15, 16, 17, 1000, 20000, INT64_MAX};
    for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
        int64_t total = totals[t], last = -1;
        for (int i = 0; i < SLUICE_DEADLINE_SAMPLES; i++) {
            int64_t at = sluice_deadline_sample_index(total, i);
            assert_true(at >= 0 && at < total);
            assert_true(at >= last);
            /* within one entry of (i + 1) / SAMPLES of the way */
            assert_true(fabs((double)(at + 1) - (double)total * (i + 1) / SLUICE_DEADLINE_SAMPLES) <=
                        1.0 + 1e-6 * (double)total);
            last = at;
        }
        assert_true(last == total - 1);
    }
    assert_int_equal(sluice_deadline_sample_index(1000, 0), 61);
    assert_int_equal(sluice_deadline_sample_index(16, 3), 3);
    assert_int_equal(sluice_deadline_sample_index(0, 5), 0);
}

static void test_a_deadline_lift_admits_what_the_deadlines_need_within_the_reserve(void **unused) {
    (void)unused;
    sluice_deadline_lift l;
    /* 200 jobs due in 20 s at 40 starts a second at full admission: they
     * need 200 / (0.75 * 20) = 13.3 a second, a third of it; ten slots make
     * that four */
    sluice_deadline_entry jobs[] = {{.start_by = 21000, .ahead = 100}, {.start_by = 21000, .ahead = 200}};
    sluice_deadline_lift_compute(0.1, 0.5, 40, 10, jobs, 2, 1000, &l);
    assert_float_equal(l.need, 0.4, 1e-9);
    assert_float_equal(l.fraction, 0.4, 1e-9);
    assert_int_equal(l.miss_ms, 0);
    /* the reserve bounds the lift, and the miss is said: 6 starts a second
     * start the 200th after 33.3 s, 13.3 s late */
    sluice_deadline_lift_compute(0.1, 0.05, 40, 0, jobs, 2, 1000, &l);
    assert_float_equal(l.fraction, 0.15, 1e-9);
    assert_true(l.miss_ms >= 13333 && l.miss_ms <= 13334);
    /* a law above the need is left alone */
    sluice_deadline_lift_compute(0.6, 0.5, 40, 10, jobs, 2, 1000, &l);
    assert_float_equal(l.fraction, 0.6, 1e-9);
    /* a job already late, or a rate not yet measured, takes the whole
     * reserve, never past 1 */
    sluice_deadline_entry late[] = {{.start_by = 900, .ahead = 1}};
    sluice_deadline_lift_compute(0.1, 0.3, 40, 10, late, 1, 1000, &l);
    assert_float_equal(l.fraction, 0.4, 1e-9);
    sluice_deadline_lift_compute(0.8, 0.3, 0, 10, jobs, 2, 1000, &l);
    assert_float_equal(l.fraction, 1.0, 1e-9);
    assert_float_equal(l.need, 1.0, 1e-9);
    /* no deadline, no lift */
    sluice_deadline_lift_compute(0.1, 0.3, 40, 10, NULL, 0, 1000, &l);
    assert_float_equal(l.fraction, 0.1, 1e-9);
    /* the share a fraction admits: whole slots, or below one its duty cycle */
    assert_float_equal(sluice_deadline_effective(0.25, 10), 0.2, 1e-9);
    assert_float_equal(sluice_deadline_effective(0.05, 10), 0.05, 1e-9);
    assert_float_equal(sluice_deadline_effective(0.25, 0), 0.25, 1e-9);
}

static void test_a_v1_state_from_a_running_leader_is_decoded_and_smoothing_starts_afresh(void **unused) {
    sluice_law_state st;
    rig r;
    (void)unused;
    const char *v1 = "{\"v\":1,\"ticks\":28,\"last_tick_ms\":28000,\"has_change\":true,"
                     "\"last_change_ms\":26000,\"last_action\":\"raise\",\"last_pressure\":0.33,"
                     "\"calm\":true,\"calm_since_ms\":16000}";
    memset(&st, 0x5a, sizeof st);
    assert_int_equal(sluice_law_state_decode(v1, &st, NULL), 0);
    assert_true(st.ticks == 28);
    assert_int_equal(st.last_action, SLUICE_LAW_RAISE);
    assert_int_equal(st.has_reading, 0);
    assert_true(st.smoothed == 0);
    /* and the law runs on from it: the dwell since the raise still counts */
    rig_init(&r);
    set_all(&r, 0.5);
    r.st = st;
    r.now = 27000;
    r.last_change = 26000;
    for (int t = 0; t < 10; t++) step(&r, 0.3);
    assert_true(r.min_gap >= r.p.dwell_ms);
    assert_true(r.raises >= 1);
    /* a version the law does not know is refused */
    char v3[512];
    snprintf(v3, sizeof v3, "%s", v1);
    v3[5] = '9';
    assert_int_equal(sluice_law_state_decode(v3, &st, NULL), -1);
}

static void test_the_widest_state_fits_the_documented_buffer(void **unused) {
    sluice_law_state st;
    char buf[SLUICE_LAW_STATE_JSON];
    (void)unused;
    sluice_law_state_init(&st);
    st.ticks = INT64_MAX;
    st.last_tick_ms = INT64_MIN;
    st.has_change = 1;
    st.last_change_ms = INT64_MIN;
    st.last_action = SLUICE_LAW_CRITICAL;
    st.last_pressure = -1.2345678901234567e-300;
    st.calm = 1;
    st.calm_since_ms = INT64_MIN;
    st.has_reading = 1;
    st.smoothed = -9.8765432109876543e8;
    st.has_reversal = 1;
    st.last_reversal_ms = INT64_MIN;
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), 0);
    assert_true(strlen(buf) <= 352);
    assert_non_null(strstr(buf, "\"v\":3"));
    st.smoothed = NAN;
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), -1);
    st.smoothed = 0;
    st.has_reading = 2;
    assert_int_equal(sluice_law_state_encode(&st, buf, sizeof buf, NULL), -1);
}

static void test_new_params_out_of_range_are_rejected_naming_them(void **unused) {
    sluice_law_params p, d;
    sluice_error lerr;
    (void)unused;
    sluice_law_params_default(&d);
    BAD(smoothing_ms, -1, "smoothing_ms");
    BAD(smoothing_ms, 86400001, "smoothing_ms");
    BAD(growth, 0.5, "growth");
    BAD(growth, 17, "growth");
    BAD(growth, NAN, "growth");
    BAD(jump, -0.1, "jump");
    BAD(jump, INFINITY, "jump");
    BAD(cut_gain, -1, "cut_gain");
    BAD(raise_span, -1, "raise_span");
    BAD(raise_span, NAN, "raise_span");
    BAD(calm_ms, -1, "calm_ms");
    BAD(raise_dwell_ms, -1, "raise_dwell_ms");
    BAD(raise_dwell_ms, 86400001, "raise_dwell_ms");
    BAD(creep_ms, -1, "creep_ms");
    BAD(creep_ms, 86400001, "creep_ms");
    BAD(creep_band, 1, "creep_band");
    BAD(creep_band, -0.1, "creep_band");
    BAD(creep_band, NAN, "creep_band");
    BAD(idle_ms, -1, "idle_ms");
    BAD(idle_ms, 86400001, "idle_ms");
    BAD(reversal_dwell_ms, -1, "reversal_dwell_ms");
    BAD(reversal_dwell_ms, 86400001, "reversal_dwell_ms");
    p = d;
    p.smoothing_ms = 0;
    p.growth = 1;
    p.jump = 0;
    p.cut_gain = 0;
    p.raise_span = 0;
    p.calm_ms = 0;
    p.raise_dwell_ms = 86400000;
    assert_int_equal(sluice_law_params_check(&p, &lerr), 0);
}

/* ================================================================ main */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_step_over_target_cuts_the_lowest_tier_first_and_leaves_higher_tiers_and_critical_alone),
        cmocka_unit_test(test_tiers_are_cut_low_then_normal_then_high_only_after_lower_tiers_are_at_their_floors),
        cmocka_unit_test(test_floors_hold_under_pressure_that_never_clears),
        cmocka_unit_test(test_a_step_over_critical_drops_every_noncritical_class_to_its_floor_in_one_tick),
        cmocka_unit_test(test_the_critical_drop_is_not_delayed_by_the_dwell),
        cmocka_unit_test(test_critical_classes_are_never_throttled_even_when_handed_a_lower_fraction),
        cmocka_unit_test(test_the_first_cut_after_a_calm_period_happens_on_the_tick_that_crosses_target),
        cmocka_unit_test(test_a_cut_within_the_dwell_needs_pressure_worse_than_at_the_last_cut),
        cmocka_unit_test(test_oscillation_around_target_for_60s_changes_at_most_once_per_dwell),
        cmocka_unit_test(test_oscillation_across_the_band_never_raises_and_changes_at_most_once_per_dwell),
        cmocka_unit_test(test_pressure_inside_the_band_holds),
        cmocka_unit_test(test_recovery_ramps_gradually_highest_tier_first),
        cmocka_unit_test(test_a_raise_never_jumps_a_low_fraction_straight_to_full),
        cmocka_unit_test(test_no_signal_at_all_leaves_the_law_free_to_raise),
        cmocka_unit_test(test_a_stale_signal_with_assume_pressure_moves_classes_toward_their_floors),
        cmocka_unit_test(test_a_stale_signal_with_hold_neither_cuts_nor_raises),
        cmocka_unit_test(test_a_stale_hold_signal_does_not_block_a_cut_driven_by_another_signal),
        cmocka_unit_test(test_a_stale_signal_with_ignore_is_left_out),
        cmocka_unit_test(test_a_never_reported_signal_counts_as_stale),
        cmocka_unit_test(test_a_lower_is_worse_signal_cuts_as_its_value_falls_below_target),
        cmocka_unit_test(test_the_worst_signal_drives_and_is_named),
        cmocka_unit_test(test_a_fraction_outside_floor_and_one_is_clamped_into_it),
        cmocka_unit_test(test_a_clock_that_steps_back_restarts_the_dwell_instead_of_blocking_forever),
        cmocka_unit_test(test_random_pressure_keeps_fractions_in_bounds_and_changes_only_as_the_dwell_allows),
        cmocka_unit_test(test_invalid_input_returns_minus_one_and_modifies_nothing),
        cmocka_unit_test(test_params_defaults_pass_their_check_and_out_of_range_params_are_rejected),
        cmocka_unit_test(test_names_and_parsers_round_trip_and_reject_unknown_words),
        cmocka_unit_test(test_state_encode_decode_round_trips_exactly),
        cmocka_unit_test(test_a_new_leader_with_the_decoded_state_decides_exactly_as_the_old_one_would),
        cmocka_unit_test(test_state_decode_rejects_garbage_and_truncated_json_without_crashing),
        cmocka_unit_test(test_state_encode_fails_cleanly_when_the_buffer_is_too_small),
        cmocka_unit_test(test_a_single_noisy_reading_over_target_does_not_cut_but_a_sustained_one_does),
        cmocka_unit_test(test_a_reading_far_above_the_smoothed_pressure_is_taken_at_once),
        cmocka_unit_test(test_a_critical_reading_drops_to_floors_at_once_whatever_the_smoothed_pressure),
        cmocka_unit_test(test_after_a_change_the_law_waits_for_a_reading_observed_after_it),
        cmocka_unit_test(test_a_delayed_signal_also_delays_the_next_raise_until_it_shows_the_last_one),
        cmocka_unit_test(test_cuts_are_proportional_to_the_overshoot_and_never_deeper_than_decrease),
        cmocka_unit_test(test_raise_steps_are_sized_by_the_headroom_below_the_band),
        cmocka_unit_test(test_a_raise_is_sized_by_the_room_the_latest_value_shows_when_the_smoothed_pressure_lags),
        cmocka_unit_test(test_a_raise_follows_a_raise_only_after_the_raise_dwell_but_a_cut_does_not_wait_for_it),
        cmocka_unit_test(test_pressure_held_inside_the_band_for_creep_ms_is_raised_toward_the_target),
        cmocka_unit_test(test_a_class_idle_for_idle_ms_keeps_only_its_floor_while_over_target),
        cmocka_unit_test(test_within_the_reversal_dwell_only_a_clear_overshoot_cuts_after_a_raise),
        cmocka_unit_test(test_within_the_reversal_dwell_only_room_of_raise_span_raises_after_a_cut),
        cmocka_unit_test(test_a_cut_passes_over_a_tier_whose_only_room_is_in_idle_classes),
        cmocka_unit_test(test_idle_classes_are_raised_as_before_once_pressure_is_below_the_band),
        cmocka_unit_test(test_a_deadline_lift_admits_what_the_deadlines_need_within_the_reserve),
        cmocka_unit_test(test_deadline_samples_are_spread_evenly_up_to_the_last_entry),
        cmocka_unit_test(test_a_v1_state_from_a_running_leader_is_decoded_and_smoothing_starts_afresh),
        cmocka_unit_test(test_the_widest_state_fits_the_documented_buffer),
        cmocka_unit_test(test_new_params_out_of_range_are_rejected_naming_them),
        cmocka_unit_test(test_a_raise_skips_an_idle_higher_tier_for_a_lower_tier_with_work_waiting),
        cmocka_unit_test(test_with_nothing_waiting_anywhere_the_highest_tier_below_one_is_raised_first),
        cmocka_unit_test(test_unknown_waiting_counts_as_work_waiting_so_callers_that_do_not_know_keep_the_old_order),
        cmocka_unit_test(test_cuts_ignore_work_waiting_and_shed_the_lowest_tier_first),
        cmocka_unit_test(test_a_value_pushed_once_weighs_as_much_as_one_re_pushed_every_second),
        cmocka_unit_test(test_the_smoothing_follows_the_time_between_ticks),
        cmocka_unit_test(test_noise_around_target_is_not_read_as_over_it),
        cmocka_unit_test(test_a_raise_is_bounded_by_growth_and_by_the_room_below_the_band),
        cmocka_unit_test(test_a_change_smaller_than_snap_is_not_made),
        cmocka_unit_test(test_the_latest_value_must_agree_with_the_smoothed_pressure_before_a_change),
        cmocka_unit_test(test_recovery_from_the_floor_to_full_takes_at_most_30s_at_pressure_0_5),
        cmocka_unit_test(test_a_value_pushed_once_at_0_3_after_0_99_brings_a_class_back_to_full_within_30s),
        cmocka_unit_test(test_a_value_of_half_its_target_raises_a_class_at_its_floor_whatever_its_critical),
        cmocka_unit_test(test_pressure_below_target_is_a_share_of_the_target_and_above_it_of_the_span),
        cmocka_unit_test(test_thresholds_are_stated_in_the_signals_own_units),
        cmocka_unit_test(test_a_value_that_stands_is_never_waited_for_beyond_the_dwell),
        cmocka_unit_test(test_with_a_declared_period_the_wait_after_a_change_is_at_most_one_period),
        cmocka_unit_test(test_a_decision_never_says_over_target_about_a_value_under_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
