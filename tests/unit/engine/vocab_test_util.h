/* Tiny vocabularies for the tokenizer runtime's unit tests, written as GGUF files through
 * our writer and loaded back with wk_vocab_load, as a model's would be.
 *
 * tv_spm(): a SentencePiece vocabulary (ids below), tv_bpe(): a byte-level BPE one (the 256
 * byte characters at their byte's id, then merged tokens and special ones). A hook may add
 * or replace keys before the file is closed. */
#ifndef WK_TESTS_VOCAB_TEST_UTIL_H
#define WK_TESTS_VOCAB_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer.h"

/* SentencePiece ids. 3 + b is byte token <0xb>. */
enum {
    SP_UNK = 0, SP_BOS = 1, SP_EOS = 2, SP_SPACE = 259, SP_A, SP_B, SP_C, SP_AB, SP_BC,
    SP_SPACE_A, SP_AA, SP_USER, SP_E_ACUTE, SP_N
};
#define SP_BYTE(b) (3 + (b))

/* Byte-level BPE ids: byte characters 0..255, then these. */
enum { BP_AB = 256, BP_G_A, BP_G_AB, BP_BC, BP_ABC, BP_EOT, BP_USER, BP_BOS, BP_N };

typedef void (*tv_hook)(wk_gguf_writer *w);

/* Writes the vocabulary to a temp file and loads it: the vocabulary, or NULL with the
 * error in *e. */
static inline wk_vocab *tv_write_load(const char *model, const char *pre, const char **tok,
                                      const float *score, const int32_t *type, size_t n,
                                      const char **merges, size_t n_merges, tv_hook hook,
                                      wk_err *e)
{
    char path[] = "/tmp/wk-vocab-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    wk_gguf_writer *w;
    cr_assert_eq(wk_gguf_writer_open(path, &w, e), 0, "%s", e->msg);
    cr_assert_eq(wk_gguf_set_str(w, "general.architecture", "llama", e), 0);
    cr_assert_eq(wk_gguf_set_str(w, "tokenizer.ggml.model", model, e), 0);
    if (pre)
        cr_assert_eq(wk_gguf_set_str(w, "tokenizer.ggml.pre", pre, e), 0);
    cr_assert_eq(wk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", tok, n, e), 0);
    if (score)
        cr_assert_eq(wk_gguf_set_arr(w, "tokenizer.ggml.scores", WK_GGUF_F32, score, n, e), 0);
    cr_assert_eq(wk_gguf_set_arr(w, "tokenizer.ggml.token_type", WK_GGUF_I32, type, n, e), 0);
    if (merges)
        cr_assert_eq(wk_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, n_merges, e), 0);
    if (hook)
        hook(w);
    cr_assert_eq(wk_gguf_writer_finish(w, e), 0, "%s", e->msg);
    wk_gguf *g;
    cr_assert_eq(wk_gguf_open(path, &g, e), 0, "%s", e->msg);
    wk_vocab *v = NULL;
    int rc = wk_vocab_load(g, &v, e);
    wk_gguf_close(g);
    unlink(path);
    return rc == 0 ? v : NULL;
}

