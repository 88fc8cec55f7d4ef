/* Every SIMD twin in the CPU traits against its scalar reference, type by type (as ggml's
 * tests/test-quantize-fns.cpp does): random rows of several lengths, ragged tails that the
 * vector loops leave to scalar code, and special values (zeros of both signs, denormals,
 * the largest and smallest normals, infinities, NaN). Decoders get random bytes (NaN and
 * infinite scales included). Quantizers get finite rows only, as their contract says:
 * Gaussian rows, ragged counts of blocks that leave the searches a partial set of 8 groups,
 * zeros, one outlier, denormals, constants and huge values, each without and with importance
 * (random, partly zero, all zero). Results must be bit-identical, NaN payloads included. A
 * type or kernel added to kernels/avx2/ is covered here without a new test. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/traits.h"
#include "quant/half.h"

static const int64_t lengths[] = {1, 7, 8, 9, 31, 32, 33, 255, 256, 257, 1000, 4096, 4103};
#define MAX_LEN 4103

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Floats for the encoders: mostly normal values of varied scale, with every special value
 * sprinkled in, and values on binary16/bfloat16 rounding ties. */
static void fill_floats(float *x, int64_t n, int pattern)
{
    static const float specials[] = {0.0f, -0.0f, 1e-40f, -1e-45f, 5.9604645e-8f, 6.1e-5f,
                                     65504.0f, 65520.0f, -70000.0f, 3.4e38f, INFINITY,
                                     -INFINITY, NAN, 1.00048828125f, 1.0009765625f};
    for (int64_t i = 0; i < n; i++) {
        if (pattern == 1 && i % 5 == 0) {
            x[i] = specials[next_u32() % (sizeof specials / sizeof specials[0])];
            continue;
        }
        if (pattern == 2) { /* raw bit patterns: every exponent and mantissa */
            x[i] = wk_f32_from_bits(next_u32() << 1 ^ (next_u32() & 1));
            continue;
        }
        float scale = ldexpf(1.0f, (int)(next_u32() % 40) - 20);
        x[i] = ((float)next_u32() / 4294967296.0f - 0.5f) * scale;
    }
}

/* Raw bytes for the decoders: every bit pattern is a valid encoding of something. */
static void fill_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next_u32();
}

static bool same_float_bits(float a, float b)
{
    return wk_f32_bits(a) == wk_f32_bits(b);
}

Test(simd_vs_ref, every_type_decodes_and_encodes_bit_exactly)
{
    if (!wk_cpu_type_variant(WK_F32, WK_CPU_AVX2))
        cr_skip_test("this CPU has no AVX2/FMA/F16C");
    float *x = malloc(MAX_LEN * sizeof *x), *a = malloc(MAX_LEN * sizeof *a),
          *r = malloc(MAX_LEN * sizeof *r);
    uint8_t *raw = malloc(MAX_LEN * 8), *ea = malloc(MAX_LEN * 8), *er = malloc(MAX_LEN * 8);
    int kernels_checked = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        const wk_cpu_type_traits *simd = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX2);
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        if (simd->to_float)
            kernels_checked++;
        if (simd->from_float)
            kernels_checked++;
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            int64_t n = lengths[k] - lengths[k] % tt->block_size;
            if (n == 0)
                continue;
            size_t bytes = (size_t)n / tt->block_size * tt->type_size;
            if (simd->to_float) {
                fill_bytes(raw, bytes);
                simd->to_float(raw, a, n);
                ref->to_float(raw, r, n);
                for (int64_t i = 0; i < n; i++)
                    cr_assert(same_float_bits(a[i], r[i]),
                              "%s to_float, n=%lld, element %lld: bits %08x (simd) vs %08x "
                              "(ref)", tt->name, (long long)n, (long long)i,
                              wk_f32_bits(a[i]), wk_f32_bits(r[i]));
            }
            for (int pattern = 0; simd->from_float && pattern < 3; pattern++) {
                fill_floats(x, n, pattern);
                if (tt->is_quantized) /* quantizers take finite values (quant/quantize.h) */
                    for (int64_t i = 0; i < n; i++)
                        x[i] = isfinite(x[i]) ? x[i] : 0.0f;
                simd->from_float(x, ea, n);
                ref->from_float(x, er, n);
                cr_assert(memcmp(ea, er, bytes) == 0,
                          "%s from_float, n=%lld, pattern %d: the encodings differ", tt->name,
                          (long long)n, pattern);
            }
        }
    }
    cr_expect_geq(kernels_checked, 4, "only %d SIMD kernels found in the traits",
                  kernels_checked);
    free(x);
    free(a);
    free(r);
    free(raw);
    free(ea);
    free(er);
}

