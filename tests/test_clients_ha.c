/* The Python, Ruby and Node producers (queue/clients/) on a real Redis
 * Cluster and a real Sentinel set, from the URLs the C library takes: a
 * plain redis:// URL of one replica of the cluster (without the
 * Functions: only the masters need them) as a shipped ACL role, and
 * redis-sentinel://. Each enqueues into 30 classes spread over the 3
 * masters and looks every job up: every call goes straight to its class's
 * master (no MOVED or ASK on any node, INFO errorstats), and the C library
 * finds every job. Through the sentinels each finds the master; a
 * malformed sentinel URL, an unknown master's name and a wrong password
 * are refused as in C. Each goes on through a failover, on a cluster (its
 * URL's own master killed) and through the sentinels, losing none of its
 * confirmed enqueues, and fails cleanly with every node down.
 * Run from the top of the tree. */
#define _DEFAULT_SOURCE
#include <hiredis/hiredis.h>

#include "failover.h"

#define PYTHON "/usr/bin/python3"
#define RUBY "/usr/bin/ruby"
#define NODE "/usr/bin/node"
#define NS "sluice" /* the namespace the shipped ACL roles name */
#define NCLASSES 30
#define NMASTERS 3
#define NLANGS 3
#define ARGS_MAX (NCLASSES + 8)

/* Each language's producer, its classes as arguments: connects
 * (SLUICE_REDIS_URL, SLUICE_NAMESPACE), enqueues {"n": i} into each class,
 * then two jobs into the first with one enqueue_many, and prints "ID STATE"
 * of each job looked up; or prints "error CODE MESSAGE" when connect fails.
 * Given one job id instead, prints the state of that job (or "error CODE
 * MESSAGE"). */
static const struct {
    const char *lang;
    const char *argv[6];
} producers[NLANGS] = {
    {"python",
     {PYTHON, "-c",
      "import sys; sys.path.insert(0, 'queue/clients/python'); import sluice\n"
      "try:\n"
      "    c = sluice.connect()\n"
      "except sluice.SluiceError as e:\n"
      "    sys.exit(print('error', e.code, e))\n"
      "if len(sys.argv) == 2 and ':' in sys.argv[1]:\n"
      "    try:\n"
      "        sys.exit(print(c.job(sys.argv[1]).state))\n"
      "    except sluice.SluiceError as e:\n"
      "        sys.exit(print('error', e.code, e))\n"
      "ids = [c.enqueue(k, {'n': i}) for i, k in enumerate(sys.argv[1:])]\n"
      "ids += c.enqueue_many(sys.argv[1], [{'n': -1}, {'n': -2}])\n"
      "for i in ids: print(i, c.job(i).state)\n"
      "c.close()\n",
      NULL}},
    {"ruby",
     {RUBY, "-Iqueue/clients/ruby", "-rsluice", "-e",
      "begin\n"
      "  c = Sluice.connect\n"
      "rescue Sluice::Error => e\n"
      "  puts \"error #{e.code} #{e.message}\"\n"
      "  exit\n"
      "end\n"
      "if ARGV.length == 1 && ARGV[0].include?(':')\n"
      "  begin\n"
      "    puts c.job(ARGV[0]).state\n"
      "  rescue Sluice::Error => e\n"
      "    puts \"error #{e.code} #{e.message}\"\n"
      "  end\n"
      "  exit\n"
      "end\n"
      "ids = ARGV.each_with_index.map { |k, i| c.enqueue(k, { n: i }) }\n"
      "ids += c.enqueue_many(ARGV[0], [{ n: -1 }, { n: -2 }])\n"
      "ids.each { |i| puts \"#{i} #{c.job(i).state}\" }\n"
      "c.close\n",
      NULL}},
    {"node",
     {NODE, "-e",
      "const sluice = require('./queue/clients/node/sluice');\n"
      "(async () => {\n"
      "  let c;\n"
      "  try { c = await sluice.connect(); } catch (e) {\n"
      "    if (!e.code) throw e;\n"
      "    return console.log('error', e.code, e.message);\n"
      "  }\n"
      "  const k = process.argv.slice(1), ids = [];\n"
      "  if (k.length === 1 && k[0].includes(':')) {\n"
      "    const s = await c.job(k[0]).then((j) => j.state, (e) => `error ${e.code} ${e.message}`);\n"
      "    return console.log(s), c.close();\n"
      "  }\n"
      "  for (const [i, cls] of k.entries()) ids.push(await c.enqueue(cls, { n: i }));\n"
      "  ids.push(...await c.enqueueMany(k[0], [{ n: -1 }, { n: -2 }]));\n"
      "  for (const id of ids) console.log(id, (await c.job(id)).state);\n"
      "  await c.close();\n"
      "})().catch((e) => { console.error(e); process.exit(1); });\n",
      NULL}},
};

