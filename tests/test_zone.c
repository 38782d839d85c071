/* Time zones and run windows without a server: the TZif reader and its
 * POSIX TZ footer against glibc's localtime_r (TZ set in this process, as
 * libsluice never does), windows parsed, printed and checked, and where
 * instants fall in them across DST changes. */
#define _DEFAULT_SOURCE /* tm_gmtoff */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sluice.h"
#include "../queue/queue.h"
#include "../queue/zone.h"

/* glibc's offset of zone "tz" (a TZ value) at t. */
static long glibc_offset(const char *tz, int64_t t) {
    setenv("TZ", tz, 1);
    tzset();
    time_t tt = (time_t)t;
    struct tm tm;
    assert_non_null(localtime_r(&tt, &tm));
    return tm.tm_gmtoff;
}

/* Unix seconds of a UTC date and time. */
static int64_t utc(int y, int mo, int d, int h, int mi) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm);
}

/* Compares z with glibc every "step" seconds over [from, to), and one second
 * either side of every change zone_next_change reports in it. */
static void sweep(const zone *z, const char *tz, int64_t from, int64_t to, int64_t step, int *changes) {
    for (int64_t t = from; t < to; t += step) {
        if (zone_offset(z, t) != glibc_offset(tz, t))
            fail_msg("%s at %lld: ours %d, glibc %ld", tz, (long long)t, zone_offset(z, t), glibc_offset(tz, t));
    }
    for (int64_t t = zone_next_change(z, from); t < to; t = zone_next_change(z, t)) {
        (*changes)++;
        for (int64_t k = t - 1; k <= t + 1; k++) assert_int_equal(zone_offset(z, k), glibc_offset(tz, k));
        assert_int_not_equal(zone_offset(z, t - 1), zone_offset(z, t));
    }
}

/* Sweeps [from, to) in each of three zones by "step" s against glibc,
 * finding "changes" offset changes in each. */
static void sweep_zones(int64_t from, int64_t to, int64_t step, int changes_each) {
    const char *zones[] = {"America/New_York", "Europe/London", "Australia/Sydney"};
    for (size_t i = 0; i < 3; i++) {
        sluice_error err;
        zone *z = zone_load(zones[i], &err);
        assert_non_null(z);
        char tz[80];
        snprintf(tz, sizeof(tz), ":%s", zones[i]);
        int changes = 0;
        sweep(z, tz, from, to, step, &changes);
        assert_int_equal(changes, changes_each);
        zone_free(z);
    }
}

static void zone_offsets_match_glibc_across_the_2026_and_2027_dst_changes(void **state) {
    (void)state;
    sweep_zones(utc(2026, 1, 1, 0, 0), utc(2028, 1, 1, 0, 0), 900, 4); /* two changes a year */
}

static void the_footer_rule_decides_after_the_last_transition_in_2040(void **state) {
    (void)state;
    sweep_zones(utc(2040, 1, 1, 0, 0), utc(2041, 1, 1, 0, 0), 1800, 2);
}

