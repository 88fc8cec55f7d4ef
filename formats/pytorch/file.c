/* One PyTorch checkpoint file: container detection, the state dict's tensors, and tensor
 * rebuild (torch/_utils.py _rebuild_tensor_v2: storage, storage_offset, size, stride).
 *
 * A tensor whose strides are the row-major ones (dims of size 1 may carry any stride, as
 * in torch's is_contiguous) is handed out in place: a pointer into the map for stored
 * data, or into the inflated entry. Any other layout (transposed, sliced) is gathered
 * row by row into the view's owned buffer; wk_pt_tensor_check proved at open time that
 * every index stays inside the storage. Tensors sharing a storage read the same bytes; a
 * tensor that reads exactly the elements an earlier one reads (tied weights: same storage,
 * offset, shape and strides) is marked as its alias, so totals can count the data once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pytorch/pytorch.h"

int wk_pt_collect(wk_pt_file *f, const wk_pval *root, const wk_open_opts *opts,
                  const char *where, wk_err *e)
{
    wk_pt_item *items;
    size_t n;
    if (wk_pt_find_state_dict(root, opts ? opts->state_dict_key : NULL, where, &items, &n, e) != 0)
        return -1;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        wk_pt_items_free(items, n);
        return wk_fail(e, "%s: out of memory", f->path);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        wk_pt_tensor *t = &f->tensors[i];
        rc = wk_pt_tensor_from_node(f, items[i].name, items[i].value, t, e);
        t->name = items[i].name;
        items[i].name = NULL;
        f->n_tensors = i + 1;
        if (rc == 0)
            rc = wk_pt_tensor_check(f, t, e);
    }
    wk_pt_items_free(items, n);
    return rc;
}

static int open_zip(wk_pt_file *f, const wk_open_opts *opts, wk_parena *a, wk_err *e)
{
    const uint8_t *data = NULL;
    uint64_t len = 0, used = 0;
    wk_pval *root = NULL;
    if (wk_pt_zip_open(f, &f->zip, e) != 0 || wk_pt_zip_pickle(f, &data, &len, e) != 0)
        return -1;
    char where[4200];
    snprintf(where, sizeof where, "%s: data.pkl", f->path);
    if (wk_pickle_load(data, len, where, 0, a, &root, &used, e) != 0 ||
        wk_pt_collect(f, root, opts, where, e) != 0)
        return -1;
    return wk_pt_zip_locate(f, e);
}

/* Orders tensors by what they read: storage, offset, shape, and the strides of the
 * dimensions longer than 1 (the others never step). 0: the very same elements in the same
 * order. */
