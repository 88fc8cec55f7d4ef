/* wk-quantize's pipeline (see quantize.h). */
#define _GNU_SOURCE
#include "models/quantize.h"

#include <fnmatch.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fileio.h"
#include "common/strutil.h"
#include "formats/imatrix/imatrix.h"
#include "formats/source.h"
#include "models/convert.h"
#include "models/tensor_names.h"
#include "quant/ftype.h"

/* ---- the plan ---- */

typedef struct model_info {
    uint32_t n_layer, n_gqa;
    bool tied; /* no output.weight: the token embeddings serve as the output */
} model_info;

/* One tensor to plan, whatever the input. */
typedef struct tensor_desc {
    const char *name; /* GGUF naming */
    uint32_t n_dims;
    uint64_t rows, cols;
    wk_dtype src;
    bool from_checkpoint;
} tensor_desc;

static bool glob_matches(const char *glob, const char *name)
{
    char other[256];
    return fnmatch(glob, name, 0) == 0 ||
           (wk_tensor_name_other(name, other, sizeof other) == 0 && fnmatch(glob, other, 0) == 0);
}

static wk_recipe_target target_of(wk_role role, bool tied)
{
    switch (role) {
    case WK_ROLE_OUTPUT: return WK_RT_OUTPUT;
    case WK_ROLE_TOKEN_EMBD: return tied ? WK_RT_OUTPUT : WK_RT_TOKEN_EMBD;
    case WK_ROLE_ATTN_V: return WK_RT_ATTN_V;
    case WK_ROLE_ATTN_OUT: return WK_RT_ATTN_OUTPUT;
    case WK_ROLE_FFN_DOWN: return WK_RT_FFN_DOWN;
    default: return WK_RT_OTHER;
    }
}

/* A matrix llama-quantize would quantize: 2-D or more, a ".weight", not a norm. */
static bool quantizable(const tensor_desc *d)
{
    return d->n_dims >= 2 && wk_has_suffix(d->name, "weight") &&
           strstr(d->name, "_norm.weight") == NULL;
}

/* The recipe's type, then the user's choices for the output and the embeddings, then the
 * overrides. */
static wk_dtype choose(const wk_quantize_opts *o, const model_info *mi, const tensor_desc *d,
                       const char **why, bool has_imatrix)
{
    wk_role role = WK_ROLE_COUNT;
    int layer = -1;
    const char *suffix;
    if (wk_role_parse_gguf(d->name, &role, &layer, &suffix) != 0)
        role = WK_ROLE_COUNT;
    wk_recipe_tensor rt = {target_of(role, mi->tied), layer, (int)mi->n_layer, mi->n_gqa,
                           has_imatrix};
    wk_dtype t = o->pure;
    *why = "";
    if (o->recipe)
        t = wk_recipe_type(o->recipe, &rt, why);
    if (rt.target == WK_RT_OUTPUT && o->output_type >= 0) {
        t = (wk_dtype)o->output_type;
        *why = "--output-type";
    } else if (rt.target == WK_RT_TOKEN_EMBD && o->embedding_type >= 0) {
        t = (wk_dtype)o->embedding_type;
        *why = "--embedding-type";
    }
    for (size_t k = 0; k < o->n_overrides; k++)
        if (glob_matches(o->overrides[k].glob, d->name)) {
            *why = "--tensor-type";
            return o->overrides[k].type;
        }
    return t;
}

/* The importance of a quantized tensor, checked against the imatrix. */
static int importance_of(const wk_imatrix *im, const tensor_desc *d, const float **imp,
                         wk_err *e)
{
    *imp = NULL;
    const wk_imatrix_entry *en = im ? wk_imatrix_find(im, d->name) : NULL;
    if (!im)
        return 0;
    if (!en) {
        if (strcmp(d->name, "output.weight") == 0 || strcmp(d->name, "token_embd.weight") == 0)
            return 0; /* llama-imatrix leaves these out unless asked */
        return wk_fail(e, "%s: no entry for tensor '%s' (is the imatrix for another model?)",
                       im->path, d->name);
    }
    if (en->n_mat != 1 || en->n_in != d->cols)
        return wk_fail(e, "%s: the entry for '%s' has %llu x %llu values, but the tensor has "
                          "rows of %llu (is the imatrix for another model?)",
                       im->path, d->name, (unsigned long long)en->n_mat,
                       (unsigned long long)en->n_in, (unsigned long long)d->cols);
    *imp = en->importance;
    return 0;
}

