/* AVX2 twins of kernels/repack.c: the canonical int8 form of kernels/gemm.h, the same bytes
 * and floats as the scalar code (tests/unit/kernels/test_gemm.c compares them).
 *
 * Levels are unpacked 32 at a time as kernels/avx2/dot.c and dot_kquants.c do: nibbles by a
 * mask and a 16-bit shift (the mask first, so no bit crosses into the next byte), extra bits
 * moved into place the same way, IQ4's table by vpshufb. Scales and offsets are a few scalar
 * products per group, computed as the scalar code computes them, stored by vector stores. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quantize.h"

typedef __m256i vi;

static inline vi load32(const void *p)
{
    return _mm256_loadu_si256((const vi *)p);
}

static inline void store32(void *p, vi v)
{
    _mm256_storeu_si256((vi *)p, v);
}

static inline vi and8(vi v, int m)
{
    return _mm256_and_si256(v, _mm256_set1_epi8((char)m));
}

/* The field m << from of each byte of v, moved to bit `to`. */
static inline vi field(vi v, int m, int from, int to)
{
    vi f = and8(v, m << from);
    return to > from ? _mm256_slli_epi16(f, to - from) : _mm256_srli_epi16(f, from - to);
}

/* group g's integer scales (8 lanes each) and offsets */
static inline void put_group(int16_t *sc, float *m, int64_t g, int sc0, float m0, int sc1,
                             float m1)
{
    store32(sc + 16 * g, _mm256_setr_m128i(_mm_set1_epi16((short)sc0), _mm_set1_epi16((short)sc1)));
    m[2 * g] = m0;
    m[2 * g + 1] = m1;
}

/* ---- the 32-block types ---- */

static inline float half(const void *p)
{
    wk_half h;
    memcpy(&h, p, 2);
    return wk_f16_to_f32(h);
}

/* Q4_0, Q4_1, Q5_0, Q5_1 (block layout as in kernels/repack.c's legacy) */
static inline void legacy(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d,
                          float *m, size_t size, size_t moff, size_t qh, size_t qs, int centre)
{
    for (int64_t g = 0; g < k / 32; g++) {
        const uint8_t *b = (const uint8_t *)src + g * size;
        vi v = wk_nibbles32(b + qs);
        if (qh)
            v = _mm256_or_si256(v, wk_fifth_bits(b + qh));
        store32(q + 32 * g, v);
        d[g] = half(b);
        float off = moff ? half(b + moff) : -(float)centre * d[g];
        put_group(sc, m, g, 1, off, 1, off);
    }
}

void wk_repack_q4_0_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    legacy(src, k, q, sc, d, m, sizeof(wk_block_q4_0), 0, 0, offsetof(wk_block_q4_0, qs), 8);
}

void wk_repack_q4_1_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    legacy(src, k, q, sc, d, m, sizeof(wk_block_q4_1), offsetof(wk_block_q4_1, m), 0,
           offsetof(wk_block_q4_1, qs), 0);
}

void wk_repack_q5_0_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    legacy(src, k, q, sc, d, m, sizeof(wk_block_q5_0), 0, offsetof(wk_block_q5_0, qh),
           offsetof(wk_block_q5_0, qs), 16);
}

void wk_repack_q5_1_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    legacy(src, k, q, sc, d, m, sizeof(wk_block_q5_1), offsetof(wk_block_q5_1, m),
           offsetof(wk_block_q5_1, qh), offsetof(wk_block_q5_1, qs), 0);
}

void wk_repack_q8_0_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q8_0 *b = src;
    for (int64_t g = 0; g < k / 32; g++) {
        store32(q + 32 * g, load32(b[g].qs));
        d[g] = wk_f16_to_f32(b[g].d);
        put_group(sc, m, g, 1, 0, 1, 0);
    }
}

void wk_repack_iq4_nl_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d,
                           float *m)
{
    const wk_block_iq4_nl *b = src;
    for (int64_t g = 0; g < k / 32; g++) {
        store32(q + 32 * g, _mm256_shuffle_epi8(wk_iq4_table(), wk_nibbles32(b[g].qs)));
        d[g] = wk_f16_to_f32(b[g].d);
        put_group(sc, m, g, 1, 0, 1, 0);
    }
}

/* ---- super-blocks: chunk c of 32 values of super-block i at q + 256 i + 32 c ---- */

/* Q2_K and Q3_K: chunk 4h + j is bits 2j of half h's 32 bytes; Q3_K adds 4 where bit 4h + j
 * of hmask's bytes is set. */
static inline void low2(const uint8_t *qs, const uint8_t *hmask, uint8_t *q)
{
    vi hm = hmask ? load32(hmask) : _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        vi v = load32(qs + 32 * h);
        for (int j = 0; j < 4; j++) {
            vi u = field(v, 3, 2 * j, 0);
            if (hmask)
                u = _mm256_or_si256(u, field(hm, 1, 4 * h + j, 2));
            store32(q + 32 * (4 * h + j), u);
        }
    }
}

