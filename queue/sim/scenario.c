/* Simulator scenarios: strict JSON parsing (jansson) and whole-file
 * validation, and the compiled-in default incident. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice.h"
#include "sim.h"

/* ================================================================ default */

const char *sluice_sim_incident_json(void) {
    return sim_incident_json;
}

/* ================================================================ helpers */

/* Every message names the member as a path, e.g. "classes[2].floor". */
static int bad(sluice_error *err, const char *path, const char *key, const char *msg) {
    if (path[0] && key)
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: %s.%s: %s", path, key, msg);
    else
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: %s: %s", key ? key : path, msg);
    return -1;
}

static int only_keys(json_t *obj, const char *path, const char *const *allowed, sluice_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0) ok = 1;
        if (!ok) return bad(err, path, k, "unknown key");
    }
    return 0;
}

static json_t *object(json_t *parent, const char *path, const char *key, int required, sluice_error *err, int *rc) {
    json_t *v = json_object_get(parent, key);
    *rc = 0;
    if (!v) {
        if (required) *rc = bad(err, path, key, "missing");
        return NULL;
    }
    if (!json_is_object(v)) *rc = bad(err, path, key, "must be an object");
    return v;
}

/* A number member; absent leaves *out (the default) unless required. */
static int num(json_t *obj, const char *path, const char *key, int required, double *out, sluice_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? bad(err, path, key, "missing") : 0;
    if (!json_is_number(v)) return bad(err, path, key, "must be a number");
    double x = json_number_value(v);
    if (!isfinite(x)) return bad(err, path, key, "must be finite");
    *out = x;
    return 0;
}

static int integer(json_t *obj, const char *path, const char *key, int required, int64_t *out, sluice_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? bad(err, path, key, "missing") : 0;
    if (!json_is_integer(v)) return bad(err, path, key, "must be an integer");
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int string(json_t *obj, const char *path, const char *key, int required, char *out, size_t len,
                  sluice_error *err) {
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? bad(err, path, key, "missing") : 0;
    if (!json_is_string(v)) return bad(err, path, key, "must be a string");
    if (json_string_length(v) >= len) return bad(err, path, key, "too long");
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int range(const char *path, const char *key, double x, double lo, double hi, const char *msg,
                 sluice_error *err) {
    return x >= lo && x <= hi ? 0 : bad(err, path, key, msg);
}

static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (i == 0 ? !alnum : !(alnum || c == '_' || c == '.' || c == '-')) return 0;
    }
    return 1;
}

/* ================================================================ sections */

static int parse_database(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {"capacity_iops", "service_ms", "rho_max", NULL};
    int rc;
    json_t *o = object(root, "", "database", 1, err, &rc);
    if (rc < 0) return -1;
    if (only_keys(o, "database", keys, err) < 0) return -1;
    if (num(o, "database", "capacity_iops", 1, &s->capacity, err) < 0) return -1;
    if (!(s->capacity > 0)) return bad(err, "database", "capacity_iops", "must be > 0");
    if (num(o, "database", "service_ms", 1, &s->service_ms, err) < 0) return -1;
    if (!(s->service_ms > 0)) return bad(err, "database", "service_ms", "must be > 0");
    if (num(o, "database", "rho_max", 0, &s->rho_max, err) < 0) return -1;
    return range("database", "rho_max", s->rho_max, 0.5, 0.9999, "must be in [0.5, 0.9999]", err);
}