static inline wk_vocab *tv_spm_hook(tv_hook hook, wk_err *e)
{
    static char bytes[256][8];
    const char *tok[SP_N];
    float score[SP_N];
    int32_t type[SP_N];
    const char *fixed[] = {"<unk>", "<s>", "</s>"};
    const int32_t fixed_type[] = {WK_TOK_UNKNOWN, WK_TOK_CONTROL, WK_TOK_CONTROL};
    for (int i = 0; i < 3; i++)
        tok[i] = fixed[i], score[i] = 0, type[i] = fixed_type[i];
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tok[SP_BYTE(b)] = bytes[b], score[SP_BYTE(b)] = 0, type[SP_BYTE(b)] = WK_TOK_BYTE;
    }
    /* "bc" outscores "ab" and "▁a"; "aa" ties with itself; "<u>" is user-defined. */
    const struct { int id; const char *t; float s; int32_t ty; } rest[] = {
        {SP_SPACE, "\xE2\x96\x81", -10, 1}, {SP_A, "a", -20, 1}, {SP_B, "b", -20, 1},
        {SP_C, "c", -20, 1}, {SP_AB, "ab", -5, 1}, {SP_BC, "bc", -1, 1},
        {SP_SPACE_A, "\xE2\x96\x81" "a", -2, 1}, {SP_AA, "aa", -1, 1},
        {SP_USER, "<u>", 0, WK_TOK_USER_DEFINED}, {SP_E_ACUTE, "\xC3\xA9", -3, 1},
    };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        tok[rest[i].id] = rest[i].t, score[rest[i].id] = rest[i].s, type[rest[i].id] = rest[i].ty;
    return tv_write_load("llama", NULL, tok, score, type, SP_N, NULL, 0, hook, e);
}

static inline wk_vocab *tv_spm(void)
{
    wk_err e;
    wk_vocab *v = tv_spm_hook(NULL, &e);
    cr_assert(v, "%s", e.msg);
    return v;
}

/* GPT-2's byte character of b, as UTF-8, into out (>= 3 bytes). */
static inline void tv_byte_char(int b, char *out)
{
    int cp = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE ? b
           : b <= 0x20 ? 0x100 + b : b <= 0xA0 ? 0x100 + 33 + b - 0x7F : 0x100 + 67;
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

static inline wk_vocab *tv_bpe_hook(const char *pre, tv_hook hook, wk_err *e)
{
    static char bytes[256][4];
    const char *tok[BP_N];
    int32_t type[BP_N];
    for (int b = 0; b < 256; b++) {
        tv_byte_char(b, bytes[b]);
        tok[b] = bytes[b], type[b] = WK_TOK_NORMAL;
    }
    const char *rest[] = {"ab", "\xC4\xA0" "a", "\xC4\xA0" "ab", "bc", "abc", "<|eot|>",
                          "<u>", "<|bos|>"};
    for (int i = 0; i < BP_N - 256; i++)
        tok[256 + i] = rest[i], type[256 + i] = WK_TOK_NORMAL;
    type[BP_EOT] = type[BP_BOS] = WK_TOK_CONTROL;
    type[BP_USER] = WK_TOK_USER_DEFINED;
    /* ranks: "a b" 0, "Ġ a" 1, "Ġa b" 2, "b c" 3 */
    const char *merges[] = {"a b", "\xC4\xA0 a", "\xC4\xA0" "a b", "b c"};
    return tv_write_load("gpt2", pre, tok, NULL, type, BP_N, merges, 4, hook, e);
}

static inline wk_vocab *tv_bpe(const char *pre)
{
    wk_err e;
    wk_vocab *v = tv_bpe_hook(pre, NULL, &e);
    cr_assert(v, "%s", e.msg);
    return v;
}

/* Tokenizes s and compares with the expected ids (ended by -1). */
static inline void tv_expect(const wk_vocab *v, const char *s, size_t len, unsigned flags,
                             const int *want)
{
    wk_tokens ids = {0};
    wk_err e;
    cr_assert_eq(wk_tokenize(v, s, len, flags, &ids, &e), 0, "%s", e.msg);
    size_t n = 0;
    while (want[n] >= 0)
        n++;
    cr_expect_eq(ids.n, n, "'%.*s': %zu ids, expected %zu", (int)len, s, ids.n, n);
    for (size_t i = 0; i < n && i < ids.n; i++)
        cr_expect_eq(ids.ids[i], want[i], "'%.*s': id %zu is %d, expected %d", (int)len, s, i,
                     ids.ids[i], want[i]);
    wk_tokens_free(&ids);
}

#define TV_EXPECT(v, s, flags, ...) \
    tv_expect(v, s, strlen(s), flags, (const int[]){__VA_ARGS__, -1})

#endif
