/* sluicectl apply and export: the live config of classes and signals as one
 * JSON document, validated as a whole before anything is written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define SIGNAL_RANGE 1e15

/* A config file's windows (an array of {days, from, to, tz}) into cfg,
 * checked whole, zones included. Returns 0, or -1 with err set. */
static int windows_from_json(json_t *v, sluice_class_config *cfg, sluice_error *err) {
    char *text = json_is_array(v) ? json_dumps(v, JSON_COMPACT) : NULL;
    int rc = text ? sluice_windows_parse_json(text, cfg->windows, &cfg->nwindows, err) : -1;
    free(text);
    if (!json_is_array(v)) sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: must be an array of windows");
    for (size_t i = 0; rc == 0 && i < cfg->nwindows; i++) rc = sluice_zone_check(cfg->windows[i].tz, err);
    return rc;
}

/* A config file's key weights (an object of key -> weight) into cfg, checked
 * whole. Returns 0, or -1 with err set. */
static int key_weights_from_json(json_t *v, sluice_class_config *cfg, sluice_error *err) {
    char *text = json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int rc = text ? sluice_key_weights_parse_json(text, cfg->key_weights, &cfg->nkey_weights, err) : -1;
    free(text);
    if (!json_is_object(v))
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key_weights: must be an object of key -> weight");
    return rc;
}

/* Validates one class; 0, or -1 with a message in why. */
static int class_from_json(const char *name, json_t *o, sluice_class_config *cfg, char *why, size_t len) {
    sluice_error err;
    if (sluice_name_check(name, &err) < 0) return snprintf(why, len, "invalid class name '%s'", name), -1;
    if (!json_is_object(o)) return snprintf(why, len, "classes.%s must be an object", name), -1;
    sluice_class_config_init(cfg);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        const sluice_class_field *f = sluice_class_field_find(k);
        if (!strcmp(k, "windows")) {
            if (windows_from_json(v, cfg, &err) < 0) return snprintf(why, len, "classes.%s: %s", name, err.text), -1;
            continue;
        }
        if (!strcmp(k, "key_weights")) {
            if (key_weights_from_json(v, cfg, &err) < 0)
                return snprintf(why, len, "classes.%s: %s", name, err.text), -1;
            continue;
        }
        if (!strcmp(k, "outside_window")) {
            if (sluice_outside_window_parse(json_string_value(v), &cfg->outside_window, &err) < 0)
                return snprintf(why, len, "classes.%s.%s", name, err.text), -1;
            continue;
        }
        if (!strcmp(k, "on_expiry")) {
            if (sluice_on_expiry_parse(json_string_value(v), &cfg->on_expiry, &err) < 0)
                return snprintf(why, len, "classes.%s.%s", name, err.text), -1;
            continue;
        }
        if (!f) return snprintf(why, len, "classes.%s: unknown field '%s'", name, k), -1;
        int whole = f->kind != SLUICE_FIELD_RATE && f->kind != SLUICE_FIELD_NUMBER;
        if (f->kind == SLUICE_FIELD_TIER) {
            if (sluice_class_field_parse(cfg, f, json_string_value(v), &err) < 0)
                return snprintf(why, len, "classes.%s.%s", name, err.text), -1;
        } else if (whole ? !json_is_integer(v) : !json_is_number(v)) {
            return snprintf(why, len, "classes.%s.%s must be %s", name, k, whole ? "an integer" : "a number"), -1;
        } else if (sluice_class_field_set(cfg, f, json_number_value(v), &err) < 0) {
            return snprintf(why, len, "classes.%s.%s is out of range (%.15g..%.15g)", name, k, f->lo, f->hi), -1;
        }
    }
    if (sluice_class_config_check(cfg, &err) < 0) return snprintf(why, len, "classes.%s: %s", name, err.text), -1;
    return 0;
}

