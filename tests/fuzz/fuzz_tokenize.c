/* libFuzzer harness: the tokenizer runtime (engine/tokenizer.h) on any bytes. Two small
 * vocabularies are written once through the GGUF writer and loaded (a SentencePiece one
 * with byte tokens and a user-defined token, a byte-level BPE one with the 256 byte
 * characters and a few merges); the input's first byte picks the vocabulary, the
 * pre-tokenizer and the flags, the rest is the text. Every id must be in the vocabulary, and
 * the streaming decoder, fed the ids one at a time, must give exactly the concatenated
 * pieces; anything else aborts. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

static const char *const PRE[] = {"default", "gpt-2", "llama-bpe", "qwen2", "smollm"};

static wk_vocab *load(const char *model, const char *pre)
{
    static char bytes[256][8];
    const char *tok[300];
    int32_t type[300];
    float score[300];
    const char *merges[] = {"a b", "\xC4\xA0 a", "b c", "\xE4\xB8 \xAD"};
    const char *extra[] = {"ab", "\xC4\xA0" "a", "bc", "\xE4\xB8\xAD", "<u>", "<s>", "</s>",
                           "\xE2\x96\x81", "\xE2\x96\x81" "a"};
    size_t n = 0;
    bool spm = strcmp(model, "llama") == 0;
    for (int b = 0; b < 256; b++, n++) {
        if (spm)
            snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        else if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
            snprintf(bytes[b], sizeof bytes[b], "%c%c", 0xC0 | b >> 6, 0x80 | (b & 0x3F));
        else
            bytes[b][0] = 0; /* filled below */
        tok[n] = bytes[b], type[n] = spm ? WK_TOK_BYTE : WK_TOK_NORMAL, score[n] = 0;
    }
    if (!spm) /* the characters of bytes that are not printable: U+0100.. in order */
        for (int b = 0, k = 0; b < 256; b++)
            if (!bytes[b][0]) {
                int cp = 0x100 + k++;
                snprintf(bytes[b], sizeof bytes[b], "%c%c", 0xC0 | cp >> 6, 0x80 | (cp & 0x3F));
            }
    for (int b = 0; b < 0x80 && !spm; b++) /* ASCII stands for itself */
        if (b >= 0x21 && b <= 0x7E)
            bytes[b][0] = (char)b, bytes[b][1] = 0;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++, n++)
        tok[n] = extra[i], type[n] = WK_TOK_NORMAL, score[n] = -(float)i;
    type[n - 5] = WK_TOK_USER_DEFINED, type[n - 4] = type[n - 3] = WK_TOK_CONTROL;
    wk_err e;
    wk_gguf_writer *w;
    const char *path = fz_write(spm ? "spm.gguf" : "bpe.gguf", (const uint8_t *)"", 0);
    if (wk_gguf_writer_open(path, &w, &e) ||
        wk_gguf_set_str(w, "tokenizer.ggml.model", model, &e) ||
        (pre && wk_gguf_set_str(w, "tokenizer.ggml.pre", pre, &e)) ||
        wk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", tok, n, &e) ||
        wk_gguf_set_arr(w, "tokenizer.ggml.scores", WK_GGUF_F32, score, n, &e) ||
        wk_gguf_set_arr(w, "tokenizer.ggml.token_type", WK_GGUF_I32, type, n, &e) ||
        (!spm && wk_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 4, &e)) ||
        wk_gguf_writer_finish(w, &e))
        abort();
    wk_gguf *g;
    wk_vocab *v;
    if (wk_gguf_open(path, &g, &e) || wk_vocab_load(g, &v, &e))
        abort();
    wk_gguf_close(g);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_vocab *vocabs[6];
    if (!vocabs[0]) {
        vocabs[0] = load("llama", NULL);
        for (int i = 0; i < 5; i++)
            vocabs[1 + i] = load("gpt2", PRE[i]);
    }
    if (size == 0)
        return 0;
    const wk_vocab *v = vocabs[data[0] % 6];
    unsigned flags = (data[0] >> 3) & 3, dflags = (data[0] >> 5) & 3;
    wk_tokens ids = {0};
    wk_buf out = {0}, pieces = {0};
    wk_err e;
    wk_detok d;
    wk_detok_init(&d, v, dflags);
    if (wk_tokenize(v, (const char *)data + 1, size - 1, flags, &ids, &e) != 0)
        abort(); /* both vocabularies have BOS and EOS: nothing may fail */
    for (size_t i = 0; i < ids.n; i++) {
        size_t len;
        const char *p = wk_token_piece(v, ids.ids[i], dflags & WK_DETOK_SPECIAL, &len);
        if (!p || wk_detok_push(&d, ids.ids[i], &out, &e) != 0)
            abort();
        wk_buf_put(&pieces, p, len);
    }
    wk_detok_flush(&d, &out);
    /* With STRIP_SPACE the SentencePiece output may lack the first piece's leading space. */
    size_t skip = pieces.len - out.len;
    if (out.len > pieces.len || skip > 1 || (out.len && memcmp(out.p, pieces.p + skip, out.len)))
        abort();
    wk_tokens_free(&ids);
    wk_buf_free(&out);
    wk_buf_free(&pieces);
    return 0;
}
