/* The CUDA kernels' per-type arithmetic, written once in plain C so that it compiles both for
 * the device (nvcc, the .cu files beside it) and for the host, where
 * tests/unit/kernels/test_cuda_dots.c holds every function against the CPU references
 * (kernels/dot.c, kernels/dot_kquants.c, quant/ dequantizers, kernels/rope.c) on a machine
 * without a GPU.
 *
 * A weight row is cut into 32-groups; a CUDA lane takes one group at a time and adds its dot
 * with up to nt activation rows into acc[0..nt). The activations are quantized as the CPU
 * engine quantizes them (kernels/dot.h pairs each weight type with Q8_0, Q8_1 or Q8_K, rounded
 * the same way), but laid out on the device as arrays (wk_cu_acts) so a lane reads them with
 * aligned 16-byte loads. Each group's integer sums are exact, and the float formula on them is
 * the CPU reference's, operation for operation (kernels/dot.c per 32-block; for the k-quants
 * dot_kquants.c's block_dot, applied to one group of the super-block): the CPU and the device
 * differ only in the order in which the groups' floats are added.
 *
 * Block layouts: quant/blocks.h (ggml-common.h). Alignment: rows start on 16 bytes (cudaMalloc
 * and the upload keep tensors 256-aligned; every row of these types is a whole number of 16
 * bytes except Q4_0 18, Q5_0 22, Q8_0 34, Q6_K 210 per block, which are read 2 bytes at a
 * time, and Q4_1 20, Q5_1 24, read 4 at a time). */
#ifndef WK_KERNELS_CUDA_DOTS_H
#define WK_KERNELS_CUDA_DOTS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/types.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define WK_HD static __host__ __device__ __forceinline__
#else
#include "quant/half.h"
#define WK_HD static inline
#endif

/* ---- loads and the packed-byte product ---- */

