/* The canonical int8 form of kernels/gemm.h, from every quantized weight type with a dot
 * product and from the Q8 activation types: scalar code. A type's levels (the work) have AVX2
 * twins; its scales and offsets (a few products per group) are this file's for every path.
 *
 * Each type maps exactly (value = d * sc * q + m for every value, the same float as the type's
 * dequantizer gives; tests/unit/kernels/test_gemm.c checks it on random bytes):
 *   Q4_0  q nibble, sc 1, m -8 d         Q4_1  q nibble, sc 1, m the block's m
 *   Q5_0  q 5 bits, sc 1, m -16 d        Q5_1  q 5 bits, sc 1, m the block's m
 *   Q8_0  q signed, sc 1                 IQ4_NL  q the table's value (signed), sc 1
 *   Q2_K  per 16: q 2 bits, sc sc & 15, m -dmin * (sc >> 4)
 *   Q3_K  per 16: q 3 bits (high bit set: +4), sc sc - 32, m -4 d sc
 *   Q4_K, Q5_K  per 32: q 4 or 5 bits, sc its scale, m -dmin * min
 *   Q6_K  per 16: q 6 bits, sc its scale, m -32 d sc
 *   IQ4_XS  per 32: q the table's value (signed), sc ls - 32
 * The offsets -8 d, -16 d, -4 d sc, -32 d sc are exact (powers of two), and fp16 d times an
 * 8-bit integer is exact in float, so nothing rounds that the dequantizer does not round. */
#include "kernels/gemm.h"

#include <stddef.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/fit.h"
#include "quant/half.h"
#include "quant/quantize.h"

/* The integer scales and the offsets of 32-group g: sc0, m0 for its first 16 values, sc1, m1
 * for the rest. */
static void put_group(int16_t *sc, float *m, int64_t g, int sc0, float m0, int sc1, float m1)
{
    for (int l = 0; l < 8; l++) {
        sc[16 * g + l] = (int16_t)sc0;
        sc[16 * g + 8 + l] = (int16_t)sc1;
    }
    m[2 * g] = m0;
    m[2 * g + 1] = m1;
}

static float half(const uint8_t *p)
{
    wk_half h;
    memcpy(&h, p, 2);
    return wk_f16_to_f32(h);
}

/* ---- the 32-block types: d first, then m (the _1 types), qh (Q5), qs ---- */

/* element j of a 32-block in the low nibble of byte j, j + 16 in the high one */
static void nibbles(const uint8_t *qs, uint8_t *q)
{
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 0xf;
        q[j + 16] = qs[j] >> 4;
    }
}

static void legacy_levels(const void *src, int64_t k, uint8_t *q, size_t size, size_t qh,
                          size_t qs)
{
    for (int64_t g = 0; g < k / 32; g++) {
        const uint8_t *b = (const uint8_t *)src + g * size;
        nibbles(b + qs, q + 32 * g);
        if (!qh)
            continue;
        uint32_t h = (uint32_t)b[qh] | (uint32_t)b[qh + 1] << 8 | (uint32_t)b[qh + 2] << 16 |
                     (uint32_t)b[qh + 3] << 24;
        for (int j = 0; j < 32; j++)
            q[32 * g + j] |= (uint8_t)(((h >> j) & 1) << 4);
    }
}

/* d, and m: the block's minimum at moff, or -centre d */
static void legacy_scales(const void *src, int64_t k, int16_t *sc, float *d, float *m,
                          size_t size, size_t moff, int centre)
{
    for (int64_t g = 0; g < k / 32; g++) {
        const uint8_t *b = (const uint8_t *)src + g * size;
        d[g] = half(b);
        float off = moff ? half(b + moff) : -(float)centre * d[g];
        put_group(sc, m, g, 1, off, 1, off);
    }
}

#define SCALES(name, block, moff, centre)                                                        \
    static void scales_##name(const void *src, int64_t k, int16_t *sc, float *d, float *m)       \
    {                                                                                            \
        legacy_scales(src, k, sc, d, m, sizeof(block), moff, centre);                            \
    }
#define LEVELS(name, block, qh)                                                                  \
    static void levels_##name(const void *src, int64_t k, uint8_t *q)                            \
    {                                                                                            \
        legacy_levels(src, k, q, sizeof(block), qh, offsetof(block, qs));                        \
    }
SCALES(q4_0, wk_block_q4_0, 0, 8) LEVELS(q4_0, wk_block_q4_0, 0)
SCALES(q4_1, wk_block_q4_1, offsetof(wk_block_q4_1, m), 0) LEVELS(q4_1, wk_block_q4_1, 0)
SCALES(q5_0, wk_block_q5_0, 0, 16) LEVELS(q5_0, wk_block_q5_0, offsetof(wk_block_q5_0, qh))
SCALES(q5_1, wk_block_q5_1, offsetof(wk_block_q5_1, m), 0)
LEVELS(q5_1, wk_block_q5_1, offsetof(wk_block_q5_1, qh))
SCALES(q8_0, wk_block_q8_0, 0, 0) SCALES(iq4_nl, wk_block_iq4_nl, 0, 0)
#undef SCALES
#undef LEVELS

