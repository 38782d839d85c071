/* A class's depths and counters, as the sluice_stats Function answers
 * them. Private to libsluice. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include "queue.h"

/* Parses a sluice_stats reply into *out. Returns 0, or -1 with
 * SLUICE_ERR_PROTOCOL. */
int stats_get_reply(const redisReply *r, sluice_class_stats *out, sluice_error *err);

#endif
