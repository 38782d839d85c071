/* The client: a handle on one connection to Redis (sluice/client.h). It
 * connects by URL, carries a name and a command timeout, and keys every
 * call with its namespace. */

#include <stdlib.h>
#include <string.h>

#include "queue.h"

sluice_client *sluice_client_connect(const char *url, const char *ns, sluice_error *err) {
    sluice_error_reset(err);
    if (!ns || !*ns) ns = getenv("SLUICE_NAMESPACE");
    if (!ns || !*ns) ns = SLUICE_DEFAULT_NAMESPACE;
    if (ns_check(ns, err) < 0) return NULL;
    sluice_client *c = calloc(1, sizeof(*c));
    if (!c) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "cannot allocate a client");
        return NULL;
    }
    c->timeout_ms = 5000;
    strcpy(c->ns, ns);
    if (sluice_url_parse(url, &c->url, err) < 0 || connection_open(c, err) < 0) {
        sluice_client_free(c);
        return NULL;
    }
    return c;
}

void sluice_client_free(sluice_client *c) {
    if (!c) return;
    if (c->ctx) redisFree(c->ctx);
    cluster_free(c->cluster);
    memset(&c->url, 0, sizeof(c->url)); /* the password */
    free(c);
}

int sluice_client_set_name(sluice_client *c, const char *name, sluice_error *err) {
    sluice_error_reset(err);
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > NAME_MAX_LEN) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "client name must be 1..64 bytes");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            !strchr("_.:@-", ch)) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "client name may hold only [A-Za-z0-9_.:@-]");
            return -1;
        }
    }
    strcpy(c->name, name);
    if (c->cluster) return cluster_set_name(c, err);
    cmd m;
    cmd_init(&m);
    cmd_str(&m, "CLIENT");
    cmd_str(&m, "SETNAME");
    cmd_str(&m, name);
    redisReply *r = client_call(c, &m, "CLIENT SETNAME", err);
    cmd_clear(&m);
    freeReplyObject(r);
    return r ? 0 : -1;
}

int sluice_client_set_timeout(sluice_client *c, int64_t ms, sluice_error *err) {
    sluice_error_reset(err);
    if (ms < 1 || ms > 3600000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "timeout must be 1..3600000 ms");
        return -1;
    }
    c->timeout_ms = ms;
    connection_set_timeout(c);
    return 0;
}

const char *sluice_client_namespace(const sluice_client *c) {
    return c->ns;
}

const char *client_actor(const sluice_client *c) {
    return c->name[0] ? c->name : "libsluice";
}
