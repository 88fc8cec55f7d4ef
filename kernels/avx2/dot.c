/* AVX2/FMA/F16C twins of kernels/dot.c: the dot products of the float weight types with F32
 * activations and of the 32-blocks with Q8_0 / Q8_1 activations.
 *
 * Float weights are widened 8 at a time (F16C for F16, a 16-bit shift for BF16) and
 * multiply-added into four accumulators, so four chains of fused multiply-adds overlap.
 *
 * A 32-block's integer sum is one vpmaddubsw (unsigned bytes times signed bytes, pairs added
 * into int16) and one vpmaddwd (pairs of those into int32): exact as long as no int16 pair
 * saturates. The activations are our quantizers' output, in [-127, 127]. Levels that are
 * unsigned (u in [0, 31]) go in as they are and the centre c of Q4_0/Q5_0 comes off in int16:
 * sum (u - c) y = sum u y - sum c y, each pair at most 2 * 31 * 127. Signed levels (Q8_0,
 * IQ4_NL) take the sign trick: |x| times y with the sign of x, |x| <= 128. The block's 8 int32
 * lanes become floats and are multiply-added with the product of the two scales, four blocks
 * into four accumulators. */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/ahead.h"
#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"

typedef __m256 vf;
typedef __m256i vi;

/* ---- float weights, F32 activations ---- */

typedef enum { W_F32, W_F16, W_BF16 } float_kind;

