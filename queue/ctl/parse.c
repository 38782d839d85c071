/* sluicectl's strict parsing: numbers, durations, rates, and a command's
 * options and positionals. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const char *ctl_opt_get(const ctl_opt *opts, size_t nopts, const char *name) {
    for (size_t i = 0; i < nopts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].val;
    return NULL;
}

int ctl_args(const char *cmd, int argc, char **argv, ctl_opt *opts, size_t nopts, const char **pos, int maxpos,
             int *npos) {
    *npos = 0;
    for (size_t k = 0; k < nopts; k++) opts[k].val = NULL, opts[k].n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            size_t k = 0;
            while (k < nopts && (strlen(opts[k].name) != nlen || strncmp(opts[k].name, a, nlen))) k++;
            if (k == nopts) {
                ctl_usage(cmd, "unknown option '%.*s'", (int)nlen, a);
                return -1;
            }
            if (opts[k].has_arg) {
                if (eq)
                    opts[k].val = eq + 1;
                else if (i + 1 < argc)
                    opts[k].val = argv[++i];
                else {
                    ctl_usage(cmd, "option %s needs a value", opts[k].name);
                    return -1;
                }
                if (opts[k].all && opts[k].n == opts[k].max) {
                    ctl_usage(cmd, "option %s may be given at most %zu times", opts[k].name, opts[k].max);
                    return -1;
                }
                if (opts[k].all) opts[k].all[opts[k].n++] = opts[k].val;
            } else {
                if (eq) {
                    ctl_usage(cmd, "option %s takes no value", opts[k].name);
                    return -1;
                }
                opts[k].val = "1";
            }
        } else {
            if (*npos >= maxpos) {
                ctl_usage(cmd, "unexpected argument '%s'", a);
                return -1;
            }
            pos[(*npos)++] = a;
        }
    }
    return 0;
}
