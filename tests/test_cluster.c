/* libsluice and sluicectl on a real Redis Cluster (3 masters, 3 replicas)
 * from a plain redis:// URL of any node: 30 classes spread over the
 * masters, the job lifecycle in every class, a slot moved under a
 * connected client (MOVED followed), the Functions loaded on a master
 * that had none, and a master killed and replaced by its replica. A second
 * cluster loads the shipped ACL roles (scripts/acl/sluice.acl). */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "common_proc.h"
#include "failover.h"

#define NCLASSES 30
#define NMASTERS 3

/* The classes, 10 in each third of the slots (redis-cli --cluster create
 * gives each of 3 masters a third), picked by CLUSTER KEYSLOT. */
static char classes[NCLASSES][16];

static char ctl_bin[4096] = "build/bin/sluicectl";
/* The shipped roles, with a default user the harness may use. */
static char aclfile[PATH_MAX];

static int is_master(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "ROLE");
    int yes = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 && strcmp(rep->element[0]->str, "master") == 0;
    freeReplyObject(rep);
    return yes;
}

/* The group's cluster, and its nodes that are masters now into
 * masters[NMASTERS]. */
static harness_cluster *find_masters(void **state, harness_redis *masters[NMASTERS]) {
    harness_cluster *cl = *state;
    int n = 0;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        if (is_master(&cl->nodes[i]) && n < NMASTERS) masters[n++] = &cl->nodes[i];
    assert_int_equal(n, NMASTERS);
    return cl;
}

static int slot_of(const harness_redis *r, const char *cls) {
    return (int)harness_redis_int(r, "CLUSTER KEYSLOT t:{%s}:class", cls);
}

/* The master holding slot's keys: the one index of masters[] with keys
 * in it, or -1 (none, or more than one). */
static int master_with_keys(harness_redis *masters[NMASTERS], int slot) {
    int found = -1;
    for (int i = 0; i < NMASTERS; i++) {
        if (harness_redis_int(masters[i], "CLUSTER COUNTKEYSINSLOT %d", slot) > 0) {
            if (found >= 0) return -1;
            found = i;
        }
    }
    return found;
}

static char *node_id(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "CLUSTER MYID");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    char *id = strdup(rep->str);
    freeReplyObject(rep);
    return id;
}

static void node_ok(const harness_redis *r, const char *fmt, const char *a, const char *b) {
    redisReply *rep = harness_redis_command(r, fmt, a, b);
    if (!rep || rep->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", fmt, rep ? rep->str : "no reply");
    freeReplyObject(rep);
}

/* A client on a node's TCP URL (any node: master or replica). NEW. */
static sluice_client *cluster_connect(harness_cluster *cl, int node) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(cl->nodes[node].tcp_url, "t", &err);
    if (!c) fail_msg("connect: %s", err.text);
    return c;
}

/* How many of the node's clients carry the name. */
static int clients_named(const harness_redis *r, const char *name) {
    redisReply *rep = harness_redis_command(r, "CLIENT LIST");
    char needle[80];
    snprintf(needle, sizeof(needle), " name=%s ", name);
    int n = 0;
    for (const char *p = rep && rep->type == REDIS_REPLY_STRING ? rep->str : ""; (p = strstr(p, needle)); p++) n++;
    freeReplyObject(rep);
    return n;
}

/* Closes the node's link to the client of that name (CLIENT KILL ID). */
static void kill_client_named(const harness_redis *r, const char *name) {
    redisReply *rep = harness_redis_command(r, "CLIENT LIST");
    assert_non_null(rep);
    char needle[80];
    snprintf(needle, sizeof(needle), " name=%s ", name);
    const char *at = strstr(rep->str, needle);
    assert_non_null(at);
    while (at > rep->str && at[-1] != '\n') at--;
    long long id = strncmp(at, "id=", 3) == 0 ? atoll(at + 3) : -1;
    freeReplyObject(rep);
    assert_true(id > 0);
    assert_int_equal(harness_redis_int(r, "CLIENT KILL ID %lld", id), 1);
}

/* MOVED replies the masters have sent so far (INFO errorstats). */
static long long moved_replies(harness_redis *masters[NMASTERS]) {
    long long n = 0;
    for (int i = 0; i < NMASTERS; i++) {
        redisReply *rep = harness_redis_command(masters[i], "INFO errorstats");
        const char *at = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "errorstat_MOVED:count=") : NULL;
        if (at) n += atoll(at + strlen("errorstat_MOVED:count="));
        freeReplyObject(rep);
    }
    return n;
}

static int has_sluice_functions(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "FUNCTION LIST LIBRARYNAME sluice");
    int yes = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1;
    freeReplyObject(rep);
    return yes;
}

/* Fills out[] with NCLASSES names "<prefix><n>", 10 in each third of the
 * slots, by asking the node for slots. Returns how many. */
static int pick_classes(const harness_redis *node, const char *prefix, char out[NCLASSES][16]) {
    int per_third[NMASTERS] = {0}, n = 0;
    for (int i = 0; n < NCLASSES && i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%s%d", prefix, i);
        int slot = slot_of(node, name);
        int third = slot < 5461 ? 0 : slot < 10923 ? 1 : 2;
        if (slot < 0 || per_third[third] == NCLASSES / NMASTERS) continue;
        per_third[third]++;
        strcpy(out[n++], name);
    }
    return n;
}

/* Picks classes[] and declares every "step"th one through url in
 * namespace ns. Returns 0, or -1 with the group's cluster (*state) stopped. */
static int declare_classes(void **state, const char *url, const char *ns, int step) {
    harness_cluster *cl = *state;
    int n = pick_classes(&cl->nodes[0], "q", classes);
    sluice_error err;
    sluice_error_reset(&err);
    sluice_client *c = n == NCLASSES ? sluice_client_connect(url, ns, &err) : NULL;
    sluice_class_config cfg;
    sluice_class_config_init(&cfg); /* as test_class declares them */
    cfg.max_concurrency = 10;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    for (int i = 0; c && i < NCLASSES; i += step) {
        if (sluice_class_set(c, classes[i], &cfg, NULL, &err) < 0) {
            sluice_client_free(c);
            c = NULL;
        }
    }
    if (c) {
        sluice_client_free(c);
        return 0;
    }
    fprintf(stderr, "test_cluster: cannot declare the classes: %s\n", n == NCLASSES ? err.text : "no names");
    harness_cluster_group_teardown(state);
    return -1;
}

static int setup(void **state) {
    if (harness_cluster_group_setup(state) < 0) return -1;
    harness_cluster *cl = *state;
    return declare_classes(state, cl->nodes[0].tcp_url, "t", 1);
}

/* ------------------------------------------------------------- tests */

static void thirty_classes_declared_through_one_node_land_on_all_three_masters(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    long long moved = moved_replies(masters);
    sluice_client *c = cluster_connect(cl, 0);
    for (int i = 0; i < NCLASSES; i++) test_class(c, classes[i], SLUICE_TIER_NORMAL, 10);
    assert_int_equal(moved_replies(masters), moved); /* each call went straight to its master */
    int per_master[NMASTERS] = {0};
    for (int i = 0; i < NCLASSES; i++) {
        int m = master_with_keys(masters, slot_of(&cl->nodes[0], classes[i]));
        if (m < 0) fail_msg("class %s is on no master, or on several", classes[i]);
        per_master[m]++;
    }
    for (int m = 0; m < NMASTERS; m++)
        if (per_master[m] < 5) fail_msg("master %d holds %d classes", m, per_master[m]);
    size_t n = 0;
    sluice_error err;
    char **names = sluice_class_list(c, &n, &err);
    assert_int_equal(n, NCLASSES);
    sluice_class_list_free(names, n);
    sluice_client_free(c);
}

/* Two jobs per class: one acked, one failed to dead, retried from the dead
 * set and acked. */
