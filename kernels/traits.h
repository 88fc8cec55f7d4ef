/* The CPU traits: for each tensor type, the fastest implementation this CPU runs, chosen
 * once at start-up (as ggml keeps type_traits_cpu beside the portable type_traits).
 *
 * quant/types.h describes a type and holds its portable scalar reference; this table holds
 * what to call on this machine: the AVX2/F16C twin when the CPU has AVX2, FMA and F16C (and
 * WK_NO_SIMD is unset), else the reference; where the CPU also has AVX-512 with VNNI (and
 * WK_NO_AVX512 is unset), the kernels of kernels/avx512/ (the tiled products'
 * micro-kernels, F16 rows in place among them, batched attention, decoding's
 * matrix-vector products of some types). Type-independent kernels (the moments of
 * wk-inspect --stats) are chosen the same way. Everything outside kernels/ calls through
 * here and never names an _avx2 function. */
#ifndef WK_KERNELS_TRAITS_H
#define WK_KERNELS_TRAITS_H

#include <stddef.h>

#include "kernels/dot.h"
#include "kernels/gemm.h"
#include "kernels/rowcheck.h"
#include "kernels/stats.h"
#include "kernels/vec.h"
#include "quant/types.h"

typedef struct wk_cpu_type_traits {
    wk_to_float_fn to_float;     /* NULL: cannot decode */
    wk_from_float_fn from_float; /* NULL: cannot encode */
    wk_quantize_fn quantize;     /* quantized types: encode with importance; else NULL */
    wk_vec_dot_fn vec_dot;       /* weight row . activation row (kernels/dot.h), or NULL */
    wk_dtype vec_dot_type;       /* the activations' type for vec_dot */
    wk_levels_fn levels;         /* quantized types with vec_dot: canonical int8 levels (gemm.h) */
    wk_matvec_prep_size_fn matvec_prep_size; /* decoding's one-row product (dot.h), */
    wk_matvec_prep_fn matvec_prep;           /* where this set has one; else NULL */
    wk_matvec_fn matvec;
} wk_cpu_type_traits;

typedef void (*wk_stats_block_fn)(wk_moments *acc, const float *x, size_t n);

typedef struct wk_cpu_kernels {
    wk_stats_block_fn stats_block;
    int64_t (*first_nonfinite)(const float *x, int64_t n);
    void (*row_error)(const float *x, const float *y, int64_t n, wk_row_error *acc);
    wk_gemm_f32_fn gemm_f32; /* the tiled products' micro-kernels (gemm.h): SIMD only, */
    wk_gemm_q8_fn gemm_q8;   /* NULL in the reference set */
    wk_gemm_f16_fn gemm_f16; /* F16 rows in place (AVX-512 only; else NULL: decoded to F32) */
    /* attention over a KV cache (vec.h) */
    void (*cols_dot)(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                     int64_t rows, int64_t n, float scale, float *out, int64_t ldo);
    void (*rows_wsum)(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                      int64_t rows, int64_t n, float *out, int64_t ldo);
    void (*softmax)(float *x, int64_t n);
    void (*swiglu)(float *gate, const float *up, int64_t n);
} wk_cpu_kernels;

const wk_cpu_type_traits *wk_cpu_type(wk_dtype t);
const wk_cpu_kernels *wk_cpu_kernels_get(void);

/* Which implementation set: the one chosen for this CPU, or one named explicitly. */
typedef enum wk_cpu_variant {
    WK_CPU_CHOSEN,
    WK_CPU_REF,
    WK_CPU_AVX2,
    WK_CPU_AVX512 /* AVX2's set with the AVX-512 tiled products, batched attention and the
                     matrix-vector products of some types */
} wk_cpu_variant;

/* Test-only: the traits of a given variant, so tests can hold every SIMD twin against its
 * reference. Entries that a variant does not implement are NULL; WK_CPU_AVX2 returns NULL
 * when this CPU lacks AVX2/FMA/F16C, WK_CPU_AVX512 when it lacks AVX-512 F/BW/VL/VNNI. */
const wk_cpu_type_traits *wk_cpu_type_variant(wk_dtype t, wk_cpu_variant v);
const wk_cpu_kernels *wk_cpu_kernels_variant(wk_cpu_variant v);

/* Converts n elements from one type to another through the table: a copy when the types are
 * equal, else decode and encode through a small float buffer. Both types must be able to
 * (when different: src decodable, dst encodable); n is a multiple of both block sizes. */
void wk_cpu_convert(const void *src, wk_dtype src_type, void *dst, wk_dtype dst_type,
                    int64_t n);

#endif
