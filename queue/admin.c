/* Administration: classes, gates, signals and the governor's lease, mode,
 * state and history. Each change is one validating Function call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* Runs a prepared command; returns the reply (NEW) or NULL with err set. */
static redisReply *run(sluice_client *c, cmd *m, const char *what, sluice_error *err) {
    redisReply *r = client_call(c, m, what, err);
    cmd_clear(m);
    return r;
}

static int run_ok(sluice_client *c, cmd *m, const char *what, sluice_error *err) {
    redisReply *r = run(c, m, what, err);
    freeReplyObject(r);
    return r ? 0 : -1;
}

static int class_call(cmd *m, const char *fn, sluice_client *c, const char *cls, int actor, sluice_error *err) {
    cmd_init(m);
    if (sluice_name_check(cls, err) < 0) return -1;
    cmd_fcall_class(m, fn, c->ns, cls);
    if (actor) cmd_str(m, client_actor(c));
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

static int created_reply(redisReply *r, int *created, sluice_error *err) {
    if (!r) return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
        err_set(err, SLUICE_ERR_PROTOCOL, "unexpected reply");
        rc = -1;
    } else if (created) {
        *created = strcmp(r->str, "created") == 0;
    }
    freeReplyObject(r);
    return rc;
}

int sluice_class_update(sluice_client *c, const char *cls, const char *const *fields, const char *const *values,
                        size_t n, int *created, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        cmd_str(&m, fields[i]);
        cmd_str(&m, values[i]);
    }
    if (created_reply(run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int sluice_class_set(sluice_client *c, const char *cls, const sluice_class_config *cfg, int *created,
                     sluice_error *err) {
    err_reset(err);
    if (!sluice_tier_name(cfg->tier)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "class set: unknown tier");
        return -1;
    }
    cmd m;
    if (class_call(&m, "sluice_class_set", c, cls, 1, err) < 0) return -1;
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
            err_set(err, SLUICE_ERR_ARGUMENT, "class set: %s is not a finite number", nums[i].name);
            return -1;
        }
        cmd_str(&m, nums[i].name);
        cmd_num(&m, nums[i].v);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        cmd_str(&m, ints[i].name);
        cmd_int(&m, ints[i].v);
    }
    if (created_reply(run(c, &m, "class set", err), created, err) < 0) return -1;
    return registry(c, "add", cls, err);
}

int sluice_class_get(sluice_client *c, const char *cls, sluice_class_config *out, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_class_get", c, cls, 0, err) < 0) return -1;
    redisReply *r = run(c, &m, "class get", err);
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
        err_set(err, SLUICE_ERR_PROTOCOL, "class get: unexpected reply");
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
    return run_ok(c, &m, "class registry", err);
}

int sluice_class_delete(sluice_client *c, const char *cls, int force, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_class_delete", c, cls, 1, err) < 0) return -1;
    cmd_str(&m, force ? "1" : "0");
    if (run_ok(c, &m, "class delete", err) < 0) return -1;
    return registry(c, "del", cls, err);
}

char **sluice_class_list(sluice_client *c, size_t *n, sluice_error *err) {
    err_reset(err);
    *n = 0;
    cmd m;
    cmd_init(&m);
    cmd_fcall_global(&m, "sluice_registry_list", c->ns, 1, REGISTRY_KEYS);
    redisReply *r = run(c, &m, "class list", err);
    if (!r) return NULL;
    char **out = NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        err_set(err, SLUICE_ERR_PROTOCOL, "class list: unexpected reply");
    } else if (r->elements > 0) {
        out = calloc(r->elements, sizeof(*out));
        for (size_t i = 0; out && i < r->elements; i++) {
            if (!(out[i] = reply_strdup(r->element[i]))) {
                sluice_strings_free(out, i);
                out = NULL;
            }
        }
        if (!out) err_set(err, SLUICE_ERR_NOMEM, "class list: out of memory");
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

/* ------------------------------- gates ------------------------------- */

static int duration_ok(int64_t ms, sluice_error *err) {
    if (ms < 0 || ms > 31536000000LL) {
        err_set(err, SLUICE_ERR_ARGUMENT, "duration must be 0..31536000000 ms");
        return -1;
    }
    return 0;
}

int sluice_class_pause(sluice_client *c, const char *cls, int64_t for_ms, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (duration_ok(for_ms, err) < 0 || class_call(&m, "sluice_pause", c, cls, 1, err) < 0) return -1;
    cmd_int(&m, for_ms);
    return run_ok(c, &m, "pause", err);
}

int sluice_class_resume(sluice_client *c, const char *cls, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_resume", c, cls, 1, err) < 0) return -1;
    return run_ok(c, &m, "resume", err);
}

int sluice_class_pin(sluice_client *c, const char *cls, double fraction, int64_t for_ms, sluice_error *err) {
    err_reset(err);
    if (!(fraction >= 0 && fraction <= 1)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "fraction must be within [0,1]");
        return -1;
    }
    cmd m;
    if (duration_ok(for_ms, err) < 0 || class_call(&m, "sluice_pin", c, cls, 1, err) < 0) return -1;
    cmd_num(&m, fraction);
    cmd_int(&m, for_ms);
    return run_ok(c, &m, "pin", err);
}

