/* AVX-512 twins of the batched attention steps of kernels/vec.c (cols_dot, rows_wsum): the
 * outer product of kernels/avx2/vec.c with 16 lanes, 8 rows of the left side (a whole KV
 * group of a Llama) by 32 columns of the right in 16 registers; ragged columns through
 * masked loads and stores. */
#include "kernels/avx512/avx512.h"

#include <immintrin.h>

#include "kernels/avx512/lanes.h"
#include "kernels/tile.h"

#define INLINE static inline __attribute__((always_inline))

/* out[g * ldo + x0 + x] = scale * sum over y < K of a[g * lda + y] * b[y * ldb + x0 + x], for
 * g < G (constant, at most 8) and x < 32 (< N - x0) */
INLINE void outer_tile(int G, const float *a, int64_t lda, const float *b, int64_t ldb,
                       int64_t K, int64_t x0, int64_t N, float scale, float *out, int64_t ldo)
{
    __mmask16 m0 = wk_first16(N - x0), m1 = wk_first16(N - x0 - 16);
    __m512 acc[8][2];
    EACH(g, G) acc[g][0] = acc[g][1] = _mm512_setzero_ps();
    for (int64_t y = 0; y < K; y++) {
        const float *by = b + y * ldb + x0;
        /* the row 8 ahead to L1: decode's value rows come from memory, and without this
         * (the rows already asked into L2 while the keys were scored) a token's weighted
         * sums took twice as long */
        if (y + 8 < K) {
            _mm_prefetch((const char *)(by + 8 * ldb), _MM_HINT_T0);
            _mm_prefetch((const char *)(by + 8 * ldb + 16), _MM_HINT_T0);
        }
        __m512 b0 = _mm512_maskz_loadu_ps(m0, by), b1 = _mm512_maskz_loadu_ps(m1, by + 16);
        EACH(g, G) {
            __m512 s = _mm512_set1_ps(a[g * lda + y]);
            acc[g][0] = _mm512_fmadd_ps(s, b0, acc[g][0]);
            acc[g][1] = _mm512_fmadd_ps(s, b1, acc[g][1]);
        }
    }
    __m512 sv = _mm512_set1_ps(scale);
    EACH(g, G) {
        _mm512_mask_storeu_ps(out + g * ldo + x0, m0, _mm512_mul_ps(acc[g][0], sv));
        _mm512_mask_storeu_ps(out + g * ldo + x0 + 16, m1, _mm512_mul_ps(acc[g][1], sv));
    }
}

INLINE void outer_rows(int G, const float *a, int64_t lda, const float *b, int64_t ldb,
                       int64_t K, int64_t N, float scale, float *out, int64_t ldo)
{
    for (int64_t x0 = 0; x0 < N; x0 += 32)
        outer_tile(G, a, lda, b, ldb, K, x0, N, scale, out, ldo);
}

static void outer(const float *a, int64_t lda, int G, const float *b, int64_t ldb, int64_t K,
                  int64_t N, float scale, float *out, int64_t ldo)
{
#define ROWS_CASE(G_)                                                                            \
    case G_:                                                                                     \
        outer_rows(G_, ag, lda, b, ldb, K, N, scale, og, ldo);                                   \
        break;
    for (int g0 = 0; g0 < G; g0 += 8) {
        const float *ag = a + g0 * lda;
        float *og = out + g0 * ldo;
        switch (G - g0 < 8 ? G - g0 : 8) {
            ROWS_CASE(1) ROWS_CASE(2) ROWS_CASE(3) ROWS_CASE(4)
            ROWS_CASE(5) ROWS_CASE(6) ROWS_CASE(7) ROWS_CASE(8)
        }
    }
#undef ROWS_CASE
}

void wk_cols_dot_avx512(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                        int64_t rows, int64_t n, float scale, float *out, int64_t ldo)
{
    outer(q, ldq, G, kt, ldk, n, rows, scale, out, ldo);
}

