/* The governor: its lease, mode, state and history in Redis, and the loop
 * that runs the control law once a tick (sluice/governor.h). */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../queue.h"
#include "../zone.h"
#include "sluice/deadline.h"

#define STATE_TEXT 1024
#define CLOCK_OFFSET_MAX (100LL * 366 * 86400000) /* ms: a century either way */
#define DEADLINE_JOBS 32                          /* the earliest ready deadlines of a class the lift reads */

/* ----------------------------- governor ------------------------------ */

#define MODE_NAME(constant, name) [constant] = name,
static const char *const mode_names[] = {SLUICE_GOVERNOR_MODE_LIST(MODE_NAME)};

const char *sluice_governor_mode_name(sluice_governor_mode mode) {
    return word_of(mode_names, NWORDS(mode_names), (int)mode);
}

int sluice_governor_mode_parse(const char *s, sluice_governor_mode *out, sluice_error *err) {
    sluice_error_reset(err);
    int i = word_index(mode_names, NWORDS(mode_names), s, "governor mode", err);
    if (i < 0) return -1;
    *out = (sluice_governor_mode)i;
    return 0;
}

static void governor_cmd(cmd *m, sluice_client *c, const char *fn) {
    cmd_init(m);
    cmd_fcall_global(m, fn, c->ns, GOVERNOR_NKEYS, GOVERNOR_KEYS);
}

int sluice_governor_status_get(sluice_client *c, sluice_governor_status *out, sluice_error *err) {
    sluice_error_reset(err);
    memset(out, 0, sizeof(*out));
    cmd m;
    governor_cmd(&m, c, "sluice_gov_status");
    redisReply *r = client_run(c, &m, "governor status", err);
    if (!r) return -1;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements != 7;
    if (!bad) {
        redisReply **e = r->element;
        bad = reply_strcpy(e[0], out->leader, sizeof(out->leader)) | reply_int(e[1], &out->epoch) |
                  reply_int(e[2], &out->lease_until) | !e[3]->str ||
              sluice_governor_mode_parse(e[3]->str, &out->mode, NULL) < 0 || reply_int(e[4], &out->last_tick) < 0 ||
              reply_int(e[5], &out->ticks) < 0 || reply_int(e[6], &out->now) < 0;
    }
    freeReplyObject(r);
    if (bad) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "governor status: unexpected reply");
        return -1;
    }
    return 0;
}

int sluice_governor_mode_set(sluice_client *c, sluice_governor_mode mode, sluice_error *err) {
    sluice_error_reset(err);
    if (!sluice_governor_mode_name(mode)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "governor mode: unknown mode");
        return -1;
    }
    cmd m;
    governor_cmd(&m, c, "sluice_gov_mode");
    cmd_str(&m, client_actor(c));
    cmd_str(&m, sluice_governor_mode_name(mode));
    return client_run_ok(c, &m, "governor mode", err);
}

int sluice_governor_lease(sluice_client *c, const char *owner, int64_t ttl_ms, int *held, int64_t *epoch,
                          sluice_governor_mode *mode, char **state, sluice_error *err) {
    sluice_error_reset(err);
    if (state) *state = NULL;
    cmd m;
    governor_cmd(&m, c, "sluice_gov_lease");
    cmd_str(&m, owner);
    cmd_int(&m, ttl_ms);
    redisReply *r = client_run(c, &m, "governor lease", err);
    if (!r) return -1;
    int64_t h = 0;
    int bad = r->type != REDIS_REPLY_ARRAY || r->elements != 5;
    if (!bad) {
        redisReply **e = r->element;
        bad = reply_int(e[0], &h) | reply_int(e[1], epoch) | !e[3]->str ||
              sluice_governor_mode_parse(e[3]->str, mode, NULL) < 0;
        if (!bad && state && h && e[4]->len && !(*state = reply_strdup(e[4]))) bad = 1;
    }
    freeReplyObject(r);
    if (bad) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "governor lease: unexpected reply");
        return -1;
    }
    *held = h == 1;
    return 0;
}

int sluice_governor_resign(sluice_client *c, const char *owner, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    governor_cmd(&m, c, "sluice_gov_resign");
    cmd_str(&m, owner);
    return client_run_ok(c, &m, "governor resign", err);
}

int sluice_governor_commit(sluice_client *c, const char *owner, int64_t epoch, const char *state, const char *decision,
                           int64_t history_max, sluice_error *err) {
    sluice_error_reset(err);
    cmd m;
    governor_cmd(&m, c, "sluice_gov_commit");
    cmd_str(&m, owner);
    cmd_int(&m, epoch);
    cmd_str(&m, state);
    cmd_str(&m, decision);
    cmd_int(&m, history_max);
    return client_run_ok(c, &m, "governor commit", err);
}

