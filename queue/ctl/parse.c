/* sluicectl's strict parsing: numbers, durations, rates, and a command's
 * options and positionals. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int64_t)v;
    return 0;
}

int parse_double(const char *s, double lo, double hi, double *out) {
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

int parse_duration(const char *s, int64_t hi, int64_t *ms) {
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
    if (parse_double(num, 0, 1e15, &v) < 0) return -1;
    double r = v * unit;
    if (r != floor(r) || r > (double)hi) return -1;
    *ms = (int64_t)r;
    return 0;
}

int parse_rate(const char *s, double *per_second) {
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
    if (parse_double(num, 0, 1e12, &v) < 0) return -1;
    v /= div;
    if (v > 1e9) return -1;
    *per_second = v;
    return 0;
}

const char *ctl_opt_get(const ctl_opt *opts, size_t nopts, const char *name) {
    for (size_t i = 0; i < nopts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].val;
    return NULL;
}

int ctl_args(const char *cmd, int argc, char **argv, ctl_opt *opts, size_t nopts, const char **pos,
             int maxpos, int *npos) {
    *npos = 0;
    for (size_t k = 0; k < nopts; k++) opts[k].val = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            size_t k = 0;
            while (k < nopts && (strlen(opts[k].name) != nlen || strncmp(opts[k].name, a, nlen))) k++;
            if (k == nopts) {
                ctl_usage(cmd, "unknown option '%.*s'", (int)nlen, a);
                return -1;
            }
            if (opts[k].has_arg) {
                if (eq) opts[k].val = eq + 1;
                else if (i + 1 < argc) opts[k].val = argv[++i];
                else {
                    ctl_usage(cmd, "option %s needs a value", opts[k].name);
                    return -1;
                }
            } else {
                if (eq) {
                    ctl_usage(cmd, "option %s takes no value", opts[k].name);
                    return -1;
                }
                opts[k].val = "1";
            }
        } else {
            if (*npos >= maxpos) {
                ctl_usage(cmd, "unexpected argument '%s'", a);
                return -1;
            }
            pos[(*npos)++] = a;
        }
    }
    return 0;
}
