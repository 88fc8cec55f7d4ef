/* AVX2/FMA twins of kernels/dot_kquants.c: the k-quants and IQ4_XS with Q8_K activations.
 *
 * A super-block's levels are unpacked to bytes 32 at a time, in the activations' order, and
 * multiplied with them by vpmaddubsw (unsigned levels: Q2_K..Q6_K, made unsigned by adding
 * their offset, 4 for Q3_K and 32 for Q6_K) or by the sign trick (IQ4_XS's signed table
 * values); vpmaddwd then multiplies the int16 pair sums by the group scales (int16, a scale
 * per 128-bit lane for the groups of 16) and adds pairs, so the whole super-block sums in
 * 8 int32 lanes, exactly (no int16 pair sum reaches 2^15 with activations in [-127, 127], no
 * int32 partial sum 2^29). What the offsets and the minimums take off is a scale (or
 * minimum) times a group's activation sum, Q8_K's bsums: one vpmaddwd of the 16 bsums with
 * the 16 scales. The int32 lanes are multiply-added in float with d * d8 (and dmin * d8), and
 * the 8 lanes added once at the end.
 *
 * Level layouts (quant/kquants.c's dequantizers): Q2_K, Q3_K's low bits and Q6_K's high bits
 * put chunk k (of 32) of each half of 128 at bits 2k of 32 bytes; Q4_K/Q5_K low then high
 * nibbles of 32 bytes per 64, Q5_K/Q3_K's extra bit for chunk c at bit c of 32 bytes. There
 * are no byte shifts: a field is masked in each byte, then moved by a 16-bit shift (which,
 * after the mask, carries no bit into the next byte); every mask and shift is a constant once
 * the loops over chunks are unrolled. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/ahead.h"
#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"

typedef __m256 vf;
typedef __m256i vi;

static inline vi load32(const void *p)
{
    return _mm256_loadu_si256((const vi *)p);
}

static inline vi mask8(int m)
{
    return _mm256_set1_epi8((char)m);
}

/* ---- groups of 16 (Q2_K, Q3_K, Q6_K): chunk k of half h holds groups 8h + 2k, +1 ---- */

/* The 16 scales (bytes) as int16: half h's eight in both lanes. */
static inline vi half_scales(__m128i scales, int h)
{
    __m128i s = h ? _mm_unpackhi_epi64(scales, scales) : scales;
    return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(s));
}

/* sum of the 32 u * y of chunk k, the first 16 scaled by the half's scale 2k, the next 16 by
 * scale 2k + 1 (vpshufb picks int16 2k in the low lane, 2k + 1 in the high one) */
static inline vi chunk16(vi u, const int8_t *y, vi hs, int k)
{
    const vi pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3,
                                     2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    vi sc = _mm256_shuffle_epi8(hs, _mm256_add_epi8(pick, mask8(4 * k)));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, load32(y)), sc);
}

/* sum_g scale_g * bsum_g over the 16 groups, as 8 int32 lanes */
static inline vi scaled_bsums(__m128i scales, const int16_t *bsums)
{
    return _mm256_madd_epi16(_mm256_cvtepi8_epi16(scales), load32(bsums));
}

static inline vi and8(vi v, int m)
{
    return _mm256_and_si256(v, mask8(m));
}

/* The field m << from of each byte of v moved to bit to: masked first, so that the 16-bit
 * shift moves no bit across a byte. */
static inline vi move_bits(vi v, int m, int from, int to)
{
    vi f = and8(v, m << from);
    return to > from ? _mm256_slli_epi16(f, to - from) : _mm256_srli_epi16(f, from - to);
}

/* the four chunks of a half: sum_k chunk16(u[k], y + 32k, hs, k) */
static inline vi half16(vi u0, vi u1, vi u2, vi u3, const int8_t *y, vi hs)
{
    vi s01 = _mm256_add_epi32(chunk16(u0, y, hs, 0), chunk16(u1, y + 32, hs, 1));
    vi s23 = _mm256_add_epi32(chunk16(u2, y + 64, hs, 2), chunk16(u3, y + 96, hs, 3));
    return _mm256_add_epi32(s01, s23);
}

/* Q2_K and Q3_K: chunk k of half h is bits 2k of the half's 32 bytes of qs. Q3_K adds 4 where
 * bit 4h + k of hmask's bytes is set. */
