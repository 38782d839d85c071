/* libFuzzer target: connection URLs (sluice_url_parse), the parser
 * sluice_client_connect runs before any I/O. Checks that the fields are
 * NUL-terminated within their buffers, the ports (of the server or of each
 * sentinel) and database in range, a sentinel URL's master named, and
 * that an error message never carries the password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *buf, size_t len) {
    if (!memchr(buf, '\0', len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    if (!*s) { /* "" would read SLUICE_REDIS_URL: keep the run hermetic */
        free(s);
        return 0;
    }

    sluice_url u;
    sluice_error err;
    int rc = sluice_url_parse(s, &u, &err);
    if (rc == 0) {
        if (err.code != SLUICE_OK) abort();
        terminated(u.host, sizeof(u.host));
        terminated(u.path, sizeof(u.path));
        terminated(u.user, sizeof(u.user));
        terminated(u.password, sizeof(u.password));
        terminated(u.master, sizeof(u.master));
        if (u.nsentinels < 0 || u.nsentinels > SLUICE_SENTINELS_MAX) abort();
        for (int i = 0; i < u.nsentinels; i++) {
            terminated(u.sentinels[i].host, sizeof(u.sentinels[i].host));
            if (!u.sentinels[i].host[0] || u.sentinels[i].port < 1 || u.sentinels[i].port > 65535) abort();
        }
        if (u.nsentinels) {
            if (!u.master[0] || u.host[0] || u.is_unix) abort();
        } else if (u.is_unix ? u.path[0] != '/' : (u.port < 1 || u.port > 65535 || !u.host[0])) {
            abort();
        }
        if (u.db < 0 || u.db > 100000) abort();
    } else {
        if (err.code != SLUICE_ERR_URL || !err.text[0] || strchr(err.text, '\n')) abort();
        /* the text between ':' and '@' of the userinfo must not be echoed */
        const char *scheme = strstr(s, "://");
        if (scheme) {
            const char *info = scheme + 3;
            const char *at = NULL;
            for (const char *p = info; *p && *p != '/'; p++)
                if (*p == '@') at = p;
            const char *colon = at ? memchr(info, ':', (size_t)(at - info)) : NULL;
            if (colon && at - colon - 1 >= 8) {
                char pw[64];
                size_t n = (size_t)(at - colon - 1) < sizeof(pw) - 1 ? (size_t)(at - colon - 1) : sizeof(pw) - 1;
                memcpy(pw, colon + 1, n);
                pw[n] = '\0';
                /* alphanumeric only, so that it is a word an echo would show whole */
                int plain = 1;
                for (size_t i = 0; pw[i]; i++)
                    if (!((pw[i] >= 'a' && pw[i] <= 'z') || (pw[i] >= 'A' && pw[i] <= 'Z') ||
                          (pw[i] >= '0' && pw[i] <= '9')))
                        plain = 0;
                /* echoing the URL's other parts is allowed: it may hold the
                 * same text elsewhere (in the host or the query) */
                const char *first = strstr(s, pw);
                int once = first && !strstr(first + 1, pw);
                if (plain && once && strlen(pw) >= 8 && strstr(err.text, pw)) {
                    /* an echo, unless the message says it whatever the
                     * password: a word of a fixed message ("sentinel") */
                    char *masked = strdup(s);
                    memset(masked + (colon + 1 - s), 'x', n);
                    sluice_url mu;
                    sluice_error merr;
                    sluice_error_reset(&merr);
                    if (sluice_url_parse(masked, &mu, &merr) == 0 || !strstr(merr.text, pw)) abort();
                    free(masked);
                }
            }
        }
    }
    memset(&u, 0, sizeof(u));
    free(s);
    return 0;
}
