/* Streaming GGUF v3 writer (ggml docs/gguf.md; layout as ggml src/gguf.cpp writes it).
 *
 * Metadata values are serialized when set (a repeated key replaces its bytes in place);
 * tensor infos are collected. The first tensor write emits the header: magic, version 3,
 * counts, the kvs, our weightkit.tensor_xxh64 array (zeros for now), the tensor infos with
 * offsets equal to the running sum of alignment-padded sizes, and padding to the
 * alignment. Tensor data then goes out in declaration order, each padded, while a
 * streaming xxh64 (seed 0) hashes it; finish patches the hashes into the reserved array
 * and renames the temp file into place. Anything ggml's reader would reject (names over 63
 * bytes, more than 4 dims, rows not a multiple of the block size, duplicate names or
 * keys, alignment not a power of two) is refused up front. Little-endian host assumed. */
#include "formats/gguf/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/bytebuf.h"
#include "common/fileio.h"
#include "common/grow.h"
#include "common/version.h"

#define CHECKSUM_KEY "weightkit.tensor_xxh64"
#define ALIGNMENT_KEY "general.alignment"
#define MAX_STRING (1ull << 30)
#define MAX_ARRAY (1ull << 30)

typedef struct kv_entry {
    char *key;
    uint8_t *val; /* u32 type + encoded value */
    size_t len;
} kv_entry;

typedef struct tensor_entry {
    char *name;
    wk_dtype dtype;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t n_bytes;
    uint64_t offset;
} tensor_entry;

struct wk_gguf_writer {
    wk_outfile out;
    kv_entry *kv;
    size_t n_kv, cap_kv;
    tensor_entry *t;
    size_t n_t, cap_t;
    uint32_t alignment;
    bool started;       /* header written */
    bool failed;        /* an output error: only abort is left */
    size_t cur;         /* tensor being written */
    uint64_t cur_done;  /* its bytes written so far */
    XXH64_state_t *xx;
    uint64_t *digests;
    uint64_t sums_off;  /* file offset of the checksum array's elements */
};

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
    return w->out.final_path;
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
    else if (strcmp(key, CHECKSUM_KEY) == 0)
        wk_fail(e, "%s: key '%s' is reserved for the writer's checksums", out_path(w), key);
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
    w->kv[w->n_kv++] = (kv_entry){k, b->p, b->len};
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