static void every_class_enqueues_claims_acks_and_fails_to_dead_and_back(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    long long moved = moved_replies(masters);
    sluice_client *c = cluster_connect(cl, 1);
    sluice_error err;
    test_redis_now(c);
    assert_int_equal(sluice_client_set_name(c, "lifecycle", &err), 0); /* one link open, the others not yet */
    for (int i = 0; i < NCLASSES; i++) {
        const char *cls = classes[i];
        const char *fields[] = {"max_attempts"}, *values[] = {"1"};
        if (sluice_class_update(c, cls, fields, values, 1, NULL, &err) < 0) fail_msg("%s: %s", cls, err.text);
        char ok_id[SLUICE_ID_MAX], dead_id[SLUICE_ID_MAX];
        if (sluice_enqueue(c, cls, "{\"n\":1}", NULL, ok_id, &err) < 0 ||
            sluice_enqueue(c, cls, "{\"n\":2}", NULL, dead_id, &err) < 0)
            fail_msg("%s: enqueue: %s", cls, err.text);
        sluice_job *j[2] = {NULL, NULL};
        sluice_claim_info info;
        assert_int_equal(sluice_claim(c, cls, "t", 2, j, &info, &err), 0);
        assert_int_equal(info.count, 2);
        int first_ok = strcmp(sluice_job_id(j[0]), ok_id) == 0;
        sluice_job *okj = first_ok ? j[0] : j[1], *deadj = first_ok ? j[1] : j[0];
        assert_int_equal(sluice_ack(c, ok_id, sluice_job_token(okj), &err), 0);
        int64_t retry_ms = 0;
        assert_int_equal(sluice_fail(c, dead_id, sluice_job_token(deadj), "boom", &retry_ms, &err), 0);
        assert_int_equal(retry_ms, -1);
        sluice_job_free(j[0]);
        sluice_job_free(j[1]);

        sluice_job_info ji;
        assert_int_equal(sluice_job_get(c, dead_id, &ji, &err), 0);
        assert_int_equal(ji.state, SLUICE_JOB_DEAD);
        assert_string_equal(ji.reason, "boom");
        sluice_job_info_clear(&ji);
        size_t n = 0;
        sluice_job_info *dead = sluice_dead_list(c, cls, 0, 10, &n, &err);
        assert_int_equal(n, 1);
        assert_string_equal(dead[0].id, dead_id);
        sluice_dead_list_free(dead, n);
        int64_t count = 0;
        assert_int_equal(sluice_dead_retry(c, cls, dead_id, &count, &err), 0);
        assert_int_equal(count, 1);
        assert_int_equal(sluice_claim(c, cls, "t", 1, j, &info, &err), 0);
        assert_int_equal(info.count, 1);
        assert_string_equal(sluice_job_id(j[0]), dead_id);
        assert_int_equal(sluice_ack(c, dead_id, sluice_job_token(j[0]), &err), 0);
        sluice_job_free(j[0]);
    }
    sluice_class_view v[NCLASSES];
    const char *names[NCLASSES];
    for (int i = 0; i < NCLASSES; i++) names[i] = classes[i];
    if (sluice_class_view_get(c, names, NCLASSES, v, &err) < 0) fail_msg("view: %s", err.text);
    for (int i = 0; i < NCLASSES; i++) {
        assert_true(v[i].found);
        assert_int_equal(v[i].stats.acked, 2);
        assert_int_equal(v[i].stats.ready + v[i].stats.delayed + v[i].stats.leased + v[i].stats.dead, 0);
    }
    assert_int_equal(moved_replies(masters), moved);
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) /* one named link per master, none to a replica */
        assert_int_equal(clients_named(&cl->nodes[i], "lifecycle"), is_master(&cl->nodes[i]));
    sluice_client_free(c);
}

/* Runs sluicectl --redis URL --namespace NS ARGS (NULL-terminated) and
 * parses its stdout as JSON (NEW); fails the test unless it exits 0. */
static json_t *ctl_json(const char *url, const char *ns, const char *const *args) {
    const char *argv[16] = {ctl_bin, "--redis", url, "--namespace", ns};
    int n = 5;
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    char out_path[] = "/tmp/sluicectl-cluster-XXXXXX";
    int out = mkstemp(out_path);
    assert_true(out >= 0);
    unlink(out_path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(out, 1);
        execv(ctl_bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    json_error_t je;
    lseek(out, 0, SEEK_SET);
    json_t *root = json_loadfd(out, 0, &je);
    close(out);
    if (!root) fail_msg("sluicectl %s: not JSON: %s", args[0], je.text);
    return root;
}

/* sluicectl --json status on a replica's URL: every class of every master;
 * explain of a job on each master. */
static void sluicectl_status_and_explain_see_every_class_of_every_master(void **state) {
    harness_cluster *cl = *state;
    int replica = 0;
    while (replica < HARNESS_CLUSTER_NODES && is_master(&cl->nodes[replica])) replica++;
    assert_true(replica < HARNESS_CLUSTER_NODES);
    json_t *root = ctl_json(cl->nodes[replica].tcp_url, "t", (const char *const[]){"--json", "status", NULL});
    json_t *list = json_object_get(root, "classes");
    assert_int_equal(json_array_size(list), NCLASSES);
    for (int i = 0; i < NCLASSES; i++) {
        int seen = 0;
        for (size_t k = 0; k < json_array_size(list); k++)
            seen += strcmp(json_string_value(json_object_get(json_array_get(list, k), "name")), classes[i]) == 0;
        if (seen != 1) fail_msg("status lists class %s %d times", classes[i], seen);
    }
    json_decref(root);

    sluice_client *c = cluster_connect(cl, 0);
    for (int third = 0; third < NMASTERS; third++) {
        char id[SLUICE_ID_MAX];
        sluice_error err;
        const char *cls = classes[third * (NCLASSES / NMASTERS)];
        if (sluice_enqueue(c, cls, "{}", NULL, id, &err) < 0) fail_msg("%s: %s", cls, err.text);
        json_t *e = ctl_json(cl->nodes[replica].tcp_url, "t", (const char *const[]){"--json", "explain", id, NULL});
        assert_string_equal(json_string_value(json_object_get(e, "state")), "ready");
        json_decref(e);
    }
    sluice_client_free(c);
}

/* The master that serves the class's slot (the one that does not answer
 * MOVED), or NULL. */
static harness_redis *owner_of(harness_redis *masters[NMASTERS], const char *cls) {
    for (int i = 0; i < NMASTERS; i++) {
        redisReply *rep = harness_redis_command(masters[i], "ZCARD t:{%s}:ready", cls);
        int here = rep && rep->type == REDIS_REPLY_INTEGER;
        freeReplyObject(rep);
        if (here) return masters[i];
    }
    return NULL;
}

/* The first steps of moving a slot: IMPORTING on "to", MIGRATING on "from". */
static void slot_migrating(harness_redis *from, harness_redis *to, int slot) {
    char *from_id = node_id(from), *to_id = node_id(to);
    char s[8];
    snprintf(s, sizeof(s), "%d", slot);
    node_ok(to, "CLUSTER SETSLOT %s IMPORTING %s", s, from_id);
    node_ok(from, "CLUSTER SETSLOT %s MIGRATING %s", s, to_id);
    free(from_id);
    free(to_id);
}

/* The last step: the slot is "to"'s, on every master ("to" first). */
static void slot_done(harness_redis *masters[NMASTERS], harness_redis *to, int slot) {
    char *to_id = node_id(to);
    char s[8];
    snprintf(s, sizeof(s), "%d", slot);
    node_ok(to, "CLUSTER SETSLOT %s NODE %s", s, to_id);
    for (int i = 0; i < NMASTERS; i++)
        if (masters[i] != to) node_ok(masters[i], "CLUSTER SETSLOT %s NODE %s", s, to_id);
    free(to_id);
}

/* MIGRATE every key of the slot from "from" to "to". */
static void slot_keys_moved(harness_redis *from, harness_redis *to, int slot) {
    redisReply *keys = harness_redis_command(from, "CLUSTER GETKEYSINSLOT %d 1000", slot);
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    assert_true(keys->elements > 0);
    const char *argv[1100];
    char port[16];
    snprintf(port, sizeof(port), "%d", to->port);
    int n = 0;
    const char *head[] = {"MIGRATE", "127.0.0.1", port, "", "0", "10000", "KEYS"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) argv[n++] = head[i];
    for (size_t i = 0; i < keys->elements; i++) argv[n++] = keys->element[i]->str;
    redisContext *c = redisConnectUnix(from->sock);
    assert_non_null(c);
    redisReply *rep = redisCommandArgv(c, n, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) fail_msg("MIGRATE: %s", rep ? rep->str : c->errstr);
    freeReplyObject(rep);
    redisFree(c);
    freeReplyObject(keys);
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
}

/* An empty slot moved from one master to another (IMPORTING, MIGRATING,
 * then NODE on every master) under a client that read the map before:
 * its next call gets MOVED and lands on the new owner. */
static void a_call_into_a_moved_slot_follows_moved_to_the_new_master(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    sluice_client *c = cluster_connect(cl, 0);
    test_redis_now(c); /* the client has the map and a link */
    const char *cls = "moved";
    int slot = slot_of(masters[0], cls);
    harness_redis *from = owner_of(masters, cls);
    assert_non_null(from);
    harness_redis *to = from == masters[0] ? masters[1] : masters[0];
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
    slot_migrating(from, to, slot);
    slot_done(masters, to, slot);

    long long moved = moved_replies(masters);
    test_class(c, cls, SLUICE_TIER_NORMAL, 10);
    assert_true(harness_redis_int(to, "CLUSTER COUNTKEYSINSLOT %d", slot) > 0);
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, cls, "{}", NULL, id, &err), 0);
    assert_int_equal(moved_replies(masters), moved + 1); /* one redirect, then the new map */
    sluice_client_free(c);
}

