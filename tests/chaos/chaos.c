/* The fault battery's shared machinery: see chaos.h. */
#define _DEFAULT_SOURCE
#include "chaos.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "../harness.h"

/* ------------------------------ setup -------------------------------- */

static char bin_dir[PATH_MAX + 16];
static char build_dir[PATH_MAX];
static char worker_bin[PATH_MAX + 32];
static char fixtures[PATH_MAX];

int chaos_init(const char *argv0) {
    signal(SIGPIPE, SIG_IGN);
    unsetenv("SLUICE_REDIS_URL");
    if (!realpath("tests/fixtures/chaos", fixtures)) {
        fprintf(stderr, "chaos: run from the top of the tree (tests/fixtures/chaos not found)\n");
        return -1;
    }
    char self[PATH_MAX];
    if (!realpath(argv0, self)) return -1;
    /* BUILD/tests/test_x -> BUILD */
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(build_dir, sizeof(build_dir), "%s", self);
    snprintf(bin_dir, sizeof(bin_dir), "%s/bin", build_dir);
    const char *env = getenv("SLUICE_WORKER");
    if (env && *env) snprintf(worker_bin, sizeof(worker_bin), "%s", env);
    else snprintf(worker_bin, sizeof(worker_bin), "%s/sluice-worker", bin_dir);
    if (access(worker_bin, X_OK) != 0) {
        fprintf(stderr, "chaos: %s is not built\n", worker_bin);
        return -1;
    }
    return 0;
}

int chaos_long(void) {
    const char *s = getenv("SLUICE_CHAOS");
    return s && strcmp(s, "long") == 0;
}

const char *chaos_worker_bin(void) { return worker_bin; }

const char *chaos_program(const char *name) {
    static char buf[PATH_MAX + 128];
    snprintf(buf, sizeof(buf), "%s/chaos/%s", build_dir, name);
    return buf;
}

const char *chaos_fixture(const char *name) {
    static char buf[8][PATH_MAX + 64];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", fixtures, name);
    return buf[k];
}

void chaos_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

/* --------------------------- processes ------------------------------- */

/* Every worker this process started, so that a failed test (cmocka jumps
 * out of it) leaves none running: chaos_reap() kills the ones still alive,
 * and they die with the test process anyway (PR_SET_PDEATHSIG). */
#define MAX_SPAWNED 8192
static pid_t spawned[MAX_SPAWNED];
static int nspawned, reap_hooked;

void chaos_reap(void) {
    for (int i = 0; i < nspawned; i++) {
        /* only our own unreaped children: never a recycled pid */
        if (spawned[i] > 0 && waitpid(spawned[i], NULL, WNOHANG) == 0) {
            kill(spawned[i], SIGCONT);
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
        }
        spawned[i] = 0;
    }
    nspawned = 0;
}

int chaos_teardown(void **state) {
    (void)state;
    chaos_reap();
    return 0;
}

pid_t chaos_spawn_worker(const char *url, const char *ns, const char *log, const char *const *args) {
    const char *argv[128];
    int n = 0;
    argv[n++] = worker_bin;
    argv[n++] = "--redis";
    argv[n++] = url;
    argv[n++] = "--namespace";
    argv[n++] = ns;
    for (int i = 0; args && args[i] && n < 126; i++) argv[n++] = args[i];
    argv[n] = NULL;
    if (!reap_hooked) {
        reap_hooked = 1;
        atexit(chaos_reap);
    }
    if (nspawned == MAX_SPAWNED) {   /* forget the reaped ones */
        int k = 0;
        for (int i = 0; i < nspawned; i++)
            if (waitpid(spawned[i], NULL, WNOHANG) == 0) spawned[k++] = spawned[i];
        nspawned = k;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 2);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); }
        execv(worker_bin, (char *const *)argv);
        _exit(127);
    }
    if (pid > 0 && nspawned < MAX_SPAWNED) spawned[nspawned++] = pid;
    return pid;
}

