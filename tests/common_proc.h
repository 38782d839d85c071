/* Helpers of the tests that run sluice's programs and scripts: find the
 * built binaries next to the test, start sluice-worker with its log in a
 * file, run a command and capture its output, write small scripts. */
#ifndef SLUICE_TEST_COMMON_PROC_H
#define SLUICE_TEST_COMMON_PROC_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static char proc_bin_dir[PATH_MAX] = "build/bin";
static pid_t proc_pids[32]; /* workers started and not yet stopped */

static inline void proc_forget(pid_t pid) {
    for (int i = 0; i < 32; i++)
        if (proc_pids[i] == pid) proc_pids[i] = 0;
}

/* cmocka teardown: kills the workers a failed test left running. */
static inline int proc_teardown(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        if (!proc_pids[i]) continue;
        kill(proc_pids[i], SIGKILL);
        waitpid(proc_pids[i], NULL, 0);
        proc_pids[i] = 0;
    }
    return 0;
}

/* The binaries are in ../bin from the test binary (any BUILD dir). */
static inline void proc_init(const char *argv0) {
    const char *slash = strrchr(argv0, '/');
    if (slash) snprintf(proc_bin_dir, sizeof(proc_bin_dir), "%.*s/../bin", (int)(slash - argv0), argv0);
}

static inline const char *proc_bin(const char *name) {
    static char buf[4][PATH_MAX + 64];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", proc_bin_dir, name);
    return buf[k];
}

/* Writes an executable script "name" into "dir" with "body" (a #!/bin/sh
 * script); returns its path (static, 4 in rotation). */
static inline const char *proc_script(const char *dir, const char *name, const char *body) {
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    FILE *f = fopen(buf[k], "w");
    if (!f) fail_msg("cannot write %s", buf[k]);
    fputs(body, f);
    fclose(f);
    chmod(buf[k], 0755);
    return buf[k];
}

/* Starts argv (NULL-terminated) with "env" (NAME=VALUE to set, NAME alone to
 * unset; NULL-terminated, or NULL), its stderr (and, with "out", its stdout)
 * appended to "log". It dies with the test, and proc_teardown kills it if
 * the test failed. */
static inline pid_t proc_start(const char *const *argv, const char *const *env, const char *log, int out) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            if (out) dup2(fd, 1);
        }
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char name[64];
                snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
                setenv(name, eq + 1, 1);
            } else {
                unsetenv(env[i]);
            }
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 32; i++)
        if (!proc_pids[i]) {
            proc_pids[i] = pid;
            break;
        }
    return pid;
}

/* Starts sluice-worker in namespace "t" with "args" (NULL-terminated); its
 * stderr is appended to "log". The URL is the harness server's, on the
 * command line, or "env_url" (not NULL) in SLUICE_REDIS_URL. */
static inline pid_t proc_worker_env(const harness_redis *h, const char *const *args, const char *log,
                                    const char *env_url) {
    const char *argv[96];
    int n = 0;
    argv[n++] = proc_bin("sluice-worker");
    if (!env_url) {
        argv[n++] = "--redis";
        argv[n++] = h->url;
    }
    argv[n++] = "--namespace";
    argv[n++] = "t";
    for (int i = 0; args[i] && n < 94; i++) argv[n++] = args[i];
    argv[n] = NULL;
    char url[600];
    snprintf(url, sizeof(url), "SLUICE_REDIS_URL=%s", env_url ? env_url : "");
    const char *env[] = {env_url ? url : "SLUICE_REDIS_URL", NULL};
    return proc_start(argv, env, log, 0);
}

/* proc_worker_env with the harness server's URL on the command line. */
static inline pid_t proc_worker(const harness_redis *h, const char *const *args, const char *log) {
    return proc_worker_env(h, args, log, NULL);
}

/* Reads fd into buf (at most len - 1 bytes, NUL-terminated) until end of
 * file, an error (a pty gives EIO once its child has gone) or "ms" without
 * data. Returns the bytes read. */
