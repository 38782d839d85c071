/* sluice-bench: job throughput on one Redis, for `make bench`.
 * usage: sluice-bench URL WORKER_BIN [SCALE]   throughput ("name jobs/s" lines)
 *        sluice-bench URL --fill N              enqueue N jobs in bulk, nothing else
 * (WORKER_BIN: the sluice-worker program; SCALE multiplies the job counts)
 * Prints one "name jobs/s" line per measure; scripts/bench.sh sets them
 * beside redis-benchmark's figures from the same server, and the exec
 * handlers beside a bare fork+exec loop of the same program. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

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

/* Claims in batches of 100 and acks each job: jobs/s. */
static double drain(sluice_client *c, const char *cls, size_t n) {
    sluice_error err;
    size_t done = 0;
    double t0 = now_s();
    while (done < n) {
        sluice_job *jobs[100];
        sluice_claim_info info;
        if (sluice_claim(c, cls, "bench", 100, jobs, &info, &err) < 0) die("claim", &err);
        if (info.count == 0) die("claim", &(sluice_error){SLUICE_ERR_STATE, "ran dry or throttled"});
        for (size_t i = 0; i < info.count; i++) {
            if (sluice_ack(c, sluice_job_id(jobs[i]), sluice_job_token(jobs[i]), &err) < 0) die("ack", &err);
            sluice_job_free(jobs[i]);
        }
        done += info.count;
    }
    return (double)done / (now_s() - t0);
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
    size_t want;
    ev_timer check;
} inproc;

static void noop(sluice_worker *w, sluice_worker_job *job, void *userdata) {
    (void)userdata;
    sluice_worker_done(w, job, 1, NULL);
}

static void inproc_check(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    inproc *b = (inproc *)((char *)t - offsetof(inproc, check));
    if ((size_t)acked(b->c, "inproc") >= b->want) ev_break(loop, EVBREAK_ALL);
}

static double worker_inprocess(sluice_client *c, const char *url, size_t n, const char **payloads) {
    declare(c, "inproc", SLUICE_TIER_CRITICAL);
    fill(c, "inproc", n, payloads);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    sluice_error err;
    sluice_worker *w = sluice_worker_new(loop, url, "bench", &err);
    if (!w || sluice_worker_handle(w, "inproc", noop, NULL, &err) < 0 || sluice_worker_set_concurrency(w, 64, &err) < 0)
        die("worker", &err);
    inproc b = {.c = c, .want = n};
    ev_timer_init(&b.check, inproc_check, 0.01, 0.01);
    ev_timer_start(loop, &b.check);
    double t0 = now_s();
    if (sluice_worker_start(w, &err) < 0) die("worker start", &err);
    ev_run(loop, 0);
    double rate = (double)n / (now_s() - t0);
    ev_timer_stop(loop, &b.check);
    sluice_worker_free(w);
    ev_loop_destroy(loop);
    return rate;
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

int main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        printf("usage: sluice-bench URL WORKER_BIN [SCALE]\n       sluice-bench URL --fill N\n");
        return argc < 3 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[2], "--fill") == 0) {
        sluice_error err;
        sluice_client *c = sluice_client_connect(argv[1], "memory", &err);
        if (!c) die("connect", &err);
        declare(c, "memory", SLUICE_TIER_CRITICAL);
        const char *p[10000];
        for (size_t i = 0; i < 10000; i++) p[i] = "{\"user\":12345,\"course\":\"intro-101\"}";
        fill(c, "memory", argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1000000, p);
        sluice_client_free(c);
        return 0;
    }
    double scale = argc > 3 ? strtod(argv[3], NULL) : 1;
    if (!(scale > 0 && scale <= 100)) scale = 1;
    size_t single = (size_t)(20000 * scale), bulk = (size_t)(200000 * scale), drained = (size_t)(30000 * scale);
    sluice_error err;
    sluice_client *c = sluice_client_connect(argv[1], "bench", &err);
    if (!c) die("connect", &err);
    declare(c, "ungated", SLUICE_TIER_CRITICAL);
    declare(c, "gated", SLUICE_TIER_NORMAL);

    const char **payloads = malloc(sizeof(*payloads) * 10000);
    for (size_t i = 0; i < 10000; i++) payloads[i] = "{\"user\":12345,\"course\":\"intro-101\"}";

    char id[SLUICE_ID_MAX];
    double t0 = now_s();
    for (size_t i = 0; i < single; i++)
        if (sluice_enqueue(c, "ungated", payloads[0], NULL, id, &err) < 0) die("enqueue", &err);
    printf("enqueue_single %.0f\n", (double)single / (now_s() - t0));

    t0 = now_s();
    fill(c, "ungated", bulk, payloads);
    printf("enqueue_bulk %.0f\n", (double)bulk / (now_s() - t0));

    /* Alternate the two paths, best of five each, so load from elsewhere on
     * the machine hits both alike. */
    double best_u = 0, best_g = 0;
    drain(c, "ungated", single + bulk); /* empty it */
    for (int round = 0; round < 5; round++) {
        fill(c, "ungated", drained, payloads);
        fill(c, "gated", drained, payloads);
        double u = drain(c, "ungated", drained), g = drain(c, "gated", drained);
        if (u > best_u) best_u = u;
        if (g > best_g) best_g = g;
    }
    printf("claim_ack_ungated %.0f\n", best_u);
    printf("claim_ack_gated %.0f\n", best_g);
    printf("worker_inprocess %.0f\n", worker_inprocess(c, argv[1], (size_t)(100000 * scale), payloads));
    printf("worker_exec %.0f\n", worker_exec(c, argv[1], argv[2], (size_t)(5000 * scale), payloads));
    printf("fork_exec_loop %.0f\n", fork_exec_loop("/bin/true", (size_t)(5000 * scale)));
    free(payloads);
    sluice_client_free(c);
    return 0;
}
