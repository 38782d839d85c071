/* Least privilege: a real redis-server started with the shipped aclfile
 * (scripts/acl/sluice.acl, whose example passwords are "<role>-example-
 * CHANGE-ME"). Each role is refused (NOPERM) what it must not do, and the
 * library works with its credentials for what it may do. No secret appears
 * in an error message or in sluicectl's output. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common_proc.h"
#include "function_calls.h"

#define NS "sluice" /* the aclfile's key patterns name the default namespace */
#define CLS "certs"

static char aclfile[PATH_MAX];
static char acl_with_admin[PATH_MAX]; /* the shipped file and a test-only admin */
static char ctl_bin[4096] = "build/bin/sluicectl";

typedef enum role { PRODUCER, WORKER, GOVERNOR, OPERATOR, DEPLOY, NROLES } role;
static const char *const ROLE[NROLES] = {"producer", "worker", "governor", "operator", "deploy"};

/* ------------------------------------------------------------ helpers */

static const char *password(role r) {
    static char buf[NROLES][64];
    snprintf(buf[r], sizeof(buf[r]), "%s-example-CHANGE-ME", ROLE[r]);
    return buf[r];
}

/* redis://sluice-<role>:<password>@127.0.0.1:<port>, in one of 8 buffers. */
static const char *role_url(void **state, role r) {
    static char buf[8][256];
    static int next;
    harness_redis *h = *state;
    char *u = buf[next++ % 8];
    snprintf(u, sizeof(buf[0]), "redis://sluice-%s:%s@127.0.0.1:%d", ROLE[r], password(r), h->port);
    return u;
}

static sluice_client *connect_as(void **state, role r) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(role_url(state, r), NS, &err);
    if (!c) fail_msg("connect as %s: %s", ROLE[r], err.text);
    return c;
}

/* A plain hiredis link authenticated as the role. */
static redisContext *raw_as(void **state, role r) {
    harness_redis *h = *state;
    redisContext *ctx = redisConnect("127.0.0.1", h->port);
    if (!ctx || ctx->err) fail_msg("raw connect");
    char user[32];
    snprintf(user, sizeof(user), "sluice-%s", ROLE[r]);
    redisReply *rep = redisCommand(ctx, "AUTH %s %s", user, password(r));
    if (!rep || rep->type != REDIS_REPLY_STATUS) fail_msg("AUTH as %s: %s", user, rep ? rep->str : ctx->errstr);
    freeReplyObject(rep);
    return ctx;
}

static int is_noperm(const redisReply *rep) {
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOPERM", 6) == 0;
}

/* The library's refusal: a server error naming NOPERM, and no password. */
static void assert_lib_noperm(int rc, const sluice_error *err, role r, const char *what) {
    if (rc == 0) fail_msg("%s as %s was allowed", what, ROLE[r]);
    if (err->code != SLUICE_ERR_SERVER || !strstr(err->text, "NOPERM"))
        fail_msg("%s as %s: expected a NOPERM server error, got %s: %s", what, ROLE[r], sluice_error_name(err->code),
                 err->text);
    assert_null(strstr(err->text, password(r)));
}

static void assert_lib_ok(int rc, const sluice_error *err, role r, const char *what) {
    if (rc != 0) fail_msg("%s as %s: %s", what, ROLE[r], err->text);
}

static const char *functions_source(void) {
    return sluice_functions_source();
}

/* ------------------------------------------------------------- groups */

/* A server started with "file" as its aclfile, kept in *state. */
static int start_with_aclfile(void **state, const char *file) {
    harness_redis *h = calloc(1, sizeof(*h));
    if (!h) return -1;
    static const char *extra[3];
    extra[0] = "--aclfile";
    extra[1] = file;
    extra[2] = NULL;
    h->extra = extra;
    if (harness_redis_start(h) < 0) {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int start_with_acl(void **state) {
    return start_with_aclfile(state, aclfile);
}

/* A server with the library loaded (by the deploy role) and one class. */
static int loaded_setup(void **state) {
    if (start_with_acl(state) < 0) return -1;
    sluice_client *c = connect_as(state, DEPLOY);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_LOW;
    cfg.max_concurrency = 100;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    sluice_error err;
    int rc = sluice_class_set(c, CLS, &cfg, NULL, &err);
    sluice_client_free(c);
    return rc;
}

/* ------------------------------------------- the library is not loaded */

static void without_the_functions_every_role_but_deploy_gets_a_noperm_server_error(void **state) {
    for (role r = PRODUCER; r < DEPLOY; r++) {
        sluice_error err;
        sluice_client *c = sluice_client_connect(role_url(state, r), NS, &err);
        if (c) fail_msg("%s connected and so loaded the Functions", ROLE[r]);
        assert_lib_noperm(-1, &err, r, "loading the Functions");
        assert_non_null(strstr(err.text, "function"));
    }
    /* and nothing was loaded on the way */
    redisContext *ctx = raw_as(state, DEPLOY);
    redisReply *rep = redisCommand(ctx, "FUNCTION LIST LIBRARYNAME sluice");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);
    redisFree(ctx);
    /* deploy may load it; then the others connect */
    sluice_client_free(connect_as(state, DEPLOY));
    for (role r = PRODUCER; r < DEPLOY; r++) sluice_client_free(connect_as(state, r));
}

static void the_default_user_is_off(void **state) {
    harness_redis *h = *state;
    redisContext *ctx = redisConnect("127.0.0.1", h->port);
    assert_true(ctx && !ctx->err);
    redisReply *rep = redisCommand(ctx, "PING");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(rep->str, "NOAUTH"));
    freeReplyObject(rep);
    rep = redisCommand(ctx, "AUTH default %s", "");
    assert_true(rep && rep->type == REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    redisFree(ctx);
    sluice_error err;
    sluice_client *c = sluice_client_connect(((harness_redis *)*state)->tcp_url, NS, &err);
    assert_null(c);
    assert_int_equal(err.code, SLUICE_ERR_AUTH);
}

/* ------------------------------------------------- forbidden commands */

typedef struct forbidden {
    const char *argv[8];
    int deploy_may; /* the admin role may run it */
} forbidden;

static void every_role_is_refused_admin_and_raw_commands(void **state) {
    const forbidden ops[] = {
        {{"FLUSHALL"}, 0},
        {{"FLUSHDB"}, 0},
        {{"CONFIG", "SET", "maxmemory", "1"}, 0},
        {{"CONFIG", "GET", "requirepass"}, 0},
        {{"EVAL", "return 1", "0"}, 0},
        {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}, 0},
        {{"SCRIPT", "FLUSH"}, 0},
        {{"FUNCTION", "LOAD", "REPLACE", "<source>"}, 1},
        {{"FUNCTION", "DELETE", "nosuchlib"}, 1},
        {{"FUNCTION", "FLUSH"}, 0},
        {{"DEL", "sluice:{" CLS "}:ready"}, 1},
        {{"SET", "sluice:{" CLS "}:x", "1"}, 0},
        {{"GET", "sluice:{" CLS "}:class"}, 0},
        {{"KEYS", "*"}, 0},
        {{"SCAN", "0"}, 0},
        {{"ACL", "SETUSER", "mallory", "on", ">pw", "+@all", "~*"}, 0},
        {{"ACL", "LIST"}, 0},
        {{"CLIENT", "LIST"}, 0},
        {{"BGSAVE"}, 0},
        {{"MONITOR"}, 0},
        {{"MODULE", "LIST"}, 0},
        {{"SHUTDOWN", "NOSAVE"}, 0},
        {{"HSET", "unrelated:key", "f", "v"}, 0},
    };
    for (role r = PRODUCER; r < NROLES; r++) {
        redisContext *ctx = raw_as(state, r);
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            if (r == DEPLOY && ops[i].deploy_may) continue;
            const char *argv[8];
            int argc = 0;
            for (; argc < 8 && ops[i].argv[argc]; argc++)
                argv[argc] = strcmp(ops[i].argv[argc], "<source>") ? ops[i].argv[argc] : functions_source();
            redisReply *rep = redisCommandArgv(ctx, argc, argv, NULL);
            if (!is_noperm(rep))
                fail_msg("%s as %s: expected NOPERM, got %s", ops[i].argv[0], ROLE[r],
                         rep ? (rep->str ? rep->str : "a non-error reply") : ctx->errstr);
            freeReplyObject(rep);
        }
        redisFree(ctx);
    }
}

