/* Dispatchers for the bulk float conversions. */
#include "kernels/half.h"

#include "kernels/cpu.h"
#include "quant/half.h"

void wk_f16_to_f32_row(const void *src, float *dst, int64_t n)
{
    if (wk_cpu_has_avx2())
        wk_f16_to_f32_avx2(src, dst, n);
    else
        wk_f16_to_f32_ref(src, dst, n);
}

void wk_f32_to_f16_row(const float *src, void *dst, int64_t n)
{
    if (wk_cpu_has_avx2())
        wk_f32_to_f16_avx2(src, dst, n);
    else
        wk_f32_to_f16_ref(src, dst, n);
}

void wk_bf16_to_f32_row(const void *src, float *dst, int64_t n)
{
    if (wk_cpu_has_avx2())
        wk_bf16_to_f32_avx2(src, dst, n);
    else
        wk_bf16_to_f32_ref(src, dst, n);
}

void wk_f32_to_bf16_row(const float *src, void *dst, int64_t n)
{
    if (wk_cpu_has_avx2())
        wk_f32_to_bf16_avx2(src, dst, n);
    else
        wk_f32_to_bf16_ref(src, dst, n);
}

void wk_bf16_to_f16_row(const void *src, void *dst, int64_t n)
{
    if (wk_cpu_has_avx2()) {
        wk_bf16_to_f16_avx2(src, dst, n);
        return;
    }
    const uint16_t *s = src;
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = wk_f32_to_f16(wk_bf16_to_f32(s[i]));
}
