/* GGUF v2/v3 reader (ggml docs/gguf.md; the checks follow ggml src/gguf.cpp).
 *
 * The file is mapped and parsed front to back with a bounds-checked cursor: header
 * (magic, version 2 or 3, tensor and kv counts), every metadata value (arrays nest at
 * most WK_GGUF_MAX_DEPTH deep; strings at most 1 GiB, arrays at most 2^30 elements, and
 * every count must fit in the bytes left before anything is allocated), then the tensor
 * infos (name 1..63 bytes and unique, at most 4 dims, overflow-checked element count,
 * known ggml type, rows a multiple of the block size). Keys are non-empty and unique;
 * general.alignment is a u32 power of two (default 32); each tensor offset equals the
 * running sum of alignment-padded sizes and its data lies inside the file. Every error
 * names the file, the byte offset and what was expected. */
#include "formats/gguf/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/le.h"

#define WK_GGUF_MAX_DEPTH 8
#define WK_GGUF_MAX_STRING (1ull << 30)
#define WK_GGUF_MAX_ARRAY (1ull << 30)
/* Smallest encodings, used to bound counts by the bytes left in the file. */
#define MIN_KV_BYTES 13     /* key length 8 + 1 key byte + type 4 + 1 value byte */
#define MIN_TENSOR_BYTES 25 /* name length 8 + 1 name byte + n_dims 4 + type 4 + offset 8 */
#define MIN_STRING_BYTES 8
#define MIN_ARRAY_BYTES 12

/* ---- bounded reads ---- */

typedef struct rd {
    const uint8_t *p;
    uint64_t size;
    uint64_t off;
    const char *path;
    wk_err *e;
} rd;

static int need(rd *r, uint64_t n, const char *what)
{
    if (n > r->size - r->off)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": %s needs %" PRIu64
                             " bytes but the file ends at %" PRIu64,
                       r->path, r->off, what, n, r->size);
    return 0;
}

static int rd_uint(rd *r, unsigned n, const char *what, uint64_t *out)
{
    if (need(r, n, what) != 0)
        return -1;
    *out = wk_ld_le(r->p + r->off, n);
    r->off += n;
    return 0;
}

static int rd_u32(rd *r, const char *what, uint32_t *out)
{
    uint64_t v;
    if (rd_uint(r, 4, what, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int rd_str(rd *r, const char *what, wk_gguf_str *s)
{
    uint64_t at = r->off, len;
    if (rd_uint(r, 8, what, &len) != 0)
        return -1;
    if (len > WK_GGUF_MAX_STRING)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": %s length %" PRIu64
                             " exceeds the 1 GiB limit", r->path, at, what, len);
    if (len > r->size - r->off)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": %s length %" PRIu64
                             " runs past the end of the file (size %" PRIu64 ")",
                       r->path, at, what, len, r->size);
    s->ptr = (const char *)r->p + r->off;
    s->len = len;
    r->off += len;
    return 0;
}

/* ---- metadata values ---- */

static void free_value(wk_gguf_value *v)
{
    if (v->type != WK_GGUF_ARRAY || !v->arr.items)
        return;
    for (uint64_t i = 0; i < v->arr.count; i++)
        free_value(&v->arr.items[i]);
    free(v->arr.items);
    v->arr.items = NULL;
}

static int parse_value(rd *r, uint32_t type, unsigned depth, wk_gguf_value *v);

static int parse_array(rd *r, unsigned depth, wk_gguf_value *v)
{
    uint64_t at = r->off;
    if (depth >= WK_GGUF_MAX_DEPTH)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": arrays nested more than %d deep",
                       r->path, at, WK_GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t count;
    if (rd_u32(r, "array element type", &et) != 0 || rd_uint(r, 8, "array count", &count) != 0)
        return -1;
    if (et > WK_GGUF_F64)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": array of unknown value type %u "
                             "(expected 0..12)", r->path, at, et);
    if (count > WK_GGUF_MAX_ARRAY)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": array of %" PRIu64
                             " elements exceeds the 2^30 limit", r->path, at + 4, count);
    unsigned esz = wk_gguf_prim_size(et);
    uint64_t min = esz ? esz : et == WK_GGUF_STRING ? MIN_STRING_BYTES : MIN_ARRAY_BYTES;
    if (count * min > r->size - r->off)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": array of %" PRIu64 " %s elements "
                             "runs past the end of the file (size %" PRIu64 ")",
                       r->path, at + 4, count, wk_gguf_type_name(et), r->size);
    v->arr.elem_type = et;
    v->arr.count = count;
    v->arr.raw = r->p + r->off;
    if (esz) {
        r->off += count * esz;
        return 0;
    }
    if (count == 0)
        return 0;
    v->arr.items = calloc(count, sizeof *v->arr.items);
    if (!v->arr.items)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": out of memory for %" PRIu64
                             " array elements", r->path, at, count);
    for (uint64_t i = 0; i < count; i++)
        if (parse_value(r, et, depth + 1, &v->arr.items[i]) != 0)
            return -1;
    return 0;
}

