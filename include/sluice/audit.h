/* sluice audit: reading who changed what, when. Every class, gate, signal
 * and governor-mode change appends an entry (actor = the client's name) to
 * a capped stream: NS:{class}:audit per class, NS:{_}:audit for signals and
 * the governor. This reads them back, newest first, merged by time. */
#ifndef SLUICE_AUDIT_H
#define SLUICE_AUDIT_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One audit entry. The strings are NEW, released by sluice_audit_list_free. */
typedef struct sluice_audit_entry {
    char id[48];      /* the stream entry id, "<ms>-<seq>" */
    int64_t at;       /* Unix ms, the Redis clock when it was written */
    char cls[65];     /* the class, or "" for a global entry */
    char *actor;      /* the writer's client name; "" if unnamed */
    char *what;       /* e.g. "class updated", "signal defined" */
    char *detail;     /* e.g. "max_rate=50 floor=0.1" */
} sluice_audit_entry;

/* Reads the newest "count" (1..10000) entries, newest first. With "cls"
 * (not NULL) only that class's stream; with NULL the global stream and the
 * stream of every declared class, merged by time. Returns a NEW array of *n
 * entries (free with sluice_audit_list_free), or NULL with *n 0 (err tells
 * whether it failed: SLUICE_ERR_NAME, SLUICE_ERR_ARGUMENT, a connection
 * error). A class that never had an entry gives an empty answer. */
sluice_audit_entry *sluice_audit_list(sluice_client *c, const char *cls, size_t count, size_t *n,
                                      sluice_error *err);

/* Frees an array from sluice_audit_list. NULL is a no-op. */
void sluice_audit_list_free(sluice_audit_entry *entries, size_t n);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
