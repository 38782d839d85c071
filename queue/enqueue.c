/* Enqueue: what producers send is validated whole (payloads, options)
 * before one pipelined Function call per 1000 jobs. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"

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
    sluice_error_reset(err);
    if (!payload) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: missing");
        return -1;
    }
    if (len > SLUICE_PAYLOAD_HARD_MAX) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: %zu bytes is over the %d-byte cap", len,
                         SLUICE_PAYLOAD_HARD_MAX);
        return -1;
    }
    if (memchr(payload, '\0', len)) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: contains a NUL byte");
        return -1;
    }
    json_error_t jerr;
    json_t *v = json_loadb(payload, len, 0, &jerr);
    if (!v) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: not JSON (%s at byte %d)", jerr.text,
                         jerr.position);
        return -1;
    }
    int rc = 0;
    if (!json_is_object(v)) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: not a JSON object");
        rc = -1;
    } else if (!depth_ok(v, 1)) {
        sluice_error_set(err, SLUICE_ERR_PAYLOAD, "invalid payload: nested deeper than %d", SLUICE_PAYLOAD_MAX_DEPTH);
        rc = -1;
    }
    json_decref(v);
    return rc;
}

int opts_check(const sluice_enqueue_opts *o, sluice_error *err) {
    if (!o) return 0;
    const struct {
        const char *name;
        double v, lo, hi;
    } opt[] = {
        {"delay_ms", (double)o->delay_ms, 0, (double)SLUICE_DELAY_MAX},
        {"run_at_ms", (double)o->run_at_ms, 0, (double)SLUICE_RUN_AT_MAX},
        {"priority", o->priority, -SLUICE_PRIORITY_MAX, SLUICE_PRIORITY_MAX},
        {"max_attempts", o->max_attempts, 0, sluice_class_field_find("max_attempts")->hi},
        {"timeout_ms", (double)o->timeout_ms, 0, sluice_class_field_find("timeout_ms")->hi},
        {"the unique key's length", o->unique ? (double)strlen(o->unique) : 0, 0, SLUICE_UNIQUE_MAX},
        {"cost", (double)o->cost, 0, SLUICE_COST_MAX},
        {"start_by_ms", (double)o->start_by_ms, 0, (double)SLUICE_RUN_AT_MAX},
        {"start_within_ms", (double)o->start_within_ms, 0, (double)SLUICE_RUN_AT_MAX},
        {"replicas", o->replicas, 0, SLUICE_REPLICAS_MAX},
        {"replicas_timeout_ms", (double)o->replicas_timeout_ms, 0, SLUICE_REPLICAS_TIMEOUT_MAX},
    };
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (opt[i].v < opt[i].lo || opt[i].v > opt[i].hi) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "invalid option: %s must be in %.15g..%.15g", opt[i].name,
                             opt[i].lo, opt[i].hi);
            return -1;
        }
    }
    if (o->delay_ms && o->run_at_ms) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "invalid option: delay_ms and run_at_ms are exclusive");
        return -1;
    }
    if (o->start_by_ms && o->start_within_ms) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "invalid option: start_by_ms and start_within_ms are exclusive");
        return -1;
    }
    sluice_error e;
    if (o->key && *o->key && sluice_key_check(o->key, &e) < 0) {
        sluice_error_set(err, e.code, "invalid option: %s", e.text);
        return -1;
    }
    return 0;
}

/* ------------------------------ enqueue ------------------------------ */

static void add_job(cmd *m, const char *payload, const sluice_enqueue_opts *o) {
    static const sluice_enqueue_opts none;
    if (!o) o = &none;
    cmd_str(m, payload);
    cmd_int(m, o->delay_ms);
    cmd_int(m, o->run_at_ms);
    cmd_int(m, o->priority);
    cmd_int(m, o->max_attempts);
    cmd_int(m, o->timeout_ms);
    cmd_str(m, o->unique ? o->unique : "");
    cmd_int(m, o->cost);
    cmd_str(m, o->key ? o->key : "");
    cmd_int(m, o->start_by_ms);
    cmd_int(m, o->start_within_ms);
}

static const sluice_enqueue_opts *opts_at(const sluice_enqueue_opts *opts, int each, size_t i) {
    return opts && each ? &opts[i] : opts;
}

#define REPLICAS_TIMEOUT_DEFAULT 1000 /* ms */

/* WAIT for the most replicas any job's options ask, as long as the longest
 * timeout any asks, on the link that took the n jobs. Returns 0 (also when
 * none asks), or -1 with SLUICE_ERR_NOT_REPLICATED: too few acknowledged,
 * or WAIT was refused (no ACL permission) or got no answer. */
