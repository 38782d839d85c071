/* Run windows (sluice/window.h): their text and JSON forms, the checks the
 * Functions also make, and where an instant falls in a class's windows. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"
#include "zone.h"

#define DAY 86400
#define WEEK_MIN (7 * 1440)
#define HORIZON (8 * DAY) /* seconds: how far ahead the next change is looked for */

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

#define OUTSIDE_NAME(constant, name) [constant] = name,
static const char *const outside_names[] = {SLUICE_OUTSIDE_WINDOW_LIST(OUTSIDE_NAME)};

const char *sluice_outside_window_name(sluice_outside_window o) {
    return word_of(outside_names, NWORDS(outside_names), (int)o);
}

int sluice_outside_window_parse(const char *s, sluice_outside_window *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(outside_names, NWORDS(outside_names), s, "outside_window", err);
    if (i < 0) return -1;
    *out = (sluice_outside_window)i;
    return 0;
}

/* ------------------------------- text -------------------------------- */

static int day_at(const char *s, size_t len) {
    for (int d = 0; d < 7; d++)
        if (len == 3 && strncmp(s, day_names[d], 3) == 0) return d;
    return -1;
}

/* "mon-fri", "sat,sun", "fri-mon" as a bit set; 0 if malformed. */
static unsigned days_parse(const char *s) {
    unsigned days = 0;
    for (;;) {
        int a = day_at(s, 3), b = a;
        if (a < 0) return 0;
        s += 3;
        if (*s == '-') {
            if ((b = day_at(s + 1, 3)) < 0) return 0;
            s += 4;
        }
        for (int d = a;; d = (d + 1) % 7) {
            days |= 1u << d;
            if (d == b) break;
        }
        if (!*s) return days;
        if (*s++ != ',') return 0;
    }
}

/* Runs of three days or more as ranges, the rest listed: "mon-fri,sun". */
static int days_format(unsigned days, char *buf, size_t len) {
    size_t at = 0;
    int n = 0;
    for (int d = 0; d < 7;) {
        if (!(days >> d & 1)) {
            d++;
            continue;
        }
        int e = d;
        while (e + 1 < 7 && days >> (e + 1) & 1) e++;
        for (int k = d; k <= e; k++) {
            if (e - d >= 2 && k != d && k != e) continue;
            n += snprintf(buf + at, at < len ? len - at : 0, "%s%s", n ? (e - d >= 2 && k == e ? "-" : ",") : "",
                          day_names[k]);
            at = (size_t)n;
        }
        d = e + 1;
    }
    return n;
}

/* "HH:MM", 00:00..23:59, as minutes; -1 if malformed. */
static int hhmm(const char *s, size_t len) {
    if (len != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

/* Builds a window from its parts; 0, or -1 with what is wrong in err. */
static int window_make(const char *days, const char *from, const char *to, const char *tz, sluice_window *out,
                       sluice_error *err) {
    sluice_window w = {0};
    if (!(w.days = days_parse(days)))
        return sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                                "window: bad days \"%.32s\" (e.g. mon-fri, sat,sun: days mon..sun)", days),
               -1;
    if ((w.from_min = hhmm(from, strlen(from))) < 0 || (w.to_min = hhmm(to, strlen(to))) < 0)
        return sluice_error_set(err, SLUICE_ERR_ARGUMENT, "window: bad time \"%.8s\" (HH:MM, 00:00..23:59)",
                                w.from_min < 0 ? from : to),
               -1;
    if (w.from_min == w.to_min)
        return sluice_error_set(err, SLUICE_ERR_ARGUMENT, "window: %.8s-%.8s is empty (from equals to)", from, to), -1;
    if (!zone_name_ok(tz))
        return sluice_error_set(err, SLUICE_ERR_ARGUMENT, "window: bad zone name \"%.64s\" (e.g. America/New_York)",
                                tz),
               -1;
    snprintf(w.tz, sizeof(w.tz), "%s", tz);
    *out = w;
    return 0;
}

int sluice_window_parse(const char *text, sluice_window *out, sluice_error *err) {
    sluice_error_reset(err);
    char days[64], from[8], to[8], tz[SLUICE_ZONE_NAME_MAX + 2];
    char range[32], extra;
    if (!text || sscanf(text, "%63s %31s %65s %c", days, range, tz, &extra) != 3 || strlen(tz) > SLUICE_ZONE_NAME_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                         "window: \"%.80s\" is not DAYS HH:MM-HH:MM ZONE (e.g. mon-fri 20:00-07:00 America/New_York)",
                         text ? text : "");
        return -1;
    }
    if (strlen(range) != 11 || range[5] != '-') {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "window: bad times \"%.32s\" (HH:MM-HH:MM)", range);
        return -1;
    }
    memcpy(from, range, 5), from[5] = '\0';
    memcpy(to, range + 6, 5), to[5] = '\0';
    return window_make(days, from, to, tz, out, err);
}

