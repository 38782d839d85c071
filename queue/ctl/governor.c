/* sluicectl governor status|mode|history: the governor's lease, mode and
 * recorded decisions. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

json_t *ctl_governor_json(sluice_client *c, sluice_governor_status *gs, int *code) {
    sluice_error err;
    size_t n = 0;
    if (sluice_governor_status_get(c, gs, &err) < 0) {
        *code = ctl_error(&err);
        return NULL;
    }
    char **h = sluice_governor_history_list(c, 1, &n, &err);
    if (!h && err.code != SLUICE_OK) {
        *code = ctl_error(&err);
        return NULL;
    }
    json_t *o = json_pack("{s:s?, s:I, s:I, s:s, s:I, s:I, s:o}", "leader", gs->leader[0] ? gs->leader : NULL, "epoch",
                          (json_int_t)gs->epoch, "lease_until", (json_int_t)gs->lease_until, "mode",
                          sluice_governor_mode_name(gs->mode), "last_tick", (json_int_t)gs->last_tick, "ticks",
                          (json_int_t)gs->ticks, "last_decision", n ? ctl_json_or_string(h[0]) : json_null());
    sluice_governor_history_free(h, n);
    return o;
}

static int governor_status(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("governor status", argc, argv, NULL, 0, pos, 0, &npos) < 0) return EXIT_USAGE;
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_governor_status st;
    json_t *o = ctl_governor_json(c, &st, &code);
    if (!o) return code;
    if (x->json) return ctl_json_print(o);
    char t1[40], t2[40], words[1024];
    json_t *d = json_object_get(o, "last_decision");
    printf("leader         %s\n", st.leader[0] ? st.leader : "(none)");
    printf("epoch          %lld\n", (long long)st.epoch);
    printf("lease until    %s\n", ctl_time(st.lease_until, t1, sizeof(t1)));
    printf("mode           %s\n", sluice_governor_mode_name(st.mode));
    printf("ticks          %lld (last %s)\n", (long long)st.ticks, ctl_time(st.last_tick, t2, sizeof(t2)));
    printf("last decision  %s\n", ctl_decision_words(json_is_object(d) ? d : NULL, st.now, words, sizeof(words)));
    json_decref(o);
    return EXIT_OK;
}

static int governor_mode(ctl *x, int argc, char **argv) {
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("governor mode", argc, argv, NULL, 0, pos, 1, &npos) < 0) return EXIT_USAGE;
    if (npos != 1) return ctl_usage("governor mode", "needs enforce, shadow or off");
    sluice_governor_mode m;
    if (sluice_governor_mode_parse(pos[0], &m, NULL) < 0)
        return ctl_usage("governor mode", "mode must be enforce, shadow or off, not '%s'", pos[0]);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    if (sluice_governor_mode_set(c, m, &err) < 0) return ctl_error(&err);
    printf("governor mode %s\n", sluice_governor_mode_name(m));
    return EXIT_OK;
}

static int governor_history(ctl *x, int argc, char **argv) {
    ctl_opt opts[] = {{"--count", 1, NULL}};
    const char *pos[1];
    int npos, code = EXIT_OK;
    if (ctl_args("governor history", argc, argv, opts, NOPTS(opts), pos, 0, &npos) < 0) return EXIT_USAGE;
    int64_t count = 10;
    if (opts[0].val && sluice_parse_int(opts[0].val, 1, 1000, &count, NULL) < 0)
        return ctl_usage("governor history", "--count: invalid integer '%s' (1..1000)", opts[0].val);
    sluice_client *c = ctl_client(x, &code);
    if (!c) return code;
    sluice_error err;
    size_t n = 0;
    char **h = sluice_governor_history_list(c, (size_t)count, &n, &err);
    if (!h && err.code != SLUICE_OK) return ctl_error(&err);
    if (x->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, ctl_json_or_string(h[i]));
        sluice_governor_history_free(h, n);
        return ctl_json_print(arr);
    }
    for (size_t i = 0; i < n; i++) printf("%s\n", h[i]);
    sluice_governor_history_free(h, n);
    return EXIT_OK;
}

int cmd_governor(ctl *x, int argc, char **argv) {
    if (argc < 1) return ctl_usage("governor", "needs status, mode or history");
    if (!strcmp(argv[0], "status")) return governor_status(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "mode")) return governor_mode(x, argc - 1, argv + 1);
    if (!strcmp(argv[0], "history")) return governor_history(x, argc - 1, argv + 1);
    return ctl_usage("governor", "unknown subcommand '%s' (status, mode, history)", argv[0]);
}
