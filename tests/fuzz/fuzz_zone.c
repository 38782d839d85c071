/* libFuzzer target: the time zones and run windows libsluice parses: TZif
 * data (queue/zone.c, as read from tzdata), the POSIX TZ strings of its
 * footer, window text (sluice_window_parse) and the windows JSON of a class
 * (sluice_windows_parse_json). The first byte picks the parser; a zone that
 * parses is then asked for offsets and changes around instants taken from
 * the input, whose answers must be sane. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Offsets within a day of UTC, and the next change after t, for a few t. */
static void ask(const zone *z, const uint8_t *data, size_t size) {
    int64_t ts[] = {0, -1, 1767225600, 2208988800, INT64_MAX / 4, INT64_MIN / 4};
    if (size >= 8) memcpy(&ts[0], data + size - 8, 8), ts[0] /= 4;
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        int32_t off = zone_offset(z, ts[i]);
        if (off < -26 * 3600 || off > 26 * 3600) abort();
        int64_t next = zone_next_change(z, ts[i]);
        if (next <= ts[i]) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 4;
    data++, size--;
    if (mode == 0) {
        zone *z = zone_from_tzif(data, size, NULL);
        if (z) ask(z, data, size);
        zone_free(z);
        return 0;
    }
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mode == 1) {
        zone *z = zone_from_posix(s, NULL);
        if (z) ask(z, data, size);
        zone_free(z);
    } else if (mode == 2) {
        sluice_window w;
        if (sluice_window_parse(s, &w, NULL) == 0) {
            char text[SLUICE_WINDOW_TEXT];
            sluice_window back;
            /* what it prints reads back as the same window */
            if (sluice_window_format(&w, text, sizeof(text)) >= (int)sizeof(text) ||
                sluice_window_parse(text, &back, NULL) < 0 || memcmp(&w, &back, sizeof(w)) != 0)
                abort();
        }
    } else {
        sluice_window w[SLUICE_WINDOWS_MAX];
        size_t n = 0;
        if (sluice_windows_parse_json(s, w, &n, NULL) == 0 && n > SLUICE_WINDOWS_MAX) abort();
    }
    free(s);
    return 0;
}