static uint64_t bytes_of(wk_dtype t, uint64_t n)
{
    const wk_type_traits *tt = wk_type(t);
    return n / tt->block_size * tt->type_size;
}

static int plan_tensor(const wk_quantize_opts *o, const model_info *mi, const tensor_desc *d,
                       const wk_imatrix *im, wk_quant_tensor *q, const float **imp, wk_err *e)
{
    memset(q, 0, sizeof *q);
    *imp = NULL;
    snprintf(q->name, sizeof q->name, "%s", d->name);
    q->src = d->src;
    q->n_elements = d->rows * d->cols;
    q->bytes_in = bytes_of(d->src, q->n_elements);
    bool keep = false;
    for (size_t k = 0; k < o->n_keep && !keep; k++)
        keep = glob_matches(o->keep[k], d->name);
    if (!quantizable(d) || keep) {
        /* left as it is; from a checkpoint, vectors become F32 as wk-convert writes them */
        q->dst = d->from_checkpoint && d->n_dims == 1 ? WK_F32 : d->src;
        q->why = keep ? "--keep" : "not a quantizable matrix";
    } else {
        wk_dtype want = choose(o, mi, d, &q->why, im != NULL);
        q->dst = wk_recipe_fallback(want, d->cols);
        if (q->dst != want)
            snprintf(q->fallback, sizeof q->fallback,
                     "rows of %llu are not a multiple of the %s block (%u): %s instead",
                     (unsigned long long)d->cols, wk_type(want)->name, wk_type(want)->block_size,
                     wk_type(q->dst)->name);
    }
    const wk_type_traits *st = wk_type(d->src), *dt = wk_type(q->dst);
    if (st->is_quantized && q->dst != d->src && !o->allow_requantize)
        return wk_fail(e, "tensor '%s' is already quantized (%s); quantizing it again to %s "
                          "compounds the loss: quantize the F32/F16/BF16 model, or pass "
                          "--allow-requantize", d->name, st->name, dt->name);
    if (!wk_type(q->dst)->to_float || !wk_type(q->dst)->from_float)
        return wk_fail(e, "tensor '%s': type %s cannot be written by weightkit", d->name,
                       dt->name);
    q->quantized = dt->is_quantized && q->dst != d->src;
    if (q->quantized && importance_of(im, d, imp, e) != 0)
        return -1;
    q->importance = *imp != NULL;
    q->bytes_out = bytes_of(q->dst, q->n_elements);
    return 0;
}

/* Every imatrix entry must name a tensor of this model. */
static int check_imatrix_fits(const wk_imatrix *im, const wk_quant_report *r, wk_err *e)
{
    for (size_t i = 0; im && i < im->n; i++) {
        size_t k = 0;
        while (k < r->n && strcmp(r->t[k].name, im->entries[i].name) != 0)
            k++;
        if (k == r->n)
            return wk_fail(e, "%s: entry '%s' names no tensor of %s (is the imatrix for another "
                              "model?)", im->path, im->entries[i].name, r->input);
    }
    return 0;
}

/* ---- the metadata wk-quantize adds ---- */

typedef struct quant_keys {
    const wk_quant_report *r;
    bool any_quantized;
} quant_keys;

static int write_quant_keys(void *ctx, wk_gguf_writer *w, wk_err *e)
{
    const quant_keys *k = ctx;
    if (k->any_quantized && wk_gguf_set_u32(w, "general.quantization_version", 2, e))
        return -1;
    if (wk_gguf_set_str(w, "weightkit.quantize.recipe", k->r->recipe, e))
        return -1;
    return k->r->imatrix ? wk_gguf_set_str(w, "weightkit.quantize.imatrix", k->r->imatrix, e) : 0;
}

/* ---- from a checkpoint (through the conversion pipeline) ---- */

