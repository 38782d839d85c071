/* sluice tiers: how critical a class is. The governor sheds the lowest tier
 * first and never throttles critical. */
#ifndef SLUICE_TIER_H
#define SLUICE_TIER_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_tier {
    SLUICE_TIER_CRITICAL = 0, /* never throttled by the governor */
    SLUICE_TIER_HIGH,
    SLUICE_TIER_NORMAL,
    SLUICE_TIER_LOW           /* shed first */
} sluice_tier;

#define SLUICE_TIERS 4

/* "critical", "high", "normal" or "low". BORROWED, static; NULL if invalid. */
const char *sluice_tier_name(sluice_tier tier);

/* Parses a tier name into *out. Returns 0, or -1 for an unknown name. */
int sluice_tier_parse(const char *name, sluice_tier *out);

#ifdef __cplusplus
}
#endif
#endif
