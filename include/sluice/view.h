/* sluice views: a class as the operator's tools show it (configuration,
 * depths and counters, gate, and the job it would hand out next), read for
 * many classes in one round trip. */
#ifndef SLUICE_VIEW_H
#define SLUICE_VIEW_H

#pragma GCC visibility push(default)

#include <stddef.h>

#include "sluice/class.h"
#include "sluice/client.h"
#include "sluice/error.h"
#include "sluice/gate.h"
#include "sluice/job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_class_view {
    int found; /* 0: the class is not declared (deleted meanwhile); the rest is zero */
    sluice_class_config cfg;
    sluice_class_stats stats;
    sluice_gate_info gate;
    char head[SLUICE_ID_MAX]; /* the job a claim would take next (highest priority, then
                               * the longest ready); "" when none is ready */
} sluice_class_view;

/* Reads the views of the n classes "names" into out[0..n) (n at most
 * SLUICE_VIEW_MAX), pipelined in one round trip. Returns 0, or -1 with err
 * set (SLUICE_ERR_NAME for a malformed name, SLUICE_ERR_ARGUMENT for n, a
 * connection or protocol error); then out is unspecified. */
#define SLUICE_VIEW_MAX 10000
int sluice_class_view_get(sluice_client *c, const char *const *names, size_t n, sluice_class_view *out,
                          sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
