/* Scalar IEEE binary16, bfloat16 and float8 conversions: the reference that the F16C/AVX2
 * kernels in kernels/avx2/ are tested against. */
#ifndef WK_QUANT_HALF_H
#define WK_QUANT_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t wk_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float wk_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float wk_f16_to_f32(uint16_t h);
uint16_t wk_f32_to_f16(float f);          /* round to nearest even, like vcvtps2ph imm 0 */
float wk_f8e4m3_to_f32(uint8_t v);        /* OCP E4M3FN: no infinities, 0x7f/0xff are NaN */
float wk_f8e5m2_to_f32(uint8_t v);        /* IEEE-style E5M2 */

static inline float wk_bf16_to_f32(uint16_t b)
{
    return wk_f32_from_bits((uint32_t)b << 16);
}

/* Round to nearest even; NaN stays a quiet NaN. */
static inline uint16_t wk_f32_to_bf16(float f)
{
    uint32_t u = wk_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Row conversions (scalar reference), with the signatures of the type table's to_float and
 * from_float (quant/types.h): src and dst hold n binary16 / bfloat16 values. */
void wk_f16_to_f32_ref(const void *src, float *dst, int64_t n);
void wk_f32_to_f16_ref(const float *src, void *dst, int64_t n);
void wk_bf16_to_f32_ref(const void *src, float *dst, int64_t n);
void wk_f32_to_bf16_ref(const float *src, void *dst, int64_t n);

#endif