/* Runs producer i on url with the classes; its output into out. */
static void produce(int i, const char *url, char classes[][16], int n, char *out, size_t outn) {
    const char *argv[ARGS_MAX];
    int k = 0;
    for (; producers[i].argv[k]; k++) argv[k] = producers[i].argv[k];
    for (int j = 0; j < n; j++) argv[k++] = classes[j];
    argv[k] = NULL;
    char url_env[600], err[4000];
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", url);
    const char *env[] = {url_env, "SLUICE_NAMESPACE=" NS, NULL};
    int rc = proc_run(argv, env, NULL, out, outn, err, sizeof(err));
    if (rc != 0) fail_msg("%s producer on %s: exit %d: %s%s", producers[i].lang, url, rc, out, err);
}

/* Checks producer output: n + 2 lines "ID ready", the i-th ID of class i
 * (the last two of class 0), each job found waiting by the C library. */
static void every_job_is_ready(const char *lang, const char *out, char classes[][16], int n, sluice_client *c) {
    const char *line = out;
    for (int j = 0; j < n + 2; j++) {
        const char *cls = classes[j < n ? j : 0];
        size_t len = strcspn(line, "\n"), cl = strlen(cls);
        char id[SLUICE_ID_MAX];
        int idlen = (int)strcspn(line, " \n");
        if (strncmp(line, cls, cl) != 0 || line[cl] != ':' || strncmp(line + idlen, " ready\n", 7) != 0 ||
            idlen >= SLUICE_ID_MAX)
            fail_msg("%s: line %d is \"%.*s\", not a job of %s ready:\n%s", lang, j, (int)len, line, cls, out);
        snprintf(id, sizeof(id), "%.*s", idlen, line);
        sluice_job_info info;
        sluice_error err;
        if (sluice_job_get(c, id, &info, &err) < 0) fail_msg("%s: job %s: %s", lang, id, err.text);
        if (info.state != SLUICE_JOB_READY)
            fail_msg("%s: the C library finds %s %s", lang, id, sluice_job_state_name(info.state));
        sluice_job_info_clear(&info);
        line += len + 1;
    }
    if (*line) fail_msg("%s: more output than the jobs:\n%s", lang, out);
}

static sluice_client *connect_to(const char *url) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(url, NS, &err);
    if (!c) fail_msg("connect %s: %s", url, err.text);
    return c;
}

/* The count after "name" in the node's INFO section, 0 without one. */
static long long info_count(const harness_redis *r, const char *section, const char *name) {
    redisReply *rep = harness_redis_command(r, "INFO %s", section);
    if (!rep || rep->type != REDIS_REPLY_STRING) fail_msg("INFO %s: no reply", section);
    const char *at = strstr(rep->str, name);
    long long n = at ? atoll(at + strlen(name)) : 0;
    freeReplyObject(rep);
    return n;
}

/* ------------------------------------------------------------ cluster */

static char aclfile[PATH_MAX];

/* A cluster whose nodes load the harness's default user and the shipped
 * operator role (scripts/acl/sluice.acl, its example password): the
 * producers connect as that role, which may enqueue and look jobs up but
 * run none of INFO, CLUSTER INFO or COMMAND (only HELLO, CLUSTER SLOTS and
 * ASKING of the cluster's commands, as every role). */
static int acl_cluster_setup(void **state) {
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(aclfile, sizeof(aclfile), "%s/sluice-clients-acl-XXXXXX", tmp);
    FILE *in = fopen("scripts/acl/sluice.acl", "r");
    int fd = in ? mkstemp(aclfile) : -1;
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    char line[4096];
    if (out) fputs("user default on nopass ~* &* +@all\n", out);
    while (out && fgets(line, sizeof(line), in))
        if (strncmp(line, "user sluice-operator ", 21) == 0) fputs(line, out);
    if (in) fclose(in);
    harness_cluster *cl = out && fclose(out) == 0 ? calloc(1, sizeof(*cl)) : NULL;
    if (cl) cl->aclfile = aclfile;
    *state = cl;
    return cl && harness_cluster_start(cl) == 0 ? 0 : -1; /* the teardown frees it */
}

