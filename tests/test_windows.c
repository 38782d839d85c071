/* Run windows on a real redis-server: the governor ticks at chosen instants
 * (its window clock offset from the Redis clock, never a sleep) around New
 * York's 2026 fall-back and 2027 spring-forward, and a class's admitted
 * fraction follows its window in its zone; a raw FCALL's bad windows are
 * refused with nothing written, and one naming a zone tzdata lacks holds the
 * class closed, saying why, without stopping the governor. */
#define _DEFAULT_SOURCE /* timegm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common.h"
#include "function_calls.h"

/* Unix ms of a UTC date and time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000;
}

static void reset(void **state) {
    harness_redis_int(*state, "FLUSHALL");
}

/* Declares "cls", low tier, 100/s, floor 0.2, with the windows given as
 * sluicectl writes them and "outside" (floor or none). */
static void windowed_class(sluice_client *c, const char *cls, const char *window, sluice_outside_window outside) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_LOW;
    cfg.max_rate = 100;
    cfg.floor = 0.2;
    cfg.outside_window = outside;
    sluice_error err;
    if (window) {
        if (sluice_window_parse(window, &cfg.windows[0], &err) < 0) fail_msg("window: %s", err.text);
        cfg.nwindows = 1;
    }
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) fail_msg("class set: %s", err.text);
}

/* A governor whose window clock reads "at" (Unix ms) now, changing a
 * fraction at every tick that calls for it. NEW. */
static sluice_governor *governor_at(sluice_client *c, int64_t at) {
    sluice_governor_opts o;
    sluice_governor_opts_init(&o);
    o.law.dwell_ms = 0;
    o.law.calm_ms = 0;
    o.law.smoothing_ms = 0;
    o.law.increase = 1;
    o.clock_offset_ms = at - test_redis_now(c);
    sluice_error err;
    sluice_governor *g = sluice_governor_new(c, "gov-windows", &o, &err);
    if (!g) fail_msg("governor: %s", err.text);
    return g;
}

/* The class's entry in the governor's last decision. NEW. */
static json_t *decided(const sluice_governor *g, const char *cls) {
    json_t *d = json_loads(sluice_governor_last_decision(g), 0, NULL);
    assert_non_null(d);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(d, "classes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "name")), cls)) {
            json_incref(o);
            json_decref(d);
            return o;
        }
    }
    fail_msg("no %s in the decision", cls);
    return NULL;
}

/* Ticks a governor whose window clock reads "at", twice (a raise may follow
 * the tick that finds the window open), and returns the class's effective
 * admitted fraction; its decision's reason into reason. */
static double admitted_at(sluice_client *c, const char *cls, int64_t at, char *reason, size_t len) {
    sluice_governor *g = governor_at(c, at);
    sluice_error err;
    for (int i = 0; i < 2; i++)
        if (sluice_governor_tick(g, NULL, &err) < 0) fail_msg("tick: %s", err.text);
    json_t *o = decided(g, cls);
    snprintf(reason, len, "%s", json_string_value(json_object_get(o, "reason")));
    json_decref(o);
    sluice_governor_free(g);
    sluice_gate_info gate;
    if (sluice_gate_get(c, cls, &gate, &err) < 0) fail_msg("gate: %s", err.text);
    return gate.fraction;
}

