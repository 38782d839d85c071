/* The control law's state between ticks, and its JSON form (stored by the
 * governor in Redis). */
#include "sluice/law.h"
#include "law_private.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int law_state_check(const sluice_law_state *st, sluice_error *err)
{
    if (st->ticks < 0) return law_fail(err, "state: ticks is negative");
    if (st->has_change != 0 && st->has_change != 1)
        return law_fail(err, "state: has_change must be 0 or 1");
    if (st->calm != 0 && st->calm != 1) return law_fail(err, "state: calm must be 0 or 1");
    if (!sluice_law_action_name(st->last_action)) return law_fail(err, "state: unknown last_action");
    if (st->has_change && st->last_action == SLUICE_LAW_HOLD)
        return law_fail(err, "state: a change cannot be a hold");
    if (!isfinite(st->last_pressure)) return law_fail(err, "state: last_pressure is not finite");
    if (st->has_reading != 0 && st->has_reading != 1)
        return law_fail(err, "state: has_reading must be 0 or 1");
    if (!isfinite(st->smoothed) || st->smoothed > PRESSURE_MAX || st->smoothed < -PRESSURE_MAX)
        return law_fail(err, "state: smoothed is not a finite pressure");
    return 0;
}

void sluice_law_state_init(sluice_law_state *st)
{
    if (!st) return;
    memset(st, 0, sizeof *st);
    st->last_action = SLUICE_LAW_HOLD;
    st->last_pressure = 0;
    st->smoothed = 0;
}

int sluice_law_state_encode(const sluice_law_state *st, char *buf, size_t len, sluice_error *err)
{
    json_t *o;
    char *text;
    size_t n;

    sluice_error_reset(err);
    if (buf && len > 0) buf[0] = '\0';
    if (!st || !buf || len == 0) return law_fail(err, "state encode: st or buf is NULL or empty");
    if (law_state_check(st, err) < 0) return -1;
    o = json_pack("{s:i, s:I, s:I, s:b, s:I, s:s, s:f, s:b, s:I, s:b, s:f}",
                  "v", STATE_VERSION,
                  "ticks", (json_int_t)st->ticks,
                  "last_tick_ms", (json_int_t)st->last_tick_ms,
                  "has_change", st->has_change,
                  "last_change_ms", (json_int_t)st->last_change_ms,
                  "last_action", sluice_law_action_name(st->last_action),
                  "last_pressure", st->last_pressure,
                  "calm", st->calm,
                  "calm_since_ms", (json_int_t)st->calm_since_ms,
                  "has_reading", st->has_reading,
                  "smoothed", st->smoothed);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "state encode: out of memory");
        return -1;
    }
    n = strlen(text);
    if (n >= len) {
        free(text);
        return law_fail(err, "state encode: buf holds %zu bytes, %zu needed", len, n + 1);
    }
    memcpy(buf, text, n + 1);
    free(text);
    return 0;
}

int sluice_law_state_decode(const char *text, sluice_law_state *st, sluice_error *err)
{
    json_t *root;
    json_error_t jerr;
    sluice_law_state s;
    int has_change = 0, calm = 0, has_reading = 0;
    json_int_t version = 0, ticks = 0, last_tick = 0, last_change = 0, calm_since = 0;
    const char *action = NULL;
    double pressure = 0, smoothed = 0;
    int rc = -1, ok;

    sluice_error_reset(err);
    if (!text || !st) return law_fail(err, "state decode: text or st is NULL");
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return law_fail(err, "state decode: not JSON (%.100s)", jerr.text);
    ok = json_is_object(root) &&
         json_unpack_ex(root, &jerr, 0, "{s:I, s:I, s:I, s:b, s:I, s:s, s:F, s:b, s:I}",
                        "v", &version,
                        "ticks", &ticks,
                        "last_tick_ms", &last_tick,
                        "has_change", &has_change,
                        "last_change_ms", &last_change,
                        "last_action", &action,
                        "last_pressure", &pressure,
                        "calm", &calm,
                        "calm_since_ms", &calm_since) == 0;
    /* v2 smoothed per reading (its reading_* members are not needed now);
     * v1 did not smooth: the new leader starts from the next value. */
    if (ok && (version == STATE_VERSION || version == 2))
        ok = json_unpack_ex(root, &jerr, 0, "{s:b, s:F}",
                            "has_reading", &has_reading,
                            "smoothed", &smoothed) == 0;
    else if (ok && version != 1)
        ok = law_fail(err, "state decode: unknown version %lld", (long long)version) == 0;
    if (!ok) law_fail(err, "state decode: %.100s", json_is_object(root) ? jerr.text : "not an object");
    if (ok) {
        sluice_law_state_init(&s);
        s.ticks = (int64_t)ticks;
        s.last_tick_ms = (int64_t)last_tick;
        s.has_change = has_change ? 1 : 0;
        s.last_change_ms = (int64_t)last_change;
        s.last_pressure = pressure;
        s.calm = calm ? 1 : 0;
        s.calm_since_ms = (int64_t)calm_since;
        s.has_reading = has_reading ? 1 : 0;
        s.smoothed = smoothed;
        if (sluice_law_action_parse(action, &s.last_action, err) == 0 && law_state_check(&s, err) == 0) {
            *st = s;
            rc = 0;
        }
    }
    json_decref(root);
    return rc;
}
