/* Job operations: enqueue, claim, ack, fail, extend, release, lookup,
 * cancel, counters and the dead set. Each is one Function call. */
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static int class_ok(const char *cls, sluice_error *err) {
    return sluice_name_check(cls, err);
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
}

static const sluice_enqueue_opts *opts_at(const sluice_enqueue_opts *opts, int each, size_t i) {
    return opts && each ? &opts[i] : opts;
}

int sluice_enqueue_many(sluice_client *c, const char *cls, size_t n, const char *const *payloads,
                        const sluice_enqueue_opts *opts, int opts_each, char (*ids)[SLUICE_ID_MAX],
                        size_t *done, sluice_error *err) {
    err_reset(err);
    if (done) *done = 0;
    if (class_ok(cls, err) < 0) return -1;
    if (n == 0) return 0;
    if (!payloads) {
        err_set(err, SLUICE_ERR_ARGUMENT, "enqueue: no payloads");
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
        err_set(err, SLUICE_ERR_NOMEM, "enqueue: out of memory");
        goto out;
    }
    for (size_t b = 0; b < nbatch; b++) {
        size_t from = b * SLUICE_BATCH_MAX, to = from + SLUICE_BATCH_MAX < n ? from + SLUICE_BATCH_MAX : n;
        cmd_fcall_class(&cmds[b], "sluice_enqueue", c->ns, cls);
        cmd_int(&cmds[b], (int64_t)(to - from));
        for (size_t i = from; i < to; i++) add_job(&cmds[b], payloads[i], opts_at(opts, opts_each, i));
    }
    sluice_error link;
    err_reset(&link);
    client_pipeline(c, cmds, nbatch, replies, errs, &link);
    size_t count = 0;
    for (size_t b = 0; b < nbatch; b++) {
        redisReply *r = replies[b];
        size_t from = b * SLUICE_BATCH_MAX, want = n - from < SLUICE_BATCH_MAX ? n - from : SLUICE_BATCH_MAX;
        if (!r) {
            if (errs[b].code) err_set(err, errs[b].code, "enqueue: %s", errs[b].text);
            else err_set(err, link.code ? link.code : SLUICE_ERR_UNREACHABLE, "enqueue: %s", link.text);
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != want) {
            err_set(err, SLUICE_ERR_PROTOCOL, "enqueue: unexpected reply");
            continue;
        }
        for (size_t i = 0; i < want; i++)
            if (ids) reply_strcpy(r->element[i], ids[from + i], SLUICE_ID_MAX);
        count += want;
    }
    if (done) *done = count;
    rc = count == n ? 0 : -1;
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

/* ------------------------------- claim ------------------------------- */

int sluice_claim(sluice_client *c, const char *cls, const char *consumer, size_t max, sluice_job **jobs,
                 sluice_claim_info *info, sluice_error *err) {
    err_reset(err);
    memset(info, 0, sizeof(*info));
    if (class_ok(cls, err) < 0) return -1;
    if (max < 1 || max > SLUICE_BATCH_MAX) {
        err_set(err, SLUICE_ERR_ARGUMENT, "claim: max must be 1..%d", SLUICE_BATCH_MAX);
        return -1;
    }
    cmd m;
    cmd_init(&m);
    cmd_claim(&m, c->ns, cls, consumer, max, 0);   /* idle: see sluice_claim in sluice/client.h */
    redisReply *r = client_call(c, &m, "claim", err);
    cmd_clear(&m);
    if (!r) return -1;
    int rc = sluice_claim_parse(r, max, jobs, info, err);
    freeReplyObject(r);
    return rc;
}

/* ------------------------------- leases ------------------------------ */

static redisReply *lease_call(sluice_client *c, const char *fn, const char *what, const char *id,
                              int64_t token, const char *extra, int64_t extra_int, int has_extra_int,
                              sluice_error *err) {
    char cls[SLUICE_ID_MAX];
    if (id_split(id, cls, err) < 0) return NULL;
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, fn, c->ns, cls);
    cmd_str(&m, id);
    cmd_int(&m, token);
    if (extra) cmd_str(&m, extra);
    if (has_extra_int) cmd_int(&m, extra_int);
    redisReply *r = client_call(c, &m, what, err);
    cmd_clear(&m);
    return r;
}