static int acl_cluster_teardown(void **state) {
    unlink(aclfile);
    return harness_cluster_group_teardown(state);
}

/* The index of the node that serves class cls's keys (a probe that the
 * other nodes answer with MOVED), or -1. */
static int master_of(const harness_cluster *cl, const char *cls) {
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        if (harness_redis_int(&cl->nodes[i], "EXISTS " NS ":{%s}:probe", cls) == 0) return i;
    return -1;
}

static void each_client_sends_every_call_to_its_class_master_from_one_replicas_url(void **state) {
    harness_cluster *cl = *state;
    /* 30 classes, 10 on each master */
    char classes[NCLASSES][16];
    int per_master[HARNESS_CLUSTER_NODES] = {0}, n = 0;
    for (int i = 0; n < NCLASSES && i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        int m = master_of(cl, name);
        if (m < 0 || per_master[m] == NCLASSES / NMASTERS) continue;
        per_master[m]++;
        strcpy(classes[n++], name);
    }
    assert_int_equal(n, NCLASSES);
    int masters[NMASTERS], replica = -1, nm = 0;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (per_master[i] && nm < NMASTERS) masters[nm++] = i;
        if (!per_master[i]) replica = i;
    }
    assert_int_equal(nm, NMASTERS);
    assert_true(replica >= 0);
    sluice_client *c = connect_to(cl->nodes[0].tcp_url);
    for (int i = 0; i < NCLASSES; i++) test_class(c, classes[i], SLUICE_TIER_NORMAL, 10);
    /* the URL's node without the Functions: only the masters need them */
    assert_int_equal(harness_redis_int(&cl->nodes[replica], "CONFIG SET replica-read-only no"), -1);
    assert_int_equal(harness_redis_int(&cl->nodes[replica], "FUNCTION DELETE sluice"), -1);
    assert_int_equal(harness_redis_int(&cl->nodes[replica], "FCALL_RO sluice_version 0"), -1);
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        assert_int_equal(harness_redis_int(&cl->nodes[i], "CONFIG RESETSTAT"), -1); /* +OK: not an integer */
    static char out[NLANGS][1 << 14];
    char url[200];
    snprintf(url, sizeof(url), "redis://sluice-operator:operator-example-CHANGE-ME@127.0.0.1:%d",
             cl->nodes[replica].port);
    long long fcalls = 0;
    for (int l = 0; l < NLANGS; l++) {
        produce(l, url, classes, NCLASSES, out[l], sizeof(out[l]));
        if (strncmp(out[l], "error ", 6) == 0) fail_msg("%s: %s", producers[l].lang, out[l]);
        for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
            long long moved = info_count(&cl->nodes[i], "errorstats", "errorstat_MOVED:count=");
            long long ask = info_count(&cl->nodes[i], "errorstats", "errorstat_ASK:count=");
            if (moved || ask)
                fail_msg("%s: node %d replied MOVED %lld, ASK %lld times", producers[l].lang, i, moved, ask);
        }
    }
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        fcalls += info_count(&cl->nodes[i], "commandstats", "cmdstat_fcall:calls=");
    /* each language: an enqueue per class, one enqueue_many, a lookup per job */
    assert_int_equal(fcalls, NLANGS * (NCLASSES + 1 + NCLASSES + 2));
    for (int m = 0; m < NMASTERS; m++)
        if (info_count(&cl->nodes[masters[m]], "commandstats", "cmdstat_fcall:calls=") < NLANGS * 2 * 10)
            fail_msg("master %d ran fewer calls than its 10 classes' jobs and lookups", masters[m]);
    for (int i = 0; i < NLANGS; i++) every_job_is_ready(producers[i].lang, out[i], classes, NCLASSES, c);
    sluice_client_free(c);
}

/* 1 when every node sends class cls's keys to node "to" (serves them, or
 * answers MOVED naming it): the move has reached every node. */
static int all_route_to(const harness_cluster *cl, const char *cls, int to) {
    char port[16];
    snprintf(port, sizeof(port), ":%d", cl->nodes[to].port);
    int all = 1;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        redisReply *rep = harness_redis_command(&cl->nodes[i], "EXISTS " NS ":{%s}:probe", cls);
        all &= rep && (i == to ? rep->type == REDIS_REPLY_INTEGER
                               : rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "MOVED ", 6) == 0 &&
                                     strstr(rep->str, port) != NULL);
        freeReplyObject(rep);
    }
    return all;
}

