/* AVX-512 micro-kernels of the tiled products (kernels/gemm.h), the twins of
 * kernels/avx2/gemm.c for CPUs with AVX-512 F/BW/VL and VNNI.
 *
 * The AVX2 tiles give every (weight row, activation row) pair its own register, whose lanes
 * must be summed at the end. Here the weight rows are first laid side by side, one row per
 * lane (per call, for the 48 rows of the driver's panel, and used for every activation row),
 * so that one instruction multiplies a value of 16 rows with the same activation value,
 * broadcast, and the 16 results are stored side by side with no sum across lanes.
 *
 * F32: the panel transposed (16 rows by 16 values at a time in registers; F16 rows straight
 * from the file, widened on the way); each step multiplies value k of 48 rows
 * (3 registers) with value k of 8 activation rows: 24 fused multiply-adds for 3 loads and 8
 * broadcasts. Against 4 x 6 tiles of the AVX2 form in 16 lanes it prefilled the
 * 1.1B shape at F16 about 20 % faster (paired runs).
 *
 * Int8: the weight rows are interleaved, 16 at a time, so that int32 lane i belongs to
 * row i (as llama.cpp's repacked Q4_0 8x8 layouts do): one vpdpbusd multiplies
 * 4 levels of each of 16 rows with the same 4 activation levels, broadcast (unsigned times
 * signed bytes, four products summed into each lane, no saturation), and adds into the
 * row's lane. A 32-group is 8 of them into one register per activation row; its float
 * scales are a vector of the 16 rows' d_w times a broadcast d_a, and the 16 results are
 * stored side by side. The super-blocks multiply each 16's int32 sums by the rows' integer
 * scales (vpmulld) and add them over the super-block before going to float.
 *
 * Signed levels (Q8_0, IQ4_NL, IQ4_XS) are stored plus 128, so unsigned, and 128 times the
 * sum of each 16 activation levels comes off each 16's sum. The interleaving takes 64
 * groups at a time. */
#include "kernels/avx512/avx512.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx512/lanes.h"
#include "kernels/tile.h"

#define INLINE static inline __attribute__((always_inline))

/* ---- F32: weight rows transposed ---- */

#define FB 48   /* weight rows per transposed block: 3 vectors of 16 lanes */
#define FK 2048 /* values per transposed block (kernels/gemm.c's float slices) */
#define FC 8    /* activation rows per tile: 24 accumulators */

/* r[j] = column j of the 16 x 16 block whose row i is r[i] (unpack within 128-bit lanes,
 * then the lanes themselves: 64 shuffles) */
INLINE void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4i + j]: in lane L, column 4L + j of rows 4i .. 4i + 3 */
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
    for (int j = 0; j < 4; j++) {
        __m512 even0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        __m512 even1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        __m512 odd0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
        __m512 odd1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
        t[j] = _mm512_shuffle_f32x4(even0, even1, 0x88);
        t[8 + j] = _mm512_shuffle_f32x4(even0, even1, 0xdd);
        t[4 + j] = _mm512_shuffle_f32x4(odd0, odd1, 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(odd0, odd1, 0xdd);
    }
    for (int j = 0; j < 16; j++)
        r[j] = t[j];
}

/* `bytes` (at most 32) bytes at p, the rest zero; a masked load only at a row's end (masked
 * loads from memory are slow here) */
INLINE __m256i load_upto32(const uint8_t *p, int64_t bytes)
{
    if (bytes >= 32)
        return _mm256_loadu_si256((const __m256i *)p);
    return bytes <= 0 ? _mm256_setzero_si256()
                      : _mm256_maskz_loadu_epi8((__mmask32)((1ull << bytes) - 1), p);
}