char **sluice_governor_history_list(sluice_client *c, size_t count, size_t *n, sluice_error *err) {
    sluice_error_reset(err);
    *n = 0;
    if (count < 1 || count > 100000) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "governor history: count must be 1..100000");
        return NULL;
    }
    cmd m;
    cmd_init(&m);
    cmd_xrevrange(&m, c->ns, GLOBAL_TAG, GOVERNOR_KEYS[GOVERNOR_KEY_history], (int64_t)count);
    redisReply *r = client_run(c, &m, "governor history", err);
    if (!r) return NULL;
    char **out = r->type == REDIS_REPLY_ARRAY && r->elements ? calloc(r->elements, sizeof(*out)) : NULL;
    size_t k = 0;
    for (size_t i = 0; out && i < r->elements; i++) {
        redisReply *entry = r->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || entry->element[1]->elements < 2) continue;
        char *s = reply_strdup(entry->element[1]->element[1]);
        if (s) out[k++] = s;
    }
    freeReplyObject(r);
    *n = k;
    return out;
}

void sluice_governor_history_free(char **decisions, size_t n) {
    strings_free(decisions, n);
}

/* What the governor remembers of a class from its last tick: its count of
 * throttled claims and when it last moved; when the class last had work
 * (jobs ready or leased); its count of claims, and the start rate they
 * show at full admission; the fraction the law gave it, before any lift
 * for deadlines. */
typedef struct class_memo {
    char *name; /* NEW; NULL if it could not be copied */
    int64_t throttled;
    int64_t moved_ms;       /* Redis clock */
    int64_t busy_ms;        /* Redis clock */
    int64_t claimed;        /* < 0: not read */
    int64_t counted_ms;     /* Redis clock: when claimed was read */
    sluice_start_rate rate; /* its claims and open time, for full_rate */
    double full_rate;       /* starts a second at fraction 1, measured; 0: unknown */
    double law;             /* < 0: none this term */
} class_memo;

struct sluice_governor {
    sluice_client *c; /* BORROWED */
    char owner[129];
    sluice_governor_opts o;
    int64_t epoch; /* of the state held in st; 0: none */
    sluice_law_state st;
    char *decision;   /* NEW JSON of the last decision */
    class_memo *memo; /* one per class of the last tick */
    size_t nmemo;
    zone_cache *zones; /* NEW: the zones of the classes' windows */
};

/* What a tick read of a class beside what the law sees: its run windows,
 * where the window clock falls in them, its gate, its ready jobs and its
 * deadline reserve; and what it admits for its deadlines. */
typedef struct class_read {
    size_t n;
    sluice_window w[SLUICE_WINDOWS_MAX];
    sluice_outside_window outside;
    window_state at;
    sluice_gate_info gate;
    int64_t ready;  /* < 0: not read */
    double reserve; /* its deadline_reserve */
    int64_t slots;  /* its max_concurrency */
    int lifted;     /* 1 when its deadlines were read this tick (lift is valid) */
    sluice_deadline_lift lift;
} class_read;

void sluice_governor_opts_init(sluice_governor_opts *o) {
    memset(o, 0, sizeof(*o));
    o->tick_ms = 1000;
    o->lease_ms = 2000;
    o->gate_ttl_ms = 5000;
    o->history_max = 10000;
    o->held_ms = 5000;
    sluice_law_params_default(&o->law);
}

sluice_governor *sluice_governor_new(sluice_client *c, const char *owner, const sluice_governor_opts *opts,
                                     sluice_error *err) {
    sluice_error_reset(err);
    size_t n = owner ? strlen(owner) : 0;
    if (!c || n == 0 || n > 128) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "governor: owner must be 1..128 bytes");
        return NULL;
    }
    sluice_governor_opts o;
    if (opts)
        o = *opts;
    else
        sluice_governor_opts_init(&o);
    sluice_error lerr;
    if (sluice_law_params_check(&o.law, &lerr) < 0) {
        sluice_error_set(err, lerr.code, "governor: %s", lerr.text);
        return NULL;
    }
    if (o.tick_ms < 10 || o.lease_ms < 100 || o.lease_ms > 600000 || o.gate_ttl_ms < 1 || o.gate_ttl_ms > 86400000 ||
        o.history_max < 1 || o.history_max > 1000000 || o.held_ms < 1 || o.held_ms > 3600000 ||
        o.clock_offset_ms < -CLOCK_OFFSET_MAX || o.clock_offset_ms > CLOCK_OFFSET_MAX) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                         "governor: tick, lease, gate ttl, history, held or clock offset out of range");
        return NULL;
    }
    sluice_governor *g = calloc(1, sizeof(*g));
    if (!g || !(g->zones = zone_cache_new())) {
        free(g);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: out of memory");
        return NULL;
    }
    g->c = c;
    memcpy(g->owner, owner, n + 1);
    g->o = o;
    sluice_law_state_init(&g->st);
    return g;
}

