/* The words of sluice's enums: one lookup behind every _name and _parse
 * pair, so they all behave alike. Private to libsluice. */
#ifndef SLUICE_WORDS_H
#define SLUICE_WORDS_H

#include <stddef.h>

#include "sluice/error.h"

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

/* words[i], or NULL when i is outside [0, n). BORROWED. */
const char *word_of(const char *const *words, size_t n, int i);

/* The index of s in words[0..n), or -1 with SLUICE_ERR_ARGUMENT in *err:
 * 'unknown <what> "s" (one of: a, b, c)'. s may be NULL. */
int word_index(const char *const *words, size_t n, const char *s, const char *what, sluice_error *err);

#endif
