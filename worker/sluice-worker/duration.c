/* Durations in sluice-worker's config file: a string with a unit ("500ms",
 * "30s", "15m", "2h", "1d"), never a bare number, whose unit a reader would
 * have to guess. */
#include <jansson.h>

#include "sluice.h"
#include "program.h"

int config_duration(const json_t *v, int64_t lo, int64_t hi, int64_t *ms) {
    int64_t x;
    if (!json_is_string(v) || sluice_parse_duration(json_string_value(v), hi, &x) < 0 || x < lo) return -1;
    *ms = x;
    return 0;
}
