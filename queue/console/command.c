/* sluicectl console: its options (where it listens, the token that allows
 * actions, the name they are audited under), then the server. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

/* Reads the token: the file's first line, 16..255 printable bytes without
 * spaces. Returns 0, or prints the problem and returns -1. */
static int read_token(const char *path, char *token, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f) return ctl_usage("console", "--token-file: cannot read '%s'", path), -1;
    size_t n = fread(token, 1, len - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    token[n] = '\0';
    token[strcspn(token, "\r\n")] = '\0';
    n = strlen(token);
    int ok = n >= 16 && (!more || n < len - 1);
    for (size_t i = 0; ok && i < n; i++) ok = isgraph((unsigned char)token[i]) != 0;
    if (!ok) {
        memset(token, 0, len);
        return ctl_usage("console", "--token-file: the token must be one line of 16..%zu printable bytes, no spaces",
                         len - 1),
               -1;
    }
    return 0;
}

/* Splits "HOST:PORT" (HOST an IPv4 address, or localhost). Returns 0, or
 * prints the problem and returns -1. */
static int parse_listen(const char *s, char *host, size_t len, int *port) {
    const char *colon = strrchr(s, ':');
    int64_t p = 0;
    if (!colon || colon == s || (size_t)(colon - s) >= len || sluice_parse_int(colon + 1, 0, 65535, &p, NULL) < 0)
        return ctl_usage("console", "--listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:8080)", s), -1;
    snprintf(host, len, "%.*s", (int)(colon - s), s);
    if (!strcmp(host, "localhost")) snprintf(host, len, "127.0.0.1");
    *port = (int)p;
    return 0;
}

/* "console:<user>", the actor of the console's audit entries, from --user
 * or $USER. Returns 0, or prints the problem and returns -1. */
static int actor_name(const char *user, char *actor, size_t len) {
    if (!user) user = getenv("USER");
    if (!user || !*user) user = "unknown";
    int ok = strlen(user) <= 48;
    for (const char *p = user; ok && *p; p++) ok = isalnum((unsigned char)*p) || strchr("_.@-", *p);
    if (!ok) return ctl_usage("console", "--user: '%s' must be 1..48 of [A-Za-z0-9_.@-]", user), -1;
    snprintf(actor, len, "console:%s", user);
    return 0;
}

int cmd_console(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--listen", 1, NULL}, {"--token-file", 1, NULL}, {"--user", 1, NULL}};
    const char *pos[1];
    int npos, port = 0;
    if (ctl_args("console", argc, argv, opts, NOPTS(opts), pos, 0, &npos) < 0) return EXIT_USAGE;
    console k;
    memset(&k, 0, sizeof(k));
    k.url = x->url;
    k.ns = x->ns;
    char host[64];
    if (parse_listen(opts[0].val ? opts[0].val : "127.0.0.1:8080", host, sizeof(host), &port) < 0 ||
        actor_name(opts[2].val, k.actor, sizeof(k.actor)) < 0 ||
        (opts[1].val && read_token(opts[1].val, k.token, sizeof(k.token)) < 0))
        return EXIT_USAGE;
    if (strncmp(host, "127.", 4) != 0 && !k.token[0])
        fprintf(stderr,
                "sluicectl: console: warning: listening on %s without --token-file: anyone who reaches it "
                "sees every queue (actions stay off)\n",
                host);
    if (!(k.history = console_history_new())) return ctl_fail(EXIT_RUNTIME, "out of memory");
    int code = console_serve(&k, host, port);
    console_history_free(k.history);
    sluice_client_free(k.c);
    memset(k.token, 0, sizeof(k.token));
    return code;
}
