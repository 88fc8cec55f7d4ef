/* wk-prune's plan and entry point (see prune.h): the options' checks, the list of tensors
 * from a GGUF or a checkpoint (which are pruned, in which order they are written), the
 * checks on the input before anything is written, and the report's totals. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fileio.h"
#include "common/strutil.h"
#include "models/prune_impl.h"
#include "models/tensor_names.h"

const char *wk_prune_method_name(wk_prune_method m)
{
    static const char *const names[] = {"magnitude", "nm", "wanda"};
    return (unsigned)m < 3 ? names[m] : "?";
}

const char *wk_prune_scope_name(wk_prune_scope s)
{
    static const char *const names[] = {"row", "tensor", "global"};
    return (unsigned)s < 3 ? names[s] : "?";
}

static unsigned categories_of(const wk_prune_opts *o)
{
    return o->categories ? o->categories : WK_PRUNE_DEFAULT_CATEGORIES;
}

int wk_prune_check_opts(const wk_prune_opts *o, wk_err *e)
{
    unsigned cats = categories_of(o), layer_cats = WK_PRUNE_DEFAULT_CATEGORIES;
    if (!(o->sparsity >= 0 && o->sparsity < 1))
        return wk_fail(e, "sparsity %g is outside [0, 1)", o->sparsity);
    if (o->method == WK_PRUNE_NM && !o->nm_m)
        return wk_fail(e, "N:M pruning needs N and M");
    if (o->nm_m && (o->nm_n < 1 || o->nm_n >= o->nm_m))
        return wk_fail(e, "N:M wants 1 <= N < M, not %u:%u", o->nm_n, o->nm_m);
    if (o->nm_m && o->scope != WK_PRUNE_ROW)
        return wk_fail(e, "N:M pruning works within each row: scope %s does not apply",
                       wk_prune_scope_name(o->scope));
    if (o->method == WK_PRUNE_WANDA && o->scope != WK_PRUNE_ROW)
        return wk_fail(e, "Wanda prunes each output row: scope %s does not apply",
                       wk_prune_scope_name(o->scope));
    if (cats & (1u << WK_CAT_OTHER | ~0u << WK_CAT_COUNT))
        return wk_fail(e, "only the categories embedding, attention, feedforward, norm, bias "
                          "and output can be pruned");
    if (o->method == WK_PRUNE_WANDA && (cats & ~layer_cats))
        return wk_fail(e, "Wanda prunes the layers' attention and feed-forward matrices only "
                          "(their inputs are what the calibration measures)");
    return 0;
}

/* ---- the list of tensors ---- */

static bool is_float(wk_dtype t)
{
    return t == WK_F32 || t == WK_F16 || t == WK_BF16;
}

/* What every input shares: category, layer, the shape as pruned, and the refusals. */
static int describe(pr_item *it, const char *file, const wk_tensor *t, wk_err *e)
{
    it->category = wk_tensor_category(it->name, &it->layer);
    it->type = t ? t->dtype : WK_F32;
    if (wk_type(it->type)->is_quantized)
        return wk_fail(e, "%s: tensor '%s' is %s: prune before quantizing (wk-prune reads F32, "
                          "F16 and BF16 models)", file, it->name, wk_type(it->type)->name);
    if (t) {
        it->n_dims = t->n_dims;
        memcpy(it->shape, t->shape, sizeof it->shape);
    }
    uint64_t n = 1;
    for (uint32_t d = 0; d < it->n_dims; d++)
        n *= it->shape[d];
    it->cols = it->n_dims ? it->shape[it->n_dims - 1] : 1;
    it->rows = it->cols ? n / it->cols : 0;
    return 0;
}

static int plan_gguf(pruner *p, wk_err *e)
{
    const wk_source *s = p->src;
    for (size_t i = 0; i < s->n_tensors; i++) {
        pr_item *it = &p->it[p->n];
        const char *suffix;
        int layer;
        *it = (pr_item){.name = s->tensors[i].name, .src = (long)i, .plan = -1};
        if (wk_role_parse_gguf(it->name, &it->role, &layer, &suffix) != 0)
            it->role = WK_ROLE_COUNT;
        if (describe(it, s->path, &s->tensors[i], e) != 0)
            return -1;
        p->n++;
    }
    return 0;
}

/* A checkpoint into a GGUF: the conversion's plan, in its order (grouped by layer). */
static int plan_converted(pruner *p, wk_err *e)
{
    size_t n = wk_convert_count(p->conv);
    for (size_t k = 0; k < n; k++) {
        wk_dtype src_type;
        const wk_conv_tensor *t = wk_convert_tensor(p->conv, k, &src_type);
        if (!t)
            continue;
        pr_item *it = &p->it[p->n];
        *it = (pr_item){.name = t->gguf_name, .plan = (long)k, .role = t->role,
                        .n_dims = t->n_dims, .shape = {t->shape[0], t->shape[1]}};
        it->src = t->values ? -1 : wk_source_find(p->src, t->hf_name);
        wk_tensor st = {.dtype = src_type, .n_dims = t->n_dims,
                        .shape = {t->shape[0], t->shape[1]}};
        if (describe(it, p->src->path, t->values ? NULL : &st, e) != 0)
            return -1;
        p->n++;
    }
    return 0;
}