int chaos_wait(pid_t pid, long ms) {
    long long end = harness_now_ms() + ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0 && errno != EINTR) return -1;
        if (harness_now_ms() >= end) return -1;
        harness_sleep_ms(10);   /* polls */
    }
}

int chaos_stop(pid_t pid, long ms) {
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int st = chaos_wait(pid, ms);
    if (st >= 0) return st;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void chaos_kill(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int chaos_children(pid_t pid) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = '\0';
        /* pid (comm) state ppid ...: comm may hold spaces, so from the last ')' */
        char *p = strrchr(buf, ')');
        char state;
        int ppid;
        if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == pid && state != 'Z') n++;
    }
    closedir(d);
    return n;
}

long chaos_file_lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    long n = 0;
    while (fgets(line, sizeof(line), f))
        if (!needle || strstr(line, needle)) n++;
    fclose(f);
    return n;
}

long chaos_working(const char *rec, pid_t pid) {
    FILE *f = fopen(rec, "r");
    if (!f) return 0;
    char line[4096], id[256];
    char kind;
    long worker, n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%c %255s %ld", &kind, id, &worker) != 3 || worker != (long)pid) continue;
        if (kind == 'S') n++;
        else if (kind == 'E') n--;
    }
    fclose(f);
    return n;
}

/* ---------------------------- checker -------------------------------- */

static void *grow(void *p, long *cap, long need, size_t elem) {
    if (need < *cap) return p;
    long nc = *cap ? *cap : 1024;
    while (nc <= need) nc *= 2;
    unsigned char *q = realloc(p, (size_t)nc * elem);
    if (!q) abort();
    memset(q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return q;
}

static void ensure_id(chaos_check *ck, long seq) {
    if (seq < ck->cap) return;
    long cap = ck->cap;
    ck->acked = grow(ck->acked, &cap, seq, 1);
    cap = ck->cap;
    ck->done = grow(ck->done, &cap, seq, sizeof(int));
    cap = ck->cap;
    ck->dead = grow(ck->dead, &cap, seq, 1);
    ck->cap = cap;
}

static void ensure_n(chaos_check *ck, long n) {
    ck->tried = grow(ck->tried, &ck->ncap, n, 1);
}

void chaos_check_init(chaos_check *ck, const char *cls) {
    memset(ck, 0, sizeof(*ck));
    snprintf(ck->cls, sizeof(ck->cls), "%s", cls);
}

void chaos_check_free(chaos_check *ck) {
    free(ck->acked);
    free(ck->done);
    free(ck->dead);
    free(ck->tried);
    free(ck->runs);
    memset(ck, 0, sizeof(*ck));
}

/* The number of an id of this class, or -1. */
static long id_seq(const chaos_check *ck, const char *id) {
    size_t cl = strlen(ck->cls);
    if (strncmp(id, ck->cls, cl) != 0 || id[cl] != ':') return -1;
    char *end;
    long v = strtol(id + cl + 1, &end, 10);
    if (end == id + cl + 1 || (*end && *end != ' ' && *end != '\n') || v < 1) return -1;
    return v;
}

void chaos_check_attempt(chaos_check *ck, long n, const char *id) {
    if (n < 0) return;
    ensure_n(ck, n);
    if (!id) {
        if (!ck->tried[n]) ck->tried[n] = 1;
        return;
    }
    ck->tried[n] = 2;
    long s = id_seq(ck, id);
    if (s < 0) return;
    ensure_id(ck, s);
    ck->acked[s] = 1;
}

void chaos_check_load(chaos_check *ck, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] != 'E' || line[1] != ' ') continue;
        char id[200];
        int pid = 0, off = 0;
        if (sscanf(line + 2, "%199s %d %n", id, &pid, &off) < 2) { ck->foreign++; continue; }
        long s = id_seq(ck, id);
        if (s < 0) {
            /* another class's job shares the file; anything else is garbage */
            const char *colon = strrchr(id, ':');
            if (!colon || colon == id || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
                ck->foreign++;
            continue;
        }
        long n = -1;
        const char *p = strstr(line, "\"n\":");
        if (p) n = strtol(p + 4, NULL, 10);
        ensure_id(ck, s);
        ck->done[s]++;
        if (ck->nruns == ck->runcap) {
            ck->runcap = ck->runcap ? ck->runcap * 2 : 4096;
            ck->runs = realloc(ck->runs, ck->runcap * sizeof(*ck->runs));
            if (!ck->runs) abort();
        }
        ck->runs[ck->nruns++] = (chaos_run){.seq = s, .n = n, .pid = pid};
    }
    fclose(f);
}