static int signal_from_json(const char *name, json_t *o, sluice_signal_def *def, char *why, size_t len) {
    sluice_error err;
    if (sluice_name_check(name, &err) < 0) return snprintf(why, len, "invalid signal name '%s'", name), -1;
    if (!json_is_object(o)) return snprintf(why, len, "signals.%s must be an object", name), -1;
    sluice_signal_def_init(def);
    int has_t = 0, has_c = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "target") || !strcmp(k, "critical")) {
            double d = json_number_value(v);
            if (!json_is_number(v) || !isfinite(d) || fabs(d) > SIGNAL_RANGE)
                return snprintf(why, len, "signals.%s.%s must be a finite number", name, k), -1;
            if (k[0] == 't')
                def->target = d, has_t = 1;
            else
                def->critical = d, has_c = 1;
        } else if (!strcmp(k, "direction")) {
            const char *s = json_string_value(v);
            if (!s || (strcmp(s, "higher") && strcmp(s, "lower")))
                return snprintf(why, len, "signals.%s.direction must be higher or lower", name), -1;
            def->lower_is_worse = !strcmp(s, "lower");
        } else if (!strcmp(k, "stale_after_ms")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 86400000)
                return snprintf(why, len, "signals.%s.stale_after_ms must be an integer 1..86400000", name), -1;
            def->stale_after_ms = json_integer_value(v);
        } else if (!strcmp(k, "period_ms")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 86400000)
                return snprintf(why, len, "signals.%s.period_ms must be an integer 0..86400000", name), -1;
            def->period_ms = json_integer_value(v);
        } else if (!strcmp(k, "on_stale")) {
            if (!json_is_string(v) || sluice_on_stale_parse(json_string_value(v), &def->on_stale, NULL) < 0)
                return snprintf(why, len, "signals.%s.on_stale must be assume-pressure, hold or ignore", name), -1;
        } else {
            return snprintf(why, len, "signals.%s: unknown field '%s'", name, k), -1;
        }
    }
    if (!has_t || !has_c) return snprintf(why, len, "signals.%s needs target and critical", name), -1;
    if (!def->lower_is_worse && def->critical <= def->target)
        return snprintf(why, len, "signals.%s: critical must be above target", name), -1;
    if (def->lower_is_worse && def->critical >= def->target)
        return snprintf(why, len, "signals.%s: critical must be below target (direction lower)", name), -1;
    return 0;
}

/* ------------------------------- export ------------------------------ */

/* The live config. NEW, or NULL after printing the error (*code). */
static json_t *live_config(sluice_client *c, int *code) {
    sluice_error err;
    size_t n;
    char **names = sluice_class_list(c, &n, &err);
    if (!names && err.code != SLUICE_OK) {
        *code = ctl_error(&err);
        return NULL;
    }
    json_t *root = json_object(), *classes = json_object(), *signals = json_object();
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "signals", signals);
    for (size_t i = 0; i < n; i++) {
        sluice_class_config cfg;
        if (sluice_class_get(c, names[i], &cfg, &err) < 0) {
            if (err.code == SLUICE_ERR_UNKNOWN_CLASS) continue;
            *code = ctl_error(&err);
            sluice_class_list_free(names, n);
            json_decref(root);
            return NULL;
        }
        json_object_set_new(classes, names[i], class_config_json(&cfg));
    }
    sluice_class_list_free(names, n);
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, &err);
    if (!s && err.code != SLUICE_OK) {
        *code = ctl_error(&err);
        json_decref(root);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) json_object_set_new(signals, s[i].name, signal_def_json(&s[i].def));
    sluice_signal_list_free(s, n);
    return root;
}

int cmd_export(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("export", argc, argv, NULL, 0, pos, 0, &npos) < 0) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    json_t *root = live_config(c, &code);
    if (!root) return code;
    return ctl_json_print(root);
}

/* -------------------------------- apply ------------------------------ */

static void value_text(json_t *v, char *buf, size_t len) {
    /* the windows, the key weights */
    size_t n =
        json_is_array(v) || json_is_object(v) ? json_dumpb(v, buf, len - 1, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    if (n > 0 && n < len)
        buf[n] = '\0';
    else if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_number(v))
        ctl_num(json_number_value(v), buf, len);
    else
        snprintf(buf, len, "-");
}