static int parse_value(rd *r, uint32_t type, unsigned depth, wk_gguf_value *v)
{
    uint64_t raw;
    v->type = type;
    switch (type) {
    case WK_GGUF_U8: case WK_GGUF_U16: case WK_GGUF_U32: case WK_GGUF_U64:
        return rd_uint(r, wk_gguf_prim_size(type), "value", &v->u);
    case WK_GGUF_BOOL:
        if (rd_uint(r, 1, "bool value", &raw) != 0)
            return -1;
        v->u = raw != 0;
        return 0;
    case WK_GGUF_I8: case WK_GGUF_I16: case WK_GGUF_I32: case WK_GGUF_I64: {
        unsigned n = wk_gguf_prim_size(type);
        if (rd_uint(r, n, "value", &raw) != 0)
            return -1;
        v->i = wk_sign_extend(raw, n);
        return 0;
    }
    case WK_GGUF_F32: {
        if (rd_uint(r, 4, "f32 value", &raw) != 0)
            return -1;
        uint32_t b = (uint32_t)raw;
        float f;
        memcpy(&f, &b, 4);
        v->f = f;
        return 0;
    }
    case WK_GGUF_F64:
        if (rd_uint(r, 8, "f64 value", &raw) != 0)
            return -1;
        memcpy(&v->f, &raw, 8);
        return 0;
    case WK_GGUF_STRING:
        return rd_str(r, "string value", &v->str);
    case WK_GGUF_ARRAY:
        return parse_array(r, depth, v);
    default:
        return wk_fail(r->e, "%s: offset %" PRIu64 ": unknown value type %u (expected 0..12)",
                       r->path, r->off - 4, type);
    }
}

/* ---- uniqueness of keys and tensor names ---- */

static int cmp_str(const wk_gguf_str *a, const wk_gguf_str *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->ptr, b->ptr, a->len);
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    const wk_gguf_kv *x = *(const wk_gguf_kv *const *)a, *y = *(const wk_gguf_kv *const *)b;
    int c = cmp_str(&x->key, &y->key);
    return c ? c : (x->offset < y->offset ? -1 : 1);
}

static int cmp_ti_ptr(const void *a, const void *b)
{
    const wk_gguf_tensor_info *x = *(const wk_gguf_tensor_info *const *)a;
    const wk_gguf_tensor_info *y = *(const wk_gguf_tensor_info *const *)b;
    int c = cmp_str(&x->name, &y->name);
    return c ? c : (x < y ? -1 : 1);
}

/* Sorted views to find duplicates in O(n log n). */
static int check_unique_keys(const wk_gguf *g, wk_err *e)
{
    if (g->n_kv < 2)
        return 0;
    const wk_gguf_kv **v = malloc(g->n_kv * sizeof *v);
    if (!v)
        return wk_fail(e, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++)
        v[i] = &g->kv[i];
    qsort(v, g->n_kv, sizeof *v, cmp_kv_ptr);
    char nb[96];
    int rc = 0;
    for (uint64_t i = 1; i < g->n_kv && rc == 0; i++)
        if (cmp_str(&v[i]->key, &v[i - 1]->key) == 0)
            rc = wk_fail(e, "%s: offset %" PRIu64 ": duplicate key '%s' (first at offset %"
                            PRIu64 ")", g->path, v[i]->offset,
                         wk_gguf_str_show(v[i]->key, nb, sizeof nb), v[i - 1]->offset);
    free(v);
    return rc;
}

