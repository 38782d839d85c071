/* libsluice's private header: what the files of queue/ share, nothing else. */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "sluice.h"
#include "keys.h"
#include "words.h"

#define NAME_MAX_LEN 64

/* ------------- the client and its link (client.c, connection.c) ------------- */

struct cluster;

struct sluice_client {
    redisContext *ctx;       /* NULL while disconnected, and on a cluster */
    struct cluster *cluster; /* the slot map and the masters' links; NULL unless Redis Cluster */
    sluice_url url;
    char ns[NAME_MAX_LEN + 1];
    char name[NAME_MAX_LEN + 1];
    int64_t timeout_ms;
};

/* (Re)connects the client: the link, AUTH, SELECT, CLIENT SETNAME and the
 * Functions library; on a Redis Cluster node, the slot map instead
 * (c->cluster set, c->ctx left NULL; never called again then). Returns 0,
 * or -1 with err set. */
int connection_open(sluice_client *c, sluice_error *err);

/* Opens a link to host:port, or to the URL's unix socket when host is NULL,
 * with the client's timeout, AUTH, SELECT and name (not the Functions).
 * Returns it (NEW), or NULL with err set. */
redisContext *connection_dial(const sluice_client *c, const char *host, int port, sluice_error *err);

/* The master of the client's redis-sentinel:// URL (sentinel.c): asks the
 * sentinels, dials the address named (AUTH, SELECT, name; not the
 * Functions) and checks that it says it is the master, retrying within
 * the client's timeout while a failover is under way. Returns the link
 * (NEW) with host and *port set to its address, or NULL with err set. */
redisContext *sentinel_connect(const sluice_client *c, char host[256], int *port, sluice_error *err);

/* Applies the client's command timeout to its links, if it has any. */
void connection_set_timeout(sluice_client *c);
/* Gives link ctx the client's command timeout plus extra_ms (no timeout
 * stays none), for a command that blocks on the server; then
 * connection_set_timeout puts it back. */
void connection_lengthen(const sluice_client *c, redisContext *ctx, int64_t extra_ms);

/* FUNCTION LOAD REPLACE when the server's library is missing or older than
 * this libsluice's. Returns 0, or -1 with err set. */
int connection_load_functions(redisContext *ctx, sluice_error *err);

/* The actor recorded in audit entries: the client's name, or "libsluice". */
const char *client_actor(const sluice_client *c);

/* --------------------------- calls (call.c) -------------------------- */

/* Checks a namespace: 1..64 of [A-Za-z0-9_.:-], so every key fits KEY_MAX.
 * Returns 0, or -1 with SLUICE_ERR_ARGUMENT. */
int ns_check(const char *ns, sluice_error *err);

/* The class of job id "<class>:<number>" into cls. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT. */
int id_split(const char *id, char cls[SLUICE_ID_MAX], sluice_error *err);

/* A command's argument vector; the strings are copies owned by the cmd. */
typedef struct cmd {
    int argc;
    int cap;
    char **argv;
    size_t *argvlen;
    int failed; /* an allocation failed; the command must not be sent */
} cmd;

void cmd_init(cmd *m);
void cmd_clear(cmd *m);
void cmd_add(cmd *m, const char *s, size_t len);
void cmd_str(cmd *m, const char *s);
void cmd_int(cmd *m, int64_t v);
void cmd_num(cmd *m, double v);
#define KEY_MAX (NAME_MAX_LEN * 2 + 64)
/* Writes the key NS:{tag}:suffix into buf; returns its length. */
int key_name(char *buf, size_t len, const char *ns, const char *tag, const char *suffix);
/* XREVRANGE NS:{tag}:suffix + - COUNT count: the newest entries of a stream. */
void cmd_xrevrange(cmd *m, const char *ns, const char *tag, const char *suffix, int64_t count);
/* FCALL fn 14 <class keys> class: the start of every class Function call. */
void cmd_fcall_class(cmd *m, const char *fn, const char *ns, const char *cls);
/* FCALL fn nkeys NS:<suffix>...: the start of a global Function call. */
void cmd_fcall_global(cmd *m, const char *fn, const char *ns, int nkeys, const char *const *suffixes);
/* Starts "m" as FCALL fn on class "cls" (checked), with the client's name
 * as the actor when "actor" is 1. Returns 0, or -1 with err set. */
