/* AVX2/F16C twins of the F16 and BF16 row conversions of quant/half.c. Tails fall back to the scalar reference so results are
 * bit-identical to quant/half.c (vcvtps2ph with imm 0 rounds to nearest even, as does the
 * reference; the BF16 rounding below is the same integer trick as wk_f32_to_bf16). */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>

#include "quant/half.h"

void wk_f16_to_f32_avx2(const void *srcv, float *dst, int64_t n)
{
    const uint16_t *src = srcv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    wk_f16_to_f32_ref(src + i, dst + i, n - i);
}

void wk_f32_to_f16_avx2(const float *src, void *dstv, int64_t n)
{
    uint16_t *dst = dstv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    }
    wk_f32_to_f16_ref(src + i, dst + i, n - i);
}

void wk_bf16_to_f32_avx2(const void *srcv, float *dst, int64_t n)
{
    const uint16_t *src = srcv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    wk_bf16_to_f32_ref(src + i, dst + i, n - i);
}

/* f32 bits -> bf16 in the low 16 bits of each lane, round to nearest even, NaN quieted. */
static inline __m256i f32_to_bf16_lanes(__m256 v)
{
    __m256i u = _mm256_castps_si256(v);
    __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
    __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, nan, is_nan);
}

static inline __m128i pack_lanes_u16(__m256i lanes)
{
    /* lanes hold values < 65536: unsigned-saturating pack keeps them, then fix lane order */
    __m256i packed = _mm256_packus_epi32(lanes, lanes);
    packed = _mm256_permute4x64_epi64(packed, 0x08);
    return _mm256_castsi256_si128(packed);
}

void wk_f32_to_bf16_avx2(const float *src, void *dstv, int64_t n)
{
    uint16_t *dst = dstv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i lanes = f32_to_bf16_lanes(_mm256_loadu_ps(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), pack_lanes_u16(lanes));
    }
    wk_f32_to_bf16_ref(src + i, dst + i, n - i);
}
