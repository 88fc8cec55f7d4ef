/* Small string helpers the readers and writers share: sorting and de-duplicating names,
 * file-name suffixes and directories, the one rule for relative paths taken from
 * untrusted files (index shard names, zip entry names), and UTF-8 well-formedness
 * (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef WK_COMMON_STRUTIL_H
#define WK_COMMON_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* qsort / bsearch comparator for an array of C strings (const char *). */
int wk_cmp_cstr(const void *a, const void *b);
/* The first name that appears twice in names[0..n), or NULL. Sorts names in place. */
const char *wk_find_duplicate(const char **names, size_t n);

bool wk_has_suffix(const char *s, const char *suffix);
/* The directory part of path as a new heap string: "." when path has no '/', "/" for a
 * file at the root. NULL when out of memory. */
char *wk_dir_of(const char *path);
/* A path that stays below the directory it is relative to: not empty, not absolute, no
 * ".." component, no backslash, no control characters (bytes below 0x20 and 0x7f). */
bool wk_rel_path_safe(const char *name);

/* Length (1..4) of the well-formed UTF-8 sequence at p (n >= 1 bytes left), or 0 when
 * the bytes there are not one. Every ASCII byte, NUL and controls included, counts as 1. */
unsigned wk_utf8_seq_len(const uint8_t *p, size_t n);
/* True when p[0..n) is well-formed UTF-8 without NUL bytes; otherwise false and *bad is
 * the offset of the first offending byte. */
bool wk_utf8_valid(const uint8_t *p, size_t n, size_t *bad);

#endif
