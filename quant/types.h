/* The one table of tensor element types.
 *
 * Every element type weightkit meets -- the dtypes of safetensors and PyTorch checkpoints
 * and the ggml types stored in GGUF -- has one row here: its names, its ggml id (when ggml
 * has one), elements per block, bytes per block (sizeof the block struct of quant/blocks.h),
 * and the scalar reference conversions to and from float. Code asks this table instead of
 * switching on types. Plain types have block_size 1. A NULL to_float means "cannot decode
 * this type (yet)", a NULL from_float "cannot encode it".
 *
 * These are the portable references. The fastest implementation for this CPU (AVX2 twins,
 * dot products) is in the CPU traits of kernels/traits.h, as ggml splits type_traits from
 * type_traits_cpu; tests hold the two bit-exact. */
#ifndef WK_QUANT_TYPES_H
#define WK_QUANT_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef enum wk_dtype {
    WK_F32,
    WK_F16,
    WK_BF16,
    WK_F64,
    WK_I8,
    WK_I16,
    WK_I32,
    WK_I64,
    WK_U8,
    WK_U16,
    WK_U32,
    WK_U64,
    WK_BOOL,
    WK_F8_E4M3,
    WK_F8_E5M2,
    WK_Q4_0,
    WK_Q4_1,
    WK_Q5_0,
    WK_Q5_1,
    WK_Q8_0,
    WK_Q8_1,
    WK_Q2_K,
    WK_Q3_K,
    WK_Q4_K,
    WK_Q5_K,
    WK_Q6_K,
    WK_Q8_K,
    WK_IQ2_XXS,
    WK_IQ2_XS,
    WK_IQ3_XXS,
    WK_IQ1_S,
    WK_IQ4_NL,
    WK_IQ3_S,
    WK_IQ2_S,
    WK_IQ4_XS,
    WK_IQ1_M,
    WK_TQ1_0,
    WK_TQ2_0,
    WK_DTYPE_COUNT
} wk_dtype;

/* Decodes n elements (n a multiple of block_size) starting at src into dst. */
typedef void (*wk_to_float_fn)(const void *src, float *dst, int64_t n);
/* Encodes n floats (n a multiple of block_size) into dst. */
typedef void (*wk_from_float_fn)(const float *src, void *dst, int64_t n);
/* The same for a quantized type, with importance: NULL, or n weights (one row), the
 * imatrix values of quant/quantize.h. */
typedef void (*wk_quantize_fn)(const float *src, void *dst, int64_t n, const float *importance);

typedef struct wk_type_traits {
    const char *name;         /* "F32", "BF16", "Q4_K": safetensors spelling for plain types,
                                 ggml spelling for ggml-only types */
    const char *torch_name;   /* "float32", ... for PyTorch dtypes; NULL when torch has none */
    int ggml_id;              /* ggml_type value, or -1 when ggml has no such type */
    bool in_safetensors;      /* a dtype the safetensors format defines */
    bool is_quantized;        /* a ggml block type (blocks of scales and quants) */
    uint32_t block_size;      /* elements per block */
    uint32_t type_size;       /* bytes per block */
    wk_to_float_fn to_float;  /* scalar reference decoder; NULL: cannot decode (yet) */
    wk_from_float_fn from_float; /* scalar reference encoder; NULL: cannot encode (yet) */
    wk_quantize_fn quantize;  /* quantized types: the encoder with importance, else NULL */
} wk_type_traits;

const wk_type_traits *wk_type(wk_dtype t);

/* Look-ups; return 0 and set *out, or -1 when unknown. */
int wk_type_from_ggml(uint32_t ggml_id, wk_dtype *out);
int wk_type_from_safetensors(const char *name, wk_dtype *out);
/* Any name of the table ("Q4_K", "bf16", "float16"), case-insensitive. */
int wk_type_from_name(const char *name, wk_dtype *out);

/* Bytes taken by n elements of type t; fails when n is not a multiple of the block size or
 * the byte count overflows 64 bits. */
int wk_type_nbytes(wk_dtype t, uint64_t n, uint64_t *out, wk_err *e);

/* Overflow-checked products for shape arithmetic: return 0, or -1 on overflow. */
int wk_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
int wk_add_u64(uint64_t a, uint64_t b, uint64_t *out);

#endif
