/* The metadata part of wk-inspect's report: which GGUF keys to show and the tokenizer
 * summary, or that a safetensors file's __metadata__ is to be shown.
 *
 * What gguf-dump users look for first is a handful of groups: general.* (name,
 * architecture, file type), the family's own `<arch>.*` hyperparameters, and our
 * provenance (weightkit.*). Those keys are listed as they are; the tokenizer.* keys, whose
 * arrays run to 100k entries and whose chat template to kilobytes, are summarised instead
 * (model, pre, token count, special ids, add_bos/add_eos, template length). --meta lists
 * every key. Nothing is copied: the report points into the source's parsed metadata. */
#include "verify/inspect/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_PREFIX "tokenizer.ggml."
#define ID_SUFFIX "_token_id"
#define TEMPLATE_KEY "tokenizer.chat_template"

static bool str_is(wk_gguf_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static bool str_starts(wk_gguf_str s, const char *prefix, size_t n)
{
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static bool str_ends(wk_gguf_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

/* Keys listed without --meta: general.*, `<arch>.*` and weightkit.* but the checksum
 * array and its tensor-info hash (the report's checksum line says what became of them). */
static bool listed_by_default(wk_gguf_str key, const wk_gguf_value *arch)
{
    if (str_starts(key, "general.", 8) ||
        (str_starts(key, "weightkit.", 10) && !str_is(key, WK_GGUF_CHECKSUM_KEY) &&
         !str_is(key, WK_GGUF_LAYOUT_KEY)))
        return true;
    return arch && arch->str.len && key.len > arch->str.len &&
           memcmp(key.ptr, arch->str.ptr, arch->str.len) == 0 && key.ptr[arch->str.len] == '.';
}

/* -1 when v is absent or not a bool, else 0 / 1. */
static int flag(const wk_gguf_kv *kv)
{
    return kv && kv->value.type == WK_GGUF_BOOL ? kv->value.u != 0 : -1;
}

static void tokenizer_key(const wk_gguf_kv *kv, wk_inspect_tokenizer *t)
{
    wk_gguf_str k = kv->key;
    const wk_gguf_value *v = &kv->value;
    if (str_starts(k, "tokenizer.", 10))
        t->present = true;
    if (str_is(k, TOK_PREFIX "model") && v->type == WK_GGUF_STRING)
        t->model = v;
    else if (str_is(k, TOK_PREFIX "pre") && v->type == WK_GGUF_STRING)
        t->pre = v;
    else if (str_is(k, TOK_PREFIX "tokens") && v->type == WK_GGUF_ARRAY)
        t->n_tokens = (int64_t)v->arr.count;
    else if (str_is(k, TOK_PREFIX "add_bos_token"))
        t->add_bos = flag(kv);
    else if (str_is(k, TOK_PREFIX "add_eos_token"))
        t->add_eos = flag(kv);
    else if (str_is(k, TEMPLATE_KEY) && v->type == WK_GGUF_STRING)
        t->chat_template_bytes = (int64_t)v->str.len;
    else if (str_starts(k, TEMPLATE_KEY ".", sizeof TEMPLATE_KEY))
        t->named_templates++;
    else if (str_starts(k, TOK_PREFIX, sizeof TOK_PREFIX - 1) && str_ends(k, ID_SUFFIX) &&
             k.len > sizeof TOK_PREFIX - 1 + sizeof ID_SUFFIX - 1 &&
             t->n_special < WK_INSPECT_MAX_SPECIAL) {
        size_t skip = sizeof TOK_PREFIX - 1;
        t->special[t->n_special].name = (wk_gguf_str){k.ptr + skip,
                                                      k.len - skip - (sizeof ID_SUFFIX - 1)};
        t->special[t->n_special++].id = v;
    }
}

static int gguf_meta(const wk_gguf *g, bool all, wk_inspect_meta *m, wk_err *e)
{
    m->format = "gguf";
    m->gguf_version = g->version;
    m->alignment = g->alignment;
    m->tok = (wk_inspect_tokenizer){.n_tokens = -1, .add_bos = -1, .add_eos = -1,
                                    .chat_template_bytes = -1};
    m->shown = g->n_kv ? calloc(g->n_kv, sizeof *m->shown) : NULL;
    if (g->n_kv && !m->shown)
        return wk_fail(e, "%s: out of memory", g->path);
    const wk_gguf_kv *arch = wk_gguf_find(g, "general.architecture");
    const wk_gguf_value *arch_name = arch && arch->value.type == WK_GGUF_STRING ? &arch->value
                                                                               : NULL;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const wk_gguf_kv *kv = &g->kv[i];
        tokenizer_key(kv, &m->tok);
        if (all || listed_by_default(kv->key, arch_name))
            m->shown[m->n_shown++] = kv;
    }
    m->has_file_type = wk_gguf_get_u64(g, "general.file_type", &m->file_type) == 0;
    if (m->has_file_type && m->file_type <= UINT32_MAX)
        m->file_type_info = wk_ftype_by_id((uint32_t)m->file_type);
    return 0;
}

int wk_inspect_meta_build(const wk_source *s, bool all, wk_inspect_meta *m, wk_err *e)
{
    memset(m, 0, sizeof *m);
    m->all = all;
    if (s->gguf)
        return gguf_meta(s->gguf, all, m, e);
    if (s->n_metadata)
        m->format = "safetensors";
    return 0;
}

void wk_inspect_meta_free(wk_inspect_meta *m)
{
    free(m->shown);
    m->shown = NULL;
}

void wk_inspect_float_text(uint32_t gguf_type, double v, char *buf, size_t len)
{
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        double back = strtod(buf, NULL);
        if (gguf_type == WK_GGUF_F32 ? (float)back == (float)v : back == v)
            break;
    }
}
