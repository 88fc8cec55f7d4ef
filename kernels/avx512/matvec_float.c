/* AVX-512 matrix-vector products for decoding with float weights (F16, BF16, F32) and F32
 * activations (kernels/dot.h, wk_matvec_*).
 *
 * A decode step streams every weight byte once, and on this kind of machine one stream per
 * core is what the prefetchers serve best: each weight row is read start to end, one row
 * after another (two or four rows at once, sharing the activation loads, ran at half the
 * speed on a Zen 5 with the 1.1B shape's F16 file). Sixteen weights per 512-bit step are
 * widened (vcvtph2ps for F16, a 16-bit shift for BF16) and multiply-added into four
 * accumulators, as the AVX2 dot product does eight at a time; the ragged end of a row is a
 * masked load, which reads no byte past the row. The prepared activations are the row copied
 * to a 64-byte boundary, so no 64-byte load of them splits a cache line. */
#include "kernels/avx512/avx512.h"

#include <immintrin.h>
#include <string.h>

typedef enum { W_F32, W_F16, W_BF16 } float_kind;

#define INLINE static inline __attribute__((always_inline))

/* the 16 weights at element i as floats; lanes at or past m are zero (m = 0xffff: all) */
INLINE __m512 widen16(const void *w, int64_t i, __mmask16 m, float_kind k)
{
    if (k == W_F32)
        return _mm512_maskz_loadu_ps(m, (const float *)w + i);
    __m256i h = m == 0xffff ? _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i))
                            : _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
    if (k == W_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

size_t wk_matvec_prep_size_f32_avx512(int64_t n)
{
    return (size_t)n * sizeof(float);
}

void wk_matvec_prep_f32_avx512(int64_t n, const void *act, void *prep)
{
    memcpy(prep, act, (size_t)n * sizeof(float));
}

INLINE void float_rows(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                       const float *x, float_kind k)
{
    for (int64_t r = 0; r < rows; r++) {
        const void *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int64_t i = 0;
        for (; i + 64 <= n; i += 64) {
            acc0 = _mm512_fmadd_ps(widen16(row, i, 0xffff, k), _mm512_load_ps(x + i), acc0);
            acc1 = _mm512_fmadd_ps(widen16(row, i + 16, 0xffff, k), _mm512_load_ps(x + i + 16),
                                   acc1);
            acc2 = _mm512_fmadd_ps(widen16(row, i + 32, 0xffff, k), _mm512_load_ps(x + i + 32),
                                   acc2);
            acc3 = _mm512_fmadd_ps(widen16(row, i + 48, 0xffff, k), _mm512_load_ps(x + i + 48),
                                   acc3);
        }
        for (; i < n; i += 16) {
            __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
            acc0 = _mm512_fmadd_ps(widen16(row, i, m, k), _mm512_maskz_load_ps(m, x + i), acc0);
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1),
                                                  _mm512_add_ps(acc2, acc3)));
    }
}

void wk_matvec_f32_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                          const void *prep)
{
    float_rows(n, rows, y, w, row_bytes, prep, W_F32);
}

void wk_matvec_f16_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                          const void *prep)
{
    float_rows(n, rows, y, w, row_bytes, prep, W_F16);
}

void wk_matvec_bf16_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep)
{
    float_rows(n, rows, y, w, row_bytes, prep, W_BF16);
}
