/* The k-quants: super-blocks of 256 values cut into 16 or 32 groups, each group with its own
 * scale (and minimum), the scales themselves quantized to 4, 6 or 8 bits against one binary16
 * super-block scale. Layouts: quant/blocks.h (ggml-common.h); dequantization follows
 * ggml-quants.c dequantize_row_q*_K operation for operation.
 *
 * Quantizing a super-block: choose each group's scale (and minimum) with the searches of
 * quant/fit.h on the type's error weights; quantize the group scales against the super-block
 * scale; then round every value again to the scales as stored, so the levels match what a
 * reader reconstructs. Error weights follow llama.cpp's choice per type (ggml-quants.c):
 * without importance |x| (Q2_K), sqrt(mean x^2) + |x| (Q4_K, Q5_K) or x^2 (Q3_K, Q6_K); with
 * importance wk_importance_weights (Q6_K: the importance as it is). */
#include "quant/quantize.h"

#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static float sum_squares(const float *x, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

/* Error weights of one super-block (see the file comment). */
typedef enum { W_ABS, W_AVX_ABS, W_SQUARE } default_weights;

static void block_weights(const float *x, const float *importance, default_weights kind,
                          float sigma2, int group, float *w)
{
    if (importance) {
        if (sigma2 < 0)
            memcpy(w, importance, WK_QK_K * sizeof(float));
        else
            wk_importance_weights(x, importance, WK_QK_K, sigma2, w);
        return;
    }
    for (int g = 0; g < WK_QK_K; g += group) {
        float av = kind == W_AVX_ABS ? sqrtf(sum_squares(x + g, group) / (float)group) : 0;
        for (int i = g; i < g + group; i++)
            w[i] = kind == W_SQUARE ? x[i] * x[i] : av + fabsf(x[i]);
    }
}

/* Packs 2-bit levels L[256] as Q2_K/Q3_K do: byte l of each 32-byte half holds elements
 * l, l + 32, l + 64 and l + 96 of that half's 128. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < WK_QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                      L[j + l + 96] << 6);
}

/* ---- 6-bit scales and minimums of Q4_K and Q5_K (ggml get_scale_min_k4) ---- */

void wk_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4);
        *m = (uint8_t)((q[j + 4] >> 4) | (q[j] >> 6) << 4);
    }
}

static void scale_min_put(int j, uint8_t *q, uint8_t sc, uint8_t m)
{
    if (j < 4) {
        q[j] = sc;
        q[j + 4] = m;
    } else {
        q[j + 4] = (uint8_t)((sc & 0xf) | (m & 0xf) << 4);
        q[j - 4] |= (uint8_t)((sc >> 4) << 6);
        q[j] |= (uint8_t)((m >> 4) << 6);
    }
}

/* ---- groups with a minimum: Q2_K (16 of 16, 4-bit scales), Q4_K/Q5_K (8 of 32, 6-bit) ---- */

typedef struct {
    int group, nmax;   /* values per group, highest level */
    int scale_max;     /* 15 (4-bit scales) or 63 (6-bit) */
    default_weights weights;
    wk_fit_start start;
} asym_type;

/* Search starts per type (quant/fit.h), tuned against ggml's reference on real weights
 * (docs/quantization.md). */
static const float Q2_K_OFFSETS[] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};
static const float Q4_K_OFFSETS[] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};
static const float Q5_K_OFFSETS[] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};
static const float Q3_K_OFFSETS[] = {-0.3f, 0.0f, 0.3f};
static const float Q6_K_OFFSETS[] = {-0.9f, -0.7f, -0.5f, -0.3f, -0.1f,
                                     0.1f,  0.3f,  0.5f,  0.7f,  0.9f};
#define START(a) {a, (int)(sizeof a / sizeof a[0])}
static const wk_fit_start Q3_K_START = START(Q3_K_OFFSETS);
static const wk_fit_start Q6_K_START = START(Q6_K_OFFSETS);

/* The stored (scale, minimum) candidates of a group against the super-block's D and M:
 * both roundings of each, rather than the nearest, since a coarse scale (4 or 6 bits) can be
 * off by up to half a step; the pick (quant/fit.h) keeps the pair that leaves the least error
 * once the group is rounded to it. Returns the integer pairs in si, mi. */
