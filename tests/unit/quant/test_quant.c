/* The quantized types of the table (quant/legacy.c, kquants.c, iq4.c): hand-made blocks
 * decode to known values, quantize -> dequantize stays within a bound per type, special
 * inputs (zeros, one outlier, denormals, constant rows) behave, and importance moves the
 * error to where it is cheap. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf/gguf.h"
#include "formats/source.h"
#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/types.h"

static uint64_t qt_rng = 88172645463325252u;

static double qt_uniform(void)
{
    qt_rng ^= qt_rng << 13;
    qt_rng ^= qt_rng >> 7;
    qt_rng ^= qt_rng << 17;
    return (double)(qt_rng >> 11) / 9007199254740992.0;
}

static float qt_gauss(void)
{
    double u = qt_uniform() + 1e-12, v = qt_uniform();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* Relative RMS error sqrt(sum (x - y)^2 / sum x^2) after quantize -> dequantize. */
static double qt_roundtrip(wk_dtype t, const float *x, int64_t n, const float *imp, float *y)
{
    const wk_type_traits *tt = wk_type(t);
    void *q = malloc((size_t)(n / tt->block_size * tt->type_size));
    tt->quantize(x, q, n, imp);
    tt->to_float(q, y, n);
    free(q);
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n; i++) {
        se += (double)(x[i] - y[i]) * (x[i] - y[i]);
        sx += (double)x[i] * x[i];
    }
    return sx > 0 ? sqrt(se / sx) : sqrt(se);
}

/* Bounds on the relative RMS error for Gaussian rows: about 1.3x what the types achieve
 * (their signal-to-noise ratios are 46 dB for Q8_0 down to 11 dB for Q2_K). */
static const struct {
    wk_dtype t;
    double bound;
} qt_bounds[] = {
    {WK_Q8_0, 0.007}, {WK_Q8_1, 0.007}, {WK_Q6_K, 0.022}, {WK_Q5_0, 0.055}, {WK_Q5_1, 0.05},
    {WK_Q5_K, 0.045}, {WK_Q4_0, 0.11},  {WK_Q4_1, 0.10},  {WK_Q4_K, 0.09},  {WK_IQ4_NL, 0.10},
    {WK_IQ4_XS, 0.10}, {WK_Q3_K, 0.20}, {WK_Q2_K, 0.37}, {WK_Q8_K, 0.007},
};

Test(quant, gaussian_rows_stay_within_the_bound_of_each_type)
{
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++)
        x[i] = 0.02f * qt_gauss();
    for (size_t k = 0; k < sizeof qt_bounds / sizeof qt_bounds[0]; k++) {
        double r = qt_roundtrip(qt_bounds[k].t, x, N, NULL, y);
        cr_expect(r < qt_bounds[k].bound, "%s: relative RMS error %.4f, bound %.4f",
                  wk_type(qt_bounds[k].t)->name, r, qt_bounds[k].bound);
        cr_expect(r > qt_bounds[k].bound / 4, "%s: relative RMS error %.5f is implausibly small",
                  wk_type(qt_bounds[k].t)->name, r);
    }
    free(x);
    free(y);
}

Test(quant, every_quantized_type_with_a_quantizer_is_in_the_bounds_list)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        if (!wk_type((wk_dtype)t)->quantize)
            continue;
        bool listed = false;
        for (size_t k = 0; k < sizeof qt_bounds / sizeof qt_bounds[0]; k++)
            listed |= (int)qt_bounds[k].t == t;
        cr_expect(listed, "%s has a quantizer but no error bound test",
                  wk_type((wk_dtype)t)->name);
        cr_expect(wk_type((wk_dtype)t)->to_float && wk_type((wk_dtype)t)->from_float);
    }
}