int sluice_class_unpin(sluice_client *c, const char *cls, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_unpin", c, cls, 1, err) < 0) return -1;
    return run_ok(c, &m, "unpin", err);
}

int sluice_gate_get(sluice_client *c, const char *cls, sluice_gate_info *g, sluice_error *err) {
    err_reset(err);
    memset(g, 0, sizeof(*g));
    cmd m;
    if (class_call(&m, "sluice_gate", c, cls, 0, err) < 0) return -1;
    redisReply *r = run(c, &m, "gate", err);
    if (!r) return -1;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements != 14;
    if (!bad) {
        redisReply **e = r->element;
        int64_t paused = 0;
        bad = reply_num(e[0], &g->fraction) | reply_strcpy(e[1], g->why, sizeof(g->why)) |
              reply_num(e[2], &g->effective_rate) | reply_num(e[3], &g->effective_concurrency) |
              reply_int(e[4], &paused) | reply_int(e[5], &g->paused_until) | reply_int(e[7], &g->pin_until) |
              reply_strcpy(e[10], g->reason, sizeof(g->reason)) | reply_int(e[13], &g->now);
        g->paused = paused == 1;
        g->pinned = e[6]->len > 0 && reply_num(e[6], &g->pin) == 0;
        g->governed = e[9]->len > 0 && reply_int(e[9], &g->expires_at) == 0;
        if (g->governed) reply_num(e[8], &g->governor_fraction);
        if (e[11]->len) reply_int(e[11], &g->epoch);
        g->shadow = e[12]->len > 0 && reply_num(e[12], &g->shadow_fraction) == 0;
    }
    freeReplyObject(r);
    if (bad) {
        err_set(err, SLUICE_ERR_PROTOCOL, "gate: unexpected reply");
        return -1;
    }
    return 0;
}

int sluice_gate_govern(sluice_client *c, const char *cls, int64_t epoch, double fraction, int64_t ttl_ms,
                       const char *reason, int shadow, sluice_error *err) {
    err_reset(err);
    if (!(fraction >= 0 && fraction <= 1)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "fraction must be within [0,1]");
        return -1;
    }
    cmd m;
    if (class_call(&m, "sluice_govern", c, cls, 0, err) < 0) return -1;
    cmd_int(&m, epoch);
    cmd_num(&m, fraction);
    cmd_int(&m, ttl_ms);
    cmd_str(&m, reason ? reason : "");
    cmd_str(&m, shadow ? "1" : "0");
    return run_ok(c, &m, "govern", err);
}

int sluice_gate_ungovern(sluice_client *c, const char *cls, sluice_error *err) {
    err_reset(err);
    cmd m;
    if (class_call(&m, "sluice_ungovern", c, cls, 0, err) < 0) return -1;
    return run_ok(c, &m, "ungovern", err);
}

/* ------------------------------ signals ------------------------------ */

void sluice_signal_def_init(sluice_signal_def *def) {
    memset(def, 0, sizeof(*def));
    def->target = 1;
    def->critical = 2;
    def->stale_after_ms = 30000;
    def->on_stale = SLUICE_STALE_ASSUME_PRESSURE;
}

static void signal_cmd(cmd *m, sluice_client *c, const char *fn) {
    cmd_init(m);
    cmd_fcall_global(m, fn, c->ns, 3, SIGNAL_KEYS);
}

int sluice_signal_define(sluice_client *c, const char *name, const sluice_signal_def *def, int *created,
                         sluice_error *err) {
    err_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    if (!isfinite(def->target) || !isfinite(def->critical)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "signal define: target and critical must be finite numbers");
        return -1;
    }
    const char *policy = sluice_on_stale_name(def->on_stale);
    if (!policy) {
        err_set(err, SLUICE_ERR_ARGUMENT, "signal define: unknown on_stale policy");
        return -1;
    }
    if (def->period_ms < 0 || def->period_ms > 86400000) {
        err_set(err, SLUICE_ERR_ARGUMENT, "signal define: period must be 0..86400000 ms");
        return -1;
    }
    cmd m;
    signal_cmd(&m, c, "sluice_signal_define");
    cmd_str(&m, name);
    cmd_str(&m, client_actor(c));
    cmd_num(&m, def->target);
    cmd_num(&m, def->critical);
    cmd_str(&m, def->lower_is_worse ? "lower" : "higher");
    cmd_int(&m, def->stale_after_ms);
    cmd_str(&m, policy);
    cmd_int(&m, def->period_ms);
    return created_reply(run(c, &m, "signal define", err), created, err);
}

