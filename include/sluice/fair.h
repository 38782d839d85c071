/* sluice fair shares: a job may carry a fairness key (a tenant or customer
 * id), and a class may weigh its keys. Claims serve the keys of a class in
 * turn by weight, keys without a weight (and keyless jobs, together) at
 * weight 1, so one key's backlog delays another key's job by about one
 * round of the keys that wait, not by the backlog. Priorities apply first;
 * inside a key and a priority, jobs run in the order they became ready. */
#ifndef SLUICE_FAIR_H
#define SLUICE_FAIR_H

#pragma GCC visibility push(default)

#include <stddef.h>

#include "sluice/client.h"
#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_KEY_MAX 128             /* bytes of a fairness key */
#define SLUICE_KEY_WEIGHTS_MAX 64      /* keys a class may weigh */
#define SLUICE_KEY_WEIGHT_MAX 100      /* weights are whole numbers 1..this */
#define SLUICE_KEY_WEIGHT_LCM_MAX 1000 /* the most a class's weights' least common multiple may be */
#define SLUICE_TOP_KEYS_MAX 100        /* keys sluice_top_keys answers at most */

/* A key's weight: its share of the starts against a key of weight 1. */
typedef struct sluice_key_weight {
    char key[SLUICE_KEY_MAX + 1];
    int weight; /* 1..SLUICE_KEY_WEIGHT_MAX */
} sluice_key_weight;

/* Room for any class's key weights as sluice_key_weights_json writes them. */
#define SLUICE_KEY_WEIGHTS_JSON (8 + SLUICE_KEY_WEIGHTS_MAX * (2 * SLUICE_KEY_MAX + 8))

/* Whether "key" is a fairness key: 1..SLUICE_KEY_MAX bytes, no control byte
 * (below 0x20, or 0x7f). Returns 0, or -1 with SLUICE_ERR_ARGUMENT naming
 * the problem. */
int sluice_key_check(const char *key, sluice_error *err);

/* Parses "KEY=WEIGHT" (split at the last '=') into *out. Returns 0, or -1
 * with SLUICE_ERR_ARGUMENT naming the problem (*out unchanged). */
int sluice_key_weight_parse(const char *text, sluice_key_weight *out, sluice_error *err);

/* Checks a class's key weights as the Functions do: at most
 * SLUICE_KEY_WEIGHTS_MAX, each key a fairness key and named once, each
 * weight 1..SLUICE_KEY_WEIGHT_MAX, their least common multiple at most
 * SLUICE_KEY_WEIGHT_LCM_MAX. Returns 0, or -1 with SLUICE_ERR_ARGUMENT. */
int sluice_key_weights_check(const sluice_key_weight *w, size_t n, sluice_error *err);

/* The weights as the class hash and config files hold them: a JSON object
 * of key -> weight, in the order given. Writes it into buf; returns the
 * length, as snprintf (SLUICE_KEY_WEIGHTS_JSON bytes always suffice). */
int sluice_key_weights_json(const sluice_key_weight *w, size_t n, char *buf, size_t len);

/* Parses such a JSON text into out[0..SLUICE_KEY_WEIGHTS_MAX) and *n,
 * checked as sluice_key_weights_check does. Returns 0, or -1 with
 * SLUICE_ERR_ARGUMENT naming the problem (out and *n unchanged). */
int sluice_key_weights_parse_json(const char *json, sluice_key_weight *out, size_t *n, sluice_error *err);

/* A key, how many of its jobs wait (ready or delayed) and how many run
 * (leased). */
typedef struct sluice_key_depth {
    char key[SLUICE_KEY_MAX + 1];
    int64_t waiting;
    int64_t running;
} sluice_key_depth;

/* The keys of class "cls" that have jobs waiting or running, the most
 * waiting first, then the most running (ties by key), at most "max"
 * (1..SLUICE_TOP_KEYS_MAX) into out[0..*n). Keyless jobs are not a key
 * here. Reads every key that waits and every leased job's record, in Redis:
 * an operator's call, O(keys waiting + jobs leased). Returns 0, or -1 with
 * SLUICE_ERR_NAME, SLUICE_ERR_ARGUMENT, SLUICE_ERR_UNKNOWN_CLASS or a
 * connection error (*n 0). */
int sluice_top_keys(sluice_client *c, const char *cls, size_t max, sluice_key_depth *out, size_t *n, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
