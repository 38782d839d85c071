/* Errors: the caller-owned error struct (first error wins). */
#include <stdio.h>

#include "queue.h"

static const char *const names[] = {
    [SLUICE_OK] = "ok",
    [SLUICE_ERR_UNREACHABLE] = "unreachable",
    [SLUICE_ERR_AUTH] = "authentication failed",
    [SLUICE_ERR_URL] = "bad url",
    [SLUICE_ERR_NAME] = "invalid name",
    [SLUICE_ERR_PAYLOAD] = "invalid payload",
    [SLUICE_ERR_ARGUMENT] = "invalid argument",
    [SLUICE_ERR_UNKNOWN_CLASS] = "unknown class",
    [SLUICE_ERR_QUEUE_FULL] = "queue full",
    [SLUICE_ERR_STALE] = "stale token",
    [SLUICE_ERR_NOT_FOUND] = "not found",
    [SLUICE_ERR_BUSY] = "busy",
    [SLUICE_ERR_STATE] = "wrong state",
    [SLUICE_ERR_SERVER] = "server error",
    [SLUICE_ERR_PROTOCOL] = "protocol error",
    [SLUICE_ERR_NOMEM] = "out of memory",
    [SLUICE_ERR_UNAVAILABLE] = "unavailable",
    [SLUICE_ERR_NOT_REPLICATED] = "not replicated",
};

const char *sluice_error_name(sluice_error_code code) {
    return word_of(names, NWORDS(names), (int)code);
}

void sluice_error_reset(sluice_error *err) {
    if (!err) return;
    err->code = SLUICE_OK;
    err->text[0] = '\0';
}

void sluice_error_set(sluice_error *err, sluice_error_code code, const char *fmt, ...) {
    if (!err || err->code != SLUICE_OK) return;
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    for (char *p = err->text; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}
