/* Child processes, and the exec handler that runs each job as one.
 *
 * Every command the worker runs (job handlers, samplers) is started by
 * spawn_group: posix_spawn (the child shares the worker's memory until it
 * execs, so nothing of the worker is copied), execve, never a shell, in a
 * process group of its own, so a timeout can kill it with everything it
 * started.
 *
 * Exec handlers: one child process per job, started with execve (never a
 * shell) in its own process group; payload on stdin, job id, class and
 * attempt in the environment; exit 0 acks, anything else fails the attempt
 * with the tail of its stderr. A timeout kills the whole group.
 *
 * Children are reaped with ev_child watchers, which libev runs on its
 * default loop only: the worker that uses exec_handler must run on
 * ev_default_loop (sluice-worker does). */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np(), pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "sluice.h"
#include "program.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))
#define TAIL 1024 /* bytes of stderr kept as the failure reason */
#define PATH_MAX_REASON 300

/* ------------------------------ spawning ------------------------------ */

extern char **environ;

/* The worker's environment without SLUICE_REDIS_URL and
 * SLUICE_GOVERNOR_REDIS_URL (they may hold passwords) and without the
 * variables "extra" sets, then "extra". NEW array of
 * BORROWED strings (free() the array only), or NULL. */
static char **child_env(const char *const *extra) {
    size_t n = 0, x = 0;
    while (environ && environ[n]) n++;
    while (extra && extra[x]) x++;
    char **env = calloc(n + x + 1, sizeof(*env));
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        int drop = strncmp(environ[i], "SLUICE_REDIS_URL=", 17) == 0 ||
                   strncmp(environ[i], "SLUICE_GOVERNOR_REDIS_URL=", 26) == 0;
        for (size_t j = 0; !drop && j < x; j++) drop = strncmp(environ[i], extra[j], len) == 0;
        if (!drop) env[k++] = environ[i];
    }
    for (size_t j = 0; j < x; j++) env[k++] = (char *)extra[j];
    env[k] = NULL;
    return env;
}

/* Adds to "fa" what the child does before its execve: fd0/fd1/fd2 (-1: the
 * worker's own) onto 0..2, and every other descriptor closed, so nothing
 * else crosses (not the worker's authenticated Redis links, not other
 * jobs' pipes). 0, or an errno. */
static int child_fds(posix_spawn_file_actions_t *fa, int fd0, int fd1, int fd2) {
    int fds[3] = {fd0, fd1, fd2};
    for (int i = 0; i < 3; i++) {
        int rc = fds[i] >= 0 ? posix_spawn_file_actions_adddup2(fa, fds[i], i) : 0;
        if (rc) return rc;
    }
    return posix_spawn_file_actions_addclosefrom_np(fa, 3);
}

/* Sets "attr" for a child in a process group of its own, with no signal
 * blocked and every signal but SIGKILL and SIGSTOP at its default (the
 * worker ignores SIGPIPE). 0, or an errno. */
static int child_attr(posix_spawnattr_t *attr) {
    sigset_t none, all;
    sigemptyset(&none);
    sigemptyset(&all);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP) sigaddset(&all, s);
    int rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(attr, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(attr, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(attr, &all);
    return rc;
}

pid_t spawn_group(char *const *argv, const char *const *extra, int fd0, int fd1, int fd2) {
    char **env = child_env(extra);
    if (!env) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid = -1;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) goto out;
    rc = posix_spawnattr_init(&attr);
    if (rc) goto out_fa;
    rc = child_fds(&fa, fd0, fd1, fd2);
    if (!rc) rc = child_attr(&attr);
    /* glibc's posix_spawn returns once the child has exec'd, or with the
     * exec's errno and the child reaped */
    if (!rc) rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
out_fa:
    posix_spawn_file_actions_destroy(&fa);
out:
    free(env);
    if (rc) {
        errno = rc;
        return -1;
    }
    return pid;
}

/* ---------------------------- exec handlers --------------------------- */

