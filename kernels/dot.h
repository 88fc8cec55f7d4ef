/* Dot products of a weight row with an activation row: the inner loop of every matrix
 * multiplication in the forward pass, one per weight type.
 *
 * As in ggml (ggml-cpu's vec_dot and vec_dot_type), each weight type pairs with an activation
 * type: F32 with F32; F16 and BF16 with F32 (the weights widened on the fly, so the
 * activations lose nothing); the 32-blocks with Q8_0 (Q4_1 and Q5_1 with Q8_1, whose stored
 * block sum carries their minimum); the k-quants and IQ4_XS with Q8_K. The activations are
 * quantized once per row (quant/, the CPU traits' from_float); integer products are summed in
 * integers within a block, the blocks in float. The scalar references are here
 * (kernels/dot.c, dot_kquants.c); AVX2 twins in kernels/avx2/, reached through the CPU traits
 * (vec_dot, vec_dot_type). Twins agree to float rounding, not bit for bit: the order of the
 * float sums differs. */
#ifndef WK_KERNELS_DOT_H
#define WK_KERNELS_DOT_H

#include <stddef.h>
#include <stdint.h>

#include "quant/types.h"

/* *s = sum over n elements of weight row x (its type) times activation row y (its
 * vec_dot_type); n a multiple of both block sizes. */
typedef void (*wk_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

/* Decoding's matrix-vector product, where a kernel set has one for a weight type (the CPU
 * traits' matvec_*): the activation row (the type's vec_dot_type, n values) is brought once
 * into the kernel's form in prep (prep_size(n) bytes, 64-byte aligned), then
 * y[r] = weight row r . activations for r < rows, row r at w + r * row_bytes. Same sums as
 * vec_dot, in another float order. */
typedef size_t (*wk_matvec_prep_size_fn)(int64_t n);
typedef void (*wk_matvec_prep_fn)(int64_t n, const void *act, void *prep);
typedef void (*wk_matvec_fn)(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                             const void *prep);

/* The activation type a weight type is multiplied with (WK_DTYPE_COUNT: no dot product). */
wk_dtype wk_vec_dot_type(wk_dtype weight);

/* The scalar reference dot product of a weight type, or NULL. */
wk_vec_dot_fn wk_vec_dot_ref(wk_dtype weight);

#endif
