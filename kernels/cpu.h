/* Run-time CPU feature detection. The AVX2/FMA/F16C kernels live in kernels/avx2/, compiled
 * with those flags; everything else is built for baseline x86-64, and the CPU traits
 * (kernels/traits.c) ask wk_cpu_has_avx2() and wk_cpu_has_avx512() once to choose between
 * them. WK_NO_SIMD=1 in the environment forces the scalar reference (used by tests and
 * benchmarks to compare the two paths). */
#ifndef WK_KERNELS_CPU_H
#define WK_KERNELS_CPU_H

#include <stdbool.h>

/* True when the CPU has AVX2, FMA and F16C and WK_NO_SIMD is not set. */
bool wk_cpu_has_avx2(void);

/* True when, besides, it has AVX-512 F, BW, VL and VNNI and WK_NO_AVX512 is not set (which
 * leaves the AVX2 kernels in place, to compare the two). */
bool wk_cpu_has_avx512(void);

#endif
