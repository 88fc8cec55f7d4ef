/* The scalar reference quantizers and dequantizers of the ggml block types, one file per
 * family: legacy.c (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1), kquants.c (Q2_K..Q6_K, Q8_K),
 * iq4.c (IQ4_NL, IQ4_XS). The type table (types.c) and the AVX2 twins (kernels/avx2/)
 * reach them through here.
 *
 * wk_dequant_*(src, dst, n): n a multiple of the block size; dst receives n floats.
 * wk_quant_*(src, dst, n, importance, fit): n floats into n / block_size blocks. importance
 * is NULL or n non-negative weights, one per element (llama.cpp's imatrix: the mean square of
 * the activation feeding each column), so with importance n is one row. fit is the search
 * implementation (quant/fit.h): the reference or its AVX2 twin, which give the same bytes.
 * Inputs must be finite (callers check; a NaN would poison the search). */
#ifndef WK_QUANT_QUANTIZE_H
#define WK_QUANT_QUANTIZE_H

#include <stdint.h>

#include "quant/fit.h"

typedef void (*wk_quant_row_fn)(const float *src, void *dst, int64_t n, const float *importance,
                                const wk_fit_kernels *fit);

#define WK_QUANT_FAMILY(X)                                                                       \
    X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q8_1)                                              \
    X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K) X(q8_K)                                              \
    X(iq4_nl) X(iq4_xs)

#define WK_DECLARE_QUANT(name)                                                                   \
    void wk_dequant_##name(const void *src, float *dst, int64_t n);                              \
    void wk_quant_##name(const float *src, void *dst, int64_t n, const float *importance,        \
                         const wk_fit_kernels *fit);
WK_QUANT_FAMILY(WK_DECLARE_QUANT)
#undef WK_DECLARE_QUANT

/* The 6-bit scale and minimum of group j (0..7) of a Q4_K or Q5_K block's packed scales
 * (ggml's get_scale_min_k4). */
void wk_k4_scale_min(int j, const uint8_t *scales, uint8_t *sc, uint8_t *m);

/* Weights a search uses when the caller gave importance: llama.cpp's choice in its imatrix
 * quantizers, importance scaled by the value's own size against the block's spread:
 * w_i = importance_i * sqrt(sigma2 + x_i^2). */
void wk_importance_weights(const float *x, const float *importance, int n, float sigma2,
                           float *w);

#endif