static void admission_follows_the_window_and_its_zone_across_a_dst_change(void **state) {
    reset(state);
    sluice_client *c = test_connect(state);
    windowed_class(c, "bulk", "sat 20:00-07:00 America/New_York", SLUICE_OUTSIDE_FLOOR);
    windowed_class(c, "plain", NULL, SLUICE_OUTSIDE_FLOOR);
    /* the instant, and whether the window is open then: Saturday 20:00 to
     * Sunday 07:00 New York time, on the nights its clocks change */
    const struct {
        int64_t at;
        int open;
        const char *why;
    } steps[] = {
        {utc_ms(2026, 10, 31, 23, 50), 0, "Saturday 19:50 EDT"},
        {utc_ms(2026, 11, 1, 0, 10), 1, "Saturday 20:10 EDT"},
        {utc_ms(2026, 11, 1, 11, 30), 1, "Sunday 06:30 EST, after the fall-back (07:30 by EDT)"},
        {utc_ms(2026, 11, 1, 12, 10), 0, "Sunday 07:10 EST"},
        {utc_ms(2027, 3, 14, 0, 50), 0, "Saturday 19:50 EST"},
        {utc_ms(2027, 3, 14, 1, 10), 1, "Saturday 20:10 EST"},
        {utc_ms(2027, 3, 14, 10, 50), 1, "Sunday 06:50 EDT"},
        {utc_ms(2027, 3, 14, 11, 10), 0, "Sunday 07:10 EDT, after the spring-forward (06:10 by EST)"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char reason[512];
        double f = admitted_at(c, "bulk", steps[i].at, reason, sizeof(reason));
        if (fabs(f - (steps[i].open ? 1 : 0.2)) > 1e-9)
            fail_msg("%s: fraction %g, reason: %s", steps[i].why, f, reason);
        const char *want = steps[i].open ? "in its window sat 20:00-07:00 America/New_York; closes in"
                                         : "outside its window sat 20:00-07:00 America/New_York; opens in";
        if (strncmp(reason, want, strlen(want))) fail_msg("%s: reason: %s", steps[i].why, reason);
        char other[512];
        assert_true(fabs(admitted_at(c, "plain", steps[i].at, other, sizeof(other)) - 1) < 1e-9);
    }
    /* what the history says at the fall-back's last open instant */
    char reason[512];
    admitted_at(c, "bulk", utc_ms(2026, 11, 1, 11, 30), reason, sizeof(reason));
    assert_non_null(strstr(reason, "closes in 30m"));
    admitted_at(c, "bulk", utc_ms(2026, 11, 1, 12, 10), reason, sizeof(reason));
    assert_non_null(strstr(reason, "opens in 6d12h")); /* next Saturday 20:00 EST */
    assert_non_null(strstr(reason, "held at floor 0.20"));
    sluice_client_free(c);
}

static void outside_window_none_admits_nothing_until_the_window_opens(void **state) {
    reset(state);
    sluice_client *c = test_connect(state);
    windowed_class(c, "bulk", "mon-fri 20:00-07:00 America/New_York", SLUICE_OUTSIDE_NONE);
    char reason[512];
    /* Wednesday 2026-11-04 12:00 EST: closed */
    assert_true(admitted_at(c, "bulk", utc_ms(2026, 11, 4, 17, 0), reason, sizeof(reason)) == 0);
    assert_string_equal(reason, "outside its window mon-fri 20:00-07:00 America/New_York; opens in 8h0m; admits "
                                "nothing until then");
    /* the governor's history records the closed window */
    size_t n = 0;
    sluice_error err;
    char **h = sluice_governor_history_list(c, 1, &n, &err);
    assert_int_equal(n, 1);
    json_t *d = json_loads(h[0], 0, NULL);
    json_t *w = json_object_get(json_array_get(json_object_get(d, "classes"), 0), "window");
    assert_true(json_is_false(json_object_get(w, "open")));
    assert_int_equal(json_integer_value(json_object_get(w, "changes_at")), utc_ms(2026, 11, 5, 1, 0));
    json_decref(d);
    sluice_governor_history_free(h, n);
    /* 20:30 EST: open, and the law raises it */
    assert_true(admitted_at(c, "bulk", utc_ms(2026, 11, 5, 1, 30), reason, sizeof(reason)) == 1);
    sluice_client_free(c);
}

/* FCALL sluice_class_set on class "cls" in namespace "t" with one field,
 * raw, as another language's client might. Returns the reply (NEW). */
static redisReply *raw_class_set(void **state, const char *cls, const char *field, const char *value) {
    redisContext *ctx = test_raw(state);
    const char *argv[] = {"test", field, value};
    redisReply *rep = class_fcall(ctx, "t", "sluice_class_set", cls, CLASS_NKEYS_NOW, NULL, 3, argv);
    redisFree(ctx);
    assert_non_null(rep);
    return rep;
}

static void bad_windows_by_raw_fcall_are_refused_and_nothing_is_written(void **state) {
    reset(state);
    sluice_client *c = test_connect(state);
    windowed_class(c, "bulk", "mon-fri 20:00-07:00 America/New_York", SLUICE_OUTSIDE_FLOOR);
    const char *bad[][2] = {
        {"[{\"days\":\"mon-fri\",\"from\":\"20:00\",\"to\":\"07:00\",\"tz\":\"UTC\"},"
         "{\"days\":\"tue\",\"from\":\"06:00\",\"to\":\"08:00\",\"tz\":\"UTC\"}]",
         "overlaps"},
        {"[{\"days\":\"mon\",\"from\":\"08:00\",\"to\":\"08:00\",\"tz\":\"UTC\"}]", "empty"},
        {"[{\"days\":\"mon-fry\",\"from\":\"08:00\",\"to\":\"09:00\",\"tz\":\"UTC\"}]", "bad days"},
        {"[{\"days\":\"mon\",\"from\":\"8:00\",\"to\":\"09:00\",\"tz\":\"UTC\"}]", "bad time"},
        {"[{\"days\":\"mon\",\"from\":\"08:00\",\"to\":\"24:00\",\"tz\":\"UTC\"}]", "bad time"},
        {"[{\"days\":\"mon\",\"from\":\"08:00\",\"to\":\"09:00\",\"tz\":\"../../etc/passwd\"}]", "bad zone name"},
        {"[{\"days\":\"mon\",\"from\":\"08:00\",\"to\":\"09:00\"}]", "must be an object"},
        {"{\"days\":\"mon\"}", "JSON array"},
        {"[1", "JSON array"},
    };
    sluice_class_config before;
    sluice_error err;
    assert_int_equal(sluice_class_get(c, "bulk", &before, &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *rep = raw_class_set(state, "bulk", "windows", bad[i][0]);
        if (rep->type != REDIS_REPLY_ERROR || !strstr(rep->str, "BADARG") || !strstr(rep->str, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], rep->str ? rep->str : "(no error)");
        freeReplyObject(rep);
    }
    redisReply *rep = raw_class_set(state, "bulk", "outside_window", "never");
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    sluice_class_config after;
    assert_int_equal(sluice_class_get(c, "bulk", &after, &err), 0);
    assert_memory_equal(&before, &after, sizeof(before));
    /* the library refuses an unknown zone before anything is sent */
    const char *fields[] = {"windows"};
    const char *values[] = {"[{\"days\":\"mon\",\"from\":\"08:00\",\"to\":\"09:00\",\"tz\":\"Mars/Base\"}]"};
    assert_int_equal(sluice_class_update(c, "bulk", fields, values, 1, NULL, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_non_null(strstr(err.text, "unknown zone Mars/Base"));
    assert_int_equal(sluice_class_get(c, "bulk", &after, &err), 0);
    assert_memory_equal(&before, &after, sizeof(before));
    sluice_client_free(c);
}

static void a_zone_tzdata_lacks_holds_its_class_closed_and_the_governor_says_so(void **state) {
    reset(state);
    sluice_client *c = test_connect(state);
    windowed_class(c, "bulk", NULL, SLUICE_OUTSIDE_FLOOR);
    windowed_class(c, "plain", NULL, SLUICE_OUTSIDE_FLOOR);
    /* a raw FCALL: the Functions check the zone's syntax, not tzdata */
    redisReply *rep = raw_class_set(state, "bulk", "windows",
                                    "[{\"days\":\"mon-sun\",\"from\":\"00:00\",\"to\":\"23:59\",\"tz\":"
                                    "\"Mars/Olympus_Mons\"}]");
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    char reason[512];
    assert_true(fabs(admitted_at(c, "bulk", utc_ms(2026, 12, 5, 12, 0), reason, sizeof(reason)) - 0.2) < 1e-9);
    assert_string_equal(reason, "outside its window: unknown zone Mars/Olympus_Mons; held at floor 0.20");
    assert_true(fabs(admitted_at(c, "plain", utc_ms(2026, 12, 5, 12, 0), reason, sizeof(reason)) - 1) < 1e-9);
    sluice_governor *g = governor_at(c, utc_ms(2026, 12, 5, 12, 0));
    sluice_error err;
    assert_int_equal(sluice_governor_tick(g, NULL, &err), 0);
    json_t *o = decided(g, "bulk");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "window"), "unknown_zone")),
                        "Mars/Olympus_Mons");
    json_decref(o);
    sluice_governor_free(g);
    sluice_client_free(c);
}