Test(quant, zeros_constants_outliers_and_denormals)
{
    enum { N = 512 };
    float x[N], y[N];
    for (size_t k = 0; k < sizeof qt_bounds / sizeof qt_bounds[0]; k++) {
        wk_dtype t = qt_bounds[k].t;
        const char *name = wk_type(t)->name;
        memset(x, 0, sizeof x);
        cr_expect_eq(qt_roundtrip(t, x, N, NULL, y), 0.0, "%s: zeros", name);
        for (int i = 0; i < N; i++)
            cr_assert(y[i] == 0.0f, "%s: zeros decode to %g", name, y[i]);
        /* one outlier among zeros: it survives within its type's precision */
        x[100] = 3.0f;
        qt_roundtrip(t, x, N, NULL, y);
        cr_expect(fabsf(y[100] - 3.0f) < 0.45f, "%s: outlier 3 became %g", name, y[100]);
        for (int i = 0; i < N; i++)
            if (i != 100)
                cr_expect(fabsf(y[i]) < 0.45f, "%s: zero %d became %g", name, i, y[i]);
        /* denormals: no NaN or infinity anywhere */
        for (int i = 0; i < N; i++)
            x[i] = (i % 2 ? 1 : -1) * 1e-40f * (float)(i % 7);
        qt_roundtrip(t, x, N, NULL, y);
        for (int i = 0; i < N; i++)
            cr_assert(isfinite(y[i]) && fabsf(y[i]) < 1e-30f, "%s: denormal row gave %g", name,
                      y[i]);
        /* a constant row reconstructs closely */
        for (int i = 0; i < N; i++)
            x[i] = -0.75f;
        double r = qt_roundtrip(t, x, N, NULL, y);
        cr_expect(r < 0.07, "%s: constant row, relative error %g", name, r);
    }
}

/* Hand-made blocks decode to the values their layout (ggml-common.h) defines. */
Test(quant, hand_made_blocks_decode_to_known_values)
{
    float y[256];
    wk_block_q4_0 a = {.d = wk_f32_to_f16(0.5f)};
    a.qs[0] = 0x0f; /* element 0: 15 - 8 = 7; element 16: 0 - 8 = -8 */
    a.qs[3] = 0x80; /* element 3: 0 - 8; element 19: 8 - 8 = 0 */
    wk_type(WK_Q4_0)->to_float(&a, y, 32);
    cr_expect(y[0] == 3.5f && y[16] == -4.0f && y[3] == -4.0f && y[19] == 0.0f && y[1] == -4.0f);

    wk_block_q5_1 b = {.d = wk_f32_to_f16(0.25f), .m = wk_f32_to_f16(-1.0f)};
    b.qs[2] = 0x31; /* element 2: low 1, element 18: low 3 */
    b.qh[2] = 0x04; /* bit 18: element 18 gets 16 */
    wk_type(WK_Q5_1)->to_float(&b, y, 32);
    cr_expect(y[2] == -0.75f && y[18] == 3.75f && y[0] == -1.0f, "%g %g %g", y[2], y[18], y[0]);

    wk_block_q8_0 c = {.d = wk_f32_to_f16(2.0f)};
    c.qs[31] = -128;
    wk_type(WK_Q8_0)->to_float(&c, y, 32);
    cr_expect(y[31] == -256.0f && y[0] == 0.0f);

    /* Q4_K: group 5 (elements 160..191, high nibbles of bytes 64..95) with 6-bit scale 33
     * and minimum 2 packed across scales[1], [5] and [9] */
    wk_block_q4_K k = {.d = wk_f32_to_f16(0.5f), .dmin = wk_f32_to_f16(0.25f)};
    k.scales[9] = (uint8_t)((33 & 0xf) | (2 & 0xf) << 4);
    k.scales[1] |= (uint8_t)((33 >> 4) << 6);
    k.scales[5] |= (uint8_t)((2 >> 4) << 6);
    k.qs[64 + 3] = 0x70; /* element 160 + 3: level 7 */
    wk_type(WK_Q4_K)->to_float(&k, y, 256);
    cr_expect(y[163] == 0.5f * 33 * 7 - 0.25f * 2 && y[160] == -0.5f, "%g %g", y[163], y[160]);

    /* Q6_K: element 200 is in the second half (l = 72 - 64 = 8 of its third quarter), scale
     * index 12 */
    wk_block_q6_K s6 = {.d = wk_f32_to_f16(0.125f)};
    s6.scales[12] = -3;
    s6.ql[64 + 8] = 0x50;    /* high nibble: element 128 + 64 + 8 */
    s6.qh[32 + 8] = 2 << 4;  /* bits 4-5: its high two bits */
    wk_type(WK_Q6_K)->to_float(&s6, y, 256);
    cr_expect(y[200] == 0.125f * -3 * ((5 | 2 << 4) - 32), "%g", y[200]);

    wk_block_iq4_xs xs = {.d = wk_f32_to_f16(0.01f), .scales_h = (uint16_t)(1 << 6)};
    xs.scales_l[1] = 0x50; /* group 3: low 5, high 1: 21 + ... = 5 | 1 << 4 = 21 */
    xs.qs[48 + 2] = 0xf0;  /* group 3, element 16 + 2: level 15 (113) */
    wk_type(WK_IQ4_XS)->to_float(&xs, y, 256);
    float dl = wk_f16_to_f32(xs.d) * (21 - 32);
    cr_expect(y[96 + 18] == dl * 113.0f && y[96] == dl * -127.0f, "%g", y[96 + 18]);
}

