/* A saved reference (wk-verify --save-ref): what the metrics need from the reference model,
 * so candidates can be scored later without it. A GGUF file (our reader checks every offset
 * and shape; nothing else can read it usefully) with:
 *   weightkit.verify.reference   string  the reference model's file name
 *   weightkit.verify.n_vocab     u32     its vocabulary size
 *   weightkit.verify.vocab_xxh64 u64     wk_vocab_fingerprint of its vocabulary
 *   weightkit.verify.n_ctx, .first, .n_chunks, .top_k, .text_tokens (u32 / u64)
 *   weightkit.verify.text        string  where the text came from (file name or "built-in")
 *   tensors: tokens (I32, n_chunks x n_ctx: the chunks as evaluated),
 *            logp_next (F32, one per scored position), top_id (I32, positions x top_k),
 *            top_logp (F32, positions x top_k).
 * At top_k = 32 a position costs 260 bytes, against 64 KB for llama.cpp's full logits of a
 * 32000-token vocabulary (stored as 16 bits each). */
#ifndef WK_VERIFY_COMPARE_REFSTORE_H
#define WK_VERIFY_COMPARE_REFSTORE_H

#include <stdint.h>

#include "common/err.h"
#include "verify/compare/chunks.h"
#include "verify/compare/metrics.h"

typedef struct wk_ref_store {
    wk_chunks chunks;
    wk_ref_pos *pos;           /* n_chunks x wk_chunks_scored */
    uint32_t n_vocab;
    uint64_t vocab_xxh64;
    char *reference, *text;    /* names */
} wk_ref_store;

int wk_ref_store_save(const wk_ref_store *r, const char *path, wk_err *e);
/* Reads a saved reference, checking every count against the others. */
int wk_ref_store_load(const char *path, wk_ref_store *out, wk_err *e);
/* Whether path is a saved reference (a GGUF with weightkit.verify.n_ctx). */
bool wk_ref_store_is(const char *path);
void wk_ref_store_free(wk_ref_store *r);

#endif
