/* sluicectl audit: who changed what, when. */
#include <stdio.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

int cmd_audit(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--class", 1, NULL}, {"--count", 1, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("audit", argc, argv, opts, NOPTS(opts), pos, 0, &npos) < 0) return EXIT_USAGE;
    int64_t count = 20;
    if (opts[1].val && sluice_parse_int(opts[1].val, 1, 10000, &count, NULL) < 0)
        return ctl_usage("audit", "--count: invalid integer '%s' (1..10000)", opts[1].val);
    sluice_error err;
    const char *cls = opts[0].val;
    if (cls && sluice_name_check(cls, &err) < 0) return ctl_usage("audit", "invalid class name '%s'", cls);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    if (cls) {
        /* a deleted class keeps its audit stream; only a never-seen one is unknown */
        sluice_class_config cfg;
        size_t probe = 0;
        if (sluice_class_get(c, cls, &cfg, &err) < 0) {
            if (err.code != SLUICE_ERR_UNKNOWN_CLASS) return ctl_error(&err);
            sluice_audit_entry *p = sluice_audit_list(c, cls, 1, &probe, &err);
            sluice_audit_list_free(p, probe);
            if (probe == 0) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", cls);
        }
    }
    size_t n;
    sluice_audit_entry *e = sluice_audit_list(c, cls, (size_t)count, &n, &err);
    if (!e && err.code != SLUICE_OK) return ctl_error(&err);
    if (x->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(e[i].id));
            json_object_set_new(o, "at", json_integer(e[i].at));
            json_object_set_new(o, "class", e[i].cls[0] ? json_string(e[i].cls) : json_null());
            json_object_set_new(o, "actor", json_string(e[i].actor));
            json_object_set_new(o, "what", json_string(e[i].what));
            json_object_set_new(o, "detail", json_string(e[i].detail));
            json_array_append_new(arr, o);
        }
        sluice_audit_list_free(e, n);
        return ctl_json_print(arr);
    }
    printf("%-24s %-16s %-32s %-18s %s\n", "TIME", "CLASS", "ACTOR", "WHAT", "DETAIL");
    for (size_t i = 0; i < n; i++) {
        char tb[40];
        printf("%-24s %-16s %-32s %-18s %s\n", ctl_time(e[i].at, tb, sizeof(tb)), e[i].cls[0] ? e[i].cls : "-",
               e[i].actor[0] ? e[i].actor : "-", e[i].what, e[i].detail);
    }
    sluice_audit_list_free(e, n);
    return EXIT_OK;
}
