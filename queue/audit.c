/* Audit: reads the per-class and global audit streams (XREVRANGE) and
 * merges them newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define AUDIT_COUNT_MAX 10000

void sluice_audit_list_free(sluice_audit_entry *entries, size_t n) {
    if (!entries) return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].actor);
        free(entries[i].what);
        free(entries[i].detail);
    }
    free(entries);
}

/* Stream ids "<ms>-<seq>" order by ms, then seq. */
static int id_cmp(const char *a, const char *b) {
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    if (am != bm) return am < bm ? -1 : 1;
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0, bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return as < bs ? -1 : as > bs;
}

static int entry_newer_first(const void *pa, const void *pb) {
    const sluice_audit_entry *a = pa, *b = pb;
    return -id_cmp(a->id, b->id);
}

/* Appends the entries of one XREVRANGE reply ("r", BORROWED) of class
 * "cls" (NULL: the global stream) to *out (capacity grows). Returns 0, or
 * -1 with err set. */
static int read_stream(const redisReply *r, const char *cls, sluice_audit_entry **out, size_t *n, size_t *cap,
                       sluice_error *err) {
    if (r->type != REDIS_REPLY_ARRAY) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "audit: unexpected reply");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < r->elements && rc == 0; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "audit: unexpected entry");
            rc = -1;
            break;
        }
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            sluice_audit_entry *p = realloc(*out, nc * sizeof(*p));
            if (!p) {
                sluice_error_set(err, SLUICE_ERR_NOMEM, "audit: out of memory");
                rc = -1;
                break;
            }
            *out = p;
            *cap = nc;
        }
        sluice_audit_entry *a = &(*out)[*n];
        memset(a, 0, sizeof(*a));
        if (reply_strcpy(e->element[0], a->id, sizeof(a->id)) < 0) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "audit: unexpected entry id");
            rc = -1;
            break;
        }
        a->at = (int64_t)strtoll(a->id, NULL, 10);
        snprintf(a->cls, sizeof(a->cls), "%s", cls ? cls : "");
        const redisReply *f = e->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            char name[16];
            if (reply_strcpy(f->element[j], name, sizeof(name)) < 0) continue;
            char **slot = !strcmp(name, "actor")    ? &a->actor
                          : !strcmp(name, "what")   ? &a->what
                          : !strcmp(name, "detail") ? &a->detail
                                                    : NULL;
            if (slot && !*slot) *slot = reply_strdup(f->element[j + 1]);
        }
        if (!a->actor) a->actor = strdup("");
        if (!a->what) a->what = strdup("");
        if (!a->detail) a->detail = strdup("");
        (*n)++;
        if (!a->actor || !a->what || !a->detail) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "audit: out of memory");
            rc = -1;
        }
    }
    return rc;
}

/* Reads the streams of "tags" (n; a class's name, or GLOBAL_TAG for the
 * global stream) in one pipelined round trip, each up to "count" entries,
 * into *out. Returns 0, or -1 with err set. */
static int read_streams(sluice_client *c, const char *const *tags, size_t n, size_t count, sluice_audit_entry **out,
                        size_t *got, size_t *cap, sluice_error *err) {
    client_batch b = {0};
    if (client_batch_init(&b, n) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "audit: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        cmd_init(&b.cmds[i]);
        cmd_xrevrange(&b.cmds[i], c->ns, tags[i], CLASS_KEYS[CLASS_KEY_audit], (int64_t)count);
    }
    int rc = client_batch_run(c, &b, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!b.replies[i]) {
            *err = b.errs[i];
            rc = -1;
        } else {
            rc = read_stream(b.replies[i], strcmp(tags[i], GLOBAL_TAG) ? tags[i] : NULL, out, got, cap, err);
        }
    }
    client_batch_clear(&b);
    return rc;
}

sluice_audit_entry *sluice_audit_list(sluice_client *c, const char *cls, size_t count, size_t *n, sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (count < 1 || count > AUDIT_COUNT_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "audit: count must be 1..%d", AUDIT_COUNT_MAX);
        return NULL;
    }
    if (cls && sluice_name_check(cls, err) < 0) return NULL;
    sluice_audit_entry *out = NULL;
    size_t cap = 0;
    int rc = 0;
    if (cls) {
        rc = read_streams(c, &cls, 1, count, &out, n, &cap, err);
    } else {
        size_t nc = 0;
        char **names = sluice_class_list(c, &nc, err);
        const char **tags = names || err->code == SLUICE_OK ? calloc(nc + 1, sizeof(*tags)) : NULL;
        if (!tags && err->code == SLUICE_OK) sluice_error_set(err, SLUICE_ERR_NOMEM, "audit: out of memory");
        rc = tags ? 0 : -1;
        if (tags) {
            tags[0] = GLOBAL_TAG;
            for (size_t i = 0; i < nc; i++) tags[i + 1] = names[i];
            rc = read_streams(c, tags, nc + 1, count, &out, n, &cap, err);
        }
        free(tags);
        sluice_class_list_free(names, nc);
    }
    if (rc < 0) {
        sluice_audit_list_free(out, *n);
        *n = 0;
        return NULL;
    }
    if (*n > 1) qsort(out, *n, sizeof(*out), entry_newer_first);
    if (*n > count) {
        for (size_t i = count; i < *n; i++) {
            free(out[i].actor);
            free(out[i].what);
            free(out[i].detail);
        }
        *n = count;
    }
    if (*n == 0) {
        free(out);
        out = NULL;
    }
    return out;
}
