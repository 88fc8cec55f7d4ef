/* Hugging Face tokenizer.json reader (the `tokenizers` library's serialization).
 *
 * Always read: model.type, model.byte_fallback, added_tokens (id, content, special) and
 * post_processor (kept as JSON for the special-token rules in special.c). With
 * want_vocab (byte-level BPE, llama.cpp's "gpt2"): model.vocab (token -> id), model.merges
 * ("a b" strings, or [a, b] pairs since tokenizers 0.20, whose spaces gguf-py encodes as
 * U+0120) and the pre-tokenizer family. Ids must be integers below WK_TOK_MAX_TOKENS; two
 * different tokens with one id are refused.
 *
 * tokenizer.ggml.pre: llama.cpp's converter hashes a tokenization of a test string; we
 * cannot run the tokenizer, so we recognise the pre_tokenizer's structure instead
 * (docs/tokenizers.md): ByteLevel with its built-in regex -> "gpt-2"; Split(the GPT-2 regex)
 * + ByteLevel -> "gpt-2"; Split(the Llama 3 regex) + ByteLevel -> "llama-bpe"; Split(the
 * Qwen2 regex) + ByteLevel -> "qwen2"; Digits(individual) + ByteLevel -> "smollm". */
#include "formats/tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "formats/tokenizer/internal.h"

/* ---- the pre-tokenizer family (tokenizer.ggml.pre) ---- */

/* The Split regexes as they read in tokenizer.json (after JSON unescaping), and as
 * llama-vocab.cpp quotes them ("original regex from tokenizer.json"). */
static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool is_type(const cJSON *o, const char *type)
{
    const cJSON *t = get(o, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* A boolean option; absent means def. */
static bool flag(const cJSON *o, const char *key, bool def)
{
    const cJSON *v = get(o, key);
    return v ? cJSON_IsTrue(v) : def;
}

/* ByteLevel without a prefix space; use_regex as asked. */
static bool is_byte_level(const cJSON *o, bool use_regex)
{
    return is_type(o, "ByteLevel") && !flag(o, "add_prefix_space", true) &&
           flag(o, "use_regex", true) == use_regex;
}

/* The regex of an isolating, non-inverted Split; NULL otherwise. */
static const char *split_regex(const cJSON *o)
{
    if (!is_type(o, "Split") || flag(o, "invert", false))
        return NULL;
    const cJSON *b = get(o, "behavior");
    if (!cJSON_IsString(b) || strcmp(b->valuestring, "Isolated") != 0)
        return NULL;
    const cJSON *re = get(get(o, "pattern"), "Regex");
    return cJSON_IsString(re) ? re->valuestring : NULL;
}

/* Maps a pre_tokenizer object (or NULL) to llama.cpp's pre-tokenizer name; NULL when the
 * structure is not one of the known families. */
static const char *detect_pre(const cJSON *pt)
{
    if (!cJSON_IsObject(pt))
        return NULL;
    const cJSON *list = is_type(pt, "Sequence") ? get(pt, "pretokenizers") : NULL;
    const cJSON *a = pt, *b = NULL;
    if (list) {
        int n = cJSON_GetArraySize(list);
        if (!cJSON_IsArray(list) || n < 1 || n > 2)
            return NULL;
        a = cJSON_GetArrayItem(list, 0);
        b = n == 2 ? cJSON_GetArrayItem(list, 1) : NULL;
    }
    if (!b)
        return is_byte_level(a, true) ? "gpt-2" : NULL;
    if (is_type(a, "Digits") && flag(a, "individual_digits", false) && is_byte_level(b, true))
        return "smollm";
    const char *re = split_regex(a);
    if (!re || !is_byte_level(b, false))
        return NULL;
    if (strcmp(re, RE_GPT2) == 0)
        return "gpt-2";
    if (strcmp(re, RE_LLAMA3) == 0)
        return "llama-bpe";
    if (strcmp(re, RE_QWEN2) == 0)
        return "qwen2";
    return NULL;
}

/* ---- added_tokens, model.vocab, model.merges ---- */

static int read_added(wk_tokjson *t, const cJSON *arr, wk_err *e)
{
    if (!arr || cJSON_IsNull(arr))
        return 0;
    if (!cJSON_IsArray(arr))
        return wk_fail(e, "%s: added_tokens: expected an array", t->path);
    uint64_t n = (uint64_t)cJSON_GetArraySize(arr);
    if (n > WK_TOK_MAX_TOKENS)
        return wk_fail(e, "%s: added_tokens: more than %u entries", t->path, WK_TOK_MAX_TOKENS);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added)
        return wk_fail(e, "%s: out of memory", t->path);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char what[64];
        snprintf(what, sizeof what, "added_tokens[%llu].id", (unsigned long long)t->n_added);
        const cJSON *c = get(it, "content");
        wk_tok_added *a = &t->added[t->n_added];
        if (!cJSON_IsString(c))
            return wk_fail(e, "%s: added_tokens[%llu]: expected an object with a string "
                              "\"content\"", t->path, (unsigned long long)t->n_added);
        if (wk_tok_json_id(get(it, "id"), t->path, what, &a->id, e) != 0 ||
            !(a->content = wk_tok_strdup(c->valuestring, t->path, e)))
            return -1;
        a->special = cJSON_IsTrue(get(it, "special"));
        t->n_added++;
    }
    return 0;
}

