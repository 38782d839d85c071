/* A class's depths and counters. */

#include <string.h>

#include "stats.h"

int stats_get_reply(const redisReply *r, sluice_class_stats *out, sluice_error *err) {
    memset(out, 0, sizeof(*out));
    int64_t *slots[] = {&out->enqueued,     &out->claimed,   &out->acked,    &out->failed,    &out->retried,
                        &out->died,         &out->reclaimed, &out->released, &out->cancelled, &out->throttled,
                        &out->dead_dropped, &out->purged,    &out->late,     &out->expired};
    const size_t nslots = sizeof(slots) / sizeof(slots[0]);
    int rc = r->type == REDIS_REPLY_ARRAY && r->elements == 4 + 2 * nslots ? 0 : -1;
    if (rc == 0) {
        rc |= reply_int(r->element[0], &out->ready) | reply_int(r->element[1], &out->delayed) |
              reply_int(r->element[2], &out->leased) | reply_int(r->element[3], &out->dead);
        for (size_t i = 0; i < nslots; i++) rc |= reply_int(r->element[5 + 2 * i], slots[i]);
    }
    if (rc) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "stats: unexpected reply");
    return rc ? -1 : 0;
}

int sluice_class_stats_get(sluice_client *c, const char *cls, sluice_class_stats *out, sluice_error *err) {
    sluice_error_reset(err);
    memset(out, 0, sizeof(*out));
    cmd m;
    if (cmd_class_call(&m, "sluice_stats", c, cls, 0, err) < 0) return -1;
    redisReply *r = client_run(c, &m, "stats", err);
    if (!r) return -1;
    int rc = stats_get_reply(r, out, err);
    freeReplyObject(r);
    return rc;
}
