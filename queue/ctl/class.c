/* sluicectl class list|get|set|delete|keys, pause, resume, pin, unpin:
 * a class's configuration, its fairness keys and its gate overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

json_t *class_config_json(const sluice_class_config *cfg) {
    json_t *o = json_object();
    const sluice_class_field *f;
    for (size_t i = 0; (f = sluice_class_field_at(i)); i++) {
        double v = sluice_class_field_get(cfg, f);
        json_t *j = f->kind == SLUICE_FIELD_TIER ? json_string(sluice_tier_name(cfg->tier))
                    : f->kind == SLUICE_FIELD_RATE || f->kind == SLUICE_FIELD_NUMBER ? json_real(v)
                                                                                     : json_integer((json_int_t)v);
        json_object_set_new(o, f->name, j);
    }
    char text[CTL_WINDOWS_JSON];
    sluice_windows_json(cfg->windows, cfg->nwindows, text, sizeof(text));
    json_object_set_new(o, "windows", json_loads(text, 0, NULL));
    json_object_set_new(o, "outside_window", json_string(sluice_outside_window_name(cfg->outside_window)));
    json_t *w = json_object();
    for (size_t i = 0; i < cfg->nkey_weights; i++)
        json_object_set_new(w, cfg->key_weights[i].key, json_integer(cfg->key_weights[i].weight));
    json_object_set_new(o, "key_weights", w);
    json_object_set_new(o, "on_expiry", json_string(sluice_on_expiry_name(cfg->on_expiry)));
    return o;
}

/* The key weights of class set's --key-weight values, each parsed, then
 * checked together, as JSON text into buf (SLUICE_KEY_WEIGHTS_JSON bytes).
 * Returns EXIT_OK, or prints the problem and returns EXIT_USAGE. */
static int key_weights_opt(const char *const *vals, size_t n, char *buf, size_t len) {
    sluice_key_weight w[SLUICE_KEY_WEIGHTS_MAX];
    sluice_error err;
    for (size_t i = 0; i < n; i++)
        if (sluice_key_weight_parse(vals[i], &w[i], &err) < 0) return ctl_usage("class set", "%s", err.text);
    if (sluice_key_weights_check(w, n, &err) < 0) return ctl_usage("class set", "%s", err.text);
    sluice_key_weights_json(w, n, buf, len);
    return EXIT_OK;
}

/* The windows of class set's --window values, each parsed and its zone
 * looked up, then checked together, as JSON text into buf (CTL_WINDOWS_JSON
 * bytes). Returns EXIT_OK, or prints the problem and returns EXIT_USAGE. */
static int windows_opt(const char *const *vals, size_t n, char *buf, size_t len) {
    sluice_window w[SLUICE_WINDOWS_MAX];
    sluice_error err;
    for (size_t i = 0; i < n; i++) {
        if (sluice_window_parse(vals[i], &w[i], &err) < 0 || sluice_zone_check(w[i].tz, &err) < 0)
            return ctl_usage("class set", "%s", err.text);
    }
    if (sluice_windows_check(w, n, &err) < 0) return ctl_usage("class set", "%s", err.text);
    sluice_windows_json(w, n, buf, len);
    return EXIT_OK;
}

/* The name must be valid before anything reaches Redis. */
static int check_name(const char *cmd, const char *name) {
    sluice_error err;
    if (sluice_name_check(name, &err) < 0) return ctl_usage(cmd, "invalid class name '%s'", name);
    return 0;
}

static int class_list(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("class list", argc, argv, NULL, 0, pos, 0, &npos) < 0) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    size_t n;
    char **names = sluice_class_list(c, &n, &err);
    if (!names && err.code != SLUICE_OK) return ctl_error(&err);
    json_t *arr = json_array();
    if (!x->json)
        printf("%-24s %-8s %10s %8s %6s %10s\n", "CLASS", "TIER", "MAX_RATE", "MAX_CONC", "FLOOR", "MAX_QUEUE");
    for (size_t i = 0; i < n && code == EXIT_OK; i++) {
        sluice_class_config cfg;
        if (sluice_class_get(c, names[i], &cfg, &err) < 0) {
            if (err.code == SLUICE_ERR_UNKNOWN_CLASS) continue; /* deleted meanwhile */
            code = ctl_error(&err);
            break;
        }
        if (x->json) {
            json_t *o = class_config_json(&cfg);
            json_object_set_new(o, "name", json_string(names[i]));
            json_array_append_new(arr, o);
        } else {
            char r[32];
            printf("%-24s %-8s %10s %8lld %6g %10lld\n", names[i], sluice_tier_name(cfg.tier),
                   cfg.max_rate > 0 ? ctl_num(cfg.max_rate, r, sizeof(r)) : "-", (long long)cfg.max_concurrency,
                   cfg.floor, (long long)cfg.max_queue);
        }
    }
    sluice_class_list_free(names, n);
    if (code != EXIT_OK) {
        json_decref(arr);
        return code;
    }
    if (x->json) return ctl_json_print(arr);
    json_decref(arr);
    return EXIT_OK;
}