/* Rows 0 .. mr - 1 (mr <= FB; the other lanes zero) of w (F32, or binary16 with half,
 * widened on the way: the file's F16 weights in place), values 0 .. kc - 1, into wt: value k
 * of the block's rows at wt + k * FB. 16 rows by 64 bytes at a time: each row's bytes copied
 * to a small buffer (two 32-byte loads, never a byte past the row), then widened and
 * transposed in registers 16 values at a time. Rows are often exactly 4 KiB apart, so their
 * bytes compete for the same cache set: a row's line is read once, whole. Against decoding
 * F16 rows to F32 and a gather per 16 rows and value, this prefilled the 1.1B shape at F16
 * 2-4 % faster (3 paired runs); the loads of the rows' bytes, from memory, are still about
 * 15 % of a prefill's time, as the gathers were 17-19 % (software prefetching of the next
 * panel changed neither). */
static void transpose_rows(const void *w, bool half, int64_t ldw, int mr, int64_t kc, float *wt)
{
    int64_t elt = half ? 2 : 4, per = 64 / elt; /* values per 64 bytes */
    for (int v = 0; v < FB / 16; v++)
        for (int64_t k0 = 0; k0 < kc; k0 += per) {
            _Alignas(64) uint8_t line[16][64];
            int64_t bytes = (kc - k0 < per ? kc - k0 : per) * elt;
            for (int i = 0; i < 16; i++) {
                if (16 * v + i >= mr) { /* past the block's rows: zeros */
                    _mm512_store_si512(line[i], _mm512_setzero_si512());
                    continue;
                }
                const uint8_t *p = (const uint8_t *)w + ((16 * v + i) * ldw + k0) * elt;
                _mm256_store_si256((__m256i *)line[i], load_upto32(p, bytes));
                _mm256_store_si256((__m256i *)(line[i] + 32), load_upto32(p + 32, bytes - 32));
            }
            for (int64_t s = 0; s * 16 < bytes / elt; s++) {
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = half ? _mm512_cvtph_ps(
                                      _mm256_load_si256((const __m256i *)(line[i] + 32 * s)))
                                : _mm512_load_ps((const float *)line[i]); /* s = 0 */
                transpose16(r);
                for (int64_t j = 0; j < 16 && k0 + 16 * s + j < kc; j++)
                    _mm512_store_ps(wt + (k0 + 16 * s + j) * FB + 16 * v, r[j]);
            }
        }
}

/* y[c * ldy + i] (+)= row i of the block . activation row c, for i < mr and c < C: each
 * step multiplies the 48 rows' value k (3 vectors) with value k of each activation row,
 * broadcast */
INLINE void tile_f32(int C, const float *wt, int64_t kc, const float *x, int64_t ldx,
                     float *y, int64_t ldy, int mr, bool add)
{
    __m512 acc[3][FC];
    EACH(c, C) acc[0][c] = acc[1][c] = acc[2][c] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 w0 = _mm512_load_ps(wt + k * FB), w1 = _mm512_load_ps(wt + k * FB + 16);
        __m512 w2 = _mm512_load_ps(wt + k * FB + 32);
        EACH(c, C) {
            __m512 b = _mm512_set1_ps(x[c * ldx + k]);
            acc[0][c] = _mm512_fmadd_ps(w0, b, acc[0][c]);
            acc[1][c] = _mm512_fmadd_ps(w1, b, acc[1][c]);
            acc[2][c] = _mm512_fmadd_ps(w2, b, acc[2][c]);
        }
    }
    EACH(c, C) for (int v = 0; v < 3; v++) {
        __mmask16 mask = wk_first16(mr - 16 * v);
        __m512 o = acc[v][c];
        if (add)
            o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mask, y + c * ldy + 16 * v));
        _mm512_mask_storeu_ps(y + c * ldy + 16 * v, mask, o);
    }
}

/* The product of m rows (F32 or, with half, binary16) with n activation rows, in blocks of
 * FB rows by FK values transposed into wt */
