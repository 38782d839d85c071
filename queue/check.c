/* The invariant checker: one read-only Function call per class and one for
 * the global keys, pipelined; the registry compared with the declared
 * classes here. See sluice/check.h for what is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

typedef struct checked_class {
    char name[NAME_MAX_LEN + 1];
    int declared;
    int64_t jobs;
} checked_class;

struct sluice_check {
    checked_class *classes;
    size_t nclasses;
    sluice_problem *problems;
    size_t nproblems, cap;
};


void sluice_check_free(sluice_check *k) {
    if (!k) return;
    free(k->classes);
    free(k->problems);
    free(k);
}

size_t sluice_check_count(const sluice_check *k) {
    return k->nproblems;
}

const sluice_problem *sluice_check_problem(const sluice_check *k, size_t i) {
    return i < k->nproblems ? &k->problems[i] : NULL;
}

size_t sluice_check_classes(const sluice_check *k) {
    return k->nclasses;
}

const char *sluice_check_class(const sluice_check *k, size_t i, int *declared, int64_t *jobs) {
    if (i >= k->nclasses) return NULL;
    if (declared) *declared = k->classes[i].declared;
    if (jobs) *jobs = k->classes[i].jobs;
    return k->classes[i].name;
}

/* Appends a problem. Returns 0, or -1 when out of memory. */
static int add_problem(sluice_check *k, const char *cls, const char *code, const char *subject, const char *detail) {
    if (k->nproblems == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        sluice_problem *p = realloc(k->problems, cap * sizeof(*p));
        if (!p) return -1;
        k->problems = p;
        k->cap = cap;
    }
    sluice_problem *p = &k->problems[k->nproblems++];
    snprintf(p->cls, sizeof(p->cls), "%s", cls);
    snprintf(p->code, sizeof(p->code), "%s", code);
    snprintf(p->subject, sizeof(p->subject), "%s", subject);
    snprintf(p->detail, sizeof(p->detail), "%s", detail);
    return 0;
}

/* Reads the problem triples of a reply from element "from" on. Returns 0, or
 * -1 for a malformed reply or no memory (err set). */
static int read_problems(sluice_check *k, const char *cls, const redisReply *r, size_t from, sluice_error *err) {
    if ((r->elements - from) % 3) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "check: unexpected reply");
        return -1;
    }
    for (size_t i = from; i < r->elements; i += 3) {
        char code[16], subject[SLUICE_ID_MAX], detail[200];
        if (reply_strcpy(r->element[i], code, sizeof(code)) < 0 ||
            reply_strcpy(r->element[i + 1], subject, sizeof(subject)) < 0 ||
            reply_strcpy(r->element[i + 2], detail, sizeof(detail)) < 0) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "check: unexpected reply");
            return -1;
        }
        if (add_problem(k, cls, code, subject, detail) < 0) {
            sluice_error_set(err, SLUICE_ERR_NOMEM, "check: out of memory");
            return -1;
        }
    }
    return 0;
}

/* One class's reply: {'checked', jobs, declared, problems...} or
 * {'toobig', jobs}. */
static int read_class(sluice_check *k, checked_class *cc, const redisReply *r, int64_t max_jobs, sluice_error *err) {
    int64_t n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || reply_int(r->element[1], &n) < 0 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "check: unexpected reply");
        return -1;
    }
    if (strcmp(r->element[0]->str, "toobig") == 0) {
        sluice_error_set(err, SLUICE_ERR_STATE,
                "check: class '%s' holds %lld jobs, more than the %lld a check may read while it blocks Redis",
                cc->name, (long long)n, (long long)max_jobs);
        return -1;
    }
    int64_t declared = 0;
    if (strcmp(r->element[0]->str, "checked") != 0 || r->elements < 3 || reply_int(r->element[2], &declared) < 0) {
        sluice_error_set(err, SLUICE_ERR_PROTOCOL, "check: unexpected reply");
        return -1;
    }
    cc->jobs = n;
    cc->declared = declared == 1;
    return read_problems(k, cc->name, r, 3, err);
}

