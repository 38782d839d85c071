/* Function calls as argument vectors: the builder every call uses, with
 * the keys each Function takes (keys.h). */

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
