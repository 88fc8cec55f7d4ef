/* The dot products (kernels/dot.h): for every weight type, the dot of a quantized weight row
 * with a quantized activation row equals the float64 dot of what the two rows decode to (the
 * integer sums are exact; only the float sums round), on both the reference and the SIMD
 * path, for rows of one block up to many, and on random weight bytes with activations at the
 * ends of their range. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* The ragged lengths, in units of the larger block size of the weight and activation types:
 * one block, a few, odd counts that leave an unpaired block after two-at-a-time loops (and,
 * for the float types, tails of fewer than 8 and 32 elements), many. */
static const int64_t counts[] = {1, 2, 3, 7, 9, 16, 33, 65, 128};
#define N_COUNTS (sizeof counts / sizeof counts[0])

static int64_t unit_of(wk_dtype wt, wk_dtype at)
{
    uint32_t a = wk_type(wt)->block_size, b = wk_type(at)->block_size;
    return a > b ? a : b;
}

/* Every path of one weight type (the reference and AVX2 dot products, the AVX-512
 * matrix-vector product of one row where there is one) against want, within tol; returns
 * the number of paths run. */
static int expect_both(wk_dtype t, int64_t n, const void *w, const void *a, double want,
                       double tol, const char *what)
{
    const wk_cpu_type_traits *ref = wk_cpu_type_variant(t, WK_CPU_REF);
    const wk_cpu_type_traits *simd = wk_cpu_type_variant(t, WK_CPU_AVX2);
    float got;
    ref->vec_dot(n, &got, w, a);
    cr_expect(fabs(got - want) <= tol, "%s ref, %s, n=%lld: %.9g vs %.9g", wk_type(t)->name,
              what, (long long)n, got, want);
    if (!simd || !simd->vec_dot)
        return 1;
    simd->vec_dot(n, &got, w, a);
    cr_expect(fabs(got - want) <= tol, "%s avx2, %s, n=%lld: %.9g vs %.9g", wk_type(t)->name,
              what, (long long)n, got, want);
    const wk_cpu_type_traits *wide = wk_cpu_type_variant(t, WK_CPU_AVX512);
    if (!wide || !wide->matvec)
        return 2;
    void *prep = aligned_alloc(64, (wide->matvec_prep_size(n) + 63) / 64 * 64);
    wide->matvec_prep(n, a, prep);
    wide->matvec(n, 1, &got, w, 0, prep);
    free(prep);
    cr_expect(fabs(got - want) <= tol, "%s avx512 matvec, %s, n=%lld: %.9g vs %.9g",
              wk_type(t)->name, what, (long long)n, got, want);
    return 3;
}

Test(dot, every_weight_type_against_the_decoded_rows)
{
    int types = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        if (!ref->vec_dot)
            continue;
        types++;
        wk_dtype at = ref->vec_dot_type;
        for (size_t k = 0; k < N_COUNTS; k++) {
            int64_t n = counts[k] * unit_of((wk_dtype)t, at);
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            for (int64_t i = 0; i < n; i++) {
                x[i] = 0.05f * dt_gauss();
                y[i] = dt_gauss();
            }
            void *w = encode((wk_dtype)t, x, n), *a = encode(at, y, n);
            double want = decoded_dot((wk_dtype)t, w, at, a, n);
            double tol = 1e-5 * sqrt((double)n) * 0.05 * 4 + 1e-6;
            expect_both((wk_dtype)t, n, w, a, want, tol, "Gaussian rows");
            free(w);
            free(a);
            free(x);
            free(y);
        }
    }
    cr_expect_eq(types, 15, "%d weight types have a dot product", types);
}

/* A quantized block of random bytes whose decoded values are all finite (else re-rolled):
 * every level and group scale, Q8_0's -128, extreme minimums. */
static void random_block(wk_dtype t, uint8_t *p)
{
    const wk_type_traits *tt = wk_type(t);
    float v[256];
    for (;;) {
        for (uint32_t i = 0; i < tt->type_size; i++) {
            dt_gauss(); /* steps the generator */
            p[i] = (uint8_t)(dt_rng >> 32);
        }
        tt->to_float(p, v, tt->block_size);
        uint32_t i = 0;
        while (i < tt->block_size && isfinite(v[i]) && fabsf(v[i]) < 1e30f)
            i++;
        if (i == tt->block_size)
            return;
    }
}

/* Random weight bytes against activations at the ends of the 8-bit range (every level +-127,
 * where an int16 pair sum would overflow with a careless product), one outlier, zeros. The
 * tolerance is relative to the sum of |x_i| |y_i| with |x_i| the largest in its block, which
 * bounds the minimum's and the scale's share too. */
