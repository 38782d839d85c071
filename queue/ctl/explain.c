/* sluicectl explain: in plain words, where a job is, what is ahead of it,
 * whether its class is throttled and by which signal, and when it may run;
 * or, given a class, its gate, its last decision and its window. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static void say(json_t *lines, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(json_t *lines, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(lines, json_string(buf));
}

/* The driving signal: the last decision's driver if it is still defined and
 * has a value, else the reported signal with the highest pressure. */
static const sluice_signal_info *driver_of(const sluice_signal_info *s, size_t n, const char *named) {
    const sluice_signal_info *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].has_value) continue;
        if (named && !strcmp(s[i].name, named)) return &s[i];
        if (!best || ctl_signal_pressure(&s[i]) > ctl_signal_pressure(best)) best = &s[i];
    }
    return best;
}

/* "iops_util is 0.92, 15% over its target 0.8 (pressure 1.75; the
 * governor: raise below 0.72, cut above 0.8, floors at 0.95)" into buf. */
static void describe_signal(const sluice_signal_info *s, const char *rule, char *buf, size_t len) {
    char v[32], t[32];
    ctl_num(s->value, v, sizeof(v));
    ctl_num(s->def.target, t, sizeof(t));
    double diff = s->def.lower_is_worse ? s->def.target - s->value : s->value - s->def.target;
    const char *side =
        diff > 0 ? (s->def.lower_is_worse ? "below" : "over") : (s->def.lower_is_worse ? "above" : "under");
    char pct[32] = "";
    if (s->def.target != 0) snprintf(pct, sizeof(pct), "%.0f%% ", fabs(diff) / fabs(s->def.target) * 100);
    snprintf(buf, len, "%s is %s, %s%s its target %s (pressure %.2f; the governor: %s)", s->name, v, pct, side, t,
             ctl_signal_pressure(s), rule);
}

/* One job's explanation as it is built: what was read, and the JSON. */
typedef struct explained {
    const char *id;
    char cls[SLUICE_ID_MAX];
    sluice_job_info j;
    sluice_gate_info g;
    int has_gate, throttled;
    json_t *decision;              /* the governor's last decision, or NULL */
    const char *named;             /* its driver, or NULL */
    const sluice_signal_info *drv; /* the driving signal, or NULL */
    char rule[SLUICE_LAW_THRESHOLDS_TEXT];
    json_t *out, *lines; /* the JSON and its explanation's lines */
    char *msg;           /* what went wrong, msg_len bytes */
    size_t msg_len;
} explained;

/* Writes the message into e->msg and returns "code". */
static int explain_fail(explained *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int explain_fail(explained *e, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->msg_len, fmt, ap);
    va_end(ap);
    return code;
}

/* Reads the job and its class's gate into *e. Returns EXIT_OK, or the exit
 * code with what is wrong in e->msg (nothing is then left to clear). */
static int explain_load(sluice_client *c, explained *e) {
    sluice_error err;
    if (sluice_job_get(c, e->id, &e->j, &err) < 0) {
        if (err.code == SLUICE_ERR_ARGUMENT) return explain_fail(e, EXIT_USAGE, "explain: invalid job id '%s'", e->id);
        return explain_fail(e, ctl_error_code(err.code), "%s", err.text[0] ? err.text : sluice_error_name(err.code));
    }
    if (e->j.state == SLUICE_JOB_UNKNOWN) {
        sluice_job_info_clear(&e->j);
        return explain_fail(e, EXIT_NOTFOUND, "job '%s' not found (done and not kept, or never was)", e->id);
    }
    e->has_gate = sluice_gate_get(c, e->cls, &e->g, &err) == 0;
    if (!e->has_gate && err.code != SLUICE_ERR_UNKNOWN_CLASS) {
        sluice_job_info_clear(&e->j);
        return explain_fail(e, ctl_error_code(err.code), "%s", err.text[0] ? err.text : sluice_error_name(err.code));
    }
    return EXIT_OK;
}

