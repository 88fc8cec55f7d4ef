/* wk-inspect's report as one JSON document (schema: docs/wk-inspect.md). Integer counts are
 * written as exact decimal integers (raw numbers, not doubles); undefined values (NaN: the
 * statistics and histogram edges of a tensor without finite values) become null, as JSON
 * has no NaN. */
#include "verify/inspect/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/version.h"

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
