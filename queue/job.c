/* Jobs by id: job infos and ids, and looking a job up or cancelling it.
 * The claimed-job handle is a lease's (lease.c). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static const char *const state_names[] = {"unknown", "delayed", "ready", "leased", "dead", "done"};

const char *sluice_job_state_name(sluice_job_state s) {
    return word_of(state_names, NWORDS(state_names), (int)s);
}

void sluice_job_info_clear(sluice_job_info *info) {
    if (!info) return;
    free(info->reason);
    free(info->payload);
    free(info->unique);
    free(info->key);
    info->reason = info->payload = info->unique = info->key = NULL;
}

void sluice_dead_list_free(sluice_job_info *infos, size_t n) {
    if (!infos) return;
    for (size_t i = 0; i < n; i++) sluice_job_info_clear(&infos[i]);
    free(infos);
}

int sluice_job_id_class(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err) {
    sluice_error_reset(err);
    return id_split(id, cls, err);
}

/* ----------------------------- inspection ---------------------------- */

int sluice_job_get(sluice_client *c, const char *id, sluice_job_info *info, sluice_error *err) {
    sluice_error_reset(err);
    memset(info, 0, sizeof(*info));
    cmd m;
    redisReply *r = NULL;
    if (cmd_job_call(&m, "sluice_job", c->ns, id, err) == 0) {
        cmd_str(&m, "1"); /* with its key */
        r = client_call(c, &m, "job lookup", err);
    }
    cmd_clear(&m);
    if (!r) return -1;
    snprintf(info->id, sizeof(info->id), "%s", id);
    info->ahead = -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        info->state = SLUICE_JOB_UNKNOWN;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 15) {
        redisReply **e = r->element;
        int64_t v[15] = {0};
        int state = word_index(state_names, NWORDS(state_names), e[0]->str, "job state", NULL);
        if (state > 0) info->state = (sluice_job_state)state;
        int idx[] = {1, 2, 3, 4, 5, 6, 7, 10, 11, 13};
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
        info->start_by = v[13];
        info->reason = reply_strdup(e[8]);
        info->payload = reply_strdup(e[9]);
        info->unique = reply_strdup(e[12]);
        info->key = reply_strdup(e[14]);
        if (!info->reason || !info->payload || !info->unique || !info->key || info->state == SLUICE_JOB_UNKNOWN)
            rc = -1;
    } else {
        rc = -1;
    }
    if (rc < 0) {
        sluice_job_info_clear(info);
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "job lookup: unexpected reply");
    }
    freeReplyObject(r);
    return rc;
}

int sluice_job_cancel(sluice_client *c, const char *id, sluice_error *err) {
    sluice_error_reset(err);
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
