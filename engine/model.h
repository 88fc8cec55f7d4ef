/* A model for inference: a GGUF opened, its family's weights pointing into the mapping, and
 * sessions that run tokens through it with a KV cache.
 *
 * The family comes from general.architecture through the registry (models/arch.h); its
 * forward pass (models/<family>_forward.c) does the work, on the CPU, or on an NVIDIA GPU
 * through the family's CUDA backend (models/<family>_cuda.c, in a build made with
 * make CUDA=1), which uploads the same weights once. A session holds the state of one
 * sequence: tokens are appended, the logits of every new token (scoring a text) or of the
 * last (generating) come back. Long inputs are run in batches of n_batch tokens. */
#ifndef WK_ENGINE_MODEL_H
#define WK_ENGINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/tokenizer.h"
#include "formats/source.h"
#include "models/arch.h"

/* Where the forward pass runs. */
typedef enum wk_device { WK_DEVICE_CPU, WK_DEVICE_CUDA } wk_device;

/* "cpu" or "cuda" (case-insensitive) -> *out; -1 otherwise. */
int wk_device_from_name(const char *name, wk_device *out);
const char *wk_device_name(wk_device d);
/* The option callback of --device (common/cli.h's WK_OPT_CALL; target a wk_device *):
 * "unknown --device 'x' (cpu, cuda)" for any other value. */
int wk_device_option(void *target, const char *value, wk_err *e);

typedef struct wk_model {
    char *path;
    wk_source *src;        /* the GGUF (a single file or a split set) */
    const wk_arch *arch;
    void *impl;            /* the family's model */
    wk_model_info info;
    wk_vocab *vocab;       /* the tokenizer; NULL when the file has none (vocab_error says why) */
    wk_err vocab_error;
    wk_device device;
    const wk_arch_device *backend; /* the family's device backend; NULL on the CPU */
    void *dev;             /* the backend's model (weights in device memory) */
} wk_model;

/* Opens a GGUF for inference on the CPU; errors name a file that is not a GGUF, an
 * architecture without a forward pass, or a tensor of a type or shape the engine cannot
 * run. */
int wk_model_open(const char *path, wk_model **out, wk_err *e);
/* The same on a device: for CUDA, fails first (before reading the file) in a build without
 * CUDA support, then with the backend's errors (no driver, no device, a type it cannot run,
 * not enough device memory). */
int wk_model_open_on(const char *path, wk_device device, wk_model **out, wk_err *e);
/* One line on where the model runs: "CPU, 16 threads", "CUDA device 0: NVIDIA H200, ...". */
void wk_model_describe_device(const wk_model *m, char *buf, size_t len);
void wk_model_close(wk_model *m);
/* The model's tokenizer, or NULL with the reason (no tokenizer.* metadata, an unsupported
 * one) in e. */
const wk_vocab *wk_model_vocab(const wk_model *m, wk_err *e);

typedef struct wk_session {
    const wk_model *model;
    void *state;
    uint32_t n_ctx, n_batch;
    uint32_t pos;          /* tokens in the cache */
} wk_session;

/* n_ctx 0: the model's training context; n_batch 0: 512 tokens per forward pass. */
int wk_session_new(const wk_model *m, uint32_t n_ctx, uint32_t n_batch, wk_session **out,
                   wk_err *e);
void wk_session_free(wk_session *s);
void wk_session_reset(wk_session *s);
/* Appends n tokens and writes logits: every token's (n x n_vocab) when all, else the last
 * token's. Fails (changing nothing) on a token outside the vocabulary or a context that would
 * overflow; on a device, also when the device reports an error (the session is then of no
 * further use). */
int wk_session_eval(wk_session *s, const int32_t *tokens, int n, float *logits, bool all,
                    wk_err *e);

#endif
