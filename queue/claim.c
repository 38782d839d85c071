/* Claims: leasing the head of a class through its gate, and reading a
 * claim's reply, for the sync client and async callers alike. */

#include <stdlib.h>
#include <string.h>

#include "queue.h"

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
    cmd_claim(&m, c->ns, cls, consumer, max, 0);   /* idle: see sluice_claim in sluice/client.h */
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
            sluice_error_set(err, SLUICE_ERR_NOMEM, "claim: out of memory");
            return -1;
        }
    }
    info->count = (size_t)k;
    return 0;
}
