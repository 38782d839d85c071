/* sluicectl console: a web page of the governor, its signals and every
 * class, with the operator's actions, served by libmicrohttpd. Private to
 * sluicectl. One HTTP thread does all the work, so the console's one Redis
 * client is only ever used from it. */
#ifndef SLUICE_CONSOLE_H
#define SLUICE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../ctl/ctl.h"

#define CONSOLE_BODY_MAX 4096  /* bytes of a request body */
#define CONSOLE_TOKEN_MAX 256  /* bytes of the token */
#define CONSOLE_AUDIT_COUNT 50 /* audit entries on the page */
#define CONSOLE_DEAD_COUNT 20  /* dead jobs per class on the page */
#define CONSOLE_REDIS_MS 1000  /* the longest a Redis command may take */

/* The governor's history as the charts draw it (history.c). */
typedef struct console_history console_history;

typedef struct console {
    const char *url, *ns;          /* BORROWED: sluicectl's --redis and --namespace */
    char actor[65];                /* the client's name: the actor of audit entries */
    char token[CONSOLE_TOKEN_MAX]; /* "" when read-only */
    char host[80];                 /* "HOST:PORT" it listens on; "" when on every address */
    sluice_client *c;              /* NULL until connected */
    console_history *history;
} console;

/* An answer to a request: an HTTP status and a NEW JSON body. */
typedef struct console_reply {
    unsigned status;
    json_t *body;
} console_reply;

/* A reply {"error": message} with status "status"; bytes of the message
 * outside printable ASCII become '?'. */
console_reply console_error(unsigned status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply for a failed library call: 404 for an unknown class, job or
 * signal, 400 for a bad argument, 503 when Redis is unreachable, else 500. */
console_reply console_lib_error(const sluice_error *err);

/* The client, connected (and named after the actor) on first use and again
 * after a failed connect. BORROWED, or NULL with err set. */
sluice_client *console_client(console *k, sluice_error *err);

/* --------------------------------- API ---------------------------------- */

/* GET /api/state: the governor, signals, classes, audit log, dead jobs and
 * the last hour's history, in one answer. */
console_reply console_state(console *k);
/* GET /api/explain?id=JOB: explain's answer for one job. */
console_reply console_explain(console *k, const char *id);
/* POST /api/<action> with a JSON body (BORROWED): pause, resume, pin, unpin,
 * mode, retry, purge. "route" is the part after /api/. 404 for no such
 * action; 400 for a bad body; the library's error otherwise. */
console_reply console_action(console *k, const char *route, const json_t *body);

/* ------------------------------- history -------------------------------- */

/* NEW, empty; NULL out of memory. */
console_history *console_history_new(void);
void console_history_free(console_history *h); /* NULL is a no-op */
/* Reads what the governor recorded since the last call (all of the last
 * hour the first time). Returns 0, or -1 with err set (the history kept so
 * far stays). */
int console_history_update(console_history *h, sluice_client *c, int64_t now, sluice_error *err);
/* The last hour as series: {"from", "to", "t": [...], "driver": [...],
 * "pressure": {signal: [...]}} at every point (each decision of the last two
 * minutes, one per slot of CONSOLE_POINTS before), "fraction": {class:
 * [...]} at CONSOLE_SPARK equal spans from the oldest point (null where
 * none), and
 * the pressure of "target" (1) and "critical" (2). NEW. */
json_t *console_history_json(const console_history *h, int64_t now);
/* The newest decision read, BORROWED (NULL for none). */
const json_t *console_history_last(const console_history *h);
#define CONSOLE_POINTS 360
#define CONSOLE_SPARK 60
#define CONSOLE_WINDOW_MS 3600000

/* --------------------------------- page --------------------------------- */

/* The embedded file served at "path" (e.g. "/" or "/console.js"): its bytes
 * and content type. Returns 0, or -1 when there is none. */
int console_asset(const char *path, const unsigned char **data, size_t *len, const char **type);

/* -------------------------------- server -------------------------------- */

/* Serves "k" on host:port until SIGINT or SIGTERM. Prints the address
 * ("console: http://HOST:PORT/") on stdout once it listens. Returns an exit
 * code. */
int console_serve(console *k, const char *host, int port);

#endif
