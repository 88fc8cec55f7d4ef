/* The dot products (kernels/dot.h): for every weight type, the dot of a quantized weight row
 * with a quantized activation row equals the float64 dot of what the two rows decode to (the
 * integer sums are exact; only the float sums round), on both the reference and the SIMD
 * path, for rows of one block up to many. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/traits.h"
#include "quant/blocks.h"
#include "quant/half.h"

static uint64_t dt_rng = 0x2545f4914f6cdd1du;

static float dt_gauss(void)
{
    dt_rng ^= dt_rng << 13;
    dt_rng ^= dt_rng >> 7;
    dt_rng ^= dt_rng << 17;
    double u = ((double)(dt_rng >> 11) + 0.5) / 9007199254740992.0;
    dt_rng ^= dt_rng << 13;
    dt_rng ^= dt_rng >> 7;
    dt_rng ^= dt_rng << 17;
    double v = (double)(dt_rng >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static void *encode(wk_dtype t, const float *x, int64_t n)
{
    const wk_type_traits *tt = wk_type(t);
    void *q = malloc((size_t)(n / tt->block_size * tt->type_size));
    wk_cpu_type_variant(t, WK_CPU_REF)->from_float(x, q, n);
    return q;
}

/* The float64 dot of the decoded rows. With Q8_1 activations (Q4_1, Q5_1 weights) the
 * weight's minimum multiplies the activation block's stored sum s (binary16, as ggml's), not
 * the sum of its decoded values: the expectation uses s too. */
static double decoded_dot(wk_dtype wt, const void *w, wk_dtype at, const void *a, int64_t n)
{
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    wk_type(wt)->to_float(w, x, n);
    wk_type(at)->to_float(a, y, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * y[i];
    if (at == WK_Q8_1) {
        const wk_block_q8_1 *act = a;
        for (int64_t k = 0; k < n / 32; k++) {
            float m = wt == WK_Q4_1 ? wk_f16_to_f32(((const wk_block_q4_1 *)w)[k].m)
                                    : wk_f16_to_f32(((const wk_block_q5_1 *)w)[k].m);
            double sum = 0;
            for (int j = 0; j < 32; j++)
                sum += y[32 * k + j];
            s += m * (wk_f16_to_f32(act[k].s) - sum);
        }
    }
    free(x);
    free(y);
    return s;
}

Test(dot, every_weight_type_against_the_decoded_rows)
{
    static const int64_t lengths[] = {256, 512, 4096};
    int types = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        const wk_cpu_type_traits *simd = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX2);
        if (!ref->vec_dot)
            continue;
        types++;
        wk_dtype at = ref->vec_dot_type;
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            int64_t n = lengths[k];
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            for (int64_t i = 0; i < n; i++) {
                x[i] = 0.05f * dt_gauss();
                y[i] = dt_gauss();
            }
            void *w = encode((wk_dtype)t, x, n), *a = encode(at, y, n);
            double want = decoded_dot((wk_dtype)t, w, at, a, n);
            float got;
            ref->vec_dot(n, &got, w, a);
            double tol = 1e-5 * sqrt((double)n) * 0.05 * 4 + 1e-6;
            cr_expect(fabs(got - want) <= tol, "%s ref, n=%lld: %.9g vs %.9g",
                      wk_type((wk_dtype)t)->name, (long long)n, got, want);
            if (simd && simd->vec_dot) {
                simd->vec_dot(n, &got, w, a);
                cr_expect(fabs(got - want) <= tol, "%s avx2, n=%lld: %.9g vs %.9g",
                          wk_type((wk_dtype)t)->name, (long long)n, got, want);
            }
            free(w);
            free(a);
            free(x);
            free(y);
        }
    }
    cr_expect_eq(types, 15, "%d weight types have a dot product", types);
}