INLINE void gemm_float(int64_t k, const void *w, bool half, int64_t ldw, int m, const float *x,
                       int64_t ldx, int n, float *y, int64_t ldy, bool add)
{
    static _Thread_local _Alignas(64) float wt[FK * FB]; /* 384 KiB */
#define F32_CASE(C_)                                                                             \
    case C_:                                                                                     \
        tile_f32(C_, wt, kc, x + c0 * ldx + k0, ldx, y + c0 * ldy + r0, ldy, mr, add || k0 > 0); \
        break;
    for (int r0 = 0; r0 < m; r0 += FB) {
        int mr = m - r0 < FB ? m - r0 : FB;
        for (int64_t k0 = 0; k0 < k; k0 += FK) {
            int64_t kc = k - k0 < FK ? k - k0 : FK;
            const void *rows = half ? (const void *)((const uint16_t *)w + r0 * ldw + k0)
                                    : (const void *)((const float *)w + r0 * ldw + k0);
            transpose_rows(rows, half, ldw, mr, kc, wt);
            for (int c0 = 0; c0 < n; c0 += FC)
                switch (n - c0 < FC ? n - c0 : FC) {
                    F32_CASE(1) F32_CASE(2) F32_CASE(3) F32_CASE(4)
                    F32_CASE(5) F32_CASE(6) F32_CASE(7) F32_CASE(8)
                }
        }
    }
#undef F32_CASE
}

void wk_gemm_f32_avx512(int64_t k, const float *w, int64_t ldw, int m, const float *x,
                        int64_t ldx, int n, float *y, int64_t ldy, bool add)
{
    gemm_float(k, w, false, ldw, m, x, ldx, n, y, ldy, add);
}

void wk_gemm_f16_avx512(int64_t k, const void *w, int64_t ldw, int m, const float *x,
                        int64_t ldx, int n, float *y, int64_t ldy, bool add)
{
    gemm_float(k, w, true, ldw, m, x, ldx, n, y, ldy, add);
}

/* ---- int8: weight rows interleaved ---- */

#define IL 16   /* weight rows per interleaved block: one per int32 lane */
#define IL_G 64 /* 32-groups interleaved at a time (2048 values: a slice of kernels/gemm.c) */
#define IL_B 3  /* blocks interleaved at a time: 48 rows */
#define IL_C 8  /* activation rows per tile */

/* 16 weight rows of IL_G groups, one row per lane: q[g][k] holds values 4k..4k+3 of group g
 * of the 16 rows, 4 bytes per row (signed levels plus 128, so unsigned); the float scale of
 * each group (the 32-blocks) or of each super-block, at its first group (span 8); the
 * integer scale and the offset of each 16. */
typedef struct il_block {
    _Alignas(64) uint8_t q[IL_G][8][64];
    _Alignas(64) float d[IL_G][IL];
    _Alignas(64) int32_t sc[2 * IL_G][IL];
    _Alignas(64) float m[2 * IL_G][IL];
} il_block;

/* The levels of group g of 16 whole rows into b->q[g]: a 16 x 8 transpose of 4-byte units.
 * z_j holds rows 2j and 2j + 1; a permutation pairs their units, so that 64-bit unit k of a_j
 * is unit k of both rows; the rest is an 8 x 8 transpose of 64-bit units (interleave within
 * 128-bit lanes, then two rounds of 128-bit lane selects). */
