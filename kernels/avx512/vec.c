/* AVX-512 twins of the attention steps of kernels/vec.c (cols_dot, rows_wsum): the
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
