/* sluicectl's output: error lines, exit code mapping, JSON, times and
 * numbers for tables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static void vfail(const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vfail(const char *prefix, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* one line, whatever the message holds */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "sluicectl: %s%s\n", prefix, msg);
}

int ctl_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail("", fmt, ap);
    va_end(ap);
    return code;
}

int ctl_usage(const char *cmd, const char *fmt, ...) {
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "%s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfail(prefix, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

int ctl_error_code(sluice_error_code code) {
    switch (code) {
    case SLUICE_OK: return EXIT_OK;
    case SLUICE_ERR_URL:
    case SLUICE_ERR_NAME:
    case SLUICE_ERR_PAYLOAD:
    case SLUICE_ERR_ARGUMENT: return EXIT_USAGE;
    case SLUICE_ERR_UNKNOWN_CLASS:
    case SLUICE_ERR_NOT_FOUND: return EXIT_NOTFOUND;
    case SLUICE_ERR_NOT_REPLICATED: return EXIT_NOT_REPLICATED;
    default: return EXIT_RUNTIME; /* unreachable, auth, queue full, busy, state, server ... */
    }
}

int ctl_error(const sluice_error *err) {
    return ctl_fail(ctl_error_code(err->code), "%s", err->text[0] ? err->text : sluice_error_name(err->code));
}

int ctl_json_print(json_t *v) {
    if (!v) return ctl_fail(EXIT_RUNTIME, "out of memory");
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    fputc('\n', stdout);
    json_decref(v);
    return EXIT_OK;
}

const char *ctl_time(int64_t ms, char *buf, size_t len) {
    if (ms <= 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[32];
    strftime(tmp, sizeof(tmp), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", tmp, (int)(ms % 1000));
    return buf;
}

const char *ctl_duration(int64_t ms, char *buf, size_t len) {
    const char *sign = ms < 0 ? "-" : "";
    /* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
    unsigned long long m = ms < 0 ? 0ULL - (unsigned long long)ms : (unsigned long long)ms;
    if (m < 1000)
        snprintf(buf, len, "%s%llums", sign, m);
    else if (m < 60000)
        snprintf(buf, len, "%s%.1fs", sign, (double)m / 1000);
    else if (m < 3600000)
        snprintf(buf, len, "%s%llum%llus", sign, m / 60000, m % 60000 / 1000);
    else if (m < 86400000)
        snprintf(buf, len, "%s%lluh%llum", sign, m / 3600000, m % 3600000 / 60000);
    else
        snprintf(buf, len, "%s%llud%lluh", sign, m / 86400000, m % 86400000 / 3600000);
    return buf;
}

const char *ctl_num(double v, char *buf, size_t len) {
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
    return buf;
}

json_t *ctl_json_or_string(const char *text) {
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v) v = json_string(text);
    return v ? v : json_null();
}
