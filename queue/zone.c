/* Time zones: the TZif reader, the POSIX TZ rule of its footer, and the
 * cache of zones read (zone.h). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "zone.h"

#define DAY 86400
#define ZONE_FILE_MAX (1 << 20)     /* bytes: a TZif file is a few KiB */
#define ZONE_TRANSITIONS_MAX 100000 /* a real zone has a few hundred */
#define OFFSET_MAX (26 * 3600)      /* seconds: no zone is further from UTC */

/* ------------------------------- calendar ---------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year of day z (days since 1970-01-01). */
static int64_t year_of_day(int64_t z) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int leap_year(int64_t y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int month_days(int64_t y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && leap_year(y));
}

/* ------------------------------ POSIX TZ ----------------------------- */

/* A rule's date: Jn (1..365, February 29 never counted), n (0..365) or
 * Mm.w.d (day d, 0 Sunday, of week w, 5 the last, of month m). */
typedef struct rule_date {
    char kind; /* 'J', 'N' or 'M' */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight, -167..167 h */
} rule_date;

/* A footer: standard time, and daylight time between two dates. */
typedef struct rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    rule_date start, end;
} rule;

/* The day (since 1970-01-01) of date "r" in year y. */
static int64_t rule_day(const rule_date *r, int64_t y) {
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J') return jan1 + r->n - 1 + (leap_year(y) && r->n >= 60);
    if (r->kind == 'N') return jan1 + r->n;
    int64_t first = days_from_civil(y, r->m, 1);
    int wd = (int)((first % 7 + 11) % 7); /* 0 Sunday; 1970-01-01 was a Thursday */
    int64_t day = first + (r->d - wd + 7) % 7 + (int64_t)(r->w - 1) * 7;
    while (day >= first + month_days(y, r->m)) day -= 7;
    return day;
}

/* When daylight time starts and ends in year y, in Unix seconds. */
static void rule_bounds(const rule *r, int64_t y, int64_t *start, int64_t *end) {
    *start = rule_day(&r->start, y) * DAY + r->start.time - r->std_off;
    *end = rule_day(&r->end, y) * DAY + r->end.time - r->dst_off;
}

static int32_t rule_offset(const rule *r, int64_t t) {
    if (!r->has_dst) return r->std_off;
    int64_t start, end;
    rule_bounds(r, year_of_day(floor_div(t + r->std_off, DAY)), &start, &end);
    int dst = start < end ? start <= t && t < end : !(end <= t && t < start);
    return dst ? r->dst_off : r->std_off;
}

static int64_t rule_next_change(const rule *r, int64_t t) {
    int64_t best = INT64_MAX;
    if (!r->has_dst) return best;
    int64_t y = year_of_day(floor_div(t + r->std_off, DAY));
    for (int64_t k = y - 1; k <= y + 2; k++) {
        int64_t b[2];
        rule_bounds(r, k, &b[0], &b[1]);
        for (int i = 0; i < 2; i++)
            if (b[i] > t && b[i] < best && rule_offset(r, b[i] - 1) != rule_offset(r, b[i])) best = b[i];
    }
    return best;
}

/* Reads up to "max" digits at *p into *out; 0, or -1 if there is none. */
static int digits(const char **p, int max, int *out) {
    int n = 0, v = 0;
    while (n < max && **p >= '0' && **p <= '9') v = v * 10 + (*(*p)++ - '0'), n++;
    *out = v;
    return n ? 0 : -1;
}