static int parse_interactive(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {"profile", "noise", "spikes", NULL};
    static const char *const spike_keys[] = {"at_s", "duration_s", "add", NULL};
    char path[64];
    int rc;
    json_t *o = object(root, "", "interactive", 1, err, &rc), *v;
    size_t i;
    if (rc < 0) return -1;
    if (only_keys(o, "interactive", keys, err) < 0) return -1;
    json_t *prof = json_object_get(o, "profile");
    if (!prof) return bad(err, "interactive", "profile", "missing");
    if (!json_is_array(prof) || json_array_size(prof) < 2 || json_array_size(prof) > SIM_MAX_POINTS)
        return bad(err, "interactive", "profile", "must be an array of 2 to 64 [hour, fraction] pairs");
    json_array_foreach(prof, i, v) {
        snprintf(path, sizeof path, "profile[%zu]", i);
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(json_array_get(v, 0)) ||
            !json_is_number(json_array_get(v, 1)))
            return bad(err, "interactive", path, "must be [hour, fraction of capacity]");
        s->point_h[i] = json_number_value(json_array_get(v, 0));
        s->point_f[i] = json_number_value(json_array_get(v, 1));
        if (!(s->point_h[i] >= 0 && s->point_h[i] <= 24))
            return bad(err, "interactive", path, "hour must be in [0, 24]");
        if (i > 0 && !(s->point_h[i] > s->point_h[i - 1])) return bad(err, "interactive", path, "hours must ascend");
        if (!(s->point_f[i] >= 0 && s->point_f[i] <= 10))
            return bad(err, "interactive", path, "fraction must be in [0, 10]");
    }
    s->npoints = json_array_size(prof);
    if (s->point_h[0] != 0 || s->point_h[s->npoints - 1] != 24)
        return bad(err, "interactive", "profile", "must start at hour 0 and end at hour 24");
    if (num(o, "interactive", "noise", 0, &s->noise, err) < 0) return -1;
    if (range("interactive", "noise", s->noise, 0, 0.5, "must be in [0, 0.5]", err) < 0) return -1;
    json_t *sp = json_object_get(o, "spikes");
    if (sp) {
        if (!json_is_array(sp) || json_array_size(sp) > SIM_MAX_SPIKES)
            return bad(err, "interactive", "spikes", "must be an array of at most 32 spikes");
        json_array_foreach(sp, i, v) {
            sim_spike *k = &s->spikes[i];
            snprintf(path, sizeof path, "interactive.spikes[%zu]", i);
            if (!json_is_object(v)) return bad(err, path, NULL, "must be an object");
            if (only_keys(v, path, spike_keys, err) < 0 || integer(v, path, "at_s", 1, &k->at_s, err) < 0 ||
                integer(v, path, "duration_s", 1, &k->duration_s, err) < 0 || num(v, path, "add", 1, &k->add, err) < 0)
                return -1;
            if (k->at_s < 0) return bad(err, path, "at_s", "must be >= 0");
            if (k->duration_s <= 0) return bad(err, path, "duration_s", "must be > 0");
            if (range(path, "add", k->add, -1, 1, "must be in [-1, 1]", err) < 0) return -1;
        }
        s->nspikes = json_array_size(sp);
    }
    return 0;
}

