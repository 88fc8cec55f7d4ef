/* SentencePiece import (formats/tokenizer/tokenizer.h): the real llama2 and stories260k
 * tokenizer.model files against Debian's python3-sentencepiece (run at test time), piece by
 * piece; hand-built and truncated protobufs; the GGUF keys read back with wk_gguf_open.
 * Tests needing ../shared skip outside CI and fail in CI. */
#include "tests/unit/formats/tokenizer/tokenizer_test_util.h"

#include "common/bytebuf.h"

static void tok_compare_with_sentencepiece(const char *path)
{
    wk_spm_model m;
    wk_err e = {{0}};
    cr_assert_eq(wk_spm_load(path, &m, &e), 0, "%s", e.msg);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import sys, sentencepiece as s\n"
             "p = s.SentencePieceProcessor(); p.Load(sys.argv[1])\n"
             "print(p.vocab_size(), p.unk_id(), p.bos_id(), p.eos_id(), p.pad_id())\n"
             "for i in range(p.vocab_size()):\n"
             "    t = 2 if p.IsUnknown(i) else 3 if p.IsControl(i) else 5 if p.IsUnused(i) "
             "else 6 if p.IsByte(i) else 1\n"
             "    print(p.IdToPiece(i).encode().hex() or '-', p.GetScore(i).hex(), t)\" '%s'",
             path);
    FILE *py = popen(cmd, "r");
    cr_assert_not_null(py);
    unsigned long long n;
    int ids[4];
    cr_assert_eq(fscanf(py, "%llu %d %d %d %d", &n, &ids[0], &ids[1], &ids[2], &ids[3]), 5,
                 "python3-sentencepiece did not answer for %s", path);
    cr_assert_eq(m.n_pieces, n);
    cr_assert_eq(m.unk_id, ids[0]);
    cr_assert_eq(m.bos_id, ids[1]);
    cr_assert_eq(m.eos_id, ids[2]);
    cr_assert_eq(m.pad_id, ids[3]);
    static char hex[4096], score[64];
    for (unsigned long long i = 0; i < n; i++) {
        int type;
        cr_assert_eq(fscanf(py, "%4095s %63s %d", hex, score, &type), 3);
        char piece[2048] = "";
        for (size_t k = 0; hex[0] != '-' && hex[2 * k]; k++)
            sscanf(hex + 2 * k, "%2hhx", (unsigned char *)&piece[k]);
        cr_assert_str_eq(m.pieces[i].piece, piece, "piece %llu", i);
        cr_assert_eq(m.pieces[i].score, (float)strtod(score, NULL), "score of piece %llu", i);
        int ours = m.pieces[i].type == WK_TOK_USER_DEFINED ? WK_TOK_NORMAL : m.pieces[i].type;
        cr_assert_eq(ours, type, "type of piece %llu", i);
    }
    cr_assert_eq(pclose(py), 0);
    wk_spm_free(&m);
}


/* ---- SentencePiece against python3-sentencepiece ---- */

Test(tokenizer, spm_llama2_matches_sentencepiece)
{
    char *p = tok_shared("tokenizers/llama2/tokenizer.model");
    tok_compare_with_sentencepiece(p);
    free(p);
}

Test(tokenizer, spm_stories260k_matches_sentencepiece)
{
    char *p = tok_shared("models/stories260k-hf/tokenizer.model");
    tok_compare_with_sentencepiece(p);
    free(p);
}

