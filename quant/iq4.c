/* IQ4_NL and IQ4_XS: 4-bit indices into a fixed non-linear table of 16 levels
 * (WK_IQ4_VALUES, ggml's kvalues_iq4nl), denser near zero where weights cluster. IQ4_NL has
 * a binary16 scale per 32 values (Q4_0's layout); IQ4_XS puts eight such groups in a 256
 * super-block with 6-bit group scales against one binary16 scale (4.25 bits per weight).
 * Layouts: quant/blocks.h; dequantization as ggml-quants.c dequantize_row_iq4_*. Search:
 * quant/fit.h's nl on error weights x^2, or wk_importance_weights with importance, as
 * llama.cpp's quantize_row_iq4_nl_impl chooses them. */
#include "quant/quantize.h"

#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"

/* The search starts: the largest value lands near either end of the table. */
static const float IQ4_TARGETS[] = {-133.0f, -129.0f, -125.0f, -121.0f, 109.0f, 113.0f, 117.0f};
static const wk_fit_start IQ4_START = {IQ4_TARGETS, sizeof IQ4_TARGETS / sizeof IQ4_TARGETS[0]};

static float sum_squares(const float *x, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

static void weights_of(const float *x, const float *importance, int n, float sigma2, float *w)
{
    if (importance)
        wk_importance_weights(x, importance, n, sigma2, w);
    else
        for (int i = 0; i < n; i++)
            w[i] = x[i] * x[i];
}

static void requantize(const float *x, float d, uint8_t *L)
{
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; i++)
        L[i] = (uint8_t)wk_iq4_nearest(x[i] * id);
}

static void pack_group(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

void wk_quant_iq4_nl(const float *x, void *dst, int64_t n, const float *importance,
                     const wk_fit_kernels *fit)
{
    wk_block_iq4_nl *y = dst;
    int64_t nb = n / WK_QK4_NL;
    for (int64_t b0 = 0; b0 < nb; b0 += WK_FIT_GROUPS) {
        float xs[WK_FIT_GROUPS * 32] = {0}, w[WK_FIT_GROUPS * 32] = {0}, d[WK_FIT_GROUPS];
        uint8_t L[WK_FIT_GROUPS * 32];
        int nblk = nb - b0 < WK_FIT_GROUPS ? (int)(nb - b0) : WK_FIT_GROUPS;
        memcpy(xs, x + b0 * 32, (size_t)nblk * 32 * sizeof(float));
        for (int k = 0; k < nblk; k++)
            weights_of(xs + 32 * k, importance ? importance + (b0 + k) * 32 : NULL, 32,
                       2.0f * sum_squares(xs + 32 * k, 32) / 32.0f, w + 32 * k);
        fit->nl(32, &IQ4_START, xs, w, L, d);
        for (int k = 0; k < nblk; k++) {
            y[b0 + k].d = wk_f32_to_f16(d[k]);
            requantize(xs + 32 * k, wk_f16_to_f32(y[b0 + k].d), L + 32 * k);
            pack_group(L + 32 * k, y[b0 + k].qs);
        }
    }
}

void wk_quant_iq4_xs(const float *x, void *dst, int64_t n, const float *importance,
                     const wk_fit_kernels *fit)
{
    wk_block_iq4_xs *y = dst;
    for (int64_t i = 0; i < n / WK_QK_K; i++, x += WK_QK_K) {
        float w[WK_QK_K], scales[8];
        uint8_t L[WK_QK_K];
        weights_of(x, importance ? importance + i * WK_QK_K : NULL, WK_QK_K,
                   2.0f * sum_squares(x, WK_QK_K) / WK_QK_K, w);
        fit->nl(32, &IQ4_START, x, w, L, scales);
        float amax = 0, max = 0;
        for (int g = 0; g < 8; g++)
            if (fabsf(scales[g]) > amax) {
                amax = fabsf(scales[g]);
                max = scales[g];
            }
        memset(&y[i], 0, sizeof y[i]);
        float d = -max / 32.0f, id = d != 0 ? 1.0f / d : 0.0f;
        y[i].d = wk_f32_to_f16(d);
        float D = wk_f16_to_f32(y[i].d);
        for (int g = 0; g < 8; g++) {
            int l = wk_nearest_int(id * scales[g]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            requantize(x + 32 * g, D * (float)l, L + 32 * g);
            pack_group(L + 32 * g, y[i].qs + 16 * g);
            l += 32; /* low four bits in nibbles of scales_l, high two in scales_h */
            y[i].scales_l[g / 2] |= (uint8_t)((l & 0xf) << (4 * (g % 2)));
            y[i].scales_h = (uint16_t)(y[i].scales_h | (l >> 4) << (2 * g));
        }
    }
}

void wk_dequant_iq4_nl(const void *src, float *y, int64_t n)
{
    const wk_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / WK_QK4_NL; i++, y += WK_QK4_NL) {
        float d = wk_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)WK_IQ4_VALUES[b[i].qs[j] & 0xf];
            y[j + 16] = d * (float)WK_IQ4_VALUES[b[i].qs[j] >> 4];
        }
    }
}

void wk_dequant_iq4_xs(const void *src, float *y, int64_t n)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        const uint8_t *qs = b[i].qs;
        for (int g = 0; g < 8; g++, y += 32, qs += 16) {
            int ls = ((b[i].scales_l[g / 2] >> (4 * (g % 2))) & 0xf) |
                     ((b[i].scales_h >> (2 * g)) & 3) << 4;
            float dl = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)WK_IQ4_VALUES[qs[j] & 0xf];
                y[j + 16] = dl * (float)WK_IQ4_VALUES[qs[j] >> 4];
            }
        }
    }
}
