/* A class's fields: the table of sluice/class.h as descriptors, and the one
 * place a field is read, checked, written, parsed and printed. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/* pub comes first: a sluice_class_field * handed out is a struct field *. */
static const struct field {
    sluice_class_field pub;
    size_t offset;
} fields[] = {
#define FIELD(name, kind, lo, hi, def, flag, help)                                                             \
    {{#name, SLUICE_FIELD_##kind, lo, hi, def, flag, help}, offsetof(sluice_class_config, name)},
    SLUICE_CLASS_FIELDS(FIELD)
#undef FIELD
};

const sluice_class_field *sluice_class_field_at(size_t i) {
    return i < NWORDS(fields) ? &fields[i].pub : NULL;
}

const sluice_class_field *sluice_class_field_find(const char *name) {
    for (size_t i = 0; name && i < NWORDS(fields); i++)
        if (strcmp(fields[i].pub.name, name) == 0) return &fields[i].pub;
    return NULL;
}

static void *member(const sluice_class_config *cfg, const sluice_class_field *f) {
    return (char *)cfg + ((const struct field *)f)->offset;
}

static int whole(const sluice_class_field *f) {
    return f->kind == SLUICE_FIELD_INT || f->kind == SLUICE_FIELD_DURATION || f->kind == SLUICE_FIELD_TIER;
}

double sluice_class_field_get(const sluice_class_config *cfg, const sluice_class_field *f) {
    void *p = member(cfg, f);
    switch (f->kind) {
    case SLUICE_FIELD_TIER: return (double)*(sluice_tier *)p;
    case SLUICE_FIELD_RATE:
    case SLUICE_FIELD_NUMBER: return *(double *)p;
    default: return (double)*(int64_t *)p;
    }
}

/* 0 if v is a value the field can hold; else -1 with a message. */
static int check(const sluice_class_field *f, double v, sluice_error *err) {
    if (isfinite(v) && v >= f->lo && v <= f->hi && (!whole(f) || v == floor(v))) return 0;
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s must be %s in %.15g..%.15g", f->name,
                     whole(f) ? "a whole number" : "a number", f->lo, f->hi);
    return -1;
}

int sluice_class_field_set(sluice_class_config *cfg, const sluice_class_field *f, double v, sluice_error *err) {
    sluice_error_reset(err);
    if (check(f, v, err) < 0) return -1;
    void *p = member(cfg, f);
    switch (f->kind) {
    case SLUICE_FIELD_TIER: *(sluice_tier *)p = (sluice_tier)v; break;
    case SLUICE_FIELD_RATE:
    case SLUICE_FIELD_NUMBER: *(double *)p = v; break;
    default: *(int64_t *)p = (int64_t)v; break;
    }
    return 0;
}

int sluice_class_field_parse(sluice_class_config *cfg, const sluice_class_field *f, const char *text,
                             sluice_error *err) {
    sluice_error_reset(err);
    sluice_error e;
    double v = 0;
    int64_t n = 0;
    sluice_tier t = SLUICE_TIER_NORMAL;
    int rc;
    switch (f->kind) {
    case SLUICE_FIELD_TIER: rc = sluice_tier_parse(text, &t, &e), v = t; break;
    case SLUICE_FIELD_RATE: rc = sluice_parse_rate(text, &v, &e); break;
    case SLUICE_FIELD_NUMBER: rc = sluice_parse_number(text, f->lo, f->hi, &v, &e); break;
    case SLUICE_FIELD_INT: rc = sluice_parse_int(text, (int64_t)f->lo, (int64_t)f->hi, &n, &e), v = (double)n; break;
    default: rc = sluice_parse_duration(text, (int64_t)f->hi, &n, &e), v = (double)n; break;
    }
    if (rc < 0) {
        sluice_error_set(err, e.code, "%s: %s", f->name, e.text);
        return -1;
    }
    return sluice_class_field_set(cfg, f, v, err);
}

int sluice_class_field_format(const sluice_class_config *cfg, const sluice_class_field *f, char *buf, size_t len) {
    double v = sluice_class_field_get(cfg, f);
    if (f->kind == SLUICE_FIELD_TIER) {
        const char *name = sluice_tier_name((sluice_tier)v);
        return snprintf(buf, len, "%s", name ? name : "");
    }
    if (whole(f)) return snprintf(buf, len, "%lld", (long long)v);
    /* the shortest text that reads back as the same double */
    int n = snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) n = snprintf(buf, len, "%.17g", v);
    return n;
}

void sluice_class_config_init(sluice_class_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NWORDS(fields); i++) sluice_class_field_set(cfg, &fields[i].pub, fields[i].pub.def, NULL);
}

int sluice_class_config_check(const sluice_class_config *cfg, sluice_error *err) {
    sluice_error_reset(err);
    for (size_t i = 0; i < NWORDS(fields); i++)
        if (check(&fields[i].pub, sluice_class_field_get(cfg, &fields[i].pub), err) < 0) return -1;
    if (cfg->tier != SLUICE_TIER_CRITICAL && cfg->max_rate == 0 && cfg->max_concurrency == 0) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT,
                         "a non-critical class needs max_rate or max_concurrency for the governor to scale");
        return -1;
    }
    if (cfg->backoff_base_ms > cfg->backoff_max_ms) {
        sluice_error_set(err, SLUICE_ERR_ARGUMENT, "backoff_base_ms exceeds backoff_max_ms");
        return -1;
    }
    return 0;
}
