/* GET /api/state: everything the console's page shows, read through
 * libsluice in one answer: the governor (and its last decision in words),
 * the signals, every class with its gate, depths, counters and the job at
 * the head of its line, the audit log, dead jobs and the last hour's
 * history. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

/* The governor's lease and mode, and its last decision in words. NEW, or
 * NULL with err set. "stale" is true when no governor holds the lease: the
 * leader renews it every tick, so it lapses (within 2 ticks by default) when
 * the governor stops. */
static json_t *governor_json(console *k, sluice_client *c, int64_t *now, sluice_error *err) {
    sluice_governor_status gs;
    if (sluice_governor_status_get(c, &gs, err) < 0) return NULL;
    *now = gs.now;
    if (console_history_update(k->history, c, gs.now, err) < 0) return NULL;
    const json_t *d = console_history_last(k->history);
    char words[1024];
    ctl_decision_words(d, gs.now, words, sizeof(words));
    json_t *driver = json_object_get(d, "driver");
    int stale = !gs.leader[0] || gs.now > gs.lease_until;
    return json_pack("{s:s?, s:I, s:s, s:I, s:I, s:b, s:s, s:O?, s:O?}", "leader", gs.leader[0] ? gs.leader : NULL,
                     "epoch", (json_int_t)gs.epoch, "mode", sluice_governor_mode_name(gs.mode), "last_tick",
                     (json_int_t)gs.last_tick, "ticks", (json_int_t)gs.ticks, "stale", stale, "decision", words,
                     "driver", json_is_string(driver) ? driver : NULL, "action", json_object_get(d, "action"));
}

/* Every signal with its value and pressure. NEW, or NULL with err set. */
static json_t *signals_json(sluice_client *c, sluice_error *err) {
    size_t n = 0;
    sluice_signal_info *s = sluice_signal_list(c, &n, NULL, err);
    if (!s && err->code != SLUICE_OK) return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        double p = ctl_signal_pressure(&s[i]);
        json_array_append_new(out, json_pack("{s:s, s:o, s:f, s:f, s:s, s:b, s:o}", "name", s[i].name, "value",
                                             s[i].has_value ? json_real(s[i].value) : json_null(), "target",
                                             s[i].def.target, "critical", s[i].def.critical, "direction",
                                             s[i].def.lower_is_worse ? "lower" : "higher", "stale", s[i].stale,
                                             "pressure", isfinite(p) ? json_real(p) : json_null()));
    }
    sluice_signal_list_free(s, n);
    return out;
}

/* Why a gate admits what it does, in words. */
static void gate_words(const sluice_gate_info *g, char *buf, size_t len) {
    char tb[40];
    if (g->paused)
        snprintf(buf, len, "paused by an operator%s%s", g->paused_until ? " until " : "",
                 g->paused_until ? ctl_time(g->paused_until, tb, sizeof(tb)) : "");
    else if (g->pinned)
        snprintf(buf, len, "pinned by an operator at %.0f%%%s%s", g->pin * 100, g->pin_until ? " until " : "",
                 g->pin_until ? ctl_time(g->pin_until, tb, sizeof(tb)) : "");
    else if (g->reason[0])
        snprintf(buf, len, "%s: %s", g->why, g->reason);
    else
        snprintf(buf, len, "%s", g->why);
}

/* One class's row. NEW. */
static json_t *class_json(const char *name, const sluice_class_view *v) {
    const sluice_gate_info *g = &v->gate;
    char words[400];
    gate_words(g, words, sizeof(words));
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:b, s:b, s:f, s:s, s:s, s:s?}", "name", name,
                     "tier", sluice_tier_name(v->cfg.tier), "ready", (json_int_t)v->stats.ready, "delayed",
                     (json_int_t)v->stats.delayed, "leased", (json_int_t)v->stats.leased, "dead",
                     (json_int_t)v->stats.dead, "throttled", (json_int_t)v->stats.throttled, "fraction", g->fraction,
                     "effective_rate", g->effective_rate, "effective_concurrency", g->effective_concurrency, "paused",
                     g->paused, "pinned", g->pinned, "pin", g->pin, "why", g->paused ? "paused" : g->why, "gate", words,
                     "oldest", v->head[0] ? v->head : NULL);
}