static void memo_free(class_memo *memo, size_t n) {
    for (size_t i = 0; i < n; i++) free(memo[i].name);
    free(memo);
}

void sluice_governor_free(sluice_governor *g) {
    if (!g) return;
    if (g->epoch) sluice_governor_resign(g->c, g->owner, NULL);
    free(g->decision);
    memo_free(g->memo, g->nmemo);
    zone_cache_free(g->zones);
    free(g);
}

const char *sluice_governor_last_decision(const sluice_governor *g) {
    return g->decision ? g->decision : "";
}

/* The memo the last tick kept for class "name", or NULL; "hint" is where
 * it was then if the classes kept their order (the usual case: the
 * registry's order), so a tick of n classes costs n lookups, not n * n. */
static const class_memo *memo_of(const sluice_governor *g, const char *name, size_t hint) {
    if (hint < g->nmemo && g->memo[hint].name && strcmp(g->memo[hint].name, name) == 0) return &g->memo[hint];
    for (size_t i = 0; i < g->nmemo; i++)
        if (g->memo[i].name && strcmp(g->memo[i].name, name) == 0) return &g->memo[i];
    return NULL;
}

/* Whether a class's gate held its jobs back lately: its count of throttled
 * claims moved within held_ms (or this governor has known the class for less
 * than that). Records the count in *m. */
static int held_lately(const sluice_governor *g, const class_memo *last, int64_t throttled, int64_t now,
                       class_memo *m) {
    m->throttled = throttled;
    m->moved_ms = last && last->throttled == throttled ? last->moved_ms : now;
    return now - m->moved_ms <= g->o.held_ms;
}

/* The reads of one tick for each class, in this order in the batch. */
enum { READ_CLASS, READ_GATE, READ_READY, READ_LEASED, READ_STATS, READS };

/* Starts command READ_WHAT of class "name": its configuration and its gate
 * as hashes (HGETALL: their writers, the Functions, validate them, and a
 * read needs no Function), the sizes of its ready and leased sets and its
 * counts of throttled claims and of claims. Returns 0, or -1 with err set. */
static int start_read(sluice_governor *g, cmd *m, int what, const char *name, sluice_error *err) {
    static const int key_of[READS] = {CLASS_KEY_class, CLASS_KEY_gate, CLASS_KEY_ready, CLASS_KEY_leased,
                                      CLASS_KEY_stats};
    static const char *const command_of[READS] = {"HGETALL", "HGETALL", "ZCARD", "ZCARD", "HMGET"};
    char key[KEY_MAX];
    int len = key_name(key, sizeof(key), g->c->ns, name, CLASS_KEYS[key_of[what]]);
    if (len < 0 || (size_t)len >= sizeof(key)) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "governor: class name too long: %.64s", name);
        return -1;
    }
    cmd_str(m, command_of[what]);
    cmd_add(m, key, (size_t)len);
    if (what == READ_STATS) {
        cmd_str(m, "throttled");
        cmd_str(m, "claimed");
    }
    return 0;
}

/* The gate hash r (HGETALL) as the governor last wrote it, into *g: its
 * fraction, epoch, expiry, shadow fraction and reason; now, the tick's
 * Redis clock, as g->now. Returns 0, or -1 with err set. */
static int gate_written(const redisReply *r, int64_t now, sluice_gate_info *g, sluice_error *err) {
    memset(g, 0, sizeof(*g));
    g->now = now;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "governor: unexpected gate reply");
        return -1;
    }
    for (size_t i = 0; i < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        const redisReply *v = r->element[i + 1];
        if (!f) continue;
        if (!strcmp(f, "fraction"))
            reply_num(v, &g->governor_fraction);
        else if (!strcmp(f, "expires_at"))
            g->governed = reply_int(v, &g->expires_at) == 0;
        else if (!strcmp(f, "epoch"))
            reply_int(v, &g->epoch);
        else if (!strcmp(f, "shadow_fraction"))
            g->shadow = reply_num(v, &g->shadow_fraction) == 0;
        else if (!strcmp(f, "reason"))
            reply_strcpy(v, g->reason, sizeof(g->reason));
    }
    return 0;
}

