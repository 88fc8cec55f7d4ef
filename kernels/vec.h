/* The float-vector steps of attention over a KV cache: one query against every cached key
 * row, and the probability-weighted sum of the cached value rows. Rows are n floats, stride
 * floats apart. The scalar references are here, the AVX2/FMA twins in kernels/avx2/vec.c,
 * reached through the CPU traits (wk_cpu_kernels). The twins sum in another order and fuse
 * their multiply-adds, so the two agree to rounding, not bit for bit. */
#ifndef WK_KERNELS_VEC_H
#define WK_KERNELS_VEC_H

#include <stdint.h>

/* out[j] = scale * (q . k[j * stride .. + n)), j < rows */
void wk_rows_dot_ref(const float *q, const float *k, int64_t stride, int64_t rows, int64_t n,
                     float scale, float *out);
/* out[i] = sum over j < rows of p[j] * v[j * stride + i], i < n */
void wk_rows_wsum_ref(const float *p, const float *v, int64_t stride, int64_t rows, int64_t n,
                      float *out);

#endif
