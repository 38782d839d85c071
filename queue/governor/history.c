/* The governor's history read by time: the decision in force at each of
 * several moments, in one pipelined round trip, for charts that draw an
 * hour without reading every tick of it. */

#include <stdio.h>
#include <stdlib.h>

#include "../queue.h"

char **sluice_governor_history_at(sluice_client *c, const int64_t *at, size_t n, sluice_error *err) {
    sluice_error_reset(err);
    if (n < 1 || n > 100000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "governor history: 1..100000 times at once");
        return NULL;
    }
    client_batch b = {0};
    char **out = calloc(n, sizeof(*out));
    if (!out || client_batch_init(&b, n) < 0) {
        free(out);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor history: out of memory");
        return NULL;
    }
    char key[KEY_MAX];
    key_name(key, sizeof(key), c->ns, GLOBAL_TAG, GOVERNOR_KEYS[GOVERNOR_KEY_history]);
    for (size_t i = 0; i < n; i++) {
        cmd *m = &b.cmds[i];
        cmd_init(m);
        cmd_str(m, "XREVRANGE");
        cmd_str(m, key);
        cmd_int(m, at[i] < 0 ? 0 : at[i]); /* an id of ms alone takes every entry of that ms */
        cmd_str(m, "-");
        cmd_str(m, "COUNT");
        cmd_int(m, 1);
    }
    int rc = client_batch_run(c, &b, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const redisReply *r = b.replies[i];
        if (!r) {
            *err = b.errs[i];
            rc = -1;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
                   r->element[0]->elements == 2 && r->element[0]->element[1]->elements >= 2) {
            rc = (out[i] = reply_strdup(r->element[0]->element[1]->element[1])) ? 0 : -1;
            if (rc < 0) sluice_error_set(err, SLUICE_ERR_NOMEM, "governor history: out of memory");
        }
    }
    client_batch_clear(&b);
    if (rc == 0) return out;
    strings_free(out, n);
    return NULL;
}
