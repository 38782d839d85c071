/* Samplers' settings: a sampler_spec from a config file's "samplers" entry
 * or from a command line's --sampler, checked whole (signal, interval,
 * timeout, the command or the disk device) before a sampler is made. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice.h"
#include "program.h"

#define INTERVAL_MIN 100      /* ms */
#define INTERVAL_MAX 86400000 /* ms, a day */
#define TIMEOUT_MIN 10        /* ms */
#define TIMEOUT_DEFAULT 10000 /* ms, or the interval when shorter */

void sampler_spec_clear(sampler_spec *s) {
    exec_spec_free(s->cmd);
    memset(s, 0, sizeof(*s));
}

static int64_t default_timeout(int64_t interval_ms) {
    return interval_ms < TIMEOUT_DEFAULT ? interval_ms : TIMEOUT_DEFAULT;
}

static int command_ok(char *const *argv, int argc, char *why, size_t wn) {
    if (argc < 1 || !argv[0][0]) {
        snprintf(why, wn, "a sampler command is empty");
        return -1;
    }
    if (!strchr(argv[0], '/')) {
        snprintf(why, wn, "a sampler command must be a path (no PATH search): %.100s", argv[0]);
        return -1;
    }
    return 0;
}

static int device_ok(const char *d) {
    size_t n = strlen(d);
    if (n == 0 || n >= 64) return 0;
    for (const char *p = d; *p; p++)
        if (*p <= ' ' || *p == '/' || *p == 0x7f) return 0;
    return 1;
}

/* A sampler's "command" and "timeout" (to: NULL if none) into *out. 0 or -1 with why. */
static int command_from_json(const json_t *cmd, const json_t *to, sampler_spec *out, char *why, size_t wn) {
    char *argv[256];
    int argc = config_command(cmd, argv);
    if (argc < 0) {
        snprintf(why, wn, "config: sampler %s: command arguments must be strings", out->signal);
        return -1;
    }
    if (argc == 0) {
        snprintf(why, wn, "config: sampler %s: \"command\" must be a path or an array", out->signal);
        return -1;
    }
    if (command_ok(argv, argc, why, wn) < 0) return -1;
    out->timeout_ms = default_timeout(out->interval_ms);
    if (to && config_duration(to, TIMEOUT_MIN, out->interval_ms, &out->timeout_ms) < 0) {
        snprintf(why, wn, "config: sampler %s: \"timeout\" must be a duration from 10ms to its interval", out->signal);
        return -1;
    }
    out->cmd = exec_spec_new(argv, argc);
    if (!out->cmd) {
        snprintf(why, wn, "out of memory");
        return -1;
    }
    return 0;
}

/* A sampler's "diskstats" into *out; "timeout" (to) must be NULL. 0 or -1 with why. */
static int diskstats_from_json(const json_t *disk, const json_t *to, sampler_spec *out, char *why, size_t wn) {
    const char *key;
    json_t *x;
    if (to) {
        snprintf(why, wn, "config: sampler %s: \"timeout\" is for command samplers", out->signal);
        return -1;
    }
    if (!json_is_object(disk)) {
        snprintf(why, wn, "config: sampler %s: \"diskstats\" must be an object", out->signal);
        return -1;
    }
    json_object_foreach((json_t *)disk, key, x) {
        if (strcmp(key, "device") && strcmp(key, "measure") && strcmp(key, "path")) {
            snprintf(why, wn, "config: sampler %s: diskstats: unknown setting \"%.64s\"", out->signal, key);
            return -1;
        }
    }
    const json_t *dev = json_object_get(disk, "device"), *meas = json_object_get(disk, "measure"),
                 *path = json_object_get(disk, "path");
    if (!json_is_string(dev) || !device_ok(json_string_value(dev))) {
        snprintf(why, wn, "config: sampler %s: diskstats \"device\" must be a device name such as \"vda\"",
                 out->signal);
        return -1;
    }
    if (!json_is_string(meas) || sluice_disk_measure_parse(json_string_value(meas), &out->measure) < 0) {
        snprintf(why, wn, "config: sampler %s: diskstats \"measure\" must be util, iops or await", out->signal);
        return -1;
    }
    if (path && (!json_is_string(path) || json_string_value(path)[0] != '/' ||
                 strlen(json_string_value(path)) >= sizeof(out->path))) {
        snprintf(why, wn, "config: sampler %s: diskstats \"path\" must be an absolute path", out->signal);
        return -1;
    }
    snprintf(out->device, sizeof(out->device), "%s", json_string_value(dev));
    snprintf(out->path, sizeof(out->path), "%s", path ? json_string_value(path) : "/proc/diskstats");
    return 0;
}

