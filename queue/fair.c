/* Fairness keys and key weights: their checks, as the Functions make them
 * (queue/lua/fair.lua), their JSON form, and the keys that wait most. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"

int sluice_key_check(const char *key, sluice_error *err) {
    sluice_error_reset(err);
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > SLUICE_KEY_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "fairness key: must be 1..%d bytes", SLUICE_KEY_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch == 0x7f) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "fairness key: contains a control byte");
            return -1;
        }
    }
    return 0;
}

/* Whether v is a weight: a whole number 1..SLUICE_KEY_WEIGHT_MAX. */
static int weight_ok(double v) {
    return v >= 1 && v <= SLUICE_KEY_WEIGHT_MAX && v == (double)(int)v;
}

int sluice_key_weight_parse(const char *text, sluice_key_weight *out, sluice_error *err) {
    sluice_error_reset(err);
    const char *eq = text ? strrchr(text, '=') : NULL;
    if (!eq) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weight: not KEY=WEIGHT");
        return -1;
    }
    sluice_key_weight w;
    size_t n = (size_t)(eq - text);
    if (n > SLUICE_KEY_MAX) n = SLUICE_KEY_MAX + 1; /* too long: refused below, never copied whole */
    memcpy(w.key, text, n < sizeof(w.key) ? n : sizeof(w.key) - 1);
    w.key[n < sizeof(w.key) ? n : sizeof(w.key) - 1] = '\0';
    if (n > SLUICE_KEY_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "fairness key: must be 1..%d bytes", SLUICE_KEY_MAX);
        return -1;
    }
    if (sluice_key_check(w.key, err) < 0) return -1;
    char *end;
    long v = strtol(eq + 1, &end, 10);
    if (end == eq + 1 || *end || !weight_ok((double)v)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weight: must be a whole number 1..%d", SLUICE_KEY_WEIGHT_MAX);
        return -1;
    }
    w.weight = (int)v;
    *out = w;
    return 0;
}

static long gcd(long a, long b) {
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int sluice_key_weights_check(const sluice_key_weight *w, size_t n, sluice_error *err) {
    sluice_error_reset(err);
    if (n > SLUICE_KEY_WEIGHTS_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weights: at most %d keys", SLUICE_KEY_WEIGHTS_MAX);
        return -1;
    }
    long lcm = 1;
    for (size_t i = 0; i < n; i++) {
        if (sluice_key_check(w[i].key, err) < 0) return -1;
        if (!weight_ok(w[i].weight)) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weight: must be a whole number 1..%d",
                             SLUICE_KEY_WEIGHT_MAX);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w[i].key, w[j].key) == 0) {
                sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weights: a key is weighed twice");
                return -1;
            }
        }
        lcm = lcm / gcd(lcm, w[i].weight) * w[i].weight;
        if (lcm > SLUICE_KEY_WEIGHT_LCM_MAX) {
            sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weights: need a common multiple of at most %d",
                             SLUICE_KEY_WEIGHT_LCM_MAX);
            return -1;
        }
    }
    return 0;
}

int sluice_key_weights_json(const sluice_key_weight *w, size_t n, char *buf, size_t len) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) json_object_set_new(o, w[i].key, json_integer(w[i].weight));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int at = snprintf(buf, len, "%s", text ? text : "{}");
    free(text);
    json_decref(o);
    return at;
}

int sluice_key_weights_parse_json(const char *text, sluice_key_weight *out, size_t *n, sluice_error *err) {
    sluice_error_reset(err);
    json_t *o = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    sluice_key_weight w[SLUICE_KEY_WEIGHTS_MAX];
    size_t k = 0;
    int rc = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(o)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weights: not a JSON object of key -> weight");
        rc = -1;
    } else if (json_object_size(o) > SLUICE_KEY_WEIGHTS_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "key weights: at most %d keys", SLUICE_KEY_WEIGHTS_MAX);
        rc = -1;
    }
    if (rc == 0) {
        json_object_foreach(o, key, v) {
            if (strlen(key) > SLUICE_KEY_MAX || !json_is_number(v) || !weight_ok(json_number_value(v))) {
                sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                                 strlen(key) > SLUICE_KEY_MAX ? "fairness key: must be 1..%d bytes"
                                                              : "key weight: must be a whole number 1..%d",
                                 strlen(key) > SLUICE_KEY_MAX ? SLUICE_KEY_MAX : SLUICE_KEY_WEIGHT_MAX);
                rc = -1;
                break;
            }
            memcpy(w[k].key, key, strlen(key) + 1);
            w[k++].weight = (int)json_number_value(v);
        }
    }
    json_decref(o);
    if (rc == 0 && sluice_key_weights_check(w, k, err) < 0) rc = -1;
    if (rc == 0) {
        memcpy(out, w, k * sizeof(*w));
        *n = k;
    }
    return rc;
}

int sluice_top_keys(sluice_client *c, const char *cls, size_t max, sluice_key_depth *out, size_t *n,
                    sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (max < 1 || max > SLUICE_TOP_KEYS_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "top keys: max must be 1..%d", SLUICE_TOP_KEYS_MAX);
        return -1;
    }
    cmd m;
    if (cmd_class_call(&m, "sluice_top_keys", c, cls, 0, err) < 0) return -1;
    cmd_int(&m, (int64_t)max);
    cmd_str(&m, "1"); /* with the leased jobs */
    redisReply *r = client_run(c, &m, "top keys", err);
    if (!r) return -1;
    /* triples: key, waiting, running */
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements % 3 || r->elements / 3 > max;
    for (size_t i = 0; !bad && i < r->elements; i += 3) {
        sluice_key_depth *d = &out[i / 3];
        bad = r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len > SLUICE_KEY_MAX ||
              reply_int(r->element[i + 1], &d->waiting) < 0 || reply_int(r->element[i + 2], &d->running) < 0;
        if (!bad) reply_strcpy(r->element[i], d->key, sizeof(d->key));
    }
    if (bad)
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "top keys: unexpected reply");
    else
        *n = r->elements / 3;
    freeReplyObject(r);
    return bad ? -1 : 0;
}
