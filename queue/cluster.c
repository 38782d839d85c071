/* Redis Cluster routing for the sync client, on hiredis 0.14's public API.
 *
 * Contract. A client whose URL names any node of a cluster (a master or a
 * replica) reads the slot map (CLUSTER SLOTS) on connect and sends each
 * call to the master of its key's slot; a call without a key (TIME, an
 * FCALL of no key) goes to any master. Every sluice call keeps its keys in
 * one slot (one hash tag), so the first key routes it. One link per master,
 * opened on first use with the client's AUTH, SELECT and name, and the
 * sluice Functions checked and loaded on it then (and again when that node
 * answers "ERR Function not found").
 *
 * A call is sent again only when its reply proves it did not run: MOVED
 * (the map is read again from the node named, and the call goes there),
 * ASK (ASKING then the call, once), TRYAGAIN and CLUSTERDOWN (after a
 * backoff of 10 ms doubling to 320 ms; then the error stands as
 * SLUICE_ERR_UNAVAILABLE). A link lost mid-call fails the call with
 * SLUICE_ERR_UNREACHABLE (it may have run), and so does a node that cannot
 * be reached; either marks the node broken. The next call for a broken
 * node first reads the map again from any node that answers (the others
 * first: masters, replicas and the URL's node), so after a failover it
 * goes to the promoted replica, whose Functions are checked (and loaded)
 * on its new link. A pipeline goes out as one pipeline per master; a
 * command whose reply proves it did not run is then sent again alone, as
 * above. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "queue.h"

#define SLOTS 16384
#define REDIRECTS_MAX 5
#define BACKOFF_FIRST_MS 10
#define BACKOFF_LAST_MS 320

typedef struct node {
    char host[256];
    int port;
    int broken;        /* its link was lost or refused: read the map again before using it */
    int checked;       /* the sluice Functions were checked on ctx */
    redisContext *ctx; /* NULL until first use, and after a lost link */
} node;

struct cluster {
    node *nodes; /* every node the map or a redirect has named */
    size_t n;
    size_t cap;
    uint16_t owner[SLOTS]; /* 1 + the index of the slot's master; 0 unknown */
    size_t last;           /* 1 + the index of the node that gave the last reply route() returned; 0 none */
};

/* ------------------------------ slots ------------------------------ */

/* CRC16-CCITT (XMODEM), as the Redis Cluster specification defines it. */
static uint16_t crc16(const char *buf, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* The hash slot of a key: CRC16 of its {tag} (of the whole key without one). */
static int key_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) return crc16(open + 1, (size_t)(close - open - 1)) & (SLOTS - 1);
    }
    return crc16(key, len) & (SLOTS - 1);
}

static int word_is(const cmd *m, int i, const char *word) {
    return m->argc > i && strcasecmp(m->argv[i], word) == 0;
}

/* The slot of the command's first key, or -1 for a command without one. */
static int cmd_slot(const cmd *m) {
    if (word_is(m, 0, "FCALL") || word_is(m, 0, "FCALL_RO"))
        return m->argc > 3 && strcmp(m->argv[2], "0") != 0 ? key_slot(m->argv[3], m->argvlen[3]) : -1;
    if (m->argc < 2 || word_is(m, 0, "TIME") || word_is(m, 0, "PING") || word_is(m, 0, "CLIENT") ||
        word_is(m, 0, "FUNCTION"))
        return -1;
    return key_slot(m->argv[1], m->argvlen[1]);
}

/* ------------------------------ nodes ------------------------------ */

/* The index of host:port, added if new; -1 out of memory. */
static long node_index(struct cluster *cl, const char *host, size_t hlen, int port) {
    if (hlen >= sizeof(cl->nodes[0].host)) return -1;
    for (size_t i = 0; i < cl->n; i++)
        if (cl->nodes[i].port == port && strlen(cl->nodes[i].host) == hlen &&
            memcmp(cl->nodes[i].host, host, hlen) == 0)
            return (long)i;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? cl->cap * 2 : 8;
        node *nodes = realloc(cl->nodes, cap * sizeof(*nodes));
        if (!nodes) return -1;
        cl->nodes = nodes;
        cl->cap = cap;
    }
    node *nd = &cl->nodes[cl->n];
    memset(nd, 0, sizeof(*nd));
    memcpy(nd->host, host, hlen);
    nd->port = port;
    return (long)cl->n++;
}

/* The node's link, opened on first use (a node that cannot be reached is
 * marked broken): BORROWED, or NULL with err set. */
