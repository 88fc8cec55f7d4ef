/* What the AVX2 quantizers and dequantizers share (include only from kernels/avx2/ and
 * kernels/avx512/, built with -mavx2 and more): loads of packed levels, reductions, lane-wise
 * twins of scalar helpers of quant/ with the scalar's exact results, and the entry points of
 * the searching types. */
#ifndef WK_KERNELS_AVX2_LANES_H
#define WK_KERNELS_AVX2_LANES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/avx2/avx2.h"
#include "quant/fit.h"

/* The entry points of a type whose only AVX2 part is its search: the reference row code of
 * quant/ with the AVX2 searches of fit.c. */
#define WK_AVX2_SEARCH_ENTRY_POINTS(name)                                                        \
    void wk_quantize_##name##_avx2(const float *src, void *dst, int64_t n, const float *imp)     \
    {                                                                                            \
        wk_quant_##name(src, dst, n, imp, &wk_fit_avx2);                                         \
    }                                                                                            \
    void wk_from_float_##name##_avx2(const float *src, void *dst, int64_t n)                     \
    {                                                                                            \
        wk_quant_##name(src, dst, n, NULL, &wk_fit_avx2);                                        \
    }

/* wk_nearest_int (quant/fit.h), the same steps: limit to +-(2^22 - 1) (a NaN passes, as
 * through the C conditionals), add 1.5 * 2^23, take the low mantissa bits. */
static inline __m256i wk_nearest_int_avx2(__m256 v)
{
    v = _mm256_min_ps(_mm256_set1_ps(4194303.0f), _mm256_max_ps(_mm256_set1_ps(-4194303.0f), v));
    __m256i t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
    return _mm256_sub_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

/* 8 bytes from p, zero- or sign-extended to lanes */
static inline __m256i wk_u8x8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

static inline __m256i wk_i8x8(const int8_t *p)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/* (int8_t) of each lane, sign-extended back to 32 bits */
static inline __m256i wk_low_byte(__m256i v)
{
    return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
}

/* The low bytes of the 32 lanes of q[0..3], in lane order. */
static inline __m256i wk_bytes32(const __m256i q[4])
{
    const __m256i lo = _mm256_set1_epi32(0xff);
    __m256i ab = _mm256_packus_epi32(_mm256_and_si256(q[0], lo), _mm256_and_si256(q[1], lo));
    __m256i cd = _mm256_packus_epi32(_mm256_and_si256(q[2], lo), _mm256_and_si256(q[3], lo));
    return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* The sum of the 8 lanes (in some order: dot products only). */
static inline float wk_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Sums of 4 products of unsigned bytes u (at most 127) with signed bytes y, as 8 int32
 * lanes: maddubs adds pairs into int16 (at most 2 * 127 * 128, so it never saturates), madd
 * adds pairs of those. */
static inline __m256i wk_dot_u8_i8(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

/* The same for signed bytes x (any) and y in [-127, 127]: |x| (at most 128) times y with
 * the sign of x. */
static inline __m256i wk_dot_i8_i8(__m256i x, __m256i y)
{
    return wk_dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* The 32 nibbles of 16 bytes as bytes: element j in the low nibble of byte j, j + 16 in the
 * high one (Q4_0, IQ4_NL, each group of IQ4_XS). The bytes go to both lanes, the high lane's
 * shifted down by 4 (a 64-bit shift: bits crossing bytes are masked off). */
static inline __m256i wk_nibbles32(const uint8_t *qs)
{
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* 16 in byte j where bit j of the little-endian qh is set: byte j / 8 of qh goes to byte j,
 * which keeps bit j % 8 */
static inline __m256i wk_fifth_bits(const uint8_t qh[4])
{
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                            2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)h), spread), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(b, bit), _mm256_set1_epi8(0x10));
}

/* IQ4's 16 levels in both 128-bit lanes, for vpshufb */
static inline __m256i wk_iq4_table(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)WK_IQ4_VALUES));
}

static inline int wk_hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1)));
}

/* Horizontal max and min (exact: any order gives the same value, up to the sign of zero). */
static inline float wk_hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}

static inline float wk_hmin(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}

static inline __m256 wk_abs_ps(__m256 v)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

/* The index of the first of the 8 * nv lanes of v equal to t (one must be). */
static inline int wk_first_equal(const __m256 *v, int nv, float t)
{
    for (int k = 0; k < nv; k++) {
        int m = _mm256_movemask_ps(_mm256_cmp_ps(v[k], _mm256_set1_ps(t), _CMP_EQ_OQ));
        if (m)
            return 8 * k + __builtin_ctz((unsigned)m);
    }
    return 0;
}

/* The value of largest magnitude among the 8 * nv values at x, the first on ties, +0 when
 * all are zeros: the reference scans' result (fabsf(x) > amax from amax = 0). */
static inline float wk_max_by_magnitude(const float *x, int nv, float *amax_out)
{
    __m256 a[32], m = _mm256_setzero_ps();
    for (int k = 0; k < nv && k < 32; k++) {
        a[k] = wk_abs_ps(_mm256_loadu_ps(x + 8 * k));
        m = _mm256_max_ps(m, a[k]);
    }
    float amax = wk_hmax(m);
    *amax_out = amax;
    return amax > 0 ? x[wk_first_equal(a, nv, amax)] : 0.0f;
}

/* Q4_K/Q5_K: the eight 6-bit scales (bytes 0..7) and minimums (8..15), as
 * wk_k4_scale_min reads them: groups 0..3 from the low six bits of bytes 0..3 (scales) and
 * 4..7 (minimums); groups 4..7 from the nibbles of bytes 8..11 with the top two bits of bytes
 * 0..3 (scales) and 4..7 (minimums) above. */
static inline __m128i wk_k4_scales_mins(const uint8_t s[12])
{
    uint32_t w0, w1, w2;
    memcpy(&w0, s, 4);
    memcpy(&w1, s + 4, 4);
    memcpy(&w2, s + 8, 4);
    const uint32_t six = 0x3f3f3f3f, lo = 0x0f0f0f0f, top = 0x30303030;
    return _mm_setr_epi32((int)(w0 & six), (int)((w2 & lo) | (w0 >> 2 & top)), (int)(w1 & six),
                          (int)((w2 >> 4 & lo) | (w1 >> 2 & top)));
}

#endif
