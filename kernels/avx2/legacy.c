/* AVX2 twins of quant/legacy.c: the types of 32 values with one binary16 scale (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q8_1), their dequantizers and their entry points of the type table.
 *
 * Given importance, Q4_0..Q5_1 search their scales: the reference row code with the AVX2
 * searches (fit.c). Without it they and Q8_0/Q8_1 round to nearest as ggml does; those are
 * written out here, a block in four vectors, with the reference's arithmetic. The value of
 * largest magnitude (or the minimum, the maximum) is the first one equal to the vector
 * reduction, the one the reference's strict-comparison scan keeps, sign of zero included;
 * float-to-int casts truncate as cvttps2dq does (0x80000000 for what does not fit) and keep
 * the low byte as the reference's (int8_t) casts do; Q8's roundf (ties away from zero) is a
 * truncation after adding just under a half (see q8_block). */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"

typedef __m256 vf;
typedef __m256i vi;

/* Where a block keeps what (quant/blocks.h): d first, then the minimum (the _1 types), the
 * fifth bits (Q5), the packed levels. An offset of 0 means "none". */
typedef struct {
    size_t size, m, qh, qs;
    bool asym; /* a minimum per block */
    int levels; /* 16 or 32 */
} legacy_layout;

#define LAYOUT(t, m, qh, asym, levels)                                                           \
    {sizeof(wk_block_##t), m, qh, offsetof(wk_block_##t, qs), asym, levels}
static const legacy_layout Q4_0 = LAYOUT(q4_0, 0, 0, false, 16);
static const legacy_layout Q4_1 = LAYOUT(q4_1, offsetof(wk_block_q4_1, m), 0, true, 16);
static const legacy_layout Q5_0 = LAYOUT(q5_0, 0, offsetof(wk_block_q5_0, qh), false, 32);
static const legacy_layout Q5_1 =
    LAYOUT(q5_1, offsetof(wk_block_q5_1, m), offsetof(wk_block_q5_1, qh), true, 32);
#undef LAYOUT
_Static_assert(offsetof(wk_block_q4_0, d) == 0 && offsetof(wk_block_q4_1, d) == 0 &&
                   offsetof(wk_block_q5_0, d) == 0 && offsetof(wk_block_q5_1, d) == 0,
               "legacy blocks start with d");

static float get_half(const uint8_t *p)
{
    wk_half h;
    memcpy(&h, p, sizeof h);
    return wk_f16_to_f32(h);
}

static void put_half(uint8_t *p, float v)
{
    wk_half h = wk_f32_to_f16(v);
    memcpy(p, &h, sizeof h);
}

/* ---- round to nearest (rtn_sym, rtn_asym of quant/legacy.c) ---- */

/* The levels of one block (the low byte of each) and its scale and minimum. */
static vi rtn_block(const float *x, const legacy_layout *t, float *d_out, float *m_out)
{
    vf v[4], scaled[4];
    vi q[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_loadu_ps(x + 8 * k);
    if (t->asym) {
        int top = t->levels - 1;
        float min = wk_hmin(_mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3])));
        float max = wk_hmax(_mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3])));
        if (min == 0) /* equal non-zero floats have equal bits; zeros have two signs */
            min = x[wk_first_equal(v, 4, min)];
        if (max == 0)
            max = x[wk_first_equal(v, 4, max)];
        float d = (max - min) / (float)top, id = d != 0 ? 1.0f / d : 0.0f;
        for (int k = 0; k < 4; k++)
            scaled[k] = _mm256_add_ps(
                _mm256_mul_ps(_mm256_sub_ps(v[k], _mm256_set1_ps(min)), _mm256_set1_ps(id)),
                _mm256_set1_ps(0.5f));
        *d_out = d;
        *m_out = min;
    } else {
        int half = t->levels / 2;
        float amax, d = wk_max_by_magnitude(x, 4, &amax) / (float)-half;
        float id = d != 0 ? 1.0f / d : 0.0f;
        for (int k = 0; k < 4; k++)
            scaled[k] = _mm256_add_ps(_mm256_mul_ps(v[k], _mm256_set1_ps(id)),
                                      _mm256_set1_ps((float)half + 0.5f));
        *d_out = d;
        *m_out = 0;
    }
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_min_epi32(wk_low_byte(_mm256_cvttps_epi32(scaled[k])),
                                _mm256_set1_epi32(t->levels - 1));
    return wk_bytes32(q);
}

