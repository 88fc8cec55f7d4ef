/* The forward pass's compute blocks: matrix times activations through the type's dot product
 * (weights read in place from the mapped file, never dequantized whole), and the small
 * per-vector steps around it: RMSNorm, RoPE, softmax, SwiGLU's gate. */
#ifndef WK_KERNELS_MATMUL_H
#define WK_KERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "quant/types.h"

/* A weight matrix as the file holds it: rows of `cols` values of `type`. */
typedef struct wk_matrix {
    const void *data;
    wk_dtype type;
    int64_t rows, cols;
} wk_matrix;

/* Bytes wk_matmul needs as scratch for n activation rows of w (the activations quantized to
 * w's vec_dot_type). */
size_t wk_matmul_scratch(const wk_matrix *w, int64_t n);

/* y[i * w->rows + r] = sum_k x[i * w->cols + k] * w[r][k] for the n rows of x: the activations
 * are converted once to the type's dot-product partner, then OpenMP threads take blocks of
 * weight rows. One row (decode) goes through the type's dot product; a batch (prefill) through
 * the tiled products of kernels/gemm.h where the CPU has their micro-kernels, else through the
 * dot products, each block of weight rows multiplied with every activation row while it is
 * in cache. The two agree to float rounding. */
void wk_matmul(const wk_matrix *w, const float *x, int64_t n, float *y, void *scratch);

/* out = x / sqrt(mean(x^2) + eps) * weight, n values (out may be x). */
void wk_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps);
/* In place: x = softmax(x) over n values (kernels/vec.h's, as this CPU runs it). */
void wk_softmax(float *x, int64_t n);
/* In place: gate = silu(gate) * up (SwiGLU), n values. */
void wk_swiglu(float *gate, const float *up, int64_t n);

#endif