/* Where the job is. */
static void explain_where(explained *e) {
    const sluice_job_info *j = &e->j;
    const char *id = e->id, *cls = e->cls;
    json_t *lines = e->lines;
    char tb[40], db[32];
    switch (j->state) {
    case SLUICE_JOB_READY:
        say(lines, "Job %s is ready (attempt %d of %d done so far), waiting to be claimed.", id, j->attempt,
            j->max_attempts);
        if (j->ahead < 0) { /* parked: not in the ready order until its key may start it */
            say(lines, "Its fairness key %s runs as many jobs as class %s allows a key (max_concurrency_per_key).",
                j->key ? j->key : "", cls);
            json_object_set_new(e->out, "held_by_key_cap", json_true());
        } else {
            say(lines, "%lld job%s ahead of it in class %s.", (long long)j->ahead, j->ahead == 1 ? " is" : "s are",
                cls);
        }
        break;
    case SLUICE_JOB_DELAYED:
        say(lines, "Job %s is delayed until %s (in %s).", id, ctl_time(j->at, tb, sizeof(tb)),
            ctl_duration(j->at - j->now, db, sizeof(db)));
        json_object_set_new(e->out, "due_at", json_integer(j->at));
        break;
    case SLUICE_JOB_LEASED:
        say(lines, "Job %s is running: leased by a worker (attempt %d of %d) until %s.", id, j->attempt,
            j->max_attempts, ctl_time(j->at, tb, sizeof(tb)));
        break;
    case SLUICE_JOB_DEAD:
        say(lines, "Job %s is dead since %s after %d attempt%s: %s.", id, ctl_time(j->at, tb, sizeof(tb)), j->attempt,
            j->attempt == 1 ? "" : "s", j->reason && *j->reason ? j->reason : "no reason recorded");
        say(lines, "It will not run unless retried: sluicectl dead retry %s %s", cls, id);
        break;
    default: say(lines, "Job %s is done.", id); break;
    }
}

/* The class's gate as JSON; sets e->throttled. */
static void explain_gate_json(explained *e) {
    const sluice_gate_info *g = &e->g;
    int has_gate = e->has_gate;
    e->throttled = has_gate && (g->paused || g->fraction < 1 || g->pinned);
    json_object_set_new(e->out, "throttled", json_boolean(e->throttled));
    json_object_set_new(e->out, "fraction", has_gate ? json_real(g->fraction) : json_null());
    json_object_set_new(e->out, "why", json_string(has_gate ? (g->paused ? "paused" : g->why) : ""));
    json_object_set_new(e->out, "gate_reason", json_string(has_gate ? g->reason : ""));
    json_object_set_new(e->out, "paused", json_boolean(g->paused));
    json_object_set_new(e->out, "pinned", json_boolean(g->pinned));
}

/* The driving signal as JSON (NEW; null if none); fills e->rule. */
static json_t *driver_json(explained *e) {
    const sluice_signal_info *drv = e->drv;
    sluice_law_thresholds th;
    if (!drv) return json_null();
    ctl_signal_thresholds(e->decision, drv, &th, e->rule, sizeof(e->rule));
    json_t *jd = json_object();
    json_object_set_new(jd, "name", json_string(drv->name));
    json_object_set_new(jd, "value", json_real(drv->value));
    json_object_set_new(jd, "target", json_real(drv->def.target));
    json_object_set_new(jd, "critical", json_real(drv->def.critical));
    json_object_set_new(jd, "pressure", json_real(ctl_signal_pressure(drv)));
    json_object_set_new(jd, "raise_at", json_real(th.raise_at));
    json_object_set_new(jd, "cut_at", json_real(th.cut_at));
    json_object_set_new(jd, "rule", json_string(e->rule));
    if (drv->def.target != 0) {
        double diff = drv->def.lower_is_worse ? drv->def.target - drv->value : drv->value - drv->def.target;
        json_object_set_new(jd, "over_target_pct", json_real(diff / fabs(drv->def.target) * 100));
    }
    json_object_set_new(jd, "stale", json_boolean(drv->stale));
    return jd;
}

/* What admits the class: gone, paused, pinned, throttled (and by which
 * signal) or not. */
static void explain_class(const explained *e) {
    const sluice_gate_info *g = &e->g;
    const char *cls = e->cls;
    json_t *lines = e->lines;
    char tb[40], db[32];
    if (!e->has_gate) {
        say(lines, "Its class %s is not declared any more.", cls);
    } else if (g->paused) {
        if (g->paused_until > 0)
            say(lines, "Class %s is paused until %s (in %s); no job of it is claimed until then.", cls,
                ctl_time(g->paused_until, tb, sizeof(tb)), ctl_duration(g->paused_until - g->now, db, sizeof(db)));
        else
            say(lines, "Class %s is paused until an operator resumes it (sluicectl resume %s).", cls, cls);
    } else if (g->pinned) {
        say(lines, "Class %s is pinned by an operator at admitted fraction %.2f (%.0f%% of its limits)%s%s.", cls,
            g->fraction, g->fraction * 100, g->pin_until ? " until " : "",
            g->pin_until ? ctl_time(g->pin_until, tb, sizeof(tb)) : "");
    } else if (e->throttled) {
        char cc[32];
        say(lines,
            "Class %s is throttled: admitted fraction %.2f (%.0f%% of its limits: rate %s/s, concurrency %s), by the "
            "%s%s%s.",
            cls, g->fraction, g->fraction * 100,
            g->effective_rate > 0 ? ctl_num(g->effective_rate, db, sizeof(db)) : "unlimited",
            g->effective_concurrency > 0 ? ctl_num(g->effective_concurrency, cc, sizeof(cc)) : "unlimited", g->why,
            *g->reason ? ": " : "", g->reason);
    } else {
        say(lines, "Class %s is not throttled (admitted fraction %.2f, %s).", cls, g->fraction, g->why);
    }
    if (e->throttled && !g->paused && !g->pinned && e->drv) {
        char d[384];
        describe_signal(e->drv, e->rule, d, sizeof(d));
        say(lines, "Driving signal: %s%s.", d, e->drv->stale ? " (stale: counted as pressure)" : "");
    }
}

