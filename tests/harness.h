/* Test harness: starts a real redis-server in a temp dir on a unix socket
 * and a kernel-chosen free TCP port, persistence off unless asked, and
 * always stops it: at teardown, at exit, on SIGINT/SIGTERM, and (through
 * PR_SET_PDEATHSIG) when the test process dies. Every test binary links it:
 * SLUICE_TEST_ONLY=PATTERN runs only the tests whose names match (cmocka's
 * filter, * and ? wildcards), e.g. SLUICE_TEST_ONLY='*fencing*'. */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct harness_redis {
    pid_t pid;
    int port;
    char dir[256];
    char sock[300];
    char url[400];            /* unix://<dir>/redis.sock */
    char tcp_url[128];        /* redis://127.0.0.1:<port> */
    int aof;                  /* appendonly yes, appendfsync always */
    const char *const *extra; /* more redis-server arguments, NULL-terminated */
    const char *sentinel;     /* not NULL: a sentinel (--sentinel) with these config lines */
} harness_redis;

/* Starts the server described by r->aof and r->extra and waits until it
 * answers PING with PONG (not -LOADING). Returns 0 or -1. */
int harness_redis_start(harness_redis *r);
/* kill -9, then start again on the same dir, port and socket; waits for
 * PONG, so the data is loaded. */
int harness_redis_restart(harness_redis *r);
/* As harness_redis_restart, but returns as soon as the server answers at
 * all, while it may still be loading its data (-LOADING). */
int harness_redis_restart_answering(harness_redis *r);
void harness_redis_kill(harness_redis *r);
/* Stops the server and removes its temp dir. */
void harness_redis_stop(harness_redis *r);

/* A Redis Cluster of 3 masters and 3 replicas on 127.0.0.1, each node a
 * harness_redis (its own temp dir, free port and free cluster bus port),
 * created with redis-cli --cluster create --cluster-replicas 1; a node
 * silent for 2 s (cluster-node-timeout) is failed over to its replica. */
#define HARNESS_CLUSTER_NODES 6
typedef struct harness_cluster {
    harness_redis nodes[HARNESS_CLUSTER_NODES];
    char bus[HARNESS_CLUSTER_NODES][16];          /* each node's cluster bus port */
    const char *extra[HARNESS_CLUSTER_NODES][14]; /* each node's cluster arguments */
    /* Set before harness_cluster_start, or NULL: an absolute path every
     * node loads (--aclfile). Its default user must stay the harness's
     * (on, nopass, every command): the harness and redis-cli use it. */
    const char *aclfile;
} harness_cluster;

/* Starts the six nodes, creates the cluster and waits until every node
 * says cluster_state:ok and every replica has synced. Returns 0, or -1
 * (with what it started stopped). */
int harness_cluster_start(harness_cluster *cl);
/* Stops every node and removes their temp dirs. */
void harness_cluster_stop(harness_cluster *cl);

/* A Redis Sentinel set on 127.0.0.1: a master, its replica (replicaof)
 * and three sentinels (redis-server --sentinel) that monitor the master
 * as HARNESS_SENTINEL_MASTER with quorum 2, down-after-milliseconds 1000
 * and failover-timeout 2000; each a harness_redis (its own temp dir and
 * free port). */
#define HARNESS_SENTINELS 3
#define HARNESS_SENTINEL_MASTER "sluice"
typedef struct harness_sentinel {
    harness_redis master, replica;
    harness_redis sentinels[HARNESS_SENTINELS];
    char master_port[16];
    const char *replica_extra[6];
    char conf[256]; /* the sentinels' config lines */
    char url[512];  /* redis-sentinel://127.0.0.1:<port>,.../sluice */
} harness_sentinel;

/* Starts the master, the replica (waits until it is in sync) and the
 * sentinels, and waits until every sentinel knows the replica and the two
 * other sentinels (so a failover can be agreed). Returns 0, or -1 (with
 * what it started stopped). */
int harness_sentinel_start(harness_sentinel *s);
/* Stops every server and removes their temp dirs. */
void harness_sentinel_stop(harness_sentinel *s);
/* The port of the master as sentinel i names it now, or -1. */
int harness_sentinel_master_port(const harness_sentinel *s, int i);
/* cmocka group setup/teardown that start and stop one Sentinel set kept
 * in *state as a harness_sentinel*. */
int harness_sentinel_group_setup(void **state);
int harness_sentinel_group_teardown(void **state);

/* Runs one command through redis-cli-like plain hiredis; returns the
 * integer reply, or -1. For checks such as DBSIZE. */
long long harness_redis_int(const harness_redis *r, const char *fmt, ...);
/* Runs one command on the server's unix socket: the reply (NEW, free with
 * freeReplyObject), or NULL. */
struct redisReply;
struct redisReply *harness_redis_command(const harness_redis *r, const char *fmt, ...);

/* cmocka group setup/teardown that start and stop one plain server kept in
 * *state as a harness_redis*. */
int harness_group_setup(void **state);
int harness_group_teardown(void **state);

/* cmocka group setup/teardown that start and stop one cluster kept in
 * *state as a harness_cluster*. */
int harness_cluster_group_setup(void **state);
int harness_cluster_group_teardown(void **state);

/* How many processes have "arg" as one of their arguments (from
 * /proc/PID/cmdline), e.g. handlers still running with a record file. */
int harness_procs_with_arg(const char *arg);

/* Milliseconds of CLOCK_MONOTONIC. */
long long harness_now_ms(void);
/* Sleeps. Tests never synchronise with another process by a fixed sleep:
 * they poll with WAIT_UNTIL, or pace a loop (each such loop says so). */
void harness_sleep_ms(long ms);

#define HARNESS_POLL_MS 5

/* Polls: evaluates "cond" until it is true or "timeout_ms" have passed,
 * pausing HARNESS_POLL_MS between tries. The caller asserts "cond" after
 * it (a timeout is a failure only if the condition still does not hold).
 * Deadlines are generous: they cost time only when a test fails. */
#define WAIT_UNTIL(cond, timeout_ms)                                                                                   \
    for (long long wait_until_end_ = harness_now_ms() + (timeout_ms); !(cond) && harness_now_ms() < wait_until_end_;)  \
    harness_sleep_ms(HARNESS_POLL_MS)

#endif
