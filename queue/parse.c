/* Strict parsing of the numbers, durations and rates that sluice's programs
 * and config files accept: the whole string or nothing, ranges checked,
 * no NaN, infinity or hex floats. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/parse.h"

int sluice_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int64_t)v;
    return 0;
}

int sluice_parse_number(const char *s, double lo, double hi, double *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    /* strtod takes hex floats, "nan" and "inf": only plain decimals here */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int sluice_parse_duration(const char *s, int64_t hi, int64_t *ms) {
    if (!s || !*s) return -1;
    size_t len = strlen(s), ulen;
    double unit;
    if (len > 2 && !strcmp(s + len - 2, "ms")) unit = 1, ulen = 2;
    else if (s[len - 1] == 's') unit = 1000, ulen = 1;
    else if (s[len - 1] == 'm') unit = 60000, ulen = 1;
    else if (s[len - 1] == 'h') unit = 3600000, ulen = 1;
    else if (s[len - 1] == 'd') unit = 86400000, ulen = 1;
    else return -1;
    char num[64];
    if (len - ulen == 0 || len - ulen >= sizeof(num)) return -1;
    memcpy(num, s, len - ulen);
    num[len - ulen] = '\0';
    double v;
    if (sluice_parse_number(num, 0, 1e15, &v) < 0) return -1;
    double r = v * unit;
    /* 2^63 and above do not fit an int64_t, whatever "hi" says */
    if (r != floor(r) || r > (double)hi || r >= 9223372036854775808.0) return -1;
    *ms = (int64_t)r;
    return 0;
}

int sluice_parse_rate(const char *s, double *per_second) {
    if (!s || !*s) return -1;
    const char *slash = strchr(s, '/');
    double div = 1;
    char num[64];
    size_t nlen = slash ? (size_t)(slash - s) : strlen(s);
    if (slash) {
        if (!strcmp(slash, "/s")) div = 1;
        else if (!strcmp(slash, "/m")) div = 60;
        else if (!strcmp(slash, "/h")) div = 3600;
        else return -1;
    }
    if (nlen == 0 || nlen >= sizeof(num)) return -1;
    memcpy(num, s, nlen);
    num[nlen] = '\0';
    double v;
    if (sluice_parse_number(num, 0, 1e12, &v) < 0) return -1;
    v /= div;
    if (v > 1e9) return -1;
    *per_second = v;
    return 0;
}
