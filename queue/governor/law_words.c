/* The control law's words: the names of its actions and stale policies, and
 * the text and error helpers of law_private.h. */
#include "sluice/law.h"
#include "law_private.h"
#include "../words.h"

#include <stdarg.h>
#include <stdio.h>

/* ================================================================ names */

#define STALE_WORD(constant, name) [constant] = name,
static const char *const stale_words[] = {SLUICE_ON_STALE_LIST(STALE_WORD)};
static const char *const action_words[] = {"hold", "cut", "critical", "raise"};

const char *sluice_on_stale_name(sluice_on_stale policy)
{
    return word_of(stale_words, NWORDS(stale_words), (int)policy);
}

int sluice_on_stale_parse(const char *s, sluice_on_stale *out, sluice_error *err)
{
    sluice_error_reset(err);
    int i = word_index(stale_words, NWORDS(stale_words), s, "on_stale policy", err);
    if (i < 0) return -1;
    *out = (sluice_on_stale)i;
    return 0;
}

const char *sluice_law_action_name(sluice_law_action a)
{
    return word_of(action_words, NWORDS(action_words), (int)a);
}

int sluice_law_action_parse(const char *s, sluice_law_action *out, sluice_error *err)
{
    sluice_error_reset(err);
    int i = word_index(action_words, NWORDS(action_words), s, "last_action", err);
    if (i < 0) return -1;
    *out = (sluice_law_action)i;
    return 0;
}

/* ================================================================ text */

/* snprintf for plain-words text, where cutting a long signal name short is
 * intended (gcc's -Wformat-truncation does not look through a va_list). */
void law_say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!buf || len == 0) return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ================================================================ checks */

/* Sets SLUICE_ERR_ARGUMENT with the message (the first error wins) and
 * returns -1. */
int law_fail(sluice_error *err, const char *fmt, ...)
{
    char text[SLUICE_ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sluice_error_set(err, SLUICE_ERR_ARGUMENT, "%s", text);
    return -1;
}
