/* The governor's history as the console's charts draw it, kept as points:
 * every decision of the last RECENT_MS, and before that one per
 * CONSOLE_WINDOW_MS / CONSOLE_POINTS ms of the last hour (the newest in each
 * slot). The first read takes the decision in force at the end of each
 * slot, later ones only what is new, so no poll reads a whole hour. */
#include <stdlib.h>
#include <string.h>

#include "console.h"

#define SLOT_MS (CONSOLE_WINDOW_MS / CONSOLE_POINTS)
#define RECENT_MS 120000 /* kept whole */
#define FETCH_FIRST 2    /* decisions read by a poll at first: a tick or two */
#define FETCH_MAX 4096   /* decisions read at most at once */

struct console_history {
    json_t *points; /* compact decisions, oldest first: {t, driver, p: {signal: pressure}, f: {class: fraction}} */
    json_t *last;   /* the newest decision read, whole */
    int64_t last_t; /* its time; 0 before the first */
    int loaded;     /* the hour before the last RECENT_MS has been read */
};

console_history *console_history_new(void) {
    console_history *h = calloc(1, sizeof(*h));
    if (h && !(h->points = json_array())) {
        free(h);
        return NULL;
    }
    return h;
}

void console_history_free(console_history *h) {
    if (!h) return;
    json_decref(h->points);
    json_decref(h->last);
    free(h);
}

const json_t *console_history_last(const console_history *h) {
    return h->last;
}

/* The chart's point of decision "d": its time, driver, each signal's
 * pressure and each class's fraction. NEW, or NULL when d has no time. */
static json_t *point_of(const json_t *d) {
    json_t *t = json_object_get(d, "t");
    if (!json_is_integer(t)) return NULL;
    json_t *p = json_object(), *f = json_object(), *o;
    size_t i;
    json_array_foreach(json_object_get(d, "signals"), i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *pr = json_object_get(o, "pressure");
        if (name) json_object_set_new(p, name, json_is_number(pr) ? json_real(json_number_value(pr)) : json_null());
    }
    json_array_foreach(json_object_get(d, "classes"), i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *fr = json_object_get(o, "fraction");
        if (name && json_is_number(fr)) json_object_set_new(f, name, json_real(json_number_value(fr)));
    }
    json_t *driver = json_object_get(d, "driver");
    return json_pack("{s:O, s:O, s:o, s:o}", "t", t, "driver", json_is_string(driver) ? driver : json_null(), "p", p,
                     "f", f);
}

/* Adds decision "d" (TAKES it), newer than every point. */
static void add_decision(console_history *h, json_t *d) {
    json_t *pt = point_of(d);
    if (!pt) {
        json_decref(d);
        return;
    }
    json_array_append_new(h->points, pt);
    json_decref(h->last);
    h->last = d;
    h->last_t = json_integer_value(json_object_get(pt, "t"));
}

/* Reads the newest "count" decisions (newest first) into a NEW array of
 * parsed decisions newer than h->last_t and within the window; *all is 1
 * when the read reached back to one already kept (or to the end). Returns
 * NULL with err set on failure. */
static json_t *read_new(console_history *h, sluice_client *c, size_t count, int64_t now, int *all, sluice_error *err) {
    size_t n = 0;
    char **texts = sluice_governor_history_list(c, count, &n, err);
    if (!texts && err->code != SLUICE_OK) return NULL;
    json_t *fresh = json_array();
    *all = n < count;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_loads(texts[i], 0, NULL);
        json_t *t = json_object_get(d, "t");
        if (!json_is_object(d) || !json_is_integer(t)) {
            json_decref(d);
            continue;
        }
        if (json_integer_value(t) <= h->last_t || json_integer_value(t) < now - CONSOLE_WINDOW_MS) {
            json_decref(d);
            *all = 1;
            break;
        }
        json_array_append_new(fresh, d);
    }
    sluice_governor_history_free(texts, n);
    return fresh;
}

/* The time of point i. */
static int64_t point_t(const console_history *h, size_t i) {
    return json_integer_value(json_object_get(json_array_get(h->points, i), "t"));
}

/* Drops the points older than the window, and those older than RECENT_MS
 * that share their slot with a newer point. */
static void trim(console_history *h, int64_t now) {
    while (json_array_size(h->points) && point_t(h, 0) < now - CONSOLE_WINDOW_MS) json_array_remove(h->points, 0);
    for (size_t i = 0; i + 1 < json_array_size(h->points) && point_t(h, i) < now - RECENT_MS;) {
        if (point_t(h, i) / SLOT_MS == point_t(h, i + 1) / SLOT_MS)
            json_array_remove(h->points, i);
        else
            i++;
    }
}

