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

#include "kernels/ahead.h"
#include "kernels/avx2/lanes.h"
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
            wk_fetch_ahead(row + 36 * k, 64); /* kernels/ahead.h */
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

/* ---- Q8_0 x Q8_0 ----
 *
 * Two blocks per 512-bit step, as for Q4_0, but the levels are signed bytes already: flipped
 * to unsigned (w + 128, an xor of the sign bit) they go straight into vpdpbusd, and the +128
 * comes off in the accumulator's start: -128 times the sum of block j's 32 activation levels
 * in one lane of its eight (all eight share the block's scale, and the lanes are summed at
 * the end). Exact: |sum (w + 128) y| <= 4 * 255 * 127 per lane. A block is d (binary16) then
 * 32 levels, 34 bytes: the levels of j and j + 1 come from two 32-byte loads (a 64-byte load
 * across cache lines streams slowly, see load_pair), their scales from two 2-byte loads.
 * The prepared row stays close to the activations' own size (a down row of 5632 values
 * prepared with starts and scales spread over 16 lanes, as for Q4_0, took 17 KiB of L1 beside
 * the streamed weights and read them 10 % slower than the AVX2 dot product): the levels, then
 * per pair the two starts and the two scales. Against the AVX2 dot product (the sign trick
 * and a scale conversion per block) a block costs about half the instructions: 1.3-1.4x its
 * rate from L2 on one Zen 5 core; a token's products over the 1.1B file on two cores, where
 * the memory sets the pace, 3-5 % faster. */

typedef struct {
    int32_t start[2]; /* -128 * sum of the levels of block j, j + 1 */
    float d[2];
} q8_0_pair;

/* pairs of blocks in a row of n values, the last one perhaps a lone block */
static int64_t q8_0_pairs(int64_t n)
{
    return (n / 32 + 1) / 2;
}

size_t wk_matvec_prep_size_q8_0_avx512(int64_t n)
{
    return (size_t)q8_0_pairs(n) * (64 + sizeof(q8_0_pair));
}

/* The prepared row: the levels, 64 per pair (a missing last block's zero), then the pairs. */
void wk_matvec_prep_q8_0_avx512(int64_t n, const void *act, void *prep)
{
    const wk_block_q8_0 *a = act;
    int64_t nb = n / 32, pairs = q8_0_pairs(n);
    int8_t *y = prep;
    q8_0_pair *p = (q8_0_pair *)(y + 64 * pairs);
    for (int64_t j = 0; j < 2 * pairs; j++) {
        int32_t sum = 0;
        float d = 0;
        if (j < nb) {
            memcpy(y + 32 * j, a[j].qs, 32);
            for (int i = 0; i < 32; i++)
                sum += a[j].qs[i];
            d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(a[j].d)));
        } else {
            memset(y + 32 * j, 0, 32);
        }
        p[j / 2].start[j & 1] = -128 * sum;
        p[j / 2].d[j & 1] = d;
    }
}

/* acc + (d_w * d_a) * (sum w y) for blocks j, j + 1 at w, or block j alone (lone: the last of
 * an odd count; its partner's lanes get zero levels, start and scale, and no byte past it is
 * read) */
INLINE __m512 q8_0_step(const uint8_t *w, bool lone, const int8_t *y, const q8_0_pair *p,
                        __m512 acc)
{
    __m256i lo = _mm256_loadu_si256((const __m256i *)(w + 2));
    __m256i hi = lone ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(w + 36));
    uint16_t d0, d1 = 0;
    memcpy(&d0, w, 2);
    if (!lone)
        memcpy(&d1, w + 34, 2);
    __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                                 _mm512_set1_epi8((char)0x80));
    __m128i pv = _mm_loadu_si128((const __m128i *)p); /* start j, start j + 1, d j, d j + 1 */
    __m512i start = _mm512_maskz_permutexvar_epi32( /* lanes 0 and 8 */
        0x0101, _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        _mm512_castsi128_si512(pv));
    __m512i isum = _mm512_dpbusd_epi32(start, u, _mm512_load_si512(y));
    __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)(d0 | (uint32_t)d1 << 16))),
                           _mm_castsi128_ps(_mm_unpackhi_epi64(pv, pv)));
    __m512 scale = _mm512_permutexvar_ps( /* block j's over lanes 0-7, j + 1's over 8-15 */
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        _mm512_castps128_ps512(dd));
    return _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(isum), acc);
}