static redisContext *node_open(sluice_client *c, size_t i, sluice_error *err) {
    node *nd = &c->cluster->nodes[i];
    if (!nd->ctx) {
        nd->ctx = connection_dial(c, nd->host, nd->port, err);
        nd->checked = 0;
        nd->broken = nd->ctx == NULL;
    }
    return nd->ctx;
}

static void node_broken(node *nd, const char *what, sluice_error *err) {
    sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s: lost the link to redis at %s:%d: %s", what, nd->host, nd->port,
                     nd->ctx->errstr[0] ? nd->ctx->errstr : "connection closed");
    redisFree(nd->ctx);
    nd->ctx = NULL;
    nd->broken = 1;
}

/* As node_open, with the sluice Functions checked (and loaded) on the link
 * before its first call: BORROWED, or NULL with err set. */
static redisContext *node_link(sluice_client *c, size_t i, sluice_error *err) {
    redisContext *ctx = node_open(c, i, err);
    node *nd = &c->cluster->nodes[i];
    if (!ctx || nd->checked) return ctx;
    if (connection_load_functions(ctx, err) < 0) {
        if (ctx->err) node_broken(nd, "checking the sluice Functions", err);
        return NULL;
    }
    nd->checked = 1;
    return ctx;
}

/* ------------------------------- map ------------------------------- */

/* The index of a CLUSTER SLOTS node entry (BORROWED: host, port, ...),
 * added if new; "here" stands for an empty host. -1: malformed, or out of
 * memory. */
static long map_node(struct cluster *cl, const redisReply *e, const char *here) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_INTEGER || e->element[1]->integer < 1 || e->element[1]->integer > 65535)
        return -1;
    const char *host = e->element[0]->len ? e->element[0]->str : here;
    return node_index(cl, host, strlen(host), (int)e->element[1]->integer);
}

/* A CLUSTER SLOTS reply (BORROWED) into cl->owner, its replicas added to
 * the known nodes; "here" names the node that answered, for entries whose
 * host is empty. Returns the number of slots assigned, or -1 (a malformed
 * reply, out of memory). */
static long map_read(struct cluster *cl, const redisReply *r, const char *here) {
    if (r->type != REDIS_REPLY_ARRAY) return -1;
    uint16_t owner[SLOTS] = {0};
    long assigned = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            return -1;
        long long from = e->element[0]->integer, to = e->element[1]->integer;
        if (from < 0 || to >= SLOTS || from > to) return -1;
        long idx = map_node(cl, e->element[2], here);
        if (idx < 0) return -1;
        for (size_t k = 3; k < e->elements; k++)
            if (map_node(cl, e->element[k], here) < 0) return -1;
        for (long long s = from; s <= to; s++) owner[s] = (uint16_t)(idx + 1);
        assigned += (long)(to - from + 1);
    }
    memcpy(cl->owner, owner, sizeof(owner));
    return assigned;
}

/* Reads the map again from node i. Returns 0, or -1 with err set. */
static int refresh(sluice_client *c, size_t i, sluice_error *err) {
    redisContext *ctx = node_open(c, i, err);
    if (!ctx) return -1;
    const char *argv[] = {"CLUSTER", "SLOTS"};
    redisReply *r = call_send(ctx, 2, argv, NULL);
    if (!r) {
        node_broken(&c->cluster->nodes[i], "CLUSTER SLOTS", err);
        return -1;
    }
    char here[sizeof(c->cluster->nodes[i].host)]; /* a copy: map_read may move the nodes */
    strcpy(here, c->cluster->nodes[i].host);
    long assigned = r->type == REDIS_REPLY_ERROR ? -1 : map_read(c->cluster, r, here);
    if (assigned < 0) sluice_error_set(err, SLUICE_ERR_PROTOCOL, "CLUSTER SLOTS: unexpected reply");
    freeReplyObject(r);
    return assigned < 0 ? -1 : 0;
}

/* Reads the map again from the first node that answers: the nodes not
 * marked broken first, then the broken ones (one may be back). Returns 0,
 * or -1 with err set. */
static int refresh_any(sluice_client *c, sluice_error *err) {
    for (int broken = 0; broken <= 1; broken++)
        for (size_t i = 0; i < c->cluster->n; i++) /* refresh may add nodes */
            if (c->cluster->nodes[i].broken == broken && refresh(c, i, err) == 0) return 0;
    return -1;
}

