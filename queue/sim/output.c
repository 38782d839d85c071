/* Simulator output: the report as JSON (jansson), the time series as CSV
 * for plotting, and the gnuplot script that plots it. The only I/O is to a
 * FILE* the caller passes. */
#include <math.h>
#include <stdlib.h>

#include <jansson.h>

#include "sim.h"

static json_t *class_json(const sluice_sim_class_result *c) {
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:f}", "name", c->name, "tier",
                     sluice_tier_name(c->tier), "jobs_arrived", (json_int_t)c->jobs_arrived, "jobs_done",
                     (json_int_t)c->jobs_done, "jobs_waiting", (json_int_t)c->jobs_waiting, "jobs_lost",
                     (json_int_t)c->jobs_lost, "longest_wait_s", c->longest_wait_s, "finish_s", c->finish_s,
                     "late_starts", (json_int_t)c->late_starts, "expired", (json_int_t)c->expired, "deadline_misses",
                     (json_int_t)(c->late_starts + c->expired), "keys", (json_int_t)c->keys, "key_wait_worst_s",
                     c->key_wait_worst_s, "key_wait_median_s", c->key_wait_median_s);
}

static json_t *result_json(const sluice_sim_report *r, int p, int minutes) {
    const sluice_sim_result *x = &r->res[p];
    const sluice_sim_result *b = &r->res[SLUICE_SIM_BASELINE];
    json_t *o = json_pack(
        "{s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I}", "policy",
        sluice_sim_policy_name((sluice_sim_policy)p), "fixed_rate", x->fixed_rate, "p50_ms", x->p50_ms, "p99_ms",
        x->p99_ms, "peak_p50_ms", x->peak_p50_ms, "peak_p99_ms", x->peak_p99_ms, "peak_p99_vs_baseline",
        b->peak_p99_ms > 0 ? x->peak_p99_ms / b->peak_p99_ms : 0.0, "worst_minute_ratio", x->worst_minute_ratio,
        "worst_minute_s", (json_int_t)x->worst_minute_s, "peak_minutes_over_goal",
        (json_int_t)x->peak_minutes_over_goal, "seconds_over_capacity", (json_int_t)x->seconds_over_capacity,
        "peak_seconds_over_capacity", (json_int_t)x->peak_seconds_over_capacity, "makespan_s", x->makespan_s,
        "spare_used", x->spare_used, "spare_unused_io", x->spare_unused_io, "background_io", x->background_io,
        "changes", (json_int_t)x->changes, "reversals", (json_int_t)x->reversals, "max_reversals_hour",
        (json_int_t)x->max_reversals_hour, "jobs_lost", (json_int_t)x->jobs_lost);
    json_t *cls = json_array();
    if (!o || !cls) goto fail;
    if (json_object_set_new(o, "deadline_misses", json_integer((json_int_t)x->deadline_misses)) < 0) goto fail;
    for (size_t i = 0; i < x->nclasses; i++)
        if (json_array_append_new(cls, class_json(&x->classes[i])) < 0) goto fail;
    if (json_object_set_new(o, "classes", cls) < 0) {
        cls = NULL;
        goto fail;
    }
    cls = NULL;
    if (minutes) {
        json_t *p50 = json_array(), *p99 = json_array();
        if (json_object_set_new(o, "minute_p50_ms", p50) < 0 || json_object_set_new(o, "minute_p99_ms", p99) < 0)
            goto fail;
        for (size_t m = 0; m < r->minutes; m++)
            if (json_array_append_new(p50, json_real(r->min_p50[p][m])) < 0 ||
                json_array_append_new(p99, json_real(r->min_p99[p][m])) < 0)
                goto fail;
    }
    return o;
fail:
    json_decref(cls);
    json_decref(o);
    return NULL;
}

char *sluice_sim_report_json(const sluice_sim_report *r, int minutes) {
    if (!r) return NULL;
    const sluice_sim_scenario *s = &r->scen;
    sluice_sim_goals g;
    sluice_sim_report_goals(r, &g);
    json_t *params = json_object();
    for (size_t i = 0; params && sluice_law_param_name(i); i++) {
        double v = sluice_law_param_get(&s->params, i);
        json_object_set_new(params, sluice_law_param_name(i),
                            v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v));
    }
    json_t *root = json_pack("{s:s,s:I,s:{s:f,s:I,s:I,s:f},s:o,"
                             "s:{s:f,s:f,s:I,s:b,s:b,s:b,s:b,s:b,s:b,s:b}}",
                             "scenario", s->name, "seed", (json_int_t)s->seed, "signal", "target", s->sig_target,
                             "period_ms", (json_int_t)s->sig_period_ms, "delay_ms", (json_int_t)s->sig_delay_ms,
                             "noise", s->sig_noise, "params", params, "goals", "p99_ratio", g.p99_ratio, "spare_used",
                             g.spare_used, "max_reversals_hour", (json_int_t)g.max_reversals_hour, "p99_met", g.p99_met,
                             "incident_shown", g.incident_shown, "spare_met", g.spare_met, "sooner_met", g.sooner_met,
                             "stable_met", g.stable_met, "no_loss", g.no_loss, "deadlines_met", g.deadlines_met);
    json_t *pol = json_array();
    char *out = NULL;
    if (!root || !pol) goto done;
    for (int i = 0; i < SLUICE_SIM_POLICIES; i++)
        if (json_array_append_new(pol, result_json(r, i, minutes)) < 0) goto done;
    if (json_object_set_new(root, "policies", pol) < 0) {
        pol = NULL;
        goto done;
    }
    pol = NULL;
    out = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
