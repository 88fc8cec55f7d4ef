/* The conversion pipeline: HF model directory -> GGUF (see convert.h).
 *
 * Order of work: config.json -> architecture -> expected tensor list; open the checkpoint
 * (wk_source_open) and match it against the list before any output exists; then open the
 * GGUF writer (a temp file), write general.* / <arch>.* / tokenizer.* / provenance keys,
 * declare the tensors in the architecture's order, and stream each one through
 * models/tensor_stream.c (chunks converted in parallel over rows, pages of a mapped input
 * dropped once used, so resident memory stays near one chunk whatever the model size). Any
 * failure aborts the writer: no output file. */
#define _GNU_SOURCE
#include "models/convert.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "formats/source.h"
#include "formats/tokenizer/tokenizer.h"
#include "models/tensor_stream.h"
#include "quant/ftype.h"

struct wk_convert_job {
    char *dir;
    wk_hf_config *cfg;
    const wk_arch *arch;
    void *hp;
    wk_conv_plan plan;
    wk_source *src;
    long *src_of;       /* per plan tensor: its source tensor, or -1 */
};

/* ---- output types ---- */

/* The type each fixed --outtype writes. */
static const wk_dtype OUTTYPE_DTYPE[] = {[WK_OUTTYPE_F32] = WK_F32, [WK_OUTTYPE_F16] = WK_F16,
                                         [WK_OUTTYPE_BF16] = WK_BF16};

int wk_outtype_parse(const char *s, wk_outtype *out)
{
    wk_dtype t;
    if (strcmp(s, "auto") == 0) {
        *out = WK_OUTTYPE_AUTO;
        return 0;
    }
    if (wk_type_from_name(s, &t) != 0)
        return -1;
    for (int i = 0; i < WK_OUTTYPE_AUTO; i++)
        if (OUTTYPE_DTYPE[i] == t) {
            *out = (wk_outtype)i;
            return 0;
        }
    return -1;
}

static bool is_float_type(wk_dtype t)
{
    return t == WK_F32 || t == WK_F16 || t == WK_BF16;
}

int wk_convert_out_dtype(const wk_conv_tensor *t, wk_dtype src, wk_outtype o, wk_dtype *out,
                         wk_err *e)
{
    if (!is_float_type(src))
        return wk_fail(e, "tensor '%s' has type %s; wk-convert reads F32, F16 and BF16",
                       t->hf_name, wk_type(src)->name);
    *out = t->n_dims == 1 ? WK_F32 : o == WK_OUTTYPE_AUTO ? src : OUTTYPE_DTYPE[o];
    return 0;
}

void wk_convert_rows_cols(const wk_conv_tensor *t, uint64_t *rows, uint64_t *cols)
{
    *rows = t->shape[0];
    *cols = t->n_dims == 2 ? t->shape[1] : 1;
    if (t->n_dims == 1 && !t->unpermute_heads) { /* one row */
        *cols = *rows;
        *rows = 1;
    }
}

/* ---- matching the checkpoint, and the checks before anything is written ---- */

/* Pairs every checkpoint tensor with the plan: src_of[j] is the source index of plan
 * tensor j, or -1. */
