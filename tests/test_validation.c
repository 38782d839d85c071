/* Validation without a server: names, payloads, options, ids, URLs. */
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sluice.h"

static void class_names_follow_the_documented_pattern(void **state) {
    (void)state;
    const char *good[] = {
        "a",       "certificates", "integration_sync",
        "x.y-z_0", "0abc",         "a123456789012345678901234567890123456789012345678901234567890123"};
    const char *bad[] = {"",    "A",   "_a",  "-a",
                         ".a",  "a b", "a:b", "a{b",
                         "a}b", "é",   "a\n", "a1234567890123456789012345678901234567890123456789012345678901234"};
    sluice_error err;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) assert_int_equal(sluice_name_check(good[i], &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_name_check(bad[i], &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_NAME);
    }
    assert_int_equal(sluice_name_check(NULL, &err), -1);
}

static void payloads_must_be_json_objects_within_the_caps(void **state) {
    (void)state;
    sluice_error err;
    const char *good[] = {"{}", "{\"a\":[1,2,{\"b\":null}]}", " {\"x\":\"\\u00e9\"} "};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(sluice_payload_check(good[i], strlen(good[i]), &err), 0);
    const char *bad[] = {
        "", "[]", "1", "null", "\"s\"", "{", "{\"a\":1}x", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xc3\x28\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_payload_check(bad[i], strlen(bad[i]), &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    }
    assert_int_equal(sluice_payload_check("{}\0{}", 5, &err), -1);
    assert_int_equal(sluice_payload_check(NULL, 0, &err), -1);
}

static void a_payload_of_the_hard_cap_passes_and_one_byte_more_fails(void **state) {
    (void)state;
    sluice_error err;
    char *p = malloc(SLUICE_PAYLOAD_HARD_MAX + 2);
    memset(p, ' ', SLUICE_PAYLOAD_HARD_MAX + 1);
    p[0] = '{';
    p[SLUICE_PAYLOAD_HARD_MAX - 1] = '}';
    assert_int_equal(sluice_payload_check(p, SLUICE_PAYLOAD_HARD_MAX, &err), 0);
    p[SLUICE_PAYLOAD_HARD_MAX - 1] = ' ';
    p[SLUICE_PAYLOAD_HARD_MAX] = '}';
    assert_int_equal(sluice_payload_check(p, SLUICE_PAYLOAD_HARD_MAX + 1, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_PAYLOAD);
    free(p);
}

static void nesting_is_allowed_to_32_levels_and_no_deeper(void **state) {
    (void)state;
    char doc[512];
    sluice_error err;
    for (int depth = 31; depth <= 33; depth++) {
        doc[0] = '\0';
        for (int i = 0; i < depth; i++) strcat(doc, i ? "[" : "{\"a\":");
        strcat(doc, "1");
        for (int i = depth - 1; i >= 0; i--) strcat(doc, i ? "]" : "}");
        assert_int_equal(sluice_payload_check(doc, strlen(doc), &err), depth <= 32 ? 0 : -1);
    }
}

static void job_ids_name_their_class(void **state) {
    (void)state;
    char cls[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_job_id_class("certificates:42", cls, &err), 0);
    assert_string_equal(cls, "certificates");
    const char *bad[] = {"", "42", ":42", "c:", "c:4x", "C:1", "c:123456789012345678901", "c 1:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_job_id_class(bad[i], cls, &err), -1);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    }
}

static void the_first_error_is_kept_and_reset_on_the_next_call(void **state) {
    (void)state;
    sluice_error err;
    assert_int_equal(sluice_name_check("BAD", &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NAME);
    assert_non_null(strstr(err.text, "^[a-z0-9]"));
    char cls[SLUICE_ID_MAX];
    assert_int_equal(sluice_job_id_class("ok:1", cls, &err), 0);
    assert_int_equal(err.code, SLUICE_OK);
    assert_string_equal(sluice_error_name(SLUICE_ERR_QUEUE_FULL), "queue full");
}

static void malformed_urls_are_refused_before_any_connection(void **state) {
    (void)state;
    const char *bad[] = {"",
                         "redis:/x",
                         "rediss://h",
                         "redis://h:65536",
                         "redis://h:-1",
                         "redis://h: 1",
                         "redis://[::1",
                         "redis://h/99999999",
                         "unix://",
                         "unix://x",
                         "redis://u:%zz@h",
                         "redis://h\n",
                         "redis://h/1/2"};
    sluice_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(sluice_client_connect(bad[i][0] ? bad[i] : "x", NULL, &err));
        if (err.code != SLUICE_ERR_URL) fail_msg("%s: %s", bad[i], sluice_error_name(err.code));
    }
    /* a query names the parameter that is not allowed, not some other part */
    const char *queries[] = {"redis://h:6379?x=1", "redis://h/2?x=1", "unix:///tmp/r.sock?x=1"};
    for (size_t i = 0; i < 3; i++) {
        assert_null(sluice_client_connect(queries[i], NULL, &err));
        assert_int_equal(err.code, SLUICE_ERR_URL);
        if (!strstr(err.text, "unknown query parameter 'x'")) fail_msg("%s: %s", queries[i], err.text);
    }
}

static void a_password_never_appears_in_an_error(void **state) {
    (void)state;
    sluice_error err;
    assert_null(sluice_client_connect("redis://user:hunter2@127.0.0.1:1/0", NULL, &err));
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    assert_null(strstr(err.text, "hunter2"));
    assert_null(sluice_client_connect("redis://user:hunter2@h:0", NULL, &err));
    assert_null(strstr(err.text, "hunter2"));
}

static void a_bad_namespace_is_refused(void **state) {
    (void)state;
    sluice_error err;
    assert_null(sluice_client_connect("redis://127.0.0.1:1", "a b", &err));
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
    assert_null(sluice_client_connect("redis://127.0.0.1:1", "x{y}", &err));
    assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
}

static void numbers_durations_and_rates_parse_strictly(void **state) {
    (void)state;
    int64_t i = 0, ms = 0;
    double d = 0, r = 0;
    assert_int_equal(sluice_parse_int("42", 0, 100, &i, NULL), 0);
    assert_int_equal(i, 42);
    const char *bad_int[] = {"", " 1", "1 ", "1.0", "0x10", "101", "-1", "9999999999999999999999"};
    for (size_t k = 0; k < sizeof(bad_int) / sizeof(bad_int[0]); k++)
        assert_int_equal(sluice_parse_int(bad_int[k], 0, 100, &i, NULL), -1);
    assert_int_equal(sluice_parse_number("0.25", 0, 1, &d, NULL), 0);
    assert_true(d == 0.25);
    const char *bad_num[] = {"nan", "inf", "0x1p3", "1.5", "", "1e400", ".", "1,5"};
    for (size_t k = 0; k < sizeof(bad_num) / sizeof(bad_num[0]); k++)
        assert_int_equal(sluice_parse_number(bad_num[k], 0, 1, &d, NULL), -1);
    struct {
        const char *s;
        int64_t ms;
    } good_dur[] = {{"0", 0},        {"500ms", 500},  {"30s", 30000},  {"1.5s", 1500},
                    {"15m", 900000}, {"2h", 7200000}, {"1d", 86400000}};
    for (size_t k = 0; k < sizeof(good_dur) / sizeof(good_dur[0]); k++) {
        assert_int_equal(sluice_parse_duration(good_dur[k].s, 86400000, &ms, NULL), 0);
        assert_int_equal(ms, good_dur[k].ms);
    }
    const char *bad_dur[] = {"5", "00", "0.0", "s", "-1s", "0.0001s", "2d", "1w", "1 s", "nans"};
    for (size_t k = 0; k < sizeof(bad_dur) / sizeof(bad_dur[0]); k++)
        assert_int_equal(sluice_parse_duration(bad_dur[k], 86400000, &ms, NULL), -1);
    assert_int_equal(sluice_parse_rate("3000/m", &r, NULL), 0);
    assert_true(r == 50);
    assert_int_equal(sluice_parse_rate("7", &r, NULL), 0);
    assert_true(r == 7);
    const char *bad_rate[] = {"50/x", "/s", "-1/s", "inf/s", "2e9/s", "50/"};
    for (size_t k = 0; k < sizeof(bad_rate) / sizeof(bad_rate[0]); k++)
        assert_int_equal(sluice_parse_rate(bad_rate[k], &r, NULL), -1);
    struct {
        const char *s;
        int64_t ms;
    } good_time[] = {{"1", 1},
                     {"1798135200000", 1798135200000},
                     {"2026-12-24T18:00:00Z", 1798135200000},
                     {"2026-12-24t18:00:00z", 1798135200000},
                     {"2026-12-24T19:00:00.250+01:00", 1798135200250},
                     {"2026-12-24T17:30:00.1234-00:30", 1798135200123},
                     {"2024-02-29T00:00:00Z", 1709164800000},
                     {"9999-12-31T23:59:59Z", SLUICE_RUN_AT_MAX}};
    for (size_t k = 0; k < sizeof(good_time) / sizeof(good_time[0]); k++) {
        if (sluice_parse_time(good_time[k].s, &ms, NULL) < 0) fail_msg("refused %s", good_time[k].s);
        assert_int_equal(ms, good_time[k].ms);
    }
    const char *bad_time[] = {"",
                              "0",
                              "-5",
                              "253402300799001",
                              "2026-12-24",
                              "2026-12-24T18:00:00",
                              "2026-12-24 18:00:00Z",
                              "2026-13-01T00:00:00Z",
                              "2025-02-29T00:00:00Z",
                              "2026-04-31T00:00:00Z",
                              "2026-12-24T24:00:00Z",
                              "2026-12-24T18:00:60Z",
                              "2026-12-24T18:00:00.Z",
                              "2026-12-24T18:00:00+0100",
                              "2026-12-24T18:00:00Z ",
                              "1969-12-31T23:59:59Z",
                              "1970-01-01T00:00:00Z",
                              "nan"};
    sluice_error err;
    for (size_t k = 0; k < sizeof(bad_time) / sizeof(bad_time[0]); k++) {
        if (sluice_parse_time(bad_time[k], &ms, &err) == 0) fail_msg("accepted %s", bad_time[k]);
        assert_int_equal(err.code, SLUICE_ERR_ARGUMENT);
        assert_non_null(strstr(err.text, "RFC 3339"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_names_follow_the_documented_pattern),
        cmocka_unit_test(payloads_must_be_json_objects_within_the_caps),
        cmocka_unit_test(a_payload_of_the_hard_cap_passes_and_one_byte_more_fails),
        cmocka_unit_test(nesting_is_allowed_to_32_levels_and_no_deeper),
        cmocka_unit_test(job_ids_name_their_class),
        cmocka_unit_test(the_first_error_is_kept_and_reset_on_the_next_call),
        cmocka_unit_test(malformed_urls_are_refused_before_any_connection),
        cmocka_unit_test(a_password_never_appears_in_an_error),
        cmocka_unit_test(a_bad_namespace_is_refused),
        cmocka_unit_test(numbers_durations_and_rates_parse_strictly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
