/* The Llama family as GGUF architecture `llama` (LlamaForCausalLM, and MistralForCausalLM
 * without a sliding window): config.json -> hyperparameters -> `llama.*` keys, and the
 * tensor list with HF -> GGUF names. Keys and their types follow llama.cpp's
 * convert_hf_to_gguf.py (TextModel/LlamaModel set_gguf_parameters, generate_extra_tensors)
 * and gguf-py/gguf/constants.py; what llama.cpp's loader requires is in src/llama-model.cpp. */
#ifndef WK_MODELS_LLAMA_H
#define WK_MODELS_LLAMA_H

#include <stdbool.h>
#include <stdint.h>

#include "models/arch.h"
#include "models/rope.h"

typedef struct wk_llama_hparams {
    uint32_t n_vocab, n_ctx, n_embd, n_layer, n_ff, n_head, n_head_kv, head_dim;
    bool head_dim_given;      /* config named head_dim: write attention.key/value_length */
    float rms_eps, rope_theta;
    bool tie_embeddings, attention_bias, mlp_bias;
    wk_rope_scaling rope;
} wk_llama_hparams;

int wk_llama_hparams_load(const wk_hf_config *c, wk_llama_hparams *hp, wk_err *e);

extern const wk_arch wk_arch_llama;

/* The forward pass (models/llama_forward.c): wk_arch_llama's engine hooks (models/arch.h). */
int wk_llama_load(wk_source *gguf, void **model, wk_model_info *info, wk_err *e);
void wk_llama_unload(void *model);
int wk_llama_state_new(const void *model, uint32_t n_ctx, uint32_t n_batch, void **state,
                       wk_err *e);
void wk_llama_state_free(void *state);
void wk_llama_forward(const void *model, void *state, const int32_t *tokens, int n, int pos,
                      float *logits, bool all);
void wk_llama_embed(const void *model, const int32_t *tokens, int n, float *x);
void wk_llama_layer(const void *model, void *state, uint32_t l, float *x, int n, int pos,
                    wk_capture_fn capture, void *ctx);
int wk_llama_set_weight(void *model, uint32_t l, wk_role role, const void *data, wk_dtype type,
                        wk_err *e);

#ifdef WK_CUDA
/* The forward pass on an NVIDIA GPU (models/llama_cuda.c, built by make CUDA=1). */
extern const wk_arch_device wk_llama_cuda;
#endif

#endif
