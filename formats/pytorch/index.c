/* PyTorch checkpoints as a wk_source (format "pytorch"): one file, or the shards named by
 * pytorch_model.bin.index.json (transformers' sharded save: {"metadata": {...},
 * "weight_map": {tensor name: shard file name}}).
 *
 * The index is read, and its rules applied, by shard_index.c, as for safetensors: shard
 * names are relative to the index's directory and cannot leave it, every tensor of
 * weight_map must be in the shard it names, every tensor of a shard must be listed, and
 * names are unique across shards. Shards are opened in sorted name order; tensors keep
 * their state-dict order within a shard. */
#include <stdlib.h>
#include <string.h>

#include "formats/pytorch/pytorch.h"
#include "formats/shard_index.h"

typedef struct pt_ref {
    uint32_t file;
    size_t tensor;
} pt_ref;

typedef struct pt_src {
    size_t n_files;
    wk_pt_file **files;
    pt_ref *refs;
} pt_src;

static int pt_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    pt_src *p = s->impl;
    return wk_pt_file_read(p->files[p->refs[i].file], p->refs[i].tensor, v, e);
}

static void pt_close(wk_source *s)
{
    pt_src *p = s->impl;
    if (p) {
        for (size_t i = 0; i < p->n_files; i++)
            wk_pt_file_close(p->files[i]);
        free(p->files);
        free(p->refs);
        free(p);
    }
    wk_source_free_common(s);
}

static const wk_source_ops pt_ops = {pt_read, pt_close};

bool wk_pt_sniff(const unsigned char *magic, size_t got)
{
    return (got >= 4 && memcmp(magic, "PK\x03\x04", 4) == 0) || wk_pt_is_legacy(magic, got);
}

/* A source over files[0..n) (taking them over), tensors in file order. */
static int make_source(const char *path, wk_pt_file **files, size_t n, wk_source **out,
                       wk_err *e)
{
    wk_source *s = wk_source_new("pytorch", path);
    pt_src *p = calloc(1, sizeof *p);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += files[i]->n_tensors;
    if (!s || !p) {
        wk_source_free_common(s);
        free(p);
        for (size_t i = 0; i < n; i++)
            wk_pt_file_close(files[i]);
        free(files);
        return wk_fail(e, "%s: out of memory", path);
    }
    p->files = files;
    p->n_files = n;
    s->impl = p;
    s->ops = &pt_ops;
    p->refs = calloc(total ? total : 1, sizeof *p->refs);
    s->tensors = calloc(total ? total : 1, sizeof *s->tensors);
    s->files = calloc(n ? n : 1, sizeof *s->files);
    if (!p->refs || !s->tensors || !s->files) {
        pt_close(s);
        return wk_fail(e, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        if (!(s->files[i] = strdup(files[i]->path))) {
            pt_close(s);
            return wk_fail(e, "%s: out of memory", path);
        }
        s->n_files = i + 1;
        size_t first = s->n_tensors; /* this file's tensor 0 */
        for (size_t j = 0; j < files[i]->n_tensors; j++) {
            const wk_pt_tensor *pt = &files[i]->tensors[j];
            wk_tensor *t = &s->tensors[s->n_tensors];
            t->name = strdup(pt->name);
            t->dtype = pt->dtype;
            t->file_index = (uint32_t)i;
            t->alias_of_plus1 = pt->alias_plus1 ? first + pt->alias_plus1 : 0;
            p->refs[s->n_tensors] = (pt_ref){(uint32_t)i, j};
            if (!t->name) {
                pt_close(s);
                return wk_fail(e, "%s: out of memory", path);
            }
            s->n_tensors++;
            if (wk_tensor_set_shape(t, pt->n_dims, pt->shape, e) != 0) {
                pt_close(s);
                return wk_fail_prefix(e, "%s", files[i]->path);
            }
        }
    }
    *out = s;
    return 0;
}

int wk_pt_open_file(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_pt_file **files = calloc(1, sizeof *files);
    if (!files)
        return wk_fail(e, "%s: out of memory", path);
    if (wk_pt_file_open(path, opts, &files[0], e) != 0) {
        free(files);
        return -1;
    }
    return make_source(path, files, 1, out, e);
}

/* Opens every shard of x into files[]: all of them, or none. */
static int open_shards(const wk_shard_index *x, const wk_open_opts *opts, wk_pt_file **files,
                       wk_err *e)
{
    for (size_t k = 0; k < x->n_shards; k++) {
        char *p;
        int rc = wk_shard_index_shard_path(x, k, &p, e);
        if (rc == 0 && (rc = wk_pt_file_open(p, opts, &files[k], e)) != 0)
            wk_fail_prefix(e, "%s: shard %s", x->path, x->shards[k]);
        free(p);
        if (rc != 0) {
            for (size_t j = 0; j < k; j++)
                wk_pt_file_close(files[j]);
            return -1;
        }
    }
    return 0;
}

int wk_pt_open_index(const char *index_path, const wk_open_opts *opts, wk_source **out,
                     wk_err *e)
{
    *out = NULL;
    wk_shard_index x;
    if (wk_shard_index_load(index_path, &x, e) != 0)
        return -1;
    wk_pt_file **files = calloc(x.n_shards, sizeof *files);
    int rc = files ? open_shards(&x, opts, files, e)
                   : wk_fail(e, "%s: out of memory", index_path);
    if (rc != 0)
        free(files);
    else if ((rc = make_source(index_path, files, x.n_shards, out, e)) == 0 &&
             (rc = wk_shard_index_check(&x, *out, e)) != 0) {
        wk_source_close(*out);
        *out = NULL;
    }
    wk_shard_index_free(&x);
    return rc;
}
