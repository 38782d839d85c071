/* sluicectl check: the namespace's invariants (sluice/check.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define CHECK_LONG_TIMEOUT_MS 600000

static json_t *check_json(const sluice_check *k) {
    json_t *classes = json_array(), *problems = json_array();
    for (size_t i = 0; i < sluice_check_classes(k); i++) {
        int declared = 0;
        int64_t jobs = 0;
        const char *name = sluice_check_class(k, i, &declared, &jobs);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "declared", json_boolean(declared));
        json_object_set_new(o, "jobs", json_integer(jobs));
        json_array_append_new(classes, o);
    }
    for (size_t i = 0; i < sluice_check_count(k); i++) {
        const sluice_problem *p = sluice_check_problem(k, i);
        json_t *o = json_object();
        json_object_set_new(o, "class", p->cls[0] ? json_string(p->cls) : json_null());
        json_object_set_new(o, "code", json_string(p->code));
        json_object_set_new(o, "subject", json_string(p->subject));
        json_object_set_new(o, "detail", json_string(p->detail));
        json_array_append_new(problems, o);
    }
    json_t *v = json_object();
    json_object_set_new(v, "consistent", json_boolean(sluice_check_count(k) == 0));
    json_object_set_new(v, "classes", classes);
    json_object_set_new(v, "problems", problems);
    return v;
}

static void check_print(const sluice_check *k) {
    int64_t jobs = 0;
    for (size_t i = 0; i < sluice_check_classes(k); i++) {
        int64_t n = 0;
        sluice_check_class(k, i, NULL, &n);
        jobs += n;
    }
    for (size_t i = 0; i < sluice_check_count(k); i++) {
        const sluice_problem *p = sluice_check_problem(k, i);
        if (p->cls[0]) printf("class %s: %s %s (%s)\n", p->cls, p->subject, p->detail, p->code);
        else printf("global: %s %s (%s)\n", p->subject, p->detail, p->code);
    }
    size_t n = sluice_check_count(k), nc = sluice_check_classes(k);
    printf("checked %zu class%s and %lld job%s: ", nc, nc == 1 ? "" : "es", (long long)jobs, jobs == 1 ? "" : "s");
    if (n == 0) printf("consistent\n");
    else printf("%zu problem%s\n", n, n == 1 ? "" : "s");
}

/* Checks the classes pos[0..npos) (none: every registered class). */
static int check_run(ctl *x, const ctl_opt *opts, const char **pos, int npos) {
    const char *cmd = "check";
    int code = EXIT_OK;
    int64_t max_jobs = SLUICE_CHECK_MAX_JOBS;
    if (opts[0].val && opts[1].val) return ctl_usage(cmd, "--max-jobs and --force exclude each other");
    if (opts[0].val && sluice_parse_int(opts[0].val, 1, INT64_MAX, &max_jobs, NULL) < 0)
        return ctl_usage(cmd, "--max-jobs: invalid integer '%s' (1 or more)", opts[0].val);
    if (opts[1].val) max_jobs = INT64_MAX;
    sluice_error err;
    for (int i = 0; i < npos; i++)
        if (sluice_name_check(pos[i], &err) < 0) return ctl_usage(cmd, "invalid class name '%s'", pos[i]);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    /* a larger class blocks Redis, and waits for it, for longer */
    if (max_jobs > SLUICE_CHECK_MAX_JOBS && sluice_client_set_timeout(c, CHECK_LONG_TIMEOUT_MS, &err) < 0)
        return ctl_error(&err);
    sluice_check *k = sluice_namespace_check(c, pos, (size_t)npos, max_jobs, &err);
    if (!k) {
        if (err.code == SLUICE_ERR_STATE) return ctl_fail(EXIT_RUNTIME, "%s (raise --max-jobs, or --force)", err.text);
        return ctl_error(&err);
    }
    /* a named class that is not declared, registered, nor holding jobs is unknown */
    for (size_t i = 0; i < (size_t)npos; i++) {
        int declared = 0;
        int64_t jobs = 0;
        const char *name = sluice_check_class(k, i, &declared, &jobs);
        int mentioned = 0;
        for (size_t j = 0; j < sluice_check_count(k); j++) mentioned |= !strcmp(sluice_check_problem(k, j)->cls, name);
        if (!declared && jobs == 0 && !mentioned) {
            sluice_check_free(k);
            return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", pos[i]);
        }
    }
    code = sluice_check_count(k) == 0 ? EXIT_OK : EXIT_RUNTIME;
    if (x->json) ctl_json_print(check_json(k));
    else check_print(k);
    sluice_check_free(k);
    return code;
}

int cmd_check(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--max-jobs", 1, NULL}, {"--force", 0, NULL}};
    const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos) return ctl_fail(EXIT_RUNTIME, "out of memory");
    int npos;
    int code = ctl_args("check", argc, argv, opts, NOPTS(opts), pos, argc, &npos) < 0 ? EXIT_USAGE
                                                                                     : check_run(x, opts, pos, npos);
    free(pos);
    return code;
}
