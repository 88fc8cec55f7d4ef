/* Writes an assembled tokenizer as GGUF metadata, with the key names and value types of
 * gguf-py (constants.py Keys.Tokenizer, gguf_writer.py): model/pre strings, tokens (string
 * array), scores (f32 array, SentencePiece only), token_type (i32 array), merges (string
 * array, BPE only), special token ids (u32), add_bos/add_eos/add_sep/add_space_prefix
 * (bool), tokenizer.chat_template, and named templates as tokenizer.chat_template.<name>
 * with their names listed in tokenizer.chat_templates. Only keys with a value are written;
 * llama.cpp supplies its defaults for the rest. */
#include "formats/tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GGUF keys of the special ids, by enum wk_tok_special; NULL: gguf-py has no key. */
static const char *const special_keys[WK_SP_COUNT] = {
    [WK_SP_BOS] = "tokenizer.ggml.bos_token_id",
    [WK_SP_EOS] = "tokenizer.ggml.eos_token_id",
    [WK_SP_UNK] = "tokenizer.ggml.unknown_token_id",
    [WK_SP_SEP] = "tokenizer.ggml.seperator_token_id", /* sic, as in gguf-py */
    [WK_SP_PAD] = "tokenizer.ggml.padding_token_id",
    [WK_SP_CLS] = NULL,
    [WK_SP_MASK] = "tokenizer.ggml.mask_token_id",
    [WK_SP_EOT] = "tokenizer.ggml.eot_token_id",
    [WK_SP_EOM] = "tokenizer.ggml.eom_token_id",
};

static int set_flag(wk_gguf_writer *w, const char *key, int8_t v, wk_err *e)
{
    return v < 0 ? 0 : wk_gguf_set_bool(w, key, v != 0, e);
}

static int write_templates(const wk_tokenizer *t, wk_gguf_writer *w, wk_err *e)
{
    if (t->chat_template && wk_gguf_set_str(w, "tokenizer.chat_template", t->chat_template, e))
        return -1;
    if (!t->n_named)
        return 0;
    const char **names = malloc(t->n_named * sizeof *names);
    if (!names)
        return wk_fail(e, "out of memory");
    int rc = 0;
    for (uint64_t i = 0; i < t->n_named && rc == 0; i++) {
        size_t len = strlen(t->named[i].name) + sizeof "tokenizer.chat_template.";
        char *key = malloc(len);
        if (!key) {
            rc = wk_fail(e, "out of memory");
            break;
        }
        snprintf(key, len, "tokenizer.chat_template.%s", t->named[i].name);
        names[i] = t->named[i].name;
        rc = wk_gguf_set_str(w, key, t->named[i].text, e);
        free(key);
    }
    if (rc == 0)
        rc = wk_gguf_set_arr_str(w, "tokenizer.chat_templates", names, t->n_named, e);
    free(names);
    return rc;
}

int wk_tokenizer_write(const wk_tokenizer *t, wk_gguf_writer *w, wk_err *e)
{
    if (wk_gguf_set_str(w, "tokenizer.ggml.model", t->model, e) != 0 ||
        wk_gguf_set_str(w, "tokenizer.ggml.pre", t->pre, e) != 0 ||
        wk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)t->tokens,
                            t->n_tokens, e) != 0 ||
        (t->scores && wk_gguf_set_arr(w, "tokenizer.ggml.scores", WK_GGUF_F32, t->scores,
                                      t->n_tokens, e) != 0) ||
        wk_gguf_set_arr(w, "tokenizer.ggml.token_type", WK_GGUF_I32, t->types, t->n_tokens,
                        e) != 0 ||
        (t->n_merges && wk_gguf_set_arr_str(w, "tokenizer.ggml.merges",
                                            (const char *const *)t->merges, t->n_merges,
                                            e) != 0))
        return -1;
    for (int typ = 0; typ < WK_SP_COUNT; typ++)
        if (special_keys[typ] && t->special_id[typ] >= 0 &&
            wk_gguf_set_u32(w, special_keys[typ], (uint32_t)t->special_id[typ], e) != 0)
            return -1;
    if (set_flag(w, "tokenizer.ggml.add_bos_token", t->add_bos, e) != 0 ||
        set_flag(w, "tokenizer.ggml.add_eos_token", t->add_eos, e) != 0 ||
        set_flag(w, "tokenizer.ggml.add_sep_token", t->add_sep, e) != 0 ||
        set_flag(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix, e) != 0)
        return -1;
    return write_templates(t, w, e);
}

int wk_tokenizer_import(const char *model_dir, const wk_hf_config *cfg, wk_gguf_writer *w,
                        wk_tokenizer_info *info, wk_err *e)
{
    wk_tokenizer t;
    if (wk_tokenizer_load(model_dir, cfg, &t, e) != 0)
        return -1;
    int rc = wk_tokenizer_write(&t, w, e);
    if (rc == 0 && info) {
        *info = (wk_tokenizer_info){.n_tokens = t.n_tokens};
        snprintf(info->model, sizeof info->model, "%s", t.model);
        snprintf(info->pre, sizeof info->pre, "%s", t.pre);
        info->warnings = t.warnings; /* moved */
        t.warnings = (wk_warnings){0};
    }
    wk_tokenizer_free(&t);
    return rc;
}