int cluster_detect(sluice_client *c, redisContext *seed, sluice_error *err) {
    /* HELLO: every ACL user may run it, where CLUSTER SLOTS would be refused
     * (and logged) on a standalone Redis; a Redis without it is standalone. */
    const char *hello[] = {"HELLO", "2"};
    redisReply *r = call_send(seed, 2, hello, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "HELLO: %s", seed->errstr);
        return -1;
    }
    const redisReply *mode = reply_hello_field(r, "mode");
    int cluster = mode && mode->type == REDIS_REPLY_STRING && strcmp(mode->str, "cluster") == 0;
    freeReplyObject(r);
    if (!cluster) return 0;
    const char *argv[] = {"CLUSTER", "SLOTS"};
    r = call_send(seed, 2, argv, NULL);
    if (!r) {
        sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "CLUSTER SLOTS: %s", seed->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_from_reply(err, r, "reading the cluster's slot map (CLUSTER SLOTS)");
        freeReplyObject(r);
        return -1;
    }
    struct cluster *cl = calloc(1, sizeof(*cl));
    const char *here = c->url.is_unix ? "127.0.0.1" : c->url.host;
    long assigned = cl ? map_read(cl, r, here) : -1;
    if (assigned > 0 && !c->url.is_unix && node_index(cl, here, strlen(here), c->url.port) < 0) assigned = -1;
    freeReplyObject(r);
    if (assigned <= 0) {
        if (!cl)
            sluice_error_set(err, SLUICE_ERR_NOMEM, "cannot allocate the cluster's slot map");
        else if (assigned == 0)
            sluice_error_set(err, SLUICE_ERR_UNAVAILABLE, "redis cluster has no slot assigned");
        else
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "CLUSTER SLOTS: unexpected reply");
        cluster_free(cl);
        return -1;
    }
    c->cluster = cl;
    return 1;
}

/* ----------------------------- routing ----------------------------- */

/* A MOVED or ASK reply's "slot host:port": the node's index, or -1. */
static long redirect_target(struct cluster *cl, const redisReply *r, int *slot) {
    const char *p = strchr(r->str, ' ');
    char *end = NULL;
    long s = p ? strtol(p + 1, &end, 10) : -1;
    if (s < 0 || s >= SLOTS || *end != ' ') return -1;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':');
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (port < 1 || port > 65535 || *end) return -1;
    *slot = (int)s;
    return node_index(cl, addr, (size_t)(colon - addr), (int)port);
}

/* The master of the slot, or for -1 (no key) any master, one not marked
 * broken if there is one: its index, or -1 when the map names none. */
static long master_of(const struct cluster *cl, int slot) {
    if (slot >= 0) return (long)cl->owner[slot] - 1;
    long any = -1;
    for (size_t s = 0; s < SLOTS; s++) {
        if (!cl->owner[s]) continue;
        if (!cl->nodes[cl->owner[s] - 1u].broken) return (long)cl->owner[s] - 1;
        if (any < 0) any = (long)cl->owner[s] - 1;
    }
    return any;
}

/* A MOVED reply named node "target" for the slot: the slot is its, and the
 * map is read again from it. Returns the slot's master now. */
static size_t follow_moved(sluice_client *c, size_t target, int slot) {
    struct cluster *cl = c->cluster;
    cl->owner[slot] = (uint16_t)(target + 1);
    refresh(c, target, NULL);
    return cl->owner[slot] ? cl->owner[slot] - 1u : target;
}

/* Sends m on ctx, after ASKING when "asking": the command's reply (NEW),
 * or NULL when the link broke. */