static int check_unique_names(const wk_gguf *g, wk_err *e)
{
    if (g->n_tensors < 2)
        return 0;
    const wk_gguf_tensor_info **v = malloc(g->n_tensors * sizeof *v);
    if (!v)
        return wk_fail(e, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        v[i] = &g->tensors[i];
    qsort(v, g->n_tensors, sizeof *v, cmp_ti_ptr);
    char nb[96];
    int rc = 0;
    for (uint64_t i = 1; i < g->n_tensors && rc == 0; i++)
        if (cmp_str(&v[i]->name, &v[i - 1]->name) == 0)
            rc = wk_fail(e, "%s: tensor #%" PRIu64 ": duplicate tensor name '%s'", g->path,
                         (uint64_t)(v[i] - g->tensors), wk_gguf_str_show(v[i]->name, nb, sizeof nb));
    free(v);
    return rc;
}

/* ---- the header: key/values, tensor infos, layout ---- */

static int parse_kvs(rd *r, wk_gguf *g)
{
    uint64_t n = g->n_kv;
    g->n_kv = 0; /* counts only what is allocated, for wk_gguf_close */
    if (n > (r->size - r->off) / MIN_KV_BYTES)
        return wk_fail(r->e, "%s: offset 16: kv_count %" PRIu64 " cannot fit in the %" PRIu64
                             " bytes left in the file", r->path, n, r->size - r->off);
    if (n == 0)
        return 0;
    g->kv = calloc(n, sizeof *g->kv);
    if (!g->kv)
        return wk_fail(r->e, "%s: out of memory for %" PRIu64 " keys", r->path, n);
    g->n_kv = n;
    for (uint64_t i = 0; i < n; i++) {
        wk_gguf_kv *kv = &g->kv[i];
        kv->offset = r->off;
        uint32_t type;
        if (rd_str(r, "key", &kv->key) != 0)
            return -1;
        if (kv->key.len == 0)
            return wk_fail(r->e, "%s: offset %" PRIu64 ": empty key (keys must be non-empty)",
                           r->path, kv->offset);
        if (rd_u32(r, "value type", &type) != 0 || parse_value(r, type, 0, &kv->value) != 0)
            return -1;
    }
    return check_unique_keys(g, r->e);
}

static int read_alignment(wk_gguf *g, wk_err *e)
{
    g->alignment = WK_GGUF_DEFAULT_ALIGNMENT;
    const wk_gguf_kv *kv = wk_gguf_find(g, "general.alignment");
    if (!kv)
        return 0;
    if (kv->value.type != WK_GGUF_U32)
        return wk_fail(e, "%s: offset %" PRIu64 ": general.alignment is of type %s; expected u32",
                       g->path, kv->offset, wk_gguf_type_name(kv->value.type));
    uint64_t a = kv->value.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return wk_fail(e, "%s: offset %" PRIu64 ": general.alignment %" PRIu64
                          " is not a power of two", g->path, kv->offset, a);
    g->alignment = (uint32_t)a;
    return 0;
}

static int parse_tensor_info(rd *r, uint64_t idx, wk_gguf_tensor_info *t)
{
    uint64_t at = r->off;
    if (rd_str(r, "tensor name", &t->name) != 0)
        return -1;
    if (t->name.len == 0 || t->name.len >= WK_GGUF_MAX_NAME)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor #%" PRIu64 " name is %" PRIu64
                             " bytes; expected 1 to %d", r->path, at, idx, t->name.len,
                       WK_GGUF_MAX_NAME - 1);
    char nb[96];
    const char *nm = wk_gguf_str_show(t->name, nb, sizeof nb);
    if (memchr(t->name.ptr, 0, t->name.len))
        return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor #%" PRIu64 " name contains a NUL "
                             "byte", r->path, at, idx);
    at = r->off;
    if (rd_u32(r, "n_dims", &t->n_dims) != 0)
        return -1;
    if (t->n_dims > 4)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor '%s' has %u dimensions; at most 4",
                       r->path, at, nm, t->n_dims);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < 4; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        at = r->off;
        if (rd_uint(r, 8, "ne", &t->ne[d]) != 0)
            return -1;
        if (t->ne[d] > INT64_MAX || wk_mul_u64(nel, t->ne[d], &nel) != 0 || nel > INT64_MAX)
            return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor '%s': ne[%u] = %" PRIu64
                                 " makes the element count overflow int64",
                           r->path, at, nm, d, t->ne[d]);
    }
    at = r->off;
    if (rd_u32(r, "ggml type", &t->ggml_type) != 0)
        return -1;
    if (wk_type_from_ggml(t->ggml_type, &t->dtype) != 0)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor '%s': unknown ggml type %u",
                       r->path, at, nm, t->ggml_type);
    const wk_type_traits *tt = wk_type(t->dtype);
    if (t->ne[0] % tt->block_size != 0)
        return wk_fail(r->e, "%s: offset %" PRIu64 ": tensor '%s': row length %" PRIu64
                             " is not a multiple of the %s block size %u",
                       r->path, at, nm, t->ne[0], tt->name, tt->block_size);
    if (wk_type_nbytes(t->dtype, nel, &t->n_bytes, r->e) != 0)
        return wk_fail_prefix(r->e, "%s: tensor '%s'", r->path, nm);
    return rd_uint(r, 8, "tensor offset", &t->offset);
}