/* A class with a job, its slot migrated with its keys under a connected
 * client: while the keys are on the new master and the slot not yet
 * handed over, a one-key read follows ASK, and an enqueue (keys missing on
 * the importing node: TRYAGAIN) is refused as unavailable without running;
 * once handed over, the next enqueue follows MOVED. Every job is there. */
static void a_class_migrated_with_its_jobs_is_served_through_ask_then_moved(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    sluice_client *c = cluster_connect(cl, 0);
    const char *cls = "migrated";
    test_class(c, cls, SLUICE_TIER_NORMAL, 10);
    char before[SLUICE_ID_MAX], after[SLUICE_ID_MAX], refused[SLUICE_ID_MAX];
    sluice_error err;
    assert_int_equal(sluice_enqueue(c, cls, "{\"n\":1}", NULL, before, &err), 0);
    int slot = slot_of(masters[0], cls);
    harness_redis *from = owner_of(masters, cls);
    assert_non_null(from);
    harness_redis *to = from == masters[0] ? masters[1] : masters[0];

    slot_migrating(from, to, slot);
    slot_keys_moved(from, to, slot);
    size_t n = 0;
    sluice_audit_entry *audit = sluice_audit_list(c, cls, 10, &n, &err);
    if (!audit) fail_msg("audit during the migration: %s", err.text);
    assert_true(n >= 1);
    sluice_audit_list_free(audit, n);
    assert_int_equal(sluice_enqueue(c, cls, "{\"n\":0}", NULL, refused, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNAVAILABLE);

    slot_done(masters, to, slot);
    long long moved = moved_replies(masters);
    assert_int_equal(sluice_enqueue(c, cls, "{\"n\":2}", NULL, after, &err), 0);
    assert_int_equal(moved_replies(masters), moved + 1);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), 0);
    assert_int_equal(st.enqueued, 2);
    assert_int_equal(st.ready, 2);
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
    sluice_client_free(c);
}

/* A master's link closed under an open client: the next call on it fails
 * as unreachable (it may have run, so it is not sent again), and the call
 * after it opens the link again. */
static void a_lost_link_fails_its_call_once_and_the_next_call_reconnects(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    sluice_client *c = cluster_connect(cl, 0);
    sluice_error err;
    assert_int_equal(sluice_client_set_name(c, "lostlink", &err), 0);
    const char *cls = classes[0];
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), 0);
    int m = master_with_keys(masters, slot_of(masters[0], cls));
    assert_true(m >= 0);
    kill_client_named(masters[m], "lostlink");
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);
    if (sluice_class_stats_get(c, cls, &st, &err) < 0) fail_msg("after the lost link: %s", err.text);
    assert_int_equal(clients_named(masters[m], "lostlink"), 1);
    sluice_client_free(c);
}

/* The master of a class with its Functions flushed (and so its replica's):
 * a new client loads them there on its first call, an open one when the
 * node answers "Function not found". */
static void a_master_without_the_functions_gets_them_from_the_client(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    sluice_client *open = cluster_connect(cl, 0);
    const char *cls = classes[0];
    test_class(open, cls, SLUICE_TIER_NORMAL, 10);
    int m = master_with_keys(masters, slot_of(masters[0], cls));
    assert_true(m >= 0);
    sluice_class_config cfg;
    sluice_error err;

    assert_true(harness_redis_int(masters[m], "FUNCTION FLUSH") == -1); /* +OK is no integer */
    assert_false(has_sluice_functions(masters[m]));
    sluice_client *fresh = cluster_connect(cl, 0);
    if (sluice_class_get(fresh, cls, &cfg, &err) < 0) fail_msg("first use: %s", err.text);
    assert_true(has_sluice_functions(masters[m]));
    sluice_client_free(fresh);

    harness_redis_int(masters[m], "FUNCTION FLUSH");
    assert_false(has_sluice_functions(masters[m]));
    if (sluice_class_get(open, cls, &cfg, &err) < 0) fail_msg("after the flush: %s", err.text);
    assert_true(has_sluice_functions(masters[m]));
    sluice_client_free(open);
}

/* 1 when the node's CLUSTER SLOTS gives the slot to the master on "port". */
static int map_gives(const harness_redis *r, int slot, int port) {
    redisReply *rep = harness_redis_command(r, "CLUSTER SLOTS");
    int yes = 0;
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->element[0]->integer <= slot && slot <= e->element[1]->integer)
            yes = e->element[2]->element[1]->integer == port;
    }
    freeReplyObject(rep);
    return yes;
}

/* 1 when the replica says its link to its master is up. */
static int replica_link_up(const harness_redis *replica) {
    redisReply *rep = harness_redis_command(replica, "INFO replication");
    int up = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "master_link_status:up");
    freeReplyObject(rep);
    return up;
}

/* An enqueue asking replicas=1 sends WAIT to the master that took it: with
 * that master's replica stopped (SIGSTOP) it is not confirmed
 * (SLUICE_ERR_NOT_REPLICATED, the job created), though the client's link
 * to another master, whose replica is up, took a write just before. */
static void on_a_cluster_an_enqueue_waits_for_the_replica_of_its_own_master(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    const char *mine = classes[0], *other = NULL;
    int m = master_with_keys(masters, slot_of(masters[0], mine));
    for (int i = 1; i < NCLASSES && !other; i++)
        if (master_with_keys(masters, slot_of(masters[0], classes[i])) != m) other = classes[i];
    assert_true(m >= 0 && other);
    harness_redis *replica = failover_replica_of(cl, masters[m]);
    assert_non_null(replica);
    WAIT_UNTIL(replica_link_up(replica), 10000);
    sluice_client *c = cluster_connect(cl, 0);
    sluice_enqueue_opts up = {.replicas = 1, .replicas_timeout_ms = 5000},
                        o = {.replicas = 1, .replicas_timeout_ms = 300};
    sluice_error err;
    char id[SLUICE_ID_MAX];
    if (sluice_enqueue(c, mine, "{}", &up, id, &err) < 0) fail_msg("with its replica up: %s", err.text);
    if (sluice_enqueue(c, other, "{}", &up, id, &err) < 0) fail_msg("on the other master: %s", err.text);
    assert_int_equal(kill(replica->pid, SIGSTOP), 0);
    int rc = sluice_enqueue(c, mine, "{}", &o, id, &err);
    kill(replica->pid, SIGCONT);
    assert_int_equal(rc, -1);
    if (err.code != SLUICE_ERR_NOT_REPLICATED || !strstr(err.text, "0 acknowledged within 300 ms"))
        fail_msg("with its replica stopped: %s", err.text);
    sluice_job_info ji;
    assert_int_equal(sluice_job_get(c, id, &ji, &err), 0);
    sluice_job_info_clear(&ji);
    sluice_client_free(c);
}

