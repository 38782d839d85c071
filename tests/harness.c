/* Test harness: owns the redis-server lifecycle for integration tests. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#define MAX_SERVERS 16

static pid_t live[MAX_SERVERS];
static int hooked;

/* SLUICE_TEST_ONLY=PATTERN runs only the tests whose names match (cmocka's
 * filter: * and ? wildcards), in any test binary; set before main. */
__attribute__((constructor)) static void test_filter(void) {
    const char *only = getenv("SLUICE_TEST_ONLY");
    if (only && *only) cmocka_set_test_filter(only);
}

long long harness_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static void kill_all(void) {
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
}

static void on_signal(int sig) {
    for (int i = 0; i < MAX_SERVERS; i++)
        if (live[i] > 0) kill(live[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void track(pid_t pid, pid_t old) {
    if (!hooked) {
        hooked = 1;
        atexit(kill_all);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (live[i] == old) {
            live[i] = pid;
            return;
        }
    }
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Starts redis-server and waits until it answers PING with PONG (or NOAUTH,
 * for a server with an aclfile and no data to load), or with anything at
 * all when "any_reply" (a server still LOADING its data). */
static int spawn(harness_redis *r, int any_reply) {
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    char log[320], conf[320];
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", r->dir);
    const char *argv[64] = {"redis-server"};
    int n = 1;
    if (r->sentinel) { /* the config file first: a sentinel rewrites it */
        argv[n++] = conf;
        argv[n++] = "--sentinel";
    }
    const char *common[] = {
        "--port",           port,  "--bind",      "127.0.0.1", "--unixsocket", r->sock,
        "--unixsocketperm", "700", "--dir",       r->dir,      "--logfile",    log,
        "--save",           "",    "--daemonize", "no",        "--appendonly", r->aof ? "yes" : "no"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) argv[n++] = common[i];
    if (r->aof) {
        argv[n++] = "--appendfsync";
        argv[n++] = "always";
    }
    for (int i = 0; r->extra && r->extra[i] && n < 62; i++) argv[n++] = r->extra[i];
    argv[n] = NULL;
    pid_t old = r->pid;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    track(pid, old);
    for (int i = 0; i < 3000; i++) {
        redisContext *c = redisConnectUnix(r->sock);
        if (c && !c->err) {
            redisReply *rep = redisCommand(c, "PING");
            /* NOAUTH: a server whose default user is off (an aclfile) */
            int ok = rep && (rep->type == REDIS_REPLY_ERROR
                                 ? any_reply || strncmp(rep->str, "NOAUTH", 6) == 0
                                 : rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0);
            freeReplyObject(rep);
            redisFree(c);
            if (ok) return 0;
        } else if (c) {
            redisFree(c);
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            track(0, pid);
            r->pid = 0;
            fprintf(stderr, "harness: redis-server exited at start (see %s)\n", log);
            return -1;
        }
        harness_sleep_ms(10);
    }
    fprintf(stderr, "harness: redis-server did not answer PONG within 30 s\n");
    return -1;
}

int harness_redis_start(harness_redis *r) {
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof(r->dir), "%s/sluice-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) return -1;
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof(r->url), "unix://%s", r->sock);
    r->port = free_port();
    if (r->port < 0) return -1;
    snprintf(r->tcp_url, sizeof(r->tcp_url), "redis://127.0.0.1:%d", r->port);
    r->pid = 0;
    if (r->sentinel) {
        char conf[320];
        snprintf(conf, sizeof(conf), "%s/sentinel.conf", r->dir);
        FILE *f = fopen(conf, "w");
        if (!f || fputs(r->sentinel, f) < 0) {
            if (f) fclose(f);
            return -1;
        }
        if (fclose(f) != 0) return -1;
    }
    return spawn(r, 0);
}

void harness_redis_kill(harness_redis *r) {
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        track(0, r->pid);
        r->pid = 0;
    }
}

int harness_redis_restart(harness_redis *r) {
    harness_redis_kill(r);
    return spawn(r, 0);
}

int harness_redis_restart_answering(harness_redis *r) {
    harness_redis_kill(r);
    return spawn(r, 1);
}

static void rm_rf(const char *dir) {
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", dir);
}

void harness_redis_stop(harness_redis *r) {
    harness_redis_kill(r);
    if (r->dir[0]) rm_rf(r->dir);
    r->dir[0] = '\0';
}

long long harness_redis_int(const harness_redis *r, const char *fmt, ...) {
    redisContext *c = redisConnectUnix(r->sock);
    if (!c || c->err) {
        redisFree(c);
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

/* How many processes have "arg" as one of their arguments (from
 * /proc/PID/cmdline): handlers still running with that file. */
int harness_procs_with_arg(const char *arg) {
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(buf + off) + 1) {
            buf[len] = '\0';
            if (strcmp(buf + off, arg) == 0) {
                n++;
                break;
            }
        }
    }
    closedir(d);
    return n;
}

/* ------------------------------ cluster ------------------------------ */

/* 1 when the node answers CLUSTER INFO with cluster_state:ok and, for a
 * replica, has its master's data (master_link_status:up): a replica that
 * never synced may not take over. */
static int cluster_ok(const harness_redis *r) {
    redisContext *c = redisConnectUnix(r->sock);
    int ok = 0;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "CLUSTER INFO");
        ok = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "cluster_state:ok") != NULL;
        freeReplyObject(rep);
        rep = ok ? redisCommand(c, "INFO replication") : NULL;
        ok = rep && rep->type == REDIS_REPLY_STRING &&
             (strstr(rep->str, "role:master") || strstr(rep->str, "master_link_status:up"));
        freeReplyObject(rep);
    }
    redisFree(c);
    return ok;
}

