/* AVX2 twins of quant/kquants.c: the k-quant dequantizers, Q8_K's quantizer, and the entry
 * points of the type table for Q2_K..Q6_K (the reference row code with the AVX2 searches of
 * fit.c, where their time goes).
 *
 * Dequantizers unpack 8 levels at a time to 32-bit lanes and do the reference's float
 * arithmetic operation for operation and operand for operand (Q2_K/Q4_K/Q5_K: (d * sc) * q -
 * (dmin * m); Q3_K, Q6_K: (d * sc) * q; Q8_K: d * q), so the results are the same bits, NaN
 * payloads of a NaN scale included. Scales go through the scalar wk_f16_to_f32. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"

typedef __m256 vf;
typedef __m256i vi;

WK_AVX2_SEARCH_ENTRY_POINTS(q2_K)
WK_AVX2_SEARCH_ENTRY_POINTS(q3_K)
WK_AVX2_SEARCH_ENTRY_POINTS(q4_K)
WK_AVX2_SEARCH_ENTRY_POINTS(q5_K)
WK_AVX2_SEARCH_ENTRY_POINTS(q6_K)

/* ---- Q8_K: iscale = -127 / max, q = min(127, nearest(iscale * x)), sums of each 16 ---- */

static void q8_K(const float *x, void *dst, int64_t n)
{
    wk_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        float amax, max = wk_max_by_magnitude(x, WK_QK_K / 8, &amax);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < WK_QK_K; j += 32) {
            vi q[4];
            for (int k = 0; k < 4; k++) {
                vf v = _mm256_mul_ps(_mm256_set1_ps(iscale), _mm256_loadu_ps(x + j + 8 * k));
                q[k] = _mm256_min_epi32(wk_nearest_int_avx2(v), _mm256_set1_epi32(127));
                q[k] = wk_low_byte(q[k]); /* the (int8_t) store */
            }
            _mm256_storeu_si256((vi *)(y[i].qs + j), wk_bytes32(q));
            y[i].bsums[j / 16] = (int16_t)wk_hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            y[i].bsums[j / 16 + 1] = (int16_t)wk_hsum_epi32(_mm256_add_epi32(q[2], q[3]));
        }
        y[i].d = 1.0f / iscale;
    }
}

void wk_quantize_q8_K_avx2(const float *src, void *dst, int64_t n, const float *imp)
{
    (void)imp; /* changes nothing for 8 bits, as in the reference */
    q8_K(src, dst, n);
}

void wk_from_float_q8_K_avx2(const float *src, void *dst, int64_t n)
{
    q8_K(src, dst, n);
}

/* ---- dequantization ---- */

static vf to_float(vi v)
{
    return _mm256_cvtepi32_ps(v);
}

static vi bits_at(vi v, int shift, int mask)
{
    return _mm256_and_si256(_mm256_srl_epi32(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi32(mask));
}

/* y[0..8) = dl * q - ml */
static void store_scaled(float *y, float dl, vi q, float ml)
{
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(dl), to_float(q)),
                                      _mm256_set1_ps(ml)));
}

void wk_dequant_q2_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d), min = wk_f16_to_f32(b[i].dmin);
        /* group is (of 16): shift 2 * (is / 2 % 4) of bytes 16 * (is % 2) of the half is / 8 */
        for (int is = 0; is < 16; is++, y += 16) {
            const uint8_t *q = b[i].qs + 32 * (is / 8) + 16 * (is % 2);
            uint8_t sc = b[i].scales[is];
            float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
            for (int l = 0; l < 16; l += 8)
                store_scaled(y + l, dl, bits_at(wk_u8x8(q + l), 2 * (is / 2 % 4), 3), ml);
        }
    }
}