static void levels_q8_0(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q8_0 *b = src;
    for (int64_t g = 0; g < k / 32; g++)
        memcpy(q + 32 * g, b[g].qs, 32);
}

static void iq4_levels(const uint8_t *qs, uint8_t *q)
{
    nibbles(qs, q);
    for (int j = 0; j < 32; j++)
        q[j] = (uint8_t)WK_IQ4_VALUES[q[j]];
}

static void levels_iq4_nl(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_iq4_nl *b = src;
    for (int64_t g = 0; g < k / 32; g++)
        iq4_levels(b[g].qs, q + 32 * g);
}

/* ---- super-blocks of 256 (span 8): d[i] is super-block i's, g counts 32-groups from the
 * row's start ---- */

/* Q2_K and Q3_K: byte l of 32-byte half h holds elements 128 h + 32 p + l at shift 2 p. */
static void levels_q2_K(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int j = 0; j < WK_QK_K; j++)
            q[j] = (b[i].qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
}

static void scales_q2_K(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++) {
        float dmin = wk_f16_to_f32(b[i].dmin);
        d[i] = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++) {
            uint8_t s0 = b[i].scales[2 * g], s1 = b[i].scales[2 * g + 1];
            put_group(sc, m, 8 * i + g, s0 & 0xf, -(dmin * (float)(s0 >> 4)), s1 & 0xf,
                      -(dmin * (float)(s1 >> 4)));
        }
    }
}

/* Q3_K: Q2_K's layout for the low two bits, 4 more where bit j / 32 of hmask[j % 32] is set */
static void levels_q3_K(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int j = 0; j < WK_QK_K; j++)
            q[j] = (uint8_t)(((b[i].qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3) |
                             ((b[i].hmask[j % 32] >> (j / 32)) & 1) << 2);
}

static void scales_q3_K(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++) {
        int s[16];
        d[i] = wk_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            int lo = (b[i].scales[j % 8] >> (4 * (j / 8))) & 0xf;
            int hi = (b[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            s[j] = (lo | hi << 4) - 32;
        }
        for (int g = 0; g < 8; g++) /* levels 4 up: the offset is -4 times the scale */
            put_group(sc, m, 8 * i + g, s[2 * g], -4 * (d[i] * (float)s[2 * g]), s[2 * g + 1],
                      -4 * (d[i] * (float)s[2 * g + 1]));
    }
}

/* Q4_K, Q5_K: 64 values per 32 bytes, the low nibbles first; Q5_K's fifth bit of value j is
 * bit j / 32 of qh[j % 32]. */
static void k45_levels(const uint8_t *qs, const uint8_t *qh, uint8_t *q)
{
    for (int j = 0; j < WK_QK_K; j++) {
        uint8_t byte = qs[32 * (j / 64) + j % 32];
        q[j] = (uint8_t)((j % 64 < 32 ? byte & 0xf : byte >> 4) |
                         (qh ? ((qh[j % 32] >> (j / 32)) & 1) << 4 : 0));
    }
}

static void levels_q4_K(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q4_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45_levels(b[i].qs, NULL, q + WK_QK_K * i);
}

static void levels_q5_K(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q5_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++)
        k45_levels(b[i].qs, b[i].qh, q + WK_QK_K * i);
}

/* d, dmin and the packed scales at the same offsets in both blocks */
_Static_assert(offsetof(wk_block_q4_K, scales) == offsetof(wk_block_q5_K, scales),
               "Q4_K and Q5_K share their head");

static void k45_scales(const uint8_t *src, size_t size, int64_t k, int16_t *sc, float *d,
                       float *m)
{
    for (int64_t i = 0; i < k / WK_QK_K; i++) {
        const wk_block_q4_K *b = (const wk_block_q4_K *)(const void *)(src + i * size);
        float dmin = wk_f16_to_f32(b->dmin);
        d[i] = wk_f16_to_f32(b->d);
        for (int g = 0; g < 8; g++) {
            uint8_t s, mn;
            wk_k4_scale_min(g, b->scales, &s, &mn);
            float o = -(dmin * (float)mn);
            put_group(sc, m, 8 * i + g, s, o, s, o);
        }
    }
}

static void scales_q4_K(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    k45_scales(src, sizeof(wk_block_q4_K), k, sc, d, m);
}

static void scales_q5_K(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    k45_scales(src, sizeof(wk_block_q5_K), k, sc, d, m);
}

