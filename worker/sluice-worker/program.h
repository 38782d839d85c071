/* Private to worker/sluice-worker/: what the program's files share (child
 * processes, exec handlers, samplers, metrics, config values). */
#ifndef SLUICE_WORKER_PROGRAM_H
#define SLUICE_WORKER_PROGRAM_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "diskstats.h"
#include "sluice/worker.h"

struct json_t;

/* --------------------------- child processes -------------------------- */

/* Starts argv[0] with argv (posix_spawn: execve, no copy of the worker's
 * memory) in a new process group, no signal blocked, signals 1..31 at
 * their defaults (glibc's spawn leaves its own internal signals 32 and 33
 * ignored; glibc programs install them as they need them), fd0/fd1/fd2 (-1: the worker's own) as its stdin, stdout and
 * stderr, and the worker's environment minus SLUICE_REDIS_URL and the names
 * "extra" ("NAME=value" strings, NULL-terminated, may be NULL) sets, plus
 * "extra"; no other descriptor crosses. Returns once the child has exec'd
 * (well under a millisecond): the pid, or -1 with errno: the spawn's, or the
 * exec's (ENOENT, EACCES, ENOEXEC, ...; the child is reaped). */
pid_t spawn_group(char *const *argv, const char *const *extra, int fd0, int fd1, int fd2);

/* -------------------------- exec handlers --------------------------- */

/* A command to run per job: argv[0] is a path executed with execve. */
typedef struct exec_spec {
    char **argv; /* NULL-terminated, owned */
    int argc;
} exec_spec;

/* NEW spec copying argv[0..argc). NULL on failure. */
exec_spec *exec_spec_new(char *const *argv, int argc);
void exec_spec_free(exec_spec *s);

/* The sluice_worker_handler for exec specs (userdata: an exec_spec). The
 * worker's loop must be libev's default loop (ev_child). */
void exec_handler(sluice_worker *w, sluice_worker_job *job, void *userdata);

/* Frees what exec_handler still holds for children already given up on
 * (call after the loop is done). */
void exec_cleanup(void);

/* ------------------------------ samplers ------------------------------ */

/* A sampler feeds one signal, run by the worker whose governor leads:
 * either a command (execve, no shell, own process group, killed at its
 * timeout) that prints one number, or the built-in disk sampler reading a
 * diskstats file. See worker/sampler.c. */
#define SAMPLER_MAX 64

typedef struct sampler_spec {
    char signal[65];
    exec_spec *cmd;  /* a command sampler (owned); NULL for a disk sampler */
    char device[64]; /* a disk sampler: the device, e.g. vda */
    char path[256];  /* its diskstats file, default /proc/diskstats */
    sluice_disk_measure measure;
    int64_t interval_ms;
    int64_t timeout_ms; /* command samplers */
} sampler_spec;

/* One entry of the "samplers" array of the config file into *out (fresh).
 * Returns 0, or -1 with "why". */
int sampler_spec_from_json(const struct json_t *v, sampler_spec *out, char *why, size_t wn);

/* --sampler SIGNAL=INTERVAL:COMMAND [ARG...]: "arg" is SIGNAL=INTERVAL:COMMAND
 * and argv[0..argc) the arguments. Returns 0, or -1 with "why". */
int sampler_spec_from_arg(const char *arg, char *const *argv, int argc, sampler_spec *out, char *why, size_t wn);

/* Frees what *s owns. */
void sampler_spec_clear(sampler_spec *s);

typedef struct sampler_set sampler_set;

/* A NEW set of samplers for worker "w" (on libev's default loop), reporting
 * through a connection of its own to "url"/"ns" (copied), logging through
 * "log". NULL when out of memory. */
sampler_set *sampler_set_new(sluice_worker *w, const char *url, const char *ns, sluice_worker_log_fn log, void *log_ud);

/* Adds a copy of "spec". Returns 0, or -1 (out of memory, or too many). */
int sampler_set_add(sampler_set *s, const sampler_spec *spec);

