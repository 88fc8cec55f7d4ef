/* Which weights pruning removes: selection on F32 rows, writing only zeros.
 *
 * A weight's score is |w_j| * scale_j (scale NULL: |w_j|; Wanda passes the norm of each
 * input column). Scores are compared as the bit patterns of non-negative floats, which
 * order like the numbers (a NaN ranks above infinity, so a NaN weight is always kept), and
 * ties go by index: of two equal scores the lower index is pruned first. Everything kept is
 * left untouched, so kept weights stay bit-identical to the input.
 *   - Row scope: the floor(s * n) smallest scores of each row (rounding down, as llama.cpp
 *     does for its counts), found by partial selection (quickselect, O(n)), not a sort.
 *   - N:M: in every group of m consecutive weights of a row the n largest scores are kept.
 *   - Tensor and global scope: one threshold on |w| for a whole tensor or for every pruned
 *     tensor of the model, found exactly by a radix select over the float bit patterns
 *     (two passes over the data, two 64 Ki-entry histograms, whatever the model size); the
 *     weights below it are zeroed, then of those equal to it the first ones in row-major
 *     order (and, across tensors, in the order they are applied) until the count is exact.
 * The row functions allocate nothing; the matrix ones run OpenMP over rows with scratch
 * allocated once per call. Results do not depend on the thread count. */
#ifndef WK_QUANT_PRUNE_H
#define WK_QUANT_PRUNE_H

#include <stdint.h>

#include "common/err.h"

/* How many of n weights a sparsity s in [0, 1) prunes: floor(x + 1e-12 * x) with x = s * n
 * in double, the allowance making 0.29 * 100 (28.999999999999996 in double) give 29. */
int64_t wk_prune_count(double s, int64_t n);

/* Zeroes the k smallest scores of w[0..n) (k <= n, n < 2^32); scratch holds n values. */
void wk_prune_row(float *w, const float *scale, int64_t n, int64_t k, uint64_t *scratch);

/* Keeps the keep largest scores of every group of m consecutive weights of w[0..n) (n a
 * multiple of m, 1 <= keep < m); scratch holds m values. */
void wk_prune_row_nm(float *w, const float *scale, int64_t n, uint32_t keep, uint32_t m,
                     uint64_t *scratch);

/* Over a rows x cols matrix, OpenMP over rows: wk_prune_row with k = wk_prune_count(s,
 * cols) in every row, or wk_prune_row_nm. scale (cols values) applies to every row. */
int wk_prune_rows(float *w, int64_t rows, int64_t cols, const float *scale, double s, wk_err *e);
int wk_prune_rows_nm(float *w, int64_t rows, int64_t cols, const float *scale, uint32_t keep,
                     uint32_t m, wk_err *e);

/* The exact threshold for tensor and global scope. Use: init with k, the number of weights to
 * zero; pass 1: add every weight, next; pass 2: add every weight again, next; then apply to
 * each tensor in turn (the same weights, in the order that decides ties). */
typedef struct wk_prune_select {
    uint64_t k;          /* weights to zero */
    int pass;            /* 0, 1: adding; 2: threshold known */
    uint32_t high;       /* pass 1: the top 16 bits of |w| where the k-th smallest lies */
    uint64_t below;      /* weights known to be below the threshold */
    uint64_t *hist;      /* 65536 counts */
    uint32_t threshold;  /* bit pattern of the k-th smallest |w| */
    uint64_t ties;       /* weights equal to the threshold still to zero */
    int n_threads;       /* per-thread histograms in local (for large adds) */
    uint64_t *local;
} wk_prune_select;

int wk_prune_select_init(wk_prune_select *s, uint64_t k, wk_err *e);
void wk_prune_select_add(wk_prune_select *s, const float *w, int64_t n);
void wk_prune_select_next(wk_prune_select *s);
/* Zeroes what falls below the threshold in a rows x cols matrix, and the first of those equal
 * to it while s->ties lasts. */
int wk_prune_select_apply(wk_prune_select *s, float *w, int64_t rows, int64_t cols, wk_err *e);
void wk_prune_select_free(wk_prune_select *s);

#endif
