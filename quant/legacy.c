/* The legacy ggml types: blocks of 32 values with one binary16 scale (and a minimum for the
 * _1 types). Layouts: quant/blocks.h. Without importance the quantizers are ggml's reference
 * round-to-nearest (ggml-quants.c quantize_row_q4_0_ref and friends), so our files equal
 * llama-quantize's byte for byte; with importance they search the scale (quant/fit.h) for the
 * least weighted error, as llama.cpp's imatrix quantizers do with their own search. */
#include "quant/quantize.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"

void wk_importance_weights(const float *x, const float *importance, int n, float sigma2,
                           float *w)
{
    for (int i = 0; i < n; i++)
        w[i] = importance[i] * sqrtf(sigma2 + x[i] * x[i]);
}

static float mean_square(const float *x, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return n ? s / (float)n : 0.0f;
}

/* ---- dequantization ---- */

void wk_dequant_q4_0(const void *src, float *y, int64_t n)
{
    const wk_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / WK_QK4_0; i++, y += WK_QK4_0) {
        float d = wk_f16_to_f32(b[i].d);
        for (int j = 0; j < WK_QK4_0 / 2; j++) {
            y[j] = (float)((b[i].qs[j] & 0xf) - 8) * d;
            y[j + WK_QK4_0 / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void wk_dequant_q4_1(const void *src, float *y, int64_t n)
{
    const wk_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / WK_QK4_1; i++, y += WK_QK4_1) {
        float d = wk_f16_to_f32(b[i].d), m = wk_f16_to_f32(b[i].m);
        for (int j = 0; j < WK_QK4_1 / 2; j++) {
            y[j] = (float)(b[i].qs[j] & 0xf) * d + m;
            y[j + WK_QK4_1 / 2] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* The fifth bit of element j is bit j of qh (little-endian u32). */
static uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void wk_dequant_q5_0(const void *src, float *y, int64_t n)
{
    const wk_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / WK_QK5_0; i++, y += WK_QK5_0) {
        float d = wk_f16_to_f32(b[i].d);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < WK_QK5_0 / 2; j++) {
            int lo = (b[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(lo - 16) * d;
            y[j + WK_QK5_0 / 2] = (float)(hi - 16) * d;
        }
    }
}

void wk_dequant_q5_1(const void *src, float *y, int64_t n)
{
    const wk_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / WK_QK5_1; i++, y += WK_QK5_1) {
        float d = wk_f16_to_f32(b[i].d), m = wk_f16_to_f32(b[i].m);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < WK_QK5_1 / 2; j++) {
            int lo = (b[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)lo * d + m;
            y[j + WK_QK5_1 / 2] = (float)hi * d + m;
        }
    }
}

void wk_dequant_q8_0(const void *src, float *y, int64_t n)
{
    const wk_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / WK_QK8_0; i++, y += WK_QK8_0) {
        float d = wk_f16_to_f32(b[i].d);
        for (int j = 0; j < WK_QK8_0; j++)
            y[j] = (float)b[i].qs[j] * d;
    }
}

void wk_dequant_q8_1(const void *src, float *y, int64_t n)
{
    const wk_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / WK_QK8_1; i++, y += WK_QK8_1) {
        float d = wk_f16_to_f32(b[i].d);
        for (int j = 0; j < WK_QK8_1; j++)
            y[j] = (float)b[i].qs[j] * d;
    }
}

/* ---- round to nearest (ggml's reference) ---- */

/* The value of largest magnitude in 32 (the first on ties). */
static float max_by_magnitude(const float *x)
{
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void minmax(const float *x, float *min, float *max)
{
    *min = INFINITY;
    *max = -INFINITY;
    for (int j = 0; j < 32; j++) {
        *min = x[j] < *min ? x[j] : *min;
        *max = x[j] > *max ? x[j] : *max;
    }
}

/* Symmetric types: d = max / -half, q = min(top, trunc(x / d + half + 0.5)). */
static void rtn_sym(const float *x, int half, uint8_t *q, float *d_out)
{
    float d = max_by_magnitude(x) / (float)-half;
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int v = (int8_t)(x[j] * id + ((float)half + 0.5f));
        q[j] = (uint8_t)(v < 2 * half - 1 ? v : 2 * half - 1);
    }
    *d_out = d;
}

/* Types with a minimum: d = (max - min) / top, q = min(top, trunc((x - min) / d + 0.5)). */
static void rtn_asym(const float *x, int top, uint8_t *q, float *d_out, float *m_out)
{
    float min, max;
    minmax(x, &min, &max);
    float d = (max - min) / (float)top, id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int v = (int8_t)((x[j] - min) * id + 0.5f);
        q[j] = (uint8_t)(v < top ? v : top);
    }
    *d_out = d;
    *m_out = min;
}

/* ---- packing ---- */

static void pack_nibbles(const uint8_t *q, uint8_t *qs)
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
}

