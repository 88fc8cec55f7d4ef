/* Warnings collected by library code for main() to print. Each warning is its own heap
 * string, kept in order, with no length limit, so none is truncated or dropped for lack of
 * room; one that cannot be stored (out of memory) is counted in `lost`, so the tool can
 * still say that something was not shown.
 *
 *   wk_warnings w = {0};
 *   wk_warn(&w, "%s: vocab_size %d", path, n);
 *   for (size_t i = 0; i < w.n; i++) puts(w.msg[i]);
 *   wk_warnings_free(&w); */
#ifndef WK_COMMON_WARN_H
#define WK_COMMON_WARN_H

#include <stddef.h>

typedef struct wk_warnings {
    size_t n;    /* messages in msg[0..n) */
    size_t cap;
    char **msg;  /* one warning each, without a trailing newline */
    size_t lost; /* warnings that could not be stored: out of memory */
} wk_warnings;

/* Appends one formatted warning. Returns 0, or -1 (and counts it in w->lost) when out of
 * memory. */
int wk_warn(wk_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every message; w is left empty and reusable. */
void wk_warnings_free(wk_warnings *w);

#endif
