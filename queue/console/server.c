/* The console's HTTP side: libmicrohttpd with one internal thread, a body
 * of at most CONSOLE_BODY_MAX bytes, the routes, and the guard in front of
 * every action: a token (Authorization: Bearer), a JSON body, and no
 * cross-site request (Origin and Sec-Fetch-Site, when a browser sends them,
 * must name this console itself). */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "console.h"

/* One request as it arrives. */
typedef struct request {
    char body[CONSOLE_BODY_MAX + 1];
    size_t len;
    int too_big;
} request;

console_reply console_error(unsigned status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) /* what a request brought in (a path, a method) may be any bytes */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    return (console_reply){status, json_pack("{s:s}", "error", msg)};
}

console_reply console_lib_error(const sluice_error *err) {
    unsigned status = 500;
    switch (err->code) {
    case SLUICE_ERR_UNKNOWN_CLASS:
    case SLUICE_ERR_NOT_FOUND: status = 404; break;
    case SLUICE_ERR_NAME:
    case SLUICE_ERR_ARGUMENT: status = 400; break;
    case SLUICE_ERR_UNREACHABLE:
    case SLUICE_ERR_UNAVAILABLE: status = 503; break;
    default: break;
    }
    return console_error(status, "%s", err->text[0] ? err->text : sluice_error_name(err->code));
}

sluice_client *console_client(console *k, sluice_error *err) {
    if (k->c) return k->c;
    sluice_client *c = sluice_client_connect(k->url, k->ns, err);
    if (!c) return NULL;
    if (sluice_client_set_timeout(c, CONSOLE_REDIS_MS, err) < 0 || sluice_client_set_name(c, k->actor, err) < 0) {
        sluice_client_free(c);
        return NULL;
    }
    return k->c = c;
}

/* ------------------------------- replies ------------------------------- */

