/* wk-inspect's report as one JSON document (schema: docs/wk-inspect.md). Integer counts are
 * written as exact decimal integers (raw numbers, not doubles); undefined values (NaN: the
 * statistics and histogram edges of a tensor without finite values) become null, as JSON
 * has no NaN. Metadata strings are copied exactly when they are UTF-8 without NUL bytes
 * (cJSON escapes the rest of what JSON needs), else shown escaped by wk_gguf_str_show, so
 * the document stays valid JSON whatever the file holds. */
#include "verify/inspect/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/strutil.h"
#include "common/version.h"

#define SHOWN_MAX (1u << 20) /* an escaped (not UTF-8) string is cut at 1 MiB */

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_str_or_null(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *raw_i64(int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static cJSON *raw_u64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* s as a new C string: exact when it is UTF-8 without NUL, else escaped. */
static char *text_of(wk_gguf_str s)
{
    size_t bad;
    if (wk_utf8_valid((const uint8_t *)s.ptr, (size_t)s.len, &bad))
        return wk_gguf_strdup(s);
    size_t len = s.len < SHOWN_MAX ? (size_t)s.len * 4 + 8 : SHOWN_MAX;
    char *buf = malloc(len);
    return buf ? (char *)wk_gguf_str_show(s, buf, len) : NULL;
}

static cJSON *string(wk_gguf_str s)
{
    char *t = text_of(s);
    cJSON *o = t ? cJSON_CreateString(t) : cJSON_CreateNull();
    free(t);
    return o;
}

/* Adds item under key s (shown as text_of would). */
static void add_keyed(cJSON *o, wk_gguf_str s, cJSON *item)
{
    char *k = text_of(s);
    if (k)
        cJSON_AddItemToObject(o, k, item);
    else
        cJSON_Delete(item);
    free(k);
}

static cJSON *value(const wk_gguf_value *v);

/* Short arrays whole; longer ones as {"type", "count", "first": [...]}. */
static cJSON *array(const wk_gguf_value *a)
{
    uint64_t n = a->arr.count;
    bool whole = n <= WK_INSPECT_SHORT_ARRAY;
    cJSON *list = cJSON_CreateArray();
    for (uint64_t j = 0; j < (whole ? n : WK_INSPECT_ARRAY_HEAD); j++) {
        wk_gguf_value x = wk_gguf_arr_elem(a, j);
        cJSON_AddItemToArray(list, value(&x));
    }
    if (whole)
        return list;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", wk_gguf_type_name(a->arr.elem_type));
    add_u64(o, "count", n);
    cJSON_AddItemToObject(o, "first", list);
    return o;
}

static cJSON *value(const wk_gguf_value *v)
{
    switch (v->type) {
    case WK_GGUF_U8: case WK_GGUF_U16: case WK_GGUF_U32: case WK_GGUF_U64:
        return raw_u64(v->u);
    case WK_GGUF_I8: case WK_GGUF_I16: case WK_GGUF_I32: case WK_GGUF_I64:
        return raw_i64(v->i);
    case WK_GGUF_F32: case WK_GGUF_F64: {
        char buf[40];
        wk_inspect_float_text(v->type, v->f, buf, sizeof buf);
        return isfinite(v->f) ? cJSON_CreateRaw(buf) : cJSON_CreateNull();
    }
    case WK_GGUF_BOOL:
        return cJSON_CreateBool(v->u != 0);
    case WK_GGUF_STRING:
        return string(v->str);
    case WK_GGUF_ARRAY:
        return array(v);
    }
    return cJSON_CreateNull();
}

static void add_flag(cJSON *o, const char *key, int v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddBoolToObject(o, key, v);
}

static void add_count(cJSON *o, const char *key, int64_t v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddItemToObject(o, key, raw_i64(v));
}

static cJSON *tokenizer(const wk_inspect_tokenizer *t)
{
    if (!t->present)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "model", t->model ? value(t->model) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "pre", t->pre ? value(t->pre) : cJSON_CreateNull());
    add_count(o, "tokens", t->n_tokens);
    cJSON *ids = cJSON_AddObjectToObject(o, "special_token_ids");
    for (size_t k = 0; k < t->n_special; k++)
        add_keyed(ids, t->special[k].name, value(t->special[k].id));
    add_flag(o, "add_bos_token", t->add_bos);
    add_flag(o, "add_eos_token", t->add_eos);
    add_count(o, "chat_template_bytes", t->chat_template_bytes);
    add_u64(o, "named_chat_templates", t->named_templates);
    return o;
}

static cJSON *metadata(const wk_inspect_report *r)
{
    const wk_inspect_meta *m = &r->meta;
    const wk_source *s = r->src;
    if (!m->format)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", m->format);
    if (!s->gguf) {
        add_u64(o, "key_count", s->n_metadata);
        cJSON_AddBoolToObject(o, "all_keys", true);
        cJSON *keys = cJSON_AddObjectToObject(o, "keys");
        for (size_t i = 0; i < s->n_metadata; i++) {
            const wk_string_pair *p = &s->metadata[i];
            add_keyed(keys, (wk_gguf_str){p->key, strlen(p->key)},
                      string((wk_gguf_str){p->value, strlen(p->value)}));
        }
        return o;
    }
    cJSON_AddNumberToObject(o, "gguf_version", m->gguf_version);
    cJSON_AddNumberToObject(o, "alignment", m->alignment);
    add_u64(o, "key_count", s->gguf->n_kv);
    cJSON_AddBoolToObject(o, "all_keys", m->all);
    if (m->has_file_type) {
        cJSON *ft = cJSON_AddObjectToObject(o, "file_type");
        add_u64(ft, "id", m->file_type);
        add_str_or_null(ft, "name", m->file_type_info ? m->file_type_info->name : NULL);
    } else {
        cJSON_AddNullToObject(o, "file_type");
    }
    cJSON *keys = cJSON_AddObjectToObject(o, "keys");
    for (size_t k = 0; k < m->n_shown; k++)
        add_keyed(keys, m->shown[k]->key, value(&m->shown[k]->value));
    cJSON_AddItemToObject(o, "tokenizer", tokenizer(&m->tok));
    return o;
}

static cJSON *checksums(const wk_inspect_checksums *c)
{
    if (!c->applies)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "stored", c->stored);
    add_u64(o, "verified", c->verified);
    cJSON_AddStringToObject(o, "status", c->stale     ? "stale"
                                         : !c->stored ? "none stored"
                                         : c->verified ? "verified" : "not read");
    return o;
}

