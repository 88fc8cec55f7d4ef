/* From ids back to text: each token's piece (llama.cpp's token_to_piece, computed once at
 * load for every token) and the streaming decoder that holds an incomplete UTF-8 sequence
 * at the end of the text until the next piece completes it. A byte token or a byte-level
 * BPE token can end in the middle of a character (an emoji is often 2 to 4 tokens), and a
 * program printing tokens as they come must not print half a character. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* SentencePiece text: U+2581 is a space. */
static void spm_piece(const char *s, size_t n, wk_buf *b)
{
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            wk_buf_put(b, " ", 1);
            i += 3;
        } else {
            wk_buf_put(b, s + i, 1);
            i++;
        }
    }
}

/* Byte-level BPE text: each character stands for one byte. A character outside the map
 * makes the piece "[UNK_BYTE_0x<its UTF-8 in hex><the token's text>]", as in llama.cpp. */
static void bpe_piece(const char *s, size_t n, wk_buf *b)
{
    for (size_t i = 0, l; i < n; i += l) {
        uint32_t cp = wk_utf8_next((const uint8_t *)s + i, n - i, &l);
        int byte = tok_cp_to_byte(cp);
        if (byte >= 0) {
            uint8_t c = (uint8_t)byte;
            wk_buf_put(b, &c, 1);
            continue;
        }
        uint8_t u[4];
        size_t k = wk_utf8_put(cp, u);
        wk_buf_put(b, "[UNK_BYTE_0x", 12);
        for (size_t j = 0; j < k; j++)
            wk_buf_printf(b, "%02x", u[j]);
        wk_buf_put(b, s, n);
        wk_buf_put(b, "]", 1);
    }
}

static void piece_of(const wk_vocab *t, wk_token id, wk_buf *b)
{
    const char *s = tok_text(t, id);
    size_t n = t->text_len[id];
    switch (t->type[id]) {
    case WK_TOK_CONTROL:
    case WK_TOK_UNKNOWN:
    case WK_TOK_USER_DEFINED:
        wk_buf_put(b, s, n);
        break;
    case WK_TOK_NORMAL:
        if (t->info.kind == WK_TOK_SPM)
            spm_piece(s, n, b);
        else
            bpe_piece(s, n, b);
        break;
    case WK_TOK_BYTE:
        if (n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hexval(s[3]) >= 0 &&
            hexval(s[4]) >= 0) {
            uint8_t c = (uint8_t)(hexval(s[3]) << 4 | hexval(s[4]));
            wk_buf_put(b, &c, 1);
        } else {
            wk_buf_put(b, s, n); /* not <0xXX>: the text as it is */
        }
        break;
    default: /* unused and undefined tokens stand for nothing */
        break;
    }
}

int tok_build_pieces(wk_vocab *t, wk_err *e)
{
    uint32_t n = t->info.n_vocab;
    wk_buf b = {0};
    t->piece_off = malloc(n * sizeof *t->piece_off);
    t->piece_len = malloc(n * sizeof *t->piece_len);
    if (!t->piece_off || !t->piece_len)
        return wk_fail(e, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        t->piece_off[i] = b.len;
        piece_of(t, (wk_token)i, &b);
        t->piece_len[i] = (uint32_t)(b.len - t->piece_off[i]);
    }
    wk_buf_put(&b, "", 0); /* an empty vocabulary still gets a block */
    if (b.oom) {
        wk_buf_free(&b);
        return wk_fail(e, "out of memory");
    }
    t->pieces = (char *)b.p;
    return 0;
}

const char *wk_token_piece(const wk_vocab *t, wk_token id, bool special, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->info.n_vocab)
        return NULL;
    uint8_t ty = t->type[id];
    *len = !special && (ty == WK_TOK_CONTROL || ty == WK_TOK_UNKNOWN) ? 0 : t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

void wk_detok_init(wk_detok *d, const wk_vocab *t, unsigned flags)
{
    *d = (wk_detok){.t = t, .flags = flags};
}

int wk_detok_push(wk_detok *d, wk_token id, wk_buf *out, wk_err *e)
{
    size_t n;
    const char *p = wk_token_piece(d->t, id, d->flags & WK_DETOK_SPECIAL, &n);
    if (!p)
        return wk_fail(e, "token id %d is outside the vocabulary (0..%u)", (int)id,
                       d->t->info.n_vocab - 1);
    if (n == 0)
        return 0;
    if (!d->started && (d->flags & WK_DETOK_STRIP_SPACE) && d->t->info.add_space_prefix &&
        p[0] == ' ')
        p++, n--;
    d->started = true;
    size_t start = out->len;
    wk_buf_put(out, d->held, d->n_held);
    wk_buf_put(out, p, n);
    if (out->oom)
        return wk_fail(e, "out of memory");
    d->n_held = wk_utf8_incomplete_tail(out->p + start, out->len - start);
    out->len -= d->n_held;
    memcpy(d->held, out->p + out->len, d->n_held);
    out->p[out->len] = '\0';
    return 0;
}

void wk_detok_flush(wk_detok *d, wk_buf *out)
{
    wk_buf_put(out, d->held, d->n_held);
    d->n_held = 0;
}

int wk_detokenize(const wk_vocab *t, const wk_token *ids, size_t n, unsigned flags,
                  wk_buf *out, wk_err *e)
{
    wk_detok d;
    wk_detok_init(&d, t, flags);
    for (size_t i = 0; i < n; i++)
        if (wk_detok_push(&d, ids[i], out, e))
            return -1;
    wk_detok_flush(&d, out);
    return out->oom ? wk_fail(e, "out of memory") : 0;
}
