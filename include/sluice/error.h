/* sluice errors: one enum of codes and a caller-owned error struct.
 *
 * Every function that can fail takes an optional `sluice_error *err` (NULL is
 * allowed). On entry it is reset; on failure it receives a code and a one-line
 * message naming the problem. The first error wins: a failure deep inside a
 * call is not overwritten by the ones it causes on the way out. The library
 * never prints, exits or aborts on bad input. */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_error_code {
    SLUICE_OK = 0,
    SLUICE_ERR_UNREACHABLE,   /* Redis cannot be reached, or the link broke */
    SLUICE_ERR_AUTH,          /* wrong user or password, or NOAUTH */
    SLUICE_ERR_URL,           /* the connection URL is malformed */
    SLUICE_ERR_NAME,          /* a class or signal name breaks ^[a-z0-9][a-z0-9_.-]{0,63}$ */
    SLUICE_ERR_PAYLOAD,       /* not a JSON object, too large, too deep, NUL bytes */
    SLUICE_ERR_ARGUMENT,      /* an option or number out of range, or malformed */
    SLUICE_ERR_UNKNOWN_CLASS, /* the class was never declared */
    SLUICE_ERR_QUEUE_FULL,    /* the class is at max_queue; nothing was enqueued */
    SLUICE_ERR_STALE,         /* the fencing token is not the current lease's */
    SLUICE_ERR_NOT_FOUND,     /* no such job, dead job or signal */
    SLUICE_ERR_BUSY,          /* the job is leased by a worker */
    SLUICE_ERR_STATE,         /* the object is not in a state that allows this */
    SLUICE_ERR_SERVER,        /* Redis refused: out of memory, no permission, ... */
    SLUICE_ERR_PROTOCOL,      /* a reply sluice cannot read (version skew?) */
    SLUICE_ERR_NOMEM,         /* an allocation failed */
    SLUICE_ERR_UNAVAILABLE,   /* Redis answered but cannot serve yet (LOADING its data, BUSY
                               * running a script, MASTERDOWN, TRYAGAIN, CLUSTERDOWN): the call
                               * did not run; it is safe to retry after a pause */
    SLUICE_ERR_NOT_REPLICATED /* the write was done (an enqueue's job created, its id set) but
                               * fewer replicas than asked confirmed it in time: a failover now
                               * may lose it */
} sluice_error_code;

#define SLUICE_ERROR_TEXT 256

typedef struct sluice_error {
    sluice_error_code code;
    char text[SLUICE_ERROR_TEXT]; /* one line, no trailing newline */
} sluice_error;

/* The code's name in lower case, e.g. "queue full". BORROWED, static; NULL
 * if invalid. */
const char *sluice_error_name(sluice_error_code code);

/* Clears *err (NULL is a no-op): every function that takes one does this on
 * entry. */
void sluice_error_reset(sluice_error *err);

/* Sets *err's code and its message (printf-style, one line: newlines become
 * spaces) unless an error is already set: the first error wins. NULL is a
 * no-op. For code that reports through sluice errors too (the worker
 * runtime, handlers). */
void sluice_error_set(sluice_error *err, sluice_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