/* What the governor's last decision gave the class, and what it acted on. */
static void explain_decision(const explained *e) {
    size_t i;
    json_t *o;
    if (!e->decision) return;
    char words[1024];
    say(e->lines, "The governor's last decision: %s.", ctl_decision_words(e->decision, e->j.now, words, sizeof(words)));
    json_array_foreach(json_object_get(e->decision, "classes"), i, o) {
        const char *nm = json_string_value(json_object_get(o, "name"));
        if (!nm || strcmp(nm, e->cls)) continue;
        const char *rs = json_string_value(json_object_get(o, "reason"));
        json_t *fr = json_object_get(o, "fraction");
        if (json_is_number(fr))
            say(e->lines, "The governor's last decision gave %s fraction %.2f%s%s.", e->cls, json_number_value(fr),
                rs ? ": " : "", rs ? rs : "");
    }
    json_t *acted = json_object_get(e->decision, "acted"), *dv = json_object_get(e->decision, "driver_value");
    if (e->named && json_is_number(acted) && json_is_number(dv))
        say(e->lines, "It acted on pressure %.2f (smoothed) with %s at %g.", json_number_value(acted), e->named,
            json_number_value(dv));
}

/* What the governor's last decision (e->decision) did to the class, and
 * the signal that drove it (among sig, nsig of them), into e. */
static void explain_governed(explained *e, const sluice_signal_info *sig, size_t nsig) {
    e->named = e->decision ? json_string_value(json_object_get(e->decision, "driver")) : NULL;
    e->drv = driver_of(sig, nsig, e->named);
    json_object_set_new(e->out, "driver", driver_json(e));
    json_object_set_new(e->out, "last_decision", e->decision ? json_incref(e->decision) : json_null());
    explain_class(e);
    explain_decision(e);
}
/* The class's run window in the governor's last decision (BORROWED from
 * it), or NULL when it has none or there is no decision. */
static json_t *decided_window(const explained *e) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(e->decision, "classes"), i, o) {
        const char *nm = json_string_value(json_object_get(o, "name"));
        if (nm && !strcmp(nm, e->cls))
            return json_is_object(json_object_get(o, "window")) ? json_object_get(o, "window") : NULL;
    }
    return NULL;
}

/* When the class's closed window opens, for a job waiting in it ("job")
 * or for the class, unless the class is paused or pinned. Returns 1 if it
 * said so. */
static int explain_window(const explained *e, int job) {
    const sluice_gate_info *g = &e->g;
    json_t *w = e->decision ? decided_window(e) : NULL;
    json_t *opens = json_object_get(w, "changes_at");
    if (!w || !json_is_false(json_object_get(w, "open")) || g->paused || g->pinned) return 0;
    char tb[40], db[32];
    if (json_is_integer(opens))
        say(e->lines, "%s at %s (in %s).", job ? "It waits for its class's window, which opens" : "Its window opens",
            ctl_time(json_integer_value(opens), tb, sizeof(tb)),
            ctl_duration(json_integer_value(opens) - g->now, db, sizeof(db)));
    else
        say(e->lines, "%s within 8 days.",
            job ? "It waits for its class's windows, none of which opens" : "None of its windows opens");
    return 1;
}

