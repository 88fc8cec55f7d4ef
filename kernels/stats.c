/* Moments: the scalar reference block kernel and the pairwise merge.
 *
 * Merge (Pebay 2008, eq. 3.1, with n = na + nb and d = mean_b - mean_a):
 *   mean = mean_a + d * nb / n
 *   M2 = M2a + M2b + d^2 * na * nb / n
 *   M3 = M3a + M3b + d^3 * na * nb * (na - nb) / n^2 + 3 d (na * M2b - nb * M2a) / n
 *   M4 = M4a + M4b + d^4 * na * nb * (na^2 - na * nb + nb^2) / n^3
 *        + 6 d^2 (na^2 * M2b + nb^2 * M2a) / n^2 + 4 d (na * M3b - nb * M3a) / n */
#include "kernels/stats.h"

#include <math.h>


void wk_moments_init(wk_moments *m)
{
    *m = (wk_moments){.min = INFINITY, .max = -INFINITY};
}

void wk_moments_merge(wk_moments *a, const wk_moments *b)
{
    a->zeros += b->zeros;
    a->nan += b->nan;
    a->inf += b->inf;
    if (b->n == 0)
        return;
    if (a->n == 0) {
        uint64_t zeros = a->zeros, nan = a->nan, inf = a->inf;
        *a = *b;
        a->zeros = zeros;
        a->nan = nan;
        a->inf = inf;
        return;
    }
    double na = (double)a->n, nb = (double)b->n, n = na + nb;
    double d = b->mean - a->mean, dn = d / n, dn2 = dn * dn;
    double m2 = a->m2 + b->m2 + d * dn * na * nb;
    double m3 = a->m3 + b->m3 + d * dn2 * na * nb * (na - nb) +
                3.0 * dn * (na * b->m2 - nb * a->m2);
    double m4 = a->m4 + b->m4 + d * dn2 * dn * na * nb * (na * na - na * nb + nb * nb) +
                6.0 * dn2 * (na * na * b->m2 + nb * nb * a->m2) +
                4.0 * dn * (na * b->m3 - nb * a->m3);
    a->mean += dn * nb;
    a->m2 = m2;
    a->m3 = m3;
    a->m4 = m4;
    a->n += b->n;
    a->min = fmin(a->min, b->min);
    a->max = fmax(a->max, b->max);
    a->abs_sum += b->abs_sum;
}

void wk_stats_block_ref(wk_moments *acc, const float *x, size_t n)
{
    wk_moments b;
    wk_moments_init(&b);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (isnan(v)) {
            b.nan++;
            continue;
        }
        if (isinf(v)) {
            b.inf++;
            continue;
        }
        b.n++;
        b.zeros += v == 0.0f;
        sum += v;
        b.abs_sum += fabs(v);
        b.min = fmin(b.min, v);
        b.max = fmax(b.max, v);
    }
    if (b.n) {
        b.mean = sum / (double)b.n;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(x[i]))
                continue;
            double d = (double)x[i] - b.mean, d2 = d * d;
            b.m2 += d2;
            b.m3 += d2 * d;
            b.m4 += d2 * d2;
        }
    }
    wk_moments_merge(acc, &b);
}