static int match_tensors(const wk_arch *a, const wk_source *s, const wk_conv_plan *p,
                         long *src_of, wk_err *e)
{
    for (size_t j = 0; j < p->n; j++)
        src_of[j] = -1;
    for (size_t i = 0; i < s->n_tensors; i++) {
        const wk_tensor *st = &s->tensors[i];
        const char *file = s->files[st->file_index];
        if (a->ignored(st->name))
            continue;
        size_t j = 0;
        while (j < p->n && strcmp(p->t[j].hf_name, st->name) != 0)
            j++;
        if (j == p->n)
            return wk_fail(e, "%s: unexpected tensor '%s' (not part of a %s model with this "
                           "config.json)", file, st->name, a->name);
        const wk_conv_tensor *t = &p->t[j];
        bool same = st->n_dims == t->n_dims && st->shape[0] == t->shape[0] &&
                    (t->n_dims == 1 || st->shape[1] == t->shape[1]);
        if (!same) {
            char got[160], want[160];
            wk_tensor tmp = {.n_dims = t->n_dims, .shape = {t->shape[0], t->shape[1]}};
            wk_shape_format(st, got, sizeof got);
            wk_shape_format(&tmp, want, sizeof want);
            return wk_fail(e, "%s: tensor '%s' has shape %s; config.json implies %s", file,
                           st->name, got, want);
        }
        src_of[j] = (long)i;
    }
    for (size_t j = 0; j < p->n; j++)
        if (src_of[j] < 0 && p->t[j].hf_name[0] && !p->t[j].optional)
            return wk_fail(e, "%s: missing tensor '%s' (config.json implies it)", s->path,
                           p->t[j].hf_name);
    return 0;
}

static int model_name(const wk_hf_config *c, const char *dir, char *out, size_t len, wk_err *e)
{
    const char *n;
    int rc = wk_hf_get_str(c, "_name_or_path", &n, e);
    if (rc < 0)
        return -1;
    if (rc == 0 && n[0]) {
        snprintf(out, len, "%s", n);
        return 0;
    }
    char real[PATH_MAX];
    if (!realpath(dir, real))
        snprintf(real, sizeof real, "%s", dir);
    snprintf(out, len, "%s", basename(real));
    return 0;
}

/* Refuses an output that is one of the model's own files (a weight file anywhere the index
 * points, the config, the tokenizer): writing it would destroy the input. */
