/* Tensor name -> (layer, category), for Hugging Face names (Llama, Mistral, Mixtral, Qwen2,
 * Gemma, GPT-2) and GGUF names. Any tensor whose name ends in ".bias" is a bias. */
#ifndef WK_FORMATS_TENSOR_NAMES_H
#define WK_FORMATS_TENSOR_NAMES_H

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

/* *layer is set to the block index, or -1 for tensors outside the blocks. */
wk_category wk_tensor_category(const char *name, int *layer);
const char *wk_category_name(wk_category c); /* "embedding", "attention", ... */

#endif
