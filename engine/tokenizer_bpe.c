/* Byte-level BPE encoding as llama.cpp does it (llm_tokenizer_bpe_session): merges by rank.
 *
 * The fragment is decoded to code points (invalid bytes become U+FFFD, as in llama.cpp),
 * split into words by the pre-tokenizer (tokenizer_pretok.c), and each word's UTF-8 bytes
 * are written as GPT-2's printable characters (byte 0x20 is "Ġ", U+0120). With
 * ignore_merges (Llama 3) a word that is itself a token is taken whole. Otherwise the word
 * is cut into characters, and the adjacent pair with the lowest merge rank (leftmost on
 * ties) is merged until no pair is a merge. A final symbol that is not a token gives each of
 * its bytes that is a one-byte token, and the others are dropped, as in llama.cpp. */
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/grow.h"
#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"

/* Bytes that are printable Latin-1 stand for themselves; the other 68 (0x00-0x20,
 * 0x7F-0xA0, 0xAD) take U+0100.. in byte order. */
uint32_t tok_byte_to_cp(uint8_t b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 33 + 34; /* 0xAD */
}

int tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp < 0x100 + 33)
        return (int)(cp - 0x100);
    if (cp >= 0x100 + 33 && cp < 0x100 + 67)
        return (int)(0x7F + cp - (0x100 + 33));
    return cp == 0x100 + 67 ? 0xAD : -1;
}

typedef struct bpe_word {
    const wk_vocab *t;
    const char *w; /* the byte-encoded word */
    tok_sym *s;
    size_t cap;
    tok_heap h;
    wk_buf key; /* "left right", the merge looked up */
} bpe_word;

static int try_pair(bpe_word *b, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return 0;
    const tok_sym *s = b->s;
    b->key.len = 0;
    wk_buf_put(&b->key, b->w + s[left].start, s[left].n);
    wk_buf_put(&b->key, " ", 1);
    wk_buf_put(&b->key, b->w + s[right].start, s[right].n);
    if (b->key.oom)
        return -1;
    int32_t rank = tok_map_get(&b->t->merges, (const char *)b->key.p, b->key.len);
    if (rank < 0 || b->t->merge_first_len[rank] != s[left].n)
        return 0;
    return tok_heap_push(&b->h, (tok_bigram){rank, left, right, s[left].n, s[right].n});
}

static int encode_word(bpe_word *b, size_t len, wk_tokens *out)
{
    const wk_vocab *t = b->t;
    wk_token whole = tok_map_get(&t->vocab, b->w, len);
    if (t->info.ignore_merges && whole >= 0)
        return tok_push(out, whole);
    long n = tok_split_chars(b->w, len, &b->s, &b->cap);
    if (n < 0)
        return -1;
    b->h.n = 0;
    for (int32_t i = 1; i < n; i++)
        if (try_pair(b, i - 1, i))
            return -1;
    tok_bigram g;
    while (tok_heap_pop(&b->h, &g)) {
        tok_sym *s = b->s;
        if (s[g.left].n != g.ln || s[g.right].n != g.rn || !g.ln || !g.rn)
            continue;
        tok_sym_merge(s, g.left);
        if (try_pair(b, s[g.left].prev, g.left) || try_pair(b, g.left, s[g.left].next))
            return -1;
    }
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = b->s[i].next) {
        const char *p = b->w + b->s[i].start;
        wk_token id = tok_map_get(&t->vocab, p, b->s[i].n);
        if (id >= 0) {
            if (tok_push(out, id))
                return -1;
            continue;
        }
        for (size_t j = 0; j < b->s[i].n; j++)
            if ((id = tok_map_get(&t->vocab, p + j, 1)) >= 0 && tok_push(out, id))
                return -1;
    }
    return 0;
}

int tok_bpe_encode(const wk_vocab *t, const char *text, size_t len, wk_tokens *out,
                   wk_err *e)
{
    uint32_t *cps = malloc((len ? len : 1) * sizeof *cps);
    size_t n = 0, *lens = NULL, n_words = 0;
    bpe_word b = {.t = t};
    wk_buf word = {0};
    int rc = -1;
    if (!cps)
        goto done;
    for (size_t off = 0, l; off < len; off += l)
        cps[n++] = wk_utf8_next((const uint8_t *)text + off, len - off, &l);
    if (tok_pretokenize(t->info.pre_type, cps, n, &lens, &n_words))
        goto done;
    const uint32_t *cp = cps;
    for (size_t i = 0; i < n_words; cp += lens[i++]) {
        word.len = 0;
        for (size_t j = 0; j < lens[i]; j++) {
            uint8_t u[4], m[4];
            size_t k = wk_utf8_put(cp[j], u);
            for (size_t q = 0; q < k; q++)
                wk_buf_put(&word, m, wk_utf8_put(tok_byte_to_cp(u[q]), m));
        }
        if (word.oom)
            goto done;
        b.w = (const char *)word.p;
        if (encode_word(&b, word.len, out))
            goto done;
    }
    rc = 0;
done:
    if (rc)
        wk_fail(e, "out of memory");
    free(cps);
    free(lens);
    free(b.s);
    free(b.h.b);
    wk_buf_free(&b.key);
    wk_buf_free(&word);
    return rc;
}