/* [+-]hh[:mm[:ss]] with hours up to hmax, as seconds. */
static int hms(const char **p, int hmax, int32_t *out) {
    int sign = 1, h, m = 0, s = 0;
    if (**p == '+' || **p == '-') sign = *(*p)++ == '-' ? -1 : 1;
    if (digits(p, 3, &h) < 0 || h > hmax) return -1;
    if (**p == ':' && ((*p)++, digits(p, 2, &m) < 0 || m > 59)) return -1;
    if (**p == ':' && ((*p)++, digits(p, 2, &s) < 0 || s > 59)) return -1;
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

/* A zone abbreviation: 3 or more letters, or <...> of [A-Za-z0-9+-]. */
static int abbreviation(const char **p) {
    const char *s = *p;
    if (*s == '<') {
        const char *e = ++s;
        while ((*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') || *e == '+' ||
               *e == '-')
            e++;
        if (*e != '>' || e - s < 3) return -1;
        *p = e + 1;
        return 0;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++;
    if (s - *p < 3) return -1;
    *p = s;
    return 0;
}

static int date(const char **p, rule_date *r) {
    r->time = 2 * 3600;
    if (**p == 'M') {
        (*p)++;
        r->kind = 'M';
        if (digits(p, 2, &r->m) < 0 || r->m < 1 || r->m > 12 || *(*p)++ != '.' || digits(p, 1, &r->w) < 0 || r->w < 1 ||
            r->w > 5 || *(*p)++ != '.' || digits(p, 1, &r->d) < 0 || r->d > 6)
            return -1;
    } else {
        r->kind = **p == 'J' ? 'J' : 'N';
        if (r->kind == 'J') (*p)++;
        if (digits(p, 3, &r->n) < 0 || r->n > 365 || (r->kind == 'J' && r->n < 1)) return -1;
    }
    if (**p == '/') {
        (*p)++;
        return hms(p, 167, &r->time);
    }
    return 0;
}

/* Parses a POSIX TZ string (RFC 8536, section 3.3) into *r. */
static int posix_parse(const char *s, rule *r) {
    memset(r, 0, sizeof(*r));
    int32_t off;
    if (abbreviation(&s) < 0 || hms(&s, 24, &off) < 0) return -1;
    r->std_off = r->dst_off = -off;
    if (!*s) return 0;
    r->has_dst = 1;
    if (abbreviation(&s) < 0) return -1;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (hms(&s, 24, &off) < 0) return -1;
        r->dst_off = -off;
    }
    if (!*s) { /* no rule: the US one, as glibc assumes */
        r->start = (rule_date){'M', 0, 3, 2, 0, 2 * 3600};
        r->end = (rule_date){'M', 0, 11, 1, 0, 2 * 3600};
        return 0;
    }
    if (*s++ != ',' || date(&s, &r->start) < 0 || *s++ != ',' || date(&s, &r->end) < 0) return -1;
    return *s ? -1 : 0;
}

/* -------------------------------- zones ------------------------------ */

struct zone {
    size_t n;          /* transitions */
    int64_t *at;       /* Unix seconds, rising */
    int32_t *off;      /* the offset from at[i] on */
    int32_t off_first; /* the offset before at[0] */
    int has_rule;      /* after at[n - 1] (or always, when n is 0) */
    rule rule;
};

int zone_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > SLUICE_ZONE_NAME_MAX) return 0;
    for (const char *p = name; *p;) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))) return 0;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
               *p == '+' || *p == '-')
            p++;
        if (*p == '/')
            p++;
        else if (*p)
            return 0;
    }
    return name[n - 1] != '/';
}

static zone *bad_zone(zone *z, sluice_error *err, const char *why) {
    zone_free(z);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", why);
    return NULL;
}

zone *zone_from_posix(const char *tz, sluice_error *err) {
    sluice_error_reset(err);
    zone *z = calloc(1, sizeof(*z));
    if (!z) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "zone: out of memory");
        return NULL;
    }
    if (!tz || posix_parse(tz, &z->rule) < 0) return bad_zone(z, err, "zone: not a POSIX TZ string");
    z->has_rule = 1;
    return z;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The six counts of a TZif header. */
enum { ISUT, ISSTD, LEAP, TIME, TYPE, CHAR };

/* Reads the header at buf[at..len) into cnt; returns the size of the data
 * block after it with times of "tsize" bytes, or 0 if it does not fit. */
