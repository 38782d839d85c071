/* Errors: the caller-owned error struct and the mapping of Redis replies. */
#include <stdio.h>
#include <string.h>

#include "queue.h"

static const char *const names[] = {
    [SLUICE_OK] = "ok",
    [SLUICE_ERR_UNREACHABLE] = "unreachable",
    [SLUICE_ERR_AUTH] = "authentication failed",
    [SLUICE_ERR_URL] = "bad url",
    [SLUICE_ERR_NAME] = "invalid name",
    [SLUICE_ERR_PAYLOAD] = "invalid payload",
    [SLUICE_ERR_ARGUMENT] = "invalid argument",
    [SLUICE_ERR_UNKNOWN_CLASS] = "unknown class",
    [SLUICE_ERR_QUEUE_FULL] = "queue full",
    [SLUICE_ERR_STALE] = "stale token",
    [SLUICE_ERR_NOT_FOUND] = "not found",
    [SLUICE_ERR_BUSY] = "busy",
    [SLUICE_ERR_STATE] = "wrong state",
    [SLUICE_ERR_SERVER] = "server error",
    [SLUICE_ERR_PROTOCOL] = "protocol error",
    [SLUICE_ERR_NOMEM] = "out of memory",
    [SLUICE_ERR_UNAVAILABLE] = "unavailable",
};

const char *sluice_error_name(sluice_error_code code) {
    return word_of(names, NWORDS(names), (int)code);
}

void sluice_error_reset(sluice_error *err) {
    if (!err) return;
    err->code = SLUICE_OK;
    err->text[0] = '\0';
}

void sluice_error_set(sluice_error *err, sluice_error_code code, const char *fmt, ...) {
    if (!err || err->code != SLUICE_OK) return;
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    for (char *p = err->text; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

/* The Functions answer "CODE sentence"; Redis appends " script: ..." */
static const struct {
    const char *word;
    sluice_error_code code;
} domain[] = {
    {"NOCLASS", SLUICE_ERR_UNKNOWN_CLASS}, {"BADNAME", SLUICE_ERR_NAME},
    {"BADARG", SLUICE_ERR_ARGUMENT},       {"PAYLOAD", SLUICE_ERR_PAYLOAD},
    {"FULL", SLUICE_ERR_QUEUE_FULL},       {"STALE", SLUICE_ERR_STALE},
    {"NOTFOUND", SLUICE_ERR_NOT_FOUND},    {"BUSY", SLUICE_ERR_BUSY},
    {"STATE", SLUICE_ERR_STATE},
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
