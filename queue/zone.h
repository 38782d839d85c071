/* Time zones from the system's tzdata: a TZif reader (RFC 8536, version 2
 * and later, 64-bit data and the POSIX TZ footer for instants after the last
 * transition) and a cache of the zones read. No process-wide state: no TZ,
 * no tzset, so any thread may use its own zones. Private to libsluice. */
#ifndef SLUICE_ZONE_H
#define SLUICE_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

/* Where the zones are read from (Debian's tzdata). */
#define ZONE_DIR "/usr/share/zoneinfo"

typedef struct zone zone;

/* Whether "name" is a zone name by its syntax: 1..SLUICE_ZONE_NAME_MAX
 * bytes of components [A-Za-z][A-Za-z0-9_+-]* joined by '/'. */
int zone_name_ok(const char *name);

/* Reads the zone "name" from ZONE_DIR. Returns it (NEW, zone_free), or NULL
 * with SLUICE_ERR_ARGUMENT "unknown zone NAME" (no such file, or not a
 * zone) or SLUICE_ERR_NOMEM. */
zone *zone_load(const char *name, sluice_error *err);

/* The zone in TZif data buf[0..len). Returns it (NEW), or NULL with
 * SLUICE_ERR_ARGUMENT (not TZif version 2 or later, truncated, or
 * inconsistent) or SLUICE_ERR_NOMEM. */
zone *zone_from_tzif(const unsigned char *buf, size_t len, sluice_error *err);

/* The zone a POSIX TZ string describes, e.g. "EST5EDT,M3.2.0,M11.1.0"
 * (with the RFC 8536 extensions: hours -167..167 in rule times). Returns it
 * (NEW), or NULL with SLUICE_ERR_ARGUMENT or SLUICE_ERR_NOMEM. */
zone *zone_from_posix(const char *tz, sluice_error *err);

/* The zone's offset from UTC at Unix second t: seconds east, so local
 * time is t + offset. */
int32_t zone_offset(const zone *z, int64_t t);

/* The first Unix second after t at which the zone's offset changes, or
 * INT64_MAX when it never does. */
int64_t zone_next_change(const zone *z, int64_t t);

/* NULL is a no-op. */
void zone_free(zone *z);

/* The zones a caller has used, each read once: again after an hour, so a
 * tzdata upgrade takes effect, and an unknown one after a minute. Not
 * shared between threads: each owner has its own. */
typedef struct zone_cache zone_cache;

/* NEW (zone_cache_free), or NULL when out of memory. */
zone_cache *zone_cache_new(void);

/* The zone "name" at now_ms (ms, the caller's clock; it decides when to read
 * again). Returns it, BORROWED until the next zone_cache_get of the same
 * name or zone_cache_free, or NULL when the zone is unknown (or could not
 * be read), with err set as zone_load sets it. */
const zone *zone_cache_get(zone_cache *zc, const char *name, int64_t now_ms, sluice_error *err);

/* NULL is a no-op. */
void zone_cache_free(zone_cache *zc);

#endif