static void transpose_levels(const uint8_t *q, int64_t ldq, bool sgn, uint8_t out[8][64])
{
    const __m512i pair = _mm512_set_epi32(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
    __m512i a[8], b[8];
    for (int j = 0; j < 8; j++) {
        __m512i z = _mm512_castsi256_si512(
            _mm256_loadu_si256((const __m256i *)(q + 2 * j * ldq)));
        z = _mm512_inserti64x4(z, _mm256_loadu_si256((const __m256i *)(q + (2 * j + 1) * ldq)), 1);
        a[j] = _mm512_permutexvar_epi32(pair, z);
    }
    for (int j = 0; j < 8; j += 2) { /* b_j: even units of a_j, a_j+1; b_j+1: odd ones */
        b[j] = _mm512_unpacklo_epi64(a[j], a[j + 1]);
        b[j + 1] = _mm512_unpackhi_epi64(a[j], a[j + 1]);
    }
    const __m512i flip = _mm512_set1_epi8(sgn ? (char)0x80 : 0);
    for (int p = 0; p < 2; p++) { /* unit k = 2 l + p is lane l of b_p, b_2+p, b_4+p, b_6+p */
        __m512i u = _mm512_shuffle_i64x2(b[p], b[2 + p], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i v = _mm512_shuffle_i64x2(b[4 + p], b[6 + p], _MM_SHUFFLE(1, 0, 1, 0));
        __m512i uh = _mm512_shuffle_i64x2(b[p], b[2 + p], _MM_SHUFFLE(3, 2, 3, 2));
        __m512i vh = _mm512_shuffle_i64x2(b[4 + p], b[6 + p], _MM_SHUFFLE(3, 2, 3, 2));
        __m512i o[4] = {_mm512_shuffle_i64x2(u, v, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_i64x2(u, v, _MM_SHUFFLE(3, 1, 3, 1)),
                        _mm512_shuffle_i64x2(uh, vh, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_i64x2(uh, vh, _MM_SHUFFLE(3, 1, 3, 1))};
        for (int l = 0; l < 4; l++)
            _mm512_store_si512(out[2 * l + p], _mm512_xor_si512(o[l], flip));
    }
}

/* 16 whole rows: the levels transposed, the scales and offsets gathered */
static void interleave16(const wk_q8_rows *w, int r0, int64_t g0, int G, il_block *b)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i at_d = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)w->ldd));
    __m512i at_sc = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)w->ldsc));
    __m512i at_m = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)w->ldm));
    const float *d = w->d + r0 * w->ldd;
    const int16_t *sc = w->sc + r0 * w->ldsc;
    const float *m = w->m + r0 * w->ldm;
    for (int g = 0; g < G; g++) {
        int64_t ga = g0 + g;
        transpose_levels(w->q + r0 * w->ldq + 32 * ga, w->ldq, w->is_signed, b->q[g]);
        if (g % w->span == 0)
            _mm512_store_ps(b->d[g], _mm512_i32gather_ps(at_d, d + ga / w->span, 4));
        for (int h = 0; h < 2; h++) {
            if (w->span > 1) { /* int16 scales: the low half of a 32-bit gather */
                __m512i v = _mm512_i32gather_epi32(at_sc, sc + 16 * ga + 8 * h, 2);
                _mm512_store_si512(b->sc[2 * g + h],
                                   _mm512_srai_epi32(_mm512_slli_epi32(v, 16), 16));
            }
            if (!w->is_signed)
                _mm512_store_ps(b->m[2 * g + h], _mm512_i32gather_ps(at_m, m + 2 * ga + h, 4));
        }
    }
}

/* Rows r0 .. r0 + nr - 1 (nr <= 16; the other lanes get zero weights) of groups
 * g0 .. g0 + G - 1 into b; g0 is a multiple of 8. */
static void interleave(const wk_q8_rows *w, int r0, int nr, int64_t g0, int G, il_block *b)
{
    if (nr == IL) {
        interleave16(w, r0, g0, G, b);
        return;
    }
    uint32_t flip = w->is_signed ? 0x80808080u : 0;
    for (int i = 0; i < IL; i++) {
        int64_t r = r0 + i;
        bool live = i < nr;
        for (int g = 0; g < G; g++) {
            for (int k = 0; k < 8; k++) {
                uint32_t v = 0;
                if (live)
                    memcpy(&v, w->q + r * w->ldq + 32 * (g0 + g) + 4 * k, 4);
                v ^= flip;
                memcpy(&b->q[g][k][4 * i], &v, 4);
            }
            for (int h = 0; h < 2; h++) {
                b->sc[2 * g + h][i] = live ? w->sc[r * w->ldsc + 16 * (g0 + g) + 8 * h] : 0;
                b->m[2 * g + h][i] =
                    live && !w->is_signed ? w->m[r * w->ldm + 2 * (g0 + g) + h] : 0;
            }
            b->d[g][i] = live && g % w->span == 0 ? w->d[r * w->ldd + (g0 + g) / w->span] : 0;
        }
    }
}