int chaos_check_dead(chaos_check *ck, sluice_client *c) {
    for (size_t off = 0;; off += 1000) {
        size_t n = 0;
        sluice_error err;
        sluice_job_info *d = sluice_dead_list(c, ck->cls, off, 1000, &n, &err);
        if (!d) return n == 0 && err.code == SLUICE_OK ? 0 : (err.code == SLUICE_OK ? 0 : -1);
        for (size_t i = 0; i < n; i++) {
            long s = id_seq(ck, d[i].id);
            if (s < 0) continue;
            ensure_id(ck, s);
            ck->dead[s] = 1;
        }
        sluice_dead_list_free(d, n);
        if (n < 1000) return 0;
    }
}

chaos_table chaos_check_table(chaos_check *ck, sluice_client *c, const char *title) {
    chaos_table t = {0};
    for (long n = 0; n < ck->ncap; n++) {
        if (ck->tried[n]) t.attempted++;
    }
    long nmax = ck->ncap;
    unsigned char *seen_n = calloc((size_t)(nmax > 0 ? nmax : 1), 1);
    for (long s = 1; s < ck->cap; s++) {
        if (ck->acked[s]) t.enqueued++;
        if (ck->done[s] > 0) t.completed++;
        if (ck->done[s] > 1) {
            t.duplicated++;
            t.extra_runs += ck->done[s] - 1;
        }
        if (ck->acked[s] && ck->dead[s]) t.dead++;
        if (ck->acked[s] && !ck->done[s] && !ck->dead[s]) t.lost++;
    }
    /* completed ids never acknowledged: by their payload number, recovered
     * (the enqueue was indeterminate) or unexpected (never attempted) */
    for (size_t i = 0; i < ck->nruns; i++) {
        const chaos_run *r = &ck->runs[i];
        if (ck->acked[r->seq]) continue;
        if (r->n >= 0 && r->n < nmax && ck->tried[r->n] == 1) {
            if (!seen_n[r->n]) { seen_n[r->n] = 1; t.recovered++; }
        } else if (!(r->n >= 0 && r->n < nmax && seen_n[r->n] == 2)) {
            if (r->n >= 0 && r->n < nmax) seen_n[r->n] = 2;
            t.unexpected++;
        }
    }
    t.unexpected += ck->foreign;
    free(seen_n);
    t.inconsistent = -1;
    if (c) {
        sluice_class_stats st;
        if (sluice_class_stats_get(c, ck->cls, &st, NULL) == 0) t.acknowledged = st.acked;
        const char *cls = ck->cls;
        sluice_error err;
        sluice_check *k = sluice_namespace_check(c, &cls, 1, SLUICE_CHECK_MAX_JOBS, &err);
        if (!k) fprintf(stderr, "# checker: sluice_namespace_check failed: %s\n", err.text);
        for (size_t i = 0; k && i < sluice_check_count(k); i++) {
            const sluice_problem *p = sluice_check_problem(k, i);
            fprintf(stderr, "# checker: %s %s %s (%s)\n", p->cls[0] ? p->cls : "global", p->subject, p->detail, p->code);
        }
        if (k) t.inconsistent = (long long)sluice_check_count(k);
        sluice_check_free(k);
    }
    fprintf(stderr,
            "# ---- checker: %s (class %s) ----\n"
            "#   enqueue attempts   %8lld\n"
            "#   enqueued (acked)   %8lld\n"
            "#   acknowledged       %8lld   (acks Redis accepted)\n"
            "#   completed          %8lld   (distinct ids whose handler finished)\n"
            "#   lost               %8lld\n"
            "#   duplicated         %8lld   (%lld extra runs)\n"
            "#   unexpected         %8lld\n"
            "#   recovered          %8lld   (indeterminate enqueues that ran)\n"
            "#   dead               %8lld\n"
            "#   inconsistent       %8lld   (problems sluicectl check finds; -1: not checked)\n",
            title, ck->cls, t.attempted, t.enqueued, t.acknowledged, t.completed, t.lost, t.duplicated,
            t.extra_runs, t.unexpected, t.recovered, t.dead, t.inconsistent);
    fflush(stderr);
    return t;
}

