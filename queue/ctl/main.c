/* sluicectl: the operator CLI of sluice. Parses the global options and
 * dispatches to the command groups. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static const struct {
    const char *name;
    int (*fn)(ctl *x, int argc, char **argv);
} COMMANDS[] = {
    {"status", cmd_status},     {"top", cmd_top},           {"class", cmd_class},     {"pause", cmd_pause},
    {"resume", cmd_resume},     {"pin", cmd_pin},           {"unpin", cmd_unpin},     {"signal", cmd_signal},
    {"governor", cmd_governor}, {"enqueue", cmd_enqueue},   {"job", cmd_job},         {"explain", cmd_explain},
    {"dead", cmd_dead},         {"apply", cmd_apply},       {"export", cmd_export},   {"audit", cmd_audit},
    {"check", cmd_check},       {"simulate", cmd_simulate}, {"console", cmd_console},
};

/* "sluicectl:<user>@<host>", cut to [A-Za-z0-9_.:@-] and 64 bytes. */
static void client_name(char *buf, size_t len) {
    const char *user = getenv("USER");
    struct passwd *pw = NULL;
    if (!user || !*user) pw = getpwuid(getuid());
    if (pw && pw->pw_name) user = pw->pw_name;
    if (!user || !*user) user = "unknown";
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !*host) snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    char raw[400];
    snprintf(raw, sizeof(raw), "sluicectl:%s@%s", user, host);
    size_t j = 0;
    for (size_t i = 0; raw[i] && j + 1 < len && j < 64; i++) {
        char ch = raw[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 strchr("_.:@-", ch) != NULL;
        buf[j++] = ok ? ch : '_';
    }
    buf[j] = '\0';
}

sluice_client *ctl_client(ctl *x, int *code) {
    if (x->client) return x->client;
    sluice_error err;
    x->client = sluice_client_connect(x->url, x->ns, &err);
    if (!x->client) {
        *code = ctl_error(&err);
        return NULL;
    }
    char name[80];
    client_name(name, sizeof(name));
    if (sluice_client_set_name(x->client, name, &err) < 0) {
        *code = ctl_error(&err);
        sluice_client_free(x->client);
        x->client = NULL;
        return NULL;
    }
    return x->client;
}

static int help_for(int argc, char **argv) {
    if (argc >= 2) {
        char key[128];
        snprintf(key, sizeof(key), "%s %s", argv[0], argv[1]);
        if (ctl_help(key) == 0) return EXIT_OK;
    }
    if (argc >= 1 && ctl_help(argv[0]) == 0) return EXIT_OK;
    if (argc >= 1) return ctl_fail(EXIT_USAGE, "unknown command '%s' (see sluicectl --help)", argv[0]);
    ctl_help("");
    return EXIT_OK;
}

int main(int argc, char **argv) {
    ctl x = {0};
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    if (!rest) return ctl_fail(EXIT_RUNTIME, "out of memory");
    int n = 0, code = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--redis") || !strcmp(a, "--namespace")) {
            if (i + 1 >= argc) {
                free(rest);
                return ctl_fail(EXIT_USAGE, "%s needs a value", a);
            }
            if (a[2] == 'r')
                x.url = argv[++i];
            else
                x.ns = argv[++i];
        } else if (!strncmp(a, "--redis=", 8)) {
            x.url = a + 8;
        } else if (!strncmp(a, "--namespace=", 12)) {
            x.ns = a + 12;
        } else if (!strcmp(a, "--json")) {
            x.json = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            x.help = 1;
        } else {
            rest[n++] = argv[i];
        }
    }
    if (x.help) {
        code = help_for(n, rest);
    } else if (n == 0) {
        code = ctl_fail(EXIT_USAGE, "no command given (see sluicectl --help)");
    } else {
        size_t k = 0, nc = sizeof(COMMANDS) / sizeof(COMMANDS[0]);
        while (k < nc && strcmp(COMMANDS[k].name, rest[0])) k++;
        if (k == nc)
            code = ctl_fail(EXIT_USAGE, "unknown command '%s' (see sluicectl --help)", rest[0]);
        else
            code = COMMANDS[k].fn(&x, n - 1, rest + 1);
    }
    if (fflush(stdout) != 0 && code == EXIT_OK) code = EXIT_RUNTIME;
    sluice_client_free(x.client);
    free(rest);
    return code;
}
