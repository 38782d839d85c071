/* The /proc/diskstats parser and iostat's rates over two readings: see
 * diskstats.h. No I/O, no clock. */
#include <math.h>
#include <string.h>

#include "diskstats.h"
#include "sluice/error.h"

#define FIELDS 11

static const char *const measure_names[] = {"util", "iops", "await"};

int sluice_disk_measure_parse(const char *s, sluice_disk_measure *out) {
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, measure_names[i]) == 0) {
            *out = (sluice_disk_measure)i;
            return 0;
        }
    return -1;
}

const char *sluice_disk_measure_name(sluice_disk_measure m) {
    return (unsigned)m < 3 ? measure_names[m] : "?";
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* The next whitespace-separated token of the line at *p (ending at '\n' or
 * NUL): its start in *tok and length in *len; 0 when the line has no more. */
static int token(const char **p, const char **tok, size_t *len) {
    const char *s = *p;
    while (is_space(*s)) s++;
    const char *e = s;
    while (*e && *e != '\n' && !is_space(*e)) e++;
    *p = e;
    *tok = s;
    *len = (size_t)(e - s);
    return e > s;
}

/* A decimal unsigned integer of exactly "len" bytes, without overflow. */
static int decimal(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 20) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int sluice_diskstats_parse(const char *text, const char *device, sluice_diskstats *out,
                           sluice_error *err) {
    sluice_error_reset(err);
    if (!text || !device || !*device) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "diskstats: no text or no device");
        return -1;
    }
    size_t dlen = strlen(device);
    for (const char *line = text; *line; ) {
        const char *p = line, *tok;
        size_t len;
        const char *next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        /* major, minor, name */
        if (!token(&p, &tok, &len) || !token(&p, &tok, &len) || !token(&p, &tok, &len) ||
            len != dlen || memcmp(tok, device, dlen) != 0) {
            line = next;
            continue;
        }
        uint64_t v[FIELDS];
        for (int i = 0; i < FIELDS; i++) {
            if (!token(&p, &tok, &len) || decimal(tok, len, &v[i]) < 0) {
                sluice_error_set(err, SLUICE_ERR_ARGUMENT, "diskstats: the line of %.64s is malformed (counter %d)",
                        device, i + 1);
                return -1;
            }
        }
        while (token(&p, &tok, &len)) {
            uint64_t extra;
            if (decimal(tok, len, &extra) < 0) {
                sluice_error_set(err, SLUICE_ERR_ARGUMENT, "diskstats: the line of %.64s is malformed", device);
                return -1;
            }
        }
        sluice_diskstats d = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]};
        *out = d;
        return 0;
    }
    sluice_error_set(err, SLUICE_ERR_NOT_FOUND, "diskstats: no device %.64s", device);
    return -1;
}

int sluice_disk_rates_compute(const sluice_diskstats *a, const sluice_diskstats *b, double elapsed_ms,
                              sluice_disk_rates *out, sluice_error *err) {
    sluice_error_reset(err);
    if (!(elapsed_ms > 0) || !isfinite(elapsed_ms)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "diskstats: the readings must be apart in time");
        return -1;
    }
    if (b->reads < a->reads || b->writes < a->writes || b->read_ms < a->read_ms ||
        b->write_ms < a->write_ms || b->io_ms < a->io_ms) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "diskstats: a counter went backwards (device reset or counter wrap)");
        return -1;
    }
    double s = elapsed_ms / 1000.0;
    double dr = (double)(b->reads - a->reads), dw = (double)(b->writes - a->writes);
    double ticks = (double)(b->read_ms - a->read_ms) + (double)(b->write_ms - a->write_ms);
    sluice_disk_rates r;
    r.read_iops = dr / s;
    r.write_iops = dw / s;
    r.iops = (dr + dw) / s;
    r.util = (double)(b->io_ms - a->io_ms) / elapsed_ms * 100.0;
    if (r.util > 100.0) r.util = 100.0;   /* the two reads and the clock are not taken at one instant */
    r.await_ms = dr + dw > 0 ? ticks / (dr + dw) : 0.0;
    *out = r;
    return 0;
}

double sluice_disk_rates_get(const sluice_disk_rates *r, sluice_disk_measure m) {
    switch (m) {
    case SLUICE_DISK_IOPS: return r->iops;
    case SLUICE_DISK_AWAIT: return r->await_ms;
    default: return r->util;
    }
}
