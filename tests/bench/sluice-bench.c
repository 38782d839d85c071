/* sluice-bench: job throughput and Redis CPU per job on one Redis, for `make bench`.
 * usage: sluice-bench URL WORKER_BIN [SCALE]   throughput and CPU ("name value" lines)
 *        sluice-bench URL --fill N              enqueue N jobs in bulk, nothing else
 *        sluice-bench URL --depth D...          claim+ack at each steady depth D
 *        sluice-bench URL --governor [SCALE]    the embedded worker with and without
 *                                               the hosted governor, 200 classes
 *        sluice-bench URL --cluster NODE_URL... claim+ack over 30 classes on URL (one
 *                                               Redis) and on the cluster whose masters
 *                                               NODE_URL... name, the same run
 * (WORKER_BIN: the sluice-worker program; SCALE multiplies the job counts)
 * Prints one "name jobs/s" line per throughput, one "cpu_name µs" line per
 * phase's Redis CPU per job, and "depth D jobs/s µs" lines; scripts/bench.sh
 * sets them beside redis-benchmark's and BullMQ's figures from the same server,
 * and the exec handlers beside a bare fork+exec loop of the same program. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "sluice.h"
#include "sluice/worker.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const sluice_error *err) {
    fprintf(stderr, "sluice-bench: %s: %s\n", what, err->text);
    exit(1);
}

/* ---------------- Redis CPU, read around each phase ---------------- */

/* Our own connection for INFO cpu: used_cpu_user + used_cpu_sys is the
 * server's getrusage(RUSAGE_SELF), all its threads, printed to the µs. On
 * Linux the sum is the scheduler's exact runtime (only the user/sys split is
 * tick-sampled), so a phase's delta is exact to a µs; what blurs it is the
 * server's own background work (serverCron at hz 10, tens of µs a second)
 * and the INFO call itself (a few µs). Each phase is made long enough that
 * these stay under 1%: every measured phase runs 20,000 jobs or more, at
 * least about 0.2 s of Redis CPU, and setup (declaring, filling, flushing)
 * happens outside the window. */
static redisContext *probe;

/* A plain link to the server of "url" (NEW), for INFO. */
static redisContext *probe_dial(const char *url) {
    sluice_url u;
    sluice_error err;
    if (sluice_url_parse(url, &u, &err) < 0) die("url", &err);
    redisContext *ctx = u.is_unix ? redisConnectUnix(u.path) : redisConnect(u.host, u.port);
    if (!ctx || ctx->err) die("connect", &(sluice_error){SLUICE_ERR_UNREACHABLE, "INFO connection"});
    if (u.password[0]) {
        redisReply *r =
            u.user[0] ? redisCommand(ctx, "AUTH %s %s", u.user, u.password) : redisCommand(ctx, "AUTH %s", u.password);
        if (!r || r->type == REDIS_REPLY_ERROR) die("auth", &(sluice_error){SLUICE_ERR_AUTH, "INFO connection"});
        freeReplyObject(r);
    }
    memset(&u, 0, sizeof(u));
    return ctx;
}

static void probe_connect(const char *url) {
    probe = probe_dial(url);
}

/* The CPU time of the server on "ctx" so far, s (user + sys). */
static double cpu_of(redisContext *ctx) {
    redisReply *r = redisCommand(ctx, "INFO cpu");
    if (!r || r->type != REDIS_REPLY_STRING) die("INFO cpu", &(sluice_error){SLUICE_ERR_SERVER, "no reply"});
    const char *user = strstr(r->str, "used_cpu_user:"), *sys = strstr(r->str, "used_cpu_sys:");
    if (!user || !sys) die("INFO cpu", &(sluice_error){SLUICE_ERR_SERVER, "no used_cpu_user/sys"});
    double s = strtod(user + strlen("used_cpu_user:"), NULL) + strtod(sys + strlen("used_cpu_sys:"), NULL);
    freeReplyObject(r);
    return s;
}

static double redis_cpu_s(void) {
    return cpu_of(probe);
}

/* One phase's cost: wall time and the server's CPU time, s. */
typedef struct cost {
    double wall, cpu;
} cost;

/* A window opens: the CPU read first, so the wall time leaves out the INFO. */
static cost window_open(void) {
    double cpu = redis_cpu_s();
    return (cost){now_s(), cpu};
}

