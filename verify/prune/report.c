/* wk-prune's report renderings (see report.h). Tensor names come from the model: JSON
 * escapes them (cJSON); the text prints them as they are, since every reader has already
 * checked them to be UTF-8 without control bytes. */
#include "verify/prune/report.h"

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/bytebuf.h"
#include "common/human.h"

static double share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

const char *wk_prune_describe(const wk_prune_report *r, char *buf, size_t len)
{
    const char *m = wk_prune_method_name(r->method);
    if (r->nm_m)
        snprintf(buf, len, "%s, N:M %u:%u (keep %u of every %u along each row)", m, r->nm_n,
                 r->nm_m, r->nm_n, r->nm_m);
    else
        snprintf(buf, len, "%s, %.2f %% per %s", m, 100 * r->sparsity,
                 r->scope == WK_PRUNE_ROW ? "row" : r->scope == WK_PRUNE_TENSOR ? "tensor"
                                                                                : "model");
    return buf;
}

static void counts_line(wk_buf *b, const char *what, const wk_prune_counts *c)
{
    wk_buf_printf(b, "%-40s %12llu  %12llu  %7.2f %%  %7.2f %%\n", what,
                  (unsigned long long)c->elements, (unsigned long long)c->zeros_before,
                  100 * share(c->zeros_before, c->elements), 100 * share(c->zeros_after, c->elements));
}

static const char HEADER[] = "%-40s %12s  %12s  %9s  %9s\n";

char *wk_prune_report_text(const wk_prune_report *r)
{
    wk_buf b = {0};
    char how[160], size[32];
    wk_buf_printf(&b, "Input         %s (%s)\n", r->input, r->input_format ? r->input_format : "?");
    wk_buf_printf(&b, "Method        %s\n", wk_prune_describe(r, how, sizeof how));
    wk_buf_printf(&b, "Pruned        %zu of %zu tensors:", r->n_pruned, r->n);
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (r->categories >> c & 1u)
            wk_buf_printf(&b, " %s", wk_category_name((wk_category)c));
    wk_buf_printf(&b, "\n\n");
    wk_buf_printf(&b, HEADER, "Tensor", "Elements", "Zeros before", "Before", "Sparsity");
    for (size_t k = 0; k < r->n; k++)
        if (r->t[k].pruned)
            counts_line(&b, r->t[k].name, &r->t[k].c);
    wk_buf_printf(&b, "\n");
    wk_buf_printf(&b, HEADER, "Category", "Elements", "Zeros before", "Before", "Sparsity");
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (r->cat[c].elements)
            counts_line(&b, wk_category_name((wk_category)c), &r->cat[c]);
    counts_line(&b, "pruned tensors", &r->pruned);
    counts_line(&b, "whole model", &r->all);
    wk_human_bytes(r->file_bytes, size, sizeof size);
    wk_buf_printf(&b, "\nOutput        %s (%s, %s)\n", r->output,
                  r->safetensors ? "Hugging Face directory" : "GGUF", size);
    wk_buf_printf(&b, "Time          %.2f s\n", r->seconds);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    wk_buf_put(&b, "", 1);
    return (char *)b.p;
}

static cJSON *counts_json(cJSON *o, const wk_prune_counts *c)
{
    cJSON_AddNumberToObject(o, "elements", (double)c->elements);
    cJSON_AddNumberToObject(o, "zeros_before", (double)c->zeros_before);
    cJSON_AddNumberToObject(o, "zeros", (double)c->zeros_after);
    cJSON_AddNumberToObject(o, "sparsity_before", share(c->zeros_before, c->elements));
    cJSON_AddNumberToObject(o, "sparsity", share(c->zeros_after, c->elements));
    return o;
}

static cJSON *tensor_json(const wk_prune_tensor *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "category", wk_category_name(t->category));
    cJSON_AddStringToObject(o, "type", wk_type(t->type)->name);
    cJSON *shape = cJSON_AddArrayToObject(o, "rows_cols");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[0]));
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[1]));
    cJSON_AddBoolToObject(o, "pruned", t->pruned);
    return counts_json(o, &t->c);
}

static void method_json(cJSON *doc, const wk_prune_report *r)
{
    char nm[32];
    cJSON_AddStringToObject(doc, "method", wk_prune_method_name(r->method));
    if (r->nm_m) {
        snprintf(nm, sizeof nm, "%u:%u", r->nm_n, r->nm_m);
        cJSON_AddStringToObject(doc, "nm", nm);
        cJSON_AddNullToObject(doc, "sparsity_target");
    } else {
        cJSON_AddNullToObject(doc, "nm");
        cJSON_AddNumberToObject(doc, "sparsity_target", r->sparsity);
    }
    cJSON_AddStringToObject(doc, "scope", wk_prune_scope_name(r->scope));
    cJSON *cats = cJSON_AddArrayToObject(doc, "categories");
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (r->categories >> c & 1u)
            cJSON_AddItemToArray(cats, cJSON_CreateString(wk_category_name((wk_category)c)));
}

char *wk_prune_report_json(const wk_prune_report *r, const char *verify_json)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "input", r->input);
    cJSON_AddStringToObject(doc, "input_format", r->input_format ? r->input_format : "");
    cJSON_AddStringToObject(doc, "output", r->output);
    cJSON_AddStringToObject(doc, "format", r->safetensors ? "safetensors" : "gguf");
    method_json(doc, r);
    cJSON *ts = cJSON_AddArrayToObject(doc, "tensors");
    for (size_t k = 0; k < r->n; k++)
        cJSON_AddItemToArray(ts, tensor_json(&r->t[k]));
    cJSON *cats = cJSON_AddObjectToObject(doc, "by_category");
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (r->cat[c].elements)
            counts_json(cJSON_AddObjectToObject(cats, wk_category_name((wk_category)c)),
                        &r->cat[c]);
    cJSON *pruned = counts_json(cJSON_AddObjectToObject(doc, "pruned"), &r->pruned);
    cJSON_AddNumberToObject(pruned, "tensors", (double)r->n_pruned);
    cJSON *all = counts_json(cJSON_AddObjectToObject(doc, "total"), &r->all);
    cJSON_AddNumberToObject(all, "tensors", (double)r->n);
    cJSON_AddNumberToObject(doc, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(doc, "seconds", r->seconds);
    if (verify_json) {
        cJSON *v = cJSON_Parse(verify_json);
        if (v)
            cJSON_AddItemToObject(doc, "verify", v);
        else
            cJSON_AddNullToObject(doc, "verify");
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}