/* Prints the diff of one object ("class x" / "signal y") and returns 1 if
 * anything differs. "old" NULL: new. */
static int diff_one(const char *kind, const char *name, json_t *old, json_t *neu) {
    const char *k;
    json_t *v;
    if (!old) {
        printf("+ %s %s:", kind, name);
        json_object_foreach(neu, k, v) {
            char b[CTL_VALUE_TEXT];
            value_text(v, b, sizeof(b));
            printf(" %s=%s", k, b);
        }
        printf("\n");
        return 1;
    }
    int changed = 0;
    json_object_foreach(neu, k, v) {
        json_t *o = json_object_get(old, k);
        if (o && json_equal(o, v)) continue;
        if (json_is_number(o) && json_is_number(v)) {
            /* export prints 15 digits: equal to that precision is equal */
            double a0 = json_number_value(o), b0 = json_number_value(v);
            if (fabs(a0 - b0) <= 1e-12 * fmax(fabs(a0), fabs(b0))) continue;
        }
        char a[CTL_VALUE_TEXT], b[CTL_VALUE_TEXT];
        value_text(o, a, sizeof(a));
        value_text(v, b, sizeof(b));
        printf("~ %s %s: %s %s -> %s\n", kind, name, k, a, b);
        changed = 1;
    }
    return changed;
}

/* A config file's classes and signals, parsed, and which of them differ from
 * the live config. The names are BORROWED from the document. */
typedef struct apply_set {
    size_t ncls, nsig;
    sluice_class_config *cfgs;
    sluice_signal_def *defs;
    const char **cnames, **snames;
    int *cchg, *schg; /* 1 where that class or signal changes */
} apply_set;

static void apply_set_free(apply_set *a) {
    free(a->cchg);
    free(a->schg);
    free(a->cfgs);
    free(a->defs);
    free(a->cnames);
    free(a->snames);
}

/* Reads the config "path" ('-': stdin) into *doc (NEW), a JSON object.
 * Returns EXIT_OK, or EXIT_USAGE after saying what is wrong. */
static int apply_read(const char *path, json_t **doc) {
    json_error_t je;
    *doc = !strcmp(path, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
                              : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!*doc) {
        if (je.line < 0) return ctl_usage("apply", "cannot read %s: %s", path, je.text);
        return ctl_usage("apply", "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    }
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return ctl_usage("apply", "%s: the config must be a JSON object", path);
    }
    return EXIT_OK;
}

/* Validates the document: its keys, then every class and signal, parsed
 * into *a. The first problem goes into why. Returns -1 when out of memory. */
static int apply_parse(json_t *doc, apply_set *a, char *why, size_t len) {
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "classes") && strcmp(k, "signals")) {
            snprintf(why, len, "unknown key '%s' (classes, signals)", k);
            break;
        }
        if (!json_is_object(v)) {
            snprintf(why, len, "%s must be an object", k);
            break;
        }
    }
    json_t *classes = json_object_get(doc, "classes"), *signals = json_object_get(doc, "signals");
    a->ncls = json_object_size(classes);
    a->nsig = json_object_size(signals);
    a->cfgs = calloc(a->ncls + 1, sizeof(*a->cfgs));
    a->defs = calloc(a->nsig + 1, sizeof(*a->defs));
    a->cnames = calloc(a->ncls + 1, sizeof(*a->cnames));
    a->snames = calloc(a->nsig + 1, sizeof(*a->snames));
    if (!a->cfgs || !a->defs || !a->cnames || !a->snames) return -1;
    size_t i = 0;
    if (!why[0]) json_object_foreach(classes, k, v) {
            if (class_from_json(k, v, &a->cfgs[i], why, len) < 0) break;
            a->cnames[i++] = k;
        }
    i = 0;
    if (!why[0]) json_object_foreach(signals, k, v) {
            if (signal_from_json(k, v, &a->defs[i], why, len) < 0) break;
            a->snames[i++] = k;
        }
    return 0;
}

