/* sluicectl enqueue, job show|cancel and explain: one job, from creation to
 * "why is it waiting". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

/* Reads all of stdin, at most SLUICE_PAYLOAD_HARD_MAX + 1 bytes so that an
 * oversize payload is detected rather than truncated. NEW, or NULL. */
static char *read_stdin(size_t *len) {
    size_t cap = SLUICE_PAYLOAD_HARD_MAX + 2;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    *len = fread(buf, 1, cap - 1, stdin);
    buf[*len] = '\0';
    return buf;
}

int cmd_enqueue(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--delay", 1, NULL},        {"--run-at", 1, NULL},        {"--priority", 1, NULL},
                      {"--unique", 1, NULL},       {"--max-attempts", 1, NULL},  {"--timeout", 1, NULL},
                      {"--cost", 1, NULL},         {"--key", 1, NULL},           {"--start-by", 1, NULL},
                      {"--start-within", 1, NULL}, {"--wait-replicas", 1, NULL}, {"--wait-timeout", 1, NULL}};
    const char *pos[2];
    int npos, code = EXIT_OK;
    const char *cmd = "enqueue";
    if (ctl_args(cmd, argc, argv, opts, NOPTS(opts), pos, 2, &npos) < 0) return EXIT_USAGE;
    if (npos < 1) return ctl_usage(cmd, "needs a CLASS");
    sluice_error err;
    if (sluice_name_check(pos[0], &err) < 0) return ctl_usage(cmd, "invalid class name '%s'", pos[0]);
    sluice_enqueue_opts o = {0};
    int64_t v;
    if (opts[0].val) {
        if (sluice_parse_duration(opts[0].val, 31536000000LL, &o.delay_ms, NULL) < 0)
            return ctl_usage(cmd, "--delay: invalid duration '%s' (use e.g. 500ms, 30s, 15m, 2h, 1d)", opts[0].val);
    }
    if (opts[1].val) {
        if (sluice_parse_time(opts[1].val, &o.run_at_ms, &err) < 0) return ctl_usage(cmd, "--run-at: %s", err.text);
        if (opts[0].val) return ctl_usage(cmd, "--delay and --run-at exclude each other");
    }
    if (opts[2].val) {
        if (sluice_parse_int(opts[2].val, -SLUICE_PRIORITY_MAX, SLUICE_PRIORITY_MAX, &v, NULL) < 0)
            return ctl_usage(cmd, "--priority: invalid integer '%s' (-1000..1000)", opts[2].val);
        o.priority = (int)v;
    }
    if (opts[3].val) {
        if (!*opts[3].val || strlen(opts[3].val) > 256) return ctl_usage(cmd, "--unique: key must be 1..256 bytes");
        o.unique = opts[3].val;
    }
    if (opts[4].val) {
        if (sluice_parse_int(opts[4].val, 1, 1000, &v, NULL) < 0)
            return ctl_usage(cmd, "--max-attempts: invalid integer '%s' (1..1000)", opts[4].val);
        o.max_attempts = (int)v;
    }
    if (opts[5].val) {
        if (sluice_parse_duration(opts[5].val, 604800000, &o.timeout_ms, NULL) < 0 || o.timeout_ms < 1)
            return ctl_usage(cmd, "--timeout: invalid duration '%s' (1ms..7d)", opts[5].val);
    }
    if (opts[6].val) {
        if (sluice_parse_int(opts[6].val, 1, 1000000, &o.cost, NULL) < 0)
            return ctl_usage(cmd, "--cost: invalid integer '%s' (1..1000000)", opts[6].val);
    }
    if (opts[7].val) {
        if (sluice_key_check(opts[7].val, &err) < 0) return ctl_usage(cmd, "--key: %s", err.text);
        o.key = opts[7].val;
    }
    if (opts[8].val && sluice_parse_time(opts[8].val, &o.start_by_ms, &err) < 0)
        return ctl_usage(cmd, "--start-by: %s", err.text);
    if (opts[9].val) {
        if (sluice_parse_duration(opts[9].val, SLUICE_DELAY_MAX, &o.start_within_ms, NULL) < 0 || o.start_within_ms < 1)
            return ctl_usage(cmd, "--start-within: invalid duration '%s' (use e.g. 500ms, 30s, 15m, 2h, 1d)",
                             opts[9].val);
        if (opts[8].val) return ctl_usage(cmd, "--start-by and --start-within exclude each other");
    }
    if (opts[10].val && sluice_parse_int(opts[10].val, 1, SLUICE_REPLICAS_MAX, &v, NULL) < 0)
        return ctl_usage(cmd, "--wait-replicas: invalid integer '%s' (1..%d)", opts[10].val, SLUICE_REPLICAS_MAX);
    o.replicas = opts[10].val ? (int)v : 0;
    if (opts[11].val) {
        if (!opts[10].val) return ctl_usage(cmd, "--wait-timeout needs --wait-replicas");
        if (sluice_parse_duration(opts[11].val, SLUICE_REPLICAS_TIMEOUT_MAX, &o.replicas_timeout_ms, NULL) < 0 ||
            o.replicas_timeout_ms < 1)
            return ctl_usage(cmd, "--wait-timeout: invalid duration '%s' (1ms..60s)", opts[11].val);
    }
    char *payload = NULL;
    size_t len;
    if (npos == 2 && strcmp(pos[1], "-") != 0) {
        payload = strdup(pos[1]);
        len = payload ? strlen(payload) : 0;
    } else {
        payload = read_stdin(&len);
    }
    if (!payload) return ctl_fail(EXIT_RUNTIME, "out of memory");
    if (len > SLUICE_PAYLOAD_HARD_MAX) {
        free(payload);
        return ctl_usage(cmd, "payload is larger than %d bytes", SLUICE_PAYLOAD_HARD_MAX);
    }
    if (sluice_payload_check(payload, len, &err) < 0) {
        free(payload);
        return ctl_usage(cmd, "%s", err.text);
    }
    sluice_client *c = ctl_client(x, &code);
    if (!c) {
        free(payload);
        return code;
    }
    char id[SLUICE_ID_MAX];
    int rc = sluice_enqueue(c, pos[0], payload, &o, id, &err);
    free(payload);
    if (rc < 0 && err.code == SLUICE_ERR_UNKNOWN_CLASS) return ctl_fail(EXIT_NOTFOUND, "unknown class '%s'", pos[0]);
    if (rc < 0 && err.code != SLUICE_ERR_NOT_REPLICATED) return ctl_error(&err);
    printf("%s\n", id); /* enqueued, even when not confirmed */
    fflush(stdout);
    return rc < 0 ? ctl_error(&err) : EXIT_OK;
}