/* The window closes: adds the time and CPU since "open" to *sum. */
static void window_close(cost open, cost *sum) {
    double wall = now_s();
    sum->wall += wall - open.wall;
    sum->cpu += redis_cpu_s() - open.cpu;
}

/* Prints "name jobs/s" and "cpu_name µs" (Redis CPU per job). */
static void report(const char *name, cost c, size_t jobs) {
    printf("%s %.0f\ncpu_%s %.2f\n", name, (double)jobs / c.wall, name, 1e6 * c.cpu / (double)jobs);
}

static void declare(sluice_client *c, const char *cls, sluice_tier tier) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = tier;
    if (tier != SLUICE_TIER_CRITICAL) {
        /* a gate wide open: every check runs, none binds */
        cfg.max_rate = 1e9;
        cfg.max_concurrency = 1000000;
    }
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) die("class set", &err);
}

static void fill(sluice_client *c, const char *cls, size_t n, const char **payloads) {
    sluice_error err;
    for (size_t off = 0; off < n; off += 10000) {
        size_t k = n - off < 10000 ? n - off : 10000;
        if (sluice_enqueue_many(c, cls, k, payloads, NULL, 0, NULL, NULL, &err) < 0) die("enqueue", &err);
    }
}

/* Claims up to 100 jobs and acks each: the number acked (never 0). */
static size_t claim_ack(sluice_client *c, const char *cls) {
    sluice_error err;
    sluice_job *jobs[100];
    sluice_claim_info info;
    if (sluice_claim(c, cls, "bench", 100, jobs, &info, &err) < 0) die("claim", &err);
    if (info.count == 0) die("claim", &(sluice_error){SLUICE_ERR_STATE, "ran dry or throttled"});
    for (size_t i = 0; i < info.count; i++) {
        if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) die("ack", &err);
        sluice_job_free(jobs[i]);
    }
    return info.count;
}

/* Claims in batches of 100 and acks each job, n in all, in one window: its
 * cost is added to *sum. */
static void drain(sluice_client *c, const char *cls, size_t n, cost *sum) {
    size_t done = 0;
    cost open = window_open();
    while (done < n) done += claim_ack(c, cls);
    window_close(open, sum);
}

static int64_t acked(sluice_client *c, const char *cls) {
    sluice_class_stats st;
    sluice_error err;
    if (sluice_class_stats_get(c, cls, &st, &err) < 0) die("stats", &err);
    return st.acked;
}

/* ---------------- the embedded runtime with a no-op handler ---------------- */

typedef struct inproc {
    sluice_client *c;
    const char *cls;
    size_t acked_before, want, handled; /* acked_before: the class's acked count at the start */
    ev_timer check;
} inproc;

static void noop(sluice_worker *w, sluice_worker_job *job, void *userdata) {
    ((inproc *)userdata)->handled++;
    sluice_worker_done(w, job, 1, NULL);
}

/* Asks Redis for the acked count only once every job has been handled, so
 * the polling adds nothing to the Redis CPU of the run. */
static void inproc_check(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    inproc *b = (inproc *)((char *)t - offsetof(inproc, check));
    if (b->handled >= b->want && (size_t)acked(b->c, b->cls) - b->acked_before >= b->want) ev_break(loop, EVBREAK_ALL);
}

/* n jobs drained by the embedded runtime (c=64, no-op handler): the cost
 * from the worker's start to the last ack (the fill stays outside). */
static cost worker_inprocess(sluice_client *c, const char *url, size_t n, const char **payloads) {
    declare(c, "inproc", SLUICE_TIER_CRITICAL);
    fill(c, "inproc", n, payloads);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    sluice_error err;
    inproc b = {.c = c, .cls = "inproc", .want = n};
    sluice_worker *w = sluice_worker_new(loop, url, "bench", &err);
    if (!w || sluice_worker_handle(w, "inproc", noop, &b, &err) < 0 || sluice_worker_set_concurrency(w, 64, &err) < 0)
        die("worker", &err);
    ev_timer_init(&b.check, inproc_check, 0.01, 0.01);
    ev_timer_start(loop, &b.check);
    cost sum = {0, 0}, open = window_open();
    if (sluice_worker_start(w, &err) < 0) die("worker start", &err);
    ev_run(loop, 0);
    window_close(open, &sum);
    ev_timer_stop(loop, &b.check);
    sluice_worker_free(w);
    ev_loop_destroy(loop);
    return sum;
}

