/* Connection URLs: redis://[user:password@]host[:port][/db],
 * unix://[user:password@]/path[?db=N] and
 * redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N].
 * Errors never echo the password. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (len bytes). */
static int decode(const char *s, size_t n, char *out, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            ch = hi * 16 + lo;
            if (ch == 0) return -1;
            i += 2;
        }
        if (o + 1 >= len) return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

static int parse_uint(const char *s, size_t n, long max, long *out) {
    if (n == 0 || n > 10) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

/* Splits "user:password@" (before the first '/') off the front; returns the
 * rest, or NULL on error. */
static const char *userinfo(const char *s, sluice_url *u, sluice_error *err) {
    size_t limit = strcspn(s, "/");
    const char *at = NULL;
    for (size_t i = 0; i < limit; i++)
        if (s[i] == '@') at = s + i;
    if (!at) return s;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
    if (decode(s, ulen, u->user, sizeof(u->user)) < 0) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: malformed user name");
        return NULL;
    }
    if (colon && decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof(u->password)) < 0) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: malformed password");
        return NULL;
    }
    if (!colon) {
        /* redis://secret@host: a lone word is the password (the default user). */
        memcpy(u->password, u->user, sizeof(u->user));
        u->user[0] = '\0';
    }
    return at + 1;
}

/* A query the URL may not have: names its first parameter. */
static void bad_query(const char *q, const char *allowed, sluice_error *err) {
    size_t n = strcspn(q + 1, "=&");
    sluice_error_set(err, SLUICE_ERR_URL, "bad url: unknown query parameter '%.*s' (%s)", (int)(n > 32 ? 32 : n), q + 1,
                     allowed);
}

/* The query "?db=N" into u->db. Returns 0, or -1 with err set. */
static int parse_db_query(const char *q, sluice_url *u, sluice_error *err) {
    long db;
    if (strncmp(q, "?db=", 4) != 0) {
        bad_query(q, "the only query is ?db=N", err);
        return -1;
    }
    if (parse_uint(q + 4, strlen(q + 4), 100000, &db) < 0) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: ?db= must be a number");
        return -1;
    }
    u->db = (int)db;
    return 0;
}

static int parse_unix(const char *s, sluice_url *u, sluice_error *err) {
    if (!(s = userinfo(s, u, err))) return -1;
    if (s[0] != '/') {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: unix:// needs an absolute socket path");
        return -1;
    }
    const char *q = strchr(s, '?');
    size_t plen = q ? (size_t)(q - s) : strlen(s);
    if (plen >= sizeof(u->path)) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: socket path is too long");
        return -1;
    }
    memcpy(u->path, s, plen);
    u->path[plen] = '\0';
    if (q && parse_db_query(q, u, err) < 0) return -1;
    u->is_unix = 1;
    return 0;
}

/* host[:port] or [v6]:port in s[0..end) into host (sluice_url's size)
 * and *port (default_port without one). Returns 0, or -1 with err set. */
static int parse_address(const char *s, const char *end, char host[256], int *port, int default_port,
                         sluice_error *err) {
    const char *hend, *p = NULL;
    if (*s == '[') {
        hend = memchr(s, ']', (size_t)(end - s));
        if (!hend) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: unclosed [ in host");
            return -1;
        }
        s++;
        if (hend[1] == ':')
            p = hend + 2;
        else if (hend + 1 != end) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: junk after ]");
            return -1;
        }
    } else {
        hend = memchr(s, ':', (size_t)(end - s));
        if (hend)
            p = hend + 1;
        else
            hend = end;
    }
    size_t hlen = (size_t)(hend - s);
    if (hlen == 0 || hlen >= 256) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: missing or overlong host");
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        int ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != ':' && ch != '_') {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: invalid character in host");
            return -1;
        }
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port = default_port;
    if (p) {
        long v;
        if (parse_uint(p, (size_t)(end - p), 65535, &v) < 0 || v == 0) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: port must be 1..65535");
            return -1;
        }
        *port = (int)v;
    }
    return 0;
}

static int parse_tcp(const char *s, sluice_url *u, sluice_error *err) {
    if (!(s = userinfo(s, u, err))) return -1;
    const char *q = strchr(s, '?');
    if (q) {
        bad_query(q, "redis:// takes none: the database goes in the path, redis://host:port/N", err);
        return -1;
    }
    const char *end = s + strcspn(s, "/");
    if (parse_address(s, end, u->host, &u->port, 6379, err) < 0) return -1;
    if (*end == '/' && end[1]) {
        long db;
        if (parse_uint(end + 1, strlen(end + 1), 100000, &db) < 0) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: database must be a number");
            return -1;
        }
        u->db = (int)db;
    }
    return 0;
}

/* redis-sentinel://[user:password@]host[:port][,host[:port]...]/MASTER[?db=N] */
static int parse_sentinel(const char *s, sluice_url *u, sluice_error *err) {
    if (!(s = userinfo(s, u, err))) return -1;
    const char *slash = s + strcspn(s, "/");
    while (s < slash || u->nsentinels == 0) {
        const char *end = s + strcspn(s, ",/");
        if (end == s) {
            sluice_error_set(err, SLUICE_ERR_URL,
                             "bad url: redis-sentinel:// needs host:port of each sentinel, separated by commas");
            return -1;
        }
        if (u->nsentinels == SLUICE_SENTINELS_MAX) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: more than %d sentinels", SLUICE_SENTINELS_MAX);
            return -1;
        }
        if (parse_address(s, end, u->sentinels[u->nsentinels].host, &u->sentinels[u->nsentinels].port, 26379, err) < 0)
            return -1;
        u->nsentinels++;
        s = *end == ',' ? end + 1 : end;
        if (*end == ',' && s == slash) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: empty sentinel address after a comma");
            return -1;
        }
    }
    const char *q = strchr(slash, '?');
    size_t n = q ? (size_t)(q - slash) : strlen(slash);
    if (n < 2 || n - 1 > SLUICE_MASTER_NAME_MAX) {
        sluice_error_set(
            err, SLUICE_ERR_URL,
            "bad url: redis-sentinel:// needs the master's name after the sentinels: /NAME, 1..64 characters");
        return -1;
    }
    for (size_t i = 1; i < n; i++) {
        int ch = (unsigned char)slash[i];
        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_') {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: the master's name may hold only [A-Za-z0-9_.-]");
            return -1;
        }
    }
    memcpy(u->master, slash + 1, n - 1);
    u->master[n - 1] = '\0';
    return q ? parse_db_query(q, u, err) : 0;
}

int sluice_url_parse(const char *url, sluice_url *u, sluice_error *err) {
    sluice_error_reset(err);
    memset(u, 0, sizeof(*u));
    if (!url || !*url) url = getenv("SLUICE_REDIS_URL");
    if (!url || !*url) url = SLUICE_DEFAULT_URL;
    if (strlen(url) > 2048) {
        sluice_error_set(err, SLUICE_ERR_URL, "bad url: too long");
        return -1;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            sluice_error_set(err, SLUICE_ERR_URL, "bad url: contains a space or control character");
            return -1;
        }
    }
    if (strncmp(url, "redis://", 8) == 0) return parse_tcp(url + 8, u, err);
    if (strncmp(url, "unix://", 7) == 0) return parse_unix(url + 7, u, err);
    if (strncmp(url, "redis-sentinel://", 17) == 0) return parse_sentinel(url + 17, u, err);
    sluice_error_set(err, SLUICE_ERR_URL, "bad url: scheme must be redis:// or unix:// (or redis-sentinel://)");
    return -1;
}