/* Offsets must equal the running sum of padded sizes; data must lie inside the file. */
static int check_layout(const wk_gguf *g, const uint64_t *info_off, wk_err *e)
{
    uint64_t expect = 0, a = g->alignment;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const wk_gguf_tensor_info *t = &g->tensors[i];
        char nb[96];
        const char *nm = wk_gguf_str_show(t->name, nb, sizeof nb);
        if (t->offset % a != 0)
            return wk_fail(e, "%s: offset %" PRIu64 ": tensor '%s': data offset %" PRIu64
                              " is not a multiple of the alignment %" PRIu64,
                           g->path, info_off[i], nm, t->offset, a);
        if (t->offset != expect)
            return wk_fail(e, "%s: offset %" PRIu64 ": tensor '%s': data offset %" PRIu64
                              "; expected %" PRIu64 " (the running sum of padded sizes)",
                           g->path, info_off[i], nm, t->offset, expect);
        uint64_t start, end, padded;
        if (wk_add_u64(g->data_offset, t->offset, &start) != 0 ||
            wk_add_u64(start, t->n_bytes, &end) != 0 || end > g->size)
            return wk_fail(e, "%s: tensor '%s': data of %" PRIu64 " bytes at offset %" PRIu64
                              " of the data section (file offset %" PRIu64 ") runs past the "
                              "end of the file (size %" PRIu64 ")",
                           g->path, nm, t->n_bytes, t->offset, g->data_offset, g->size);
        if (wk_add_u64(t->n_bytes, (a - t->n_bytes % a) % a, &padded) != 0 ||
            wk_add_u64(expect, padded, &expect) != 0)
            return wk_fail(e, "%s: tensor '%s': data offsets overflow", g->path, nm);
    }
    return 0;
}

static int parse_tensors(rd *r, wk_gguf *g)
{
    uint64_t n = g->n_tensors;
    g->n_tensors = 0;
    if (n > (r->size - r->off) / MIN_TENSOR_BYTES)
        return wk_fail(r->e, "%s: offset 8: tensor_count %" PRIu64 " cannot fit in the %" PRIu64
                             " bytes left in the file", r->path, n, r->size - r->off);
    if (n == 0) {
        g->data_offset = r->off + (g->alignment - r->off % g->alignment) % g->alignment;
        return 0;
    }
    uint64_t *info_off = malloc(n * sizeof *info_off);
    g->tensors = calloc(n, sizeof *g->tensors);
    if (!info_off || !g->tensors) {
        free(info_off);
        return wk_fail(r->e, "%s: out of memory for %" PRIu64 " tensors", r->path, n);
    }
    g->n_tensors = n;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        info_off[i] = r->off;
        rc = parse_tensor_info(r, i, &g->tensors[i]);
    }
    if (rc == 0)
        rc = check_unique_names(g, r->e);
    if (rc == 0) {
        g->data_offset = r->off + (g->alignment - r->off % g->alignment) % g->alignment;
        rc = check_layout(g, info_off, r->e);
    }
    free(info_off);
    return rc;
}

static int parse_header(rd *r, wk_gguf *g)
{
    if (need(r, 4, "magic") != 0)
        return -1;
    if (memcmp(r->p, "GGUF", 4) != 0)
        return wk_fail(r->e, "%s: offset 0: bad magic %02x %02x %02x %02x; expected \"GGUF\"",
                       r->path, r->p[0], r->p[1], r->p[2], r->p[3]);
    r->off = 4;
    if (rd_u32(r, "version", &g->version) != 0)
        return -1;
    if (g->version == 1)
        return wk_fail(r->e, "%s: offset 4: GGUF version 1 is no longer supported "
                             "(expected 2 or 3)", r->path);
    if (g->version != 2 && g->version != 3)
        return wk_fail(r->e, "%s: offset 4: unsupported GGUF version %u (expected 2 or 3%s)",
                       r->path, g->version,
                       (g->version & 0xffff) == 0 ? "; this looks like a big-endian file" : "");
    return rd_uint(r, 8, "tensor_count", &g->n_tensors) != 0 ||
                   rd_uint(r, 8, "kv_count", &g->n_kv) != 0
               ? -1
               : 0;
}

/* ---- opening a file ---- */

int wk_gguf_open(const char *path, wk_gguf **out, wk_err *e)
{
    *out = NULL;
    wk_gguf *g = calloc(1, sizeof *g);
    wk_map *m = calloc(1, sizeof *m);
    if (!g || !m || !(g->path = strdup(path))) {
        free(g);
        free(m);
        return wk_fail(e, "%s: out of memory", path);
    }
    g->impl = m;
    if (wk_map_open(m, path, e) != 0) {
        wk_gguf_close(g);
        return -1;
    }
    g->data = m->data;
    g->size = m->size;
    rd r = {.p = m->data, .size = m->size, .off = 0, .path = path, .e = e};
    if (parse_header(&r, g) != 0 || parse_kvs(&r, g) != 0 || read_alignment(g, e) != 0 ||
        parse_tensors(&r, g) != 0) {
        wk_gguf_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

void wk_gguf_close(wk_gguf *g)
{
    if (!g)
        return;
    for (uint64_t i = 0; i < g->n_kv; i++)
        free_value(&g->kv[i].value);
    free(g->kv);
    free(g->tensors);
    if (g->impl)
        wk_map_close(g->impl);
    free(g->impl);
    free(g->path);
    free(g);
}
