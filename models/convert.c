/* The conversion pipeline: HF model directory -> GGUF (see convert.h).
 *
 * Order of work: config.json -> architecture -> expected tensor list; open the checkpoint
 * (wk_source_open) and match it against the list before any output exists; then open the
 * GGUF writer (a temp file), write general.* / <arch>.* / tokenizer.* / provenance keys,
 * declare the tensors in the architecture's order, and stream each one: rows converted in
 * chunks of about WK_CONV_CHUNK bytes (parallel over rows), each chunk appended with
 * wk_gguf_write_tensor_part. Pages of a file-mapped input (wk_view.mapped) that a chunk
 * consumed are dropped from this process (MADV_DONTNEED: they stay in the page cache and
 * are read back from the file if touched again), so resident memory stays near one chunk
 * whatever the model size. Any failure aborts the writer: no output file. */
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
#include "kernels/traits.h"
#include "models/qk_permute.h"
#include "quant/ftype.h"

#define WK_CONV_CHUNK (4u << 20)

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

void wk_convert_rows(const void *src, wk_dtype src_type, void *dst, wk_dtype dst_type,
                     uint64_t r0, uint64_t r1, uint64_t rows, uint64_t cols, uint32_t heads)
{
    size_t in_row = cols * wk_type(src_type)->type_size;
    size_t out_row = cols * wk_type(dst_type)->type_size;
    int64_t n = (int64_t)(r1 - r0);
#pragma omp parallel for schedule(static) if ((uint64_t)n * cols >= (1u << 16))
    for (int64_t k = 0; k < n; k++) {
        uint64_t r = r0 + (uint64_t)k;
        uint64_t from = heads ? wk_qk_unpermute_src(r, rows, heads) : r;
        wk_cpu_convert((const uint8_t *)src + from * in_row, src_type,
                       (uint8_t *)dst + (uint64_t)k * out_row, dst_type, (int64_t)cols);
    }
}

/* Streams one checkpoint tensor through the row conversion into the writer. */
static int stream_tensor(wk_gguf_writer *w, const wk_conv_tensor *t, const wk_view *v,
                         wk_dtype st, wk_dtype dt, wk_progress *pg, size_t item, wk_err *e)
{
    uint64_t rows = t->shape[0], cols = t->n_dims == 2 ? t->shape[1] : 1;
    if (t->n_dims == 1 && !t->unpermute_heads) { /* one row */
        cols = rows;
        rows = 1;
    }
    uint32_t heads = t->unpermute_heads;
    if (heads && wk_qk_check(t->hf_name, rows, heads, e))
        return -1;
    size_t in_row = cols * wk_type(st)->type_size, out_row = cols * wk_type(dt)->type_size;
    uint64_t step = out_row >= WK_CONV_CHUNK ? 1 : WK_CONV_CHUNK / out_row;
    if (heads) { /* whole heads, so a chunk reads exactly its own source rows */
        uint64_t head = rows / heads;
        step = step < head ? head : step - step % head;
    }
    if (step > rows)
        step = rows;
    uint8_t *buf = malloc(step * out_row);
    if (!buf)
        return wk_fail(e, "tensor '%s': out of memory for a %llu-byte chunk", t->hf_name,
                       (unsigned long long)(step * out_row));
    int rc = 0;
    for (uint64_t r0 = 0; r0 < rows && rc == 0; r0 += step) {
        uint64_t r1 = rows - r0 < step ? rows : r0 + step;
        wk_convert_rows(v->data, st, buf, dt, r0, r1, rows, cols, heads);
        rc = wk_gguf_write_tensor_part(w, buf, (r1 - r0) * out_row, e);
        wk_view_drop_range(v, r0 * in_row, (r1 - r0) * in_row);
        if (pg)
            wk_progress_step(pg, item, t->gguf_name, (r1 - r0) * out_row);
    }
    free(buf);
    return rc;
}

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

