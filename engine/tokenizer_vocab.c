/* Loading the vocabulary from a GGUF's tokenizer.* keys, with llama.cpp's defaults
 * (llama_vocab::impl::load): which model and pre-tokenizer, the tokens with their scores and
 * types, the BPE merges, the special ids (defaults first: SentencePiece bos 1, eos 2, unk 0;
 * byte-level BPE bos = eos = 11; a key with an id outside the vocabulary keeps the
 * default), add_bos / add_eos / add_space_prefix, and the tables the encoders need. Every
 * array's type and length is checked against the token count before use; an empty token
 * becomes "[EMPTY_<id>]" as in llama.cpp. */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"
#include "formats/tokenizer/tokenizer.h"

#define TOK_MAX_TEXT (1u << 20) /* bytes in one token or merge */

static const struct {
    const char *name;
    enum wk_tok_pre pre;
    bool llama3_flags; /* ignore_merges and add_bos, as llama.cpp sets them for Llama 3 */
} PRE_NAMES[] = {
    {"default", WK_PRE_DEFAULT, false},
    {"gpt-2", WK_PRE_GPT2, false},     {"phi-2", WK_PRE_GPT2, false},
    {"mpt", WK_PRE_GPT2, false},       {"olmo", WK_PRE_GPT2, false},
    {"llama3", WK_PRE_LLAMA3, true},   {"llama-v3", WK_PRE_LLAMA3, true},
    {"llama-bpe", WK_PRE_LLAMA3, true}, {"falcon3", WK_PRE_LLAMA3, true},
    {"pixtral", WK_PRE_LLAMA3, true},  {"dbrx", WK_PRE_LLAMA3, false},
    {"smaug-bpe", WK_PRE_LLAMA3, false},
    {"qwen2", WK_PRE_QWEN2, false},    {"deepseek-r1-qwen", WK_PRE_QWEN2, false},
    {"stablelm2", WK_PRE_QWEN2, false}, {"megrez", WK_PRE_QWEN2, false},
    {"smollm", WK_PRE_SMOLLM, false},  {"starcoder", WK_PRE_SMOLLM, false},
    {"refact", WK_PRE_SMOLLM, false},  {"codeshell", WK_PRE_SMOLLM, false},
};

/* Texts llama.cpp takes for end of generation whatever their ids. */
static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<end_of_utterance>",
};

static const wk_gguf_value *find_arr(const wk_gguf *g, const char *key, wk_err *e, bool *bad)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    *bad = false;
    if (!kv)
        return NULL;
    if (kv->value.type != WK_GGUF_ARRAY) {
        *bad = true;
        wk_fail(e, "%s: %s: expected an array, found a %s", g->path, key,
                wk_gguf_type_name(kv->value.type));
        return NULL;
    }
    return &kv->value;
}

/* An optional numeric array of at least n elements of one of the two types. */
static int numeric_arr(const wk_gguf *g, const char *key, uint32_t t1, uint32_t t2, uint64_t n,
                       const wk_gguf_value **out, wk_err *e)
{
    bool bad;
    *out = find_arr(g, key, e, &bad);
    if (bad)
        return -1;
    if (!*out)
        return 0;
    uint32_t et = (*out)->arr.elem_type;
    if ((et != t1 && et != t2) || (*out)->arr.count < n)
        return wk_fail(e, "%s: %s: expected an array of at least %llu %s%s%s, found %llu %s",
                       g->path, key, (unsigned long long)n, wk_gguf_type_name(t1),
                       t2 != t1 ? " or " : "", t2 != t1 ? wk_gguf_type_name(t2) : "",
                       (unsigned long long)(*out)->arr.count, wk_gguf_type_name(et));
    return 0;
}