static int check_output_is_not_an_input(const char *dir, const wk_source *s,
                                        const char *out_path, wk_err *e)
{
    struct stat out;
    if (stat(out_path, &out) != 0)
        return 0; /* does not exist yet */
    for (size_t i = 0; s && i < s->n_files; i++) {
        struct stat in;
        if (stat(s->files[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            return wk_fail(e, "%s: is %s, a weight file of the model being converted; choose "
                              "another output name", out_path, s->files[i]);
    }
    DIR *d = opendir(dir);
    if (!d)
        return wk_fail(e, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat in;
        if (fstatat(dirfd(d), de->d_name, &in, 0) == 0 && in.st_dev == out.st_dev &&
            in.st_ino == out.st_ino)
            rc = wk_fail(e, "%s: is %s/%s, a file of the model being converted; choose another "
                            "output name", out_path, dir, de->d_name);
    }
    closedir(d);
    return rc;
}

/* A tensor the config says to drop (a tied lm_head) is normally a copy of the one that
 * replaces it (the embeddings); when it is not, the checkpoint contradicts its config, and
 * the user is told which values the GGUF keeps. */
static int check_dropped(wk_source *s, const wk_conv_plan *p, const long *src_of,
                         const wk_convert_opts *o, wk_err *e)
{
    for (size_t j = 0; j < p->n; j++) {
        const wk_conv_tensor *t = &p->t[j];
        if (!t->drop || src_of[j] < 0 || !t->same_as[0] || !o->warnings)
            continue;
        long k = wk_source_find(s, t->same_as);
        if (k < 0 || s->tensors[k].dtype != s->tensors[src_of[j]].dtype)
            continue; /* different types are not compared byte for byte */
        wk_view a, b;
        if (wk_source_read(s, (size_t)src_of[j], &a, e) != 0)
            return -1;
        if (wk_source_read(s, (size_t)k, &b, e) != 0) {
            wk_view_release(&a);
            return -1;
        }
        bool same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
        wk_view_release(&a);
        wk_view_release(&b);
        if (!same)
            wk_warn(o->warnings, "%s: '%s' differs from '%s', but config.json ties them "
                                 "(tie_word_embeddings): the GGUF uses '%s'",
                    s->files[s->tensors[src_of[j]].file_index], t->hf_name, t->same_as,
                    t->same_as);
    }
    return 0;
}

/* ---- writing ---- */

static bool written(const wk_convert_job *j, size_t k)
{
    return j->src && (j->plan.t[k].values || (j->src_of[k] >= 0 && !j->plan.t[k].drop));
}

/* The type of each written tensor, the file type and the total output size. */
static int choose_types(const wk_convert_job *j, const wk_convert_opts *o, wk_dtype *dtypes,
                        uint32_t *ftype, uint64_t *total, uint64_t *n_items, wk_err *e)
{
    const wk_conv_plan *p = &j->plan;
    bool have_ftype = false;
    *ftype = 0;
    for (size_t k = 0; k < p->n; k++) {
        if (!written(j, k))
            continue;
        wk_dtype src = j->src_of[k] >= 0 ? j->src->tensors[j->src_of[k]].dtype : WK_F32;
        dtypes[k] = WK_F32;
        if (j->src_of[k] >= 0 && wk_convert_out_dtype(&p->t[k], src, o->outtype, &dtypes[k], e))
            return -1;
        if (o->types)
            dtypes[k] = o->types[k];
        if (!have_ftype && p->t[k].n_dims == 2 && wk_ftype_of_type(dtypes[k])) {
            *ftype = wk_ftype_of_type(dtypes[k])->id;
            have_ftype = true;
        }
        uint64_t rows, cols, bytes;
        wk_convert_rows_cols(&p->t[k], &rows, &cols);
        if (wk_type_nbytes(dtypes[k], cols, &bytes, e) || wk_mul_u64(bytes, rows, &bytes) ||
            wk_add_u64(*total, bytes, total))
            return wk_fail_prefix(e, "tensor '%s'", p->t[k].gguf_name);
        (*n_items)++;
    }
    return 0;
}

static int write_keys(wk_convert_job *j, wk_gguf_writer *w, const wk_convert_opts *o,
                      uint32_t ftype, wk_err *e)
{
    char name[256];
    uint64_t embd_rows = 0;
    for (size_t k = 0; k < j->plan.n; k++)
        if (j->plan.t[k].role == WK_ROLE_TOKEN_EMBD)
            embd_rows = j->plan.t[k].shape[0];
    if (model_name(j->cfg, j->dir, name, sizeof name, e))
        return -1;
    wk_tokenizer_info info = {0};
    int rc = wk_gguf_set_str(w, "general.architecture", j->arch->name, e) ||
             wk_gguf_set_str(w, "general.type", "model", e) ||
             wk_gguf_set_str(w, "general.name", name, e) || j->arch->write_kv(j->hp, w, e) ||
             wk_gguf_set_u32(w, "general.file_type", ftype, e) ||
             wk_tokenizer_import(j->dir, j->cfg, w, &info, e) ||
             wk_gguf_set_provenance(w, o->tool ? o->tool : "wk-convert",
                                    j->src ? (const char *const *)j->src->files : NULL,
                                    j->src ? j->src->n_files : 0, e) ||
             (o->extra_kv && o->extra_kv(o->ctx, w, e));
    if (rc == 0 && info.n_tokens != embd_rows)
        rc = wk_fail(e, "%s: the tokenizer has %llu tokens but the embedding has %llu rows",
                     j->dir, (unsigned long long)info.n_tokens, (unsigned long long)embd_rows);
    if (rc == 0 && o->tokenizer)
        *o->tokenizer = info;
    else
        wk_warnings_free(&info.warnings);
    return rc ? -1 : 0;
}

static int write_tensor(wk_convert_job *j, wk_gguf_writer *w, const wk_convert_opts *o,
                        size_t k, wk_dtype dtype, uint64_t item, wk_err *e)
{
    const wk_conv_tensor *t = &j->plan.t[k];
    if (t->values) { /* generated F32 (rope_freqs) */
        if (o->progress)
            wk_progress_step(o->progress, item, t->gguf_name, t->shape[0] * sizeof(float));
        return wk_gguf_write_tensor(w, t->values, t->shape[0] * sizeof(float), e);
    }
    wk_view v;
    if (wk_source_read(j->src, (size_t)j->src_of[k], &v, e) != 0)
        return -1;
    wk_stream_job job = {.name = t->gguf_name, .src = &v,
                         .src_type = j->src->tensors[j->src_of[k]].dtype,
                         .unpermute_heads = t->unpermute_heads, .dst_type = dtype,
                         .importance = o->importance ? o->importance[k] : NULL,
                         .stats = o->stats ? &o->stats[k] : NULL};
    wk_convert_rows_cols(t, &job.rows, &job.cols);
    int rc = o->write_tensor ? o->write_tensor(o->ctx, w, k, &job, item, e)
                             : wk_stream_tensor(w, &job, o->progress, item, e);
    wk_view_release(&v);
    return rc;
}

/* The writer tells of temp files that interrupted runs left beside the output. */
static void note_leftover(void *ctx, const char *path, uint64_t size)
{
    wk_warnings *w = ctx;
    if (w)
        wk_warn(w, "left over from an interrupted run: %s (%.1f MB); remove it", path,
                (double)size / 1e6);
}

/* Bytes of the file(s) written: the plain name, or each file of a split set. */
static uint64_t output_bytes(const char *out_path, uint32_t files)
{
    uint64_t total = 0;
    for (uint32_t k = 0; k < files; k++) {
        char *p = files > 1 ? wk_gguf_split_path(out_path, k, files) : strdup(out_path);
        struct stat st;
        if (p && stat(p, &st) == 0)
            total += (uint64_t)st.st_size;
        free(p);
    }
    return total;
}

int wk_convert_write(wk_convert_job *j, const char *out_path, const wk_convert_opts *o,
                     wk_convert_result *result, wk_err *e)
{
    if (wk_is_dir(out_path))
        return wk_fail(e, "%s: is a directory (expected the name of the GGUF file to write)",
                       out_path);
    if (check_output_is_not_an_input(j->dir, j->src, out_path, e) ||
        (j->src && check_dropped(j->src, &j->plan, j->src_of, o, e)))
        return -1;
    wk_dtype *dtypes = malloc((j->plan.n ? j->plan.n : 1) * sizeof *dtypes);
    if (!dtypes)
        return wk_fail(e, "out of memory");
    uint32_t ftype;
    uint64_t total = 0, n_items = 0;
    wk_gguf_writer *w = NULL;
    wk_gguf_writer_opts wo = {.max_shard_bytes = o->max_shard_bytes,
                              .on_leftover = note_leftover, .leftover_ctx = o->warnings};
    int rc = choose_types(j, o, dtypes, &ftype, &total, &n_items, e);
    if (o->file_type)
        ftype = *o->file_type;
    if (rc == 0)
        rc = wk_gguf_writer_open_opts(out_path, &wo, &w, e);
    if (rc == 0)
        rc = write_keys(j, w, o, ftype, e);
    for (size_t k = 0; k < j->plan.n && rc == 0; k++)
        if (written(j, k))
            rc = wk_gguf_add_tensor(w, j->plan.t[k].gguf_name, dtypes[k], j->plan.t[k].n_dims,
                                    j->plan.t[k].shape, NULL, e);
    if (o->progress && rc == 0)
        wk_progress_begin(o->progress, n_items, total);
    uint64_t item = 0;
    for (size_t k = 0; k < j->plan.n && rc == 0; k++)
        if (written(j, k))
            rc = write_tensor(j, w, o, k, dtypes[k], item++, e);
    if (o->progress)
        wk_progress_end(o->progress);
    free(dtypes);
    if (rc) {
        if (w)
            wk_gguf_writer_abort(w);
        return -1;
    }
    uint32_t files = wk_gguf_writer_n_files(w);
    if (wk_gguf_writer_finish(w, e) != 0)
        return -1;
    if (result)
        *result = (wk_convert_result){.tensors = n_items, .files = files ? files : 1,
                                      .file_type = ftype,
                                      .bytes = output_bytes(out_path, files ? files : 1)};
    return 0;
}

char *wk_convert_default_output(const wk_convert_job *j, wk_outtype o)
{
    static const char *const names[] = {"f32", "f16", "bf16"};
    const char *type = o == WK_OUTTYPE_AUTO ? "f16" : names[o];
    for (size_t k = 0; o == WK_OUTTYPE_AUTO && j->src && k < j->plan.n; k++)
        if (j->src_of[k] >= 0 && j->plan.t[k].n_dims == 2) {
            wk_dtype t = j->src->tensors[j->src_of[k]].dtype;
            type = t == WK_F32 ? "f32" : t == WK_BF16 ? "bf16" : "f16";
            break;
        }
    char real[PATH_MAX], name[PATH_MAX + 16];
    if (!realpath(j->dir, real))
        snprintf(real, sizeof real, "%s", j->dir);
    snprintf(name, sizeof name, "%s-%s.gguf", basename(real), type);
    return wk_path_join(j->dir, name);
}

/* ---- the job ---- */

int wk_convert_open(const char *dir, const char *state_dict_key, bool no_weights,
                    wk_convert_job **out, wk_err *e)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0)
        return wk_fail(e, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return wk_fail(e, "%s: not a directory (expected a Hugging Face model directory)", dir);
    wk_convert_job *j = calloc(1, sizeof *j);
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        return wk_fail(e, "out of memory");
    }
    int rc = wk_hf_config_load(dir, &j->cfg, e);
    if (rc == 1)
        rc = wk_fail(e, "%s: no config.json", dir);
    wk_open_opts open_opts = {.state_dict_key = state_dict_key};
    if (rc == 0 && (!(j->arch = wk_arch_find(j->cfg, e)) ||
                    j->arch->plan(j->cfg, &j->hp, &j->plan, e) ||
                    (!no_weights && wk_source_open(dir, &open_opts, &j->src, e))))
        rc = -1;
    if (rc == 0 && !(j->src_of = malloc((j->plan.n ? j->plan.n : 1) * sizeof *j->src_of)))
        rc = wk_fail(e, "out of memory");
    for (size_t k = 0; rc == 0 && k < j->plan.n; k++)
        j->src_of[k] = -1;
    if (rc == 0 && j->src)
        rc = match_tensors(j->arch, j->src, &j->plan, j->src_of, e);
    if (rc) {
        wk_convert_close(j);
        return -1;
    }
    *out = j;
    return 0;
}

size_t wk_convert_count(const wk_convert_job *j)
{
    return j->plan.n;
}

const wk_conv_tensor *wk_convert_tensor(const wk_convert_job *j, size_t k, wk_dtype *src_type)
{
    if (!written(j, k))
        return NULL;
    if (src_type)
        *src_type = j->src_of[k] >= 0 ? j->src->tensors[j->src_of[k]].dtype : WK_F32;
    return &j->plan.t[k];
}

const wk_arch *wk_convert_arch(const wk_convert_job *j)
{
    return j->arch;
}

void wk_convert_shape(const wk_convert_job *j, wk_model_shape *out)
{
    j->arch->shape(j->hp, out);
}

const wk_source *wk_convert_source(const wk_convert_job *j)
{
    return j->src;
}

void wk_convert_close(wk_convert_job *j)
{
    if (!j)
        return;
    free(j->src_of);
    wk_source_close(j->src);
    wk_conv_plan_free(&j->plan);
    free(j->hp);
    wk_hf_config_free(j->cfg);
    free(j->dir);
    free(j);
}

int wk_convert_hf(const char *dir, const char *out_path, const wk_convert_opts *o,
                  wk_convert_result *result, wk_err *e)
{
    if (wk_is_dir(out_path))
        return wk_fail(e, "%s: is a directory (expected the name of the GGUF file to write)",
                       out_path);
    wk_convert_job *j;
    if (wk_convert_open(dir, o->state_dict_key, o->vocab_only, &j, e) != 0)
        return -1;
    int rc = wk_convert_write(j, out_path, o, result, e);
    wk_convert_close(j);
    return rc;
}
