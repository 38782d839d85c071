/* Classes: their fields (the table of sluice/class.h as descriptors, and
 * the one place a field is read, checked, written, parsed and printed),
 * names, tiers, configuration (declared, read, deleted, listed) and
 * counters. */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* ------------------------------- fields ------------------------------ */

/* pub comes first: a sluice_class_field * handed out is a struct field *. */
static const struct field {
    sluice_class_field pub;
    size_t offset;
} field_table[] = {
#define FIELD(name, kind, lo, hi, def, flag, help)                                                                     \
    {{#name, SLUICE_FIELD_##kind, lo, hi, def, flag, help}, offsetof(sluice_class_config, name)},
    SLUICE_CLASS_FIELDS(FIELD)
#undef FIELD
};

const sluice_class_field *sluice_class_field_at(size_t i) {
    return i < NWORDS(field_table) ? &field_table[i].pub : NULL;
}

const sluice_class_field *sluice_class_field_find(const char *name) {
    for (size_t i = 0; name && i < NWORDS(field_table); i++)
        if (strcmp(field_table[i].pub.name, name) == 0) return &field_table[i].pub;
    return NULL;
}

static void *member(const sluice_class_config *cfg, const sluice_class_field *f) {
    return (char *)cfg + ((const struct field *)f)->offset;
}

static int whole(const sluice_class_field *f) {
    return f->kind == SLUICE_FIELD_INT || f->kind == SLUICE_FIELD_DURATION || f->kind == SLUICE_FIELD_TIER;
}

double sluice_class_field_get(const sluice_class_config *cfg, const sluice_class_field *f) {
    void *p = member(cfg, f);
    switch (f->kind) {
    case SLUICE_FIELD_TIER: return (double)*(sluice_tier *)p;
    case SLUICE_FIELD_RATE:
    case SLUICE_FIELD_NUMBER: return *(double *)p;
    default: return (double)*(int64_t *)p;
    }
}

/* 0 if v is a value the field can hold; else -1 with a message. */
static int check(const sluice_class_field *f, double v, sluice_error *err) {
    if (isfinite(v) && v >= f->lo && v <= f->hi && (!whole(f) || v == floor(v))) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s must be %s in %.15g..%.15g", f->name,
                     whole(f) ? "a whole number" : "a number", f->lo, f->hi);
    return -1;
}

int sluice_class_field_set(sluice_class_config *cfg, const sluice_class_field *f, double v, sluice_error *err) {
    sluice_error_reset(err);
    if (check(f, v, err) < 0) return -1;
    void *p = member(cfg, f);
    switch (f->kind) {
    case SLUICE_FIELD_TIER: *(sluice_tier *)p = (sluice_tier)v; break;
    case SLUICE_FIELD_RATE:
    case SLUICE_FIELD_NUMBER: *(double *)p = v; break;
    default: *(int64_t *)p = (int64_t)v; break;
    }
    return 0;
}

int sluice_class_field_parse(sluice_class_config *cfg, const sluice_class_field *f, const char *text,
                             sluice_error *err) {
    sluice_error_reset(err);
    sluice_error e;
    double v = 0;
    int64_t n = 0;
    sluice_tier t = SLUICE_TIER_NORMAL;
    int rc;
    switch (f->kind) {
    case SLUICE_FIELD_TIER: rc = sluice_tier_parse(text, &t, &e), v = t; break;
    case SLUICE_FIELD_RATE: rc = sluice_parse_rate(text, &v, &e); break;
    case SLUICE_FIELD_NUMBER: rc = sluice_parse_number(text, f->lo, f->hi, &v, &e); break;
    case SLUICE_FIELD_INT: rc = sluice_parse_int(text, (int64_t)f->lo, (int64_t)f->hi, &n, &e), v = (double)n; break;
    default: rc = sluice_parse_duration(text, (int64_t)f->hi, &n, &e), v = (double)n; break;
    }
    if (rc < 0) {
        sluice_error_set(err, e.code, "%s: %s", f->name, e.text);
        return -1;
    }
    return sluice_class_field_set(cfg, f, v, err);
}

int sluice_class_field_format(const sluice_class_config *cfg, const sluice_class_field *f, char *buf, size_t len) {
    double v = sluice_class_field_get(cfg, f);
    if (f->kind == SLUICE_FIELD_TIER) {
        const char *name = sluice_tier_name((sluice_tier)v);
        return snprintf(buf, len, "%s", name ? name : "");
    }
    if (whole(f)) return snprintf(buf, len, "%lld", (long long)v);
    /* the shortest text that reads back as the same double */
    int n = snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) n = snprintf(buf, len, "%.17g", v);
    return n;
}

void sluice_class_config_init(sluice_class_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NWORDS(field_table); i++)
        sluice_class_field_set(cfg, &field_table[i].pub, field_table[i].pub.def, NULL);
}