static void producers_and_workers_cannot_write_class_config_or_gates_directly(void **state) {
    const role roles[] = {PRODUCER, WORKER, GOVERNOR};
    for (size_t k = 0; k < 3; k++) {
        redisContext *ctx = raw_as(state, roles[k]);
        redisReply *rep = redisCommand(ctx, "HSET sluice:{" CLS "}:class max_concurrency 1000000");
        if (!is_noperm(rep)) fail_msg("%s wrote the class config", ROLE[roles[k]]);
        freeReplyObject(rep);
        rep = redisCommand(ctx, "XADD sluice:{" CLS "}:audit * actor mallory what forged");
        if (!is_noperm(rep)) fail_msg("%s forged an audit entry", ROLE[roles[k]]);
        freeReplyObject(rep);
        rep = redisCommand(ctx, "HGET sluice:{_}:signals x");
        if (roles[k] != GOVERNOR && !is_noperm(rep)) fail_msg("%s read a global key", ROLE[roles[k]]);
        freeReplyObject(rep);
        redisFree(ctx);
    }
    redisContext *ctx = raw_as(state, PRODUCER);
    redisReply *rep = redisCommand(ctx, "HSET sluice:{" CLS "}:gate fraction 1");
    assert_true(is_noperm(rep));
    freeReplyObject(rep);
    redisFree(ctx);
}

/* The class's 15 keys, as a FCALL's text, each followed by a space. */
#define CLASS_KEY(suffix) "sluice:{" CLS "}:" suffix " "
#define CLASS_KEYS15                                                                                                   \
    CLASS_KEY("class")                                                                                                 \
    CLASS_KEY("gate")                                                                                                  \
    CLASS_KEY("ready")                                                                                                 \
    CLASS_KEY("delayed")                                                                                               \
    CLASS_KEY("leased")                                                                                                \
    CLASS_KEY("dead")                                                                                                  \
    CLASS_KEY("jobs")                                                                                                  \
    CLASS_KEY("meta")                                                                                                  \
    CLASS_KEY("unique")                                                                                                \
    CLASS_KEY("stats")                                                                                                 \
    CLASS_KEY("done")                                                                                                  \
    CLASS_KEY("audit")                                                                                                 \
    CLASS_KEY("bucket")                                                                                                \
    CLASS_KEY("deadlines")                                                                                             \
    CLASS_KEY("parked")

/* The deadlines: a producer adds them only through enqueue, the governor
 * reads them through sluice_deadline_view by FCALL_RO and writes none. */
static void deadlines_are_read_by_the_governor_read_only_and_written_only_through_functions(void **state) {
    sluice_client *p = connect_as(state, PRODUCER);
    sluice_error err;
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.start_within_ms = 3600000};
    assert_lib_ok(sluice_enqueue(p, CLS, "{}", &o, id, &err), &err, PRODUCER, "enqueue with a start_by");
    sluice_client_free(p);
    const role readers[] = {GOVERNOR, OPERATOR};
    for (size_t k = 0; k < 2; k++) {
        redisContext *ctx = raw_as(state, readers[k]);
        redisReply *rep = redisCommand(ctx, "FCALL_RO sluice_deadline_view 15 " CLASS_KEYS15 CLS " 10");
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 4)
            fail_msg("deadline view as %s: %s", ROLE[readers[k]], rep && rep->str ? rep->str : "no entry");
        freeReplyObject(rep);
        redisFree(ctx);
    }
    const struct {
        role r;
        const char *cmd;
    } refused[] = {
        {GOVERNOR, "ZADD sluice:{" CLS "}:deadlines 1 " CLS ":1"},
        {GOVERNOR, "ZREM sluice:{" CLS "}:deadlines x"},
        {PRODUCER, "ZREM sluice:{" CLS "}:deadlines x"},
        {PRODUCER, "ZRANGE sluice:{" CLS "}:deadlines 0 -1"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        redisContext *ctx = raw_as(state, refused[i].r);
        redisReply *rep = redisCommand(ctx, refused[i].cmd);
        if (!is_noperm(rep)) fail_msg("%s as %s was allowed", refused[i].cmd, ROLE[refused[i].r]);
        freeReplyObject(rep);
        redisFree(ctx);
    }
    sluice_client *g = connect_as(state, GOVERNOR);
    sluice_deadline_entry e[10];
    size_t n = 0;
    int64_t now = 0, total = 0;
    assert_lib_ok(sluice_deadline_view(g, CLS, 10, e, &n, &now, &total, &err), &err, GOVERNOR, "deadline view");
    assert_true(n >= 1);
    sluice_client_free(g);
}