long chaos_check_unattributed(const chaos_check *ck, const int *crashed, size_t n, long *per_pid) {
    if (per_pid) memset(per_pid, 0, n * sizeof(long));
    /* for every duplicated id: its runs in file order; a run by a crashed
     * worker is what made the next one necessary */
    long bad = 0;
    long cap = ck->cap;
    int *nseen = calloc((size_t)(cap > 0 ? cap : 1), sizeof(int));
    unsigned char *attributed = calloc((size_t)(cap > 0 ? cap : 1), 1);
    for (size_t i = 0; i < ck->nruns; i++) {
        const chaos_run *r = &ck->runs[i];
        if (ck->done[r->seq] < 2) continue;
        nseen[r->seq]++;
        if (nseen[r->seq] == ck->done[r->seq]) continue;   /* the last run */
        /* a handler whose parent was already gone when it started (its
         * PPID is init's) was forked by a worker that died at that moment */
        if (r->pid == 1 && n > 0) attributed[r->seq] = 1;
        for (size_t k = 0; k < n; k++) {
            if (crashed[k] == r->pid) {
                if (!attributed[r->seq] && per_pid) per_pid[k]++;
                attributed[r->seq] = 1;
            }
        }
    }
    for (long s = 1; s < cap; s++) {
        if (ck->done[s] <= 1 || attributed[s]) continue;
        if (bad++ < 5) {   /* show the runs of the first few */
            char pids[200] = "";
            size_t k = 0;
            for (size_t i = 0; i < ck->nruns && k + 16 < sizeof(pids); i++)
                if (ck->runs[i].seq == s) k += (size_t)snprintf(pids + k, sizeof(pids) - k, " %d", ck->runs[i].pid);
            chaos_note("duplicate not attributable to a fault: %s:%ld, run by workers%s", ck->cls, s, pids);
        }
    }
    free(nseen);
    free(attributed);
    return bad;
}

/* ----------------------- payloads and classes ------------------------ */

long chaos_enqueue(sluice_client *c, chaos_check *ck, long *next, long count, int batch) {
    long ok = 0;
    sluice_error err;
    if (batch && count > 0) {
        char (*pl)[48] = calloc((size_t)count, 48);
        const char **p = calloc((size_t)count, sizeof(*p));
        char (*ids)[SLUICE_ID_MAX] = calloc((size_t)count, SLUICE_ID_MAX);
        for (long i = 0; i < count; i++) {
            snprintf(pl[i], 48, "{\"n\":%ld}", *next + i);
            p[i] = pl[i];
        }
        size_t done = 0;
        sluice_enqueue_many(c, ck->cls, (size_t)count, p, NULL, 0, ids, &done, &err);
        for (long i = 0; i < count; i++) chaos_check_attempt(ck, *next + i, (size_t)i < done ? ids[i] : NULL);
        *next += count;
        free(pl);
        free(p);
        free(ids);
        return (long)done;
    }
    for (long i = 0; i < count; i++) {
        char payload[48], id[SLUICE_ID_MAX];
        snprintf(payload, sizeof(payload), "{\"n\":%ld}", *next);
        if (sluice_enqueue(c, ck->cls, payload, NULL, id, &err) == 0) {
            chaos_check_attempt(ck, *next, id);
            ok++;
        } else {
            chaos_check_attempt(ck, *next, NULL);
        }
        (*next)++;
    }
    return ok;
}

