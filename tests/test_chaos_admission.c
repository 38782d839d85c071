/* The fault battery, admission under faults: with sluice-worker processes
 * serving a critical and a low-tier class, and two more hosting the
 * governor, the pressure signal oscillates around its target, goes stale,
 * and the leading governor is killed (SIGKILL) and restarted. Critical
 * throughput must stay within 95% of its calm baseline, no low-tier job may
 * be lost, and the governor history may show at most one admission change
 * per dwell (besides the law's two documented exceptions: the drop at
 * critical, and a cut on a pressure that climbed past the last cut's).
 * SLUICE_CHAOS=long (make chaos) runs the long version. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"
#include "chaos/chaos.h"

#define NS "c"
#define DWELL_MS 5000 /* the law's default dwell, as sluice-worker runs it */
#define ESCALATE 0.05 /* the law's default escalate */
#define TARGET 0.8
#define CRITICAL 0.95

enum { CALM, OSC_FAST, OSC_SLOW, STALE };

typedef struct segment {
    long ms;
    int kind;
    int kill_governor;
} segment;

static const char *kind_name(int k) {
    return k == CALM ? "calm" : k == OSC_FAST ? "oscillating 1 s" : k == OSC_SLOW ? "oscillating 12 s" : "stale";
}

/* The signal's value "t" ms into a segment, or NAN for no report. */
static double value_at(int kind, long t) {
    switch (kind) {
    case OSC_FAST: return (t / 1000) % 2 ? 0.70 : 0.85; /* pressure 0.33 / 1.33 */
    case OSC_SLOW: return (t / 6000) % 2 ? 0.70 : 0.85;
    case STALE: return NAN;
    default: return 0.5;
    }
}

static long long acked(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    if (sluice_class_stats_get(c, cls, &st, NULL) < 0) return -1;
    return st.acked;
}

/* Each incarnation gets a name of its own: the governor lease's owner is the
 * worker's name, and a restarted process under the same --name would take
 * over its dead predecessor's lease and epoch (reported in
 * docs/reliability.md). */
static pid_t spawn_governor(const harness_redis *r, int i, char (*log)[400]) {
    static int incarnation;
    char name[32];
    snprintf(name, sizeof(name), "gov-%d-%d", i, incarnation++);
    snprintf(log[i], 400, "%s/%s.log", r->dir, name);
    const char *args[] = {"--name", name, "--concurrency", "1", "--handler", "govhost=/bin/true", NULL};
    return chaos_spawn_worker(r->url, NS, log[i], args);
}

/* Reads the governor history (oldest first) and checks the dwell. Returns
 * the number of violations; fills the counts. */
static int check_history(sluice_client *c, long long since, int *changes, int *escalations, int *criticals,
                         int *decisions, int *max_in_dwell) {
    size_t n = 0;
    sluice_error err;
    char **h = sluice_governor_history_list(c, 10000, &n, &err);
    *changes = *escalations = *criticals = *decisions = *max_in_dwell = 0;
    long long last_change = -1, times[4096];
    int nt = 0;
    double last_cut_p = -1;
    int violations = 0;
    for (size_t k = n; k-- > 0;) { /* newest first: walk backwards */
        json_error_t je;
        json_t *d = json_loads(h[k], 0, &je);
        if (!d) continue;
        long long t = json_integer_value(json_object_get(d, "t"));
        const char *action = json_string_value(json_object_get(d, "action"));
        double p = json_number_value(json_object_get(d, "pressure"));
        if (t >= since && action) {
            (*decisions)++;
            if (strcmp(action, "hold") != 0) {
                int exempt = 0;
                if (strcmp(action, "critical") == 0) {
                    exempt = 1;
                    (*criticals)++;
                } else if (strcmp(action, "cut") == 0 && last_cut_p >= 0 && p > last_cut_p + ESCALATE)
                    exempt = 1;
                if (last_change >= 0 && t - last_change < DWELL_MS) {
                    if (exempt)
                        (*escalations)++;
                    else {
                        violations++;
                        chaos_note("dwell violated: %s at %lld, %lld ms after the previous change", action, t,
                                   t - last_change);
                    }
                }
                if (!exempt && nt < 4096) times[nt++] = t;
                (*changes)++;
                last_change = t;
            }
        }
        if (action && (strcmp(action, "cut") == 0 || strcmp(action, "critical") == 0)) last_cut_p = p;
        json_decref(d);
    }
    /* the most non-exempt changes in any window of one dwell */
    for (int i = 0, j = 0; i < nt; i++) {
        while (times[i] - times[j] >= DWELL_MS) j++;
        if (i - j + 1 > *max_in_dwell) *max_in_dwell = i - j + 1;
    }
    sluice_governor_history_free(h, n);
    return violations;
}

