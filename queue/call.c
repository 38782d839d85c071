/* A call: the names and ids that make its keys (checked where they become
 * keys), its argument vector (with the keys each Function takes, keys.h),
 * sending it alone or in a pipeline on the client's link (never dying of a
 * SIGPIPE), and reading its reply strictly, error replies mapped to sluice
 * errors. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"

/* ------------------------- names, ids and keys ------------------------ */

int ns_check(const char *ns, sluice_error *err) {
    size_t n = ns ? strlen(ns) : 0;
    int ok = n >= 1 && n <= NAME_MAX_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = ns[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
             ch == '-' || ch == '.' || ch == ':';
    }
    if (!ok) sluice_error_set(err, SLUICE_ERR_ARGUMENT, "namespace must be 1..64 of [A-Za-z0-9_.:-]");
    return ok ? 0 : -1;
}

int sluice_name_check(const char *name, sluice_error *err) {
    sluice_error_reset(err);
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= NAME_MAX_LEN && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
    for (size_t i = 1; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    }
    if (!ok) {
        sluice_error_set(err, SLUICE_ERR_NAME, "invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
        return -1;
    }
    return 0;
}

int id_split(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err) {
    const char *colon = id ? strrchr(id, ':') : NULL;
    size_t n = colon ? (size_t)(colon - id) : 0;
    int ok = colon && n >= 1 && n <= NAME_MAX_LEN && colon[1] && strlen(colon + 1) <= 20;
    for (const char *p = ok ? colon + 1 : ""; ok && *p; p++) ok = *p >= '0' && *p <= '9';
    if (ok) {
        memcpy(cls, id, n);
        cls[n] = '\0';
        ok = sluice_name_check(cls, NULL) == 0;
    }
    if (!ok) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "invalid job id: expected <class>:<number>");
        return -1;
    }
    return 0;
}

/* ------------------------------ arguments ---------------------------- */

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

/* ------------------------------- replies ----------------------------- */

const redisReply *reply_hello_field(const redisReply *r, const char *key) {
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, key) == 0) return r->element[i + 1];
    }
    return NULL;
}

int reply_is_error(const redisReply *r, const char *prefix) {
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

int reply_int(const redisReply *r, int64_t *out) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(r->str, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int reply_num(const redisReply *r, double *out) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = (double)r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 40) return -1;
    char *end;
    errno = 0;
    double v = strtod(r->str, &end);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int reply_strcpy(const redisReply *r, char *buf, size_t len) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || len == 0) return -1;
    size_t n = r->len < len - 1 ? r->len : len - 1;
    memcpy(buf, r->str, n);
    buf[n] = '\0';
    return 0;
}

char *reply_strdup(const redisReply *r) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return NULL;
    char *s = malloc(r->len + 1);
    if (!s) return NULL;
    memcpy(s, r->str, r->len);
    s[r->len] = '\0';
    return s;
}

void strings_free(char **strings, size_t n) {
    if (!strings) return;
    for (size_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

int sluice_reply_check(const redisReply *r, const char *what, sluice_error *err) {
    sluice_error_reset(err);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis", what);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, what);
        return -1;
    }
    return 0;
}

int reply_created(redisReply *r, int *created, sluice_error *err) {
    if (!r) return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "unexpected reply");
        rc = -1;
    } else if (created) {
        *created = strcmp(r->str, "created") == 0;
    }
    freeReplyObject(r);
    return rc;
}

/* ---------------------------- error replies -------------------------- */

/* The Functions answer "CODE sentence"; Redis appends " script: ..." */
static const struct {
    const char *word;
    sluice_error_code code;
} domain[] = {
    {"NOCLASS", SLUICE_ERR_UNKNOWN_CLASS}, {"BADNAME", SLUICE_ERR_NAME},    {"BADARG", SLUICE_ERR_ARGUMENT},
    {"PAYLOAD", SLUICE_ERR_PAYLOAD},       {"FULL", SLUICE_ERR_QUEUE_FULL}, {"STALE", SLUICE_ERR_STALE},
    {"NOTFOUND", SLUICE_ERR_NOT_FOUND},    {"BUSY", SLUICE_ERR_BUSY},       {"STATE", SLUICE_ERR_STATE},
};

/* Refused credentials, or none where Redis wants some: one message for all. */
static const char *const auth_refusals[] = {"WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH"};

/* Redis's own refusals of a command it did not run because it cannot serve
 * now; retrying later is safe. Only without a Function's trailer: a
 * Function's "BUSY" is the domain word (a leased job). */