/* ------------- the embedded worker hosting the governor, 200 classes ------------- */

#define GOV_CLASSES 200
#define GOV_TICK_MS 200
#define GOV_ROUNDS 7 /* odd: the median ratio is one round's */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Drains n jobs of class "cls" in namespace "ns" with the embedded worker
 * (no-op handler, c=64), hosting the governor with a tick of GOV_TICK_MS
 * when "gov" is 1: jobs/s. *ticks gets the governor's ticks in the run. */
static double worker_drain(sluice_client *c, const char *url, const char *cls, size_t n, int gov, int64_t *ticks) {
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    sluice_error err;
    inproc b = {.c = c, .cls = cls, .acked_before = (size_t)acked(c, cls), .want = n};
    sluice_worker *w = sluice_worker_new(loop, url, sluice_client_namespace(c), &err);
    if (!w || sluice_worker_handle(w, cls, noop, &b, &err) < 0 || sluice_worker_set_concurrency(w, 64, &err) < 0 ||
        sluice_worker_host_governor(w, gov, GOV_TICK_MS, &err) < 0)
        die("worker", &err);
    ev_timer_init(&b.check, inproc_check, 0.01, 0.01);
    ev_timer_start(loop, &b.check);
    double t0 = now_s();
    if (sluice_worker_start(w, &err) < 0) die("worker start", &err);
    ev_run(loop, 0);
    double rate = (double)n / (now_s() - t0);
    sluice_worker_stats st;
    sluice_worker_stats_get(w, &st);
    *ticks = st.governor_ticks;
    ev_timer_stop(loop, &b.check);
    sluice_worker_free(w);
    ev_loop_destroy(loop);
    return rate;
}

/* GOV_CLASSES classes with wide-open gates and a signal at half its target
 * (the governor leads, reads every class each tick, and cuts
 * nothing); the first class drained by the embedded worker, alternately
 * with and without the governor, back to back in each of GOV_ROUNDS
 * rounds. Prints "governor_off" and "governor_on" (jobs/s, the best of
 * each), "governor_ratio" (on over off: the median of the rounds', so a
 * machine that slows down or speeds up between rounds moves both sides of
 * each) and "governor_ticks". */
static void governor_cost(const char *url, double scale, const char **payloads) {
    sluice_error err;
    sluice_client *c = sluice_client_connect(url, "govbench", &err);
    if (!c) die("connect", &err);
    char cls[GOV_CLASSES][16];
    for (int i = 0; i < GOV_CLASSES; i++) {
        snprintf(cls[i], sizeof(cls[i]), "c%03d", i);
        declare(c, cls[i], SLUICE_TIER_NORMAL);
    }
    sluice_signal_def def;
    sluice_signal_def_init(&def);
    def.target = 100;
    def.critical = 200;
    if (sluice_signal_define(c, "bench_load", &def, NULL, &err) < 0) die("signal define", &err);
    /* long enough (about 2 s at 80,000 jobs/s) that the governor's start,
     * its first read and write of every class, is not most of the cost */
    size_t n = (size_t)(150000 * scale);
    double best[2] = {0, 0}, ratio[GOV_ROUNDS];
    int64_t ticks = 0;
    for (int round = 0; round < GOV_ROUNDS; round++) {
        double rate[2];
        for (int k = 0; k < 2; k++) {
            int gov = (round + k) % 2; /* each goes first in turn */
            if (sluice_signal_report(c, "bench_load", 50, 0, &err) < 0) die("signal report", &err);
            fill(c, cls[0], n, payloads);
            int64_t t = 0;
            rate[gov] = worker_drain(c, url, cls[0], n, gov, &t);
            if (rate[gov] > best[gov]) best[gov] = rate[gov];
            if (gov) ticks += t;
        }
        ratio[round] = rate[1] / rate[0];
    }
    qsort(ratio, GOV_ROUNDS, sizeof(ratio[0]), cmp_double);
    printf("governor_off %.0f\n", best[0]);
    printf("governor_on %.0f\n", best[1]);
    printf("governor_ratio %.3f\n", ratio[GOV_ROUNDS / 2]);
    printf("governor_ticks %lld\n", (long long)ticks);
    sluice_client_free(c);
}