static const wk_gguf_value *string_arr(const wk_gguf *g, const char *key, wk_err *e)
{
    bool bad;
    const wk_gguf_value *v = find_arr(g, key, e, &bad);
    if (bad)
        return NULL;
    if (!v) {
        wk_fail(e, "%s: %s is missing", g->path, key);
        return NULL;
    }
    if (v->arr.elem_type != WK_GGUF_STRING) {
        wk_fail(e, "%s: %s: expected an array of strings, found an array of %s", g->path, key,
                wk_gguf_type_name(v->arr.elem_type));
        return NULL;
    }
    if (v->arr.count > WK_TOK_MAX_TOKENS) {
        wk_fail(e, "%s: %s: %llu entries; at most %u are supported", g->path, key,
                (unsigned long long)v->arr.count, WK_TOK_MAX_TOKENS);
        return NULL;
    }
    for (uint64_t i = 0; i < v->arr.count; i++)
        if (v->arr.items[i].str.len > TOK_MAX_TEXT) {
            wk_fail(e, "%s: %s: entry %llu is %llu bytes long; at most %u are supported",
                    g->path, key, (unsigned long long)i,
                    (unsigned long long)v->arr.items[i].str.len, TOK_MAX_TEXT);
            return NULL;
        }
    return v;
}

static void get_bool(const wk_gguf *g, const char *key, bool *b)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    if (kv && kv->value.type == WK_GGUF_BOOL)
        *b = kv->value.u != 0;
}

static void get_id(const wk_gguf *g, const char *key, uint32_t n, wk_token *id)
{
    uint64_t v;
    if (*id != WK_TOKEN_NULL && (uint32_t)*id >= n)
        *id = WK_TOKEN_NULL; /* a default outside the vocabulary */
    if (wk_gguf_get_u64(g, key, &v) == 0 && v < n)
        *id = (wk_token)v;
}

/* Which model, which pre-tokenizer, and their defaults. */
static int read_kind(wk_vocab *t, const wk_gguf *g, wk_err *e)
{
    wk_vocab_info *in = &t->info;
    const wk_gguf_kv *kv = wk_gguf_find(g, "tokenizer.ggml.model");
    if (!kv)
        return wk_fail(e, "%s: no tokenizer: tokenizer.ggml.model is missing", g->path);
    if (kv->value.type != WK_GGUF_STRING)
        return wk_fail(e, "%s: tokenizer.ggml.model: expected a string, found a %s", g->path,
                       wk_gguf_type_name(kv->value.type));
    if (!(t->model = wk_gguf_strdup(kv->value.str)))
        return wk_fail(e, "out of memory");
    in->model = t->model;
    in->bos = in->eos = in->eot = in->eom = in->unk = WK_TOKEN_NULL;
    in->sep = in->pad = in->mask = WK_TOKEN_NULL;
    if (strcmp(t->model, "llama") == 0) {
        in->kind = WK_TOK_SPM;
        in->bos = 1, in->eos = 2, in->unk = 0;
        in->add_bos = in->add_space_prefix = true;
        t->pre = strdup("");
    } else if (strcmp(t->model, "gpt2") == 0) {
        in->kind = WK_TOK_BPE;
        in->bos = in->eos = 11;
        if (wk_gguf_get_str(g, "tokenizer.ggml.pre", &t->pre) != 0)
            t->pre = strdup("default");
    } else if (strcmp(t->model, "no_vocab") == 0 || strcmp(t->model, "none") == 0) {
        return wk_fail(e, "%s: the file has no vocabulary (tokenizer.ggml.model is '%s')",
                       g->path, t->model);
    } else {
        return wk_fail(e, "%s: tokenizer.ggml.model '%s' is not supported (llama, gpt2)",
                       g->path, t->model);
    }
    if (!t->pre)
        return wk_fail(e, "out of memory");
    in->pre = t->pre;
    if (in->kind == WK_TOK_BPE) {
        for (size_t i = 0; i < sizeof PRE_NAMES / sizeof PRE_NAMES[0]; i++)
            if (strcmp(t->pre, PRE_NAMES[i].name) == 0) {
                in->pre_type = PRE_NAMES[i].pre;
                in->ignore_merges = in->add_bos = PRE_NAMES[i].llama3_flags;
            }
        if (in->pre_type == WK_PRE_NONE)
            return wk_fail(e, "%s: tokenizer.ggml.pre '%s' is not supported (default, gpt-2, "
                           "llama-bpe and the other Llama 3 names, qwen2, smollm, starcoder, "
                           "...: docs/tokenizers.md)", g->path, t->pre);
    }
    get_bool(g, "tokenizer.ggml.add_space_prefix", &in->add_space_prefix);
    return 0;
}

