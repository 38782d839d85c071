/* libFuzzer target: names and ids — sluice_name_check (classes, signals),
 * sluice_job_id_class (a job id's class), and the tier and on_stale words. A
 * name the C side accepts must match ^[a-z0-9][a-z0-9_.-]{0,63}$ exactly, as
 * the Functions demand. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int pattern_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 (i > 0 && (ch == '_' || ch == '.' || ch == '-'));
        if (!ok) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';

    sluice_error err;
    int rc = sluice_name_check(s, &err);
    if ((rc == 0) != pattern_ok(s)) abort();
    if (rc < 0 && err.code != SLUICE_ERR_NAME) abort();
    if (rc == 0 && err.code != SLUICE_OK) abort();
    if (sluice_name_check(s, NULL) != rc) abort();

    char cls[SLUICE_ID_MAX];
    memset(cls, 'x', sizeof(cls));
    rc = sluice_job_id_class(s, cls, &err);
    if (rc == 0) {
        /* "<class>:<digits>", the class a valid name and a prefix of the id */
        size_t n = strlen(cls);
        if (n >= SLUICE_ID_MAX || sluice_name_check(cls, NULL) < 0 || strncmp(s, cls, n) || s[n] != ':' ||
            !s[n + 1] || strspn(s + n + 1, "0123456789") != strlen(s + n + 1))
            abort();
    } else if (err.code != SLUICE_ERR_ARGUMENT) {
        abort();
    }

    sluice_tier t;
    if (sluice_tier_parse(s, &t, NULL) == 0 && strcmp(sluice_tier_name(t), s)) abort();
    sluice_on_stale os;
    (void)sluice_on_stale_parse(s, &os, NULL);
    (void)sluice_error_name((sluice_error_code)(size ? data[0] : 0));
    (void)sluice_job_state_name((sluice_job_state)(size ? data[0] : 0));
    free(s);
    return 0;
}
