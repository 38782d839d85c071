/* sluicectl dead list|retry|purge: a class's dead set. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

static int known_class(ctl *x, const char *cmd, const char *cls, sluice_client **out) {
    int code = EXIT_OK;
    sluice_error err;
    if (sluice_name_check(cls, &err) < 0) return ctl_usage(cmd, "invalid class name '%s'", cls);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_class_config cfg;
    if (sluice_class_get(c, cls, &cfg, &err) < 0) {
        if (err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", cls);
        return ctl_error(&err);
    }
    *out = c;
    return EXIT_OK;
}

static int dead_list(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--offset", 1, NULL}, {"--count", 1, NULL}};
    const char *pos[1];
    int npos, code;
    const char *cmd = "dead list";
    if (ctl_args(cmd, argc, argv, opts, NOPTS(opts), pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage(cmd, "needs a CLASS");
    int64_t offset = 0, count = 20;
    if (opts[0].val && sluice_parse_int(opts[0].val, 0, 1000000000, &offset, NULL) < 0)
        return ctl_usage(cmd, "--offset: invalid integer '%s' (0 or more)", opts[0].val);
    if (opts[1].val && sluice_parse_int(opts[1].val, 1, 1000, &count, NULL) < 0)
        return ctl_usage(cmd, "--count: invalid integer '%s' (1..1000)", opts[1].val);
    sluice_client *c = NULL;
    if ((code = known_class(x, cmd, pos[0], &c)) != EXIT_OK) return code;
    sluice_error err;
    size_t n;
    sluice_job_info *d = sluice_dead_list(c, pos[0], (size_t)offset, (size_t)count, &n, &err);
    if (!d && err.code != SLUICE_OK) return ctl_error(&err);
    if (x->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(d[i].id));
            json_object_set_new(o, "died_at", json_integer(d[i].at));
            json_object_set_new(o, "attempt", json_integer(d[i].attempt));
            json_object_set_new(o, "reason", json_string(d[i].reason ? d[i].reason : ""));
            json_object_set_new(o, "payload", d[i].payload ? ctl_json_or_string(d[i].payload) : json_null());
            json_array_append_new(arr, o);
        }
        sluice_dead_list_free(d, n);
        return ctl_json_print(arr);
    }
    printf("%-28s %-24s %8s  %s\n", "ID", "DIED", "ATTEMPTS", "REASON");
    for (size_t i = 0; i < n; i++) {
        char tb[40];
        printf("%-28s %-24s %8d  %s\n", d[i].id, ctl_time(d[i].at, tb, sizeof(tb)), d[i].attempt,
               d[i].reason ? d[i].reason : "");
    }
    sluice_dead_list_free(d, n);
    return EXIT_OK;
}

static int dead_act(ctl *x, const char *verb, int argc, char **argv) {
    ctl_opt opts[] = {{"--all", 0, NULL}};
    const char *pos[2];
    int npos, code;
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "dead %s", verb);
    if (ctl_args(cmd, argc, argv, opts, NOPTS(opts), pos, 2, &npos) < 0) return EXIT_USAGE;
    if (npos < 1) return ctl_usage(cmd, "needs a CLASS");
    int all = opts[0].val != NULL;
    if (all == (npos == 2)) return ctl_usage(cmd, "needs a job ID or --all (not both)");
    sluice_error err;
    char idcls[SLUICE_ID_MAX];
    if (npos == 2 && (sluice_job_id_class(pos[1], idcls, &err) < 0 || strcmp(idcls, pos[0]) != 0))
        return ctl_usage(cmd, "invalid job id '%s' for class '%s'", pos[1], pos[0]);
    sluice_client *c = NULL;
    if ((code = known_class(x, cmd, pos[0], &c)) != EXIT_OK) return code;
    int64_t count = 0;
    const char *id = all ? NULL : pos[1];
    int rc = !strcmp(verb, "retry") ? sluice_dead_retry(c, pos[0], id, &count, &err)
                                    : sluice_dead_purge(c, pos[0], id, &count, &err);
    if (rc < 0) {
        if (err.code == SLUICE_ERR_NOT_FOUND) return ctl_fail(EXIT_NOTFOUND, "dead job '%s' not found", pos[1]);
        return ctl_error(&err);
    }
    printf("%s %lld dead job%s\n", !strcmp(verb, "retry") ? "retried" : "purged", (long long)count,
           count == 1 ? "" : "s");
    return EXIT_OK;
}

int cmd_dead(ctl *x, int argc, char **argv) {
    if (argc < 1) return ctl_usage("dead", "needs list, retry or purge");
    if (!strcmp(argv[0], "list")) return dead_list(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "retry") || !strcmp(argv[0], "purge")) return dead_act(x, argv[0], argc - 1, argv + 1);
    return ctl_usage("dead", "unknown subcommand '%s' (list, retry, purge)", argv[0]);
}