static uint64_t header(const unsigned char *buf, size_t len, uint64_t at, int tsize, uint32_t cnt[6]) {
    if (at + 44 > len || memcmp(buf + at, "TZif", 4) != 0) return 0;
    for (int i = 0; i < 6; i++) cnt[i] = be32(buf + at + 20 + 4 * i);
    uint64_t size = (uint64_t)cnt[TIME] * (tsize + 1) + (uint64_t)cnt[TYPE] * 6 + cnt[CHAR] +
                    (uint64_t)cnt[LEAP] * (tsize + 4) + cnt[ISSTD] + cnt[ISUT];
    return at + 44 + size <= len ? size : 0;
}

zone *zone_from_tzif(const unsigned char *buf, size_t len, sluice_error *err) {
    sluice_error_reset(err);
    uint32_t c1[6], c[6];
    uint64_t v1 = header(buf, len, 0, 4, c1);
    if (!v1 || buf[4] < '2') return bad_zone(NULL, err, "zone: not TZif version 2 or later");
    uint64_t at = 44 + v1;
    uint64_t size = header(buf, len, at, 8, c);
    if (!size) return bad_zone(NULL, err, "zone: truncated");
    if (c[TYPE] < 1 || c[TIME] > ZONE_TRANSITIONS_MAX || c[CHAR] < 1 || (c[ISSTD] && c[ISSTD] != c[TYPE]) ||
        (c[ISUT] && c[ISUT] != c[TYPE]))
        return bad_zone(NULL, err, "zone: inconsistent counts");
    zone *z = calloc(1, sizeof(*z));
    if (!z ||
        (c[TIME] && (!(z->at = calloc(c[TIME], sizeof(*z->at))) || !(z->off = calloc(c[TIME], sizeof(*z->off)))))) {
        zone_free(z);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "zone: out of memory");
        return NULL;
    }
    const unsigned char *times = buf + at + 44, *idx = times + (size_t)c[TIME] * 8, *types = idx + c[TIME];
    z->n = c[TIME];
    for (uint32_t i = 0; i < c[TYPE]; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);
        if (off < -OFFSET_MAX || off > OFFSET_MAX) return bad_zone(z, err, "zone: offset out of range");
    }
    z->off_first = (int32_t)be32(types);
    for (uint32_t i = 0; i < c[TIME]; i++) {
        z->at[i] = be64(times + 8 * i);
        if (idx[i] >= c[TYPE] || (i && z->at[i] <= z->at[i - 1]))
            return bad_zone(z, err, "zone: inconsistent transitions");
        z->off[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    /* the footer: "\n" TZ "\n", the TZ string possibly empty */
    const unsigned char *f = buf + at + 44 + size, *end = buf + len;
    if (f < end) {
        const unsigned char *nl = f + 1 < end ? memchr(f + 1, '\n', (size_t)(end - f - 1)) : NULL;
        char tz[128];
        if (*f != '\n' || !nl || (size_t)(nl - f - 1) >= sizeof(tz)) return bad_zone(z, err, "zone: bad footer");
        memcpy(tz, f + 1, (size_t)(nl - f - 1));
        tz[nl - f - 1] = '\0';
        if (tz[0]) {
            if (posix_parse(tz, &z->rule) < 0) return bad_zone(z, err, "zone: bad footer");
            z->has_rule = 1;
        }
    }
    return z;
}

zone *zone_load(const char *name, sluice_error *err) {
    sluice_error_reset(err);
    char path[sizeof(ZONE_DIR) + SLUICE_ZONE_NAME_MAX + 2];
    if (!zone_name_ok(name)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "invalid zone name \"%.64s\"", name ? name : "");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s", ZONE_DIR, name);
    unsigned char *buf = malloc(ZONE_FILE_MAX);
    if (!buf) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "zone: out of memory");
        return NULL;
    }
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t k;
        while (len < ZONE_FILE_MAX && ((k = read(fd, buf + len, ZONE_FILE_MAX - len)) > 0 || (k < 0 && errno == EINTR)))
            if (k > 0) len += (size_t)k;
        close(fd);
    }
    sluice_error why = {0};
    zone *z = fd >= 0 ? zone_from_tzif(buf, len, &why) : NULL;
    free(buf);
    if (z) return z;
    if (why.code == SLUICE_ERR_NOMEM)
        sluice_error_set(err, why.code, "%s", why.text);
    else
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "unknown zone %s (not a zone in %s)", name, ZONE_DIR);
    return NULL;
}