int sluice_signal_report(sluice_client *c, const char *name, double value, int64_t age_ms, sluice_error *err) {
    err_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    if (!isfinite(value)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "signal report: value must be a finite number");
        return -1;
    }
    if (age_ms < 0 || age_ms > 86400000) {
        err_set(err, SLUICE_ERR_ARGUMENT, "signal report: age must be 0..86400000 ms");
        return -1;
    }
    cmd m;
    signal_cmd(&m, c, "sluice_signal_report");
    cmd_str(&m, name);
    cmd_num(&m, value);
    cmd_int(&m, age_ms);
    return run_ok(c, &m, "signal report", err);
}

int sluice_signal_delete(sluice_client *c, const char *name, sluice_error *err) {
    err_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    cmd m;
    signal_cmd(&m, c, "sluice_signal_delete");
    cmd_str(&m, name);
    cmd_str(&m, client_actor(c));
    return run_ok(c, &m, "signal delete", err);
}

/* Members per signal in sluice_signal_list's reply. */
#define SIGNAL_FIELDS 9

sluice_signal_info *sluice_signal_list(sluice_client *c, size_t *n, int64_t *now, sluice_error *err) {
    err_reset(err);
    *n = 0;
    cmd m;
    signal_cmd(&m, c, "sluice_signal_list");
    redisReply *r = run(c, &m, "signal list", err);
    if (!r) return NULL;
    int64_t t = 0;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % SIGNAL_FIELDS ||
              reply_int(r->element[0], &t) < 0;
    size_t k = bad ? 0 : (r->elements - 1) / SIGNAL_FIELDS;
    sluice_signal_info *out = k ? calloc(k, sizeof(*out)) : NULL;
    if (k && !out) {
        freeReplyObject(r);
        err_set(err, SLUICE_ERR_NOMEM, "signal list: out of memory");
        return NULL;
    }
    for (size_t i = 0; !bad && i < k; i++) {
        redisReply **e = r->element + 1 + SIGNAL_FIELDS * i;
        sluice_signal_info *s = &out[i];
        bad = reply_strcpy(e[0], s->name, sizeof(s->name)) | reply_num(e[1], &s->def.target) |
              reply_num(e[2], &s->def.critical) | reply_int(e[4], &s->def.stale_after_ms) |
              reply_int(e[6], &s->def.period_ms) | !e[3]->str | !e[5]->str ||
              sluice_on_stale_parse(e[5]->str, &s->def.on_stale) < 0;
        if (bad) break;
        s->def.lower_is_worse = strcmp(e[3]->str, "lower") == 0;
        s->has_value = e[7]->len > 0 && reply_num(e[7], &s->value) == 0 && reply_int(e[8], &s->observed_at) == 0;
        s->age_ms = s->has_value ? t - s->observed_at : 0;
        if (s->age_ms < 0) s->age_ms = 0;
        s->stale = !s->has_value || s->age_ms > s->def.stale_after_ms;
    }
    freeReplyObject(r);
    if (bad) {
        free(out);
        err_set(err, SLUICE_ERR_PROTOCOL, "signal list: unexpected reply");
        return NULL;
    }
    if (now) *now = t;
    *n = k;
    return out;
}

void sluice_signal_law(const sluice_signal_info *in, sluice_law_signal *out) {
    memset(out, 0, sizeof(*out));
    out->name = in->name;
    out->target = in->def.target;
    out->critical = in->def.critical;
    out->lower_is_worse = in->def.lower_is_worse;
    out->stale_after_ms = in->def.stale_after_ms;
    out->period_ms = in->def.period_ms;
    out->on_stale = in->def.on_stale;
    out->has_value = in->has_value;
    out->value = in->value;
    out->age_ms = in->age_ms;
}

/* ----------------------------- governor ------------------------------ */

static const char *const mode_names[] = {"enforce", "shadow", "off"};

const char *sluice_governor_mode_name(sluice_governor_mode mode) {
    return (unsigned)mode < 3 ? mode_names[mode] : NULL;
}

int sluice_governor_mode_parse(const char *s, sluice_governor_mode *out) {
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            *out = (sluice_governor_mode)i;
            return 0;
        }
    }
    return -1;
}

