/* Moments kernels (AVX2 against the scalar reference) and whole-tensor statistics against a
 * plain two-pass computation in double. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/stats.h"
#include "kernels/traits.h"
#include "quant/half.h"
#include "verify/tensor_stats.h"

static uint64_t st_rng = 0x9e3779b97f4a7c15ull;

static double st_uniform(void)
{
    st_rng ^= st_rng << 13;
    st_rng ^= st_rng >> 7;
    st_rng ^= st_rng << 17;
    return (double)(st_rng >> 11) / 9007199254740992.0;
}

static double st_normal(void)
{
    double u = st_uniform() + 1e-300, v = st_uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Random normal values with some exact zeros and, when `specials`, NaNs and infinities. */
static void st_fill(float *x, size_t n, double mean, double scale, int specials)
{
    for (size_t i = 0; i < n; i++) {
        double r = st_uniform();
        if (r < 0.03)
            x[i] = 0.0f;
        else if (specials && r < 0.04)
            x[i] = NAN;
        else if (specials && r < 0.045)
            x[i] = r < 0.0425 ? INFINITY : -INFINITY;
        else
            x[i] = (float)(mean + scale * st_normal());
    }
}

static int st_close(double a, double b, double rel)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Straightforward two-pass reference in double over the finite values. */
typedef struct {
    uint64_t n, zeros, nan, inf;
    double min, max, mean, m2, m3, m4, abs_sum, sq_sum;
} st_direct;

static st_direct st_two_pass(const float *x, size_t n)
{
    st_direct d = {.min = INFINITY, .max = -INFINITY};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            d.nan++;
            continue;
        }
        if (isinf(x[i])) {
            d.inf++;
            continue;
        }
        d.n++;
        d.zeros += x[i] == 0.0f;
        sum += x[i];
        d.abs_sum += fabs(x[i]);
        d.sq_sum += (double)x[i] * x[i];
        d.min = fmin(d.min, x[i]);
        d.max = fmax(d.max, x[i]);
    }
    d.mean = d.n ? sum / (double)d.n : 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double c = x[i] - d.mean;
        d.m2 += c * c;
        d.m3 += c * c * c;
        d.m4 += c * c * c * c;
    }
    return d;
}

static void st_expect_moments(const wk_moments *m, const st_direct *d, double rel, size_t n)
{
    cr_expect_eq(m->n, d->n, "n=%zu: finite %llu vs %llu", n, (unsigned long long)m->n,
                 (unsigned long long)d->n);
    cr_expect_eq(m->zeros, d->zeros, "n=%zu: zeros", n);
    cr_expect_eq(m->nan, d->nan, "n=%zu: nan", n);
    cr_expect_eq(m->inf, d->inf, "n=%zu: inf", n);
    if (d->n == 0)
        return;
    cr_expect_eq(m->min, d->min, "n=%zu: min %g vs %g", n, m->min, d->min);
    cr_expect_eq(m->max, d->max, "n=%zu: max %g vs %g", n, m->max, d->max);
    cr_expect(st_close(m->mean, d->mean, rel), "n=%zu: mean %.17g vs %.17g", n, m->mean, d->mean);
    cr_expect(st_close(m->m2, d->m2, rel), "n=%zu: m2 %.17g vs %.17g", n, m->m2, d->m2);
    cr_expect(st_close(m->m3, d->m3, rel * 10 + 1e-12 * d->m2), "n=%zu: m3 %.17g vs %.17g", n,
              m->m3, d->m3);
    cr_expect(st_close(m->m4, d->m4, rel), "n=%zu: m4 %.17g vs %.17g", n, m->m4, d->m4);
    cr_expect(st_close(m->abs_sum, d->abs_sum, rel), "n=%zu: |x| sum", n);
}

static const size_t st_sizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 100, 1023, 1024,
                                  1025, 4095, 4096, 4097, 8200, 20001};