static const char *const transient[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK"};

static int word_at(const char *s, size_t n, const char *word) {
    size_t w = strlen(word);
    return n >= w && strncmp(s, word, w) == 0 && (n == w || s[w] == ' ');
}

void err_from_reply(sluice_error *err, const redisReply *r, const char *what) {
    const char *s = r->str ? r->str : "";
    size_t n = r->len;
    const char *trailer = strstr(s, " script:");
    if (trailer) n = (size_t)(trailer - s);
    for (size_t i = 0; i < sizeof(auth_refusals) / sizeof(auth_refusals[0]); i++) {
        if (strncmp(s, auth_refusals[i], strlen(auth_refusals[i])) == 0) {
            sluice_error_set(err, SLUICE_ERR_AUTH, "%s: authentication failed (check the user and password)", what);
            return;
        }
    }
    for (size_t i = 0; !trailer && i < sizeof(transient) / sizeof(transient[0]); i++) {
        if (word_at(s, n, transient[i])) {
            sluice_error_set(err, SLUICE_ERR_UNAVAILABLE, "%s: redis cannot serve now (retry later): %.*s", what,
                             (int)(n > 160 ? 160 : n), s);
            return;
        }
    }
    for (size_t i = 0; i < sizeof(domain) / sizeof(domain[0]); i++) {
        size_t w = strlen(domain[i].word);
        if (word_at(s, n, domain[i].word)) {
            const char *msg = n > w ? s + w + 1 : domain[i].word;
            int len = (int)(n > w ? n - w - 1 : w);
            sluice_error_set(err, domain[i].code, "%s: %.*s", what, len, msg);
            return;
        }
    }
    /* An ACL refusal inside a Function is "ERR The user executing the script
     * can't ..." where a direct one is "NOPERM ...": name both NOPERM, so a
     * role missing a permission reads the same wherever it was caught. */
    static const char acl_in_script[] = "ERR The user executing the script can't";
    if (strncmp(s, acl_in_script, sizeof(acl_in_script) - 1) == 0) {
        sluice_error_set(err, SLUICE_ERR_SERVER, "%s: redis: NOPERM (ACL) %.*s", what, (int)(n - 4 > 180 ? 180 : n - 4),
                         s + 4);
        return;
    }
    sluice_error_set(err, SLUICE_ERR_SERVER, "%s: redis: %.*s", what, (int)(n > 200 ? 200 : n), s);
}

/* ------------------------------- sending ----------------------------- */

/* Writing to a socket the server closed raises SIGPIPE, whose default
 * action kills the process. A library must neither die of it nor change the
 * process's signal dispositions, so (as libpq does) it blocks SIGPIPE in the
 * calling thread around socket I/O and swallows one it caused. */
typedef struct pipe_guard {
    sigset_t old;
    int was_pending;
} pipe_guard;

static void guard_on(pipe_guard *g) {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void guard_off(pipe_guard *g) {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

redisReply *call_send(redisContext *ctx, int argc, const char **argv, const size_t *lens) {
    pipe_guard g;
    guard_on(&g);
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    guard_off(&g);
    return r;
}

int call_get_reply(redisContext *ctx, void **reply) {
    pipe_guard g;
    guard_on(&g);
    int rc = redisGetReply(ctx, reply);
    guard_off(&g);
    return rc;
}

static void drop(sluice_client *c) {
    redisFree(c->ctx);
    c->ctx = NULL;
}

static void broken(sluice_client *c, const char *what, sluice_error *err) {
    sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis: %s", what,
                     c->ctx->errstr[0] ? c->ctx->errstr : "connection closed");
    drop(c);
}

/* Turns a reply into client_call's contract: errors mapped and freed. */
static redisReply *settle(redisReply *r, const char *what, sluice_error *err) {
    if (r && r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, what);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* settle, for a reply on the client's own link: READONLY on a
 * redis-sentinel:// URL's link means the server was demoted under it (the
 * command did not run): SLUICE_ERR_UNAVAILABLE, and *demoted set, so that
 * the caller drops the link and the next call asks the sentinels again. */
static redisReply *settle_link(const sluice_client *c, redisReply *r, const char *what, int *demoted,
                               sluice_error *err) {
    if (c->url.nsentinels && reply_is_error(r, "READONLY")) {
        sluice_error_set(err, SLUICE_ERR_UNAVAILABLE,
                         "%s: redis at %s:%d is no longer the master (READONLY); the call did not run", what,
                         c->url.host, c->url.port);
        freeReplyObject(r);
        *demoted = 1;
        return NULL;
    }
    return settle(r, what, err);
}

/* settle_link for a call alone on the client's link: a demoted server's
 * link is dropped at once. */
static redisReply *settle_call(sluice_client *c, redisReply *r, const char *what, sluice_error *err) {
    int demoted = 0;
    r = settle_link(c, r, what, &demoted, err);
    if (demoted) drop(c);
    return r;
}

redisReply *client_call(sluice_client *c, const cmd *m, const char *what, sluice_error *err) {
    if (m->failed) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    if (c->cluster) return settle(cluster_call(c, m, what, err), what, err);
    if (!c->ctx && connection_open(c, err) < 0) return NULL;
    redisReply *r = call_send(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
    if (!r) {
        broken(c, what, err);
        return NULL;
    }
    if (reply_is_error(r, "ERR Function not found")) {
        /* Redis restarted without the library: the call did not run. */
        freeReplyObject(r);
        if (connection_load_functions(c->ctx, err) < 0) return NULL;
        r = call_send(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
        if (!r) {
            broken(c, what, err);
            return NULL;
        }
    }
    return settle_call(c, r, what, err);
}

redisReply *client_call_last(sluice_client *c, const cmd *m, int64_t extra_ms, const char *what, sluice_error *err) {
    redisContext *ctx = c->cluster ? cluster_last_link(c->cluster) : c->ctx;
    if (!ctx) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: the link that took the last call was lost", what);
        return NULL;
    }
    if (m->failed) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    connection_lengthen(c, ctx, extra_ms);
    redisReply *r = call_send(ctx, m->argc, (const char **)m->argv, m->argvlen);
    if (!r) {
        if (c->cluster)
            cluster_last_lost(c->cluster, what, err);
        else
            broken(c, what, err);
        return NULL;
    }
    connection_set_timeout(c);
    return settle_call(c, r, what, err);
}

int client_pipeline(sluice_client *c, const cmd *cmds, size_t n, redisReply **replies, sluice_error *errs,
                    sluice_error *err) {
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        sluice_error_reset(&errs[i]);
    }
    if (!c->cluster && !c->ctx && connection_open(c, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].failed) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
            return -1;
        }
    }
    if (c->cluster) {
        int rc = cluster_pipeline(c, cmds, n, replies, errs, err);
        for (size_t i = 0; i < n; i++) replies[i] = settle(replies[i], "call", &errs[i]);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        redisAppendCommandArgv(c->ctx, cmds[i].argc, (const char **)cmds[i].argv, cmds[i].argvlen);
    int reload = 0, demoted = 0;
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        int rc = call_get_reply(c->ctx, &r);
        if (rc != REDIS_OK) {
            for (size_t j = i; j < n; j++) sluice_error_set(&errs[j], SLUICE_ERR_UNREACHABLE, "lost the link to redis");
            broken(c, "pipeline", err);
            return -1;
        }
        if (reply_is_error(r, "ERR Function not found")) reload = 1;
        replies[i] = settle_link(c, r, "call", &demoted, &errs[i]);
    }
    if (demoted) {
        drop(c);
        return 0;
    }
    if (reload) {
        /* Retry only what never ran; the rest keep their replies. */
        if (connection_load_functions(c->ctx, err) < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            if (replies[i] || !strstr(errs[i].text, "Function not found")) continue;
            sluice_error_reset(&errs[i]);
            cmd *m = (cmd *)&cmds[i];
            void *r = call_send(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
            if (!r) {
                sluice_error_set(&errs[i], SLUICE_ERR_UNREACHABLE, "lost the link to redis");
                broken(c, "pipeline", err);
                return -1;
            }
            replies[i] = settle(r, "call", &errs[i]);
        }
    }
    return 0;
}

int client_batch_init(client_batch *b, size_t n) {
    b->n = n;
    b->cmds = calloc(n + 1, sizeof(*b->cmds));
    b->replies = calloc(n + 1, sizeof(*b->replies));
    b->errs = calloc(n + 1, sizeof(*b->errs));
    if (b->cmds && b->replies && b->errs) return 0;
    client_batch_clear(b);
    return -1;
}

int client_batch_run(sluice_client *c, client_batch *b, sluice_error *err) {
    return client_pipeline(c, b->cmds, b->n, b->replies, b->errs, err);
}

void client_batch_clear(client_batch *b) {
    for (size_t i = 0; b->replies && i < b->n; i++)
        if (b->replies[i]) freeReplyObject(b->replies[i]);
    for (size_t i = 0; b->cmds && i < b->n; i++) cmd_clear(&b->cmds[i]);
    free(b->cmds);
    free(b->replies);
    free(b->errs);
    memset(b, 0, sizeof(*b));
}

/* Runs a prepared command; returns the reply (NEW) or NULL with err set. */
redisReply *client_run(sluice_client *c, cmd *m, const char *what, sluice_error *err) {
    redisReply *r = client_call(c, m, what, err);
    cmd_clear(m);
    return r;
}

int client_run_ok(sluice_client *c, cmd *m, const char *what, sluice_error *err) {
    redisReply *r = client_run(c, m, what, err);
    freeReplyObject(r);
    return r ? 0 : -1;
}
