/* The row checks of the quantization stream: the first non-finite value found at every
 * position by both paths, and error sums that agree to rounding with a float64 recount. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/rowcheck.h"
#include "kernels/traits.h"

static void rc_check_finite(const wk_cpu_kernels *k, const char *what)
{
    float x[67];
    for (int n = 0; n <= 67; n++)
        for (int bad = -1; bad < n; bad++)
            for (int kind = 0; kind < 3; kind++) {
                for (int i = 0; i < n; i++)
                    x[i] = (float)i * 0.5f - 3.0f;
                if (bad >= 0)
                    x[bad] = kind == 0 ? NAN : kind == 1 ? INFINITY : -INFINITY;
                cr_assert_eq(k->first_nonfinite(x, n), bad, "%s: n=%d bad=%d kind %d", what, n,
                             bad, kind);
            }
}

Test(rowcheck, first_nonfinite_on_both_paths)
{
    rc_check_finite(wk_cpu_kernels_variant(WK_CPU_REF), "ref");
    const wk_cpu_kernels *simd = wk_cpu_kernels_variant(WK_CPU_AVX2);
    if (simd)
        rc_check_finite(simd, "avx2");
}

Test(rowcheck, row_error_agrees_with_a_recount)
{
    enum { N = 1003 };
    float x[N], y[N];
    double se = 0, sq = 0, mx = 0;
    for (int i = 0; i < N; i++) {
        x[i] = sinf((float)i) * (float)(1 + i % 7);
        y[i] = x[i] + ((i % 5) - 2) * 1e-3f;
        double d = (double)x[i] - y[i];
        se += d * d;
        sq += (double)x[i] * x[i];
        mx = fabs(d) > mx ? fabs(d) : mx;
    }
    for (int v = WK_CPU_REF; v <= WK_CPU_AVX2; v++) {
        const wk_cpu_kernels *k = wk_cpu_kernels_variant((wk_cpu_variant)v);
        if (!k)
            continue;
        wk_row_error e = {0};
        k->row_error(x, y, N, &e);
        cr_expect(fabs(e.sq_err - se) <= 1e-12 * se, "variant %d: %g vs %g", v, e.sq_err, se);
        cr_expect(fabs(e.sq - sq) <= 1e-12 * sq, "variant %d", v);
        cr_expect(fabs(e.max_err - mx) <= 1e-6 * mx, "variant %d: %g vs %g", v, e.max_err, mx);
    }
}
