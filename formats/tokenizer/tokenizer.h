/* Tokenizer import: a Hugging Face model directory's tokenizer files -> GGUF tokenizer.*
 * metadata, as llama.cpp's convert_hf_to_gguf.py writes it and src/llama-vocab.cpp reads it
 * (keys: gguf-py/gguf/constants.py, Keys.Tokenizer). docs/tokenizers.md has the rules.
 *
 * Three stages, each usable alone:
 *   parse   tokenizer.model (wk_spm_*), tokenizer.json (wk_tokjson_*), tokenizer_config.json
 *           and friends (wk_tokcfg_*) into plain structs;
 *   build   wk_tokenizer_load: choose SentencePiece ("llama") or byte-level BPE ("gpt2"),
 *           assemble tokens/scores/types/merges, resolve special token ids and flags;
 *   write   wk_tokenizer_write: every key into a wk_gguf_writer.
 * wk_tokenizer_import does all three. Nothing here prints: warnings are collected in a
 * wk_warnings list for the caller. */
#ifndef WK_FORMATS_TOKENIZER_IMPORT_H
#define WK_FORMATS_TOKENIZER_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/warn.h"
#include "formats/gguf/gguf.h"
#include "formats/hf_config.h"

/* Resource limits for untrusted tokenizer files. */
#define WK_TOK_MAX_MODEL_BYTES (64u << 20)  /* tokenizer.model */
#define WK_TOK_MAX_JSON_BYTES (64u << 20)   /* tokenizer.json */
#define WK_TOK_MAX_CONFIG_BYTES (16u << 20) /* tokenizer_config.json and friends */
#define WK_TOK_MAX_TOKENS (1u << 22)        /* token ids and merges */

/* llama.cpp's token types (gguf-py TokenType), the same numbers as SentencePiece's. */
enum wk_tok_type {
    WK_TOK_NORMAL = 1,
    WK_TOK_UNKNOWN = 2,
    WK_TOK_CONTROL = 3,
    WK_TOK_USER_DEFINED = 4,
    WK_TOK_UNUSED = 5,
    WK_TOK_BYTE = 6,
};

/* ---- tokenizer.model (sentencepiece_model.proto, protobuf wire format) ---- */
typedef struct wk_spm_piece {
    char *piece; /* UTF-8, NUL-terminated (a piece holding a NUL byte is rejected) */
    float score;
    int32_t type; /* enum wk_tok_type; NORMAL when absent */
} wk_spm_piece;

typedef struct wk_spm_model {
    uint64_t n_pieces;
    wk_spm_piece *pieces;
    int32_t model_type; /* TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char */
    bool byte_fallback;
    int32_t unk_id, bos_id, eos_id, pad_id; /* TrainerSpec defaults 0, 1, 2, -1 */
} wk_spm_model;

/* Test-only (unit tests and fuzz harnesses): the same as wk_spm_load from bytes in memory;
 * path is used in messages only. */
int wk_spm_parse(const uint8_t *data, uint64_t size, const char *path, wk_spm_model *out,
                 wk_err *e);
int wk_spm_load(const char *path, wk_spm_model *out, wk_err *e);
void wk_spm_free(wk_spm_model *m);

/* ---- tokenizer.json (Hugging Face tokenizers) ---- */
struct cJSON; /* cjson/cJSON.h, needed only by the files that read the JSON */

typedef struct wk_tok_added {
    int64_t id;
    char *content;
    bool special;
} wk_tok_added;

typedef struct wk_tokjson {
    char *path;
    char *model_type; /* model.type: "BPE", "Unigram", "WordPiece", ... */
    bool byte_fallback;
    /* added_tokens, in file order */
    uint64_t n_added;
    wk_tok_added *added;
    /* post_processor, detached from the document (NULL when absent or null); opaque here,
     * read through cJSON by special.c */
    struct cJSON *post_processor;
    /* only with want_vocab (byte-level BPE): */
    uint64_t n_vocab; /* highest id in model.vocab and added_tokens, plus one */
    char **vocab;     /* [n_vocab]: model.vocab by id, then added tokens; NULL for holes */
    uint64_t n_merges;
    char **merges;    /* "a b"; pair merges have spaces inside parts encoded as U+0120 */
    const char *pre;  /* tokenizer.ggml.pre detected from pre_tokenizer (static string) */
    bool pre_known;   /* false: pre is "default" because the structure was not recognised */
} wk_tokjson;