/* element j in the low nibble of byte j, j + 16 in the high one */
static void pack_nibbles(vi q, uint8_t *qs)
{
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm_storeu_si128((__m128i *)qs, _mm_or_si128(_mm_and_si128(lo, nib),
                                                 _mm_slli_epi16(_mm_and_si128(hi, nib), 4)));
}

/* bit j of the little-endian qh: bit 4 of level j */
static void pack_fifth_bits(vi q, uint8_t *qh)
{
    uint32_t h = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(q, 3));
    memcpy(qh, &h, 4);
}

static void rtn_rows(const float *x, void *dst, int64_t n, const legacy_layout *t)
{
    for (int64_t i = 0; i < n / 32; i++) {
        uint8_t *p = (uint8_t *)dst + i * (int64_t)t->size;
        float d, m;
        vi q = rtn_block(x + 32 * i, t, &d, &m);
        put_half(p, d);
        if (t->asym)
            put_half(p + t->m, m);
        pack_nibbles(q, p + t->qs);
        if (t->qh)
            pack_fifth_bits(q, p + t->qh);
    }
}

/* With importance they search, as the reference does. */
#define RTN_ENTRY_POINTS(name, layout)                                                           \
    void wk_quantize_##name##_avx2(const float *src, void *dst, int64_t n, const float *imp)     \
    {                                                                                            \
        if (imp)                                                                                 \
            wk_quant_##name(src, dst, n, imp, &wk_fit_avx2);                                     \
        else                                                                                     \
            rtn_rows(src, dst, n, &layout);                                                      \
    }                                                                                            \
    void wk_from_float_##name##_avx2(const float *src, void *dst, int64_t n)                     \
    {                                                                                            \
        rtn_rows(src, dst, n, &layout);                                                          \
    }
RTN_ENTRY_POINTS(q4_0, Q4_0)
RTN_ENTRY_POINTS(q4_1, Q4_1)
RTN_ENTRY_POINTS(q5_0, Q5_0)
RTN_ENTRY_POINTS(q5_1, Q5_1)
#undef RTN_ENTRY_POINTS

/* ---- Q8_0, Q8_1: d = amax / 127, q = (int8_t)roundf(x / d) ---- */

/* One block: the levels into qs, their sum into *sum; returns d. roundf(v) is
 * trunc(v + copysign(0.49999997f, v)) for every float (checked for all of them: the sum
 * rounds across an integer exactly when v is at or past the tie), and cvttps2dq truncates.
 * Finite products are at most 127.5 in magnitude, so the levels are in [-127, 127] and the
 * saturating packs keep them; an infinite or NaN product (a denormal d makes 1 / d infinite)
 * truncates to 0x80000000, which the reference's (int8_t) cast makes 0 and the packs -128,
 * a value no finite product gives: those bytes become 0. */
static float q8_block(const float *x, int8_t *qs, int *sum)
{
    float amax;
    wk_max_by_magnitude(x, 4, &amax);
    float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    const vf sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    vi q[4];
    for (int k = 0; k < 4; k++) {
        vf v = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), _mm256_set1_ps(id));
        vf half = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(0.49999997f));
        q[k] = _mm256_cvttps_epi32(_mm256_add_ps(v, half));
    }
    vi b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    b = _mm256_andnot_si256(_mm256_cmpeq_epi8(b, _mm256_set1_epi8(-128)), b);
    _mm256_storeu_si256((vi *)qs, b);
    *sum = wk_hsum_epi32(wk_dot_u8_i8(_mm256_set1_epi8(1), b));
    return d;
}

static void q8_0(const float *x, void *dst, int64_t n, const float *importance)
{
    wk_block_q8_0 *b = dst;
    (void)importance; /* changes nothing for 8 bits, as in the reference */
    for (int64_t i = 0; i < n / WK_QK8_0; i++) {
        int sum;
        b[i].d = _cvtss_sh(q8_block(x + i * WK_QK8_0, b[i].qs, &sum), 0);
    }
}

