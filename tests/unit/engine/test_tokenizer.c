/* The tokenizer runtime's encoders on tiny vocabularies whose answers can be worked out by
 * hand: SentencePiece merges by score (ties to the left), byte fallback, the dummy prefix
 * and where llama.cpp puts it, special and user-defined tokens; byte-level BPE merges by
 * rank and ignore_merges; BOS/EOS from the metadata; and clean errors for bad metadata. */
#include "tests/unit/engine/vocab_test_util.h"

#define ADD WK_TOK_ADD_SPECIAL
#define PARSE WK_TOK_PARSE_SPECIAL

Test(vocab, spm_loads_with_llama_cpp_defaults)
{
    wk_vocab *v = tv_spm();
    const wk_vocab_info *in = wk_vocab_get_info(v);
    cr_expect_eq(in->kind, WK_TOK_SPM);
    cr_expect_str_eq(in->model, "llama");
    cr_expect_eq(in->n_vocab, SP_N);
    cr_expect(in->bos == SP_BOS && in->eos == SP_EOS && in->unk == SP_UNK);
    cr_expect(in->add_bos && !in->add_eos && in->add_space_prefix);
    cr_expect_eq(in->eot, WK_TOKEN_NULL);
    cr_expect(wk_token_is_eog(v, SP_EOS) && !wk_token_is_eog(v, SP_BOS));
    size_t len;
    cr_expect_str_eq(wk_token_text(v, SP_AB, &len), "ab");
    cr_expect_eq(len, 2);
    cr_expect_eq(wk_token_type(v, SP_USER), WK_TOK_USER_DEFINED);
    cr_expect_float_eq(wk_token_score(v, SP_BC), -1.0f, 1e-9);
    cr_expect_eq(wk_token_find(v, "\xE2\x96\x81" "a", 4), SP_SPACE_A);
    cr_expect_eq(wk_token_find(v, "zz", 2), WK_TOKEN_NULL);
    cr_expect_null(wk_token_text(v, SP_N, &len));
    cr_expect_null(wk_token_text(v, -1, &len));
    cr_expect_eq(wk_token_type(v, SP_N), WK_TOK_UNDEFINED);
    wk_vocab_free(v);
}

Test(vocab, spm_merges_best_score_first)
{
    wk_vocab *v = tv_spm();
    /* "▁abc": bc (-1) beats ▁a (-2) and ab (-5); then ▁a merges; "▁abc" is no token. */
    TV_EXPECT(v, "abc", 0, SP_SPACE_A, SP_BC);
    /* "▁aaa": the two "aa" candidates tie at -1: the leftmost wins. */
    TV_EXPECT(v, "aaa", 0, SP_SPACE, SP_AA, SP_A);
    TV_EXPECT(v, "abc", ADD, SP_BOS, SP_SPACE_A, SP_BC);
    /* Spaces are U+2581 and a text that starts with one gets a second. */
    TV_EXPECT(v, " a", 0, SP_SPACE, SP_SPACE_A);
    TV_EXPECT(v, "a b", 0, SP_SPACE_A, SP_SPACE, SP_B);
    TV_EXPECT(v, "\xC3\xA9", 0, SP_SPACE, SP_E_ACUTE);
    TV_EXPECT(v, "", 0, -1);
    TV_EXPECT(v, "", ADD, SP_BOS);
    wk_vocab_free(v);
}

Test(vocab, spm_falls_back_to_bytes)
{
    wk_vocab *v = tv_spm();
    TV_EXPECT(v, "x", 0, SP_SPACE, SP_BYTE('x'));
    TV_EXPECT(v, "\xE4\xB8\xAD", 0, SP_SPACE, SP_BYTE(0xE4), SP_BYTE(0xB8), SP_BYTE(0xAD));
    /* Invalid UTF-8: a lead byte takes its announced length (here "\xC3" and "a"), as in
     * llama.cpp, and what is no token goes out byte by byte. */
    TV_EXPECT(v, "\xC3" "ab", 0, SP_SPACE, SP_BYTE(0xC3), SP_BYTE('a'), SP_B);
    TV_EXPECT(v, "\xFF", 0, SP_SPACE, SP_BYTE(0xFF));
    tv_expect(v, "a\0b", 3, 0, (const int[]){SP_SPACE_A, SP_BYTE(0), SP_B, -1});
    wk_vocab_free(v);
}