int sampler_spec_from_json(const json_t *v, sampler_spec *out, char *why, size_t wn) {
    memset(out, 0, sizeof(*out));
    if (!json_is_object(v)) {
        snprintf(why, wn, "config: each sampler must be an object");
        return -1;
    }
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)v, key, x) {
        if (strcmp(key, "signal") && strcmp(key, "command") && strcmp(key, "diskstats") && strcmp(key, "interval") &&
            strcmp(key, "timeout")) {
            snprintf(why, wn, "config: sampler: unknown setting \"%.64s\"", key);
            return -1;
        }
    }
    const json_t *sig = json_object_get(v, "signal");
    if (!json_is_string(sig) || sluice_name_check(json_string_value(sig), NULL) < 0) {
        snprintf(why, wn, "config: sampler: \"signal\" must be a signal name (^[a-z0-9][a-z0-9_.-]{0,63}$)");
        return -1;
    }
    snprintf(out->signal, sizeof(out->signal), "%s", json_string_value(sig));
    const json_t *iv = json_object_get(v, "interval");
    if (!iv || config_duration(iv, INTERVAL_MIN, INTERVAL_MAX, &out->interval_ms) < 0) {
        snprintf(why, wn, "config: sampler %s: \"interval\" must be a duration 100ms..1d such as \"10s\"", out->signal);
        return -1;
    }
    const json_t *cmd = json_object_get(v, "command"), *disk = json_object_get(v, "diskstats");
    const json_t *to = json_object_get(v, "timeout");
    if (!!cmd == !!disk) {
        snprintf(why, wn, "config: sampler %s needs either \"command\" or \"diskstats\"", out->signal);
        return -1;
    }
    return cmd ? command_from_json(cmd, to, out, why, wn) : diskstats_from_json(disk, to, out, why, wn);
}

int sampler_spec_from_arg(const char *arg, char *const *argv, int argc, sampler_spec *out, char *why, size_t wn) {
    memset(out, 0, sizeof(*out));
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon) {
        snprintf(why, wn, "--sampler wants SIGNAL=INTERVAL:COMMAND [ARG...], got: %.100s", arg);
        return -1;
    }
    if ((size_t)(eq - arg) >= sizeof(out->signal)) {
        snprintf(why, wn, "signal name too long in --sampler");
        return -1;
    }
    memcpy(out->signal, arg, (size_t)(eq - arg));
    out->signal[eq - arg] = '\0';
    if (sluice_name_check(out->signal, NULL) < 0) {
        snprintf(why, wn, "bad signal name in --sampler: %.64s", out->signal);
        return -1;
    }
    char iv[64];
    if ((size_t)(colon - eq - 1) >= sizeof(iv)) {
        snprintf(why, wn, "--sampler %s: bad interval", out->signal);
        return -1;
    }
    memcpy(iv, eq + 1, (size_t)(colon - eq - 1));
    iv[colon - eq - 1] = '\0';
    if (sluice_parse_duration(iv, INTERVAL_MAX, &out->interval_ms, NULL) < 0 || out->interval_ms < INTERVAL_MIN) {
        snprintf(why, wn, "--sampler %s: the interval must be a duration 100ms..1d such as 10s, got %.32s", out->signal,
                 iv);
        return -1;
    }
    char *av[257];
    int ac = 0;
    av[ac++] = (char *)(colon + 1);
    for (int i = 0; i < argc && ac < 256; i++) av[ac++] = argv[i];
    if (command_ok(av, ac, why, wn) < 0) return -1;
    out->timeout_ms = default_timeout(out->interval_ms);
    out->cmd = exec_spec_new(av, ac);
    if (!out->cmd) {
        snprintf(why, wn, "out of memory");
        return -1;
    }
    return 0;
}