static void governor_cmd(cmd *m, sluice_client *c, const char *fn) {
    cmd_init(m);
    cmd_fcall_global(m, fn, c->ns, 3, GOVERNOR_KEYS);
}

int sluice_governor_status_get(sluice_client *c, sluice_governor_status *out, sluice_error *err) {
    err_reset(err);
    memset(out, 0, sizeof(*out));
    cmd m;
    governor_cmd(&m, c, "sluice_gov_status");
    redisReply *r = run(c, &m, "governor status", err);
    if (!r) return -1;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements != 7;
    if (!bad) {
        redisReply **e = r->element;
        bad = reply_strcpy(e[0], out->leader, sizeof(out->leader)) | reply_int(e[1], &out->epoch) |
              reply_int(e[2], &out->lease_until) | !e[3]->str || sluice_governor_mode_parse(e[3]->str, &out->mode) < 0 ||
              reply_int(e[4], &out->last_tick) < 0 || reply_int(e[5], &out->ticks) < 0 || reply_int(e[6], &out->now) < 0;
    }
    freeReplyObject(r);
    if (bad) {
        err_set(err, SLUICE_ERR_PROTOCOL, "governor status: unexpected reply");
        return -1;
    }
    return 0;
}

int sluice_governor_mode_set(sluice_client *c, sluice_governor_mode mode, sluice_error *err) {
    err_reset(err);
    if (!sluice_governor_mode_name(mode)) {
        err_set(err, SLUICE_ERR_ARGUMENT, "governor mode: unknown mode");
        return -1;
    }
    cmd m;
    governor_cmd(&m, c, "sluice_gov_mode");
    cmd_str(&m, client_actor(c));
    cmd_str(&m, sluice_governor_mode_name(mode));
    return run_ok(c, &m, "governor mode", err);
}

int sluice_governor_lease(sluice_client *c, const char *owner, int64_t ttl_ms, int *held, int64_t *epoch,
                          sluice_governor_mode *mode, char **state, sluice_error *err) {
    err_reset(err);
    if (state) *state = NULL;
    cmd m;
    governor_cmd(&m, c, "sluice_gov_lease");
    cmd_str(&m, owner);
    cmd_int(&m, ttl_ms);
    redisReply *r = run(c, &m, "governor lease", err);
    if (!r) return -1;
    int64_t h = 0;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements != 5;
    if (!bad) {
        redisReply **e = r->element;
        bad = reply_int(e[0], &h) | reply_int(e[1], epoch) | !e[3]->str ||
              sluice_governor_mode_parse(e[3]->str, mode) < 0;
        if (!bad && state && h && e[4]->len && !(*state = reply_strdup(e[4]))) bad = 1;
    }
    freeReplyObject(r);
    if (bad) {
        err_set(err, SLUICE_ERR_PROTOCOL, "governor lease: unexpected reply");
        return -1;
    }
    *held = h == 1;
    return 0;
}

int sluice_governor_resign(sluice_client *c, const char *owner, sluice_error *err) {
    err_reset(err);
    cmd m;
    governor_cmd(&m, c, "sluice_gov_resign");
    cmd_str(&m, owner);
    return run_ok(c, &m, "governor resign", err);
}

int sluice_governor_commit(sluice_client *c, const char *owner, int64_t epoch, const char *state,
                           const char *decision, int64_t history_max, sluice_error *err) {
    err_reset(err);
    cmd m;
    governor_cmd(&m, c, "sluice_gov_commit");
    cmd_str(&m, owner);
    cmd_int(&m, epoch);
    cmd_str(&m, state);
    cmd_str(&m, decision);
    cmd_int(&m, history_max);
    return run_ok(c, &m, "governor commit", err);
}

char **sluice_governor_history(sluice_client *c, size_t count, size_t *n, sluice_error *err) {
    err_reset(err);
    *n = 0;
    if (count < 1 || count > 100000) {
        err_set(err, SLUICE_ERR_ARGUMENT, "governor history: count must be 1..100000");
        return NULL;
    }
    cmd m;
    cmd_init(&m);
    cmd_xrevrange(&m, c->ns, GLOBAL_TAG, GOVERNOR_KEYS[1], (int64_t)count);
    redisReply *r = run(c, &m, "governor history", err);
    if (!r) return NULL;
    char **out = r->type == REDIS_REPLY_ARRAY && r->elements ? calloc(r->elements, sizeof(*out)) : NULL;
    size_t k = 0;
    for (size_t i = 0; out && i < r->elements; i++) {
        redisReply *entry = r->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || entry->element[1]->elements < 2) continue;
        char *s = reply_strdup(entry->element[1]->element[1]);
        if (s) out[k++] = s;
    }
    freeReplyObject(r);
    *n = k;
    return out;
}
