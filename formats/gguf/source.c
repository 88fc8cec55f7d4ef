/* GGUF tensor data: a parsed GGUF as a wk_source, and our checksum check.
 *
 * The source lists the tensor infos with ggml's ne[] reversed into outermost-first shapes
 * (formats/source.h) and hands out zero-copy views into the map; the reader has already
 * checked that every tensor's bytes lie inside the file. The checksum functions compare
 * weightkit.tensor_xxh64 (docs/gguf.md) with xxh64 (seed 0) of those bytes: all of them
 * (wk_gguf_verify_checksums), or one tensor's bytes that a caller already has in memory
 * (wk_gguf_check_xxh64, used by wk-inspect while it computes statistics). */
#include "formats/gguf/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static int gguf_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    (void)e;
    const wk_gguf *g = s->gguf;
    const wk_gguf_tensor_info *t = &g->tensors[i];
    v->data = g->data + g->data_offset + t->offset;
    v->size = t->n_bytes;
    v->owned = NULL;
    v->mapped = true;
    return 0;
}

static void gguf_close(wk_source *s)
{
    wk_gguf_close(s->gguf);
    wk_source_free_common(s);
}

static const wk_source_ops GGUF_OPS = {gguf_read, gguf_close};

static int fill_tensor(const wk_gguf *g, const wk_gguf_tensor_info *ti, wk_tensor *t, wk_err *e)
{
    t->name = wk_gguf_strdup(ti->name);
    if (!t->name)
        return wk_fail(e, "%s: out of memory", g->path);
    t->dtype = ti->dtype;
    t->file_index = 0;
    uint64_t shape[4];
    for (uint32_t d = 0; d < ti->n_dims; d++)
        shape[d] = ti->ne[ti->n_dims - 1 - d];
    if (wk_tensor_set_shape(t, ti->n_dims, shape, e) != 0)
        return wk_fail_prefix(e, "%s", g->path);
    return 0;
}

int wk_gguf_open_source(const char *path, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_gguf *g;
    if (wk_gguf_open(path, &g, e) != 0)
        return -1;
    wk_source *s = wk_source_new("gguf", path);
    if (!s) {
        wk_gguf_close(g);
        return wk_fail(e, "%s: out of memory", path);
    }
    s->gguf = g;
    s->ops = &GGUF_OPS;
    s->files = calloc(1, sizeof *s->files);
    s->tensors = g->n_tensors ? calloc(g->n_tensors, sizeof *s->tensors) : NULL;
    if (!s->files || !(s->files[0] = strdup(path)) || (g->n_tensors && !s->tensors)) {
        gguf_close(s);
        return wk_fail(e, "%s: out of memory", path);
    }
    s->n_files = 1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        s->n_tensors = i + 1;
        if (fill_tensor(g, &g->tensors[i], &s->tensors[i], e) != 0) {
            gguf_close(s);
            return -1;
        }
    }
    *out = s;
    return 0;
}

/* The checksum array: 0 with *out, 1 when the file has none, -1 when it is malformed. */
static int checksum_array(const wk_gguf *g, const wk_gguf_value **out, wk_err *e)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, WK_GGUF_CHECKSUM_KEY);
    if (!kv)
        return 1;
    if (kv->value.type != WK_GGUF_ARRAY || kv->value.arr.elem_type != WK_GGUF_U64 ||
        kv->value.arr.count != g->n_tensors)
        return wk_fail(e, "%s: offset %" PRIu64 ": " WK_GGUF_CHECKSUM_KEY " should be a u64 array "
                          "with one entry per tensor (%" PRIu64 ")",
                       g->path, kv->offset, g->n_tensors);
    *out = &kv->value;
    return 0;
}

/* xxh64 of tensor i's bytes against the stored value `want`. */
static int compare(const wk_gguf *g, uint64_t i, uint64_t want, const void *data,
                   uint64_t size, wk_err *e)
{
    uint64_t got = XXH64(data, size, 0);
    if (got == want)
        return 0;
    const wk_gguf_tensor_info *t = &g->tensors[i];
    char nb[96];
    return wk_fail(e, "%s: checksum mismatch in tensor '%s': the file records xxh64 %016" PRIx64
                      " but its %" PRIu64 " bytes at offset %" PRIu64 " hash to %016" PRIx64
                      "; the file is corrupted",
                   g->path, wk_gguf_str_show(t->name, nb, sizeof nb), want, t->n_bytes,
                   g->data_offset + t->offset, got);
}

int wk_gguf_stored_xxh64(const wk_gguf *g, uint64_t i, uint64_t *h, wk_err *e)
{
    const wk_gguf_value *arr;
    int rc = checksum_array(g, &arr, e);
    if (rc != 0)
        return rc;
    if (i >= g->n_tensors)
        return wk_fail(e, "%s: no tensor #%" PRIu64 " (it has %" PRIu64 ")", g->path, i,
                       g->n_tensors);
    *h = wk_gguf_arr_u64(arr, i);
    return 0;
}

int wk_gguf_check_xxh64(const wk_gguf *g, uint64_t i, const void *data, uint64_t size,
                        wk_err *e)
{
    uint64_t want = 0;
    int rc = wk_gguf_stored_xxh64(g, i, &want, e);
    return rc != 0 ? rc : compare(g, i, want, data, size, e);
}

int wk_gguf_verify_checksums(const wk_gguf *g, wk_err *e)
{
    const wk_gguf_value *arr;
    int rc = checksum_array(g, &arr, e);
    if (rc != 0)
        return rc;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const wk_gguf_tensor_info *t = &g->tensors[i];
        if (compare(g, i, wk_gguf_arr_u64(arr, i), g->data + g->data_offset + t->offset,
                    t->n_bytes, e) != 0)
            return -1;
    }
    return 0;
}