/* What class i has waiting on its gate (*waiting) and how long it has had
 * no work at all (*idle_ms: nothing ready, nothing leased; 0 while this
 * governor has not seen it idle that long). Waiting is its ready jobs when
 * the gate refused a claim lately (its count of throttled claims moved),
 * else 0, for then its workers, not its admission, are what the jobs wait
 * for, and raising it would admit nothing: this tells the law which tiers
 * a raise would help. A count that cannot be read gives -1 (unknown),
 * which the law counts as work waiting, and an idle time of 0. "last" is
 * what the last tick kept of the class, or NULL; records the counts in
 * *memo. */
static void class_work(sluice_governor *g, const client_batch *b, size_t i, const char *name, int64_t now,
                       const class_memo *last, class_memo *memo, int64_t *waiting, int64_t *idle_ms,
                       int64_t *ready_out) {
    int64_t ready, leased, throttled = 0;
    const redisReply *t = b->replies[i * READS + READ_STATS];
    int held = 1;
    memo->claimed = -1;
    memo->law = -1;
    if (t && t->type == REDIS_REPLY_ARRAY && t->elements == 2 &&
        (t->element[0]->type == REDIS_REPLY_NIL || reply_int(t->element[0], &throttled) == 0)) {
        memo->name = strdup(name);
        held = held_lately(g, last, throttled, now, memo);
        if (t->element[1]->type == REDIS_REPLY_NIL)
            memo->claimed = 0;
        else if (reply_int(t->element[1], &memo->claimed) < 0)
            memo->claimed = -1;
    }
    *waiting = -1;
    *idle_ms = 0;
    *ready_out = -1;
    memo->busy_ms = now;
    if (reply_int(b->replies[i * READS + READ_READY], &ready) < 0 || ready < 0 ||
        reply_int(b->replies[i * READS + READ_LEASED], &leased) < 0 || leased < 0)
        return;
    *ready_out = ready;
    *waiting = held ? ready : 0;
    if (ready == 0 && leased == 0 && last) {
        memo->busy_ms = last->busy_ms;
        *idle_ms = now - last->busy_ms;
    }
}

/* The class's full start rate, measured into *m (sluice_start_rate_add)
 * from its claims since the last tick at "share", sluice_deadline_effective
 * of the gate's fraction. */
static void measure_rate(const class_memo *last, class_memo *m, double share, int64_t ready, int64_t now) {
    m->counted_ms = now;
    if (!last || last->claimed < 0 || m->claimed < 0) return;
    m->rate = last->rate;
    m->full_rate = sluice_start_rate_add(&m->rate, m->claimed - last->claimed, share, now - last->counted_ms, ready);
}

/* Class i as the law sees it: tier and floor, and the fraction the governor
 * last wrote (read back from its gate, so a new leader continues); its
 * windows into *cw. Returns 0, or -1 with err set (the class or its gate
 * could not be read). */
static int law_class(const client_batch *b, size_t i, sluice_governor_mode mode, int64_t now, sluice_law_class *out,
                     class_read *cw, sluice_error *err) {
    const size_t at = i * READS;
    sluice_class_config cfg;
    sluice_gate_info *gate = &cw->gate;
    for (size_t k = at + READ_CLASS; k <= at + READ_GATE; k++) {
        if (!b->replies[k]) {
            sluice_error_set(err, b->errs[k].code, "%s", b->errs[k].text);
            return -1;
        }
    }
    if (b->replies[at + READ_CLASS]->type == REDIS_REPLY_ARRAY && b->replies[at + READ_CLASS]->elements == 0) {
        sluice_error_set(err, SLUICE_ERR_UNKNOWN_CLASS, "class is not declared");
        return -1;
    }
    if (class_get_reply(b->replies[at + READ_CLASS], &cfg, err) < 0 ||
        gate_written(b->replies[at + READ_GATE], now, gate, err) < 0)
        return -1;
    out->tier = cfg.tier;
    out->floor = cfg.floor;
    cw->n = cfg.nwindows;
    memcpy(cw->w, cfg.windows, sizeof(cw->w));
    cw->outside = cfg.outside_window;
    cw->reserve = cfg.deadline_reserve;
    cw->slots = cfg.max_concurrency;
    out->fraction = 1;
    if (mode == SLUICE_GOVERNOR_SHADOW && gate->shadow)
        out->fraction = gate->shadow_fraction;
    else if (gate->governed && !gate->shadow)
        out->fraction = gate->governor_fraction;
    return 0;
}

/* Every class as the law sees it, read in one pipelined round trip whatever
 * their number (law_class, waiting_on_gate), and its windows into (*cw)[i]
 * (NEW, n of them). Returns the classes (NEW, n of them, named by BORROWED
 * names) or NULL with err set. */
