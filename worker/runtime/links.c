/* The worker's links to Redis: commands (to the URL's node, or on a Redis
 * Cluster to the master of each command's slot, one link per master) and
 * the subscription to its classes' ready channels (on the URL's node, and
 * after a lost link on a master that answers: a Redis 7.0 Cluster passes
 * every PUBLISH to every node). Connect,
 * authenticate, reconnect with a jittered backoff, log an outage once. */

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* ------------------------------ helpers ------------------------------ */

/* The next wait (s) of a capped, jittered exponential backoff: *backoff
 * times 0.5..1.5; then *backoff doubles, up to BACKOFF_MAX. */
double rt_backoff_next(double *backoff) {
    double d = *backoff * (0.5 + (double)(rand() % 1000) / 1000.0);
    *backoff *= 2;
    if (*backoff > BACKOFF_MAX) *backoff = BACKOFF_MAX;
    return d;
}

/* A reply came on command link l (the watchdog's clock). */
static void got_reply(wlink *l) {
    if (l->outstanding > 0) l->outstanding--;
    l->last_reply = ev_now(l->w->loop);
}

/* A command went out on command link l: its reply is awaited. */
static void awaiting(wlink *l) {
    if (l->outstanding++ == 0) l->last_reply = ev_now(l->w->loop);
}

int rt_cmd_up(const sluice_worker *w) {
    return w->on_cluster || w->cmd.up;
}

/* The link to the cluster master at host:port, made (down) if new: BORROWED,
 * or NULL out of memory. */
static wlink *master_link(sluice_worker *w, const char *host, int port) {
    for (wlink *l = w->cmd.next; l; l = l->next)
        if (l->port == port && strcmp(l->host, host) == 0) return l;
    wlink *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->w = w;
    l->backoff = BACKOFF_MIN;
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->port = port;
    ev_timer_init(&l->retry, rt_retry_cb, 0., 0.);
    l->next = w->cmd.next;
    w->cmd.next = l;
    return l;
}

/* On a cluster, the link to host:port if it is up; a link down and not
 * waiting out its backoff is opened (it takes commands once up). */
static wlink *master_ready(sluice_worker *w, const char *host, int port) {
    wlink *l = master_link(w, host, port);
    if (l && !l->ac && !ev_is_active(&l->retry)) rt_link_open(l);
    return l && l->up ? l : NULL;
}

/* The link that serves m now, or NULL. */
static wlink *link_for(sluice_worker *w, const sluice_command *m) {
    char host[256];
    int port = 0;
    int at = w->sync ? sluice_command_master(w->sync, m, host, sizeof(host), &port, NULL) : w->on_cluster ? -1 : 0;
    if (at == 0) return w->cmd.up ? &w->cmd : NULL;
    w->on_cluster = 1;
    return at > 0 ? master_ready(w, host, port) : NULL;
}

static void call_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Puts the call on link l, after ASKING when "asking". Returns 0, or -1. */
static int call_put(wlink *l, wcall *call, int asking) {
    sluice_command *m = call->m;
    if (asking) {
        const char *argv[1] = {"ASKING"};
        if (redisAsyncCommandArgv(l->ac, NULL, NULL, 1, argv, NULL) != REDIS_OK) return -1;
    }
    if (redisAsyncCommandArgv(l->ac, call_reply, call, sluice_command_argc(m), sluice_command_argv(m),
                              sluice_command_argvlen(m)) != REDIS_OK)
        return -1;
    awaiting(l);
    return 0;
}

static void call_free(wcall *call) {
    sluice_command_free(call->m);
    free(call);
}

/* On a cluster, a reply that proves the call did not run sends it once more
 * where the re-read map says. Returns 1 when it went out again. */
static int resent(sluice_worker *w, wcall *call, const redisReply *r) {
    if (call->resent || !r || r->type != REDIS_REPLY_ERROR || !w->sync || w->stopped) return 0;
    char host[256];
    int port = 0, asking = 0;
    if (sluice_command_redirect(w->sync, call->m, r, host, sizeof(host), &port, &asking, NULL) <= 0) return 0;
    call->resent = 1;
    wlink *to = master_ready(w, host, port);
    return to && call_put(to, call, asking) == 0;
}

static void call_reply(redisAsyncContext *ac, void *reply, void *priv) {
    wcall *call = priv;
    sluice_worker *w = call->w;
    if (!w->freeing) {
        got_reply(ac->data);
        if (resent(w, call, reply)) return;
    }
    call->cb(ac, reply, call->priv);
    call_free(call);
}