static redisReply *send_on(redisContext *ctx, const cmd *m, int asking) {
    if (!asking) return call_send(ctx, m->argc, (const char **)m->argv, m->argvlen);
    const char *argv[] = {"ASKING"};
    void *ok = NULL, *r = NULL;
    if (redisAppendCommandArgv(ctx, 1, argv, NULL) != REDIS_OK ||
        redisAppendCommandArgv(ctx, m->argc, (const char **)m->argv, m->argvlen) != REDIS_OK ||
        call_get_reply(ctx, &ok) != REDIS_OK || call_get_reply(ctx, &r) != REDIS_OK) {
        freeReplyObject(ok);
        return NULL;
    }
    freeReplyObject(ok);
    return r;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends m to node "to" and on as its replies redirect it; "r" (TAKES; may
 * be NULL) is the reply "to" already gave it. Returns cluster_call's reply. */
static redisReply *route(sluice_client *c, const cmd *m, size_t to, redisReply *r, const char *what,
                         sluice_error *err) {
    struct cluster *cl = c->cluster;
    int asking = 0, redirects = 0, reloaded = 0;
    long backoff = BACKOFF_FIRST_MS;
    for (;; r = NULL) {
        if (!r) {
            redisContext *ctx = node_link(c, to, err);
            if (!ctx) return NULL;
            if (!(r = send_on(ctx, m, asking))) {
                node_broken(&cl->nodes[to], what, err);
                return NULL;
            }
        }
        int moved = reply_is_error(r, "MOVED "), ask = reply_is_error(r, "ASK ");
        if ((moved || ask) && redirects < REDIRECTS_MAX && !(ask && asking)) {
            int slot;
            long target = redirect_target(cl, r, &slot);
            if (target >= 0) {
                freeReplyObject(r);
                redirects++;
                if (moved) {
                    to = follow_moved(c, (size_t)target, slot);
                } else {
                    to = (size_t)target;
                }
                asking = ask;
                continue;
            }
        }
        if ((reply_is_error(r, "TRYAGAIN") || reply_is_error(r, "CLUSTERDOWN")) && backoff <= BACKOFF_LAST_MS) {
            freeReplyObject(r);
            pause_ms(backoff);
            backoff *= 2;
            continue;
        }
        if (reply_is_error(r, "ERR Function not found") && !reloaded) {
            /* the node lost the library (or never had it): the call did not run */
            freeReplyObject(r);
            redisContext *ctx = node_link(c, to, err);
            if (!ctx || connection_load_functions(ctx, err) < 0) return NULL;
            reloaded = 1;
            continue;
        }
        cl->last = to + 1;
        return r;
    }
}

/* The node for m's slot (any master without a key), reading the map again
 * when it names none or a broken one, unless *reread says it was read
 * again already for this call or pipeline (then set). Returns 0, or -1
 * with err set. */
static int destination(sluice_client *c, const cmd *m, int *reread, size_t *to, const char *what, sluice_error *err) {
    struct cluster *cl = c->cluster;
    int slot = cmd_slot(m);
    long at = master_of(cl, slot);
    if ((at < 0 || cl->nodes[at].broken) && !*reread) {
        refresh_any(c, NULL);
        *reread = 1;
        at = master_of(cl, slot);
    }
    if (at < 0) {
        sluice_error_set(err, SLUICE_ERR_UNAVAILABLE, "%s: redis cluster: slot %d has no master (retry later)", what,
                         slot);
        return -1;
    }
    *to = (size_t)at;
    return 0;
}

redisReply *cluster_call(sluice_client *c, const cmd *m, const char *what, sluice_error *err) {
    size_t to;
    int reread = 0;
    return destination(c, m, &reread, &to, what, err) < 0 ? NULL : route(c, m, to, NULL, what, err);
}

/* Sends node i's share of the commands ("to" names each one's node) in one
 * pipeline and reads their replies. Returns 0, or -1 when the link failed
 * (err set, and errs for the commands left without a reply). */
static int pipeline_node(sluice_client *c, size_t i, const cmd *cmds, const size_t *to, size_t n, redisReply **replies,
                         sluice_error *errs, sluice_error *err) {
    size_t share = 0;
    for (size_t k = 0; k < n; k++) share += to[k] == i;
    if (share == 0) return 0; /* no link opened to a node with nothing to do */
    sluice_error link_err;
    sluice_error_reset(&link_err);
    redisContext *ctx = node_link(c, i, &link_err);
    for (size_t k = 0; ctx && k < n; k++)
        if (to[k] == i) redisAppendCommandArgv(ctx, cmds[k].argc, (const char **)cmds[k].argv, cmds[k].argvlen);
    for (size_t k = 0; ctx && k < n; k++) {
        void *r = NULL;
        if (to[k] != i) continue;
        if (call_get_reply(ctx, &r) != REDIS_OK) {
            node_broken(&c->cluster->nodes[i], "pipeline", &link_err);
            ctx = NULL;
            break;
        }
        replies[k] = r;
    }
    if (ctx) return 0;
    for (size_t k = 0; k < n; k++)
        if (to[k] == i && !replies[k]) sluice_error_set(&errs[k], link_err.code, "%s", link_err.text);
    sluice_error_set(err, link_err.code, "%s", link_err.text);
    return -1;
}

int cluster_pipeline(sluice_client *c, const cmd *cmds, size_t n, redisReply **replies, sluice_error *errs,
                     sluice_error *err) {
    size_t *to = malloc((n ? n : 1) * sizeof(*to));
    if (!to) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "pipeline: out of memory");
        return -1;
    }
    int reread = 0;
    for (size_t k = 0; k < n; k++)
        if (destination(c, &cmds[k], &reread, &to[k], "call", &errs[k]) < 0) to[k] = SIZE_MAX;
    int rc = 0;
    size_t nodes = c->cluster->n; /* route() may add nodes; these are the ones named */
    for (size_t i = 0; i < nodes; i++)
        if (pipeline_node(c, i, cmds, to, n, replies, errs, err) < 0) rc = -1;
    for (size_t k = 0; k < n; k++) {
        if (!replies[k]) continue;
        /* a reply that proves the command did not run sends it on, alone */
        replies[k] = route(c, &cmds[k], to[k], replies[k], "call", &errs[k]);
        if (!replies[k] && errs[k].code == SLUICE_ERR_UNREACHABLE) {
            sluice_error_set(err, SLUICE_ERR_UNREACHABLE, "%s", errs[k].text);
            rc = -1;
        }
    }
    free(to);
    return rc;
}

