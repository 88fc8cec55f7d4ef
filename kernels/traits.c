/* The CPU traits table (kernels/traits.h): filled once, on first use, from the reference
 * table of quant/types.c and, when the CPU allows, the AVX2 twins of kernels/avx2/ and the
 * AVX-512 kernels of kernels/avx512/. */
#include "kernels/traits.h"

#include <pthread.h>
#include <string.h>

#include "kernels/avx2/avx2.h"
#include "kernels/avx512/avx512.h"
#include "kernels/cpu.h"

static wk_cpu_type_traits ref_types[WK_DTYPE_COUNT], avx2_types[WK_DTYPE_COUNT],
    avx512_types[WK_DTYPE_COUNT];
static wk_cpu_type_traits chosen_types[WK_DTYPE_COUNT];
static wk_cpu_kernels ref_kernels, avx2_kernels, avx512_kernels, chosen_kernels;
static bool have_avx2, have_avx512;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fill_tables(void)
{
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        ref_types[t].to_float = wk_type((wk_dtype)t)->to_float;
        ref_types[t].from_float = wk_type((wk_dtype)t)->from_float;
        ref_types[t].quantize = wk_type((wk_dtype)t)->quantize;
        ref_types[t].vec_dot = wk_vec_dot_ref((wk_dtype)t);
        ref_types[t].vec_dot_type = wk_vec_dot_type((wk_dtype)t);
        ref_types[t].levels = wk_levels_ref((wk_dtype)t);
    }
    ref_kernels = (wk_cpu_kernels){.stats_block = wk_stats_block_ref,
                                   .first_nonfinite = wk_first_nonfinite_ref,
                                   .row_error = wk_row_error_ref,
                                   .cols_dot = wk_cols_dot_ref, .rows_wsum = wk_rows_wsum_ref,
                                   .softmax = wk_softmax_ref, .swiglu = wk_swiglu_ref};

    avx2_types[WK_F16] = (wk_cpu_type_traits){.to_float = wk_f16_to_f32_avx2,
                                              .from_float = wk_f32_to_f16_avx2};
    avx2_types[WK_BF16] = (wk_cpu_type_traits){.to_float = wk_bf16_to_f32_avx2,
                                               .from_float = wk_f32_to_bf16_avx2};