/* Queues "body" (TAKES it) with the headers every answer carries. */
static enum MHD_Result send_bytes(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends a reply (TAKES its body). */
static enum MHD_Result send_reply(struct MHD_Connection *conn, console_reply rep) {
    char *text = rep.body ? json_dumps(rep.body, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(rep.body);
    if (!text) {
        static char oom[] = "{\"error\":\"out of memory\"}";
        return send_bytes(conn, 500, "application/json", oom, strlen(oom), MHD_RESPMEM_PERSISTENT);
    }
    return send_bytes(conn, rep.status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

/* -------------------------------- guard -------------------------------- */

/* 1 when a and b are equal, compared in a time that does not depend on
 * where they differ (only on the length). */
static int same_secret(const char *a, const char *b) {
    size_t n = strlen(a);
    if (n != strlen(b)) return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Checks an action's request. Returns 0, or -1 with *bad the 4xx reply. */
static int guard(console *k, struct MHD_Connection *conn, console_reply *bad) {
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    char self[300];
    snprintf(self, sizeof(self), "http://%s", host ? host : "");
    if (!k->token[0])
        *bad = console_error(403, "this console is read-only: start it with --token-file to allow actions");
    else if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !same_secret(auth + 7, k->token))
        *bad = console_error(401, "missing or wrong token (send it as Authorization: Bearer TOKEN)");
    else if ((origin && strcmp(origin, self) != 0) || (site && strcmp(site, "same-origin") && strcmp(site, "none")))
        *bad = console_error(403, "cross-site request refused");
    else if (!type || strncmp(type, "application/json", 16) != 0 || (type[16] && type[16] != ';'))
        *bad = console_error(415, "the body must be sent as Content-Type: application/json");
    else
        return 0;
    return -1;
}

/* ------------------------------- routes -------------------------------- */

/* POST /api/<route>: the guard, the body, the action. */
static console_reply post(console *k, struct MHD_Connection *conn, const char *route, const request *rq) {
    console_reply bad;
    if (rq->too_big) return console_error(413, "the body is over %d bytes", CONSOLE_BODY_MAX);
    if (guard(k, conn, &bad) < 0) return bad;
    json_error_t jerr;
    json_t *body = json_loadb(rq->body, rq->len, 0, &jerr);
    if (!body) return console_error(400, "the body is not JSON: %s", jerr.text);
    console_reply rep = console_action(k, route, body);
    json_decref(body);
    return rep;
}

/* 1 when the Host header names this console: its address, or localhost on
 * a loopback address (a page of another name that resolves here, DNS
 * rebinding, is refused); any Host when it listens on every address. */
static int host_ok(const console *k, struct MHD_Connection *conn) {
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char *port = strrchr(k->host, ':');
    if (!k->host[0]) return 1;
    if (!host) return 0;
    if (!strcmp(host, k->host)) return 1;
    return !strncmp(k->host, "127.", 4) && !strncmp(host, "localhost", 9) && port && !strcmp(host + 9, port);
}

/* Answers a whole request. */
static enum MHD_Result route(console *k, struct MHD_Connection *conn, const char *url, const char *method,
                             const request *rq) {
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!host_ok(k, conn))
        return send_reply(conn, console_error(403, "the Host header does not name this console (%s)", k->host));
    if (strstr(url, "..") || strchr(url, '\\'))
        return send_reply(conn, console_error(400, "path traversal refused: %.100s", url));
    if (!strncmp(url, "/api/", 5)) {
        const char *r = url + 5;
        int is_get = !strcmp(r, "state") || !strcmp(r, "explain");
        if (is_get != get || (!get && strcmp(method, "POST")))
            return send_reply(conn, console_error(405, "%s is not allowed on %.100s (%s)", method, url,
                                                  is_get ? "GET" : "POST with a JSON body"));
        if (!strcmp(r, "state")) return send_reply(conn, console_state(k));
        if (!strcmp(r, "explain"))
            return send_reply(conn, console_explain(k, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id")));
        return send_reply(conn, post(k, conn, r, rq));
    }
    if (!get) return send_reply(conn, console_error(405, "%s is not allowed on %.100s (GET)", method, url));
    const unsigned char *data;
    size_t len;
    const char *type;
    if (console_asset(url, &data, &len, &type) < 0)
        return send_reply(conn, console_error(404, "no page %.100s (the console is at /)", url));
    return send_bytes(conn, 200, type, (void *)data, len, MHD_RESPMEM_PERSISTENT);
}

/* libmicrohttpd's request callback: first the headers (a request is
 * allocated, *con_cls, freed by completed), then the body in pieces (kept up
 * to CONSOLE_BODY_MAX bytes, the rest noted and dropped), then the answer. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    request *rq = *con_cls;
    if (!rq) { /* the headers: wait for the body */
        if (!(rq = calloc(1, sizeof(*rq)))) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        if (rq->len + n > CONSOLE_BODY_MAX) rq->too_big = 1;
        if (!rq->too_big) memcpy(rq->body + rq->len, upload, n);
        if (!rq->too_big) rq->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    return route(cls, conn, url, method, rq);
}

/* libmicrohttpd's end of a request: frees what handle allocated. */
static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Opens a listening TCP socket on host:port (IPv4) into *fd; *port gets
 * the port bound (port 0 takes a free one). Returns EXIT_OK, or the exit
 * code after printing why. */
static int listen_on(const char *host, int *port, int *fd) {
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)*port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return ctl_usage("console", "--listen: '%s' is not an IPv4 address", host);
    int one = 1;
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(*fd, 64) < 0 ||
        getsockname(*fd, (struct sockaddr *)&sin, &len) < 0) {
        int code = ctl_fail(EXIT_RUNTIME, "console: cannot listen on %s:%d: %s", host, *port, strerror(errno));
        if (*fd >= 0) close(*fd);
        return code;
    }
    *port = ntohs(sin.sin_port);
    return EXIT_OK;
}

int console_serve(console *k, const char *host, int port) {
    int fd = -1, code = listen_on(host, &port, &fd);
    if (code != EXIT_OK) return code;
    if (strcmp(host, "0.0.0.0") != 0) snprintf(k->host, sizeof(k->host), "%s:%d", host, port);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* the HTTP thread inherits it; sigwait below takes them */
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, k, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        close(fd);
        return ctl_fail(EXIT_RUNTIME, "console: cannot serve on %s:%d", host, port);
    }
    printf("console: http://%s:%d/%s\n", host, port, k->token[0] ? "" : " (read-only: no --token-file)");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d); /* closes the socket */
    return EXIT_OK;
}
