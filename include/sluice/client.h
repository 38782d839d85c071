/* sluice client: a connection to Redis, which every call of libsluice
 * takes. One client is one hiredis connection; it is not thread-safe (use
 * one per thread).
 *
 * Connection. A URL: redis://[user:password@]host[:port][/db],
 * unix:///path/to.sock[?db=N] (user and password may be given to unix too:
 * unix://user:password@/path) or redis-sentinel:// (below). NULL takes
 * SLUICE_REDIS_URL, else redis://127.0.0.1:6379. The namespace (key prefix) NULL takes
 * SLUICE_NAMESPACE, else "sluice". Passwords are never copied into error
 * messages.
 *
 * Functions. On connect the client checks the Redis Functions library
 * `sluice` and loads it (FUNCTION LOAD REPLACE) when it is missing or older
 * than the one built into the client; if a call finds it gone (Redis
 * restarted without it), it loads it and retries that call once.
 *
 * Failures. If the link breaks, the call in progress fails with
 * SLUICE_ERR_UNREACHABLE — it may or may not have run on the server; enqueue
 * is never silently reported as done — and the next call reconnects. A
 * Redis that answers but cannot serve yet (LOADING after a restart, BUSY
 * running a script, MASTERDOWN, TRYAGAIN, CLUSTERDOWN) gives
 * SLUICE_ERR_UNAVAILABLE: the call did not run, and may be retried.
 *
 * Redis Sentinel. redis-sentinel://[user:password@]host[:port][,host[:port]
 * ...]/MASTER_NAME[?db=N] names 1..16 sentinels (port 26379 by default) and
 * the master they monitor. On connect the client asks each sentinel in turn
 * (SENTINEL get-master-addr-by-name, without credentials: the URL's user
 * and password are the data nodes'), connects to the address named and
 * checks that the server there says it is the master, retrying within the
 * command timeout while a failover is under way; then it goes on as on a
 * plain redis:// URL. A lost link, or a READONLY reply (the master was
 * demoted: that call did not run, and fails with SLUICE_ERR_UNAVAILABLE),
 * makes the next call ask the sentinels again.
 *
 * Redis Cluster. A URL of any cluster node is enough: on connect the
 * client detects cluster mode (HELLO), reads the slot map (CLUSTER SLOTS)
 * and then sends each call to the master of its slot over one link per
 * master, opened on first use (with the URL's user, password and name; the
 * Functions checked and loaded on each). MOVED and ASK are followed,
 * TRYAGAIN and CLUSTERDOWN retried for up to about 0.6 s (then
 * SLUICE_ERR_UNAVAILABLE); a call is sent again only when the reply proves
 * it did not run. A refused CLUSTER SLOTS fails the connect.
 *
 * Keys. Class c's keys are NS:{c}:class, :gate, :ready, :delayed, :leased,
 * :dead, :jobs (one record per job, and a lease entry "<id>:lease" per
 * leased job), :meta (the fields of jobs written by library version 5 or
 * earlier), :unique, :stats, :done, :audit and :bucket
 * (the rate limiter's state), all in c's hash slot; NS:{c}:ready is also the channel on which enqueues are published.
 * The global keys (NS:{_}:classes, :signals, :signal-values, :governor,
 * :governor:history, :audit) share the tag "_", which no class can take. */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_client sluice_client;

#define SLUICE_DEFAULT_URL "redis://127.0.0.1:6379"
#define SLUICE_DEFAULT_NAMESPACE "sluice"

#define SLUICE_SENTINELS_MAX 16
#define SLUICE_MASTER_NAME_MAX 64

/* A parsed connection URL, for callers that open their own hiredis
 * connection (the worker's async side). It holds the password: wipe it
 * (memset) when done. */
typedef struct sluice_url {
    int is_unix; /* 1: path is a unix socket */
    char host[256];
    int port;           /* default 6379 */
    char path[108];     /* the socket path (sun_path's size) */
    char user[256];     /* "" for the default user */
    char password[512]; /* "" for none */
    int db;             /* SELECT this; default 0 */
    /* redis-sentinel:// only: the sentinels to ask (host, port; default
     * 26379) and the master's name; host and port are then unset until
     * sluice_url_resolve fills them. nsentinels is 0 for other URLs. */
    int nsentinels;
    struct {
        char host[256];
        int port;
    } sentinels[SLUICE_SENTINELS_MAX];
    char master[SLUICE_MASTER_NAME_MAX + 1];
} sluice_url;

/* Parses "url" (NULL or "": SLUICE_REDIS_URL, else SLUICE_DEFAULT_URL) into
 * *out, %XX escapes in user and password decoded. Returns 0, or -1 with
 * SLUICE_ERR_URL naming the problem (never echoing the password). */
int sluice_url_parse(const char *url, sluice_url *out, sluice_error *err);

/* For a redis-sentinel:// URL, asks its sentinels in turn for the master's
 * address and checks there that the server says it is the master (HELLO's
 * role, after AUTH with the URL's credentials), each step bounded by
 * "timeout_ms"; then *out is a copy of *u with host and port set and
 * nsentinels 0. Any other URL is copied as it is. Returns 0, or -1 with
 * err set: SLUICE_ERR_UNREACHABLE (no sentinel answers, or none names a
 * master that answers as one), SLUICE_ERR_NOT_FOUND (every sentinel that
 * answers says it does not know the master's name), SLUICE_ERR_AUTH,
 * SLUICE_ERR_NOMEM. Wipe *out as you would *u. */
int sluice_url_resolve(const sluice_url *u, int64_t timeout_ms, sluice_url *out, sluice_error *err);

/* Connects, authenticates, selects the database and makes sure the
 * Functions library is loaded. "url" and "ns" may be NULL (see above).
 * Returns a NEW client (free with sluice_client_free), or NULL with err set
 * to SLUICE_ERR_URL, SLUICE_ERR_UNREACHABLE, SLUICE_ERR_AUTH (wrong or
 * missing credentials: "authentication failed (check the user and
 * password)"), SLUICE_ERR_UNAVAILABLE, SLUICE_ERR_ARGUMENT (bad namespace)
 * or SLUICE_ERR_SERVER. */
sluice_client *sluice_client_connect(const char *url, const char *ns, sluice_error *err);

/* Closes the connection and frees the client. NULL is a no-op. */
void sluice_client_free(sluice_client *c);

/* Names the client (CLIENT SETNAME, and the actor in audit entries), at most
 * 64 bytes of [A-Za-z0-9_.:@-]. Returns 0 or -1. */
int sluice_client_set_name(sluice_client *c, const char *name, sluice_error *err);

/* The command timeout, ms (default 5000). Returns 0 or -1. */
int sluice_client_set_timeout(sluice_client *c, int64_t ms, sluice_error *err);

/* The namespace in use. BORROWED, valid until sluice_client_free. */
const char *sluice_client_namespace(const sluice_client *c);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
