/* The tensor type table (see types.h). ggml ids and block sizes follow ggml's
 * ggml/include/ggml.h and ggml/src/ggml-common.h; safetensors names follow its spec. */
#include "quant/types.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kernels/half.h"
#include "quant/half.h"

static void f32_to_float(const void *src, float *dst, int64_t n)
{
    const float *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = s[i];
}

static void f32_from_float(const float *src, void *dst, int64_t n)
{
    float *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = src[i];
}

#define INT_TO_FLOAT(fn, T)                                                                      \
    static void fn(const void *src, float *dst, int64_t n)                                       \
    {                                                                                            \
        const T *s = src;                                                                        \
        for (int64_t i = 0; i < n; i++)                                                          \
            dst[i] = (float)s[i];                                                                \
    }
INT_TO_FLOAT(f64_to_float, double)
INT_TO_FLOAT(i8_to_float, int8_t)
INT_TO_FLOAT(i16_to_float, int16_t)
INT_TO_FLOAT(i32_to_float, int32_t)
INT_TO_FLOAT(i64_to_float, int64_t)
INT_TO_FLOAT(u8_to_float, uint8_t)
INT_TO_FLOAT(u16_to_float, uint16_t)
INT_TO_FLOAT(u32_to_float, uint32_t)
INT_TO_FLOAT(u64_to_float, uint64_t)
#undef INT_TO_FLOAT

static void bool_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = s[i] ? 1.0f : 0.0f;
}

static void f8e4m3_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = wk_f8e4m3_to_f32(s[i]);
}

static void f8e5m2_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = wk_f8e5m2_to_f32(s[i]);
}

/* name, torch name, ggml id, in safetensors, block size, bytes per block, to, from */
static const wk_type_traits TABLE[WK_DTYPE_COUNT] = {
    [WK_F32] = {"F32", "float32", 0, true, 1, 4, f32_to_float, f32_from_float},
    [WK_F16] = {"F16", "float16", 1, true, 1, 2, wk_f16_to_f32_row, wk_f32_to_f16_row},
    [WK_BF16] = {"BF16", "bfloat16", 30, true, 1, 2, wk_bf16_to_f32_row, wk_f32_to_bf16_row},
    [WK_F64] = {"F64", "float64", 28, true, 1, 8, f64_to_float, NULL},
    [WK_I8] = {"I8", "int8", 24, true, 1, 1, i8_to_float, NULL},
    [WK_I16] = {"I16", "int16", 25, true, 1, 2, i16_to_float, NULL},
    [WK_I32] = {"I32", "int32", 26, true, 1, 4, i32_to_float, NULL},
    [WK_I64] = {"I64", "int64", 27, true, 1, 8, i64_to_float, NULL},
    [WK_U8] = {"U8", "uint8", -1, true, 1, 1, u8_to_float, NULL},
    [WK_U16] = {"U16", NULL, -1, true, 1, 2, u16_to_float, NULL},
    [WK_U32] = {"U32", NULL, -1, true, 1, 4, u32_to_float, NULL},
    [WK_U64] = {"U64", NULL, -1, true, 1, 8, u64_to_float, NULL},
    [WK_BOOL] = {"BOOL", "bool", -1, true, 1, 1, bool_to_float, NULL},
    [WK_F8_E4M3] = {"F8_E4M3", "float8_e4m3fn", -1, true, 1, 1, f8e4m3_to_float, NULL},
    [WK_F8_E5M2] = {"F8_E5M2", "float8_e5m2", -1, true, 1, 1, f8e5m2_to_float, NULL},
    [WK_Q4_0] = {"Q4_0", NULL, 2, false, 32, 18, NULL, NULL},
    [WK_Q4_1] = {"Q4_1", NULL, 3, false, 32, 20, NULL, NULL},
    [WK_Q5_0] = {"Q5_0", NULL, 6, false, 32, 22, NULL, NULL},
    [WK_Q5_1] = {"Q5_1", NULL, 7, false, 32, 24, NULL, NULL},
    [WK_Q8_0] = {"Q8_0", NULL, 8, false, 32, 34, NULL, NULL},
    [WK_Q8_1] = {"Q8_1", NULL, 9, false, 32, 36, NULL, NULL},
    [WK_Q2_K] = {"Q2_K", NULL, 10, false, 256, 84, NULL, NULL},
    [WK_Q3_K] = {"Q3_K", NULL, 11, false, 256, 110, NULL, NULL},
    [WK_Q4_K] = {"Q4_K", NULL, 12, false, 256, 144, NULL, NULL},
    [WK_Q5_K] = {"Q5_K", NULL, 13, false, 256, 176, NULL, NULL},
    [WK_Q6_K] = {"Q6_K", NULL, 14, false, 256, 210, NULL, NULL},
    [WK_Q8_K] = {"Q8_K", NULL, 15, false, 256, 292, NULL, NULL},
    [WK_IQ2_XXS] = {"IQ2_XXS", NULL, 16, false, 256, 66, NULL, NULL},
    [WK_IQ2_XS] = {"IQ2_XS", NULL, 17, false, 256, 74, NULL, NULL},
    [WK_IQ3_XXS] = {"IQ3_XXS", NULL, 18, false, 256, 98, NULL, NULL},
    [WK_IQ1_S] = {"IQ1_S", NULL, 19, false, 256, 50, NULL, NULL},
    [WK_IQ4_NL] = {"IQ4_NL", NULL, 20, false, 32, 18, NULL, NULL},
    [WK_IQ3_S] = {"IQ3_S", NULL, 21, false, 256, 110, NULL, NULL},
    [WK_IQ2_S] = {"IQ2_S", NULL, 22, false, 256, 82, NULL, NULL},
    [WK_IQ4_XS] = {"IQ4_XS", NULL, 23, false, 256, 136, NULL, NULL},
    [WK_IQ1_M] = {"IQ1_M", NULL, 29, false, 256, 56, NULL, NULL},
    [WK_TQ1_0] = {"TQ1_0", NULL, 34, false, 256, 54, NULL, NULL},
    [WK_TQ2_0] = {"TQ2_0", NULL, 35, false, 256, 66, NULL, NULL},
};

