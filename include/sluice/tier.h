/* sluice tiers: how critical a class is. The governor sheds the lowest tier
 * first and never throttles critical. */
#ifndef SLUICE_TIER_H
#define SLUICE_TIER_H

#pragma GCC visibility push(default)

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tiers, most critical first: X(enum constant, name). The one list the
 * enum, the names and the Functions' tier check are made from. */
#define SLUICE_TIER_LIST(X)                                                                                  \
    X(SLUICE_TIER_CRITICAL, "critical") /* never throttled by the governor */                               \
    X(SLUICE_TIER_HIGH, "high")                                                                              \
    X(SLUICE_TIER_NORMAL, "normal")                                                                          \
    X(SLUICE_TIER_LOW, "low") /* shed first */

#define SLUICE_TIER_ENUM(constant, name) constant,
#define SLUICE_TIER_COUNT(constant, name) +1
typedef enum sluice_tier { SLUICE_TIER_LIST(SLUICE_TIER_ENUM) } sluice_tier;
enum { SLUICE_TIERS = 0 SLUICE_TIER_LIST(SLUICE_TIER_COUNT) };
#undef SLUICE_TIER_ENUM
#undef SLUICE_TIER_COUNT

/* "critical", "high", "normal" or "low". BORROWED, static; NULL if invalid. */
const char *sluice_tier_name(sluice_tier tier);

/* Parses a tier name into *out. Returns 0, or -1 with SLUICE_ERR_ARGUMENT
 * (an unknown name; *out unchanged). */
int sluice_tier_parse(const char *name, sluice_tier *out, sluice_error *err);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop

#endif
