/* Redis Sentinel: finding the master of a redis-sentinel:// URL.
 *
 * Contract. The sentinels are asked in the URL's order, each with
 * SENTINEL get-master-addr-by-name and without credentials (the URL's user
 * and password are the data nodes'), each connect and reply bounded by
 * SENTINEL_TIMEOUT_MS (or what is left of the caller's timeout). The first
 * address named is dialed as a plain URL's would be (AUTH, SELECT, name)
 * and kept only if HELLO says its role is master; otherwise the next
 * sentinel is asked (an address is dialed once per pass). While a sentinel
 * names an address that is down or not (yet) a master — a failover under
 * way — the passes repeat, 100 ms apart, until the timeout. A pass in
 * which no sentinel answers, or every one that answers says it does not
 * know the name, ends the search at once: waiting would not change it. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "queue.h"

#define SENTINEL_TIMEOUT_MS 1000
#define PASS_PAUSE_MS 100

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Asks sentinel i of c's URL for the master's address, into host and
 * *port, by "deadline" (monotonic ms) or within SENTINEL_TIMEOUT_MS,
 * whichever comes first. Returns 1 (named), 0 (the sentinel does not know
 * the name), or -1 with err set (unreachable, refused, a malformed reply). */
static int ask(const sluice_client *c, int i, int64_t deadline, char host[256], int *port, sluice_error *err) {
    const char *shost = c->url.sentinels[i].host;
    int sport = c->url.sentinels[i].port;
    int64_t ms = deadline - now_ms();
    if (ms > SENTINEL_TIMEOUT_MS) ms = SENTINEL_TIMEOUT_MS;
    if (ms < 1) ms = 1;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    redisContext *ctx = redisConnectWithTimeout(shost, sport, tv);
    if (!ctx || ctx->err) {
        sluice_error_set(err, ctx ? SLUICE_ERR_UNREACHABLE : SLUICE_ERR_NOMEM, "cannot reach sentinel %s:%d: %s", shost,
                         sport, ctx ? ctx->errstr : "out of memory");
        redisFree(ctx);
        return -1;
    }
    redisSetTimeout(ctx, tv);
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", c->url.master};
    redisReply *r = call_send(ctx, 3, argv, NULL);
    int rc = -1;
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "sentinel %s:%d: %s", shost, sport, ctx->errstr);
    } else if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (reply_is_error(r, "NOAUTH")) {
        sluice_error_set(err, SLUICE_ERR_AUTH,
                         "sentinel %s:%d wants a password: sluice asks sentinels without credentials", shost, sport);
    } else if (r->type == REDIS_REPLY_ERROR) {
        sluice_error_set(err, SLUICE_ERR_SERVER, "sentinel %s:%d: %.200s", shost, sport, r->str);
    } else {
        int64_t p = 0;
        int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
                 r->element[0]->len > 0 && r->element[0]->len < 256 && reply_int(r->element[1], &p) == 0 && p >= 1 &&
                 p <= 65535;
        if (ok) {
            memcpy(host, r->element[0]->str, r->element[0]->len + 1);
            *port = (int)p;
            rc = 1;
        } else {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "sentinel %s:%d: unexpected reply to get-master-addr-by-name",
                             shost, sport);
        }
    }
    freeReplyObject(r);
    redisFree(ctx);
    return rc;
}

/* 1 when the server on ctx says (HELLO) its role is master, 0 when it says
 * another, -1 with err set when the link broke. */
static int is_master(redisContext *ctx, const char *host, int port, sluice_error *err) {
    const char *argv[] = {"HELLO", "2"};
    redisReply *r = call_send(ctx, 2, argv, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "HELLO to redis at %s:%d: %s", host, port, ctx->errstr);
        return -1;
    }
    const redisReply *role = reply_hello_field(r, "role");
    int yes = role && role->type == REDIS_REPLY_STRING && strcmp(role->str, "master") == 0;
    if (!yes)
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE,
                         "redis at %s:%d, named by the sentinels, is not the master (a failover under way?)", host,
                         port);
    freeReplyObject(r);
    return yes;
}

/* One pass over the sentinels, each asked by "deadline" (monotonic ms).
 * Returns the master's link (NEW), or NULL with err set and *again 1 when
 * a later pass may find one. */
static redisContext *pass(const sluice_client *c, int64_t deadline, char host[256], int *port, int *again,
                          sluice_error *err) {
    struct {
        char host[256];
        int port;
    } tried[SLUICE_SENTINELS_MAX];
    int ntried = 0, answered = 0;
    sluice_error last;
    sluice_error_reset(&last);
    *again = 0;
    for (int i = 0; i < c->url.nsentinels; i++) {
        int rc = ask(c, i, deadline, host, port, &last);
        if (rc < 0) continue;
        answered++;
        int seen = 0;
        for (int k = 0; k < ntried; k++) seen |= tried[k].port == *port && strcmp(tried[k].host, host) == 0;
        if (rc == 0 || seen) continue;
        strcpy(tried[ntried].host, host);
        tried[ntried++].port = *port;
        redisContext *ctx = connection_dial(c, host, *port, &last);
        int role = ctx ? is_master(ctx, host, *port, &last) : -1;
        if (role == 1) return ctx;
        if (ctx) redisFree(ctx);
        *again |= last.code == SLUICE_ERR_UNREACHABLE;
    }
    if (answered == 0)
        sluice_error_set(err, last.code, "master '%s': no sentinel answers (last: %s)", c->url.master, last.text);
    else if (ntried == 0)
        sluice_error_set(err, SLUICE_ERR_NOT_FOUND, "no sentinel knows a master named '%s'", c->url.master);
    else
        sluice_error_set(err, last.code, "master '%s': %s", c->url.master, last.text);
    return NULL;
}

redisContext *sentinel_connect(const sluice_client *c, char host[256], int *port, sluice_error *err) {
    int64_t deadline = now_ms() + c->timeout_ms;
    for (;;) {
        int again = 0;
        redisContext *ctx = pass(c, deadline, host, port, &again, err);
        if (ctx || !again || now_ms() + PASS_PAUSE_MS >= deadline) return ctx;
        struct timespec ts = {0, PASS_PAUSE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int sluice_url_resolve(const sluice_url *u, int64_t timeout_ms, sluice_url *out, sluice_error *err) {
    sluice_error_reset(err);
    *out = *u;
    if (u->nsentinels == 0) return 0;
    if (timeout_ms < 1) timeout_ms = 1;
    sluice_client *probe = calloc(1, sizeof(*probe));
    if (!probe) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "cannot allocate a client");
        return -1;
    }
    probe->url = *u;
    probe->timeout_ms = timeout_ms;
    redisContext *ctx = sentinel_connect(probe, out->host, &out->port, err);
    memset(&probe->url, 0, sizeof(probe->url)); /* the password */
    free(probe);
    if (!ctx) return -1;
    redisFree(ctx);
    out->nsentinels = 0;
    return 0;
}