void wk_matvec_q8_0_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep)
{
    int64_t full = n / 32 / 2;
    const int8_t *a = prep;
    const q8_0_pair *p = (const q8_0_pair *)(a + 64 * q8_0_pairs(n));
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
        int64_t k = 0;
        for (; k + 1 < full; k += 2) {
            wk_fetch_ahead(row + 68 * k, 128); /* kernels/ahead.h */
            acc0 = q8_0_step(row + 68 * k, false, a + 64 * k, &p[k], acc0);
            acc1 = q8_0_step(row + 68 * (k + 1), false, a + 64 * (k + 1), &p[k + 1], acc1);
        }
        if (k < full)
            acc0 = q8_0_step(row + 68 * k, false, a + 64 * k, &p[k], acc0);
        if (n / 32 & 1)
            acc1 = q8_0_step(row + 68 * full, true, a + 64 * full, &p[full], acc1);
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    }
}

/* ---- the k-quants (Q4_K, Q6_K) x Q8_K ----
 *
 * Per super-block of 256 values, 64 at a time: the levels u (unsigned) of 64 values in one
 * register in the activations' order, vpmaddubsw with the 64 activation levels (int16 pair
 * sums, at most 2 * 63 * 127), vpdpwssd with the group scales spread over the pairs they
 * cover (a word permutation of the super-block's scales), into 16 int32 lanes: exact, as in
 * kernels/avx2/dot_kquants.c. The minimums (Q4_K) and the offset 32 (Q6_K) come off as a
 * scale or minimum times a group's activation sum, prepared once. */

/* A Q8_K super-block prepared: its levels (aligned), the sums of each 16 and of each 32, d. */
typedef struct {
    _Alignas(64) int8_t y[256];
    int16_t sum16[16];
    int16_t sum32[8];
    float d;
} q8_K_prep;

size_t wk_matvec_prep_size_q8_K_avx512(int64_t n)
{
    return (size_t)(n / 256) * sizeof(q8_K_prep);
}

void wk_matvec_prep_q8_K_avx512(int64_t n, const void *act, void *prep)
{
    const wk_block_q8_K *a = act;
    q8_K_prep *p = prep;
    for (int64_t i = 0; i < n / 256; i++) {
        memcpy(p[i].y, a[i].qs, 256);
        memcpy(p[i].sum16, a[i].bsums, sizeof p[i].sum16);
        for (int g = 0; g < 8; g++)
            p[i].sum32[g] = (int16_t)(a[i].bsums[2 * g] + a[i].bsums[2 * g + 1]);
        p[i].d = a[i].d;
    }
}

/* 32 bytes at p, and the same shifted right by 4 in 16-bit lanes, side by side */
INLINE __m512i pair_with_high_nibbles(const uint8_t *p)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
}

/* isum + sum over 64 values of scale(pair) * (u y pair sums); sc holds the scales as words,
 * pick which word serves each pair */
INLINE __m512i scaled_step(__m512i u, const int8_t *y, __m512i sc, __m512i pick, __m512i isum)
{
    __m512i pairs = _mm512_maddubs_epi16(u, _mm512_load_si512(y));
    return _mm512_dpwssd_epi32(isum, pairs, _mm512_permutexvar_epi16(pick, sc));
}

/* word j spread over 16 words, j + 1 over the next 16 */
#define PICK2(j) _mm512_set_epi16(PICK16(j + 1), PICK16(j))
/* words g, g + 1, g + 2, g + 3 over 8 words each */
#define PICK4(g) _mm512_set_epi16(PICK8(g + 3), PICK8(g + 2), PICK8(g + 1), PICK8(g))
#define PICK8(j) j, j, j, j, j, j, j, j
#define PICK16(j) PICK8(j), PICK8(j)

/* Q4_K: d, dmin, 12 bytes of 6-bit scales and minimums of the 8 groups of 32, 128 bytes of
 * nibbles: 32 bytes per 64 values, group 2j in the low nibbles, 2j + 1 in the high. */
