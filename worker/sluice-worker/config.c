/* sluice-worker's settings: the command line and the config file, each
 * validated whole (a handler that cannot run refuses them), and what the two
 * together must give. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sluice.h"
#include "program.h"

void config_usage(FILE *f) {
    fprintf(f, "usage: sluice-worker [options] --handler CLASS=COMMAND [ARG...] [--] ...\n"
               "Runs jobs of the given classes with exec handlers (execve, never a shell).\n"
               "  --redis URL          redis://[user:pass@]host[:port][/db], unix:///path or\n"
               "                       redis-sentinel://[user:pass@]host[:port][,...]/MASTER[?db=N]\n"
               "                       (default: $SLUICE_REDIS_URL, else redis://127.0.0.1:6379)\n"
               "  --governor-redis URL the governor's and samplers' Redis URL, e.g. with the ACL\n"
               "                       governor role (default: $SLUICE_GOVERNOR_REDIS_URL, else\n"
               "                       the worker's)\n"
               "  --namespace NS       key prefix (default: $SLUICE_NAMESPACE, else sluice)\n"
               "  --config FILE        JSON settings: {\"handlers\": {\"CLASS\": [\"/path\", \"arg\"]},\n"
               "                       \"concurrency\": N, \"grace\": \"30s\", \"redis\": URL, \"namespace\": NS,\n"
               "                       \"governor_redis\": URL, \"governor\": false,\n"
               "                       \"name\": NAME, \"log_format\": \"json\", \"samplers\": [...],\n"
               "                       \"metrics_port\": PORT, \"metrics_bind\": ADDR}; SIGHUP re-reads\n"
               "                       handlers, samplers and concurrency; the command line wins\n"
               "  --concurrency N      jobs in flight at most (default 16)\n"
               "  --handler CLASS=COMMAND [ARG...]\n"
               "                       COMMAND is a path run with execve; its arguments end at the\n"
               "                       next argument starting with \"--\" (a lone \"--\" is dropped).\n"
               "                       The payload is on stdin; SLUICE_JOB_ID, SLUICE_JOB_CLASS and\n"
               "                       SLUICE_JOB_ATTEMPT in the environment. Exit 0 acks.\n"
               "  --grace DURATION     on SIGTERM/SIGINT, time for jobs in flight (default 30s;\n"
               "                       units ms, s, m, h, d); the rest is released. A second\n"
               "                       signal releases at once.\n"
               "  --log-format F       text (default) or json, one line per event on stderr\n"
               "  --name NAME          consumer name (default sluice-worker:HOST:PID)\n"
               "  --no-governor        do not run the governor in this worker (nor its samplers)\n"
               "  --sampler SIGNAL=INTERVAL:COMMAND [ARG...]\n"
               "                       while this worker's governor leads, run COMMAND (a path, execve)\n"
               "                       every INTERVAL (e.g. 10s; killed after min(INTERVAL, 10s)) and\n"
               "                       report the one number it prints as SIGNAL; arguments end as for\n"
               "                       --handler. Disk samplers and timeouts: config \"samplers\".\n"
               "  --metrics-port PORT  serve Prometheus metrics at http://ADDR:PORT/metrics (0: any port)\n"
               "  --metrics-bind ADDR  the address to serve them on (default 127.0.0.1)\n"
               "  --help               this text\n");
}

void config_misuse(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sluice-worker: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

/* A handler's command is a path to an executable regular file (checked
 * at start and at each reload: a typo must stop the worker, not drain the
 * queue into the dead set). Returns 0, or -1 with why. */
static int runnable(const char *cls, const char *path, char *why, size_t wn) {
    struct stat st;
    if (path[0] != '/' && !strchr(path, '/')) {
        snprintf(why, wn, "handler command must be a path (no PATH search): %s", path);
        return -1;
    }
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
        snprintf(why, wn, "handler for class %s cannot run %s: %s", cls, path,
                 errno ? strerror(errno) : "not a regular file");
        return -1;
    }
    return 0;
}

