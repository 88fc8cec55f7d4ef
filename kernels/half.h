/* Bulk float conversions (F16/BF16 <-> F32), dispatched to AVX2/F16C when available,
 * otherwise to the scalar reference in quant/half.c. Bit-identical on both paths. */
#ifndef WK_KERNELS_CONVERT_H
#define WK_KERNELS_CONVERT_H

#include <stdint.h>

void wk_f16_to_f32_row(const void *src, float *dst, int64_t n);
void wk_f32_to_f16_row(const float *src, void *dst, int64_t n);
void wk_bf16_to_f32_row(const void *src, float *dst, int64_t n);
void wk_f32_to_bf16_row(const float *src, void *dst, int64_t n);
/* BF16 -> F16 directly (through F32 in registers). */
void wk_bf16_to_f16_row(const void *src, void *dst, int64_t n);

/* AVX2 versions (kernels/convert_avx2.c); call only when wk_cpu_has_avx2(). */
void wk_f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n);
void wk_f32_to_f16_avx2(const float *src, uint16_t *dst, int64_t n);
void wk_bf16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n);
void wk_f32_to_bf16_avx2(const float *src, uint16_t *dst, int64_t n);
void wk_bf16_to_f16_avx2(const uint16_t *src, uint16_t *dst, int64_t n);

#endif
