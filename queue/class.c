/* Classes: names, tiers, configuration (declared, read, deleted, listed)
 * and counters. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

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

/* ----------------------------- validation ---------------------------- */

int sluice_name_check(const char *name, sluice_error *err) {
    sluice_error_reset(err);
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= NAME_MAX_LEN && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
    for (size_t i = 1; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    }
    if (!ok) {
        sluice_error_set(err, SLUICE_ERR_NAME, "invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
        return -1;
    }
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
    cmd m;
    if (cmd_class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) return -1;
    /* the Functions check the ranges; what text cannot carry is refused here */
    const sluice_class_field *f;
    for (size_t i = 0; (f = sluice_class_field_at(i)); i++) {
        char value[40];
        double v = sluice_class_field_get(cfg, f);
        if (!isfinite(v) || (f->kind == SLUICE_FIELD_TIER && !sluice_tier_name(cfg->tier))) {
            cmd_clear(&m);
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: %s is not a %s", f->name,
                             f->kind == SLUICE_FIELD_TIER ? "tier" : "finite number");
            return -1;
        }
        sluice_class_field_format(cfg, f, value, sizeof(value));
        cmd_str(&m, f->name);
        cmd_str(&m, value);
    }
    if (reply_created(client_run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int class_get_reply(const redisReply *r, sluice_class_config *out, sluice_error *err) {
    sluice_class_config_init(out);
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements % 2;
    for (size_t i = 0; !bad && i < r->elements; i += 2) {
        const sluice_class_field *f = sluice_class_field_find(r->element[i]->str);
        redisReply *v = r->element[i + 1];
        double d;
        /* a field this library does not know (a newer server) is skipped */
        if (f && f->kind == SLUICE_FIELD_TIER)
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
