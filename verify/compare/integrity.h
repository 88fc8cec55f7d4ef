/* wk-verify --integrity: every tensor of a GGUF (a single file or a split set) hashed and
 * compared with the xxh64 checksums its writer stored (formats/gguf), all of them, so that
 * each corrupted tensor is named rather than only the first. */
#ifndef WK_VERIFY_COMPARE_INTEGRITY_H
#define WK_VERIFY_COMPARE_INTEGRITY_H

#include <stddef.h>

#include "common/err.h"
#include "formats/gguf/gguf.h"

typedef struct wk_integrity {
    size_t n_tensors, n_matched;
    wk_gguf_sums state;      /* of the first file: none, stored, stale */
    size_t n_bad;
    char **bad;              /* one message per tensor that differs (names it, both hashes) */
} wk_integrity;

/* Fails only when the file cannot be read (not a GGUF, bad structure). */
int wk_integrity_run(const char *path, wk_integrity *out, wk_err *e);
void wk_integrity_free(wk_integrity *r);

#endif