int chaos_class(sluice_client *c, const char *cls, sluice_tier tier, int64_t conc, int64_t timeout_ms,
                int max_reclaims) {
    sluice_class_config cfg;
    sluice_class_config_init(&cfg);
    cfg.tier = tier;
    /* a non-critical class needs a limit for the governor to scale */
    cfg.max_concurrency = conc || tier == SLUICE_TIER_CRITICAL ? conc : 1000;
    cfg.backoff_base_ms = 1;
    cfg.backoff_max_ms = 10;
    cfg.max_attempts = 20;
    if (timeout_ms) cfg.timeout_ms = timeout_ms;
    if (max_reclaims) cfg.max_reclaims = max_reclaims;
    sluice_error err;
    if (sluice_class_set(c, cls, &cfg, NULL, &err) < 0) {
        chaos_note("class set %s: %s", cls, err.text);
        return -1;
    }
    return 0;
}

int chaos_drained(sluice_client *c, const char *cls, long ms) {
    long long end = harness_now_ms() + ms;
    for (;;) {
        sluice_class_stats st;
        if (sluice_class_stats_get(c, cls, &st, NULL) == 0 && st.ready + st.delayed + st.leased == 0) return 0;
        if (harness_now_ms() >= end) return -1;
        harness_sleep_ms(50);   /* polls */
    }
}

/* ------------------------- counting proxy ---------------------------- */

#define PROXY_MAX_ACCEPTS 200000

typedef struct pconn {
    int fd;
    int port;                 /* index */
    int client_side;
    long rec;                 /* accept record index (client side) */
    int sniffed;
    struct pconn *peer;
    struct pconn *next;       /* all connections */
} pconn;

typedef struct prec {
    long long at;             /* harness_now_ms */
    int port;
    char cmd[16];             /* first command word, upper case; "" until seen */
} prec;

typedef struct lsock { int fd; int idx; } lsock;

struct chaos_proxy {
    char upstream[300];
    int n;
    int *ports;
    lsock *ls;
    int *open;                /* connections open per port */
    int ep;
    pthread_t th;
    int running;
    pthread_mutex_t mu;
    int request;              /* 0 none, 1 down, 2 up, 3 quit */
    int served;
    pconn *conns;
    prec *recs;
    long nrecs;
};

/* Every descriptor of the proxy is close-on-exec: the workers and
 * redis-server the test forks must not inherit (and hold open) its ports. */
static void cloexec(int fd) {
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    cloexec(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 512) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

chaos_proxy *chaos_proxy_new(const char *upstream_sock, int nports) {
    chaos_proxy *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->ep = -1;
    snprintf(p->upstream, sizeof(p->upstream), "%s", upstream_sock);
    p->n = nports;
    p->ports = calloc((size_t)nports, sizeof(int));
    p->ls = calloc((size_t)nports, sizeof(lsock));
    p->open = calloc((size_t)nports, sizeof(int));
    p->recs = calloc(PROXY_MAX_ACCEPTS, sizeof(prec));
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    pthread_mutex_init(&p->mu, NULL);
    /* Ports below the ephemeral range: the clients' own outgoing
     * connections take ephemeral ports, and one of them holding a port of
     * ours while it is closed would keep up() from listening there again. */
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    (void)hi;
    int port = lo - 12000 + (int)(getpid() % 8000);
    if (port < 10000) port = 10000 + (int)(getpid() % 1000);
    for (int i = 0; i < nports; i++) {
        p->ls[i].idx = i;
        p->ls[i].fd = -1;
        for (int tries = 0; p->ls[i].fd < 0 && tries < 1000 && port < lo; tries++) p->ls[i].fd = listen_on(port++);
        if (p->ls[i].fd < 0) {
            p->n = i;
            chaos_proxy_free(p);
            return NULL;
        }
        p->ports[i] = port - 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->ls[i]};
        epoll_ctl(p->ep, EPOLL_CTL_ADD, p->ls[i].fd, &ev);
    }
    return p;
}

