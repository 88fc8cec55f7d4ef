/* Tokenizer import (formats/tokenizer_import.h).
 *
 * SentencePiece: the real llama2 and stories260k tokenizer.model files against Debian's
 * python3-sentencepiece (run at test time), piece by piece. tokenizer.json and
 * tokenizer_config.json: small fixtures written here, one per tokenizer family; malformed
 * protobuf and JSON inputs must give clean errors. The GGUF keys are read back with
 * wk_gguf_open. Tests needing ../shared skip outside CI and fail in CI. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "formats/gguf.h"
#include "formats/tokenizer_import.h"

/* ---- helpers ---- */

static char *tok_shared(const char *rel)
{
    const char *root = getenv("WK_SHARED") ? getenv("WK_SHARED") : "../shared";
    char *p = wk_path_join(root, rel);
    if (access(p, F_OK) != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            cr_assert_fail("%s is missing, and CI must have it", p);
        free(p);
        cr_skip_test("%s/%s not present (a user's clone has no ../shared)", root, rel);
    }
    return p;
}

static char *tok_tmpdir(void)
{
    char tmpl[] = "/tmp/wk-tok-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void tok_write(const char *dir, const char *name, const char *text)
{
    char *p = wk_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void tok_rmdir(char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

static wk_hf_config *tok_config(const char *dir, const char *json)
{
    wk_hf_config *c;
    wk_err e = {{0}};
    tok_write(dir, "config.json", json);
    cr_assert_eq(wk_hf_config_load(dir, &c, &e), 0, "%s", e.msg);
    return c;
}

/* Compares a parsed model with python3-sentencepiece's view of the same file. */
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

/* ---- tokenizer.json fixtures ---- */

/* The Split regexes as llama-vocab.cpp quotes them from the models' tokenizer.json. */
#define TOK_RE_LLAMA3                                                                          \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define TOK_RE_QWEN2                                                                           \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"      \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* GPT-2 style: byte-level vocabulary ("\u0120" is GPT-2's space), string merges, one added
 * special token. */
static const char tok_gpt2_json[] =
    "{\"version\": \"1.0\",\n"
    " \"added_tokens\": [{\"id\": 6, \"content\": \"<|endoftext|>\", \"special\": true,\n"
    "                    \"normalized\": false}],\n"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false,\n"
    "                   \"trim_offsets\": true, \"use_regex\": true},\n"
    " \"post_processor\": {\"type\": \"ByteLevel\", \"trim_offsets\": false},\n"
    " \"model\": {\"type\": \"BPE\", \"byte_fallback\": false,\n"
    "   \"vocab\": {\"a\": 0, \"b\": 1, \"\\u0120\": 2, \"ab\": 3, \"\\u0120a\": 4,\n"
    "             \"\\u0120ab\": 5, \"<|endoftext|>\": 6},\n"
    "   \"merges\": [\"a b\", \"\\u0120 a\", \"\\u0120a b\"]}}\n";

/* Llama 3 style: pair merges, several added tokens, a hole, a TemplateProcessing that
 * adds <|begin_of_text|>. The pre_tokenizer is set by tok_llama3_dir. */
static const char tok_llama3_json[] =
    "{\"added_tokens\": [\n"
    "   {\"id\": 7, \"content\": \"<|begin_of_text|>\", \"special\": true},\n"
    "   {\"id\": 8, \"content\": \"<|reserved_special_token_0|>\", \"special\": false},\n"
    "   {\"id\": 9, \"content\": \"\\u2581hi\", \"special\": false},\n"
    "   {\"id\": 12, \"content\": \"<|end_of_text|>\", \"special\": true}],\n"
    " \"post_processor\": {\"type\": \"Sequence\", \"processors\": [\n"
    "   {\"type\": \"ByteLevel\"},\n"
    "   {\"type\": \"TemplateProcessing\",\n"
    "    \"single\": [{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 0}},\n"
    "               {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],\n"
    "    \"pair\": [{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 0}},\n"
    "             {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},\n"
    "             {\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 1}},\n"
    "             {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}]}]},\n"
    " \"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"byte_fallback\": false,\n"
    "   \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"a b\": 4, \"a bc\": 5},\n"
    "   \"merges\": [[\"a\", \"b\"], [\"a\", \" b\"], [\"a b\", \"c\"]]}}\n";

/* A Sequence[Split(regex), ByteLevel] pre_tokenizer, as Llama 3 and Qwen2 have. */
static cJSON *tok_split_pre(const char *regex)
{
    cJSON *pre = cJSON_Parse("{\"type\": \"Sequence\", \"pretokenizers\": [\n"
                             " {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\"},\n"
                             "  \"behavior\": \"Isolated\", \"invert\": false},\n"
                             " {\"type\": \"ByteLevel\", \"add_prefix_space\": false,\n"
                             "  \"trim_offsets\": true, \"use_regex\": false}]}");
    cJSON *pattern = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(pre, "pretokenizers"), 0), "pattern");
    cJSON_ReplaceItemInObject(pattern, "Regex", cJSON_CreateString(regex));
    return pre;
}

/* The Llama 3 fixture with the given pre_tokenizer (NULL: Llama 3's own). */
static void tok_llama3_dir(const char *dir, cJSON *pre)
{
    cJSON *doc = cJSON_Parse(tok_llama3_json);
    cr_assert_not_null(doc);
    cJSON_AddItemToObject(doc, "pre_tokenizer", pre ? pre : tok_split_pre(TOK_RE_LLAMA3));
    char *text = cJSON_Print(doc);
    tok_write(dir, "tokenizer.json", text);
    free(text);
    cJSON_Delete(doc);
}

Test(tokenizer, gpt2_style_tokenizer_json)
{
    char *dir = tok_tmpdir();
    tok_write(dir, "tokenizer.json", tok_gpt2_json);
    tok_write(dir, "tokenizer_config.json",
              "{\"bos_token\": \"<|endoftext|>\",\n"
              " \"eos_token\": {\"content\": \"<|endoftext|>\", \"special\": true},\n"
              " \"add_bos_token\": false,\n"
              " \"chat_template\": [{\"name\": \"default\", \"template\": \"D\"},\n"
              "                     {\"name\": \"tool use\", \"template\": \"T\"}]}");
    wk_hf_config *cfg = tok_config(dir, "{\"vocab_size\": 10}");
    wk_tokenizer t;
    wk_err e = {{0}};
    cr_assert_eq(wk_tokenizer_load(dir, cfg, &t, &e), 0, "%s", e.msg);
    cr_assert_str_eq(t.model, "gpt2");
    cr_assert_str_eq(t.pre, "gpt-2");
    cr_assert_null(t.scores);
    cr_assert_eq(t.n_tokens, 10, "config.json vocab_size fixes the count");
    static const char *const want[] = {"a", "b", "\xc4\xa0", "ab", "\xc4\xa0" "a",
                                       "\xc4\xa0" "ab", "<|endoftext|>", "[PAD7]", "[PAD8]",
                                       "[PAD9]"};
    for (int i = 0; i < 10; i++) {
        cr_assert_str_eq(t.tokens[i], want[i]);
        cr_assert_eq(t.types[i], i < 6 ? WK_TOK_NORMAL : i == 6 ? WK_TOK_CONTROL : WK_TOK_UNUSED);
    }
    cr_assert_eq(t.n_merges, 3);
    cr_assert_str_eq(t.merges[0], "a b");
    cr_assert_str_eq(t.merges[1], "\xc4\xa0 a");
    cr_assert_str_eq(t.merges[2], "\xc4\xa0" "a b");
    cr_assert_eq(t.special_id[WK_SP_BOS], 6);
    cr_assert_eq(t.special_id[WK_SP_EOS], 6);
    cr_assert_eq(t.special_id[WK_SP_UNK], -1);
    cr_assert_eq(t.add_bos, 0);
    cr_assert_eq(t.add_eos, -1);
    cr_assert_str_eq(t.chat_template, "D");
    cr_assert_eq(t.n_named, 1);
    cr_assert_str_eq(t.named[0].name, "tool_use");
    cr_assert_str_eq(t.named[0].text, "T");
    cr_assert_str_eq(t.warnings, "");
    wk_tokenizer_free(&t);

    /* without config.json: the highest id + 1 */
    cr_assert_eq(wk_tokenizer_load(dir, NULL, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t.n_tokens, 7);
    wk_tokenizer_free(&t);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
}

Test(tokenizer, llama3_style_tokenizer_json)
{
    char *dir = tok_tmpdir();
    tok_llama3_dir(dir, NULL);
    tok_write(dir, "tokenizer_config.json",
              "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\"}");
    wk_hf_config *cfg = tok_config(
        dir, "{\"vocab_size\": 16, \"bos_token_id\": 3, \"eos_token_id\": [12, 8],\n"
             " \"pad_token_id\": -1, \"unk_token_id\": 99}");
    wk_tokenizer t;
    wk_err e = {{0}};
    cr_assert_eq(wk_tokenizer_load(dir, cfg, &t, &e), 0, "%s", e.msg);
    cr_assert_str_eq(t.model, "gpt2");
    cr_assert_str_eq(t.pre, "llama-bpe");
    cr_assert_eq(t.n_tokens, 16);
    cr_assert_str_eq(t.tokens[7], "<|begin_of_text|>");
    cr_assert_eq(t.types[7], WK_TOK_CONTROL);
    cr_assert_eq(t.types[8], WK_TOK_CONTROL, "<|...|> looks special even when not marked");
    cr_assert_str_eq(t.tokens[9], " hi", "user-defined tokens get U+2581 as a space");
    cr_assert_eq(t.types[9], WK_TOK_USER_DEFINED);
    for (int i = 10; i < 16; i++) {
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%d]", i);
        cr_assert_str_eq(t.tokens[i], i == 12 ? "<|end_of_text|>" : pad);
        cr_assert_eq(t.types[i], i == 12 ? WK_TOK_CONTROL : WK_TOK_UNUSED);
    }
    cr_assert_eq(t.n_merges, 3);
    cr_assert_str_eq(t.merges[0], "a b");
    cr_assert_str_eq(t.merges[1], "a \xc4\xa0" "b", "spaces inside pair parts become U+0120");
    cr_assert_str_eq(t.merges[2], "a\xc4\xa0" "b c");
    /* tokenizer_config.json wins over config.json's bos 3; eos from tokenizer_config */
    cr_assert_eq(t.special_id[WK_SP_BOS], 7);
    cr_assert_eq(t.special_id[WK_SP_EOS], 12);
    cr_assert_eq(t.special_id[WK_SP_PAD], -1);
    cr_assert_eq(t.special_id[WK_SP_UNK], -1);
    cr_assert(strstr(t.warnings, "pad id -1 is outside") || strstr(t.warnings, "pad id -1"),
              "%s", t.warnings);
    cr_assert(strstr(t.warnings, "unk id 99 is outside the vocabulary"), "%s", t.warnings);
    cr_assert_eq(t.add_bos, 1, "the single template starts with the bos token");
    cr_assert_eq(t.add_eos, -1);
    cr_assert_eq(t.add_sep, 0);
    wk_tokenizer_free(&t);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
}

typedef struct tok_pre_case {
    const char *pre_json; /* NULL: tok_split_pre(regex) */
    const char *regex;
    const char *want;
} tok_pre_case;

Test(tokenizer, pre_tokenizer_families)
{
    static const tok_pre_case cases[] = {
        {NULL, TOK_RE_LLAMA3, "llama-bpe"},
        {NULL, TOK_RE_QWEN2, "qwen2"},
        {NULL, "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
         "gpt-2"},
        {"{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}", NULL,
         "gpt-2"},
        {"{\"type\": \"Sequence\", \"pretokenizers\": [\n"
         " {\"type\": \"Digits\", \"individual_digits\": true},\n"
         " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true,\n"
         "  \"use_regex\": true}]}", NULL, "smollm"},
        /* not recognised */
        {NULL, "\\p{N}{1,3}|\\s+", "default"},
        {"{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}", NULL,
         "default"},
        {"{\"type\": \"Whitespace\"}", NULL, "default"},
        {"null", NULL, "default"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = tok_tmpdir();
        tok_llama3_dir(dir, cases[i].pre_json ? cJSON_Parse(cases[i].pre_json)
                                              : tok_split_pre(cases[i].regex));
        wk_tokenizer t;
        wk_err e = {{0}};
        cr_assert_eq(wk_tokenizer_load(dir, NULL, &t, &e), 0, "%s", e.msg);
        cr_assert_str_eq(t.pre, cases[i].want, "case %zu", i);
        bool warned = strstr(t.warnings, "pre-tokenizer not recognised") != NULL;
        cr_assert_eq(warned, strcmp(cases[i].want, "default") == 0, "case %zu: %s", i,
                     t.warnings);
        wk_tokenizer_free(&t);
        tok_rmdir(dir);
    }
}

typedef struct tok_bad_dir {
    const char *file, *text;
    const char *expect;
} tok_bad_dir;

Test(tokenizer, unusable_directories_name_the_file)
{
    static const tok_bad_dir cases[] = {
        {NULL, NULL, "expected tokenizer.model or tokenizer.json"},
        {"tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}",
         "tokenizer.json: model type WordPiece is not supported"},
        {"tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true,\n"
                           " \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
         "tokenizer.json: a SentencePiece-style BPE (byte_fallback)"},
        {"tokenizer.model", "not a protobuf", "tokenizer.model: offset"},
        {"tokenizer_config.json", "{\"chat_template\": [1]}", "tokenizer_config.json: "
                                                             "chat_template[0]: expected"},
        {"tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}",
         "tokenizer_config.json: added_tokens_decoder \"x\": expected a token id"},
        {"added_tokens.json", "{\"<x>\": -3}", "added_tokens.json: entry \"<x>\": expected a "
                                               "token id"},
        {"config.json", "{\"vocab_size\": 3}", "tokenizer.json: token id 6 is not below "
                                               "config.json vocab_size 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = tok_tmpdir();
        if (i > 0 && strcmp(cases[i].file, "tokenizer.json") != 0)
            tok_write(dir, "tokenizer.json", tok_gpt2_json);
        if (cases[i].file)
            tok_write(dir, cases[i].file, cases[i].text);
        wk_hf_config *cfg = NULL;
        wk_err e = {{0}};
        if (cases[i].file && strcmp(cases[i].file, "config.json") == 0)
            cr_assert_eq(wk_hf_config_load(dir, &cfg, &e), 0);
        wk_tokenizer t;
        cr_assert_eq(wk_tokenizer_load(dir, cfg, &t, &e), -1, "case %zu accepted", i);
        cr_assert(strstr(e.msg, cases[i].expect), "case %zu: got \"%s\"", i, e.msg);
        cr_assert(strstr(e.msg, dir), "case %zu: the message names the directory: %s", i,
                  e.msg);
        wk_hf_config_free(cfg);
        tok_rmdir(dir);
    }
}

typedef struct tok_bad_json {
    const char *text, *expect;
} tok_bad_json;

Test(tokenizer, malformed_tokenizer_json_gives_clean_errors)
{
    static const tok_bad_json cases[] = {
        {"{", "invalid JSON near byte"},
        {"[]", "expected a JSON object at the top level"},
        {"{\"model\": 3}", "expected a \"model\" object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": [], \"merges\": [\"a b\"]}}",
         "model.vocab: expected an object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [\"a b\"]}}",
         "model.vocab is empty"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": [\"a b\"]}}",
         "token \"a\": t.json: model.vocab: expected a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": [\"a b\"]}}",
         "expected a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}, \"merges\": [\"a b\"]}}",
         "expected a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": [\"a b\"]}}",
         "expected a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": [\"a b\"]}}",
         "id 0 is given to both \"a\" and \"b\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         "model.merges: expected a non-empty array"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
         "model.merges: expected a non-empty array"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\", 5]}}",
         "model.merges[1]: expected"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}",
         "model.merges[0]: expected \"a b\", got \"ab\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"b\", "
         "\"c\"]]}}", "model.merges[0]: expected"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"\"]]}}",
         "model.merges[0]: expected"},
        {"{\"added_tokens\": {}, \"model\": {\"type\": \"BPE\"}}",
         "added_tokens: expected an array"},
        {"{\"added_tokens\": [{\"id\": 1}], \"model\": {\"type\": \"BPE\"}}",
         "added_tokens[0]: expected an object with a string \"content\""},
        {"{\"added_tokens\": [{\"id\": 4194304, \"content\": \"x\"}], \"model\": {}}",
         "added_tokens[0].id: expected a token id"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}",
         "model type Unigram is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wk_tokjson t;
        wk_err e = {{0}};
        cr_assert_eq(wk_tokjson_parse(cases[i].text, "t.json", true, &t, &e), -1,
                     "case %zu accepted", i);
        cr_assert(strstr(e.msg, cases[i].expect), "case %zu: got \"%s\", expected \"%s\"", i,
                  e.msg, cases[i].expect);
        cr_assert(strstr(e.msg, "t.json: "), "case %zu: %s", i, e.msg);
    }
}

/* ---- the GGUF keys, read back ---- */

static const wk_gguf_value *tok_find(const wk_gguf *g, const char *key, uint32_t type)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    cr_assert_not_null(kv, "%s missing", key);
    cr_assert_eq(kv->value.type, type, "%s has type %s", key, wk_gguf_type_name(kv->value.type));
    return &kv->value;
}

static bool tok_str_eq(wk_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static wk_gguf *tok_import_to_gguf(const char *dir, const wk_hf_config *cfg,
                                   wk_tokenizer_info *info, char *path, size_t path_len)
{
    wk_gguf_writer *w;
    wk_gguf *g;
    wk_err e = {{0}};
    snprintf(path, path_len, "%s/vocab.gguf", dir);
    cr_assert_eq(wk_gguf_writer_open(path, &w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_tokenizer_import(dir, cfg, w, info, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_gguf_writer_finish(w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_gguf_open(path, &g, &e), 0, "%s", e.msg);
    return g;
}

Test(tokenizer, gguf_keys_for_byte_level_bpe)
{
    char *dir = tok_tmpdir();
    tok_llama3_dir(dir, NULL);
    tok_write(dir, "tokenizer_config.json",
              "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\",\n"
              " \"chat_template\": \"{{ bos_token }}\"}");
    wk_hf_config *cfg = tok_config(dir, "{\"vocab_size\": 16}");
    wk_tokenizer_info info;
    char path[512];
    wk_gguf *g = tok_import_to_gguf(dir, cfg, &info, path, sizeof path);
    cr_assert_eq(info.n_tokens, 16);
    cr_assert_str_eq(info.model, "gpt2");
    cr_assert_str_eq(info.pre, "llama-bpe");
    cr_assert(tok_str_eq(tok_find(g, "tokenizer.ggml.model", WK_GGUF_STRING)->str, "gpt2"));
    cr_assert(tok_str_eq(tok_find(g, "tokenizer.ggml.pre", WK_GGUF_STRING)->str, "llama-bpe"));
    const wk_gguf_value *tokens = tok_find(g, "tokenizer.ggml.tokens", WK_GGUF_ARRAY);
    const wk_gguf_value *types = tok_find(g, "tokenizer.ggml.token_type", WK_GGUF_ARRAY);
    const wk_gguf_value *merges = tok_find(g, "tokenizer.ggml.merges", WK_GGUF_ARRAY);
    cr_assert_eq(tokens->arr.elem_type, WK_GGUF_STRING);
    cr_assert_eq(tokens->arr.count, 16);
    cr_assert(tok_str_eq(tokens->arr.items[7].str, "<|begin_of_text|>"));
    cr_assert(tok_str_eq(tokens->arr.items[15].str, "[PAD15]"));
    cr_assert_eq(types->arr.elem_type, WK_GGUF_I32);
    cr_assert_eq(types->arr.count, 16);
    cr_assert_eq(wk_gguf_arr_u64(types, 0), WK_TOK_NORMAL);
    cr_assert_eq(wk_gguf_arr_u64(types, 7), WK_TOK_CONTROL);
    cr_assert_eq(wk_gguf_arr_u64(types, 9), WK_TOK_USER_DEFINED);
    cr_assert_eq(wk_gguf_arr_u64(types, 15), WK_TOK_UNUSED);
    cr_assert_eq(merges->arr.elem_type, WK_GGUF_STRING);
    cr_assert_eq(merges->arr.count, 3);
    cr_assert(tok_str_eq(merges->arr.items[1].str, "a \xc4\xa0" "b"));
    cr_assert_null(wk_gguf_find(g, "tokenizer.ggml.scores"), "BPE has no scores");
    cr_assert_eq(tok_find(g, "tokenizer.ggml.bos_token_id", WK_GGUF_U32)->u, 7);
    cr_assert_eq(tok_find(g, "tokenizer.ggml.eos_token_id", WK_GGUF_U32)->u, 12);
    cr_assert_null(wk_gguf_find(g, "tokenizer.ggml.padding_token_id"));
    cr_assert_eq(tok_find(g, "tokenizer.ggml.add_bos_token", WK_GGUF_BOOL)->u, 1);
    cr_assert_eq(tok_find(g, "tokenizer.ggml.add_sep_token", WK_GGUF_BOOL)->u, 0);
    cr_assert_null(wk_gguf_find(g, "tokenizer.ggml.add_eos_token"));
    cr_assert(tok_str_eq(tok_find(g, "tokenizer.chat_template", WK_GGUF_STRING)->str,
                         "{{ bos_token }}"));
    wk_gguf_close(g);
    wk_hf_config_free(cfg);
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
    cr_assert(strstr(info.warnings, "added_tokens.json: token 600"), "%s", info.warnings);
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
Test(tokenizer, warnings_name_the_file_with_its_directory)
{
    char *dir = tok_tmpdir();
    tok_llama3_dir(dir, NULL);
    tok_write(dir, "tokenizer_config.json", "{\"chat_template\": 5}");
    tok_write(dir, "added_tokens.json", "{}");
    wk_hf_config *cfg = tok_config(dir, "{\"vocab_size\": 16, \"unk_token_id\": 99}");
    wk_tokenizer t;
    wk_err e = {{0}};
    cr_assert_eq(wk_tokenizer_load(dir, cfg, &t, &e), 0, "%s", e.msg);
    char want[600];
    snprintf(want, sizeof want, "%s/tokenizer_config.json: chat_template is neither a string "
                                "nor a list; ignored\n", dir);
    cr_expect(strstr(t.warnings, want) != NULL, "want '%s' in:\n%s", want, t.warnings);
    snprintf(want, sizeof want, "%s/config.json: special token unk id 99 is outside", dir);
    cr_expect(strstr(t.warnings, want) != NULL, "want '%s' in:\n%s", want, t.warnings);
    wk_tokenizer_free(&t);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
}