const wk_type_traits *wk_type(wk_dtype t)
{
    return (unsigned)t < WK_DTYPE_COUNT ? &TABLE[t] : NULL;
}

int wk_type_from_ggml(uint32_t ggml_id, wk_dtype *out)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++)
        if (TABLE[t].ggml_id >= 0 && (uint32_t)TABLE[t].ggml_id == ggml_id) {
            *out = (wk_dtype)t;
            return 0;
        }
    return -1;
}

int wk_type_from_safetensors(const char *name, wk_dtype *out)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++)
        if (TABLE[t].in_safetensors && strcmp(TABLE[t].name, name) == 0) {
            *out = (wk_dtype)t;
            return 0;
        }
    return -1;
}

int wk_type_from_name(const char *name, wk_dtype *out)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++)
        if (strcasecmp(TABLE[t].name, name) == 0 ||
            (TABLE[t].torch_name && strcasecmp(TABLE[t].torch_name, name) == 0)) {
            *out = (wk_dtype)t;
            return 0;
        }
    return -1;
}

int wk_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int wk_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

int wk_type_nbytes(wk_dtype t, uint64_t n, uint64_t *out, wk_err *e)
{
    const wk_type_traits *tt = wk_type(t);
    if (!tt)
        return wk_fail(e, "unknown tensor type %d", (int)t);
    if (n % tt->block_size != 0)
        return wk_fail(e, "%llu elements is not a multiple of the %s block size %u",
                       (unsigned long long)n, tt->name, tt->block_size);
    if (wk_mul_u64(n / tt->block_size, tt->type_size, out) != 0)
        return wk_fail(e, "%llu elements of %s overflow a 64-bit byte count",
                       (unsigned long long)n, tt->name);
    return 0;
}