static cJSON *totals(const wk_inspect_totals *t, const wk_inspect_totals *all)
{
    cJSON *o = cJSON_CreateObject();
    char buf[32];
    add_u64(o, "tensors", t->tensors);
    add_u64(o, "parameters", t->params);
    wk_human_count(t->params, buf, sizeof buf);
    cJSON_AddStringToObject(o, "parameters_human", buf);
    add_u64(o, "bytes", t->bytes);
    wk_human_bytes(t->bytes, buf, sizeof buf);
    cJSON_AddStringToObject(o, "bytes_human", buf);
    add_u64(o, "shared", t->shared);
    cJSON_AddNumberToObject(o, "bits_per_weight",
                            t->params ? 8.0 * (double)t->bytes / (double)t->params : 0);
    if (all) {
        cJSON_AddNumberToObject(o, "parameters_pct",
                                all->params ? 100.0 * (double)t->params / (double)all->params : 0);
        cJSON_AddNumberToObject(o, "bytes_pct",
                                all->bytes ? 100.0 * (double)t->bytes / (double)all->bytes : 0);
    }
    return o;
}

static cJSON *source(const wk_source *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", s->path);
    cJSON_AddStringToObject(o, "format", s->format);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (size_t i = 0; i < s->n_files; i++)
        cJSON_AddItemToArray(files, cJSON_CreateString(s->files[i]));
    if (s->n_metadata) {
        cJSON *m = cJSON_AddObjectToObject(o, "metadata");
        for (size_t i = 0; i < s->n_metadata; i++)
            cJSON_AddStringToObject(m, s->metadata[i].key, s->metadata[i].value);
    }
    return o;
}

static cJSON *stats(const wk_tensor_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    add_u64(o, "elements", s->n_elements);
    add_u64(o, "finite", s->n_finite);
    add_num(o, "min", s->min);
    add_num(o, "max", s->max);
    add_num(o, "mean", s->mean);
    add_num(o, "std", s->std);
    add_num(o, "l1", s->l1);
    add_num(o, "l2", s->l2);
    add_num(o, "zero_fraction", s->zero_frac);
    add_num(o, "max_abs_over_std", s->max_abs_over_std);
    add_num(o, "kurtosis", s->kurtosis);
    add_u64(o, "nan", s->n_nan);
    add_u64(o, "inf", s->n_inf);
    return o;
}