static int parse_signal(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {"name",  "target",         "critical", "period_ms", "delay_ms",
                                       "noise", "stale_after_ms", "on_stale", "gaps",      NULL};
    static const char *const gap_keys[] = {"start_s", "end_s", NULL};
    const char *P = "signal";
    char path[64], stale[32] = "assume-pressure";
    int rc;
    size_t i;
    json_t *o = object(root, "", "signal", 1, err, &rc), *v;
    if (rc < 0) return -1;
    if (only_keys(o, P, keys, err) < 0) return -1;
    if (string(o, P, "name", 0, s->sig_name, sizeof s->sig_name, err) < 0) return -1;
    if (!name_ok(s->sig_name)) return bad(err, P, "name", "must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
    if (num(o, P, "target", 1, &s->sig_target, err) < 0) return -1;
    if (range(P, "target", s->sig_target, 0.01, 1, "must be in [0.01, 1] (utilisation)", err) < 0) return -1;
    if (num(o, P, "critical", 1, &s->sig_critical, err) < 0) return -1;
    if (!(s->sig_critical > s->sig_target && s->sig_critical <= 1.5))
        return bad(err, P, "critical", "must be above target and at most 1.5");
    if (integer(o, P, "period_ms", 1, &s->sig_period_ms, err) < 0) return -1;
    if (integer(o, P, "delay_ms", 0, &s->sig_delay_ms, err) < 0) return -1;
    if (num(o, P, "noise", 0, &s->sig_noise, err) < 0) return -1;
    if (range(P, "noise", s->sig_noise, 0, 0.5, "must be in [0, 0.5]", err) < 0) return -1;
    s->sig_stale_after_ms = -1;
    if (integer(o, P, "stale_after_ms", 0, &s->sig_stale_after_ms, err) < 0) return -1;
    if (string(o, P, "on_stale", 0, stale, sizeof stale, err) < 0) return -1;
    if (sluice_on_stale_parse(stale, &s->sig_on_stale, NULL) < 0)
        return bad(err, P, "on_stale", "must be assume-pressure, hold or ignore");
    json_t *g = json_object_get(o, "gaps");
    if (g) {
        if (!json_is_array(g) || json_array_size(g) > SIM_MAX_GAPS)
            return bad(err, P, "gaps", "must be an array of at most 16 gaps");
        json_array_foreach(g, i, v) {
            sim_gap *x = &s->gaps[i];
            snprintf(path, sizeof path, "signal.gaps[%zu]", i);
            if (!json_is_object(v)) return bad(err, path, NULL, "must be an object");
            if (only_keys(v, path, gap_keys, err) < 0 || integer(v, path, "start_s", 1, &x->start_s, err) < 0 ||
                integer(v, path, "end_s", 1, &x->end_s, err) < 0)
                return -1;
            if (x->start_s < 0 || x->end_s <= x->start_s) return bad(err, path, "end_s", "must be after start_s >= 0");
        }
        s->ngaps = json_array_size(g);
    }
    return 0;
}

static int parse_arrival(json_t *v, const char *path, sluice_sim_scenario *s, sim_arrival *a, sluice_error *err) {
    static const char *const keys[] = {"kind",    "rate",  "jobs", "at_s",           "period_s",
                                       "start_s", "end_s", "cost", "start_within_s", NULL};
    char kind[16];
    if (!json_is_object(v)) return bad(err, path, NULL, "must be an object");
    if (only_keys(v, path, keys, err) < 0) return -1;
    if (string(v, path, "kind", 1, kind, sizeof kind, err) < 0) return -1;
    if (num(v, path, "cost", 1, &a->cost, err) < 0) return -1;
    if (!(a->cost > 0)) return bad(err, path, "cost", "must be > 0 (IO units per job)");
    a->start_s = 0;
    a->end_s = s->duration_s;
    if (integer(v, path, "start_s", 0, &a->start_s, err) < 0 || integer(v, path, "end_s", 0, &a->end_s, err) < 0)
        return -1;
    if (a->start_s < 0 || a->end_s < a->start_s) return bad(err, path, "end_s", "must not be before start_s >= 0");
    a->within_s = 0;
    if (integer(v, path, "start_within_s", 0, &a->within_s, err) < 0) return -1;
    if (json_object_get(v, "start_within_s") && (a->within_s <= 0 || a->within_s > 7 * 86400))
        return bad(err, path, "start_within_s", "must be in [1, 604800] (s)");
    if (strcmp(kind, "poisson") == 0) {
        a->kind = ARR_POISSON;
        if (num(v, path, "rate", 1, &a->rate, err) < 0) return -1;
        if (!(a->rate > 0 && a->rate <= 1e6)) return bad(err, path, "rate", "must be in (0, 1e6] jobs/s");
    } else if (strcmp(kind, "batch") == 0) {
        a->kind = ARR_BATCH;
        if (integer(v, path, "at_s", 1, &a->at_s, err) < 0 || integer(v, path, "jobs", 1, &a->jobs, err) < 0) return -1;
        if (a->at_s < 0 || a->at_s >= s->duration_s) return bad(err, path, "at_s", "must be within the duration");
    } else if (strcmp(kind, "every") == 0) {
        a->kind = ARR_EVERY;
        if (integer(v, path, "period_s", 1, &a->period_s, err) < 0 || integer(v, path, "jobs", 1, &a->jobs, err) < 0)
            return -1;
        if (a->period_s <= 0) return bad(err, path, "period_s", "must be > 0");
    } else {
        return bad(err, path, "kind", "must be poisson, batch or every");
    }
    if (a->kind != ARR_POISSON && (a->jobs <= 0 || a->jobs > 100000000))
        return bad(err, path, "jobs", "must be in [1, 1e8]");
    return 0;
}

/* A class's run windows, as the real class field: the library's parser and
 * its zone check, so the simulator refuses what apply would. */
static int parse_windows(json_t *v, const char *path, sim_class *c, sluice_error *err) {
    json_t *w = json_object_get(v, "windows");
    sluice_error werr;
    if (!w) return 0;
    char *text = json_dumps(w, JSON_ENCODE_ANY);
    if (!text) return bad(err, path, "windows", "out of memory");
    int rc = sluice_windows_parse_json(text, c->windows, &c->nwindows, &werr);
    free(text);
    if (rc < 0) return bad(err, path, "windows", werr.text);
    for (size_t i = 0; i < c->nwindows; i++)
        if (sluice_zone_check(c->windows[i].tz, &werr) < 0) return bad(err, path, "windows", werr.text);
    return 0;
}

/* The tenant model: "count" keys whose sizes follow Zipf's law with
 * exponent "skew" (default 1). */
static int parse_keys(json_t *v, const char *path, sim_class *c, sluice_error *err) {
    static const char *const keys[] = {"count", "skew", NULL};
    char kpath[96];
    int rc;
    c->keys = 1;
    c->skew = 1;
    json_t *o = object(v, path, "keys", 0, err, &rc);
    if (rc < 0 || !o) return rc;
    snprintf(kpath, sizeof kpath, "%s.keys", path);
    if (only_keys(o, kpath, keys, err) < 0 || integer(o, kpath, "count", 1, &c->keys, err) < 0 ||
        num(o, kpath, "skew", 0, &c->skew, err) < 0)
        return -1;
    if (c->keys <= 0 || c->keys > SIM_MAX_KEYS) return bad(err, kpath, "count", "must be in [1, 10000]");
    return range(kpath, "skew", c->skew, 0, 10, "must be in [0, 10]", err);
}

/* What a class declares beyond its rates: deadline_reserve, on_expiry,
 * windows, outside_window and keys; each absent one takes the real
 * class's default. */
static int parse_class_extras(json_t *v, const char *path, sim_class *c, sluice_error *err) {
    char word[16] = "run";
    c->reserve = 0;
    if (num(v, path, "deadline_reserve", 0, &c->reserve, err) < 0) return -1;
    if (range(path, "deadline_reserve", c->reserve, 0, 1, "must be in [0, 1]", err) < 0) return -1;
    if (string(v, path, "on_expiry", 0, word, sizeof word, err) < 0) return -1;
    if (sluice_on_expiry_parse(word, &c->on_expiry, NULL) < 0)
        return bad(err, path, "on_expiry", "must be run or dead");
    strcpy(word, "floor");
    if (string(v, path, "outside_window", 0, word, sizeof word, err) < 0) return -1;
    if (sluice_outside_window_parse(word, &c->outside, NULL) < 0)
        return bad(err, path, "outside_window", "must be floor or none");
    if (parse_windows(v, path, c, err) < 0) return -1;
    return parse_keys(v, path, c, err);
}

static int parse_classes(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {
        "name",      "tier",    "worker_rate",    "max_rate", "floor", "arrivals", "deadline_reserve",
        "on_expiry", "windows", "outside_window", "keys",     NULL};
    json_t *arr = json_object_get(root, "classes"), *v, *a;
    char path[64], apath[96], tier[16];
    size_t i, j;
    if (!arr) return bad(err, "", "classes", "missing");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > SLUICE_SIM_MAX_CLASSES)
        return bad(err, "", "classes", "must be an array of 1 to 16 classes");
    json_array_foreach(arr, i, v) {
        sim_class *c = &s->classes[i];
        snprintf(path, sizeof path, "classes[%zu]", i);
        if (!json_is_object(v)) return bad(err, path, NULL, "must be an object");
        if (only_keys(v, path, keys, err) < 0) return -1;
        if (string(v, path, "name", 1, c->name, sizeof c->name, err) < 0) return -1;
        if (!name_ok(c->name)) return bad(err, path, "name", "must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->classes[k].name, c->name) == 0) return bad(err, path, "name", "duplicate class name");
        if (string(v, path, "tier", 1, tier, sizeof tier, err) < 0) return -1;
        if (sluice_tier_parse(tier, &c->tier, NULL) < 0)
            return bad(err, path, "tier", "must be critical, high, normal or low");
        if (num(v, path, "worker_rate", 1, &c->worker_rate, err) < 0) return -1;
        if (!(c->worker_rate > 0)) return bad(err, path, "worker_rate", "must be > 0 (IO/s)");
        c->max_rate = c->worker_rate;
        if (num(v, path, "max_rate", 0, &c->max_rate, err) < 0) return -1;
        if (!(c->max_rate > 0)) return bad(err, path, "max_rate", "must be > 0 (IO/s)");
        c->floor = 0;
        if (num(v, path, "floor", 0, &c->floor, err) < 0) return -1;
        if (range(path, "floor", c->floor, 0, 1, "must be in [0, 1]", err) < 0) return -1;
        if (parse_class_extras(v, path, c, err) < 0) return -1;
        a = json_object_get(v, "arrivals");
        if (!a) return bad(err, path, "arrivals", "missing");
        if (!json_is_array(a) || json_array_size(a) > SIM_MAX_ARRIVALS)
            return bad(err, path, "arrivals", "must be an array of at most 8 patterns");
        json_array_foreach(a, j, v) {
            snprintf(apath, sizeof apath, "%s.arrivals[%zu]", path, j);
            if (parse_arrival(v, apath, s, &c->arr[j], err) < 0) return -1;
        }
        c->narr = json_array_size(a);
    }
    s->nclasses = json_array_size(arr);
    return 0;
}

/* The governor's params: any of sluice_law_param_names, each a number. */
static int parse_governor(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    const char *P = "governor";
    const char *k;
    json_t *v;
    sluice_error lerr;
    int rc;
    json_t *o = object(root, "", P, 0, err, &rc);
    sluice_law_params *p = &s->params;
    sluice_law_params_default(p);
    if (rc < 0) return -1;
    if (!o) return 0;
    json_object_foreach(o, k, v) {
        if (!json_is_number(v)) return bad(err, P, k, "must be a number");
        if (sluice_law_param_set(p, k, json_number_value(v), &lerr) < 0) return bad(err, P, k, lerr.text);
    }
    if (sluice_law_params_check(p, &lerr) < 0) return bad(err, P, NULL, lerr.text);
    return 0;
}

static int parse_goal(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {"p99_ratio", "spare_used", "max_reversals_hour", NULL};
    int rc;
    json_t *o = object(root, "", "goal", 0, err, &rc);
    s->goal_p99_ratio = 1.2;
    s->goal_spare_used = 0.9;
    s->goal_max_reversals_hour = 4;
    if (rc < 0) return -1;
    if (!o) return 0;
    if (only_keys(o, "goal", keys, err) < 0 || num(o, "goal", "p99_ratio", 0, &s->goal_p99_ratio, err) < 0 ||
        num(o, "goal", "spare_used", 0, &s->goal_spare_used, err) < 0 ||
        integer(o, "goal", "max_reversals_hour", 0, &s->goal_max_reversals_hour, err) < 0)
        return -1;
    if (!(s->goal_p99_ratio >= 1)) return bad(err, "goal", "p99_ratio", "must be >= 1");
    if (range("goal", "spare_used", s->goal_spare_used, 0, 1, "must be in [0, 1]", err) < 0) return -1;
    if (s->goal_max_reversals_hour < 0) return bad(err, "goal", "max_reversals_hour", "must be >= 0");
    return 0;
}

/* Cross-member checks, after every member parsed on its own. */
static int check_whole(sluice_sim_scenario *s, sluice_error *err) {
    if (s->sig_period_ms < s->step_ms || s->sig_period_ms % s->step_ms != 0 || s->sig_period_ms > 3600000)
        return bad(err, "signal", "period_ms", "must be a multiple of step_ms, at most 3600000");
    if (s->sig_delay_ms < 0 || s->sig_delay_ms > 3600000)
        return bad(err, "signal", "delay_ms", "must be in [0, 3600000]");
    if (s->sig_stale_after_ms < 0) s->sig_stale_after_ms = 2 * s->sig_period_ms + s->sig_delay_ms;
    if (s->peak_end_s <= s->peak_start_s || s->peak_start_s < 0 || s->peak_end_s > s->duration_s)
        return bad(err, "peak", "end_s", "the peak must be a non-empty window within the duration");
    if (s->threshold < 0) s->threshold = s->sig_target;
    return 0;
}

/* ================================================================ API */

static int parse_root(json_t *root, sluice_sim_scenario *s, sluice_error *err) {
    static const char *const keys[] = {
        "name",        "description", "seed", "duration_s", "step_ms",   "drain_s",          "database",
        "interactive", "peak",        "goal", "signal",     "threshold", "sweep_resolution", "classes",
        "governor",    "start",       NULL};
    static const char *const peak_keys[] = {"start_s", "end_s", NULL};
    char desc[1024];
    int64_t seed = 1;
    int rc;

    if (!json_is_object(root)) return bad(err, "", "scenario", "must be a JSON object");
    if (only_keys(root, "", keys, err) < 0) return -1;
    strcpy(s->name, "scenario");
    if (string(root, "", "name", 0, s->name, sizeof s->name, err) < 0) return -1;
    if (string(root, "", "description", 0, desc, sizeof desc, err) < 0) return -1;
    if (integer(root, "", "seed", 0, &seed, err) < 0) return -1;
    s->seed = (uint64_t)seed;
    if (integer(root, "", "duration_s", 1, &s->duration_s, err) < 0) return -1;
    if (s->duration_s < 60 || s->duration_s > 7 * 86400) return bad(err, "", "duration_s", "must be in [60, 604800]");
    char start[64] = "";
    s->start_ms = SIM_START_MS;
    if (string(root, "", "start", 0, start, sizeof start, err) < 0) return -1;
    if (start[0] && sluice_parse_time(start, &s->start_ms, NULL) < 0)
        return bad(err, "", "start", "must be an RFC 3339 time such as 2026-01-05T00:00:00Z");
    s->step_ms = 100;
    if (integer(root, "", "step_ms", 0, &s->step_ms, err) < 0) return -1;
    if (s->step_ms < 1 || s->step_ms > 1000 || 1000 % s->step_ms != 0)
        return bad(err, "", "step_ms", "must divide 1000");
    s->drain_s = s->duration_s;
    if (integer(root, "", "drain_s", 0, &s->drain_s, err) < 0) return -1;
    if (s->drain_s < 0 || s->drain_s > 7 * 86400) return bad(err, "", "drain_s", "must be in [0, 604800]");
    s->rho_max = 0.99;
    if (parse_database(root, s, err) < 0 || parse_interactive(root, s, err) < 0) return -1;
    json_t *pk = object(root, "", "peak", 1, err, &rc);
    if (rc < 0) return -1;
    if (only_keys(pk, "peak", peak_keys, err) < 0 || integer(pk, "peak", "start_s", 1, &s->peak_start_s, err) < 0 ||
        integer(pk, "peak", "end_s", 1, &s->peak_end_s, err) < 0)
        return -1;
    if (parse_goal(root, s, err) < 0 || parse_signal(root, s, err) < 0) return -1;
    s->threshold = -1;
    if (num(root, "", "threshold", 0, &s->threshold, err) < 0) return -1;
    if (json_object_get(root, "threshold") && !(s->threshold >= 0 && s->threshold <= 1.5))
        return bad(err, "", "threshold", "must be in [0, 1.5] (utilisation)");
    s->sweep_resolution = 1;
    if (num(root, "", "sweep_resolution", 0, &s->sweep_resolution, err) < 0) return -1;
    if (!(s->sweep_resolution > 0)) return bad(err, "", "sweep_resolution", "must be > 0");
    if (parse_classes(root, s, err) < 0 || parse_governor(root, s, err) < 0) return -1;
    return check_whole(s, err);
}

sluice_sim_scenario *sluice_sim_scenario_parse(const char *text, sluice_error *err) {
    json_error_t je;
    sluice_error_reset(err);
    if (!text) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: no text");
        return NULL;
    }
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: malformed JSON at line %d column %d: %s", je.line,
                         je.column, je.text);
        return NULL;
    }
    sluice_sim_scenario *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "scenario: out of memory");
        return NULL;
    }
    if (parse_root(root, s, err) < 0) {
        free(s);
        s = NULL;
    }
    json_decref(root);
    return s;
}

