/* Ending or extending a lease: ack, fail, extend and release, each fenced
 * by the attempt's token. */

#include <string.h>

#include "queue.h"

/* ------------------------------- leases ------------------------------ */

static redisReply *lease_call(sluice_client *c, const char *fn, const char *what, const char *id,
                              int64_t token, const char *extra, int64_t extra_int, int has_extra_int,
                              sluice_error *err) {
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

int sluice_extend(sluice_client *c, const char *id, int64_t token, int64_t ms, int64_t *deadline,
                  sluice_error *err) {
    sluice_error_reset(err);
    redisReply *r = lease_call(c, "sluice_extend", "extend", id, token, NULL, ms, 1, err);
    if (!r) return -1;
    int64_t d;
    int rc = reply_int(r, &d);
    if (rc < 0) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "extend: unexpected reply");
    else if (deadline) *deadline = d;
    freeReplyObject(r);
    return rc;
}

int sluice_release(sluice_client *c, const char *id, int64_t token, sluice_error *err) {
    return lease_end(c, "sluice_release", "release", id, token, err);
}
