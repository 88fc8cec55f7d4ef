/* Scalar reference dot products of the k-quants and IQ4_XS with Q8_K activations (see
 * dot.h). Each super-block is unpacked into its integer levels and its groups' integer
 * scales and minimums, as the dequantizers of quant/kquants.c read them; then
 *   sum = d8 * (d * sum_g scale_g * sum_{i in g} L_i q8_i - dmin * sum_g min_g * sum_{i in g} q8_i)
 * where the activation sums per 16 come with Q8_K (bsums). */
#include <stdbool.h>
#include <stdint.h>

#include "kernels/dot.h"
#include "quant/blocks.h"
#include "quant/fit.h"
#include "quant/half.h"
#include "quant/quantize.h"

typedef struct unpacked {
    int L[WK_QK_K];
    int group;              /* 16 or 32 */
    int scale[16], min[16]; /* per group */
    float d, dmin;          /* dmin 0: no minimums */
} unpacked;

static float block_dot(const unpacked *u, const wk_block_q8_K *a)
{
    int ng = WK_QK_K / u->group, sumi = 0, summ = 0;
    for (int g = 0; g < ng; g++) {
        int s = 0;
        for (int i = g * u->group; i < (g + 1) * u->group; i++)
            s += u->L[i] * a->qs[i];
        sumi += u->scale[g] * s;
        int bs = 0;
        for (int k = g * u->group / 16; k < (g + 1) * u->group / 16; k++)
            bs += a->bsums[k];
        summ += u->min[g] * bs;
    }
    return a->d * (u->d * (float)sumi - u->dmin * (float)summ);
}

/* Q2_K and Q3_K share the 2-bit layout: byte l of each 32-byte half holds elements l, l+32,
 * l+64, l+96 of its 128 at shifts 0, 2, 4, 6. */
static int low2(const uint8_t *qs, int i)
{
    return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}

static void unpack_q2_K(const wk_block_q2_K *b, unpacked *u)
{
    u->group = 16;
    u->d = wk_f16_to_f32(b->d);
    u->dmin = wk_f16_to_f32(b->dmin);
    for (int g = 0; g < 16; g++) {
        u->scale[g] = b->scales[g] & 0xf;
        u->min[g] = b->scales[g] >> 4;
    }
    for (int i = 0; i < WK_QK_K; i++)
        u->L[i] = low2(b->qs, i);
}

static void unpack_q3_K(const wk_block_q3_K *b, unpacked *u)
{
    u->group = 16;
    u->d = wk_f16_to_f32(b->d);
    u->dmin = 0;
    for (int g = 0; g < 16; g++) {
        int lo = (b->scales[g % 8] >> (4 * (g / 8))) & 0xf;
        int hi = (b->scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        u->scale[g] = (lo | hi << 4) - 32;
        u->min[g] = 0;
    }
    for (int i = 0; i < WK_QK_K; i++)
        u->L[i] = low2(b->qs, i) - ((b->hmask[i % 32] >> (i / 32)) & 1 ? 0 : 4);
}

static void unpack_k4(const uint8_t *scales, wk_half d, wk_half dmin, unpacked *u)
{
    u->group = 32;
    u->d = wk_f16_to_f32(d);
    u->dmin = wk_f16_to_f32(dmin);
    for (int g = 0; g < 8; g++) {
        uint8_t sc, m;
        wk_k4_scale_min(g, scales, &sc, &m);
        u->scale[g] = sc;
        u->min[g] = m;
    }
}

/* Q4_K/Q5_K: pair p of 64 values, low nibbles then high nibbles of 32 bytes. */
static int nibble(const uint8_t *qs, int i)
{
    int p = i / 64, k = i % 64;
    return k < 32 ? qs[32 * p + k] & 0xf : qs[32 * p + k - 32] >> 4;
}

static void unpack_q4_K(const wk_block_q4_K *b, unpacked *u)
{
    unpack_k4(b->scales, b->d, b->dmin, u);
    for (int i = 0; i < WK_QK_K; i++)
        u->L[i] = nibble(b->qs, i);
}

static void unpack_q5_K(const wk_block_q5_K *b, unpacked *u)
{
    unpack_k4(b->scales, b->d, b->dmin, u);
    for (int i = 0; i < WK_QK_K; i++) {
        int p = i / 64, hi = (i % 64) / 32; /* fifth bit: bit 2p + hi of qh[i % 32] */
        u->L[i] = nibble(b->qs, i) + 16 * ((b->qh[i % 32] >> (2 * p + hi)) & 1);
    }
}

static void unpack_q6_K(const wk_block_q6_K *b, unpacked *u)
{
    u->group = 16;
    u->d = wk_f16_to_f32(b->d);
    u->dmin = 0;
    for (int g = 0; g < 16; g++) {
        u->scale[g] = b->scales[g];
        u->min[g] = 0;
    }
    for (int i = 0; i < WK_QK_K; i++) {
        int h = i / 128, k = i % 128, l = k % 32, quarter = k / 32;
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int low = quarter % 2 ? ql[l + 32] : ql[l];
        low = quarter < 2 ? low & 0xf : low >> 4;
        u->L[i] = (low | ((qh[l] >> (2 * quarter)) & 3) << 4) - 32;
    }
}

static void unpack_iq4_xs(const wk_block_iq4_xs *b, unpacked *u)
{
    u->group = 32;
    u->d = wk_f16_to_f32(b->d);
    u->dmin = 0;
    for (int g = 0; g < 8; g++) {
        u->scale[g] = (((b->scales_l[g / 2] >> (4 * (g % 2))) & 0xf) |
                       ((b->scales_h >> (2 * g)) & 3) << 4) - 32;
        u->min[g] = 0;
        for (int j = 0; j < 16; j++) {
            u->L[32 * g + j] = WK_IQ4_VALUES[b->qs[16 * g + j] & 0xf];
            u->L[32 * g + j + 16] = WK_IQ4_VALUES[b->qs[16 * g + j] >> 4];
        }
    }
}

#define K_DOT(name, block, unpack)                                                               \
    void wk_vec_dot_##name##_ref(int64_t n, float *s, const void *x, const void *y)              \
    {                                                                                            \
        const block *w = x;                                                                      \
        const wk_block_q8_K *a = y;                                                              \
        float sum = 0;                                                                           \
        for (int64_t b = 0; b < n / WK_QK_K; b++) {                                              \
            unpacked u;                                                                          \
            unpack(&w[b], &u);                                                                   \
            sum += block_dot(&u, &a[b]);                                                         \
        }                                                                                        \
        *s = sum;                                                                                \
    }
K_DOT(q2_K, wk_block_q2_K, unpack_q2_K)
K_DOT(q3_K, wk_block_q3_K, unpack_q3_K)
K_DOT(q4_K, wk_block_q4_K, unpack_q4_K)
K_DOT(q5_K, wk_block_q5_K, unpack_q5_K)
K_DOT(q6_K, wk_block_q6_K, unpack_q6_K)
K_DOT(iq4_xs, wk_block_iq4_xs, unpack_iq4_xs)
#undef K_DOT