/* The rest of the types, one hand-made block each. */
Test(quant, hand_made_blocks_of_the_other_types)
{
    float y[256];
    wk_block_q4_1 a = {.d = wk_f32_to_f16(0.5f), .m = wk_f32_to_f16(1.0f)};
    a.qs[0] = 0x21; /* element 0: level 1, element 16: level 2 */
    wk_type(WK_Q4_1)->to_float(&a, y, 32);
    cr_expect(y[0] == 1.5f && y[16] == 2.0f && y[1] == 1.0f);

    wk_block_q5_0 b = {.d = wk_f32_to_f16(0.25f)};
    b.qs[1] = 0x0f; /* element 1: low 15; element 17: low 0 */
    b.qh[0] = 0x02; /* bit 1: element 1 gets 16 */
    wk_type(WK_Q5_0)->to_float(&b, y, 32);
    cr_expect(y[1] == 3.75f && y[17] == -4.0f, "%g %g", y[1], y[17]);

    wk_block_q8_1 c = {.d = wk_f32_to_f16(0.5f)};
    c.qs[0] = 4;
    wk_type(WK_Q8_1)->to_float(&c, y, 32);
    cr_expect(y[0] == 2.0f && y[1] == 0.0f);

    /* Q2_K: group 2 (elements 32..47: second shift of the first 32 bytes) with scale 3 and
     * minimum 2; element 32 at level 3 (bits 2-3 of qs[0]) */
    wk_block_q2_K k2 = {.d = wk_f32_to_f16(1.0f), .dmin = wk_f32_to_f16(0.5f)};
    k2.scales[2] = 3 | 2 << 4;
    k2.qs[0] = 3 << 2;
    wk_type(WK_Q2_K)->to_float(&k2, y, 256);
    cr_expect(y[32] == 8.0f && y[33] == -1.0f && y[0] == 0.0f, "%g %g", y[32], y[33]);

    /* Q3_K: group 0's 6-bit scale 37 (low four in scales[0], high two in scales[8]) - 32 = 5;
     * element 0: low bits 2 with its hmask bit set; element 1: low 0, bit clear: -4 */
    wk_block_q3_K k3 = {.d = wk_f32_to_f16(2.0f)};
    k3.scales[0] = 5;
    k3.scales[8] = 2;
    k3.qs[0] = 2;
    k3.hmask[0] = 1;
    wk_type(WK_Q3_K)->to_float(&k3, y, 256);
    cr_expect(y[0] == 20.0f && y[1] == -40.0f, "%g %g", y[0], y[1]);

    /* Q5_K: group 0 with scale 10 and minimum 3; element 0 low 7 plus its fifth bit */
    wk_block_q5_K k5 = {.d = wk_f32_to_f16(0.5f), .dmin = wk_f32_to_f16(1.0f)};
    k5.scales[0] = 10;
    k5.scales[4] = 3;
    k5.qs[0] = 7;
    k5.qh[0] = 1;
    wk_type(WK_Q5_K)->to_float(&k5, y, 256);
    cr_expect(y[0] == 112.0f && y[1] == -3.0f, "%g %g", y[0], y[1]);

    wk_block_iq4_nl nl = {.d = wk_f32_to_f16(0.5f)};
    nl.qs[0] = 0x0f; /* element 0: level 15 (113), element 16: level 0 (-127) */
    wk_type(WK_IQ4_NL)->to_float(&nl, y, 32);
    cr_expect(y[0] == 56.5f && y[16] == -63.5f && y[1] == -63.5f);

    wk_block_q8_K k8 = {.d = 0.25f};
    k8.qs[3] = -8;
    wk_type(WK_Q8_K)->to_float(&k8, y, 256);
    cr_expect(y[3] == -2.0f && y[0] == 0.0f);
}

