/* The tiled products (kernels/gemm.h): the canonical int8 form gives back exactly what each
 * type's dequantizer gives (every value, on random bytes), its AVX2 repacking is the scalar
 * one's bytes, and wk_gemm's product of every weight type with a batch of activation rows is
 * the float64 product of the decoded rows, on ragged shapes (row counts that leave partial
 * tiles and blocks, batches that are not a multiple of the tile, rows from one block to
 * several slices long), weights quantized from Gaussians or random bytes with extreme
 * levels (Q8_0's -128 against activations at +-127), and does not depend on the number of
 * threads. */
#include <criterion/criterion.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/traits.h"
#include "quant/blocks.h"
#include "quant/half.h"

static uint64_t gm_rng = 0x853c49e6748fea9bu;

static uint32_t gm_u32(void)
{
    gm_rng ^= gm_rng << 13;
    gm_rng ^= gm_rng >> 7;
    gm_rng ^= gm_rng << 17;
    return (uint32_t)(gm_rng >> 16);
}

static float gm_gauss(void)
{
    double u = ((double)gm_u32() + 0.5) / 4294967296.0, v = (double)gm_u32() / 4294967296.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static bool has_dot(wk_dtype t)
{
    return wk_cpu_type_variant(t, WK_CPU_REF)->vec_dot != NULL;
}

/* One block of random bytes that decodes to finite values: uniform bytes, or (extreme)
 * bytes drawn from 0x00, 0x7f, 0x80, 0xff only, which puts levels and scales at their ends
 * (every Q8_0 level -128, 127, -1 or 0). */
static void random_block(wk_dtype t, uint8_t *p, bool extreme)
{
    static const uint8_t ends[] = {0x00, 0x7f, 0x80, 0xff};
    const wk_type_traits *tt = wk_type(t);
    float v[256];
    for (;;) {
        for (uint32_t i = 0; i < tt->type_size; i++)
            p[i] = extreme ? ends[gm_u32() % 4] : (uint8_t)gm_u32();
        tt->to_float(p, v, tt->block_size);
        uint32_t i = 0;
        while (i < tt->block_size && isfinite(v[i]) && fabsf(v[i]) < 1e30f)
            i++;
        if (i == tt->block_size)
            return;
    }
}

typedef struct canon {
    uint8_t *q;
    int16_t *sc;
    float *d, *m;
} canon;

Test(gemm, the_canonical_form_holds_the_dequantized_values)
{
    int types = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        wk_levels_fn ref = wk_levels_ref((wk_dtype)t);
        wk_scales_fn scales = wk_repack_scales((wk_dtype)t);
        cr_expect((ref != NULL) == (has_dot((wk_dtype)t) && wk_type((wk_dtype)t)->is_quantized),
                  "%s: a repacking for each quantized type with a dot", wk_type((wk_dtype)t)->name);
        if (!ref)
            continue;
        types++;
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        const wk_cpu_type_traits *simd = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX2);
        bool sgn = wk_repack_signed((wk_dtype)t);
        int span = wk_repack_span((wk_dtype)t);
        cr_expect(span == (tt->block_size == 256 ? 8 : 1), "%s: span %d", tt->name, span);
        int64_t nb = 64, k = nb * tt->block_size;
        canon c[2];
        for (int v = 0; v < 2; v++)
            c[v] = (canon){malloc(k), malloc(k), malloc(k / 32 / span * sizeof(float)),
                           malloc(k / 16 * sizeof(float))};
        uint8_t *raw = malloc((size_t)nb * tt->type_size);
        float *want = malloc(k * sizeof(float));
        for (int64_t b = 0; b < nb; b++)
            random_block((wk_dtype)t, raw + b * tt->type_size, b % 3 == 0);
        tt->to_float(raw, want, k);
        cr_assert(scales);
        ref(raw, k, c[0].q);
        scales(raw, k, c[0].sc, c[0].d, c[0].m);
        int bad = 0;
        for (int64_t i = 0; i < k; i++) {
            float level = sgn ? (float)(int8_t)c[0].q[i] : (float)c[0].q[i];
            int16_t s = c[0].sc[i / 32 * 16 + (i % 32) / 16 * 8];
            float got = c[0].d[i / 32 / span] * (float)s * level + c[0].m[i / 16];
            bad += got != want[i] || (!sgn && c[0].q[i] > 63) || (sgn && c[0].m[i / 16] != 0);
            bad += c[0].sc[i / 32 * 16 + (i % 32) / 16 * 8 + (i % 8)] != s; /* 8 equal lanes */
            bad += span == 1 && s != 1;
        }
        cr_expect_eq(bad, 0, "%s: %d values differ from the dequantizer", tt->name, bad);
        if (simd) {
            cr_assert(simd->levels, "%s: an AVX2 twin of the levels", tt->name);
            simd->levels(raw, k, c[1].q);
            cr_expect(!memcmp(c[0].q, c[1].q, k), "%s: the AVX2 levels differ from the reference",
                      tt->name);
        }
        for (int v = 0; v < 2; v++)
            free(c[v].q), free(c[v].sc), free(c[v].d), free(c[v].m);
        free(raw), free(want);
    }
    cr_expect_eq(types, 12);
}

