/* Pieces and the streaming decoder: what each token type stands for, a multi-byte
 * character split over byte tokens held until complete, bytes that can never complete
 * passed through, the dummy prefix's space, control tokens shown only when asked, and the
 * concatenation of the streamed text equal to the concatenated pieces for every split. */
#include "engine/unicode.h"
#include "tests/unit/engine/vocab_test_util.h"

static void expect_piece(const wk_vocab *v, wk_token id, bool special, const char *want,
                         size_t want_len)
{
    size_t len;
    const char *p = wk_token_piece(v, id, special, &len);
    cr_assert(p);
    cr_expect_eq(len, want_len, "token %d: piece of %zu bytes, expected %zu", id, len, want_len);
    cr_expect(memcmp(p, want, want_len) == 0, "token %d: piece '%.*s'", id, (int)len, p);
}

Test(detok, pieces_per_token_type)
{
    wk_vocab *v = tv_spm();
    expect_piece(v, SP_SPACE_A, false, " a", 2);
    expect_piece(v, SP_BYTE('A'), false, "A", 1);
    expect_piece(v, SP_BYTE(0), false, "", 1);
    expect_piece(v, SP_BYTE(0xE4), true, "\xE4", 1);
    expect_piece(v, SP_BOS, true, "<s>", 3);
    expect_piece(v, SP_BOS, false, "", 0);
    expect_piece(v, SP_UNK, false, "", 0);
    expect_piece(v, SP_USER, false, "<u>", 3);
    size_t len;
    cr_expect_null(wk_token_piece(v, SP_N, true, &len));
    wk_vocab_free(v);

    v = tv_bpe("gpt-2");
    expect_piece(v, BP_G_AB, false, " ab", 3);
    expect_piece(v, 0x0A, false, "\n", 1);
    expect_piece(v, 0xAD, false, "\xAD", 1);
    expect_piece(v, BP_EOT, false, "", 0);
    expect_piece(v, BP_EOT, true, "<|eot|>", 7);
    wk_vocab_free(v);
}

/* Pushes ids one at a time; after each, the text so far must be want[i]. */
static void stream(const wk_vocab *v, unsigned flags, const wk_token *ids, size_t n,
                   const char *const *want, const char *flushed)
{
    wk_detok d;
    wk_buf out = {0};
    wk_err e;
    wk_detok_init(&d, v, flags);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(wk_detok_push(&d, ids[i], &out, &e), 0, "%s", e.msg);
        cr_expect_eq(out.len, strlen(want[i]), "after %zu ids: %zu bytes, expected '%s'", i + 1,
                     out.len, want[i]);
        cr_expect(out.len == 0 || memcmp(out.p, want[i], out.len) == 0, "after %zu ids", i + 1);
    }
    wk_detok_flush(&d, &out);
    cr_expect_eq(out.len, strlen(flushed));
    cr_expect(out.len == 0 || memcmp(out.p, flushed, out.len) == 0);
    wk_buf_free(&out);
}

Test(detok, holds_incomplete_characters)
{
    wk_vocab *v = tv_spm();
    /* "中" (E4 B8 AD) over three byte tokens: nothing until the third. */
    wk_token zh[] = {SP_SPACE_A, SP_BYTE(0xE4), SP_BYTE(0xB8), SP_BYTE(0xAD), SP_B};
    stream(v, 0, zh, 5, (const char *[]){" a", " a", " a", " a\xE4\xB8\xAD", " a\xE4\xB8\xAD" "b"},
           " a\xE4\xB8\xAD" "b");
    /* A lead byte then a byte that cannot continue it: both go out as they are. */
    wk_token bad[] = {SP_BYTE(0xE4), SP_A};
    stream(v, 0, bad, 2, (const char *[]){"", "\xE4" "a"}, "\xE4" "a");
    /* E0 80 can never be well-formed (overlong): not held. */
    wk_token overlong[] = {SP_BYTE(0xE0), SP_BYTE(0x80)};
    stream(v, 0, overlong, 2, (const char *[]){"", "\xE0\x80"}, "\xE0\x80");
    /* Stray continuation bytes and 0xFF are never held. */
    wk_token stray[] = {SP_BYTE(0x80), SP_BYTE(0xFF)};
    stream(v, 0, stray, 2, (const char *[]){"\x80", "\x80\xFF"}, "\x80\xFF");
    /* An incomplete character at the very end comes out at the flush. */
    wk_token tail[] = {SP_A, SP_BYTE(0xF0), SP_BYTE(0x9F)};
    stream(v, 0, tail, 3, (const char *[]){"a", "a", "a"}, "a\xF0\x9F");
    wk_vocab_free(v);
}

