/* Streaming GGUF v3 writer, collecting half (ggml docs/gguf.md; layout as ggml src/gguf.cpp
 * writes it). Metadata values are serialized when set (a repeated key replaces its bytes
 * in place); tensor infos are collected. Anything ggml's reader would reject (names over 63
 * bytes, more than 4 dims, rows not a multiple of the block size, duplicate names or keys,
 * alignment not a power of two) is refused up front, as are the keys the writer owns: our
 * weightkit.tensor_xxh64 checksums and llama.cpp's split.* keys. write_data.c lays out
 * the files and writes them. Little-endian host assumed. */
#include "formats/gguf/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/grow.h"
#include "common/version.h"
#include "formats/gguf/writer_impl.h"

#define CHECKSUM_KEY WK_GGUF_CHECKSUM_KEY
#define ALIGNMENT_KEY WK_GGUF_ALIGNMENT_KEY
#define MAX_STRING (1ull << 30)
#define MAX_ARRAY (1ull << 30)

/* ---- value encoding ---- */

static void put_u32(wk_buf *b, uint32_t v) { wk_buf_put(b, &v, 4); }
static void put_u64(wk_buf *b, uint64_t v) { wk_buf_put(b, &v, 8); }

static void put_str(wk_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u64(b, n);
    wk_buf_put(b, s, n);
}

static const char *out_path(const wk_gguf_writer *w)
{
    return wk_gguf_writer_path(w);
}

/* Stores the encoded value b under key (takes b's memory). */
static int kv_put(wk_gguf_writer *w, const char *key, uint32_t type, wk_buf *b, wk_err *e)
{
    int rc = -1;
    if (b->oom)
        wk_fail(e, "%s: out of memory for key '%s'", out_path(w), key);
    else if (w->started)
        wk_fail(e, "%s: key '%s': metadata cannot change after tensor data was written",
                out_path(w), key);
    else if (key[0] == '\0')
        wk_fail(e, "%s: empty metadata key", out_path(w));
    else if (strcmp(key, CHECKSUM_KEY) == 0 || strcmp(key, WK_GGUF_LAYOUT_KEY) == 0)
        wk_fail(e, "%s: key '%s' is reserved for the writer's checksums", out_path(w), key);
    else if (strcmp(key, WK_GGUF_SPLIT_NO) == 0 || strcmp(key, WK_GGUF_SPLIT_COUNT) == 0 ||
             strcmp(key, WK_GGUF_SPLIT_TENSORS) == 0)
        wk_fail(e, "%s: key '%s' is set by the writer for a split set (max_shard_bytes), "
                   "not copied", out_path(w), key);
    else if (strcmp(key, ALIGNMENT_KEY) == 0 && type != WK_GGUF_U32)
        wk_fail(e, "%s: key '%s' must be a u32", out_path(w), key);
    else
        rc = 0;
    if (rc != 0) {
        free(b->p);
        return -1;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].val);
            w->kv[i].val = b->p;
            w->kv[i].len = b->len;
            return 0;
        }
    if (wk_grow((void **)&w->kv, &w->cap_kv, w->n_kv + 1, sizeof *w->kv) != 0) {
        free(b->p);
        return wk_fail(e, "%s: out of memory", out_path(w));
    }
    char *k = strdup(key);
    if (!k) {
        free(b->p);
        return wk_fail(e, "%s: out of memory", out_path(w));
    }
    w->kv[w->n_kv++] = (wk_gguf_kv_entry){k, b->p, b->len};
    return 0;
}

static int set_scalar(wk_gguf_writer *w, const char *key, uint32_t type, const void *v,
                      wk_err *e)
{
    wk_buf b = {0};
    put_u32(&b, type);
    wk_buf_put(&b, v, wk_gguf_prim_size(type));
    return kv_put(w, key, type, &b, e);
}

int wk_gguf_set_u32(wk_gguf_writer *w, const char *key, uint32_t v, wk_err *e)
{
    if (strcmp(key, ALIGNMENT_KEY) == 0) {
        if (v == 0 || (v & (v - 1)) != 0)
            return wk_fail(e, "%s: alignment %u is not a power of two", out_path(w), v);
        if (w->started)
            return wk_fail(e, "%s: alignment cannot change after tensor data was written",
                           out_path(w));
        w->alignment = v;
    }
    return set_scalar(w, key, WK_GGUF_U32, &v, e);
}

int wk_gguf_set_i32(wk_gguf_writer *w, const char *key, int32_t v, wk_err *e)
{
    return set_scalar(w, key, WK_GGUF_I32, &v, e);
}

int wk_gguf_set_u64(wk_gguf_writer *w, const char *key, uint64_t v, wk_err *e)
{
    return set_scalar(w, key, WK_GGUF_U64, &v, e);
}