done:
    json_decref(pol);
    json_decref(root);
    return out;
}

int sluice_sim_report_write_csv(const sluice_sim_report *r, FILE *f, int64_t period_s) {
    if (!r || !f || period_s < 1) return -1;
    fprintf(f, "t_s");
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
        const char *n = sluice_sim_policy_name((sluice_sim_policy)p);
        fprintf(f, ",%s_util,%s_p99_ms,%s_admitted_iops,%s_backlog_io", n, n, n, n);
    }
    fputc('\n', f);
    size_t n = r->ser[0].n;
    for (size_t a = 0; a < n; a += (size_t)period_s) {
        size_t b = a + (size_t)period_s > n ? n : a + (size_t)period_s;
        fprintf(f, "%zu", a);
        for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
            const sim_series *x = &r->ser[p];
            double u = 0, adm = 0;
            for (size_t i = a; i < b; i++) {
                u += x->util[i];
                adm += x->admitted[i];
            }
            double p99 = model_quantile(x->lat + a, b - a, 0.99);
            fprintf(f, ",%.4f,%.3f,%.2f,%.0f", u / (double)(b - a), p99, adm / (double)(b - a),
                    (double)x->backlog[b - 1]);
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* The same text as scripts/sim/plot.gp (tests/test_sim.c checks they match). */
static const char plot_gnuplot[] =
    "# Plots a `sluicectl simulate --csv` file: one row of panels per policy;\n"
    "# left: disk utilisation and admitted background rate; right: interactive\n"
    "# p99 (log) and background backlog. `sluicectl simulate --plot FILE.png`\n"
    "# runs this same script (compiled in); by hand:\n"
    "#   gnuplot -e \"csv='build/sim/incident.csv'; png='build/sim/incident.png'\" scripts/sim/plot.gp\n"
    "if (!exists(\"csv\")) csv = 'build/sim/incident.csv'\n"
    "if (!exists(\"png\")) png = 'build/sim/incident.png'\n"
    "if (!exists(\"title\")) title = 'sluice incident replay'\n"
    "if (!exists(\"target\")) target = 0.70\n"
    "set terminal pngcairo size 1600,1900 font \",10\"\n"
    "set output png\n"
    "set datafile separator \",\"\n"
    "set key top left horizontal font \",9\" samplen 2\n"
    "set xrange [0:24]\n"
    "set xtics 0,2,24 format \"%g:00\"\n"
    "set grid xtics ytics lc rgb \"#dddddd\"\n"
    "policies = \"baseline no_limit fixed threshold governor\"\n"
    "set termoption noenhanced\n"
    "set multiplot layout 5,2 title title font \",14\"\n"
    "do for [i=1:5] {\n"
    "    p = word(policies, i)\n"
    "    c = 2 + (i - 1) * 4\n"
    "    # left: utilisation and admitted rate\n"
    "    set title p.\" — utilisation and admitted background rate\" font \",11\"\n"
    "    set ylabel \"utilisation\"\n"
    "    set yrange [0:1.05]\n"
    "    set ytics nomirror\n"
    "    set y2label \"IO/s\"\n"
    "    if (i == 1) { set y2range [0:1] } else { set y2range [0:*] }\n"
    "    set y2tics\n"
    "    unset logscale y\n"
    "    plot csv every ::1 using ($1/3600):(column(c)) with lines lw 1 lc rgb \"#1f77b4\" title \"utilisation\", \\\n"
    "         csv every ::1 using ($1/3600):(column(c+2)) axes x1y2 with lines lw 1 lc rgb \"#ff7f0e\" title "
    "\"admitted IO/s\", \\\n"
    "         target with lines dt 2 lc rgb \"#888888\" title \"target\"\n"
    "    # right: p99 and backlog\n"
    "    set title p.\" — interactive p99 and backlog\" font \",11\"\n"
    "    set ylabel \"p99 ms (log)\"\n"
    "    set logscale y\n"
    "    set yrange [1:100000]\n"
    "    set y2label \"backlog IO units\"\n"
    "    # the baseline has no backlog at all: give its empty axis a range\n"
    "    if (i == 1) { set y2range [0:1] } else { set y2range [0:*] }\n"
    "    plot csv every ::1 using ($1/3600):(column(c+1)) with lines lw 1 lc rgb \"#d62728\" title \"p99 ms\", \\\n"
    "         csv every ::1 using ($1/3600):(column(c+3)) axes x1y2 with lines lw 1 lc rgb \"#2ca02c\" title "
    "\"backlog\"\n"
    "    unset logscale y\n"
    "}\n"
    "unset multiplot\n";

const char *sluice_sim_plot_script(void) {
    return plot_gnuplot;
}
