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

/* Bytes of one row of cols values of type t (whole blocks). */
size_t wk_row_bytes(wk_dtype t, int64_t cols);

/* Bytes wk_matmul needs as scratch for n activation rows of w, or for one (the activations
 * quantized to w's vec_dot_type, the tiles' or the matrix-vector product's forms). */
size_t wk_matmul_scratch(const wk_matrix *w, int64_t n);

/* y[i * w->rows + r] = sum_k x[i * w->cols + k] * w[r][k] for the n rows of x: the activations
 * are converted once to the type's dot-product partner, then OpenMP threads take blocks of
 * weight rows. One row (decode) goes through wk_matvec below; a batch (prefill) through
 * the tiled products of kernels/gemm.h where the CPU has their micro-kernels, else through the
 * dot products, each block of weight rows multiplied with every activation row while it is
 * in cache. The two agree to float rounding. */
void wk_matmul(const wk_matrix *w, const float *x, int64_t n, float *y, void *scratch);

/* Decoding: y[j][r] = sum_k x[k] * w[j][r][k] for k <= WK_MATVEC_MAX matrices of one width
 * that read the same activation row x (Q, K and V; gate and up), all in one parallel region
 * (kernels/matvec.c): the row converted once per matrix to its type's dot-product partner
 * (and prepared for the kernel set's matrix-vector product, where it has one), then chunks of
 * rows to the threads. wk_matmul of one row is this with k = 1. */
#define WK_MATVEC_MAX 4
size_t wk_matvec_scratch(const wk_matrix *const *w, int k);
void wk_matvec(const wk_matrix *const *w, int k, const float *x, float *const *y, void *scratch);
/* Decoding on a team (kernels/team.h): names wk_matvec over these k matrices as the product
 * after the next step posted, so that each thread, while it waits after that step, fetches
 * the first rows it will take in this product to its L2 cache (the team's idle work). Changes
 * no result; outside a team it does nothing. */
void wk_matvec_ahead(const wk_matrix *const *w, int k);
/* Thread t's own run of rows (of nt threads) in wk_matvec over w: the stretch of its bytes
 * that starts `skip` bytes into the run, contiguous within one matrix: sets *at and returns
 * its length, 0 past the run's end. Runs cut the matrices' chunks of rows, one after the
 * other, into nt equal parts; each thread takes its own first. */
size_t wk_matvec_stretch(const wk_matrix *const *w, int k, int t, int nt, size_t skip,
                         const uint8_t **at);

/* out = x / sqrt(mean(x^2) + eps) * weight, n values (out may be x). */
void wk_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps);
/* In place: x = softmax(x) over n values (kernels/vec.h's, as this CPU runs it). */
void wk_softmax(float *x, int64_t n);
/* In place: gate = silu(gate) * up (SwiGLU), n values (kernels/vec.h's, as this CPU runs
 * it). */
void wk_swiglu(float *gate, const float *up, int64_t n);

#endif
