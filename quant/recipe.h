/* Quantization recipes: which type each tensor of a model gets for a llama.cpp file type
 * ("Q4_K_M"), as data.
 *
 * A recipe names its base type and a short list of rules, each bumping one kind of tensor
 * to another type under a condition on its layer (llama.cpp's use_more_bits, "the first
 * eighth", ...). The choices follow llama.cpp's llama_tensor_get_type_impl
 * (src/llama-quant.cpp) for dense models, so a file made with a recipe has the mix a user of
 * llama-quantize expects. Then the caller's overrides apply, then the fallback for rows the
 * chosen block does not divide. docs/quantization.md lists every recipe. */
#ifndef WK_QUANT_RECIPE_H
#define WK_QUANT_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/types.h"

/* The kinds of tensor recipes treat differently. */
typedef enum wk_recipe_target {
    WK_RT_OTHER,      /* every other matrix */
    WK_RT_TOKEN_EMBD,
    WK_RT_OUTPUT,     /* output.weight, or the token embeddings when they are tied to it */
    WK_RT_ATTN_V,
    WK_RT_ATTN_OUTPUT,
    WK_RT_FFN_DOWN,
} wk_recipe_target;

typedef enum wk_recipe_when {
    WK_WHEN_ALWAYS,
    WK_WHEN_MORE_BITS,          /* i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 */
    WK_WHEN_FIRST,              /* i < arg */
    WK_WHEN_FIRST_EIGHTH,       /* i < n/8 */
    WK_WHEN_FIRST_SIXTEENTH,    /* i < n/16 */
    WK_WHEN_GQA_AT_LEAST,       /* heads / kv heads >= arg */
    WK_WHEN_IMATRIX_FIRST_EIGHTH,    /* with an imatrix, i < n/8 */
    WK_WHEN_NO_IMATRIX_FIRST_EIGHTH, /* without one, i < n/8 */
} wk_recipe_when;

typedef struct wk_recipe_rule {
    wk_recipe_target target;
    wk_recipe_when when;
    int arg;
    wk_dtype type;
} wk_recipe_rule;

#define WK_RECIPE_MAX_RULES 6

typedef struct wk_recipe {
    const char *name;  /* the llama.cpp file type it makes (quant/ftype.h) */
    wk_dtype base;     /* every quantizable matrix without a rule */
    wk_dtype output;   /* WK_RT_OUTPUT */
    wk_recipe_rule rules[WK_RECIPE_MAX_RULES]; /* per target, the first that holds wins */
    int n_rules;
    const char *summary; /* one line for docs and --help */
} wk_recipe;

/* By name, case-insensitive ("q4_k_m"); NULL when unknown. */
const wk_recipe *wk_recipe_find(const char *name);
/* The recipes in order, NULL-terminated. */
extern const wk_recipe *const wk_recipes[];

/* What the recipe needs to know about one tensor and its model. */
typedef struct wk_recipe_tensor {
    wk_recipe_target target;
    int layer, n_layers; /* layer of a per-layer tensor; -1 outside the blocks */
    uint32_t n_gqa;      /* attention heads per kv head (1 when unknown) */
    bool has_imatrix;
} wk_recipe_tensor;

/* The type recipe r gives tensor t, and in why (when not NULL) the rule that chose it
 * ("ffn_down in a more-bits layer"), or "" for the base type. */
wk_dtype wk_recipe_type(const wk_recipe *r, const wk_recipe_tensor *t, const char **why);

/* The type that replaces t for rows of `cols` values that t's block does not divide, as
 * llama.cpp falls back (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0,
 * IQ4_XS -> IQ4_NL), then F16 when even that block does not divide (llama.cpp stops there
 * for the 32-blocks; F16 always fits). Returns t itself when it fits. */
wk_dtype wk_recipe_fallback(wk_dtype t, uint64_t cols);

#endif
