/* The fault battery's shared machinery (tests/test_chaos_*.c): short or long
 * parameters, sluice-worker processes, the checker table in the style of
 * Jepsen's queue checker, and a counting TCP proxy for the reconnect storm.
 * Linked into the chaos test binaries by the Makefile's chaos section. */
#ifndef SLUICE_TEST_CHAOS_H
#define SLUICE_TEST_CHAOS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sluice.h"

/* ------------------------------ setup -------------------------------- */

/* Finds the programs beside the test binary ("argv0": BUILD/tests/x gives
 * BUILD/bin/sluice-worker; $SLUICE_WORKER overrides) and the fixtures
 * (tests/fixtures/chaos, run from the top of the tree). Ignores SIGPIPE and
 * drops SLUICE_REDIS_URL from the environment (SLUICE_TEST_ONLY picks
 * scenarios, as for every test: see tests/harness.h). Returns 0 or -1. */
int chaos_init(const char *argv0);

/* 1 when SLUICE_CHAOS=long (make chaos): the long parameters. */
int chaos_long(void);
#define CHAOS_PICK(short_, long_) (chaos_long() ? (long_) : (short_))

/* The sluice-worker program's path. BORROWED, static. */
const char *chaos_worker_bin(void);
/* BUILD/chaos/NAME: a program the chaos section of the Makefile builds. */
const char *chaos_program(const char *name);
/* tests/fixtures/chaos/NAME, absolute. BORROWED: one of 8 rotating buffers. */
const char *chaos_fixture(const char *name);

/* Prints one line prefixed with "# " to stderr (and fflush). */
void chaos_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --------------------------- processes ------------------------------- */

/* Starts sluice-worker --redis URL --namespace NS ARGS... with stderr
 * appended to "log". Returns the pid, or -1. */
pid_t chaos_spawn_worker(const char *url, const char *ns, const char *log, const char *const *args);
/* Kills (SIGKILL) and reaps every worker chaos_spawn_worker started that
 * is still running: call it when a test begins (cmocka leaves a failed
 * test's workers behind); it also runs at exit. */
void chaos_reap(void);
/* A cmocka teardown that calls chaos_reap. */
int chaos_teardown(void **state);
/* Waits for "pid" at most "ms". Returns its wait status, or -1 (still
 * running). */
int chaos_wait(pid_t pid, long ms);
/* SIGTERM, then waits "ms"; SIGKILL after. Returns the wait status of a
 * process that exited by itself, or -1 when it had to be killed. */
int chaos_stop(pid_t pid, long ms);
/* SIGKILL and reap. */
void chaos_kill(pid_t pid);
/* How many live processes have "pid" as their parent (/proc). */
int chaos_children(pid_t pid);
/* Lines of the file, and lines containing "needle" (NULL: all). */
long chaos_file_lines(const char *path, const char *needle);
/* Handlers of the worker "pid" that have started work (their "S" line is in
 * the record file "rec", so they have their payload) and not finished it. */
long chaos_working(const char *rec, pid_t pid);

/* ---------------------------- checker -------------------------------- */

/* The record a handler leaves (tests/fixtures/chaos/job.sh): one line per
 * completed run, "E <job id> <worker pid> <payload>", the payload a JSON
 * object with the producer's sequence number "n". */
typedef struct chaos_run {
    long seq;                 /* the id's number */
    long n;                   /* the payload's "n", -1 if none */
    int pid;                  /* the worker that ran it */
} chaos_run;

/* Jepsen-style accounting of one class. Identity is the job id (acknowledged
 * enqueues) and the payload's "n" (every attempted enqueue, so an
 * indeterminate enqueue that did happen counts as recovered, not
 * unexpected). */
typedef struct chaos_check {
    char cls[65];
    long cap;                 /* ids 1..cap-1 tracked */
    unsigned char *acked;     /* by id: the enqueue returned 0 */
    int *done;                /* by id: completed runs */
    unsigned char *dead;      /* by id: in the dead set */
    long ncap;
    unsigned char *tried;     /* by n: 1 attempted (indeterminate), 2 acknowledged */
    chaos_run *runs;
    size_t nruns, runcap;
    long long foreign;        /* lines naming another class or garbage */
} chaos_check;