Test(dot, random_weight_bytes_and_extreme_activations)
{
    static const char *const patterns[] = {"+-1", "outlier", "zeros", "Gaussian"};
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        if (!ref->vec_dot || tt->block_size == 1)
            continue;
        wk_dtype at = ref->vec_dot_type;
        for (size_t k = 0; k < N_COUNTS; k += 2)
            for (int pat = 0; pat < 4; pat++) {
                int64_t n = counts[k] * unit_of((wk_dtype)t, at), nb = n / tt->block_size;
                uint8_t *w = malloc((size_t)nb * tt->type_size);
                float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
                for (int64_t b = 0; b < nb; b++)
                    random_block((wk_dtype)t, w + b * tt->type_size);
                for (int64_t i = 0; i < n; i++) {
                    float g = dt_gauss();
                    y[i] = pat == 0 ? (g < 0 ? -1.0f : 1.0f)
                         : pat == 1 ? (i % 97 == 5 ? 1000.0f : 1e-3f * g)
                         : pat == 2 ? 0.0f : g;
                }
                void *a = encode(at, y, n);
                wk_type((wk_dtype)t)->to_float(w, x, n);
                wk_type(at)->to_float(a, y, n);
                double mag = 0;
                for (int64_t b = 0; b < nb; b++) {
                    double m = 0;
                    for (uint32_t i = 0; i < tt->block_size; i++)
                        m = fmax(m, fabs(x[b * tt->block_size + i]));
                    for (uint32_t i = 0; i < tt->block_size; i++)
                        mag += m * fabs(y[b * tt->block_size + i]);
                }
                double want = decoded_dot((wk_dtype)t, w, at, a, n);
                expect_both((wk_dtype)t, n, w, a, want, 1e-5 * mag + 1e-30, patterns[pat]);
                free(w);
                free(a);
                free(x);
                free(y);
            }
    }
}

/* The traits hand out the SIMD dot products where the CPU has them. */
Test(dot, the_chosen_dot_is_the_simd_one_on_this_cpu)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_cpu_type_traits *simd = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX2);
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        const wk_cpu_type_traits *chosen = wk_cpu_type((wk_dtype)t);
        cr_expect_eq(chosen->vec_dot_type, ref->vec_dot_type);
        if (!simd)
            continue;
        cr_expect_eq(simd->vec_dot_type, ref->vec_dot_type);
        cr_expect((simd->vec_dot != NULL) == (ref->vec_dot != NULL), "%s: a twin for each dot",
                  wk_type((wk_dtype)t)->name);
        cr_expect(chosen->vec_dot == simd->vec_dot, "%s", wk_type((wk_dtype)t)->name);
    }
}

/* The matrix-vector products (kernels/dot.h), where this CPU has them: many rows at once,
 * each equal to its dot product, and rows that end the mapping before an unreadable page, so
 * a kernel that read one byte past the last block would fault. */
Test(dot, matvec_rows_against_the_dot_products_up_to_a_guard_page)
{
    long page = sysconf(_SC_PAGESIZE);
    int kinds = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_cpu_type_traits *wide = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX512);
        if (!wide || !wide->matvec)
            continue;
        kinds++;
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        wk_dtype at = wide->vec_dot_type;
        for (size_t k = 0; k < N_COUNTS; k++) {
            int64_t n = counts[k] * unit_of((wk_dtype)t, at), rows = 13;
            size_t row_bytes = (size_t)(n / tt->block_size) * tt->type_size;
            size_t bytes = row_bytes * (size_t)rows;
            size_t span = (bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
            uint8_t *map = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            cr_assert(map != MAP_FAILED);
            cr_assert(mprotect(map + span, (size_t)page, PROT_NONE) == 0);
            uint8_t *w = map + span - bytes; /* the last row ends at the guard page */
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), got[13];
            for (int64_t i = 0; i < n; i++)
                y[i] = dt_gauss();
            for (int64_t r = 0; r < rows; r++) {
                for (int64_t i = 0; i < n; i++)
                    x[i] = 0.05f * dt_gauss();
                wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF)->from_float(x, w + r * row_bytes, n);
            }
            void *a = encode(at, y, n);
            void *prep = aligned_alloc(64, (wide->matvec_prep_size(n) + 63) / 64 * 64);
            wide->matvec_prep(n, a, prep);
            wide->matvec(n, rows, got, w, row_bytes, prep);
            for (int64_t r = 0; r < rows; r++) {
                float want;
                wide->vec_dot(n, &want, w + r * row_bytes, a);
                cr_expect(fabsf(got[r] - want) <= 1e-5f * sqrtf((float)n) * 0.2f + 1e-6f,
                          "%s n=%lld row %lld: %.9g vs its dot product %.9g", tt->name,
                          (long long)n, (long long)r, got[r], want);
            }
            free(prep);
            free(a);
            free(x);
            free(y);
            munmap(map, span + (size_t)page);
        }
    }
    if (!wk_cpu_kernels_variant(WK_CPU_AVX512))
        cr_skip_test("this CPU has no AVX-512 VNNI: no matrix-vector products to test");
    cr_expect_geq(kinds, 1, "the AVX-512 set has matrix-vector products");
}
