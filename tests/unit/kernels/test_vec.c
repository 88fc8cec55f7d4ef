/* Attention's vector steps (kernels/vec.h) on both paths against a float64 recount, for
 * widths that are and are not multiples of 8 and rows strided wider than they are. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/traits.h"

enum { MAXN = 72, MAXROWS = 37, STRIDE = 80 };

static float val(int i, int salt)
{
    return sinf((float)(i * 7 + salt)) * (float)(1 + (i + salt) % 5);
}

static void check(const wk_cpu_kernels *k, const char *what)
{
    static float q[MAXN], kv[MAXROWS * STRIDE], p[MAXROWS], out[MAXROWS > MAXN ? MAXROWS : MAXN];
    for (int i = 0; i < MAXROWS * STRIDE; i++)
        kv[i] = val(i, 3);
    for (int i = 0; i < MAXN; i++)
        q[i] = val(i, 11);
    for (int j = 0; j < MAXROWS; j++)
        p[j] = fabsf(val(j, 5)) / 5;
    for (int n = 1; n <= MAXN; n++)
        for (int rows = 1; rows <= MAXROWS; rows += 6) {
            k->rows_dot(q, kv, STRIDE, rows, n, 0.125f, out);
            for (int j = 0; j < rows; j++) {
                double want = 0, mag = 0;
                for (int i = 0; i < n; i++) {
                    want += (double)q[i] * kv[j * STRIDE + i];
                    mag += fabs((double)q[i] * kv[j * STRIDE + i]);
                }
                cr_assert(fabs(out[j] - 0.125 * want) <= 1e-6 * 0.125 * mag + 1e-30,
                          "%s rows_dot n=%d row %d: %g vs %g", what, n, j, out[j], 0.125 * want);
            }
            k->rows_wsum(p, kv, STRIDE, rows, n, out);
            for (int i = 0; i < n; i++) {
                double want = 0, mag = 0;
                for (int j = 0; j < rows; j++) {
                    want += (double)p[j] * kv[j * STRIDE + i];
                    mag += fabs((double)p[j] * kv[j * STRIDE + i]);
                }
                cr_assert(fabs(out[i] - want) <= 1e-6 * mag + 1e-30,
                          "%s rows_wsum n=%d rows=%d col %d: %g vs %g", what, n, rows, i,
                          out[i], want);
            }
        }
}

Test(vec, reference_agrees_with_float64)
{
    check(wk_cpu_kernels_variant(WK_CPU_REF), "ref");
}

Test(vec, avx2_agrees_with_float64)
{
    const wk_cpu_kernels *k = wk_cpu_kernels_variant(WK_CPU_AVX2);
    if (!k)
        cr_skip_test("this CPU lacks AVX2, FMA or F16C");
    check(k, "avx2");
}