static inline vi sum_2bit(const uint8_t *qs, const uint8_t *hmask, const int8_t *y,
                          __m128i scales)
{
    vi sum = _mm256_setzero_si256(), hm = hmask ? load32(hmask) : sum;
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++, y += 128) {
        vi q = load32(qs + 32 * h);
        vi u0 = and8(q, 3), u1 = and8(_mm256_srli_epi16(q, 2), 3);
        vi u2 = and8(_mm256_srli_epi16(q, 4), 3), u3 = and8(_mm256_srli_epi16(q, 6), 3);
        if (hmask) {
            u0 = _mm256_or_si256(u0, move_bits(hm, 1, 4 * h, 2));
            u1 = _mm256_or_si256(u1, move_bits(hm, 1, 4 * h + 1, 2));
            u2 = _mm256_or_si256(u2, move_bits(hm, 1, 4 * h + 2, 2));
            u3 = _mm256_or_si256(u3, move_bits(hm, 1, 4 * h + 3, 2));
        }
        sum = _mm256_add_epi32(sum, half16(u0, u1, u2, u3, y, half_scales(scales, h)));
    }
    return sum;
}

/* acc += d * cvt(isum) */
static inline vf fma_lanes(float d, vi isum, vf acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
}

void wk_vec_dot_q2_K_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q2_K *w = x;
    const wk_block_q8_K *a = y;
    vf acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        __m128i sm = _mm_loadu_si128((const __m128i *)w[i].scales);
        __m128i sc = _mm_and_si128(sm, _mm_set1_epi8(0xf));
        __m128i m = _mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0xf));
        acc = fma_lanes(_cvtsh_ss(w[i].d) * a[i].d, sum_2bit(w[i].qs, NULL, a[i].qs, sc), acc);
        accm = fma_lanes(_cvtsh_ss(w[i].dmin) * a[i].d, scaled_bsums(m, a[i].bsums), accm);
    }
    *s = wk_hsum_ps(_mm256_sub_ps(acc, accm));
}

/* Q3_K's sixteen 6-bit scales minus 32: low four bits from bytes 0..7 (groups 0..7 low
 * nibbles, 8..15 high), the top two from bytes 8..11 (bits 2 * (g / 4) of byte 8 + g % 4). */
static inline __m128i q3_K_scales(const uint8_t s[12])
{
    uint32_t w0, w1, w2;
    memcpy(&w0, s, 4);
    memcpy(&w1, s + 4, 4);
    memcpy(&w2, s + 8, 4);
    const uint32_t lo = 0x0f0f0f0f, top = 0x03030303;
    __m128i v = _mm_setr_epi32((int)((w0 & lo) | (w2 & top) << 4),
                               (int)((w1 & lo) | (w2 >> 2 & top) << 4),
                               (int)((w0 >> 4 & lo) | (w2 >> 4 & top) << 4),
                               (int)((w1 >> 4 & lo) | (w2 >> 6 & top) << 4));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

void wk_vec_dot_q3_K_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q3_K *w = x;
    const wk_block_q8_K *a = y;
    vf acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        __m128i sc = q3_K_scales(w[i].scales);
        /* levels are u - 4, u = low bits + 4 * high bit */
        vi isum = sum_2bit(w[i].qs, w[i].hmask, a[i].qs, sc);
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(scaled_bsums(sc, a[i].bsums), 2));
        acc = fma_lanes(_cvtsh_ss(w[i].d) * a[i].d, isum, acc);
    }
    *s = wk_hsum_ps(acc);
}

void wk_vec_dot_q6_K_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q6_K *w = x;
    const wk_block_q8_K *a = y;
    vf acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        wk_fetch_ahead(&w[i], sizeof w[i]); /* kernels/ahead.h */
        __m128i sc = _mm_loadu_si128((const __m128i *)w[i].scales);
        const int8_t *q8 = a[i].qs;
        vi isum = _mm256_setzero_si256();
        /* chunk k of half h: nibble k / 2 of ql[32 * (k % 2) ..], bits 2k of qh above it */
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++, q8 += 128) {
            vi ql0 = load32(w[i].ql + 64 * h), ql1 = load32(w[i].ql + 64 * h + 32);
            vi hi = load32(w[i].qh + 32 * h);
            vi u0 = _mm256_or_si256(and8(ql0, 0xf), move_bits(hi, 3, 0, 4));
            vi u1 = _mm256_or_si256(and8(ql1, 0xf), move_bits(hi, 3, 2, 4));
            vi u2 = _mm256_or_si256(and8(_mm256_srli_epi16(ql0, 4), 0xf), move_bits(hi, 3, 4, 4));
            vi u3 = _mm256_or_si256(and8(_mm256_srli_epi16(ql1, 4), 0xf), move_bits(hi, 3, 6, 4));
            isum = _mm256_add_epi32(isum, half16(u0, u1, u2, u3, q8, half_scales(sc, h)));
        }
        /* levels are u - 32 */
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(scaled_bsums(sc, a[i].bsums), 5));
        acc = fma_lanes(_cvtsh_ss(w[i].d) * a[i].d, isum, acc);
    }
    *s = wk_hsum_ps(acc);
}

