/* libFuzzer target: the strict parsing of numbers, durations, rates and
 * times (sluice_parse_*, shared by sluicectl, sluice-worker and config files), the
 * CLI's option splitter (ctl_args) and its formatters of Redis-supplied
 * values (ctl_duration, ctl_time, ctl_num, ctl_json_or_string).
 * Linked with queue/ctl/parse.c and queue/ctl/output.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **p, size_t *n, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k && *n; i++, (*p)++, (*n)--) v = v << 8 | **p;
    return v;
}

static void parse_all(const char *s, int64_t lo, int64_t hi, double dlo, double dhi) {
    const int64_t sentinel = 0x5a5a5a5a;
    int64_t i = sentinel;
    if (sluice_parse_int(s, lo, hi, &i, NULL) == 0) {
        if (i < lo || i > hi) abort();
    } else if (i != sentinel) {
        abort();
    }
    double d = 0.5;
    if (sluice_parse_number(s, dlo, dhi, &d, NULL) == 0) {
        if (!isfinite(d) || d < dlo || d > dhi) abort();
    } else if (d != 0.5) {
        abort();
    }
    int64_t ms = sentinel;
    if (sluice_parse_duration(s, hi, &ms, NULL) == 0) {
        if (ms < 0 || ms > hi) abort();
    } else if (ms != sentinel) {
        abort();
    }
    double r = 0.5;
    if (sluice_parse_rate(s, &r, NULL) == 0) {
        if (!isfinite(r) || r < 0 || r > 1e9) abort();
    } else if (r != 0.5) {
        abort();
    }
    int64_t t = sentinel;
    if (sluice_parse_time(s, &t, NULL) == 0) {
        if (t < 1 || t > SLUICE_RUN_AT_MAX) abort();
    } else if (t != sentinel) {
        abort();
    }
}

static void args(const char *s, size_t len) {
    /* NUL-separated words as argv */
    char *copy = malloc(len + 1);
    if (!copy) abort();
    memcpy(copy, s, len);
    copy[len] = '\0';
    char *argv[32];
    int argc = 0;
    for (size_t i = 0; i <= len && argc < 32;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    ctl_opt opts[] = {{"--delay", 1, NULL}, {"--dry-run", 0, NULL}, {"--for", 1, NULL}};
    const char *pos[3];
    int npos = -1;
    if (ctl_args("fuzz", argc, argv, opts, 3, pos, 3, &npos) == 0) {
        if (npos < 0 || npos > 3) abort();
        if (opts[1].val && strcmp(opts[1].val, "1")) abort();
        for (int k = 0; k < npos; k++)
            if (pos[k] < copy || pos[k] > copy + len) abort();
    }
    (void)ctl_opt_get(opts, 3, "--for");
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data;
    size_t n = size;
    /* the bounds callers pass, or any up to 2^62 (see the report on
     * sluice_parse_duration near INT64_MAX) */
    static const int64_t HI[] = {604800000,  86400000,          31536000000LL, 365LL * 86400000,
                                 1000000000, 253402300799999LL, 10000,         1000};
    unsigned sel = (unsigned)take(&p, &n, 1);
    int64_t hi = sel < 128 ? HI[sel % 8] : (int64_t)(take(&p, &n, 8) >> 2);
    int64_t lo = (sel & 1) ? -hi : 0;
    double dlo = (sel & 2) ? -1e15 : 0, dhi = (sel & 4) ? 1 : 1e15;
    int64_t raw = (int64_t)take(&p, &n, 8);

    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    parse_all(s, lo, hi, dlo, dhi);

    char buf[64];
    ctl_duration(raw, buf, sizeof(buf));
    ctl_time(raw, buf, sizeof(buf));
    double v;
    memcpy(&v, &raw, sizeof(v));
    ctl_num(v, buf, sizeof(buf));
    json_decref(ctl_json_or_string(s));
    args((const char *)p, n);
    free(s);
    return 0;
}
