/* The console's actions, POST /api/<action> with a JSON body: pause,
 * resume, pin, unpin (a class), mode (the governor's), retry and purge (dead
 * jobs). Each checks its whole body before it calls the library, whose
 * Functions write the change and its audit entry (the console's client name
 * is the actor) in one step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "console.h"

#define FOR_MAX_MS (365LL * 86400000) /* the longest pause or pin */

/* A parsed body: the members every action may take. */
typedef struct action_args {
    const char *cls;  /* "class" */
    const char *id;   /* "id": a dead job, NULL for all with "all": true */
    double fraction;  /* "fraction", [0,1] */
    int64_t for_ms;   /* "for": a duration ("30s", "15m") or 0 for no expiry */
    const char *mode; /* "mode" */
} action_args;

/* Reads member "key" of "body" as a string into *out (NULL when absent).
 * Returns 0, or -1 when it is there and not a string. */
static int opt_string(const json_t *body, const char *key, const char **out) {
    json_t *v = json_object_get(body, key);
    *out = json_is_string(v) ? json_string_value(v) : NULL;
    return v && !json_is_string(v) ? -1 : 0;
}

/* Checks the body against what action "need" takes ('c' a class, 'f' a
 * fraction, 'd' an optional duration, 'm' a mode, 'j' a job id or all) and
 * fills *a. Returns 0, or -1 with *bad set to the 400 reply. */
static int parse_args(const json_t *body, const char *need, action_args *a, console_reply *bad) {
    const char *f = NULL;
    memset(a, 0, sizeof(*a));
    if (opt_string(body, "class", &a->cls) < 0 || opt_string(body, "for", &f) < 0 ||
        opt_string(body, "mode", &a->mode) < 0 || opt_string(body, "id", &a->id) < 0)
        return *bad = console_error(400, "class, for, mode and id must be strings"), -1;
    if (strchr(need, 'c') && (!a->cls || sluice_name_check(a->cls, NULL) < 0))
        return *bad = console_error(400, "\"class\" must name a class ([a-z0-9][a-z0-9_.-]{0,63})"), -1;
    if (strchr(need, 'f')) {
        json_t *v = json_object_get(body, "fraction");
        a->fraction = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(a->fraction >= 0 && a->fraction <= 1))
            return *bad = console_error(400, "\"fraction\" must be a number in [0,1]"), -1;
    }
    if (strchr(need, 'd') && f && (sluice_parse_duration(f, FOR_MAX_MS, &a->for_ms, NULL) < 0 || a->for_ms == 0))
        return *bad = console_error(400, "\"for\" must be a duration such as 30s, 15m or 2h (at most 365d)"), -1;
    if (strchr(need, 'm') && (!a->mode || sluice_governor_mode_parse(a->mode, &(sluice_governor_mode){0}, NULL) < 0))
        return *bad = console_error(400, "\"mode\" must be enforce, shadow or off"), -1;
    if (strchr(need, 'j')) {
        char cls[SLUICE_ID_MAX];
        int all = json_is_true(json_object_get(body, "all"));
        if (all == (a->id != NULL)) return *bad = console_error(400, "give a dead job's \"id\" or \"all\": true"), -1;
        if (a->id && (sluice_job_id_class(a->id, cls, NULL) < 0 || strcmp(cls, a->cls) != 0))
            return *bad = console_error(400, "\"id\" must be a job of class %s", a->cls), -1;
    }
    return 0;
}

/* The class must exist: an action on a typo must not pass silently.
 * Returns 0, or -1 with err set ("unknown class 'x'" when it is not). */
static int known_class(sluice_client *c, const char *cls, sluice_error *err) {
    sluice_class_config cfg;
    if (sluice_class_get(c, cls, &cfg, err) == 0) return 0;
    if (err->code == SLUICE_ERR_UNKNOWN_CLASS) {
        sluice_error_reset(err);
        sluice_error_set(err, SLUICE_ERR_UNKNOWN_CLASS, "unknown class '%s'", cls);
    }
    return -1;
}

/* Runs one checked action; writes what it did into msg. Returns 0, or -1
 * with err set. */
static int run(sluice_client *c, const char *route, const action_args *a, char *msg, size_t len, sluice_error *err) {
    int64_t n = 0;
    char d[32] = "";
    if (a->for_ms) ctl_duration(a->for_ms, d, sizeof(d));
    if (!strcmp(route, "mode")) {
        sluice_governor_mode m = SLUICE_GOVERNOR_ENFORCE;
        sluice_governor_mode_parse(a->mode, &m, NULL);
        snprintf(msg, len, "governor mode %s", a->mode);
        return sluice_governor_mode_set(c, m, err);
    }
    if (known_class(c, a->cls, err) < 0) return -1;
    if (!strcmp(route, "pause")) {
        snprintf(msg, len, "class %s paused%s%s", a->cls, *d ? " for " : "", d);
        return sluice_class_pause(c, a->cls, a->for_ms, err);
    }
    if (!strcmp(route, "resume")) {
        snprintf(msg, len, "class %s resumed", a->cls);
        return sluice_class_resume(c, a->cls, err);
    }
    if (!strcmp(route, "pin")) {
        snprintf(msg, len, "class %s pinned at %g%s%s", a->cls, a->fraction, *d ? " for " : "", d);
        return sluice_class_pin(c, a->cls, a->fraction, a->for_ms, err);
    }
    if (!strcmp(route, "unpin")) {
        snprintf(msg, len, "class %s unpinned", a->cls);
        return sluice_class_unpin(c, a->cls, err);
    }
    int retry = !strcmp(route, "retry");
    int rc = retry ? sluice_dead_retry(c, a->cls, a->id, &n, err) : sluice_dead_purge(c, a->cls, a->id, &n, err);
    snprintf(msg, len, "%s %lld dead job%s of %s", retry ? "retried" : "purged", (long long)n, n == 1 ? "" : "s",
             a->cls);
    return rc;
}

console_reply console_action(console *k, const char *route, const json_t *body) {
    static const char *const routes[][2] = {{"pause", "cd"}, {"resume", "c"}, {"pin", "cfd"}, {"unpin", "c"},
                                            {"mode", "m"},   {"retry", "cj"}, {"purge", "cj"}};
    size_t i = 0, n = sizeof(routes) / sizeof(routes[0]);
    while (i < n && strcmp(routes[i][0], route) != 0) i++;
    if (i == n) return console_error(404, "no action '%.64s' (pause, resume, pin, unpin, mode, retry, purge)", route);
    if (!json_is_object(body)) return console_error(400, "the body must be a JSON object");
    action_args a;
    console_reply bad;
    if (parse_args(body, routes[i][1], &a, &bad) < 0) return bad;
    sluice_error err;
    sluice_client *c = console_client(k, &err);
    if (!c) return console_lib_error(&err);
    char msg[256];
    if (run(c, route, &a, msg, sizeof(msg), &err) < 0) return console_lib_error(&err);
    return (console_reply){200, json_pack("{s:b, s:s}", "ok", 1, "message", msg)};
}
