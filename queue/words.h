/* The words of sluice's enums: one lookup behind every _name and _parse
 * pair, so they all behave alike. Private to libsluice. */
#ifndef SLUICE_WORDS_H
#define SLUICE_WORDS_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sluice/error.h"

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

/* words[i], or NULL when i is outside [0, n). BORROWED. */
static inline const char *word_of(const char *const *words, size_t n, int i) {
    return i >= 0 && (size_t)i < n ? words[i] : NULL;
}

/* The index of s in words[0..n), or -1 with SLUICE_ERR_ARGUMENT in *err:
 * 'unknown <what> "s" (one of: a, b, c)'. s may be NULL. */
static inline int word_index(const char *const *words, size_t n, const char *s, const char *what, sluice_error *err) {
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, words[i]) == 0) return (int)i;
    char list[160] = "";
    for (size_t i = 0, len = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", words[i]);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "unknown %s \"%.40s\" (one of: %s)", what, s ? s : "", list);
    return -1;
}

#endif