/* The float64 product of decoded rows, as tests/unit/kernels/test_dot.c's decoded_dot: with
 * Q8_1 activations the weight's minimum multiplies the block's stored sum. */
static double decoded_dot(wk_dtype wt, const uint8_t *wrow, const float *x, wk_dtype at,
                          const uint8_t *arow, const float *y, int64_t k)
{
    double s = 0;
    for (int64_t i = 0; i < k; i++)
        s += (double)x[i] * y[i];
    if (at == WK_Q8_1)
        for (int64_t b = 0; b < k / 32; b++) {
            const wk_half *wm = wt == WK_Q4_1 ? &((const wk_block_q4_1 *)wrow)[b].m
                                              : &((const wk_block_q5_1 *)wrow)[b].m;
            double sum = 0;
            for (int j = 0; j < 32; j++)
                sum += y[32 * b + j];
            s += wk_f16_to_f32(*wm) * (wk_f16_to_f32(((const wk_block_q8_1 *)arow)[b].s) - sum);
        }
    return s;
}

typedef struct product {
    wk_matrix w;
    float *x, *wf, *yf; /* activations; decoded weights and decoded quantized activations */
    uint8_t *act;       /* the activations as the dot products take them */
    size_t act_row;
} product;

/* A rows x k matrix of type t (rows of Gaussians quantized, of random bytes, of extreme
 * bytes, in turn) and n activation rows of pattern pat. */
static product make(wk_dtype t, int64_t rows, int64_t k, int64_t n, int pat)
{
    const wk_type_traits *tt = wk_type(t);
    const wk_cpu_type_traits *ct = wk_cpu_type(t);
    size_t row = (size_t)(k / tt->block_size) * tt->type_size;
    product p = {.w = {.type = t, .rows = rows, .cols = k}};
    uint8_t *data = malloc(row * rows);
    p.wf = malloc(rows * k * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        if (r % 3 == 0 || !tt->is_quantized) {
            for (int64_t i = 0; i < k; i++)
                p.wf[r * k + i] = 0.05f * gm_gauss();
            wk_type(t)->from_float(p.wf + r * k, data + r * row, k);
        } else {
            for (int64_t b = 0; b < k / tt->block_size; b++)
                random_block(t, data + r * row + b * tt->type_size, r % 3 == 2);
        }
        tt->to_float(data + r * row, p.wf + r * k, k);
    }
    p.w.data = data;
    p.x = malloc(n * k * sizeof(float));
    for (int64_t i = 0; i < n * k; i++) {
        float g = gm_gauss();
        p.x[i] = pat == 0 ? (g < 0 ? -1.0f : 1.0f) : pat == 1 ? (i % 97 == 5 ? 1000.0f : 1e-3f * g)
               : pat == 2 ? 0.0f : g;
    }
    wk_dtype at = ct->vec_dot_type;
    p.act_row = (size_t)(k / wk_type(at)->block_size) * wk_type(at)->type_size;
    p.act = malloc(p.act_row * n);
    p.yf = malloc(n * k * sizeof(float));
    for (int64_t c = 0; c < n; c++) {
        if (at == WK_F32) {
            memcpy(p.yf + c * k, p.x + c * k, k * sizeof(float));
            continue;
        }
        wk_cpu_type(at)->from_float(p.x + c * k, p.act + c * p.act_row, k);
        wk_type(at)->to_float(p.act + c * p.act_row, p.yf + c * k, k);
    }
    return p;
}

static void drop(product *p)
{
    free((void *)p->w.data), free(p->x), free(p->wf), free(p->yf), free(p->act);
}

/* The float64 product of weight row r and activation row c, and the tolerance of a float
 * computation of it: 1e-5 of the sum of |x_i| |y_i| with |x_i| the largest of its block
 * (which bounds the offsets' and scales' share). */
static void reference(const product *p, int64_t c, int64_t r, double *want, double *tol)
{
    wk_dtype t = p->w.type, at = wk_cpu_type(t)->vec_dot_type;
    int64_t k = p->w.cols, bs = wk_type(t)->block_size;
    size_t wrow = (size_t)(k / bs) * wk_type(t)->type_size;
    const float *x = p->wf + r * k, *ya = p->yf + c * k;
    *want = decoded_dot(t, (const uint8_t *)p->w.data + r * wrow, x, at, p->act + c * p->act_row,
                        ya, k);
    double mag = 0;
    for (int64_t b = 0; b < k; b += bs) {
        double mx = 0;
        for (int64_t i = b; i < b + bs; i++)
            mx = fmax(mx, fabs(x[i]));
        for (int64_t i = b; i < b + bs; i++)
            mag += mx * fabs(ya[i]);
    }
    *tol = 1e-5 * mag + 1e-30;
}

/* The micro-kernels of set v's y against the float64 products; 0 when this CPU has no
 * tiled products in that set. */