/* 4 bytes at a 4-aligned address (little-endian, as everywhere weightkit runs) */
WK_HD uint32_t wk_cu_ld4(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
    return *(const uint32_t *)p;
#else
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

/* 4 bytes at a 2-aligned address */
WK_HD uint32_t wk_cu_ld4_a2(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
    const uint16_t *h = (const uint16_t *)p;
    return (uint32_t)h[0] | (uint32_t)h[1] << 16;
#else
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

/* 16 bytes at a 16-aligned address, as four words */
WK_HD void wk_cu_ld16(const uint8_t *p, uint32_t w[4])
{
#ifdef __CUDA_ARCH__
    uint4 v = *(const uint4 *)p;
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
#else
    memcpy(w, p, 16);
#endif
}

WK_HD uint16_t wk_cu_ld2(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
    return *(const uint16_t *)p;
#else
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
#endif
}

/* c + the products of the four signed bytes of a and b */
WK_HD int wk_cu_dp4a(uint32_t a, uint32_t b, int c)
{
#ifdef __CUDA_ARCH__
    return __dp4a((int)a, (int)b, c);
#else
    for (int k = 0; k < 4; k++)
        c += (int8_t)(a >> 8 * k) * (int8_t)(b >> 8 * k);
    return c;
#endif
}

WK_HD float wk_cu_half(uint16_t h)
{
#ifdef __CUDACC__
    return __half2float(__ushort_as_half(h));
#else
    return wk_f16_to_f32(h);
#endif
}

/* binary16 rounding of f, back as a float (the Q8_0 / Q8_1 scales are stored so) */
WK_HD float wk_cu_round_half(float f)
{
#ifdef __CUDACC__
    return __half2float(__float2half_rn(f));
#else
    return wk_f16_to_f32(wk_f32_to_f16(f));
#endif
}

WK_HD float wk_cu_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* quant/fit.h's wk_nearest_int (Q8_K's rounding): nearest, ties to even, |v| < 2^22 */
WK_HD int wk_cu_nearest_int(float v)
{
    v = v < -4194303.0f ? -4194303.0f : v > 4194303.0f ? 4194303.0f : v;
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* ---- activations ---- */

/* Quantizing, as quant/legacy.c's Q8_0 / Q8_1 and quant/kquants.c's Q8_K do it; the kernels
 * find a group's largest magnitude across a warp, then each lane rounds its values.
 * Q8_0 / Q8_1: d = amax / 127 (stored as binary16), levels round(x / d) with the unrounded d. */
WK_HD float wk_cu_q8_inv(float d)
{
    return d != 0 ? 1.0f / d : 0.0f;
}

WK_HD int wk_cu_q8_level(float x, float inv)
{
    return (int)roundf(x * inv);
}

/* Q8_K: iscale = -127 / (the first value of largest magnitude), levels nearest(iscale * x)
 * at most 127, d = 1 / iscale. */
WK_HD int wk_cu_q8k_level(float x, float iscale)
{
    int v = wk_cu_nearest_int(iscale * x);
    return v < 127 ? v : 127;
}

/* n rows of quantized activations, as arrays: row t's levels at q + t * ldq (cols of them),
 * its scales at d + t * ldd (one per 32 for Q8_0 / Q8_1, the binary16 value as a float; one
 * per 256 for Q8_K), Q8_1's binary16(d * sum of the 32 levels) at s + t * lds, Q8_K's sum of
 * each 16 levels at bsum + t * ldb. */
typedef struct wk_cu_acts {
    const int8_t *q;
    const float *d, *s;
    const int16_t *bsum;
    int64_t ldq, ldd, lds, ldb;
} wk_cu_acts;

/* The 32 levels of group g of activation row t, as eight words. */
WK_HD void wk_cu_act_levels(const wk_cu_acts *a, int t, int64_t g, uint32_t x[8])
{
    const uint8_t *p = (const uint8_t *)(a->q + t * a->ldq + 32 * g);
    wk_cu_ld16(p, x);
    wk_cu_ld16(p + 16, x + 4);
}

/* The sum of the bytes of the eight words (the activation levels' sum) */
WK_HD int wk_cu_sum8(const uint32_t x[8])
{
    int s = 0;
    for (int k = 0; k < 8; k++)
        s = wk_cu_dp4a(0x01010101u, x[k], s);
    return s;
}

/* ---- the 32-blocks (one block per group) ---- */

/* Bits 0..3 of h into bit 4 of bytes 0..3 (Q5's fifth bit of four elements) */
WK_HD uint32_t wk_cu_bit4(uint32_t h)
{
    return (h & 1) << 4 | (h & 2) << 11 | (h & 4) << 18 | (h & 8) << 25;
}

/* The integer dot of eight words of levels with eight words of activations */
WK_HD int wk_cu_isum(const uint32_t L[8], const uint32_t x[8])
{
    int s = 0;
    for (int k = 0; k < 8; k++)
        s = wk_cu_dp4a(L[k], x[k], s);
    return s;
}

/* The shared end of the 32-blocks, block g with levels L and scale d. CPU (kernels/dot.c):
 * d * d8 * isum(L - centre) (Q4_0 centre 8, Q5_0 16, Q8_0 0), or with a minimum m (Q4_1,
 * Q5_1) d * d8 * isum(L) + m * s8, s8 the Q8_1 block's stored sum. */
WK_HD void wk_cu_b32_finish(int64_t g, const uint32_t L[8], float d, int centre, int has_min,
                            float m, const wk_cu_acts *a, int nt, float *acc)
{
    for (int t = 0; t < nt; t++) {
        uint32_t x[8];
        wk_cu_act_levels(a, t, g, x);
        int sumi = wk_cu_isum(L, x);
        float d8 = a->d[t * a->ldd + g];
        if (has_min)
            acc[t] += d * d8 * (float)sumi + m * a->s[t * a->lds + g];
        else
            acc[t] += d * d8 * (float)(centre ? sumi - centre * wk_cu_sum8(x) : sumi);
    }
}

/* The 32 nibbles of qs (element j in the low nibble of byte j, j + 16 in the high; qs at a
 * 2-aligned address): word k of L holds elements 4k..4k+3, word 4 + k elements 16+4k.. */
WK_HD void wk_cu_nibbles(const uint8_t *qs, uint32_t L[8])
{
    for (int k = 0; k < 4; k++) {
        uint32_t w = wk_cu_ld4_a2(qs + 4 * k);
        L[k] = w & 0x0f0f0f0f;
        L[4 + k] = (w >> 4) & 0x0f0f0f0f;
    }
}

/* Q5's fifth bits (bit j of qh: element j) added to the nibbles as bit 4 */
WK_HD void wk_cu_fifth_bits(uint32_t qh, uint32_t L[8])
{
    for (int k = 0; k < 4; k++) {
        L[k] |= wk_cu_bit4(qh >> 4 * k);
        L[4 + k] |= wk_cu_bit4(qh >> (16 + 4 * k));
    }
}

/* Q4_0, 18 bytes: d; qs[16]. */
WK_HD void wk_cu_dot_q4_0(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + g * sizeof(wk_block_q4_0);
    uint32_t L[8];
    wk_cu_nibbles(b + 2, L);
    wk_cu_b32_finish(g, L, wk_cu_half(wk_cu_ld2(b)), 8, 0, 0.0f, a, nt, acc);
}

/* Q4_1, 20 bytes: d, m; qs[16]; Q8_1 activations. */
WK_HD void wk_cu_dot_q4_1(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + g * sizeof(wk_block_q4_1);
    uint32_t dm = wk_cu_ld4(b), L[8];
    wk_cu_nibbles(b + 4, L);
    wk_cu_b32_finish(g, L, wk_cu_half((uint16_t)dm), 0, 1, wk_cu_half((uint16_t)(dm >> 16)),
                     a, nt, acc);
}

/* Q5_0, 22 bytes: d; qh[4] (bit j: the fifth bit of element j); qs[16]. */
WK_HD void wk_cu_dot_q5_0(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + g * sizeof(wk_block_q5_0);
    uint32_t L[8];
    wk_cu_nibbles(b + 6, L);
    wk_cu_fifth_bits(wk_cu_ld4_a2(b + 2), L);
    wk_cu_b32_finish(g, L, wk_cu_half(wk_cu_ld2(b)), 16, 0, 0.0f, a, nt, acc);
}

/* Q5_1, 24 bytes: d, m; qh[4]; qs[16]; Q8_1 activations. */
WK_HD void wk_cu_dot_q5_1(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + g * sizeof(wk_block_q5_1);
    uint32_t dm = wk_cu_ld4(b), L[8];
    wk_cu_nibbles(b + 8, L);
    wk_cu_fifth_bits(wk_cu_ld4(b + 4), L);
    wk_cu_b32_finish(g, L, wk_cu_half((uint16_t)dm), 0, 1, wk_cu_half((uint16_t)(dm >> 16)),
                     a, nt, acc);
}

/* Q8_0, 34 bytes: d; qs[32] signed. */
WK_HD void wk_cu_dot_q8_0(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + g * sizeof(wk_block_q8_0);
    uint32_t L[8];
    for (int k = 0; k < 8; k++)
        L[k] = wk_cu_ld4_a2(b + 2 + 4 * k);
    wk_cu_b32_finish(g, L, wk_cu_half(wk_cu_ld2(b)), 0, 0, 0.0f, a, nt, acc);
}

/* ---- the k-quants: group j of 8 in super-block g / 8, with Q8_K activations ---- */

/* Scale and minimum of 32-group j (0..7) of Q4_K / Q5_K: quant/kquants.c's wk_k4_scale_min */
WK_HD void wk_cu_k4_scale_min(int j, const uint8_t *q, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* The shared end of Q4_K and Q5_K: levels L of group g (global index; j = g % 8 in block b).
 * CPU, per super-block: d8 * (d * sum_j sc_j isum_j - dmin * sum_j m_j bsum_j). */
WK_HD void wk_cu_k4_finish(const uint8_t *b, int64_t g, const uint32_t L[8],
                           const wk_cu_acts *a, int nt, float *acc)
{
    uint32_t dm = wk_cu_ld4(b);
    float d = wk_cu_half((uint16_t)dm), dmin = wk_cu_half((uint16_t)(dm >> 16));
    int sc, m;
    wk_cu_k4_scale_min((int)(g % 8), b + 4, &sc, &m);
    for (int t = 0; t < nt; t++) {
        uint32_t x[8];
        wk_cu_act_levels(a, t, g, x);
        int sumi = wk_cu_isum(L, x);
        const int16_t *bs = a->bsum + t * a->ldb + 2 * g;
        acc[t] += a->d[t * a->ldd + g / 8] *
                  (d * (float)(sc * sumi) - dmin * (float)(m * (bs[0] + bs[1])));
    }
}

/* Q4_K, 144 bytes: d, dmin; scales[12]; qs[128]. Groups 2c and 2c+1 are the low and the high
 * nibbles of qs[32c .. 32c + 32). */
WK_HD void wk_cu_dot_q4_K(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + (g / 8) * sizeof(wk_block_q4_K);
    int j = (int)(g % 8), shift = 4 * (j % 2);
    uint32_t L[8];
    wk_cu_ld16(b + 16 + 32 * (j / 2), L);
    wk_cu_ld16(b + 32 + 32 * (j / 2), L + 4);
    for (int k = 0; k < 8; k++)
        L[k] = (L[k] >> shift) & 0x0f0f0f0f;
    wk_cu_k4_finish(b, g, L, a, nt, acc);
}

/* Q5_K, 176 bytes: d, dmin; scales[12]; qh[32]; qs[128] as Q4_K. The fifth bit of element l
 * of group j is bit j of qh[l]. */
WK_HD void wk_cu_dot_q5_K(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + (g / 8) * sizeof(wk_block_q5_K);
    int j = (int)(g % 8), shift = 4 * (j % 2);
    uint32_t L[8], H[8];
    wk_cu_ld16(b + 48 + 32 * (j / 2), L);
    wk_cu_ld16(b + 64 + 32 * (j / 2), L + 4);
    wk_cu_ld16(b + 16, H);
    wk_cu_ld16(b + 32, H + 4);
    for (int k = 0; k < 8; k++)
        L[k] = ((L[k] >> shift) & 0x0f0f0f0f) | ((H[k] >> j) & 0x01010101) << 4;
    wk_cu_k4_finish(b, g, L, a, nt, acc);
}

/* Q6_K, 210 bytes: ql[128]; qh[64]; scales[16] (signed, one per 16); d. Group j = 4h + r of
 * the block: element l takes the low (r < 2) or high nibble of ql[64h + 32(r % 2) + l] and
 * bits 2r, 2r+1 of qh[32h + l], minus 32. CPU: d8 * d * sum_16 sc * isum. */
WK_HD void wk_cu_dot_q6_K(const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                          float *acc)
{
    const uint8_t *b = row + (g / 8) * sizeof(wk_block_q6_K);
    int j = (int)(g % 8), h = j / 4, r = j % 4;
    const uint8_t *ql = b + 64 * h + 32 * (r % 2), *qh = b + 128 + 32 * h;
    uint32_t L[8];
    for (int k = 0; k < 8; k++) {
        uint32_t lo = (wk_cu_ld4_a2(ql + 4 * k) >> (r < 2 ? 0 : 4)) & 0x0f0f0f0f;
        uint32_t hi = (wk_cu_ld4_a2(qh + 4 * k) >> 2 * r) & 0x03030303;
        L[k] = lo | hi << 4;
    }
    float d = wk_cu_half(wk_cu_ld2(b + 208));
    int sc0 = (int8_t)b[192 + 2 * j], sc1 = (int8_t)b[192 + 2 * j + 1];
    for (int t = 0; t < nt; t++) {
        uint32_t x[8];
        wk_cu_act_levels(a, t, g, x);
        const int16_t *bs = a->bsum + t * a->ldb + 2 * g;
        int s0 = 0, s1 = 0;
        for (int k = 0; k < 4; k++) {
            s0 = wk_cu_dp4a(L[k], x[k], s0);
            s1 = wk_cu_dp4a(L[4 + k], x[4 + k], s1);
        }
        int sumi = sc0 * (s0 - 32 * bs[0]) + sc1 * (s1 - 32 * bs[1]);
        acc[t] += a->d[t * a->ldd + g / 8] * (d * (float)sumi); /* its dmin is 0 */
    }
}

/* The group's dot for weights of type t chosen at run time (the kernels choose at compile
 * time; the host emulation and the tests call this). Other types add nothing. */
WK_HD void wk_cu_dot(wk_dtype t, const uint8_t *row, int64_t g, const wk_cu_acts *a, int nt,
                     float *acc)
{
    switch (t) {
    case WK_Q4_0: wk_cu_dot_q4_0(row, g, a, nt, acc); break;
    case WK_Q4_1: wk_cu_dot_q4_1(row, g, a, nt, acc); break;
    case WK_Q5_0: wk_cu_dot_q5_0(row, g, a, nt, acc); break;
    case WK_Q5_1: wk_cu_dot_q5_1(row, g, a, nt, acc); break;
    case WK_Q8_0: wk_cu_dot_q8_0(row, g, a, nt, acc); break;
    case WK_Q4_K: wk_cu_dot_q4_K(row, g, a, nt, acc); break;
    case WK_Q5_K: wk_cu_dot_q5_K(row, g, a, nt, acc); break;
    case WK_Q6_K: wk_cu_dot_q6_K(row, g, a, nt, acc); break;
    default: break;
    }
}

/* One row of cols values quantized as at (WK_Q8_0, WK_Q8_1 or WK_Q8_K) into the device
 * layout, one group after another: what the kernels do a warp at a time (acts.cu), for the
 * host emulation and the tests. */
WK_HD void wk_cu_quantize_row(wk_dtype at, const float *x, int64_t cols, int8_t *q, float *d,
                              float *s, int16_t *bsum)
{
    if (at == WK_Q8_0 || at == WK_Q8_1) {
        for (int64_t g = 0; g < cols / 32; g++) {
            const float *v = x + 32 * g;
            float amax = 0;
            for (int l = 0; l < 32; l++)
                amax = fabsf(v[l]) > amax ? fabsf(v[l]) : amax;
            float dg = amax / 127.0f, inv = wk_cu_q8_inv(dg);
            int sum = 0;
            for (int l = 0; l < 32; l++)
                sum += q[32 * g + l] = (int8_t)wk_cu_q8_level(v[l], inv);
            d[g] = wk_cu_round_half(dg);
            if (at == WK_Q8_1)
                s[g] = wk_cu_round_half((float)sum * dg);
        }
        return;
    }
    for (int64_t b = 0; b < cols / 256; b++) {
        const float *v = x + 256 * b;
        float amax = 0, max = 0;
        for (int l = 0; l < 256; l++)
            if (fabsf(v[l]) > amax) {
                amax = fabsf(v[l]);
                max = v[l];
            }
        float iscale = amax != 0 ? -127.0f / max : 0.0f;
        for (int k = 0; k < 16; k++) {
            int sum = 0;
            for (int l = 16 * k; l < 16 * k + 16; l++)
                sum += q[256 * b + l] = (int8_t)(amax != 0 ? wk_cu_q8k_level(v[l], iscale) : 0);
            bsum[16 * b + k] = (int16_t)sum;
        }
        d[b] = amax != 0 ? 1.0f / iscale : 0.0f;
    }
}

/* ---- one element of a row, as the CPU dequantizers compute it (the embeddings) ---- */

WK_HD float wk_cu_q4_K_value(const uint8_t *b, int i, int five)
{
    /* i in 0..255 of a Q4_K (five 0) or Q5_K (five 1) block: quant/kquants.c's dequant */
    int j = i / 32, l = i % 32;
    const uint8_t *qs = b + (five ? 48 : 16);
    int q = (qs[32 * (j / 2) + l] >> 4 * (j % 2)) & 0xf;
    if (five)
        q += (b[16 + l] >> j) & 1 ? 16 : 0;
    uint32_t dm = wk_cu_ld4(b);
    float d = wk_cu_half((uint16_t)dm), min = wk_cu_half((uint16_t)(dm >> 16));
    int sc, m;
    wk_cu_k4_scale_min(j, b + 4, &sc, &m);
    float d1 = d * (float)sc, m1 = min * (float)m;
    return d1 * (float)q - m1;
}

WK_HD float wk_cu_q6_K_value(const uint8_t *b, int i)
{
    int h = i / 128, r = (i % 128) / 32, l = i % 32;
    int lo = (b[64 * h + 32 * (r % 2) + l] >> (r < 2 ? 0 : 4)) & 0xf;
    int hi = (b[128 + 32 * h + l] >> 2 * r) & 3;
    float d = wk_cu_half(wk_cu_ld2(b + 208));
    return d * (float)(int8_t)b[192 + i / 16] * (float)((lo | hi << 4) - 32);
}

/* Element i of a row of type t (a wk_dtype the backend runs; 0 for any other). */
WK_HD float wk_cu_value(wk_dtype t, const uint8_t *row, int64_t i)
{
    int64_t blk = i / 32;
    int l = (int)(i % 32), j = l % 16;
    switch (t) {
    case WK_F32: {
        float f;
        memcpy(&f, row + 4 * i, 4);
        return f;
    }
    case WK_F16: return wk_cu_half(wk_cu_ld2(row + 2 * i));
    case WK_BF16: return wk_cu_bf16(wk_cu_ld2(row + 2 * i));
    case WK_Q4_0: {
        const uint8_t *b = row + blk * sizeof(wk_block_q4_0);
        int q = (b[2 + j] >> (l < 16 ? 0 : 4)) & 0xf;
        return (float)(q - 8) * wk_cu_half(wk_cu_ld2(b));
    }
    case WK_Q4_1: {
        const uint8_t *b = row + blk * sizeof(wk_block_q4_1);
        int q = (b[4 + j] >> (l < 16 ? 0 : 4)) & 0xf;
        return (float)q * wk_cu_half(wk_cu_ld2(b)) + wk_cu_half(wk_cu_ld2(b + 2));
    }
    case WK_Q5_0: {
        const uint8_t *b = row + blk * sizeof(wk_block_q5_0);
        int q = ((b[6 + j] >> (l < 16 ? 0 : 4)) & 0xf) | (int)(wk_cu_ld4_a2(b + 2) >> l & 1) << 4;
        return (float)(q - 16) * wk_cu_half(wk_cu_ld2(b));
    }
    case WK_Q5_1: {
        const uint8_t *b = row + blk * sizeof(wk_block_q5_1);
        int q = ((b[8 + j] >> (l < 16 ? 0 : 4)) & 0xf) | (int)(wk_cu_ld4(b + 4) >> l & 1) << 4;
        return (float)q * wk_cu_half(wk_cu_ld2(b)) + wk_cu_half(wk_cu_ld2(b + 2));
    }
    case WK_Q8_0: {
        const uint8_t *b = row + blk * sizeof(wk_block_q8_0);
        return (float)(int8_t)b[2 + l] * wk_cu_half(wk_cu_ld2(b));
    }
    case WK_Q4_K: return wk_cu_q4_K_value(row + i / 256 * sizeof(wk_block_q4_K), (int)(i % 256), 0);
    case WK_Q5_K: return wk_cu_q4_K_value(row + i / 256 * sizeof(wk_block_q5_K), (int)(i % 256), 1);
    case WK_Q6_K: return wk_cu_q6_K_value(row + i / 256 * sizeof(wk_block_q6_K), (int)(i % 256));
    default: return 0.0f;
    }
}

/* ---- RoPE: the rotation of pair i0 at position pos, kernels/rope.c's arithmetic ---- */

/* The rotation's parameters (kernels/rope.h's wk_rope, its factors in device memory). */
typedef struct wk_cu_rope {
    uint32_t n_dims;
    double base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
    uint32_t n_ctx_orig;
    const float *freq_factors;
    int neox;
} wk_cu_rope;

WK_HD double wk_cu_corr_dim(uint32_t n_dims, uint32_t n_ctx, double n_rot, double base)
{
    return n_dims * log(n_ctx / (n_rot * 2 * 3.14159265358979323846)) / (2 * log(base));
}

/* cos and sin of pair i0's angle at pos, times the magnitude scale */
WK_HD void wk_cu_rope_cs(const wk_cu_rope *r, int64_t pos, uint32_t i0, double *c, double *s)
{
    double lo = 0, hi = 0, mscale = r->attn_factor > 0 ? r->attn_factor : 1.0;
    if (r->ext_factor != 0) {
        lo = fmax(0.0, floor(wk_cu_corr_dim(r->n_dims, r->n_ctx_orig, r->beta_fast, r->base)));
        hi = fmin((double)(r->n_dims - 1),
                  ceil(wk_cu_corr_dim(r->n_dims, r->n_ctx_orig, r->beta_slow, r->base)));
        mscale *= 1.0 + 0.1 * log(1.0 / r->freq_scale);
    }
    double theta = (double)pos * pow(r->base, -(double)i0 / r->n_dims);
    if (r->freq_factors)
        theta /= r->freq_factors[i0 / 2];
    double t = r->freq_scale * theta;
    if (r->ext_factor != 0) {
        double y = ((double)(i0 / 2) - lo) / fmax(0.001, hi - lo);
        double mix = (1 - fmin(1.0, fmax(0.0, y))) * r->ext_factor;
        t = t * (1 - mix) + theta * mix;
    }
    *c = cos(t) * mscale;
    *s = sin(t) * mscale;
}

#endif