static int class_get(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("class get", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("class get", "needs a CLASS");
    if (check_name("class get", pos[0])) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    sluice_class_config cfg;
    if (sluice_class_get(c, pos[0], &cfg, &err) < 0) {
        if (err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", pos[0]);
        return ctl_error(&err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(pos[0]));
    json_object_update_new(o, class_config_json(&cfg));
    if (x->json) return ctl_json_print(o);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char b[SLUICE_WINDOW_TEXT];
        if (json_is_object(v)) { /* the key weights, one a line */
            for (size_t i = 0; i < cfg.nkey_weights; i++)
                printf("%-16s %s=%d\n", i ? "" : k, cfg.key_weights[i].key, cfg.key_weights[i].weight);
            if (!cfg.nkey_weights) printf("%-16s -\n", k);
        } else if (json_is_array(v)) { /* the windows, one a line */
            for (size_t i = 0; i < cfg.nwindows; i++) {
                sluice_window_format(&cfg.windows[i], b, sizeof(b));
                printf("%-16s %s\n", i ? "" : k, b);
            }
            if (!cfg.nwindows) printf("%-16s -\n", k);
        } else if (json_is_string(v))
            printf("%-16s %s\n", k, json_string_value(v));
        else if (json_is_integer(v))
            printf("%-16s %lld\n", k, (long long)json_integer_value(v));
        else
            printf("%-16s %s\n", k, ctl_num(json_real_value(v), b, sizeof(b)));
    }
    json_decref(o);
    return EXIT_OK;
}

/* class set's options beyond the class fields', after them in its list. */
enum { OPT_WINDOW, OPT_NO_WINDOWS, OPT_OUTSIDE, OPT_KEY_WEIGHT, OPT_NO_KEY_WEIGHTS, OPT_ON_EXPIRY, WINDOW_OPTS };

static int class_set(ctl *x, int argc, char **argv) {
    enum { NOPT = SLUICE_CLASS_NFIELDS + WINDOW_OPTS };
    ctl_opt opts[NOPT];
    const char *windows[SLUICE_WINDOWS_MAX], *weights[SLUICE_KEY_WEIGHTS_MAX];
    for (size_t i = 0; i < SLUICE_CLASS_NFIELDS; i++) opts[i] = (ctl_opt){sluice_class_field_at(i)->flag, 1, NULL};
    ctl_opt *wo = &opts[SLUICE_CLASS_NFIELDS];
    wo[OPT_WINDOW] = (ctl_opt){"--window", 1, NULL, windows, SLUICE_WINDOWS_MAX, 0};
    wo[OPT_NO_WINDOWS] = (ctl_opt){"--no-windows", 0, NULL};
    wo[OPT_OUTSIDE] = (ctl_opt){"--outside-window", 1, NULL};
    wo[OPT_KEY_WEIGHT] = (ctl_opt){"--key-weight", 1, NULL, weights, SLUICE_KEY_WEIGHTS_MAX, 0};
    wo[OPT_NO_KEY_WEIGHTS] = (ctl_opt){"--no-key-weights", 0, NULL};
    wo[OPT_ON_EXPIRY] = (ctl_opt){"--on-expiry", 1, NULL};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("class set", argc, argv, opts, NOPT, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("class set", "needs a CLASS");
    if (check_name("class set", pos[0])) return EXIT_USAGE;
    /* only the fields given are sent; each is parsed and range checked here */
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    sluice_error err;
    const char *fields[NOPT], *vals[NOPT];
    char values[SLUICE_CLASS_NFIELDS][40], windows_json[CTL_WINDOWS_JSON], weights_json[SLUICE_KEY_WEIGHTS_JSON];
    size_t n = 0;
    for (size_t i = 0; i < SLUICE_CLASS_NFIELDS; i++) {
        const sluice_class_field *f = sluice_class_field_at(i);
        if (!opts[i].val) continue;
        if (sluice_class_field_parse(&cfg, f, opts[i].val, &err) < 0)
            return ctl_usage("class set", "%s (%s)", err.text, f->flag);
        sluice_class_field_format(&cfg, f, values[n], sizeof(values[n]));
        fields[n] = f->name;
        vals[n] = values[n];
        n++;
    }
    if (wo[OPT_WINDOW].n && wo[OPT_NO_WINDOWS].val)
        return ctl_usage("class set", "give --window or --no-windows, not both");
    if (wo[OPT_WINDOW].n || wo[OPT_NO_WINDOWS].val) {
        if ((code = windows_opt(windows, wo[OPT_WINDOW].n, windows_json, sizeof(windows_json))) != EXIT_OK) return code;
        fields[n] = "windows";
        vals[n++] = windows_json;
    }
    if (wo[OPT_OUTSIDE].val) {
        if (sluice_outside_window_parse(wo[OPT_OUTSIDE].val, &cfg.outside_window, &err) < 0)
            return ctl_usage("class set", "%s (--outside-window)", err.text);
        fields[n] = "outside_window";
        vals[n++] = wo[OPT_OUTSIDE].val;
    }
    if (wo[OPT_KEY_WEIGHT].n && wo[OPT_NO_KEY_WEIGHTS].val)
        return ctl_usage("class set", "give --key-weight or --no-key-weights, not both");
    if (wo[OPT_KEY_WEIGHT].n || wo[OPT_NO_KEY_WEIGHTS].val) {
        code = key_weights_opt(weights, wo[OPT_KEY_WEIGHT].n, weights_json, sizeof(weights_json));
        if (code != EXIT_OK) return code;
        fields[n] = "key_weights";
        vals[n++] = weights_json;
    }
    if (wo[OPT_ON_EXPIRY].val) {
        if (sluice_on_expiry_parse(wo[OPT_ON_EXPIRY].val, &cfg.on_expiry, &err) < 0)
            return ctl_usage("class set", "%s (--on-expiry)", err.text);
        fields[n] = "on_expiry";
        vals[n++] = wo[OPT_ON_EXPIRY].val;
    }
    if (n == 0) return ctl_usage("class set", "give at least one field to set (see sluicectl class set --help)");
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    int created = 0;
    if (sluice_class_update(c, pos[0], fields, vals, n, &created, &err) < 0) return ctl_error(&err);
    printf("class %s %s\n", pos[0], created ? "created" : "updated");
    return EXIT_OK;
}

static int class_delete(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--force", 0, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("class delete", argc, argv, opts, NOPTS(opts), pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("class delete", "needs a CLASS");
    if (check_name("class delete", pos[0])) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    if (sluice_class_delete(c, pos[0], opts[0].val != NULL, &err) < 0) {
        if (err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", pos[0]);
        if (err.code == SLUICE_ERR_STATE)
            return ctl_fail(EXIT_RUNTIME, "class '%s' still holds jobs (use --force to delete them too)", pos[0]);
        return ctl_error(&err);
    }
    printf("class %s deleted\n", pos[0]);
    return EXIT_OK;
}

/* The class's keys with the most jobs waiting, and their jobs in flight. */
static int class_keys(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--count", 1, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("class keys", argc, argv, opts, NOPTS(opts), pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("class keys", "needs a CLASS");
    if (check_name("class keys", pos[0])) return EXIT_USAGE;
    int64_t count = 10;
    if (opts[0].val && sluice_parse_int(opts[0].val, 1, SLUICE_TOP_KEYS_MAX, &count, NULL) < 0)
        return ctl_usage("class keys", "--count: invalid integer '%s' (1..%d)", opts[0].val, SLUICE_TOP_KEYS_MAX);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    sluice_key_depth keys[SLUICE_TOP_KEYS_MAX];
    size_t n;
    if (sluice_top_keys(c, pos[0], (size_t)count, keys, &n, &err) < 0) {
        if (err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", pos[0]);
        return ctl_error(&err);
    }
    if (x->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "key", keys[i].key, "waiting",
                                                 (json_int_t)keys[i].waiting, "running", (json_int_t)keys[i].running));
        return ctl_json_print(arr);
    }
    printf("%-32s %10s %10s\n", "KEY", "WAITING", "RUNNING");
    for (size_t i = 0; i < n; i++)
        printf("%-32s %10lld %10lld\n", keys[i].key, (long long)keys[i].waiting, (long long)keys[i].running);
    return EXIT_OK;
}

int cmd_class(ctl *x, int argc, char **argv) {
    if (argc < 1) return ctl_usage("class", "needs list, get, set, delete or keys");
    if (!strcmp(argv[0], "list")) return class_list(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "get")) return class_get(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "set")) return class_set(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "delete")) return class_delete(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "keys")) return class_keys(x, argc - 1, argv + 1);
    return ctl_usage("class", "unknown subcommand '%s' (list, get, set, delete, keys)", argv[0]);
}

