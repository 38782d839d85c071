/* Strict parsing of the numbers, durations and rates that sluice's programs
 * and config files accept: the whole string or nothing, ranges checked,
 * no NaN, infinity or hex floats. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/job.h"
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

/* The n decimal digits at s as a number within [lo, hi], or -1. */
static int digits(const char *s, int n, int lo, int hi) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" into Unix ms, or -1. */
static int rfc3339_in(const char *s, int64_t *out) {
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    int y = digits(s, 4, 1970, 9999), mo = digits(s + 5, 2, 1, 12), d = digits(s + 8, 2, 1, 31);
    int h = digits(s + 11, 2, 0, 23), mi = digits(s + 14, 2, 0, 59), sec = digits(s + 17, 2, 0, 59);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap)) return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3) frac = frac * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 3; n++) frac *= 10;
    }
    int64_t offset = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2, 0, 23), om = digits(p + 4, 2, 0, 59);
        if (oh < 0 || om < 0) return -1;
        offset = (*p == '-' ? -1 : 1) * (oh * 60 + om) * 60000LL;
    } else {
        return -1;
    }
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + frac - offset;
    return 0;
}

int sluice_parse_time(const char *s, int64_t *ms, sluice_error *err) {
    sluice_error_reset(err);
    int64_t v;
    if (s &&
        (int_in(s, 1, SLUICE_RUN_AT_MAX, &v) == 0 || (rfc3339_in(s, &v) == 0 && v >= 1 && v <= SLUICE_RUN_AT_MAX))) {
        *ms = v;
        return 0;
    }
    sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                     "\"%.*s\" is not a time: Unix ms, or RFC 3339 such as 2026-12-24T18:00:00Z, up to 9999-12-31",
                     QUOTED(s));
    return -1;
}