/* The whole stories260k directory: SentencePiece vocabulary plus the HF side files. */
Test(tokenizer, stories260k_directory_as_llama_cpp_converts_it)
{
    char *dir = tok_shared("models/stories260k-hf");
    char *mp = wk_path_join(dir, "tokenizer.model");
    wk_hf_config *cfg;
    wk_spm_model m;
    wk_tokenizer t;
    wk_err e = {{0}};
    cr_assert_eq(wk_hf_config_load(dir, &cfg, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_spm_load(mp, &m, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_tokenizer_load(dir, cfg, &t, &e), 0, "%s", e.msg);
    cr_assert_str_eq(t.model, "llama");
    cr_assert_str_eq(t.pre, "default");
    cr_assert_eq(t.n_tokens, 512);
    for (uint64_t i = 0; i < t.n_tokens; i++) {
        cr_assert_str_eq(t.tokens[i], m.pieces[i].piece);
        /* tokenizer_config.json's added_tokens_decoder marks ids 0..2 special */
        cr_assert_eq(t.types[i], i < 3 ? WK_TOK_CONTROL : m.pieces[i].type, "type %llu",
                     (unsigned long long)i);
        cr_assert_eq(t.scores[i], i < 3 ? -1000.0f : m.pieces[i].score);
    }
    cr_assert_eq(t.special_id[WK_SP_BOS], 1);
    cr_assert_eq(t.special_id[WK_SP_EOS], 2);
    cr_assert_eq(t.special_id[WK_SP_UNK], 0);
    cr_assert_eq(t.special_id[WK_SP_PAD], -1);
    cr_assert_eq(t.add_bos, 1);
    cr_assert_eq(t.add_eos, 0);
    cr_assert_eq(t.add_sep, 0, "pair template <s> A <s> B has no sep or eos in the middle");
    cr_assert_null(t.chat_template);
    cr_assert_eq(t.n_merges, 0);
    wk_tokenizer_free(&t);
    wk_spm_free(&m);
    wk_hf_config_free(cfg);
    free(mp);
    free(dir);
}

/* ---- hand-built protobuf ---- */

/* A valid model: two pieces, unknown fields of every wire type, a trainer spec with
 * negative pad_id (10-byte varint) and byte_fallback. */
static const uint8_t tok_pb_ok[] = {
    0x0a, 0x0e,                         /* pieces (1, LEN 14) */
    0x0a, 0x05, '<', 'u', 'n', 'k', '>', /*   piece */
    0x15, 0x00, 0x00, 0x00, 0x00,       /*   score 0.0 */
    0x18, 0x02,                         /*   type UNKNOWN */
    0x0a, 0x15,                         /* pieces (1, LEN 21) */
    0x0a, 0x02, 'a', 'b',               /*   piece "ab" */
    0x15, 0x00, 0x00, 0xc0, 0xbf,       /*   score -1.5 */
    0x21, 1, 2, 3, 4, 5, 6, 7, 8,       /*   field 4, fixed64: skipped */
    0x2a, 0x01, 0x00,                   /*   field 5, LEN: skipped */
    0x1a, 0x03, 0x0a, 0x01, 'x',        /* normalizer_spec (3): skipped */
    0x12, 0x11,                         /* trainer_spec (2, LEN 17) */
    0x18, 0x02,                         /*   model_type BPE */
    0x98, 0x02, 0x01,                   /*   byte_fallback (35) true */
    0xd8, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* pad_id -1 */
    0x2d, 0x01, 0x02, 0x03, 0x04,       /* field 5, fixed32, top level: skipped */
};

Test(tokenizer, spm_parses_fields_and_skips_unknown_ones)
{
    wk_spm_model m;
    wk_err e = {{0}};
    cr_assert_eq(wk_spm_parse(tok_pb_ok, sizeof tok_pb_ok, "ok.model", &m, &e), 0, "%s", e.msg);
    cr_assert_eq(m.n_pieces, 2);
    cr_assert_str_eq(m.pieces[0].piece, "<unk>");
    cr_assert_eq(m.pieces[0].type, WK_TOK_UNKNOWN);
    cr_assert_str_eq(m.pieces[1].piece, "ab");
    cr_assert_eq(m.pieces[1].score, -1.5f);
    cr_assert_eq(m.pieces[1].type, WK_TOK_NORMAL);
    cr_assert_eq(m.model_type, 2);
    cr_assert(m.byte_fallback);
    cr_assert_eq(m.pad_id, -1);
    cr_assert_eq(m.unk_id, 0);
    cr_assert_eq(m.bos_id, 1);
    wk_spm_free(&m);
}

typedef struct tok_bad_pb {
    const char *name;
    uint8_t bytes[16];
    size_t len;
    const char *expect;
} tok_bad_pb;

Test(tokenizer, spm_malformed_inputs_give_clean_errors)
{
    static const tok_bad_pb cases[] = {
        {"empty", {0}, 0, "no pieces"},
        {"truncated key", {0x0a, 0x80}, 2, "offset 1: truncated varint"},
        {"truncated length", {0x0a}, 1, "offset 1: truncated varint"},
        {"length past end", {0x0a, 0x05, 0x0a, 0x01}, 4, "offset 1: length 5 runs past"},
        {"huge length", {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 10,
         "runs past the end"},
        {"varint over 64 bits", {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0x02}, 11, "does not fit in 64 bits"},
        {"pieces as varint", {0x08, 0x01}, 2, "pieces (field 1) has wire type 0, expected 2"},
        {"group", {0x0b, 0x0c}, 2, "unsupported wire type 3"},
        {"field zero", {0x02, 0x00}, 2, "invalid field number 0"},
        {"piece type 7", {0x0a, 0x02, 0x18, 0x07}, 4, "type 7, expected 1..6"},
        {"piece string past its message", {0x0a, 0x03, 0x0a, 0x05, 'a'}, 5, "runs past"},
        {"score truncated", {0x0a, 0x03, 0x15, 0x00, 0x00}, 5, "truncated score"},
        {"score as varint", {0x0a, 0x02, 0x10, 0x01}, 4, "score (field 2) has wire type 0"},
        {"NUL in piece", {0x0a, 0x04, 0x0a, 0x02, 'a', 0}, 6, "contains a NUL byte"},
        {"trainer id out of int32", {0x12, 0x07, 0xc0, 0x02, 0x80, 0x80, 0x80, 0x80, 0x10}, 9,
         "out of int32 range"},
        {"fixed64 truncated", {0x21, 1, 2, 3}, 4, "truncated fixed64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wk_spm_model m;
        wk_err e = {{0}};
        cr_assert_eq(wk_spm_parse(cases[i].bytes, cases[i].len, "bad.model", &m, &e), -1,
                     "%s: accepted", cases[i].name);
        cr_assert(strstr(e.msg, "bad.model: ") == e.msg, "%s: %s", cases[i].name, e.msg);
        cr_assert(strstr(e.msg, cases[i].expect), "%s: got \"%s\", expected \"%s\"",
                  cases[i].name, e.msg, cases[i].expect);
        cr_assert_eq(m.n_pieces, 0);
        cr_assert_null(m.pieces);
    }
}

/* Every strict prefix of a valid model either fails cleanly or parses fewer fields. */
Test(tokenizer, spm_every_truncation_is_clean)
{
    for (size_t n = 0; n < sizeof tok_pb_ok; n++) {
        wk_spm_model m;
        wk_err e = {{0}};
        uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees any over-read */
        memcpy(copy, tok_pb_ok, n);
        if (wk_spm_parse(copy, n, "cut.model", &m, &e) == 0)
            wk_spm_free(&m);
        else
            cr_assert(strstr(e.msg, "cut.model: "), "%zu: %s", n, e.msg);
        free(copy);
    }
}

/* A thousand added tokens outside the vocabulary: a thousand warnings, none cut off (the
 * warnings once shared a fixed 4 KiB buffer). */
Test(tokenizer, every_warning_is_kept)
{
    char *dir = tok_tmpdir();
    char *mp = wk_path_join(dir, "tokenizer.model");
    FILE *f = fopen(mp, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(tok_pb_ok, 1, sizeof tok_pb_ok, f), sizeof tok_pb_ok);
    fclose(f);
    wk_buf json = {0};
    wk_buf_printf(&json, "{");
    for (int i = 0; i < 1000; i++)
        wk_buf_printf(&json, "%s\"<extra_token_number_%d>\": %d", i ? ", " : "", i, 1000 + i);
    wk_buf_printf(&json, "}");
    cr_assert(!json.oom);
    tok_write(dir, "added_tokens.json", (const char *)json.p);
    wk_tokenizer t;
    wk_err e = {{0}};
    cr_assert_eq(wk_tokenizer_load(dir, NULL, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t.n_tokens, 2);
    size_t k = 0;
    for (size_t i = 0; i < t.warnings.n; i++) {
        if (!strstr(t.warnings.msg[i], "added_tokens.json: token "))
            continue;
        char want[128];
        snprintf(want, sizeof want, "added_tokens.json: token %zu \"<extra_token_number_%zu>\" "
                                    "is outside the vocabulary; ignored", 1000 + k, k);
        cr_assert(strstr(t.warnings.msg[i], want), "want '%s', got '%s'", want,
                  t.warnings.msg[i]);
        k++;
    }
    cr_assert_eq(k, 1000, "%zu of 1000 warnings kept", k);
    cr_assert_eq(t.warnings.lost, 0);
    wk_tokenizer_free(&t);
    wk_buf_free(&json);
    free(mp);
    tok_rmdir(dir);
}

Test(tokenizer, gguf_keys_for_sentencepiece)
{
    char *model = tok_shared("models/stories260k-hf/tokenizer.model");
    char *dir = tok_tmpdir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", model, dir);
    cr_assert_eq(system(cmd), 0);
    tok_write(dir, "added_tokens.json", "{\"<extra>\": 600}"); /* beyond vocab_size: ignored */
    wk_hf_config *cfg = tok_config(dir, "{\"vocab_size\": 520, \"pad_token_id\": 0}");
    wk_spm_model m;
    wk_err e = {{0}};
    cr_assert_eq(wk_spm_load(model, &m, &e), 0, "%s", e.msg);
    wk_tokenizer_info info;
    char path[512];
    wk_gguf *g = tok_import_to_gguf(dir, cfg, &info, path, sizeof path);
    cr_assert_eq(info.n_tokens, 520);
    cr_assert(tok_warned(&info.warnings, "added_tokens.json: token 600"), "%s",
              tok_warnings_text(&info.warnings));
    wk_warnings_free(&info.warnings);
    cr_assert(tok_str_eq(tok_find(g, "tokenizer.ggml.model", WK_GGUF_STRING)->str, "llama"));
    cr_assert(tok_str_eq(tok_find(g, "tokenizer.ggml.pre", WK_GGUF_STRING)->str, "default"));
    const wk_gguf_value *tokens = tok_find(g, "tokenizer.ggml.tokens", WK_GGUF_ARRAY);
    const wk_gguf_value *scores = tok_find(g, "tokenizer.ggml.scores", WK_GGUF_ARRAY);
    const wk_gguf_value *types = tok_find(g, "tokenizer.ggml.token_type", WK_GGUF_ARRAY);
    cr_assert_eq(scores->arr.elem_type, WK_GGUF_F32);
    cr_assert_eq(tokens->arr.count, 520);
    cr_assert_eq(scores->arr.count, 520);
    cr_assert_eq(types->arr.count, 520);
    for (uint64_t i = 0; i < 520; i++) {
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%llu]", (unsigned long long)i);
        bool piece = i < m.n_pieces;
        cr_assert(tok_str_eq(tokens->arr.items[i].str, piece ? m.pieces[i].piece : pad),
                  "token %llu", (unsigned long long)i);
        cr_assert_eq((float)wk_gguf_arr_f64(scores, i), piece ? m.pieces[i].score : -10000.0f);
        cr_assert_eq(wk_gguf_arr_u64(types, i), piece ? (uint64_t)m.pieces[i].type : 5);
    }
    /* no tokenizer.json or tokenizer_config.json here: ids from config.json, then the
     * trainer spec */
    cr_assert_eq(tok_find(g, "tokenizer.ggml.padding_token_id", WK_GGUF_U32)->u, 0);
    cr_assert_eq(tok_find(g, "tokenizer.ggml.bos_token_id", WK_GGUF_U32)->u, (uint64_t)m.bos_id);
    cr_assert_eq(tok_find(g, "tokenizer.ggml.eos_token_id", WK_GGUF_U32)->u, (uint64_t)m.eos_id);
    cr_assert_eq(tok_find(g, "tokenizer.ggml.unknown_token_id", WK_GGUF_U32)->u,
                 (uint64_t)m.unk_id);
    cr_assert_null(wk_gguf_find(g, "tokenizer.ggml.add_bos_token"));
    wk_gguf_close(g);
    wk_spm_free(&m);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
    free(model);
}

/* Warnings name their file as errors do: the model directory joined with the file name. */
