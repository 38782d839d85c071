/* sluicectl signal define|set|list|delete: pressure signals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define SIGNAL_RANGE 1e15

json_t *signal_def_json(const sluice_signal_def *def) {
    json_t *o = json_object();
    json_object_set_new(o, "target", json_real(def->target));
    json_object_set_new(o, "critical", json_real(def->critical));
    json_object_set_new(o, "direction", json_string(def->lower_is_worse ? "lower" : "higher"));
    json_object_set_new(o, "stale_after_ms", json_integer(def->stale_after_ms));
    json_object_set_new(o, "period_ms", json_integer(def->period_ms));
    json_object_set_new(o, "on_stale", json_string(sluice_on_stale_name(def->on_stale)));
    return o;
}

int ctl_signal_thresholds(const json_t *decision, const sluice_signal_info *s, sluice_law_thresholds *t, char *rule,
                          size_t n) {
    sluice_law_params p;
    sluice_law_signal ls;
    sluice_law_params_default(&p);
    json_t *band = decision ? json_object_get(decision, "band") : NULL;
    if (json_is_number(band)) p.band = json_number_value(band);
    sluice_signal_law(s, &ls);
    return sluice_law_signal_thresholds(&p, &ls, t, rule, n, NULL);
}

double ctl_signal_pressure(const sluice_signal_info *s) {
    sluice_law_signal ls;
    if (!s->has_value) return NAN;
    sluice_signal_law(s, &ls);
    return sluice_law_pressure(&ls, s->value);
}

static int check_name(const char *cmd, const char *name) {
    sluice_error err;
    if (sluice_name_check(name, &err) < 0) return ctl_usage(cmd, "invalid signal name '%s'", name);
    return 0;
}

static int not_found(const sluice_error *err, const char *name) {
    if (err->code == SLUICE_ERR_NOT_FOUND) return ctl_fail(EXIT_NOTFOUND, "unknown signal '%s'", name);
    return ctl_error(err);
}

static int signal_define(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--target", 1, NULL},      {"--critical", 1, NULL}, {"--lower-is-worse", 0, NULL},
                      {"--stale-after", 1, NULL}, {"--on-stale", 1, NULL}, {"--period", 1, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    const char *cmd = "signal define";
    if (ctl_args(cmd, argc, argv, opts, NOPTS(opts), pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage(cmd, "needs a NAME");
    if (check_name(cmd, pos[0])) return EXIT_USAGE;
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    if (!opts[0].val || !opts[1].val) return ctl_usage(cmd, "needs --target and --critical");
    if (sluice_parse_number(opts[0].val, -SIGNAL_RANGE, SIGNAL_RANGE, &def.target, NULL) < 0)
        return ctl_usage(cmd, "--target: invalid number '%s'", opts[0].val);
    if (sluice_parse_number(opts[1].val, -SIGNAL_RANGE, SIGNAL_RANGE, &def.critical, NULL) < 0)
        return ctl_usage(cmd, "--critical: invalid number '%s'", opts[1].val);
    def.lower_is_worse = opts[2].val != NULL;
    if (!def.lower_is_worse && def.critical <= def.target)
        return ctl_usage(cmd, "--critical must be above --target (or give --lower-is-worse)");
    if (def.lower_is_worse && def.critical >= def.target)
        return ctl_usage(cmd, "--critical must be below --target for a lower-is-worse signal");
    if (opts[3].val &&
        (sluice_parse_duration(opts[3].val, 86400000, &def.stale_after_ms, NULL) < 0 || def.stale_after_ms < 1))
        return ctl_usage(cmd, "--stale-after: invalid duration '%s' (1ms..1d)", opts[3].val);
    if (opts[4].val && sluice_on_stale_parse(opts[4].val, &def.on_stale, NULL) < 0)
        return ctl_usage(cmd, "--on-stale must be assume-pressure, hold or ignore, not '%s'", opts[4].val);
    if (opts[5].val && sluice_parse_duration(opts[5].val, 86400000, &def.period_ms, NULL) < 0)
        return ctl_usage(cmd, "--period: invalid duration '%s' (0..1d)", opts[5].val);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    int created = 0;
    if (sluice_signal_define(c, pos[0], &def, &created, &err) < 0) return ctl_error(&err);
    printf("signal %s %s\n", pos[0], created ? "defined" : "updated");
    return EXIT_OK;
}

static int signal_set(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--age", 1, NULL}};
    const char *pos[2];
    int npos, code = EXIT_OK;
    const char *cmd = "signal set";
    if (ctl_args(cmd, argc, argv, opts, NOPTS(opts), pos, 2, &npos) < 0) return EXIT_USAGE;
    if (npos != 2) return ctl_usage(cmd, "needs NAME and VALUE");
    if (check_name(cmd, pos[0])) return EXIT_USAGE;
    double v;
    if (sluice_parse_number(pos[1], -SIGNAL_RANGE, SIGNAL_RANGE, &v, NULL) < 0)
        return ctl_usage(cmd, "invalid value '%s' (a finite number)", pos[1]);
    int64_t age = 0;
    if (opts[0].val && sluice_parse_duration(opts[0].val, 86400000, &age, NULL) < 0)
        return ctl_usage(cmd, "--age: invalid duration '%s' (0..1d)", opts[0].val);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    if (sluice_signal_report(c, pos[0], v, age, &err) < 0) return not_found(&err, pos[0]);
    return EXIT_OK;
}

/* "<1.8" or ">55": the side of "v" on which the law acts, for the table. */
static const char *side(int below, double v, char *buf, size_t len) {
    char n[32];
    snprintf(buf, len, "%s%s", below ? "<" : ">", ctl_num(v, n, sizeof(n)));
    return buf;
}

