/* Every Function of the sluice library as a raw FCALL with valid arguments,
 * for the tests that call them as another-language producer or another
 * role would: test_functions (keys out of order) and test_acl (refusals
 * before changes). */
#ifndef SLUICE_TEST_FUNCTION_CALLS_H
#define SLUICE_TEST_FUNCTION_CALLS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define CALL_ARGS 14

/* The class keys a caller of this library version sends; one of version 9
 * sends the first CLASS_NKEYS_V9, one of version 8 or older the first
 * CLASS_NKEYS_V8. */
enum { CLASS_NKEYS_NOW = 15, CLASS_NKEYS_V9 = 14, CLASS_NKEYS_V8 = 13 };
static const char *const CLASS_SUFFIX[CLASS_NKEYS_NOW] = {"class", "gate",  "ready",  "delayed",   "leased",
                                                          "dead",  "jobs",  "meta",   "unique",    "stats",
                                                          "done",  "audit", "bucket", "deadlines", "parked"};
static const char *const SIGNAL_SUFFIX[3] = {"signals", "signal-values", "audit"};
static const char *const GOVERNOR_SUFFIX[3] = {"governor", "governor:history", "audit"};
static const char *const REGISTRY_SUFFIX[1] = {"classes"};

/* One Function call: a class Function (suffixes NULL: the 14 class keys
 * of "cls") or a global one (its suffixes under the tag "_"). */
typedef struct fn_call {
    const char *fn;
    const char *const *suffixes; /* NULL: a class Function */
    int nkeys;
    int argc;
    const char *argv[CALL_ARGS];
} fn_call;

/* The ids a state offers the calls: a ready job, a leased job with its
 * token, a dead job; and the class's name. */
typedef struct fn_state {
    const char *cls;
    char ready[96], leased[96], token[32], dead[96];
} fn_state;

#define CLASS_CALL(name, ...)                                                                                          \
    {                                                                                                                  \
        .fn = name, .suffixes = NULL, .nkeys = CLASS_NKEYS_NOW,                                                        \
        .argc = sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *), .argv = {                                      \
            __VA_ARGS__                                                                                                \
        }                                                                                                              \
    }
#define GLOBAL_CALL(name, keys, n, ...)                                                                                \
    {                                                                                                                  \
        .fn = name, .suffixes = keys, .nkeys = n, .argc = sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *),      \
        .argv = {                                                                                                      \
            __VA_ARGS__                                                                                                \
        }                                                                                                              \
    }

/* Fills out[] (room for 40) with every Function, valid for "s"; returns how
 * many. The strings are BORROWED from s and static storage. */
static inline size_t function_calls(const fn_state *s, fn_call *out) {
    const fn_call calls[] = {
        CLASS_CALL("sluice_enqueue", s->cls, "1", "{}", "0", "0", "0", "0", "0", "", "0", "acme", "0", "60000"),
        CLASS_CALL("sluice_claim", s->cls, "1", "t", "0"),
        CLASS_CALL("sluice_ack", s->cls, s->leased, s->token),
        CLASS_CALL("sluice_ack_many", s->cls, s->leased, s->token),
        CLASS_CALL("sluice_fail", s->cls, s->leased, s->token, "x"),
        CLASS_CALL("sluice_extend", s->cls, s->leased, s->token, "1000"),
        CLASS_CALL("sluice_release", s->cls, s->leased, s->token),
        CLASS_CALL("sluice_job", s->cls, s->ready, "1"),
        CLASS_CALL("sluice_cancel", s->cls, s->ready, "op"),
        CLASS_CALL("sluice_stats", s->cls),
        CLASS_CALL("sluice_deadline_view", s->cls, "10"),
        CLASS_CALL("sluice_top_keys", s->cls, "10", "1"),
        CLASS_CALL("sluice_dead_list", s->cls, "0", "10"),
        CLASS_CALL("sluice_dead_retry", s->cls, s->dead, "op"),
        CLASS_CALL("sluice_dead_purge", s->cls, s->dead, "op"),
        CLASS_CALL("sluice_class_set", s->cls, "op", "max_rate", "5"),
        CLASS_CALL("sluice_class_get", s->cls),
        CLASS_CALL("sluice_class_delete", s->cls, "op", "1"),
        CLASS_CALL("sluice_pause", s->cls, "op", "0"),
        CLASS_CALL("sluice_resume", s->cls, "op"),
        CLASS_CALL("sluice_pin", s->cls, "op", "0.5", "0"),
        CLASS_CALL("sluice_unpin", s->cls, "op"),
        CLASS_CALL("sluice_govern", s->cls, "99", "0.5", "1000", "r", "0"),
        CLASS_CALL("sluice_ungovern", s->cls),
        CLASS_CALL("sluice_gate", s->cls),
        GLOBAL_CALL("sluice_signal_define", SIGNAL_SUFFIX, 3, "iops", "op", "0.8", "0.95", "higher", "30000",
                    "assume-pressure"),
        GLOBAL_CALL("sluice_signal_report", SIGNAL_SUFFIX, 3, "iops", "0.5", "0"),
        GLOBAL_CALL("sluice_signal_delete", SIGNAL_SUFFIX, 3, "iops", "op"),
        GLOBAL_CALL("sluice_signal_list", SIGNAL_SUFFIX, 3, "x"),
        GLOBAL_CALL("sluice_gov_lease", GOVERNOR_SUFFIX, 3, "gov-x", "1000"),
        GLOBAL_CALL("sluice_gov_resign", GOVERNOR_SUFFIX, 3, "gov-x"),
        GLOBAL_CALL("sluice_gov_commit", GOVERNOR_SUFFIX, 3, "gov-x", "1", "{}", "{}", "100"),
        GLOBAL_CALL("sluice_gov_mode", GOVERNOR_SUFFIX, 3, "op", "off"),
        GLOBAL_CALL("sluice_gov_status", GOVERNOR_SUFFIX, 3, "x"),
        GLOBAL_CALL("sluice_registry", REGISTRY_SUFFIX, 1, "add", "other"),
        GLOBAL_CALL("sluice_registry_list", REGISTRY_SUFFIX, 1, "x"),
    };
    size_t n = sizeof(calls) / sizeof(calls[0]);
    memcpy(out, calls, sizeof(calls));
    return n;
}