int chaos_proxy_port(const chaos_proxy *p, int i) { return p->ports[i]; }

/* Epoll data: listeners point into p->ls (an array), connections are pconn;
 * tell them apart by address range. */
static int is_listener(const chaos_proxy *p, const void *ptr) {
    return (const char *)ptr >= (const char *)p->ls && (const char *)ptr < (const char *)(p->ls + p->n);
}

static void conn_close(chaos_proxy *p, pconn *c) {
    /* both ends go together */
    pconn *pair[2] = {c, c->peer};
    for (int k = 0; k < 2; k++) {
        pconn *x = pair[k];
        if (!x) continue;
        close(x->fd);
        x->fd = -1;
    }
    if (c->client_side || (c->peer && c->peer->client_side)) {
        int port = c->port;
        if (p->open[port] > 0) p->open[port]--;
    }
    /* unlink both from the list and free */
    for (int k = 0; k < 2; k++) {
        pconn *x = pair[k];
        if (!x) continue;
        for (pconn **q = &p->conns; *q; q = &(*q)->next)
            if (*q == x) { *q = x->next; break; }
        free(x);
    }
}

static void sniff(chaos_proxy *p, pconn *c, const char *buf, ssize_t n) {
    c->sniffed = 1;
    if (c->rec < 0) return;
    /* RESP: *N\r\n$L\r\nWORD\r\n */
    const char *q = memchr(buf, '$', (size_t)n);
    if (!q) return;
    q = memchr(q, '\n', (size_t)(buf + n - q));
    if (!q) return;
    q++;
    char *dst = p->recs[c->rec].cmd;
    size_t k = 0;
    while (q < buf + n && *q != '\r' && k < sizeof(p->recs[0].cmd) - 1) {
        char ch = *q++;
        dst[k++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    dst[k] = '\0';
}

static void on_accept(chaos_proxy *p, lsock *l) {
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0) return;
        cloexec(fd);
        if (p->nrecs < PROXY_MAX_ACCEPTS) {
            p->recs[p->nrecs].at = harness_now_ms();
            p->recs[p->nrecs].port = l->idx;
            p->recs[p->nrecs].cmd[0] = '\0';
        }
        long rec = p->nrecs < PROXY_MAX_ACCEPTS ? p->nrecs++ : -1;
        int up = socket(AF_UNIX, SOCK_STREAM, 0);
        cloexec(up);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t ul = strlen(p->upstream);
        if (ul >= sizeof(a.sun_path)) ul = sizeof(a.sun_path) - 1;
        memcpy(a.sun_path, p->upstream, ul);
        if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof(a)) < 0) {
            /* redis is not there: the client sees the connection closed */
            if (up >= 0) close(up);
            close(fd);
            continue;
        }
        pconn *c = calloc(1, sizeof(*c)), *u = calloc(1, sizeof(*u));
        c->fd = fd;
        c->port = u->port = l->idx;
        c->client_side = 1;
        c->rec = rec;
        u->fd = up;
        u->rec = -1;
        c->peer = u;
        u->peer = c;
        c->next = u;
        u->next = p->conns;
        p->conns = c;
        p->open[l->idx]++;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        fcntl(up, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev);
        ev.data.ptr = u;
        epoll_ctl(p->ep, EPOLL_CTL_ADD, up, &ev);
    }
}

static int write_all(int fd, const char *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) { harness_sleep_ms(1); continue; }   /* polls the socket */
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void on_data(chaos_proxy *p, pconn *c) {
    char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0 || !c->peer || write_all(c->peer->fd, buf, (size_t)n) < 0) {
        conn_close(p, c);
        return;
    }
    if (c->client_side && !c->sniffed) sniff(p, c, buf, n);
}