/* ------------------- sluice-worker running /bin/true ------------------- */

static double worker_exec(sluice_client *c, const char *url, const char *bin, size_t n, const char **payloads) {
    declare(c, "exec", SLUICE_TIER_CRITICAL);
    fill(c, "exec", n, payloads);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SLUICE_REDIS_URL", url, 1);
        if (!freopen("/dev/null", "w", stderr)) _exit(127);
        execl(bin, bin, "--namespace", "bench", "--concurrency", "32", "--no-governor", "--handler", "exec=/bin/true",
              (char *)NULL);
        _exit(127);
    }
    while ((size_t)acked(c, "exec") < n) {
        if (waitpid(pid, NULL, WNOHANG) == pid) die("sluice-worker", &(sluice_error){SLUICE_ERR_STATE, "exited"});
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    double rate = (double)n / (now_s() - t0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return rate;
}

/* ------------- the reference: a bare serial fork+exec+wait loop ------------- */

/* Forks, execs "prog" (no arguments, the environment as is) and waits for
 * it, n times, one at a time: runs/s. */
static double fork_exec_loop(const char *prog, size_t n) {
    char *const argv[] = {(char *)prog, NULL};
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execv(prog, argv);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("fork+exec loop", &(sluice_error){SLUICE_ERR_STATE, "the program did not run and exit 0"});
    }
    return (double)n / (now_s() - t0);
}

/* ----------------------- claim+ack at steady depths ----------------------- */

/* Claim+ack at steady depths: class i holds depths[i] queued jobs; rounds
 * go round the classes, each round tops its class back up by the 100 jobs
 * the last round took (outside the window), then claims 100 and acks them
 * (inside), 20,000 jobs per depth. Going round the classes makes load from
 * elsewhere on the machine hit every depth alike; a class's keys hold only
 * its own jobs, so the others' depth does not reach it. Prints "depth D
 * jobs/s µs" per depth (µs: Redis CPU per job, the sum of the windows; each
 * window of 100 jobs holds about one INFO call, under 0.1 µs a job). */
static void depths(sluice_client *c, int n, char **argv, const char **payloads) {
    enum { ROUNDS = 200, DEPTHS_MAX = 8 };
    char cls[DEPTHS_MAX][32];
    cost sum[DEPTHS_MAX];
    for (int i = 0; i < n; i++) {
        snprintf(cls[i], sizeof(cls[i]), "depth-%s", argv[i]);
        declare(c, cls[i], SLUICE_TIER_CRITICAL);
        fill(c, cls[i], (size_t)strtoull(argv[i], NULL, 10) + 100, payloads);
        sum[i] = (cost){0, 0};
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < n; i++) {
            if (r > 0) fill(c, cls[i], 100, payloads);
            cost open = window_open();
            if (claim_ack(c, cls[i]) != 100) die("claim", &(sluice_error){SLUICE_ERR_STATE, "short batch"});
            window_close(open, &sum[i]);
        }
    for (int i = 0; i < n; i++)
        printf("depth %s %.0f %.2f\n", argv[i], ROUNDS * 100 / sum[i].wall, 1e6 * sum[i].cpu / (ROUNDS * 100));
}

/* Claim+ack with fair shares: a class whose jobs carry 10,000 keys, one
 * job each in turn, against one whose jobs carry none, both filled and
 * drained alternately (best of five each, so load from elsewhere hits both
 * alike). Prints "claim_ack_keyless", "claim_ack_keyed" and "keys_ratio"
 * (keyed over keyless). */
