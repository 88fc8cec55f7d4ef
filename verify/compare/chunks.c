/* Chunking (see chunks.h). */
#include "verify/compare/chunks.h"

#include <stdlib.h>
#include <string.h>

int wk_chunks_make(const wk_vocab *v, const char *text, size_t len, uint32_t n_ctx,
                   uint32_t max_chunks, wk_chunks *out, wk_err *e)
{
    memset(out, 0, sizeof *out);
    if (n_ctx < 4)
        return wk_fail(e, "a context of %u tokens is too short to score (at least 4)", n_ctx);
    wk_tokens all = {0};
    if (wk_tokenize(v, text, len, WK_TOK_ADD_SPECIAL, &all, e) != 0)
        return -1;
    uint64_t n = all.n / n_ctx;
    if (max_chunks && n > max_chunks)
        n = max_chunks;
    if (n == 0) {
        wk_tokens_free(&all);
        return wk_fail(e, "the text is %zu tokens; one chunk of the context (--ctx %u) needs "
                          "%u", all.n, n_ctx, n_ctx);
    }
    const wk_vocab_info *info = wk_vocab_get_info(v);
    out->n_ctx = n_ctx;
    out->n_chunks = (uint32_t)n;
    out->first = n_ctx / 2;
    out->n_text_tokens = all.n;
    out->tokens = all.ids; /* cut in place: chunk i is already at i n_ctx */
    for (uint64_t i = 0; i < n; i++)
        if (info->add_bos && info->bos != WK_TOKEN_NULL)
            out->tokens[i * n_ctx] = info->bos;
    return 0;
}

void wk_chunks_free(wk_chunks *c)
{
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

uint32_t wk_chunks_scored(const wk_chunks *c)
{
    return c->n_ctx - 1 - c->first;
}
