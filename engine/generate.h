/* Generating text: a prompt's tokens are run through a session in one batched prefill, then
 * tokens are sampled and fed back one at a time (decode) until n_predict, an end-of-generation
 * token (unless ignored) or a full context. The prompt and each new token are passed on as
 * text the moment their UTF-8 is complete; the logits of every evaluated position can be
 * written to a .npy file as they come (row i: the distribution after the sequence's token i,
 * from which token i + 1 was drawn). */
#ifndef WK_ENGINE_GENERATE_H
#define WK_ENGINE_GENERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "engine/model.h"
#include "engine/sample.h"
#include "engine/tokenizer.h"

typedef struct wk_gen_opts {
    int n_predict;           /* new tokens at most; 0: only run the prompt */
    wk_sampler sampler;
    bool ignore_eos;         /* keep going after an end-of-generation token */
    bool echo_prompt;        /* emit the prompt's text first */
    const char *logits_path; /* NULL: no logits file */
} wk_gen_opts;

typedef struct wk_gen_stats {
    int n_prompt, n_generated;
    double prefill_s, decode_s; /* wall time in the forward passes (and sampling) */
    double pass_median_s;       /* the median decode forward pass (0: none ran): unlike the
                                   mean, not moved by a few passes the machine held up */
    bool hit_eog, hit_ctx;      /* why generation stopped early */
} wk_gen_stats;

/* Receives text as it is completed; returns non-zero to stop (e.g. a write error). */
typedef int (*wk_gen_emit)(const char *text, size_t len, void *ctx);

/* Runs prompt[0..n_prompt) from an empty session, then generates. Errors: a prompt longer
 * than the session's context, or the logits file. */
int wk_generate(wk_session *s, const wk_vocab *tok, const wk_token *prompt, int n_prompt,
                const wk_gen_opts *o, wk_gen_emit emit, void *ctx, wk_gen_stats *st,
                wk_err *e);

#endif
