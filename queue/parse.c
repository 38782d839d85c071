/* Strict parsing of the numbers, durations and rates that sluice's programs
 * and config files accept: the whole string or nothing, ranges checked,
 * no NaN, infinity or hex floats. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/parse.h"

/* The text a message quotes: at most 40 bytes of it. */
#define QUOTED(s) (int)(s && strlen(s) > 40 ? 40 : s ? strlen(s) : 0), (s ? s : "")

static int int_in(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int64_t)v;
    return 0;
}

static int number_in(const char *s, double lo, double hi, double *out) {
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

/* Splits "<number><suffix>" at the suffix's start into num (NUL-ended). */
static int number_part(const char *s, size_t nlen, char num[64]) {
    if (nlen == 0 || nlen >= 64) return -1;
    memcpy(num, s, nlen);
    num[nlen] = '\0';
    return 0;
}

static int duration_in(const char *s, int64_t hi, int64_t *ms) {
    if (!s || !*s) return -1;
    if (!strcmp(s, "0")) { /* nothing needs no unit */
        *ms = 0;
        return 0;
    }
    size_t len = strlen(s), ulen;
    double unit;
    if (len > 2 && !strcmp(s + len - 2, "ms"))
        unit = 1, ulen = 2;
    else if (s[len - 1] == 's')
        unit = 1000, ulen = 1;
    else if (s[len - 1] == 'm')
        unit = 60000, ulen = 1;
    else if (s[len - 1] == 'h')
        unit = 3600000, ulen = 1;
    else if (s[len - 1] == 'd')
        unit = 86400000, ulen = 1;
    else
        return -1;
    char num[64];
    double v;
    if (number_part(s, len - ulen, num) < 0 || number_in(num, 0, 1e15, &v) < 0) return -1;
    double r = v * unit;
    /* 2^63 and above do not fit an int64_t, whatever "hi" says */
    if (r != floor(r) || r > (double)hi || r >= 9223372036854775808.0) return -1;
    *ms = (int64_t)r;
    return 0;
}

static int rate_in(const char *s, double *per_second) {
    if (!s || !*s) return -1;
    const char *slash = strchr(s, '/');
    double div = 1;
    if (slash) {
        if (!strcmp(slash, "/s"))
            div = 1;
        else if (!strcmp(slash, "/m"))
            div = 60;
        else if (!strcmp(slash, "/h"))
            div = 3600;
        else
            return -1;
    }
    char num[64];
    double v;
    if (number_part(s, slash ? (size_t)(slash - s) : strlen(s), num) < 0 || number_in(num, 0, 1e12, &v) < 0) return -1;
    v /= div;
    if (v > 1e9) return -1;
    *per_second = v;
    return 0;
}

int sluice_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, sluice_error *err) {
    sluice_error_reset(err);
    if (int_in(s, lo, hi, out) == 0) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "\"%.*s\" is not a whole number in %lld..%lld", QUOTED(s), (long long)lo,
                     (long long)hi);
    return -1;
}

int sluice_parse_number(const char *s, double lo, double hi, double *out, sluice_error *err) {
    sluice_error_reset(err);
    if (number_in(s, lo, hi, out) == 0) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "\"%.*s\" is not a number in %g..%g", QUOTED(s), lo, hi);
    return -1;
}

int sluice_parse_duration(const char *s, int64_t hi, int64_t *ms, sluice_error *err) {
    sluice_error_reset(err);
    if (duration_in(s, hi, ms) == 0) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                     "\"%.*s\" is not a duration of whole ms up to %lld ms with a unit (500ms, 30s, 15m, 2h, 1d)",
                     QUOTED(s), (long long)hi);
    return -1;
}

int sluice_parse_rate(const char *s, double *per_second, sluice_error *err) {
    sluice_error_reset(err);
    if (rate_in(s, per_second) == 0) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "\"%.*s\" is not a rate up to 1e9/s (50/s, 3000/m, 100/h, 20)",
                     QUOTED(s));
    return -1;
}
