/* sluice-sim: runs an incident scenario through every admission policy and
 * prints the comparison (temporary home of `sluicectl simulate`).
 *
 *   sluice-sim [--scenario FILE] [--seed N] [--period MS] [--delay MS]
 *              [--set PARAM=VALUE]... [--csv FILE] [--csv-period S]
 *              [--json] [--minutes]
 *
 * Build (after `make build/lib/libsluice.a`):
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude \
 *      scripts/sim/sluice-sim.c build/lib/libsluice.a \
 *      $(pkg-config --libs hiredis jansson) -lm -o build/bin/sluice-sim
 * Plot:
 *   build/bin/sluice-sim --csv build/sim/incident.csv
 *   gnuplot -e "csv='build/sim/incident.csv'; png='build/sim/incident.png'" scripts/sim/plot.gp
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sim.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice-sim [options]\n"
            "  --scenario FILE     scenario JSON (default: the compiled-in incident)\n"
            "  --seed N            override the scenario's seed\n"
            "  --period MS         signal period in ms\n"
            "  --delay MS          signal delay in ms\n"
            "  --set NAME=VALUE    governor param: tick_ms decrease increase band dwell_ms\n"
            "                      stale_pressure escalate snap (repeatable)\n"
            "  --csv FILE          write the time series as CSV\n"
            "  --csv-period S      CSV row period in seconds (default 10)\n"
            "  --json              print the results as JSON\n"
            "  --minutes           with --json: include per-minute p50/p99\n"
            "  --help              this text\n");
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_f(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[len] = '\0';
    fclose(f);
    return buf;
}

static int set_param(sluice_law_params *p, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) return -1;
    size_t n = (size_t)(eq - kv);
    const char *v = eq + 1;
#define IS(name) (n == strlen(name) && strncmp(kv, name, n) == 0)
    if (IS("tick_ms")) return parse_i64(v, &p->tick_ms);
    if (IS("dwell_ms")) return parse_i64(v, &p->dwell_ms);
    if (IS("decrease")) return parse_f(v, &p->decrease);
    if (IS("increase")) return parse_f(v, &p->increase);
    if (IS("band")) return parse_f(v, &p->band);
    if (IS("stale_pressure")) return parse_f(v, &p->stale_pressure);
    if (IS("escalate")) return parse_f(v, &p->escalate);
    if (IS("snap")) return parse_f(v, &p->snap);
#undef IS
    return -1;
}

static void clock_str(double s, char *buf, size_t len)
{
    if (s < 0) {
        snprintf(buf, len, "unfinished");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%s%02ld:%02ld", t >= 86400 ? "+1d " : "", (t % 86400) / 3600,
             (t % 3600) / 60);
}

static void table(const sluice_sim_report *r)
{
    const sluice_sim_result *b = sluice_sim_report_result(r, SLUICE_SIM_BASELINE);
    sluice_sim_goals g;
    printf("%-10s %9s %7s %7s %9s %11s %9s %10s %6s %7s %8s %6s %4s\n", "policy", "peak p99",
           "vs base", "worst/m", "day p99", "sat s peak", "sat s day", "makespan", "spare",
           "changes", "rev/hour", "fixed", "lost");
    for (int p = 0; p < SLUICE_SIM_POLICIES; p++) {
        const sluice_sim_result *x = sluice_sim_report_result(r, (sluice_sim_policy)p);
        char mk[32], sp[16];
        clock_str(x->makespan_s, mk, sizeof mk);
        snprintf(sp, sizeof sp, "%.1f%%", 100.0 * x->spare_used);
        printf("%-10s %7.1fms %6.2fx %6.2fx %7.1fms %11lld %9lld %10s %6s %7lld %8lld %6.0f %4lld\n",
               sluice_sim_policy_name((sluice_sim_policy)p), x->peak_p99_ms,
               x->peak_p99_ms / b->peak_p99_ms, x->worst_minute_ratio, x->p99_ms,
               (long long)x->peak_seconds_over_capacity, (long long)x->seconds_over_capacity,
               p == 0 ? "-" : mk, p == 0 ? "-" : sp, (long long)x->changes,
               (long long)x->max_reversals_hour, x->fixed_rate, (long long)x->jobs_lost);
    }
    printf("\nper class: longest wait (s) / last job done (hh:mm)\n%-18s", "class");
    for (int p = 1; p < SLUICE_SIM_POLICIES; p++)
        printf(" %18s", sluice_sim_policy_name((sluice_sim_policy)p));
    printf("\n");
    for (size_t i = 0; i < b->nclasses; i++) {
        printf("%-18s", b->classes[i].name);
        for (int p = 1; p < SLUICE_SIM_POLICIES; p++) {
            const sluice_sim_class_result *c =
                &sluice_sim_report_result(r, (sluice_sim_policy)p)->classes[i];
            char fin[32];
            clock_str(c->finish_s, fin, sizeof fin);
            printf(" %8.0f / %7s", c->longest_wait_s, fin);
        }
        printf("\n");
    }
    sluice_sim_report_goals(r, &g);
    printf("\ngoals: governor p99 within %.2fx every peak minute: %s; no_limit shows the "
           "incident: %s;\n       spare used >= %.0f%%: %s; finishes before best safe fixed: %s; "
           "<= %lld reversals/hour: %s; nothing lost: %s\n",
           g.p99_ratio, g.p99_met ? "yes" : "NO", g.incident_shown ? "yes" : "NO",
           100 * g.spare_used, g.spare_met ? "yes" : "NO", g.sooner_met ? "yes" : "NO",
           (long long)g.max_reversals_hour, g.stable_met ? "yes" : "NO",
           g.no_loss ? "yes" : "NO");
}

int main(int argc, char **argv)
{
    const char *scen_path = NULL, *csv_path = NULL;
    int json = 0, minutes = 0, have_seed = 0;
    int64_t seed = 0, period = -1, delay = -1, csv_period = 10;
    const char *sets[32];
    size_t nsets = 0;
    sluice_error err;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--minutes") == 0) {
            minutes = 1;
        } else if (strcmp(a, "--scenario") == 0 && more) {
            scen_path = argv[++i];
        } else if (strcmp(a, "--csv") == 0 && more) {
            csv_path = argv[++i];
        } else if (strcmp(a, "--seed") == 0 && more && parse_i64(argv[i + 1], &seed) == 0) {
            have_seed = 1;
            i++;
        } else if (strcmp(a, "--period") == 0 && more && parse_i64(argv[i + 1], &period) == 0) {
            i++;
        } else if (strcmp(a, "--delay") == 0 && more && parse_i64(argv[i + 1], &delay) == 0) {
            i++;
        } else if (strcmp(a, "--csv-period") == 0 && more &&
                   parse_i64(argv[i + 1], &csv_period) == 0 && csv_period >= 1) {
            i++;
        } else if (strcmp(a, "--set") == 0 && more && nsets < 32) {
            sets[nsets++] = argv[++i];
        } else {
            fprintf(stderr, "sluice-sim: bad argument: %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    sluice_sim_scenario *s;
    if (scen_path) {
        char *text = slurp(scen_path);
        if (!text) {
            fprintf(stderr, "sluice-sim: %s: %s\n", scen_path, strerror(errno));
            return 1;
        }
        s = sluice_sim_scenario_parse(text, &err);
        free(text);
    } else {
        s = sluice_sim_scenario_default(&err);
    }
    if (!s) {
        fprintf(stderr, "sluice-sim: %s\n", err.text);
        return 2;
    }
    if (have_seed) sluice_sim_scenario_set_seed(s, (uint64_t)seed);
    sluice_law_params p;
    sluice_sim_scenario_params(s, &p);
    for (size_t i = 0; i < nsets; i++) {
        if (set_param(&p, sets[i]) < 0) {
            fprintf(stderr, "sluice-sim: bad --set %s\n", sets[i]);
            sluice_sim_scenario_free(s);
            return 2;
        }
    }
    if (sluice_sim_scenario_set_params(s, &p, &err) < 0) {
        fprintf(stderr, "sluice-sim: %s\n", err.text);
        sluice_sim_scenario_free(s);
        return 2;
    }
    if (period >= 0 || delay >= 0) {
        if (period < 0 || delay < 0) {
            fprintf(stderr, "sluice-sim: --period and --delay go together\n");
            sluice_sim_scenario_free(s);
            return 2;
        }
        if (sluice_sim_scenario_set_signal_timing(s, period, delay, &err) < 0) {
            fprintf(stderr, "sluice-sim: %s\n", err.text);
            sluice_sim_scenario_free(s);
            return 2;
        }
    }

    sluice_sim_report *r = sluice_sim_run(s, &err);
    sluice_sim_scenario_free(s);
    if (!r) {
        fprintf(stderr, "sluice-sim: %s\n", err.text);
        return 1;
    }
    int rc = 0;
    if (csv_path) {
        FILE *f = fopen(csv_path, "w");
        if (!f || sluice_sim_report_write_csv(r, f, csv_period) < 0) {
            fprintf(stderr, "sluice-sim: %s: cannot write\n", csv_path);
            rc = 1;
        }
        if (f && fclose(f) != 0) rc = 1;
    }
    if (json) {
        char *text = sluice_sim_report_json(r, minutes);
        if (!text) {
            fprintf(stderr, "sluice-sim: out of memory\n");
            rc = 1;
        } else {
            printf("%s\n", text);
            free(text);
        }
    } else {
        table(r);
    }
    sluice_sim_report_free(r);
    return rc;
}
