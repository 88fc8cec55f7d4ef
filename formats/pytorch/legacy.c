/* The two pre-zip containers of torch.save (torch/serialization.py _legacy_save and
 * _legacy_load).
 *
 * Legacy stream (_use_new_zipfile_serialization=False, and torch 0.4 to 1.5): five pickles
 * back to back -- the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001,
 * sys_info (little_endian must be true), the object, the list of storage keys -- then, for
 * each key in that order, a u64 element count and the storage's raw bytes. Storage dtypes
 * and sizes come from the persistent ids of every pickle (state dict or not), so storages
 * outside the state dict are skipped correctly; data is used in place from the map.
 *
 * Tar (torch < 0.4), read with libarchive: member "storages" (a pickle of the count, then
 * per storage a pickle (key, location, StorageType) and u64 count + bytes, then a pickle of
 * the storage views, which must be empty), member "tensors" (a pickle of the count, then
 * per tensor a pickle (key, storage key, TensorType) and i32 ndim, 4 pad bytes, ndim i64
 * sizes, ndim i64 strides, i64 storage offset), member "pickle" (the object, whose tensors
 * are persistent ids naming tensor keys). The storages member is kept whole in memory. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "formats/pytorch/pytorch.h"

static const uint8_t torch_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

/* ---- recognising the formats ---- */

bool wk_pt_is_legacy(const uint8_t *p, uint64_t n)
{
    return n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5;
}

bool wk_pt_is_tar(const uint8_t *p, uint64_t n)
{
    return n >= 512 && memcmp(p + 257, "ustar", 5) == 0;
}

/* ---- the legacy stream: five pickles, then the storages ---- */

/* A cursor over a byte range for the pickles and raw records in it. Messages locate a
 * problem by the kind of offset (a file offset, or an offset inside a tar member) and, in
 * a pickle, by which pickle of the range it is: "x.bin: pickle 1 of the legacy torch.save
 * stream (the magic number), file offset 2: ...". */
typedef struct cursor {
    const wk_pt_file *f;
    const uint8_t *base;
    uint64_t len, pos;
    const char *what; /* "file" for the stream itself, or "tar member 'storages'" ... */
    const char *range; /* "the legacy torch.save stream" or "tar member 'storages'" ... */
    const char *unit;  /* "file" or "member": what offsets count from */
    wk_parena *a;
    unsigned n_pickles;
} cursor;

static int next_pickle(cursor *c, const char *name, wk_pval **out, wk_err *e)
{
    char where[4400];
    snprintf(where, sizeof where, "%s: pickle %u of %s (%s), %s", c->f->path, ++c->n_pickles,
             c->range, name, c->unit);
    uint64_t used;
    if (wk_pickle_load(c->base + c->pos, c->len - c->pos, where, c->pos, c->a, out, &used, e) != 0)
        return -1;
    c->pos += used;
    return 0;
}