/* Copies the token texts into one block and indexes them. */
static int read_tokens(wk_vocab *t, const wk_gguf *g, wk_err *e)
{
    const wk_gguf_value *tok = string_arr(g, "tokenizer.ggml.tokens", e);
    if (!tok)
        return -1;
    uint32_t n = (uint32_t)tok->arr.count;
    if (n == 0)
        return wk_fail(e, "%s: tokenizer.ggml.tokens is empty", g->path);
    const wk_gguf_value *scores, *types;
    if (numeric_arr(g, "tokenizer.ggml.scores", WK_GGUF_F32, WK_GGUF_I32, n, &scores, e) ||
        numeric_arr(g, "tokenizer.ggml.token_type", WK_GGUF_I32, WK_GGUF_I32, n, &types, e))
        return -1;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += (tok->arr.items[i].str.len ? tok->arr.items[i].str.len : 24) + 1;
    t->info.n_vocab = n;
    t->texts = malloc(total);
    t->text_off = malloc(n * sizeof *t->text_off);
    t->text_len = malloc(n * sizeof *t->text_len);
    t->score = malloc(n * sizeof *t->score);
    t->type = malloc(n);
    if (!t->texts || !t->text_off || !t->text_len || !t->score || !t->type ||
        tok_map_init(&t->vocab, n))
        return wk_fail(e, "out of memory");
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        wk_gguf_str s = tok->arr.items[i].str;
        char *p = t->texts + off;
        if (s.len) {
            memcpy(p, s.ptr, s.len);
            t->text_len[i] = (uint32_t)s.len;
        } else {
            t->text_len[i] = (uint32_t)snprintf(p, 24, "[EMPTY_%u]", i);
        }
        p[t->text_len[i]] = '\0';
        t->text_off[i] = off;
        off += t->text_len[i] + 1;
        t->score[i] = scores ? (float)wk_gguf_arr_f64(scores, i) : 0.0f;
        uint64_t ty = types ? wk_gguf_arr_u64(types, i) : WK_TOK_NORMAL;
        t->type[i] = ty <= WK_TOK_BYTE ? (uint8_t)ty : WK_TOK_UNDEFINED;
        tok_map_put(&t->vocab, p, t->text_len[i], (int32_t)i, true);
    }
    return 0;
}

/* "first second" -> rank; the first space at index 1 or later splits (llama.cpp). The first
 * of duplicated merges keeps its rank. */
static int read_merges(wk_vocab *t, const wk_gguf *g, wk_err *e)
{
    const wk_gguf_value *m = string_arr(g, "tokenizer.ggml.merges", e);
    if (!m)
        return -1;
    uint32_t n = (uint32_t)m->arr.count;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += m->arr.items[i].str.len + 1;
    t->info.n_merges = n;
    t->merge_text = malloc(total ? total : 1);
    t->merge_first_len = malloc((n ? n : 1) * sizeof *t->merge_first_len);
    if (!t->merge_text || !t->merge_first_len || tok_map_init(&t->merges, n))
        return wk_fail(e, "out of memory");
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        wk_gguf_str s = m->arr.items[i].str;
        char *p = t->merge_text + off;
        if (s.len)
            memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
        off += s.len + 1;
        const char *sp = s.len > 1 ? memchr(p + 1, ' ', s.len - 1) : NULL;
        if (!sp) {
            t->merge_first_len[i] = UINT32_MAX; /* llama.cpp keeps it as ("", ""): unusable */
            continue;
        }
        t->merge_first_len[i] = (uint32_t)(sp - p);
        tok_map_put(&t->merges, p, s.len, (int32_t)i, false);
    }
    return 0;
}