int sluice_class_config_check(const sluice_class_config *cfg, sluice_error *err) {
    sluice_error_reset(err);
    for (size_t i = 0; i < NWORDS(field_table); i++)
        if (check(&field_table[i].pub, sluice_class_field_get(cfg, &field_table[i].pub), err) < 0) return -1;
    if (cfg->tier != SLUICE_TIER_CRITICAL && cfg->max_rate == 0 && cfg->max_concurrency == 0) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                         "a non-critical class needs max_rate or max_concurrency for the governor to scale");
        return -1;
    }
    if (cfg->backoff_base_ms > cfg->backoff_max_ms) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "backoff_base_ms exceeds backoff_max_ms");
        return -1;
    }
    if (sluice_windows_check(cfg->windows, cfg->nwindows, err) < 0) return -1;
    if (!sluice_outside_window_name(cfg->outside_window)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "outside_window must be floor or none");
        return -1;
    }
    if (!sluice_on_expiry_name(cfg->on_expiry)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "on_expiry must be run or dead");
        return -1;
    }
    if (cfg->nwindows && cfg->max_rate == 0 && cfg->max_concurrency == 0) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "a class with windows needs max_rate or max_concurrency");
        return -1;
    }
    return sluice_key_weights_check(cfg->key_weights, cfg->nkey_weights, err);
}

/* ------------------------------- windows ----------------------------- */

#define WINDOWS_JSON (32 + SLUICE_WINDOWS_MAX * 160)

/* Every window's zone is in tzdata: the Functions check only its syntax.
 * Returns 0, or -1 with SLUICE_ERR_ARGUMENT naming the first unknown zone. */
static int zones_check(const sluice_window *w, size_t n, sluice_error *err) {
    for (size_t i = 0; i < n; i++) {
        sluice_error e;
        if (sluice_zone_check(w[i].tz, &e) < 0) {
            sluice_error_set(err, e.code, "class set: %s", e.text);
            return -1;
        }
    }
    return 0;
}

/* The windows text of a class_set or class_update, checked whole, zones
 * included. Returns 0, or -1 with SLUICE_ERR_ARGUMENT. */
static int windows_text_check(const char *text, sluice_error *err) {
    sluice_window w[SLUICE_WINDOWS_MAX];
    size_t n;
    sluice_error e;
    if (sluice_windows_parse_json(text, w, &n, &e) < 0) {
        sluice_error_set(err, e.code, "class set: %s", e.text);
        return -1;
    }
    return zones_check(w, n, err);
}

/* ----------------------------- key weights --------------------------- */

/* The key_weights text of a class_update, checked whole. Returns 0, or -1
 * with SLUICE_ERR_ARGUMENT. */
static int key_weights_text_check(const char *text, sluice_error *err) {
    sluice_key_weight w[SLUICE_KEY_WEIGHTS_MAX];
    size_t n;
    sluice_error e;
    if (sluice_key_weights_parse_json(text, w, &n, &e) < 0) {
        sluice_error_set(err, e.code, "class set: %s", e.text);
        return -1;
    }
    return 0;
}

/* -------------------------------- tiers ------------------------------ */

#define TIER_NAME(constant, name) [constant] = name,
static const char *const tier_names[] = {SLUICE_TIER_LIST(TIER_NAME)};

const char *sluice_tier_name(sluice_tier t) {
    return word_of(tier_names, NWORDS(tier_names), (int)t);
}

int sluice_tier_parse(const char *name, sluice_tier *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(tier_names, NWORDS(tier_names), name, "tier", err);
    if (i < 0) return -1;
    *out = (sluice_tier)i;
    return 0;
}

/* ------------------------------ classes ------------------------------ */

/* Adds the class to the registry of declared classes, or deletes it. */
static int registry(sluice_client *c, const char *verb, const char *cls, sluice_error *err) {
    cmd m;
    cmd_init(&m);
    cmd_fcall_global(&m, "sluice_registry", c->ns, REGISTRY_NKEYS, REGISTRY_KEYS);
    cmd_str(&m, verb);
    cmd_str(&m, cls);
    return client_run_ok(c, &m, "class registry", err);
}