static int confirm(sluice_client *c, size_t n, const sluice_enqueue_opts *opts, int each, sluice_error *err) {
    int replicas = 0;
    int64_t timeout = 0;
    for (size_t i = 0; opts && i < (each ? n : 1); i++) {
        const sluice_enqueue_opts *o = opts_at(opts, each, i);
        if (o->replicas > replicas) replicas = o->replicas;
        if (o->replicas && o->replicas_timeout_ms > timeout) timeout = o->replicas_timeout_ms;
    }
    if (replicas == 0) return 0;
    if (timeout == 0) timeout = REPLICAS_TIMEOUT_DEFAULT;
    cmd m;
    cmd_init(&m);
    cmd_str(&m, "WAIT");
    cmd_int(&m, replicas);
    cmd_int(&m, timeout);
    sluice_error why;
    sluice_error_reset(&why);
    redisReply *r = client_call_last(c, &m, timeout, "WAIT", &why);
    cmd_clear(&m);
    int64_t acked = -1;
    if (r && reply_int(r, &acked) < 0) sluice_error_set(&why, SLUICE_ERR_PROTOCOL, "WAIT: unexpected reply");
    freeReplyObject(r);
    if (acked >= replicas) return 0;
    if (why.code)
        sluice_error_set(err, SLUICE_ERR_NOT_REPLICATED, "enqueue: done, but not confirmed on %d replicas: %s",
                         replicas, why.text);
    else
        sluice_error_set(err, SLUICE_ERR_NOT_REPLICATED,
                         "enqueue: done, but not confirmed on %d replicas: %lld acknowledged within %lld ms", replicas,
                         (long long)acked, (long long)timeout);
    return -1;
}

int sluice_enqueue_many(sluice_client *c, const char *cls, size_t n, const char *const *payloads,
                        const sluice_enqueue_opts *opts, int opts_each, char (*ids)[SLUICE_ID_MAX], size_t *done,
                        sluice_error *err) {
    sluice_error_reset(err);
    if (done) *done = 0;
    if (sluice_name_check(cls, err) < 0) return -1;
    if (n == 0) return 0;
    if (!payloads) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "enqueue: no payloads");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (sluice_payload_check(payloads[i], payloads[i] ? strlen(payloads[i]) : 0, err) < 0 ||
            opts_check(opts_at(opts, opts_each, i), err) < 0) {
            if (n > 1 && err) {
                char text[SLUICE_ERROR_TEXT];
                snprintf(text, sizeof(text), "job %zu: %.200s", i, err->text);
                memcpy(err->text, text, sizeof(text));
            }
            return -1;
        }
    }
    size_t nbatch = (n + SLUICE_BATCH_MAX - 1) / SLUICE_BATCH_MAX;
    cmd *cmds = calloc(nbatch, sizeof(*cmds));
    redisReply **replies = calloc(nbatch, sizeof(*replies));
    sluice_error *errs = calloc(nbatch, sizeof(*errs));
    int rc = -1;
    if (!cmds || !replies || !errs) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "enqueue: out of memory");
        goto out;
    }
    for (size_t b = 0; b < nbatch; b++) {
        size_t from = b * SLUICE_BATCH_MAX, to = from + SLUICE_BATCH_MAX < n ? from + SLUICE_BATCH_MAX : n;
        cmd_fcall_class(&cmds[b], "sluice_enqueue", c->ns, cls);
        cmd_int(&cmds[b], (int64_t)(to - from));
        for (size_t i = from; i < to; i++) add_job(&cmds[b], payloads[i], opts_at(opts, opts_each, i));
    }
    sluice_error link;
    sluice_error_reset(&link);
    client_pipeline(c, cmds, nbatch, replies, errs, &link);
    size_t count = 0;
    for (size_t b = 0; b < nbatch; b++) {
        redisReply *r = replies[b];
        size_t from = b * SLUICE_BATCH_MAX, want = n - from < SLUICE_BATCH_MAX ? n - from : SLUICE_BATCH_MAX;
        if (!r) {
            if (errs[b].code)
                sluice_error_set(err, errs[b].code, "enqueue: %s", errs[b].text);
            else
                sluice_error_set(err, link.code ? link.code : SLUICE_ERR_UNREACHABLE, "enqueue: %s", link.text);
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != want) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "enqueue: unexpected reply");
            continue;
        }
        for (size_t i = 0; i < want; i++)
            if (ids) reply_strcpy(r->element[i], ids[from + i], SLUICE_ID_MAX);
        count += want;
    }
    if (done) *done = count;
    rc = count == n ? confirm(c, n, opts, opts_each, err) : -1;
out:
    for (size_t b = 0; cmds && b < nbatch; b++) {
        cmd_clear(&cmds[b]);
        if (replies && replies[b]) freeReplyObject(replies[b]);
    }
    free(cmds);
    free(replies);
    free(errs);
    return rc;
}

int sluice_enqueue(sluice_client *c, const char *cls, const char *payload, const sluice_enqueue_opts *opts,
                   char id[SLUICE_ID_MAX], sluice_error *err) {
    return sluice_enqueue_many(c, cls, 1, &payload, opts, 0, (char(*)[SLUICE_ID_MAX])id, NULL, err);
}
