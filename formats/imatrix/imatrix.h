/* Importance matrices (llama.cpp's imatrix files), so users reuse the ones they have.
 *
 * Two formats, told apart by content (llama.cpp tools/imatrix/imatrix.cpp writes both,
 * common/imatrix-loader.cpp and tools/quantize/quantize.cpp read them):
 *   GGUF (general.type "imatrix"): per weight tensor W, F32 tensors "W.in_sum2" (n_in x n_mat:
 *     sums of the squared activations feeding each column) and "W.counts" (n_mat: how many
 *     activations were summed); importance = in_sum2 / counts, 1 where a count is 0;
 *     imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size are required.
 *   legacy .dat: i32 entries; per entry i32 name length, the name, i32 ncall, i32 nval, nval
 *     f32 (mean x ncall); then i32 chunk count and an optional dataset name. Importance =
 *     value / ncall.
 * Every count, length and size is checked against the file; errors name the file, the
 * entry and the offset. n_mat > 1 (mixture-of-experts) entries are read whole. */
#ifndef WK_FORMATS_IMATRIX_H
#define WK_FORMATS_IMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct wk_imatrix_entry {
    char *name;          /* the weight tensor, GGUF naming ("blk.0.attn_q.weight") */
    uint64_t n_in;       /* columns of the weight */
    uint64_t n_mat;      /* 1 for a dense weight, the expert count otherwise */
    float *importance;   /* n_in * n_mat */
} wk_imatrix_entry;

typedef struct wk_imatrix {
    char *path;
    const char *format;  /* "gguf" or "legacy" */
    size_t n;
    wk_imatrix_entry *entries; /* sorted by name */
    uint32_t chunk_count;
    char *dataset;       /* the first dataset named, or NULL */
} wk_imatrix;

int wk_imatrix_load(const char *path, wk_imatrix **out, wk_err *e);
void wk_imatrix_free(wk_imatrix *im);
/* The entry for weight tensor name, or NULL. */
const wk_imatrix_entry *wk_imatrix_find(const wk_imatrix *im, const char *name);

#endif