int sluice_window_format(const sluice_window *w, char *buf, size_t len) {
    char days[40];
    days_format(w->days, days, sizeof(days));
    return snprintf(buf, len, "%s %02d:%02d-%02d:%02d %s", days, w->from_min / 60, w->from_min % 60, w->to_min / 60,
                    w->to_min % 60, w->tz);
}

/* ------------------------------- checks ------------------------------ */

/* Whether windows a and b, in one zone, share a minute of the week. */
static int overlap(const sluice_window *a, const sluice_window *b) {
    for (int da = 0; da < 7; da++) {
        if (!(a->days >> da & 1)) continue;
        int as = da * 1440 + a->from_min, ae = da * 1440 + a->to_min + (a->to_min <= a->from_min ? 1440 : 0);
        for (int db = 0; db < 7; db++) {
            if (!(b->days >> db & 1)) continue;
            int bs = db * 1440 + b->from_min, be = db * 1440 + b->to_min + (b->to_min <= b->from_min ? 1440 : 0);
            for (int shift = -WEEK_MIN; shift <= WEEK_MIN; shift += WEEK_MIN)
                if (as < be + shift && bs + shift < ae) return 1;
        }
    }
    return 0;
}

int sluice_windows_check(const sluice_window *w, size_t n, sluice_error *err) {
    sluice_error_reset(err);
    if (n > SLUICE_WINDOWS_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: at most %d", SLUICE_WINDOWS_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!w[i].days || w[i].days >> 7 || w[i].from_min < 0 || w[i].from_min >= 1440 || w[i].to_min < 0 ||
            w[i].to_min >= 1440 || w[i].from_min == w[i].to_min || !zone_name_ok(w[i].tz)) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: window %zu is malformed or empty", i + 1);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(w[i].tz, w[k].tz) == 0 && overlap(&w[i], &w[k])) {
                char a[SLUICE_WINDOW_TEXT], b[SLUICE_WINDOW_TEXT];
                sluice_window_format(&w[k], a, sizeof(a));
                sluice_window_format(&w[i], b, sizeof(b));
                sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: %s overlaps %s", b, a);
                return -1;
            }
        }
    }
    return 0;
}

int sluice_zone_check(const char *name, sluice_error *err) {
    sluice_error_reset(err);
    zone *z = zone_load(name, err);
    zone_free(z);
    return z ? 0 : -1;
}

/* -------------------------------- JSON ------------------------------- */

int sluice_windows_json(const sluice_window *w, size_t n, char *buf, size_t len) {
    int at = snprintf(buf, len, "[");
    for (size_t i = 0; i < n; i++) {
        char days[40];
        days_format(w[i].days, days, sizeof(days));
        at += snprintf(buf + at, (size_t)at < len ? len - (size_t)at : 0,
                       "%s{\"days\":\"%s\",\"from\":\"%02d:%02d\",\"to\":\"%02d:%02d\",\"tz\":\"%s\"}", i ? "," : "",
                       days, w[i].from_min / 60, w[i].from_min % 60, w[i].to_min / 60, w[i].to_min % 60, w[i].tz);
    }
    return at + snprintf(buf + at, (size_t)at < len ? len - (size_t)at : 0, "]");
}

int sluice_windows_parse_json(const char *text, sluice_window *out, size_t *n, sluice_error *err) {
    sluice_error_reset(err);
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    sluice_window w[SLUICE_WINDOWS_MAX];
    size_t k = json_array_size(a);
    int rc = -1;
    if (!json_is_array(a))
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: not a JSON array of windows");
    else if (k > SLUICE_WINDOWS_MAX)
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "windows: at most %d", SLUICE_WINDOWS_MAX);
    else
        rc = 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        json_t *o = json_array_get(a, i);
        const char *f[4] = {"days", "from", "to", "tz"}, *v[4] = {0};
        int ok = json_is_object(o) && json_object_size(o) == 4;
        for (int j = 0; ok && j < 4; j++) ok = (v[j] = json_string_value(json_object_get(o, f[j]))) != NULL;
        if (!ok) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                             "windows: window %zu must be an object of strings days, from, to and tz", i + 1);
            rc = -1;
        } else {
            rc = window_make(v[0], v[1], v[2], v[3], &w[i], err);
        }
    }
    json_decref(a);
    if (rc < 0 || sluice_windows_check(w, k, err) < 0) return -1;
    memcpy(out, w, k * sizeof(*w));
    *n = k;
    return 0;
}

/* ----------------------------- evaluation ---------------------------- */

/* The window of w[0..n) open at Unix second t, or -1; zones from zc (an
 * unknown zone's windows never open; its name goes to "unknown"). */
