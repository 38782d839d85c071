/* A job's lease: claiming jobs through their class's gate (the claimed-job
 * handle), then extending or ending each lease (ack, fail, release), fenced
 * by the attempt's token. The sync calls of sluice_client, and the same
 * calls as commands and reply decoders for callers that run a connection of
 * their own (sluice/command.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* -------------------------- the claimed job -------------------------- */

struct sluice_job {
    char id[SLUICE_ID_MAX];
    char cls[SLUICE_ID_MAX];
    int attempt;
    int max_attempts;
    int64_t token;
    int64_t timeout_ms; /* ms */
    int reclaims;
    size_t payload_len;
    char payload[]; /* NUL-terminated */
};

static sluice_job *job_new(const char *id, const char *payload, size_t len, int attempt, int max_attempts,
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

const char *sluice_job_id(const sluice_job *j) {
    return j->id;
}
const char *sluice_job_class(const sluice_job *j) {
    return j->cls;
}
const char *sluice_job_payload(const sluice_job *j) {
    return j->payload;
}
size_t sluice_job_payload_len(const sluice_job *j) {
    return j->payload_len;
}
int sluice_job_attempt(const sluice_job *j) {
    return j->attempt;
}
int sluice_job_max_attempts(const sluice_job *j) {
    return j->max_attempts;
}
int64_t sluice_job_token(const sluice_job *j) {
    return j->token;
}
int64_t sluice_job_timeout_ms(const sluice_job *j) {
    return j->timeout_ms;
}
int sluice_job_reclaims(const sluice_job *j) {
    return j->reclaims;
}
void sluice_job_free(sluice_job *j) {
    free(j);
}

/* ------------------------ commands and replies ----------------------- */

struct sluice_command {
    cmd m;
};

int sluice_command_argc(const sluice_command *c) {
    return c->m.argc;
}
const char **sluice_command_argv(const sluice_command *c) {
    return (const char **)c->m.argv;
}
const size_t *sluice_command_argvlen(const sluice_command *c) {
    return c->m.argvlen;
}

void sluice_command_free(sluice_command *c) {
    if (!c) return;
    cmd_clear(&c->m);
    free(c);
}

static sluice_command *finish(sluice_command *c, sluice_error *err) {
    if (c->m.failed) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
        sluice_command_free(c);
        return NULL;
    }
    return c;
}

static sluice_command *alloc(const char *ns, sluice_error *err) {
    if (ns_check(ns, err) < 0) return NULL;
    sluice_command *c = calloc(1, sizeof(*c));
    if (!c) sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
    return c;
}

static void cmd_claim(cmd *m, const char *ns, const char *cls, const char *consumer, size_t max, int busy) {
    cmd_fcall_class(m, "sluice_claim", ns, cls);
    cmd_int(m, (int64_t)max);
    cmd_str(m, consumer ? consumer : "");
    cmd_str(m, busy ? "1" : "0");
}

sluice_command *sluice_command_claim(const char *ns, const char *cls, const char *consumer, size_t max, int busy,
                                     sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(cls, err) < 0) return NULL;
    if (max < 1 || max > SLUICE_BATCH_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "claim: max must be 1..%d", SLUICE_BATCH_MAX);
        return NULL;
    }
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    cmd_claim(&c->m, ns, cls, consumer, max, busy);
    return finish(c, err);
}

static sluice_command *lease_cmd(const char *fn, const char *ns, const char *id, int64_t token, sluice_error *err) {
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    if (cmd_job_call(&c->m, fn, ns, id, err) < 0) {
        sluice_command_free(c);
        return NULL;
    }
    cmd_int(&c->m, token);
    return c;
}