/* 8 weights at element i, widened to float */
static inline __attribute__((always_inline)) vf widen8(const void *w, int64_t i, float_kind k)
{
    if (k == W_F32)
        return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (k == W_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline __attribute__((always_inline)) float widen1(const void *w, int64_t i, float_kind k)
{
    if (k == W_F32)
        return ((const float *)w)[i];
    uint16_t h = ((const uint16_t *)w)[i];
    return k == W_F16 ? _cvtsh_ss(h) : wk_bf16_to_f32(h);
}

static inline __attribute__((always_inline)) float float_dot(int64_t n, const void *w,
                                                             const float *y, float_kind k)
{
    vf acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(widen8(w, i, k), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(widen8(w, i + 8, k), _mm256_loadu_ps(y + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(widen8(w, i + 16, k), _mm256_loadu_ps(y + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(widen8(w, i + 24, k), _mm256_loadu_ps(y + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(widen8(w, i, k), _mm256_loadu_ps(y + i), acc0);
    float sum = wk_hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++)
        sum += widen1(w, i, k) * y[i];
    return sum;
}

void wk_vec_dot_f32_avx2(int64_t n, float *s, const void *x, const void *y)
{
    *s = float_dot(n, x, y, W_F32);
}

void wk_vec_dot_f16_avx2(int64_t n, float *s, const void *x, const void *y)
{
    *s = float_dot(n, x, y, W_F16);
}

void wk_vec_dot_bf16_avx2(int64_t n, float *s, const void *x, const void *y)
{
    *s = float_dot(n, x, y, W_BF16);
}

/* ---- 32-blocks: the integer sum of a block as 8 int32 lanes ---- */

static inline vi load32(const int8_t *q)
{
    return _mm256_loadu_si256((const vi *)q);
}

/* sum (u - c) y for unsigned levels u; c 0 or the centre */
static inline vi centred_dot(vi u, int c, vi y)
{
    vi p = _mm256_maddubs_epi16(u, y);
    if (c)
        p = _mm256_sub_epi16(p, _mm256_maddubs_epi16(_mm256_set1_epi8((char)c), y));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static inline vi isum_q4_0(const wk_block_q4_0 *w, const int8_t *q)
{
    return centred_dot(wk_nibbles32(w->qs), 8, load32(q));
}

static inline vi isum_q4_1(const wk_block_q4_1 *w, const int8_t *q)
{
    return centred_dot(wk_nibbles32(w->qs), 0, load32(q));
}

static inline vi isum_q5_0(const wk_block_q5_0 *w, const int8_t *q)
{
    return centred_dot(_mm256_or_si256(wk_nibbles32(w->qs), wk_fifth_bits(w->qh)), 16, load32(q));
}

static inline vi isum_q5_1(const wk_block_q5_1 *w, const int8_t *q)
{
    return centred_dot(_mm256_or_si256(wk_nibbles32(w->qs), wk_fifth_bits(w->qh)), 0, load32(q));
}

static inline vi isum_q8_0(const wk_block_q8_0 *w, const int8_t *q)
{
    return wk_dot_i8_i8(load32(w->qs), load32(q));
}

static inline vi isum_iq4_nl(const wk_block_iq4_nl *w, const int8_t *q)
{
    return wk_dot_i8_i8(_mm256_shuffle_epi8(wk_iq4_table(), wk_nibbles32(w->qs)), load32(q));
}

/* Lane 0: d_w * d_a; lane 1: m_w * s_a for the _1 types (junk for the others). Every block
 * starts with d, then m or s as binary16 (quant/blocks.h), so one conversion of the first
 * four bytes of each gives both. */
static inline __m128 block_scales(const void *w, const void *a)
{
    uint32_t u, v;
    memcpy(&u, w, 4);
    memcpy(&v, a, 4);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)u)),
                      _mm_cvtph_ps(_mm_cvtsi32_si128((int)v)));
}

/* One block: acc += (d_w * d_a) * isum, and with a minimum mins += m_w * s_a in lane 1 */
#define BLOCK_STEP(acc, mins, isum, asym, i)                                                     \
    do {                                                                                         \
        __m128 sc = block_scales(&w[i], &a[i]);                                                  \
        vf sumf = _mm256_cvtepi32_ps(isum(&w[i], a[i].qs));                                      \
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(sc), sumf, acc);                             \
        if (asym)                                                                                \
            mins = _mm_add_ps(mins, sc);                                                         \
    } while (0)

/* Blocks four at a time into four accumulators (a multiply-add waits for the one before it
 * on its accumulator, and a block is only a few cycles of work), then one at a time. */
#define BLOCK_DOT(name, wblock, ablock, asym)                                                    \
    void wk_vec_dot_##name##_avx2(int64_t n, float *s, const void *x, const void *y)             \
    {                                                                                            \
        const wblock *w = x;                                                                     \
        const ablock *a = y;                                                                     \
        int64_t nb = n / 32, i = 0;                                                              \
        vf acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                    \
        __m128 mins0 = _mm_setzero_ps(), mins1 = mins0;                                          \
        for (; i + 3 < nb; i += 4) {                                                             \
            wk_fetch_ahead(&w[i], 4 * sizeof *w); /* kernels/ahead.h */                          \
            BLOCK_STEP(acc0, mins0, isum_##name, asym, i);                                       \
            BLOCK_STEP(acc1, mins1, isum_##name, asym, i + 1);                                   \
            BLOCK_STEP(acc2, mins0, isum_##name, asym, i + 2);                                   \
            BLOCK_STEP(acc3, mins1, isum_##name, asym, i + 3);                                   \
        }                                                                                        \
        for (; i < nb; i++)                                                                      \
            BLOCK_STEP(acc0, mins0, isum_##name, asym, i);                                       \
        acc0 = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));              \
        float sum = wk_hsum_ps(acc0);                                                            \
        if (asym)                                                                                \
            sum += _mm_cvtss_f32(_mm_movehdup_ps(_mm_add_ps(mins0, mins1)));                     \
        *s = sum;                                                                                \
    }
BLOCK_DOT(q4_0, wk_block_q4_0, wk_block_q8_0, 0)
BLOCK_DOT(q4_1, wk_block_q4_1, wk_block_q8_1, 1)
BLOCK_DOT(q5_0, wk_block_q5_0, wk_block_q8_0, 0)
BLOCK_DOT(q5_1, wk_block_q5_1, wk_block_q8_1, 1)
BLOCK_DOT(q8_0, wk_block_q8_0, wk_block_q8_0, 0)
BLOCK_DOT(iq4_nl, wk_block_iq4_nl, wk_block_q8_0, 0)
#undef BLOCK_DOT
#undef BLOCK_STEP