static int next_u64(cursor *c, uint64_t *v, wk_err *e)
{
    if (c->len - c->pos < 8)
        return wk_fail(e, "%s: %s offset %llu: truncated: expected an 8-byte count", c->f->path,
                       c->what, (unsigned long long)c->pos);
    *v = wk_ld_le(c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* After the u64 element count of storage s: its bytes lie at the cursor. */
static int storage_record(cursor *c, wk_pt_storage *s, wk_pt_where where, wk_err *e)
{
    uint64_t count = 0, start;
    if (next_u64(c, &count, e) != 0)
        return -1;
    start = c->pos;
    if (count != s->numel)
        return wk_fail(e, "%s: %s offset %llu: storage '%s' holds %llu elements, its persistent "
                          "id says %llu", c->f->path, c->what, (unsigned long long)(start - 8),
                       s->key, (unsigned long long)count, (unsigned long long)s->numel);
    if (s->nbytes > c->len - start)
        return wk_fail(e, "%s: %s offset %llu: storage '%s' needs %llu bytes, %llu left",
                       c->f->path, c->what, (unsigned long long)start, s->key,
                       (unsigned long long)s->nbytes, (unsigned long long)(c->len - start));
    if (s->located)
        return wk_fail(e, "%s: storage '%s' is stored twice", c->f->path, s->key);
    s->where = where;
    s->offset = start;
    s->located = true;
    c->pos = start + s->nbytes;
    return 0;
}

int wk_pt_legacy_load(wk_pt_file *f, const wk_open_opts *opts, wk_parena *a, wk_err *e)
{
    cursor c = {f, f->map.data, f->map.size, 0, "file", "the legacy torch.save stream", "file",
                a, 0};
    wk_pval *magic = NULL, *proto = NULL, *info = NULL, *root = NULL, *keys = NULL;
    if (next_pickle(&c, "the magic number", &magic, e) != 0)
        return -1; /* the pickle reader named the file, the offset and the problem */
    if (magic->type != WK_PV_BIGINT || magic->s.len != 10 ||
        memcmp(magic->s.ptr, torch_magic, 10) != 0)
        return wk_fail(e, "%s: bad magic number: not a legacy torch.save stream", f->path);
    if (next_pickle(&c, "the protocol version", &proto, e) != 0)
        return -1;
    if (proto->type != WK_PV_INT || proto->i != 1001)
        return wk_fail(e, "%s: legacy protocol version is not 1001", f->path);
    if (next_pickle(&c, "sys_info", &info, e) != 0)
        return -1;
    const wk_pval *le = wk_pv_dict_get(info, "little_endian");
    if (le && (le->type != WK_PV_BOOL || !le->b))
        return wk_fail(e, "%s: the checkpoint is big-endian; only little-endian is supported",
                       f->path);
    if (next_pickle(&c, "the object", &root, e) != 0 ||
        wk_pt_collect(f, root, opts, f->path, e) != 0)
        return -1;
    for (const wk_pval *p = wk_parena_persids(a); p; p = p->persid.next) {
        size_t idx;
        if (wk_pt_register_storage(f, p, "checkpoint", &idx, e) != 0)
            return -1;
    }
    if (next_pickle(&c, "the storage key list", &keys, e) != 0)
        return -1;
    if (keys->type != WK_PV_LIST)
        return wk_fail(e, "%s: the storage key list is a %s", f->path, wk_pv_type_name(keys->type));
    for (size_t i = 0; i < keys->seq.n; i++) {
        const wk_pval *k = keys->seq.items[i];
        char key[65], esc[300];
        if (k->type != WK_PV_STR || k->s.len >= sizeof key)
            return wk_fail(e, "%s: storage key #%zu is not a short string", f->path, i);
        memcpy(key, k->s.ptr, k->s.len);
        key[k->s.len] = 0;
        long s = wk_pt_storage_find(f, key);
        if (s < 0)
            return wk_fail(e, "%s: storage key '%s' in the key list has no persistent id",
                           f->path, wk_pk_escape(k->s.ptr, k->s.len, esc, sizeof esc));
        if (storage_record(&c, &f->storages[s], WK_PT_MAPPED, e) != 0)
            return -1;
    }
    return 0;
}

/* ---- tar ---- */

/* Reads the tar members storages, tensors and pickle into heap buffers. */
static int tar_members(wk_pt_file *f, uint8_t *bufs[3], uint64_t lens[3], wk_err *e)
{
    static const char *const names[3] = {"storages", "tensors", "pickle"};
    struct archive *ar = archive_read_new();
    if (!ar)
        return wk_fail(e, "%s: out of memory", f->path);
    archive_read_support_format_tar(ar);
    int rc = 0;
    if (archive_read_open_memory(ar, f->map.data, f->map.size) != ARCHIVE_OK)
        rc = wk_fail(e, "%s: libarchive: %s", f->path, archive_error_string(ar));
    struct archive_entry *ent;
    int r;
    while (rc == 0 && (r = archive_read_next_header(ar, &ent)) == ARCHIVE_OK) {
        const char *n = archive_entry_pathname(ent);
        int k = -1;
        for (int j = 0; j < 3; j++)
            if (n && strcmp(n, names[j]) == 0)
                k = j;
        if (k < 0)
            continue;
        int64_t size = archive_entry_size(ent);
        if (bufs[k])
            rc = wk_fail(e, "%s: tar member '%s' appears twice", f->path, n);
        else if (size < 0 || (uint64_t)size > f->map.size ||
                 (k > 0 && (uint64_t)size > WK_PT_MAX_PICKLE_ENTRY))
            rc = wk_fail(e, "%s: tar member '%s' has an implausible size", f->path, n);
        else if (!(bufs[k] = malloc(size ? (size_t)size : 1)))
            rc = wk_fail(e, "%s: out of memory", f->path);
        else if (archive_read_data(ar, bufs[k], (size_t)size) != (la_ssize_t)size)
            rc = wk_fail(e, "%s: tar member '%s' is truncated: %s", f->path, n,
                         archive_error_string(ar) ? archive_error_string(ar) : "short read");
        lens[k] = (uint64_t)size;
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = wk_fail(e, "%s: libarchive: %s", f->path, archive_error_string(ar));
    for (int j = 0; rc == 0 && j < 3; j++)
        if (!bufs[j])
            rc = wk_fail(e, "%s: tar has no member '%s': not a torch.save checkpoint", f->path,
                         names[j]);
    archive_read_free(ar);
    return rc;
}

/* A pickled key: a short string of letters, digits, '_' and '-', or an int written in
 * decimal. */
static int key_of(const wk_pval *v, char *key, size_t len)
{
    if (v->type == WK_PV_INT)
        return snprintf(key, len, "%lld", (long long)v->i) < (int)len ? 0 : -1;
    if (v->type != WK_PV_STR || v->s.len == 0 || v->s.len >= len)
        return -1;
    for (uint64_t i = 0; i < v->s.len; i++) {
        char c = v->s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            return -1;
    }
    memcpy(key, v->s.ptr, v->s.len);
    key[v->s.len] = 0;
    return 0;
}

static int tar_storages(wk_pt_file *f, cursor *c, wk_err *e)
{
    wk_pval *count = NULL, *rec = NULL, *views = NULL;
    if (next_pickle(c, "the storage count", &count, e) != 0)
        return -1;
    if (count->type != WK_PV_INT || count->i < 0 || (uint64_t)count->i > WK_PT_MAX_TENSORS)
        return wk_fail(e, "%s: tar storage count is not a plausible integer", f->path);
    for (int64_t i = 0; i < count->i; i++) {
        char key[65];
        size_t idx;
        if (next_pickle(c, "a storage header", &rec, e) != 0)
            return -1;
        if (rec->type != WK_PV_TUPLE || rec->seq.n != 3 || key_of(rec->seq.items[0], key, sizeof key) ||
            rec->seq.items[2]->type != WK_PV_GLOBAL ||
            rec->seq.items[2]->global->kind != WK_PG_STORAGE)
            return wk_fail(e, "%s: tar storage #%lld is not (key, location, StorageType)",
                           f->path, (long long)i);
        /* the element count follows; register with it, then check the bytes */
        uint64_t numel = 0;
        uint64_t save = c->pos;
        if (next_u64(c, &numel, e) != 0)
            return -1;
        c->pos = save;
        if (wk_pt_add_storage(f, key, rec->seq.items[2]->global->dtype, numel, "tar storages",
                              &idx, e) != 0 ||
            storage_record(c, &f->storages[idx], WK_PT_BUFFER, e) != 0)
            return -1;
    }
    if (next_pickle(c, "the storage views", &views, e) != 0)
        return -1;
    if (views->type != WK_PV_LIST || views->seq.n != 0)
        return wk_fail(e, "%s: tar storage views are not supported", f->path);
    return 0;
}

static int rd_i64(cursor *c, int64_t *v, unsigned n, wk_err *e)
{
    if (c->len - c->pos < n)
        return wk_fail(e, "%s: %s offset %llu: truncated tensor record", c->f->path, c->what,
                       (unsigned long long)c->pos);
    *v = wk_sign_extend(wk_ld_le(c->base + c->pos, n), n);
    c->pos += n;
    return 0;
}

/* One tensor record of the tensors member into t (name = the tensor key). */
static int tar_tensor(wk_pt_file *f, cursor *c, wk_pt_tensor *t, wk_err *e)
{
    wk_pval *rec;
    char key[65], skey[65];
    if (next_pickle(c, "a tensor header", &rec, e) != 0)
        return -1;
    if (rec->type != WK_PV_TUPLE || rec->seq.n != 3 || key_of(rec->seq.items[0], key, sizeof key) ||
        key_of(rec->seq.items[1], skey, sizeof skey))
        return wk_fail(e, "%s: tar tensor record is not (key, storage key, TensorType)", f->path);
    long s = wk_pt_storage_find(f, skey);
    if (s < 0)
        return wk_fail(e, "%s: tar tensor '%s' names unknown storage '%s'", f->path, key, skey);
    int64_t ndim = 0, pad = 0, x = 0;
    if (rd_i64(c, &ndim, 4, e) != 0 || rd_i64(c, &pad, 4, e) != 0)
        return -1;
    if (ndim < 0 || ndim > WK_MAX_DIMS)
        return wk_fail(e, "%s: tar tensor '%s' has %lld dimensions", f->path, key, (long long)ndim);
    memset(t, 0, sizeof *t);
    t->name = strdup(key);
    if (!t->name)
        return wk_fail(e, "%s: out of memory", f->path);
    t->storage = (size_t)s;
    t->dtype = f->storages[s].dtype;
    t->n_dims = (uint32_t)ndim;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t d = 0; d < ndim; d++) {
            if (rd_i64(c, &x, 8, e) != 0)
                return -1;
            if (x < 0)
                return wk_fail(e, "%s: tar tensor '%s' has a negative size or stride", f->path, key);
            (pass ? t->stride : t->shape)[d] = (uint64_t)x;
        }
    if (rd_i64(c, &x, 8, e) != 0)
        return -1;
    if (x < 0)
        return wk_fail(e, "%s: tar tensor '%s' has a negative storage offset", f->path, key);
    t->offset = (uint64_t)x;
    return wk_pt_tensor_check(f, t, e);
}

/* The state dict of the tar's main pickle: persistent ids naming tensor keys. */
static int tar_state(wk_pt_file *f, const wk_pval *root, wk_pt_tensor *all, size_t n_all,
                     const wk_open_opts *opts, wk_err *e)
{
    wk_pt_item *items;
    size_t n;
    if (wk_pt_find_state_dict(root, opts ? opts->state_dict_key : NULL, f->path, &items, &n, e))
        return -1;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    int rc = f->tensors ? 0 : wk_fail(e, "%s: out of memory", f->path);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[65];
        const wk_pval *v = items[i].value;
        size_t j = n_all;
        if (v->type == WK_PV_PERSID && key_of(v->persid.pid, key, sizeof key) == 0)
            for (j = 0; j < n_all && strcmp(all[j].name, key) != 0; j++)
                ;
        if (j == n_all) {
            rc = wk_fail(e, "%s: state dict entry '%s' names no tensor of the tensors member",
                         f->path, items[i].name);
            break;
        }
        f->tensors[i] = all[j];
        f->tensors[i].name = items[i].name;
        items[i].name = NULL;
        f->n_tensors = i + 1;
    }
    wk_pt_items_free(items, n);
    return rc;
}

int wk_pt_tar_load(wk_pt_file *f, const wk_open_opts *opts, wk_parena *a, wk_err *e)
{
    uint8_t *bufs[3] = {NULL, NULL, NULL};
    uint64_t lens[3] = {0, 0, 0};
    wk_pt_tensor *all = NULL;
    size_t n_all = 0;
    wk_pval *count = NULL, *root = NULL;
    int rc = tar_members(f, bufs, lens, e);
    if (rc == 0) {
        f->buf = bufs[0];
        f->buf_len = lens[0];
        bufs[0] = NULL;
        cursor cs = {f, f->buf, f->buf_len, 0, "tar member 'storages'", "tar member 'storages'",
                     "member", a, 0};
        rc = tar_storages(f, &cs, e);
    }
    cursor ct = {f, bufs[1], lens[1], 0, "tar member 'tensors'", "tar member 'tensors'", "member",
                 a, 0};
    if (rc == 0 && (rc = next_pickle(&ct, "the tensor count", &count, e)) == 0 &&
        (count->type != WK_PV_INT || count->i < 0 || (uint64_t)count->i > WK_PT_MAX_TENSORS))
        rc = wk_fail(e, "%s: tar tensor count is not a plausible integer", f->path);
    if (rc == 0 && !(all = calloc((size_t)count->i + 1, sizeof *all)))
        rc = wk_fail(e, "%s: out of memory", f->path);
    for (; rc == 0 && n_all < (size_t)count->i; n_all++)
        rc = tar_tensor(f, &ct, &all[n_all], e);
    if (rc != 0 && all && n_all < (size_t)count->i)
        n_all++; /* the failed record may own its name */
    cursor cp = {f, bufs[2], lens[2], 0, "tar member 'pickle'", "tar member 'pickle'", "member",
                 a, 0};
    if (rc == 0 && (rc = next_pickle(&cp, "the object", &root, e)) == 0)
        rc = tar_state(f, root, all, n_all, opts, e);
    for (size_t i = 0; i < n_all; i++)
        free(all[i].name);
    free(all);
    for (int j = 0; j < 3; j++)
        free(bufs[j]); /* bufs[0] is NULL once f->buf owns it */
    return rc;
}
