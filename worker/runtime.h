/* Private to worker/: what the runtime, the exec handlers and the
 * sluice-worker program share. */
#ifndef SLUICE_WORKER_RUNTIME_H
#define SLUICE_WORKER_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/worker.h"

/* -------------------------- exec handlers --------------------------- */

/* A command to run per job: argv[0] is a path executed with execve. */
typedef struct exec_spec {
    char **argv;          /* NULL-terminated, owned */
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

#endif
