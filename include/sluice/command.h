/* sluice protocol: the Function calls as argument vectors, and the decoding
 * of their replies, for callers that run their own hiredis connection (the
 * worker's async event loop). sluice_client uses the same code. */
#ifndef SLUICE_COMMAND_H
#define SLUICE_COMMAND_H

#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/job.h"

#ifdef __cplusplus
extern "C" {
#endif

struct redisReply;

/* A command ready for redisAsyncCommandArgv / redisCommandArgv. */
typedef struct sluice_command sluice_command;

int sluice_command_argc(const sluice_command *m);
const char **sluice_command_argv(const sluice_command *m);     /* BORROWED */
const size_t *sluice_command_argvlen(const sluice_command *m); /* BORROWED */
void sluice_command_free(sluice_command *m);                   /* NULL is a no-op */

/* Each returns a NEW command, or NULL with err set (bad namespace, name,
 * id or number). A claim with "busy" 1 (the caller has jobs in flight) is
 * refused a suspect job (SLUICE_CLAIM_SUSPECT); with 0 it may lease one,
 * alone (see the quarantine in sluice/job.h). */
sluice_command *sluice_command_claim(const char *ns, const char *cls, const char *consumer, size_t max, int busy,
                                     sluice_error *err);
sluice_command *sluice_command_ack(const char *ns, const char *id, int64_t token, sluice_error *err);
/* sluice_ack_many's call, checked as it checks it. */
sluice_command *sluice_command_ack_many(const char *ns, size_t n, const char *const *ids, const int64_t *tokens,
                                        sluice_error *err);
sluice_command *sluice_command_fail(const char *ns, const char *id, int64_t token, const char *reason,
                                    sluice_error *err);
sluice_command *sluice_command_extend(const char *ns, const char *id, int64_t token, int64_t ms, sluice_error *err);
sluice_command *sluice_command_release(const char *ns, const char *id, int64_t token, sluice_error *err);

/* Decodes a claim reply (BORROWED) into up to "max" NEW jobs and *info.
 * An error reply is mapped into err. Returns 0 or -1. */
int sluice_claim_parse(const struct redisReply *r, size_t max, sluice_job **jobs, sluice_claim_info *info,
                       sluice_error *err);

/* Decodes the reply (BORROWED) of an ack of n jobs into results[0..n)
 * (SLUICE_OK or SLUICE_ERR_STALE each; see sluice_ack_many). An error
 * reply is mapped into err (then no job was acked). Returns 0 or -1. */
int sluice_ack_many_parse(const struct redisReply *r, size_t n, sluice_error_code *results, sluice_error *err);

/* Checks any other reply: 0 for a non-error reply; -1 with err mapped from
 * an error reply (SLUICE_ERR_STALE, ...) or SLUICE_ERR_UNREACHABLE for NULL
 * (the link broke). */
int sluice_reply_check(const struct redisReply *r, const char *what, sluice_error *err);

/* Redis Cluster routing for callers that run their own links (the
 * worker): c's slot map (see sluice_client_connect) says where a command
 * goes. Off a cluster each returns 0 and sets nothing. */

/* The master that serves the command's slot (any master for a command
 * without a key), as c's map says now: 1 with host (hostlen bytes) and
 * *port set; -1 with err set when the map names none or host is too
 * short. */
int sluice_command_master(sluice_client *c, const sluice_command *m, char *host, size_t hostlen, int *port,
                          sluice_error *err);
/* Whether the reply (BORROWED; NULL: no) to m proves that m did not run:
 * MOVED (the map is read again from the node it names), ASK (*asking set:
 * send ASKING to that node first, for this one command), TRYAGAIN or
 * CLUSTERDOWN (the map is read again from any node that answers). Then 1
 * with host and *port set where to send m again, as sluice_command_master
 * sets them (or -1 with err set as it does); 0 for any other reply. */
int sluice_command_redirect(sluice_client *c, const sluice_command *m, const struct redisReply *r, char *host,
                            size_t hostlen, int *port, int *asking, sluice_error *err);
/* Reads c's slot map again from the first node that answers (after a
 * master's link was lost). Returns 0, or -1 with err set. */
int sluice_cluster_refresh(sluice_client *c, sluice_error *err);

/* The Functions library source and version built into this libsluice. */
const char *sluice_functions_source(void);
int sluice_functions_version_built(void);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