/* A master killed (SIGKILL) under an open client whose link to it is
 * open: the next call fails as unreachable (it may have run, so it is not
 * sent again). Once the replica is promoted and the map says so, the
 * client reads the map again and its next calls go to the promoted
 * master; that replica had lost the Functions (as when a FUNCTION LOAD
 * races the failover), and the client loads them there. Runs last: the
 * killed node stays down. */
static void a_killed_master_is_replaced_by_its_promoted_replica_on_the_next_call(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    const char *cls = classes[NCLASSES - 1];
    int slot = slot_of(masters[0], cls);
    int m = master_with_keys(masters, slot);
    assert_true(m >= 0);
    harness_redis *dead = masters[m], *heir = failover_replica_of(cl, dead);
    assert_non_null(heir);
    redisReply *rep = harness_redis_command(heir, "CONFIG SET replica-read-only no");
    freeReplyObject(rep);
    rep = harness_redis_command(heir, "FUNCTION FLUSH");
    if (!rep || rep->type == REDIS_REPLY_ERROR) fail_msg("FUNCTION FLUSH on the replica: %s", rep ? rep->str : "-");
    freeReplyObject(rep);
    assert_false(has_sluice_functions(heir));

    sluice_client *c = cluster_connect(cl, (int)(masters[(m + 1) % NMASTERS] - cl->nodes));
    sluice_error err;
    char id[SLUICE_ID_MAX];
    if (sluice_enqueue(c, cls, "{\"n\":1}", NULL, id, &err) < 0) fail_msg("before: %s", err.text);
    /* replication is asynchronous: the replica has the slot's keys first */
    long long keys = harness_redis_int(dead, "CLUSTER COUNTKEYSINSLOT %d", slot);
    WAIT_UNTIL(harness_redis_int(heir, "CLUSTER COUNTKEYSINSLOT %d", slot) == keys, 10000);
    assert_int_equal(harness_redis_int(heir, "CLUSTER COUNTKEYSINSLOT %d", slot), keys);
    harness_redis_kill(dead);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), -1);
    assert_int_equal(err.code, SLUICE_ERR_UNREACHABLE);

    WAIT_UNTIL(is_master(heir), 15000);
    assert_true(is_master(heir));
    harness_redis *survivors[NMASTERS] = {masters[(m + 1) % NMASTERS], masters[(m + 2) % NMASTERS], heir};
    for (int i = 0; i < NMASTERS; i++) {
        WAIT_UNTIL(map_gives(survivors[i], slot, heir->port), 10000);
        assert_true(map_gives(survivors[i], slot, heir->port));
    }
    if (sluice_enqueue(c, cls, "{\"n\":2}", NULL, id, &err) < 0)
        fail_msg("after the failover: %s (the promoted replica holds %lld keys of the slot)", err.text,
                 harness_redis_int(heir, "CLUSTER COUNTKEYSINSLOT %d", slot));
    assert_true(has_sluice_functions(heir));
    sluice_job *j = NULL;
    sluice_claim_info info;
    assert_int_equal(sluice_claim(c, cls, "t", 1, &j, &info, &err), 0);
    assert_true(info.count >= 1);
    assert_int_equal(sluice_ack(c, sluice_job_id(j), sluice_job_token(j), &err), 0);
    sluice_job_free(j);
    sluice_client_free(c);
}

/* ------------------------------------------ sluice-worker on a cluster */

#define PER_CLASS 20
#define NJOBS (NCLASSES * PER_CLASS)
#define IDLE_POLL 3.0 /* s: an idle class is claimed again after (SAFETY_POLL, worker/runtime/runtime.h) */

static char fixtures[PATH_MAX];
/* The worker's classes, spread over the masters as classes[] are. */
static char wclasses[NCLASSES][16];
static char job_ids[NJOBS][SLUICE_ID_MAX];

/* Declares wclasses[] through c (10 jobs in flight each, leases of
 * timeout_ms) and enqueues PER_CLASS jobs in each, their ids in job_ids[];
 * checks the classes landed on every master. */
static void worker_jobs(harness_cluster *cl, sluice_client *c, int64_t timeout_ms) {
    harness_redis *masters[NMASTERS];
    int n = 0;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        if (is_master(&cl->nodes[i]) && n < NMASTERS) masters[n++] = &cl->nodes[i];
    assert_int_equal(n, NMASTERS);
    assert_int_equal(pick_classes(&cl->nodes[0], "w", wclasses), NCLASSES);
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = 10;
    cfg.timeout_ms = timeout_ms;
    sluice_error err;
    int per_master[NMASTERS] = {0};
    for (int i = 0; i < NCLASSES; i++) {
        if (sluice_class_set(c, wclasses[i], &cfg, NULL, &err) < 0) fail_msg("%s: %s", wclasses[i], err.text);
        for (int k = 0; k < PER_CLASS; k++)
            if (sluice_enqueue(c, wclasses[i], "{}", NULL, job_ids[i * PER_CLASS + k], &err) < 0)
                fail_msg("enqueue into %s: %s", wclasses[i], err.text);
        int m = master_with_keys(masters, slot_of(&cl->nodes[0], wclasses[i]));
        if (m < 0) fail_msg("class %s is on no master, or on several", wclasses[i]);
        per_master[m]++;
    }
    for (int m = 0; m < NMASTERS; m++)
        if (per_master[m] < 5) fail_msg("master %d holds %d of the worker's classes", m, per_master[m]);
}

/* Writes <dir>/worker.json: every class of wclasses[] runs append-id.sh
 * with the ids file and "pause" (seconds the handler sleeps); 32 jobs in
 * flight; /metrics on a free port; the hosted governor as "governor" says.
 * Returns its path (static). */
static const char *worker_config(const char *dir, const char *ids, const char *pause, int governor) {
    static char path[400];
    snprintf(path, sizeof(path), "%s/worker.json", dir);
    json_t *handlers = json_object();
    for (int i = 0; i < NCLASSES; i++) {
        char script[PATH_MAX + 32];
        snprintf(script, sizeof(script), "%s/append-id.sh", fixtures);
        json_object_set_new(handlers, wclasses[i], json_pack("[sss]", script, ids, pause));
    }
    json_t *root = json_pack("{s:o s:i s:i s:b}", "handlers", handlers, "concurrency", 32, "metrics_port", 0,
                             "governor", governor);
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
    return path;
}

/* Runs of each job of job_ids[] in the ids file into runs[NJOBS]. Returns
 * the lines that name no job of job_ids[]. */
static int count_runs(const char *path, int runs[NJOBS]) {
    memset(runs, 0, NJOBS * sizeof(runs[0]));
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[SLUICE_ID_MAX + 8];
    int strangers = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        int k = 0;
        while (k < NJOBS && strcmp(job_ids[k], line) != 0) k++;
        if (k < NJOBS)
            runs[k]++;
        else
            strangers++;
    }
    fclose(f);
    return strangers;
}

/* How many jobs of job_ids[] ran at least once. */
static int jobs_run(const char *path) {
    int runs[NJOBS], n = 0;
    count_runs(path, runs);
    for (int k = 0; k < NJOBS; k++) n += runs[k] > 0;
    return n;
}

/* 1 when no class of wclasses[] holds a job waiting or leased. */
static int worker_classes_empty(sluice_client *c) {
    for (int i = 0; i < NCLASSES; i++) {
        sluice_class_stats st;
        if (sluice_class_stats_get(c, wclasses[i], &st, NULL) < 0) return 0;
        if (st.ready + st.delayed + st.leased > 0) return 0;
    }
    return 1;
}

/* A MONITOR link to the node (NEW); a read waits 10 s at most. */
static redisContext *monitor(const harness_redis *r) {
    redisContext *m = redisConnectUnix(r->sock);
    assert_true(m && !m->err);
    struct timeval tv = {10, 0};
    redisSetTimeout(m, tv);
    redisReply *rep = redisCommand(m, "MONITOR");
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    return m;
}

/* The server time (s) of the next monitored FCALL of Function "fn" on the
 * class's keys; -1 after 10 s without one. */