int rt_send(sluice_worker *w, sluice_command *m, redisCallbackFn *cb, void *priv) {
    wlink *l = m ? link_for(w, m) : NULL;
    wcall *call = l ? malloc(sizeof(*call)) : NULL;
    if (!call) {
        sluice_command_free(m);
        return -1;
    }
    *call = (wcall){.w = w, .m = m, .cb = cb, .priv = priv};
    if (call_put(l, call, 0) < 0) {
        call_free(call);
        return -1;
    }
    return 0;
}

/* --------------------------- subscriptions --------------------------- */

static void sub_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    sluice_worker *w = priv;
    redisReply *r = reply;
    if (w->freeing || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    if (!r->element[0]->str || strcmp(r->element[0]->str, "message") != 0) return;
    const char *ch = r->element[1]->str;
    if (!ch) return;
    for (wclass *c = w->classes; c; c = c->next) {
        if (strcmp(c->channel, ch) != 0) continue;
        if (c->claiming)
            c->notified = 1;
        else if (c->asleep)
            rt_class_wake(c);
    }
    rt_schedule(w);
}

void rt_subscribe(sluice_worker *w, wclass *c) {
    if (!w->sub.up || !w->sub.ac) return;
    const char *argv[2] = {"SUBSCRIBE", c->channel};
    redisAsyncCommandArgv(w->sub.ac, sub_reply, w, 2, argv, NULL);
}

/* ------------------------------- links -------------------------------- */

static void read_tiers(sluice_worker *w) {
    if (!w->sync) {
        w->sync = sluice_client_connect(w->url, w->ns, NULL);
        if (w->sync) sluice_client_set_timeout(w->sync, 1000, NULL);
    }
    if (!w->sync) return;
    for (wclass *c = w->classes; c; c = c->next) {
        sluice_class_config cfg;
        sluice_error err;
        if (sluice_class_get(w->sync, c->name, &cfg, &err) == 0)
            c->tier = cfg.tier;
        else if (err.code == SLUICE_ERR_UNREACHABLE)
            return; /* the client reconnects on its next call */
    }
}

static void link_up(wlink *l) {
    sluice_worker *w = l->w;
    char msg[160];
    l->up = 1;
    l->backoff = BACKOFF_MIN;
    if (l->sub) {
        for (wclass *c = w->classes; c; c = c->next) rt_subscribe(w, c);
    } else {
        char at[300] = "";
        if (l->port) snprintf(at, sizeof(at), " to the cluster master %s:%d", l->host, l->port);
        if (l->down_since > 0) {
            w->st.reconnects++;
            snprintf(msg, sizeof(msg), "after %.1f s%s", ev_now(w->loop) - l->down_since, at);
            rt_emit(w, "reconnected", NULL, -1, msg);
        } else {
            rt_emit(w, "connected", NULL, -1, at[0] ? at + 1 : NULL);
        }
        read_tiers(w);
        rt_resend_waiting(w);
    }
    l->down_since = 0;
    l->ever_up = 1;
    /* notifications may have been missed: poll every class */
    for (wclass *c = w->classes; c; c = c->next) rt_class_wake(c);
    rt_schedule(w);
    rt_check_stopped(w);
}

void rt_link_down(wlink *l, const char *why) {
    sluice_worker *w = l->w;
    l->ac = NULL;
    l->up = 0;
    if (w->freeing || w->stopped) return;
    double now = ev_now(w->loop);
    if (!l->sub) {
        if (l->down_since == 0) {
            l->down_since = now;
            l->last_log = now;
            rt_emit(w, "disconnected", NULL, -1, why);
        } else if (now - l->last_log >= OUTAGE_LOG_EVERY) {
            l->last_log = now;
            char msg[200];
            snprintf(msg, sizeof(msg), "still unreachable after %.0f s: %s", now - l->down_since, why);
            rt_emit(w, "disconnected", NULL, -1, msg);
        }
    } else if (l->down_since == 0) {
        l->down_since = now;
    }
    double d = rt_backoff_next(&l->backoff);
    ev_timer_stop(w->loop, &l->retry);
    ev_timer_set(&l->retry, d, 0.);
    ev_timer_start(w->loop, &l->retry);
    rt_check_stopped(w);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    wlink *l = ac->data;
    if (status != REDIS_OK) rt_link_down(l, ac->errstr[0] ? ac->errstr : "connect failed");
    /* else the link is up at the reply to its handshake */
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    wlink *l = ac->data;
    (void)status;
    l->outstanding = 0;
    rt_link_down(l, l->refused      ? "authentication failed (check the user, the password and the database)"
                    : ac->errstr[0] ? ac->errstr
                                    : "connection closed");
}

/* The reply to AUTH or SELECT: a refusal (wrong password, NOPERM, no such
 * database) keeps the link down and retries it with the backoff, logged as
 * an outage is. */