int sluice_class_update(sluice_client *c, const char *cls, const char *const *fields, const char *const *values,
                        size_t n, int *created, sluice_error *err) {
    sluice_error_reset(err);
    for (size_t i = 0; i < n; i++) {
        if (fields[i] && values[i] && strcmp(fields[i], "windows") == 0 && windows_text_check(values[i], err) < 0)
            return -1;
        if (fields[i] && values[i] && strcmp(fields[i], "key_weights") == 0 &&
            key_weights_text_check(values[i], err) < 0)
            return -1;
    }
    cmd m;
    if (cmd_class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        cmd_str(&m, fields[i]);
        cmd_str(&m, values[i]);
    }
    if (reply_created(client_run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int sluice_class_set(sluice_client *c, const char *cls, const sluice_class_config *cfg, int *created,
                     sluice_error *err) {
    sluice_error_reset(err);
    char windows[WINDOWS_JSON];
    sluice_error e;
    if (sluice_windows_check(cfg->windows, cfg->nwindows, &e) < 0) {
        sluice_error_set(err, e.code, "class set: %s", e.text);
        return -1;
    }
    if (!sluice_outside_window_name(cfg->outside_window)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: outside_window must be floor or none");
        return -1;
    }
    if (!sluice_on_expiry_name(cfg->on_expiry)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: on_expiry must be run or dead");
        return -1;
    }
    if (sluice_key_weights_check(cfg->key_weights, cfg->nkey_weights, &e) < 0) {
        sluice_error_set(err, e.code, "class set: %s", e.text);
        return -1;
    }
    if (zones_check(cfg->windows, cfg->nwindows, err) < 0) return -1;
    sluice_windows_json(cfg->windows, cfg->nwindows, windows, sizeof(windows));
    char *weights = malloc(SLUICE_KEY_WEIGHTS_JSON);
    if (!weights) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "class set: out of memory");
        return -1;
    }
    sluice_key_weights_json(cfg->key_weights, cfg->nkey_weights, weights, SLUICE_KEY_WEIGHTS_JSON);
    cmd m;
    if (cmd_class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) {
        free(weights);
        return -1;
    }
    /* the Functions check the ranges; what text cannot carry is refused here */
    const sluice_class_field *f;
    for (size_t i = 0; (f = sluice_class_field_at(i)); i++) {
        char value[40];
        double v = sluice_class_field_get(cfg, f);
        if (!isfinite(v) || (f->kind == SLUICE_FIELD_TIER && !sluice_tier_name(cfg->tier))) {
            cmd_clear(&m);
            free(weights);
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: %s is not a %s", f->name,
                             f->kind == SLUICE_FIELD_TIER ? "tier" : "finite number");
            return -1;
        }
        sluice_class_field_format(cfg, f, value, sizeof(value));
        cmd_str(&m, f->name);
        cmd_str(&m, value);
    }
    cmd_str(&m, "windows");
    cmd_str(&m, windows);
    cmd_str(&m, "outside_window");
    cmd_str(&m, sluice_outside_window_name(cfg->outside_window));
    cmd_str(&m, "key_weights");
    cmd_str(&m, weights);
    cmd_str(&m, "on_expiry");
    cmd_str(&m, sluice_on_expiry_name(cfg->on_expiry));
    free(weights);
    if (reply_created(client_run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int class_get_reply(const redisReply *r, sluice_class_config *out, sluice_error *err) {
    sluice_class_config_init(out);
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements % 2;
    for (size_t i = 0; !bad && i < r->elements; i += 2) {
        const char *name = r->element[i]->str;
        const sluice_class_field *f = sluice_class_field_find(name);
        redisReply *v = r->element[i + 1];
        double d;
        /* a field this library does not know (a newer server) is skipped */
        if (name && strcmp(name, "windows") == 0)
            bad = !v->str || sluice_windows_parse_json(v->str, out->windows, &out->nwindows, NULL) < 0;
        else if (name && strcmp(name, "outside_window") == 0)
            bad = !v->str || sluice_outside_window_parse(v->str, &out->outside_window, NULL) < 0;
        else if (name && strcmp(name, "on_expiry") == 0)
            bad = !v->str || sluice_on_expiry_parse(v->str, &out->on_expiry, NULL) < 0;
        else if (name && strcmp(name, "key_weights") == 0)
            bad = !v->str || sluice_key_weights_parse_json(v->str, out->key_weights, &out->nkey_weights, NULL) < 0;
        else if (f && f->kind == SLUICE_FIELD_TIER)
            bad = !v->str || sluice_class_field_parse(out, f, v->str, NULL) < 0;
        else if (f)
            bad = reply_num(v, &d) < 0 || sluice_class_field_set(out, f, d, NULL) < 0;
    }
    if (bad) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "class get: unexpected reply");
    return bad ? -1 : 0;
}

int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_class_get", c, cls, 0, err) < 0) return -1;
    redisReply *r = client_run(c, &m, "class get", err);
    if (!r) return -1;
    int rc = class_get_reply(r, out, err);
    freeReplyObject(r);
    return rc;
}

int sluice_class_delete(sluice_client *c, const char *cls, int force, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_class_delete", c, cls, 1, err) < 0) return -1;
    cmd_str(&m, force ? "1" : "0");
    if (client_run_ok(c, &m, "class delete", err) < 0) return -1;
    return registry(c, "del", cls, err);
}

char **sluice_class_list(sluice_client *c, size_t *n, sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    cmd m;
    cmd_init(&m);
    cmd_fcall_global(&m, "sluice_registry_list", c->ns, REGISTRY_NKEYS, REGISTRY_KEYS);
    redisReply *r = client_run(c, &m, "class list", err);
    if (!r) return NULL;
    char **out = NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "class list: unexpected reply");
    } else if (r->elements > 0) {
        out = calloc(r->elements, sizeof(*out));
        for (size_t i = 0; out && i < r->elements; i++) {
            if (!(out[i] = reply_strdup(r->element[i]))) {
                strings_free(out, i);
                out = NULL;
            }
        }
        if (!out)
            sluice_error_set(err, SLUICE_ERR_NOMEM, "class list: out of memory");
        else
            *n = r->elements;
    }
    freeReplyObject(r);
    return out;
}

void sluice_class_list_free(char **names, size_t n) {
    strings_free(names, n);
}