static void a_worker_subscribes_to_ready_channels_only(void **state) {
    redisContext *ctx = raw_as(state, WORKER);
    redisReply *rep = redisCommand(ctx, "SUBSCRIBE sluice:{" CLS "}:ready");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    freeReplyObject(rep);
    redisFree(ctx);
    ctx = raw_as(state, WORKER);
    rep = redisCommand(ctx, "SUBSCRIBE __keyspace@0__:*");
    assert_true(is_noperm(rep));
    freeReplyObject(rep);
    rep = redisCommand(ctx, "PSUBSCRIBE *");
    assert_true(is_noperm(rep));
    freeReplyObject(rep);
    redisFree(ctx);
    ctx = raw_as(state, PRODUCER);
    rep = redisCommand(ctx, "SUBSCRIBE sluice:{" CLS "}:ready");
    assert_true(is_noperm(rep));
    freeReplyObject(rep);
    redisFree(ctx);
}

/* ------------------------------------------ Functions outside the role */

static void a_producer_may_enqueue_and_nothing_else(void **state) {
    sluice_client *c = connect_as(state, PRODUCER);
    sluice_error err;
    char id[SLUICE_ID_MAX];
    assert_lib_ok(sluice_enqueue(c, CLS, "{\"n\":1}", NULL, id, &err), &err, PRODUCER, "enqueue");
    const char *many[] = {"{\"n\":2}", "{\"n\":3}"};
    size_t done = 0;
    assert_lib_ok(sluice_enqueue_many(c, CLS, 2, many, NULL, 0, NULL, &done, &err), &err, PRODUCER, "enqueue many");
    assert_int_equal(done, 2);
    sluice_enqueue_opts later = {.delay_ms = 60000, .unique = "once"};
    assert_lib_ok(sluice_enqueue(c, CLS, "{}", &later, id, &err), &err, PRODUCER, "delayed unique enqueue");
    /* WAIT is the producer's: on this Redis without replicas it answers 0 */
    sluice_enqueue_opts confirmed = {.replicas = 1, .replicas_timeout_ms = 20};
    assert_int_equal(sluice_enqueue(c, CLS, "{}", &confirmed, id, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_NOT_REPLICATED);
    assert_non_null(strstr(err.text, "not confirmed on 1 replicas: 0 acknowledged"));

    sluice_job *jobs[4];
    sluice_claim_info info;
    assert_lib_noperm(sluice_claim(c, CLS, "p", 4, jobs, &info, &err), &err, PRODUCER, "claim");
    assert_lib_noperm(sluice_class_pause(c, CLS, 0, &err), &err, PRODUCER, "pause");
    assert_lib_noperm(sluice_gate_govern(c, CLS, 1, 1.0, 60000, "forged", 1, &err), &err, PRODUCER, "govern");
    assert_lib_noperm(sluice_signal_report(c, "rds_iops", 0.1, 0, &err), &err, PRODUCER, "signal report");
    assert_lib_noperm(sluice_job_cancel(c, id, &err), &err, PRODUCER, "cancel");
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = 1000000;
    assert_lib_noperm(sluice_class_set(c, CLS, &cfg, NULL, &err), &err, PRODUCER, "class set");
    sluice_client_free(c);
}

static void a_worker_claims_acks_fails_and_reads_its_gate(void **state) {
    sluice_client *p = connect_as(state, PRODUCER);
    sluice_error err;
    char id[SLUICE_ID_MAX];
    for (int i = 0; i < 3; i++)
        assert_lib_ok(sluice_enqueue(p, CLS, "{\"w\":1}", NULL, id, &err), &err, PRODUCER, "enqueue");
    sluice_client_free(p);

    sluice_client *c = connect_as(state, WORKER);
    sluice_job *jobs[3];
    sluice_claim_info info;
    assert_lib_ok(sluice_claim(c, CLS, "w1", 3, jobs, &info, &err), &err, WORKER, "claim");
    assert_int_equal(info.status, SLUICE_CLAIM_JOBS);
    assert_int_equal(info.count, 3);
    assert_lib_ok(sluice_ack(c, sluice_job_id(jobs[0]), sluice_job_token(jobs[0]), &err), &err, WORKER, "ack");
    int64_t retry = 0;
    assert_lib_ok(sluice_fail(c, sluice_job_id(jobs[1]), sluice_job_token(jobs[1]), "boom", &retry, &err), &err, WORKER,
                  "fail");
    int64_t deadline = 0;
    assert_lib_ok(sluice_extend(c, sluice_job_id(jobs[2]), sluice_job_token(jobs[2]), 60000, &deadline, &err), &err,
                  WORKER, "extend");
    assert_lib_ok(sluice_release(c, sluice_job_id(jobs[2]), sluice_job_token(jobs[2]), &err), &err, WORKER, "release");
    for (int i = 0; i < 3; i++) sluice_job_free(jobs[i]);
    sluice_gate_info gate;
    assert_lib_ok(sluice_gate_get(c, CLS, &gate, &err), &err, WORKER, "gate get");
    sluice_class_config cfg;
    assert_lib_ok(sluice_class_get(c, CLS, &cfg, &err), &err, WORKER, "class get");

    assert_lib_noperm(sluice_class_pause(c, CLS, 0, &err), &err, WORKER, "pause");
    assert_lib_noperm(sluice_signal_report(c, "rds_iops", 0.1, 0, &err), &err, WORKER, "signal report");
    assert_lib_noperm(sluice_class_set(c, CLS, &cfg, NULL, &err), &err, WORKER, "class set");
    sluice_client_free(c);
}

/* Under a per-key cap each role does its part with the shipped rights: the
 * worker's claims park the jobs of a key at its cap and its ack brings the
 * next back, the operator cancels a parked job and changes the cap, the
 * governor reads the counts (parked jobs among the ready). */
static void each_role_does_its_part_under_a_per_key_cap(void **state) {
    sluice_client *op = connect_as(state, OPERATOR);
    sluice_error err;
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_CRITICAL;
    cfg.max_concurrency_per_key = 1;
    assert_lib_ok(sluice_class_set(op, "capped", &cfg, NULL, &err), &err, OPERATOR, "class set");
    sluice_client *p = connect_as(state, PRODUCER);
    sluice_enqueue_opts o = {.key = "acme"};
    char id[3][SLUICE_ID_MAX];
    for (int i = 0; i < 3; i++)
        assert_lib_ok(sluice_enqueue(p, "capped", "{}", &o, id[i], &err), &err, PRODUCER, "enqueue");
    sluice_client_free(p);

    sluice_client *w = connect_as(state, WORKER);
    sluice_job *jobs[3];
    sluice_claim_info info;
    assert_lib_ok(sluice_claim(w, "capped", "w1", 3, jobs, &info, &err), &err, WORKER, "claim");
    assert_int_equal(info.count, 1); /* the other two parked */
    sluice_job *next;
    assert_lib_ok(sluice_claim(w, "capped", "w1", 1, &next, &info, &err), &err, WORKER, "claim");
    assert_int_equal(info.status, SLUICE_CLAIM_EMPTY);
    sluice_client *gov = connect_as(state, GOVERNOR);
    sluice_class_stats st;
    assert_lib_ok(sluice_class_stats_get(gov, "capped", &st, &err), &err, GOVERNOR, "stats");
    assert_int_equal(st.ready, 2);
    sluice_client_free(gov);
    assert_lib_ok(sluice_job_cancel(op, id[2], &err), &err, OPERATOR, "cancel a parked job");
    assert_lib_ok(sluice_ack(w, sluice_job_id(jobs[0]), sluice_job_token(jobs[0]), &err), &err, WORKER, "ack");
    sluice_job_free(jobs[0]);
    assert_lib_ok(sluice_claim(w, "capped", "w1", 3, jobs, &info, &err), &err, WORKER, "claim after the ack");
    assert_int_equal(info.count, 1);
    assert_string_equal(sluice_job_id(jobs[0]), id[1]);
    cfg.max_concurrency_per_key = 0;
    assert_lib_ok(sluice_class_set(op, "capped", &cfg, NULL, &err), &err, OPERATOR, "class set, no cap");
    assert_lib_ok(sluice_ack(w, sluice_job_id(jobs[0]), sluice_job_token(jobs[0]), &err), &err, WORKER, "ack");
    sluice_job_free(jobs[0]);
    sluice_client_free(w);
    sluice_client_free(op);
}

/* Redis does not roll back a Function that an ACL check stops halfway, so
 * the Functions write their audit entry first, and the rate limiter's state
 * lives in its own key: a worker holds no write on the gate at all. */
static void a_function_refused_to_a_worker_leaves_the_gate_unchanged(void **state) {
    sluice_client *c = connect_as(state, WORKER), *op = connect_as(state, OPERATOR);
    sluice_error err;
    sluice_gate_info gate;
    assert_lib_noperm(sluice_class_pause(c, CLS, 0, &err), &err, WORKER, "pause");
    assert_lib_noperm(sluice_class_pin(c, CLS, 0, 0, &err), &err, WORKER, "pin");
    assert_lib_noperm(sluice_gate_govern(c, CLS, 999999, 0, 60000, "hostile", 0, &err), &err, WORKER, "govern");
    assert_lib_ok(sluice_gate_get(op, CLS, &gate, &err), &err, OPERATOR, "gate get");
    assert_false(gate.paused);
    assert_false(gate.pinned);
    assert_int_not_equal(gate.epoch, 999999);
    sluice_client_free(c);
    sluice_client_free(op);
}

static void a_governor_reports_signals_and_ticks_the_gates(void **state) {
    sluice_client *op = connect_as(state, OPERATOR);
    sluice_error err;
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 0.7;
    def.critical = 0.9;
    assert_lib_ok(sluice_signal_define(op, "rds_iops", &def, NULL, &err), &err, OPERATOR, "signal define");

    sluice_client *c = connect_as(state, GOVERNOR);
    assert_lib_ok(sluice_signal_report(c, "rds_iops", 0.95, 0, &err), &err, GOVERNOR, "signal report");
    sluice_governor *g = sluice_governor_new(c, "acl-test:1", NULL, &err);
    if (!g) fail_msg("governor new: %s", err.text);
    sluice_governor_report rep;
    assert_lib_ok(sluice_governor_tick(g, &rep, &err), &err, GOVERNOR, "governor tick");
    assert_int_equal(rep.leader, 1);
    assert_true(rep.classes >= 1);
    sluice_governor_free(g);

    sluice_gate_info gate;
    assert_lib_ok(sluice_gate_get(op, CLS, &gate, &err), &err, OPERATOR, "gate get");
    assert_string_equal(gate.why, "governor");
    assert_true(gate.fraction < 1.0);

    assert_lib_noperm(sluice_class_pause(c, CLS, 0, &err), &err, GOVERNOR, "pause");
    assert_lib_noperm(sluice_signal_define(c, "other", &def, NULL, &err), &err, GOVERNOR, "signal define");
    assert_lib_noperm(sluice_governor_mode_set(c, SLUICE_GOVERNOR_SHADOW, &err), &err, GOVERNOR, "mode set");
    char id[SLUICE_ID_MAX];
    assert_lib_noperm(sluice_enqueue(c, CLS, "{}", NULL, id, &err), &err, GOVERNOR, "enqueue");
    sluice_job *jobs[1];
    sluice_claim_info info;
    assert_lib_noperm(sluice_claim(c, CLS, "g", 1, jobs, &info, &err), &err, GOVERNOR, "claim");
    sluice_client_free(c);
    sluice_client_free(op);
}

/* sluice-worker with the worker role's URL, and (when "governor" is not
 * NULL) SLUICE_GOVERNOR_REDIS_URL set to it; its stderr goes to "log". */
static pid_t worker_as(void **state, const char *governor, const char *cls, const char *log) {
    harness_redis *h = *state;
    char handler[128];
    snprintf(handler, sizeof(handler), "%s=/bin/true", cls);
    const char *args[] = {"--redis", role_url(state, WORKER), "--namespace", NS,          "--concurrency",
                          "4",       "--metrics-port",        "0",           "--handler", handler,
                          NULL};
    if (governor) setenv("SLUICE_GOVERNOR_REDIS_URL", governor, 1);
    pid_t pid = proc_worker(h, args, log);
    unsetenv("SLUICE_GOVERNOR_REDIS_URL");
    return pid;
}

/* A class of its own (floor 1: whatever earlier tests left the signals at,
 * its jobs run), "jobs" of them enqueued by the producer. */
static void worker_class(void **state, const char *cls, int jobs) {
    sluice_client *op = connect_as(state, OPERATOR), *p = connect_as(state, PRODUCER);
    sluice_error err;
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = SLUICE_TIER_NORMAL;
    cfg.max_concurrency = 10;
    cfg.floor = 1;
    assert_lib_ok(sluice_class_set(op, cls, &cfg, NULL, &err), &err, OPERATOR, "class set");
    char id[SLUICE_ID_MAX];
    for (int i = 0; i < jobs; i++)
        assert_lib_ok(sluice_enqueue(p, cls, "{}", NULL, id, &err), &err, PRODUCER, "enqueue");
    sluice_client_free(p);
    sluice_client_free(op);
}

/* The value of a sample ("name value" at a line start) in a scrape of the
 * worker's /metrics on "port", or -1. */
static double scraped(int port, const char *name) {
    char *resp = proc_http(port, "GET", "/metrics");
    double v = -1;
    char want[128];
    snprintf(want, sizeof(want), "\n%s ", name);
    const char *p = resp ? strstr(resp, want) : NULL;
    if (p) v = atof(p + strlen(want));
    free(resp);
    return v;
}

/* The job latency signal of the class has a value. */
static int latency_reported(sluice_client *op, const char *signal) {
    size_t n = 0;
    int reported = 0;
    sluice_signal_info *sig = sluice_signal_list(op, &n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        if (strcmp(sig[i].name, signal) == 0) reported = sig[i].has_value;
    sluice_signal_list_free(sig, n);
    return reported;
}

/* The deployment docs/security.md describes: sluice-worker claims with the
 * worker role and hosts the governor with the governor role. Jobs run, the
 * governor leads and writes the gate, and the worker's job latency reaches
 * its signal (a right of the governor role only). */
static void sluice_worker_runs_jobs_as_worker_and_governs_as_governor(void **state) {
    harness_redis *h = *state;
    worker_class(state, "aclgov", 20);
    sluice_client *op = connect_as(state, OPERATOR);
    sluice_error err;
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 10;
    def.critical = 20;
    assert_lib_ok(sluice_signal_define(op, "job_latency.aclgov", &def, NULL, &err), &err, OPERATOR, "signal define");
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/worker-governor-role.log", h->dir);
    pid_t pid = worker_as(state, role_url(state, GOVERNOR), "aclgov", log);
    test_wait_acked(op, "aclgov", 20, 20000, NULL);
    sluice_gate_info gate;
    WAIT_UNTIL(sluice_gate_get(op, "aclgov", &gate, &err) == 0 && strcmp(gate.why, "governor") == 0, 20000);
    assert_string_equal(gate.why, "governor");
    /* job latency is reported every 5 s */
    int reported = 0;
    WAIT_UNTIL((reported = latency_reported(op, "job_latency.aclgov")), 20000);
    /* /metrics reads with the governor role: every read succeeds, and the
     * class's counts are there (the governor reads counts, never payloads) */
    int port = proc_metrics_port(log);
    assert_true(port > 0);
    assert_true(scraped(port, "sluice_redis_up") == 1);
    assert_true(scraped(port, "sluice_class_ready{class=\"aclgov\"}") == 0);
    proc_stop(pid);
    char *text = proc_slurp(log);
    assert_true(reported);
    assert_null(strstr(text, "tick failed"));
    assert_non_null(strstr(text, "leading"));
    assert_null(strstr(text, password(WORKER)));
    assert_null(strstr(text, password(GOVERNOR)));
    free(text);
    sluice_client_free(op);
}

/* Without a governor URL the hosted governor has only the worker role's
 * rights: its ticks are refused (logged once, without the password) and
 * the jobs run all the same. */
static void with_the_worker_role_alone_the_governor_is_refused_and_jobs_still_run(void **state) {
    harness_redis *h = *state;
    worker_class(state, "aclnogov", 10);
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/worker-role-only.log", h->dir);
    pid_t pid = worker_as(state, NULL, "aclnogov", log);
    sluice_client *op = connect_as(state, OPERATOR);
    test_wait_acked(op, "aclnogov", 10, 20000, NULL);
    /* three refused ticks at least, for one line in the log */
    int port = proc_metrics_port(log);
    assert_true(port > 0);
    WAIT_UNTIL(scraped(port, "sluice_governor_tick_failures_total") >= 3, 20000);
    assert_true(scraped(port, "sluice_governor_tick_failures_total") >= 3);
    proc_stop(pid);
    char *text = proc_slurp(log);
    assert_int_equal(proc_count(text, "tick failed"), 1);
    assert_non_null(strstr(text, "NOPERM"));
    assert_null(strstr(text, password(WORKER)));
    free(text);
    sluice_client_free(op);
}

static void an_operator_tunes_pauses_and_reads_the_audit_but_cannot_delete(void **state) {
    sluice_client *c = connect_as(state, OPERATOR);
    sluice_error err;
    sluice_class_config cfg;
    assert_lib_ok(sluice_class_get(c, CLS, &cfg, &err), &err, OPERATOR, "class get");
    cfg.max_rate = 50;
    cfg.burst = 10;
    assert_lib_ok(sluice_class_set(c, CLS, &cfg, NULL, &err), &err, OPERATOR, "class set");
    assert_lib_ok(sluice_class_pause(c, CLS, 0, &err), &err, OPERATOR, "pause");
    assert_lib_ok(sluice_class_resume(c, CLS, &err), &err, OPERATOR, "resume");
    assert_lib_ok(sluice_class_pin(c, CLS, 0.5, 60000, &err), &err, OPERATOR, "pin");
    assert_lib_ok(sluice_class_unpin(c, CLS, &err), &err, OPERATOR, "unpin");
    size_t n = 0;
    sluice_audit_entry *a = sluice_audit_list(c, CLS, 10, &n, &err);
    if (!a) fail_msg("audit read: %s", err.text);
    assert_true(n >= 4);
    sluice_audit_list_free(a, n);
    a = sluice_audit_list(c, NULL, 10, &n, &err);
    if (!a) fail_msg("audit read (all): %s", err.text);
    sluice_audit_list_free(a, n);
    sluice_class_stats st;
    assert_lib_ok(sluice_class_stats_get(c, CLS, &st, &err), &err, OPERATOR, "stats");
    char **names = sluice_class_list(c, &n, &err);
    if (!names) fail_msg("class list: %s", err.text);
    sluice_class_list_free(names, n);
    sluice_job_info *dead = sluice_dead_list(c, CLS, 0, 10, &n, &err);
    assert_int_equal(err.code, SLUICE_OK);
    sluice_dead_list_free(dead, n);
    sluice_governor_status gs;
    assert_lib_ok(sluice_governor_status_get(c, &gs, &err), &err, OPERATOR, "governor status");
    assert_lib_ok(sluice_governor_mode_set(c, SLUICE_GOVERNOR_ENFORCE, &err), &err, OPERATOR, "governor mode");
    char **hist = sluice_governor_history_list(c, 5, &n, &err);
    assert_int_equal(err.code, SLUICE_OK);
    sluice_governor_history_free(hist, n);

    assert_lib_noperm(sluice_class_delete(c, CLS, 1, &err), &err, OPERATOR, "class delete");
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = 1;
    assert_lib_ok(sluice_class_set(c, "scratch", &cfg, NULL, &err), &err, OPERATOR, "class set");
    sluice_client_free(c);

    /* deleting is the deploy role's */
    c = connect_as(state, DEPLOY);
    assert_lib_ok(sluice_class_delete(c, "scratch", 1, &err), &err, DEPLOY, "class delete");
    sluice_client_free(c);
}

/* --------------------------------------------------------------- secrets */

static void a_wrong_password_fails_as_auth_without_echoing_it(void **state) {
    harness_redis *h = *state;
    char url[256];
    snprintf(url, sizeof(url), "redis://sluice-producer:Wr0ngButSecretPassw0rd@127.0.0.1:%d", h->port);
    sluice_error err;
    sluice_client *c = sluice_client_connect(url, NS, &err);
    assert_null(c);
    assert_int_equal(err.code, SLUICE_ERR_AUTH);
    assert_null(strstr(err.text, "Wr0ngButSecretPassw0rd"));
}

/* Runs sluicectl with SLUICE_REDIS_URL=url (no password on its command
 * line); returns the exit code and the output (stdout then stderr, NEW). */
static int run_ctl(const char *url, const char *const *args, char **output) {
    const char *argv[16] = {ctl_bin};
    int n = 1;
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    char url_var[512];
    snprintf(url_var, sizeof(url_var), "SLUICE_REDIS_URL=%s", url);
    const char *env[] = {url_var, "SLUICE_NAMESPACE=" NS, NULL};
    static char out[16384], err[16384];
    int code = proc_run(argv, env, NULL, out, sizeof(out), err, sizeof(err));
    size_t len = strlen(out) + strlen(err) + 1;
    *output = malloc(len);
    snprintf(*output, len, "%s%s", out, err);
    return code;
}

static void sluicectl_never_prints_the_password_from_sluice_redis_url(void **state) {
    if (access(ctl_bin, X_OK) != 0) skip();
    harness_redis *h = *state;
    char url[256];
    char *out;
    /* refused by ACL: a producer pausing */
    int code = run_ctl(role_url(state, PRODUCER), (const char *const[]){"pause", CLS, NULL}, &out);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "NOPERM"));
    assert_null(strstr(out, password(PRODUCER)));
    free(out);
    /* a wrong password */
    snprintf(url, sizeof(url), "redis://sluice-operator:Wr0ngButSecretPassw0rd@127.0.0.1:%d", h->port);
    code = run_ctl(url, (const char *const[]){"status", NULL}, &out);
    assert_int_equal(code, 1);
    assert_null(strstr(out, "Wr0ngButSecretPassw0rd"));
    free(out);
    /* allowed: the operator's status, with the password only in the environment */
    code = run_ctl(role_url(state, OPERATOR), (const char *const[]){"class", "get", CLS, "--json", NULL}, &out);
    if (code != 0) fail_msg("sluicectl class get as operator exited %d: %s", code, out);
    assert_null(strstr(out, password(OPERATOR)));
    free(out);
}

