/* Software prefetch for the decode kernels: the weights WK_AHEAD_BYTES past those a loop
 * reads, asked to L2, a line per 64 bytes read (and wk_fetch_l2, the plain request that
 * kernels/matvec.c's idle work also makes for the start of a thread's next run).
 *
 * A decode step streams every weight once, row after row. The hardware's prefetchers follow
 * the stream but do not keep far enough ahead of a kernel with much work per byte (the
 * quantized types' unpacking and scales): on the 1.1B shape, 2 threads of a Zen 5, alternated
 * token by token in one run (300-500 tokens, the median pass of each), 8 KiB ahead made a
 * token 6.3-7.1 % faster at Q8_0 (3 runs), 4.0-4.4 % at Q4_0, 3.6-3.9 % at Q4_K_M and
 * 5.9-6.4 % at Q6_K with the AVX-512 kernels (2 runs each), and 4.8-6.4 %, 3.1 %, 1.7-3.6 %
 * and 2.1-4.2 % with the AVX2 ones; 4 KiB ahead gained 1.3-2.0 % at Q8_0 and 16 KiB
 * 5.8-6.4 %. F16's kernel, light per byte, lost 1.3-2.7 % with it and goes without. A
 * prefetch never faults, so one past the end of a mapping is harmless. */
#ifndef WK_KERNELS_AHEAD_H
#define WK_KERNELS_AHEAD_H

#include <stddef.h>

#define WK_AHEAD_BYTES 8192

/* Asks for the lines at p + 64 k, k < ceil(bytes / 64), to L2 (prefetcht1) */
static inline void wk_fetch_l2(const void *p, size_t bytes)
{
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch((const char *)p + b, 0, 2);
}

/* The same WK_AHEAD_BYTES further on: the lines a loop reading `bytes` at p will want later */
static inline void wk_fetch_ahead(const void *p, size_t bytes)
{
    wk_fetch_l2((const char *)p + WK_AHEAD_BYTES, bytes);
}

#endif