static int describe_checkpoint(wk_convert_job *j, const wk_quantize_opts *o, const wk_imatrix *im,
                               wk_quant_report *r, wk_dtype *types, const float **imp,
                               long *report_of, wk_err *e)
{
    wk_model_shape shape;
    wk_convert_shape(j, &shape);
    model_info mi = {shape.n_layer, shape.n_head_kv ? shape.n_head / shape.n_head_kv : 1, true};
    size_t n = wk_convert_count(j);
    for (size_t k = 0; k < n; k++) {
        const wk_conv_tensor *t = wk_convert_tensor(j, k, NULL);
        if (t && t->role == WK_ROLE_OUTPUT)
            mi.tied = false;
    }
    for (size_t k = 0; k < n; k++) {
        wk_dtype src;
        const wk_conv_tensor *t = wk_convert_tensor(j, k, &src);
        report_of[k] = -1;
        if (!t)
            continue;
        tensor_desc d = {t->gguf_name, t->n_dims, 0, 0, src, true};
        wk_convert_rows_cols(t, &d.rows, &d.cols);
        if (t->n_dims == 2) {
            d.rows = t->shape[0];
            d.cols = t->shape[1];
        }
        if (t->values) /* generated F32 (rope_freqs) */
            d.src = WK_F32;
        wk_quant_tensor *q = &r->t[r->n];
        if (plan_tensor(o, &mi, &d, im, q, &imp[k], e) != 0)
            return -1;
        types[k] = q->dst;
        report_of[k] = (long)r->n++;
    }
    r->input_format = wk_convert_source(j)->format;
    return 0;
}

static int quantize_checkpoint(const char *dir, const char *out, const wk_quantize_opts *o,
                               const wk_imatrix *im, wk_quant_report *r, wk_err *e)
{
    wk_convert_job *j;
    if (wk_convert_open(dir, o->state_dict_key, false, &j, e) != 0)
        return -1;
    size_t n = wk_convert_count(j);
    wk_dtype *types = calloc(n + 1, sizeof *types);
    const float **imp = calloc(n + 1, sizeof *imp);
    long *report_of = calloc(n + 1, sizeof *report_of);
    wk_stream_stats *stats = calloc(n + 1, sizeof *stats);
    r->t = calloc(n + 1, sizeof *r->t);
    int rc = types && imp && report_of && stats && r->t ? 0 : wk_fail(e, "out of memory");
    if (rc == 0)
        rc = describe_checkpoint(j, o, im, r, types, imp, report_of, e);
    if (rc == 0)
        rc = check_imatrix_fits(im, r, e);
    quant_keys keys = {r, false};
    for (size_t k = 0; k < r->n; k++)
        keys.any_quantized |= wk_type(r->t[k].dst)->is_quantized;
    if (rc == 0 && !o->dry_run) {
        wk_convert_opts co = {.progress = o->progress, .state_dict_key = o->state_dict_key,
                              .warnings = o->warnings, .types = types,
                              .importance = (const float *const *)imp, .stats = stats,
                              .tool = "wk-quantize", .file_type = &r->file_type,
                              .extra_kv = write_quant_keys, .ctx = &keys};
        wk_convert_result res;
        rc = wk_convert_write(j, out, &co, &res, e);
        if (rc == 0) {
            r->files = res.files;
            r->file_bytes = res.bytes;
        }
        for (size_t k = 0; rc == 0 && k < n; k++)
            if (report_of[k] >= 0)
                r->t[report_of[k]].stats = stats[k];
    }
    free(stats);
    free(report_of);
    free(imp);
    free(types);
    wk_convert_close(j);
    return rc;
}

/* ---- from a GGUF ---- */

static uint32_t meta_u32(const wk_gguf *g, const char *arch, const char *key, uint32_t dflt)
{
    char k[128];
    uint64_t v;
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return wk_gguf_get_u64(g, k, &v) == 0 && v <= UINT32_MAX ? (uint32_t)v : dflt;
}

static model_info gguf_model_info(const wk_source *s)
{
    char *arch = NULL;
    model_info mi = {0, 1, wk_source_find(s, "output.weight") < 0};
    if (wk_gguf_get_str(s->gguf, "general.architecture", &arch) == 0) {
        mi.n_layer = meta_u32(s->gguf, arch, "block_count", 0);
        uint32_t heads = meta_u32(s->gguf, arch, "attention.head_count", 1);
        uint32_t kv = meta_u32(s->gguf, arch, "attention.head_count_kv", heads);
        mi.n_gqa = kv ? heads / kv : 1;
    }
    free(arch);
    return mi;
}