static int expect_product(wk_cpu_variant v, product *p, int64_t n, const char *what)
{
    int64_t rows = p->w.rows;
    float *y = malloc(n * rows * sizeof(float));
    void *scratch = malloc(wk_matmul_scratch(&p->w, n) + 1);
    const wk_cpu_kernels *kk = wk_cpu_kernels_variant(v);
    if (!kk || !wk_gemm_with(kk, &p->w, p->x, n, y, scratch)) {
        free(y), free(scratch);
        return 0;
    }
    int bad = 0;
    for (int64_t c = 0; c < n; c++)
        for (int64_t r = 0; r < rows; r++) {
            double want, tol;
            reference(p, c, r, &want, &tol);
            if (!(fabs(y[c * rows + r] - want) <= tol) && bad++ < 3)
                cr_expect(0, "%s %s %s rows %lld k %lld n %lld: y[%lld][%lld] %.9g vs %.9g",
                          v == WK_CPU_AVX512 ? "AVX-512" : "AVX2", wk_type(p->w.type)->name,
                          what, (long long)rows,
                          (long long)p->w.cols, (long long)n, (long long)c, (long long)r,
                          y[c * rows + r], want);
        }
    free(y), free(scratch);
    return 1;
}

/* (rows, units of k, n), a unit 32 values (256 for the super-blocks): partial tiles of rows
 * and of activations, partial row blocks, one block, rows of several slices (kernels/gemm.c
 * takes 2048 float values or 4096 quantized ones at a time). */
static const int64_t shapes[][3] = {{1, 1, 2}, {5, 3, 3}, {7, 2, 4}, {25, 9, 5}, {50, 1, 7},
                                    {3, 41, 2}, {26, 9, 13}, {2, 70, 3}, {3, 150, 2}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static void every_type(wk_cpu_variant v)
{
    static const char *const patterns[] = {"+-1", "outlier", "zeros", "Gaussian"};
    int ran = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        if (!has_dot((wk_dtype)t))
            continue;
        int64_t unit = wk_type((wk_dtype)t)->block_size > 32 ? 256 : 32;
        for (size_t s = 0; s < N_SHAPES; s++) {
            int64_t k = shapes[s][1] * unit;
            if (unit == 32 && !wk_type((wk_dtype)t)->is_quantized && s % 2)
                k += 5; /* float rows of any length */
            int pat = (int)(s % 4);
            product p = make((wk_dtype)t, shapes[s][0], k, shapes[s][2], pat);
            ran += expect_product(v, &p, shapes[s][2], patterns[pat]);
            drop(&p);
        }
    }
    if (!wk_cpu_kernels_variant(v))
        cr_skip_test("no %s on this CPU: no such tiled products",
                     v == WK_CPU_AVX512 ? "AVX-512 with VNNI" : "AVX2");
    cr_expect_eq(ran, 15 * (int)N_SHAPES);
}

Test(gemm, every_type_is_the_float64_product_of_the_decoded_rows_avx2)
{
    every_type(WK_CPU_AVX2);
}

Test(gemm, every_type_is_the_float64_product_of_the_decoded_rows_avx512)
{
    every_type(WK_CPU_AVX512);
}

/* A product large enough for several threads, on 1, 2 and 3 threads: the same bits. */
Test(gemm, the_result_does_not_depend_on_the_thread_count)
{
    static const wk_dtype types[] = {WK_F16, WK_Q8_0, WK_Q4_K, WK_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int64_t rows = 77, k = 2304, n = 6;
        product p = make(types[i], rows, k, n, 3);
        float *y[3];
        void *scratch = malloc(wk_matmul_scratch(&p.w, n) + 1);
        for (int th = 0; th < 3; th++) {
            y[th] = malloc(n * rows * sizeof(float));
            omp_set_num_threads(th + 1);
            wk_matmul(&p.w, p.x, n, y[th], scratch);
        }
        cr_expect(!memcmp(y[0], y[1], n * rows * sizeof(float)) &&
                      !memcmp(y[0], y[2], n * rows * sizeof(float)),
                  "%s", wk_type(types[i])->name);
        for (int th = 0; th < 3; th++)
            free(y[th]);
        free(scratch);
        drop(&p);
    }
}

/* The batched product agrees with the one-row product (the dot products) row by row. */
Test(gemm, a_batch_agrees_with_one_row_at_a_time)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        if (!has_dot((wk_dtype)t))
            continue;
        int64_t rows = 10, k = 512, n = 4;
        product p = make((wk_dtype)t, rows, k, n, 3);
        float *yb = malloc(n * rows * sizeof(float)), y1[10];
        void *scratch = malloc(wk_matmul_scratch(&p.w, n) + 1);
        wk_matmul(&p.w, p.x, n, yb, scratch);
        for (int64_t c = 0; c < n; c++) {
            wk_matmul(&p.w, p.x + c * k, 1, y1, scratch);
            for (int64_t r = 0; r < rows; r++) {
                double want, tol;
                reference(&p, c, r, &want, &tol);
                cr_expect(fabsf(yb[c * rows + r] - y1[r]) <= 2 * tol,
                          "%s [%lld][%lld]: %.9g vs %.9g", wk_type((wk_dtype)t)->name,
                          (long long)c, (long long)r, yb[c * rows + r], y1[r]);
            }
        }
        free(yb), free(scratch);
        drop(&p);
    }
}