static int add_handler(settings *s, const char *cls, char *const *argv, int argc, char *why, size_t wn) {
    if (sluice_name_check(cls, NULL) < 0) {
        snprintf(why, wn, "bad class name in --handler: %s", cls);
        return -1;
    }
    if (argc < 1 || !argv[0][0]) {
        snprintf(why, wn, "--handler %s has no command", cls);
        return -1;
    }
    errno = 0;
    if (runnable(cls, argv[0], why, wn) < 0) return -1;
    for (int i = 0; i < s->nh; i++)
        if (strcmp(s->h[i].cls, cls) == 0) {
            snprintf(why, wn, "two handlers for class %s", cls);
            return -1;
        }
    if (s->nh == MAX_HANDLERS) {
        snprintf(why, wn, "too many handlers");
        return -1;
    }
    exec_spec *sp = exec_spec_new(argv, argc);
    if (!sp) {
        snprintf(why, wn, "out of memory");
        return -1;
    }
    snprintf(s->h[s->nh].cls, sizeof(s->h[0].cls), "%s", cls);
    s->h[s->nh].spec = sp;
    s->nh++;
    return 0;
}

void config_clear(settings *s) {
    for (int i = 0; i < s->nh; i++) exec_spec_free(s->h[i].spec);
    s->nh = 0;
    for (int i = 0; i < s->nsmp; i++) sampler_spec_clear(&s->smp[i]);
    s->nsmp = 0;
}

/* Takes *sp (cleared on failure too). */
static int add_sampler(settings *s, sampler_spec *sp, char *why, size_t wn) {
    for (int i = 0; i < s->nsmp; i++)
        if (strcmp(s->smp[i].signal, sp->signal) == 0) {
            snprintf(why, wn, "two samplers for signal %s", sp->signal);
            sampler_spec_clear(sp);
            return -1;
        }
    if (s->nsmp == SAMPLER_MAX) {
        snprintf(why, wn, "too many samplers (at most %d)", SAMPLER_MAX);
        sampler_spec_clear(sp);
        return -1;
    }
    s->smp[s->nsmp++] = *sp;
    return 0;
}

/* The config's "handlers": each class's command, a path or an array of
 * strings. Returns 0 or -1 with why. */
static int read_handlers(settings *s, json_t *v, char *why, size_t wn) {
    if (!json_is_object(v)) {
        snprintf(why, wn, "config: handlers must be an object");
        return -1;
    }
    const char *cls;
    json_t *cmd;
    json_object_foreach(v, cls, cmd) {
        char *argv[256];
        int argc = config_command(cmd, argv);
        if (argc < 0) {
            snprintf(why, wn, "config: handler %s: arguments must be strings", cls);
            return -1;
        }
        if (argc == 0) {
            snprintf(why, wn, "config: handler %s must be a path or an array", cls);
            return -1;
        }
        if (add_handler(s, cls, argv, argc, why, wn) < 0) return -1;
    }
    return 0;
}

/* The config's "samplers", an array. Returns 0 or -1 with why. */
static int read_samplers(settings *s, json_t *v, char *why, size_t wn) {
    if (!json_is_array(v)) {
        snprintf(why, wn, "config: samplers must be an array");
        return -1;
    }
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a) {
        sampler_spec sp;
        if (sampler_spec_from_json(a, &sp, why, wn) < 0) {
            sampler_spec_clear(&sp);
            return -1;
        }
        if (add_sampler(s, &sp, why, wn) < 0) return -1;
    }
    return 0;
}

/* One setting of the config: checked, and kept in *s unless it is a string
 * (keep_strings takes those). Returns 0 or -1 with why. */
static int read_setting(settings *s, const char *key, json_t *v, char *why, size_t wn) {
    if (strcmp(key, "handlers") == 0) {
        return read_handlers(s, v, why, wn);
    } else if (strcmp(key, "concurrency") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000) {
            snprintf(why, wn, "config: concurrency must be an integer 1..10000");
            return -1;
        }
        s->concurrency = (int)json_integer_value(v);
    } else if (strcmp(key, "grace") == 0) {
        if (config_duration(v, 0, GRACE_MAX_MS, &s->grace_ms) < 0) {
            snprintf(why, wn, "config: grace must be a duration with a unit, such as \"30s\" (not a bare number)");
            return -1;
        }
    } else if (strcmp(key, "samplers") == 0) {
        return read_samplers(s, v, why, wn);
    } else if (strcmp(key, "metrics_port") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
            snprintf(why, wn, "config: metrics_port must be an integer 0..65535");
            return -1;
        }
        s->metrics_port = (int)json_integer_value(v);
    } else if (strcmp(key, "redis") == 0 || strcmp(key, "governor_redis") == 0 || strcmp(key, "namespace") == 0 ||
               strcmp(key, "name") == 0 || strcmp(key, "log_format") == 0 || strcmp(key, "metrics_bind") == 0) {
        if (!json_is_string(v)) {
            snprintf(why, wn, "config: %s must be a string", key);
            return -1;
        }
    } else if (strcmp(key, "governor") == 0) {
        if (!json_is_boolean(v)) {
            snprintf(why, wn, "config: governor must be true or false");
            return -1;
        }
        s->no_governor = json_is_false(v);
    } else {
        snprintf(why, wn, "config: unknown setting \"%.64s\"", key);
        return -1;
    }
    return 0;
}

