/* Replies: numbers and strings read strictly, and error replies mapped to
 * sluice errors. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* ------------------------------ replies ------------------------------ */

int reply_int(const redisReply *r, int64_t *out) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(r->str, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int reply_num(const redisReply *r, double *out) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = (double)r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 40) return -1;
    char *end;
    errno = 0;
    double v = strtod(r->str, &end);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int reply_strcpy(const redisReply *r, char *buf, size_t len) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || len == 0) return -1;
    size_t n = r->len < len - 1 ? r->len : len - 1;
    memcpy(buf, r->str, n);
    buf[n] = '\0';
    return 0;
}

char *reply_strdup(const redisReply *r) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return NULL;
    char *s = malloc(r->len + 1);
    if (!s) return NULL;
    memcpy(s, r->str, r->len);
    s[r->len] = '\0';
    return s;
}

void strings_free(char **strings, size_t n) {
    if (!strings) return;
    for (size_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

int sluice_reply_check(const redisReply *r, const char *what, sluice_error *err) {
    sluice_error_reset(err);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis", what);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, what);
        return -1;
    }
    return 0;
}

int reply_created(redisReply *r, int *created, sluice_error *err) {
    if (!r) return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "unexpected reply");
        rc = -1;
    } else if (created) {
        *created = strcmp(r->str, "created") == 0;
    }
    freeReplyObject(r);
    return rc;
}