/* Prints each class and signal of *a that differs from "live" and marks it
 * in a->cchg and a->schg; *changes counts them. Returns -1 when out of
 * memory. */
static int apply_diff(json_t *live, apply_set *a, size_t *changes) {
    a->cchg = calloc(a->ncls + 1, sizeof(int));
    a->schg = calloc(a->nsig + 1, sizeof(int));
    *changes = 0;
    for (size_t i = 0; a->cchg && i < a->ncls; i++) {
        json_t *neu = class_config_json(&a->cfgs[i]);
        a->cchg[i] =
            diff_one("class", a->cnames[i], json_object_get(json_object_get(live, "classes"), a->cnames[i]), neu);
        *changes += (size_t)a->cchg[i];
        json_decref(neu);
    }
    for (size_t i = 0; a->schg && i < a->nsig; i++) {
        json_t *neu = signal_def_json(&a->defs[i]);
        a->schg[i] =
            diff_one("signal", a->snames[i], json_object_get(json_object_get(live, "signals"), a->snames[i]), neu);
        *changes += (size_t)a->schg[i];
        json_decref(neu);
    }
    return a->cchg && a->schg ? 0 : -1;
}

/* Writes the changed classes, then the changed signals, stopping at the
 * first failure. Returns the exit code. */
static int apply_write(sluice_client *c, const apply_set *a, size_t changes) {
    int code = EXIT_OK;
    sluice_error err;
    size_t done_n = 0;
    for (size_t i = 0; i < a->ncls && code == EXIT_OK; i++) {
        if (!a->cchg[i]) continue;
        if (sluice_class_set(c, a->cnames[i], &a->cfgs[i], NULL, &err) < 0)
            code = ctl_error(&err);
        else
            done_n++;
    }
    for (size_t i = 0; i < a->nsig && code == EXIT_OK; i++) {
        if (!a->schg[i]) continue;
        if (sluice_signal_define(c, a->snames[i], &a->defs[i], NULL, &err) < 0)
            code = ctl_error(&err);
        else
            done_n++;
    }
    if (code == EXIT_OK)
        printf("applied %zu change%s\n", done_n, done_n == 1 ? "" : "s");
    else
        fprintf(stderr, "sluicectl: apply stopped after %zu of %zu changes\n", done_n, changes);
    return code;
}

/* Compares *a with the live config and, unless "dry", writes what changed.
 * Returns the exit code. */
static int apply_live(ctl *x, apply_set *a, int dry) {
    int code = EXIT_OK;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    json_t *live = live_config(c, &code);
    if (!live) return code;
    size_t changes;
    int rc = apply_diff(live, a, &changes);
    json_decref(live);
    if (rc < 0) return ctl_fail(EXIT_RUNTIME, "out of memory");
    if (changes == 0)
        printf("no changes\n");
    else if (dry)
        printf("dry run: %zu change%s, nothing written\n", changes, changes == 1 ? "" : "s");
    else
        code = apply_write(c, a, changes);
    return code;
}

int cmd_apply(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--dry-run", 0, NULL}};
    const char *pos[1];
    int npos, code;
    if (ctl_args("apply", argc, argv, opts, NOPTS(opts), pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("apply", "needs a FILE ('-' for stdin)");
    int dry = opts[0].val != NULL;
    json_t *doc;
    if ((code = apply_read(pos[0], &doc)) != EXIT_OK) return code;
    /* Validate everything before reading or writing anything. */
    char why[512] = "";
    apply_set a = {0};
    if (apply_parse(doc, &a, why, sizeof(why)) < 0)
        code = ctl_fail(EXIT_RUNTIME, "out of memory");
    else if (why[0])
        code = ctl_usage("apply", "%s: %s; nothing was applied", pos[0], why);
    else
        code = apply_live(x, &a, dry);
    apply_set_free(&a);
    json_decref(doc);
    return code;
}
