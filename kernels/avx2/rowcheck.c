/* AVX2 twins of the row checks (kernels/rowcheck.c): eight floats at a time, the error sums
 * widened to double four lanes at a time; the tail through the references. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <math.h>

int64_t wk_first_nonfinite_avx2(const float *x, int64_t n)
{
    const __m256i exp = _mm256_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), exp);
        int mask = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(v, exp)));
        if (mask)
            return i + __builtin_ctz((unsigned)mask);
    }
    int64_t k = wk_first_nonfinite_ref(x + i, n - i);
    return k < 0 ? -1 : i + k;
}

static double hsum(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

void wk_row_error_avx2(const float *x, const float *y, int64_t n, wk_row_error *acc)
{
    __m256d err = _mm256_setzero_pd(), sq = _mm256_setzero_pd();
    __m256 amax = _mm256_setzero_ps();
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(y + i);
        __m256d a0 = _mm256_cvtps_pd(_mm256_castps256_ps128(a));
        __m256d a1 = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        __m256d d0 = _mm256_sub_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(b)));
        __m256d d1 = _mm256_sub_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)));
        err = _mm256_fmadd_pd(d0, d0, _mm256_fmadd_pd(d1, d1, err));
        sq = _mm256_fmadd_pd(a0, a0, _mm256_fmadd_pd(a1, a1, sq));
        /* |x - y| in float is the double difference rounded: the same maximum up to rounding */
        amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_sub_ps(a, b), abs_mask));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, amax);
    double m = acc->max_err;
    for (int k = 0; k < 8; k++)
        m = lanes[k] > m ? lanes[k] : m;
    acc->sq_err += hsum(err);
    acc->sq += hsum(sq);
    acc->max_err = m;
    wk_row_error_ref(x + i, y + i, n - i, acc);
}
