/* Scalar half-precision conversions (IEEE 754 binary16; bfloat16 = top half of binary32;
 * float8 per the OCP 8-bit floating point spec, E4M3FN and E5M2). */
#include "quant/half.h"

#include <math.h>

float wk_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 0x1p-24f;
        return wk_f32_from_bits(wk_f32_bits(v) | sign);
    }
    if (exp == 31) /* infinity, or a NaN made quiet, as F16C's vcvtph2ps does */
        return wk_f32_from_bits(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    return wk_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t wk_f32_to_f16(float f)
{
    uint32_t u = wk_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: keep it a quiet NaN */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* result is subnormal or zero: value / 2^-24, rounded to nearest even by the FPU */
        float v = wk_f32_from_bits(a) * 0x1p24f;
        return (uint16_t)(sign | (uint16_t)lrintf(v));
    }
    /* normal: rebias exponent, round mantissa to 10 bits, nearest even */
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float wk_f8e4m3_to_f32(uint8_t v)
{
    float s = (v & 0x80) ? -1.0f : 1.0f;
    uint32_t exp = (v >> 3) & 0xfu, man = v & 0x7u;
    if (exp == 15 && man == 7)
        return NAN;
    if (exp == 0)
        return s * (float)man * 0x1p-9f;
    return s * ldexpf(1.0f + (float)man / 8.0f, (int)exp - 7);
}

float wk_f8e5m2_to_f32(uint8_t v)
{
    /* E5M2 is binary16 with the low mantissa byte dropped */
    return wk_f16_to_f32((uint16_t)((uint16_t)v << 8));
}

void wk_f16_to_f32_ref(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = wk_f16_to_f32(s[i]);
}

void wk_f32_to_f16_ref(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = wk_f32_to_f16(src[i]);
}

void wk_bf16_to_f32_ref(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = wk_bf16_to_f32(s[i]);
}

void wk_f32_to_bf16_ref(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = wk_f32_to_bf16(src[i]);
}