/* Sends the call in namespace "ns" with its keys in order[] (indexes into
 * its suffixes; NULL: in order) and, where ns_of[i] is set, key i in that
 * namespace instead. Returns the reply (NEW). */
static inline redisReply *function_call_send(redisContext *rc, const char *ns, const fn_call *c, const int *order,
                                             const char *const *ns_of) {
    const char *a[3 + CLASS_NKEYS_NOW + CALL_ARGS];
    char keys[CLASS_NKEYS_NOW][200], count[8];
    int n = 0;
    snprintf(count, sizeof(count), "%d", c->nkeys);
    a[n++] = "FCALL";
    a[n++] = c->fn;
    a[n++] = count;
    for (int i = 0; i < c->nkeys; i++) {
        int k = order ? order[i] : i;
        const char *kns = ns_of && ns_of[i] ? ns_of[i] : ns;
        if (c->suffixes)
            snprintf(keys[i], sizeof(keys[i]), "%s:{_}:%s", kns, c->suffixes[k]);
        else
            snprintf(keys[i], sizeof(keys[i]), "%s:{%s}:%s", kns, c->argv[0], CLASS_SUFFIX[k]);
        a[n++] = keys[i];
    }
    for (int i = 0; i < c->argc; i++) a[n++] = c->argv[i];
    return redisCommandArgv(rc, n, a, NULL);
}

/* FCALL fn on class "cls" of namespace "ns" with the first "nkeys" class
 * keys (CLASS_NKEYS_NOW, or CLASS_NKEYS_V8 as an older caller sends),
 * permuted by order[] (NULL: in order), then cls and argv[0..argc), as
 * another language's client might send it. Returns the reply (NEW). */
static inline redisReply *class_fcall(redisContext *rc, const char *ns, const char *fn, const char *cls, int nkeys,
                                      const int *order, int argc, const char *const *argv) {
    const char **a = malloc((size_t)(4 + CLASS_NKEYS_NOW + argc) * sizeof(*a));
    char keys[CLASS_NKEYS_NOW][200], count[8];
    int n = 0;
    snprintf(count, sizeof(count), "%d", nkeys);
    a[n++] = "FCALL";
    a[n++] = fn;
    a[n++] = count;
    for (int i = 0; i < nkeys && i < CLASS_NKEYS_NOW; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s:{%s}:%s", ns, cls, CLASS_SUFFIX[order ? order[i] : i]);
        a[n++] = keys[i];
    }
    a[n++] = cls;
    for (int i = 0; i < argc; i++) a[n++] = argv[i];
    redisReply *r = redisCommandArgv(rc, n, a, NULL);
    free(a);
    return r;
}

static inline int by_key_name(const void *a, const void *b) {
    return strcmp((*(const redisReply *const *)a)->str, (*(const redisReply *const *)b)->str);
}

/* Every key of the server with its DUMP, sorted by name: a NEW string that
 * any write changes, or NULL if KEYS or DUMP failed. "rc" must be allowed
 * KEYS and DUMP (a test's admin). */
static inline char *redis_snapshot(redisContext *rc) {
    redisReply *keys = redisCommand(rc, "KEYS *");
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(keys);
        return NULL;
    }
    qsort(keys->element, keys->elements, sizeof(keys->element[0]), by_key_name);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; out && i < keys->elements; i++) {
        redisReply *d = redisCommand(rc, "DUMP %s", keys->element[i]->str);
        if (!d || d->type != REDIS_REPLY_STRING) {
            freeReplyObject(d);
            free(out);
            out = NULL;
            break;
        }
        while (len + strlen(keys->element[i]->str) + 2 * d->len + 4 > cap) out = realloc(out, cap *= 2);
        len += (size_t)sprintf(out + len, "%s=", keys->element[i]->str);
        for (size_t j = 0; j < d->len; j++) len += (size_t)sprintf(out + len, "%02x", (unsigned char)d->str[j]);
        out[len++] = '\n';
        out[len] = '\0';
        freeReplyObject(d);
    }
    freeReplyObject(keys);
    return out;
}

/* The reply is a BADARG naming "says", and Redis holds what it held at
 * "before" (a redis_snapshot); else fails the test, naming "what". Takes
 * the reply. Needs cmocka (include common.h first). */
static inline void assert_badarg_unchanged(redisContext *rc, redisReply *r, const char *before, const char *says,
                                           const char *what) {
    if (!r || r->type != REDIS_REPLY_ERROR || !strstr(r->str, "BADARG") || !strstr(r->str, says))
        fail_msg("%s: expected BADARG %s, got %s", what, says, r && r->str ? r->str : "a reply");
    freeReplyObject(r);
    char *after = redis_snapshot(rc);
    if (!after || strcmp(before, after) != 0) fail_msg("%s was refused but wrote", what);
    free(after);
}

#endif