/* Runs redis-cli --cluster create over the nodes, its output in the first
 * node's dir. Returns its exit status, or -1 (not run, or killed after 60 s). */
static int cluster_create(harness_cluster *cl) {
    char addr[HARNESS_CLUSTER_NODES][32], log[320];
    const char *argv[HARNESS_CLUSTER_NODES + 8] = {"redis-cli", "--cluster", "create"};
    int n = 3;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", cl->nodes[i].port);
        argv[n++] = addr[i];
    }
    argv[n++] = "--cluster-replicas";
    argv[n++] = "1";
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/cluster-create.log", cl->nodes[0].dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (devnull >= 0) dup2(devnull, 0);
        execvp("redis-cli", (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    pid_t done = 0;
    WAIT_UNTIL((done = waitpid(pid, &status, WNOHANG)) != 0, 60000);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "harness: redis-cli --cluster create did not finish within 60 s (see %s)\n", log);
        return -1;
    }
    return done == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int harness_cluster_start(harness_cluster *cl) {
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        int bus = free_port();
        if (bus < 0) {
            harness_cluster_stop(cl);
            return -1;
        }
        snprintf(cl->bus[i], sizeof(cl->bus[i]), "%d", bus);
        /* a node silent for 2 s is failed: its replica takes over within
         * seconds; replicas sync at once */
        const char *extra[] = {"--cluster-enabled",
                               "yes",
                               "--cluster-config-file",
                               "nodes.conf",
                               "--cluster-port",
                               cl->bus[i],
                               "--cluster-node-timeout",
                               "2000",
                               "--repl-diskless-sync-delay",
                               "0",
                               NULL,
                               NULL,
                               NULL};
        if (cl->aclfile) {
            extra[10] = "--aclfile";
            extra[11] = cl->aclfile;
        }
        memcpy(cl->extra[i], extra, sizeof(extra));
        cl->nodes[i].extra = cl->extra[i];
        if (harness_redis_start(&cl->nodes[i]) < 0) {
            harness_cluster_stop(cl);
            return -1;
        }
    }
    int rc = cluster_create(cl);
    if (rc != 0) {
        char cmd[400];
        fprintf(stderr, "harness: redis-cli --cluster create failed (%d):\n", rc);
        snprintf(cmd, sizeof(cmd), "cat '%s/cluster-create.log' >&2", cl->nodes[0].dir);
        if (system(cmd) != 0) fprintf(stderr, "harness: no log\n");
        harness_cluster_stop(cl);
        return -1;
    }
    int ok = 0;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        WAIT_UNTIL(cluster_ok(&cl->nodes[i]), 60000);
        ok += cluster_ok(&cl->nodes[i]);
    }
    if (ok < HARNESS_CLUSTER_NODES) {
        fprintf(stderr, "harness: the cluster did not reach cluster_state:ok, replicas in sync, within 60 s\n");
        harness_cluster_stop(cl);
        return -1;
    }
    return 0;
}

void harness_cluster_stop(harness_cluster *cl) {
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) harness_redis_stop(&cl->nodes[i]);
}

int harness_cluster_group_setup(void **state) {
    harness_cluster *cl = calloc(1, sizeof(*cl));
    if (!cl || harness_cluster_start(cl) < 0) {
        free(cl);
        return -1;
    }
    *state = cl;
    return 0;
}

int harness_cluster_group_teardown(void **state) {
    harness_cluster *cl = *state;
    if (cl) harness_cluster_stop(cl);
    free(cl);
    *state = NULL; /* cmocka calls it again after a group setup that failed */
    return 0;
}

/* ------------------------------ sentinel ----------------------------- */