static int signal_list(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("signal list", argc, argv, NULL, 0, pos, 0, &npos) < 0) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    size_t n;
    int64_t now;
    sluice_signal_info *s = sluice_signal_list(c, &n, &now, &err);
    if (!s && err.code != SLUICE_OK) return ctl_error(&err);
    json_t *decision = ctl_last_decision(c);
    sluice_law_thresholds *th = calloc(n + 1, sizeof(*th));
    char(*rule)[SLUICE_LAW_THRESHOLDS_TEXT] = calloc(n + 1, sizeof(*rule));
    if (!th || !rule) {
        sluice_signal_list_free(s, n);
        free(th);
        free(rule);
        json_decref(decision);
        return ctl_fail(EXIT_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < n; i++) ctl_signal_thresholds(decision, &s[i], &th[i], rule[i], sizeof(rule[i]));
    json_decref(decision);
    if (x->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(s[i].name));
            json_object_update_new(o, signal_def_json(&s[i].def));
            json_object_set_new(o, "value", s[i].has_value ? json_real(s[i].value) : json_null());
            json_object_set_new(o, "observed_at", s[i].has_value ? json_integer(s[i].observed_at) : json_null());
            json_object_set_new(o, "age_ms", s[i].has_value ? json_integer(s[i].age_ms) : json_null());
            json_object_set_new(o, "stale", json_boolean(s[i].stale));
            json_object_set_new(o, "pressure", s[i].has_value ? json_real(ctl_signal_pressure(&s[i])) : json_null());
            json_object_set_new(o, "raise_at", json_real(th[i].raise_at));
            json_object_set_new(o, "cut_at", json_real(th[i].cut_at));
            json_object_set_new(o, "rule", json_string(rule[i]));
            json_array_append_new(arr, o);
        }
        sluice_signal_list_free(s, n);
        free(th);
        free(rule);
        return ctl_json_print(arr);
    }
    printf("%-24s %10s %10s %10s %-6s %7s %8s %-5s %8s %10s %10s\n", "SIGNAL", "VALUE", "TARGET", "CRITICAL", "WORSE",
           "PERIOD", "AGE", "STALE", "PRESSURE", "RAISE", "CUT");
    for (size_t i = 0; i < n; i++) {
        char v[32] = "-", t[32], cr[32], per[32] = "-", age[32] = "-", p[32] = "-", ra[40], cu[40];
        int lower = s[i].def.lower_is_worse;
        if (s[i].has_value) {
            ctl_num(s[i].value, v, sizeof(v));
            ctl_duration(s[i].age_ms, age, sizeof(age));
            snprintf(p, sizeof(p), "%.2f", ctl_signal_pressure(&s[i]));
        }
        if (s[i].def.period_ms > 0) ctl_duration(s[i].def.period_ms, per, sizeof(per));
        printf("%-24s %10s %10s %10s %-6s %7s %8s %-5s %8s %10s %10s\n", s[i].name, v,
               ctl_num(s[i].def.target, t, sizeof(t)), ctl_num(s[i].def.critical, cr, sizeof(cr)),
               lower ? "lower" : "higher", per, age, s[i].stale ? "yes" : "no", p,
               side(!lower, th[i].raise_at, ra, sizeof(ra)), side(lower, th[i].cut_at, cu, sizeof(cu)));
    }
    sluice_signal_list_free(s, n);
    free(th);
    free(rule);
    return EXIT_OK;
}

static int signal_delete(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("signal delete", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("signal delete", "needs a NAME");
    if (check_name("signal delete", pos[0])) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    if (sluice_signal_delete(c, pos[0], &err) < 0) return not_found(&err, pos[0]);
    printf("signal %s deleted\n", pos[0]);
    return EXIT_OK;
}

int cmd_signal(ctl *x, int argc, char **argv) {
    if (argc < 1) return ctl_usage("signal", "needs define, set, list or delete");
    if (!strcmp(argv[0], "define")) return signal_define(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "set")) return signal_set(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "list")) return signal_list(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "delete")) return signal_delete(x, argc - 1, argv + 1);
    return ctl_usage("signal", "unknown subcommand '%s' (define, set, list, delete)", argv[0]);
}