Test(stats, ref_matches_two_pass)
{
    float *x = malloc(20001 * sizeof *x);
    for (int specials = 0; specials < 2; specials++)
        for (size_t k = 0; k < sizeof st_sizes / sizeof st_sizes[0]; k++) {
            size_t n = st_sizes[k];
            st_fill(x, n, 0.5, 2.0, specials);
            wk_moments m;
            wk_moments_init(&m);
            wk_stats_block_ref(&m, x, n);
            st_direct d = st_two_pass(x, n);
            st_expect_moments(&m, &d, 1e-12, n);
        }
    free(x);
}

Test(stats, avx2_matches_ref)
{
    const wk_cpu_kernels *simd = wk_cpu_kernels_variant(WK_CPU_AVX2);
    if (!simd)
        cr_skip_test("this CPU has no AVX2/FMA/F16C");
    float *x = malloc(20001 * sizeof *x);
    for (int specials = 0; specials < 2; specials++)
        for (size_t k = 0; k < sizeof st_sizes / sizeof st_sizes[0]; k++) {
            size_t n = st_sizes[k];
            st_fill(x, n, -3.0, 0.25, specials);
            wk_moments a, r;
            wk_moments_init(&a);
            wk_moments_init(&r);
            simd->stats_block(&a, x, n);
            wk_stats_block_ref(&r, x, n);
            st_direct d = {.n = r.n, .zeros = r.zeros, .nan = r.nan, .inf = r.inf,
                           .min = r.min, .max = r.max, .mean = r.mean, .m2 = r.m2,
                           .m3 = r.m3, .m4 = r.m4, .abs_sum = r.abs_sum};
            st_expect_moments(&a, &d, 1e-12, n);
        }
    /* every lane position holding a NaN, an infinity and a zero once */
    for (int pos = 0; pos < 8; pos++) {
        float y[24];
        st_fill(y, 24, 1.0, 1.0, 0);
        y[pos] = NAN;
        y[8 + pos] = -INFINITY;
        y[16 + pos] = 0.0f;
        wk_moments a, r;
        wk_moments_init(&a);
        wk_moments_init(&r);
        simd->stats_block(&a, y, 24);
        wk_stats_block_ref(&r, y, 24);
        cr_expect_eq(a.nan, 1);
        cr_expect_eq(a.inf, 1);
        cr_expect_eq(a.zeros, r.zeros);
        cr_expect_eq(a.min, r.min);
        cr_expect_eq(a.max, r.max);
        cr_expect(st_close(a.m4, r.m4, 1e-12));
    }
    free(x);
}

Test(stats, all_nonfinite_block)
{
    float x[20] = {NAN, INFINITY, -INFINITY, NAN, NAN, NAN, NAN, NAN, NAN, NAN,
                   NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, -INFINITY};
    wk_moments m;
    wk_moments_init(&m);
    wk_cpu_kernels_get()->stats_block(&m, x, 20);
    cr_expect_eq(m.n, 0);
    cr_expect_eq(m.nan, 17);
    cr_expect_eq(m.inf, 3);
    wk_tensor_stats s;
    wk_stats_from_moments(&m, 20, &s);
    cr_expect(isnan(s.mean) && isnan(s.min) && isnan(s.std) && isnan(s.kurtosis));
}

Test(stats, merge_is_pairwise_exact)
{
    /* merging arbitrary splits gives the moments of the whole */
    float x[5000];
    st_fill(x, 5000, 100.0, 0.01, 1);
    st_direct d = st_two_pass(x, 5000);
    size_t cuts[] = {0, 1, 3, 999, 2500, 4999, 5000};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        wk_moments a, b;
        wk_moments_init(&a);
        wk_moments_init(&b);
        wk_stats_block_ref(&a, x, cuts[c]);
        wk_stats_block_ref(&b, x + cuts[c], 5000 - cuts[c]);
        wk_moments_merge(&a, &b);
        st_expect_moments(&a, &d, 1e-9, cuts[c]);
    }
}

