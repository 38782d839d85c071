/* The dead set: listing its jobs, sending them back to ready, purging. */

#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* ------------------------------ dead set ----------------------------- */

sluice_job_info *sluice_dead_list(sluice_client *c, const char *cls, size_t offset, size_t count, size_t *n,
                                  sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (sluice_name_check(cls, err) < 0) return NULL;
    if (count < 1 || count > SLUICE_BATCH_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "dead list: count must be 1..%d", SLUICE_BATCH_MAX);
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
        sluice_error_set(err, SLUICE_ERR_NOMEM, "dead list: out of memory");
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
              !(x->payload = reply_strdup(e[4])) || !(x->unique = strdup("")) || !(x->key = strdup(""));
        x->at = at;
        x->attempt = (int)attempt;
    }
    freeReplyObject(r);
    if (bad) {
        sluice_dead_list_free(out, k);
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "dead list: unexpected reply");
        return NULL;
    }
    *n = k;
    return out;
}

static int dead_op(sluice_client *c, const char *fn, const char *what, const char *cls, const char *id, int64_t *count,
                   sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(cls, err) < 0) return -1;
    if (id) {
        char owner[SLUICE_ID_MAX];
        if (id_split(id, owner, err) < 0) return -1;
        if (strcmp(owner, cls) != 0) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s: the job id names another class", what);
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
    if (rc < 0)
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "%s: unexpected reply", what);
    else if (count)
        *count = k;
    freeReplyObject(r);
    return rc;
}

int sluice_dead_retry(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err) {
    return dead_op(c, "sluice_dead_retry", "dead retry", cls, id, count, err);
}

int sluice_dead_purge(sluice_client *c, const char *cls, const char *id, int64_t *count, sluice_error *err) {
    return dead_op(c, "sluice_dead_purge", "dead purge", cls, id, count, err);
}