void wk_dequant_q3_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        const uint8_t *s = b[i].scales;
        /* as Q2_K's groups, with hmask bit is / 2 of bytes 16 * (is % 2): 0 subtracts 4 */
        for (int is = 0; is < 16; is++, y += 16) {
            int l0 = 16 * (is % 2), scale = (s[is % 8] >> (4 * (is / 8)) & 0xf) |
                                            (s[8 + is % 4] >> (2 * (is / 4)) & 3) << 4;
            const uint8_t *q = b[i].qs + 32 * (is / 8) + l0;
            float dl = d * (float)(scale - 32);
            vi bit = _mm256_set1_epi32(1 << (is / 2));
            for (int l = 0; l < 16; l += 8) {
                vi clear = _mm256_cmpeq_epi32(_mm256_and_si256(wk_u8x8(b[i].hmask + l0 + l), bit),
                                              _mm256_setzero_si256());
                vi v = _mm256_sub_epi32(bits_at(wk_u8x8(q + l), 2 * (is / 2 % 4), 3),
                                        _mm256_and_si256(clear, _mm256_set1_epi32(4)));
                _mm256_storeu_ps(y + l, _mm256_mul_ps(_mm256_set1_ps(dl), to_float(v)));
            }
        }
    }
}

/* get_scale_min_k4 of kquants.c: the 6-bit scale and minimum of group j */
static void scale_min(int j, const uint8_t *q, int *sc, int *m)
{
    *sc = j < 4 ? q[j] & 63 : (q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4;
    *m = j < 4 ? q[j + 4] & 63 : (q[j + 4] >> 4) | (q[j] >> 6) << 4;
}

/* Q4_K and Q5_K: group g of 32 is the low (g even) or high nibbles of bytes 32 * (g / 2) of
 * qs, plus 16 where bit g of qh is set (Q5_K). */
static void q45_K(const uint8_t *scales, float d, float min, const uint8_t *qs,
                  const uint8_t *qh, float *y)
{
    for (int g = 0; g < 8; g++, y += 32) {
        int sc, m;
        scale_min(g, scales, &sc, &m);
        float dl = d * (float)sc, ml = min * (float)m;
        vi bit = _mm256_set1_epi32(1 << g);
        for (int l = 0; l < 32; l += 8) {
            vi v = bits_at(wk_u8x8(qs + 32 * (g / 2) + l), 4 * (g % 2), 0xf);
            if (qh) {
                vi set = _mm256_cmpeq_epi32(_mm256_and_si256(wk_u8x8(qh + l), bit), bit);
                v = _mm256_add_epi32(v, _mm256_and_si256(set, _mm256_set1_epi32(16)));
            }
            store_scaled(y + l, dl, v, ml);
        }
    }
}

void wk_dequant_q4_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q4_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++, y += WK_QK_K)
        q45_K(b[i].scales, wk_f16_to_f32(b[i].d), wk_f16_to_f32(b[i].dmin), b[i].qs, NULL, y);
}

void wk_dequant_q5_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q5_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++, y += WK_QK_K)
        q45_K(b[i].scales, wk_f16_to_f32(b[i].d), wk_f16_to_f32(b[i].dmin), b[i].qs, b[i].qh, y);
}

void wk_dequant_q6_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        /* value 32 * k + l of each half of 128: nibble k / 2 of ql[l + 32 * (k % 2)], bits
         * 2k, 2k + 1 of qh[l] above it, scale sc[l / 16 + 2k] */
        for (int h = 0; h < 2; h++, y += 128) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l += 8) {
                    vi lo = bits_at(wk_u8x8(ql + l + 32 * (k % 2)), 4 * (k / 2), 0xf);
                    vi hi = _mm256_slli_epi32(bits_at(wk_u8x8(qh + l), 2 * k, 3), 4);
                    vi q = _mm256_sub_epi32(_mm256_or_si256(lo, hi), _mm256_set1_epi32(32));
                    vf dl = _mm256_set1_ps(d * (float)sc[l / 16 + 2 * k]);
                    _mm256_storeu_ps(y + 32 * k + l, _mm256_mul_ps(dl, to_float(q)));
                }
        }
    }
}

void wk_dequant_q8_K_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_q8_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++)
        for (int j = 0; j < WK_QK_K; j += 8, y += 8) {
            vf q = to_float(wk_i8x8(b[i].qs + j));
            _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_set1_ps(b[i].d), q));
        }
}
