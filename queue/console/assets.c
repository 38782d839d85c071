/* The console's page: the files of queue/console/assets/, embedded at build
 * time (scripts/embed-assets.sh writes the table), served by exact path. */
#include <string.h>

#include "console.h"
#include "console_assets.h"

int console_asset(const char *path, const unsigned char **data, size_t *len, const char **type) {
    if (!strcmp(path, "/")) path = "/index.html";
    for (size_t i = 0; i < CONSOLE_NASSETS; i++) {
        if (path[0] != '/' || strcmp(path + 1, CONSOLE_ASSETS[i].name) != 0) continue;
        *data = CONSOLE_ASSETS[i].data;
        *len = CONSOLE_ASSETS[i].len;
        *type = CONSOLE_ASSETS[i].type;
        return 0;
    }
    return -1;
}
