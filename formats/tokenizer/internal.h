/* Helpers shared by the tokenizer readers (tokenizer_json.c, config.c, import.c, special.c;
 * defined in util.c and special.c); not part of the public interface. */
#ifndef WK_FORMATS_TOKENIZER_INTERNAL_H
#define WK_FORMATS_TOKENIZER_INTERNAL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/err.h"
#include "formats/hf_config.h"
#include "formats/tokenizer/tokenizer.h"

/* Parses text as JSON; the document must be an object. Errors name path and byte offset. */
cJSON *wk_tok_json_parse(const char *text, const char *path, wk_err *e);
/* Reads and parses a JSON file of at most max_bytes. */
cJSON *wk_tok_json_load(const char *path, size_t max_bytes, wk_err *e);
/* A token id: an integral JSON number in [0, WK_TOK_MAX_TOKENS). what names it in messages. */
int wk_tok_json_id(const cJSON *v, const char *path, const char *what, int64_t *out, wk_err *e);
/* A token given as "text" or {"content": "text"}; NULL for anything else. */
const char *wk_tok_json_content(const cJSON *v);
/* strdup that reports failure through e. */
char *wk_tok_strdup(const char *s, const char *path, wk_err *e);

/* gguf-py SpecialVocab: fills t->special_id, t->add_* and the chat templates from
 * tokenizer.json (tj, may be NULL), tokenizer_config.json (c), config.json (cfg, may be
 * NULL) and, last, the SentencePiece trainer spec (spm, may be NULL), all files of the model
 * directory dir (for warnings). t->n_tokens must be set. Takes the chat templates out of c. */
void wk_tok_resolve_special(wk_tokenizer *t, const char *dir, const wk_tokjson *tj,
                            wk_tokcfg *c, const wk_hf_config *cfg, const wk_spm_model *spm);

/* A warning about file, named as errors name it: dir/file (wk_path_join), or file as it is
 * when dir is NULL (a path already). */
void wk_tok_warn_in(wk_tokenizer *t, const char *dir, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