void wk_matvec_q4_K_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep)
{
    const q8_K_prep *p = prep;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int64_t r = 0; r < rows; r++) {
        const wk_block_q4_K *b = (const void *)((const uint8_t *)w + (size_t)r * row_bytes);
        __m512 acc = _mm512_setzero_ps();
        __m128 accm = _mm_setzero_ps();
        for (int64_t i = 0; i < n / 256; i++) {
            wk_fetch_ahead(&b[i], sizeof b[i]); /* kernels/ahead.h */
            __m128i sm = wk_k4_scales_mins(b[i].scales);
            __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512i u = _mm512_and_si512(pair_with_high_nibbles(b[i].qs + 32 * j), low4);
                isum = scaled_step(u, p[i].y + 64 * j, sc, PICK2(2 * j), isum);
            }
            __m128i mins = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)),
                                          _mm_loadu_si128((const __m128i *)p[i].sum32));
            /* d and dmin times the activations' d */
            uint32_t dd;
            memcpy(&dd, &b[i].d, 4);
            __m128 s = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)dd)), _mm_set1_ps(p[i].d));
            acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(s), _mm512_cvtepi32_ps(isum), acc);
            accm = _mm_fmadd_ps(_mm_permute_ps(s, 0x55), _mm_cvtepi32_ps(mins), accm);
        }
        __m128 m2 = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
        y[r] = _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
    }
}

/* Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales of the groups of 16,
 * d. Half h (128 values) takes ql[64h..] as two runs of 32 bytes a, b and qh[32h..] as 32
 * bytes c: values 0-31 are a's low nibbles with bits 0-1 of c above, 32-63 b's with bits 2-3,
 * 64-95 a's high nibbles with bits 4-5, 96-127 b's with bits 6-7. Levels are u - 32. */
void wk_matvec_q6_K_avx512(int64_t n, int64_t rows, float *y, const void *w, size_t row_bytes,
                           const void *prep)
{
    const q8_K_prep *p = prep;
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    /* by quadwords; what crosses from a neighbouring byte is masked off */
    const __m512i up_4_2 = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4);
    const __m512i down_0_2 = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    for (int64_t r = 0; r < rows; r++) {
        const wk_block_q6_K *b = (const void *)((const uint8_t *)w + (size_t)r * row_bytes);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t i = 0; i < n / 256; i++) {
            wk_fetch_ahead(&b[i], sizeof b[i]); /* kernels/ahead.h */
            __m256i sc8 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b[i].scales));
            __m512i sc = _mm512_castsi256_si512(sc8);
            /* the offset's share: 32 * sum_g scale_g * sum16_g */
            __m256i off = _mm256_madd_epi16(sc8, _mm256_loadu_si256((const __m256i *)p[i].sum16));
            __m512i isum = _mm512_zextsi256_si512(
                _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5)));
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = b[i].ql + 64 * h;
                __m512i lo = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ql)),
                    _mm256_loadu_si256((const __m256i *)(ql + 32)), 1);
                __m256i c = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
                __m512i cc = _mm512_inserti64x4(_mm512_castsi256_si512(c), c, 1);
                /* u = (lo & 0x0f) | (high bits & 0x30): vpternlog's 0xf8 is a | (b & c) */
                __m512i hi0 = _mm512_and_si512(_mm512_sllv_epi64(cc, up_4_2), bits45);
                __m512i u0 = _mm512_ternarylogic_epi32(hi0, lo, low4, 0xf8);
                __m512i hi1 = _mm512_and_si512(_mm512_srlv_epi64(cc, down_0_2), bits45);
                __m512i u1 = _mm512_ternarylogic_epi32(hi1, _mm512_srli_epi64(lo, 4), low4, 0xf8);
                isum = scaled_step(u0, p[i].y + 128 * h, sc, PICK4(8 * h), isum);
                isum = scaled_step(u1, p[i].y + 128 * h + 64, sc, PICK4(8 * h + 4), isum);
            }
            float d = _cvtsh_ss(b[i].d) * p[i].d;
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc);
        }
        y[r] = _mm512_reduce_add_ps(acc);
    }
}