static double next_call(redisContext *m, const char *fn, const char *cls) {
    char fnq[64], tag[40];
    snprintf(fnq, sizeof(fnq), "\"FCALL\" \"%s\"", fn);
    snprintf(tag, sizeof(tag), "{%s}", cls);
    for (;;) {
        void *rep = NULL;
        if (redisGetReply(m, &rep) != REDIS_OK) return -1;
        redisReply *r = rep;
        double t = r->type == REDIS_REPLY_STATUS && strstr(r->str, fnq) && strstr(r->str, tag) ? atof(r->str) : -1;
        freeReplyObject(r);
        if (t >= 0) return t;
    }
}

/* One job enqueued into an idle class (its every claim is empty) right
 * after the worker's claim there: the worker claims it again, by the
 * class's ready channel, before its idle poll would have: the master's
 * MONITOR clock says when. */
static void an_enqueue_wakes_the_idle_class(sluice_client *c, const harness_redis *master, const char *cls,
                                            const char *ids) {
    redisContext *m = monitor(master);
    double polled = next_call(m, "sluice_claim", cls);
    assert_true(polled > 0);
    char id[SLUICE_ID_MAX];
    sluice_error err;
    if (sluice_enqueue(c, cls, "{}", NULL, id, &err) < 0) fail_msg("enqueue into %s: %s", cls, err.text);
    double enqueued = next_call(m, "sluice_enqueue", cls), claimed = next_call(m, "sluice_claim", cls);
    redisFree(m);
    assert_true(enqueued > 0 && claimed > 0);
    fprintf(stderr, "# %s: enqueued %.3f s after the last poll, claimed %.3f s after the enqueue (poll every %.1f s)\n",
            cls, enqueued - polled, claimed - enqueued, IDLE_POLL);
    if (claimed - polled >= IDLE_POLL) fail_msg("class %s: claimed by its poll, not woken", cls);
    char needle[SLUICE_ID_MAX + 2];
    snprintf(needle, sizeof(needle), "%s\n", id);
    WAIT_UNTIL(proc_count_file(ids, needle) == 1, 30000);
    assert_int_equal(proc_count_file(ids, needle), 1);
}

/* One sluice-worker process on one master's URL runs the 600 jobs of 30
 * classes on all three masters, each exactly once, none dead; its
 * /metrics and hosted governor read the whole cluster; a job enqueued into
 * an idle class on each other master wakes the worker through the one
 * subscription (PUBLISH reaches every node of a Redis 7.0 cluster). */
static void one_worker_on_one_nodes_url_runs_every_job_of_every_master_once(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    harness_redis *seed = masters[0];
    sluice_client *c = cluster_connect(cl, 1);
    worker_jobs(cl, c, 30000);
    char ids[400], log[400];
    snprintf(ids, sizeof(ids), "%s/worker.ids", seed->dir);
    snprintf(log, sizeof(log), "%s/worker.log", seed->dir);
    const char *args[] = {"--config", worker_config(seed->dir, ids, "0", 1), NULL};
    long long moved = moved_replies(masters);
    pid_t pid = proc_worker_env(seed, args, log, seed->tcp_url);

    WAIT_UNTIL(jobs_run(ids) == NJOBS && worker_classes_empty(c), 180000);
    assert_int_equal(moved_replies(masters), moved); /* each command went straight to its master */
    int runs[NJOBS];
    assert_int_equal(count_runs(ids, runs), 0);
    for (int k = 0; k < NJOBS; k++)
        if (runs[k] != 1) fail_msg("job %s ran %d times (log %s)", job_ids[k], runs[k], log);
    for (int i = 0; i < NCLASSES; i++) {
        sluice_class_stats st;
        assert_int_equal(sluice_class_stats_get(c, wclasses[i], &st, NULL), 0);
        assert_int_equal(st.acked, PER_CLASS);
        assert_int_equal(st.claimed, PER_CLASS);
        assert_int_equal(st.dead + st.failed + st.ready + st.leased, 0);
    }

    int port = proc_metrics_port(log);
    assert_true(port > 0);
    char *resp = NULL;
    WAIT_UNTIL((free(resp), resp = proc_http(port, "GET", "/metrics")) && strstr(resp, "sluice_governor_leader 1\n"),
               20000);
    if (!resp || !strstr(resp, "sluice_governor_leader 1\n")) fail_msg("/metrics: %s", resp ? resp : "no answer");
    for (int i = 0; i < NCLASSES; i++) {
        char want[96];
        snprintf(want, sizeof(want), "sluice_class_acked_total{class=\"%.15s\"} %d\n", wclasses[i], PER_CLASS);
        if (!strstr(resp, want)) fail_msg("/metrics lacks %s", want);
    }
    assert_non_null(strstr(resp, "sluice_governor_tick_failures_total 0\n"));
    free(resp);

    unsigned woken = 1u; /* masters[] by bit: the seed's subscription is not in question */
    for (int i = 0; i < NCLASSES; i++) {
        int m = master_with_keys(masters, slot_of(seed, wclasses[i]));
        if (m < 0 || woken & (1u << m)) continue;
        an_enqueue_wakes_the_idle_class(c, masters[m], wclasses[i], ids);
        woken |= 1u << m;
    }
    assert_int_equal(woken, (1u << NMASTERS) - 1);
    proc_stop(pid);
    proc_forget(pid);
    sluice_client_free(c);
}

/* A worker class, its keys and a job in it migrated from its master to
 * another under a running worker (the slot handed over): the worker's
 * calls get MOVED, it reads the map again and runs the job on the new
 * master. */
static void a_class_migrated_under_a_running_worker_is_followed_to_its_new_master(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    harness_redis *seed = masters[0], *from = masters[1], *to = masters[2];
    if (!wclasses[0][0]) { /* run alone: the worker's classes and jobs */
        sluice_client *c = cluster_connect(cl, 0);
        worker_jobs(cl, c, 30000);
        sluice_client_free(c);
    }
    const char *cls = NULL;
    for (int i = 0; i < NCLASSES && !cls; i++)
        if (master_with_keys(masters, slot_of(seed, wclasses[i])) == 1) cls = wclasses[i];
    assert_non_null(cls);
    char ids[400], log[400], at[64];
    snprintf(ids, sizeof(ids), "%s/moved.ids", seed->dir);
    snprintf(log, sizeof(log), "%s/moved.log", seed->dir);
    snprintf(at, sizeof(at), "cluster master 127.0.0.1:%d", from->port);
    const char *args[] = {"--config", worker_config(seed->dir, ids, "0", 0), NULL};
    pid_t pid = proc_worker_env(seed, args, log, seed->tcp_url);
    WAIT_UNTIL(proc_count_file(log, at) > 0, 30000); /* its link to "from" is up */
    assert_true(proc_count_file(log, at) > 0);

    int slot = slot_of(seed, cls);
    long long moved = moved_replies(masters);
    sluice_class_stats st;
    sluice_client *old = cluster_connect(cl, (int)(seed - cl->nodes));
    WAIT_UNTIL(worker_classes_empty(old), 180000);
    assert_int_equal(sluice_class_stats_get(old, cls, &st, NULL), 0);
    sluice_client_free(old);
    int64_t acked = st.acked;
    slot_migrating(from, to, slot);
    slot_keys_moved(from, to, slot);
    slot_done(masters, to, slot);
    sluice_client *c = cluster_connect(cl, (int)(seed - cl->nodes)); /* the new map */
    char id[SLUICE_ID_MAX], needle[SLUICE_ID_MAX + 2];
    sluice_error err;
    if (sluice_enqueue(c, cls, "{}", NULL, id, &err) < 0) fail_msg("enqueue into %s: %s", cls, err.text);
    snprintf(needle, sizeof(needle), "%s\n", id);
    WAIT_UNTIL(proc_count_file(ids, needle) == 1, 30000);
    assert_int_equal(proc_count_file(ids, needle), 1);
    assert_true(moved_replies(masters) > moved);
    WAIT_UNTIL(sluice_class_stats_get(c, cls, &st, NULL) == 0 && st.acked == acked + 1, 30000);
    assert_int_equal(st.acked, acked + 1);
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
    proc_stop(pid);
    proc_forget(pid);
    sluice_client_free(c);
}

#define FLOW_JOBS 400 /* at most, enqueued before, during and after the move */

/* Enqueues one job into cls, its id into ids[*n] when the enqueue is
 * confirmed; a refusal while the slot moves (unavailable: nothing ran) is
 * counted in *refused. */