static int by_length_desc(const void *a, const void *b, void *ctx)
{
    const wk_vocab *t = ctx;
    wk_token x = *(const wk_token *)a, y = *(const wk_token *)b;
    if (t->text_len[x] != t->text_len[y])
        return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Byte fallbacks, the special tokens to look for in the input, end-of-generation ids. */
static int build_tables(wk_vocab *t, wk_err *e)
{
    uint32_t n = t->info.n_vocab;
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        char one = (char)b;
        wk_token id = tok_map_get(&t->vocab, hex, 6);
        t->byte_token[b] = id >= 0 ? id : tok_map_get(&t->vocab, &one, 1);
    }
    t->special = malloc(n * sizeof *t->special);
    if (!t->special)
        return wk_fail(e, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        if (t->type[i] == WK_TOK_CONTROL || t->type[i] == WK_TOK_USER_DEFINED ||
            t->type[i] == WK_TOK_UNKNOWN)
            t->special[t->n_special++] = (wk_token)i;
    qsort_r(t->special, t->n_special, sizeof *t->special, by_length_desc, t);

    wk_token ids[] = {t->info.eos, t->info.eot, t->info.eom};
    for (size_t i = 0; i < 3; i++)
        if (ids[i] != WK_TOKEN_NULL)
            t->eog[t->n_eog++] = ids[i];
    for (size_t i = 0; i < sizeof EOG_TEXTS / sizeof EOG_TEXTS[0]; i++) {
        wk_token id = tok_map_get(&t->vocab, EOG_TEXTS[i], strlen(EOG_TEXTS[i]));
        if (id >= 0)
            t->eog[t->n_eog++] = id;
    }
    return 0;
}

int wk_vocab_load(const wk_gguf *g, wk_vocab **out, wk_err *e)
{
    wk_vocab *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return wk_fail(e, "out of memory");
    if (read_kind(t, g, e) || read_tokens(t, g, e) ||
        (t->info.kind == WK_TOK_BPE && read_merges(t, g, e)))
        goto fail;
    wk_vocab_info *in = &t->info;
    static const char *const keys[] = {
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.mask_token_id",
    };
    wk_token *ids[] = {&in->bos, &in->eos, &in->eot, &in->eom,
                       &in->unk, &in->sep, &in->pad, &in->mask};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        get_id(g, keys[i], in->n_vocab, ids[i]);
    get_bool(g, "tokenizer.ggml.add_bos_token", &in->add_bos);
    get_bool(g, "tokenizer.ggml.add_eos_token", &in->add_eos);
    if (build_tables(t, e) || tok_build_pieces(t, e))
        goto fail;
    *out = t;
    return 0;
fail:
    wk_vocab_free(t);
    return -1;
}

void wk_vocab_free(wk_vocab *t)
{
    if (!t)
        return;
    tok_map_free(&t->vocab);
    tok_map_free(&t->merges);
    free(t->model);
    free(t->pre);
    free(t->texts);
    free(t->text_off);
    free(t->text_len);
    free(t->score);
    free(t->type);
    free(t->pieces);
    free(t->piece_off);
    free(t->piece_len);
    free(t->merge_text);
    free(t->merge_first_len);
    free(t->special);
    free(t);
}

const wk_vocab_info *wk_vocab_get_info(const wk_vocab *t)
{
    return &t->info;
}

static bool in_range(const wk_vocab *t, wk_token id)
{
    return id >= 0 && (uint32_t)id < t->info.n_vocab;
}

const char *wk_token_text(const wk_vocab *t, wk_token id, size_t *len)
{
    if (!in_range(t, id))
        return NULL;
    if (len)
        *len = t->text_len[id];
    return tok_text(t, id);
}

enum wk_tok_type wk_token_type(const wk_vocab *t, wk_token id)
{
    return in_range(t, id) ? (enum wk_tok_type)t->type[id] : WK_TOK_UNDEFINED;
}

float wk_token_score(const wk_vocab *t, wk_token id)
{
    return in_range(t, id) ? t->score[id] : 0.0f;
}

bool wk_token_is_eog(const wk_vocab *t, wk_token id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return true;
    return false;
}

wk_token wk_token_find(const wk_vocab *t, const char *text, size_t len)
{
    return tok_map_get(&t->vocab, text, len);
}
