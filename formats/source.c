/* Tensor sources: the parts every reader shares (formats/open.c chooses the reader). */
#include "formats/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

wk_source *wk_source_new(const char *format, const char *path)
{
    wk_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->format = format;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return NULL;
    }
    return s;
}

void wk_source_free_common(wk_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tensors; i++)
        free(s->tensors[i].name);
    free(s->tensors);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    for (size_t i = 0; i < s->n_metadata; i++) {
        free(s->metadata[i].key);
        free(s->metadata[i].value);
    }
    free(s->metadata);
    free(s->path);
    free(s->dir);
    free(s);
}

int wk_tensor_set_shape(wk_tensor *t, uint32_t n_dims, const uint64_t *shape, wk_err *e)
{
    if (n_dims > WK_MAX_DIMS)
        return wk_fail(e, "tensor '%s' has %u dimensions; at most %d are supported", t->name,
                       n_dims, WK_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (wk_mul_u64(n, shape[d], &n) != 0)
            return wk_fail(e, "tensor '%s': element count overflows 64 bits", t->name);
        t->shape[d] = shape[d];
    }
    t->n_dims = n_dims;
    t->n_elements = n;
    if (wk_type_nbytes(t->dtype, n, &t->n_bytes, e) != 0)
        return wk_fail_prefix(e, "tensor '%s'", t->name);
    return 0;
}

void wk_shape_format(const wk_tensor *t, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "[");
    for (uint32_t d = 0; d < t->n_dims; d++)
        k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%llu", d ? ", " : "",
                              (unsigned long long)t->shape[d]);
    snprintf(buf + k, k < len ? len - k : 0, "]");
}

long wk_source_find(const wk_source *s, const char *name)
{
    for (size_t i = 0; i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The alignment a type's decoders need: the largest power of two dividing its block size
 * in bytes, at most 8 (F32 4, F16 2, Q4_0's 18-byte blocks 2). */
static uintptr_t type_alignment(wk_dtype t)
{
    uintptr_t ts = wk_type(t)->type_size, a = ts & (~ts + 1);
    return a > 8 ? 8 : a;
}

int wk_source_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    memset(v, 0, sizeof *v);
    if (i >= s->n_tensors)
        return wk_fail(e, "%s: no tensor #%zu (it has %zu)", s->path, i, s->n_tensors);
    if (s->ops->read(s, i, v, e) != 0)
        return -1;
    /* Containers need not align tensor data (legacy torch.save streams, safetensors, a GGUF
     * with a small general.alignment): hand out an aligned copy, since every consumer reads
     * whole elements. */
    const wk_tensor *t = &s->tensors[i];
    if (v->size == 0 || (uintptr_t)v->data % type_alignment(t->dtype) == 0)
        return 0;
    uint64_t size = v->size;
    void *copy = malloc(size);
    if (!copy) {
        wk_view_release(v);
        return wk_fail(e, "%s: tensor '%s': out of memory for an aligned copy of %llu bytes",
                       s->files[t->file_index], t->name, (unsigned long long)size);
    }
    memcpy(copy, v->data, size);
    wk_view_release(v);
    v->data = copy;
    v->owned = copy;
    v->size = size;
    return 0;
}

void wk_view_drop_range(const wk_view *v, uint64_t off, uint64_t len)
{
    if (!v->mapped || off >= v->size)
        return;
    if (len > v->size - off)
        len = v->size - off;
    wk_map_drop((const uint8_t *)v->data + off, len);
}

void wk_view_release(wk_view *v)
{
    wk_view_drop_range(v, 0, v->size);
    free(v->owned);
    memset(v, 0, sizeof *v);
}

void wk_source_close(wk_source *s)
{
    if (s)
        s->ops->close(s);
}

/* ---- opening: a model directory, or one file by its magic ---- */