static void keys_cost(sluice_client *c, double scale, const char **payloads) {
    enum { KEYS = 10000 };
    size_t n = (size_t)(30000 * scale);
    static char names[KEYS][16];
    static sluice_enqueue_opts opts[KEYS];
    for (size_t i = 0; i < KEYS; i++) {
        snprintf(names[i], sizeof(names[i]), "tenant-%zu", i);
        opts[i] = (sluice_enqueue_opts){.key = names[i]};
    }
    declare(c, "keyless", SLUICE_TIER_CRITICAL);
    declare(c, "keyed", SLUICE_TIER_CRITICAL);
    sluice_error err;
    double best[2] = {0, 0};
    for (int round = 0; round < 5; round++) {
        fill(c, "keyless", n, payloads);
        for (size_t off = 0; off < n; off += KEYS) {
            size_t k = n - off < KEYS ? n - off : KEYS;
            if (sluice_enqueue_many(c, "keyed", k, payloads, opts, 1, NULL, NULL, &err) < 0) die("enqueue", &err);
        }
        cost u = {0, 0}, k = {0, 0};
        drain(c, "keyless", n, &u);
        drain(c, "keyed", n, &k);
        if (n / u.wall > best[0]) best[0] = n / u.wall;
        if (n / k.wall > best[1]) best[1] = n / k.wall;
    }
    printf("claim_ack_keyless %.0f\nclaim_ack_keyed %.0f\nkeys_ratio %.3f\n", best[0], best[1], best[1] / best[0]);
}

/* ------------- claim+ack on a cluster of masters beside one Redis ------------- */

#define SHARDS_MAX 8
#define SPREAD_CLASSES 30
#define SPREAD_ROUNDS 5 /* odd: the median ratio is one round's */

/* The MOVED replies the server on "ctx" has given so far (INFO errorstats). */
static long long moved_of(redisContext *ctx) {
    redisReply *r = redisCommand(ctx, "INFO errorstats");
    if (!r || r->type != REDIS_REPLY_STRING) die("INFO errorstats", &(sluice_error){SLUICE_ERR_SERVER, "no reply"});
    const char *at = strstr(r->str, "errorstat_MOVED:count=");
    long long n = at ? atoll(at + strlen("errorstat_MOVED:count=")) : 0;
    freeReplyObject(r);
    return n;
}

/* One side of the comparison: a client, the servers it spreads over, which
 * server holds each class, and the sums of its windows. */
typedef struct spread {
    sluice_client *c;
    int n; /* servers */
    redisContext *node[SHARDS_MAX];
    int owner[SPREAD_CLASSES];    /* the index of the server holding each class */
    double cpu[SHARDS_MAX], wall; /* s, summed over the windows */
    size_t jobs[SHARDS_MAX];
    long long moved; /* MOVED replies inside the windows */
} spread;

static void spread_open(spread *s, const char *url, const char *const *nodes, int n, char (*cls)[16]) {
    sluice_error err;
    if (!(s->c = sluice_client_connect(url, "spread", &err))) die("connect", &err);
    s->n = n;
    for (int i = 0; i < n; i++) s->node[i] = probe_dial(nodes[i]);
    for (int k = 0; k < SPREAD_CLASSES; k++) {
        declare(s->c, cls[k], SLUICE_TIER_CRITICAL);
        s->owner[k] = -1;
        for (int i = 0; i < n && s->owner[k] < 0; i++) {
            redisReply *r = redisCommand(s->node[i], "EXISTS spread:{%s}:class", cls[k]);
            if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) s->owner[k] = i;
            freeReplyObject(r);
        }
        if (s->owner[k] < 0) die("spread", &(sluice_error){SLUICE_ERR_STATE, "a class on no server named"});
    }
}

/* Fills every class with "per" jobs, then (in the window) claims 100 and
 * acks them class after class until all are drained. Returns the window's
 * Redis CPU per job (all servers), µs. */
static double spread_round(spread *s, char (*cls)[16], size_t per, const char **payloads) {
    for (int k = 0; k < SPREAD_CLASSES; k++) fill(s->c, cls[k], per, payloads);
    double cpu0[SHARDS_MAX];
    long long moved0 = 0;
    for (int i = 0; i < s->n; i++) moved0 += moved_of(s->node[i]);
    for (int i = 0; i < s->n; i++) cpu0[i] = cpu_of(s->node[i]);
    double t0 = now_s();
    size_t left[SPREAD_CLASSES];
    for (int k = 0; k < SPREAD_CLASSES; k++) left[k] = per;
    for (size_t done = 0; done < per * SPREAD_CLASSES;)
        for (int k = 0; k < SPREAD_CLASSES; k++) {
            if (!left[k]) continue;
            size_t got = claim_ack(s->c, cls[k]);
            left[k] -= got;
            done += got;
            s->jobs[s->owner[k]] += got;
        }
    s->wall += now_s() - t0;
    double cpu = 0;
    for (int i = 0; i < s->n; i++) {
        double used = cpu_of(s->node[i]) - cpu0[i];
        s->cpu[i] += used;
        cpu += used;
    }
    for (int i = 0; i < s->n; i++) s->moved += moved_of(s->node[i]);
    s->moved -= moved0;
    return 1e6 * cpu / (double)(per * SPREAD_CLASSES);
}