/* Every quantized type round-trips through our GGUF writer and reader: the bytes come back
 * as written and decode to the same values. */
Test(quant, blocks_round_trip_through_gguf)
{
    char dir[] = "/tmp/wk-quant-gguf-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/q.gguf", dir);
    enum { R = 4, C = 512 };
    float *x = malloc(R * C * sizeof *x);
    for (int i = 0; i < R * C; i++)
        x[i] = qt_gauss();
    for (size_t k = 0; k < sizeof qt_bounds / sizeof qt_bounds[0]; k++) {
        wk_dtype t = qt_bounds[k].t;
        const wk_type_traits *tt = wk_type(t);
        if (tt->ggml_id < 0 || t == WK_Q8_K || t == WK_Q8_1)
            continue; /* activation types: never in files */
        size_t bytes = (size_t)R * C / tt->block_size * tt->type_size;
        uint8_t *q = malloc(bytes);
        tt->from_float(x, q, R * C);
        wk_gguf_writer *w;
        wk_err e;
        uint64_t shape[2] = {R, C};
        cr_assert_eq(wk_gguf_writer_open(path, &w, &e), 0, "%s", e.msg);
        cr_assert_eq(wk_gguf_set_str(w, "general.architecture", "llama", &e), 0);
        cr_assert_eq(wk_gguf_add_tensor(w, "blk.0.ffn_up.weight", t, 2, shape, NULL, &e), 0,
                     "%s", e.msg);
        cr_assert_eq(wk_gguf_write_tensor(w, q, bytes, &e), 0, "%s", e.msg);
        cr_assert_eq(wk_gguf_writer_finish(w, &e), 0, "%s", e.msg);
        wk_source *s;
        cr_assert_eq(wk_source_open(path, NULL, &s, &e), 0, "%s", e.msg);
        cr_assert_eq(s->tensors[0].dtype, t);
        wk_view v;
        cr_assert_eq(wk_source_read(s, 0, &v, &e), 0, "%s", e.msg);
        cr_expect(v.size == bytes && memcmp(v.data, q, bytes) == 0, "%s", tt->name);
        wk_view_release(&v);
        wk_source_close(s);
        free(q);
    }
    free(x);
    unlink(path);
    rmdir(dir);
}

/* With importance, the error moves to the columns that matter less. */
Test(quant, importance_lowers_the_error_where_it_is_high)
{
    enum { N = 2048 };
    const wk_dtype types[] = {WK_Q4_0, WK_Q4_1, WK_Q5_0, WK_Q5_1, WK_Q2_K, WK_Q3_K,
                              WK_Q4_K, WK_Q5_K, WK_Q6_K, WK_IQ4_NL, WK_IQ4_XS};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *imp = malloc(N * sizeof *imp);
    for (int i = 0; i < N; i++) {
        x[i] = qt_gauss();
        imp[i] = i % 8 == 0 ? 100.0f : 0.01f;
    }
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        double plain = 0, weighted = 0;
        qt_roundtrip(types[k], x, N, NULL, y);
        for (int i = 0; i < N; i += 8)
            plain += (double)(x[i] - y[i]) * (x[i] - y[i]);
        qt_roundtrip(types[k], x, N, imp, y);
        for (int i = 0; i < N; i += 8)
            weighted += (double)(x[i] - y[i]) * (x[i] - y[i]);
        cr_expect(weighted < 0.8 * plain, "%s: error on the important columns %g, without "
                  "importance %g", wk_type(types[k])->name, weighted, plain);
    }
    free(x);
    free(y);
    free(imp);
}

/* Quantizing what a quantizer produced gives it back (round to nearest types). */
Test(quant, requantizing_a_dequantized_row_is_stable)
{
    enum { N = 1024 };
    const wk_dtype types[] = {WK_Q8_0, WK_Q4_0, WK_Q5_0, WK_Q4_1, WK_Q5_1};
    float x[N], y[N], z[N];
    for (int i = 0; i < N; i++)
        x[i] = qt_gauss();
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        qt_roundtrip(types[k], x, N, NULL, y);
        qt_roundtrip(types[k], y, N, NULL, z);
        double se = 0;
        for (int i = 0; i < N; i++)
            se += (double)(y[i] - z[i]) * (y[i] - z[i]);
        cr_expect(se < 1e-6, "%s: requantized row moved by %g", wk_type(types[k])->name, se);
    }
}