/* --------------------------------------------------------------- show */

/* Looks the job up; EXIT_NOTFOUND when it is gone. */
static int lookup(ctl *x, const char *cmd, const char *id, sluice_job_info *info) {
    int code = EXIT_OK;
    char cls[SLUICE_ID_MAX];
    sluice_error err;
    memset(info, 0, sizeof(*info));
    if (sluice_job_id_class(id, cls, &err) < 0) return ctl_usage(cmd, "invalid job id '%s' (CLASS:NUMBER)", id);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    if (sluice_job_get(c, id, info, &err) < 0) {
        if (err.code == SLUICE_ERR_ARGUMENT) return ctl_usage(cmd, "invalid job id '%s' (CLASS:NUMBER)", id);
        return ctl_error(&err);
    }
    if (info->state == SLUICE_JOB_UNKNOWN) {
        sluice_job_info_clear(info);
        return ctl_fail(EXIT_NOTFOUND, "job '%s' not found (done and not kept, or never was)", id);
    }
    return EXIT_OK;
}

/* A job as JSON. NEW. */
static json_t *job_json(const sluice_job_info *j) {
    char cls[SLUICE_ID_MAX] = "";
    sluice_job_id_class(j->id, cls, NULL);
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:o, s:i, s:o, s:s, s:s, s:s, s:o}", "id", j->id,
                     "class", cls, "state", sluice_job_state_name(j->state), "attempt", j->attempt, "max_attempts",
                     j->max_attempts, "priority", j->priority, "cost", (json_int_t)j->cost, "enqueued_at",
                     (json_int_t)j->enqueued_at, "at", (json_int_t)j->at, "start_by",
                     j->start_by > 0 ? json_integer(j->start_by) : json_null(), "reclaims", j->reclaims, "ahead",
                     j->ahead >= 0 ? json_integer(j->ahead) : json_null(), "reason", j->reason ? j->reason : "",
                     "unique", j->unique ? j->unique : "", "key", j->key ? j->key : "", "payload",
                     j->payload ? ctl_json_or_string(j->payload) : json_null());
}

static int job_show(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos;
    if (ctl_args("job show", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("job show", "needs a job ID");
    sluice_job_info j;
    int code = lookup(x, "job show", pos[0], &j);
    if (code != EXIT_OK) return code;
    json_t *o = job_json(&j);
    sluice_job_info_clear(&j);
    if (x->json) return ctl_json_print(o);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!strcmp(k, "start_by") && json_is_null(v)) {
            free(text);
            continue; /* shown only when the job has one */
        }
        if ((!strcmp(k, "enqueued_at") || !strcmp(k, "at") || !strcmp(k, "start_by")) && json_integer_value(v) > 0) {
            char tb[40];
            printf("%-12s %s\n", k, ctl_time(json_integer_value(v), tb, sizeof(tb)));
        } else {
            printf("%-12s %s\n", k, text ? text : json_string_value(v));
        }
        free(text);
    }
    json_decref(o);
    return EXIT_OK;
}

static int job_cancel(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("job cancel", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("job cancel", "needs a job ID");
    char cls[SLUICE_ID_MAX];
    sluice_error err;
    if (sluice_job_id_class(pos[0], cls, &err) < 0)
        return ctl_usage("job cancel", "invalid job id '%s' (CLASS:NUMBER)", pos[0]);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    if (sluice_job_cancel(c, pos[0], &err) < 0) {
        if (err.code == SLUICE_ERR_NOT_FOUND || err.code == SLUICE_ERR_UNKNOWN_CLASS)
            return ctl_fail(EXIT_NOTFOUND, "job '%s' not found", pos[0]);
        if (err.code == SLUICE_ERR_BUSY)
            return ctl_fail(EXIT_RUNTIME, "job '%s' is leased by a worker and cannot be cancelled", pos[0]);
        return ctl_error(&err);
    }
    printf("job %s cancelled\n", pos[0]);
    return EXIT_OK;
}

int cmd_job(ctl *x, int argc, char **argv) {
    if (argc < 1) return ctl_usage("job", "needs show or cancel");
    if (!strcmp(argv[0], "show")) return job_show(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "cancel")) return job_cancel(x, argc - 1, argv + 1);
    return ctl_usage("job", "unknown subcommand '%s' (show, cancel)", argv[0]);
}
