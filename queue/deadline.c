/* Deadlines (sluice/deadline.h): the on_expiry words, the view of a
 * class's earliest start_by entries and the samples spread over them all. */

#include <stdio.h>
#include <string.h>

#include "queue.h"

#define ON_EXPIRY_NAME(constant, name) [constant] = name,
static const char *const on_expiry_names[] = {SLUICE_ON_EXPIRY_LIST(ON_EXPIRY_NAME)};

const char *sluice_on_expiry_name(sluice_on_expiry o) {
    return word_of(on_expiry_names, NWORDS(on_expiry_names), (int)o);
}

int sluice_on_expiry_parse(const char *s, sluice_on_expiry *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(on_expiry_names, NWORDS(on_expiry_names), s, "on_expiry", err);
    if (i < 0) return -1;
    *out = (sluice_on_expiry)i;
    return 0;
}

int sluice_deadline_view(sluice_client *c, const char *cls, size_t limit, sluice_deadline_entry *out, size_t *n,
                         int64_t *now, int64_t *total, sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (limit < 1 || limit > SLUICE_DEADLINE_VIEW_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "deadline view: limit must be 1..%d", SLUICE_DEADLINE_VIEW_MAX);
        return -1;
    }
    cmd m;
    if (cmd_class_call(&m, "sluice_deadline_view", c, cls, 0, err) < 0) return -1;
    cmd_int(&m, (int64_t)limit);
    redisReply *r = client_run(c, &m, "deadline view", err);
    if (!r) return -1;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements % 2 || (r->elements - 2) / 2 > limit ||
              reply_int(r->element[0], now) < 0 || reply_int(r->element[1], total) < 0;
    for (size_t i = 2; !bad && i < r->elements; i += 2)
        bad = reply_int(r->element[i], &out[(i - 2) / 2].start_by) < 0 ||
              reply_int(r->element[i + 1], &out[(i - 2) / 2].ahead) < 0;
    if (bad)
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "deadline view: unexpected reply");
    else
        *n = (r->elements - 2) / 2;
    freeReplyObject(r);
    return bad ? -1 : 0;
}

int sluice_deadline_samples(sluice_client *c, const char *cls, int64_t total, sluice_deadline_entry *out, size_t *n,
                            sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (sluice_name_check(cls, err) < 0) return -1;
    if (total <= 0) return 0;
    char key[KEY_MAX];
    key_name(key, sizeof(key), c->ns, cls, CLASS_KEYS[CLASS_KEY_deadlines]);
    client_batch b = {0};
    if (client_batch_init(&b, SLUICE_DEADLINE_SAMPLES) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "deadline samples: out of memory");
        return -1;
    }
    int64_t index[SLUICE_DEADLINE_SAMPLES];
    for (int i = 0; i < SLUICE_DEADLINE_SAMPLES; i++) {
        index[i] = sluice_deadline_sample_index(total, i);
        cmd_init(&b.cmds[i]);
        cmd_str(&b.cmds[i], "ZRANGE");
        cmd_str(&b.cmds[i], key);
        cmd_int(&b.cmds[i], index[i]);
        cmd_int(&b.cmds[i], index[i]);
        cmd_str(&b.cmds[i], "WITHSCORES");
    }
    int rc = client_batch_run(c, &b, err);
    for (int i = 0; rc == 0 && i < SLUICE_DEADLINE_SAMPLES; i++) {
        const redisReply *r = b.replies[i];
        if (!r) {
            *err = b.errs[i];
            rc = -1;
        } else if (r->type != REDIS_REPLY_ARRAY || (r->elements != 0 && r->elements != 2)) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "deadline samples: unexpected reply");
            rc = -1;
        } else if (r->elements == 2 && reply_int(r->element[1], &out[*n].start_by) == 0) {
            out[(*n)++].ahead = index[i] + 1;
        }
    }
    if (rc < 0) *n = 0;
    client_batch_clear(&b);
    return rc;
}