/* The NEW id of the node (CLUSTER MYID). */
static char *node_id(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "CLUSTER MYID");
    if (!rep || rep->type != REDIS_REPLY_STRING) fail_msg("CLUSTER MYID: no reply");
    char *id = strdup(rep->str);
    freeReplyObject(rep);
    return id;
}

static void node_ok(const harness_redis *r, const char *fmt, long long slot, const char *id) {
    redisReply *rep = harness_redis_command(r, fmt, slot, id);
    if (!rep || rep->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", fmt, rep ? rep->str : "no reply");
    freeReplyObject(rep);
}

/* A class's slot being migrated, none of its keys there yet: each
 * producer's lookup follows the old master's ASK to the new one (with
 * ASKING), which answers TRYAGAIN (its keys are not all there): retried
 * (0.6 s in Python and Ruby, as in C; ioredis counts ASK and TRYAGAIN
 * together: 0.4 s), then SLUICE_ERR_UNAVAILABLE, nothing run; once the slot is
 * the new master's, the lookup goes straight there. */
static void a_lookup_into_a_slot_being_migrated_follows_ask_and_tryagain_then_is_unavailable(void **state) {
    harness_cluster *cl = *state;
    const char *cls = "migrating";
    int from = master_of(cl, cls), to = -1;
    assert_true(from >= 0);
    long long slot = harness_redis_int(&cl->nodes[from], "CLUSTER KEYSLOT %s", cls);
    char *from_id = node_id(&cl->nodes[from]), *to_id = NULL;
    for (int i = 0; i < HARNESS_CLUSTER_NODES && !to_id; i++) {
        redisReply *rep = harness_redis_command(&cl->nodes[i], "ROLE");
        int master = rep && rep->type == REDIS_REPLY_ARRAY && strcmp(rep->element[0]->str, "master") == 0;
        freeReplyObject(rep);
        if (master && i != from) to_id = node_id(&cl->nodes[to = i]);
    }
    assert_non_null(to_id);
    node_ok(&cl->nodes[to], "CLUSTER SETSLOT %lld IMPORTING %s", slot, from_id);
    node_ok(&cl->nodes[from], "CLUSTER SETSLOT %lld MIGRATING %s", slot, to_id);
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        assert_int_equal(harness_redis_int(&cl->nodes[i], "CONFIG RESETSTAT"), -1);
    char id[1][16], out[2000];
    snprintf(id[0], sizeof(id[0]), "%s:1", cls);
    for (int l = 0; l < NLANGS; l++) {
        long long t0 = harness_now_ms();
        produce(l, cl->nodes[from].tcp_url, id, 1, out, sizeof(out));
        long long ms = harness_now_ms() - t0;
        if (strncmp(out, "error SLUICE_ERR_UNAVAILABLE ", 29) != 0) /* the last reply: TRYAGAIN, ASK or MOVED */
            fail_msg("%s: the lookup printed %s", producers[l].lang, out);
        if (ms < 200) fail_msg("%s: unavailable after %lld ms, not retried", producers[l].lang, ms);
        long long asks = info_count(&cl->nodes[from], "errorstats", "errorstat_ASK:count=");
        long long tryagain = info_count(&cl->nodes[to], "errorstats", "errorstat_TRYAGAIN:count=");
        if (asks < 2 * (l + 1) || tryagain < 2 * (l + 1))
            fail_msg("%s: %lld ASK, %lld TRYAGAIN so far: not retried", producers[l].lang, asks, tryagain);
    }
    assert_int_equal(info_count(&cl->nodes[to], "commandstats", "cmdstat_asking:calls="),
                     info_count(&cl->nodes[to], "errorstats", "errorstat_TRYAGAIN:count="));
    node_ok(&cl->nodes[to], "CLUSTER SETSLOT %lld NODE %s", slot, to_id); /* the slot is the new master's */
    node_ok(&cl->nodes[from], "CLUSTER SETSLOT %lld NODE %s", slot, to_id);
    WAIT_UNTIL(all_route_to(cl, cls, to), 10000); /* the other nodes hear it by gossip */
    assert_true(all_route_to(cl, cls, to));
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++)
        assert_int_equal(harness_redis_int(&cl->nodes[i], "CONFIG RESETSTAT"), -1);
    for (int l = 0; l < NLANGS; l++) {
        produce(l, cl->nodes[from].tcp_url, id, 1, out, sizeof(out));
        if (strcmp(out, "unknown\n") != 0) fail_msg("%s: the lookup printed %s", producers[l].lang, out);
    }
    assert_int_equal(info_count(&cl->nodes[from], "errorstats", "errorstat_MOVED:count="), 0);
    assert_int_equal(info_count(&cl->nodes[to], "commandstats", "cmdstat_fcall:calls="), NLANGS);
    free(from_id);
    free(to_id);
}