/* Adds the parsed decision "text" (BORROWED; NULL is skipped) when it is
 * newer than the newest point. */
static void add_text(console_history *h, const char *text) {
    json_t *d = text ? json_loads(text, 0, NULL) : NULL;
    json_t *t = json_object_get(d, "t");
    if (json_is_object(d) && json_is_integer(t) && json_integer_value(t) > h->last_t)
        add_decision(h, d);
    else
        json_decref(d);
}

/* Reads the decision in force at the end of each slot of the hour before
 * the last RECENT_MS. Returns 0, or -1 with err set. */
static int load_slots(console_history *h, sluice_client *c, int64_t now, sluice_error *err) {
    int64_t at[CONSOLE_POINTS], from = now - CONSOLE_WINDOW_MS;
    size_t n = 0;
    for (int64_t end = from - from % SLOT_MS + SLOT_MS - 1; end < now - RECENT_MS && n < CONSOLE_POINTS; end += SLOT_MS)
        at[n++] = end;
    char **texts = n ? sluice_governor_history_at(c, at, n, err) : NULL;
    if (n && !texts) return -1;
    for (size_t i = 0; i < n; i++) add_text(h, texts[i]);
    sluice_governor_history_free(texts, n);
    h->loaded = 1;
    return 0;
}

int console_history_update(console_history *h, sluice_client *c, int64_t now, sluice_error *err) {
    if (!h->loaded && load_slots(h, c, now, err) < 0) return -1;
    size_t count = FETCH_FIRST;
    int all = 0;
    json_t *fresh = NULL;
    for (;;) {
        json_decref(fresh);
        if (!(fresh = read_new(h, c, count, now, &all, err))) return -1;
        if (all || count >= FETCH_MAX) break;
        count = count * 16 < FETCH_MAX ? count * 16 : FETCH_MAX;
    }
    for (size_t i = json_array_size(fresh); i-- > 0;) add_decision(h, json_incref(json_array_get(fresh, i)));
    json_decref(fresh);
    trim(h, now);
    return 0;
}

/* For every name in any point's member "key", its series at the points
 * "at" (n indexes into h->points, -1 for none), into "out" ({name: [...]}). */
static void series(const console_history *h, const char *key, const long *at, size_t n, json_t *out) {
    for (size_t i = 0; i < n; i++) {
        if (at[i] < 0) continue;
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(json_array_get(h->points, (size_t)at[i]), key), name, v) {
            json_t *s = json_object_get(out, name);
            if (!s) {
                s = json_array();
                for (size_t k = 0; k < n; k++) json_array_append_new(s, json_null());
                json_object_set_new(out, name, s);
            }
            json_array_set(s, i, v);
        }
    }
}

/* The newest point in each of CONSOLE_SPARK equal spans from the oldest
 * point (at most an hour, at least a minute ago) to now into at[] (-1 where
 * none). */
static void spans(const console_history *h, int64_t now, long at[CONSOLE_SPARK]) {
    size_t n = json_array_size(h->points);
    int64_t from = n ? point_t(h, 0) : now - CONSOLE_WINDOW_MS;
    if (from < now - CONSOLE_WINDOW_MS) from = now - CONSOLE_WINDOW_MS;
    if (from > now - 60000) from = now - 60000;
    for (size_t b = 0; b < CONSOLE_SPARK; b++) at[b] = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t b = (point_t(h, i) - from) * CONSOLE_SPARK / (now - from + 1);
        if (b >= 0 && b < CONSOLE_SPARK) at[b] = (long)i;
    }
}

json_t *console_history_json(const console_history *h, int64_t now) {
    size_t n = json_array_size(h->points);
    long *every = calloc(n ? n : 1, sizeof(*every)), sparse[CONSOLE_SPARK];
    json_t *t = json_array(), *driver = json_array(), *signals = json_object(), *classes = json_object(), *pt;
    size_t i;
    json_array_foreach(h->points, i, pt) {
        json_array_append(t, json_object_get(pt, "t"));
        json_array_append(driver, json_object_get(pt, "driver"));
        if (every) every[i] = (long)i;
    }
    if (every) series(h, "p", every, n, signals);
    free(every);
    spans(h, now, sparse);
    series(h, "f", sparse, CONSOLE_SPARK, classes);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:f, s:f}", "from", (json_int_t)(now - CONSOLE_WINDOW_MS), "to",
                     (json_int_t)now, "t", t, "driver", driver, "pressure", signals, "fraction", classes, "target", 1.0,
                     "critical", 2.0);
}
