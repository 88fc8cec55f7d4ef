/* Model families ("architectures") and their registry.
 *
 * Adding a family (Mistral with sliding windows, Qwen2, Gemma, GPT-2, ...):
 *   1. Write models/<family>.c: its hyperparameters read from config.json with the shared
 *      getters (models/hparams.h) and, when it has RoPE scaling, models/rope.h; its
 *      `<arch>.*` GGUF keys; the HF name of each tensor role it has (hf_names below; add a
 *      role to models/tensor_roles.c if the family brings a new kind of tensor); its plan()
 *      listing every tensor the config implies; later its forward pass for the engine.
 *   2. Declare `extern const wk_arch wk_arch_<family>;` in models/<family>.h and add it to
 *      the list in models/arch.c.
 *   3. Tests: tests/unit/models/test_<family>.c for the config rules and the plan, and an
 *      end-to-end conversion checked by llama.cpp (tests/e2e/test_convert.py shows how).
 * Nothing else changes: conversion, name translation and categories use the registry. */
#ifndef WK_MODELS_ARCH_H
#define WK_MODELS_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/gguf/gguf.h"
#include "formats/hf_config.h"
#include "formats/source.h"
#include "models/plan.h"
#include "models/tensor_roles.h"

/* What the engine needs to know of a loaded model. */
typedef struct wk_model_info {
    uint32_t n_vocab, n_ctx_train, n_embd, n_layer;
} wk_model_info;

/* What the quantization recipes ask of a model. */
typedef struct wk_model_shape {
    uint32_t n_layer, n_head, n_head_kv;
} wk_model_shape;

/* What a layer's matrix is about to multiply: n rows of cols activations (wk_arch.layer). */
typedef void (*wk_capture_fn)(void *ctx, uint32_t layer, wk_role role, const float *x, int n,
                              int64_t cols);

/* A family's forward pass on an accelerator (models/<family>_cuda.c), beside the CPU hooks
 * of wk_arch: the same sessions and the same results (within float rounding), with the
 * weights and the KV cache in device memory. */
typedef struct wk_arch_device {
    /* Uploads the weights of model (the family's CPU model, loaded by wk_arch.load, which
     * stays loaded) to the device; *dev is the backend's model. Errors name a missing or too
     * old driver, a missing device, a weight type the backend cannot run, and a model larger
     * than the device's free memory (with both sizes). */
    int (*load)(const void *model, void **dev, wk_err *e);
    void (*unload)(void *dev);
    /* "CUDA device 0: NVIDIA H200, 139.8 GiB" */
    void (*describe)(const void *dev, char *buf, size_t len);
    /* As wk_arch's, in device memory; fails when the cache does not fit. */
    int (*state_new)(const void *dev, uint32_t n_ctx, uint32_t n_batch, void **state,
                     wk_err *e);
    void (*state_free)(void *state);
    /* As wk_arch's forward (the logits land in host memory), but a device can fail at run
     * time: -1 with the device's error in e. */
    int (*forward)(const void *dev, void *state, const int32_t *tokens, int n, int pos,
                   float *logits, bool all, wk_err *e);
} wk_arch_device;

typedef struct wk_arch {
    const char *name;              /* GGUF general.architecture */
    const char *const *hf_archs;   /* config.json architectures[0] values; NULL-terminated */
    /* Hugging Face names of the roles the family has, without the ".weight"/".bias" suffix:
     * model-wide roles in full ("model.embed_tokens"), per-layer roles after
     * hf_layer_prefix and the layer number ("self_attn.q_proj"); NULL: no such role. */
    const char *hf_names[WK_ROLE_COUNT];
    const char *hf_layer_prefix;   /* "model.layers." */
    /* Reads and checks the hyperparameters (a heap object in *hp) and lists the tensors. */
    int (*plan)(const wk_hf_config *c, void **hp, wk_conv_plan *p, wk_err *e);
    int (*write_kv)(const void *hp, wk_gguf_writer *w, wk_err *e);
    bool (*ignored)(const char *hf_name); /* checkpoint tensors to skip silently */
    void (*shape)(const void *hp, wk_model_shape *out);

    /* The forward pass (the engine calls these; NULL for a family without one yet). */
    /* Reads the hyperparameters from a GGUF source's metadata and points the weights into its
     * mapping; *model is the family's own struct. */
    int (*load)(wk_source *gguf, void **model, wk_model_info *info, wk_err *e);
    void (*unload)(void *model);
    /* Activations for up to n_batch tokens at a time and a KV cache of n_ctx positions. */
    int (*state_new)(const void *model, uint32_t n_ctx, uint32_t n_batch, void **state,
                     wk_err *e);
    void (*state_free)(void *state);
    /* Runs tokens[0..n) (n <= n_batch) at positions pos .. pos + n - 1, the cache holding
     * 0 .. pos - 1; writes the logits of every token (n x n_vocab) when all, else of the last
     * token only. Token ids must be below n_vocab and pos + n at most n_ctx. */
    void (*forward)(const void *model, void *state, const int32_t *tokens, int n, int pos,
                    float *logits, bool all);
    /* The same pass a layer at a time, for tools that work between layers (wk-prune's
     * calibration): the embeddings of tokens[0..n) into x (n x n_embd); layer l on x in
     * place at positions pos .. pos + n - 1 (its part of the state's cache), showing each
     * matrix's input to capture (when not NULL) before the product; and replacing a layer
     * matrix's weights (same shape; data must outlive the model or the next replacement). */
    void (*embed)(const void *model, const int32_t *tokens, int n, float *x);
    void (*layer)(const void *model, void *state, uint32_t l, float *x, int n, int pos,
                  wk_capture_fn capture, void *ctx);
    int (*set_weight)(void *model, uint32_t l, wk_role role, const void *data, wk_dtype type,
                      wk_err *e);

    /* The forward pass on an NVIDIA GPU; NULL in a build without CUDA (make CUDA=1). */
    const wk_arch_device *cuda;
} wk_arch;

/* The registered families, NULL-terminated. */
extern const wk_arch *const wk_archs[];

/* The family that handles config c, or NULL with e naming the supported ones. */
const wk_arch *wk_arch_find(const wk_hf_config *c, wk_err *e);
/* The family of GGUF general.architecture name, or NULL. */
const wk_arch *wk_arch_by_name(const char *name);

/* Adds the tensor of role r (layer i for per-layer roles, ignored otherwise) with the given
 * suffix ("weight", "bias") to the plan, named in both namings from the family's table. */
wk_conv_tensor *wk_arch_plan_add(const wk_arch *a, wk_conv_plan *p, wk_role r, int i,
                                 const char *suffix, uint32_t n_dims, uint64_t d0, uint64_t d1,
                                 wk_err *e);

#endif
