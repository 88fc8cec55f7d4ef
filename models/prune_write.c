/* wk-prune's outputs (see prune_impl.h): a GGUF from a GGUF (the input's metadata carried
 * over, as wk-quantize does), a GGUF from a checkpoint (through wk-convert's pipeline, which
 * hands each tensor to this file), or a Hugging Face directory (model.safetensors with the
 * input's names, dtypes and layout, config.json and the tokenizer files beside it). The
 * directory is built under "<OUT>.tmp.XXXXXX" and renamed into place when complete, so a
 * failed run leaves nothing under OUT. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "formats/safetensors/safetensors.h"
#include "models/prune_impl.h"

/* ---- metadata ---- */

static void note_leftover(void *ctx, const char *path, uint64_t size)
{
    if (ctx)
        wk_warn(ctx, "left over from an interrupted run: %s (%.1f MB); remove it", path,
                (double)size / 1e6);
}

static const char *categories_text(unsigned cats, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (cats >> c & 1u)
            k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%s", k ? "," : "",
                                  wk_category_name((wk_category)c));
    return buf;
}

/* weightkit.prune.*: how the file was pruned (docs/wk-prune.md). */
static int prune_keys(void *ctx, wk_gguf_writer *w, wk_err *e)
{
    const pruner *p = ctx;
    const wk_prune_report *r = p->r;
    char nm[32], cats[128];
    snprintf(nm, sizeof nm, "%u:%u", r->nm_n, r->nm_m);
    if (wk_gguf_set_str(w, "weightkit.prune.method", wk_prune_method_name(r->method), e) ||
        wk_gguf_set_str(w, "weightkit.prune.categories",
                        categories_text(r->categories, cats, sizeof cats), e))
        return -1;
    if (r->nm_m)
        return wk_gguf_set_str(w, "weightkit.prune.nm", nm, e);
    return wk_gguf_set_f32(w, "weightkit.prune.sparsity", (float)r->sparsity, e) ||
           wk_gguf_set_str(w, "weightkit.prune.scope", wk_prune_scope_name(r->scope), e);
}

/* The input's keys, less those the writer owns and weightkit's own. */
static int gguf_keys(pruner *p, wk_gguf_writer *w, wk_err *e)
{
    const wk_gguf *g = p->src->gguf;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char *key = wk_gguf_strdup(g->kv[i].key);
        if (!key)
            return wk_fail(e, "out of memory");
        bool skip = strncmp(key, "weightkit.", 10) == 0 || strncmp(key, "split.", 6) == 0;
        int rc = skip ? 0 : wk_gguf_set_value(w, key, &g->kv[i].value, e);
        free(key);
        if (rc)
            return -1;
    }
    return wk_gguf_set_provenance(w, "wk-prune", (const char *const *)p->src->files,
                                  p->src->n_files, e) ||
           prune_keys(p, w, e);
}

/* ---- one tensor into a GGUF ---- */

static int write_item(pruner *p, wk_gguf_writer *w, pr_item *it, const wk_stream_job *job,
                      uint64_t item, wk_err *e)
{
    if (!it->prune) {
        wk_pr_count_kept(it, job->src->data, job->src_type, it->rows * it->cols);
        return wk_stream_tensor(w, job, p->o->progress, item, e);
    }
    void *data;
    uint64_t size;
    if (wk_pr_tensor(p, it, job, &data, &size, e) != 0)
        return -1;
    int rc = wk_gguf_write_tensor(w, data, size, e);
    free(data);
    if (p->o->progress)
        wk_progress_step(p->o->progress, item, it->name, size);
    return rc;
}

static uint64_t item_bytes(const pr_item *it)
{
    const wk_type_traits *t = wk_type(it->type);
    return it->rows * (it->cols / t->block_size) * t->type_size;
}

