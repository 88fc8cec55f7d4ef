/* Moments of a block of floats with AVX2/FMA (twin of wk_stats_block_ref in kernels/stats.c).
 *
 * Pass 1 (8 floats at a time): NaN/Inf/zero counts from the bit patterns, min/max with
 * non-finite lanes replaced by the neutral +-inf, and the sum and sum of |x| widened to
 * double. Pass 2: centred powers (x - mean)^2, ^3, ^4 in double with FMA. Blocks that hold a
 * NaN or an infinity take the scalar pass 2 (rare, and masking every lane would slow the
 * common case). The last n % 8 values go through the reference kernel and are merged. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <math.h>

/* The block is cut into pieces of at most this many values so the second pass reads from
 * L1 and the 32-bit lane counters cannot overflow. */
#define PIECE 4096

static double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static uint64_t hsum_epi32(__m256i v)
{
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++)
        s += lanes[i];
    return s;
}

static float hmin_ps(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* Pass 1 over n (a multiple of 8) values; returns the sum of the finite values. */
static double first_pass(wk_moments *b, const float *x, size_t n)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i inf_bits = _mm256_set1_epi32(0x7f800000);
    const __m256d abs_pd = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
    const __m256 pos_inf = _mm256_set1_ps(INFINITY), neg_inf = _mm256_set1_ps(-INFINITY);
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
    __m256d abs_lo = _mm256_setzero_pd(), abs_hi = _mm256_setzero_pd();
    __m256 vmin = pos_inf, vmax = neg_inf;
    __m256i n_nan = _mm256_setzero_si256(), n_inf = _mm256_setzero_si256();
    __m256i n_zero = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256i a = _mm256_and_si256(_mm256_castps_si256(v), abs_mask);
        __m256i is_nan = _mm256_cmpgt_epi32(a, inf_bits);
        __m256i is_inf = _mm256_cmpeq_epi32(a, inf_bits);
        __m256 bad = _mm256_castsi256_ps(_mm256_or_si256(is_nan, is_inf));
        n_nan = _mm256_sub_epi32(n_nan, is_nan);
        n_inf = _mm256_sub_epi32(n_inf, is_inf);
        n_zero = _mm256_sub_epi32(
            n_zero, _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_EQ_OQ)));
        vmin = _mm256_min_ps(vmin, _mm256_blendv_ps(v, pos_inf, bad));
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(v, neg_inf, bad));
        __m256 good = _mm256_andnot_ps(bad, v);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(good));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(good, 1));
        sum_lo = _mm256_add_pd(sum_lo, lo);
        sum_hi = _mm256_add_pd(sum_hi, hi);
        abs_lo = _mm256_add_pd(abs_lo, _mm256_and_pd(lo, abs_pd));
        abs_hi = _mm256_add_pd(abs_hi, _mm256_and_pd(hi, abs_pd));
    }
    b->nan = hsum_epi32(n_nan);
    b->inf = hsum_epi32(n_inf);
    b->zeros = hsum_epi32(n_zero);
    b->n = n - b->nan - b->inf;
    b->min = hmin_ps(vmin);
    b->max = hmax_ps(vmax);
    b->abs_sum = hsum_pd(abs_lo) + hsum_pd(abs_hi);
    return hsum_pd(sum_lo) + hsum_pd(sum_hi);
}

/* Pass 2 over n (a multiple of 8) values, all finite. */
static void second_pass(wk_moments *b, const float *x, size_t n)
{
    const __m256d mean = _mm256_set1_pd(b->mean);
    __m256d m2a = _mm256_setzero_pd(), m3a = _mm256_setzero_pd(), m4a = _mm256_setzero_pd();
    __m256d m2b = _mm256_setzero_pd(), m3b = _mm256_setzero_pd(), m4b = _mm256_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mean);
        __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mean);
        __m256d lo2 = _mm256_mul_pd(lo, lo), hi2 = _mm256_mul_pd(hi, hi);
        m2a = _mm256_add_pd(m2a, lo2);
        m2b = _mm256_add_pd(m2b, hi2);
        m3a = _mm256_fmadd_pd(lo2, lo, m3a);
        m3b = _mm256_fmadd_pd(hi2, hi, m3b);
        m4a = _mm256_fmadd_pd(lo2, lo2, m4a);
        m4b = _mm256_fmadd_pd(hi2, hi2, m4b);
    }
    b->m2 = hsum_pd(m2a) + hsum_pd(m2b);
    b->m3 = hsum_pd(m3a) + hsum_pd(m3b);
    b->m4 = hsum_pd(m4a) + hsum_pd(m4b);
}

/* Pass 2 when some values are NaN or infinite: skip them. */
static void second_pass_scalar(wk_moments *b, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double d = (double)x[i] - b->mean, d2 = d * d;
        b->m2 += d2;
        b->m3 += d2 * d;
        b->m4 += d2 * d2;
    }
}

void wk_stats_block_avx2(wk_moments *acc, const float *x, size_t n)
{
    size_t n8 = n & ~(size_t)7;
    for (size_t off = 0; off < n8; off += PIECE) {
        size_t len = n8 - off < PIECE ? n8 - off : PIECE;
        wk_moments b;
        wk_moments_init(&b);
        double sum = first_pass(&b, x + off, len);
        if (b.n) {
            b.mean = sum / (double)b.n;
            if (b.nan + b.inf)
                second_pass_scalar(&b, x + off, len);
            else
                second_pass(&b, x + off, len);
        }
        wk_moments_merge(acc, &b);
    }
    if (n > n8)
        wk_stats_block_ref(acc, x + n8, n - n8);
}
