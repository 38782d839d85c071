/* The worker's two links to Redis (commands, and the subscription to its
 * classes' ready channels): connect, authenticate, reconnect with a
 * jittered backoff, log an outage once. */

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

int rt_link_send(wlink *l, sluice_command *m, redisCallbackFn *cb, void *priv) {
    if (!m || !l->up || !l->ac) return -1;
    int rc = redisAsyncCommandArgv(l->ac, cb, priv, sluice_command_argc(m), sluice_command_argv(m),
                                   sluice_command_argvlen(m));
    if (rc != REDIS_OK) return -1;
    if (!l->sub) {
        if (l->w->outstanding++ == 0) l->w->last_reply = ev_now(l->w->loop);
    }
    return 0;
}

void rt_got_reply(sluice_worker *w) {
    if (w->outstanding > 0) w->outstanding--;
    w->last_reply = ev_now(w->loop);
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
        else if (err.code == SLUICE_ERR_UNREACHABLE) {
            sluice_client_free(w->sync);
            w->sync = NULL;
            return;
        }
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
        if (l->down_since > 0) {
            w->st.reconnects++;
            snprintf(msg, sizeof(msg), "after %.1f s", ev_now(w->loop) - l->down_since);
            rt_emit(w, "reconnected", NULL, -1, msg);
        } else {
            rt_emit(w, "connected", NULL, -1, NULL);
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
    if (!l->sub) l->w->outstanding = 0;
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
    if (!l->sub) rt_got_reply(l->w);
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
    if (!l->sub) rt_got_reply(l->w);
    if (!l->up && l->ac && !l->refused) link_up(l);
}

void rt_retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    rt_link_open(container_of(t, wlink, retry));
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
    if (sluice_url_resolve(&w->u, RESOLVE_TIMEOUT_MS, &at, &err) < 0) {
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
        if (!l->sub) w->outstanding++;
    }
    if (w->u.db && !l->sub) {
        char db[16];
        snprintf(db, sizeof(db), "%d", w->u.db);
        const char *argv[2] = {"SELECT", db};
        redisAsyncCommandArgv(ac, auth_reply, l, 2, argv, NULL);
        w->outstanding++;
    }
    if (!l->sub) {
        const char *argv[3] = {"CLIENT", "SETNAME", w->name};
        redisAsyncCommandArgv(ac, hello_reply, l, 3, argv, NULL);
        w->outstanding++;
        w->last_reply = ev_now(w->loop);
    } else {
        const char *argv[1] = {"PING"};
        redisAsyncCommandArgv(ac, hello_reply, l, 1, argv, NULL);
    }
}

void rt_reload_functions(sluice_worker *w) {
    sluice_client_free(w->sync);
    w->sync = sluice_client_connect(w->url, w->ns, NULL); /* loads the library */
}

int rt_function_missing(const redisReply *r, const sluice_error *err) {
    return strstr(err->text, "unction") || (r && r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, "unction"));
}