static void asym_candidates(const asym_type *t, float D, float M, float d, float m, float *dq,
                            float *mq, int *si, int *mi)
{
    int s0 = D > 0 ? (int)floorf(d / D) : 0, m0 = M > 0 ? (int)floorf(m / M) : 0, c = 0;
    for (int a = s0; a <= s0 + 1; a++)
        for (int b = m0; b <= m0 + 1; b++, c++) {
            si[c] = clamp_int(a, 0, t->scale_max);
            mi[c] = clamp_int(b, 0, t->scale_max);
            dq[c] = D * (float)si[c];
            mq[c] = M * (float)mi[c];
        }
}

/* Chooses levels L (0..nmax), the integer group scales ls and minimums lm, and the
 * super-block scales *D and *M (already rounded to binary16) for one super-block. */
static void quant_asym_block(const float *x, const float *importance, const asym_type *t,
                             const wk_fit_kernels *fit, uint8_t *L, uint8_t *ls, uint8_t *lm,
                             uint16_t *D, uint16_t *M)
{
    int ng = WK_QK_K / t->group;
    float w[WK_QK_K], d[16], m[16];
    float sigma2 = (t->group == 16 ? 1.0f : 2.0f) * sum_squares(x, WK_QK_K) / WK_QK_K;
    block_weights(x, importance, t->weights, sigma2, t->group, w);
    for (int g = 0; g < ng; g += WK_FIT_GROUPS)
        fit->asym(t->group, t->nmax, &t->start, x + g * t->group, w + g * t->group, L + g * t->group,
                  d + g, m + g);
    float max_d = 0, max_m = 0;
    for (int g = 0; g < ng; g++) {
        m[g] = -m[g]; /* stored as a non-negative amount to subtract */
        max_d = d[g] > max_d ? d[g] : max_d;
        max_m = m[g] > max_m ? m[g] : max_m;
    }
    *D = wk_f32_to_f16(max_d / (float)t->scale_max);
    *M = wk_f32_to_f16(max_m / (float)t->scale_max);
    float df = wk_f16_to_f32(*D), mf = wk_f16_to_f32(*M);
    float dq[16 * 4], mq[16 * 4];
    int si[16 * 4], mi[16 * 4], best[16];
    for (int g = 0; g < ng; g++)
        asym_candidates(t, df, mf, d[g], m[g], dq + 4 * g, mq + 4 * g, si + 4 * g, mi + 4 * g);
    for (int g = 0; g < ng; g += WK_FIT_GROUPS)
        fit->asym_pick(t->group, t->nmax, 4, x + g * t->group, w + g * t->group, dq + 4 * g,
                       mq + 4 * g, L + g * t->group, best + g);
    for (int g = 0; g < ng; g++) {
        ls[g] = (uint8_t)si[4 * g + best[g]];
        lm[g] = (uint8_t)mi[4 * g + best[g]];
    }
}

void wk_quant_q2_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    static const asym_type t = {16, 3, 15, W_ABS, START(Q2_K_OFFSETS)};
    wk_block_q2_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        uint8_t L[WK_QK_K], ls[16], lm[16];
        quant_asym_block(x, importance ? importance + i * WK_QK_K : NULL, &t, fit, L, ls, lm,
                         &y[i].d, &y[i].dmin);
        for (int g = 0; g < 16; g++)
            y[i].scales[g] = (uint8_t)(ls[g] | lm[g] << 4);
        pack_2bit(L, y[i].qs);
    }
}

