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
    const char *good[] = {"a", "certificates", "integration_sync", "x.y-z_0", "0abc",
                          "a123456789012345678901234567890123456789012345678901234567890123"};
    const char *bad[] = {"", "A", "_a", "-a", ".a", "a b", "a:b", "a{b", "a}b", "é", "a\n",
                         "a1234567890123456789012345678901234567890123456789012345678901234"};
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
    const char *bad[] = {"", "[]", "1", "null", "\"s\"", "{", "{\"a\":1}x", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xc3\x28\"}"};
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
    assert_int_equal(sluice_id_class("certificates:42", cls, &err), 0);
    assert_string_equal(cls, "certificates");
    const char *bad[] = {"", "42", ":42", "c:", "c:4x", "C:1", "c:123456789012345678901", "c 1:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sluice_id_class(bad[i], cls, &err), -1);
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
    assert_int_equal(sluice_id_class("ok:1", cls, &err), 0);
    assert_int_equal(err.code, SLUICE_OK);
    assert_string_equal(sluice_error_name(SLUICE_ERR_QUEUE_FULL), "queue full");
}

static void malformed_urls_are_refused_before_any_connection(void **state) {
    (void)state;
    const char *bad[] = {"", "redis:/x", "rediss://h", "redis://h:65536", "redis://h:-1", "redis://h: 1",
                         "redis://[::1", "redis://h/99999999", "unix://", "unix://x", "redis://u:%zz@h",
                         "redis://h\n", "redis://h/1/2"};
    sluice_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(sluice_client_connect(bad[i][0] ? bad[i] : "x", NULL, &err));
        if (err.code != SLUICE_ERR_URL) fail_msg("%s: %s", bad[i], sluice_error_name(err.code));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
