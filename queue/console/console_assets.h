/* The table of the console's embedded files, which scripts/embed-assets.sh
 * generates from queue/console/assets/ at build time. */
#ifndef SLUICE_CONSOLE_ASSETS_H
#define SLUICE_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct console_asset_file {
    const char *name; /* the file's name, e.g. "console.js" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} console_asset_file;

extern const console_asset_file CONSOLE_ASSETS[];
extern const size_t CONSOLE_NASSETS;

#endif
