/* Tiled matrix products for a batch of activation rows (prompt processing), the batched
 * counterpart of kernels/dot.h.
 *
 * One dot product per (weight row, activation row) reads each weight row once per activation
 * row and unpacks its nibbles and high bits every time. Here, as in llamafile's tinyBLAS, a
 * tile of weight rows meets a tile of activation rows in registers, and a thread first brings
 * a block of weight rows into one of two forms that its micro-kernel reads:
 *
 * - float weights (F32, F16, BF16) are decoded to F32 and multiplied with the F32 activations;
 * - every quantized type is repacked, exactly, into one canonical int8 form: per 32 values 32
 *   integer levels, the scale and the float offset of each 16, so that value i is
 *   s * q_i + m (q unsigned in [0, 63] for all types but Q8_0, IQ4_NL and IQ4_XS, whose
 *   levels are signed bytes and whose m is 0); s is an integer scale of each 16 times a float
 *   scale of the block or super-block. The activations, quantized as for the dot
 *   products, are laid out the same way (their levels, the scale of each 32, and
 *   scale * sum of each 16 for the offsets' share).
 *
 * One int8 micro-kernel then serves every type. Only the repacking is per type; the
 * micro-kernels exist as SIMD code only (kernels/avx2/gemm.c, and kernels/avx512/gemm.c
 * where the CPU has AVX-512 with VNNI): without them matmul falls back to the dot products,
 * which are the reference the tests hold this path to. */
#ifndef WK_KERNELS_GEMM_H
#define WK_KERNELS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/types.h"

/* Weight rows in canonical int8 form: row r, 32-group g holds its 32 levels at
 * q + r * ldq + 32 g; the integer scales of its two 16s at sc + r * ldsc + 16 g, each repeated
 * 8 times (as vpmaddubsw leaves the 32 levels' pair sums: 8 int16 lanes per 16); the float
 * scale of span groups (1: the 32-block types, 8: the super-blocks) at
 * d[r * ldd + g / span]; the offsets of its two 16s at m + r * ldm + 2 g (zero-padded to a
 * multiple of 8 per row). Value i of 16 j is d * sc_j * q_i + m_j. */
typedef struct wk_q8_rows {
    const uint8_t *q;
    const int16_t *sc;
    const float *d, *m;
    int64_t ldq, ldsc, ldd, ldm;
    int span;       /* 1 or 8 */
    bool is_signed; /* levels are signed bytes (and m is 0) */
} wk_q8_rows;

/* Activation rows in canonical form: row c's levels at q + c * ldq (in [-127, 127]), the
 * scale of its 32-group g at d[c * ldd + g], scale times the sum of the levels of 16-group j
 * at ds[c * ldds + j] (zero-padded to a multiple of 8). */
typedef struct wk_q8_acts {
    const int8_t *q;
    const float *d, *ds;
    int64_t ldq, ldd, ldds;
} wk_q8_acts;

/* y[c * ldy + r] = (add ? y[c * ldy + r] : 0) + the dot of weight row r and activation row c
 * over `groups` 32-groups, for r < m and c < n. */
typedef void (*wk_gemm_q8_fn)(int64_t groups, const wk_q8_rows *w, int m, const wk_q8_acts *a,
                              int n, float *y, int64_t ldy, bool add);
/* The same for F32 rows of k values: weight row r at w + r * ldw, activation row c at
 * x + c * ldx. */
typedef void (*wk_gemm_f32_fn)(int64_t k, const float *w, int64_t ldw, int m, const float *x,
                               int64_t ldx, int n, float *y, int64_t ldy, bool add);

/* The same for binary16 rows (F16 weights as the file holds them), where a set has it. */
typedef void (*wk_gemm_f16_fn)(int64_t k, const void *w, int64_t ldw, int m, const float *x,
                               int64_t ldx, int n, float *y, int64_t ldy, bool add);

/* Repacking k values (whole blocks) of one weight row, starting at the block at src, into
 * canonical form: the levels q[k]; the scales and offsets sc[k / 32 * 16], d[k / 32 / span],
 * m[k / 16]. */
typedef void (*wk_levels_fn)(const void *src, int64_t k, uint8_t *q);
typedef void (*wk_scales_fn)(const void *src, int64_t k, int16_t *sc, float *d, float *m);

/* For each quantized type with a dot product (else NULL, false, 1): the scalar levels (the
 * CPU traits hold the fastest), the scales, whether the levels are signed, how many 32-groups
 * share a float scale (1 or 8). */
wk_levels_fn wk_levels_ref(wk_dtype t);
wk_scales_fn wk_repack_scales(wk_dtype t);
bool wk_repack_signed(wk_dtype t);
int wk_repack_span(wk_dtype t);

/* Canonical activations from k values (whole blocks) of a row of Q8_0, Q8_1 or Q8_K blocks:
 * q[k], d[k / 32], ds[k / 16]. With Q8_1 the block's stored sum (d * sum of its 32 levels,
 * binary16) stands for the first 16 and the second gets 0: the weights that pair with Q8_1
 * have one offset per 32. */
void wk_acts_from_q8(wk_dtype at, const void *src, int64_t k, int8_t *q, float *d, float *ds);

/* Bytes of scratch wk_gemm needs for n activation rows of a rows x cols matrix of type t. */
size_t wk_gemm_scratch(wk_dtype t, int64_t cols, int64_t n);

/* y[i * rows + r] = sum_k x[i * cols + k] * w[r][k] for the n rows of x (kernels/matmul.h's
 * product) by tiles; false, having done nothing, when this CPU has no micro-kernels or the
 * type no tiled path. */
struct wk_matrix;
bool wk_gemm(const struct wk_matrix *w, const float *x, int64_t n, float *y, void *scratch);

/* wk_gemm with the micro-kernels of a given set (kernels/traits.h), so that tests hold each
 * SIMD variant to the dot products. */
struct wk_cpu_kernels;
bool wk_gemm_with(const struct wk_cpu_kernels *kk, const struct wk_matrix *w, const float *x,
                  int64_t n, float *y, void *scratch);

#endif
