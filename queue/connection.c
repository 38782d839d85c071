/* The connection under a client: (re)connects, authenticates, keeps the
 * Functions library loaded, sends one command or a pipeline, and never dies
 * of a SIGPIPE. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "queue.h"

#define CONNECT_TIMEOUT_MS 2000

static struct timeval tv_ms(int64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int is_error(const redisReply *r, const char *prefix) {
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

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

static redisReply *raw(redisContext *ctx, int argc, const char **argv, const size_t *lens) {
    pipe_guard g;
    guard_on(&g);
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    guard_off(&g);
    return r;
}

/* FUNCTION LOAD REPLACE when the server's library is missing or older. */
static int ensure_functions(redisContext *ctx, sluice_error *err) {
    const char *ver[] = {"FCALL_RO", "sluice_version", "0"};
    redisReply *r = raw(ctx, 3, ver, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "redis: %s", ctx->errstr);
        return -1;
    }
    int load = r->type != REDIS_REPLY_INTEGER || r->integer < sluice_functions_version;
    if (r->type == REDIS_REPLY_ERROR && !is_error(r, "ERR Function not found") &&
        !is_error(r, "ERR Function")) {
        err_from_reply(err, r, "checking the sluice Functions");
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    if (!load) return 0;
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", sluice_functions_lua};
    r = raw(ctx, 4, argv, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "redis: %s", ctx->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, "loading the sluice Functions");
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

static int simple(redisContext *ctx, int argc, const char **argv, const char *what, sluice_error *err) {
    redisReply *r = raw(ctx, argc, argv, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: %s", what, ctx->errstr);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, what);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

void connection_set_timeout(sluice_client *c) {
    if (c->ctx) redisSetTimeout(c->ctx, tv_ms(c->timeout_ms));
}

int connection_open(sluice_client *c, sluice_error *err) {
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    struct timeval tv = tv_ms(CONNECT_TIMEOUT_MS);
    redisContext *ctx = c->url.is_unix ? redisConnectUnixWithTimeout(c->url.path, tv)
                                       : redisConnectWithTimeout(c->url.host, c->url.port, tv);
    if (!ctx) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "cannot allocate a redis context");
        return -1;
    }
    if (ctx->err) {
        if (c->url.is_unix)
            sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "cannot reach redis at unix:%s: %s", c->url.path, ctx->errstr);
        else
            sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "cannot reach redis at %s:%d: %s", c->url.host, c->url.port,
                    ctx->errstr);
        redisFree(ctx);
        return -1;
    }
    redisSetTimeout(ctx, tv_ms(c->timeout_ms));
    int rc = 0;
    if (c->url.password[0]) {
        const char *a2[] = {"AUTH", c->url.password};
        const char *a3[] = {"AUTH", c->url.user, c->url.password};
        rc = c->url.user[0] ? simple(ctx, 3, a3, "AUTH", err) : simple(ctx, 2, a2, "AUTH", err);
    }
    if (rc == 0 && c->url.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", c->url.db);
        const char *a[] = {"SELECT", db};
        rc = simple(ctx, 2, a, "SELECT", err);
    }
    if (rc == 0 && c->name[0]) {
        const char *a[] = {"CLIENT", "SETNAME", c->name};
        rc = simple(ctx, 3, a, "CLIENT SETNAME", err);
    }
    if (rc == 0) rc = ensure_functions(ctx, err);
    if (rc < 0) {
        redisFree(ctx);
        return -1;
    }
    c->ctx = ctx;
    return 0;
}

static void broken(sluice_client *c, const char *what, sluice_error *err) {
    sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis: %s", what,
            c->ctx->errstr[0] ? c->ctx->errstr : "connection closed");
    redisFree(c->ctx);
    c->ctx = NULL;
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

redisReply *client_call(sluice_client *c, const cmd *m, const char *what, sluice_error *err) {
    if (m->failed) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    if (!c->ctx && connection_open(c, err) < 0) return NULL;
    redisReply *r = raw(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
    if (!r) {
        broken(c, what, err);
        return NULL;
    }
    if (is_error(r, "ERR Function not found")) {
        /* Redis restarted without the library: the call did not run. */
        freeReplyObject(r);
        if (ensure_functions(c->ctx, err) < 0) return NULL;
        r = raw(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
        if (!r) {
            broken(c, what, err);
            return NULL;
        }
    }
    return settle(r, what, err);
}

int client_pipeline(sluice_client *c, const cmd *cmds, size_t n, redisReply **replies, sluice_error *errs,
                    sluice_error *err) {
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        sluice_error_reset(&errs[i]);
    }
    if (!c->ctx && connection_open(c, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].failed) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        redisAppendCommandArgv(c->ctx, cmds[i].argc, (const char **)cmds[i].argv, cmds[i].argvlen);
    int reload = 0;
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        pipe_guard g;
        guard_on(&g);
        int rc = redisGetReply(c->ctx, &r);
        guard_off(&g);
        if (rc != REDIS_OK) {
            for (size_t j = i; j < n; j++) sluice_error_set(&errs[j], SLUICE_ERR_UNREACHABLE, "lost the link to redis");
            broken(c, "pipeline", err);
            return -1;
        }
        if (is_error(r, "ERR Function not found")) reload = 1;
        replies[i] = settle(r, "call", &errs[i]);
    }
    if (reload) {
        /* Retry only what never ran; the rest keep their replies. */
        if (ensure_functions(c->ctx, err) < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            if (replies[i] || !strstr(errs[i].text, "Function not found")) continue;
            sluice_error_reset(&errs[i]);
            cmd *m = (cmd *)&cmds[i];
            void *r = raw(c->ctx, m->argc, (const char **)m->argv, m->argvlen);
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

const char *sluice_functions_source(void) {
    return sluice_functions_lua;
}

int sluice_functions_version_built(void) {
    return sluice_functions_version;
}
