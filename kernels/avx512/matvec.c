/* AVX-512 VNNI matrix-vector products for decoding (kernels/dot.h, wk_matvec_*): one
 * activation row against many weight rows, read in place in the file's block layout.
 *
 * The per-row dot products of kernels/avx2/dot.c redo the activations' share of the work
 * (loading them, the centre's correction) for every weight row. Here the activation row is
 * brought once into the form the inner loop wants, then each weight row costs only its own
 * unpacking:
 *
 * Q4_0 x Q8_0, two blocks per 512-bit step. A block is d (binary16) and 16 bytes of nibbles
 * (value j in the low nibble of byte j, j + 16 in the high). Blocks are 18 bytes, so every
 * field of two neighbours sits at an even offset of the 36 bytes from the first: one load of
 * them, one word permutation puts the nibble bytes of block j in lanes 0-1 and of block j + 1 in
 * lanes 2-3, a variable shift by 0 or 4 and a mask leave the 64 levels u in [0, 15] in
 * value order. vpdpbusd multiplies them with the activations' 64 signed levels y into 16
 * int32 lanes; the centre comes off there too, since sum (u - 8) y = sum u y - 8 sum y and
 * the second sum, per lane of 4, is part of the prepared activations (the accumulator's
 * start). Exact: |sum u y| <= 4 * 15 * 127 per lane. A second word permutation of the same
 * load spreads the two scales over 8 lanes each; times the activations' scales (prepared in
 * the same layout) they scale the converted sums into the accumulators. */
#include "kernels/avx512/avx512.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "quant/blocks.h"

#define INLINE static inline __attribute__((always_inline))

/* ---- Q4_0 x Q8_0 ---- */

/* The prepared activations, per pair of blocks j, j + 1 (a missing last block is zero):
 * 64 levels, 16 int32 starts (-8 times the sum of each 4 levels), 16 floats (d_j 8 times,
 * d_j+1 8 times). */
typedef struct {
    _Alignas(64) int8_t y[64];
    int32_t start[16];
    float d[16];
} q4_0_pair;

size_t wk_matvec_prep_size_q4_0_avx512(int64_t n)
{
    return (size_t)(n / 32 + 1) / 2 * sizeof(q4_0_pair);
}

void wk_matvec_prep_q4_0_avx512(int64_t n, const void *act, void *prep)
{
    const wk_block_q8_0 *a = act;
    q4_0_pair *p = prep;
    int64_t nb = n / 32;
    const __m256i eights = _mm256_set1_epi8(8);
    for (int64_t j = 0; j < nb + (nb & 1); j++) {
        q4_0_pair *pp = &p[j / 2];
        int h = (int)(j & 1);
        __m256i y = _mm256_setzero_si256();
        float d = 0;
        if (j < nb) {
            y = _mm256_loadu_si256((const __m256i *)a[j].qs);
            __m128 dv = _mm_cvtph_ps(_mm_cvtsi32_si128(a[j].d));
            d = _mm_cvtss_f32(dv);
        }
        __m256i sum8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eights, y);
        _mm256_storeu_si256((__m256i *)(pp->y + 32 * h), y);
        _mm256_storeu_si256((__m256i *)(pp->start + 8 * h),
                            _mm256_sub_epi32(_mm256_setzero_si256(), sum8));
        _mm256_storeu_ps(pp->d + 8 * h, _mm256_set1_ps(d));
    }
}

/* The 36 bytes of blocks j, j + 1 from w in the low bytes of a register, or with lone the 18
 * of block j alone (the last of an odd count), never a byte more: the row may end the
 * mapping. A 32-byte and a 4-byte load: one 64-byte load across cache lines streamed from
 * memory at 10 GB/s on one Zen 5 core, these at 25. */
INLINE __m512i load_pair(const uint8_t *w, bool lone)
{
    if (lone)
        return _mm512_castsi256_si512(_mm256_maskz_loadu_epi8((1u << 18) - 1, w));
    int32_t tail;
    memcpy(&tail, w + 32, 4);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w)),
                              _mm256_castsi128_si256(_mm_cvtsi32_si128(tail)), 1);
}

/* acc + (d_w * d_a) * (sum (u - 8) y) for blocks j, j + 1 at w */
INLINE __m512 q4_0_step(const uint8_t *w, bool lone, const q4_0_pair *p, __m512 acc)
{
    /* word i of the 36 bytes: block j's d is word 0, its nibbles words 1-8; block j + 1's
     * d word 9, nibbles words 10-17 */
    const __m512i nib_words = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10,
                                               17, 16, 15, 14, 13, 12, 11, 10,
                                               8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m512i d_words = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                             9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0);
    /* by quadwords: a bit shifted into a byte's high nibble from its neighbour is masked off */
    const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    __m512i raw = load_pair(w, lone);
    __m512i u = _mm512_srlv_epi64(_mm512_permutexvar_epi16(nib_words, raw), shifts);
    u = _mm512_and_si512(u, _mm512_set1_epi8(0x0f));
    __m512i isum = _mm512_dpbusd_epi32(_mm512_load_si512(p->start), u, _mm512_load_si512(p->y));
    __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(d_words, raw)));
    __m512 scale = _mm512_mul_ps(dw, _mm512_load_ps(p->d));
    return _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum), acc);
}

void wk_matvec_q4_0_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep)
{
    const q4_0_pair *p = prep;
    int64_t pairs = n / 32 / 2;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
        int64_t k = 0;
        for (; k + 1 < pairs; k += 2) {
            acc0 = q4_0_step(row + 36 * k, false, &p[k], acc0);
            acc1 = q4_0_step(row + 36 * (k + 1), false, &p[k + 1], acc1);
        }
        if (k < pairs)
            acc0 = q4_0_step(row + 36 * k, false, &p[k], acc0);
        if (n / 32 & 1)
            acc1 = q4_0_step(row + 36 * pairs, true, &p[pairs], acc1);
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    }
}
