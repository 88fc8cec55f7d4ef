/* wk-convert's pipeline pieces: the row stream (models/tensor_stream.c) against the scalar
 * reference conversions and the permutation formula, and the --outtype rules. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/convert.h"
#include "models/tensor_stream.h"
#include "quant/half.h"
#include "tests/unit/models/permute_formula.h"

/* Deterministic values spanning normal, tiny and large magnitudes. */
static float cv_value(uint64_t i)
{
    float v = sinf((float)i * 0.7f) * powf(2.0f, (float)((int)(i % 23) - 11));
    return i % 97 == 5 ? 0.0f : v;
}

static void cv_fill(void *dst, wk_dtype t, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        float v = cv_value(i);
        if (t == WK_F32)
            ((float *)dst)[i] = v;
        else if (t == WK_F16)
            ((uint16_t *)dst)[i] = wk_f32_to_f16(v);
        else
            ((uint16_t *)dst)[i] = wk_f32_to_bf16(v);
    }
}

static float cv_get(const void *p, wk_dtype t, uint64_t i)
{
    if (t == WK_F32)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return t == WK_F16 ? wk_f16_to_f32(h) : wk_bf16_to_f32(h);
}

static uint32_t cv_encode_bits(float v, wk_dtype t)
{
    if (t == WK_F32)
        return wk_f32_bits(v);
    return t == WK_F16 ? wk_f32_to_f16(v) : wk_f32_to_bf16(v);
}

static uint32_t cv_bits(const void *p, wk_dtype t, uint64_t i)
{
    return t == WK_F32 ? ((const uint32_t *)p)[i] : ((const uint16_t *)p)[i];
}

Test(convert, rows_convert_and_permute_like_the_reference)
{
    const wk_dtype types[] = {WK_F32, WK_F16, WK_BF16};
    const uint64_t rows = 48, cols = 300; /* cols > 256: F16 -> BF16 goes in blocks */
    const uint32_t heads = 3;
    void *src = malloc(rows * cols * 4), *dst = malloc(rows * cols * 4);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (uint32_t h = 0; h <= heads; h += heads) {
                cv_fill(src, types[a], rows * cols);
                memset(dst, 0xab, rows * cols * 4);
                /* in two uneven pieces, as the streaming code does */
                size_t out_row = cols * wk_type(types[b])->type_size;
                wk_view view = {.data = src, .size = rows * cols * 4};
                wk_stream_job job = {.name = "t", .src = &view, .src_type = types[a], .rows = rows,
                                     .cols = cols, .unpermute_heads = h, .dst_type = types[b]};
                wk_err e;
                cr_assert_eq(wk_stream_rows(&job, 0, 18, dst, &e), 0, "%s", e.msg);
                cr_assert_eq(wk_stream_rows(&job, 18, rows, (uint8_t *)dst + 18 * out_row, &e),
                             0, "%s", e.msg);
                for (uint64_t r = 0; r < rows; r++) {
                    uint64_t from = h ? cv_numpy_src(r, rows, h) : r;
                    for (uint64_t c = 0; c < cols; c++) {
                        float v = cv_get(src, types[a], from * cols + c);
                        cr_assert_eq(cv_bits(dst, types[b], r * cols + c),
                                     cv_encode_bits(v, types[b]), "%s -> %s heads %u row %llu",
                                     wk_type(types[a])->name, wk_type(types[b])->name, h,
                                     (unsigned long long)r);
                    }
                }
            }
    free(src);
    free(dst);
}

Test(convert, outtype_rules)
{
    wk_outtype o;
    cr_assert_eq(wk_outtype_parse("bf16", &o), 0);
    cr_assert_eq(o, WK_OUTTYPE_BF16);
    cr_assert_eq(wk_outtype_parse("auto", &o), 0);
    cr_assert_eq(wk_outtype_parse("q8_0", &o), -1);
    wk_conv_tensor mat = {.hf_name = "w", .n_dims = 2}, vec = {.hf_name = "n", .n_dims = 1};
    wk_dtype d;
    wk_err e;
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_BF16, WK_OUTTYPE_AUTO, &d, &e), 0);
    cr_assert_eq(d, WK_BF16);
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_BF16, WK_OUTTYPE_F16, &d, &e), 0);
    cr_assert_eq(d, WK_F16);
    cr_assert_eq(wk_convert_out_dtype(&vec, WK_F16, WK_OUTTYPE_BF16, &d, &e), 0);
    cr_assert_eq(d, WK_F32);
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_I32, WK_OUTTYPE_F16, &d, &e), -1);
    cr_assert(strstr(e.msg, "'w'") && strstr(e.msg, "I32"), "%s", e.msg);
}