#define AVX2_QUANT(type, name)                                                                   \
    avx2_types[type] = (wk_cpu_type_traits){.to_float = wk_dequant_##name##_avx2,                 \
                                            .from_float = wk_from_float_##name##_avx2,            \
                                            .quantize = wk_quantize_##name##_avx2};
    AVX2_QUANT(WK_Q4_0, q4_0) AVX2_QUANT(WK_Q4_1, q4_1) AVX2_QUANT(WK_Q5_0, q5_0)
    AVX2_QUANT(WK_Q5_1, q5_1) AVX2_QUANT(WK_Q8_0, q8_0) AVX2_QUANT(WK_Q8_1, q8_1)
    AVX2_QUANT(WK_Q2_K, q2_K) AVX2_QUANT(WK_Q3_K, q3_K) AVX2_QUANT(WK_Q4_K, q4_K)
    AVX2_QUANT(WK_Q5_K, q5_K) AVX2_QUANT(WK_Q6_K, q6_K) AVX2_QUANT(WK_Q8_K, q8_K)
    AVX2_QUANT(WK_IQ4_NL, iq4_nl) AVX2_QUANT(WK_IQ4_XS, iq4_xs)
#undef AVX2_QUANT
#define AVX2_DOT(type, name) avx2_types[type].vec_dot = wk_vec_dot_##name##_avx2;
    AVX2_DOT(WK_F32, f32) AVX2_DOT(WK_F16, f16) AVX2_DOT(WK_BF16, bf16)
    AVX2_DOT(WK_Q4_0, q4_0) AVX2_DOT(WK_Q4_1, q4_1) AVX2_DOT(WK_Q5_0, q5_0)
    AVX2_DOT(WK_Q5_1, q5_1) AVX2_DOT(WK_Q8_0, q8_0) AVX2_DOT(WK_IQ4_NL, iq4_nl)
    AVX2_DOT(WK_Q2_K, q2_K) AVX2_DOT(WK_Q3_K, q3_K) AVX2_DOT(WK_Q4_K, q4_K)
    AVX2_DOT(WK_Q5_K, q5_K) AVX2_DOT(WK_Q6_K, q6_K) AVX2_DOT(WK_IQ4_XS, iq4_xs)
#undef AVX2_DOT
#define AVX2_LEVELS(type, name) avx2_types[type].levels = wk_levels_##name##_avx2;
    AVX2_LEVELS(WK_Q4_0, q4_0) AVX2_LEVELS(WK_Q4_1, q4_1) AVX2_LEVELS(WK_Q5_0, q5_0)
    AVX2_LEVELS(WK_Q5_1, q5_1) AVX2_LEVELS(WK_Q8_0, q8_0) AVX2_LEVELS(WK_IQ4_NL, iq4_nl)
    AVX2_LEVELS(WK_Q2_K, q2_K) AVX2_LEVELS(WK_Q3_K, q3_K) AVX2_LEVELS(WK_Q4_K, q4_K)
    AVX2_LEVELS(WK_Q5_K, q5_K) AVX2_LEVELS(WK_Q6_K, q6_K) AVX2_LEVELS(WK_IQ4_XS, iq4_xs)
#undef AVX2_LEVELS
    for (int t = 0; t < WK_DTYPE_COUNT; t++) /* a twin multiplies with the same activations */
        avx2_types[t].vec_dot_type = ref_types[t].vec_dot_type;
    avx2_kernels = (wk_cpu_kernels){.stats_block = wk_stats_block_avx2,
                                    .first_nonfinite = wk_first_nonfinite_avx2,
                                    .row_error = wk_row_error_avx2,
                                    .gemm_f32 = wk_gemm_f32_avx2, .gemm_q8 = wk_gemm_q8_avx2,
                                    .cols_dot = wk_cols_dot_avx2,
                                    .rows_wsum = wk_rows_wsum_avx2, .softmax = wk_softmax_avx2,
                                    .swiglu = wk_swiglu_avx2};
    memcpy(avx512_types, avx2_types, sizeof avx512_types);
#define AVX512_MATVEC(type, prep, name)                                                          \
    avx512_types[type].matvec_prep_size = wk_matvec_prep_size_##prep##_avx512;                   \
    avx512_types[type].matvec_prep = wk_matvec_prep_##prep##_avx512;                             \
    avx512_types[type].matvec = wk_matvec_##name##_avx512;
    AVX512_MATVEC(WK_Q4_0, q4_0, q4_0) AVX512_MATVEC(WK_Q8_0, q8_0, q8_0)
    AVX512_MATVEC(WK_Q4_K, q8_K, q4_K)
    AVX512_MATVEC(WK_Q6_K, q8_K, q6_K) AVX512_MATVEC(WK_F32, f32, f32)
    AVX512_MATVEC(WK_F16, f32, f16) AVX512_MATVEC(WK_BF16, f32, bf16)
#undef AVX512_MATVEC
    avx512_kernels = avx2_kernels;
    avx512_kernels.gemm_f32 = wk_gemm_f32_avx512;
    avx512_kernels.gemm_q8 = wk_gemm_q8_avx512;
    avx512_kernels.gemm_f16 = wk_gemm_f16_avx512;
    avx512_kernels.cols_dot = wk_cols_dot_avx512;
    avx512_kernels.rows_wsum = wk_rows_wsum_avx512;

    have_avx2 = wk_cpu_has_avx2();
    have_avx512 = wk_cpu_has_avx512();
    memcpy(chosen_types, ref_types, sizeof chosen_types);
    chosen_kernels = ref_kernels;
    if (!have_avx2)
        return;
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        if (avx2_types[t].to_float)
            chosen_types[t].to_float = avx2_types[t].to_float;
        if (avx2_types[t].from_float)
            chosen_types[t].from_float = avx2_types[t].from_float;
        if (avx2_types[t].quantize)
            chosen_types[t].quantize = avx2_types[t].quantize;
        if (avx2_types[t].vec_dot)
            chosen_types[t].vec_dot = avx2_types[t].vec_dot;
        if (avx2_types[t].levels)
            chosen_types[t].levels = avx2_types[t].levels;
        if (have_avx512 && avx512_types[t].matvec) {
            chosen_types[t].matvec_prep_size = avx512_types[t].matvec_prep_size;
            chosen_types[t].matvec_prep = avx512_types[t].matvec_prep;
            chosen_types[t].matvec = avx512_types[t].matvec;
        }
    }
    chosen_kernels = have_avx512 ? avx512_kernels : avx2_kernels;
}