/* For signed levels: corr[c][j] = 128 * the sum of activation row c's levels in 16-group j,
 * what the 128 added to the weights adds to their products. */
static void act_sums(int C, const wk_q8_acts *a, int G, int32_t corr[IL_C][2 * IL_G])
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int c = 0; c < C; c++)
        for (int g = 0; g < G; g++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(a->q + c * a->ldq + 32 * g));
            /* sums of 8 bytes of levels + 128 */
            __m256i s = _mm256_sad_epu8(_mm256_xor_si256(v, flip), _mm256_setzero_si256());
            int64_t s0 = _mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1);
            int64_t s1 = _mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3);
            corr[c][2 * g] = (int32_t)(128 * (s0 - 16 * 128));
            corr[c][2 * g + 1] = (int32_t)(128 * (s1 - 16 * 128));
        }
}

/* 4 activation levels broadcast to every lane */
INLINE __m512i quad(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* acc[c] (lane i) += row i of b times activation row c, over G groups; a points at the
 * tile's first row and b's first group. The 32-blocks: 8 vpdpbusd per group into int32,
 * to float times d_w d_a. The super-blocks: 4 vpdpbusd per 16, times its integer scale
 * (vpmulld), added over the super-block, to float times d_w d_a. The int32 sums stay below
 * 2^31: a 16 reaches 16 * 255 * 127 before the correction, and a super-block
 * 16 * 16 * 128 * 127 * 128 after the scales (|scale| <= 128). */
INLINE void il_tile(int C, const il_block *b, int G, int span, bool sgn, const wk_q8_acts *a,
                    int32_t corr[IL_C][2 * IL_G], __m512 acc[IL_C])
{
    if (span == 1)
        for (int g = 0; g < G; g++) {
            __m512i is[IL_C];
            EACH(c, C) is[c] = _mm512_setzero_si512();
            EACH(k, 8) {
                __m512i wv = _mm512_load_si512(b->q[g][k]);
                EACH(c, C) is[c] = _mm512_dpbusd_epi32(is[c], wv,
                                                       quad(a->q + c * a->ldq + 32 * g + 4 * k));
            }
            __m512 dw = _mm512_load_ps(b->d[g]);
            EACH(c, C) {
                if (sgn)
                    is[c] = _mm512_sub_epi32(
                        is[c], _mm512_set1_epi32(corr[c][2 * g] + corr[c][2 * g + 1]));
                acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[c]),
                                         _mm512_mul_ps(dw, _mm512_set1_ps(a->d[c * a->ldd + g])),
                                         acc[c]);
            }
        }
    else
        for (int g0 = 0; g0 < G; g0 += 8) {
            __m512i sb[IL_C];
            EACH(c, C) sb[c] = _mm512_setzero_si512();
            for (int j = 2 * g0; j < 2 * g0 + 16; j++) { /* the 16s of the super-block */
                __m512i is[IL_C];
                EACH(c, C) is[c] = _mm512_setzero_si512();
                EACH(k, 4) {
                    __m512i wv = _mm512_load_si512(b->q[j / 2][4 * (j % 2) + k]);
                    EACH(c, C) is[c] = _mm512_dpbusd_epi32(
                        is[c], wv, quad(a->q + c * a->ldq + 16 * j + 4 * k));
                }
                __m512i sc = _mm512_load_si512(b->sc[j]);
                EACH(c, C) {
                    if (sgn)
                        is[c] = _mm512_sub_epi32(is[c], _mm512_set1_epi32(corr[c][j]));
                    sb[c] = _mm512_add_epi32(sb[c], _mm512_mullo_epi32(is[c], sc));
                }
            }
            __m512 dw = _mm512_load_ps(b->d[g0]);
            EACH(c, C) acc[c] = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(sb[c]), _mm512_mul_ps(dw, _mm512_set1_ps(a->d[c * a->ldd + g0])),
                acc[c]);
        }
    if (!sgn) /* the offsets' share */
        for (int j = 0; j < 2 * G; j++) {
            __m512 mv = _mm512_load_ps(b->m[j]);
            EACH(c, C) acc[c] =
                _mm512_fmadd_ps(mv, _mm512_set1_ps(a->ds[c * a->ldds + j]), acc[c]);
        }
}