static sluice_law_class *read_classes(sluice_governor *g, sluice_governor_mode mode, char **names, size_t n,
                                      int64_t now, class_read **cw, sluice_error *err) {
    client_batch b;
    sluice_law_class *cls = calloc(n + 1, sizeof(*cls));
    class_memo *memo = calloc(n + 1, sizeof(*memo));
    *cw = calloc(n + 1, sizeof(**cw));
    if (!cls || !memo || !*cw || client_batch_init(&b, n * READS) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: out of memory");
        free(cls);
        free(*cw);
        *cw = NULL;
        memo_free(memo, 0);
        return NULL;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++)
        for (int what = 0; ok && what < READS; what++)
            ok = start_read(g, &b.cmds[i * READS + what], what, names[i], err) == 0;
    ok = ok && client_batch_run(g->c, &b, err) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        cls[i].name = names[i];
        ok = law_class(&b, i, mode, now, &cls[i], &(*cw)[i], err) == 0;
        const class_memo *last = memo_of(g, names[i], i);
        class_work(g, &b, i, names[i], now, last, &memo[i], &cls[i].waiting, &cls[i].idle_ms, &(*cw)[i].ready);
        if (mode == SLUICE_GOVERNOR_OFF) cls[i].waiting = -1;
        /* The gate's fraction was in force since the last tick; the law
         * goes on from its own, before any lift for deadlines. */
        measure_rate(last, &memo[i], sluice_deadline_effective(cls[i].fraction, (*cw)[i].slots), (*cw)[i].ready, now);
        if (ok && last && last->law >= 0) cls[i].fraction = last->law;
    }
    client_batch_clear(&b);
    if (!ok) {
        memo_free(memo, n);
        free(cls);
        free(*cw);
        *cw = NULL;
        return NULL;
    }
    memo_free(g->memo, g->nmemo);
    g->memo = memo;
    g->nmemo = n;
    return cls;
}

/* Whether a gate, as this tick read it, already holds the decision to
 * write: enforced by this epoch at this fraction, with more than half its
 * ttl to live. Such a gate is left alone, and rewritten only once half its
 * life has passed, so its reason may lag the decision's by up to ttl/2
 * (governor history holds every decision); a tick then writes only the
 * gates that change. */
static int gate_current(const sluice_gate_info *gate, sluice_governor_mode mode, int64_t epoch, double fraction,
                        int64_t ttl_ms) {
    return mode == SLUICE_GOVERNOR_ENFORCE && gate->governed && !gate->shadow && gate->epoch == epoch &&
           gate->governor_fraction == fraction && gate->expires_at - gate->now > ttl_ms / 2;
}

/* Writes the classes' gates in one pipelined round trip: the law's
 * fraction and reason (fenced by the epoch) where the gate as read (cr,
 * NULL with the governor off) is not already current (gate_current), or,
 * with the governor off, no decision at all. Every write is sent; returns
 * 0, or -1 with the first refusal in err. */
static int write_gates(sluice_governor *g, sluice_governor_mode mode, int64_t epoch, char **names,
                       const sluice_law_class *cls, const class_read *cr, size_t n, sluice_error *err) {
    client_batch b;
    if (client_batch_init(&b, n) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: out of memory");
        return -1;
    }
    int ok = 1;
    size_t k = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (mode == SLUICE_GOVERNOR_OFF)
            ok = cmd_class_call(&b.cmds[k++], "sluice_ungovern", g->c, names[i], 0, err) == 0;
        else if (!gate_current(&cr[i].gate, mode, epoch, cls[i].fraction, g->o.gate_ttl_ms))
            ok = cmd_govern(&b.cmds[k++], g->c, names[i], epoch, cls[i].fraction, g->o.gate_ttl_ms, cls[i].reason,
                            mode == SLUICE_GOVERNOR_SHADOW, err) == 0;
    }
    b.n = k;
    ok = ok && (k == 0 || client_batch_run(g->c, &b, err) == 0);
    for (size_t i = 0; ok && i < k; i++) {
        if (!b.replies[i]) {
            sluice_error_set(err, b.errs[i].code, "%s", b.errs[i].text);
            ok = 0;
        }
    }
    client_batch_clear(&b);
    return ok ? 0 : -1;
}

static json_t *num_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* One signal as the decision records it: its value, pressure and age, and
 * where the law raises and cuts, in the signal's own units. NEW. */