/* Prints "NAME_jobs_s", "NAME_cpu_us" (all servers' CPU per job),
 * "NAME_moved", and per server "NAME_shardI_jobs" and "NAME_shardI_cpu_us"
 * (its CPU per job it served). */
static void spread_report(const spread *s, const char *name) {
    size_t jobs = 0;
    double cpu = 0;
    for (int i = 0; i < s->n; i++) {
        jobs += s->jobs[i];
        cpu += s->cpu[i];
        printf("%s_shard%d_jobs %zu\n%s_shard%d_cpu_us %.2f\n", name, i + 1, s->jobs[i], name, i + 1,
               s->jobs[i] ? 1e6 * s->cpu[i] / (double)s->jobs[i] : 0.0);
    }
    printf("%s_jobs_s %.0f\n%s_cpu_us %.2f\n%s_moved %lld\n", name, (double)jobs / s->wall, name,
           1e6 * cpu / (double)jobs, name, s->moved);
}

/* SPREAD_CLASSES classes, on one Redis ("single") and on a cluster (reached
 * through nodes[0], its masters nodes[0..n)), in SPREAD_ROUNDS rounds of
 * claim(100)+ack over every class, each side first in turn (so load from
 * elsewhere on the machine hits both alike). Prints spread_report's lines
 * for "single" and "cluster", and "cluster_ratio": the cluster's Redis CPU
 * per job over the single Redis's, the median of the rounds'. */
static void cluster_cost(const char *single, const char *const *nodes, int n, double scale, const char **payloads) {
    static char cls[SPREAD_CLASSES][16];
    for (int k = 0; k < SPREAD_CLASSES; k++) snprintf(cls[k], sizeof(cls[k]), "spread-%02d", k);
    spread one = {0}, many = {0};
    spread_open(&one, single, &single, 1, cls);
    spread_open(&many, nodes[0], nodes, n, cls);
    size_t per = (size_t)(1000 * scale);
    double ratio[SPREAD_ROUNDS];
    for (int round = 0; round < SPREAD_ROUNDS; round++) {
        double us[2];
        for (int k = 0; k < 2; k++) {
            int side = (round + k) % 2;
            us[side] = spread_round(side ? &many : &one, cls, per, payloads);
        }
        ratio[round] = us[1] / us[0];
    }
    qsort(ratio, SPREAD_ROUNDS, sizeof(ratio[0]), cmp_double);
    spread_report(&one, "single");
    spread_report(&many, "cluster");
    printf("cluster_ratio %.3f\n", ratio[SPREAD_ROUNDS / 2]);
    for (int i = 0; i < n; i++) redisFree(many.node[i]);
    redisFree(one.node[0]);
    sluice_client_free(one.c);
    sluice_client_free(many.c);
}

/* Every throughput and CPU figure of the main table; "whole_life" is the
 * sum of the bulk enqueue's and the embedded worker's Redis CPU per job (a
 * job enqueued in bulk, claimed and acked by the worker). */