static void flow_enqueue(sluice_client *c, const char *cls, char ids[][SLUICE_ID_MAX], int *n, int *refused) {
    sluice_error err;
    if (*n >= FLOW_JOBS) return;
    if (sluice_enqueue(c, cls, "{}", NULL, ids[*n], &err) == 0)
        (*n)++;
    else if (err.code == SLUICE_ERR_UNAVAILABLE)
        (*refused)++;
    else
        fail_msg("enqueue into %s while its slot moves: %s", cls, err.text);
}

/* A class's slot moved key by key (IMPORTING, MIGRATING, one MIGRATE a
 * key, then NODE) while a sluice-worker runs its jobs (0.05 s each, 16 in
 * flight) and the test enqueues more before, between the keys and after:
 * every confirmed enqueue runs, none is lost, and only jobs that were in
 * flight while the slot moved may run twice. */
static void a_class_migrated_key_by_key_while_jobs_flow_loses_none(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    harness_redis *seed = masters[0], *from = masters[1], *to = masters[2];
    sluice_client *c = cluster_connect(cl, (int)(seed - cl->nodes));
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.max_concurrency = 16;
    cfg.timeout_ms = 5000;
    sluice_error err;
    char cls[16] = "";
    for (int i = 0; i < 1000 && !cls[0]; i++) {
        char name[16];
        snprintf(name, sizeof(name), "flow%d", i);
        if (sluice_class_set(c, name, &cfg, NULL, &err) < 0) fail_msg("%s: %s", name, err.text);
        if (master_with_keys(masters, slot_of(seed, name)) == 1) strcpy(cls, name);
    }
    assert_true(cls[0] != '\0');
    int slot = slot_of(seed, cls);

    static char ids[FLOW_JOBS][SLUICE_ID_MAX];
    int n = 0, refused = 0;
    for (int k = 0; k < 150; k++) flow_enqueue(c, cls, ids, &n, &refused);
    char idfile[400], log[400], config[400], script[PATH_MAX + 32];
    snprintf(idfile, sizeof(idfile), "%s/flow.ids", seed->dir);
    snprintf(log, sizeof(log), "%s/flow.log", seed->dir);
    snprintf(config, sizeof(config), "%s/flow.json", seed->dir);
    snprintf(script, sizeof(script), "%s/append-id.sh", fixtures);
    json_t *root =
        json_pack("{s:{s:[sss]} s:i s:b}", "handlers", cls, script, idfile, "0.05", "concurrency", 16, "governor", 0);
    assert_int_equal(json_dump_file(root, config, 0), 0);
    json_decref(root);
    const char *args[] = {"--config", config, NULL};
    pid_t pid = proc_worker_env(seed, args, log, seed->tcp_url);
    WAIT_UNTIL(proc_count_file(idfile, "\n") >= 30, 30000);
    assert_true(proc_count_file(idfile, "\n") >= 30);

    long long moved = moved_replies(masters);
    sluice_class_stats st;
    assert_int_equal(sluice_class_stats_get(c, cls, &st, &err), 0);
    int64_t in_flight = st.leased;
    slot_migrating(from, to, slot);
    char port[16];
    snprintf(port, sizeof(port), "%d", to->port);
    int keys = 0;
    for (;;) {
        redisReply *k = harness_redis_command(from, "CLUSTER GETKEYSINSLOT %d 1", slot);
        assert_non_null(k);
        int more = k->type == REDIS_REPLY_ARRAY && k->elements == 1;
        if (more) {
            redisReply *rep = harness_redis_command(from, "MIGRATE 127.0.0.1 %s %s 0 10000", port, k->element[0]->str);
            if (!rep || rep->type == REDIS_REPLY_ERROR) fail_msg("MIGRATE: %s", rep ? rep->str : "no reply");
            freeReplyObject(rep);
            keys++;
            flow_enqueue(c, cls, ids, &n, &refused);
        }
        freeReplyObject(k);
        if (!more) break;
    }
    slot_done(masters, to, slot);
    for (int k = 0; k < 100; k++) flow_enqueue(c, cls, ids, &n, &refused);

    WAIT_UNTIL(sluice_class_stats_get(c, cls, &st, NULL) == 0 && st.ready + st.delayed + st.leased == 0, 60000);
    proc_stop(pid);
    proc_forget(pid);
    char *text = proc_slurp(idfile);
    assert_non_null(text);
    int lost = 0, dup = 0, extra = 0;
    for (int k = 0; k < n; k++) {
        char needle[SLUICE_ID_MAX + 2];
        snprintf(needle, sizeof(needle), "%.*s\n", SLUICE_ID_MAX - 1, ids[k]);
        int runs = proc_count(text, needle);
        lost += runs == 0;
        dup += runs > 1;
        extra += runs > 1 ? runs - 1 : 0;
    }
    free(text);
    fprintf(stderr,
            "# ---- a slot moved key by key (%d keys) while jobs flow ----\n"
            "#   enqueued (confirmed) %6d   (%d refused as unavailable while the keys moved)\n"
            "#   in flight as it began %5lld\n"
            "#   lost                 %6d\n"
            "#   duplicated           %6d   (%d extra runs; 16 in flight at most)\n"
            "#   MOVED replies        %6lld\n",
            keys, n, refused, (long long)in_flight, lost, dup, extra, moved_replies(masters) - moved);
    assert_true(keys > 0);
    assert_true(in_flight > 0);
    assert_int_equal(lost, 0);
    assert_true(dup <= in_flight);
    assert_int_equal(st.dead, 0);
    assert_int_equal(st.acked, n + extra);
    assert_int_equal(harness_redis_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 0);
    sluice_client_free(c);
}

/* An INFO replication field of the node, or -1. */
static long long replication_field(const harness_redis *r, const char *field) {
    redisReply *rep = harness_redis_command(r, "INFO replication");
    char needle[64];
    snprintf(needle, sizeof(needle), "\n%s:", field);
    const char *at = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, needle) : NULL;
    long long v = at ? atoll(at + strlen(needle)) : -1;
    freeReplyObject(rep);
    return v;
}

/* The jobs of job_ids[] from "from" to "to" (indexes), run or not, in a
 * Jepsen-style table: each was enqueued (the enqueue confirmed); "lost"
 * never ran and is not queued; "duplicated" ran more than once. Returns
 * the lost. */
static int failover_table(sluice_client *c, const char *title, const int *runs, int from, int to) {
    int ran = 0, lost = 0, dup = 0, extra = 0;
    for (int k = from; k < to; k++) {
        ran += runs[k] > 0;
        dup += runs[k] > 1;
        extra += runs[k] > 1 ? runs[k] - 1 : 0;
        if (runs[k] > 0) continue;
        sluice_job_info ji;
        int queued = sluice_job_get(c, job_ids[k], &ji, NULL) == 0 && ji.state != SLUICE_JOB_UNKNOWN;
        if (queued) sluice_job_info_clear(&ji);
        lost += !queued;
    }
    fprintf(stderr,
            "# ---- %s ----\n"
            "#   enqueued (acked)   %8d\n"
            "#   completed          %8d   (distinct ids whose handler ran)\n"
            "#   lost               %8d\n"
            "#   duplicated         %8d   (%d extra runs)\n",
            title, to - from, ran, lost, dup, extra);
    return lost;
}

/* One sluice-worker on a master's URL, hosting the governor, runs the 600
 * jobs (each handler takes 0.2 s; leases of 2 s) while that master, which
 * holds the governor's keys ({_}), is killed (SIGKILL) with its jobs in
 * flight and a producer enqueueing into its classes with WAIT 1. The URL
 * names a node that stays down, so the worker and its governor go on
 * through the map they hold, following it to the promoted replica, and its
 * subscription moves to a live master (an enqueue wakes an idle class
 * before its poll). Within 10 s of the
 * promotion (the replica's ROLE polled) the worker acks jobs of the failed
 * master's classes again and the governor ticks again, led by the one
 * worker's governor throughout (after its lost link, under a new epoch).
 * None of the WAIT-confirmed enqueues is lost, nor any
 * enqueue confirmed and replicated before the kill (none dead). A job runs
 * twice only after the worker logged its lease lost: until the replica is
 * promoted the whole cluster answers CLUSTERDOWN, so an ack may wait past
 * its lease; the job is then reclaimed and runs again. Enqueues confirmed
 * without WAIT in the replication window just before the kill are counted
 * apart: replication is asynchronous, and the killed master may not have
 * passed them on. */