int wk_gguf_set_f32(wk_gguf_writer *w, const char *key, float v, wk_err *e)
{
    return set_scalar(w, key, WK_GGUF_F32, &v, e);
}

int wk_gguf_set_bool(wk_gguf_writer *w, const char *key, bool v, wk_err *e)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, WK_GGUF_BOOL, &b, e);
}

int wk_gguf_set_str(wk_gguf_writer *w, const char *key, const char *v, wk_err *e)
{
    if (strlen(v) > MAX_STRING)
        return wk_fail(e, "%s: key '%s': string over 1 GiB", out_path(w), key);
    wk_buf b = {0};
    put_u32(&b, WK_GGUF_STRING);
    put_str(&b, v);
    return kv_put(w, key, WK_GGUF_STRING, &b, e);
}

/* An array value's header: type, element type and count (at most 2^30, as ggml reads). */
static int array_start(const wk_gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n,
                       wk_buf *b, wk_err *e)
{
    if (n > MAX_ARRAY)
        return wk_fail(e, "%s: key '%s': %" PRIu64 " elements exceed the 2^30 limit",
                       out_path(w), key, n);
    put_u32(b, WK_GGUF_ARRAY);
    put_u32(b, elem_type);
    put_u64(b, n);
    return 0;
}

int wk_gguf_set_arr_str(wk_gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                        wk_err *e)
{
    wk_buf b = {0};
    if (array_start(w, key, WK_GGUF_STRING, n, &b, e) != 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (strlen(v[i]) > MAX_STRING) {
            wk_buf_free(&b);
            return wk_fail(e, "%s: key '%s': element %" PRIu64 " is over 1 GiB", out_path(w),
                           key, i);
        }
        put_str(&b, v[i]);
    }
    return kv_put(w, key, WK_GGUF_ARRAY, &b, e);
}

int wk_gguf_set_arr(wk_gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                    uint64_t n, wk_err *e)
{
    unsigned esz = wk_gguf_prim_size(elem_type);
    if (esz == 0)
        return wk_fail(e, "%s: key '%s': %s is not a primitive element type", out_path(w), key,
                       wk_gguf_type_name(elem_type));
    wk_buf b = {0};
    if (array_start(w, key, elem_type, n, &b, e) != 0)
        return -1;
    wk_buf_put(&b, data, (size_t)(n * esz));
    return kv_put(w, key, WK_GGUF_ARRAY, &b, e);
}

/* A parsed value's encoding after its type tag (an array element has no tag of its own). */
static void put_value_body(wk_buf *b, const wk_gguf_value *v)
{
    unsigned esz = wk_gguf_prim_size(v->type);
    if (v->type == WK_GGUF_STRING) {
        put_u64(b, v->str.len);
        wk_buf_put(b, v->str.ptr, (size_t)v->str.len);
    } else if (v->type == WK_GGUF_ARRAY) {
        put_u32(b, v->arr.elem_type);
        put_u64(b, v->arr.count);
        unsigned el = wk_gguf_prim_size(v->arr.elem_type);
        if (el)
            wk_buf_put(b, v->arr.raw, (size_t)(v->arr.count * el));
        else
            for (uint64_t i = 0; i < v->arr.count; i++)
                put_value_body(b, &v->arr.items[i]);
    } else if (v->type == WK_GGUF_F32) {
        float f = (float)v->f;
        wk_buf_put(b, &f, 4);
    } else if (v->type == WK_GGUF_F64) {
        wk_buf_put(b, &v->f, 8);
    } else {
        /* integers and bool: the low esz bytes of the 64-bit value (little-endian) */
        uint64_t u = v->type == WK_GGUF_I8 || v->type == WK_GGUF_I16 ||
                             v->type == WK_GGUF_I32 || v->type == WK_GGUF_I64
                         ? (uint64_t)v->i
                         : v->u;
        wk_buf_put(b, &u, esz);
    }
}

int wk_gguf_set_value(wk_gguf_writer *w, const char *key, const wk_gguf_value *v, wk_err *e)
{
    if (v->type > WK_GGUF_F64)
        return wk_fail(e, "%s: key '%s': unknown value type %u", out_path(w), key, v->type);
    if (strcmp(key, ALIGNMENT_KEY) == 0 && v->type == WK_GGUF_U32)
        return wk_gguf_set_u32(w, key, (uint32_t)v->u, e);
    wk_buf b = {0};
    put_u32(&b, v->type);
    put_value_body(&b, v);
    return kv_put(w, key, v->type, &b, e);
}

int wk_gguf_set_alignment(wk_gguf_writer *w, uint32_t alignment, wk_err *e)
{
    return wk_gguf_set_u32(w, ALIGNMENT_KEY, alignment, e);
}