static int in_list(char **names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

/* The registry against the declared classes: a registered class must be
 * declared; a named class that is declared must be registered. */
static int compare_registry(sluice_check *k, char **registry, size_t nreg) {
    for (size_t i = 0; i < k->nclasses; i++) {
        const checked_class *cc = &k->classes[i];
        int reg = in_list(registry, nreg, cc->name);
        if (reg && !cc->declared && add_problem(k, cc->name, "registry", cc->name, "is registered but not declared") < 0)
            return -1;
        if (!reg && cc->declared && add_problem(k, cc->name, "registry", cc->name, "is declared but not registered") < 0)
            return -1;
    }
    return 0;
}

sluice_check *sluice_namespace_check(sluice_client *c, const char *const *classes, size_t n, int64_t max_jobs,
                                     sluice_error *err) {
    sluice_error_reset(err);
    if (max_jobs < 1) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "check: max_jobs must be 1 or more");
        return NULL;
    }
    for (size_t i = 0; classes && i < n; i++)
        if (sluice_name_check(classes[i], err) < 0) return NULL;
    size_t nreg = 0;
    sluice_error lerr;
    char **registry = sluice_class_list(c, &nreg, &lerr);
    if (!registry && lerr.code != SLUICE_OK) {
        sluice_error_set(err, lerr.code, "check: %s", lerr.text);
        return NULL;
    }
    if (!classes || n == 0) {
        classes = (const char *const *)registry;
        n = nreg;
    }

    sluice_check *k = calloc(1, sizeof(*k));
    cmd *cmds = calloc(n + 1, sizeof(*cmds));
    redisReply **replies = calloc(n + 1, sizeof(*replies));
    sluice_error *errs = calloc(n + 1, sizeof(*errs));
    if (k) k->classes = calloc(n + 1, sizeof(*k->classes));
    int ok = k && cmds && replies && errs && k->classes;
    if (!ok) sluice_error_set(err, SLUICE_ERR_NOMEM, "check: out of memory");
    /* the Functions' integers end at 2^53 - 1: a larger bound is no bound */
    int64_t bound = max_jobs < 9007199254740991LL ? max_jobs : 9007199254740991LL;
    for (size_t i = 0; ok && i < n; i++) {
        snprintf(k->classes[i].name, sizeof(k->classes[i].name), "%s", classes[i]);
        cmd_fcall_class(&cmds[i], "sluice_check", c->ns, classes[i]);
        cmd_int(&cmds[i], bound);
    }
    if (ok) {
        k->nclasses = n;
        cmd_fcall_global(&cmds[n], "sluice_check_global", c->ns, CHECK_NKEYS, CHECK_KEYS);
        ok = client_pipeline(c, cmds, n + 1, replies, errs, err) == 0;
    }
    for (size_t i = 0; ok && i <= n; i++) {
        if (!replies[i]) {
            sluice_error_set(err, errs[i].code, "check: %s", errs[i].text);
            ok = 0;
        } else if (i < n) {
            ok = read_class(k, &k->classes[i], replies[i], max_jobs, err) == 0;
        } else if (replies[i]->type != REDIS_REPLY_ARRAY || replies[i]->elements < 2) {
            sluice_error_set(err, SLUICE_ERR_PROTOCOL, "check: unexpected reply");
            ok = 0;
        } else {
            ok = read_problems(k, "", replies[i], 2, err) == 0;
        }
    }
    if (ok && compare_registry(k, registry, nreg) < 0) {
        sluice_error_set(err, SLUICE_ERR_NOMEM, "check: out of memory");
        ok = 0;
    }
    for (size_t i = 0; replies && i <= n; i++)
        if (replies[i]) freeReplyObject(replies[i]);
    for (size_t i = 0; cmds && i <= n; i++) cmd_clear(&cmds[i]);
    free(cmds);
    free(replies);
    free(errs);
    sluice_class_list_free(registry, nreg);
    if (!ok) {
        sluice_check_free(k);
        return NULL;
    }
    return k;
}
