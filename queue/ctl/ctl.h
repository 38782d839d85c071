/* sluicectl's private header: the context every command gets, exit codes,
 * argument parsing, strict number parsing and output helpers. */
#ifndef SLUICECTL_H
#define SLUICECTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sluice.h"

/* Exit codes (see docs/sluicectl.md). */
#define EXIT_OK 0
#define EXIT_RUNTIME 1        /* Redis unreachable, auth, server error, a refusal */
#define EXIT_USAGE 2          /* usage or validation error */
#define EXIT_NOTFOUND 3       /* unknown class, job, signal, dead job */
#define EXIT_NOT_REPLICATED 4 /* enqueued (the id printed) but not confirmed on --wait-replicas replicas */

typedef struct ctl {
    const char *url;       /* --redis, or NULL for SLUICE_REDIS_URL */
    const char *ns;        /* --namespace, or NULL for SLUICE_NAMESPACE */
    int json;              /* --json */
    int help;              /* --help */
    sluice_client *client; /* connected on first use */
} ctl;

/* Connects on first use and names the client "sluicectl:<user>@<host>".
 * BORROWED; NULL after printing the error (exit EXIT_RUNTIME or the code's). */
sluice_client *ctl_client(ctl *x, int *code);

/* ------------------------------ output ------------------------------- */

/* Prints "sluicectl: <message>" on stderr and returns "code". */
int ctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a library error and returns the exit code it maps to. */
int ctl_error(const sluice_error *err);
int ctl_error_code(sluice_error_code code);
/* Prints a usage error naming the command, and returns EXIT_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "v" (TAKES it) as indented JSON and a newline; returns EXIT_OK. */
int ctl_json_print(json_t *v);
/* Formats a Unix ms time as UTC "YYYY-MM-DD HH:MM:SS", "-" for 0. */
const char *ctl_time(int64_t ms, char *buf, size_t len);
/* Formats a duration in ms as "1.5s", "3m20s", "2h" ... */
const char *ctl_duration(int64_t ms, char *buf, size_t len);
/* The shortest decimal that reads back as the same double. */
const char *ctl_num(double v, char *buf, size_t len);
/* Parses a JSON text; NEW value or a JSON string of the text if it is not JSON. */
json_t *ctl_json_or_string(const char *text);

/* ------------------------------ parsing ------------------------------ */

/* A command's options: "--name VALUE" (has_arg) or "--flag". An option
 * with "all" set may be given up to "max" times. */
typedef struct ctl_opt {
    const char *name;
    int has_arg;
    const char *val;  /* out: the value (or "1" for a flag), NULL if absent; the last one */
    const char **all; /* NULL, or room for max values: out, every value in order */
    size_t max, n;    /* n, out: how many values "all" received */
} ctl_opt;

/* Splits argv into positionals (at most maxpos) and options. Returns 0, or
 * prints a usage error and returns -1. */
int ctl_args(const char *cmd, int argc, char **argv, ctl_opt *opts, size_t nopts, const char **pos, int maxpos,
             int *npos);
/* The value of an option by name, or NULL. */
const char *ctl_opt_get(const ctl_opt *opts, size_t nopts, const char *name);

/* ----------------------------- commands ------------------------------ */

/* Each takes the words after its name and returns an exit code. */
int cmd_status(ctl *x, int argc, char **argv);
int cmd_top(ctl *x, int argc, char **argv);
int cmd_class(ctl *x, int argc, char **argv);
int cmd_pause(ctl *x, int argc, char **argv);
int cmd_resume(ctl *x, int argc, char **argv);
int cmd_pin(ctl *x, int argc, char **argv);
int cmd_unpin(ctl *x, int argc, char **argv);
int cmd_signal(ctl *x, int argc, char **argv);
int cmd_governor(ctl *x, int argc, char **argv);
int cmd_enqueue(ctl *x, int argc, char **argv);
int cmd_job(ctl *x, int argc, char **argv);
int cmd_explain(ctl *x, int argc, char **argv);
int cmd_dead(ctl *x, int argc, char **argv);
int cmd_apply(ctl *x, int argc, char **argv);
int cmd_export(ctl *x, int argc, char **argv);
int cmd_audit(ctl *x, int argc, char **argv);
int cmd_check(ctl *x, int argc, char **argv);
int cmd_simulate(ctl *x, int argc, char **argv); /* needs no Redis */
int cmd_console(ctl *x, int argc, char **argv);  /* queue/console/ */

/* Prints the help of a command (its words joined, e.g. "class set") on
 * stdout. Returns 0, or -1 for an unknown command. */
int ctl_help(const char *cmd);

/* Shared between status and top: prints a status snapshot, as JSON with
 * --json, else as tables whose lines are cut to "width" columns (0: never).
 * Returns an exit code. */
int status_print(ctl *x, FILE *out, int width);

/* Shared between class get/list and export: a class config as JSON, its
 * windows an array of {days, from, to, tz}. NEW. */
json_t *class_config_json(const sluice_class_config *cfg);
/* Room for any class's windows as sluice_windows_json writes them. */
#define CTL_WINDOWS_JSON (32 + SLUICE_WINDOWS_MAX * 160)
/* Room for any class field's value as text: the key weights are the longest. */
#define CTL_VALUE_TEXT SLUICE_KEY_WEIGHTS_JSON
json_t *signal_def_json(const sluice_signal_def *def);

/* The governor's status and newest decision as JSON (leader, epoch,
 * lease_until, mode, last_tick, ticks, last_decision), *gs filled. NEW, or
 * NULL after printing the error (*code). */
json_t *ctl_governor_json(sluice_client *c, sluice_governor_status *gs, int *code);
/* The newest governor decision, parsed: NEW (json_decref), or NULL when
 * there is none or it cannot be read. */
json_t *ctl_last_decision(sluice_client *c);
/* A decision (as ctl_last_decision gives it; NULL for none) in words, the
 * one way every tool says it: the law's summary and how it acts, e.g. "cut
 * low tier by 30%: ... (enforced, 1.2s ago)"; the age only when "now" (Unix
 * ms) is not 0. Writes at most
 * len bytes into buf and returns buf. */
const char *ctl_decision_words(const json_t *decision, int64_t now, char *buf, size_t len);
/* Where the governor raises and cuts for "s", in the signal's own units,
 * with the band of "decision" (the default params' when NULL or without
 * one); "rule" (n bytes) gets the law's words. Returns 0, or -1. */
int ctl_signal_thresholds(const json_t *decision, const sluice_signal_info *s, sluice_law_thresholds *t, char *rule,
                          size_t n);
/* Explains job "id" in words (what sluicectl explain prints) as JSON, its
 * lines in "explanation". NEW, or NULL with the exit code in *code and the
 * message in msg (len bytes). */
json_t *ctl_explain(sluice_client *c, const char *id, int *code, char *msg, size_t len);
/* The pressure of s's value (sluice_law_pressure); NAN without a value. */
double ctl_signal_pressure(const sluice_signal_info *s);

#endif