static int lease_end(sluice_client *c, const char *fn, const char *what, const char *id, int64_t token,
                     sluice_error *err) {
    err_reset(err);
    redisReply *r = lease_call(c, fn, what, id, token, NULL, 0, 0, err);
    freeReplyObject(r);
    return r ? 0 : -1;
}

int sluice_ack(sluice_client *c, const char *id, int64_t token, sluice_error *err) {
    return lease_end(c, "sluice_ack", "ack", id, token, err);
}

int sluice_fail(sluice_client *c, const char *id, int64_t token, const char *reason, int64_t *retry_ms,
                sluice_error *err) {
    err_reset(err);
    redisReply *r = lease_call(c, "sluice_fail", "fail", id, token, reason ? reason : "", 0, 0, err);
    if (!r) return -1;
    int64_t delay = 0;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || reply_int(r->element[1], &delay) < 0) {
        err_set(err, SLUICE_ERR_PROTOCOL, "fail: unexpected reply");
        rc = -1;
    } else if (retry_ms) {
        *retry_ms = strcmp(r->element[0]->str, "dead") == 0 ? -1 : delay;
    }
    freeReplyObject(r);
    return rc;
}

int sluice_extend(sluice_client *c, const char *id, int64_t token, int64_t ms, int64_t *deadline,
                  sluice_error *err) {
    err_reset(err);
    redisReply *r = lease_call(c, "sluice_extend", "extend", id, token, NULL, ms, 1, err);
    if (!r) return -1;
    int64_t d;
    int rc = reply_int(r, &d);
    if (rc < 0) err_set(err, SLUICE_ERR_PROTOCOL, "extend: unexpected reply");
    else if (deadline) *deadline = d;
    freeReplyObject(r);
    return rc;
}

int sluice_release(sluice_client *c, const char *id, int64_t token, sluice_error *err) {
    return lease_end(c, "sluice_release", "release", id, token, err);
}

/* ----------------------------- inspection ---------------------------- */

static redisReply *id_call(sluice_client *c, const char *fn, const char *what, const char *id,
                           sluice_error *err) {
    char cls[SLUICE_ID_MAX];
    if (id_split(id, cls, err) < 0) return NULL;
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, fn, c->ns, cls);
    cmd_str(&m, id);
    redisReply *r = client_call(c, &m, what, err);
    cmd_clear(&m);
    return r;
}

static const struct {
    const char *name;
    sluice_job_state state;
} states[] = {{"delayed", SLUICE_JOB_DELAYED}, {"ready", SLUICE_JOB_READY}, {"leased", SLUICE_JOB_LEASED},
              {"dead", SLUICE_JOB_DEAD},       {"done", SLUICE_JOB_DONE}};

int sluice_job_lookup(sluice_client *c, const char *id, sluice_job_info *info, sluice_error *err) {
    err_reset(err);
    memset(info, 0, sizeof(*info));
    redisReply *r = id_call(c, "sluice_job", "job lookup", id, err);
    if (!r) return -1;
    snprintf(info->id, sizeof(info->id), "%s", id);
    info->ahead = -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        info->state = SLUICE_JOB_UNKNOWN;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 13) {
        redisReply **e = r->element;
        int64_t v[13] = {0};
        for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
            if (e[0]->str && strcmp(e[0]->str, states[i].name) == 0) info->state = states[i].state;
        int idx[] = {1, 2, 3, 4, 5, 6, 7, 10, 11};
        for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
            if (reply_int(e[idx[i]], &v[idx[i]]) < 0) rc = -1;
        info->attempt = (int)v[1];
        info->max_attempts = (int)v[2];
        info->priority = (int)v[3];
        info->cost = v[4];
        info->enqueued_at = v[5];
        info->at = v[6];
        info->reclaims = (int)v[7];
        info->ahead = v[10];
        info->now = v[11];
        info->reason = reply_strdup(e[8]);
        info->payload = reply_strdup(e[9]);
        info->unique = reply_strdup(e[12]);
        if (!info->reason || !info->payload || !info->unique || info->state == SLUICE_JOB_UNKNOWN) rc = -1;
    } else {
        rc = -1;
    }
    if (rc < 0) {
        sluice_job_info_clear(info);
        err_set(err, SLUICE_ERR_PROTOCOL, "job lookup: unexpected reply");
    }
    freeReplyObject(r);
    return rc;
}