/* --------------------------- gate overrides --------------------------- */

/* The class must exist: a gate override on a typo must not pass silently. */
static int known_class(sluice_client *c, const char *cls) {
    sluice_error err;
    sluice_class_config cfg;
    if (sluice_class_get(c, cls, &cfg, &err) == 0) return EXIT_OK;
    if (err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", cls);
    return ctl_error(&err);
}

static int gate_cmd(ctl *x, const char *name, int argc, char **argv) {
    int is_for = !strcmp(name, "pause") || !strcmp(name, "pin");
    ctl_opt opts[] = {{"--for", 1, NULL}};
    const char *pos[2];
    int npos, code = EXIT_OK;
    int want = !strcmp(name, "pin") ? 2 : 1;
    if (ctl_args(name, argc, argv, opts, is_for ? 1 : 0, pos, want, &npos) < 0) return EXIT_USAGE;
    if (npos != want) return ctl_usage(name, want == 2 ? "needs CLASS and FRACTION" : "needs a CLASS");
    if (check_name(name, pos[0])) return EXIT_USAGE;
    int64_t for_ms = 0;
    if (opts[0].val && (sluice_parse_duration(opts[0].val, 365LL * 86400000, &for_ms, NULL) < 0 || for_ms == 0))
        return ctl_usage(name, "--for: invalid duration '%s' (use e.g. 500ms, 30s, 15m, 2h, 1d)", opts[0].val);
    double fraction = 0;
    if (want == 2 && sluice_parse_number(pos[1], 0, 1, &fraction, NULL) < 0)
        return ctl_usage(name, "fraction must be a number in [0,1], not '%s'", pos[1]);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    if ((code = known_class(c, pos[0])) != EXIT_OK) return code;
    sluice_error err;
    int rc;
    if (!strcmp(name, "pause"))
        rc = sluice_class_pause(c, pos[0], for_ms, &err);
    else if (!strcmp(name, "resume"))
        rc = sluice_class_resume(c, pos[0], &err);
    else if (!strcmp(name, "pin"))
        rc = sluice_class_pin(c, pos[0], fraction, for_ms, &err);
    else
        rc = sluice_class_unpin(c, pos[0], &err);
    if (rc < 0) return ctl_error(&err);
    char d[32];
    if (!strcmp(name, "pause"))
        printf("class %s paused%s%s\n", pos[0], for_ms ? " for " : "",
               for_ms ? ctl_duration(for_ms, d, sizeof(d)) : "");
    else if (!strcmp(name, "resume"))
        printf("class %s resumed\n", pos[0]);
    else if (!strcmp(name, "pin"))
        printf("class %s pinned at %g%s%s\n", pos[0], fraction, for_ms ? " for " : "",
               for_ms ? ctl_duration(for_ms, d, sizeof(d)) : "");
    else
        printf("class %s unpinned\n", pos[0]);
    return EXIT_OK;
}

int cmd_pause(ctl *x, int argc, char **argv) {
    return gate_cmd(x, "pause", argc, argv);
}
int cmd_resume(ctl *x, int argc, char **argv) {
    return gate_cmd(x, "resume", argc, argv);
}
int cmd_pin(ctl *x, int argc, char **argv) {
    return gate_cmd(x, "pin", argc, argv);
}
int cmd_unpin(ctl *x, int argc, char **argv) {
    return gate_cmd(x, "unpin", argc, argv);
}
