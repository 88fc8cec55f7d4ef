/* Golden sets: prompts with the continuation a reference model gave them, checked later
 * against other models (quantized, pruned) to find where each one first stops agreeing.
 *
 * A golden file is JSONL, one object per prompt:
 *   {"prompt": "...", "expected": "...", "tokens": [ids], "min_match": N}
 * tokens (the expected continuation's ids) is authoritative when present; without it the
 * prompt and prompt + expected are tokenized by the checked model and the continuation is
 * what follows the prompt's tokens. min_match is the tolerance: how many leading tokens
 * must match for the prompt to pass (default: all of them).
 *
 * The check is teacher-forced: the prompt and the expected tokens go through the model in
 * one batched pass, and position i's argmax is compared with expected token i. Greedy
 * generation produces exactly the expected tokens up to the first position where that
 * argmax differs, so one pass finds the first divergence that generating would. Recording
 * is greedy generation from the reference, the end-of-generation token included when the
 * reference stops, so a candidate that runs on where the reference stopped diverges. */
#ifndef WK_VERIFY_COMPARE_GOLDEN_H
#define WK_VERIFY_COMPARE_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/model.h"

typedef struct wk_golden_item {
    unsigned line;          /* 1-based line of the file it came from */
    char *prompt;
    char *expected;         /* NULL when the line gave only tokens */
    bool has_tokens;        /* the line gave "tokens" (possibly []) */
    wk_token *tokens;       /* the continuation's ids as given */
    size_t n_tokens;
    long min_match;         /* -1: all of the continuation */
} wk_golden_item;

typedef struct wk_golden {
    char *path;             /* for messages: "path:line: ..." */
    wk_golden_item *items;
    size_t n;
} wk_golden;

/* A golden file's text (name is for messages). Errors name name:line and what was
 * expected: not a JSON object, a missing or empty prompt, neither expected nor tokens,
 * tokens that are not non-negative integers, an unknown key, a min_match that is not a
 * non-negative integer or exceeds the given tokens. Blank lines are skipped; no lines at
 * all is an error. */
int wk_golden_parse(const char *name, const char *text, size_t len, wk_golden *g, wk_err *e);
int wk_golden_load(const char *path, wk_golden *g, wk_err *e);
/* A prompts file: one prompt per line, or a JSON object per line whose "prompt" is taken
 * (other keys ignored, so a golden file serves); only prompts are filled in. */
int wk_golden_parse_prompts(const char *name, const char *text, size_t len, wk_golden *g,
                            wk_err *e);
int wk_golden_load_prompts(const char *path, wk_golden *g, wk_err *e);
/* The JSONL text of g (a line per item, each ending in '\n'); NULL when out of memory.
 * Text that is not valid UTF-8 is written with U+FFFD in place of the bad bytes. */
char *wk_golden_jsonl(const wk_golden *g);
/* Writes it to path through a temporary file renamed into place. */
int wk_golden_save(const wk_golden *g, const char *path, wk_err *e);
void wk_golden_free(wk_golden *g);

/* s[0..n) as valid UTF-8, each byte that does not start a well-formed sequence (and NUL)
 * replaced by U+FFFD, in a new string (NULL when out of memory). */
char *wk_golden_utf8(const char *s, size_t n);
/* s[0..n) quoted for a person: '...' with \n, \t, \\ and \xNN for control bytes and
 * bytes that are not UTF-8; cut at max bytes of s with "..." after the quote. New string. */
char *wk_golden_show(const char *s, size_t n, size_t max);

/* Fills every item's expected, tokens and min_match (= the number of tokens) from greedy
 * generation of up to n_predict tokens on m, with a context of n_ctx (0: the model's
 * training context). Generation ends early at end-of-generation (that token is kept) or
 * when the context is full. */
int wk_golden_record(wk_model *m, uint32_t n_ctx, int n_predict, wk_golden *g, wk_err *e);

/* One item checked on one model. */
typedef struct wk_golden_result {
    uint32_t n_prompt;      /* the prompt's tokens (BOS included) */
    uint32_t n_expected;    /* the continuation's */
    uint32_t need;          /* min_match, resolved */
    uint32_t matched;       /* leading tokens the model's argmax agrees with */
    wk_token want, got;     /* at the first divergence; WK_TOKEN_NULL when all match */
    bool pass;              /* matched >= need */
} wk_golden_result;

/* The continuation item it of g as ids for vocabulary v: its tokens, or the text's (see
 * above), in a new array; the prompt's ids in prompt. Errors name g->path:line: a token id
 * outside v, a prompt whose tokens are not a prefix of prompt + expected's (the boundary
 * falls inside a token), a min_match above the continuation's length. */
int wk_golden_resolve(const wk_golden *g, size_t it, const wk_vocab *v, wk_tokens *prompt,
                      wk_tokens *cont, uint32_t *need, wk_err *e);
/* How many of want[0..n) the rows of logits (n x n_vocab, row i predicting want[i]) get
 * as their argmax before the first that differs; that one's argmax in *got (WK_TOKEN_NULL
 * when all agree). The argmax is greedy sampling's (the first of equal maxima). */
uint32_t wk_golden_match(const float *logits, int n_vocab, const wk_token *want, uint32_t n,
                         wk_token *got);
/* Every item of g on m with a context of n_ctx (0: the training context); out has g->n
 * results. Errors name g->path:line (see wk_golden_resolve; a prompt and continuation
 * longer than the context). */
int wk_golden_check(const wk_golden *g, wk_model *m, uint32_t n_ctx, wk_golden_result *out,
                    wk_err *e);

#endif
