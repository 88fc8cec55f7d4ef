/* AVX2/FMA micro-kernels of the tiled products (kernels/gemm.h): a tile of weight rows times
 * a tile of activation rows, every pair's sum in its own register.
 *
 * F32: each step loads 8 values of R weight rows and of C activation rows and does R * C
 * fused multiply-adds: R + C loads for R * C products, where a dot product does one load per
 * product. 4 x 3 keeps 12 accumulators, the 4 weight vectors and one activation vector in
 * the 16 ymm registers.
 *
 * Int8: per 32-group, levels times levels as in kernels/avx2/dot.c (vpmaddubsw pairs into
 * int16, vpmaddwd pairs of those into 8 int32 lanes: lanes 0-3 the first 16 values, 4-7 the
 * second). Unsigned levels (at most 63) times activation levels never saturate an int16;
 * signed ones take the sign trick (|w| at most 128, activations in [-127, 127]: pairs at most
 * 2 * 128 * 127). The 32-block types (span 1) take each group's lanes to float at once,
 * times d_w * d_a (the products of 8 groups' scales made in one multiply, ahead); the
 * super-blocks (span 8) multiply their integer scales in the vpmaddwd and add the int32
 * lanes over the super-block, to float once per 256 values. The offsets' share, the sum over
 * 16-groups of m_w * (d_a * sum of the 16 activation levels), is a short float dot product
 * added at the end.
 *
 * A tile's sums are reduced four rows at a time (three vhaddps and one add give the four
 * rows' totals in one vector), once per call. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>

#include "kernels/avx2/lanes.h"
#include "kernels/tile.h"

#define INLINE static inline __attribute__((always_inline))

/* lanes i < n set (n in 0..8) */
INLINE __m256i first_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE void zero_tile(int R, int C, __m256 acc[4][4])
{
    EACH(r, R) EACH(c, C) acc[r][c] = _mm256_setzero_ps();
}

/* y[c * ldy + r] (+)= the sum of acc[r][c]'s lanes: for each column, the four rows' sums in
 * the lanes of one vector (rows past R are zeros). */
INLINE void store_tile(int R, int C, __m256 acc[4][4], float *y, int64_t ldy, bool add)
{
    EACH(c, C) {
        __m256 z = _mm256_setzero_ps();
        __m256 h01 = _mm256_hadd_ps(acc[0][c], R > 1 ? acc[1][c] : z);
        __m256 h23 = _mm256_hadd_ps(R > 2 ? acc[2][c] : z, R > 3 ? acc[3][c] : z);
        __m256 h = _mm256_hadd_ps(h01, h23); /* lanes 0-3 and 4-7: rows 0-3, two halves */
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        float v[4];
        _mm_storeu_ps(v, s);
        EACH(r, R) y[c * ldy + r] = add ? y[c * ldy + r] + v[r] : v[r];
    }
}

/* ---- F32 ---- */

#define FR 4 /* weight rows per tile */
#define FC 3 /* activation rows per tile */

INLINE void tile_f32(int R, int C, int64_t k, const float *w, int64_t ldw, const float *x,
                     int64_t ldx, float *y, int64_t ldy, bool add)
{
    __m256 acc[4][4];
    zero_tile(R, C, acc);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 wv[4];
        EACH(r, R) wv[r] = _mm256_loadu_ps(w + r * ldw + i);
        EACH(c, C) {
            __m256 a = _mm256_loadu_ps(x + c * ldx + i);
            EACH(r, R) acc[r][c] = _mm256_fmadd_ps(wv[r], a, acc[r][c]);
        }
    }
    if (i < k) {
        __m256i mask = first_lanes((int)(k - i));
        EACH(c, C) {
            __m256 a = _mm256_maskload_ps(x + c * ldx + i, mask);
            EACH(r, R) acc[r][c] =
                _mm256_fmadd_ps(_mm256_maskload_ps(w + r * ldw + i, mask), a, acc[r][c]);
        }
    }
    store_tile(R, C, acc, y, ldy, add);
}

void wk_gemm_f32_avx2(int64_t k, const float *w, int64_t ldw, int m, const float *x,
                      int64_t ldx, int n, float *y, int64_t ldy, bool add)
{
    for (int c0 = 0; c0 < n; c0 += FC)
        for (int r0 = 0; r0 < m; r0 += FR) {
            int R = m - r0 < FR ? m - r0 : FR, C = n - c0 < FC ? n - c0 : FC;
            TILES(FR, FC, tile_f32, k, w + r0 * ldw, ldw, x + c0 * ldx, ldx, y + c0 * ldy + r0,
                  ldy, add)
        }
}

/* ---- int8 ---- */

#define QR 3
#define QC 3

/* The levels of 32-group g of tile row r: u to multiply (|w| for signed levels), w for the
 * signs. */
INLINE __m256i levels(const wk_q8_rows *w, int r, int64_t g, bool sgn, __m256i *wv)
{
    *wv = _mm256_loadu_si256((const __m256i *)(w->q + r * w->ldq + 32 * g));
    return sgn ? _mm256_sign_epi8(*wv, *wv) : *wv;
}

/* The int16 pair sums of u with activation row c's 32-group g */
INLINE __m256i pairs(__m256i u, __m256i wv, const wk_q8_acts *a, int c, int64_t g, bool sgn)
{
    __m256i av = _mm256_loadu_si256((const __m256i *)(a->q + c * a->ldq + 32 * g));
    return _mm256_maddubs_epi16(u, sgn ? _mm256_sign_epi8(av, wv) : av);
}