Test(detok, leading_space_and_special_tokens)
{
    wk_vocab *v = tv_spm();
    wk_token ids[] = {SP_BOS, SP_SPACE_A, SP_BC, SP_SPACE, SP_B, SP_EOS};
    const char *const plain[] = {"", " a", " abc", " abc ", " abc b", " abc b"};
    stream(v, 0, ids, 6, plain, " abc b");
    const char *const strip[] = {"", "a", "abc", "abc ", "abc b", "abc b"};
    stream(v, WK_DETOK_STRIP_SPACE, ids, 6, strip, "abc b");
    /* Shown, <s> is the first piece: the space after it stays. */
    const char *const special[] = {"<s>", "<s> a", "<s> abc", "<s> abc ", "<s> abc b",
                                   "<s> abc b</s>"};
    stream(v, WK_DETOK_STRIP_SPACE | WK_DETOK_SPECIAL, ids, 6, special, "<s> abc b</s>");
    wk_buf out = {0};
    wk_err e;
    cr_expect_eq(wk_detokenize(v, ids, 6, WK_DETOK_STRIP_SPACE, &out, &e), 0);
    cr_expect_str_eq((char *)out.p, "abc b");
    wk_token bad = SP_N;
    cr_expect_eq(wk_detokenize(v, &bad, 1, 0, &out, &e), -1);
    cr_expect(strstr(e.msg, "token id 269 is outside the vocabulary (0..268)") != NULL, "%s",
              e.msg);
    wk_buf_free(&out);
    wk_vocab_free(v);

    /* No dummy prefix in byte-level BPE: nothing is stripped. */
    v = tv_bpe("gpt-2");
    wk_token g[] = {BP_G_AB};
    stream(v, WK_DETOK_STRIP_SPACE, g, 1, (const char *[]){" ab"}, " ab");
    wk_vocab_free(v);
}

Test(detok, streamed_text_equals_the_pieces_for_every_sequence)
{
    /* Random ids over the byte tokens and a few others: whatever the split of a character,
     * what the decoder has given plus what it holds is the concatenation of the pieces, and
     * what it holds is exactly the incomplete character at their end. */
    wk_vocab *v = tv_spm();
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        wk_detok d;
        wk_buf out = {0}, pieces = {0};
        wk_err e;
        wk_detok_init(&d, v, 0);
        int n = 1 + round % 12;
        for (int i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            uint32_t r = seed >> 8;
            int k = (int)((r >> 4) % 64);
            wk_token id = r % 4 == 0 ? SP_SPACE + k % (SP_N - SP_SPACE)
                        : r % 4 == 1 ? SP_BYTE(0x80 + k) : SP_BYTE(0xC2 + k % 0x33);
            size_t len;
            const char *p = wk_token_piece(v, id, false, &len);
            wk_buf_put(&pieces, p, len);
            cr_assert_eq(wk_detok_push(&d, id, &out, &e), 0);
            cr_assert_eq(d.n_held, wk_utf8_incomplete_tail(pieces.p, pieces.len), "round %d",
                         round);
            cr_assert_eq(out.len + d.n_held, pieces.len, "round %d", round);
        }
        wk_detok_flush(&d, &out);
        cr_assert_eq(out.len, pieces.len, "round %d", round);
        cr_assert(memcmp(out.p, pieces.p, out.len) == 0, "round %d", round);
        wk_buf_free(&out);
        wk_buf_free(&pieces);
    }
    wk_vocab_free(v);
}