/* ---- groups of 32 (Q4_K, Q5_K, IQ4_XS) ---- */

/* int16 j of v (8 int16 per lane, the same in both) in every int16 */
static inline vi pick16(vi v, int j)
{
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)(0x0100 + 0x0202 * j)));
}

/* One Q4_K or Q5_K super-block (qh NULL for Q4_K): acc += d * d8 * sum_g sc_g sum u y,
 * accm += dmin * d8 * sum_g m_g bsum_g. */
static inline void q45_K(const uint8_t *scales, wk_half d, wk_half dmin, const uint8_t *qs,
                         const uint8_t *qh, const wk_block_q8_K *a, vf *acc, vf *accm)
{
    __m128i sm = wk_k4_scales_mins(scales);
    vi sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    vi mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* each for two bsums */
    vi isum = _mm256_setzero_si256(), hb = qh ? load32(qh) : isum;
    const int8_t *q8 = a->qs;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++, q8 += 64) {
        vi q = load32(qs + 32 * j);
        vi u[2] = {and8(q, 0xf), and8(_mm256_srli_epi16(q, 4), 0xf)};
#pragma GCC unroll 2
        for (int k = 0; k < 2; k++) {
            if (qh)
                u[k] = _mm256_or_si256(u[k], move_bits(hb, 1, 2 * j + k, 4));
            vi p = _mm256_maddubs_epi16(u[k], load32(q8 + 32 * k));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, pick16(sc, 2 * j + k)));
        }
    }
    *acc = fma_lanes(_cvtsh_ss(d) * a->d, isum, *acc);
    *accm = fma_lanes(_cvtsh_ss(dmin) * a->d, _mm256_madd_epi16(mins, load32(a->bsums)), *accm);
}

void wk_vec_dot_q4_K_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q4_K *w = x;
    const wk_block_q8_K *a = y;
    vf acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        wk_fetch_ahead(&w[i], sizeof w[i]); /* kernels/ahead.h */
        q45_K(w[i].scales, w[i].d, w[i].dmin, w[i].qs, NULL, &a[i], &acc, &accm);
    }
    *s = wk_hsum_ps(_mm256_sub_ps(acc, accm));
}

void wk_vec_dot_q5_K_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q5_K *w = x;
    const wk_block_q8_K *a = y;
    vf acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        wk_fetch_ahead(&w[i], sizeof w[i]); /* kernels/ahead.h */
        q45_K(w[i].scales, w[i].d, w[i].dmin, w[i].qs, w[i].qh, &a[i], &acc, &accm);
    }
    *s = wk_hsum_ps(_mm256_sub_ps(acc, accm));
}

/* IQ4_XS's eight 6-bit scales minus 32 as int16 in both lanes: the low four bits are the
 * nibbles of scales_l (group 2k low, 2k + 1 high), the top two bits 2g of scales_h. Both are
 * spread to one field per byte by shift-and-mask steps that halve the field width. */
static inline vi iq4_xs_scales(const wk_block_iq4_xs *b)
{
    uint32_t l;
    memcpy(&l, b->scales_l, 4);
    uint64_t lo = l, hi = b->scales_h;
    lo = (lo | lo << 16) & 0x0000ffff0000ffffull;
    lo = (lo | lo << 8) & 0x00ff00ff00ff00ffull;
    lo = (lo | lo << 4) & 0x0f0f0f0f0f0f0f0full;
    hi = (hi | hi << 24) & 0x000000ff000000ffull;
    hi = (hi | hi << 12) & 0x000f000f000f000full;
    hi = (hi | hi << 6) & 0x0303030303030303ull;
    __m128i v = _mm_sub_epi8(_mm_cvtsi64_si128((long long)(lo | hi << 4)), _mm_set1_epi8(32));
    return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(v));
}

void wk_vec_dot_iq4_xs_avx2(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_iq4_xs *w = x;
    const wk_block_q8_K *a = y;
    const vi table = wk_iq4_table();
    vf acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        vi sc = iq4_xs_scales(&w[i]), isum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            vi v = _mm256_shuffle_epi8(table, wk_nibbles32(w[i].qs + 16 * g));
            vi yg = load32(a[i].qs + 32 * g);
            vi p = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(yg, v));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, pick16(sc, g)));
        }
        acc = fma_lanes(_cvtsh_ss(w[i].d) * a[i].d, isum, acc);
    }
    *s = wk_hsum_ps(acc);
}
