/* The words of sluice's enums (words.h). */
#include <stdio.h>
#include <string.h>

#include "words.h"

const char *word_of(const char *const *words, size_t n, int i) {
    return i >= 0 && (size_t)i < n ? words[i] : NULL;
}

int word_index(const char *const *words, size_t n, const char *s, const char *what, sluice_error *err) {
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, words[i]) == 0) return (int)i;
    char list[160] = "";
    for (size_t i = 0, len = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", words[i]);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "unknown %s \"%.40s\" (one of: %s)", what, s ? s : "", list);
    return -1;
}
