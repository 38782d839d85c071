/* The governor's decisions as every tool reads and says them: the newest one
 * from the history, and one sentence for it. */
#include <stdio.h>

#include "ctl.h"

json_t *ctl_last_decision(sluice_client *c) {
    size_t n = 0;
    sluice_error err;
    char **h = sluice_governor_history_list(c, 1, &n, &err);
    json_t *d = n ? json_loads(h[0], 0, NULL) : NULL;
    sluice_governor_history_free(h, n);
    if (d && !json_is_object(d)) {
        json_decref(d);
        d = NULL;
    }
    return d;
}

/* How a decision in "mode" acts on the gates. */
static const char *mode_effect(const char *mode) {
    if (!mode) return "mode unknown";
    if (mode[0] == 'e') return "enforced";
    if (mode[0] == 's') return "shadow: recorded, not enforced";
    return "governor off";
}

const char *ctl_decision_words(const json_t *decision, int64_t now, char *buf, size_t len) {
    const char *summary = json_string_value(json_object_get(decision, "summary"));
    if (!decision || !summary) {
        snprintf(buf, len, "no decision yet");
        return buf;
    }
    json_t *t = json_object_get(decision, "t");
    char ago[48] = "", d[32];
    if (now && json_is_integer(t) && now >= json_integer_value(t))
        snprintf(ago, sizeof(ago), ", %s ago", ctl_duration(now - json_integer_value(t), d, sizeof(d)));
    snprintf(buf, len, "%s (%s%s)", summary, mode_effect(json_string_value(json_object_get(decision, "mode"))), ago);
    return buf;
}
