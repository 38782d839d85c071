/* libFuzzer target: what a producer or worker hands the library before
 * anything is sent — job payloads (sluice_payload_check), enqueue options
 * (the check enqueue runs) and the Function commands built from a
 * namespace, class, job id, token and reason (sluice_command_*). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "sluice/fair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little reader over the fuzz bytes. */
typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes;

static uint64_t take(bytes *b, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k && b->n; i++, b->p++, b->n--) v = v << 8 | *b->p;
    return v;
}

/* The next NUL-terminated field (NEW); the last one runs to the end. */
static char *field(bytes *b) {
    const uint8_t *nul = memchr(b->p, 0, b->n);
    size_t len = nul ? (size_t)(nul - b->p) : b->n;
    char *s = malloc(len + 1);
    if (!s) abort();
    memcpy(s, b->p, len);
    s[len] = '\0';
    b->p += len + (nul ? 1 : 0);
    b->n -= len + (nul ? 1 : 0);
    return s;
}

static void check_err(int rc, const sluice_error *err, sluice_error_code want) {
    if (rc == 0 && err->code != SLUICE_OK) abort();
    if (rc < 0 && (err->code == SLUICE_OK || (want != SLUICE_OK && err->code != want))) abort();
    if (rc < 0 && (!err->text[0] || strchr(err->text, '\n') || strlen(err->text) >= SLUICE_ERROR_TEXT)) abort();
}

/* What the Function (queue/lua/enqueue.lua) demands of a payload the C check
 * let through: '{' first and '}' last once JSON whitespace around them is
 * skipped, no NUL, under the hard cap. */
static void check_payload_contract(const uint8_t *data, size_t size) {
    while (size && strchr(" \t\r\n", data[0]) && data[0]) data++, size--;
    while (size && strchr(" \t\r\n", data[size - 1]) && data[size - 1]) size--;
    if (size < 2 || data[0] != '{' || data[size - 1] != '}' || size > SLUICE_PAYLOAD_HARD_MAX || memchr(data, 0, size))
        abort();
}

static void payloads(const uint8_t *data, size_t size) {
    sluice_error err;
    int rc = sluice_payload_check((const char *)data, size, &err);
    check_err(rc, &err, SLUICE_ERR_PAYLOAD);
    if (rc == 0) check_payload_contract(data, size);
    if (sluice_payload_check((const char *)data, size, NULL) != rc) abort();
}

static void options(bytes b) {
    sluice_enqueue_opts o;
    memset(&o, 0, sizeof o);
    o.delay_ms = (int64_t)take(&b, 8);
    o.run_at_ms = (int64_t)take(&b, 8);
    o.priority = (int)(int32_t)take(&b, 4);
    o.max_attempts = (int)(int32_t)take(&b, 4);
    o.timeout_ms = (int64_t)take(&b, 8);
    o.cost = (int64_t)take(&b, 8);
    int has_unique = (int)(take(&b, 1) & 1);
    char *unique = field(&b);
    o.unique = has_unique ? unique : NULL;
    int has_key = (int)(take(&b, 1) & 1);
    char *key = field(&b);
    o.key = has_key ? key : NULL;
    o.start_by_ms = (int64_t)take(&b, 8);
    o.start_within_ms = (int64_t)take(&b, 8);
    sluice_error err;
    sluice_error_reset(&err);
    int rc = opts_check(&o, &err);
    check_err(rc, &err, SLUICE_ERR_ARGUMENT);
    if (rc == 0) {
        /* the ranges queue/lua/enqueue.lua enforces */
        if (o.delay_ms < 0 || o.delay_ms > 3153600000000LL || o.run_at_ms < 0 || o.run_at_ms > 253402300799000LL ||
            (o.delay_ms && o.run_at_ms) || o.priority < -1000 || o.priority > 1000 || o.max_attempts < 0 ||
            o.max_attempts > 1000 || o.timeout_ms < 0 || o.timeout_ms > 604800000 ||
            (o.unique && strlen(o.unique) > 256) || o.cost < 0 || o.cost > 1000000 || o.start_by_ms < 0 ||
            o.start_by_ms > 253402300799000LL || o.start_within_ms < 0 || o.start_within_ms > 253402300799000LL ||
            (o.start_by_ms && o.start_within_ms))
            abort();
        /* a fairness key: empty (none), or 1..SLUICE_KEY_MAX bytes without a control byte */
        if (o.key && strlen(o.key) > SLUICE_KEY_MAX) abort();
        for (const char *k = o.key; k && *k; k++)
            if ((unsigned char)*k < 0x20 || *k == 0x7f) abort();
    }
    if (opts_check(NULL, &err) != 0) abort();
    free(unique);
    free(key);
}

static void commands(bytes b) {
    unsigned which = (unsigned)take(&b, 1);
    int64_t token = (int64_t)take(&b, 8);
    size_t max = (size_t)take(&b, 2);
    char *ns = field(&b), *name = field(&b), *reason = field(&b);
    const char *nsp = (which & 0x80) ? NULL : ns;
    sluice_error err;
    sluice_command *m = NULL;
    switch (which % 5) {
    case 0: m = sluice_command_claim(nsp, name, (which & 0x40) ? NULL : reason, max, (int)(token & 1), &err); break;
    case 1: m = sluice_command_ack(nsp, name, token, &err); break;
    case 2: m = sluice_command_fail(nsp, name, token, (which & 0x40) ? NULL : reason, &err); break;
    case 3: m = sluice_command_extend(nsp, name, token, (int64_t)max, &err); break;
    default: m = sluice_command_release(nsp, name, token, &err); break;
    }
    check_err(m ? 0 : -1, &err, SLUICE_OK);
    if (m) {
        int argc = sluice_command_argc(m);
        const char **argv = sluice_command_argv(m);
        const size_t *lens = sluice_command_argvlen(m);
        /* FCALL fn N <the N class keys> class ...: every key in the class's slot */
        char nkeys[8];
        snprintf(nkeys, sizeof(nkeys), "%d", (int)CLASS_NKEYS);
        if (argc < 4 + CLASS_NKEYS || strcmp(argv[0], "FCALL") || strcmp(argv[2], nkeys)) abort();
        for (int i = 0; i < argc; i++)
            if (strlen(argv[i]) > lens[i]) abort();
        char tag[SLUICE_ID_MAX + 3];
        snprintf(tag, sizeof(tag), "{%s}:", argv[3 + CLASS_NKEYS]);
        for (int i = 3; i < 3 + CLASS_NKEYS; i++)
            if (!strstr(argv[i], tag)) abort();
    }
    sluice_command_free(m);
    free(ns);
    free(name);
    free(reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    payloads(data, size);
    if (size == 0) return 0;
    bytes b = {data + 1, size - 1};
    if (data[0] & 1)
        options(b);
    else
        commands(b);
    return 0;
}
