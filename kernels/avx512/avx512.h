/* The AVX-512 kernels (kernels/avx512/, built with AVX-512 F/BW/VL/VNNI flags beside the
 * AVX2 ones). They exist where a wider register pays most: in prompt processing, which is
 * compute-bound, the micro-kernels of the tiled products and the batched attention steps; in
 * decoding, the matrix-vector products of the types where they measured faster than the
 * per-row dot products (their unpacking, or sixteen float weights a step). Everything else
 * keeps its AVX2 twin. Only kernels/traits.c (which checks the CPU first) and the tests call
 * them. */
#ifndef WK_KERNELS_AVX512_H
#define WK_KERNELS_AVX512_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"

/* gemm.c: the micro-kernels (kernels/gemm.h), held like their AVX2 twins to the dot products */
void wk_gemm_f32_avx512(int64_t k, const float *w, int64_t ldw, int m, const float *x,
                        int64_t ldx, int n, float *y, int64_t ldy, bool add);
void wk_gemm_f16_avx512(int64_t k, const void *w, int64_t ldw, int m, const float *x,
                        int64_t ldx, int n, float *y, int64_t ldy, bool add);
void wk_gemm_q8_avx512(int64_t groups, const wk_q8_rows *w, int m, const wk_q8_acts *a, int n,
                       float *y, int64_t ldy, bool add);

/* vec.c: the attention steps (kernels/vec.h), held like their AVX2 twins to float64 */
void wk_cols_dot_avx512(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                        int64_t rows, int64_t n, float scale, float *out, int64_t ldo);
void wk_rows_wsum_avx512(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                         int64_t rows, int64_t n, float *out, int64_t ldo);

/* matvec.c: decoding's matrix-vector products (kernels/dot.h), held to the dot products */
size_t wk_matvec_prep_size_q4_0_avx512(int64_t n);
void wk_matvec_prep_q4_0_avx512(int64_t n, const void *act, void *prep);
void wk_matvec_q4_0_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep);
size_t wk_matvec_prep_size_q8_0_avx512(int64_t n);
void wk_matvec_prep_q8_0_avx512(int64_t n, const void *act, void *prep);
void wk_matvec_q8_0_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep);
size_t wk_matvec_prep_size_q8_K_avx512(int64_t n);
void wk_matvec_prep_q8_K_avx512(int64_t n, const void *act, void *prep);
void wk_matvec_q4_K_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep);
void wk_matvec_q6_K_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep);

/* matvec_float.c: the same for float weights with F32 activations (prepared: copied aligned) */
size_t wk_matvec_prep_size_f32_avx512(int64_t n);
void wk_matvec_prep_f32_avx512(int64_t n, const void *act, void *prep);
void wk_matvec_f32_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                          const void *prep);
void wk_matvec_f16_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                          const void *prep);
void wk_matvec_bf16_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep);

#endif