static int open_at(const sluice_window *w, size_t n, zone_cache *zc, int64_t t, int64_t now_ms, char *unknown) {
    for (size_t i = 0; i < n; i++) {
        sluice_error err;
        const zone *z = zone_cache_get(zc, w[i].tz, now_ms, &err);
        if (!z) {
            if (!unknown[0]) snprintf(unknown, SLUICE_ZONE_NAME_MAX + 1, "%s", w[i].tz);
            continue;
        }
        int64_t local = t + zone_offset(z, t);
        int64_t day = local / DAY - (local % DAY < 0);
        int min = (int)((local - day * DAY) / 60);
        int wd = (int)(((day + 3) % 7 + 7) % 7), prev = (wd + 6) % 7; /* 1970-01-01 was a Thursday */
        int on = w[i].days >> wd & 1, was = w[i].days >> prev & 1;
        if (w[i].from_min < w[i].to_min ? on && min >= w[i].from_min && min < w[i].to_min
                                        : (on && min >= w[i].from_min) || (was && min < w[i].to_min))
            return (int)i;
    }
    return -1;
}

/* Seconds from t to the next instant any window's zone reaches one of its
 * windows' wall-clock bounds or changes its offset: nothing in between can
 * open or close a window. */
static int64_t next_step(const sluice_window *w, size_t n, zone_cache *zc, int64_t t, int64_t now_ms) {
    int64_t step = HORIZON;
    for (size_t i = 0; i < n; i++) {
        const zone *z = zone_cache_get(zc, w[i].tz, now_ms, NULL);
        if (!z) continue;
        int64_t local = t + zone_offset(z, t);
        int64_t sec = ((local % DAY) + DAY) % DAY;
        int bounds[2] = {w[i].from_min, w[i].to_min};
        for (int b = 0; b < 2; b++) {
            int64_t d = ((int64_t)bounds[b] * 60 - sec + DAY) % DAY;
            if (d > 0 && d < step) step = d;
        }
        int64_t change = zone_next_change(z, t);
        if (change != INT64_MAX && change - t < step) step = change - t;
    }
    return step < 1 ? 1 : step;
}

int windows_at(const sluice_window *w, size_t n, zone_cache *zc, int64_t now_ms, window_state *out) {
    memset(out, 0, sizeof(*out));
    out->open = 1;
    out->change_ms = INT64_MAX;
    out->window = -1;
    if (n == 0) return 0;
    int64_t now = now_ms / 1000 - (now_ms % 1000 < 0);
    int at = open_at(w, n, zc, now, now_ms, out->unknown);
    out->open = at >= 0;
    out->window = at;
    for (int64_t t = now; t - now < HORIZON;) {
        t += next_step(w, n, zc, t, now_ms);
        char ignored[SLUICE_ZONE_NAME_MAX + 1] = "";
        int next = open_at(w, n, zc, t, now_ms, ignored);
        if ((next >= 0) != out->open) {
            out->change_ms = t * 1000;
            if (!out->open) out->window = next;
            break;
        }
    }
    return 0;
}

int sluice_windows_open(const sluice_window *w, size_t n, int64_t now_ms, int64_t *change_ms, sluice_error *err) {
    sluice_error_reset(err);
    zone_cache *zc = zone_cache_new();
    if (!zc) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "windows: out of memory");
        return -1;
    }
    window_state at;
    windows_at(w, n, zc, now_ms, &at);
    zone_cache_free(zc);
    if (change_ms) *change_ms = at.change_ms;
    return at.open;
}

/* "3h12m", "2d4h", "45m" (rounded up to the minute) into buf. */
static void in_words(int64_t ms, char *buf, size_t len) {
    int64_t m = (ms + 59999) / 60000;
    if (m >= 1440)
        snprintf(buf, len, "%lldd%lldh", (long long)(m / 1440), (long long)(m % 1440 / 60));
    else if (m >= 60)
        snprintf(buf, len, "%lldh%lldm", (long long)(m / 60), (long long)(m % 60));
    else
        snprintf(buf, len, "%lldm", (long long)m);
}

void window_state_say(const sluice_window *w, size_t n, const window_state *s, int64_t now_ms, char *buf, size_t len) {
    char win[SLUICE_WINDOW_TEXT] = "", when[32] = "";
    const char *plural = n > 1 ? "s" : "";
    if (s->window >= 0) sluice_window_format(&w[s->window], win, sizeof(win));
    if (s->change_ms != INT64_MAX) in_words(s->change_ms - now_ms, when, sizeof(when));
    if (s->open) {
        snprintf(buf, len, "in its window %s%s%s", win, when[0] ? "; closes in " : "", when);
    } else if (s->unknown[0]) {
        snprintf(buf, len, "outside its window%s: unknown zone %s%s%s%s%s", plural, s->unknown,
                 s->window >= 0 ? "; next " : "", win, when[0] ? ", opens in " : "", when);
    } else if (s->window >= 0) {
        snprintf(buf, len, "outside its window%s %s; opens in %s", n > 1 ? "s; next" : "", win, when);
    } else {
        snprintf(buf, len, "outside its window%s; none opens within 8 days", plural);
    }
}