int wk_pr_write_gguf(pruner *p, const char *out, wk_err *e)
{
    wk_gguf_writer *w;
    wk_gguf_writer_opts wo = {.on_leftover = note_leftover, .leftover_ctx = p->o->warnings};
    if (wk_is_dir(out))
        return wk_fail(e, "%s: is a directory (expected the name of the GGUF file to write)",
                       out);
    if (wk_gguf_writer_open_opts(out, &wo, &w, e) != 0)
        return -1;
    int rc = gguf_keys(p, w, e);
    uint64_t total = 0;
    for (size_t k = 0; rc == 0 && k < p->n; k++) {
        rc = wk_gguf_add_tensor(w, p->it[k].name, p->it[k].type, p->it[k].n_dims,
                                p->it[k].shape, NULL, e);
        total += item_bytes(&p->it[k]);
    }
    if (p->o->progress && rc == 0)
        wk_progress_begin(p->o->progress, p->n, total);
    for (size_t k = 0; rc == 0 && k < p->n; k++) {
        pr_item *it = &p->it[k];
        wk_view v;
        if ((rc = wk_source_read(p->src, (size_t)it->src, &v, e)) != 0)
            break;
        wk_stream_job job = wk_pr_job(it, &v, it->type);
        rc = write_item(p, w, it, &job, k, e);
        wk_view_release(&v);
    }
    if (p->o->progress)
        wk_progress_end(p->o->progress);
    if (rc != 0) {
        wk_gguf_writer_abort(w);
        return -1;
    }
    if (wk_gguf_writer_finish(w, e) != 0)
        return -1;
    struct stat st;
    p->r->file_bytes = stat(out, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* ---- a checkpoint into a GGUF, through the conversion ---- */

static int converted_tensor(void *ctx, wk_gguf_writer *w, size_t k, const wk_stream_job *job,
                            uint64_t item, wk_err *e)
{
    pruner *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (p->it[i].plan == (long)k)
            return write_item(p, w, &p->it[i], job, item, e);
    return wk_fail(e, "tensor '%s' is not in wk-prune's plan", job->name);
}

int wk_pr_write_converted(pruner *p, const char *out, wk_err *e)
{
    for (size_t i = 0; i < p->n; i++) /* generated tensors (rope_freqs) are kept */
        if (p->it[i].src < 0)
            wk_pr_count_kept(&p->it[i], wk_convert_tensor(p->conv, (size_t)p->it[i].plan,
                                                          NULL)->values,
                             WK_F32, p->it[i].rows * p->it[i].cols);
    wk_convert_opts co = {.outtype = WK_OUTTYPE_AUTO, .progress = p->o->progress,
                          .state_dict_key = p->o->state_dict_key, .warnings = p->o->warnings,
                          .tool = "wk-prune", .extra_kv = prune_keys,
                          .write_tensor = converted_tensor, .ctx = p};
    wk_convert_result res;
    if (wk_convert_write(p->conv, out, &co, &res, e) != 0)
        return -1;
    p->r->file_bytes = res.bytes;
    return 0;
}

/* ---- a Hugging Face directory ---- */

/* What a Hugging Face directory holds besides the weights, copied when present. */
static const char *const SIDE_FILES[] = {
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "merges.txt", "chat_template.json", "chat_template.jinja", NULL};

static int copy_file(const char *from, const char *to, uint64_t *bytes, wk_err *e)
{
    char *data;
    size_t len;
    wk_outfile o;
    if (wk_read_small_file(from, (size_t)1 << 30, &data, &len, e) != 0)
        return -1;
    int rc = wk_out_open(&o, to, e);
    if (rc == 0 && (wk_out_write(&o, data, len, e) != 0 || wk_out_commit(&o, e) != 0)) {
        wk_out_abort(&o);
        rc = -1;
    }
    free(data);
    *bytes += len;
    return rc;
}

static int copy_side_files(const char *from_dir, const char *to_dir, uint64_t *bytes, wk_err *e)
{
    int rc = 0;
    for (size_t k = 0; rc == 0 && SIDE_FILES[k]; k++) {
        char *from = wk_path_join(from_dir, SIDE_FILES[k]);
        char *to = wk_path_join(to_dir, SIDE_FILES[k]);
        int there = from && to ? wk_optional_file(from, e) : wk_fail(e, "out of memory");
        rc = there < 0 ? -1 : there ? copy_file(from, to, bytes, e) : 0;
        free(to);
        free(from);
    }
    return rc;
}

/* A new directory, or an empty one (which rename(2) replaces). */
static int check_out_dir(const char *out, wk_err *e)
{
    struct stat st;
    if (lstat(out, &st) != 0)
        return errno == ENOENT ? 0 : wk_fail(e, "%s: %s", out, strerror(errno));
    DIR *d = S_ISDIR(st.st_mode) ? opendir(out) : NULL;
    if (!d)
        return wk_fail(e, "%s: exists and is not a directory; --format safetensors writes a "
                          "new Hugging Face directory", out);
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty ? 0 : wk_fail(e, "%s: exists and is not empty; choose a new directory name",
                               out);
}

/* Removes the temporary directory and what this run put in it. */
static void remove_tmp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
}

static int write_st_item(pruner *p, wk_st_writer *w, pr_item *it, uint64_t item, wk_err *e)
{
    wk_view v;
    if (wk_source_read(p->src, (size_t)it->src, &v, e) != 0)
        return -1;
    int rc;
    if (!it->prune) {
        wk_pr_count_kept(it, v.data, it->type, it->rows * it->cols);
        rc = wk_st_writer_write(w, v.data, v.size, e);
        if (p->o->progress)
            wk_progress_step(p->o->progress, item, it->name, v.size);
    } else {
        wk_stream_job job = wk_pr_job(it, &v, it->type);
        void *data;
        uint64_t size;
        rc = wk_pr_tensor(p, it, &job, &data, &size, e);
        if (rc == 0) {
            rc = wk_st_writer_write(w, data, size, e);
            free(data);
            if (p->o->progress)
                wk_progress_step(p->o->progress, item, it->name, size);
        }
    }
    wk_view_release(&v);
    return rc;
}

static int write_safetensors(pruner *p, const char *path, wk_err *e)
{
    wk_st_writer *w;
    if (wk_st_writer_open(path, &w, e) != 0)
        return -1;
    int rc = wk_st_writer_add_metadata(w, "format", "pt", e); /* transformers asks for it */
    uint64_t total = 0;
    for (size_t k = 0; rc == 0 && k < p->n; k++) {
        rc = wk_st_writer_add_tensor(w, p->it[k].name, p->it[k].type, p->it[k].n_dims,
                                     p->it[k].shape, e);
        total += p->src->tensors[p->it[k].src].n_bytes;
    }
    if (p->o->progress && rc == 0)
        wk_progress_begin(p->o->progress, p->n, total);
    for (size_t k = 0; rc == 0 && k < p->n; k++)
        rc = write_st_item(p, w, &p->it[k], k, e);
    if (p->o->progress)
        wk_progress_end(p->o->progress);
    if (rc != 0) {
        wk_st_writer_abort(w);
        return -1;
    }
    return wk_st_writer_finish(w, e);
}

int wk_pr_write_hf(pruner *p, const char *out, wk_err *e)
{
    if (check_out_dir(out, e) != 0)
        return -1;
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        len--;
    char *tmp = malloc(len + 16), *st = NULL;
    if (!tmp)
        return wk_fail(e, "out of memory");
    snprintf(tmp, len + 16, "%.*s.tmp.XXXXXX", (int)len, out);
    if (!mkdtemp(tmp)) {
        wk_fail(e, "%s: cannot create a directory beside it: %s", out, strerror(errno));
        free(tmp);
        return -1;
    }
    mode_t mask = umask(0); /* mkdtemp's 0700 would make the model private to its writer */
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    uint64_t bytes = 0;
    struct stat sb;
    int rc = (st = wk_path_join(tmp, "model.safetensors")) ? 0 : wk_fail(e, "out of memory");
    if (rc == 0)
        rc = write_safetensors(p, st, e);
    if (rc == 0 && stat(st, &sb) == 0)
        bytes = (uint64_t)sb.st_size;
    if (rc == 0)
        rc = copy_side_files(p->src->dir ? p->src->dir : p->src->path, tmp, &bytes, e);
    if (rc == 0 && rename(tmp, out) != 0)
        rc = wk_fail(e, "%s: cannot rename %s into place: %s", out, tmp, strerror(errno));
    if (rc != 0)
        remove_tmp_dir(tmp);
    else
        p->r->file_bytes = bytes;
    free(st);
    free(tmp);
    return rc;
}