void wk_quant_q4_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    static const asym_type t = {32, 15, 63, W_AVX_ABS, START(Q4_K_OFFSETS)};
    wk_block_q4_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        uint8_t L[WK_QK_K], ls[8], lm[8];
        quant_asym_block(x, importance ? importance + i * WK_QK_K : NULL, &t, fit, L, ls, lm,
                         &y[i].d, &y[i].dmin);
        memset(y[i].scales, 0, sizeof y[i].scales);
        for (int g = 0; g < 8; g++)
            scale_min_put(g, y[i].scales, ls[g], lm[g]);
        for (int j = 0; j < WK_QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void wk_quant_q5_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    static const asym_type t = {32, 31, 63, W_AVX_ABS, START(Q5_K_OFFSETS)};
    wk_block_q5_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        uint8_t L[WK_QK_K], ls[8], lm[8];
        quant_asym_block(x, importance ? importance + i * WK_QK_K : NULL, &t, fit, L, ls, lm,
                         &y[i].d, &y[i].dmin);
        memset(y[i].scales, 0, sizeof y[i].scales);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int g = 0; g < 8; g++)
            scale_min_put(g, y[i].scales, ls[g], lm[g]);
        /* pair p of 64 values: low nibbles as Q4_K, fifth bits in bits 2p and 2p + 1 of qh */
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * p + l], b = L[64 * p + l + 32];
                y[i].qs[32 * p + l] = (uint8_t)((a & 0xf) | (b & 0xf) << 4);
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * p) | (b >> 4) << (2 * p + 1));
            }
    }
}

/* ---- symmetric groups of 16: Q3_K (3-bit, 6-bit scales) and Q6_K (6-bit, 8-bit) ---- */

/* Fits the 16 groups; returns the group scale of largest magnitude (0 for a zero block). */
static float sym_groups(const float *x, const float *w, int nmax, const wk_fit_start *st,
                        const wk_fit_kernels *fit, int8_t *L, float *scales)
{
    for (int g = 0; g < 16; g += WK_FIT_GROUPS)
        fit->sym(16, nmax, st, x + 16 * g, w + 16 * g, L + 16 * g, scales + g);
    float amax = 0, max = 0;
    for (int g = 0; g < 16; g++)
        if (fabsf(scales[g]) > amax) {
            amax = fabsf(scales[g]);
            max = scales[g];
        }
    return max;
}

/* The 16 group scales stored as integers in [lo, hi] against the super-block's D: for each
 * group both roundings of scale / D, the one that leaves the least error once the group is
 * rounded to it (see asym_candidates); the levels go to L. */
static void store_sym_scales(const float *x, const float *w, float D, const float *scales,
                             int lo, int hi, int nmax, const wk_fit_kernels *fit, int8_t *L,
                             int *stored)
{
    float dq[32];
    int si[32], best[16];
    for (int g = 0; g < 16; g++) {
        int s0 = D != 0 ? (int)floorf(scales[g] / D) : 0;
        for (int c = 0; c < 2; c++) {
            si[2 * g + c] = clamp_int(s0 + c, lo, hi);
            dq[2 * g + c] = D * (float)si[2 * g + c];
        }
    }
    for (int g = 0; g < 16; g += WK_FIT_GROUPS)
        fit->sym_pick(16, nmax, 2, x + 16 * g, w + 16 * g, dq + 2 * g, L + 16 * g, best + g);
    for (int g = 0; g < 16; g++)
        stored[g] = si[2 * g + best[g]];
}

void wk_quant_q3_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    wk_block_q3_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        float w[WK_QK_K], scales[16];
        int8_t L[WK_QK_K];
        block_weights(x, importance ? importance + i * WK_QK_K : NULL, W_SQUARE,
                      2.0f * sum_squares(x, WK_QK_K) / WK_QK_K, 16, w);
        float max = sym_groups(x, w, 4, &Q3_K_START, fit, L, scales);
        memset(&y[i], 0, sizeof y[i]);
        float iscale = max != 0 ? -32.0f / max : 0.0f;
        y[i].d = wk_f32_to_f16(max != 0 ? 1.0f / iscale : 0.0f);
        float D = wk_f16_to_f32(y[i].d);
        int stored[16];
        store_sym_scales(x, w, D, scales, -32, 31, 4, fit, L, stored);
        for (int g = 0; g < 16; g++) {
            int l = stored[g] + 32; /* 6 bits: low four in nibbles of scales[0..7], high two in [8..11] */
            y[i].scales[g % 8] |= (uint8_t)((l & 0xf) << (4 * (g / 8)));
            y[i].scales[8 + g % 4] |= (uint8_t)((l >> 4) << (2 * (g / 4)));
        }
        uint8_t low[WK_QK_K];
        for (int j = 0; j < WK_QK_K; j++) { /* level + 4 in 0..7: high bit to hmask */
            int q = L[j] + 4;
            y[i].hmask[j % 32] |= (uint8_t)((q >> 2) << (j / 32));
            low[j] = (uint8_t)(q & 3);
        }
        pack_2bit(low, y[i].qs);
    }
}

