/* AVX2 twins of quant/iq4.c: the IQ4_NL and IQ4_XS dequantizers (the table look-up as a
 * byte shuffle, then the reference's d * V[index]) and the entry points of the type table
 * (the reference row code with the AVX2 nl search of fit.c). */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>

#include "kernels/avx2/lanes.h"
#include "quant/blocks.h"
#include "quant/half.h"

WK_AVX2_SEARCH_ENTRY_POINTS(iq4_nl)
WK_AVX2_SEARCH_ENTRY_POINTS(iq4_xs)

/* y[0..32) = dl * V[index] for the 32 nibbles of qs (the low nibbles first) */
static void iq4_group(const uint8_t *qs, float dl, float *y)
{
    const __m128i table = _mm_loadu_si128((const __m128i *)WK_IQ4_VALUES);
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i v[2] = {_mm_shuffle_epi8(table, _mm_and_si128(b, nib)),
                    _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), nib))};
    for (int k = 0; k < 2; k++) {
        __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v[k]));
        __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v[k], 8)));
        _mm256_storeu_ps(y + 16 * k, _mm256_mul_ps(_mm256_set1_ps(dl), lo));
        _mm256_storeu_ps(y + 16 * k + 8, _mm256_mul_ps(_mm256_set1_ps(dl), hi));
    }
}

void wk_dequant_iq4_nl_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / WK_QK4_NL; i++, y += WK_QK4_NL)
        iq4_group(b[i].qs, wk_f16_to_f32(b[i].d), y);
}

void wk_dequant_iq4_xs_avx2(const void *src, float *y, int64_t n)
{
    const wk_block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / WK_QK_K; i++) {
        float d = wk_f16_to_f32(b[i].d);
        for (int g = 0; g < 8; g++, y += 32) {
            int ls = ((b[i].scales_l[g / 2] >> (4 * (g % 2))) & 0xf) |
                     ((b[i].scales_h >> (2 * g)) & 3) << 4;
            iq4_group(b[i].qs + 16 * g, d * (float)(ls - 32), y);
        }
    }
}
