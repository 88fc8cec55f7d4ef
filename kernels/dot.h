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

#include <stdint.h>

#include "quant/types.h"

/* *s = sum over n elements of weight row x (its type) times activation row y (its
 * vec_dot_type); n a multiple of both block sizes. */
typedef void (*wk_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

/* The activation type a weight type is multiplied with (WK_DTYPE_COUNT: no dot product). */
wk_dtype wk_vec_dot_type(wk_dtype weight);

/* The scalar reference dot product of a weight type, or NULL. */
wk_vec_dot_fn wk_vec_dot_ref(wk_dtype weight);

#endif