void wk_quant_q6_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    wk_block_q6_K *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        float w[WK_QK_K], scales[16];
        int8_t L[WK_QK_K];
        block_weights(x, importance ? importance + i * WK_QK_K : NULL, W_SQUARE, -1.0f, 16, w);
        float max = sym_groups(x, w, 32, &Q6_K_START, fit, L, scales);
        memset(&y[i], 0, sizeof y[i]);
        if (max == 0)
            continue;
        float iscale = -128.0f / max;
        y[i].d = wk_f32_to_f16(1.0f / iscale);
        float D = wk_f16_to_f32(y[i].d);
        int stored[16];
        store_sym_scales(x, w, D, scales, -128, 127, 32, fit, L, stored);
        for (int g = 0; g < 16; g++)
            y[i].scales[g] = (int8_t)stored[g];
        for (int h = 0; h < 2; h++) { /* halves of 128: ql 64 bytes, qh 32 bytes each */
            const int8_t *q = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                int a = q[l] + 32, b = q[l + 32] + 32, c = q[l + 64] + 32, e = q[l + 96] + 32;
                ql[l] = (uint8_t)((a & 0xf) | (c & 0xf) << 4);
                ql[l + 32] = (uint8_t)((b & 0xf) | (e & 0xf) << 4);
                qh[l] = (uint8_t)(a >> 4 | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6);
            }
        }
    }
}

/* Q8_K (the activation type of the k-quant dot products): ggml's quantize_row_q8_K_ref. */
void wk_quant_q8_K(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    wk_block_q8_K *y = dst;
    (void)importance;
    (void)fit;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < WK_QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0)
            continue;
        float iscale = -127.0f / max;
        for (int j = 0; j < WK_QK_K; j++) {
            int v = wk_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
            y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ---- dequantization (ggml-quants.c dequantize_row_q*_K, the same arithmetic) ---- */

void wk_dequant_q2_K(const void *src, float *y, int64_t n)
{
    const wk_block_q2_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d), min = wk_f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        int is = 0;
        for (int h = 0; h < WK_QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++, is++) {
                    uint8_t sc = b[i].scales[is];
                    float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
    }
}

void wk_dequant_q3_K(const void *src, float *y, int64_t n)
{
    const wk_block_q3_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        const uint8_t *q = b[i].qs;
        uint8_t m = 1;
        int is = 0;
        for (int h = 0; h < WK_QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
                for (int half = 0; half < 2; half++, is++) {
                    int lo = (b[i].scales[is % 8] >> (4 * (is / 8))) & 0xf;
                    int hi = (b[i].scales[8 + is % 4] >> (2 * (is / 4))) & 3;
                    float dl = d * (float)((lo | hi << 4) - 32);
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (float)(((q[l] >> shift) & 3) - ((b[i].hmask[l] & m) ? 0 : 4));
                }
    }
}

void wk_dequant_q4_K(const void *src, float *y, int64_t n)
{
    const wk_block_q4_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d), min = wk_f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            wk_k4_scale_min(j, b[i].scales, &sc, &m);
            float d1 = d * (float)sc, m1 = min * (float)m;
            wk_k4_scale_min(j + 1, b[i].scales, &sc, &m);
            float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void wk_dequant_q5_K(const void *src, float *y, int64_t n)
{
    const wk_block_q5_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d), min = wk_f16_to_f32(b[i].dmin);
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8; j += 2, ql += 32, u1 = (uint8_t)(u1 << 2), u2 = (uint8_t)(u2 << 2)) {
            uint8_t sc, m;
            wk_k4_scale_min(j, b[i].scales, &sc, &m);
            float d1 = d * (float)sc, m1 = min * (float)m;
            wk_k4_scale_min(j + 1, b[i].scales, &sc, &m);
            float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void wk_dequant_q6_K(const void *src, float *y, int64_t n)
{
    const wk_block_q6_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
    }
}

void wk_dequant_q8_K(const void *src, float *y, int64_t n)
{
    const wk_block_q8_K *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++)
        for (int j = 0; j < WK_QK_K; j++)
            *y++ = b[i].d * (float)b[i].qs[j];
}