/* y[c * ldy + i] (+)= lane i of acc[c], for i < nr */
INLINE void il_store(int C, __m512 acc[IL_C], float *y, int64_t ldy, int nr, bool add)
{
    __mmask16 k = wk_first16(nr);
    EACH(c, C) {
        __m512 v = acc[c];
        if (add)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, y + c * ldy));
        _mm512_mask_storeu_ps(y + c * ldy, k, v);
    }
}

INLINE void il_tile_store(int C, const il_block *b, int G, int span, bool sgn,
                          const wk_q8_acts *a, int32_t corr[IL_C][2 * IL_G], float *y,
                          int64_t ldy, int nr, bool add)
{
    __m512 acc[IL_C];
    EACH(c, C) acc[c] = _mm512_setzero_ps();
    il_tile(C, b, G, span, sgn, a, corr, acc);
    il_store(C, acc, y, ldy, nr, add);
}

/* One call per tile width and kind, each unrolled with constants */
static void il_dispatch(int C, const il_block *b, int G, int span, bool sgn,
                        const wk_q8_acts *a, int32_t corr[IL_C][2 * IL_G], float *y,
                        int64_t ldy, int nr, bool add)
{
#define IL_CASE(C_)                                                                              \
    case C_:                                                                                     \
        if (span == 1 && sgn)                                                                    \
            il_tile_store(C_, b, G, 1, true, a, corr, y, ldy, nr, add);                          \
        else if (span == 1)                                                                      \
            il_tile_store(C_, b, G, 1, false, a, corr, y, ldy, nr, add);                         \
        else if (sgn)                                                                            \
            il_tile_store(C_, b, G, 8, true, a, corr, y, ldy, nr, add);                          \
        else                                                                                     \
            il_tile_store(C_, b, G, 8, false, a, corr, y, ldy, nr, add);                         \
        break;
    switch (C) {
        IL_CASE(1) IL_CASE(2) IL_CASE(3) IL_CASE(4) IL_CASE(5) IL_CASE(6) IL_CASE(7) IL_CASE(8)
    }
#undef IL_CASE
}

void wk_gemm_q8_avx512(int64_t groups, const wk_q8_rows *w, int m, const wk_q8_acts *a, int n,
                       float *y, int64_t ldy, bool add)
{
    static _Thread_local il_block blocks[IL_B]; /* 156 KiB: not on a worker's stack */
    int32_t corr[IL_C][2 * IL_G];
    for (int64_t g0 = 0; g0 < groups; g0 += IL_G) {
        int G = groups - g0 < IL_G ? (int)(groups - g0) : IL_G;
        for (int r0 = 0; r0 < m; r0 += IL * IL_B) {
            int nb = 0;
            for (; nb < IL_B && r0 + IL * nb < m; nb++) {
                int nr = m - r0 - IL * nb < IL ? m - r0 - IL * nb : IL;
                interleave(w, r0 + IL * nb, nr, g0, G, &blocks[nb]);
            }
            for (int c0 = 0; c0 < n; c0 += IL_C) {
                int C = n - c0 < IL_C ? n - c0 : IL_C;
                wk_q8_acts at = *a;
                at.q += c0 * a->ldq + 32 * g0;
                at.d += c0 * a->ldd + g0;
                at.ds += c0 * a->ldds + 2 * g0;
                if (w->is_signed)
                    act_sums(C, &at, G, corr);
                for (int bi = 0; bi < nb; bi++) {
                    int rb = r0 + IL * bi, nr = m - rb < IL ? m - rb : IL;
                    il_dispatch(C, &blocks[bi], G, w->span, w->is_signed, &at, corr,
                                y + c0 * ldy + rb, ldy, nr, add || g0 > 0);
                }
            }
        }
    }
}