typedef struct child {
    sluice_worker *w;
    sluice_worker_job *job; /* NULL once cancelled */
    pid_t pid;
    int in_fd, err_fd;
    const char *payload; /* BORROWED from the job */
    size_t len, off;
    char tail[TAIL];
    size_t tail_len; /* bytes in tail, ring order from tail_pos */
    size_t tail_pos;
    int timed_out;
    ev_io in_w, err_w;
    ev_child child_w;
    ev_timer timeout_w;
    struct child *next;
} child;

static child *cancelled; /* given up, waiting to be reaped */

exec_spec *exec_spec_new(char *const *argv, int argc) {
    if (argc < 1) return NULL;
    exec_spec *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!s->argv) {
        free(s);
        return NULL;
    }
    s->argc = argc;
    for (int i = 0; i < argc; i++) {
        s->argv[i] = strdup(argv[i]);
        if (!s->argv[i]) {
            exec_spec_free(s);
            return NULL;
        }
    }
    return s;
}

void exec_spec_free(exec_spec *s) {
    if (!s) return;
    for (int i = 0; i < s->argc; i++) free(s->argv[i]);
    free(s->argv);
    free(s);
}

static void close_in(child *c) {
    if (c->in_fd < 0) return;
    ev_io_stop(EV_DEFAULT, &c->in_w);
    close(c->in_fd);
    c->in_fd = -1;
}

static void close_err(child *c) {
    if (c->err_fd < 0) return;
    ev_io_stop(EV_DEFAULT, &c->err_w);
    close(c->err_fd);
    c->err_fd = -1;
}

static void stop_all(child *c) {
    close_in(c);
    close_err(c);
    ev_child_stop(EV_DEFAULT, &c->child_w);
    ev_timer_stop(EV_DEFAULT, &c->timeout_w);
}

static void in_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    (void)revents;
    child *c = container_of(io, child, in_w);
    while (c->off < c->len) {
        ssize_t n = write(c->in_fd, c->payload + c->off, c->len - c->off);
        if (n > 0) {
            c->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        break; /* EPIPE: the child does not read its stdin */
    }
    close_in(c);
}

static void tail_add(child *c, const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        c->tail[(c->tail_pos + c->tail_len) % TAIL] = buf[i];
        if (c->tail_len < TAIL)
            c->tail_len++;
        else
            c->tail_pos = (c->tail_pos + 1) % TAIL;
    }
}

static void drain_err(child *c) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(c->err_fd, buf, sizeof(buf));
        if (n > 0) {
            tail_add(c, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        close_err(c); /* EOF or error */
        return;
    }
}

static void err_cb(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    (void)revents;
    drain_err(container_of(io, child, err_w));
}

static void child_free(child *c) {
    stop_all(c);
    free(c);
}