static void pack_fifth_bits(const uint8_t *q, uint8_t qh[4])
{
    uint32_t h = 0;
    for (int j = 0; j < 32; j++)
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void store_q4_0(void *dst, int64_t i, const uint8_t *q, float d, float m)
{
    wk_block_q4_0 *b = (wk_block_q4_0 *)dst + i;
    (void)m;
    b->d = wk_f32_to_f16(d);
    pack_nibbles(q, b->qs);
}

static void store_q4_1(void *dst, int64_t i, const uint8_t *q, float d, float m)
{
    wk_block_q4_1 *b = (wk_block_q4_1 *)dst + i;
    b->d = wk_f32_to_f16(d);
    b->m = wk_f32_to_f16(m);
    pack_nibbles(q, b->qs);
}

static void store_q5_0(void *dst, int64_t i, const uint8_t *q, float d, float m)
{
    wk_block_q5_0 *b = (wk_block_q5_0 *)dst + i;
    (void)m;
    b->d = wk_f32_to_f16(d);
    pack_nibbles(q, b->qs);
    pack_fifth_bits(q, b->qh);
}

static void store_q5_1(void *dst, int64_t i, const uint8_t *q, float d, float m)
{
    wk_block_q5_1 *b = (wk_block_q5_1 *)dst + i;
    b->d = wk_f32_to_f16(d);
    b->m = wk_f32_to_f16(m);
    pack_nibbles(q, b->qs);
    pack_fifth_bits(q, b->qh);
}

/* ---- the four types with 4 or 5 bits ---- */

typedef void (*store_fn)(void *dst, int64_t i, const uint8_t *q, float d, float m);

typedef struct {
    bool asym;      /* a minimum per block (the _1 types) */
    int levels;     /* 16 or 32 */
    store_fn store; /* packs one block */
} legacy_type;

/* Search starts with importance (quant/fit.h). */
static const float ASYM_OFFSETS[] = {-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};
static const float SYM_OFFSETS[] = {-0.9f, -0.6f, -0.3f, 0.0f, 0.3f, 0.6f, 0.9f};
static const wk_fit_start ASYM_START = {ASYM_OFFSETS, sizeof ASYM_OFFSETS / sizeof(float)};
static const wk_fit_start SYM_START = {SYM_OFFSETS, sizeof SYM_OFFSETS / sizeof(float)};

/* Fits blocks [b0, b0 + 8) of the row with importance (missing blocks at the row's end are
 * zeros, which every search leaves at zero). */
static void fit_blocks(const float *x, int64_t nb, int64_t b0, const float *importance,
                       float sigma2, const legacy_type *t, const wk_fit_kernels *fit,
                       uint8_t q[8][32], float d[8], float m[8])
{
    float xs[8 * 32] = {0}, w[8 * 32] = {0};
    int nblk = nb - b0 < 8 ? (int)(nb - b0) : 8;
    memcpy(xs, x + b0 * 32, (size_t)nblk * 32 * sizeof(float));
    wk_importance_weights(xs, importance + b0 * 32, nblk * 32, sigma2, w);
    if (t->asym) {
        fit->asym(32, t->levels - 1, &ASYM_START, xs, w, &q[0][0], d, m);
        return;
    }
    int8_t L[8 * 32];
    fit->sym(32, t->levels / 2, &SYM_START, xs, w, L, d);
    for (int i = 0; i < 8 * 32; i++)
        q[i / 32][i % 32] = (uint8_t)(L[i] + t->levels / 2);
}

static void quantize_blocks(const float *x, void *dst, int64_t n, const float *importance,
                            const wk_fit_kernels *fit, const legacy_type *t)
{
    int64_t nb = n / 32;
    if (!importance) {
        for (int64_t i = 0; i < nb; i++) {
            uint8_t q[32];
            float d, m = 0;
            if (t->asym)
                rtn_asym(x + i * 32, t->levels - 1, q, &d, &m);
            else
                rtn_sym(x + i * 32, t->levels / 2, q, &d);
            t->store(dst, i, q, d, m);
        }
        return;
    }
    float sigma2 = mean_square(x, n);
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        uint8_t q[8][32];
        float d[8], m[8] = {0};
        fit_blocks(x, nb, b0, importance, sigma2, t, fit, q, d, m);
        for (int64_t i = b0; i < nb && i < b0 + 8; i++)
            t->store(dst, i, q[i - b0], d[i - b0], m[i - b0]);
    }
}

#define LEGACY_ENTRY(name, asym, levels)                                                        \
    void wk_quant_##name(const float *x, void *dst, int64_t n, const float *importance,          \
                         const wk_fit_kernels *fit)                                              \
    {                                                                                            \
        static const legacy_type t = {asym, levels, store_##name};                               \
        quantize_blocks(x, dst, n, importance, fit, &t);                                         \
    }
LEGACY_ENTRY(q4_0, false, 16)
LEGACY_ENTRY(q4_1, true, 16)
LEGACY_ENTRY(q5_0, false, 32)
LEGACY_ENTRY(q5_1, true, 32)
#undef LEGACY_ENTRY

/* Q8_0 and Q8_1: d = amax / 127, q = round(x / d); importance does not change the result
 * (llama.cpp ignores it too: 8 bits leave nothing to trade). */
static float q8_block(const float *x, int8_t *qs)
{
    float amax = 0;
    for (int j = 0; j < 32; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++)
        qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

void wk_quant_q8_0(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    wk_block_q8_0 *b = dst;
    (void)importance;
    (void)fit;
    for (int64_t i = 0; i < n / WK_QK8_0; i++)
        b[i].d = wk_f32_to_f16(q8_block(x + i * WK_QK8_0, b[i].qs));
}

void wk_quant_q8_1(const float *x, void *dst, int64_t n, const float *importance,
                   const wk_fit_kernels *fit)
{
    wk_block_q8_1 *b = dst;
    (void)importance;
    (void)fit;
    for (int64_t i = 0; i < n / WK_QK8_1; i++) {
        float d = q8_block(x + i * WK_QK8_1, b[i].qs);
        int sum = 0;
        for (int j = 0; j < WK_QK8_1; j++)
            sum += b[i].qs[j];
        b[i].d = wk_f32_to_f16(d);
        b[i].s = wk_f32_to_f16((float)sum * d);
    }
}