int wk_gguf_set_provenance(wk_gguf_writer *w, const char *tool, const char *const *sources,
                           size_t n_sources, wk_err *e)
{
    if (wk_gguf_set_str(w, "weightkit.version", WK_VERSION, e) != 0 ||
        wk_gguf_set_str(w, "weightkit.tool", tool, e) != 0)
        return -1;
    /* file names only: a published GGUF should not carry the converting machine's paths */
    const char **names = malloc((n_sources ? n_sources : 1) * sizeof *names);
    if (!names)
        return wk_fail(e, "out of memory");
    for (size_t i = 0; i < n_sources; i++) {
        const char *slash = strrchr(sources[i], '/');
        names[i] = slash ? slash + 1 : sources[i];
    }
    int rc = wk_gguf_set_arr_str(w, "weightkit.sources", names, n_sources, e);
    free(names);
    return rc;
}

/* ---- tensors ---- */

int wk_gguf_writer_open_opts(const char *path, const wk_gguf_writer_opts *opts,
                            wk_gguf_writer **out, wk_err *e)
{
    *out = NULL;
    wk_gguf_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path)) || !(w->xx = XXH64_createState())) {
        if (w)
            free(w->path);
        free(w);
        return wk_fail(e, "%s: out of memory", path);
    }
    w->alignment = WK_GGUF_DEFAULT_ALIGNMENT;
    if (opts)
        w->opts = *opts;
    /* one file: open it now, so an unwritable output fails before any work; a split set's
     * names wait for the plan (write_data.c) */
    if (!w->opts.max_shard_bytes) {
        if (!(w->shards = calloc(1, sizeof *w->shards))) {
            wk_gguf_writer_free(w);
            return wk_fail(e, "%s: out of memory", path);
        }
        w->n_shards = 1;
        if (wk_gguf_shard_open(w, 0, e) != 0) {
            wk_gguf_writer_free(w);
            return -1;
        }
    }
    *out = w;
    return 0;
}

int wk_gguf_writer_open(const char *path, wk_gguf_writer **out, wk_err *e)
{
    return wk_gguf_writer_open_opts(path, NULL, out, e);
}

void wk_gguf_writer_free(wk_gguf_writer *w)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w->digests);
    free(w->shards);
    free(w->path);
    XXH64_freeState(w->xx);
    free(w);
}

static int check_tensor(wk_gguf_writer *w, const char *name, wk_dtype type, uint32_t n_dims,
                        wk_err *e)
{
    size_t len = strlen(name);
    if (w->started)
        return wk_fail(e, "%s: tensor '%s': tensors cannot be added after data was written",
                       out_path(w), name);
    if (len == 0 || len >= WK_GGUF_MAX_NAME)
        return wk_fail(e, "%s: tensor name '%s' is %zu bytes; expected 1 to %d", out_path(w),
                       name, len, WK_GGUF_MAX_NAME - 1);
    if (n_dims > 4)
        return wk_fail(e, "%s: tensor '%s' has %u dimensions; GGUF allows at most 4",
                       out_path(w), name, n_dims);
    const wk_type_traits *tt = wk_type(type);
    if (!tt || tt->ggml_id < 0)
        return wk_fail(e, "%s: tensor '%s': type %s has no ggml equivalent", out_path(w), name,
                       tt ? tt->name : "?");
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return wk_fail(e, "%s: duplicate tensor name '%s'", out_path(w), name);
    return 0;
}

int wk_gguf_add_tensor(wk_gguf_writer *w, const char *name, wk_dtype type, uint32_t n_dims,
                       const uint64_t *shape, size_t *index, wk_err *e)
{
    if (check_tensor(w, name, type, n_dims, e) != 0)
        return -1;
    wk_gguf_tensor_entry t = {.dtype = type, .n_dims = n_dims ? n_dims : 1, .ne = {1, 1, 1, 1}};
    uint64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        t.ne[d] = shape[n_dims - 1 - d];
        if (t.ne[d] > INT64_MAX || wk_mul_u64(nel, t.ne[d], &nel) != 0 || nel > INT64_MAX)
            return wk_fail(e, "%s: tensor '%s': element count overflows int64", out_path(w),
                           name);
    }
    const wk_type_traits *tt = wk_type(type);
    if (t.ne[0] % tt->block_size != 0)
        return wk_fail(e, "%s: tensor '%s': row length %" PRIu64 " is not a multiple of the %s "
                          "block size %u", out_path(w), name, t.ne[0], tt->name, tt->block_size);
    if (wk_type_nbytes(type, nel, &t.n_bytes, e) != 0)
        return wk_fail_prefix(e, "%s: tensor '%s'", out_path(w), name);
    if (wk_grow((void **)&w->t, &w->cap_t, w->n_t + 1, sizeof *w->t) != 0)
        return wk_fail(e, "%s: out of memory", out_path(w));
    if (!(t.name = strdup(name)))
        return wk_fail(e, "%s: out of memory", out_path(w));
    if (index)
        *index = w->n_t;
    w->t[w->n_t++] = t;
    return 0;
}