int cmd_class_call(cmd *m, const char *fn, sluice_client *c, const char *cls, int actor, sluice_error *err);
/* Starts "m" as FCALL fn on the class of job "id" (checked), with the id as
 * the first argument. Returns 0, or -1 with err set. */
int cmd_job_call(cmd *m, const char *fn, const char *ns, const char *id, sluice_error *err);

/* The keys' suffixes (keys.h), in the order their Functions take them. */
extern const char *const CLASS_KEYS[CLASS_NKEYS];
extern const char *const SIGNAL_KEYS[SIGNAL_NKEYS];
extern const char *const GOVERNOR_KEYS[GOVERNOR_NKEYS];
extern const char *const REGISTRY_KEYS[REGISTRY_NKEYS];
extern const char *const CHECK_KEYS[CHECK_NKEYS];

/* redisCommandArgv and redisGetReply with SIGPIPE held off: the reply
 * (NEW), or NULL / REDIS_ERR when the link broke. */
redisReply *call_send(redisContext *ctx, int argc, const char **argv, const size_t *lens);
int call_get_reply(redisContext *ctx, void **reply);

/* Sends one command, reconnecting first if the link is down and loading the
 * Functions library once if Redis lost it. Returns the reply (NEW, free with
 * freeReplyObject), or NULL with err set. An error reply is mapped into err
 * and freed: a non-NULL reply is never an error. */
redisReply *client_call(sluice_client *c, const cmd *m, const char *what, sluice_error *err);

/* Sends several commands pipelined and reads every reply; replies[i] as
 * client_call would return it (NULL with errs[i]). Returns 0 if the link
 * held, or -1 (then every unread reply is NULL with err set). */
int client_pipeline(sluice_client *c, const cmd *cmds, size_t n, redisReply **replies, sluice_error *errs,
                    sluice_error *err);

/* Sends "m" on the link that answered the client's last call, never on a
 * new one (for WAIT, which counts only that link's writes), its timeout
 * lengthened by extra_ms. Returns the reply as client_call does, or NULL
 * with SLUICE_ERR_UNREACHABLE when that link is gone or broke. */
redisReply *client_call_last(sluice_client *c, const cmd *m, int64_t extra_ms, const char *what, sluice_error *err);

/* client_call, then clears "m"; client_run_ok also frees the reply and
 * returns 0 or -1. */
redisReply *client_run(sluice_client *c, cmd *m, const char *what, sluice_error *err);
int client_run_ok(sluice_client *c, cmd *m, const char *what, sluice_error *err);

/* n commands for one pipelined round trip, each with its reply and error.
 * client_batch_init allocates them (cmds ready for cmd_*; 0, or -1 out of
 * memory), client_batch_run is client_pipeline over them, and
 * client_batch_clear frees commands and replies (a zeroed batch is a no-op). */
typedef struct client_batch {
    size_t n;
    cmd *cmds;
    redisReply **replies;
    sluice_error *errs;
} client_batch;
int client_batch_init(client_batch *b, size_t n);
int client_batch_run(sluice_client *c, client_batch *b, sluice_error *err);
void client_batch_clear(client_batch *b);

/* The value of field "key" in a HELLO 2 reply (BORROWED from r), or NULL. */
const redisReply *reply_hello_field(const redisReply *r, const char *key);

/* 1 when r is an error reply starting with "prefix". */
int reply_is_error(const redisReply *r, const char *prefix);
int reply_int(const redisReply *r, int64_t *out);
int reply_num(const redisReply *r, double *out);
/* A string element copied into buf (truncated); returns 0 or -1. */
int reply_strcpy(const redisReply *r, char *buf, size_t len);
char *reply_strdup(const redisReply *r);
/* Frees an array of n NEW strings and the array; NULL is a no-op. */
void strings_free(char **strings, size_t n);
/* The reply "created" or "updated" into *created (may be NULL); frees r.
 * Returns 0, or -1 (r NULL, or SLUICE_ERR_PROTOCOL). */
int reply_created(redisReply *r, int *created, sluice_error *err);
/* Maps a Redis error reply to an error; "what" names the operation. */
void err_from_reply(sluice_error *err, const redisReply *r, const char *what);