static void throughput(sluice_client *c, const char *url, const char *worker_bin, double scale, const char **payloads) {
    size_t single = (size_t)(20000 * scale), bulk = (size_t)(200000 * scale), drained = (size_t)(30000 * scale);
    declare(c, "ungated", SLUICE_TIER_CRITICAL);
    declare(c, "gated", SLUICE_TIER_NORMAL);

    sluice_error err;
    char id[SLUICE_ID_MAX];
    cost single_cost = {0, 0}, open = window_open();
    for (size_t i = 0; i < single; i++)
        if (sluice_enqueue(c, "ungated", payloads[0], NULL, id, &err) < 0) die("enqueue", &err);
    window_close(open, &single_cost);
    report("enqueue_single", single_cost, single);

    cost bulk_cost = {0, 0};
    open = window_open();
    fill(c, "ungated", bulk, payloads);
    window_close(open, &bulk_cost);
    report("enqueue_bulk", bulk_cost, bulk);

    /* Alternate the two paths, best of five each for throughput, so load
     * from elsewhere on the machine hits both alike; CPU per job over all
     * five. */
    double best_u = 0, best_g = 0;
    cost all_u = {0, 0}, all_g = {0, 0}, unused = {0, 0};
    drain(c, "ungated", single + bulk, &unused); /* empty it */
    for (int round = 0; round < 5; round++) {
        fill(c, "ungated", drained, payloads);
        fill(c, "gated", drained, payloads);
        cost u = {0, 0}, g = {0, 0};
        drain(c, "ungated", drained, &u);
        drain(c, "gated", drained, &g);
        if (drained / u.wall > best_u) best_u = drained / u.wall;
        if (drained / g.wall > best_g) best_g = drained / g.wall;
        all_u.cpu += u.cpu;
        all_g.cpu += g.cpu;
    }
    printf("claim_ack_ungated %.0f\ncpu_claim_ack_ungated %.2f\n", best_u, 1e6 * all_u.cpu / (5.0 * drained));
    printf("claim_ack_gated %.0f\ncpu_claim_ack_gated %.2f\n", best_g, 1e6 * all_g.cpu / (5.0 * drained));
    size_t worked = (size_t)(100000 * scale);
    cost w = worker_inprocess(c, url, worked, payloads);
    report("worker_inprocess", w, worked);
    printf("cpu_whole_life %.2f\n", 1e6 * (bulk_cost.cpu / (double)bulk + w.cpu / (double)worked));
    printf("worker_exec %.0f\n", worker_exec(c, url, worker_bin, (size_t)(5000 * scale), payloads));
    printf("fork_exec_loop %.0f\n", fork_exec_loop("/bin/true", (size_t)(5000 * scale)));
    keys_cost(c, scale, payloads);
}

int main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        printf("usage: sluice-bench URL WORKER_BIN [SCALE]\n       sluice-bench URL --fill N\n"
               "       sluice-bench URL --depth D...\n       sluice-bench URL --governor [SCALE]\n"
               "       sluice-bench URL --keys [SCALE]\n       sluice-bench URL --cluster NODE_URL...\n");
        return argc < 3 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *payloads[10000];
    for (size_t i = 0; i < 10000; i++) payloads[i] = "{\"user\":12345,\"course\":\"intro-101\"}";
    double scale = argc > 3 ? strtod(argv[3], NULL) : 1;
    if (!(scale > 0 && scale <= 100)) scale = 1;
    if (strcmp(argv[2], "--governor") == 0) {
        governor_cost(argv[1], scale, payloads);
        return 0;
    }
    if (strcmp(argv[2], "--cluster") == 0) {
        if (argc < 4 || argc - 3 > SHARDS_MAX) {
            fprintf(stderr, "sluice-bench: --cluster takes 1 to %d node URLs\n", SHARDS_MAX);
            return 2;
        }
        cluster_cost(argv[1], (const char *const *)argv + 3, argc - 3, 1, payloads);
        return 0;
    }
    int fill_only = strcmp(argv[2], "--fill") == 0, depth = strcmp(argv[2], "--depth") == 0,
        keys = strcmp(argv[2], "--keys") == 0;
    if (depth && (argc < 4 || argc - 3 > 8)) {
        fprintf(stderr, "sluice-bench: --depth takes 1 to 8 counts\n");
        return 2;
    }
    for (int i = 3; depth && i < argc; i++)
        if (strtoull(argv[i], NULL, 10) == 0) {
            fprintf(stderr, "sluice-bench: --depth: \"%s\" is not a positive count\n", argv[i]);
            return 2;
        }
    sluice_error err;
    sluice_client *c = sluice_client_connect(argv[1], fill_only ? "memory" : "bench", &err);
    if (!c) die("connect", &err);
    if (fill_only) {
        declare(c, "memory", SLUICE_TIER_CRITICAL);
        fill(c, "memory", argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1000000, payloads);
        sluice_client_free(c);
        return 0;
    }
    probe_connect(argv[1]);
    if (depth) {
        depths(c, argc - 3, argv + 3, payloads);
    } else if (keys) {
        keys_cost(c, scale, payloads);
    } else {
        throughput(c, argv[1], argv[2], scale, payloads);
    }
    redisFree(probe);
    sluice_client_free(c);
    return 0;
}