/* One host, no TLS: the unix socket's file permissions are the boundary.
 * The harness's socket is mode 700 in a mode-700 directory; another uid
 * cannot connect at all, whatever password it holds. Needs root to become
 * that other uid, else it is skipped. */
static void another_uid_cannot_reach_a_socket_with_mode_700(void **state) {
    if (geteuid() != 0) skip();
    harness_redis *h = *state;
    char url[512];
    snprintf(url, sizeof(url), "unix://sluice-operator:%s@%s", password(OPERATOR), h->sock);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        char verdict = 'x';
        if (setgid(65534) == 0 && setuid(65534) == 0) {
            sluice_error err;
            sluice_client *c = sluice_client_connect(url, NS, &err);
            verdict = c ? 'c'
                      : (err.code == SLUICE_ERR_UNREACHABLE && strstr(err.text, "ermission") &&
                         !strstr(err.text, password(OPERATOR)))
                          ? 'r'
                          : 'e';
            sluice_client_free(c);
        }
        if (write(pfd[1], &verdict, 1) != 1) _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    char verdict = 0;
    assert_int_equal(read(pfd[0], &verdict, 1), 1);
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    if (verdict != 'r') fail_msg("uid 65534 on a mode-700 socket: %c (r: refused, c: connected)", verdict);
    /* and the owner gets in with the same URL */
    sluice_error err;
    sluice_client *c = sluice_client_connect(url, NS, &err);
    if (!c) fail_msg("owner on the socket: %s", err.text);
    sluice_client_free(c);
}

