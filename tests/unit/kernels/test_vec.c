/* Attention's vector steps (kernels/vec.h) on every path against a float64 recount, for
 * widths that are and are not multiples of 8 (and of 16), rows strided wider than they are,
 * and 1 to 10 query rows at once (partial groups of the 4- and 8-row tiles); softmax to 1e-6
 * of each probability (and the rounding of each score less the largest). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/traits.h"

enum { MAXN = 72, MAXROWS = 37, STRIDE = 80, MAXG = 10, LDQ = 75, LDO = 81 };

static float val(int i, int salt)
{
    return sinf((float)(i * 7 + salt)) * (float)(1 + (i + salt) % 5);
}

static void expect_close(double got, double want, double mag, const char *what,
                         const char *step, int n, int rows, int g, int at)
{
    cr_assert(fabs(got - want) <= 1e-6 * mag + 1e-30,
              "%s %s n=%d rows=%d query %d at %d: %g vs %g", what, step, n, rows, g, at, got,
              want);
}

static void check(const wk_cpu_kernels *k, const char *what)
{
    /* kv: rows of keys / values, STRIDE apart; kt: the same keys transposed (STRIDE apart) */
    static float q[MAXG * LDQ], kv[MAXROWS * STRIDE], kt[MAXN * STRIDE], p[MAXG * LDQ],
        out[MAXG * LDO];
    for (int i = 0; i < MAXROWS * STRIDE; i++)
        kv[i] = val(i, 3);
    for (int j = 0; j < MAXROWS; j++)
        for (int i = 0; i < MAXN; i++)
            kt[i * STRIDE + j] = kv[j * STRIDE + i];
    for (int i = 0; i < MAXG * LDQ; i++) {
        q[i] = val(i, 11);
        p[i] = fabsf(val(i, 5)) / 5;
    }
    for (int n = 1; n <= MAXN; n++)
        for (int rows = 1; rows <= MAXROWS; rows += 6) {
            int G = 1 + (n + rows) % MAXG;
            k->cols_dot(q, LDQ, G, kt, STRIDE, rows, n, 0.125f, out, LDO);
            for (int g = 0; g < G; g++)
                for (int j = 0; j < rows; j++) {
                    double want = 0, mag = 0;
                    for (int i = 0; i < n; i++) {
                        want += (double)q[g * LDQ + i] * kv[j * STRIDE + i];
                        mag += fabs((double)q[g * LDQ + i] * kv[j * STRIDE + i]);
                    }
                    expect_close(out[g * LDO + j], 0.125 * want, 0.125 * mag, what, "cols_dot",
                                 n, rows, g, j);
                }
            k->rows_wsum(p, LDQ, G, kv, STRIDE, rows, n, out, LDO);
            for (int g = 0; g < G; g++)
                for (int i = 0; i < n; i++) {
                    double want = 0, mag = 0;
                    for (int j = 0; j < rows; j++) {
                        want += (double)p[g * LDQ + j] * kv[j * STRIDE + i];
                        mag += fabs((double)p[g * LDQ + j] * kv[j * STRIDE + i]);
                    }
                    expect_close(out[g * LDO + i], want, mag, what, "rows_wsum", n, rows, g, i);
                }
        }
}

/* softmax against float64 on scores with ties, a spread wider than float's exponent (so
 * some probabilities are 0), and lengths with and without a ragged tail */
static void check_softmax(const wk_cpu_kernels *k, const char *what)
{
    enum { MAXL = 300 };
    static float x[MAXL];
    for (int n = 1; n <= MAXL; n += n < 40 ? 1 : 37)
        for (int spread = 0; spread < 3; spread++) {
            double want[MAXL], max = -INFINITY, sum = 0;
            for (int i = 0; i < n; i++) {
                x[i] = spread == 0 ? 1.5f : val(i, 17) * (spread == 1 ? 2.0f : 40.0f);
                max = fmax(max, x[i]);
            }
            for (int i = 0; i < n; i++)
                sum += want[i] = exp((double)x[i] - max);
            /* x - max is rounded to float first: e^x's relative error grows with it */
            double gap[MAXL];
            for (int i = 0; i < n; i++)
                gap[i] = max - x[i];
            k->softmax(x, n);
            for (int i = 0; i < n; i++)
                cr_assert(fabs(x[i] - want[i] / sum) <=
                              (1e-6 + 1.2e-7 * gap[i]) * want[i] / sum + 1e-37,
                          "%s softmax n=%d spread %d at %d: %.9g vs %.9g", what, n, spread, i,
                          x[i], want[i] / sum);
        }
}

/* SwiGLU against float64, gates from -120 to 120 (e^-g beyond float's range on the negative
 * side, where the vector form takes e^g instead), lengths with and without a tail of 8 */
static void check_swiglu(const wk_cpu_kernels *k, const char *what)
{
    enum { MAXL = 77 };
    static float gate[MAXL], up[MAXL];
    for (int n = 1; n <= MAXL; n += 19)
        for (int scale = 0; scale < 3; scale++) {
            double want[MAXL];
            for (int i = 0; i < n; i++) {
                gate[i] = val(i + 7 * scale, 23) * (scale == 0 ? 1.0f : scale == 1 ? 8.0f : 120.0f);
                up[i] = val(i, 29);
                want[i] = (double)gate[i] / (1.0 + exp(-(double)gate[i])) * up[i];
            }
            k->swiglu(gate, up, n);
            for (int i = 0; i < n; i++)
                /* below 1e-30 the vector form may flush: e^g under float's normal range */
                cr_assert(fabs(gate[i] - want[i]) <= 1e-6 * fabs(want[i]) + 1e-30,
                          "%s swiglu n=%d scale %d at %d: %.9g vs %.9g", what, n, scale, i,
                          gate[i], want[i]);
        }
}

Test(vec, reference_agrees_with_float64)
{
    check(wk_cpu_kernels_variant(WK_CPU_REF), "ref");
    check_softmax(wk_cpu_kernels_variant(WK_CPU_REF), "ref");
    check_swiglu(wk_cpu_kernels_variant(WK_CPU_REF), "ref");
}

Test(vec, avx2_agrees_with_float64)
{
    const wk_cpu_kernels *k = wk_cpu_kernels_variant(WK_CPU_AVX2);
    if (!k)
        cr_skip_test("this CPU lacks AVX2, FMA or F16C");
    check(k, "avx2");
    check_softmax(k, "avx2");
    check_swiglu(k, "avx2");
}

Test(vec, avx512_agrees_with_float64)
{
    const wk_cpu_kernels *k = wk_cpu_kernels_variant(WK_CPU_AVX512);
    if (!k)
        cr_skip_test("this CPU lacks AVX-512 F/BW/VL/VNNI");
    check(k, "avx512");
}
