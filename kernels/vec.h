/* The float-vector steps of attention over a KV cache: queries against the cached keys, and
 * the probability-weighted sums of the cached value rows. The scalar references are here,
 * the AVX2/FMA twins in kernels/avx2/vec.c (and AVX-512 ones of the two products in
 * kernels/avx512/vec.c), reached through the CPU traits
 * (wk_cpu_kernels). The twins sum in another order and fuse their multiply-adds, so the two
 * agree to rounding, not bit for bit.
 *
 * Both a token's decode and a prompt take the G query heads that share a KV head together:
 * against keys stored transposed (a column per key: the cache keeps them so, in tiles of 32
 * positions, models/llama_forward.c), so that a vector holds the scores of consecutive keys
 * and no sum across lanes is needed, and their weighted sums as G rows of probabilities at
 * once, each value row read once for the G heads. */
#ifndef WK_KERNELS_VEC_H
#define WK_KERNELS_VEC_H

#include <stdint.h>

/* out[g * ldo + j] = scale * sum over i < n of q[g * ldq + i] * kt[i * ldk + j], for g < G
 * and j < rows (G queries against rows keys stored transposed) */
void wk_cols_dot_ref(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                     int64_t rows, int64_t n, float scale, float *out, int64_t ldo);
/* out[g * ldo + i] = sum over j < rows of p[g * ldp + j] * v[j * stride + i], for g < G and
 * i < n */
void wk_rows_wsum_ref(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                      int64_t rows, int64_t n, float *out, int64_t ldo);
/* In place: x = softmax(x) over n values (the largest subtracted first) */
void wk_softmax_ref(float *x, int64_t n);
/* In place: gate = silu(gate) * up = gate / (1 + e^-gate) * up, n values (SwiGLU) */
void wk_swiglu_ref(float *gate, const float *up, int64_t n);

#endif
