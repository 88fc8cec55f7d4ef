/* A model for inference: a GGUF opened, its family's weights pointing into the mapping, and
 * sessions that run tokens through it with a KV cache.
 *
 * The family comes from general.architecture through the registry (models/arch.h); its
 * forward pass (models/<family>_forward.c) does the work. A session holds the state of one
 * sequence: tokens are appended, the logits of every new token (scoring a text) or of the
 * last (generating) come back. Long inputs are run in batches of n_batch tokens. */
#ifndef WK_ENGINE_MODEL_H
#define WK_ENGINE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/tokenizer.h"
#include "formats/source.h"
#include "models/arch.h"

typedef struct wk_model {
    char *path;
    wk_source *src;        /* the GGUF (a single file or a split set) */
    const wk_arch *arch;
    void *impl;            /* the family's model */
    wk_model_info info;
    wk_vocab *vocab;       /* the tokenizer; NULL when the file has none (vocab_error says why) */
    wk_err vocab_error;
} wk_model;

/* Opens a GGUF for inference; errors name a file that is not a GGUF, an architecture
 * without a forward pass, or a tensor of a type or shape the engine cannot run. */
int wk_model_open(const char *path, wk_model **out, wk_err *e);
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
 * overflow. */
int wk_session_eval(wk_session *s, const int32_t *tokens, int n, float *logits, bool all,
                    wk_err *e);

#endif
