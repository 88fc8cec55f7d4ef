/* tokenizer.json and tokenizer_config.json import (formats/tokenizer/tokenizer.h): small
 * fixtures written here, one per tokenizer family (GPT-2, Llama 3, Qwen2, SmolLM, ...);
 * malformed JSON gives clean errors; the GGUF keys are read back with wk_gguf_open. */
#include "tests/unit/formats/tokenizer/tokenizer_test_util.h"

#include <cjson/cJSON.h>

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
    cr_assert_eq(t.warnings.n, 0, "%s", tok_warnings_text(&t.warnings));
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
    cr_assert(tok_warned(&t.warnings, "pad id -1 is outside"), "%s",
              tok_warnings_text(&t.warnings));
    cr_assert(tok_warned(&t.warnings, "unk id 99 is outside the vocabulary"), "%s",
              tok_warnings_text(&t.warnings));
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
        bool warned = tok_warned(&t.warnings, "pre-tokenizer not recognised") != NULL;
        cr_assert_eq(warned, strcmp(cases[i].want, "default") == 0, "case %zu: %s", i,
                     tok_warnings_text(&t.warnings));
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
    wk_warnings_free(&info.warnings);
    wk_gguf_close(g);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
}

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
                                "nor a list; ignored", dir);
    const char *got = tok_warned(&t.warnings, "chat_template");
    cr_expect(got && strcmp(got, want) == 0, "want '%s' in:\n%s", want,
              tok_warnings_text(&t.warnings));
    snprintf(want, sizeof want, "%s/config.json: special token unk id 99 is outside", dir);
    cr_expect(tok_warned(&t.warnings, want) != NULL, "want '%s' in:\n%s", want,
              tok_warnings_text(&t.warnings));
    wk_tokenizer_free(&t);
    wk_hf_config_free(cfg);
    tok_rmdir(dir);
}