/* Keys of the input that the output must not inherit: the writer's and those we set. */
static bool key_replaced(const char *key)
{
    return strcmp(key, "general.file_type") == 0 ||
           strcmp(key, "general.quantization_version") == 0 ||
           strncmp(key, "weightkit.", 10) == 0 || strncmp(key, "split.", 6) == 0;
}

static void note_leftover(void *ctx, const char *path, uint64_t size)
{
    if (ctx)
        wk_warn(ctx, "left over from an interrupted run: %s (%.1f MB); remove it", path,
                (double)size / 1e6);
}

static int write_gguf_keys(wk_gguf_writer *w, const wk_source *s, quant_keys *keys, wk_err *e)
{
    const wk_gguf *g = s->gguf;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char *key = wk_gguf_strdup(g->kv[i].key);
        if (!key)
            return wk_fail(e, "out of memory");
        int rc = key_replaced(key) ? 0 : wk_gguf_set_value(w, key, &g->kv[i].value, e);
        free(key);
        if (rc)
            return -1;
    }
    return wk_gguf_set_u32(w, "general.file_type", keys->r->file_type, e) ||
           wk_gguf_set_provenance(w, "wk-quantize", (const char *const *)s->files, s->n_files,
                                  e) ||
           write_quant_keys(keys, w, e);
}

static int stream_gguf_tensor(wk_gguf_writer *w, wk_source *s, size_t i, wk_quant_tensor *q,
                              const float *imp, wk_progress *pg, uint64_t item, wk_err *e)
{
    const wk_tensor *t = &s->tensors[i];
    wk_view v;
    if (wk_source_read(s, i, &v, e) != 0)
        return -1;
    uint64_t cols = t->n_dims ? t->shape[t->n_dims - 1] : 1;
    wk_stream_job job = {.name = t->name, .src = &v, .src_type = t->dtype,
                         .rows = cols ? t->n_elements / cols : 0, .cols = cols,
                         .dst_type = q->dst, .importance = imp,
                         .stats = q->quantized ? &q->stats : NULL};
    int rc = wk_stream_tensor(w, &job, pg, item, e);
    wk_view_release(&v);
    return rc;
}