/* ------------------------- Redis Cluster (cluster.c) ------------------------ */

/* Asks the freshly dialed link "seed" (BORROWED) whether it is a Redis
 * Cluster node (HELLO) and if so reads the slot map (CLUSTER SLOTS).
 * Returns 1 for a cluster (c->cluster set; the caller may free seed), 0
 * for a standalone Redis, -1 with err set when the cluster cannot serve
 * (CLUSTER SLOTS refused, no slot assigned, a malformed map, out of
 * memory) or the link broke. */
int cluster_detect(sluice_client *c, redisContext *seed, sluice_error *err);

/* Sends one command to the master of its key's slot (any master without a
 * key), following MOVED and ASK and retrying TRYAGAIN and CLUSTERDOWN with
 * a bounded backoff: only replies that prove the command did not run. The
 * reply (NEW; may be an error reply), or NULL with err set: the link broke
 * (the command may have run) or no master could be reached. */
redisReply *cluster_call(sluice_client *c, const cmd *m, const char *what, sluice_error *err);

/* client_pipeline on a cluster: one pipeline per master, then the commands
 * whose replies prove they did not run sent again through cluster_call.
 * replies[i] as cluster_call returns it (NEW, may be an error reply), or
 * NULL with errs[i] set. Returns 0, or -1 when a link failed (err set). */
int cluster_pipeline(sluice_client *c, const cmd *cmds, size_t n, redisReply **replies, sluice_error *errs,
                     sluice_error *err);

/* The link of the node that answered the last call (BORROWED), or NULL
 * when there was none or it was lost since; cluster_last_lost marks that
 * link lost (err set) after it broke. */
redisContext *cluster_last_link(struct cluster *cl);
void cluster_last_lost(struct cluster *cl, const char *what, sluice_error *err);

/* CLIENT SETNAME c->name on every open link (new links take it on open).
 * Returns 0, or -1 with err set. */
int cluster_set_name(sluice_client *c, sluice_error *err);

void cluster_set_timeout(struct cluster *cl, struct timeval tv);
/* Closes every link and frees the map; NULL is a no-op. */
void cluster_free(struct cluster *cl);

/* ------------------------- classes and gates ------------------------- */

/* A sluice_class_get / sluice_gate reply (BORROWED) into *out; 0, or -1
 * with SLUICE_ERR_PROTOCOL. */
int class_get_reply(const redisReply *r, sluice_class_config *out, sluice_error *err);
int gate_get_reply(const redisReply *r, sluice_gate_info *out, sluice_error *err);
/* Starts "m" as the whole sluice_govern call (sluice_gate_govern's
 * arguments, checked). Returns 0, or -1 with err set; clear m either way. */
int cmd_govern(cmd *m, sluice_client *c, const char *cls, int64_t epoch, double fraction, int64_t ttl_ms,
               const char *reason, int shadow, sluice_error *err);

/* ------------------------- run windows (window.c) -------------------- */

struct zone_cache;

/* Where an instant falls in a class's windows. */
typedef struct window_state {
    int open;                               /* 1 inside a window, or when the class has none */
    int window;                             /* the window it is in, or the one that opens next; -1: none */
    int64_t change_ms;                      /* ms, when it next opens or closes; INT64_MAX: not within 8 days */
    char unknown[SLUICE_ZONE_NAME_MAX + 1]; /* a zone tzdata lacks ("" if none): its windows never open */
} window_state;

/* Where now_ms (ms, Unix time) falls in windows w[0..n), their zones from
 * "zc" (read at now_ms as the cache's clock). Fills *out; returns 0. */
int windows_at(const sluice_window *w, size_t n, struct zone_cache *zc, int64_t now_ms, window_state *out);

/* *s in words into buf: "outside its window mon-fri 20:00-07:00
 * America/New_York; opens in 3h12m", "in its window ...; closes in 45m",
 * "outside its window: unknown zone Mars/Base". */
void window_state_say(const sluice_window *w, size_t n, const window_state *s, int64_t now_ms, char *buf, size_t len);

/* -------------------------------- jobs ------------------------------- */

int opts_check(const sluice_enqueue_opts *o, sluice_error *err);

/* The Functions library, generated from queue/lua/ at build time. */
extern const char sluice_functions_lua[];
extern const int sluice_functions_version;

#endif