static bool written(const wk_conv_plan *p, const long *src_of, size_t j)
{
    return p->t[j].values || (src_of[j] >= 0 && !p->t[j].drop);
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

/* Everything after the plan is matched: the writer's keys, tensor infos and data. */
static int write_gguf(const char *dir, const char *out_path, const wk_convert_opts *o,
                      const wk_hf_config *cfg, const wk_arch *a, const void *hp,
                      wk_source *s, const wk_conv_plan *p, const long *src_of,
                      wk_dtype *dtypes, wk_err *e)
{
    int ftype = -1;
    uint64_t total = 0, n_items = 0, embd_rows = 0;
    for (size_t j = 0; j < p->n; j++) {
        if (!written(p, src_of, j))
            continue;
        dtypes[j] = WK_F32;
        if (src_of[j] >= 0 && wk_convert_out_dtype(&p->t[j], s->tensors[src_of[j]].dtype,
                                                   o->outtype, &dtypes[j], e))
            return -1;
        if (ftype < 0 && p->t[j].n_dims == 2)
            ftype = (int)wk_ftype_of_type(dtypes[j])->id;
        if (p->t[j].role == WK_ROLE_TOKEN_EMBD)
            embd_rows = p->t[j].shape[0];
        uint64_t n, bytes;
        if (wk_mul_u64(p->t[j].shape[0], p->t[j].n_dims == 2 ? p->t[j].shape[1] : 1, &n) ||
            wk_mul_u64(n, wk_type(dtypes[j])->type_size, &bytes) ||
            wk_add_u64(total, bytes, &total))
            return wk_fail(e, "tensor '%s': size overflows 64 bits", p->t[j].gguf_name);
        n_items++;
    }
    char name[256];
    if (model_name(cfg, dir, name, sizeof name, e))
        return -1;
    wk_gguf_writer *w;
    if (wk_gguf_writer_open(out_path, &w, e))
        return -1;
    wk_tokenizer_info info = {0};
    int rc = wk_gguf_set_str(w, "general.architecture", a->name, e) ||
             wk_gguf_set_str(w, "general.type", "model", e) ||
             wk_gguf_set_str(w, "general.name", name, e) || a->write_kv(hp, w, e) ||
             wk_gguf_set_u32(w, "general.file_type", (uint32_t)(ftype < 0 ? 0 : ftype), e) ||
             wk_tokenizer_import(dir, cfg, w, &info, e) ||
             wk_gguf_set_provenance(w, "wk-convert", (const char *const *)s->files, s->n_files, e);
    if (rc == 0 && info.n_tokens != embd_rows)
        rc = wk_fail(e, "%s: the tokenizer has %llu tokens but the embedding has %llu rows", dir,
                     (unsigned long long)info.n_tokens, (unsigned long long)embd_rows);
    if (rc == 0 && o->tokenizer)
        *o->tokenizer = info;
    else
        wk_warnings_free(&info.warnings);
    for (size_t j = 0; j < p->n && rc == 0; j++) {
        const wk_conv_tensor *t = &p->t[j];
        if (written(p, src_of, j))
            rc = wk_gguf_add_tensor(w, t->gguf_name, dtypes[j], t->n_dims, t->shape, NULL, e);
    }
    if (o->progress)
        wk_progress_begin(o->progress, n_items, total);
    uint64_t item = 0;
    for (size_t j = 0; j < p->n && rc == 0; j++) {
        const wk_conv_tensor *t = &p->t[j];
        if (!written(p, src_of, j))
            continue;
        if (t->values) {
            rc = wk_gguf_write_tensor(w, t->values, t->shape[0] * sizeof(float), e);
            if (o->progress)
                wk_progress_step(o->progress, item, t->gguf_name, t->shape[0] * sizeof(float));
        } else {
            wk_view v;
            if ((rc = wk_source_read(s, (size_t)src_of[j], &v, e)) != 0)
                break;
            rc = stream_tensor(w, t, &v, s->tensors[src_of[j]].dtype, dtypes[j], o->progress,
                               item, e);
            wk_view_release(&v);
        }
        item++;
    }
    if (o->progress)
        wk_progress_end(o->progress);
    if (rc) {
        wk_gguf_writer_abort(w);
        return -1;
    }
    return wk_gguf_writer_finish(w, e);
}

/* Refuses an output that is one of the model's own files (a weight file anywhere the index
 * points, the config, the tokenizer): writing it would destroy the input. */
static int check_output_is_not_an_input(const char *dir, const wk_source *s,
                                        const char *out_path, wk_err *e)
{
    struct stat out;
    if (stat(out_path, &out) != 0)
        return 0; /* does not exist yet */
    for (size_t i = 0; i < s->n_files; i++) {
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

int wk_convert_hf(const char *dir, const char *out_path, const wk_convert_opts *o, wk_err *e)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return wk_fail(e, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return wk_fail(e, "%s: not a directory (expected a Hugging Face model directory)", dir);
    if (wk_is_dir(out_path))
        return wk_fail(e, "%s: is a directory (expected the name of the GGUF file to write)",
                       out_path);
    wk_hf_config *cfg;
    int rc = wk_hf_config_load(dir, &cfg, e);
    if (rc == 1)
        return wk_fail(e, "%s: no config.json", dir);
    if (rc < 0)
        return -1;
    const wk_arch *a = wk_arch_find(cfg, e);
    void *hp = NULL;
    wk_conv_plan plan = {0};
    wk_source *s = NULL;
    long *src_of = NULL;
    wk_dtype *dtypes = NULL;
    wk_open_opts open_opts = {.state_dict_key = o->state_dict_key};
    rc = -1;
    if (!a || a->plan(cfg, &hp, &plan, e) || wk_source_open(dir, &open_opts, &s, e))
        goto done;
    src_of = malloc(plan.n * sizeof *src_of);
    dtypes = malloc(plan.n * sizeof *dtypes);
    if (!src_of || !dtypes) {
        wk_fail(e, "out of memory");
        goto done;
    }
    if (check_output_is_not_an_input(dir, s, out_path, e) ||
        match_tensors(a, s, &plan, src_of, e) || check_dropped(s, &plan, src_of, o, e))
        goto done;
    rc = write_gguf(dir, out_path, o, cfg, a, hp, s, &plan, src_of, dtypes, e);
done:
    free(dtypes);
    free(src_of);
    wk_source_close(s);
    wk_conv_plan_free(&plan);
    free(hp);
    wk_hf_config_free(cfg);
    return rc;
}