/* The problems the checker finds in class "cls", as "subject: detail" lines. */
static void check_class(sluice_client *c, const char *cls, char *out, size_t len) {
    sluice_error err;
    const char *names[] = {cls};
    sluice_check *k = sluice_namespace_check(c, names, 1, SLUICE_CHECK_MAX_JOBS, &err);
    if (!k) fail_msg("check: %s", err.text);
    out[0] = '\0';
    for (size_t i = 0; i < sluice_check_count(k); i++) {
        const sluice_problem *p = sluice_check_problem(k, i);
        snprintf(out + strlen(out), len - strlen(out), "%s: %s\n", p->subject, p->detail);
    }
    sluice_check_free(k);
}

static void the_checker_accepts_good_windows_and_names_bad_ones(void **state) {
    reset(state);
    sluice_client *c = test_connect(state);
    windowed_class(c, "bulk", "mon-fri 20:00-07:00 America/New_York", SLUICE_OUTSIDE_NONE);
    char problems[2048];
    check_class(c, "bulk", problems, sizeof(problems));
    assert_string_equal(problems, "");
    /* written past the Functions, as a bad restore might */
    harness_redis_int(*state, "HSET t:{bulk}:class windows [{\"days\":\"x\"}] outside_window all");
    check_class(c, "bulk", problems, sizeof(problems));
    assert_non_null(strstr(problems, "windows: are not valid: windows: window 1 must be an object of strings"));
    assert_non_null(strstr(problems, "outside_window: is not one of floor, none"));
    sluice_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admission_follows_the_window_and_its_zone_across_a_dst_change),
        cmocka_unit_test(outside_window_none_admits_nothing_until_the_window_opens),
        cmocka_unit_test(bad_windows_by_raw_fcall_are_refused_and_nothing_is_written),
        cmocka_unit_test(a_zone_tzdata_lacks_holds_its_class_closed_and_the_governor_says_so),
        cmocka_unit_test(the_checker_accepts_good_windows_and_names_bad_ones),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