sluice_command *sluice_command_ack(const char *ns, const char *id, int64_t token, sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_ack", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}

#define TOKEN_MAX 9007199254740991LL /* 2^53 - 1, the largest token a Function takes */

/* Builds sluice_ack_many's call into *m (initialised here; the caller
 * clears it) after checking n, every id (all of one class) and every token.
 * Returns 0, or -1 with SLUICE_ERR_ARGUMENT naming the index. */
static int cmd_ack_many(cmd *m, const char *ns, size_t n, const char *const *ids, const int64_t *tokens,
                        sluice_error *err) {
    char cls[SLUICE_ID_MAX], other[SLUICE_ID_MAX];
    cmd_init(m);
    if (n < 1 || n > SLUICE_BATCH_MAX || !ids || !tokens) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "ack_many: expected 1..%d jobs", SLUICE_BATCH_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (id_split(ids[i], i ? other : cls, NULL) < 0) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "ack_many: job %zu: invalid job id: expected <class>:<number>",
                             i);
            return -1;
        }
        if (i && strcmp(other, cls) != 0) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "ack_many: job %zu is not of the class of job 0", i);
            return -1;
        }
        if (tokens[i] < 1 || tokens[i] > TOKEN_MAX) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "ack_many: job %zu: token must be 1..2^53-1", i);
            return -1;
        }
    }
    cmd_fcall_class(m, "sluice_ack_many", ns, cls);
    for (size_t i = 0; i < n; i++) {
        cmd_str(m, ids[i]);
        cmd_int(m, tokens[i]);
    }
    return 0;
}

sluice_command *sluice_command_ack_many(const char *ns, size_t n, const char *const *ids, const int64_t *tokens,
                                        sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    if (cmd_ack_many(&c->m, ns, n, ids, tokens, err) < 0) {
        sluice_command_free(c);
        return NULL;
    }
    return finish(c, err);
}

int sluice_ack_many_parse(const redisReply *r, size_t n, sluice_error_code *results, sluice_error *err) {
    if (sluice_reply_check(r, "ack_many", err) < 0) return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == n;
    for (size_t i = 0; ok && i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_INTEGER && e->integer == 1)
            results[i] = SLUICE_OK;
        else if (e->type == REDIS_REPLY_STRING && strcmp(e->str, "STALE") == 0)
            results[i] = SLUICE_ERR_STALE;
        else
            ok = 0;
    }
    if (!ok) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "ack_many: unexpected reply");
    return ok ? 0 : -1;
}

sluice_command *sluice_command_fail(const char *ns, const char *id, int64_t token, const char *reason,
                                    sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_fail", ns, id, token, err);
    if (!c) return NULL;
    cmd_str(&c->m, reason ? reason : "");
    return finish(c, err);
}

sluice_command *sluice_command_extend(const char *ns, const char *id, int64_t token, int64_t ms, sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_extend", ns, id, token, err);
    if (!c) return NULL;
    cmd_int(&c->m, ms);
    return finish(c, err);
}

sluice_command *sluice_command_release(const char *ns, const char *id, int64_t token, sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_release", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}

/* ------------------------------- claim ------------------------------- */

int sluice_claim(sluice_client *c, const char *cls, const char *consumer, size_t max, sluice_job **jobs,
                 sluice_claim_info *info, sluice_error *err) {
    sluice_error_reset(err);
    memset(info, 0, sizeof(*info));
    if (sluice_name_check(cls, err) < 0) return -1;
    if (max < 1 || max > SLUICE_BATCH_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "claim: max must be 1..%d", SLUICE_BATCH_MAX);
        return -1;
    }
    cmd m;
    cmd_init(&m);
    cmd_claim(&m, c->ns, cls, consumer, max, 0); /* idle: see sluice_claim in sluice/client.h */
    redisReply *r = client_call(c, &m, "claim", err);
    cmd_clear(&m);
    if (!r) return -1;
    int rc = sluice_claim_parse(r, max, jobs, info, err);
    freeReplyObject(r);
    return rc;
}

static int bad_reply(sluice_job **jobs, size_t n, sluice_claim_info *info, sluice_error *err) {
    for (size_t i = 0; i < n; i++) {
        sluice_job_free(jobs[i]);
        jobs[i] = NULL;
    }
    memset(info, 0, sizeof(*info));
    sluice_error_set(err, SLUICE_ERR_PROTOCOL, "claim: unexpected reply");
    return -1;
}