static void a_worker_goes_on_through_a_killed_master_and_loses_no_replicated_enqueue(void **state) {
    harness_redis *masters[NMASTERS];
    harness_cluster *cl = find_masters(state, masters);
    sluice_client *c = cluster_connect(cl, (int)(masters[0] - cl->nodes));
    worker_jobs(cl, c, 2000);
    int v = master_with_keys(masters, (int)harness_redis_int(masters[0], "CLUSTER KEYSLOT t:{_}:classes"));
    assert_true(v >= 0);
    /* the worker's URL names the master that dies: it must not need it again */
    harness_redis *victim = masters[v], *seed = victim, *heir = failover_replica_of(cl, victim);
    assert_non_null(heir);
    long long offset = replication_field(victim, "master_repl_offset");
    WAIT_UNTIL(replication_field(heir, "slave_repl_offset") >= offset, 10000);
    assert_true(replication_field(heir, "slave_repl_offset") >= offset);
    char ids[400], log[400];
    snprintf(ids, sizeof(ids), "%s/worker.ids", seed->dir);
    snprintf(log, sizeof(log), "%s/worker.log", seed->dir);
    const char *args[] = {"--config", worker_config(seed->dir, ids, "0.2", 1), NULL};
    pid_t pid = proc_worker_env(seed, args, log, seed->tcp_url);
    char leader[129] = "", seen[129] = "";
    WAIT_UNTIL(failover_governor(c, leader) > 0 && leader[0], 20000);
    if (!leader[0]) fail_msg("the hosted governor took no lease (log %s)", log);

    static char vclasses[NCLASSES][16];
    int nv = 0;
    for (int i = 0; i < NCLASSES; i++)
        if (master_with_keys(masters, slot_of(seed, wclasses[i])) == v) strcpy(vclasses[nv++], wclasses[i]);
    static failover_producer producer;
    memset(&producer, 0, sizeof(producer));
    producer.url = masters[(v + 1) % NMASTERS]->tcp_url;
    producer.classes = (const char(*)[16])vclasses;
    producer.nclasses = nv;
    WAIT_UNTIL(jobs_run(ids) >= NJOBS / 3, 120000);
    assert_true(jobs_run(ids) >= NJOBS / 3);
    failover_producer_start(&producer);
    WAIT_UNTIL(atomic_load(&producer.confirmed) >= 20 || producer.error[0], 20000);
    if (atomic_load(&producer.confirmed) == 0) fail_msg("no enqueue confirmed before the kill: %s", producer.error);
    int victims = 0;
    char window_ids[NCLASSES][SLUICE_ID_MAX];
    for (int i = 0; i < nv; i++) {
        sluice_error err;
        if (sluice_enqueue(c, vclasses[i], "{}", NULL, window_ids[victims], &err) < 0)
            fail_msg("enqueue into %s: %s", vclasses[i], err.text);
        victims++;
    }
    assert_true(failover_governor(c, seen) > 0);
    if (!failover_same_governor(leader, seen)) fail_msg("a second leader: %s, then %s", leader, seen);
    harness_redis_kill(victim);
    long long killed = harness_now_ms();
    WAIT_UNTIL(failover_is_master(heir), 30000);
    long long promoted = harness_now_ms();
    assert_true(failover_is_master(heir));

    /* from the promotion: the heir's counters as replicated, then more */
    long long acked0 = -1, ticks0 = -1;
    WAIT_UNTIL((acked0 = failover_acked(c, (const char(*)[16])vclasses, nv)) >= 0 &&
                   (ticks0 = failover_governor(c, seen)) >= 0,
               10000);
    long long acked1 = acked0, ticks1 = ticks0;
    WAIT_UNTIL((acked1 = failover_acked(c, (const char(*)[16])vclasses, nv)) > acked0, 10000);
    long long resumed = harness_now_ms();
    WAIT_UNTIL((ticks1 = failover_governor(c, seen)) > ticks0, 10000);
    long long governed = harness_now_ms();
    fprintf(stderr,
            "#   killed -> promoted %lld ms; promoted -> first ack on its classes %lld ms, -> first governor tick "
            "%lld ms\n",
            promoted - killed, resumed - promoted, governed - promoted);
    if (acked1 <= acked0) fail_msg("no ack on the failed master's classes within 10 s of the promotion (log %s)", log);
    if (ticks1 <= ticks0) fail_msg("no governor tick within 10 s of the promotion (log %s)", log);
    if (!failover_same_governor(leader, seen)) fail_msg("a second leader: %s, then %s", leader, seen);
    int before = atomic_load(&producer.enqueued); /* and some more on the promoted master */
    WAIT_UNTIL(atomic_load(&producer.enqueued) >= before + 10 || producer.error[0], 20000);
    failover_producer_stop(&producer);

    WAIT_UNTIL(jobs_run(ids) == NJOBS && worker_classes_empty(c), 180000);
    /* the subscription, on the dead URL's node until then, listens on a live master */
    an_enqueue_wakes_the_idle_class(c, heir, vclasses[0], ids);
    int runs[NJOBS];
    count_runs(ids, runs); /* the window's and the producer's jobs are counted below */
    assert_int_equal(failover_table(c, "a master killed under sluice-worker", runs, 0, NJOBS), 0);
    assert_int_equal(failover_producer_table(&producer, c, ids, "a master killed under sluice-worker"), 0);
    for (int k = 0; k < NJOBS; k++) {
        char lost_lease[SLUICE_ID_MAX + 32];
        strcat(strcat(strcpy(lost_lease, "lease-lost job="), job_ids[k]), " ");
        if (runs[k] > 1 && proc_count_file(log, lost_lease) == 0)
            fail_msg("job %s ran %d times, its lease never lost (log %s)", job_ids[k], runs[k], log);
    }
    int window_lost = 0;
    for (int w = 0; w < victims; w++) {
        char needle[SLUICE_ID_MAX + 2];
        strcat(strcpy(needle, window_ids[w]), "\n");
        sluice_job_info ji;
        int queued = sluice_job_get(c, window_ids[w], &ji, NULL) == 0 && ji.state != SLUICE_JOB_UNKNOWN;
        if (queued) sluice_job_info_clear(&ji);
        window_lost += proc_count_file(ids, needle) == 0 && !queued;
    }
    fprintf(stderr, "#   enqueued without WAIT just before the kill: %d, lost with the master: %d\n", victims,
            window_lost);
    for (int i = 0; i < NCLASSES; i++) {
        sluice_class_stats st;
        assert_int_equal(sluice_class_stats_get(c, wclasses[i], &st, NULL), 0);
        assert_int_equal(st.dead, 0);
    }
    assert_true(resumed - promoted <= 10000);
    assert_true(governed - promoted <= 10000);
    char promoted_to[64];
    snprintf(promoted_to, sizeof(promoted_to), "cluster master 127.0.0.1:%d", heir->port);
    if (proc_count_file(log, promoted_to) < 1)
        fail_msg("the worker never connected to the promoted master (log %s)", log);
    proc_stop(pid);
    proc_forget(pid);
    sluice_client_free(c);
}

/* ------------------------------------- ACL roles (a second cluster) */

typedef enum role { PRODUCER, WORKER, GOVERNOR, OPERATOR, DEPLOY, NROLES } role;
static const char *const ROLE[NROLES] = {"producer", "worker", "governor", "operator", "deploy"};

/* redis://sluice-<role>:<role>-example-CHANGE-ME@<node>, in one of 4 buffers. */
static const char *role_url(const harness_cluster *cl, int node, role r) {
    static char buf[4][256];
    static int next;
    char *u = buf[next++ % 4];
    snprintf(u, sizeof(buf[0]), "redis://sluice-%s:%s-example-CHANGE-ME@127.0.0.1:%d", ROLE[r], ROLE[r],
             cl->nodes[node].port);
    return u;
}