/* ---- quantizers: finite rows, with and without importance ---- */

static float gaussian(void)
{
    float u = ((float)next_u32() + 1.0f) / 4294967296.0f, v = (float)next_u32() / 4294967296.0f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

enum { ROW_GAUSSIAN, ROW_ZEROS, ROW_OUTLIER, ROW_GAUSSIAN_OUTLIER, ROW_DENORMALS, ROW_CONSTANT,
       ROW_HUGE, ROW_HALVES, ROW_SCALES, ROW_KINDS };
static const char *const row_names[ROW_KINDS] = {
    "gaussian", "zeros", "one outlier among zeros", "gaussian with an outlier", "denormals",
    "constant", "huge values", "halves (rounding ties)", "values of every scale"};

static void fill_row(float *x, int64_t n, int kind)
{
    for (int64_t i = 0; i < n; i++) {
        switch (kind) {
        case ROW_GAUSSIAN:
        case ROW_GAUSSIAN_OUTLIER:
            x[i] = 0.02f * gaussian();
            break;
        case ROW_ZEROS:
        case ROW_OUTLIER:
            x[i] = next_u32() % 2 ? 0.0f : -0.0f;
            break;
        case ROW_DENORMALS: /* the largest and smallest subnormals, and zeros */
            x[i] = (next_u32() % 2 ? 1.0f : -1.0f) * 1e-45f * (float)(next_u32() % 80000000);
            break;
        case ROW_CONSTANT:
            x[i] = -0.75f;
            break;
        case ROW_HUGE: /* sums of squares overflow: the searches see infinities and NaNs */
            x[i] = ldexpf(1.0f + (float)(next_u32() % 1000) / 1000.0f,
                          100 + (int)(next_u32() % 28));
            x[i] = next_u32() % 2 ? x[i] : -x[i];
            break;
        case ROW_HALVES: /* 127 first in each 32: Q8's scale is 1, x.5 are ties */
            x[i] = i % 32 ? 0.5f * (float)((int)(next_u32() % 255) - 127) : 127.0f;
            break;
        default:
            fill_floats(x + i, 1, 0);
        }
    }
    if (kind == ROW_OUTLIER || kind == ROW_GAUSSIAN_OUTLIER)
        x[(int64_t)(next_u32() % (uint32_t)n)] = kind == ROW_OUTLIER ? 3.0f : -1.5f;
}

/* Importance kinds: none, random positive, about a third zeros, all zeros. */
static const float *fill_importance(float *imp, int64_t n, int kind)
{
    if (kind == 0)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        float u = ((float)next_u32() + 1.0f) / 4294967296.0f;
        imp[i] = kind == 3 || (kind == 2 && next_u32() % 3 == 0) ? 0.0f : u;
    }
    return imp;
}

/* The first block where two encodings differ, or -1. */
static int64_t first_block_differing(const uint8_t *a, const uint8_t *b, size_t bytes,
                                     uint32_t type_size)
{
    for (size_t i = 0; i < bytes; i++)
        if (a[i] != b[i])
            return (int64_t)(i / type_size);
    return -1;
}

