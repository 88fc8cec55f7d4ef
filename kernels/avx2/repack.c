/* AVX2 twins of the levels of kernels/repack.c (the canonical int8 form of kernels/gemm.h):
 * the same bytes as the scalar code (tests/unit/kernels/test_gemm.c compares them).
 *
 * Levels are unpacked 32 at a time as kernels/avx2/dot.c and dot_kquants.c do: nibbles by a
 * mask and a 16-bit shift (the mask first, so no bit crosses into the next byte), extra bits
 * moved into place the same way, IQ4's table by vpshufb. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>

#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"

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

/* ---- the 32-block types ---- */

/* Q4_0, Q4_1, Q5_0, Q5_1: qs (and qh) at these offsets of blocks of `size` bytes */
static inline void legacy(const void *src, int64_t k, uint8_t *q, size_t size, size_t qh,
                          size_t qs)
{
    for (int64_t g = 0; g < k / 32; g++) {
        const uint8_t *b = (const uint8_t *)src + g * size;
        vi v = wk_nibbles32(b + qs);
        store32(q + 32 * g, qh ? _mm256_or_si256(v, wk_fifth_bits(b + qh)) : v);
    }
}

void wk_levels_q4_0_avx2(const void *src, int64_t k, uint8_t *q)
{
    legacy(src, k, q, sizeof(wk_block_q4_0), 0, offsetof(wk_block_q4_0, qs));
}

void wk_levels_q4_1_avx2(const void *src, int64_t k, uint8_t *q)
{
    legacy(src, k, q, sizeof(wk_block_q4_1), 0, offsetof(wk_block_q4_1, qs));
}

void wk_levels_q5_0_avx2(const void *src, int64_t k, uint8_t *q)
{
    legacy(src, k, q, sizeof(wk_block_q5_0), offsetof(wk_block_q5_0, qh),
           offsetof(wk_block_q5_0, qs));
}

void wk_levels_q5_1_avx2(const void *src, int64_t k, uint8_t *q)
{
    legacy(src, k, q, sizeof(wk_block_q5_1), offsetof(wk_block_q5_1, qh),
           offsetof(wk_block_q5_1, qs));
}

void wk_levels_q8_0_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q8_0 *b = src;
    for (int64_t g = 0; g < k / 32; g++)
        store32(q + 32 * g, load32(b[g].qs));
}

void wk_levels_iq4_nl_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_iq4_nl *b = src;
    for (int64_t g = 0; g < k / 32; g++)
        store32(q + 32 * g, _mm256_shuffle_epi8(wk_iq4_table(), wk_nibbles32(b[g].qs)));
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
            store32(q + 32 * (4 * h + j),
                    hmask ? _mm256_or_si256(u, field(hm, 1, 4 * h + j, 2)) : u);
        }
    }
}

void wk_levels_q2_K_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        low2(b[i].qs, NULL, q + WK_QK_K * i);
}

void wk_levels_q3_K_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        low2(b[i].qs, b[i].hmask, q + WK_QK_K * i);
}

/* Q4_K, Q5_K: chunk 2p low nibbles of bytes 32p.., chunk 2p + 1 their high nibbles; Q5_K's
 * fifth bit of chunk c is bit c of qh's bytes. */
static inline void k45(const uint8_t *qs, const uint8_t *qh, uint8_t *q)
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
}

void wk_levels_q4_K_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q4_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45(b[i].qs, NULL, q + WK_QK_K * i);
}

void wk_levels_q5_K_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q5_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45(b[i].qs, b[i].qh, q + WK_QK_K * i);
}

/* Q6_K: in half h, chunks 0, 1 are the low nibbles of ql's bytes 64h.. and 64h + 32.., chunks
 * 2, 3 their high nibbles; bits 2j of qh's bytes 32h.. are chunk j's top two bits. */
void wk_levels_q6_K_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int h = 0; h < 2; h++) {
            vi l0 = load32(b[i].ql + 64 * h), l1 = load32(b[i].ql + 64 * h + 32);
            vi hb = load32(b[i].qh + 32 * h);
            vi low[4] = {and8(l0, 0xf), and8(l1, 0xf), field(l0, 0xf, 4, 0), field(l1, 0xf, 4, 0)};
            for (int j = 0; j < 4; j++)
                store32(q + 128 * h + 32 * j, _mm256_or_si256(low[j], field(hb, 3, 2 * j, 4)));
        }
}

void wk_levels_iq4_xs_avx2(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int g = 0; g < 8; g++)
            store32(q + 32 * g,
                    _mm256_shuffle_epi8(wk_iq4_table(), wk_nibbles32(b[i].qs + 16 * g)));
}
