/* Child processes of the worker (job handlers, samplers): a command run with
 * execve — never a shell — in a process group of its own, so a timeout can
 * kill it with everything it started. */
#define _DEFAULT_SOURCE /* syscall() */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program.h"

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

/* In the child: tells the parent why it could not exec (errno on "fd",
 * close-on-exec) and exits. */
static void child_fail(int fd) {
    int e = errno;
    ssize_t n = write(fd, &e, sizeof(e));
    (void)n;
    _exit(127);
}

pid_t spawn_group(char *const *argv, const char *const *extra, int fd0, int fd1, int fd2) {
    char **env = child_env(extra);
    if (!env) return -1;
    int ep[2];   /* the child's exec error; closed by a successful execve */
    if (pipe(ep) < 0) {
        free(env);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < 32; s++)
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        /* the error pipe goes to fd 3, out of the way of 0..2 */
        int errfd = fcntl(ep[1], F_DUPFD, 10);
        if (errfd < 0) _exit(127);
        if ((fd0 >= 0 && dup2(fd0, 0) < 0) || (fd1 >= 0 && dup2(fd1, 1) < 0) || (fd2 >= 0 && dup2(fd2, 2) < 0) ||
            dup2(errfd, 3) < 0)
            child_fail(errfd);
        fcntl(3, F_SETFD, FD_CLOEXEC);
        /* Nothing else crosses: not the worker's authenticated Redis links,
         * not other jobs' pipes. Async-signal-safe, as the worker may have
         * threads (the metrics server). */
#ifdef SYS_close_range
        if (syscall(SYS_close_range, 4U, ~0U, 0) != 0)
#endif
        {
            long max = sysconf(_SC_OPEN_MAX);
            for (long fd = 4; fd < (max > 0 && max < 65536 ? max : 65536); fd++) close((int)fd);
        }
        execve(argv[0], argv, env);
        child_fail(3);
    }
    int saved = errno;
    free(env);
    close(ep[1]);
    if (pid < 0) {
        close(ep[0]);
        errno = saved;
        return -1;
    }
    /* also here, so a kill before the child's own setpgid finds the group */
    setpgid(pid, pid);
    /* blocks until the child has exec'd (EOF) or failed to (its errno) */
    int e = 0;
    ssize_t n;
    while ((n = read(ep[0], &e, sizeof(e))) < 0 && errno == EINTR) {
    }
    close(ep[0]);
    if (n == (ssize_t)sizeof(e)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        errno = e;
        return -1;
    }
    return pid;
}