/* Sets vocab[id]; a different token already there is an error unless override. */
static int put_token(wk_tokjson *t, int64_t id, const char *s, bool override, wk_err *e)
{
    char **slot = &t->vocab[id];
    if (*slot && strcmp(*slot, s) != 0 && !override)
        return wk_fail(e, "%s: model.vocab: id %lld is given to both \"%s\" and \"%s\"",
                       t->path, (long long)id, *slot, s);
    char *d = wk_tok_strdup(s, t->path, e);
    if (!d)
        return -1;
    free(*slot);
    *slot = d;
    return 0;
}

static int read_vocab(wk_tokjson *t, const cJSON *vocab, wk_err *e)
{
    if (!cJSON_IsObject(vocab))
        return wk_fail(e, "%s: model.vocab: expected an object mapping tokens to ids", t->path);
    int64_t max_id = -1, id;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (wk_tok_json_id(it, t->path, "model.vocab", &id, e) != 0)
            return wk_fail_prefix(e, "token \"%s\"", it->string);
        max_id = id > max_id ? id : max_id;
    }
    for (uint64_t i = 0; i < t->n_added; i++)
        max_id = t->added[i].id > max_id ? t->added[i].id : max_id;
    if (max_id < 0)
        return wk_fail(e, "%s: model.vocab is empty", t->path);
    t->n_vocab = (uint64_t)max_id + 1;
    t->vocab = calloc(t->n_vocab, sizeof *t->vocab);
    if (!t->vocab)
        return wk_fail(e, "%s: out of memory", t->path);
    cJSON_ArrayForEach(it, vocab) {
        wk_tok_json_id(it, t->path, "model.vocab", &id, e);
        if (put_token(t, id, it->string, false, e) != 0)
            return -1;
    }
    for (uint64_t i = 0; i < t->n_added; i++)
        if (put_token(t, t->added[i].id, t->added[i].content, true, e) != 0)
            return -1;
    return 0;
}

/* One [a, b] merge as "a b", each space inside a part written as U+0120 (UTF-8 C4 A0). */
static char *join_pair(const char *a, const char *b)
{
    size_t n = 2;
    for (const char *p = a; *p; p++)
        n += *p == ' ' ? 2 : 1;
    for (const char *p = b; *p; p++)
        n += *p == ' ' ? 2 : 1;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    for (int part = 0; part < 2; part++) {
        for (const char *p = part ? b : a; *p; p++) {
            if (*p == ' ') {
                *o++ = (char)0xc4;
                *o++ = (char)0xa0;
            } else {
                *o++ = *p;
            }
        }
        *o++ = part ? '\0' : ' ';
    }
    return out;
}