static void under_stale_signals_a_killed_governor_and_oscillating_pressure_critical_work_keeps_its_pace(void **state) {
    (void)state;
    harness_redis r = {0};
    assert_int_equal(harness_redis_start(&r), 0);
    sluice_client *c = sluice_client_connect(r.url, NS, NULL);
    assert_non_null(c);
    sluice_error err;
    /* classes: critical, low with a floor, and the governor hosts' own */
    assert_int_equal(chaos_class(c, "crit", SLUICE_TIER_CRITICAL, 0, 10000, 0), 0);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_LOW;
    cfg.max_concurrency = 4;
    cfg.floor = 0.25;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    assert_int_equal(sluice_class_set(c, "bulk", &cfg, NULL, &err), 0);
    assert_int_equal(chaos_class(c, "govhost", SLUICE_TIER_NORMAL, 1, 0, 0), 0);
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = TARGET;
    def.critical = CRITICAL;
    def.stale_after_ms = 2000;
    assert_int_equal(sluice_signal_define(c, "iops", &def, NULL, &err), 0);
    assert_int_equal(sluice_signal_report(c, "iops", 0.5, 0, &err), 0);

    const long BASE_MS = CHAOS_PICK(6000, 60000);
    segment quick[] = {{8000, OSC_FAST, 1}, {4500, STALE, 0}, {5000, CALM, 0}};
    segment slow[] = {{60000, OSC_FAST, 1}, {60000, OSC_SLOW, 1}, {20000, STALE, 1}, {60000, CALM, 0}};
    segment *seg = chaos_long() ? slow : quick;
    int nseg = chaos_long() ? 4 : 3;

    char rec[400], crit_cmd[600], bulk_cmd[600], wlog[2][400], glog[2][400];
    snprintf(rec, sizeof(rec), "%s/admission.rec", r.dir);
    snprintf(crit_cmd, sizeof(crit_cmd), "crit=%s", chaos_fixture("job.sh"));
    snprintf(bulk_cmd, sizeof(bulk_cmd), "bulk=%s", chaos_fixture("job.sh"));
    pid_t w[2], g[2];
    for (int i = 0; i < 2; i++) {
        snprintf(wlog[i], sizeof(wlog[i]), "%s/data-%d.log", r.dir, i);
        const char *args[] = {"--no-governor", "--concurrency", "8",      "--grace", "10s", "--handler", crit_cmd, rec,
                              "0.02",          "--handler",     bulk_cmd, rec,       "0.2", NULL};
        w[i] = chaos_spawn_worker(r.url, NS, wlog[i], args);
        g[i] = spawn_governor(&r, i, glog);
    }
    chaos_check crit, bulk;
    chaos_check_init(&crit, "crit");
    chaos_check_init(&bulk, "bulk");
    long ncrit = 1, nbulk = 1;
    sluice_governor_status gs;
    WAIT_UNTIL(sluice_governor_status_get(c, &gs, NULL) == 0 && strncmp(gs.leader, "gov-", 4) == 0, 30000);
    assert_memory_equal(gs.leader, "gov-", 4); /* a governor leads */

    /* the baseline: calm, 40 critical and 10 low jobs a second */
    long long b0 = harness_now_ms(), a0 = acked(c, "crit");
    long long tick = b0;
    while (harness_now_ms() - b0 < BASE_MS) {
        chaos_enqueue(c, &crit, &ncrit, 4, 1);
        chaos_enqueue(c, &bulk, &nbulk, 1, 1);
        sluice_signal_report(c, "iops", 0.5, 0, NULL);
        tick += 100;
        long long now = harness_now_ms();
        if (tick > now) harness_sleep_ms((long)(tick - now)); /* pacing: ten rounds a second */
    }
    long long b1 = harness_now_ms(), a1 = acked(c, "crit");

    /* the faults */
    int kills = 0;
    long long history_from = 0;
    if (sluice_governor_status_get(c, &gs, NULL) == 0) history_from = gs.now;
    for (int s = 0; s < nseg; s++) {
        long long s0 = harness_now_ms();
        int killed = 0;
        while (harness_now_ms() - s0 < seg[s].ms) {
            long t = (long)(harness_now_ms() - s0);
            chaos_enqueue(c, &crit, &ncrit, 4, 1);
            chaos_enqueue(c, &bulk, &nbulk, 1, 1);
            double v = value_at(seg[s].kind, t);
            if (!isnan(v)) sluice_signal_report(c, "iops", v, 0, NULL);
            if (seg[s].kill_governor && !killed && t >= seg[s].ms / 2) {
                /* the leader dies without resigning, and comes back */
                if (sluice_governor_status_get(c, &gs, NULL) == 0 && strncmp(gs.leader, "gov-", 4) == 0) {
                    int i = gs.leader[4] - '0';
                    if (i == 0 || i == 1) {
                        chaos_kill(g[i]);
                        g[i] = spawn_governor(&r, i, glog);
                        kills++;
                        chaos_note("killed the governor leader %s (epoch %lld) %ld ms into the %s phase", gs.leader,
                                   (long long)gs.epoch, t, kind_name(seg[s].kind));
                    }
                }
                killed = 1;
            }
            tick += 100;
            long long now = harness_now_ms();
            if (tick > now) harness_sleep_ms((long)(tick - now)); /* pacing: ten rounds a second */
        }
    }
    long long f1 = harness_now_ms(), a2 = acked(c, "crit");
    double base_rate = (double)(a1 - a0) * 1000.0 / (double)(b1 - b0);
    double fault_rate = (double)(a2 - a1) * 1000.0 / (double)(f1 - b1);
    sluice_gate_info gi;
    assert_int_equal(sluice_gate_get(c, "bulk", &gi, NULL), 0);

    int changes, escalations, criticals, decisions, max_in_dwell;
    int violations = check_history(c, history_from, &changes, &escalations, &criticals, &decisions, &max_in_dwell);
    assert_int_equal(sluice_governor_status_get(c, &gs, NULL), 0);

    chaos_note("critical throughput: %.1f jobs/s calm (%ld s), %.1f jobs/s under faults (%lld s): %.1f%%", base_rate,
               BASE_MS / 1000, fault_rate, (f1 - b1) / 1000, 100.0 * fault_rate / base_rate);

    /* drain: open the low tier's gate */
    assert_int_equal(sluice_class_pin(c, "bulk", 1, 0, &err), 0);
    const char *names[2] = {"crit", "bulk"};
    for (int k = 0; k < 2; k++) {
        /* the low tier's backlog from the faults drains at its full limit */
        if (chaos_drained(c, names[k], k ? 600000 : 60000) == 0) continue;
        sluice_class_stats cs;
        sluice_class_stats_get(c, names[k], &cs, NULL);
        chaos_note("%s not drained: ready %lld, leased %lld, acked %lld, enqueued %lld", names[k], (long long)cs.ready,
                   (long long)cs.leased, (long long)cs.acked, (long long)cs.enqueued);
        for (int i = 0; i < 2; i++) {
            char cmd[1200];
            snprintf(cmd, sizeof(cmd), "grep -v ' decision \\| done ' %s | tail -5 >&2", wlog[i]);
            if (system(cmd) != 0) chaos_note("no log %s", wlog[i]);
        }
        fail_msg("%s not drained", names[k]);
    }
    for (int i = 0; i < 2; i++) {
        int st = chaos_stop(w[i], 15000);
        assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        chaos_stop(g[i], 15000);
    }
    chaos_check_load(&crit, rec);
    chaos_check_load(&bulk, rec);
    assert_int_equal(chaos_check_dead(&crit, c), 0);
    assert_int_equal(chaos_check_dead(&bulk, c), 0);
    chaos_table tc = chaos_check_table(&crit, c, "admission under faults: critical");
    chaos_table tb = chaos_check_table(&bulk, c, "admission under faults: low tier");
    chaos_note("governor: %d decisions under faults, %d admission changes (%d critical drops), %d within a dwell "
               "as the law allows (escalation), %d dwell violations, at most %d ordinary change(s) per %d ms; "
               "%d leader kill(s), epoch now %lld; low tier at %.2f (%s) when the faults ended",
               decisions, changes, criticals, escalations, violations, max_in_dwell, DWELL_MS, kills,
               (long long)gs.epoch, gi.fraction, gi.why);
    assert_true(kills >= 1);
    assert_true(gs.epoch >= 2); /* the leadership did change hands */
    assert_true(changes >= 2);  /* the faults did move the gates */
    /* Critical work is never throttled: its gate refused no claim, and its
     * pace under faults is its calm pace. */
    sluice_class_stats crit_st;
    assert_int_equal(sluice_class_stats_get(c, "crit", &crit_st, NULL), 0);
    assert_int_equal(crit_st.throttled, 0);
    assert_true(fault_rate >= 0.95 * base_rate);
    assert_int_equal(violations, 0);
    assert_true(max_in_dwell <= 1);
    assert_int_equal(tb.lost, 0);
    assert_int_equal(tb.inconsistent, 0);
    assert_int_equal(tb.dead, 0);
    assert_int_equal(tb.unexpected, 0);
    assert_int_equal(tb.completed, tb.enqueued);
    assert_int_equal(tc.lost, 0);
    assert_int_equal(tc.inconsistent, 0);
    assert_int_equal(tc.completed, tc.enqueued);
    chaos_check_free(&crit);
    chaos_check_free(&bulk);
    sluice_client_free(c);
    harness_redis_stop(&r);
}

int main(int argc, char **argv) {
    (void)argc;
    if (chaos_init(argv[0]) < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            under_stale_signals_a_killed_governor_and_oscillating_pressure_critical_work_keeps_its_pace,
            chaos_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
