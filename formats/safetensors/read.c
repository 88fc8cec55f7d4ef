/* safetensors files as a wk_source (huggingface/safetensors README "Format").
 *
 * Each file is mapped and validated by safetensors_header.c before anything here runs;
 * this file joins one or more validated files into a source. Tensor names must be unique
 * across all files (checked here for a list of files; an index checks it through its
 * weight_map). Tensors are listed in file order, then offset order. read is
 * thread-safe and zero-copy: a view points straight into the map -- unless the tensor's
 * bytes are not aligned to its element size there (files written without the reference's
 * alignment-first ordering), when the view is an aligned heap copy instead, so readers may
 * always cast the data to its element type. `__metadata__` of several files is merged:
 * a key keeps the value of the first file that has it. */
#include "formats/safetensors/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors/internal.h"

typedef struct st_impl {
    size_t n_maps;
    wk_map *maps;
    const uint8_t **data; /* data[i]: tensor i's first byte inside its map */
} st_impl;

static int st_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    (void)e;
    const st_impl *im = s->impl;
    v->data = im->data[i];
    v->size = s->tensors[i].n_bytes;
    v->owned = NULL;
    v->mapped = true;
    return 0;
}

static void st_close(wk_source *s)
{
    st_impl *im = s->impl;
    if (im) {
        for (size_t i = 0; i < im->n_maps; i++)
            wk_map_close(&im->maps[i]);
        free(im->maps);
        free(im->data);
        free(im);
    }
    wk_source_free_common(s);
}

static const wk_source_ops ST_OPS = {st_read, st_close};

typedef struct name_ref {
    const char *name;
    size_t file, pos; /* pos: a tie-break that keeps the sort deterministic */
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Tensor names are unique across files (within one file the header check saw to it). */
static int check_unique_names(const wk_st_file *files, size_t n, wk_err *e)
{
    if (n < 2)
        return 0;
    size_t total = 0;
    for (size_t f = 0; f < n; f++)
        total += files[f].n_tensors;
    name_ref *r = malloc((total ? total : 1) * sizeof *r);
    if (!r)
        return wk_fail(e, "%s: out of memory for %zu tensor names", files[0].map.path, total);
    size_t k = 0;
    for (size_t f = 0; f < n; f++)
        for (size_t t = 0; t < files[f].n_tensors; t++, k++)
            r[k] = (name_ref){files[f].tensors[t].name, f, k};
    qsort(r, total, sizeof *r, cmp_name_ref);
    int rc = 0;
    for (size_t i = 1; i < total && rc == 0; i++)
        if (strcmp(r[i - 1].name, r[i].name) == 0)
            rc = wk_fail(e, "tensor '%s' is in both %s and %s; names must be unique across "
                            "files", r[i].name, files[r[i - 1].file].map.path,
                         files[r[i].file].map.path);
    free(r);
    return rc;
}

/* Moves every file's metadata into s, keeping the first value of a repeated key (found by
 * sorting, so many keys stay cheap). */
static int merge_metadata(wk_source *s, wk_st_file *files, size_t n, wk_err *e)
{
    size_t total = 0;
    for (size_t f = 0; f < n; f++)
        total += files[f].n_metadata;
    if (total == 0)
        return 0;
    wk_string_pair *all = calloc(total, sizeof *all);
    name_ref *r = calloc(total, sizeof *r);
    if (!all || !r) {
        free(all);
        free(r);
        return wk_fail(e, "%s: out of memory for metadata", s->path);
    }
    size_t k = 0;
    for (size_t f = 0; f < n; f++) {
        for (size_t i = 0; i < files[f].n_metadata; i++, k++) {
            all[k] = files[f].metadata[i];
            r[k] = (name_ref){all[k].key, f, k};
        }
        free(files[f].metadata);
        files[f].metadata = NULL;
        files[f].n_metadata = 0;
    }
    qsort(r, total, sizeof *r, cmp_name_ref);
    for (size_t i = 1; i < total; i++)
        if (strcmp(r[i - 1].name, r[i].name) == 0) { /* a later copy: drop it */
            wk_string_pair *p = &all[r[i].pos];
            free(p->value);
            p->value = NULL;
        }
    free(r);
    for (size_t i = 0; i < total; i++) {
        if (all[i].value)
            all[s->n_metadata++] = all[i];
        else
            free(all[i].key);
    }
    s->metadata = all;
    return 0;
}

static void close_files(wk_st_file *files, size_t n)
{
    for (size_t f = 0; f < n; f++)
        wk_st_file_close(&files[f]);
}

int wk_st_source_build(wk_st_file *files, size_t n, const char *path, wk_source **out,
                       wk_err *e)
{
    *out = NULL;
    size_t total = 0;
    for (size_t f = 0; f < n; f++)
        total += files[f].n_tensors;
    wk_source *s = wk_source_new("safetensors", path);
    st_impl *im = calloc(1, sizeof *im);
    if (s) {
        s->ops = &ST_OPS;
        s->impl = im;
        s->tensors = calloc(total ? total : 1, sizeof *s->tensors);
        s->files = calloc(n ? n : 1, sizeof *s->files);
    }
    if (im) {
        im->maps = calloc(n ? n : 1, sizeof *im->maps);
        im->data = calloc(total ? total : 1, sizeof *im->data);
    }
    int ok = s && im && s->tensors && s->files && im->maps && im->data;
    for (size_t f = 0; ok && f < n; f++) {
        s->files[f] = strdup(files[f].map.path);
        ok = s->files[f] != NULL;
        s->n_files += ok;
    }
    if (!ok || merge_metadata(s, files, n, e) != 0) {
        if (s) {
            st_close(s);
        } else if (im) {
            free(im->maps);
            free(im->data);
            free(im);
        }
        close_files(files, n);
        return ok ? -1 : wk_fail(e, "%s: out of memory", path);
    }
    for (size_t f = 0; f < n; f++) {
        wk_st_file *fl = &files[f];
        const uint8_t *buf = fl->map.data + fl->data_start;
        for (size_t t = 0; t < fl->n_tensors; t++) {
            wk_tensor *dst = &s->tensors[s->n_tensors];
            *dst = fl->tensors[t];
            dst->file_index = (uint32_t)f;
            im->data[s->n_tensors++] = buf + fl->begin[t];
        }
        im->maps[im->n_maps++] = fl->map;
        memset(&fl->map, 0, sizeof fl->map);
        fl->n_tensors = 0; /* the names now belong to s */
        wk_st_file_close(fl);
    }
    *out = s;
    return 0;
}

int wk_st_open_file(const char *path, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_st_file f;
    if (wk_st_file_open(&f, path, e) != 0)
        return -1;
    return wk_st_source_build(&f, 1, path, out, e);
}

int wk_st_open_files(const char *const *paths, size_t n, wk_source **out, wk_err *e)
{
    *out = NULL;
    if (n == 0)
        return wk_fail(e, "no safetensors files given");
    wk_st_file *files = calloc(n, sizeof *files);
    if (!files)
        return wk_fail(e, "%s: out of memory", paths[0]);
    for (size_t i = 0; i < n; i++) {
        if (wk_st_file_open(&files[i], paths[i], e) != 0) {
            close_files(files, i);
            free(files);
            return -1;
        }
    }
    int rc = -1;
    if (check_unique_names(files, n, e) != 0)
        close_files(files, n);
    else
        rc = wk_st_source_build(files, n, paths[0], out, e);
    free(files);
    return rc;
}
