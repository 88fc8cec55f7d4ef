/* The Llama model as its forward passes see it: the hyperparameters, and the weights as
 * matrices pointing into the mapped GGUF (models/llama_forward.c loads them). Private to the
 * family's forward passes: the CPU one (llama_forward.c) and the CUDA one (llama_cuda.c),
 * which uploads these same weights to the device. */
#ifndef WK_MODELS_LLAMA_MODEL_H
#define WK_MODELS_LLAMA_MODEL_H

#include <stddef.h>

#include "formats/source.h"
#include "kernels/matmul.h"
#include "kernels/rope.h"
#include "models/llama.h"

typedef struct llama_layer {
    const float *attn_norm, *ffn_norm;     /* (dim) */
    wk_matrix wq, wk, wv, wo;              /* (n_head * hd, dim), (kv_dim, dim) x 2, (dim, n_head * hd) */
    const float *bq, *bk, *bv, *bo;        /* optional biases */
    wk_matrix w_gate, w_up, w_down;        /* (ff, dim) x 2, (dim, ff) */
} llama_layer;

typedef struct llama_model {
    wk_llama_hparams hp;
    wk_rope rope;
    wk_matrix token_embd, output;          /* (vocab, dim); output is token_embd when tied */
    const float *output_norm;
    llama_layer *layers;
    wk_view *views;                        /* the tensors' bytes, released at unload */
    size_t n_views;
} llama_model;

#endif