/* Copies the string settings of a checked config "root" into static
 * storage, which lives for the process's lifetime, and points *s at them. */
static void keep_strings(settings *s, json_t *root) {
    static char redis[1024], gredis[1024], ns[256], name[128], lf[16], mb[64];
    json_t *x;
    if ((x = json_object_get(root, "redis"))) {
        snprintf(redis, sizeof(redis), "%s", json_string_value(x));
        s->redis = redis;
    }
    if ((x = json_object_get(root, "governor_redis"))) {
        snprintf(gredis, sizeof(gredis), "%s", json_string_value(x));
        s->governor_redis = gredis;
    }
    if ((x = json_object_get(root, "namespace"))) {
        snprintf(ns, sizeof(ns), "%s", json_string_value(x));
        s->ns = ns;
    }
    if ((x = json_object_get(root, "name"))) {
        snprintf(name, sizeof(name), "%s", json_string_value(x));
        s->name = name;
    }
    if ((x = json_object_get(root, "log_format"))) {
        snprintf(lf, sizeof(lf), "%s", json_string_value(x));
        s->log_format = lf;
    }
    if ((x = json_object_get(root, "metrics_bind"))) {
        snprintf(mb, sizeof(mb), "%s", json_string_value(x));
        s->metrics_bind = mb;
    }
}

/* Reads a config file into *s (fresh). Returns 0 or -1 with why. */
int config_read(const char *path, settings *s, char *why, size_t wn) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    memset(s, 0, sizeof(*s));
    s->grace_ms = -1;
    s->metrics_port = -1;
    if (!root) {
        snprintf(why, wn, "config %s: line %d: %s", path, je.line, je.text);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        snprintf(why, wn, "config %s: not a JSON object", path);
        goto out;
    }
    json_object_foreach(root, key, v) if (read_setting(s, key, v, why, wn) < 0) goto out;
    rc = 0;
    keep_strings(s, root);
out:
    if (rc < 0) config_clear(s);
    json_decref(root);
    return rc;
}

/* Takes the arguments after option argv[*i] and its value, up to the next
 * option ("--" ends them), into out after its first n; leaves *i on the last
 * one taken (or on "--"). Returns the count; too many is a misuse ("what"). */
static int collect(int argc, char **argv, int *i, char **out, int n, const char *what) {
    *i += 2;
    while (*i < argc && strncmp(argv[*i], "--", 2) != 0) {
        if (n == 255) config_misuse("too many arguments for %s", what);
        out[n++] = argv[(*i)++];
    }
    if (*i < argc && strcmp(argv[*i], "--") != 0) (*i)--; /* the next option */
    return n;
}

/* --handler CLASS=COMMAND [ARG...] at argv[*i]. */
static void arg_handler(int argc, char **argv, int *i, settings *s) {
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!val) config_misuse("%s needs CLASS=COMMAND", argv[*i]);
    const char *eq = strchr(val, '=');
    if (!eq) config_misuse("--handler wants CLASS=COMMAND, got: %s", val);
    char cls[65], what[80], why[300];
    if ((size_t)(eq - val) >= sizeof(cls)) config_misuse("class name too long in --handler %s", val);
    memcpy(cls, val, (size_t)(eq - val));
    cls[eq - val] = '\0';
    snprintf(what, sizeof(what), "handler %s", cls);
    char *hv[256];
    hv[0] = (char *)(eq + 1);
    int hc = collect(argc, argv, i, hv, 1, what);
    if (add_handler(s, cls, hv, hc, why, sizeof(why)) < 0) config_misuse("%s", why);
}

