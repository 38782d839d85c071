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

/* Appends the entries of one XREVRANGE reply to *out (capacity grows). */
static int read_stream(sluice_client *c, const char *tag, const char *cls, size_t count,
                       sluice_audit_entry **out, size_t *n, size_t *cap, sluice_error *err) {
    cmd m;
    cmd_init(&m);
    cmd_xrevrange(&m, c->ns, tag, CLASS_KEYS[CLASS_KEY_audit], (int64_t)count);
    redisReply *r = client_call(c, &m, "audit", err);
    cmd_clear(&m);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
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
            char **slot = !strcmp(name, "actor") ? &a->actor : !strcmp(name, "what") ? &a->what
                          : !strcmp(name, "detail") ? &a->detail : NULL;
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
    freeReplyObject(r);
    return rc;
}

sluice_audit_entry *sluice_audit_list(sluice_client *c, const char *cls, size_t count, size_t *n,
                                      sluice_error *err) {
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
        rc = read_stream(c, cls, cls, count, &out, n, &cap, err);
    } else {
        rc = read_stream(c, GLOBAL_TAG, NULL, count, &out, n, &cap, err);
        size_t nc = 0;
        sluice_error lerr;
        char **names = rc == 0 ? sluice_class_list(c, &nc, &lerr) : NULL;
        if (rc == 0 && !names && lerr.code != SLUICE_OK) {
            sluice_error_set(err, lerr.code, "%s", lerr.text);
            rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < nc; i++) {
            rc = read_stream(c, names[i], names[i], count, &out, n, &cap, err);
        }
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