/* ------------------------------------ refusals come before changes */

#define ADMIN_PASSWORD "test-admin-only"

static int start_with_admin(void **state) {
    return start_with_aclfile(state, acl_with_admin);
}

static redisContext *raw_admin(void **state) {
    harness_redis *h = *state;
    redisContext *ctx = redisConnect("127.0.0.1", h->port);
    if (!ctx || ctx->err) fail_msg("raw connect");
    redisReply *rep = redisCommand(ctx, "AUTH admin " ADMIN_PASSWORD);
    if (!rep || rep->type != REDIS_REPLY_STATUS) fail_msg("AUTH as admin");
    freeReplyObject(rep);
    return ctx;
}

/* Every key with its DUMP: a NEW string that any write changes. */
static char *snapshot(redisContext *rc) {
    char *s = redis_snapshot(rc);
    assert_non_null(s);
    return s;
}

/* A fresh namespace: class "k" with a ready, a leased and a dead job, the
 * signal "iops", the governor lease held by "gov-x" (epoch 1). */
static void fresh_state(void **state, redisContext *admin, fn_state *st) {
    freeReplyObject(redisCommand(admin, "FLUSHALL"));
    sluice_client *c = connect_as(state, DEPLOY);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = 10;
    cfg.max_rate = 1000; /* a claim writes the rate bucket too */
    cfg.on_expiry = SLUICE_EXPIRY_DEAD;
    sluice_error err;
    assert_lib_ok(sluice_class_set(c, "k", &cfg, NULL, &err), &err, DEPLOY, "class set");
    sluice_enqueue_opts once = {.max_attempts = 1};
    char id[SLUICE_ID_MAX];
    for (int i = 0; i < 3; i++) assert_lib_ok(sluice_enqueue(c, "k", "{}", &once, id, &err), &err, DEPLOY, "enqueue");
    sluice_job *j[2];
    sluice_claim_info info;
    sluice_client *w = connect_as(state, WORKER); /* a claim is a worker's */
    assert_lib_ok(sluice_claim(w, "k", "t", 2, j, &info, &err), &err, WORKER, "claim");
    assert_lib_ok(sluice_fail(w, sluice_job_id(j[0]), sluice_job_token(j[0]), "x", NULL, &err), &err, WORKER, "fail");
    sluice_client_free(w);
    st->cls = "k";
    snprintf(st->dead, sizeof(st->dead), "%s", sluice_job_id(j[0]));
    snprintf(st->leased, sizeof(st->leased), "%s", sluice_job_id(j[1]));
    snprintf(st->token, sizeof(st->token), "%lld", (long long)sluice_job_token(j[1]));
    snprintf(st->ready, sizeof(st->ready), "%s", id);
    sluice_job_free(j[0]);
    sluice_job_free(j[1]);
    /* a job past its start_by, which the next claim dead-letters: a claim's
     * first write is then the sweep's */
    sluice_enqueue_opts late = {.start_by_ms = test_redis_now(c) - 1000};
    char expired[SLUICE_ID_MAX];
    assert_lib_ok(sluice_enqueue(c, "k", "{}", &late, expired, &err), &err, DEPLOY, "enqueue past its start_by");
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 0.8;
    def.critical = 0.95;
    assert_lib_ok(sluice_signal_define(c, "iops", &def, NULL, &err), &err, DEPLOY, "signal define");
    int held = 0;
    int64_t epoch = 0;
    sluice_governor_mode mode;
    assert_lib_ok(sluice_governor_lease(c, "gov-x", 60000, &held, &epoch, &mode, NULL, &err), &err, DEPLOY, "lease");
    assert_true(held && epoch == 1);
    sluice_client_free(c);
}