/* The index of the last transition at or before t; -1 if none is. */
static ptrdiff_t last_at(const zone *z, int64_t t) {
    ptrdiff_t lo = 0, hi = (ptrdiff_t)z->n; /* at[lo - 1] <= t < at[hi] */
    while (lo < hi) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

int32_t zone_offset(const zone *z, int64_t t) {
    ptrdiff_t i = last_at(z, t);
    if (z->has_rule && (size_t)(i + 1) == z->n) return rule_offset(&z->rule, t);
    return i < 0 ? z->off_first : z->off[i];
}

int64_t zone_next_change(const zone *z, int64_t t) {
    ptrdiff_t i = last_at(z, t);
    if ((size_t)(i + 1) < z->n) return z->at[i + 1];
    return z->has_rule ? rule_next_change(&z->rule, t) : INT64_MAX;
}

void zone_free(zone *z) {
    if (!z) return;
    free(z->at);
    free(z->off);
    free(z);
}

/* -------------------------------- cache ------------------------------ */

#define ZONE_REREAD_MS 3600000
#define ZONE_UNKNOWN_REREAD_MS 60000
#define ZONE_CACHE_MAX 256 /* names; past it the cache starts again */

typedef struct cached {
    char name[SLUICE_ZONE_NAME_MAX + 1];
    zone *z; /* NEW; NULL: unknown */
    sluice_error why;
    int64_t read_ms;
} cached;

struct zone_cache {
    cached *e;
    size_t n, cap;
};

zone_cache *zone_cache_new(void) {
    return calloc(1, sizeof(zone_cache));
}

static void cache_clear(zone_cache *zc) {
    for (size_t i = 0; i < zc->n; i++) zone_free(zc->e[i].z);
    zc->n = 0;
}

const zone *zone_cache_get(zone_cache *zc, const char *name, int64_t now_ms, sluice_error *err) {
    sluice_error_reset(err);
    if (!zone_name_ok(name)) return zone_load(name, err);
    cached *e = NULL;
    for (size_t i = 0; i < zc->n && !e; i++)
        if (strcmp(zc->e[i].name, name) == 0) e = &zc->e[i];
    if (e) {
        int64_t age = now_ms - e->read_ms;
        if (age < 0) age = -age; /* a clock set back counts too */
        if (age >= (e->z ? ZONE_REREAD_MS : ZONE_UNKNOWN_REREAD_MS)) {
            zone_free(e->z);
            e->read_ms = now_ms;
            e->z = zone_load(name, &e->why);
        }
    } else {
        if (zc->n == ZONE_CACHE_MAX) cache_clear(zc);
        if (zc->n == zc->cap) {
            size_t cap = zc->cap ? zc->cap * 2 : 8;
            cached *grown = realloc(zc->e, cap * sizeof(*grown));
            if (!grown) {
                sluice_error_set(err, SLUICE_ERR_NOMEM, "zone: out of memory");
                return NULL;
            }
            zc->e = grown, zc->cap = cap;
        }
        e = &zc->e[zc->n++];
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->read_ms = now_ms;
        e->z = zone_load(name, &e->why);
    }
    if (!e->z && err) *err = e->why;
    return e->z;
}

void zone_cache_free(zone_cache *zc) {
    if (!zc) return;
    cache_clear(zc);
    free(zc->e);
    free(zc);
}