/* Span 1: w and a point at the tile's first row. */
INLINE void tile_q8_block(int R, int C, int64_t groups, const wk_q8_rows *w,
                          const wk_q8_acts *a, __m256 acc[4][4], bool sgn)
{
    const __m256i ones = _mm256_set1_epi16(1);
    _Alignas(32) float scale[4][4][8]; /* d_w * d_a of the next 8 groups */
    for (int64_t g0 = 0; g0 < groups; g0 += 8) {
        int ng = groups - g0 < 8 ? (int)(groups - g0) : 8;
        __m256i mask = first_lanes(ng);
        EACH(r, R) {
            __m256 dw = _mm256_maskload_ps(w->d + r * w->ldd + g0, mask);
            EACH(c, C) _mm256_store_ps(
                scale[r][c], _mm256_mul_ps(dw, _mm256_maskload_ps(a->d + c * a->ldd + g0, mask)));
        }
        for (int j = 0; j < ng; j++)
            EACH(r, R) {
                __m256i wv, u = levels(w, r, g0 + j, sgn, &wv);
                EACH(c, C) {
                    __m256i p = _mm256_madd_epi16(pairs(u, wv, a, c, g0 + j, sgn), ones);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                                                _mm256_broadcast_ss(&scale[r][c][j]), acc[r][c]);
                }
            }
    }
}

/* Span 8: the int32 lanes of a super-block reach at most 8 * 2 * 2 * 63 * 128 * 128 in
 * magnitude (2 * 128 * 127 * 32 with signed levels). */
INLINE void tile_q8_super(int R, int C, int64_t groups, const wk_q8_rows *w,
                          const wk_q8_acts *a, __m256 acc[4][4], bool sgn)
{
    for (int64_t g0 = 0; g0 < groups; g0 += 8) {
        __m256i isum[4][4];
        EACH(r, R) EACH(c, C) isum[r][c] = _mm256_setzero_si256();
        for (int64_t g = g0; g < g0 + 8; g++)
            EACH(r, R) {
                __m256i wv, u = levels(w, r, g, sgn, &wv);
                __m256i sc = _mm256_loadu_si256((const __m256i *)(w->sc + r * w->ldsc + 16 * g));
                EACH(c, C) isum[r][c] = _mm256_add_epi32(
                    isum[r][c], _mm256_madd_epi16(pairs(u, wv, a, c, g, sgn), sc));
            }
        EACH(r, R) {
            __m256 dw = _mm256_broadcast_ss(w->d + r * w->ldd + g0 / 8);
            EACH(c, C) acc[r][c] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(isum[r][c]),
                _mm256_mul_ps(dw, _mm256_broadcast_ss(a->d + c * a->ldd + g0)), acc[r][c]);
        }
    }
}

/* acc[r][c] += the offsets' share, 8 16-groups at a time (both sides zero-padded) */
INLINE void offsets(int R, int C, __m256 acc[4][4], int64_t groups, const wk_q8_rows *w,
                    const wk_q8_acts *a)
{
    for (int64_t j = 0; j < 2 * groups; j += 8)
        EACH(r, R) {
            __m256 mv = _mm256_loadu_ps(w->m + r * w->ldm + j);
            EACH(c, C) acc[r][c] =
                _mm256_fmadd_ps(mv, _mm256_loadu_ps(a->ds + c * a->ldds + j), acc[r][c]);
        }
}

INLINE void tile_q8(int R, int C, int64_t groups, const wk_q8_rows *w, int r0,
                    const wk_q8_acts *a, int c0, float *y, int64_t ldy, bool add, bool sgn,
                    int span)
{
    __m256 acc[4][4];
    zero_tile(R, C, acc);
    wk_q8_rows wt = *w;
    wt.q += r0 * w->ldq;
    wt.sc += r0 * w->ldsc;
    wt.d += r0 * w->ldd;
    wt.m += r0 * w->ldm;
    wk_q8_acts at = *a;
    at.q += c0 * a->ldq;
    at.d += c0 * a->ldd;
    at.ds += c0 * a->ldds;
    if (span == 1)
        tile_q8_block(R, C, groups, &wt, &at, acc, sgn);
    else
        tile_q8_super(R, C, groups, &wt, &at, acc, sgn);
    if (!sgn)
        offsets(R, C, acc, groups, &wt, &at);
    store_tile(R, C, acc, y, ldy, add);
}

#define TILE_BLOCK_S(R_, C_, ...) tile_q8(R_, C_, __VA_ARGS__, true, 1)
#define TILE_BLOCK_U(R_, C_, ...) tile_q8(R_, C_, __VA_ARGS__, false, 1)
#define TILE_SUPER_S(R_, C_, ...) tile_q8(R_, C_, __VA_ARGS__, true, 8)
#define TILE_SUPER_U(R_, C_, ...) tile_q8(R_, C_, __VA_ARGS__, false, 8)

void wk_gemm_q8_avx2(int64_t groups, const wk_q8_rows *w, int m, const wk_q8_acts *a, int n,
                     float *y, int64_t ldy, bool add)
{
    for (int c0 = 0; c0 < n; c0 += QC)
        for (int r0 = 0; r0 < m; r0 += QR) {
            int R = m - r0 < QR ? m - r0 : QR, C = n - c0 < QC ? n - c0 : QC;
            float *yt = y + c0 * ldy + r0;
            if (w->span == 1 && w->is_signed) {
                TILES(QR, QC, TILE_BLOCK_S, groups, w, r0, a, c0, yt, ldy, add)
            } else if (w->span == 1) {
                TILES(QR, QC, TILE_BLOCK_U, groups, w, r0, a, c0, yt, ldy, add)
            } else if (w->is_signed) {
                TILES(QR, QC, TILE_SUPER_S, groups, w, r0, a, c0, yt, ldy, add)
            } else {
                TILES(QR, QC, TILE_SUPER_U, groups, w, r0, a, c0, yt, ldy, add)
            }
        }
}
