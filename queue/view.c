/* Class views: a class's configuration, depths, gate and ready head for
 * many classes, four commands each, in one pipelined round trip. */

#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define PER_CLASS 4 /* class get, stats, gate, ZRANGE ready 0 0 */

/* Builds class "cls"'s four commands at b->cmds[at..]. Returns 0, or -1
 * with err set. */
static int view_cmds(sluice_client *c, client_batch *b, size_t at, const char *cls, sluice_error *err) {
    char key[KEY_MAX];
    if (cmd_class_call(&b->cmds[at], "sluice_class_get", c, cls, 0, err) < 0 ||
        cmd_class_call(&b->cmds[at + 1], "sluice_stats", c, cls, 0, err) < 0 ||
        cmd_class_call(&b->cmds[at + 2], "sluice_gate", c, cls, 0, err) < 0)
        return -1;
    key_name(key, sizeof(key), c->ns, cls, CLASS_KEYS[CLASS_KEY_ready]);
    cmd *z = &b->cmds[at + 3];
    cmd_init(z);
    cmd_str(z, "ZRANGE");
    cmd_str(z, key);
    cmd_int(z, 0);
    cmd_int(z, 0);
    return 0;
}

/* Fills *v from the replies at b->replies[at..]. Returns 0, or -1 with err
 * set; a class not declared is found = 0. */
static int view_fill(const client_batch *b, size_t at, sluice_class_view *v, sluice_error *err) {
    memset(v, 0, sizeof(*v));
    for (size_t k = 0; k < PER_CLASS; k++) {
        if (b->replies[at + k]) continue;
        if (b->errs[at + k].code == SLUICE_ERR_UNKNOWN_CLASS) return 0; /* deleted meanwhile */
        *err = b->errs[at + k];
        return -1;
    }
    redisReply *const *r = b->replies + at;
    if (class_get_reply(r[0], &v->cfg, err) < 0 || stats_get_reply(r[1], &v->stats, err) < 0 ||
        gate_get_reply(r[2], &v->gate, err) < 0)
        return -1;
    if (r[3]->type != REDIS_REPLY_ARRAY ||
        (r[3]->elements == 1 && reply_strcpy(r[3]->element[0], v->head, sizeof(v->head)) < 0)) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "class view: unexpected reply");
        return -1;
    }
    v->found = 1;
    return 0;
}

int sluice_class_view_get(sluice_client *c, const char *const *names, size_t n, sluice_class_view *out,
                          sluice_error *err) {
    sluice_error_reset(err);
    if (n == 0) return 0;
    if (n > SLUICE_VIEW_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "class view: at most %d classes at once", SLUICE_VIEW_MAX);
        return -1;
    }
    client_batch b = {0};
    if (client_batch_init(&b, n * PER_CLASS) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "class view: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) rc = view_cmds(c, &b, i * PER_CLASS, names[i], err);
    if (rc == 0) rc = client_batch_run(c, &b, err);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = view_fill(&b, i * PER_CLASS, &out[i], err);
    client_batch_clear(&b);
    return rc;
}