static json_t *signal_json(const sluice_law_params *law, const sluice_law_signal *s) {
    int stale = !s->has_value || s->age_ms > s->stale_after_ms;
    sluice_law_thresholds th;
    char rule[SLUICE_LAW_THRESHOLDS_TEXT] = "";
    int has_th = sluice_law_signal_thresholds(law, s, &th, rule, sizeof(rule), NULL) == 0;
    return json_pack("{s:s, s:o, s:f, s:f, s:o, s:I, s:b, s:I, s:o, s:o, s:s}", "name", s->name, "value",
                     s->has_value ? json_real(s->value) : json_null(), "target", s->target, "critical", s->critical,
                     "pressure", s->has_value ? num_or_null(sluice_law_pressure(s, s->value)) : json_null(), "age_ms",
                     (json_int_t)s->age_ms, "stale", stale, "period_ms", (json_int_t)s->period_ms, "raise_at",
                     has_th ? num_or_null(th.raise_at) : json_null(), "cut_at",
                     has_th ? num_or_null(th.cut_at) : json_null(), "rule", rule);
}

/* What a class admitted for its deadlines this tick, for the decision. NEW;
 * null for a class whose deadlines were not read. */
static json_t *deadline_json(const class_read *cw) {
    if (!cw->lifted) return json_null();
    return json_pack("{s:f, s:f, s:I}", "fraction", cw->lift.fraction, "need", cw->lift.need, "miss_ms",
                     (json_int_t)cw->lift.miss_ms);
}

/* Where a class's window clock fell in its windows, for the decision. NEW;
 * null for a class without windows. */
static json_t *window_json(const class_read *cw) {
    if (!cw->n) return json_null();
    const window_state *at = &cw->at;
    return json_pack("{s:b, s:o, s:o}", "open", at->open, "changes_at",
                     at->change_ms != INT64_MAX ? json_integer((json_int_t)at->change_ms) : json_null(), "unknown_zone",
                     at->unknown[0] ? json_string(at->unknown) : json_null());
}

static char *decision_json(const sluice_governor *g, const sluice_governor_report *r, const sluice_law_decision *d,
                           const sluice_law_signal *sig, size_t nsig, const sluice_law_class *cls, const class_read *cw,
                           size_t ncls) {
    json_t *signals = json_array(), *classes = json_array();
    for (size_t i = 0; i < nsig; i++) json_array_append_new(signals, signal_json(&g->o.law, &sig[i]));
    for (size_t i = 0; i < ncls; i++)
        json_array_append_new(
            classes, json_pack("{s:s, s:s, s:f, s:f, s:o, s:I, s:s, s:o, s:o}", "name", cls[i].name, "tier",
                               sluice_tier_name(cls[i].tier), "fraction", cls[i].fraction, "floor", cls[i].floor,
                               "waiting", cls[i].waiting >= 0 ? json_integer((json_int_t)cls[i].waiting) : json_null(),
                               "idle_ms", (json_int_t)cls[i].idle_ms, "reason", cls[i].reason, "window",
                               window_json(&cw[i]), "deadline", deadline_json(&cw[i])));
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:s, s:f, s:o, s:o}", "t", (json_int_t)r->now,
                          "epoch", (json_int_t)r->epoch, "mode", sluice_governor_mode_name(r->mode), "action",
                          sluice_law_action_name(d->action), "pressure", num_or_null(d->pressure), "acted",
                          num_or_null(d->acted), "driver", d->driver ? json_string(d->driver) : json_null(),
                          "driver_value", num_or_null(d->driver_value), "driver_stale", d->driver_stale, "summary",
                          d->summary, "band", g->o.law.band, "signals", signals, "classes", classes);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return text;
}

/* Takes or renews the leadership lease into r's epoch and mode; a new term
 * continues from the state the last leader committed. Returns 1 when g
 * leads, 0 when another does, -1 with err set. */
static int lead(sluice_governor *g, sluice_governor_report *r, sluice_error *err) {
    char *state = NULL;
    int held = 0;
    if (sluice_governor_lease(g->c, g->owner, g->o.lease_ms, &held, &r->epoch, &r->mode, &state, err) < 0) return -1;
    if (!held) {
        free(state);
        g->epoch = 0;
        return 0;
    }
    r->leader = 1;
    if (g->epoch != r->epoch) {
        /* A new term: continue from what the last leader committed. */
        sluice_law_state_init(&g->st);
        if (state && sluice_law_state_decode(state, &g->st, NULL) < 0) sluice_law_state_init(&g->st);
        g->epoch = r->epoch;
        for (size_t i = 0; i < g->nmemo; i++) g->memo[i].law = -1;
    }
    free(state);
    return 1;
}

/* Governor off: every class's gate goes and it runs at its configured
 * limits; fills *d. Returns 0, or -1 with err set. */