Test(simd_vs_ref, every_quantizer_gives_the_reference_bytes)
{
    if (!wk_cpu_type_variant(WK_F32, WK_CPU_AVX2))
        cr_skip_test("this CPU has no AVX2/FMA/F16C");
    /* 32 * 9 and 32 * 13: the 32-value types leave the searches a partial set of 8 groups */
    static const int64_t qlengths[] = {32, 256, 32 * 9, 32 * 13, 512, 4096};
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x), *imp = malloc(N * sizeof *imp);
    float *ya = malloc(N * sizeof *ya), *yr = malloc(N * sizeof *yr);
    uint8_t *ea = malloc(N * 2), *er = malloc(N * 2);
    int types = 0;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        const wk_cpu_type_traits *simd = wk_cpu_type_variant((wk_dtype)t, WK_CPU_AVX2);
        const wk_cpu_type_traits *ref = wk_cpu_type_variant((wk_dtype)t, WK_CPU_REF);
        if (!ref->quantize)
            continue;
        cr_assert(simd->quantize && simd->from_float && simd->to_float,
                  "%s has a reference quantizer but no AVX2 twin", tt->name);
        types++;
        for (size_t k = 0; k < sizeof qlengths / sizeof qlengths[0]; k++) {
            int64_t n = qlengths[k] - qlengths[k] % tt->block_size;
            size_t bytes = (size_t)n / tt->block_size * tt->type_size;
            for (int row = 0; n > 0 && row < ROW_KINDS; row++) {
                fill_row(x, n, row);
                for (int ik = 0; ik < 4; ik++) {
                    const float *w = fill_importance(imp, n, ik);
                    memset(ea, 0x55, bytes);
                    memset(er, 0xaa, bytes);
                    simd->quantize(x, ea, n, w);
                    ref->quantize(x, er, n, w);
                    int64_t b = first_block_differing(ea, er, bytes, tt->type_size);
                    cr_assert(b < 0, "%s quantize, n=%lld, %s, importance kind %d: block %lld "
                              "differs", tt->name, (long long)n, row_names[row], ik, (long long)b);
                }
                simd->from_float(x, ea, n);
                ref->from_float(x, er, n);
                int64_t b = first_block_differing(ea, er, bytes, tt->type_size);
                cr_assert(b < 0, "%s from_float, n=%lld, %s: block %lld differs", tt->name,
                          (long long)n, row_names[row], (long long)b);
                /* and the decoders on what the encoder writes */
                simd->to_float(er, ya, n);
                ref->to_float(er, yr, n);
                for (int64_t i = 0; i < n; i++)
                    cr_assert(same_float_bits(ya[i], yr[i]), "%s to_float of a %s row, n=%lld, "
                              "element %lld: %08x (simd) vs %08x (ref)", tt->name, row_names[row],
                              (long long)n, (long long)i, wk_f32_bits(ya[i]), wk_f32_bits(yr[i]));
            }
        }
    }
    cr_expect_geq(types, 14, "only %d quantized types have a reference quantizer", types);
    free(x);
    free(imp);
    free(ya);
    free(yr);
    free(ea);
    free(er);
}

Test(simd_vs_ref, the_chosen_traits_are_the_simd_ones_on_this_cpu)
{
    const wk_cpu_type_traits *simd = wk_cpu_type_variant(WK_F16, WK_CPU_AVX2);
    const wk_cpu_type_traits *ref = wk_cpu_type_variant(WK_F16, WK_CPU_REF);
    const wk_cpu_type_traits *chosen = wk_cpu_type(WK_F16);
    const char *off = getenv("WK_NO_SIMD");
    if (simd && !(off && *off && *off != '0'))
        cr_expect(chosen->to_float == simd->to_float && chosen->from_float == simd->from_float);
    else
        cr_expect(chosen->to_float == ref->to_float && chosen->from_float == ref->from_float);
    /* types without a twin keep their reference */
    cr_expect(wk_cpu_type(WK_I32)->to_float == wk_type(WK_I32)->to_float);
    /* the quantizers are chosen the same way */
    const wk_cpu_type_traits *qsimd = wk_cpu_type_variant(WK_Q4_K, WK_CPU_AVX2);
    const wk_cpu_type_traits *qref = wk_cpu_type_variant(WK_Q4_K, WK_CPU_REF);
    cr_expect(qref->quantize == wk_type(WK_Q4_K)->quantize && qref->quantize);
    if (qsimd && !(off && *off && *off != '0'))
        cr_expect(wk_cpu_type(WK_Q4_K)->quantize == qsimd->quantize);
    else
        cr_expect(wk_cpu_type(WK_Q4_K)->quantize == qref->quantize);
}

Test(simd_vs_ref, convert_between_types_through_the_table)
{
    float x[300], back[300];
    uint16_t h[300], b[300];
    fill_floats(x, 300, 1);
    wk_cpu_convert(x, WK_F32, h, WK_F16, 300);
    wk_cpu_convert(h, WK_F16, b, WK_BF16, 300);
    for (int i = 0; i < 300; i++) {
        uint16_t want = wk_f32_to_bf16(wk_f16_to_f32(h[i]));
        cr_assert_eq(b[i], want, "element %d: F16 %04x -> BF16 %04x, expected %04x", i, h[i],
                     b[i], want);
    }
    wk_cpu_convert(b, WK_BF16, back, WK_F32, 300);
    for (int i = 0; i < 300; i++)
        cr_assert(same_float_bits(back[i], wk_bf16_to_f32(b[i])));
    wk_cpu_convert(b, WK_BF16, h, WK_BF16, 300);
    cr_assert(memcmp(h, b, sizeof b) == 0);
}