static int quantize_gguf(wk_source *s, const char *out, const wk_quantize_opts *o,
                         const wk_imatrix *im, wk_quant_report *r, wk_err *e)
{
    model_info mi = gguf_model_info(s);
    const float **imp = calloc(s->n_tensors + 1, sizeof *imp);
    r->t = calloc(s->n_tensors + 1, sizeof *r->t);
    if (!imp || !r->t) {
        free(imp);
        return wk_fail(e, "out of memory");
    }
    int rc = 0;
    quant_keys keys = {r, false};
    for (size_t i = 0; rc == 0 && i < s->n_tensors; i++) {
        const wk_tensor *t = &s->tensors[i];
        uint64_t cols = t->n_dims ? t->shape[t->n_dims - 1] : 1;
        tensor_desc d = {t->name, t->n_dims, cols ? t->n_elements / cols : 0, cols, t->dtype,
                         false};
        rc = plan_tensor(o, &mi, &d, im, &r->t[i], &imp[i], e);
        keys.any_quantized |= rc == 0 && wk_type(r->t[i].dst)->is_quantized;
        r->n = i + 1;
    }
    if (rc == 0)
        rc = check_imatrix_fits(im, r, e);
    if (rc != 0 || o->dry_run) {
        free(imp);
        return rc;
    }
    wk_gguf_writer *w;
    wk_gguf_writer_opts wo = {.on_leftover = note_leftover, .leftover_ctx = o->warnings};
    if (wk_gguf_writer_open_opts(out, &wo, &w, e) != 0) {
        free(imp);
        return -1;
    }
    rc = write_gguf_keys(w, s, &keys, e);
    for (size_t i = 0; rc == 0 && i < s->n_tensors; i++)
        rc = wk_gguf_add_tensor(w, s->tensors[i].name, r->t[i].dst, s->tensors[i].n_dims,
                                s->tensors[i].shape, NULL, e);
    uint64_t total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->t[i].bytes_out;
    if (o->progress && rc == 0)
        wk_progress_begin(o->progress, r->n, total);
    for (size_t i = 0; rc == 0 && i < s->n_tensors; i++)
        rc = stream_gguf_tensor(w, s, i, &r->t[i], imp[i], o->progress, i, e);
    if (o->progress)
        wk_progress_end(o->progress);
    free(imp);
    if (rc != 0) {
        wk_gguf_writer_abort(w);
        return -1;
    }
    r->files = 1;
    if (wk_gguf_writer_finish(w, e) != 0)
        return -1;
    struct stat st;
    r->file_bytes = stat(out, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* ---- the whole run ---- */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint32_t file_type_of(const wk_quantize_opts *o)
{
    const wk_ftype *f = o->recipe ? wk_ftype_by_name(o->recipe->name) : wk_ftype_of_type(o->pure);
    for (uint32_t id = 0; !f && id < 64; id++)
        if (wk_ftype_by_id(id) && wk_ftype_by_id(id)->main == o->pure)
            f = wk_ftype_by_id(id);
    return f ? f->id : 0;
}

/* The model directory of a checkpoint given as a file (its config.json beside it). */
static char *checkpoint_dir(const char *in, wk_err *e)
{
    char *dir = wk_dir_of(in);
    char *cfg = dir ? wk_path_join(dir, "config.json") : NULL;
    if (!cfg || !wk_file_exists(cfg)) {
        wk_fail(e, "%s: a checkpoint file needs its model directory (config.json beside it, "
                   "or pass the directory)", in);
        free(cfg);
        free(dir);
        return NULL;
    }
    free(cfg);
    return dir;
}

static int run(const char *in, const char *out, const wk_quantize_opts *o, const wk_imatrix *im,
               wk_quant_report *r, wk_err *e)
{
    if (wk_is_dir(in))
        return quantize_checkpoint(in, out, o, im, r, e);
    wk_source *s;
    if (wk_source_open(in, &(wk_open_opts){.state_dict_key = o->state_dict_key}, &s, e) != 0)
        return -1;
    if (strcmp(s->format, "gguf") != 0) {
        wk_source_close(s);
        char *dir = checkpoint_dir(in, e);
        if (!dir)
            return -1;
        int rc = quantize_checkpoint(dir, out, o, im, r, e);
        free(dir);
        return rc;
    }
    r->input_format = "gguf";
    int rc = quantize_gguf(s, out, o, im, r, e);
    wk_source_close(s);
    return rc;
}

int wk_quantize(const char *in, const char *out, const wk_quantize_opts *o,
                wk_quant_report **report, wk_err *e)
{
    *report = NULL;
    double t0 = seconds_now();
    wk_quant_report *r = calloc(1, sizeof *r);
    if (!r || !(r->input = strdup(in)) || !(r->output = strdup(out ? out : ""))) {
        wk_quant_report_free(r);
        return wk_fail(e, "out of memory");
    }
    r->recipe = o->recipe ? o->recipe->name : wk_type(o->pure)->name;
    r->file_type = file_type_of(o);
    r->dry_run = o->dry_run;
    wk_imatrix *im = NULL;
    int rc = o->imatrix ? wk_imatrix_load(o->imatrix, &im, e) : 0;
    if (rc == 0 && im) {
        char *copy = strdup(im->path);
        r->imatrix = copy ? strdup(basename(copy)) : NULL;
        free(copy);
    }
    if (rc == 0)
        rc = run(in, out, o, im, r, e);
    wk_imatrix_free(im);
    if (rc != 0) {
        wk_quant_report_free(r);
        return -1;
    }
    for (size_t k = 0; k < r->n; k++) {
        r->bytes_in += r->t[k].bytes_in;
        r->bytes_out += r->t[k].bytes_out;
        r->params += r->t[k].n_elements;
        r->n_fallbacks += r->t[k].fallback[0] != '\0';
    }
    r->seconds = seconds_now() - t0;
    *report = r;
    return 0;
}

void wk_quant_report_free(wk_quant_report *r)
{
    if (!r)
        return;
    free(r->t);
    free(r->imatrix);
    free(r->input);
    free(r->output);
    free(r);
}

double wk_quant_bpw(uint64_t bytes, uint64_t n_elements)
{
    return n_elements ? 8.0 * (double)bytes / (double)n_elements : 0.0;
}