/* The newest dead jobs of class "name" appended to "dead". Returns 0, or -1
 * with err set. */
static int dead_json(sluice_client *c, const char *name, json_t *dead, sluice_error *err) {
    size_t nd = 0;
    sluice_job_info *d = sluice_dead_list(c, name, 0, CONSOLE_DEAD_COUNT, &nd, err);
    if (!d && err->code != SLUICE_OK) return err->code == SLUICE_ERR_UNKNOWN_CLASS ? 0 : -1;
    for (size_t j = 0; j < nd; j++)
        json_array_append_new(dead, json_pack("{s:s, s:s, s:I, s:i, s:s}", "class", name, "id", d[j].id, "died_at",
                                              (json_int_t)d[j].at, "attempt", d[j].attempt, "reason",
                                              d[j].reason ? d[j].reason : ""));
    sluice_dead_list_free(d, nd);
    return 0;
}

/* root.classes (every class, read in one round trip) and root.dead (the
 * newest dead jobs of those that have any). Returns 0, or -1 with err set. */
static int classes_json(sluice_client *c, json_t *root, sluice_error *err) {
    size_t n = 0;
    char **names = sluice_class_list(c, &n, err);
    if (!names && err->code != SLUICE_OK) return -1;
    json_t *classes = json_array(), *dead = json_array();
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "dead", dead);
    sluice_class_view *v = n ? calloc(n, sizeof(*v)) : NULL;
    int rc = n && !v ? -1 : sluice_class_view_get(c, (const char *const *)names, n, v, err);
    if (n && !v) sluice_error_set(err, SLUICE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!v[i].found) continue; /* deleted meanwhile */
        json_array_append_new(classes, class_json(names[i], &v[i]));
        if (v[i].stats.dead > 0) rc = dead_json(c, names[i], dead, err);
    }
    free(v);
    sluice_class_list_free(names, n);
    return rc;
}

/* The newest audit entries, every class's and the global ones. NEW, or
 * NULL with err set. */
static json_t *audit_json(sluice_client *c, sluice_error *err) {
    size_t n = 0;
    sluice_audit_entry *e = sluice_audit_list(c, NULL, CONSOLE_AUDIT_COUNT, &n, err);
    if (!e && err->code != SLUICE_OK) return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_pack("{s:I, s:s?, s:s, s:s, s:s}", "at", (json_int_t)e[i].at, "class",
                                             e[i].cls[0] ? e[i].cls : NULL, "actor", e[i].actor, "what", e[i].what,
                                             "detail", e[i].detail));
    sluice_audit_list_free(e, n);
    return out;
}

console_reply console_state(console *k) {
    sluice_error err;
    sluice_client *c = console_client(k, &err);
    if (!c) return console_lib_error(&err);
    int64_t now = 0;
    json_t *root = json_object(), *part;
    if (!(part = governor_json(k, c, &now, &err))) goto failed;
    json_object_set_new(root, "governor", part);
    if (!(part = signals_json(c, &err))) goto failed;
    json_object_set_new(root, "signals", part);
    if (classes_json(c, root, &err) < 0) goto failed;
    if (!(part = audit_json(c, &err))) goto failed;
    json_object_set_new(root, "audit", part);
    json_object_set_new(root, "history", console_history_json(k->history, now));
    json_object_set_new(root, "now", json_integer(now));
    json_object_set_new(root, "actions", json_boolean(k->token[0] != '\0'));
    json_object_set_new(root, "actor", json_string(k->actor));
    return (console_reply){200, root};
failed:
    json_decref(root);
    return console_lib_error(&err);
}

console_reply console_explain(console *k, const char *id) {
    sluice_error err;
    char msg[512];
    int code = EXIT_OK;
    if (!id || !*id) return console_error(400, "explain needs ?id=JOB");
    sluice_client *c = console_client(k, &err);
    if (!c) return console_lib_error(&err);
    json_t *out = ctl_explain(c, id, &code, msg, sizeof(msg));
    if (out) return (console_reply){200, out};
    return console_error(code == EXIT_NOTFOUND ? 404 : code == EXIT_USAGE ? 400 : 503, "%s", msg);
}
