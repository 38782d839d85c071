/* Classes: names, tiers, configuration (declared, read, deleted, listed)
 * and counters. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static const char *const tier_names[SLUICE_TIERS] = {"critical", "high", "normal", "low"};

const char *sluice_tier_name(sluice_tier t) {
    return (unsigned)t < SLUICE_TIERS ? tier_names[t] : NULL;
}

int sluice_tier_parse(const char *name, sluice_tier *out) {
    for (int i = 0; name && i < SLUICE_TIERS; i++) {
        if (strcmp(name, tier_names[i]) == 0) {
            *out = (sluice_tier)i;
            return 0;
        }
    }
    return -1;
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

void sluice_class_config_init(sluice_class_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->tier = SLUICE_TIER_NORMAL;
    cfg->floor = 0.1;
    cfg->max_attempts = 5;
    cfg->timeout_ms = 30000;
    cfg->max_reclaims = 3;
    cfg->dead_max = 10000;
    cfg->payload_max = SLUICE_PAYLOAD_DEFAULT_MAX;
    cfg->backoff_base_ms = 1000;
    cfg->backoff_max_ms = 3600000;
}

static int registry(sluice_client *c, const char *verb, const char *cls, sluice_error *err);


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
    if (!sluice_tier_name(cfg->tier)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: unknown tier");
        return -1;
    }
    cmd m;
    if (cmd_class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) return -1;
    cmd_str(&m, "tier");
    cmd_str(&m, sluice_tier_name(cfg->tier));
    struct {
        const char *name;
        double v;
    } nums[] = {{"max_rate", cfg->max_rate}, {"burst", cfg->burst}, {"floor", cfg->floor}};
    struct {
        const char *name;
        int64_t v;
    } ints[] = {{"max_concurrency", cfg->max_concurrency}, {"max_queue", cfg->max_queue},
                {"max_attempts", cfg->max_attempts},       {"timeout_ms", cfg->timeout_ms},
                {"max_reclaims", cfg->max_reclaims},       {"keep_done", cfg->keep_done},
                {"dead_max", cfg->dead_max},               {"payload_max", cfg->payload_max},
                {"backoff_base_ms", cfg->backoff_base_ms}, {"backoff_max_ms", cfg->backoff_max_ms}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!isfinite(nums[i].v)) {
            cmd_clear(&m);
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class set: %s is not a finite number", nums[i].name);
            return -1;
        }
        cmd_str(&m, nums[i].name);
        cmd_num(&m, nums[i].v);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        cmd_str(&m, ints[i].name);
        cmd_int(&m, ints[i].v);
    }
    if (reply_created(client_run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_class_get", c, cls, 0, err) < 0) return -1;
    redisReply *r = client_run(c, &m, "class get", err);
    if (!r) return -1;
    sluice_class_config_init(out);
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements % 2;
    for (size_t i = 0; !bad && i < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        redisReply *v = r->element[i + 1];
        double d = 0;
        int64_t n = 0;
        if (!f) bad = 1;
        else if (strcmp(f, "tier") == 0) bad = !v->str || sluice_tier_parse(v->str, &out->tier) < 0;
        else if (strcmp(f, "max_rate") == 0) bad = reply_num(v, &out->max_rate);
        else if (strcmp(f, "burst") == 0) bad = reply_num(v, &out->burst);
        else if (strcmp(f, "floor") == 0) bad = reply_num(v, &out->floor);
        else if (reply_num(v, &d) < 0) bad = 1;
        else {
            n = (int64_t)d;
            if (strcmp(f, "max_concurrency") == 0) out->max_concurrency = n;
            else if (strcmp(f, "max_queue") == 0) out->max_queue = n;
            else if (strcmp(f, "max_attempts") == 0) out->max_attempts = (int)n;
            else if (strcmp(f, "timeout_ms") == 0) out->timeout_ms = n;
            else if (strcmp(f, "max_reclaims") == 0) out->max_reclaims = (int)n;
            else if (strcmp(f, "keep_done") == 0) out->keep_done = n;
            else if (strcmp(f, "dead_max") == 0) out->dead_max = n;
            else if (strcmp(f, "payload_max") == 0) out->payload_max = n;
            else if (strcmp(f, "backoff_base_ms") == 0) out->backoff_base_ms = n;
            else if (strcmp(f, "backoff_max_ms") == 0) out->backoff_max_ms = n;
        }
    }
    freeReplyObject(r);
    if (bad) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "class get: unexpected reply");
        return -1;
    }
    return 0;
}

static int registry(sluice_client *c, const char *verb, const char *cls, sluice_error *err) {
    cmd m;
    cmd_init(&m);
    cmd_fcall_global(&m, "sluice_registry", c->ns, 1, REGISTRY_KEYS);
    cmd_str(&m, verb);
    cmd_str(&m, cls);
    return client_run_ok(c, &m, "class registry", err);
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
    cmd_fcall_global(&m, "sluice_registry_list", c->ns, 1, REGISTRY_KEYS);
    redisReply *r = client_run(c, &m, "class list", err);
    if (!r) return NULL;
    char **out = NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "class list: unexpected reply");
    } else if (r->elements > 0) {
        out = calloc(r->elements, sizeof(*out));
        for (size_t i = 0; out && i < r->elements; i++) {
            if (!(out[i] = reply_strdup(r->element[i]))) {
                sluice_strings_free(out, i);
                out = NULL;
            }
        }
        if (!out) sluice_error_set(err, SLUICE_ERR_NOMEM, "class list: out of memory");
        else *n = r->elements;
    }
    freeReplyObject(r);
    return out;
}

void sluice_strings_free(char **strings, size_t n) {
    if (!strings) return;
    for (size_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out, sluice_error *err) {
    sluice_error_reset(err);
    memset(out, 0, sizeof(*out));
    if (sluice_name_check(cls, err) < 0) return -1;
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, "sluice_stats", c->ns, cls);
    redisReply *r = client_call(c, &m, "stats", err);
    cmd_clear(&m);
    if (!r) return -1;
    int64_t *slots[] = {&out->enqueued, &out->claimed,   &out->acked,     &out->failed,
                        &out->retried,  &out->died,      &out->reclaimed, &out->released,
                        &out->cancelled, &out->throttled, &out->dead_dropped, &out->purged};
    const size_t nslots = sizeof(slots) / sizeof(slots[0]);
    int rc = r->type == REDIS_REPLY_ARRAY && r->elements == 4 + 2 * nslots ? 0 : -1;
    if (rc == 0) {
        rc |= reply_int(r->element[0], &out->ready) | reply_int(r->element[1], &out->delayed) |
              reply_int(r->element[2], &out->leased) | reply_int(r->element[3], &out->dead);
        for (size_t i = 0; i < nslots; i++) rc |= reply_int(r->element[5 + 2 * i], slots[i]);
    }
    if (rc) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "stats: unexpected reply");
    freeReplyObject(r);
    return rc ? -1 : 0;
}