static inline size_t proc_read_all(int fd, char *buf, size_t len, int ms) {
    size_t n = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (n + 1 >= len || poll(&p, 1, ms) <= 0) break;
        ssize_t k = read(fd, buf + n, len - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

/* Waits for "pid" at most "ms"; returns its wait status, or -1. */
static inline int proc_wait(pid_t pid, long ms) {
    int status = 0;
    pid_t r = 0;
    WAIT_UNTIL((r = waitpid(pid, &status, WNOHANG)) == pid, ms);
    return r == pid ? status : -1;
}

/* SIGTERM, and the worker must exit 0 within 10 s. */
static inline void proc_stop(pid_t pid) {
    kill(pid, SIGTERM);
    int st = proc_wait(pid, 10000);
    if (st >= 0) proc_forget(pid);
    if (st < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("worker did not stop");
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("worker exited with status %d", st);
}

/* Runs sluice-worker with "args" (as proc_worker) until class cls has n jobs
 * acked (at most "ms"), stops it, and gives the class's counters in *st. */
static inline void proc_drain(const harness_redis *h, const char *const *args, const char *log, sluice_client *c,
                              const char *cls, int64_t n, long ms, sluice_class_stats *st) {
    pid_t pid = proc_worker(h, args, log);
    test_wait_acked(c, cls, n, ms, st);
    proc_stop(pid);
}

/* Runs argv with "env" (NAME=VALUE strings, NULL-terminated, added to the
 * environment; may be NULL), "in" on stdin (may be NULL), stdout into
 * "out" (NUL-terminated), stderr into "err" when not NULL. Returns the exit
 * status, or -1 (killed, or not done in 30 s). */
static inline int proc_run(const char *const *argv, const char *const *env, const char *in, char *out, size_t outn,
                           char *err, size_t errn) {
    int ip[2], op[2], ep[2];
    if (pipe(ip) < 0 || pipe(op) < 0 || pipe(ep) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            char name[256];
            if (!eq || (size_t)(eq - env[i]) >= sizeof(name)) _exit(127);
            memcpy(name, env[i], (size_t)(eq - env[i]));
            name[eq - env[i]] = '\0';
            setenv(name, eq + 1, 1);
        }
        dup2(ip[0], 0);
        dup2(op[1], 1);
        dup2(ep[1], 2);
        /* only 0, 1 and 2: a daemon the command starts (pg_ctl) must not
         * keep the pipes open */
        close(ip[0]);
        close(op[1]);
        close(ep[1]);
        close(ip[1]);
        close(op[0]);
        close(ep[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(ip[0]);
    close(op[1]);
    close(ep[1]);
    if (in) {
        size_t len = strlen(in), off = 0;
        while (off < len) {
            ssize_t k = write(ip[1], in + off, len - off);
            if (k <= 0) break;
            off += (size_t)k;
        }
    }
    close(ip[1]);
    size_t on = 0, en = 0;
    char dump[512];
    int open_o = 1, open_e = 1;
    while (open_o || open_e) {
        if (open_o) {
            ssize_t k = read(op[0], on + 1 < outn ? out + on : dump, on + 1 < outn ? outn - 1 - on : sizeof(dump));
            if (k > 0) {
                if (on + 1 < outn) on += (size_t)k;
            } else
                open_o = 0;
            continue;
        }
        ssize_t k =
            read(ep[0], err && en + 1 < errn ? err + en : dump, err && en + 1 < errn ? errn - 1 - en : sizeof(dump));
        if (k > 0) {
            if (err && en + 1 < errn) en += (size_t)k;
        } else
            open_e = 0;
    }
    if (outn) out[on] = '\0';
    if (err && errn) err[en] = '\0';
    close(op[0]);
    close(ep[0]);
    int st = proc_wait(pid, 30000);
    if (st < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The whole file as a NEW string ("" when missing). */
static inline char *proc_slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t k = fread(s, 1, (size_t)n, f);
    s[k] = '\0';
    fclose(f);
    return s;
}

/* Occurrences of "needle" in "text". */
static inline int proc_count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Occurrences of "needle" in the file at "path" (0 when it is missing). */
static inline int proc_count_file(const char *path, const char *needle) {
    char *text = proc_slurp(path);
    int n = proc_count(text, needle);
    free(text);
    return n;
}

/* The port the worker logged ("serving http://127.0.0.1:PORT/metrics"), or 0. */
static inline int proc_port_in(const char *log) {
    char *t = proc_slurp(log);
    const char *p = strstr(t, "serving http://127.0.0.1:");
    int port = p ? atoi(p + strlen("serving http://127.0.0.1:")) : 0;
    free(t);
    return port;
}

/* The port the worker logged, waiting up to 20 s; 0 if none. */
static inline int proc_metrics_port(const char *log) {
    int port = 0;
    WAIT_UNTIL((port = proc_port_in(log)) > 0, 20000);
    return port;
}

/* A plain HTTP/1.0 request over a socket; the whole response (headers and
 * body) into a NEW string, or NULL. */
static inline char *proc_http(int port, const char *method, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return NULL;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return NULL;
    }
    char req[300];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

#endif