/* When a waiting job may run. */
static void explain_when(const explained *e) {
    const sluice_job_info *j = &e->j;
    const sluice_gate_info *g = &e->g;
    json_t *lines = e->lines;
    int throttled = e->throttled;
    char tb[40];
    if (!(j->state == SLUICE_JOB_READY || j->state == SLUICE_JOB_DELAYED) || !e->has_gate) return;
    if (j->state == SLUICE_JOB_READY && explain_window(e, 1)) return;
    if (j->state == SLUICE_JOB_DELAYED)
        say(lines, "It may run after %s, once it is promoted to ready%s.", ctl_time(j->at, tb, sizeof(tb)),
            throttled ? " and its class admits it" : "");
    else if (g->paused)
        say(lines, "It may run once the class is resumed.");
    else if (j->ahead < 0)
        say(lines, "It starts when one of key %s's jobs in flight ends, in its key's order.", j->key ? j->key : "");
    else if (throttled && g->pinned)
        say(lines, "It runs as the pinned fraction admits the %lld job(s) ahead of it; unpin with sluicectl unpin %s.",
            (long long)j->ahead, e->cls);
    else if (throttled) {
        if (g->expires_at > g->now)
            say(lines,
                "Claims retry as tokens and slots free up; the governor raises admission once pressure stays below "
                "target (this decision lapses to the floor at %s unless renewed).",
                ctl_time(g->expires_at, tb, sizeof(tb)));
        else
            say(lines, "Claims retry as tokens and slots free up; the governor raises admission once pressure stays "
                       "below target.");
    } else
        say(lines, "It runs when a worker has claimed the %lld job(s) ahead of it.", (long long)j->ahead);
}

json_t *ctl_explain(sluice_client *c, const char *id, int *code, char *msg, size_t len) {
    explained e;
    memset(&e, 0, sizeof(e));
    e.id = id;
    e.msg = msg;
    e.msg_len = len;
    sluice_error err;
    if (sluice_job_id_class(e.id, e.cls, &err) < 0) {
        *code = explain_fail(&e, EXIT_USAGE, "explain: invalid job id '%s' (CLASS:NUMBER)", e.id);
        return NULL;
    }
    if ((*code = explain_load(c, &e)) != EXIT_OK) return NULL;
    size_t nsig = 0;
    int64_t now = e.j.now;
    sluice_signal_info *sig = sluice_signal_list(c, &nsig, &now, &err);
    e.decision = ctl_last_decision(c);
    e.out = json_object();
    e.lines = json_array();
    json_object_set_new(e.out, "id", json_string(e.id));
    json_object_set_new(e.out, "class", json_string(e.cls));
    json_object_set_new(e.out, "state", json_string(sluice_job_state_name(e.j.state)));
    json_object_set_new(e.out, "ahead", e.j.ahead >= 0 ? json_integer(e.j.ahead) : json_null());
    explain_where(&e);
    explain_gate_json(&e);
    explain_governed(&e, sig, nsig);
    explain_when(&e);
    json_object_set_new(e.out, "explanation", e.lines);
    json_decref(e.decision);
    sluice_signal_list_free(sig, nsig);
    sluice_job_info_clear(&e.j);
    return e.out;
}

/* Explains class "cls" in words: its gate, what the governor's last
 * decision gave it, and when a closed window opens. As ctl_explain. */
static json_t *explain_class_alone(sluice_client *c, const char *cls, int *code, char *msg, size_t len) {
    explained e;
    memset(&e, 0, sizeof(e));
    e.msg = msg;
    e.msg_len = len;
    snprintf(e.cls, sizeof(e.cls), "%s", cls);
    sluice_error err;
    if (sluice_gate_get(c, cls, &e.g, &err) < 0) {
        *code = err.code == SLUICE_ERR_UNKNOWN_CLASS ? explain_fail(&e, EXIT_NOTFOUND, "unknown class '%s'", cls)
                                                     : explain_fail(&e, ctl_error_code(err.code), "%s", err.text);
        return NULL;
    }
    e.has_gate = 1;
    size_t nsig = 0;
    int64_t now = e.g.now;
    sluice_signal_info *sig = sluice_signal_list(c, &nsig, &now, &err);
    e.decision = ctl_last_decision(c);
    e.out = json_object();
    e.lines = json_array();
    json_object_set_new(e.out, "class", json_string(cls));
    explain_gate_json(&e);
    explain_governed(&e, sig, nsig);
    explain_window(&e, 0);
    json_object_set_new(e.out, "explanation", e.lines);
    json_decref(e.decision);
    sluice_signal_list_free(sig, nsig);
    *code = EXIT_OK;
    return e.out;
}

int cmd_explain(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("explain", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("explain", "needs a job ID or a CLASS");
    char cls[SLUICE_ID_MAX], msg[512];
    int is_class = !strchr(pos[0], ':');
    if (is_class ? sluice_name_check(pos[0], NULL) < 0 : sluice_job_id_class(pos[0], cls, NULL) < 0)
        return ctl_usage("explain", "invalid %s '%s'", is_class ? "class name" : "job id (CLASS:NUMBER)", pos[0]);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    json_t *out = is_class ? explain_class_alone(c, pos[0], &code, msg, sizeof(msg))
                           : ctl_explain(c, pos[0], &code, msg, sizeof(msg));
    if (!out) return ctl_fail(code, "%s", msg);
    if (x->json) return ctl_json_print(out);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(out, "explanation"), i, l) printf("%s\n", json_string_value(l));
    json_decref(out);
    return EXIT_OK;
}