/* ----------------------------------------------------------- sentinel */

static void each_client_enqueues_through_the_master_the_sentinels_name(void **state) {
    harness_sentinel *s = *state;
    sluice_client *c = connect_to(s->url);
    char classes[1][16] = {"via-sentinel"};
    test_class(c, classes[0], SLUICE_TIER_NORMAL, 10);
    char out[4000];
    for (int i = 0; i < NLANGS; i++) {
        produce(i, s->url, classes, 1, out, sizeof(out));
        every_job_is_ready(producers[i].lang, out, classes, 1, c);
    }
    sluice_client_free(c);
    /* the jobs are on the master (the URL names only the sentinels) */
    assert_int_equal(harness_redis_int(&s->master, "ZCARD " NS ":{via-sentinel}:ready"), NLANGS * 3);
}

/* Each language refuses url at connect with "error CODE ..." naming why. */
static void refused(const char *url, const char *code, const char *why) {
    char want[300], out[2000];
    snprintf(want, sizeof(want), "error %s ", code);
    for (int i = 0; i < NLANGS; i++) {
        produce(i, url, NULL, 0, out, sizeof(out));
        if (strncmp(out, want, strlen(want)) != 0 || !strstr(out, why))
            fail_msg("%s on %s: want %s (%s), got: %s", producers[i].lang, url, code, why, out);
    }
}

static void a_bad_sentinel_url_an_unknown_master_and_a_wrong_password_are_refused_naming_the_problem(void **state) {
    harness_sentinel *s = *state;
    char url[600];
    snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,/" HARNESS_SENTINEL_MASTER, s->sentinels[0].port);
    refused(url, "SLUICE_ERR_URL", "empty sentinel address after a comma");
    snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d/%s", s->sentinels[0].port, "no/such");
    refused(url, "SLUICE_ERR_URL", "the master's name may hold only");
    snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/nosuch", s->sentinels[0].port,
             s->sentinels[1].port);
    refused(url, "SLUICE_ERR_NOT_FOUND", "nosuch");
    snprintf(url, sizeof(url), "redis-sentinel://nobody:wrong@127.0.0.1:%d/" HARNESS_SENTINEL_MASTER,
             s->sentinels[0].port);
    refused(url, "SLUICE_ERR_AUTH", "authentication failed");
}

/* Each language's producer in a loop, until the file argv[1] exists:
 * enqueues {} into class argv[2] with replicas 1 (WAIT, 200 ms), one call
 * each 20 ms, and prints a line a call: "ok ID" (confirmed), "unconfirmed
 * ID" (created; WAIT was short), "down CODE ..." (unreachable or
 * unavailable: an outage) or "error CODE MESSAGE" (anything else). */
