/* AVX2/FMA twins of kernels/vec.c. A key row's dot product runs in two chains of 8 lanes;
 * the weighted sum keeps 32 output floats in four registers while it walks every value row,
 * so each output is loaded and stored once, not once per row. Widths that are not a
 * multiple of 8 go through the references. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>

#include "kernels/avx2/lanes.h"

void wk_rows_dot_avx2(const float *q, const float *k, int64_t stride, int64_t rows, int64_t n,
                      float scale, float *out)
{
    if (n % 8) {
        wk_rows_dot_ref(q, k, stride, rows, n, scale, out);
        return;
    }
    for (int64_t j = 0; j < rows; j++) {
        const float *kj = k + j * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(kj + i + 8), a1);
        }
        if (i < n)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), a0);
        out[j] = wk_hsum_ps(_mm256_add_ps(a0, a1)) * scale;
    }
}

void wk_rows_wsum_avx2(const float *p, const float *v, int64_t stride, int64_t rows, int64_t n,
                       float *out)
{
    if (n % 8) {
        wk_rows_wsum_ref(p, v, stride, rows, n, out);
        return;
    }
    for (int64_t i0 = 0; i0 < n; i0 += 32) {
        int w = n - i0 < 32 ? (int)(n - i0) / 8 : 4; /* registers in use */
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                         _mm256_setzero_ps()};
        for (int64_t j = 0; j < rows; j++) {
            __m256 pj = _mm256_broadcast_ss(p + j);
            const float *vj = v + j * stride + i0;
            for (int r = 0; r < w; r++)
                acc[r] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * r), acc[r]);
        }
        for (int r = 0; r < w; r++)
            _mm256_storeu_ps(out + i0 + 8 * r, acc[r]);
    }
}
