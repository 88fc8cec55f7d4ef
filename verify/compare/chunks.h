/* Cutting an evaluation text into the chunks every model is scored on, as llama.cpp's
 * llama-perplexity does (so its figures and ours are comparable): the text is tokenized
 * once, BOS first when the vocabulary adds one; chunk i is tokens [i n_ctx, (i + 1) n_ctx)
 * with its first token replaced by BOS; within a chunk the logits of positions
 * first = n_ctx / 2 .. n_ctx - 2 are scored against the token that follows each, so every
 * scored token has at least n_ctx / 2 tokens of context. */
#ifndef WK_VERIFY_COMPARE_CHUNKS_H
#define WK_VERIFY_COMPARE_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/tokenizer.h"

typedef struct wk_chunks {
    wk_token *tokens;  /* n_chunks x n_ctx, as evaluated (BOS in front of each) */
    uint32_t n_ctx, n_chunks, first;
    uint64_t n_text_tokens; /* the whole text's, before cutting */
} wk_chunks;

/* Tokenizes text[0..len) with v and cuts n_chunks = min(max_chunks (0: all), tokens /
 * n_ctx) chunks. Fails when the text holds less than one chunk (saying how many tokens it
 * has and needs). */
int wk_chunks_make(const wk_vocab *v, const char *text, size_t len, uint32_t n_ctx,
                   uint32_t max_chunks, wk_chunks *out, wk_err *e);
void wk_chunks_free(wk_chunks *c);
/* Positions scored per chunk: n_ctx - 1 - first. */
uint32_t wk_chunks_scored(const wk_chunks *c);

#endif
