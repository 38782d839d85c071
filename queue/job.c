/* Jobs: the claimed-job handle, job infos, and the validation of what
 * producers send (payloads, names, ids, options) before anything is sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"

struct sluice_job {
    char id[SLUICE_ID_MAX];
    char cls[SLUICE_ID_MAX];
    int attempt;
    int max_attempts;
    int64_t token;
    int64_t timeout_ms;   /* ms */
    int reclaims;
    size_t payload_len;
    char payload[];       /* NUL-terminated */
};

sluice_job *job_new(const char *id, const char *payload, size_t len, int attempt, int max_attempts,
                    int64_t token, int64_t timeout_ms, int reclaims) {
    sluice_job *j = malloc(sizeof(*j) + len + 1);
    if (!j) return NULL;
    snprintf(j->id, sizeof(j->id), "%s", id);
    if (id_split(id, j->cls, NULL) < 0) j->cls[0] = '\0';
    j->attempt = attempt;
    j->max_attempts = max_attempts;
    j->token = token;
    j->timeout_ms = timeout_ms;
    j->reclaims = reclaims;
    j->payload_len = len;
    memcpy(j->payload, payload, len);
    j->payload[len] = '\0';
    return j;
}

const char *sluice_job_id(const sluice_job *j) { return j->id; }
const char *sluice_job_class(const sluice_job *j) { return j->cls; }
const char *sluice_job_payload(const sluice_job *j) { return j->payload; }
size_t sluice_job_payload_len(const sluice_job *j) { return j->payload_len; }
int sluice_job_attempt(const sluice_job *j) { return j->attempt; }
int sluice_job_max_attempts(const sluice_job *j) { return j->max_attempts; }
int64_t sluice_job_token(const sluice_job *j) { return j->token; }
int64_t sluice_job_timeout_ms(const sluice_job *j) { return j->timeout_ms; }
int sluice_job_reclaims(const sluice_job *j) { return j->reclaims; }
void sluice_job_free(sluice_job *j) { free(j); }

static const char *const state_names[] = {"unknown", "delayed", "ready", "leased", "dead", "done"};

const char *sluice_job_state_name(sluice_job_state s) {
    if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0])) return "unknown";
    return state_names[s];
}

void sluice_job_info_clear(sluice_job_info *info) {
    if (!info) return;
    free(info->reason);
    free(info->payload);
    free(info->unique);
    info->reason = info->payload = info->unique = NULL;
}

void sluice_job_info_array_free(sluice_job_info *infos, size_t n) {
    if (!infos) return;
    for (size_t i = 0; i < n; i++) sluice_job_info_clear(&infos[i]);
    free(infos);
}

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
    err_reset(err);
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= NAME_MAX_LEN && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
    for (size_t i = 1; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    }
    if (!ok) {
        err_set(err, SLUICE_ERR_NAME, "invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
        return -1;
    }
    return 0;
}

/* Containers nested at most SLUICE_PAYLOAD_MAX_DEPTH deep, the root at 1. */
static int depth_ok(json_t *v, int depth) {
    if ((json_is_object(v) || json_is_array(v)) && depth > SLUICE_PAYLOAD_MAX_DEPTH) return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) if (!depth_ok(x, depth + 1)) return 0;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!depth_ok(x, depth + 1)) return 0;
    }
    return 1;
}

int sluice_payload_check(const char *payload, size_t len, sluice_error *err) {
    err_reset(err);
    if (!payload) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: missing");
        return -1;
    }
    if (len > SLUICE_PAYLOAD_HARD_MAX) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: %zu bytes is over the %d-byte cap", len,
                SLUICE_PAYLOAD_HARD_MAX);
        return -1;
    }
    if (memchr(payload, '\0', len)) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: contains a NUL byte");
        return -1;
    }
    json_error_t jerr;
    json_t *v = json_loadb(payload, len, 0, &jerr);
    if (!v) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: not JSON (%s at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    int rc = 0;
    if (!json_is_object(v)) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: not a JSON object");
        rc = -1;
    } else if (!depth_ok(v, 1)) {
        err_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: nested deeper than %d", SLUICE_PAYLOAD_MAX_DEPTH);
        rc = -1;
    }
    json_decref(v);
    return rc;
}

int id_split(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err) {
    const char *colon = id ? strrchr(id, ':') : NULL;
    size_t n = colon ? (size_t)(colon - id) : 0;
    int ok = colon && n >= 1 && n <= NAME_MAX_LEN && colon[1] && strlen(colon + 1) <= 20;
    for (const char *p = ok ? colon + 1 : ""; ok && *p; p++) ok = *p >= '0' && *p <= '9';
    if (ok) {
        memcpy(cls, id, n);
        cls[n] = '\0';
        ok = sluice_name_check(cls, NULL) == 0;
    }
    if (!ok) {
        err_set(err, SLUICE_ERR_ARGUMENT, "invalid job id: expected <class>:<number>");
        return -1;
    }
    return 0;
}

int sluice_id_class(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err) {
    err_reset(err);
    return id_split(id, cls, err);
}

int opts_check(const sluice_enqueue_opts *o, sluice_error *err) {
    if (!o) return 0;
    const char *bad = NULL;
    if (o->delay_ms < 0 || o->delay_ms > 3153600000000LL) bad = "delay_ms must be 0..3153600000000";
    else if (o->run_at_ms < 0 || o->run_at_ms > 253402300799000LL)
        bad = "run_at_ms must be 0..253402300799000 (the year 9999)"; /* as queue/lua/enqueue.lua */
    else if (o->delay_ms && o->run_at_ms) bad = "delay_ms and run_at_ms are exclusive";
    else if (o->priority < -SLUICE_PRIORITY_MAX || o->priority > SLUICE_PRIORITY_MAX)
        bad = "priority must be -1000..1000";
    else if (o->max_attempts < 0 || o->max_attempts > 1000) bad = "max_attempts must be 1..1000";
    else if (o->timeout_ms < 0 || o->timeout_ms > 604800000) bad = "timeout_ms must be 1..604800000";
    else if (o->unique && strlen(o->unique) > 256) bad = "unique key must be at most 256 bytes";
    else if (o->cost < 0 || o->cost > 1000000) bad = "cost must be 1..1000000";
    if (bad) {
        err_set(err, SLUICE_ERR_ARGUMENT, "invalid option: %s", bad);
        return -1;
    }
    return 0;
}
