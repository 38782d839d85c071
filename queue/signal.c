/* Signals: defining pressure signals, reporting their values, listing
 * them as the law reads them. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue.h"

#define SIGNAL_FIELDS 9   /* per signal in sluice_signal_list's reply */

/* ------------------------------ signals ------------------------------ */

void sluice_signal_def_init(sluice_signal_def *def) {
    memset(def, 0, sizeof(*def));
    def->target = 1;
    def->critical = 2;
    def->stale_after_ms = 30000;
    def->on_stale = SLUICE_STALE_ASSUME_PRESSURE;
}

static void signal_cmd(cmd *m, sluice_client *c, const char *fn) {
    cmd_init(m);
    cmd_fcall_global(m, fn, c->ns, SIGNAL_NKEYS, SIGNAL_KEYS);
}

int sluice_signal_define(sluice_client *c, const char *name, const sluice_signal_def *def, int *created,
                         sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    if (!isfinite(def->target) || !isfinite(def->critical)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "signal define: target and critical must be finite numbers");
        return -1;
    }
    const char *policy = sluice_on_stale_name(def->on_stale);
    if (!policy) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "signal define: unknown on_stale policy");
        return -1;
    }
    if (def->period_ms < 0 || def->period_ms > 86400000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "signal define: period must be 0..86400000 ms");
        return -1;
    }
    cmd m;
    signal_cmd(&m, c, "sluice_signal_define");
    cmd_str(&m, name);
    cmd_str(&m, client_actor(c));
    cmd_num(&m, def->target);
    cmd_num(&m, def->critical);
    cmd_str(&m, def->lower_is_worse ? "lower" : "higher");
    cmd_int(&m, def->stale_after_ms);
    cmd_str(&m, policy);
    cmd_int(&m, def->period_ms);
    return reply_created(client_run(c, &m, "signal define", err), created, err);
}

int sluice_signal_report(sluice_client *c, const char *name, double value, int64_t age_ms, sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    if (!isfinite(value)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "signal report: value must be a finite number");
        return -1;
    }
    if (age_ms < 0 || age_ms > 86400000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "signal report: age must be 0..86400000 ms");
        return -1;
    }
    cmd m;
    signal_cmd(&m, c, "sluice_signal_report");
    cmd_str(&m, name);
    cmd_num(&m, value);
    cmd_int(&m, age_ms);
    return client_run_ok(c, &m, "signal report", err);
}

int sluice_signal_delete(sluice_client *c, const char *name, sluice_error *err) {
    sluice_error_reset(err);
    if (sluice_name_check(name, err) < 0) return -1;
    cmd m;
    signal_cmd(&m, c, "sluice_signal_delete");
    cmd_str(&m, name);
    cmd_str(&m, client_actor(c));
    return client_run_ok(c, &m, "signal delete", err);
}

sluice_signal_info *sluice_signal_list(sluice_client *c, size_t *n, int64_t *now, sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    cmd m;
    signal_cmd(&m, c, "sluice_signal_list");
    redisReply *r = client_run(c, &m, "signal list", err);
    if (!r) return NULL;
    int64_t t = 0;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % SIGNAL_FIELDS ||
              reply_int(r->element[0], &t) < 0;
    size_t k = bad ? 0 : (r->elements - 1) / SIGNAL_FIELDS;
    sluice_signal_info *out = k ? calloc(k, sizeof(*out)) : NULL;
    if (k && !out) {
        freeReplyObject(r);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "signal list: out of memory");
        return NULL;
    }
    for (size_t i = 0; !bad && i < k; i++) {
        redisReply **e = r->element + 1 + SIGNAL_FIELDS * i;
        sluice_signal_info *s = &out[i];
        bad = reply_strcpy(e[0], s->name, sizeof(s->name)) | reply_num(e[1], &s->def.target) |
              reply_num(e[2], &s->def.critical) | reply_int(e[4], &s->def.stale_after_ms) |
              reply_int(e[6], &s->def.period_ms) | !e[3]->str | !e[5]->str ||
              sluice_on_stale_parse(e[5]->str, &s->def.on_stale, NULL) < 0;
        if (bad) break;
        s->def.lower_is_worse = strcmp(e[3]->str, "lower") == 0;
        s->has_value = e[7]->len > 0 && reply_num(e[7], &s->value) == 0 && reply_int(e[8], &s->observed_at) == 0;
        s->age_ms = s->has_value ? t - s->observed_at : 0;
        if (s->age_ms < 0) s->age_ms = 0;
        s->stale = !s->has_value || s->age_ms > s->def.stale_after_ms;
    }
    freeReplyObject(r);
    if (bad) {
        free(out);
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "signal list: unexpected reply");
        return NULL;
    }
    if (now) *now = t;
    *n = k;
    return out;
}

void sluice_signal_list_free(sluice_signal_info *signals, size_t n) {
    (void)n; /* the infos own no memory */
    free(signals);
}

void sluice_signal_law(const sluice_signal_info *in, sluice_law_signal *out) {
    memset(out, 0, sizeof(*out));
    out->name = in->name;
    out->target = in->def.target;
    out->critical = in->def.critical;
    out->lower_is_worse = in->def.lower_is_worse;
    out->stale_after_ms = in->def.stale_after_ms;
    out->period_ms = in->def.period_ms;
    out->on_stale = in->def.on_stale;
    out->has_value = in->has_value;
    out->value = in->value;
    out->age_ms = in->age_ms;
}