sluice_sim_scenario *sluice_sim_scenario_default(sluice_error *err) {
    return sluice_sim_scenario_parse(sim_incident_json, err);
}

void sluice_sim_scenario_free(sluice_sim_scenario *s) {
    free(s);
}

uint64_t sluice_sim_scenario_seed(const sluice_sim_scenario *s) {
    return s ? s->seed : 0;
}

void sluice_sim_scenario_set_seed(sluice_sim_scenario *s, uint64_t seed) {
    if (s) s->seed = seed;
}

void sluice_sim_scenario_params(const sluice_sim_scenario *s, sluice_law_params *out) {
    if (s && out) *out = s->params;
}

int sluice_sim_scenario_set_params(sluice_sim_scenario *s, const sluice_law_params *p, sluice_error *err) {
    sluice_error lerr;
    sluice_error_reset(err);
    if (!s || !p) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: no scenario or params");
        return -1;
    }
    if (sluice_law_params_check(p, &lerr) < 0) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: governor: %s", lerr.text);
        return -1;
    }
    s->params = *p;
    return 0;
}

void sluice_sim_scenario_signal(const sluice_sim_scenario *s, int64_t *period_ms, int64_t *delay_ms, double *target) {
    if (!s) return;
    if (period_ms) *period_ms = s->sig_period_ms;
    if (delay_ms) *delay_ms = s->sig_delay_ms;
    if (target) *target = s->sig_target;
}

int sluice_sim_scenario_set_signal_timing(sluice_sim_scenario *s, int64_t period_ms, int64_t delay_ms,
                                          sluice_error *err) {
    sluice_error_reset(err);
    if (!s) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: no scenario");
        return -1;
    }
    if (period_ms < s->step_ms || period_ms % s->step_ms != 0 || period_ms > 3600000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                         "scenario: signal.period_ms: must be a multiple of step_ms, at most 3600000");
        return -1;
    }
    if (delay_ms < 0 || delay_ms > 3600000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "scenario: signal.delay_ms: must be in [0, 3600000]");
        return -1;
    }
    /* Keep the staleness rule relative to the timing it was written for. */
    s->sig_stale_after_ms += (period_ms - s->sig_period_ms) * 2 + (delay_ms - s->sig_delay_ms);
    if (s->sig_stale_after_ms < 2 * period_ms + delay_ms) s->sig_stale_after_ms = 2 * period_ms + delay_ms;
    s->sig_period_ms = period_ms;
    s->sig_delay_ms = delay_ms;
    return 0;
}