static int read_merges(wk_tokjson *t, const cJSON *merges, wk_err *e)
{
    if (!cJSON_IsArray(merges) || cJSON_GetArraySize(merges) == 0)
        return wk_fail(e, "%s: model.merges: expected a non-empty array (llama.cpp cannot "
                          "load a BPE vocabulary without merges)", t->path);
    uint64_t n = (uint64_t)cJSON_GetArraySize(merges);
    if (n > WK_TOK_MAX_TOKENS)
        return wk_fail(e, "%s: model.merges: more than %u merges", t->path, WK_TOK_MAX_TOKENS);
    t->merges = calloc(n, sizeof *t->merges);
    if (!t->merges)
        return wk_fail(e, "%s: out of memory", t->path);
    const cJSON *it;
    cJSON_ArrayForEach(it, merges) {
        uint64_t i = t->n_merges;
        const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
        if (cJSON_IsString(it)) {
            const char *sp = strchr(it->valuestring, ' ');
            if (!sp || sp == it->valuestring || !sp[1])
                return wk_fail(e, "%s: model.merges[%llu]: expected \"a b\", got \"%s\"",
                               t->path, (unsigned long long)i, it->valuestring);
            t->merges[i] = strdup(it->valuestring);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(a) &&
                   cJSON_IsString(b) && a->valuestring[0] && b->valuestring[0]) {
            t->merges[i] = join_pair(a->valuestring, b->valuestring);
        } else {
            return wk_fail(e, "%s: model.merges[%llu]: expected \"a b\" or a pair of "
                              "non-empty strings", t->path, (unsigned long long)i);
        }
        if (!t->merges[i])
            return wk_fail(e, "%s: out of memory", t->path);
        t->n_merges++;
    }
    return 0;
}

/* ---- the document ---- */

int wk_tokjson_parse(const char *text, const char *path, bool want_vocab, wk_tokjson *t,
                     wk_err *e)
{
    *t = (wk_tokjson){0};
    if (!(t->path = wk_tok_strdup(path, path, e)))
        return -1;
    cJSON *doc = wk_tok_json_parse(text, path, e);
    if (!doc)
        goto fail;
    const cJSON *model = get(doc, "model");
    const cJSON *type = get(model, "type");
    if (!cJSON_IsObject(model)) {
        wk_fail(e, "%s: expected a \"model\" object", path);
        goto fail;
    }
    /* Files from before tokenizers 0.10 omit model.type; a merges list means BPE. */
    const char *mt = cJSON_IsString(type) ? type->valuestring : get(model, "merges") ? "BPE" : "";
    if (!(t->model_type = wk_tok_strdup(mt, path, e)))
        goto fail;
    t->byte_fallback = cJSON_IsTrue(get(model, "byte_fallback"));
    if (read_added(t, get(doc, "added_tokens"), e) != 0)
        goto fail;
    const cJSON *pp = get(doc, "post_processor");
    if (pp && !cJSON_IsNull(pp))
        t->post_processor = cJSON_DetachItemViaPointer(doc, (cJSON *)pp);
    if (want_vocab) {
        if (strcmp(t->model_type, "BPE") != 0) {
            wk_fail(e, "%s: model type %s is not supported (byte-level BPE only)", path,
                    *mt ? mt : "(none)");
            goto fail;
        }
        if (read_vocab(t, get(model, "vocab"), e) != 0 ||
            read_merges(t, get(model, "merges"), e) != 0)
            goto fail;
        t->pre = detect_pre(get(doc, "pre_tokenizer"));
        t->pre_known = t->pre != NULL;
        if (!t->pre)
            t->pre = "default";
    }
    cJSON_Delete(doc);
    return 0;
fail:
    cJSON_Delete(doc);
    wk_tokjson_free(t);
    return -1;
}

int wk_tokjson_load(const char *path, bool want_vocab, wk_tokjson *t, wk_err *e)
{
    char *text;
    *t = (wk_tokjson){0};
    if (wk_read_small_file(path, WK_TOK_MAX_JSON_BYTES, &text, NULL, e) != 0)
        return -1;
    int rc = wk_tokjson_parse(text, path, want_vocab, t, e);
    free(text);
    return rc;
}

void wk_tokjson_free(wk_tokjson *t)
{
    if (!t)
        return;
    for (uint64_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    for (uint64_t i = 0; t->vocab && i < t->n_vocab; i++)
        free(t->vocab[i]);
    for (uint64_t i = 0; i < t->n_merges; i++)
        free(t->merges[i]);
    free(t->added);
    free(t->vocab);
    free(t->merges);
    free(t->model_type);
    free(t->path);
    cJSON_Delete(t->post_processor);
    *t = (wk_tokjson){0};
}
