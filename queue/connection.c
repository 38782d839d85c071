/* The link under a client: (re)connects (to the master the sentinels name,
 * for a redis-sentinel:// URL), authenticates, selects the database, names
 * the connection and keeps the Functions library loaded.
 * What it sends goes through call.c's call_send. */

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

/* FUNCTION LOAD REPLACE when the server's library is missing or older. */
int connection_load_functions(redisContext *ctx, sluice_error *err) {
    const char *ver[] = {"FCALL_RO", "sluice_version", "0"};
    redisReply *r = call_send(ctx, 3, ver, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "redis: %s", ctx->errstr);
        return -1;
    }
    int load = r->type != REDIS_REPLY_INTEGER || r->integer < sluice_functions_version;
    if (r->type == REDIS_REPLY_ERROR && !reply_is_error(r, "ERR Function not found") &&
        !reply_is_error(r, "ERR Function")) {
        err_from_reply(err, r, "checking the sluice Functions");
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    if (!load) return 0;
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", sluice_functions_lua};
    r = call_send(ctx, 4, argv, NULL);
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
    redisReply *r = call_send(ctx, argc, argv, NULL);
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
    if (c->cluster) cluster_set_timeout(c->cluster, tv_ms(c->timeout_ms));
}

void connection_lengthen(const sluice_client *c, redisContext *ctx, int64_t extra_ms) {
    if (c->timeout_ms) redisSetTimeout(ctx, tv_ms(c->timeout_ms + extra_ms));
}

redisContext *connection_dial(const sluice_client *c, const char *host, int port, sluice_error *err) {
    struct timeval tv = tv_ms(CONNECT_TIMEOUT_MS);
    redisContext *ctx = host ? redisConnectWithTimeout(host, port, tv) : redisConnectUnixWithTimeout(c->url.path, tv);
    if (!ctx) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "cannot allocate a redis context");
        return NULL;
    }
    if (ctx->err) {
        if (host)
            sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "cannot reach redis at %s:%d: %s", host, port, ctx->errstr);
        else
            sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "cannot reach redis at unix:%s: %s", c->url.path,
                             ctx->errstr);
        redisFree(ctx);
        return NULL;
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
    if (rc < 0) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

int connection_open(sluice_client *c, sluice_error *err) {
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    if (c->url.nsentinels) {
        /* asked again at every (re)connect: the master may have moved */
        redisContext *ctx = sentinel_connect(c, c->url.host, &c->url.port, err);
        if (!ctx || connection_load_functions(ctx, err) < 0) {
            if (ctx) redisFree(ctx);
            return -1;
        }
        c->ctx = ctx;
        return 0;
    }
    redisContext *ctx = connection_dial(c, c->url.is_unix ? NULL : c->url.host, c->url.port, err);
    if (!ctx) return -1;
    /* A cluster node's link only serves to read the slot map: calls go to
     * the masters' own links (cluster.c), which load the Functions. */
    int mode = cluster_detect(c, ctx, err);
    if (mode != 0 || connection_load_functions(ctx, err) < 0) {
        redisFree(ctx);
        return mode > 0 ? 0 : -1;
    }
    c->ctx = ctx;
    return 0;
}

const char *sluice_functions_source(void) {
    return sluice_functions_lua;
}

int sluice_functions_version_built(void) {
    return sluice_functions_version;
}