static void st_tensor(wk_tensor *t, const char *name, wk_dtype dt, uint64_t rows, uint64_t cols)
{
    memset(t, 0, sizeof *t);
    t->name = (char *)name;
    t->dtype = dt;
    uint64_t shape[2] = {rows, cols};
    wk_err e;
    cr_assert_eq(wk_tensor_set_shape(t, 2, shape, &e), 0, "%s", e.msg);
}

/* Checks tensor statistics against the two-pass reference over the decoded values. */
static void st_expect_stats(const wk_tensor_stats *s, const float *x, size_t n, double rel)
{
    st_direct d = st_two_pass(x, n);
    double dn = (double)d.n, std = sqrt(d.m2 / dn);
    cr_expect_eq(s->n_elements, n);
    cr_expect_eq(s->n_finite, d.n);
    cr_expect_eq(s->n_nan, d.nan);
    cr_expect_eq(s->n_inf, d.inf);
    cr_expect_eq(s->min, d.min);
    cr_expect_eq(s->max, d.max);
    cr_expect(st_close(s->mean, d.mean, rel), "mean %.17g vs %.17g", s->mean, d.mean);
    cr_expect(st_close(s->std, std, rel), "std %.17g vs %.17g", s->std, std);
    cr_expect(st_close(s->l1, d.abs_sum, rel), "l1 %.17g vs %.17g", s->l1, d.abs_sum);
    cr_expect(st_close(s->l2, sqrt(d.sq_sum), rel), "l2 %.17g vs %.17g", s->l2, sqrt(d.sq_sum));
    cr_expect(st_close(s->zero_frac, (double)d.zeros / (double)n, 1e-15));
    double kurt = dn * d.m4 / (d.m2 * d.m2) - 3.0;
    cr_expect(st_close(s->kurtosis, kurt, rel), "kurtosis %.17g vs %.17g", s->kurtosis, kurt);
    double amax = fmax(fabs(d.min), fabs(d.max)) / std;
    cr_expect(st_close(s->max_abs_over_std, amax, rel));
}

Test(stats, f32_tensor_many_chunks_offset_mean)
{
    /* 300 * 1111 values: several parallel chunks, a partial last block, and a mean far
     * from zero relative to the spread (the case naive sum-of-squares gets wrong). */
    size_t rows = 300, cols = 1111, n = rows * cols;
    float *x = malloc(n * sizeof *x);
    st_fill(x, n, 1000.0, 0.001, 1);
    wk_tensor t;
    st_tensor(&t, "w", WK_F32, rows, cols);
    wk_tensor_stats s;
    wk_err e;
    cr_assert_eq(wk_tensor_stats_compute(&t, x, n * 4, &s, &e), 0, "%s", e.msg);
    st_expect_stats(&s, x, n, 1e-9);
    free(x);
}

Test(stats, bf16_and_f16_tensors)
{
    size_t n = 70000 + 13;
    float *x = malloc(n * sizeof *x), *dec = malloc(n * sizeof *dec);
    uint16_t *h = malloc(n * sizeof *h);
    st_fill(x, n, 0.1, 3.0, 1);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            h[i] = pass ? wk_f32_to_f16(x[i]) : wk_f32_to_bf16(x[i]);
            dec[i] = pass ? wk_f16_to_f32(h[i]) : wk_bf16_to_f32(h[i]);
        }
        wk_tensor t;
        st_tensor(&t, "h", pass ? WK_F16 : WK_BF16, 1, n);
        wk_tensor_stats s;
        wk_err e;
        cr_assert_eq(wk_tensor_stats_compute(&t, h, n * 2, &s, &e), 0, "%s", e.msg);
        st_expect_stats(&s, dec, n, 1e-11);
    }
    free(x);
    free(dec);
    free(h);
}