/* A checkpoint into a Hugging Face directory: its own tensors, with the plan's roles. */
static int plan_hf(pruner *p, wk_err *e)
{
    const wk_source *s = p->src;
    size_t n_plan = wk_convert_count(p->conv);
    for (size_t i = 0; i < s->n_tensors; i++) {
        pr_item *it = &p->it[p->n];
        *it = (pr_item){.name = s->tensors[i].name, .src = (long)i, .plan = -1,
                        .role = WK_ROLE_COUNT};
        for (size_t k = 0; k < n_plan; k++) {
            const wk_conv_tensor *t = wk_convert_tensor(p->conv, k, NULL);
            if (t && strcmp(t->hf_name, it->name) == 0) {
                it->role = t->role;
                it->gguf_heads = t->n_dims == 2 ? t->unpermute_heads : 0;
            }
        }
        if (describe(it, s->files[s->tensors[i].file_index], &s->tensors[i], e) != 0)
            return -1;
        p->n++;
    }
    return 0;
}

/* Writing order: the layers in increasing order, each tensor's place within its layer kept;
 * model-wide tensors that came before the first layer's stay first, the others go last. */
typedef struct order_key {
    long key;
    size_t index;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int sort_by_layer(pruner *p, wk_err *e)
{
    order_key *k = malloc((p->n ? p->n : 1) * sizeof *k);
    pr_item *sorted = malloc((p->n ? p->n : 1) * sizeof *sorted);
    if (!k || !sorted) {
        free(k);
        free(sorted);
        return wk_fail(e, "out of memory");
    }
    bool seen_layer = false;
    for (size_t i = 0; i < p->n; i++) {
        seen_layer |= p->it[i].layer >= 0;
        k[i] = (order_key){p->it[i].layer >= 0 ? p->it[i].layer : seen_layer ? LONG_MAX : -1, i};
    }
    qsort(k, p->n, sizeof *k, cmp_order);
    for (size_t i = 0; i < p->n; i++)
        sorted[i] = p->it[k[i].index];
    memcpy(p->it, sorted, p->n * sizeof *sorted);
    free(sorted);
    free(k);
    return 0;
}

static bool matrix_of_a_layer(const pr_item *it)
{
    return it->layer >= 0 && it->n_dims == 2 && it->role != WK_ROLE_COUNT &&
           wk_role_get(it->role)->per_layer && wk_role_get(it->role)->category == it->category;
}

/* Which tensors are pruned, and whether they can be. */
static int choose(pruner *p, wk_err *e)
{
    const wk_prune_opts *o = p->o;
    unsigned cats = categories_of(o);
    int last_layer = -1;
    for (size_t k = 0; k < p->n; k++) {
        pr_item *it = &p->it[k];
        it->prune = (cats >> it->category & 1u) && it->rows * it->cols > 0 && it->src >= 0;
        if (!it->prune)
            continue;
        if (!is_float(it->type))
            return wk_fail(e, "tensor '%s' has type %s; wk-prune prunes F32, F16 and BF16",
                           it->name, wk_type(it->type)->name);
        if (o->nm_m && it->cols % o->nm_m != 0)
            return wk_fail(e, "tensor '%s': rows of %llu values are not a multiple of M = %u "
                              "(N:M keeps N of every M consecutive weights of a row)",
                           it->name, (unsigned long long)it->cols, o->nm_m);
        if (o->method != WK_PRUNE_WANDA)
            continue;
        if (!matrix_of_a_layer(it))
            return wk_fail(e, "tensor '%s' is not a layer matrix that Wanda's calibration "
                              "measures", it->name);
        if (it->layer < last_layer)
            return wk_fail(e, "tensor '%s' (layer %d) comes after layer %d's: Wanda needs the "
                              "layers in order", it->name, it->layer, last_layer);
        last_layer = it->layer;
    }
    return 0;
}

/* ---- the run ---- */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A checkpoint named by one of its files is read as its model directory. */
static char *model_dir_of(const char *file, wk_err *e)
{
    char *dir = wk_dir_of(file);
    char *cfg = dir ? wk_path_join(dir, "config.json") : NULL;
    bool ok = cfg && wk_file_exists(cfg);
    free(cfg);
    if (!ok) {
        free(dir);
        wk_fail(e, "%s: a checkpoint file is read with its model directory (config.json "
                   "beside it); none there", file);
        return NULL;
    }
    return dir;
}

static int open_input(pruner *p, const char *in, wk_err *e)
{
    char *dir = NULL;
    if (!wk_is_dir(in)) {
        wk_open_opts oo = {.state_dict_key = p->o->state_dict_key};
        if (wk_source_open(in, &oo, &p->src, e) != 0)
            return -1;
        if (strcmp(p->src->format, "gguf") == 0) {
            p->r->input_format = "gguf";
            if (p->o->safetensors)
                return wk_fail(e, "%s: is a GGUF; a Hugging Face directory (--format "
                                  "safetensors) is written only from a checkpoint directory",
                               in);
            return 0;
        }
        wk_source_close(p->src);
        p->src = NULL;
        if (!(dir = model_dir_of(in, e)))
            return -1;
        in = dir;
    }
    int rc = wk_convert_open(in, p->o->state_dict_key, false, &p->conv, e);
    free(dir);
    if (rc != 0)
        return -1;
    p->src = (wk_source *)wk_convert_source(p->conv);
    p->r->input_format = p->src->format;
    return 0;
}

static int plan(pruner *p, wk_err *e)
{
    size_t cap = p->conv ? wk_convert_count(p->conv) + p->src->n_tensors : p->src->n_tensors;
    if (!(p->it = calloc(cap + 1, sizeof *p->it)) ||
        !(p->r->t = calloc(cap + 1, sizeof *p->r->t)))
        return wk_fail(e, "out of memory");
    int rc = !p->conv ? plan_gguf(p, e) : p->o->safetensors ? plan_hf(p, e)
                                                            : plan_converted(p, e);
    /* a GGUF's order is free and a directory has none: group by layer; the conversion's plan
     * already is */
    if (rc == 0 && !(p->conv && !p->o->safetensors))
        rc = sort_by_layer(p, e);
    if (rc == 0)
        rc = choose(p, e);
    for (size_t k = 0; rc == 0 && k < p->n; k++) {
        pr_item *it = &p->it[k];
        wk_prune_tensor *t = it->rep = &p->r->t[k];
        snprintf(t->name, sizeof t->name, "%s", it->name);
        t->category = it->category;
        t->type = it->type;
        t->n_dims = it->n_dims;
        t->shape[0] = it->rows;
        t->shape[1] = it->cols;
        t->pruned = it->prune;
    }
    p->r->n = p->n;
    return rc;
}

static void add_counts(wk_prune_counts *to, const wk_prune_counts *c)
{
    to->elements += c->elements;
    to->zeros_before += c->zeros_before;
    to->zeros_after += c->zeros_after;
}

static void totals(wk_prune_report *r)
{
    for (size_t k = 0; k < r->n; k++) {
        const wk_prune_tensor *t = &r->t[k];
        add_counts(&r->cat[t->category], &t->c);
        add_counts(&r->all, &t->c);
        if (t->pruned) {
            add_counts(&r->pruned, &t->c);
            r->n_pruned++;
        }
    }
}

static int run(pruner *p, const char *in, const char *out, wk_err *e)
{
    if (open_input(p, in, e) != 0 || plan(p, e) != 0)
        return -1;
    if (p->o->scope == WK_PRUNE_GLOBAL && !p->o->nm_m && wk_pr_global_threshold(p, e) != 0)
        return -1;
    if (!p->conv)
        return wk_pr_write_gguf(p, out, e);
    return p->o->safetensors ? wk_pr_write_hf(p, out, e) : wk_pr_write_converted(p, out, e);
}

int wk_prune(const char *in, const char *out, const wk_prune_opts *o, wk_prune_report **report,
             wk_err *e)
{
    *report = NULL;
    if (wk_prune_check_opts(o, e) != 0)
        return -1;
    double t0 = seconds_now();
    wk_prune_report *r = calloc(1, sizeof *r);
    if (!r || !(r->input = strdup(in)) || !(r->output = strdup(out))) {
        wk_prune_report_free(r);
        return wk_fail(e, "out of memory");
    }
    *r = (wk_prune_report){.input = r->input, .output = r->output,
                           .safetensors = o->safetensors, .method = o->method,
                           .scope = o->scope, .sparsity = o->sparsity, .nm_n = o->nm_n,
                           .nm_m = o->nm_m, .categories = categories_of(o)};
    pruner p = {.o = o, .r = r, .norms_layer = -1};
    int rc = run(&p, in, out, e);
    wk_pr_release(&p);
    free(p.it);
    if (p.conv)
        wk_convert_close(p.conv);
    else
        wk_source_close(p.src);
    if (rc != 0) {
        wk_prune_report_free(r);
        return -1;
    }
    totals(r);
    r->seconds = seconds_now() - t0;
    *report = r;
    return 0;
}

void wk_prune_report_free(wk_prune_report *r)
{
    if (!r)
        return;
    free(r->t);
    free(r->input);
    free(r->output);
    free(r);
}