/* Every Function called as every role, on a fresh namespace each time: a
 * call the ACL refuses (at any of its writes) has changed nothing, because
 * each Function's first write is the one the fewest roles may do. And each
 * role keeps the rights docs/security.md gives it. */
static void every_function_refused_to_a_role_has_changed_nothing(void **state) {
    redisContext *admin = raw_admin(state);
    fn_state st;
    fn_call calls[40];
    size_t n = 0;
    int allowed[NROLES][40];
    for (role r = PRODUCER; r < NROLES; r++) {
        redisContext *ctx = raw_as(state, r);
        for (size_t f = 0; f == 0 || f < n; f++) {
            fresh_state(state, admin, &st);
            n = function_calls(&st, calls);
            char *before = snapshot(admin);
            redisReply *rep = function_call_send(ctx, NS, &calls[f], NULL, NULL);
            assert_non_null(rep);
            allowed[r][f] = rep->type != REDIS_REPLY_ERROR;
            if (!allowed[r][f]) {
                char *after = snapshot(admin);
                if (strcmp(before, after) != 0)
                    fail_msg("%s as %s was refused (%s) but changed Redis", calls[f].fn, ROLE[r], rep->str);
                free(after);
            }
            freeReplyObject(rep);
            free(before);
        }
        redisFree(ctx);
    }
    redisFree(admin);
    /* what each role may do */
    static const struct {
        role r;
        const char *fn;
        int may;
    } rights[] = {
        {PRODUCER, "sluice_enqueue", 1},
        {PRODUCER, "sluice_ack", 0},
        {PRODUCER, "sluice_ack_many", 0},
        {PRODUCER, "sluice_extend", 0},
        {PRODUCER, "sluice_cancel", 0},
        {PRODUCER, "sluice_dead_retry", 0},
        {PRODUCER, "sluice_pause", 0},
        {WORKER, "sluice_claim", 1},
        {WORKER, "sluice_ack", 1},
        {WORKER, "sluice_ack_many", 1},
        {WORKER, "sluice_fail", 1},
        {WORKER, "sluice_extend", 1},
        {WORKER, "sluice_release", 1},
        {WORKER, "sluice_dead_retry", 0},
        {WORKER, "sluice_dead_purge", 0},
        {WORKER, "sluice_cancel", 0},
        {WORKER, "sluice_govern", 0},
        {GOVERNOR, "sluice_govern", 1},
        {GOVERNOR, "sluice_signal_report", 1},
        {GOVERNOR, "sluice_gov_lease", 1},
        {GOVERNOR, "sluice_gov_commit", 1},
        {GOVERNOR, "sluice_gov_mode", 0},
        {GOVERNOR, "sluice_claim", 0},
        {OPERATOR, "sluice_class_set", 1},
        {OPERATOR, "sluice_cancel", 1},
        {OPERATOR, "sluice_dead_retry", 1},
        {OPERATOR, "sluice_gov_mode", 1},
        {OPERATOR, "sluice_class_delete", 0},
        {DEPLOY, "sluice_class_delete", 1},
        {GOVERNOR, "sluice_deadline_view", 1},
        {OPERATOR, "sluice_deadline_view", 1},
    };
    for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++) {
        size_t f = 0;
        while (f < n && strcmp(calls[f].fn, rights[i].fn) != 0) f++;
        assert_true(f < n);
        if (allowed[rights[i].r][f] != rights[i].may)
            fail_msg("%s as %s: %s", rights[i].fn, ROLE[rights[i].r], rights[i].may ? "refused" : "allowed");
    }
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    snprintf(ctl_bin, sizeof(ctl_bin), "%s", proc_bin("sluicectl"));
    if (getenv("SLUICECTL")) snprintf(ctl_bin, sizeof(ctl_bin), "%s", getenv("SLUICECTL"));
    const char *acl = getenv("SLUICE_ACLFILE") ? getenv("SLUICE_ACLFILE") : "scripts/acl/sluice.acl";
    /* redis-server resolves the path after moving to its --dir: make it absolute */
    char cwd[PATH_MAX / 2];
    if (acl[0] == '/')
        snprintf(aclfile, sizeof(aclfile), "%s", acl);
    else if (getcwd(cwd, sizeof(cwd)))
        snprintf(aclfile, sizeof(aclfile), "%s/%s", cwd, acl);
    if (access(aclfile, R_OK) != 0) {
        fprintf(stderr, "test_acl: cannot read %s (run from the top of the tree)\n", aclfile);
        return 1;
    }
    /* the shipped roles and an admin that only this test has */
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(acl_with_admin, sizeof(acl_with_admin), "%s/sluice-acl-XXXXXX", tmp);
    int fd = mkstemp(acl_with_admin);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    char *shipped = proc_slurp(aclfile);
    if (!out || fprintf(out, "%suser admin on >" ADMIN_PASSWORD " ~* &* +@all\n", shipped) < 0) {
        fprintf(stderr, "test_acl: cannot write %s\n", acl_with_admin);
        return 1;
    }
    fclose(out);
    free(shipped);
    unsetenv("SLUICE_REDIS_URL");
    unsetenv("SLUICE_NAMESPACE");
    const struct CMUnitTest unloaded[] = {
        cmocka_unit_test(without_the_functions_every_role_but_deploy_gets_a_noperm_server_error),
    };
    const struct CMUnitTest loaded[] = {
        cmocka_unit_test(the_default_user_is_off),
        cmocka_unit_test(every_role_is_refused_admin_and_raw_commands),
        cmocka_unit_test(producers_and_workers_cannot_write_class_config_or_gates_directly),
        cmocka_unit_test(deadlines_are_read_by_the_governor_read_only_and_written_only_through_functions),
        cmocka_unit_test(a_worker_subscribes_to_ready_channels_only),
        cmocka_unit_test(a_producer_may_enqueue_and_nothing_else),
        cmocka_unit_test(a_worker_claims_acks_fails_and_reads_its_gate),
        cmocka_unit_test(each_role_does_its_part_under_a_per_key_cap),
        cmocka_unit_test(a_function_refused_to_a_worker_leaves_the_gate_unchanged),
        cmocka_unit_test(a_governor_reports_signals_and_ticks_the_gates),
        cmocka_unit_test_teardown(sluice_worker_runs_jobs_as_worker_and_governs_as_governor, proc_teardown),
        cmocka_unit_test_teardown(with_the_worker_role_alone_the_governor_is_refused_and_jobs_still_run, proc_teardown),
        cmocka_unit_test(an_operator_tunes_pauses_and_reads_the_audit_but_cannot_delete),
        cmocka_unit_test(a_wrong_password_fails_as_auth_without_echoing_it),
        cmocka_unit_test(sluicectl_never_prints_the_password_from_sluice_redis_url),
        cmocka_unit_test(another_uid_cannot_reach_a_socket_with_mode_700),
    };
    int failed =
        cmocka_run_group_tests_name("acl: no Functions loaded", unloaded, start_with_acl, harness_group_teardown);
    failed += cmocka_run_group_tests_name("acl: roles", loaded, loaded_setup, harness_group_teardown);
    const struct CMUnitTest matrix[] = {
        cmocka_unit_test(every_function_refused_to_a_role_has_changed_nothing),
    };
    failed +=
        cmocka_run_group_tests_name("acl: refusals before changes", matrix, start_with_admin, harness_group_teardown);
    unlink(acl_with_admin);
    return failed;
}
