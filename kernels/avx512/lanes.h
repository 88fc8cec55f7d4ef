/* Helpers shared by the AVX-512 kernels (kernels/avx512/). */
#ifndef WK_KERNELS_AVX512_LANES_H
#define WK_KERNELS_AVX512_LANES_H

#include <immintrin.h>
#include <stdint.h>

/* lanes i < n set (n may be out of 0..16) */
static inline __mmask16 wk_first16(int64_t n)
{
    return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

#endif
