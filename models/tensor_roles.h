/* Tensor roles: what a tensor is for in the model, named once.
 *
 * One row per role gives its GGUF name (llama.cpp's gguf-py constants.py, TENSOR_NAMES: a
 * per-layer role is "blk.<i>.<name>.<suffix>", a model-wide one "<name>.<suffix>") and its
 * category for parameter counts. Families map roles to their Hugging Face names in their own
 * file (models/llama.c); everything else -- the conversion plan, name translation between
 * the two namings, categories -- is derived from this table and those maps. */
#ifndef WK_MODELS_TENSOR_ROLES_H
#define WK_MODELS_TENSOR_ROLES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum wk_category {
    WK_CAT_EMBEDDING,
    WK_CAT_ATTENTION,
    WK_CAT_FEEDFORWARD,
    WK_CAT_NORM,
    WK_CAT_BIAS,
    WK_CAT_OUTPUT,
    WK_CAT_OTHER,
    WK_CAT_COUNT
} wk_category;

const char *wk_category_name(wk_category c); /* "embedding", "attention", ... */

typedef enum wk_role {
    WK_ROLE_TOKEN_EMBD,
    WK_ROLE_ROPE_FREQS,
    WK_ROLE_OUTPUT_NORM,
    WK_ROLE_OUTPUT,
    WK_ROLE_ATTN_NORM,
    WK_ROLE_ATTN_Q,
    WK_ROLE_ATTN_K,
    WK_ROLE_ATTN_V,
    WK_ROLE_ATTN_OUT,
    WK_ROLE_FFN_NORM,
    WK_ROLE_FFN_GATE,
    WK_ROLE_FFN_UP,
    WK_ROLE_FFN_DOWN,
    WK_ROLE_COUNT
} wk_role;

typedef struct wk_role_info {
    const char *gguf;     /* "attn_q" */
    bool per_layer;       /* lives in blk.<i>. */
    wk_category category; /* of its weight; a ".bias" is always WK_CAT_BIAS */
} wk_role_info;

const wk_role_info *wk_role_get(wk_role r);

/* "blk.3.attn_q.weight" -> role, layer (-1 for model-wide roles) and the suffix after the
 * role's name ("weight"). Returns 0, or -1 when the name is not a GGUF role name. */
int wk_role_parse_gguf(const char *name, wk_role *role, int *layer, const char **suffix);
/* The GGUF name of a role: "blk.<layer>.<gguf>.<suffix>" or "<gguf>.<suffix>". */
void wk_role_gguf_name(wk_role r, int layer, const char *suffix, char *out, size_t len);

#endif
