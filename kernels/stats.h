/* Streaming moments of float data: the kernel under wk-inspect --stats.
 *
 * A wk_moments holds the partial statistics of some values: count of finite values, their
 * mean and centred power sums M2..M4 (in double), min/max, sum of |x|, and counts of zeros,
 * NaNs and infinities. NaN and +-Inf are counted but excluded from every other field.
 *
 * The block kernels add one block of floats (small enough to stay in L1: the kernel reads it
 * twice, first for the block's mean, then for the centred sums) and merge the block into the
 * accumulator with wk_moments_merge, the pairwise update of Chan et al. (1979) extended to
 * third and fourth moments by Pebay (2008, SAND2008-6212, eq. 3.1). The AVX2 path and the
 * scalar reference compute the same quantities with different summation order. */
#ifndef WK_KERNELS_STATS_H
#define WK_KERNELS_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct wk_moments {
    uint64_t n;        /* finite values */
    double mean;
    double m2, m3, m4; /* sums of (x - mean)^k over the finite values */
    double min, max;   /* +inf / -inf while n == 0 */
    double abs_sum;    /* sum of |x| */
    uint64_t zeros;    /* values equal to 0 (either sign) */
    uint64_t nan, inf;
} wk_moments;

void wk_moments_init(wk_moments *m);
/* a <- a combined with b. */
void wk_moments_merge(wk_moments *a, const wk_moments *b);

/* acc <- acc combined with x[0..n). Blocks of up to a few thousand values are best. The
 * scalar reference; its AVX2 twin is in kernels/avx2/stats.c, and callers reach the one
 * chosen for this CPU as wk_cpu_kernels_get()->stats_block (kernels/traits.h). */
void wk_stats_block_ref(wk_moments *acc, const float *x, size_t n);

#endif
