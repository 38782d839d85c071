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

/* ---------------------------- error replies -------------------------- */

/* The Functions answer "CODE sentence"; Redis appends " script: ..." */
static const struct {
    const char *word;
    sluice_error_code code;
} domain[] = {
    {"NOCLASS", SLUICE_ERR_UNKNOWN_CLASS}, {"BADNAME", SLUICE_ERR_NAME},    {"BADARG", SLUICE_ERR_ARGUMENT},
    {"PAYLOAD", SLUICE_ERR_PAYLOAD},       {"FULL", SLUICE_ERR_QUEUE_FULL}, {"STALE", SLUICE_ERR_STALE},
    {"NOTFOUND", SLUICE_ERR_NOT_FOUND},    {"BUSY", SLUICE_ERR_BUSY},       {"STATE", SLUICE_ERR_STATE},
};

/* Refused credentials, or none where Redis wants some: one message for all. */
static const char *const auth_refusals[] = {"WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH"};

/* Redis's own refusals of a command it did not run because it cannot serve
 * now; retrying later is safe. Only without a Function's trailer: a
 * Function's "BUSY" is the domain word (a leased job). */
static const char *const transient[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"};

static int word_at(const char *s, size_t n, const char *word) {
    size_t w = strlen(word);
    return n >= w && strncmp(s, word, w) == 0 && (n == w || s[w] == ' ');
}

void err_from_reply(sluice_error *err, const redisReply *r, const char *what) {
    const char *s = r->str ? r->str : "";
    size_t n = r->len;
    const char *trailer = strstr(s, " script:");
    if (trailer) n = (size_t)(trailer - s);
    for (size_t i = 0; i < sizeof(auth_refusals) / sizeof(auth_refusals[0]); i++) {
        if (strncmp(s, auth_refusals[i], strlen(auth_refusals[i])) == 0) {
            sluice_error_set(err, SLUICE_ERR_AUTH, "%s: authentication failed (check the user and password)", what);
            return;
        }
    }
    for (size_t i = 0; !trailer && i < sizeof(transient) / sizeof(transient[0]); i++) {
        if (word_at(s, n, transient[i])) {
            sluice_error_set(err, SLUICE_ERR_UNAVAILABLE, "%s: redis cannot serve now (retry later): %.*s", what,
                             (int)(n > 160 ? 160 : n), s);
            return;
        }
    }
    for (size_t i = 0; i < sizeof(domain) / sizeof(domain[0]); i++) {
        size_t w = strlen(domain[i].word);
        if (word_at(s, n, domain[i].word)) {
            const char *msg = n > w ? s + w + 1 : domain[i].word;
            int len = (int)(n > w ? n - w - 1 : w);
            sluice_error_set(err, domain[i].code, "%s: %.*s", what, len, msg);
            return;
        }
    }
    /* An ACL refusal inside a Function is "ERR The user executing the script
     * can't ..." where a direct one is "NOPERM ...": name both NOPERM, so a
     * role missing a permission reads the same wherever it was caught. */
    static const char acl_in_script[] = "ERR The user executing the script can't";
    if (strncmp(s, acl_in_script, sizeof(acl_in_script) - 1) == 0) {
        sluice_error_set(err, SLUICE_ERR_SERVER, "%s: redis: NOPERM (ACL) %.*s", what, (int)(n - 4 > 180 ? 180 : n - 4),
                         s + 4);
        return;
    }
    sluice_error_set(err, SLUICE_ERR_SERVER, "%s: redis: %.*s", what, (int)(n > 200 ? 200 : n), s);
}
