/* SentencePiece encoding as llama.cpp does it (llm_tokenizer_spm): merge by score.
 *
 * The fragment gets a leading space when asked (the dummy prefix), every space becomes
 * U+2581 ("▁"), and the text is cut into characters. Every adjacent pair whose joined text
 * is a token is a candidate, scored by that token's score; the best candidate (leftmost on
 * ties) is merged, and the merged symbol's new pairs become candidates, until none is left.
 * Each remaining symbol is its token, or, when its text is not one (a character outside
 * the vocabulary, or a stray byte of invalid UTF-8), one <0xXX> byte token per byte.
 *
 * Unlike the sentencepiece library, nothing is normalised and words are not split at
 * spaces first; for vocabularies trained without normalisation (Llama 2, the llama2.c
 * models) the two agree, which tests/e2e/test_tokenize.py checks. */
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "engine/tokenizer_impl.h"

static const char SPACE_MARK[] = "\xE2\x96\x81"; /* U+2581 */

/* The candidate of joining left and right, if their text is a token. */
static int try_pair(const wk_vocab *t, const char *text, const tok_sym *s, int32_t left,
                    int32_t right, tok_heap *h)
{
    if (left < 0 || right < 0)
        return 0;
    wk_token id = tok_map_get(&t->vocab, text + s[left].start, s[left].n + s[right].n);
    if (id < 0)
        return 0;
    return tok_heap_push(h, (tok_bigram){-(double)t->score[id], left, right, s[left].n,
                                         s[right].n});
}

static int emit(const wk_vocab *t, const char *p, size_t n, wk_tokens *out, wk_err *e)
{
    wk_token id = tok_map_get(&t->vocab, p, n);
    if (id >= 0)
        return tok_push(out, id) ? wk_fail(e, "out of memory") : 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)p[i];
        id = t->byte_token[b] >= 0 ? t->byte_token[b] : t->info.unk;
        if (id < 0)
            return wk_fail(e, "the vocabulary has no token for byte 0x%02X (no <0x%02X> "
                           "token, no unknown token)", b, b);
        if (tok_push(out, id))
            return wk_fail(e, "out of memory");
    }
    return 0;
}

int tok_spm_encode(const wk_vocab *t, const char *text, size_t len, bool space_prefix,
                   wk_tokens *out, wk_err *e)
{
    wk_buf buf = {0};
    if (space_prefix)
        wk_buf_put(&buf, SPACE_MARK, 3);
    for (size_t i = 0; i < len;) {
        const char *sp = memchr(text + i, ' ', len - i);
        size_t run = sp ? (size_t)(sp - (text + i)) : len - i;
        wk_buf_put(&buf, text + i, run);
        i += run;
        if (sp) {
            wk_buf_put(&buf, SPACE_MARK, 3);
            i++;
        }
    }
    tok_sym *s = NULL;
    size_t cap = 0;
    tok_heap h = {0};
    int rc = -1;
    long n = buf.oom ? -1 : tok_split_chars((const char *)buf.p, buf.len, &s, &cap);
    if (n < 0)
        goto oom;
    const char *w = (const char *)buf.p;
    for (int32_t i = 1; i < n; i++)
        if (try_pair(t, w, s, i - 1, i, &h))
            goto oom;
    tok_bigram b;
    while (tok_heap_pop(&h, &b)) {
        if (s[b.left].n != b.ln || s[b.right].n != b.rn || !b.ln || !b.rn)
            continue; /* stale: one side was merged since */
        tok_sym_merge(s, b.left);
        if (try_pair(t, w, s, s[b.left].prev, b.left, &h) ||
            try_pair(t, w, s, b.left, s[b.left].next, &h))
            goto oom;
    }
    rc = 0;
    for (int32_t i = n > 0 ? 0 : -1; i >= 0 && rc == 0; i = s[i].next)
        rc = emit(t, w + s[i].start, s[i].n, out, e);
    goto done;
oom:
    wk_fail(e, "out of memory");
done:
    free(s);
    free(h.b);
    wk_buf_free(&buf);
    return rc;
}