static void levels_q6_K(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int j = 0; j < WK_QK_K; j++) {
            int h = j / 128, l = j % 32, quarter = (j % 128) / 32;
            const uint8_t *ql = b[i].ql + 64 * h + (quarter % 2) * 32, *qh = b[i].qh + 32 * h;
            int low = quarter < 2 ? ql[l] & 0xf : ql[l] >> 4;
            q[j] = (uint8_t)(low | ((qh[l] >> (2 * quarter)) & 3) << 4);
        }
}

static void scales_q6_K(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++) {
        d[i] = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++) { /* levels 32 up */
            int s0 = b[i].scales[2 * g], s1 = b[i].scales[2 * g + 1];
            put_group(sc, m, 8 * i + g, s0, -32 * (d[i] * (float)s0), s1,
                      -32 * (d[i] * (float)s1));
        }
    }
}

static void levels_iq4_xs(const void *src, int64_t k, uint8_t *q)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++, q += WK_QK_K)
        for (int g = 0; g < 8; g++)
            iq4_levels(b[i].qs + 16 * g, q + 32 * g);
}

static void scales_iq4_xs(const void *src, int64_t k, int16_t *sc, float *d, float *m)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < k / WK_QK_K; i++) {
        d[i] = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++) {
            int ls = ((b[i].scales_l[g / 2] >> (4 * (g % 2))) & 0xf) |
                     ((b[i].scales_h >> (2 * g)) & 3) << 4;
            put_group(sc, m, 8 * i + g, ls - 32, 0, ls - 32, 0);
        }
    }
}

static const struct {
    wk_levels_fn levels;
    wk_scales_fn scales;
    bool is_signed;
    int span;
} REPACK[WK_DTYPE_COUNT] = {
    [WK_Q4_0] = {levels_q4_0, scales_q4_0, false, 1},
    [WK_Q4_1] = {levels_q4_1, scales_q4_1, false, 1},
    [WK_Q5_0] = {levels_q5_0, scales_q5_0, false, 1},
    [WK_Q5_1] = {levels_q5_1, scales_q5_1, false, 1},
    [WK_Q8_0] = {levels_q8_0, scales_q8_0, true, 1},
    [WK_IQ4_NL] = {levels_iq4_nl, scales_iq4_nl, true, 1},
    [WK_Q2_K] = {levels_q2_K, scales_q2_K, false, 8},
    [WK_Q3_K] = {levels_q3_K, scales_q3_K, false, 8},
    [WK_Q4_K] = {levels_q4_K, scales_q4_K, false, 8},
    [WK_Q5_K] = {levels_q5_K, scales_q5_K, false, 8},
    [WK_Q6_K] = {levels_q6_K, scales_q6_K, false, 8},
    [WK_IQ4_XS] = {levels_iq4_xs, scales_iq4_xs, true, 8},
};

wk_levels_fn wk_levels_ref(wk_dtype t)
{
    return (unsigned)t < WK_DTYPE_COUNT ? REPACK[t].levels : NULL;
}

wk_scales_fn wk_repack_scales(wk_dtype t)
{
    return (unsigned)t < WK_DTYPE_COUNT ? REPACK[t].scales : NULL;
}

bool wk_repack_signed(wk_dtype t)
{
    return (unsigned)t < WK_DTYPE_COUNT && REPACK[t].is_signed;
}

int wk_repack_span(wk_dtype t)
{
    return (unsigned)t < WK_DTYPE_COUNT && REPACK[t].span ? REPACK[t].span : 1;
}

/* ---- activations ---- */

static int sum16(const int8_t *q)
{
    int s = 0;
    for (int j = 0; j < 16; j++)
        s += q[j];
    return s;
}

void wk_acts_from_q8(wk_dtype at, const void *src, int64_t k, int8_t *q, float *d, float *ds)
{
    if (at == WK_Q8_0) {
        const wk_block_q8_0 *b = src;
        for (int64_t g = 0; g < k / 32; g++) {
            d[g] = wk_f16_to_f32(b[g].d);
            memcpy(q + 32 * g, b[g].qs, 32);
            ds[2 * g] = d[g] * (float)sum16(b[g].qs);
            ds[2 * g + 1] = d[g] * (float)sum16(b[g].qs + 16);
        }
    } else if (at == WK_Q8_1) {
        const wk_block_q8_1 *b = src;
        for (int64_t g = 0; g < k / 32; g++) {
            d[g] = wk_f16_to_f32(b[g].d);
            memcpy(q + 32 * g, b[g].qs, 32);
            ds[2 * g] = wk_f16_to_f32(b[g].s);
            ds[2 * g + 1] = 0;
        }
    } else {
        const wk_block_q8_K *b = src;
        for (int64_t i = 0; i < k / WK_QK_K; i++) {
            memcpy(q + WK_QK_K * i, b[i].qs, WK_QK_K);
            for (int g = 0; g < 8; g++)
                d[8 * i + g] = b[i].d;
            for (int j = 0; j < 16; j++)
                ds[16 * i + j] = b[i].d * (float)b[i].bsums[j];
        }
    }
}