/* Starts the interval timers: each sampler runs every interval while "w"
 * leads the governor. */
void sampler_set_start(sampler_set *s);

/* Stops everything, kills the commands still running. NULL is a no-op. */
void sampler_set_free(sampler_set *s);

typedef struct sampler_stat {
    char signal[65];
    int64_t runs;     /* runs started (while leading) */
    int64_t reported; /* values reported */
    int64_t failures; /* runs that reported nothing */
} sampler_stat;

/* Copies at most "max" samplers' counters into "out"; returns how many. */
size_t sampler_set_stats(const sampler_set *s, sampler_stat *out, size_t max);

/* ------------------------------ metrics ------------------------------ */

/* What the worker itself counts, copied into the metrics server under its
 * mutex (the HTTP thread never touches the worker). */
typedef struct metrics_local {
    sluice_worker_stats st;
    size_t nsamplers;
    sampler_stat samplers[SAMPLER_MAX];
} metrics_local;

/* Fills *out on the worker's loop. */
typedef void (*metrics_collect_fn)(metrics_local *out, void *ud);

typedef struct metrics_server metrics_server;

/* Serves Prometheus metrics at http://BIND:PORT/metrics from a thread of
 * libmicrohttpd's ("bind" an IPv4 or IPv6 address; "port" 0 lets the
 * kernel choose, *bound_port receives it). Each scrape reads classes,
 * gates, signals and the governor through a connection of the HTTP
 * thread's own to "url"/"ns"; "collect" runs on "loop" twice a second.
 * Returns NEW, or NULL with "why". */
metrics_server *metrics_start(struct ev_loop *loop, const char *url, const char *ns, const char *bind, int port,
                              metrics_collect_fn collect, void *ud, int *bound_port, char *why, size_t wn);

/* Stops the HTTP thread and frees. NULL is a no-op. */
void metrics_stop(metrics_server *m);

/* ------------------------------- config ------------------------------- */

#define MAX_HANDLERS 256
#define GRACE_MAX_MS 86400000 /* a day */

typedef struct handler {
    char cls[65];
    exec_spec *spec;
} handler;

typedef struct settings {
    const char *redis, *governor_redis, *ns, *config, *name, *log_format, *metrics_bind;
    int concurrency;  /* 0: unset */
    int64_t grace_ms; /* -1: unset */
    int metrics_port; /* -1: unset (no metrics) */
    int no_governor;
    handler h[MAX_HANDLERS];
    int nh;
    sampler_spec smp[SAMPLER_MAX];
    int nsmp;
} settings;

/* usage text of --help (stdout) and of a misuse (stderr). */
void config_usage(FILE *f);
/* Prints "sluice-worker: <why> (see --help)" and exits 2. */
void config_misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Parses the command line into *s (fresh); misuse exits 2, --help exits 0. */
void config_parse_args(int argc, char **argv, settings *s);
/* Reads a config file into *s (fresh). Returns 0, or -1 with "why" (then
 * *s holds nothing to free). */
int config_read(const char *path, settings *s, char *why, size_t wn);
/* What the command line and a config file must give together: something
 * to do. Returns 0, or -1 with "why". */
int config_check(const settings *cli, const settings *file, char *why, size_t wn);
/* Frees the handlers and samplers *s holds. */
void config_clear(settings *s);

/* A duration of the config file into *ms: a string with a unit within
 * [lo, hi] ms ("30s"; a bare number is refused, its unit unknowable).
 * Returns 0, or -1. */
int config_duration(const struct json_t *v, int64_t lo, int64_t hi, int64_t *ms);
/* A command of the config file into argv (at least 256 entries; BORROWED
 * from v): a path, or an array of 1 to 255 strings. Returns argc; 0 if v is
 * neither; -1 if an element of the array is not a string. */
int config_command(const struct json_t *v, char **argv);

#endif