int sluice_claim_parse(const redisReply *r, size_t max, sluice_job **jobs, sluice_claim_info *info, sluice_error *err) {
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
            reply_int(f[3], &timeout) < 0 || reply_int(f[4], &max_attempts) < 0 || f[5]->type != REDIS_REPLY_STRING ||
            reply_int(f[6], &reclaims) < 0 || reclaims < 0 || reclaims > INT_MAX)
            return bad_reply(jobs, i, info, err);
        jobs[i] =
            job_new(f[0]->str, f[5]->str, f[5]->len, (int)attempt, (int)max_attempts, token, timeout, (int)reclaims);
        if (!jobs[i]) {
            bad_reply(jobs, i, info, NULL);
            sluice_error_set(err, SLUICE_ERR_NOMEM, "claim: out of memory");
            return -1;
        }
    }
    info->count = (size_t)k;
    return 0;
}

/* ------------------------------- leases ------------------------------ */

static redisReply *lease_call(sluice_client *c, const char *fn, const char *what, const char *id, int64_t token,
                              const char *extra, int64_t extra_int, int has_extra_int, sluice_error *err) {
    cmd m;
    if (cmd_job_call(&m, fn, c->ns, id, err) < 0) {
        cmd_clear(&m);
        return NULL;
    }
    cmd_int(&m, token);
    if (extra) cmd_str(&m, extra);
    if (has_extra_int) cmd_int(&m, extra_int);
    redisReply *r = client_call(c, &m, what, err);
    cmd_clear(&m);
    return r;
}

static int lease_end(sluice_client *c, const char *fn, const char *what, const char *id, int64_t token,
                     sluice_error *err) {
    sluice_error_reset(err);
    redisReply *r = lease_call(c, fn, what, id, token, NULL, 0, 0, err);
    freeReplyObject(r);
    return r ? 0 : -1;
}

int sluice_ack(sluice_client *c, const char *id, int64_t token, sluice_error *err) {
    return lease_end(c, "sluice_ack", "ack", id, token, err);
}

int sluice_ack_many(sluice_client *c, size_t n, const char *const *ids, const int64_t *tokens,
                    sluice_error_code *results, sluice_error *err) {
    sluice_error_reset(err);
    if (!results) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "ack_many: results is NULL");
        return -1;
    }
    cmd m;
    int rc = cmd_ack_many(&m, c->ns, n, ids, tokens, err);
    redisReply *r = rc < 0 ? NULL : client_call(c, &m, "ack_many", err);
    cmd_clear(&m);
    if (!r) return -1;
    rc = sluice_ack_many_parse(r, n, results, err);
    freeReplyObject(r);
    return rc;
}

int sluice_fail(sluice_client *c, const char *id, int64_t token, const char *reason, int64_t *retry_ms,
                sluice_error *err) {
    sluice_error_reset(err);
    redisReply *r = lease_call(c, "sluice_fail", "fail", id, token, reason ? reason : "", 0, 0, err);
    if (!r) return -1;
    int64_t delay = 0;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || reply_int(r->element[1], &delay) < 0) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "fail: unexpected reply");
        rc = -1;
    } else if (retry_ms) {
        *retry_ms = strcmp(r->element[0]->str, "dead") == 0 ? -1 : delay;
    }
    freeReplyObject(r);
    return rc;
}

int sluice_extend(sluice_client *c, const char *id, int64_t token, int64_t ms, int64_t *deadline, sluice_error *err) {
    sluice_error_reset(err);
    redisReply *r = lease_call(c, "sluice_extend", "extend", id, token, NULL, ms, 1, err);
    if (!r) return -1;
    int64_t d;
    int rc = reply_int(r, &d);
    if (rc < 0)
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "extend: unexpected reply");
    else if (deadline)
        *deadline = d;
    freeReplyObject(r);
    return rc;
}

int sluice_release(sluice_client *c, const char *id, int64_t token, sluice_error *err) {
    return lease_end(c, "sluice_release", "release", id, token, err);
}