static const struct {
    const char *lang;
    const char *argv[6];
} loopers[NLANGS] = {
    {"python",
     {PYTHON, "-c",
      "import os, sys, time; sys.path.insert(0, 'queue/clients/python'); import sluice\n"
      "c = sluice.connect()\n"
      "while not os.path.exists(sys.argv[1]):\n"
      "    try:\n"
      "        print('ok', c.enqueue(sys.argv[2], {}, replicas=1, replicas_timeout_ms=200), flush=True)\n"
      "    except sluice.NotReplicatedError as e:\n"
      "        print('unconfirmed', e.ids[0], flush=True)\n"
      "    except sluice.SluiceError as e:\n"
      "        down = e.code in ('SLUICE_ERR_UNREACHABLE', 'SLUICE_ERR_UNAVAILABLE')\n"
      "        print('down' if down else 'error', e.code, e, flush=True)\n"
      "    time.sleep(0.02)\n"
      "c.close()\n",
      NULL}},
    {"ruby",
     {RUBY, "-Iqueue/clients/ruby", "-rsluice", "-e",
      "c = Sluice.connect\n"
      "until File.exist?(ARGV[0])\n"
      "  begin\n"
      "    puts \"ok #{c.enqueue(ARGV[1], {}, replicas: 1, replicas_timeout_ms: 200)}\"\n"
      "  rescue Sluice::NotReplicatedError => e\n"
      "    puts \"unconfirmed #{e.ids[0]}\"\n"
      "  rescue Sluice::Error => e\n"
      "    down = %w[SLUICE_ERR_UNREACHABLE SLUICE_ERR_UNAVAILABLE].include?(e.code)\n"
      "    puts \"#{down ? 'down' : 'error'} #{e.code} #{e.message}\"\n"
      "  end\n"
      "  $stdout.flush\n"
      "  sleep 0.02\n"
      "end\n"
      "c.close\n",
      NULL}},
    {"node",
     {NODE, "-e",
      "const sluice = require('./queue/clients/node/sluice');\n"
      "const fs = require('fs');\n"
      "(async () => {\n"
      "  const c = await sluice.connect();\n"
      "  const [stop, cls] = process.argv.slice(1);\n"
      "  while (!fs.existsSync(stop)) {\n"
      "    try {\n"
      "      console.log('ok', await c.enqueue(cls, {}, { replicas: 1, replicasTimeoutMs: 200 }));\n"
      "    } catch (e) {\n"
      "      if (!e.code) throw e;\n"
      "      if (e.code === 'SLUICE_ERR_NOT_REPLICATED') console.log('unconfirmed', e.ids[0]);\n"
      "      else {\n"
      "        const down = ['SLUICE_ERR_UNREACHABLE', 'SLUICE_ERR_UNAVAILABLE'].includes(e.code);\n"
      "        console.log(down ? 'down' : 'error', e.code, e.message);\n"
      "      }\n"
      "    }\n"
      "    await new Promise((r) => setTimeout(r, 20));\n"
      "  }\n"
      "  await c.close();\n"
      "})().catch((e) => { console.error(e); process.exit(1); });\n",
      NULL}},
};

/* Starts looper i on url into class "cls" until "stop" exists, its stdout
 * and stderr into "out". proc_teardown kills it if the test fails. */
static pid_t loop_start(int i, const char *url, const char *cls, const char *stop, const char *out) {
    const char *argv[10];
    int k = 0;
    for (; loopers[i].argv[k]; k++) argv[k] = loopers[i].argv[k];
    argv[k++] = stop;
    argv[k++] = cls;
    argv[k] = NULL;
    char url_env[600];
    snprintf(url_env, sizeof(url_env), "SLUICE_REDIS_URL=%s", url);
    const char *env[] = {url_env, "SLUICE_NAMESPACE=" NS, NULL};
    return proc_start(argv, env, out, 1);
}

/* Lines of "path" that begin with "word" and a space, from line "from"
 * (counting from 0); the lines read so far into *lines when not NULL. */
static int lines_with(const char *path, const char *word, int from, int *lines) {
    char *text = proc_slurp(path);
    int n = 0, at = 0;
    size_t len = strlen(word);
    for (char *l = text; l && *l; at++) {
        char *end = strchr(l, '\n');
        if (!end) break; /* a line still being written */
        if (at >= from && !strncmp(l, word, len) && l[len] == ' ') n++;
        l = end + 1;
    }
    if (lines) *lines = at;
    free(text);
    return n;
}

/* A master killed under a producer of each language: each on "url",
 * enqueueing into its class cls[i] (declared here) on "victim" with
 * replicas 1. During the outage each gets explicit errors (unreachable or
 * unavailable), never another error or a silent success; within 10 s of
 * the promotion of "heir" each enqueues again; every confirmed enqueue,
 * before the kill or after, is found through "after_url". Then the nodes
 * "rest" (nrest of them) are killed too, and with no node left every call
 * fails as unreachable or unavailable: none crashes a producer. Prints the
 * figures. */