/* --sampler SIGNAL=INTERVAL:COMMAND [ARG...] at argv[*i]. */
static void arg_sampler(int argc, char **argv, int *i, settings *s) {
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!val) config_misuse("%s needs SIGNAL=INTERVAL:COMMAND", argv[*i]);
    char *sv[256], why[300];
    int sc = collect(argc, argv, i, sv, 0, "a sampler");
    sampler_spec sp;
    if (sampler_spec_from_arg(val, sv, sc, &sp, why, sizeof(why)) < 0) config_misuse("%s", why);
    if (add_sampler(s, &sp, why, sizeof(why)) < 0) config_misuse("%s", why);
}

/* An option "a" with its value "val" into *s; 0 if "a" is no such option. */
static int arg_valued(const char *a, const char *val, settings *s) {
    int64_t n;
    if (strcmp(a, "--redis") == 0)
        s->redis = val;
    else if (strcmp(a, "--governor-redis") == 0)
        s->governor_redis = val;
    else if (strcmp(a, "--namespace") == 0)
        s->ns = val;
    else if (strcmp(a, "--config") == 0)
        s->config = val;
    else if (strcmp(a, "--name") == 0)
        s->name = val;
    else if (strcmp(a, "--metrics-bind") == 0)
        s->metrics_bind = val;
    else if (strcmp(a, "--metrics-port") == 0) {
        if (sluice_parse_int(val, 0, 65535, &n, NULL) < 0)
            config_misuse("--metrics-port wants a port 0..65535, got %s", val);
        s->metrics_port = (int)n;
    } else if (strcmp(a, "--log-format") == 0) {
        if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0)
            config_misuse("--log-format is text or json, not %s", val);
        s->log_format = val;
    } else if (strcmp(a, "--concurrency") == 0) {
        if (sluice_parse_int(val, 1, 10000, &n, NULL) < 0)
            config_misuse("--concurrency wants an integer 1..10000, got %s", val);
        s->concurrency = (int)n;
    } else if (strcmp(a, "--grace") == 0) {
        if (sluice_parse_duration(val, GRACE_MAX_MS, &s->grace_ms, NULL) < 0)
            config_misuse("--grace wants a duration such as 30s or 500ms, got %s", val);
    } else {
        return 0;
    }
    return 1;
}

void config_parse_args(int argc, char **argv, settings *s) {
    memset(s, 0, sizeof(*s));
    s->grace_ms = -1;
    s->metrics_port = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            exit(0);
        } else if (strcmp(a, "--no-governor") == 0)
            s->no_governor = 1;
        else if (strcmp(a, "--handler") == 0)
            arg_handler(argc, argv, &i, s);
        else if (strcmp(a, "--sampler") == 0)
            arg_sampler(argc, argv, &i, s);
        else if (strcmp(a, "--") == 0)
            continue;
        else if (!val)
            config_misuse("unknown option or missing value: %s", a);
        else if (arg_valued(a, val, s))
            i++;
        else
            config_misuse("unknown option: %s", a);
    }
}

/* What the command line and a config file must give together: something
 * to do. Returns 0, or -1 with why. */
int config_check(const settings *c, const settings *f, char *why, size_t wn) {
    if (c->nh + f->nh + c->nsmp + f->nsmp == 0) {
        snprintf(why, wn, "no handlers: give --handler CLASS=COMMAND or a --config file with \"handlers\"");
        return -1;
    }
    return 0;
}

int config_duration(const json_t *v, int64_t lo, int64_t hi, int64_t *ms) {
    int64_t x;
    if (!json_is_string(v) || sluice_parse_duration(json_string_value(v), hi, &x, NULL) < 0 || x < lo) return -1;
    *ms = x;
    return 0;
}

int config_command(const json_t *v, char **argv) {
    int argc = 0;
    size_t i;
    json_t *a;
    if (json_is_string(v)) {
        argv[argc++] = (char *)json_string_value(v);
        return argc;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) >= 256) return 0;
    json_array_foreach((json_t *)v, i, a) {
        if (!json_is_string(a)) return -1;
        argv[argc++] = (char *)json_string_value(a);
    }
    return argc;
}
