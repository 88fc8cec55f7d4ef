/* AVX2/FMA twins of kernels/vec.c. The products with a column per output (keys transposed,
 * or value rows) are one outer product: 4 rows of the left side (queries or probabilities)
 * by 16 columns of the right in 8 registers, each right-hand vector loaded once for the 4
 * rows; ragged columns go through masked loads and stores. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <math.h>

#include "kernels/avx2/lanes.h"
#include "kernels/tile.h"

#define INLINE static inline __attribute__((always_inline))

/* lanes i < n set (n may be out of 0..8) */
INLINE __m256i first_lanes(int64_t n)
{
    int c = n < 0 ? 0 : n > 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* out[g * ldo + x0 + x] = scale * sum over y < K of a[g * lda + y] * b[y * ldb + x0 + x], for
 * g < G (constant, at most 4) and x < 16, or the first N - x0 of them when !full */
INLINE void outer_tile(int G, bool full, const float *a, int64_t lda, const float *b,
                       int64_t ldb, int64_t K, int64_t x0, int64_t N, float scale, float *out,
                       int64_t ldo)
{
    __m256i m0 = first_lanes(N - x0), m1 = first_lanes(N - x0 - 8);
    __m256 acc[4][2];
    EACH(g, G) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
    for (int64_t y = 0; y < K; y++) {
        const float *by = b + y * ldb + x0;
        __m256 b0 = full ? _mm256_loadu_ps(by) : _mm256_maskload_ps(by, m0);
        __m256 b1 = full ? _mm256_loadu_ps(by + 8) : _mm256_maskload_ps(by + 8, m1);
        EACH(g, G) {
            __m256 s = _mm256_broadcast_ss(a + g * lda + y);
            acc[g][0] = _mm256_fmadd_ps(s, b0, acc[g][0]);
            acc[g][1] = _mm256_fmadd_ps(s, b1, acc[g][1]);
        }
    }
    __m256 sv = _mm256_set1_ps(scale);
    EACH(g, G) {
        float *o = out + g * ldo + x0;
        __m256 o0 = _mm256_mul_ps(acc[g][0], sv), o1 = _mm256_mul_ps(acc[g][1], sv);
        if (full) {
            _mm256_storeu_ps(o, o0);
            _mm256_storeu_ps(o + 8, o1);
        } else {
            _mm256_maskstore_ps(o, m0, o0);
            _mm256_maskstore_ps(o + 8, m1, o1);
        }
    }
}

INLINE void outer_rows(int G, const float *a, int64_t lda, const float *b, int64_t ldb,
                       int64_t K, int64_t N, float scale, float *out, int64_t ldo)
{
    int64_t x0 = 0;
    for (; x0 + 16 <= N; x0 += 16)
        outer_tile(G, true, a, lda, b, ldb, K, x0, N, scale, out, ldo);
    if (x0 < N)
        outer_tile(G, false, a, lda, b, ldb, K, x0, N, scale, out, ldo);
}

static void outer(const float *a, int64_t lda, int G, const float *b, int64_t ldb, int64_t K,
                  int64_t N, float scale, float *out, int64_t ldo)
{
    for (int g0 = 0; g0 < G; g0 += 4) {
        const float *ag = a + g0 * lda;
        float *og = out + g0 * ldo;
        switch (G - g0 < 4 ? G - g0 : 4) {
        case 1: outer_rows(1, ag, lda, b, ldb, K, N, scale, og, ldo); break;
        case 2: outer_rows(2, ag, lda, b, ldb, K, N, scale, og, ldo); break;
        case 3: outer_rows(3, ag, lda, b, ldb, K, N, scale, og, ldo); break;
        default: outer_rows(4, ag, lda, b, ldb, K, N, scale, og, ldo); break;
        }
    }
}

void wk_cols_dot_avx2(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                      int64_t rows, int64_t n, float scale, float *out, int64_t ldo)
{
    outer(q, ldq, G, kt, ldk, n, rows, scale, out, ldo);
}

void wk_rows_wsum_avx2(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                       int64_t rows, int64_t n, float *out, int64_t ldo)
{
    outer(p, ldp, G, v, stride, rows, n, 1.0f, out, ldo);
}

/* e^x for x <= 0 (scores less their largest): x = k ln 2 + r with |r| <= ln 2 / 2, e^r by
 * Cephes' expf polynomial (degree 7, relative error about 1e-7), 2^k put into the exponent
 * bits. Below -87.3 (2^k no longer a normal float) the result is 0, as expf's is nearly. */
INLINE __m256 exp_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

void wk_softmax_avx2(float *x, int64_t n)
{
    if (n < 8) {
        wk_softmax_ref(x, n);
        return;
    }
    __m256 mv = _mm256_loadu_ps(x);
    int64_t i = 8;
    for (; i + 8 <= n; i += 8)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float max = wk_hmax(mv);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    __m256 m8 = _mm256_set1_ps(max), sum8 = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + i), m8));
        _mm256_storeu_ps(x + i, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    double sum = wk_hsum_ps(sum8);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    __m256 inv8 = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv8));
    for (; i < n; i++)
        x[i] *= inv;
}

/* silu(g) = g / (1 + e^-g), as g e^g / (1 + e^g) where g < 0 so that the exponential is
 * always of -|g| (exp_neg's range, never overflowing) */
void wk_swiglu_avx2(float *gate, const float *up, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 t = exp_neg(_mm256_or_ps(g, sign)); /* e^-|g| */
        __m256 num = _mm256_blendv_ps(g, _mm256_mul_ps(g, t), g); /* g < 0: g e^g */
        __m256 silu = _mm256_div_ps(num, _mm256_add_ps(one, t));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    wk_swiglu_ref(gate + i, up + i, n - i);
}
