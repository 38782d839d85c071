/* libFuzzer target: `sluicectl apply FILE`, the config file parser and
 * validator (queue/ctl/config.c), run on the fuzz bytes as the file. The
 * connection is stubbed out below: a file that validates stops where apply
 * would connect, so nothing here touches Redis. Linked with every file of
 * queue/ctl/ except main.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* main.c's ctl_client, without the network. */
sluice_client *ctl_client(ctl *x, int *code) {
    (void)x;
    *code = EXIT_RUNTIME;
    return NULL;
}

static char path[512];

static void cleanup(void) {
    if (path[0]) unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/sluice-fuzz-config-%ld.json", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    ctl x;
    memset(&x, 0, sizeof(x));
    char *argv[] = {path, "--dry-run", NULL};
    int code = cmd_apply(&x, (size & 1) ? 2 : 1, argv);
    /* usage (invalid file) or the stubbed connection failure; never "ok" */
    if (code != EXIT_USAGE && code != EXIT_RUNTIME) abort();
    return 0;
}