const wk_cpu_type_traits *wk_cpu_type_variant(wk_dtype t, wk_cpu_variant v)
{
    pthread_once(&once, fill_tables);
    if ((unsigned)t >= WK_DTYPE_COUNT)
        return NULL;
    switch (v) {
    case WK_CPU_REF:
        return &ref_types[t];
    case WK_CPU_AVX2:
        return have_avx2 ? &avx2_types[t] : NULL;
    case WK_CPU_AVX512:
        return have_avx512 ? &avx512_types[t] : NULL;
    default:
        return &chosen_types[t];
    }
}

const wk_cpu_kernels *wk_cpu_kernels_variant(wk_cpu_variant v)
{
    pthread_once(&once, fill_tables);
    switch (v) {
    case WK_CPU_REF:
        return &ref_kernels;
    case WK_CPU_AVX2:
        return have_avx2 ? &avx2_kernels : NULL;
    case WK_CPU_AVX512:
        return have_avx512 ? &avx512_kernels : NULL;
    default:
        return &chosen_kernels;
    }
}

const wk_cpu_type_traits *wk_cpu_type(wk_dtype t)
{
    return wk_cpu_type_variant(t, WK_CPU_CHOSEN);
}

const wk_cpu_kernels *wk_cpu_kernels_get(void)
{
    return wk_cpu_kernels_variant(WK_CPU_CHOSEN);
}

/* Floats decoded at a time: 4 KiB, in L1 between the decode and the encode. */
#define CONVERT_FLOATS 1024

void wk_cpu_convert(const void *src, wk_dtype src_type, void *dst, wk_dtype dst_type,
                    int64_t n)
{
    const wk_type_traits *st = wk_type(src_type), *dt = wk_type(dst_type);
    if (src_type == dst_type) {
        memcpy(dst, src, (size_t)n / st->block_size * st->type_size);
        return;
    }
    wk_to_float_fn decode = wk_cpu_type(src_type)->to_float;
    wk_from_float_fn encode = wk_cpu_type(dst_type)->from_float;
    if (src_type == WK_F32) {
        encode(src, dst, n);
        return;
    }
    if (dst_type == WK_F32) {
        decode(src, dst, n);
        return;
    }
    /* a step that is a multiple of both block sizes (powers of two up to 256 here) */
    int64_t step = CONVERT_FLOATS - CONVERT_FLOATS % (st->block_size > dt->block_size
                                                          ? st->block_size : dt->block_size);
    float buf[CONVERT_FLOATS];
    for (int64_t i = 0; i < n; i += step) {
        int64_t m = n - i < step ? n - i : step;
        decode((const uint8_t *)src + i / st->block_size * st->type_size, buf, m);
        encode(buf, (uint8_t *)dst + i / dt->block_size * dt->type_size, m);
    }
}