static void tensor_shape(cJSON *o, const wk_tensor *t)
{
    cJSON_AddStringToObject(o, "dtype", wk_type(t->dtype)->name);
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (uint32_t d = 0; d < t->n_dims; d++) {
        char buf[24];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->shape[d]);
        cJSON_AddItemToArray(shape, cJSON_CreateRaw(buf));
    }
}

static cJSON *tensor(const wk_inspect_report *r, const wk_inspect_row *row)
{
    const wk_tensor *t = &r->src->tensors[row->index];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "category", wk_category_name(row->category));
    if (row->layer >= 0)
        cJSON_AddNumberToObject(o, "layer", row->layer);
    else
        cJSON_AddNullToObject(o, "layer");
    tensor_shape(o, t);
    add_u64(o, "parameters", t->n_elements);
    add_u64(o, "bytes", t->n_bytes);
    add_str_or_null(o, "shares_data_with",
                    row->shares_with >= 0 ? r->src->tensors[row->shares_with].name : NULL);
    if (row->has_stats)
        cJSON_AddItemToObject(o, "stats", stats(&row->stats));
    else if (r->stats)
        cJSON_AddNullToObject(o, "stats");
    if (row->note[0])
        cJSON_AddStringToObject(o, "stats_note", row->note);
    return o;
}

static cJSON *histogram(const wk_inspect_report *r)
{
    const wk_inspect_hist *h = r->hist;
    const wk_tensor *t = &r->src->tensors[h->index];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tensor", t->name);
    tensor_shape(o, t);
    cJSON_AddItemToObject(o, "stats", stats(&h->stats));
    add_num(o, "lo", h->lo);
    add_num(o, "hi", h->hi);
    cJSON *bins = cJSON_AddArrayToObject(o, "bins");
    double width = (h->hi - h->lo) / h->n_bins;
    for (uint32_t k = 0; k < h->n_bins; k++) {
        cJSON *b = cJSON_CreateObject();
        add_num(b, "lo", h->lo + k * width);
        add_num(b, "hi", k + 1 == h->n_bins ? h->hi : h->lo + (k + 1) * width);
        add_u64(b, "count", h->counts[k]);
        cJSON_AddItemToArray(bins, b);
    }
    return o;
}

char *wk_inspect_json(const wk_inspect_report *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "wk-inspect");
    cJSON_AddStringToObject(root, "version", WK_VERSION);
    cJSON_AddItemToObject(root, "source", source(r->src));
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    add_str_or_null(model, "architecture", r->architecture);
    add_str_or_null(model, "model_type", r->model_type);
    add_str_or_null(model, "name", r->name);
    cJSON_AddItemToObject(root, "metadata", metadata(r));
    cJSON_AddItemToObject(root, "checksums", checksums(&r->checksums));
    cJSON *warnings = cJSON_AddArrayToObject(root, "warnings");
    for (size_t i = 0; i < r->n_warnings; i++)
        cJSON_AddItemToArray(warnings, cJSON_CreateString(r->warnings[i]));
    cJSON_AddItemToObject(root, "totals", totals(&r->total, NULL));
    cJSON *cats = cJSON_AddObjectToObject(root, "categories");
    for (int c = 0; c < WK_CAT_COUNT; c++)
        cJSON_AddItemToObject(cats, wk_category_name((wk_category)c),
                              totals(&r->by_category[c], &r->total));
    if (r->hist) {
        cJSON_AddItemToObject(root, "histogram", histogram(r));
    } else {
        if (r->filter) {
            cJSON *flt = totals(&r->filtered, &r->total);
            cJSON_AddStringToObject(flt, "glob", r->filter);
            if (r->filter_note)
                cJSON_AddStringToObject(flt, "note", r->filter_note);
            cJSON_AddItemToObject(root, "filter", flt);
        } else {
            cJSON_AddNullToObject(root, "filter");
        }
        cJSON *list = cJSON_AddArrayToObject(root, "tensors");
        for (size_t k = 0; k < r->n_rows; k++)
            cJSON_AddItemToArray(list, tensor(r, &r->rows[k]));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