Test(stats, independent_of_thread_count)
{
    size_t n = 400000;
    float *x = malloc(n * sizeof *x);
    st_fill(x, n, -1, 1, 1);
    wk_tensor t;
    st_tensor(&t, "t", WK_F32, 400, 1000);
    wk_moments m[3];
    wk_err e;
    int saved = omp_get_max_threads();
    for (int k = 0; k < 3; k++) {
        omp_set_num_threads(k + 1);
        cr_assert_eq(wk_tensor_moments(&t, x, n * 4, &m[k], &e), 0, "%s", e.msg);
    }
    omp_set_num_threads(saved);
    cr_expect_eq(memcmp(&m[0], &m[1], sizeof m[0]), 0);
    cr_expect_eq(memcmp(&m[0], &m[2], sizeof m[0]), 0);
    free(x);
}

Test(stats, quantized_type_is_refused)
{
    wk_tensor t;
    st_tensor(&t, "blk.0.ffn_up.weight", WK_IQ2_XXS, 2, 256);
    uint8_t data[2 * 66] = {0};
    wk_tensor_stats s;
    wk_err e;
    cr_expect_not(wk_stats_supported(WK_IQ2_XXS));
    cr_expect(wk_stats_supported(WK_BF16));
    cr_expect_eq(wk_tensor_stats_compute(&t, data, sizeof data, &s, &e), -1);
    cr_expect(strstr(e.msg, "stats not available for type IQ2_XXS") != NULL, "%s", e.msg);
    cr_expect(strstr(e.msg, "blk.0.ffn_up.weight") != NULL, "%s", e.msg);
}

Test(stats, wrong_size_is_refused)
{
    wk_tensor t;
    st_tensor(&t, "w", WK_F32, 4, 4);
    float data[16] = {0};
    wk_tensor_stats s;
    wk_err e;
    cr_expect_eq(wk_tensor_stats_compute(&t, data, 60, &s, &e), -1);
    cr_expect(strstr(e.msg, "60 bytes") != NULL, "%s", e.msg);
}

Test(stats, integer_types_decode)
{
    int8_t v[6] = {-3, 0, 5, 0, 127, -128};
    wk_tensor t;
    st_tensor(&t, "i", WK_I8, 2, 3);
    wk_tensor_stats s;
    wk_err e;
    cr_assert_eq(wk_tensor_stats_compute(&t, v, 6, &s, &e), 0, "%s", e.msg);
    cr_expect_eq(s.min, -128);
    cr_expect_eq(s.max, 127);
    cr_expect(st_close(s.mean, 1.0 / 6.0, 1e-15));
    cr_expect(st_close(s.zero_frac, 2.0 / 6.0, 1e-15));
    cr_expect_eq(s.l1, 263);
}

Test(stats, histogram_counts)
{
    size_t n = 150001;
    float *x = malloc(n * sizeof *x);
    st_fill(x, n, 0, 1, 1);
    wk_tensor t;
    st_tensor(&t, "x", WK_F32, 1, n);
    wk_moments m;
    wk_err e;
    cr_assert_eq(wk_tensor_moments(&t, x, n * 4, &m, &e), 0, "%s", e.msg);
    uint64_t got[40], want[40] = {0}, total = 0;
    cr_assert_eq(wk_tensor_histogram(&t, x, n * 4, m.min, m.max, 40, got, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        int b = (int)floor(((double)x[i] - m.min) * 40 / (m.max - m.min));
        want[b > 39 ? 39 : b]++;
    }
    for (int b = 0; b < 40; b++) {
        cr_expect_eq(got[b], want[b], "bin %d: %llu vs %llu", b, (unsigned long long)got[b],
                     (unsigned long long)want[b]);
        total += got[b];
    }
    cr_expect_eq(total, m.n);
    cr_expect_gt(got[0], 0);
    cr_expect_gt(got[39], 0);
    /* a constant tensor: every x is max, so everything is in the last bin */
    float c[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    st_tensor(&t, "c", WK_F32, 1, 10);
    cr_assert_eq(wk_tensor_histogram(&t, c, 40, 2, 2, 4, got, &e), 0);
    cr_expect_eq(got[0], 0);
    cr_expect_eq(got[3], 10);
    free(x);
}