int sluice_job_cancel(sluice_client *c, const char *id, sluice_error *err) {
    err_reset(err);
    char cls[SLUICE_ID_MAX];
    if (id_split(id, cls, err) < 0) return -1;
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, "sluice_cancel", c->ns, cls);
    cmd_str(&m, id);
    cmd_str(&m, client_actor(c));
    redisReply *r = client_call(c, &m, "cancel", err);
    cmd_clear(&m);
    freeReplyObject(r);
    return r ? 0 : -1;
}

int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out, sluice_error *err) {
    err_reset(err);
    memset(out, 0, sizeof(*out));
    if (class_ok(cls, err) < 0) return -1;
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
    if (rc) err_set(err, SLUICE_ERR_PROTOCOL, "stats: unexpected reply");
    freeReplyObject(r);
    return rc ? -1 : 0;
}

/* ------------------------------ dead set ----------------------------- */

sluice_job_info *sluice_dead_list(sluice_client *c, const char *cls, size_t offset, size_t count, size_t *n,
                                  sluice_error *err) {
    err_reset(err);
    *n = 0;
    if (class_ok(cls, err) < 0) return NULL;
    if (count < 1 || count > SLUICE_BATCH_MAX) {
        err_set(err, SLUICE_ERR_ARGUMENT, "dead list: count must be 1..%d", SLUICE_BATCH_MAX);
        return NULL;
    }
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, "sluice_dead_list", c->ns, cls);
    cmd_int(&m, (int64_t)offset);
    cmd_int(&m, (int64_t)count);
    redisReply *r = client_call(c, &m, "dead list", err);
    cmd_clear(&m);
    if (!r) return NULL;
    size_t k = r->type == REDIS_REPLY_ARRAY ? r->elements / 5 : 0;
    sluice_job_info *out = NULL;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements % 5 != 0;
    if (!bad && k > 0 && !(out = calloc(k, sizeof(*out)))) {
        err_set(err, SLUICE_ERR_NOMEM, "dead list: out of memory");
        freeReplyObject(r);
        return NULL;
    }
    for (size_t i = 0; !bad && i < k; i++) {
        redisReply **e = r->element + 5 * i;
        int64_t at = 0, attempt = 0;
        sluice_job_info *x = &out[i];
        x->state = SLUICE_JOB_DEAD;
        x->ahead = -1;
        bad = reply_strcpy(e[0], x->id, sizeof(x->id)) < 0 || reply_int(e[1], &at) < 0 ||
              reply_int(e[2], &attempt) < 0 || !(x->reason = reply_strdup(e[3])) ||
              !(x->payload = reply_strdup(e[4])) || !(x->unique = strdup(""));
        x->at = at;
        x->attempt = (int)attempt;
    }
    freeReplyObject(r);
    if (bad) {
        sluice_job_info_array_free(out, k);
        err_set(err, SLUICE_ERR_PROTOCOL, "dead list: unexpected reply");
        return NULL;
    }
    *n = k;
    return out;
}

static int dead_op(sluice_client *c, const char *fn, const char *what, const char *cls, const char *id,
                   int64_t *count, sluice_error *err) {
    err_reset(err);
    if (class_ok(cls, err) < 0) return -1;
    if (id) {
        char owner[SLUICE_ID_MAX];
        if (id_split(id, owner, err) < 0) return -1;
        if (strcmp(owner, cls) != 0) {
            err_set(err, SLUICE_ERR_ARGUMENT, "%s: the job id names another class", what);
            return -1;
        }
    }
    cmd m;
    cmd_init(&m);
    cmd_fcall_class(&m, fn, c->ns, cls);
    cmd_str(&m, id ? id : "*");
    cmd_str(&m, client_actor(c));
    redisReply *r = client_call(c, &m, what, err);
    cmd_clear(&m);
    if (!r) return -1;
    int64_t k = 0;
    int rc = reply_int(r, &k);
    if (rc < 0) err_set(err, SLUICE_ERR_PROTOCOL, "%s: unexpected reply", what);
    else if (count) *count = k;
    freeReplyObject(r);
    return rc;
}

int sluice_dead_retry(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err) {
    return dead_op(c, "sluice_dead_retry", "dead retry", cls, id, count, err);
}

int sluice_dead_purge(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err) {
    return dead_op(c, "sluice_dead_purge", "dead purge", cls, id, count, err);
}