struct redisReply *harness_redis_command(const harness_redis *r, const char *fmt, ...) {
    redisContext *c = redisConnectUnix(r->sock);
    redisReply *rep = NULL;
    if (c && !c->err) {
        va_list ap;
        va_start(ap, fmt);
        rep = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    redisFree(c);
    return rep;
}

/* The number of elements of an array reply to the command, or -1. */
static long elements_of(const harness_redis *r, const char *cmd) {
    redisReply *rep = harness_redis_command(r, cmd);
    long n = rep && rep->type == REDIS_REPLY_ARRAY ? (long)rep->elements : -1;
    freeReplyObject(rep);
    return n;
}

static int replica_synced(const harness_redis *r) {
    redisReply *rep = harness_redis_command(r, "INFO replication");
    int ok = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "master_link_status:up") != NULL;
    freeReplyObject(rep);
    return ok;
}

/* 1 when every sentinel knows the replica and the other sentinels. */
static int sentinels_ready(const harness_sentinel *s) {
    for (int i = 0; i < HARNESS_SENTINELS; i++)
        if (elements_of(&s->sentinels[i], "SENTINEL REPLICAS " HARNESS_SENTINEL_MASTER) != 1 ||
            elements_of(&s->sentinels[i], "SENTINEL SENTINELS " HARNESS_SENTINEL_MASTER) != HARNESS_SENTINELS - 1)
            return 0;
    return 1;
}

int harness_sentinel_start(harness_sentinel *s) {
    if (harness_redis_start(&s->master) < 0) return -1;
    snprintf(s->master_port, sizeof(s->master_port), "%d", s->master.port);
    const char *replica_extra[] = {"--replicaof", "127.0.0.1", s->master_port, "--repl-diskless-sync-delay", "0", NULL};
    memcpy(s->replica_extra, replica_extra, sizeof(replica_extra));
    s->replica.extra = s->replica_extra;
    if (harness_redis_start(&s->replica) < 0) {
        harness_sentinel_stop(s);
        return -1;
    }
    WAIT_UNTIL(replica_synced(&s->replica), 30000);
    if (!replica_synced(&s->replica)) {
        fprintf(stderr, "harness: the replica did not sync within 30 s\n");
        harness_sentinel_stop(s);
        return -1;
    }
    snprintf(s->conf, sizeof(s->conf),
             "sentinel monitor %s 127.0.0.1 %d 2\n"
             "sentinel down-after-milliseconds %s 1000\n"
             "sentinel failover-timeout %s 2000\n",
             HARNESS_SENTINEL_MASTER, s->master.port, HARNESS_SENTINEL_MASTER, HARNESS_SENTINEL_MASTER);
    int len = snprintf(s->url, sizeof(s->url), "redis-sentinel://");
    for (int i = 0; i < HARNESS_SENTINELS; i++) {
        s->sentinels[i].sentinel = s->conf;
        if (harness_redis_start(&s->sentinels[i]) < 0) {
            harness_sentinel_stop(s);
            return -1;
        }
        len +=
            snprintf(s->url + len, sizeof(s->url) - (size_t)len, "%s127.0.0.1:%d", i ? "," : "", s->sentinels[i].port);
    }
    snprintf(s->url + len, sizeof(s->url) - (size_t)len, "/%s", HARNESS_SENTINEL_MASTER);
    WAIT_UNTIL(sentinels_ready(s), 30000);
    if (!sentinels_ready(s)) {
        fprintf(stderr, "harness: the sentinels did not find the replica and each other within 30 s\n");
        harness_sentinel_stop(s);
        return -1;
    }
    return 0;
}

void harness_sentinel_stop(harness_sentinel *s) {
    for (int i = 0; i < HARNESS_SENTINELS; i++) harness_redis_stop(&s->sentinels[i]);
    harness_redis_stop(&s->replica);
    harness_redis_stop(&s->master);
}

int harness_sentinel_master_port(const harness_sentinel *s, int i) {
    redisReply *rep =
        harness_redis_command(&s->sentinels[i], "SENTINEL GET-MASTER-ADDR-BY-NAME " HARNESS_SENTINEL_MASTER);
    int port = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 ? atoi(rep->element[1]->str) : -1;
    freeReplyObject(rep);
    return port;
}

int harness_sentinel_group_setup(void **state) {
    harness_sentinel *s = calloc(1, sizeof(*s));
    if (!s || harness_sentinel_start(s) < 0) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

int harness_sentinel_group_teardown(void **state) {
    harness_sentinel *s = *state;
    if (s) harness_sentinel_stop(s);
    free(s);
    *state = NULL;
    return 0;
}

int harness_group_setup(void **state) {
    harness_redis *r = calloc(1, sizeof(*r));
    if (!r || harness_redis_start(r) < 0) {
        free(r);
        return -1;
    }
    *state = r;
    return 0;
}

int harness_group_teardown(void **state) {
    harness_redis *r = *state;
    if (r) harness_redis_stop(r);
    free(r);
    return 0;
}
