/* One growth rule for every heap array that is appended to: capacity doubles (from
 * WK_GROW_MIN elements) until it holds what is needed, and the byte count is checked for
 * overflow before realloc is asked, so a huge count from an untrusted file fails cleanly. */
#ifndef WK_COMMON_GROW_H
#define WK_COMMON_GROW_H

#include <stddef.h>

#define WK_GROW_MIN 16 /* elements in the first allocation */

/* Makes *p (an array of *cap elements of elem_size bytes, or NULL with *cap 0) hold at least
 * need elements. Returns 0, or -1 when the size overflows or realloc fails; then *p and
 * *cap are unchanged and still owned by the caller. New elements are not initialised. */
int wk_grow(void **p, size_t *cap, size_t need, size_t elem_size);

/* The capacity wk_grow picks for need elements when it has cap: cap when that is enough,
 * else cap (or WK_GROW_MIN) doubled until >= need, at most SIZE_MAX / elem_size. 0 when
 * need elements of elem_size bytes do not fit in a size_t (or elem_size is 0). */
size_t wk_grow_cap(size_t cap, size_t need, size_t elem_size);

#endif