static sluice_client *connect_as(const harness_cluster *cl, int node, role r) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(role_url(cl, node, r), "sluice", &err);
    if (!c) fail_msg("connect as %s: %s", ROLE[r], err.text);
    return c;
}

static void assert_noperm(int rc, const sluice_error *err, role r, const char *what) {
    if (rc == 0) fail_msg("%s as %s was allowed", what, ROLE[r]);
    if (!strstr(err->text, "NOPERM")) fail_msg("%s as %s: expected NOPERM, got %s", what, ROLE[r], err->text);
}

/* The command (its subcommand: NULL for none) on node 0's unix socket as
 * the role: 1 if refused (NOPERM), 0 if it ran, fails the test otherwise. */
static int raw_refused(const harness_cluster *cl, role r, const char *command, const char *sub) {
    redisContext *ctx = redisConnectUnix(cl->nodes[0].sock);
    assert_true(ctx && !ctx->err);
    redisReply *rep = redisCommand(ctx, "AUTH sluice-%s %s-example-CHANGE-ME", ROLE[r], ROLE[r]);
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    const char *argv[] = {command, sub};
    rep = redisCommandArgv(ctx, sub ? 2 : 1, argv, NULL);
    assert_non_null(rep);
    int refused = rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOPERM", 6) == 0;
    if (rep->type == REDIS_REPLY_ERROR && !refused) fail_msg("%s as %s: %s", command, ROLE[r], rep->str);
    freeReplyObject(rep);
    redisFree(ctx);
    return refused;
}

/* A cluster whose nodes load the shipped roles; the deploy role declares
 * a class on each master (and so loads the Functions there). */
static int acl_setup(void **state) {
    harness_cluster *cl = calloc(1, sizeof(*cl));
    if (!cl) return -1;
    cl->aclfile = aclfile;
    if (harness_cluster_start(cl) < 0) {
        free(cl);
        return -1;
    }
    *state = cl;
    return declare_classes(state, role_url(cl, 0, DEPLOY), "sluice", NCLASSES / NMASTERS);
}

/* Each role connects through a node (so it may read the slot map); the
 * producer enqueues into a class on each master, the worker claims and
 * acks them, the operator reads them in sluicectl status. Each role is
 * still refused what it was refused on a single Redis, and the CLUSTER
 * subcommands but SLOTS. */
static void every_acl_role_does_its_job_on_a_cluster_and_no_more(void **state) {
    harness_cluster *cl = *state;
    sluice_client *producer = connect_as(cl, 1, PRODUCER), *worker = connect_as(cl, 2, WORKER);
    sluice_client *governor = connect_as(cl, 3, GOVERNOR), *op = connect_as(cl, 4, OPERATOR);
    sluice_error err;
    for (int i = 0; i < NCLASSES; i += NCLASSES / NMASTERS) {
        char id[SLUICE_ID_MAX];
        if (sluice_enqueue(producer, classes[i], "{}", NULL, id, &err) < 0) fail_msg("enqueue: %s", err.text);
        sluice_job *j = NULL;
        sluice_claim_info info;
        assert_noperm(sluice_claim(producer, classes[i], "t", 1, &j, &info, &err), &err, PRODUCER, "claim");
        assert_noperm(sluice_claim(governor, classes[i], "t", 1, &j, &info, &err), &err, GOVERNOR, "claim");
        if (sluice_claim(worker, classes[i], "t", 1, &j, &info, &err) < 0) fail_msg("claim: %s", err.text);
        assert_int_equal(info.count, 1);
        assert_string_equal(sluice_job_id(j), id);
        if (sluice_ack(worker, id, sluice_job_token(j), &err) < 0) fail_msg("ack: %s", err.text);
        sluice_job_free(j);
        assert_noperm(sluice_class_pause(worker, classes[i], 0, &err), &err, WORKER, "pause");
        assert_noperm(sluice_class_delete(op, classes[i], 1, &err), &err, OPERATOR, "class delete");
    }
    json_t *root = ctl_json(role_url(cl, 5, OPERATOR), "sluice", (const char *const[]){"--json", "status", NULL});
    json_t *list = json_object_get(root, "classes");
    assert_int_equal(json_array_size(list), NMASTERS);
    for (size_t k = 0; k < json_array_size(list); k++) {
        json_t *row = json_array_get(list, k);
        assert_int_equal(json_integer_value(json_object_get(row, "ready")), 0);
        assert_int_equal(json_integer_value(json_object_get(row, "leased")), 0);
    }
    json_decref(root);
    for (role r = PRODUCER; r < NROLES; r++) {
        assert_false(raw_refused(cl, r, "CLUSTER", "SLOTS"));
        assert_false(raw_refused(cl, r, "ASKING", NULL));
        assert_true(raw_refused(cl, r, "CLUSTER", "NODES"));
        assert_true(raw_refused(cl, r, "CLUSTER", "FAILOVER"));
        assert_true(raw_refused(cl, r, "READONLY", NULL));
    }
    assert_true(raw_refused(cl, DEPLOY, "FLUSHALL", NULL));
    sluice_client_free(producer);
    sluice_client_free(worker);
    sluice_client_free(governor);
    sluice_client_free(op);
}

/* aclfile: the shipped file with its default user made the harness's. */
static int write_aclfile(void) {
    const char *shipped = getenv("SLUICE_ACLFILE") ? getenv("SLUICE_ACLFILE") : "scripts/acl/sluice.acl";
    FILE *in = fopen(shipped, "r");
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(aclfile, sizeof(aclfile), "%s/sluice-cluster-acl-XXXXXX", tmp);
    int fd = in ? mkstemp(aclfile) : -1;
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        fprintf(stderr, "test_cluster: cannot copy %s (run from the top of the tree)\n", shipped);
        if (in) fclose(in);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof(line), in))
        fputs(strncmp(line, "user default ", 13) == 0 ? "user default on nopass ~* &* +@all\n" : line, out);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    if (slash) snprintf(ctl_bin, sizeof(ctl_bin), "%.*s/../bin/sluicectl", (int)(slash - argv[0]), argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thirty_classes_declared_through_one_node_land_on_all_three_masters),
        cmocka_unit_test(every_class_enqueues_claims_acks_and_fails_to_dead_and_back),
        cmocka_unit_test(sluicectl_status_and_explain_see_every_class_of_every_master),
        cmocka_unit_test(a_call_into_a_moved_slot_follows_moved_to_the_new_master),
        cmocka_unit_test(a_class_migrated_with_its_jobs_is_served_through_ask_then_moved),
        cmocka_unit_test(a_lost_link_fails_its_call_once_and_the_next_call_reconnects),
        cmocka_unit_test(a_master_without_the_functions_gets_them_from_the_client),
        cmocka_unit_test(one_worker_on_one_nodes_url_runs_every_job_of_every_master_once),
        cmocka_unit_test(a_class_migrated_under_a_running_worker_is_followed_to_its_new_master),
        cmocka_unit_test(a_class_migrated_key_by_key_while_jobs_flow_loses_none),
        cmocka_unit_test(on_a_cluster_an_enqueue_waits_for_the_replica_of_its_own_master),
        cmocka_unit_test(a_killed_master_is_replaced_by_its_promoted_replica_on_the_next_call),
    };
    const struct CMUnitTest failover_tests[] = {
        cmocka_unit_test(a_worker_goes_on_through_a_killed_master_and_loses_no_replicated_enqueue),
    };
    const struct CMUnitTest acl_tests[] = {
        cmocka_unit_test(every_acl_role_does_its_job_on_a_cluster_and_no_more),
    };
    proc_init(argv[0]);
    if (!realpath("tests/fixtures/worker", fixtures)) {
        fprintf(stderr, "test_cluster: no tests/fixtures/worker (run from the top of the tree)\n");
        return 1;
    }
    if (write_aclfile() < 0) return 1;
    int failed = cmocka_run_group_tests_name("cluster", tests, setup, harness_cluster_group_teardown);
    failed += cmocka_run_group_tests_name("cluster: a worker through a failover", failover_tests,
                                          harness_cluster_group_setup, harness_cluster_group_teardown);
    failed += cmocka_run_group_tests_name("cluster: ACL roles", acl_tests, acl_setup, harness_cluster_group_teardown);
    unlink(aclfile);
    return failed;
}