static void producers_through_a_failover(const char *url, const char *after_url, harness_redis *victim,
                                         harness_redis *heir, const char (*cls)[16], harness_redis *rest, int nrest) {
    sluice_client *c = connect_to(after_url);
    char dir[] = "/tmp/sluice-ha-XXXXXX";
    if (!mkdtemp(dir)) fail_msg("mkdtemp");
    char stop[64], out[NLANGS][64];
    snprintf(stop, sizeof(stop), "%s/stop", dir);
    pid_t pid[NLANGS];
    for (int i = 0; i < NLANGS; i++) {
        snprintf(out[i], sizeof(out[i]), "%s/%s.out", dir, loopers[i].lang);
        test_class(c, cls[i], SLUICE_TIER_NORMAL, 10);
        pid[i] = loop_start(i, url, cls[i], stop, out[i]);
    }
    sluice_client_free(c);
    for (int i = 0; i < NLANGS; i++) {
        WAIT_UNTIL(lines_with(out[i], "ok", 0, NULL) >= 10, 30000);
        if (lines_with(out[i], "ok", 0, NULL) < 10) fail_msg("%s: 10 confirmed enqueues before the kill", out[i]);
    }
    harness_redis_kill(victim);
    long long killed = harness_now_ms();
    WAIT_UNTIL(failover_is_master(heir), 30000);
    if (!failover_is_master(heir)) fail_msg("the replica was not promoted within 30 s");
    long long promoted = harness_now_ms();
    int at[NLANGS];
    long long resumed[NLANGS]; /* ms from the promotion to the first enqueue after it */
    for (int i = 0; i < NLANGS; i++) {
        lines_with(out[i], "ok", 0, &at[i]);
        resumed[i] = -1;
    }
    /* within 10 s, 5 enqueues each; the promoted master has no replica,
     * so its enqueues are unconfirmed */
    int done = 0;
    for (long long t = 0; done < NLANGS && t < 10000; t = harness_now_ms() - promoted) {
        done = 0;
        for (int i = 0; i < NLANGS; i++) {
            int n = lines_with(out[i], "unconfirmed", at[i], NULL) + lines_with(out[i], "ok", at[i], NULL);
            if (n >= 1 && resumed[i] < 0) resumed[i] = t;
            done += n >= 5;
        }
        harness_sleep_ms(HARNESS_POLL_MS);
    }
    for (int i = 0; i < NLANGS; i++)
        if (lines_with(out[i], "unconfirmed", at[i], NULL) + lines_with(out[i], "ok", at[i], NULL) < 5)
            fail_msg("%s: not 5 enqueues within 10 s of the promotion (%s)", loopers[i].lang, out[i]);
    /* the lookups first, while a node answers */
    c = connect_to(after_url);
    int lost[NLANGS] = {0}, confirmed[NLANGS] = {0};
    for (int i = 0; i < NLANGS; i++) {
        char *text = proc_slurp(out[i]);
        for (char *l = text; l && *l;) {
            char *end = strchr(l, '\n');
            if (!end) break;
            *end = '\0';
            char id[SLUICE_ID_MAX];
            if (!strncmp(l, "ok ", 3) && sscanf(l + 3, "%95s", id) == 1) {
                confirmed[i]++;
                sluice_job_info info;
                sluice_error err;
                if (sluice_job_get(c, id, &info, &err) < 0) fail_msg("job %s: %s", id, err.text);
                lost[i] += info.state != SLUICE_JOB_READY;
                sluice_job_info_clear(&info);
            }
            l = end + 1;
        }
        free(text);
    }
    sluice_client_free(c);
    for (int i = 0; i < NLANGS; i++) lines_with(out[i], "ok", 0, &at[i]);
    for (int k = 0; k < nrest; k++) harness_redis_kill(&rest[k]);
    for (int i = 0; i < NLANGS; i++) {
        WAIT_UNTIL(lines_with(out[i], "down", at[i], NULL) >= 3, 20000);
        if (lines_with(out[i], "down", at[i], NULL) < 3)
            fail_msg("%s: not 3 calls refused with every node down (%s)", loopers[i].lang, out[i]);
    }
    close(open(stop, O_WRONLY | O_CREAT, 0644));
    for (int i = 0; i < NLANGS; i++) {
        int st = proc_wait(pid[i], 15000);
        if (st >= 0) proc_forget(pid[i]);
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s producer: status %d (%s)", loopers[i].lang, st, out[i]);
    }
    fprintf(stderr, "#   killed -> promoted %lld ms\n", promoted - killed);
    for (int i = 0; i < NLANGS; i++) {
        char *text = proc_slurp(out[i]);
        for (char *l = text; l && *l;) {
            char *end = strchr(l, '\n');
            if (end) *end = '\0';
            if (*l && strncmp(l, "ok ", 3) && strncmp(l, "unconfirmed ", 12) && strncmp(l, "down ", 5))
                fail_msg("%s producer: %s", loopers[i].lang, l);
            if (!end) break;
            l = end + 1;
        }
        free(text);
        fprintf(stderr,
                "#   %s: %d confirmed, %d unconfirmed, %d refused (the outage, then every node down); the first "
                "enqueue %lld ms after the promotion; %d confirmed lost\n",
                loopers[i].lang, confirmed[i], lines_with(out[i], "unconfirmed", 0, NULL),
                lines_with(out[i], "down", 0, NULL), resumed[i], lost[i]);
        assert_int_equal(lost[i], 0);
    }
    for (int i = 0; i < NLANGS; i++) unlink(out[i]);
    unlink(stop);
    rmdir(dir);
}