typedef struct chaos_table {
    long long attempted;      /* enqueue calls */
    long long enqueued;       /* enqueue returned 0 */
    long long acknowledged;   /* the class's acked counter in Redis (acks accepted) */
    long long completed;      /* distinct ids whose handler completed */
    long long lost;           /* enqueued, never completed, not dead */
    long long duplicated;     /* ids completed more than once */
    long long extra_runs;     /* completed runs beyond the first, summed */
    long long unexpected;     /* completed, never attempted */
    long long recovered;      /* completed, enqueue was indeterminate */
    long long dead;           /* enqueued ids in the dead set */
    long long inconsistent;   /* problems the invariant checker finds in the class (-1: not checked) */
} chaos_table;

void chaos_check_init(chaos_check *ck, const char *cls);
void chaos_check_free(chaos_check *ck);
/* Records an enqueue attempt of payload number "n": "id" the returned id,
 * or NULL when the call failed (indeterminate). */
void chaos_check_attempt(chaos_check *ck, long n, const char *id);
/* Reads the handlers' record file (may be called once per file). */
void chaos_check_load(chaos_check *ck, const char *path);
/* Reads the class's dead set. Returns 0 or -1. */
int chaos_check_dead(chaos_check *ck, sluice_client *c);
/* Computes, and prints the table under "title". "c" (may be NULL) reads
 * the acked counter and runs the invariant checker on the class. */
chaos_table chaos_check_table(chaos_check *ck, sluice_client *c, const char *title);
/* Duplicated ids of which no run before the last was by one of the "n"
 * pids in "crashed" (workers killed, frozen or crashed): duplicates not
 * attributable to a fault (a run recorded with worker pid 1 was orphaned
 * at birth: its worker died as it forked it, so it counts as a crash's).
 * "per_pid" (may be NULL, n entries) receives the duplicates attributed to
 * each. */
long chaos_check_unattributed(const chaos_check *ck, const int *crashed, size_t n, long *per_pid);

/* ----------------------- payloads and classes ------------------------ */

/* Enqueues "count" jobs numbered from *next ({"n":k}), one call each
 * (pipelined with sluice_enqueue_many when "batch"), recording them.
 * Returns how many were acknowledged. */
long chaos_enqueue(sluice_client *c, chaos_check *ck, long *next, long count, int batch);

/* Declares a class for the battery: backoff 1..10 ms. */
int chaos_class(sluice_client *c, const char *cls, sluice_tier tier, int64_t conc, int64_t timeout_ms,
                int max_reclaims);

/* Waits until the class has nothing ready, delayed or leased; returns 0, or
 * -1 after "ms". */
int chaos_drained(sluice_client *c, const char *cls, long ms);

/* ------------------------- counting proxy ---------------------------- */

/* A TCP proxy on 127.0.0.1 with one listening port per client, forwarding
 * to a redis unix socket; it counts accepted connections per port with
 * their time and first command. down() closes the listeners and every
 * connection (what clients see when redis-server dies: refused connects),
 * up() listens again on the same ports. Runs on a thread of its own. */
typedef struct chaos_proxy chaos_proxy;

chaos_proxy *chaos_proxy_new(const char *upstream_sock, int nports);
int chaos_proxy_port(const chaos_proxy *p, int i);
int chaos_proxy_start(chaos_proxy *p);
void chaos_proxy_down(chaos_proxy *p);
int chaos_proxy_up(chaos_proxy *p);
/* Connections accepted on port i in [from, to) (harness_now_ms), and of
 * those how many opened with "cmd" (e.g. "SUBSCRIBE"; NULL: all). */
int chaos_proxy_accepts(chaos_proxy *p, int i, long long from, long long to, const char *cmd);
/* Connections open now through port i. */
int chaos_proxy_open(chaos_proxy *p, int i);
void chaos_proxy_free(chaos_proxy *p);

#endif