static void q8_1(const float *x, void *dst, int64_t n, const float *importance)
{
    wk_block_q8_1 *b = dst;
    (void)importance;
    for (int64_t i = 0; i < n / WK_QK8_1; i++) {
        int sum;
        float d = q8_block(x + i * WK_QK8_1, b[i].qs, &sum);
        b[i].d = _cvtss_sh(d, 0); /* vcvtps2ph rounds as wk_f32_to_f16 does (half.c) */
        b[i].s = _cvtss_sh((float)sum * d, 0);
    }
}

void wk_quantize_q8_0_avx2(const float *src, void *dst, int64_t n, const float *imp)
{
    q8_0(src, dst, n, imp);
}

void wk_from_float_q8_0_avx2(const float *src, void *dst, int64_t n)
{
    q8_0(src, dst, n, NULL);
}

void wk_quantize_q8_1_avx2(const float *src, void *dst, int64_t n, const float *imp)
{
    q8_1(src, dst, n, imp);
}

void wk_from_float_q8_1_avx2(const float *src, void *dst, int64_t n)
{
    q8_1(src, dst, n, NULL);
}

/* ---- dequantization ---- */

/* bit j0 + k of qh in lane k, as 0 or 16 */
static vi fifth_bits(uint32_t qh, int j0)
{
    vi shifts = _mm256_add_epi32(_mm256_set1_epi32(j0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    vi bits = _mm256_srlv_epi32(_mm256_set1_epi32((int)qh), shifts);
    return _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4);
}

/* y = (float)(q - bias) * d (+ m), for the 32 levels of each block */
static void legacy_rows(const void *src, float *y, int64_t n, const legacy_layout *t)
{
    int bias = t->asym ? 0 : t->levels / 2;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const uint8_t *p = (const uint8_t *)src + i * (int64_t)t->size;
        vf d = _mm256_set1_ps(get_half(p)), m = _mm256_set1_ps(t->asym ? get_half(p + t->m) : 0);
        uint32_t h = 0;
        if (t->qh)
            memcpy(&h, p + t->qh, 4); /* little-endian, as load_qh reads it */
        for (int j = 0; j < 16; j += 8) {
            vi b = wk_u8x8(p + t->qs + j);
            vi q[2] = {_mm256_and_si256(b, _mm256_set1_epi32(0xf)), _mm256_srli_epi32(b, 4)};
            for (int k = 0; k < 2; k++) {
                if (t->qh)
                    q[k] = _mm256_or_si256(q[k], fifth_bits(h, j + 16 * k));
                vi l = _mm256_sub_epi32(q[k], _mm256_set1_epi32(bias));
                vf v = _mm256_mul_ps(_mm256_cvtepi32_ps(l), d);
                if (t->asym) /* q * d + m: a NaN d wins over a NaN m, as in the reference */
                    v = _mm256_add_ps(v, m);
                _mm256_storeu_ps(y + j + 16 * k, v);
            }
        }
    }
}

void wk_dequant_q4_0_avx2(const void *src, float *y, int64_t n)
{
    legacy_rows(src, y, n, &Q4_0);
}

void wk_dequant_q4_1_avx2(const void *src, float *y, int64_t n)
{
    legacy_rows(src, y, n, &Q4_1);
}

void wk_dequant_q5_0_avx2(const void *src, float *y, int64_t n)
{
    legacy_rows(src, y, n, &Q5_0);
}

void wk_dequant_q5_1_avx2(const void *src, float *y, int64_t n)
{
    legacy_rows(src, y, n, &Q5_1);
}

/* y = (float)q * d for blocks of 32 signed bytes at qs after a binary16 d */
static void q8_rows(const void *src, float *y, int64_t n, size_t size, size_t qs)
{
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const uint8_t *p = (const uint8_t *)src + i * (int64_t)size;
        vf d = _mm256_set1_ps(get_half(p));
        const int8_t *q = (const int8_t *)(p + qs);
        for (int j = 0; j < 32; j += 8)
            _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_cvtepi32_ps(wk_i8x8(q + j)), d));
    }
}

void wk_dequant_q8_0_avx2(const void *src, float *y, int64_t n)
{
    q8_rows(src, y, n, sizeof(wk_block_q8_0), offsetof(wk_block_q8_0, qs));
}

void wk_dequant_q8_1_avx2(const void *src, float *y, int64_t n)
{
    q8_rows(src, y, n, sizeof(wk_block_q8_1), offsetof(wk_block_q8_1, qs));
}
