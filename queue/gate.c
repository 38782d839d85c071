/* Gates: an operator's pause and pin, the governor's decision, and the
 * gate as a claim sees it. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* ------------------------------- gates ------------------------------- */

static int duration_ok(int64_t ms, sluice_error *err) {
    if (ms < 0 || ms > 31536000000LL) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "duration must be 0..31536000000 ms");
        return -1;
    }
    return 0;
}

int sluice_class_pause(sluice_client *c, const char *cls, int64_t for_ms, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (duration_ok(for_ms, err) < 0 || cmd_class_call(&m, "sluice_pause", c, cls, 1, err) < 0) return -1;
    cmd_int(&m, for_ms);
    return client_run_ok(c, &m, "pause", err);
}

int sluice_class_resume(sluice_client *c, const char *cls, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_resume", c, cls, 1, err) < 0) return -1;
    return client_run_ok(c, &m, "resume", err);
}

int sluice_class_pin(sluice_client *c, const char *cls, double fraction, int64_t for_ms, sluice_error *err) {
    sluice_error_reset(err);
    if (!(fraction >= 0 && fraction <= 1)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "fraction must be within [0,1]");
        return -1;
    }
    cmd m;
    if (duration_ok(for_ms, err) < 0 || cmd_class_call(&m, "sluice_pin", c, cls, 1, err) < 0) return -1;
    cmd_num(&m, fraction);
    cmd_int(&m, for_ms);
    return client_run_ok(c, &m, "pin", err);
}

int sluice_class_unpin(sluice_client *c, const char *cls, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_unpin", c, cls, 1, err) < 0) return -1;
    return client_run_ok(c, &m, "unpin", err);
}

int gate_get_reply(const redisReply *r, sluice_gate_info *g, sluice_error *err) {
    memset(g, 0, sizeof(*g));
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
    if (bad) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "gate: unexpected reply");
    return bad ? -1 : 0;
}

int sluice_gate_get(sluice_client *c, const char *cls, sluice_gate_info *g, sluice_error *err) {
    sluice_error_reset(err);
    memset(g, 0, sizeof(*g));
    cmd m;
    if (cmd_class_call(&m, "sluice_gate", c, cls, 0, err) < 0) return -1;
    redisReply *r = client_run(c, &m, "gate", err);
    if (!r) return -1;
    int rc = gate_get_reply(r, g, err);
    freeReplyObject(r);
    return rc;
}

int cmd_govern(cmd *m, sluice_client *c, const char *cls, int64_t epoch, double fraction, int64_t ttl_ms,
               const char *reason, int shadow, sluice_error *err) {
    cmd_init(m);
    if (!(fraction >= 0 && fraction <= 1)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "fraction must be within [0,1]");
        return -1;
    }
    if (cmd_class_call(m, "sluice_govern", c, cls, 0, err) < 0) return -1;
    cmd_int(m, epoch);
    cmd_num(m, fraction);
    cmd_int(m, ttl_ms);
    cmd_str(m, reason ? reason : "");
    cmd_str(m, shadow ? "1" : "0");
    return 0;
}

int sluice_gate_govern(sluice_client *c, const char *cls, int64_t epoch, double fraction, int64_t ttl_ms,
                       const char *reason, int shadow, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_govern(&m, c, cls, epoch, fraction, ttl_ms, reason, shadow, err) < 0) {
        cmd_clear(&m);
        return -1;
    }
    return client_run_ok(c, &m, "govern", err);
}

int sluice_gate_ungovern(sluice_client *c, const char *cls, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    if (cmd_class_call(&m, "sluice_ungovern", c, cls, 0, err) < 0) return -1;
    return client_run_ok(c, &m, "ungovern", err);
}