/* The Sentinel set's master killed under the producers (see
 * producers_through_a_failover). Last in its group: the master stays
 * dead. */
static void each_producer_goes_on_through_a_failover_and_loses_no_confirmed_enqueue(void **state) {
    harness_sentinel *s = *state;
    const char cls[NLANGS][16] = {"fo-python", "fo-ruby", "fo-node"};
    producers_through_a_failover(s->url, s->url, &s->master, &s->replica, cls, &s->replica, 1);
}

/* A cluster master killed under the producers (see
 * producers_through_a_failover), their classes on it and their URL its
 * own: after its death they go on through the other nodes they know. The
 * Functions are loaded on every master first, and so reach every replica
 * (the first test deleted them from one). Last in its group: the master
 * stays dead. */
static void each_producer_goes_on_through_a_killed_cluster_master(void **state) {
    harness_cluster *cl = *state;
    int victim = -1;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (!failover_is_master(&cl->nodes[i])) continue;
        redisReply *r = harness_redis_command(&cl->nodes[i], "FUNCTION LOAD REPLACE %s", sluice_functions_source());
        if (!r || r->type == REDIS_REPLY_ERROR) fail_msg("FUNCTION LOAD: %s", r ? r->str : "no reply");
        freeReplyObject(r);
        assert_int_equal(harness_redis_int(&cl->nodes[i], "WAIT 1 5000"), 1);
        victim = i;
    }
    harness_redis *heir = failover_replica_of(cl, &cl->nodes[victim]);
    assert_non_null(heir);
    char cls[NLANGS][16];
    for (int l = 0, k = 0; l < NLANGS && k < 10000; k++) {
        snprintf(cls[l], sizeof(cls[l]), "cf%d", k);
        if (master_of(cl, cls[l]) == victim) l++;
    }
    /* the lookups after the failover through a node that stays */
    const harness_redis *stays = &cl->nodes[(victim + 1) % HARNESS_CLUSTER_NODES];
    if (stays == heir) stays = &cl->nodes[(victim + 2) % HARNESS_CLUSTER_NODES];
    producers_through_a_failover(cl->nodes[victim].tcp_url, stays->tcp_url, &cl->nodes[victim], heir,
                                 (const char(*)[16])cls, cl->nodes, HARNESS_CLUSTER_NODES);
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    if (access("queue/clients", R_OK) != 0) {
        fprintf(stderr, "run from the top of the tree\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest cluster[] = {
        cmocka_unit_test(each_client_sends_every_call_to_its_class_master_from_one_replicas_url),
        cmocka_unit_test(a_lookup_into_a_slot_being_migrated_follows_ask_and_tryagain_then_is_unavailable),
        cmocka_unit_test_teardown(each_producer_goes_on_through_a_killed_cluster_master, proc_teardown),
    };
    const struct CMUnitTest sentinel[] = {
        cmocka_unit_test(each_client_enqueues_through_the_master_the_sentinels_name),
        cmocka_unit_test(a_bad_sentinel_url_an_unknown_master_and_a_wrong_password_are_refused_naming_the_problem),
        cmocka_unit_test_teardown(each_producer_goes_on_through_a_failover_and_loses_no_confirmed_enqueue,
                                  proc_teardown),
    };
    int failed = cmocka_run_group_tests_name("cluster", cluster, acl_cluster_setup, acl_cluster_teardown);
    return failed + cmocka_run_group_tests_name("sentinel", sentinel, harness_sentinel_group_setup,
                                                harness_sentinel_group_teardown);
}
