/* The tensor type table (see types.h). ggml ids follow ggml/include/ggml.h, block sizes
 * the structs of quant/blocks.h (ggml/src/ggml-common.h); safetensors names follow its spec. */
#include "quant/types.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quantize.h"

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

/* The quantized types' entry points: their quantizers with the reference searches. */
#define REF_ENTRY_POINTS(name)                                                                   \
    static void name##_quantize(const float *src, void *dst, int64_t n, const float *imp)        \
    {                                                                                            \
        wk_quant_##name(src, dst, n, imp, &wk_fit_ref);                                          \
    }                                                                                            \
    static void name##_from_float(const float *src, void *dst, int64_t n)                        \
    {                                                                                            \
        wk_quant_##name(src, dst, n, NULL, &wk_fit_ref);                                         \
    }
WK_QUANT_FAMILY(REF_ENTRY_POINTS)
#undef REF_ENTRY_POINTS

static const wk_type_traits TABLE[WK_DTYPE_COUNT] = {
    [WK_F32] = {.name = "F32", .torch_name = "float32", .ggml_id = 0, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(float), .to_float = f32_to_float,
                .from_float = f32_from_float},
    [WK_F16] = {.name = "F16", .torch_name = "float16", .ggml_id = 1, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(wk_half), .to_float = wk_f16_to_f32_ref,
                .from_float = wk_f32_to_f16_ref},
    [WK_BF16] = {.name = "BF16", .torch_name = "bfloat16", .ggml_id = 30, .in_safetensors = true,
                 .block_size = 1, .type_size = sizeof(uint16_t), .to_float = wk_bf16_to_f32_ref,
                 .from_float = wk_f32_to_bf16_ref},
    [WK_F64] = {.name = "F64", .torch_name = "float64", .ggml_id = 28, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(double), .to_float = f64_to_float},
    [WK_I8] = {.name = "I8", .torch_name = "int8", .ggml_id = 24, .in_safetensors = true,
               .block_size = 1, .type_size = sizeof(int8_t), .to_float = i8_to_float},
    [WK_I16] = {.name = "I16", .torch_name = "int16", .ggml_id = 25, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(int16_t), .to_float = i16_to_float},
    [WK_I32] = {.name = "I32", .torch_name = "int32", .ggml_id = 26, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(int32_t), .to_float = i32_to_float},
    [WK_I64] = {.name = "I64", .torch_name = "int64", .ggml_id = 27, .in_safetensors = true,
                .block_size = 1, .type_size = sizeof(int64_t), .to_float = i64_to_float},
    [WK_U8] = {.name = "U8", .torch_name = "uint8", .ggml_id = -1, .in_safetensors = true,
               .block_size = 1, .type_size = sizeof(uint8_t), .to_float = u8_to_float},
    [WK_U16] = {.name = "U16", .ggml_id = -1, .in_safetensors = true, .block_size = 1,
                .type_size = sizeof(uint16_t), .to_float = u16_to_float},
    [WK_U32] = {.name = "U32", .ggml_id = -1, .in_safetensors = true, .block_size = 1,
                .type_size = sizeof(uint32_t), .to_float = u32_to_float},
    [WK_U64] = {.name = "U64", .ggml_id = -1, .in_safetensors = true, .block_size = 1,
                .type_size = sizeof(uint64_t), .to_float = u64_to_float},
    [WK_BOOL] = {.name = "BOOL", .torch_name = "bool", .ggml_id = -1, .in_safetensors = true,
                 .block_size = 1, .type_size = sizeof(uint8_t), .to_float = bool_to_float},
    [WK_F8_E4M3] = {.name = "F8_E4M3", .torch_name = "float8_e4m3fn", .ggml_id = -1,
                    .in_safetensors = true, .block_size = 1, .type_size = sizeof(uint8_t),
                    .to_float = f8e4m3_to_float},
    [WK_F8_E5M2] = {.name = "F8_E5M2", .torch_name = "float8_e5m2", .ggml_id = -1,
                    .in_safetensors = true, .block_size = 1, .type_size = sizeof(uint8_t),
                    .to_float = f8e5m2_to_float},
    [WK_Q4_0] = {.name = "Q4_0", .ggml_id = 2, .is_quantized = true, .block_size = WK_QK4_0,
                 .type_size = sizeof(wk_block_q4_0),
                 .to_float = wk_dequant_q4_0, .from_float = q4_0_from_float,
                 .quantize = q4_0_quantize},
    [WK_Q4_1] = {.name = "Q4_1", .ggml_id = 3, .is_quantized = true, .block_size = WK_QK4_1,
                 .type_size = sizeof(wk_block_q4_1),
                 .to_float = wk_dequant_q4_1, .from_float = q4_1_from_float,
                 .quantize = q4_1_quantize},
    [WK_Q5_0] = {.name = "Q5_0", .ggml_id = 6, .is_quantized = true, .block_size = WK_QK5_0,
                 .type_size = sizeof(wk_block_q5_0),
                 .to_float = wk_dequant_q5_0, .from_float = q5_0_from_float,
                 .quantize = q5_0_quantize},
    [WK_Q5_1] = {.name = "Q5_1", .ggml_id = 7, .is_quantized = true, .block_size = WK_QK5_1,
                 .type_size = sizeof(wk_block_q5_1),
                 .to_float = wk_dequant_q5_1, .from_float = q5_1_from_float,
                 .quantize = q5_1_quantize},
    [WK_Q8_0] = {.name = "Q8_0", .ggml_id = 8, .is_quantized = true, .block_size = WK_QK8_0,
                 .type_size = sizeof(wk_block_q8_0),
                 .to_float = wk_dequant_q8_0, .from_float = q8_0_from_float,
                 .quantize = q8_0_quantize},
    [WK_Q8_1] = {.name = "Q8_1", .ggml_id = 9, .is_quantized = true, .block_size = WK_QK8_1,
                 .type_size = sizeof(wk_block_q8_1),
                 .to_float = wk_dequant_q8_1, .from_float = q8_1_from_float,
                 .quantize = q8_1_quantize},
    [WK_Q2_K] = {.name = "Q2_K", .ggml_id = 10, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q2_K),
                 .to_float = wk_dequant_q2_K, .from_float = q2_K_from_float,
                 .quantize = q2_K_quantize},
    [WK_Q3_K] = {.name = "Q3_K", .ggml_id = 11, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q3_K),
                 .to_float = wk_dequant_q3_K, .from_float = q3_K_from_float,
                 .quantize = q3_K_quantize},
    [WK_Q4_K] = {.name = "Q4_K", .ggml_id = 12, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q4_K),
                 .to_float = wk_dequant_q4_K, .from_float = q4_K_from_float,
                 .quantize = q4_K_quantize},
    [WK_Q5_K] = {.name = "Q5_K", .ggml_id = 13, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q5_K),
                 .to_float = wk_dequant_q5_K, .from_float = q5_K_from_float,
                 .quantize = q5_K_quantize},
    [WK_Q6_K] = {.name = "Q6_K", .ggml_id = 14, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q6_K),
                 .to_float = wk_dequant_q6_K, .from_float = q6_K_from_float,
                 .quantize = q6_K_quantize},
    [WK_Q8_K] = {.name = "Q8_K", .ggml_id = 15, .is_quantized = true, .block_size = WK_QK_K,
                 .type_size = sizeof(wk_block_q8_K),
                 .to_float = wk_dequant_q8_K, .from_float = q8_K_from_float,
                 .quantize = q8_K_quantize},
    [WK_IQ2_XXS] = {.name = "IQ2_XXS", .ggml_id = 16, .is_quantized = true, .block_size = WK_QK_K,
                    .type_size = sizeof(wk_block_iq2_xxs)},
    [WK_IQ2_XS] = {.name = "IQ2_XS", .ggml_id = 17, .is_quantized = true, .block_size = WK_QK_K,
                   .type_size = sizeof(wk_block_iq2_xs)},
    [WK_IQ3_XXS] = {.name = "IQ3_XXS", .ggml_id = 18, .is_quantized = true, .block_size = WK_QK_K,
                    .type_size = sizeof(wk_block_iq3_xxs)},
    [WK_IQ1_S] = {.name = "IQ1_S", .ggml_id = 19, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_iq1_s)},
    [WK_IQ4_NL] = {.name = "IQ4_NL", .ggml_id = 20, .is_quantized = true, .block_size = WK_QK4_NL,
                   .type_size = sizeof(wk_block_iq4_nl),
                   .to_float = wk_dequant_iq4_nl, .from_float = iq4_nl_from_float,
                   .quantize = iq4_nl_quantize},
    [WK_IQ3_S] = {.name = "IQ3_S", .ggml_id = 21, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_iq3_s)},
    [WK_IQ2_S] = {.name = "IQ2_S", .ggml_id = 22, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_iq2_s)},
    [WK_IQ4_XS] = {.name = "IQ4_XS", .ggml_id = 23, .is_quantized = true, .block_size = WK_QK_K,
                   .type_size = sizeof(wk_block_iq4_xs),
                   .to_float = wk_dequant_iq4_xs, .from_float = iq4_xs_from_float,
                   .quantize = iq4_xs_quantize},
    [WK_IQ1_M] = {.name = "IQ1_M", .ggml_id = 29, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_iq1_m)},
    [WK_TQ1_0] = {.name = "TQ1_0", .ggml_id = 34, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_tq1_0)},
    [WK_TQ2_0] = {.name = "TQ2_0", .ggml_id = 35, .is_quantized = true, .block_size = WK_QK_K,
                  .type_size = sizeof(wk_block_tq2_0)},
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