static int ungovern(sluice_governor *g, char **names, sluice_law_class *cls, size_t ncls, sluice_law_decision *d,
                    sluice_error *err) {
    if (write_gates(g, SLUICE_GOVERNOR_OFF, 0, names, cls, NULL, ncls, err) < 0) return -1;
    for (size_t i = 0; i < ncls; i++) {
        cls[i].fraction = 1;
        snprintf(cls[i].reason, sizeof(cls[i].reason), "governor off");
    }
    d->driver_value = NAN;
    snprintf(d->summary, sizeof(d->summary), "governor off: classes run at their configured limits");
    return 0;
}

/* c's reason as "a; b", cut short at its size: a, the window, comes first. */
static void reason_join(sluice_law_class *c, const char *a, const char *b) {
    char full[2 * SLUICE_LAW_REASON + 2];
    snprintf(full, sizeof(full), "%s; %s", a, b);
    snprintf(c->reason, sizeof(c->reason), "%.*s", (int)sizeof(c->reason) - 1, full);
}

/* Holds class i, outside its windows, at its floor or at nothing. */
static void hold_outside(sluice_law_class *c, const class_read *cw, int64_t now) {
    char where[SLUICE_LAW_REASON];
    window_state_say(cw->w, cw->n, &cw->at, now, where, sizeof(where));
    char held[32];
    int none = cw->outside == SLUICE_OUTSIDE_NONE;
    c->fraction = none ? 0 : c->floor;
    if (none)
        snprintf(held, sizeof(held), "admits nothing until then");
    else
        snprintf(held, sizeof(held), "held at floor %.2f", c->floor);
    reason_join(c, where, held);
}

/* Lifts each class with a deadline reserve and ready jobs above what the
 * law (or its window) gives it, as far as its earliest ready deadlines and
 * the samples spread over all of them need (sluice_deadline_lift_compute;
 * one read per such class, two when the view did not cover them all), within the
 * reserve, and says why in its reason; first records in the memo what the
 * law gave every class. A class whose deadlines cannot be read keeps what
 * the law gave it. */
static void lift_for_deadlines(sluice_governor *g, char **names, sluice_law_class *cls, class_read *cw, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double law = cls[i].fraction;
        if (i < g->nmemo) g->memo[i].law = law;
        if (cw[i].reserve <= 0 || cls[i].tier == SLUICE_TIER_CRITICAL || cw[i].ready <= 0 || i >= g->nmemo) continue;
        sluice_deadline_entry jobs[DEADLINE_JOBS + SLUICE_DEADLINE_SAMPLES];
        size_t k = 0, more = 0;
        int64_t at, total;
        if (sluice_deadline_view(g->c, names[i], DEADLINE_JOBS, jobs, &k, &at, &total, NULL) < 0 || k == 0) continue;
        if (total > (int64_t)k && sluice_deadline_samples(g->c, names[i], total, jobs + k, &more, NULL) < 0) continue;
        k += more;
        sluice_deadline_lift *l = &cw[i].lift;
        sluice_deadline_lift_compute(law, cw[i].reserve, g->memo[i].full_rate, cw[i].slots, jobs, k, at, l);
        cw[i].lifted = 1;
        char early[96] = "", miss[96] = "";
        if (l->fraction > law)
            snprintf(early, sizeof(early), "admitted early for its deadline: +%.2f of its reserve %.2f",
                     l->fraction - law, cw[i].reserve);
        if (l->miss_ms > 0)
            snprintf(miss, sizeof(miss), "%s at the current rate by %lld s",
                     early[0] ? ", and will miss it" : "will miss its deadline",
                     (long long)((l->miss_ms + 999) / 1000));
        if (!early[0] && !miss[0]) continue;
        char say[200];
        snprintf(say, sizeof(say), "%s%s", early, miss);
        reason_join(&cls[i], cls[i].reason, say);
        cls[i].fraction = l->fraction;
    }
}

/* Runs the law over the signals and the classes inside their windows (or
 * without any; cw[i].at says), holds the others (hold_outside), then writes each class's
 * gate (recorded, not enforced, in shadow mode); fills *d. Returns 0, or -1
 * with err set. */