static void apply(chaos_proxy *p, int req) {
    if (req == 1) {
        for (int i = 0; i < p->n; i++)
            if (p->ls[i].fd >= 0) { close(p->ls[i].fd); p->ls[i].fd = -1; }
        while (p->conns) conn_close(p, p->conns);
    } else if (req == 2) {
        for (int i = 0; i < p->n; i++) {
            if (p->ls[i].fd >= 0) continue;
            p->ls[i].fd = listen_on(p->ports[i]);
            if (p->ls[i].fd < 0) {
                chaos_note("proxy: cannot listen on port %d again: %s", p->ports[i], strerror(errno));
                continue;
            }
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->ls[i]};
            epoll_ctl(p->ep, EPOLL_CTL_ADD, p->ls[i].fd, &ev);
        }
    }
}

static void *proxy_main(void *arg) {
    chaos_proxy *p = arg;
    struct epoll_event evs[256];
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int req = p->request;
        if (req) {
            apply(p, req);
            p->request = 0;
            p->served++;
        }
        if (req == 3) { pthread_mutex_unlock(&p->mu); return NULL; }
        int k = epoll_wait(p->ep, evs, 256, 0);
        for (int i = 0; i < k; i++) {
            void *ptr = evs[i].data.ptr;
            if (is_listener(p, ptr)) {
                lsock *l = ptr;
                if (l->fd >= 0) on_accept(p, l);
                continue;
            }
            /* a connection closed earlier in this batch is gone: look it up */
            pconn *c = NULL;
            for (pconn *x = p->conns; x; x = x->next)
                if (x == ptr) { c = x; break; }
            if (c && c->fd >= 0) on_data(p, c);
        }
        pthread_mutex_unlock(&p->mu);
        if (k == 0) {
            /* wait outside the lock */
            struct epoll_event one;
            int r = epoll_wait(p->ep, &one, 1, 5);
            (void)r;   /* level-triggered: the next round picks it up */
        }
    }
}

int chaos_proxy_start(chaos_proxy *p) {
    if (pthread_create(&p->th, NULL, proxy_main, p) != 0) return -1;
    p->running = 1;
    return 0;
}

static void proxy_request(chaos_proxy *p, int req) {
    pthread_mutex_lock(&p->mu);
    int want = p->served + 1;
    p->request = req;
    pthread_mutex_unlock(&p->mu);
    if (!p->running) return;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int done = p->served >= want;
        pthread_mutex_unlock(&p->mu);
        if (done) return;
        harness_sleep_ms(1);   /* polls the proxy thread */
    }
}

void chaos_proxy_down(chaos_proxy *p) { proxy_request(p, 1); }

int chaos_proxy_up(chaos_proxy *p) {
    proxy_request(p, 2);
    int ok = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++) ok += p->ls[i].fd >= 0;
    pthread_mutex_unlock(&p->mu);
    return ok == p->n ? 0 : -1;
}

int chaos_proxy_accepts(chaos_proxy *p, int i, long long from, long long to, const char *cmd) {
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (long k = 0; k < p->nrecs; k++) {
        const prec *r = &p->recs[k];
        if (r->port == i && r->at >= from && r->at < to && (!cmd || strcmp(r->cmd, cmd) == 0)) n++;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

int chaos_proxy_open(chaos_proxy *p, int i) {
    pthread_mutex_lock(&p->mu);
    int n = p->open[i];
    pthread_mutex_unlock(&p->mu);
    return n;
}

void chaos_proxy_free(chaos_proxy *p) {
    if (!p) return;
    if (p->running) {
        proxy_request(p, 3);
        pthread_join(p->th, NULL);
    }
    while (p->conns) conn_close(p, p->conns);
    for (int i = 0; i < p->n; i++)
        if (p->ls && p->ls[i].fd >= 0) close(p->ls[i].fd);
    if (p->ep >= 0) close(p->ep);
    pthread_mutex_destroy(&p->mu);
    free(p->ports);
    free(p->ls);
    free(p->open);
    free(p->recs);
    free(p);
}