static void unlink_cancelled(child *c) {
    for (child **p = &cancelled; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

static void child_cb(struct ev_loop *loop, ev_child *cw, int revents) {
    (void)loop;
    (void)revents;
    child *c = container_of(cw, child, child_w);
    int status = cw->rstatus;
    /* whatever the leader left behind in its group goes with it */
    kill(-c->pid, SIGKILL);
    if (c->err_fd >= 0) drain_err(c);
    if (!c->job) {
        unlink_cancelled(c);
        child_free(c);
        return;
    }
    sluice_worker_job *job = c->job;
    sluice_worker *w = c->w;
    char reason[TAIL + 64];
    int ok = 0;
    if (!c->timed_out && WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127)) {
        /* the shell's "cannot execute" and "not found": the handler's own
         * command could not run, which is no fault of the job */
        snprintf(reason, sizeof(reason), "exit status %d (a command it runs could not be found or executed)",
                 WEXITSTATUS(status));
        child_free(c);
        sluice_worker_cannot_run(w, job, reason);
        return;
    }
    if (c->timed_out) {
        snprintf(reason, sizeof(reason), "timeout");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ok = 1;
        reason[0] = '\0';
    } else if (c->tail_len > 0) {
        size_t n = 0;
        for (size_t i = 0; i < c->tail_len; i++) {
            char ch = c->tail[(c->tail_pos + i) % TAIL];
            reason[n++] = ch == '\0' ? ' ' : ch;
        }
        while (n > 0 && (reason[n - 1] == '\n' || reason[n - 1] == '\r')) n--;
        reason[n] = '\0';
        if (n == 0) goto status_reason;
    } else {
    status_reason:
        if (WIFEXITED(status))
            snprintf(reason, sizeof(reason), "exit status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            snprintf(reason, sizeof(reason), "killed by signal %d", WTERMSIG(status));
        else
            snprintf(reason, sizeof(reason), "ended abnormally");
    }
    child_free(c);
    sluice_worker_done(w, job, ok, ok ? NULL : reason);
}

/* 1 when "pid" is a zombie: it has exited, and libev has not reaped it yet. */
static int exited(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return p && p[1] == ' ' && p[2] == 'Z';
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)revents;
    child *c = container_of(t, child, timeout_w);
    /* A worker that was stopped (SIGSTOP) wakes with its timers past due:
     * a child that ended meanwhile ended in time. */
    if (ev_is_pending(&c->child_w) || kill(c->pid, 0) < 0 || exited(c->pid)) return;
    c->timed_out = 1;
    kill(-c->pid, SIGKILL);
}

static void cancel_cb(sluice_worker_job *job, void *arg) {
    (void)job;
    child *c = arg;
    c->job = NULL;
    kill(-c->pid, SIGKILL);
    close_in(c);
    c->next = cancelled;
    cancelled = c;
}

void exec_handler(sluice_worker *w, sluice_worker_job *job, void *userdata) {
    exec_spec *spec = userdata;
    const sluice_job *sj = sluice_worker_job_get(job);
    int in[2] = {-1, -1}, er[2] = {-1, -1};
    char id[SLUICE_ID_MAX + 16], cls[SLUICE_ID_MAX + 20], attempt[48];
    snprintf(id, sizeof(id), "SLUICE_JOB_ID=%s", sluice_job_id(sj));
    snprintf(cls, sizeof(cls), "SLUICE_JOB_CLASS=%s", sluice_job_class(sj));
    snprintf(attempt, sizeof(attempt), "SLUICE_JOB_ATTEMPT=%d", sluice_job_attempt(sj));
    const char *env[] = {id, cls, attempt, NULL};
    child *c = calloc(1, sizeof(*c));
    if (!c || pipe2(in, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) goto fail;
    pid_t pid = spawn_group(spec->argv, env, in[0], -1, er[1]);
    if (pid < 0) goto fail;
    close(in[0]);
    close(er[1]);
    c->w = w;
    c->job = job;
    c->pid = pid;
    c->in_fd = in[1];
    c->err_fd = er[0];
    c->payload = sluice_job_payload(sj);
    c->len = sluice_job_payload_len(sj);
    fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
    struct ev_loop *loop = EV_DEFAULT;
    ev_io_init(&c->in_w, in_cb, c->in_fd, EV_WRITE);
    ev_io_init(&c->err_w, err_cb, c->err_fd, EV_READ);
    ev_child_init(&c->child_w, child_cb, pid, 0);
    ev_timer_init(&c->timeout_w, timeout_cb, (double)sluice_job_timeout_ms(sj) / 1000.0, 0.);
    ev_io_start(loop, &c->in_w);
    ev_io_start(loop, &c->err_w);
    ev_child_start(loop, &c->child_w);
    ev_timer_start(loop, &c->timeout_w);
    sluice_worker_job_on_cancel(job, cancel_cb, c);
    return;
fail:;
    char reason[PATH_MAX_REASON];
    snprintf(reason, sizeof(reason), "cannot run %.200s: %s", spec->argv[0], strerror(errno));
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (er[i] >= 0) close(er[i]);
    }
    free(c);
    sluice_worker_cannot_run(w, job, reason);
}

void exec_cleanup(void) {
    while (cancelled) {
        child *c = cancelled;
        cancelled = c->next;
        child_free(c);
    }
}