void wk_rows_wsum_avx512(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                         int64_t rows, int64_t n, float *out, int64_t ldo)
{
    outer(p, ldp, G, v, stride, rows, n, 1.0f, out, ldo);
}

/* ---- rows_dot: one query against many key rows (decoding's attention scores) ---- */

/* the lanes lo picks plus the lanes hi picks, from a (indices 0-15) and b (16-31) */
INLINE __m512 fold(__m512 a, __m512 b, __m512i lo, __m512i hi)
{
    return _mm512_add_ps(_mm512_permutex2var_ps(a, lo, b), _mm512_permutex2var_ps(a, hi, b));
}

/* lane i = the sum of v[i]'s 16 lanes: four levels of folding pairs, each halving the
 * partial sums a row keeps and doubling the rows a register holds (15 folds, not 16
 * horizontal sums) */
INLINE __m512 sum16(__m512 v[16])
{
    const __m512i lo8 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i hi8 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29,
                                          30, 31);
    const __m512i lo4 = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
    const __m512i hi4 = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30,
                                          31);
    const __m512i lo2 = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
    const __m512i hi2 = _mm512_setr_epi32(2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30,
                                          31);
    const __m512i lo1 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i hi1 = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                          31);
    __m512 a[8], b[4], c[2];
    EACH(i, 8) /* 2 rows, 8 partial sums each */
        a[i] = fold(v[2 * i], v[2 * i + 1], lo8, hi8);
    EACH(i, 4) /* 4 rows, 4 each */
        b[i] = fold(a[2 * i], a[2 * i + 1], lo4, hi4);
    EACH(i, 2) /* 8 rows, 2 each */
        c[i] = fold(b[2 * i], b[2 * i + 1], lo2, hi2);
    return fold(c[0], c[1], lo1, hi1);
}

/* out[j] = scale * q . k_j for 16 rows (m of them live; the rest read nothing). A full block
 * keeps its 16 sums in registers and takes each 16 values of q once for all 16 rows (the
 * loops unrolled: GCC otherwise kept the sums in memory): 3.1 -> 1.4-1.8 ns a row per query
 * head from L1 on a Zen 5 core, the same bits. */
INLINE void rows16(const float *q, const float *k, int64_t stride, int m, int64_t n, float scale,
                   float *out)
{
    __m512 acc[16];
    int64_t full = n & ~(int64_t)15;
    __mmask16 tail = wk_first16(n - full);
    if (m == 16) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            acc[i] = _mm512_setzero_ps();
        for (int64_t d = 0; d < full; d += 16) {
            __m512 qv = _mm512_loadu_ps(q + d);
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                acc[i] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k + i * stride + d), acc[i]);
        }
        if (tail) {
            __m512 qv = _mm512_maskz_loadu_ps(tail, q + full);
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                acc[i] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k + i * stride + full),
                                         acc[i]);
        }
        _mm512_storeu_ps(out, _mm512_mul_ps(sum16(acc), _mm512_set1_ps(scale)));
        return;
    }
    for (int i = 0; i < m; i++) { /* rows are independent: their chains overlap */
        const float *kr = k + i * stride;
        __m512 a = _mm512_setzero_ps();
        for (int64_t d = 0; d < full; d += 16)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(kr + d), a);
        if (tail)
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + full),
                                _mm512_maskz_loadu_ps(tail, kr + full), a);
        acc[i] = a;
    }
    for (int i = m; i < 16; i++)
        acc[i] = _mm512_setzero_ps();
    _mm512_mask_storeu_ps(out, wk_first16(m), _mm512_mul_ps(sum16(acc), _mm512_set1_ps(scale)));
}

/* 16 rows at a time: each row's products in its own register, the 16 reduced together */
void wk_rows_dot_avx512(const float *q, const float *k, int64_t stride, int64_t rows, int64_t n,
                        float scale, float *out)
{
    int64_t r = 0;
    for (; r + 16 <= rows; r += 16)
        rows16(q, k + r * stride, stride, 16, n, scale, out + r);
    if (r < rows)
        rows16(q, k + r * stride, stride, (int)(rows - r), n, scale, out + r);
}
