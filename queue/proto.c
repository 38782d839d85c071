/* The Function calls as standalone commands, and the decoding of replies,
 * for callers with their own hiredis connection (see sluice/proto.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

struct sluice_command {
    cmd m;
};

int sluice_command_argc(const sluice_command *c) { return c->m.argc; }
const char **sluice_command_argv(const sluice_command *c) { return (const char **)c->m.argv; }
const size_t *sluice_command_argvlen(const sluice_command *c) { return c->m.argvlen; }

void sluice_command_free(sluice_command *c) {
    if (!c) return;
    cmd_clear(&c->m);
    free(c);
}

static sluice_command *finish(sluice_command *c, sluice_error *err) {
    if (c->m.failed) {
        err_set(err, SLUICE_ERR_NOMEM, "out of memory");
        sluice_command_free(c);
        return NULL;
    }
    return c;
}

static sluice_command *alloc(const char *ns, sluice_error *err) {
    if (ns_check(ns, err) < 0) return NULL;
    sluice_command *c = calloc(1, sizeof(*c));
    if (!c) err_set(err, SLUICE_ERR_NOMEM, "out of memory");
    return c;
}

static sluice_command *start(const char *fn, const char *ns, const char *cls, sluice_error *err) {
    sluice_command *c = alloc(ns, err);
    if (c) cmd_fcall_class(&c->m, fn, ns, cls);
    return c;
}

void cmd_claim(cmd *m, const char *ns, const char *cls, const char *consumer, size_t max, int busy) {
    cmd_fcall_class(m, "sluice_claim", ns, cls);
    cmd_int(m, (int64_t)max);
    cmd_str(m, consumer ? consumer : "");
    cmd_str(m, busy ? "1" : "0");
}

sluice_command *sluice_command_claim(const char *ns, const char *cls, const char *consumer, size_t max,
                                     int busy, sluice_error *err) {
    err_reset(err);
    if (sluice_name_check(cls, err) < 0) return NULL;
    if (max < 1 || max > SLUICE_BATCH_MAX) {
        err_set(err, SLUICE_ERR_ARGUMENT, "claim: max must be 1..%d", SLUICE_BATCH_MAX);
        return NULL;
    }
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    cmd_claim(&c->m, ns, cls, consumer, max, busy);
    return finish(c, err);
}

static sluice_command *lease_cmd(const char *fn, const char *ns, const char *id, int64_t token,
                                 sluice_error *err) {
    char cls[SLUICE_ID_MAX];
    if (id_split(id, cls, err) < 0) return NULL;
    sluice_command *c = start(fn, ns, cls, err);
    if (!c) return NULL;
    cmd_str(&c->m, id);
    cmd_int(&c->m, token);
    return c;
}

sluice_command *sluice_command_ack(const char *ns, const char *id, int64_t token, sluice_error *err) {
    err_reset(err);
    sluice_command *c = lease_cmd("sluice_ack", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}

sluice_command *sluice_command_fail(const char *ns, const char *id, int64_t token, const char *reason,
                                    sluice_error *err) {
    err_reset(err);
    sluice_command *c = lease_cmd("sluice_fail", ns, id, token, err);
    if (!c) return NULL;
    cmd_str(&c->m, reason ? reason : "");
    return finish(c, err);
}

sluice_command *sluice_command_extend(const char *ns, const char *id, int64_t token, int64_t ms,
                                      sluice_error *err) {
    err_reset(err);
    sluice_command *c = lease_cmd("sluice_extend", ns, id, token, err);
    if (!c) return NULL;
    cmd_int(&c->m, ms);
    return finish(c, err);
}

sluice_command *sluice_command_release(const char *ns, const char *id, int64_t token, sluice_error *err) {
    err_reset(err);
    sluice_command *c = lease_cmd("sluice_release", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}

int sluice_reply_check(const redisReply *r, const char *what, sluice_error *err) {
    err_reset(err);
    if (!r) {
        err_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis", what);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, what);
        return -1;
    }
    return 0;
}

static int bad_reply(sluice_job **jobs, size_t n, sluice_claim_info *info, sluice_error *err) {
    for (size_t i = 0; i < n; i++) {
        sluice_job_free(jobs[i]);
        jobs[i] = NULL;
    }
    memset(info, 0, sizeof(*info));
    err_set(err, SLUICE_ERR_PROTOCOL, "claim: unexpected reply");
    return -1;
}

int sluice_claim_parse(const redisReply *r, size_t max, sluice_job **jobs, sluice_claim_info *info,
                       sluice_error *err) {
    memset(info, 0, sizeof(*info));
    if (sluice_reply_check(r, "claim", err) < 0) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING)
        return bad_reply(jobs, 0, info, err);
    redisReply **e = r->element;
    const char *kind = e[0]->str;
    if (strcmp(kind, "empty") == 0 && r->elements == 2) {
        info->status = SLUICE_CLAIM_EMPTY;
        return reply_int(e[1], &info->retry_ms) < 0 ? bad_reply(jobs, 0, info, err) : 0;
    }
    if (strcmp(kind, "suspect") == 0 && r->elements == 2) {
        info->status = SLUICE_CLAIM_SUSPECT;
        return reply_strcpy(e[1], info->id, sizeof(info->id)) < 0 ? bad_reply(jobs, 0, info, err) : 0;
    }
    if (strcmp(kind, "throttled") == 0 && r->elements == 4) {
        info->status = SLUICE_CLAIM_THROTTLED;
        if (reply_int(e[1], &info->retry_ms) < 0 || reply_strcpy(e[2], info->why, sizeof(info->why)) < 0 ||
            reply_num(e[3], &info->fraction) < 0)
            return bad_reply(jobs, 0, info, err);
        return 0;
    }
    /* each job: id, attempt, token, timeout_ms, max_attempts, payload, reclaims */
    enum { GROUP = 7 };
    int64_t k;
    if (strcmp(kind, "jobs") != 0 || reply_int(e[1], &k) < 0 || k < 0 || (size_t)k > max ||
        r->elements != 2 + GROUP * (size_t)k)
        return bad_reply(jobs, 0, info, err);
    info->status = SLUICE_CLAIM_JOBS;
    for (size_t i = 0; i < (size_t)k; i++) {
        redisReply **f = e + 2 + GROUP * i;
        int64_t attempt, token, timeout, max_attempts, reclaims;
        if (f[0]->type != REDIS_REPLY_STRING || reply_int(f[1], &attempt) < 0 || reply_int(f[2], &token) < 0 ||
            reply_int(f[3], &timeout) < 0 || reply_int(f[4], &max_attempts) < 0 ||
            f[5]->type != REDIS_REPLY_STRING || reply_int(f[6], &reclaims) < 0 || reclaims < 0 ||
            reclaims > INT_MAX)
            return bad_reply(jobs, i, info, err);
        jobs[i] = job_new(f[0]->str, f[5]->str, f[5]->len, (int)attempt, (int)max_attempts, token, timeout,
                          (int)reclaims);
        if (!jobs[i]) {
            bad_reply(jobs, i, info, NULL);
            err_set(err, SLUICE_ERR_NOMEM, "claim: out of memory");
            return -1;
        }
    }
    info->count = (size_t)k;
    return 0;
}

const char *sluice_functions_source(void) {
    return sluice_functions_lua;
}

int sluice_functions_version_built(void) {
    return sluice_functions_version;
}