static int govern(sluice_governor *g, const sluice_governor_report *r, const sluice_law_signal *sig, size_t nsig,
                  char **names, sluice_law_class *cls, class_read *cw, size_t ncls, sluice_law_decision *d,
                  sluice_error *err) {
    int64_t clock = r->now + g->o.clock_offset_ms;
    sluice_law_class *open = calloc(ncls + 1, sizeof(*open));
    size_t *at = calloc(ncls + 1, sizeof(*at)), nopen = 0;
    if (!open || !at) {
        free(open);
        free(at);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: out of memory");
        return -1;
    }
    for (size_t i = 0; i < ncls; i++)
        if (cw[i].at.open) at[nopen] = i, open[nopen++] = cls[i];
    sluice_error lerr;
    int rc = sluice_law_tick(&g->o.law, &g->st, r->now, sig, nsig, open, nopen, d, &lerr);
    if (rc < 0) sluice_error_set(err, lerr.code, "governor: control law refused its input: %s", lerr.text);
    for (size_t k = 0; rc == 0 && k < nopen; k++) {
        sluice_law_class *c = &cls[at[k]];
        *c = open[k];
        if (cw[at[k]].n) {
            char where[SLUICE_LAW_REASON];
            window_state_say(cw[at[k]].w, cw[at[k]].n, &cw[at[k]].at, clock, where, sizeof(where));
            reason_join(c, where, open[k].reason);
        }
    }
    for (size_t i = 0; rc == 0 && i < ncls; i++)
        if (!cw[i].at.open) hold_outside(&cls[i], &cw[i], clock);
    if (rc == 0) lift_for_deadlines(g, names, cls, cw, ncls);
    free(open);
    free(at);
    return rc < 0 ? -1 : write_gates(g, r->mode, r->epoch, names, cls, cw, ncls, err);
}

/* Commits the law's state and the decision as JSON (kept in g->decision).
 * Returns 0, or -1 with err set. */
static int commit(sluice_governor *g, const sluice_governor_report *r, const sluice_law_decision *d,
                  const sluice_law_signal *sig, size_t nsig, const sluice_law_class *cls, const class_read *cw,
                  size_t ncls, sluice_error *err) {
    char st[STATE_TEXT];
    char *text = decision_json(g, r, d, sig, nsig, cls, cw, ncls);
    if (!text || sluice_law_state_encode(&g->st, st, sizeof(st), err) < 0) {
        free(text);
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: cannot encode the decision");
        return -1;
    }
    free(g->decision);
    g->decision = text;
    return sluice_governor_commit(g->c, g->owner, r->epoch, st, text, g->o.history_max, err);
}

int sluice_governor_tick(sluice_governor *g, sluice_governor_report *report, sluice_error *err) {
    sluice_error_reset(err);
    sluice_governor_report r;
    memset(&r, 0, sizeof(r));
    int leads = lead(g, &r, err);
    if (leads < 0) return -1;
    if (!leads) {
        if (report) *report = r;
        return 0;
    }

    int rc = -1;
    size_t nsig = 0, ncls = 0;
    char **names = NULL;
    sluice_law_class *cls = NULL;
    class_read *cw = NULL;
    sluice_law_signal *sig = NULL;
    sluice_signal_info *info = sluice_signal_list(g->c, &nsig, &r.now, err);
    if (!info && err && err->code) goto out;
    if (nsig && !(sig = calloc(nsig, sizeof(*sig)))) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "governor: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsig; i++) sluice_signal_law(&info[i], &sig[i]);
    sluice_error lerr;
    names = sluice_class_list(g->c, &ncls, &lerr);
    if (lerr.code) {
        sluice_error_set(err, lerr.code, "%s", lerr.text);
        goto out;
    }
    if (!(cls = read_classes(g, r.mode, names, ncls, r.now, &cw, err))) goto out;
    r.classes = ncls;
    for (size_t i = 0; i < ncls; i++) windows_at(cw[i].w, cw[i].n, g->zones, r.now + g->o.clock_offset_ms, &cw[i].at);

    sluice_law_decision d;
    memset(&d, 0, sizeof(d));
    if (r.mode == SLUICE_GOVERNOR_OFF) {
        if (ungovern(g, names, cls, ncls, &d, err) < 0) goto out;
    } else if (govern(g, &r, sig, nsig, names, cls, cw, ncls, &d, err) < 0) {
        goto out;
    }
    r.action = d.action;
    r.pressure = d.pressure;
    snprintf(r.driver, sizeof(r.driver), "%s", d.driver ? d.driver : "");
    snprintf(r.summary, sizeof(r.summary), "%s", d.summary);
    if (commit(g, &r, &d, sig, nsig, cls, cw, ncls, err) < 0) goto out;
    rc = 0;
out:
    if (rc < 0 && err && err->code == SLUICE_ERR_STALE) g->epoch = 0;
    free(sig);
    sluice_signal_list_free(info, nsig);
    free(cls);
    free(cw);
    sluice_class_list_free(names, ncls);
    if (report) *report = r;
    return rc;
}
