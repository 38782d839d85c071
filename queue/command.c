/* Function calls as argument vectors: the builder every call uses, and the
 * public commands for callers with a connection of their own
 * (sluice/proto.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define SUFFIX(id, suffix) suffix,
const char *const CLASS_KEYS[CLASS_NKEYS] = {CLASS_KEY_LIST(SUFFIX)};
const char *const SIGNAL_KEYS[SIGNAL_NKEYS] = {SIGNAL_KEY_LIST(SUFFIX)};
const char *const GOVERNOR_KEYS[GOVERNOR_NKEYS] = {GOVERNOR_KEY_LIST(SUFFIX)};
const char *const REGISTRY_KEYS[REGISTRY_NKEYS] = {REGISTRY_KEY_LIST(SUFFIX)};
const char *const CHECK_KEYS[CHECK_NKEYS] = {CHECK_KEY_LIST(SUFFIX)};
#undef SUFFIX

void cmd_init(cmd *m) {
    memset(m, 0, sizeof(*m));
}

void cmd_clear(cmd *m) {
    for (int i = 0; i < m->argc; i++) free(m->argv[i]);
    free(m->argv);
    free(m->argvlen);
    cmd_init(m);
}

void cmd_add(cmd *m, const char *s, size_t len) {
    if (m->failed) return;
    if (m->argc == m->cap) {
        int cap = m->cap ? m->cap * 2 : 32;
        char **argv = realloc(m->argv, sizeof(*argv) * (size_t)cap);
        if (argv) m->argv = argv;
        size_t *lens = argv ? realloc(m->argvlen, sizeof(*lens) * (size_t)cap) : NULL;
        if (!argv || !lens) {
            m->failed = 1;
            return;
        }
        m->argvlen = lens;
        m->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        m->failed = 1;
        return;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    m->argv[m->argc] = copy;
    m->argvlen[m->argc++] = len;
}

void cmd_str(cmd *m, const char *s) {
    cmd_add(m, s ? s : "", s ? strlen(s) : 0);
}

void cmd_int(cmd *m, int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cmd_add(m, buf, (size_t)n);
}

void cmd_num(cmd *m, double v) {
    char buf[40];
    int n = snprintf(buf, sizeof(buf), "%.17g", v);
    cmd_add(m, buf, (size_t)n);
}

int key_name(char *buf, size_t len, const char *ns, const char *tag, const char *suffix) {
    return snprintf(buf, len, "%s:{%s}:%s", ns, tag, suffix);
}

int sluice_class_channel(const char *ns, const char *cls, char *buf, size_t len) {
    return key_name(buf, len, ns, cls, CLASS_KEYS[CLASS_KEY_ready]);
}

static void add_key(cmd *m, const char *ns, const char *tag, const char *suffix) {
    char buf[KEY_MAX];
    int n = key_name(buf, sizeof(buf), ns, tag, suffix);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        m->failed = 1; /* a name the callers should have refused: never send a cut key */
        return;
    }
    cmd_add(m, buf, (size_t)n);
}

void cmd_xrevrange(cmd *m, const char *ns, const char *tag, const char *suffix, int64_t count) {
    cmd_str(m, "XREVRANGE");
    add_key(m, ns, tag, suffix);
    cmd_str(m, "+");
    cmd_str(m, "-");
    cmd_str(m, "COUNT");
    cmd_int(m, count);
}

void cmd_fcall_class(cmd *m, const char *fn, const char *ns, const char *cls) {
    cmd_str(m, "FCALL");
    cmd_str(m, fn);
    cmd_int(m, CLASS_NKEYS);
    for (int i = 0; i < CLASS_NKEYS; i++) add_key(m, ns, cls, CLASS_KEYS[i]);
    cmd_str(m, cls);
}

void cmd_fcall_global(cmd *m, const char *fn, const char *ns, int nkeys, const char *const *suffixes) {
    cmd_str(m, "FCALL");
    cmd_str(m, fn);
    cmd_int(m, nkeys);
    for (int i = 0; i < nkeys; i++) add_key(m, ns, GLOBAL_TAG, suffixes[i]);
}

int cmd_job_call(cmd *m, const char *fn, const char *ns, const char *id, sluice_error *err) {
    char cls[SLUICE_ID_MAX];
    cmd_init(m);
    if (id_split(id, cls, err) < 0) return -1;
    cmd_fcall_class(m, fn, ns, cls);
    cmd_str(m, id);
    return 0;
}

int cmd_class_call(cmd *m, const char *fn, sluice_client *c, const char *cls, int actor, sluice_error *err) {
    cmd_init(m);
    if (sluice_name_check(cls, err) < 0) return -1;
    cmd_fcall_class(m, fn, c->ns, cls);
    if (actor) cmd_str(m, client_actor(c));
    return 0;
}

struct sluice_command {
    cmd m;
};

int sluice_command_argc(const sluice_command *c) { return c->m.argc; }
const char **sluice_command_argv(const sluice_command *c) { return (const char **)c->m.argv; }
const size_t *sluice_command_argvlen(const sluice_command *c) { return c->m.argvlen; }

void sluice_command_free(sluice_command *c) {
    if (!c) return;
    cmd_clear(&c->m);
    free(c);
}

static sluice_command *finish(sluice_command *c, sluice_error *err) {
    if (c->m.failed) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
        sluice_command_free(c);
        return NULL;
    }
    return c;
}

static sluice_command *alloc(const char *ns, sluice_error *err) {
    if (ns_check(ns, err) < 0) return NULL;
    sluice_command *c = calloc(1, sizeof(*c));
    if (!c) sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
    return c;
}

void cmd_claim(cmd *m, const char *ns, const char *cls, const char *consumer, size_t max, int busy) {
    cmd_fcall_class(m, "sluice_claim", ns, cls);
    cmd_int(m, (int64_t)max);
    cmd_str(m, consumer ? consumer : "");
    cmd_str(m, busy ? "1" : "0");
}

sluice_command *sluice_command_claim(const char *ns, const char *cls, const char *consumer, size_t max,
                                     int busy, sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(cls, err) < 0) return NULL;
    if (max < 1 || max > SLUICE_BATCH_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "claim: max must be 1..%d", SLUICE_BATCH_MAX);
        return NULL;
    }
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    cmd_claim(&c->m, ns, cls, consumer, max, busy);
    return finish(c, err);
}

static sluice_command *lease_cmd(const char *fn, const char *ns, const char *id, int64_t token,
                                 sluice_error *err) {
    sluice_command *c = alloc(ns, err);
    if (!c) return NULL;
    if (cmd_job_call(&c->m, fn, ns, id, err) < 0) {
        sluice_command_free(c);
        return NULL;
    }
    cmd_int(&c->m, token);
    return c;
}

sluice_command *sluice_command_ack(const char *ns, const char *id, int64_t token, sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_ack", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}

sluice_command *sluice_command_fail(const char *ns, const char *id, int64_t token, const char *reason,
                                    sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_fail", ns, id, token, err);
    if (!c) return NULL;
    cmd_str(&c->m, reason ? reason : "");
    return finish(c, err);
}

sluice_command *sluice_command_extend(const char *ns, const char *id, int64_t token, int64_t ms,
                                      sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_extend", ns, id, token, err);
    if (!c) return NULL;
    cmd_int(&c->m, ms);
    return finish(c, err);
}

sluice_command *sluice_command_release(const char *ns, const char *id, int64_t token, sluice_error *err) {
    sluice_error_reset(err);
    sluice_command *c = lease_cmd("sluice_release", ns, id, token, err);
    return c ? finish(c, err) : NULL;
}