void wk_repack_q2_K_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K) {
        float dmin = wk_f16_to_f32(b[i].dmin);
        d[i] = wk_f16_to_f32(b[i].d);
        low2(b[i].qs, NULL, q);
        for (int g = 0; g < 8; g++) {
            uint8_t s0 = b[i].scales[2 * g], s1 = b[i].scales[2 * g + 1];
            put_group(sc, m, 8 * i + g, s0 & 0xf, -(dmin * (float)(s0 >> 4)), s1 & 0xf,
                      -(dmin * (float)(s1 >> 4)));
        }
    }
}

void wk_repack_q3_K_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K) {
        d[i] = wk_f16_to_f32(b[i].d);
        low2(b[i].qs, b[i].hmask, q);
        int s[16];
        for (int j = 0; j < 16; j++)
            s[j] = (((b[i].scales[j % 8] >> (4 * (j / 8))) & 0xf) |
                    ((b[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
        for (int g = 0; g < 8; g++)
            put_group(sc, m, 8 * i + g, s[2 * g], -4 * (d[i] * (float)s[2 * g]), s[2 * g + 1],
                      -4 * (d[i] * (float)s[2 * g + 1]));
    }
}

/* Q4_K, Q5_K: chunk 2p low nibbles of bytes 32p.., chunk 2p + 1 their high nibbles; Q5_K's
 * fifth bit of chunk c is bit c of qh's bytes. */
static inline void k45(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, wk_half dh,
                       wk_half dminh, int64_t i, uint8_t *q, int16_t *sc, float *d, float *m)
{
    vi hb = qh ? load32(qh) : _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
        vi v = load32(qs + 32 * p), lo = and8(v, 0xf), hi = field(v, 0xf, 4, 0);
        if (qh) {
            lo = _mm256_or_si256(lo, field(hb, 1, 2 * p, 4));
            hi = _mm256_or_si256(hi, field(hb, 1, 2 * p + 1, 4));
        }
        store32(q + 64 * p, lo);
        store32(q + 64 * p + 32, hi);
    }
    d[i] = wk_f16_to_f32(dh);
    float dmin = wk_f16_to_f32(dminh);
    for (int g = 0; g < 8; g++) {
        uint8_t s, mn;
        wk_k4_scale_min(g, scales, &s, &mn);
        float o = -(dmin * (float)mn);
        put_group(sc, m, 8 * i + g, s, o, s, o);
    }
}

void wk_repack_q4_K_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q4_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45(b[i].qs, NULL, b[i].scales, b[i].d, b[i].dmin, i, q + WK_QK_K * i, sc, d, m);
}

void wk_repack_q5_K_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q5_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45(b[i].qs, b[i].qh, b[i].scales, b[i].d, b[i].dmin, i, q + WK_QK_K * i, sc, d, m);
}

/* Q6_K: in half h, chunks 0, 1 are the low nibbles of ql's bytes 64h.. and 64h + 32.., chunks
 * 2, 3 their high nibbles; bits 2j of qh's bytes 32h.. are chunk j's top two bits. */
void wk_repack_q6_K_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d, float *m)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K) {
        for (int h = 0; h < 2; h++) {
            vi l0 = load32(b[i].ql + 64 * h), l1 = load32(b[i].ql + 64 * h + 32);
            vi hb = load32(b[i].qh + 32 * h);
            vi low[4] = {and8(l0, 0xf), and8(l1, 0xf), field(l0, 0xf, 4, 0), field(l1, 0xf, 4, 0)};
            for (int j = 0; j < 4; j++)
                store32(q + 128 * h + 32 * j, _mm256_or_si256(low[j], field(hb, 3, 2 * j, 4)));
        }
        d[i] = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++) {
            int s0 = b[i].scales[2 * g], s1 = b[i].scales[2 * g + 1];
            put_group(sc, m, 8 * i + g, s0, -32 * (d[i] * (float)s0), s1,
                      -32 * (d[i] * (float)s1));
        }
    }
}

void wk_repack_iq4_xs_avx2(const void *src, int64_t k, uint8_t *q, int16_t *sc, float *d,
                           float *m)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K) {
        d[i] = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++) {
            int ls = ((b[i].scales_l[g / 2] >> (4 * (g % 2))) & 0xf) |
                     ((b[i].scales_h >> (2 * g)) & 3) << 4;
            store32(q + 32 * g,
                    _mm256_shuffle_epi8(wk_iq4_table(), wk_nibbles32(b[i].qs + 16 * g)));
            put_group(sc, m, 8 * i + g, ls - 32, 0, ls - 32, 0);
        }
    }
}