/* ------------------- routing for callers' own links ------------------- */

/* The public command's argument vector as a cmd (BORROWED strings). */
static cmd cmd_view(const sluice_command *m) {
    cmd v = {.argc = sluice_command_argc(m),
             .argv = (char **)sluice_command_argv(m),
             .argvlen = (size_t *)sluice_command_argvlen(m)};
    return v;
}

/* Node i's address into host and *port. Returns 1, or -1 with err set
 * when host cannot hold it. */
static int node_address(const struct cluster *cl, long i, char *host, size_t hostlen, int *port, sluice_error *err) {
    if (i < 0) {
        sluice_error_set(err, SLUICE_ERR_UNAVAILABLE, "%s", "redis cluster: the slot has no master (retry later)");
        return -1;
    }
    if (strlen(cl->nodes[i].host) >= hostlen) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", "redis cluster: a node's host name is too long");
        return -1;
    }
    strcpy(host, cl->nodes[i].host);
    *port = cl->nodes[i].port;
    return 1;
}

int sluice_command_master(sluice_client *c, const sluice_command *m, char *host, size_t hostlen, int *port,
                          sluice_error *err) {
    sluice_error_reset(err);
    if (!c->cluster) return 0;
    cmd v = cmd_view(m);
    return node_address(c->cluster, master_of(c->cluster, cmd_slot(&v)), host, hostlen, port, err);
}

int sluice_command_redirect(sluice_client *c, const sluice_command *m, const redisReply *r, char *host, size_t hostlen,
                            int *port, int *asking, sluice_error *err) {
    sluice_error_reset(err);
    *asking = 0;
    if (!c->cluster || !r) return 0;
    int moved = reply_is_error(r, "MOVED "), ask = reply_is_error(r, "ASK ");
    if (moved || ask) {
        int slot;
        long target = redirect_target(c->cluster, r, &slot);
        if (target < 0) return 0; /* not a redirect this client can follow */
        *asking = ask;
        if (moved) target = (long)follow_moved(c, (size_t)target, slot);
        return node_address(c->cluster, target, host, hostlen, port, err);
    }
    if (!reply_is_error(r, "TRYAGAIN") && !reply_is_error(r, "CLUSTERDOWN")) return 0;
    refresh_any(c, NULL);
    cmd v = cmd_view(m);
    return node_address(c->cluster, master_of(c->cluster, cmd_slot(&v)), host, hostlen, port, err);
}

int sluice_cluster_refresh(sluice_client *c, sluice_error *err) {
    sluice_error_reset(err);
    return c->cluster ? refresh_any(c, err) : 0;
}

/* ------------------------------ links ------------------------------ */

redisContext *cluster_last_link(struct cluster *cl) {
    return cl->last ? cl->nodes[cl->last - 1].ctx : NULL;
}

void cluster_last_lost(struct cluster *cl, const char *what, sluice_error *err) {
    node_broken(&cl->nodes[cl->last - 1], what, err);
}

int cluster_set_name(sluice_client *c, sluice_error *err) {
    for (size_t i = 0; i < c->cluster->n; i++) {
        node *nd = &c->cluster->nodes[i];
        if (!nd->ctx) continue;
        const char *argv[] = {"CLIENT", "SETNAME", c->name};
        redisReply *r = call_send(nd->ctx, 3, argv, NULL);
        if (!r) {
            node_broken(nd, "CLIENT SETNAME", err);
            return -1;
        }
        int failed = r->type == REDIS_REPLY_ERROR;
        if (failed) err_from_reply(err, r, "CLIENT SETNAME");
        freeReplyObject(r);
        if (failed) return -1;
    }
    return 0;
}

void cluster_set_timeout(struct cluster *cl, struct timeval tv) {
    for (size_t i = 0; i < cl->n; i++)
        if (cl->nodes[i].ctx) redisSetTimeout(cl->nodes[i].ctx, tv);
}

void cluster_free(struct cluster *cl) {
    if (!cl) return;
    for (size_t i = 0; i < cl->n; i++)
        if (cl->nodes[i].ctx) redisFree(cl->nodes[i].ctx);
    free(cl->nodes);
    free(cl);
}