Test(vocab, spm_special_and_user_defined_tokens)
{
    wk_vocab *v = tv_spm();
    /* Control tokens are text unless asked for. */
    TV_EXPECT(v, "</s>", 0, SP_SPACE, SP_BYTE('<'), SP_BYTE('/'), SP_BYTE('s'), SP_BYTE('>'));
    TV_EXPECT(v, "</s>", PARSE, SP_EOS);
    TV_EXPECT(v, "</s>", ADD | PARSE, SP_BOS, SP_EOS);
    /* The dummy prefix goes before every piece of text that follows a special token. */
    TV_EXPECT(v, "a</s>b", PARSE, SP_SPACE_A, SP_EOS, SP_SPACE, SP_B);
    TV_EXPECT(v, "a<s><s>", PARSE, SP_SPACE_A, SP_BOS, SP_BOS);
    /* User-defined tokens are always matched. */
    TV_EXPECT(v, "a<u>b", 0, SP_SPACE_A, SP_USER, SP_SPACE, SP_B);
    TV_EXPECT(v, "<u><u>", 0, SP_USER, SP_USER);
    TV_EXPECT(v, "<unk>", PARSE, SP_UNK);
    wk_vocab_free(v);
}

static void no_prefix_eos(wk_gguf_writer *w)
{
    wk_err e;
    cr_assert_eq(wk_gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", false, &e), 0);
    cr_assert_eq(wk_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false, &e), 0);
    cr_assert_eq(wk_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", true, &e), 0);
    cr_assert_eq(wk_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", SP_USER, &e), 0);
    cr_assert_eq(wk_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 100000, &e), 0);
}

Test(vocab, spm_flags_from_metadata)
{
    wk_err e;
    wk_vocab *v = tv_spm_hook(no_prefix_eos, &e);
    cr_assert(v, "%s", e.msg);
    const wk_vocab_info *in = wk_vocab_get_info(v);
    cr_expect(!in->add_space_prefix && !in->add_bos && in->add_eos);
    cr_expect_eq(in->eos, SP_USER);
    cr_expect_eq(in->bos, SP_BOS, "an id outside the vocabulary keeps the default");
    TV_EXPECT(v, "abc", ADD, SP_A, SP_BC, SP_USER);
    TV_EXPECT(v, " a", 0, SP_SPACE_A);
    wk_vocab_free(v);
}

Test(vocab, bpe_merges_lowest_rank_first)
{
    wk_vocab *v = tv_bpe("gpt-2");
    const wk_vocab_info *in = wk_vocab_get_info(v);
    cr_expect(in->kind == WK_TOK_BPE && in->pre_type == WK_PRE_GPT2 && in->n_merges == 4);
    cr_expect(!in->add_bos && !in->add_space_prefix && !in->ignore_merges);
    cr_expect_eq(in->bos, 11, "llama.cpp's default for BPE");
    /* "abc": a+b (rank 0) before b+c (rank 3); "ab"+"c" is no merge. */
    TV_EXPECT(v, "abc", 0, BP_AB, 'c');
    /* " ab" is "Ġab": a+b (0) first, then "Ġ"+"ab" is no merge (id ' ' is "Ġ"). */
    TV_EXPECT(v, " ab", 0, ' ', BP_AB);
    /* Two words: " a" is Ġ+a (1); in " bc", b+c (3). */
    TV_EXPECT(v, " a bc", 0, BP_G_A, ' ', BP_BC);
    /* Bytes map to characters and back, each its own token; an invalid byte is U+FFFD
     * (EF BF BD), as llama.cpp decodes it. */
    TV_EXPECT(v, "\n\x01\xFF", 0, '\n', 1, 0xEF, 0xBF, 0xBD);
    TV_EXPECT(v, "abc", ADD, BP_AB, 'c');
    wk_vocab_free(v);
}

Test(vocab, bpe_llama3_ignores_merges_for_whole_words)
{
    wk_vocab *v = tv_bpe("llama-bpe");
    const wk_vocab_info *in = wk_vocab_get_info(v);
    cr_expect(in->pre_type == WK_PRE_LLAMA3 && in->ignore_merges && in->add_bos);
    TV_EXPECT(v, "abc", 0, BP_ABC);
    TV_EXPECT(v, "abcabc", 0, BP_AB, 'c', BP_AB, 'c');
    wk_vocab_free(v);
}

static void bos_id(wk_gguf_writer *w)
{
    wk_err e;
    cr_assert_eq(wk_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", BP_BOS, &e), 0);
    cr_assert_eq(wk_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", BP_EOT, &e), 0);
}

Test(vocab, bpe_special_tokens)
{
    wk_err e;
    wk_vocab *v = tv_bpe_hook("llama-bpe", bos_id, &e);
    cr_assert(v, "%s", e.msg);
    TV_EXPECT(v, "<|eot|>", PARSE, BP_EOT);
    TV_EXPECT(v, "ab<|eot|>", ADD | PARSE, BP_BOS, BP_AB, BP_EOT);
    TV_EXPECT(v, "<|eot|>", 0, '<', '|', 'e', 'o', 't', '|', '>');
    TV_EXPECT(v, "a<u>", 0, 'a', BP_USER);
    cr_expect(wk_token_is_eog(v, BP_EOT));
    wk_vocab_free(v);
}

static void no_eos_id(wk_gguf_writer *w)
{
    wk_err e;
    cr_assert_eq(wk_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", true, &e), 0);
}

Test(vocab, missing_bos_or_eos_is_an_error)
{
    wk_err e;
    wk_vocab *v = tv_bpe_hook("qwen2", no_eos_id, &e);
    cr_assert(v, "%s", e.msg);
    cr_expect_eq(wk_vocab_get_info(v)->eos, 11);
    wk_vocab_free(v);
    /* With fewer than 12 tokens, llama.cpp's default BPE ids do not exist. */
    const char *tok[] = {"a", "b"};
    const int32_t type[] = {1, 1};
    v = tv_write_load("gpt2", "gpt-2", tok, NULL, type, 2, (const char *[]){"a b"}, 1,
                      no_eos_id, &e);
    cr_assert(v, "%s", e.msg);
    wk_tokens ids = {0};
    cr_expect_eq(wk_tokenize(v, "ab", 2, ADD, &ids, &e), -1);
    cr_expect(strstr(e.msg, "asks for EOS (tokenizer.ggml.add_eos_token) but has no EOS "
                           "token") != NULL, "%s", e.msg);
    cr_expect_eq(wk_tokenize(v, "ab", 2, 0, &ids, &e), 0);
    wk_tokens_free(&ids);
    wk_vocab_free(v);
}

static void scores_short(wk_gguf_writer *w)
{
    wk_err e;
    float s[2] = {0, 0};
    cr_assert_eq(wk_gguf_set_arr(w, "tokenizer.ggml.scores", WK_GGUF_F32, s, 2, &e), 0);
}

static void types_wrong(wk_gguf_writer *w)
{
    wk_err e;
    float s[SP_N] = {0};
    cr_assert_eq(wk_gguf_set_arr(w, "tokenizer.ggml.token_type", WK_GGUF_F32, s, SP_N, &e), 0);
}

static void tokens_not_strings(wk_gguf_writer *w)
{
    wk_err e;
    uint32_t t[3] = {1, 2, 3};
    cr_assert_eq(wk_gguf_set_arr(w, "tokenizer.ggml.tokens", WK_GGUF_U32, t, 3, &e), 0);
}

Test(vocab, bad_metadata_gives_clean_errors)
{
    wk_err e;
    cr_expect_null(tv_spm_hook(scores_short, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.scores: expected an array of at least 269 f32 or "
                            "i32, found 2 f32") != NULL, "%s", e.msg);
    cr_expect_null(tv_spm_hook(types_wrong, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.token_type: expected an array of at least 269 "
                            "i32, found 269 f32") != NULL, "%s", e.msg);
    cr_expect_null(tv_spm_hook(tokens_not_strings, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.tokens: expected an array of strings, found an "
                            "array of u32") != NULL, "%s", e.msg);
    cr_expect_null(tv_bpe_hook("jais-2", NULL, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.pre 'jais-2' is not supported") != NULL, "%s",
              e.msg);
    cr_expect(strstr(e.msg, "/tmp/wk-vocab-test-") == e.msg, "the message names the file");
    const char *tok[] = {"a"};
    const int32_t type[] = {1};
    cr_expect_null(tv_write_load("gpt2", NULL, tok, NULL, type, 1, NULL, 0, NULL, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.merges is missing") != NULL, "%s", e.msg);
    cr_expect_null(tv_write_load("llama", NULL, tok, NULL, type, 0, NULL, 0, NULL, &e));
    cr_expect(strstr(e.msg, "tokenizer.ggml.tokens is empty") != NULL, "%s", e.msg);
}

Test(vocab, empty_and_duplicate_tokens_as_llama_cpp)
{
    /* An empty token becomes "[EMPTY_<id>]"; a duplicated text finds its last id; a merge
     * without a space is never used; no pre-tokenizer is "default". */
    const char *tok[] = {"a", "", "b", "a", "ab"};
    const int32_t type[] = {1, 1, 1, 1, 1};
    const char *merges[] = {"ab", "a b"};
    wk_err e;
    wk_vocab *v = tv_write_load("gpt2", NULL, tok, NULL, type, 5, merges, 2, NULL, &e);
    cr_assert(v, "%s", e.msg);
    cr_expect_str_eq(wk_vocab_get_info(v)->pre, "default");
    cr_expect_str_eq(wk_token_text(v, 1, NULL), "[EMPTY_1]");
    cr_expect_eq(wk_token_find(v, "a", 1), 3);
    TV_EXPECT(v, "ab", 0, 4);
    TV_EXPECT(v, "ba", 0, 2, 3);
    wk_vocab_free(v);
}
