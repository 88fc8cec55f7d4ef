/* Encoding a text: special tokens first, then the vocabulary's encoder on what is between
 * them, with BOS / EOS around (llama.cpp's llama_vocab::impl::tokenize).
 *
 * The special tokens (control, user-defined and unknown ones, longest text first) are
 * looked for in the text one after the other, each in the pieces of raw text the earlier
 * ones left: every occurrence becomes its id (tokenizer_st_partition). User-defined tokens
 * are always looked for; control and unknown ones only with WK_TOK_PARSE_SPECIAL, so that
 * a prompt that merely contains "</s>" does not end the text. SentencePiece puts its dummy
 * space in front of each piece of raw text that follows a special token (or starts the
 * text), as llama.cpp does. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "engine/tokenizer_impl.h"

typedef struct fragment {
    wk_token id; /* WK_TOKEN_NULL: raw text */
    size_t off, len;
} fragment;

typedef struct frag_list {
    fragment *f;
    size_t n, cap;
} frag_list;

int tok_push(wk_tokens *out, wk_token id)
{
    if (wk_grow((void **)&out->ids, &out->cap, out->n + 1, sizeof *out->ids))
        return -1;
    out->ids[out->n++] = id;
    return 0;
}

void wk_tokens_free(wk_tokens *v)
{
    free(v->ids);
    *v = (wk_tokens){0};
}

static int frag_add(frag_list *l, wk_token id, size_t off, size_t len)
{
    if (wk_grow((void **)&l->f, &l->cap, l->n + 1, sizeof *l->f))
        return -1;
    l->f[l->n++] = (fragment){id, off, len};
    return 0;
}

/* Cuts every raw fragment of *l at the occurrences of special token id. */
static int cut_at(const wk_vocab *t, const char *text, wk_token id, frag_list *l,
                  frag_list *tmp)
{
    const char *s = tok_text(t, id);
    size_t sl = t->text_len[id];
    tmp->n = 0;
    for (size_t i = 0; i < l->n; i++) {
        fragment f = l->f[i];
        if (f.id != WK_TOKEN_NULL) {
            if (frag_add(tmp, f.id, 0, 0))
                return -1;
            continue;
        }
        size_t off = f.off, end = f.off + f.len;
        const char *hit;
        while (end - off >= sl && (hit = memmem(text + off, end - off, s, sl))) {
            size_t at = (size_t)(hit - text);
            if ((at > off && frag_add(tmp, WK_TOKEN_NULL, off, at - off)) ||
                frag_add(tmp, id, 0, 0))
                return -1;
            off = at + sl;
        }
        if (off < end && frag_add(tmp, WK_TOKEN_NULL, off, end - off))
            return -1;
    }
    frag_list x = *l;
    *l = *tmp;
    *tmp = x;
    return 0;
}

static int partition(const wk_vocab *t, const char *text, size_t len, bool parse_special,
                     frag_list *l)
{
    frag_list tmp = {0};
    int rc = len ? frag_add(l, WK_TOKEN_NULL, 0, len) : 0;
    for (size_t i = 0; i < t->n_special && rc == 0; i++) {
        wk_token id = t->special[i];
        if (!parse_special && t->type[id] != WK_TOK_USER_DEFINED)
            continue;
        rc = cut_at(t, text, id, l, &tmp);
    }
    free(tmp.f);
    return rc;
}

static int add_special(wk_token id, const char *what, const char *key, wk_tokens *out,
                       wk_err *e)
{
    if (id == WK_TOKEN_NULL)
        return wk_fail(e, "the vocabulary asks for %s (tokenizer.ggml.%s) but has no %s "
                       "token", what, key, what);
    return tok_push(out, id) ? wk_fail(e, "out of memory") : 0;
}

int wk_tokenize(const wk_vocab *t, const char *text, size_t len, unsigned flags,
                wk_tokens *out, wk_err *e)
{
    const wk_vocab_info *in = &t->info;
    bool specials = flags & WK_TOK_ADD_SPECIAL;
    if (len > INT32_MAX)
        return wk_fail(e, "text of %zu bytes is too long to tokenize (at most %d)", len,
                       INT32_MAX);
    frag_list l = {0};
    if (partition(t, text, len, flags & WK_TOK_PARSE_SPECIAL, &l)) {
        free(l.f);
        return wk_fail(e, "out of memory");
    }
    int rc = 0;
    if (specials && in->add_bos)
        rc = add_special(in->bos, "BOS", "add_bos_token", out, e);
    bool after_special = true; /* SentencePiece: the text start counts as one */
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        fragment f = l.f[i];
        if (f.id != WK_TOKEN_NULL) {
            rc = tok_push(out, f.id) ? wk_fail(e, "out of memory") : 0;
            after_special = true;
        } else if (in->kind == WK_TOK_SPM) {
            rc = tok_spm_encode(t, text + f.off, f.len, in->add_space_prefix && after_special,
                                out, e);
            after_special = false;
        } else {
            rc = tok_bpe_encode(t, text + f.off, f.len, out, e);
        }
    }
    if (rc == 0 && specials && in->add_eos)
        rc = add_special(in->eos, "EOS", "add_eos_token", out, e);
    free(l.f);
    return rc;
}
