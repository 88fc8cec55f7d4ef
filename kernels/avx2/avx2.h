/* The AVX2/FMA/F16C kernels (kernels/avx2/, built with those flags). Each is the twin of a
 * scalar reference with the same signature, and tests hold the two to the same results.
 * Only kernels/traits.c (which checks the CPU first) and the tests call them. */
#ifndef WK_KERNELS_AVX2_H
#define WK_KERNELS_AVX2_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/rowcheck.h"
#include "kernels/vec.h"
#include "kernels/stats.h"
#include "quant/fit.h"
#include "quant/quantize.h"

/* half.c: twins of quant/half.c's row conversions */
void wk_f16_to_f32_avx2(const void *src, float *dst, int64_t n);
void wk_f32_to_f16_avx2(const float *src, void *dst, int64_t n);
void wk_bf16_to_f32_avx2(const void *src, float *dst, int64_t n);
void wk_f32_to_bf16_avx2(const float *src, void *dst, int64_t n);

/* vec.c: twins of kernels/vec.c */
void wk_cols_dot_avx2(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                      int64_t rows, int64_t n, float scale, float *out, int64_t ldo);
void wk_rows_wsum_avx2(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                       int64_t rows, int64_t n, float *out, int64_t ldo);
void wk_softmax_avx2(float *x, int64_t n);
void wk_swiglu_avx2(float *gate, const float *up, int64_t n);

/* rowcheck.c: twins of kernels/rowcheck.c */
int64_t wk_first_nonfinite_avx2(const float *x, int64_t n);
void wk_row_error_avx2(const float *x, const float *y, int64_t n, wk_row_error *acc);

/* stats.c: twin of wk_stats_block_ref (kernels/stats.c) */
void wk_stats_block_avx2(wk_moments *acc, const float *x, size_t n);

/* fit.c: twins of the scale searches of quant/fit.c (8 groups in the 8 lanes) */
extern const wk_fit_kernels wk_fit_avx2;

/* quant.c, dequant.c: per quantized type of quant/quantize.h, the twins of its
 * dequantizer and of its entry points in the type table (quant/types.h): quantize with
 * importance (NULL or one row of n weights) and from_float without. */
#define WK_DECLARE_QUANT_AVX2(name)                                                              \
    void wk_dequant_##name##_avx2(const void *src, float *dst, int64_t n);                       \
    void wk_quantize_##name##_avx2(const float *src, void *dst, int64_t n,                       \
                                   const float *importance);                                     \
    void wk_from_float_##name##_avx2(const float *src, void *dst, int64_t n);
WK_QUANT_FAMILY(WK_DECLARE_QUANT_AVX2)
#undef WK_DECLARE_QUANT_AVX2

/* dot.c, dot_kquants.c: twins of the dot products of kernels/dot.c, dot_kquants.c
 * (kernels/dot.h; the activations from our quantizers, so Q8 levels in [-127, 127]) */
#define WK_DOT_AVX2(X)                                                                           \
    X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(iq4_nl) X(q2_K) X(q3_K)     \
    X(q4_K) X(q5_K) X(q6_K) X(iq4_xs)
#define WK_DECLARE_DOT_AVX2(name)                                                                \
    void wk_vec_dot_##name##_avx2(int64_t n, float *s, const void *x, const void *y);
WK_DOT_AVX2(WK_DECLARE_DOT_AVX2)
#undef WK_DECLARE_DOT_AVX2

/* repack.c: twins of the levels of kernels/repack.c (kernels/gemm.h) */
#define WK_LEVELS_AVX2(X)                                                                        \
    X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(iq4_nl) X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K)   \
    X(iq4_xs)
#define WK_DECLARE_LEVELS_AVX2(name)                                                             \
    void wk_levels_##name##_avx2(const void *src, int64_t k, uint8_t *q);
WK_LEVELS_AVX2(WK_DECLARE_LEVELS_AVX2)
#undef WK_DECLARE_LEVELS_AVX2

/* gemm.c: the micro-kernels of the tiled products (kernels/gemm.h; no scalar twin: the
 * reference of a tiled product is the dot products) */
void wk_gemm_f32_avx2(int64_t k, const float *w, int64_t ldw, int m, const float *x,
                      int64_t ldx, int n, float *y, int64_t ldy, bool add);
void wk_gemm_q8_avx2(int64_t groups, const wk_q8_rows *w, int m, const wk_q8_acts *a, int n,
                     float *y, int64_t ldy, bool add);

#endif