static void posix_tz_strings_match_glibc(void **state) {
    (void)state;
    const char *rules[] = {"EST5EDT,M3.2.0,M11.1.0",
                           "GMT0BST,M3.5.0/1,M10.5.0",
                           "AEST-10AEDT,M10.1.0,M4.1.0/3",
                           "<+0330>-3:30",
                           "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                           "CET-1CEST,J60/2,J300/3",
                           "XXX3YYY,100/2,250",
                           "EST5EDT"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        sluice_error err;
        zone *z = zone_from_posix(rules[i], &err);
        if (!z) fail_msg("%s: %s", rules[i], err.text);
        int changes = 0;
        sweep(z, rules[i], utc(2027, 1, 1, 0, 0), utc(2029, 1, 1, 0, 0), 3600, &changes);
        zone_free(z);
    }
    const char *bad[] = {"",
                         "E5",
                         "EST",
                         "EST5EDT,M13.1.0,M11.1.0",
                         "EST5EDT,M3.2.0",
                         "EST5EDT,M3.6.0,M11.1.0",
                         "<AB>5",
                         "EST5EDT,J0,J100",
                         "EST5EDT,M3.2.0,M11.1.0x",
                         "EST99"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sluice_error err;
        zone *z = zone_from_posix(bad[i], &err);
        if (z) fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
}

static void truncated_or_foreign_files_are_refused_not_read_past_their_end(void **state) {
    (void)state;
    FILE *f = fopen(ZONE_DIR "/Europe/London", "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    zone *whole = zone_from_tzif(buf, len, NULL);
    assert_non_null(whole);
    zone_free(whole);
    for (size_t cut = 0; cut < len; cut += cut < 100 ? 1 : 37) {
        /* a copy of exactly "cut" bytes, so the sanitizer sees any read past it */
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        sluice_error err;
        zone *z = zone_from_tzif(copy, cut, &err);
        if (z)
            zone_free(z);
        else
            assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
        free(copy);
    }
    const char text[] = "not a zone at all, but long enough to hold a header of forty-four bytes";
    assert_null(zone_from_tzif((const unsigned char *)text, sizeof(text), NULL));
}

static void zone_names_are_checked_before_any_file_is_opened(void **state) {
    (void)state;
    const char *good[] = {"UTC", "America/New_York", "Etc/GMT+5", "America/Port-au-Prince",
                          "America/Argentina/Buenos_Aires"};
    const char *bad[] = {"",    "/etc/passwd", "../../etc/passwd", "America/../UTC", "America//New_York", "America/",
                         "5am", "a b",         "Europe/./London"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) assert_true(zone_name_ok(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) assert_false(zone_name_ok(bad[i]));
    sluice_error err;
    assert_int_equal(sluice_zone_check("America/New_York", &err), 0);
    assert_int_equal(sluice_zone_check("Mars/Olympus_Mons", &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_non_null(strstr(err.text, "unknown zone Mars/Olympus_Mons"));
    assert_int_equal(sluice_zone_check("../../etc/passwd", &err), -1);
}

static void the_cache_reads_a_zone_once_and_remembers_an_unknown_one(void **state) {
    (void)state;
    zone_cache *zc = zone_cache_new();
    sluice_error err;
    const zone *a = zone_cache_get(zc, "Europe/London", 1000, &err);
    assert_non_null(a);
    assert_ptr_equal(zone_cache_get(zc, "Europe/London", 2000, &err), a); /* not read again */
    assert_null(zone_cache_get(zc, "Mars/Base", 1000, &err));
    assert_non_null(strstr(err.text, "unknown zone Mars/Base"));
    assert_null(zone_cache_get(zc, "Mars/Base", 1000 + 3600000, &err));
    assert_non_null(zone_cache_get(zc, "Europe/London", 1000 + 3600000, &err)); /* read again after an hour */
    zone_cache_free(zc);
}

/* ------------------------------- windows ----------------------------- */

static void windows_parse_and_print_in_their_shortest_form(void **state) {
    (void)state;
    const char *in[][2] = {
        {"mon-fri 20:00-07:00 America/New_York", "mon-fri 20:00-07:00 America/New_York"},
        {"sat,sun 00:00-23:59 UTC", "sat,sun 00:00-23:59 UTC"},
        {"fri-mon 09:30-10:00 Europe/London", "mon,fri-sun 09:30-10:00 Europe/London"},
        {"mon,tue,wed,sun 12:00-13:00 UTC", "mon-wed,sun 12:00-13:00 UTC"},
        {"wed 23:00-01:00 Australia/Sydney", "wed 23:00-01:00 Australia/Sydney"},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        sluice_window w;
        sluice_error err;
        if (sluice_window_parse(in[i][0], &w, &err) < 0) fail_msg("%s: %s", in[i][0], err.text);
        char buf[SLUICE_WINDOW_TEXT];
        sluice_window_format(&w, buf, sizeof(buf));
        assert_string_equal(buf, in[i][1]);
    }
}

static void malformed_windows_are_refused_naming_the_problem(void **state) {
    (void)state;
    const char *bad[][2] = {
        {"mon-fry 20:00-07:00 UTC", "bad days"},     {"20:00-07:00 UTC", "not DAYS"},
        {"mon 24:00-07:00 UTC", "bad time"},         {"mon 20:00-07:60 UTC", "bad time"},
        {"mon 7:00-08:00 UTC", "bad times"},         {"mon 08:00-08:00 UTC", "empty"},
        {"mon 08:00-09:00 ../etc", "bad zone name"}, {"mon 08:00-09:00 UTC extra", "not DAYS"},
        {"Mon 08:00-09:00 UTC", "bad days"},         {"mon,,tue 08:00-09:00 UTC", "bad days"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sluice_window w;
        sluice_error err;
        assert_int_equal(sluice_window_parse(bad[i][0], &w, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
        if (!strstr(err.text, bad[i][1])) fail_msg("%s: \"%s\" lacks \"%s\"", bad[i][0], err.text, bad[i][1]);
    }
}

static void windows_of_one_zone_that_share_a_minute_overlap(void **state) {
    (void)state;
    const char *cases[][3] = {
        /* a, b, "1" when they overlap */
        {"mon-fri 20:00-07:00 UTC", "tue 06:00-08:00 UTC", "1"}, /* Monday's night runs into Tuesday */
        {"mon-fri 20:00-07:00 UTC", "mon 07:00-20:00 UTC", "0"}, /* end and start touch */
        {"sun 22:00-02:00 UTC", "mon 01:00-03:00 UTC", "1"},     /* across the end of the week */
        {"sat,sun 09:00-17:00 UTC", "mon-fri 09:00-17:00 UTC", "0"},
        {"mon 09:00-17:00 UTC", "mon 12:00-13:00 Europe/London", "0"}, /* zones apart are never compared */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_window w[2];
        sluice_error err;
        assert_int_equal(sluice_window_parse(cases[i][0], &w[0], &err), 0);
        assert_int_equal(sluice_window_parse(cases[i][1], &w[1], &err), 0);
        int rc = sluice_windows_check(w, 2, &err);
        assert_int_equal(rc, cases[i][2][0] == '1' ? -1 : 0);
        if (rc < 0) assert_non_null(strstr(err.text, "overlaps"));
    }
}

static void windows_json_round_trips_and_refuses_other_shapes(void **state) {
    (void)state;
    sluice_window w[2], back[SLUICE_WINDOWS_MAX];
    size_t n = 0;
    sluice_error err;
    assert_int_equal(sluice_window_parse("mon-fri 20:00-07:00 America/New_York", &w[0], &err), 0);
    assert_int_equal(sluice_window_parse("sat,sun 00:00-12:00 UTC", &w[1], &err), 0);
    char json[512];
    sluice_windows_json(w, 2, json, sizeof(json));
    assert_string_equal(json, "[{\"days\":\"mon-fri\",\"from\":\"20:00\",\"to\":\"07:00\",\"tz\":\"America/New_York\"},"
                              "{\"days\":\"sat,sun\",\"from\":\"00:00\",\"to\":\"12:00\",\"tz\":\"UTC\"}]");
    assert_int_equal(sluice_windows_parse_json(json, back, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(back, w, sizeof(w));
    sluice_windows_json(w, 0, json, sizeof(json));
    assert_string_equal(json, "[]");
    const char *bad[] = {"",
                         "{}",
                         "[1]",
                         "[{\"days\":\"mon\",\"from\":\"01:00\",\"to\":\"02:00\"}]",
                         "[{\"days\":\"mon\",\"from\":\"01:00\",\"to\":\"02:00\",\"tz\":\"UTC\",\"x\":\"y\"}]",
                         "[{\"days\":\"mon\",\"from\":1,\"to\":\"02:00\",\"tz\":\"UTC\"}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_windows_parse_json(bad[i], back, &n, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
    char nine[2048] = "[";
    for (int i = 0; i < 9; i++)
        snprintf(nine + strlen(nine), sizeof(nine) - strlen(nine),
                 "%s{\"days\":\"mon\",\"from\":\"%02d:00\",\"to\":\"%02d:30\",\"tz\":\"UTC\"}", i ? "," : "", i, i);
    strcat(nine, "]");
    assert_int_equal(sluice_windows_parse_json(nine, back, &n, &err), -1);
    assert_non_null(strstr(err.text, "at most 8"));
}

/* Where "at" (ms) falls in the one window "text". */
static window_state state_of(const char *text, int64_t at, zone_cache *zc, char *say, size_t len) {
    sluice_window w;
    assert_int_equal(sluice_window_parse(text, &w, NULL), 0);
    window_state s;
    windows_at(&w, 1, zc, at, &s);
    window_state_say(&w, 1, &s, at, say, len);
    return s;
}

static void a_night_window_follows_new_york_wall_time_across_both_dst_changes(void **state) {
    (void)state;
    zone_cache *zc = zone_cache_new();
    const char *win = "mon-fri 20:00-07:00 America/New_York";
    char say[256];
    /* Friday 2026-10-30 21:00 EDT (01:00 UTC Saturday): open, closes Saturday 07:00 EDT */
    window_state s = state_of(win, utc(2026, 10, 31, 1, 0) * 1000, zc, say, sizeof(say));
    assert_true(s.open);
    assert_int_equal(s.change_ms, utc(2026, 10, 31, 11, 0) * 1000);
    assert_string_equal(say, "in its window mon-fri 20:00-07:00 America/New_York; closes in 10h0m");
    /* Sunday 2026-11-01 after the fall-back (now EST): closed, opens Monday 20:00 EST = 01:00 UTC */
    s = state_of(win, utc(2026, 11, 1, 12, 0) * 1000, zc, say, sizeof(say));
    assert_false(s.open);
    assert_int_equal(s.change_ms, utc(2026, 11, 3, 1, 0) * 1000);
    assert_string_equal(say, "outside its window mon-fri 20:00-07:00 America/New_York; opens in 1d13h");
    /* Monday 2026-11-02 06:59 EST: Sunday opens no window, so nothing runs into Monday morning */
    s = state_of(win, utc(2026, 11, 2, 11, 59) * 1000, zc, say, sizeof(say));
    assert_false(s.open);
    /* Friday 2027-03-12 20:00 EST opens; it closes Saturday 07:00 EST */
    s = state_of(win, utc(2027, 3, 13, 1, 0) * 1000, zc, say, sizeof(say));
    assert_true(s.open);
    assert_int_equal(s.change_ms, utc(2027, 3, 13, 12, 0) * 1000);
    /* a Saturday night across the spring-forward: 20:00 EST to 07:00 EDT, ten hours */
    s = state_of("sat 20:00-07:00 America/New_York", utc(2027, 3, 14, 1, 0) * 1000, zc, say, sizeof(say));
    assert_true(s.open);
    assert_int_equal(s.change_ms, utc(2027, 3, 14, 11, 0) * 1000);
    /* and across the fall-back: 20:00 EDT to 07:00 EST, twelve hours */
    s = state_of("sat 20:00-07:00 America/New_York", utc(2026, 11, 1, 0, 0) * 1000, zc, say, sizeof(say));
    assert_true(s.open);
    assert_int_equal(s.change_ms, utc(2026, 11, 1, 12, 0) * 1000);
    /* Monday 2027-03-15 06:30 EDT (10:30 UTC): Sunday opened nothing, so closed */
    s = state_of(win, utc(2027, 3, 15, 10, 30) * 1000, zc, say, sizeof(say));
    assert_false(s.open);
    assert_int_equal(s.change_ms, utc(2027, 3, 16, 0, 0) * 1000); /* Monday 20:00 EDT */
    zone_cache_free(zc);
}

static void a_window_in_the_spring_forward_gap_opens_when_the_clock_jumps_past_its_start(void **state) {
    (void)state;
    zone_cache *zc = zone_cache_new();
    char say[256];
    /* Sunday 2027-03-14 02:30 does not exist in New York: at 02:00 EST the clock reads 03:00 EDT */
    window_state s = state_of("sun 02:30-04:00 America/New_York", utc(2027, 3, 14, 6, 0) * 1000, zc, say, sizeof(say));
    assert_false(s.open);
    assert_int_equal(s.change_ms, utc(2027, 3, 14, 7, 0) * 1000);
    s = state_of("sun 02:30-04:00 America/New_York", utc(2027, 3, 14, 7, 30) * 1000, zc, say, sizeof(say));
    assert_true(s.open);
    assert_int_equal(s.change_ms, utc(2027, 3, 14, 8, 0) * 1000);
    zone_cache_free(zc);
}

static void a_window_in_an_unknown_zone_never_opens_and_says_so(void **state) {
    (void)state;
    zone_cache *zc = zone_cache_new();
    char say[256];
    window_state s =
        state_of("mon-sun 00:00-23:59 Mars/Olympus_Mons", utc(2026, 6, 1, 12, 0) * 1000, zc, say, sizeof(say));
    assert_false(s.open);
    assert_string_equal(s.unknown, "Mars/Olympus_Mons");
    assert_string_equal(say, "outside its window: unknown zone Mars/Olympus_Mons");
    zone_cache_free(zc);
}

static void the_public_window_clock_says_what_the_governor_sees_and_when_it_changes(void **state) {
    (void)state;
    sluice_window w[2];
    int64_t change = 0;
    assert_int_equal(sluice_window_parse("mon 03:00-05:00 Europe/Paris", &w[0], NULL), 0);
    /* Monday 2026-01-05, Paris at UTC+1: the window is 02:00-04:00 UTC. */
    assert_int_equal(sluice_windows_open(w, 1, utc(2026, 1, 5, 1, 30) * 1000, &change, NULL), 0);
    assert_int_equal(change, utc(2026, 1, 5, 2, 0) * 1000);
    assert_int_equal(sluice_windows_open(w, 1, utc(2026, 1, 5, 2, 0) * 1000, &change, NULL), 1);
    assert_int_equal(change, utc(2026, 1, 5, 4, 0) * 1000);
    assert_int_equal(sluice_windows_open(w, 1, utc(2026, 1, 5, 4, 0) * 1000, NULL, NULL), 0);
    /* No windows: always open; a zone tzdata lacks: never. */
    assert_int_equal(sluice_windows_open(w, 0, utc(2026, 1, 5, 1, 30) * 1000, &change, NULL), 1);
    assert_int_equal(change, INT64_MAX);
    assert_int_equal(sluice_window_parse("mon-sun 00:00-23:59 Mars/Olympus_Mons", &w[1], NULL), 0);
    assert_int_equal(sluice_windows_open(&w[1], 1, utc(2026, 1, 5, 12, 0) * 1000, NULL, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zone_offsets_match_glibc_across_the_2026_and_2027_dst_changes),
        cmocka_unit_test(the_footer_rule_decides_after_the_last_transition_in_2040),
        cmocka_unit_test(posix_tz_strings_match_glibc),
        cmocka_unit_test(truncated_or_foreign_files_are_refused_not_read_past_their_end),
        cmocka_unit_test(zone_names_are_checked_before_any_file_is_opened),
        cmocka_unit_test(the_cache_reads_a_zone_once_and_remembers_an_unknown_one),
        cmocka_unit_test(windows_parse_and_print_in_their_shortest_form),
        cmocka_unit_test(malformed_windows_are_refused_naming_the_problem),
        cmocka_unit_test(windows_of_one_zone_that_share_a_minute_overlap),
        cmocka_unit_test(windows_json_round_trips_and_refuses_other_shapes),
        cmocka_unit_test(the_public_window_clock_says_what_the_governor_sees_and_when_it_changes),
        cmocka_unit_test(a_night_window_follows_new_york_wall_time_across_both_dst_changes),
        cmocka_unit_test(a_window_in_the_spring_forward_gap_opens_when_the_clock_jumps_past_its_start),
        cmocka_unit_test(a_window_in_an_unknown_zone_never_opens_and_says_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