/* want_vocab: also read model.vocab, model.merges and pre_tokenizer (needs model.type BPE). */
int wk_tokjson_load(const char *path, bool want_vocab, wk_tokjson *out, wk_err *e);
/* Test-only (unit tests and fuzz harnesses): the same from text in memory; path names it in
 * messages. */
int wk_tokjson_parse(const char *text, const char *path, bool want_vocab, wk_tokjson *out,
                     wk_err *e);
void wk_tokjson_free(wk_tokjson *t);

/* ---- tokenizer_config.json, added_tokens.json, chat_template.{jinja,json} ---- */
enum wk_tok_special {
    WK_SP_BOS, WK_SP_EOS, WK_SP_UNK, WK_SP_SEP, WK_SP_PAD, WK_SP_CLS, WK_SP_MASK,
    WK_SP_EOT, WK_SP_EOM, WK_SP_COUNT
};
extern const char *const wk_tok_special_names[WK_SP_COUNT]; /* "bos", "eos", ... */

typedef struct wk_tok_named_template {
    char *name; /* non-alphanumerics replaced by '_' as gguf-py does */
    char *text;
} wk_tok_named_template;

typedef struct wk_tokcfg {
    bool present;                    /* tokenizer_config.json exists and is a non-empty object */
    char *token[WK_SP_COUNT];        /* "<typ>_token" content strings, NULL when absent */
    int8_t add[WK_SP_COUNT];         /* "add_<typ>_token": -1 absent, else 0/1 */
    int8_t add_prefix_space;         /* -1 absent */
    /* added_tokens_decoder (id -> content, special), in file order */
    uint64_t n_decoder;
    wk_tok_added *decoder;
    /* added_tokens.json (content -> id) */
    uint64_t n_added_json;
    wk_tok_added *added_json;
    char *chat_template;             /* the default template, or NULL */
    bool chat_template_ignored;      /* "chat_template" was neither a string nor a list */
    uint64_t n_named;
    wk_tok_named_template *named;    /* the others of a template list */
} wk_tokcfg;

/* Reads dir/tokenizer_config.json, dir/added_tokens.json and the chat template files;
 * absent files leave their fields empty. */
int wk_tokcfg_load(const char *dir, wk_tokcfg *out, wk_err *e);
/* Test-only (unit tests and fuzz harnesses): tokenizer_config.json from text; path names it
 * in messages. */
int wk_tokcfg_parse(const char *text, const char *path, wk_tokcfg *out, wk_err *e);
void wk_tokcfg_free(wk_tokcfg *c);

/* ---- the assembled tokenizer ---- */
typedef struct wk_tokenizer {
    const char *model; /* tokenizer.ggml.model: "llama" or "gpt2" */
    const char *pre;   /* tokenizer.ggml.pre */
    uint64_t n_tokens; /* = config vocab_size when given: the embedding rows */
    char **tokens;
    float *scores;     /* NULL for gpt2 */
    int32_t *types;
    uint64_t n_merges; /* gpt2 only */
    char **merges;
    int64_t special_id[WK_SP_COUNT]; /* -1: not written (CLS has no GGUF key) */
    int8_t add_bos, add_eos, add_sep, add_space_prefix; /* -1: not written */
    char *chat_template;
    uint64_t n_named;
    wk_tok_named_template *named;
    wk_warnings warnings; /* freed by wk_tokenizer_free */
} wk_tokenizer;

/* Reads the tokenizer of model_dir. cfg (config.json) may be NULL; when given, its
 * vocab_size fixes the token count and its <typ>_token_id keys fill special ids that the
 * tokenizer files leave unset. */
int wk_tokenizer_load(const char *model_dir, const wk_hf_config *cfg, wk_tokenizer *out,
                      wk_err *e);
int wk_tokenizer_write(const wk_tokenizer *t, wk_gguf_writer *w, wk_err *e);
void wk_tokenizer_free(wk_tokenizer *t);

/* What the caller of wk_tokenizer_import needs to know. */
typedef struct wk_tokenizer_info {
    uint64_t n_tokens;              /* must equal llama.vocab_size and the embedding rows */
    char model[16];                 /* "llama" / "gpt2" */
    char pre[64];
    wk_warnings warnings;           /* for the tool to print; the caller frees them */
} wk_tokenizer_info;

/* load + write. info may be NULL; it is filled only on success. */
int wk_tokenizer_import(const char *model_dir, const wk_hf_config *cfg, wk_gguf_writer *w,
                        wk_tokenizer_info *info, wk_err *e);

#endif
