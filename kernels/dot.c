/* Scalar reference dot products for the plain and the 32-block types (see dot.h). */
#include "kernels/dot.h"

#include <string.h>

#include "quant/blocks.h"
#include "quant/fit.h"
#include "quant/half.h"

/* The k-quant and IQ4_XS dots are in dot_kquants.c. */
void wk_vec_dot_q2_K_ref(int64_t n, float *s, const void *x, const void *y);
void wk_vec_dot_q3_K_ref(int64_t n, float *s, const void *x, const void *y);
void wk_vec_dot_q4_K_ref(int64_t n, float *s, const void *x, const void *y);
void wk_vec_dot_q5_K_ref(int64_t n, float *s, const void *x, const void *y);
void wk_vec_dot_q6_K_ref(int64_t n, float *s, const void *x, const void *y);
void wk_vec_dot_iq4_xs_ref(int64_t n, float *s, const void *x, const void *y);

/* ---- float weights, F32 activations ---- */

static void dot_f32(int64_t n, float *s, const void *x, const void *y)
{
    const float *a = x, *b = y;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    *s = sum;
}

static void dot_f16(int64_t n, float *s, const void *x, const void *y)
{
    const uint16_t *a = x;
    const float *b = y;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += wk_f16_to_f32(a[i]) * b[i];
    *s = sum;
}

static void dot_bf16(int64_t n, float *s, const void *x, const void *y)
{
    const uint16_t *a = x;
    const float *b = y;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += wk_bf16_to_f32(a[i]) * b[i];
    *s = sum;
}

/* ---- 32-blocks with Q8_0 / Q8_1 activations ---- */

/* The 32 integer levels of a block, centred as the type decodes them (Q4_0: q - 8, ...). */
static void levels_q4(const uint8_t *qs, int centre, int *L)
{
    for (int j = 0; j < 16; j++) {
        L[j] = (qs[j] & 0xf) - centre;
        L[j + 16] = (qs[j] >> 4) - centre;
    }
}

static void levels_q5(const uint8_t *qs, const uint8_t qh[4], int centre, int *L)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    for (int j = 0; j < 16; j++) {
        L[j] = ((qs[j] & 0xf) | (int)((h >> j) & 1) << 4) - centre;
        L[j + 16] = ((qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4) - centre;
    }
}

static int isum(const int *L, const int8_t *q)
{
    int sum = 0;
    for (int j = 0; j < 32; j++)
        sum += L[j] * q[j];
    return sum;
}

static void dot_q4_0(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q4_0 *w = x;
    const wk_block_q8_0 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK4_0; b++) {
        int L[32];
        levels_q4(w[b].qs, 8, L);
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)isum(L, a[b].qs);
    }
    *s = sum;
}

static void dot_q4_1(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q4_1 *w = x;
    const wk_block_q8_1 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK4_1; b++) {
        int L[32];
        levels_q4(w[b].qs, 0, L);
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)isum(L, a[b].qs) +
               wk_f16_to_f32(w[b].m) * wk_f16_to_f32(a[b].s);
    }
    *s = sum;
}

static void dot_q5_0(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q5_0 *w = x;
    const wk_block_q8_0 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK5_0; b++) {
        int L[32];
        levels_q5(w[b].qs, w[b].qh, 16, L);
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)isum(L, a[b].qs);
    }
    *s = sum;
}

static void dot_q5_1(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q5_1 *w = x;
    const wk_block_q8_1 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK5_1; b++) {
        int L[32];
        levels_q5(w[b].qs, w[b].qh, 0, L);
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)isum(L, a[b].qs) +
               wk_f16_to_f32(w[b].m) * wk_f16_to_f32(a[b].s);
    }
    *s = sum;
}

static void dot_q8_0(int64_t n, float *s, const void *x, const void *y)
{
    const wk_block_q8_0 *w = x;
    const wk_block_q8_0 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK8_0; b++) {
        int acc = 0;
        for (int j = 0; j < 32; j++)
            acc += w[b].qs[j] * a[b].qs[j];
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)acc;
    }
    *s = sum;
}

static void dot_iq4_nl(int64_t n, float *s, const void *x, const void *y)
{
    const int8_t *V = WK_IQ4_VALUES;
    const wk_block_iq4_nl *w = x;
    const wk_block_q8_0 *a = y;
    float sum = 0;
    for (int64_t b = 0; b < n / WK_QK4_NL; b++) {
        int L[32];
        for (int j = 0; j < 16; j++) {
            L[j] = V[w[b].qs[j] & 0xf];
            L[j + 16] = V[w[b].qs[j] >> 4];
        }
        sum += wk_f16_to_f32(w[b].d) * wk_f16_to_f32(a[b].d) * (float)isum(L, a[b].qs);
    }
    *s = sum;
}

/* weight type -> (activation type, reference) */
static const struct {
    wk_dtype act;
    wk_vec_dot_fn ref;
} DOTS[WK_DTYPE_COUNT] = {
    [WK_F32] = {WK_F32, dot_f32},
    [WK_F16] = {WK_F32, dot_f16},
    [WK_BF16] = {WK_F32, dot_bf16},
    [WK_Q4_0] = {WK_Q8_0, dot_q4_0},
    [WK_Q4_1] = {WK_Q8_1, dot_q4_1},
    [WK_Q5_0] = {WK_Q8_0, dot_q5_0},
    [WK_Q5_1] = {WK_Q8_1, dot_q5_1},
    [WK_Q8_0] = {WK_Q8_0, dot_q8_0},
    [WK_IQ4_NL] = {WK_Q8_0, dot_iq4_nl},
    [WK_Q2_K] = {WK_Q8_K, wk_vec_dot_q2_K_ref},
    [WK_Q3_K] = {WK_Q8_K, wk_vec_dot_q3_K_ref},
    [WK_Q4_K] = {WK_Q8_K, wk_vec_dot_q4_K_ref},
    [WK_Q5_K] = {WK_Q8_K, wk_vec_dot_q5_K_ref},
    [WK_Q6_K] = {WK_Q8_K, wk_vec_dot_q6_K_ref},
    [WK_IQ4_XS] = {WK_Q8_K, wk_vec_dot_iq4_xs_ref},
};

wk_dtype wk_vec_dot_type(wk_dtype weight)
{
    return (unsigned)weight < WK_DTYPE_COUNT && DOTS[weight].ref ? DOTS[weight].act
                                                                  : WK_DTYPE_COUNT;
}

wk_vec_dot_fn wk_vec_dot_ref(wk_dtype weight)
{
    return (unsigned)weight < WK_DTYPE_COUNT ? DOTS[weight].ref : NULL;
}