static int cmp_data(const wk_pt_tensor *x, const wk_pt_tensor *y)
{
    uint64_t a[2 + 2 * WK_MAX_DIMS], b[2 + 2 * WK_MAX_DIMS];
    size_t n = 0;
    if (x->n_dims != y->n_dims)
        return x->n_dims < y->n_dims ? -1 : 1;
    a[n] = x->storage, b[n++] = y->storage;
    a[n] = x->offset, b[n++] = y->offset;
    for (uint32_t d = 0; d < x->n_dims; d++) {
        a[n] = x->shape[d], b[n++] = y->shape[d];
        a[n] = x->shape[d] > 1 ? x->stride[d] : 0;
        b[n++] = y->shape[d] > 1 ? y->stride[d] : 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Equal data, then file order: the first tensor of a group sorts first. */
static int cmp_layout(const void *a, const void *b)
{
    const wk_pt_tensor *x = *(const wk_pt_tensor *const *)a;
    const wk_pt_tensor *y = *(const wk_pt_tensor *const *)b;
    int c = cmp_data(x, y);
    return c ? c : x < y ? -1 : x > y;
}

/* Marks every tensor that is the very same data as an earlier one (tied weights): sorted
 * by layout, equal tensors are neighbours, so this is n log n for any number of tensors. */
static int find_aliases(wk_pt_file *f, wk_err *e)
{
    if (f->n_tensors < 2)
        return 0;
    const wk_pt_tensor **p = malloc(f->n_tensors * sizeof *p);
    if (!p)
        return wk_fail(e, "%s: out of memory", f->path);
    for (size_t i = 0; i < f->n_tensors; i++)
        p[i] = &f->tensors[i];
    qsort(p, f->n_tensors, sizeof *p, cmp_layout);
    for (size_t k = 1, first = 0; k < f->n_tensors; k++) {
        if (cmp_data(p[first], p[k]) != 0)
            first = k;
        else
            f->tensors[p[k] - f->tensors].alias_plus1 = (size_t)(p[first] - f->tensors) + 1;
    }
    free(p);
    return 0;
}

void wk_pt_file_close(wk_pt_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_storages; i++)
        free(f->storages[i].key);
    free(f->storages);
    free(f->key_slots);
    wk_pt_zip_free(f->zip);
    free(f->buf);
    wk_map_close(&f->map);
    free(f->path);
    free(f);
}

int wk_pt_file_open(const char *path, const wk_open_opts *opts, wk_pt_file **out, wk_err *e)
{
    *out = NULL;
    wk_pt_file *f = calloc(1, sizeof *f);
    wk_parena *a = wk_parena_new();
    if (!f || !a || !(f->path = strdup(path))) {
        free(f);
        wk_parena_free(a);
        return wk_fail(e, "%s: out of memory", path);
    }
    int rc = wk_map_open(&f->map, path, e);
    if (rc == 0) {
        const uint8_t *m = f->map.data;
        uint64_t n = f->map.size;
        if (n >= 4 && memcmp(m, "PK\x03\x04", 4) == 0)
            rc = open_zip(f, opts, a, e);
        else if (wk_pt_is_legacy(m, n))
            rc = wk_pt_legacy_load(f, opts, a, e);
        else if (wk_pt_is_tar(m, n))
            rc = wk_pt_tar_load(f, opts, a, e);
        else
            rc = wk_fail(e, "%s: not a PyTorch checkpoint (expected a zip from torch.save, a "
                            "legacy torch.save stream, or a tar)", path);
    }
    for (size_t i = 0; rc == 0 && i < f->n_storages; i++)
        if (!f->storages[i].located)
            rc = wk_fail(e, "%s: storage '%s' has no data in the file", path, f->storages[i].key);
    if (rc == 0)
        rc = find_aliases(f, e);
    wk_parena_free(a);
    if (rc != 0) {
        wk_pt_file_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

static bool contiguous(const wk_pt_tensor *t)
{
    uint64_t expect = 1;
    for (uint32_t d = t->n_dims; d-- > 0;) {
        if (t->shape[d] != 1 && t->stride[d] != expect)
            return false;
        expect *= t->shape[d];
    }
    return true;
}

/* Copies t's elements from the storage at src into dst in row-major order. */
static void gather(const uint8_t *src, uint8_t *dst, const wk_pt_tensor *t, size_t es,
                   uint64_t n_elements)
{
    if (t->n_dims == 0) {
        memcpy(dst, src + t->offset * es, es);
        return;
    }
    uint32_t last = t->n_dims - 1;
    uint64_t inner = t->shape[last], istride = t->stride[last];
    uint64_t idx[WK_MAX_DIMS] = {0};
    for (uint64_t r = 0; r < n_elements / inner; r++) {
        uint64_t off = t->offset;
        for (uint32_t d = 0; d < last; d++)
            off += idx[d] * t->stride[d];
        if (istride == 1) {
            memcpy(dst, src + off * es, inner * es);
        } else {
            for (uint64_t j = 0; j < inner; j++)
                memcpy(dst + j * es, src + (off + j * istride) * es, es);
        }
        dst += inner * es;
        for (uint32_t d = last; d-- > 0;) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

int wk_pt_file_read(wk_pt_file *f, size_t i, wk_view *v, wk_err *e)
{
    const wk_pt_tensor *t = &f->tensors[i];
    const wk_pt_storage *s = &f->storages[t->storage];
    size_t es = wk_type(t->dtype)->type_size;
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= t->shape[d]; /* checked at open */
    memset(v, 0, sizeof *v);
    v->size = n * es;
    if (n == 0) {
        v->data = "";
        return 0;
    }
    const uint8_t *base;
    uint8_t *owned = NULL;
    if (f->zip) {
        if (wk_pt_zip_storage(f, s, &base, &owned, e) != 0)
            return wk_fail_prefix(e, "tensor '%s'", t->name);
    } else if (s->where == WK_PT_BUFFER) {
        base = f->buf + s->offset;
    } else {
        base = f->map.data + s->offset;
    }
    if (contiguous(t)) {
        v->data = base + t->offset * es;
        v->owned = owned;
        v->mapped = !owned && (f->zip || s->where != WK_PT_BUFFER);
        return 0;
    }
    uint8_t *out = malloc(v->size);
    if (!out) {
        free(owned);
        return wk_fail(e, "%s: tensor '%s': out of memory for %llu bytes", f->path, t->name,
                       (unsigned long long)v->size);
    }
    gather(base, out, t, es, n);
    free(owned);
    v->data = out;
    v->owned = out;
    return 0;
}