int wk_gguf_writer_open(const char *path, wk_gguf_writer **out, wk_err *e)
{
    *out = NULL;
    wk_gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return wk_fail(e, "%s: out of memory", path);
    w->alignment = WK_GGUF_DEFAULT_ALIGNMENT;
    w->xx = XXH64_createState();
    if (!w->xx) {
        free(w);
        return wk_fail(e, "%s: out of memory", path);
    }
    if (wk_out_open(&w->out, path, e) != 0) {
        XXH64_freeState(w->xx);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
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
    tensor_entry t = {.dtype = type, .n_dims = n_dims ? n_dims : 1, .ne = {1, 1, 1, 1}};
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

/* ---- output ---- */

static uint64_t pad_len(uint64_t n, uint32_t a)
{
    return (a - n % a) % a;
}

static int out_u32(wk_gguf_writer *w, uint32_t v, wk_err *e)
{
    return wk_out_write(&w->out, &v, 4, e);
}

static int out_u64(wk_gguf_writer *w, uint64_t v, wk_err *e)
{
    return wk_out_write(&w->out, &v, 8, e);
}

static int out_str(wk_gguf_writer *w, const char *s, wk_err *e)
{
    size_t n = strlen(s);
    return out_u64(w, n, e) != 0 ? -1 : wk_out_write(&w->out, s, n, e);
}

static int write_header(wk_gguf_writer *w, wk_err *e)
{
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        if (wk_add_u64(off, w->t[i].n_bytes, &off) != 0 ||
            wk_add_u64(off, pad_len(w->t[i].n_bytes, w->alignment), &off) != 0)
            return wk_fail(e, "%s: tensor data offsets overflow 64 bits", out_path(w));
    }
    if (w->n_t && !(w->digests = calloc(w->n_t, sizeof *w->digests)))
        return wk_fail(e, "%s: out of memory", out_path(w));
    if (wk_out_write(&w->out, "GGUF", 4, e) != 0 || out_u32(w, 3, e) != 0 ||
        out_u64(w, w->n_t, e) != 0 || out_u64(w, w->n_kv + 1, e) != 0)
        return -1;
    for (size_t i = 0; i < w->n_kv; i++)
        if (out_str(w, w->kv[i].key, e) != 0 ||
            wk_out_write(&w->out, w->kv[i].val, w->kv[i].len, e) != 0)
            return -1;
    if (out_str(w, CHECKSUM_KEY, e) != 0 || out_u32(w, WK_GGUF_ARRAY, e) != 0 ||
        out_u32(w, WK_GGUF_U64, e) != 0 || out_u64(w, w->n_t, e) != 0)
        return -1;
    w->sums_off = w->out.pos;
    if (wk_out_zeros(&w->out, w->n_t * 8, e) != 0)
        return -1;
    for (size_t i = 0; i < w->n_t; i++) {
        const tensor_entry *t = &w->t[i];
        if (out_str(w, t->name, e) != 0 || out_u32(w, t->n_dims, e) != 0)
            return -1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (out_u64(w, t->ne[d], e) != 0)
                return -1;
        if (out_u32(w, (uint32_t)wk_type(t->dtype)->ggml_id, e) != 0 ||
            out_u64(w, t->offset, e) != 0)
            return -1;
    }
    if (wk_out_zeros(&w->out, pad_len(w->out.pos, w->alignment), e) != 0)
        return -1;
    w->started = true;
    return XXH64_reset(w->xx, 0) == XXH_OK ? 0 : wk_fail(e, "%s: xxh64 reset failed", out_path(w));
}

static int start(wk_gguf_writer *w, wk_err *e)
{
    if (w->failed)
        return wk_fail(e, "%s: an earlier write failed", out_path(w));
    if (!w->started && write_header(w, e) != 0) {
        w->failed = true;
        return -1;
    }
    return 0;
}

int wk_gguf_write_tensor_part(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e)
{
    if (start(w, e) != 0)
        return -1;
    if (w->cur >= w->n_t)
        return wk_fail(e, "%s: all %zu declared tensors were already written", out_path(w),
                       w->n_t);
    tensor_entry *t = &w->t[w->cur];
    if (size > t->n_bytes - w->cur_done)
        return wk_fail(e, "%s: tensor '%s': %" PRIu64 " more bytes would exceed its %" PRIu64
                          " bytes (%" PRIu64 " written)", out_path(w), t->name, size, t->n_bytes,
                       w->cur_done);
    if (size && (wk_out_write(&w->out, data, (size_t)size, e) != 0 ||
                 XXH64_update(w->xx, data, (size_t)size) != XXH_OK)) {
        w->failed = true;
        return -1;
    }
    w->cur_done += size;
    if (w->cur_done < t->n_bytes)
        return 0;
    w->digests[w->cur] = XXH64_digest(w->xx);
    if (wk_out_zeros(&w->out, pad_len(t->n_bytes, w->alignment), e) != 0) {
        w->failed = true;
        return -1;
    }
    w->cur++;
    w->cur_done = 0;
    XXH64_reset(w->xx, 0);
    return 0;
}

int wk_gguf_write_tensor(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e)
{
    if (w->cur >= w->n_t)
        return wk_fail(e, "%s: all %zu declared tensors were already written", out_path(w),
                       w->n_t);
    const tensor_entry *t = &w->t[w->cur];
    if (w->cur_done != 0)
        return wk_fail(e, "%s: tensor '%s' is partly written (%" PRIu64 " of %" PRIu64 " bytes)",
                       out_path(w), t->name, w->cur_done, t->n_bytes);
    if (size != t->n_bytes)
        return wk_fail(e, "%s: tensor '%s' is %" PRIu64 " bytes (%s) but %" PRIu64
                          " bytes were given", out_path(w), t->name, t->n_bytes,
                       wk_type(t->dtype)->name, size);
    return wk_gguf_write_tensor_part(w, data, size, e);
}

static void writer_free(wk_gguf_writer *w)
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
    XXH64_freeState(w->xx);
    free(w);
}

void wk_gguf_writer_abort(wk_gguf_writer *w)
{
    if (!w)
        return;
    wk_out_abort(&w->out);
    writer_free(w);
}

/* The digests are host u64s: little-endian on the hosts we build for. */
static int patch_checksums(wk_gguf_writer *w, wk_err *e)
{
    if (w->n_t == 0)
        return 0;
    return wk_out_pwrite(&w->out, w->digests, w->n_t * 8, w->sums_off, e);
}

int wk_gguf_writer_finish(wk_gguf_writer *w, wk_err *e)
{
    int rc = start(w, e);
    if (rc == 0 && w->cur < w->n_t) {
        const tensor_entry *t = &w->t[w->cur];
        rc = w->cur_done ? wk_fail(e, "%s: tensor '%s' is incomplete: %" PRIu64 " of %" PRIu64
                                      " bytes written", out_path(w), t->name, w->cur_done,
                                   t->n_bytes)
                         : wk_fail(e, "%s: tensor '%s' (#%zu of %zu) was never written",
                                   out_path(w), t->name, w->cur, w->n_t);
    }
    if (rc == 0)
        rc = patch_checksums(w, e);
    if (rc == 0)
        rc = wk_out_commit(&w->out, e);
    wk_gguf_writer_abort(w);
    return rc;
}