static void auth_reply(redisAsyncContext *ac, void *reply, void *priv) {
    wlink *l = priv;
    redisReply *r = reply;
    if (l->w->freeing || !r) return;
    got_reply(l);
    if (r->type == REDIS_REPLY_ERROR && !l->refused) {
        l->refused = 1;
        redisAsyncDisconnect(ac);
    }
}

/* The reply to the handshake's last command (CLIENT SETNAME on the command
 * link, PING on the subscription link): Redis answers, so the link is up
 * unless it refused the credentials (an error here, e.g. no ACL permission
 * for CLIENT, does not matter). */
static void hello_reply(redisAsyncContext *ac, void *reply, void *priv) {
    (void)ac;
    wlink *l = priv;
    if (l->w->freeing || !reply) return;
    got_reply(l);
    if (!l->up && l->ac && !l->refused) link_up(l);
}

/* On a cluster the subscription may listen on any node (every PUBLISH
 * reaches every node): after a lost link it moves to a master whose command
 * link is up, so a node that stays down (the URL's, say) does not leave
 * the worker to its polls. */
static void sub_follow_masters(sluice_worker *w, wlink *sub) {
    for (wlink *m = w->cmd.next; m; m = m->next)
        if (m->up && m->port) {
            snprintf(sub->host, sizeof(sub->host), "%s", m->host);
            sub->port = m->port;
            return;
        }
}

/* The backoff after a lost link ran out: the link is opened again (the
 * subscription on a cluster at a master that answers), except a command
 * link on a cluster, whose master may have changed: the slot map is read
 * again and what waits is sent by it (opening the links it names). */
void rt_retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    wlink *l = container_of(t, wlink, retry);
    sluice_worker *w = l->w;
    if (l->sub || !w->on_cluster) {
        if (l->sub && w->on_cluster) sub_follow_masters(w, l);
        rt_link_open(l);
        return;
    }
    if (w->sync) sluice_cluster_refresh(w->sync, NULL);
    for (wclass *c = w->classes; c; c = c->next)
        if (!c->claiming) rt_class_wake(c);
    rt_resend_waiting(w);
    rt_schedule(w);
}

/* The link's address: the URL's, or for a redis-sentinel:// URL the master
 * its sentinels name now (asked again at every connect: the master may
 * have moved). That blocks the loop: up to RESOLVE_TIMEOUT_MS, plus one
 * connect to a named master that does not answer. */
#define RESOLVE_TIMEOUT_MS 1000

void rt_link_open(wlink *l) {
    sluice_worker *w = l->w;
    if (w->stopped || w->freeing || l->ac) return;
    l->refused = 0;
    sluice_url at;
    sluice_error err;
    if (l->port) {
        memset(&at, 0, sizeof(at));
        snprintf(at.host, sizeof(at.host), "%s", l->host);
        at.port = l->port;
    } else if (sluice_url_resolve(&w->u, RESOLVE_TIMEOUT_MS, &at, &err) < 0) {
        memset(&at, 0, sizeof(at)); /* the password */
        rt_link_down(l, err.text);
        return;
    }
    redisAsyncContext *ac = at.is_unix ? redisAsyncConnectUnix(at.path) : redisAsyncConnect(at.host, at.port);
    memset(&at, 0, sizeof(at));
    if (!ac) {
        rt_link_down(l, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        rt_link_down(l, why);
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibevAttach(w->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* queued before anything else, sent once connected */
    if (w->u.password[0]) {
        const char *argv[3] = {"AUTH", w->u.user[0] ? w->u.user : w->u.password, w->u.password};
        redisAsyncCommandArgv(ac, auth_reply, l, w->u.user[0] ? 3 : 2, argv, NULL);
        if (!l->sub) awaiting(l);
    }
    if (w->u.db && !l->sub) {
        char db[16];
        snprintf(db, sizeof(db), "%d", w->u.db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(ac, auth_reply, l, 2, argv, NULL);
        awaiting(l);
    }
    if (!l->sub) {
        const char *argv[3] = {"CLIENT", "SETNAME", w->name};
        redisAsyncCommandArgv(ac, hello_reply, l, 3, argv, NULL);
        awaiting(l);
    } else {
        const char *argv[1] = {"PING"};
        redisAsyncCommandArgv(ac, hello_reply, l, 1, argv, NULL);
    }
}

void rt_reload_functions(sluice_worker *w, const wclass *c) {
    if (w->on_cluster && w->sync) {
        sluice_class_config cfg;
        sluice_class_get(w->sync, c->name, &cfg, NULL); /* "Function not found" there loads it */
        return;
    }
    sluice_client_free(w->sync);
    w->sync = sluice_client_connect(w->url, w->ns, NULL); /* loads the library */
}

int rt_function_missing(const redisReply *r, const sluice_error *err) {
    return strstr(err->text, "unction") || (r && r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, "unction"));
}
