/* Finding the state dict in a checkpoint's pickle tree and turning its tensors into
 * storage references (torch/serialization.py persistent_load, torch/_utils.py
 * _rebuild_tensor_v2).
 *
 * The state dict is the first dict whose values are all tensors (or that is empty: a model
 * without tensors), looked for at the top and then, one level at a time, under the wrapper
 * keys "state_dict", "model", "module", "model_state_dict" (training checkpoints); a
 * caller-chosen key (--key) overrides the search. A persistent id must be ('storage', <allowlisted StorageType>, key, location,
 * numel[, None]); tensors naming the same key share one storage (tied weights) and must
 * agree on its dtype and size. Every tensor's furthest element, offset + sum((size_i - 1) *
 * stride_i), is checked to lie inside its storage with overflow-checked arithmetic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "formats/pytorch/pytorch.h"

static const char *const wrappers[] = {"state_dict", "model", "module", "model_state_dict"};

/* ---- finding the state dict ---- */

static bool is_tensor(const wk_pval *v)
{
    return v->type == WK_PV_TENSOR || v->type == WK_PV_PERSID;
}

/* 1: every value a tensor (and at least one); 0: no tensor values; -1: mixed (*bad gets
 * the index of the first non-tensor entry). */
static int classify(const wk_pval *d, size_t *bad)
{
    size_t n_t = 0, first_bad = SIZE_MAX;
    for (size_t i = 0; i + 1 < d->seq.n; i += 2) {
        if (is_tensor(d->seq.items[i + 1]))
            n_t++;
        else if (first_bad == SIZE_MAX)
            first_bad = i;
    }
    *bad = first_bad;
    if (n_t == 0)
        return 0;
    return first_bad == SIZE_MAX ? 1 : -1;
}

/* "'a', 'b', 'c'" of a dict's string keys, for messages. */
static void key_list(const wk_pval *d, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i + 1 < d->seq.n && k + 8 < len; i += 2) {
        const wk_pval *key = d->seq.items[i];
        char esc[48];
        if (key->type == WK_PV_STR)
            k += (size_t)snprintf(buf + k, len - k, "%s'%s'", k ? ", " : "",
                                  wk_pk_escape(key->s.ptr, key->s.len, esc, sizeof esc));
    }
    if (!buf[0])
        snprintf(buf, len, "(no string keys)");
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const wk_pt_item *)a)->name, ((const wk_pt_item *)b)->name);
}

static int take_items(const wk_pval *d, const char *where, wk_pt_item **items, size_t *n,
                      wk_err *e)
{
    size_t count = d->seq.n / 2;
    if (count > WK_PT_MAX_TENSORS)
        return wk_fail(e, "%s: %zu tensors; at most %u are supported", where, count,
                       WK_PT_MAX_TENSORS);
    wk_pt_item *it = calloc(count ? count : 1, sizeof *it);
    wk_pt_item *sorted = calloc(count ? count : 1, sizeof *sorted);
    if (!it || !sorted) {
        free(it);
        free(sorted);
        return wk_fail(e, "%s: out of memory", where);
    }
    for (size_t j = 0; j < count; j++) {
        const wk_pval *k = d->seq.items[2 * j];
        if (k->type != WK_PV_STR || k->s.len == 0 || !wk_pk_name_ok(k->s.ptr, k->s.len)) {
            wk_pt_items_free(it, j);
            free(sorted);
            return wk_fail(e, "%s offset %llu: state dict key #%zu is not a non-empty UTF-8 "
                              "string without control characters", where,
                           (unsigned long long)k->offset, j);
        }
        it[j].name = strndup(k->s.ptr, k->s.len);
        it[j].value = d->seq.items[2 * j + 1];
        if (!it[j].name) {
            wk_pt_items_free(it, j);
            free(sorted);
            return wk_fail(e, "%s: out of memory", where);
        }
    }
    memcpy(sorted, it, count * sizeof *it);
    qsort(sorted, count, sizeof *sorted, cmp_item);
    for (size_t j = 1; j < count; j++)
        if (strcmp(sorted[j - 1].name, sorted[j].name) == 0) {
            int rc = wk_fail(e, "%s: tensor '%s' appears twice in the state dict", where,
                             sorted[j].name);
            free(sorted);
            wk_pt_items_free(it, count);
            return rc;
        }
    free(sorted);
    *items = it;
    *n = count;
    return 0;
}

int wk_pt_find_state_dict(const wk_pval *root, const char *key, const char *where,
                          wk_pt_item **items, size_t *n, wk_err *e)
{
    *items = NULL;
    *n = 0;
    const wk_pval *d = root;
    char keys[300];
    size_t bad;
    if (d->type != WK_PV_DICT)
        return wk_fail(e, "%s: the checkpoint holds a %s, expected a dict of tensors", where,
                       wk_pv_type_name(d->type));
    if (key) {
        d = wk_pv_dict_get(root, key);
        if (!d) {
            key_list(root, keys, sizeof keys);
            return wk_fail(e, "%s: no key '%s' in the checkpoint's dict (it has %s)", where, key,
                           keys);
        }
        if (d->type != WK_PV_DICT || (d->seq.n && classify(d, &bad) != 1))
            return wk_fail(e, "%s: '%s' is not a dict of tensors", where, key);
        return take_items(d, where, items, n, e);
    }
    for (int depth = 0; depth < 8; depth++) {
        int c = classify(d, &bad);
        if (c == 1 || (depth == 0 && d->seq.n == 0)) /* torch.save({}): an empty state dict */
            return take_items(d, where, items, n, e);
        if (c < 0) {
            const wk_pval *k = d->seq.items[bad];
            char esc[200];
            return wk_fail(e, "%s: entry '%s' of the state dict is a %s, not a tensor", where,
                           k->type == WK_PV_STR ? wk_pk_escape(k->s.ptr, k->s.len, esc, sizeof esc)
                                                : "?",
                           wk_pv_type_name(d->seq.items[bad + 1]->type));
        }
        /* the first non-empty wrapper; an empty one only when no other is there */
        const wk_pval *next = NULL, *empty = NULL;
        for (size_t w = 0; w < sizeof wrappers / sizeof wrappers[0] && !next; w++) {
            const wk_pval *v = wk_pv_dict_get(d, wrappers[w]);
            if (!v || v->type != WK_PV_DICT)
                continue;
            if (v->seq.n == 0)
                empty = empty ? empty : v;
            else
                next = v;
        }
        if (!next && empty)
            return take_items(empty, where, items, n, e);
        if (!next)
            break;
        d = next;
    }
    key_list(d, keys, sizeof keys);
    return wk_fail(e, "%s: no state dict found: no dict of tensors at the top or under "
                      "'state_dict', 'model', 'module' or 'model_state_dict' (keys: %s); "
                      "name the entry with --key", where, keys);
}

void wk_pt_items_free(wk_pt_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].name);
    free(items);
}

/* ---- storages, shared by key ---- */

/* Storage keys are looked up for every tensor: a hash index keeps a hostile file with a
 * million storages linear, not quadratic. FNV-1a over the key. */
static size_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return (size_t)h;
}

long wk_pt_storage_find(const wk_pt_file *f, const char *key)
{
    if (f->n_slots == 0)
        return -1;
    size_t mask = f->n_slots - 1;
    for (size_t h = key_hash(key) & mask;; h = (h + 1) & mask) {
        size_t v = f->key_slots[h];
        if (v == 0)
            return -1;
        if (strcmp(f->storages[v - 1].key, key) == 0)
            return (long)(v - 1);
    }
}

/* Adds storage idx to the key index, growing it to keep the load under one half. */
static int index_storage(wk_pt_file *f, size_t idx)
{
    if ((idx + 1) * 2 > f->n_slots) {
        size_t n = f->n_slots ? f->n_slots * 2 : 64;
        size_t *slots = calloc(n, sizeof *slots);
        if (!slots)
            return -1;
        free(f->key_slots);
        f->key_slots = slots;
        f->n_slots = n;
        for (size_t i = 0; i < idx; i++)
            if (index_storage(f, i) != 0)
                return -1;
    }
    size_t mask = f->n_slots - 1, h = key_hash(f->storages[idx].key) & mask;
    while (f->key_slots[h])
        h = (h + 1) & mask;
    f->key_slots[h] = idx + 1;
    return 0;
}

/* Storage keys become zip entry names: short, and no path syntax. */
static bool key_ok(const wk_pval *k)
{
    if (k->type != WK_PV_STR || k->s.len == 0 || k->s.len > 64)
        return false;
    for (uint64_t i = 0; i < k->s.len; i++) {
        char c = k->s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int wk_pt_add_storage(wk_pt_file *f, const char *key, wk_dtype dt, uint64_t numel,
                      const char *name, size_t *idx, wk_err *e)
{
    long found = wk_pt_storage_find(f, key);
    if (found >= 0) {
        const wk_pt_storage *s = &f->storages[found];
        if (s->dtype != dt || s->numel != numel)
            return wk_fail(e, "%s: %s: storage '%s' was declared as %llu %s elements and is now "
                              "%llu %s elements", f->path, name, key,
                           (unsigned long long)s->numel, wk_type(s->dtype)->torch_name,
                           (unsigned long long)numel, wk_type(dt)->torch_name);
        *idx = (size_t)found;
        return 0;
    }
    uint64_t nbytes;
    if (wk_type_nbytes(dt, numel, &nbytes, e) != 0)
        return wk_fail_prefix(e, "%s: %s: storage '%s'", f->path, name, key);
    if (wk_grow((void **)&f->storages, &f->cap_storages, f->n_storages + 1, sizeof *f->storages))
        return wk_fail(e, "%s: out of memory", f->path);
    wk_pt_storage *s = &f->storages[f->n_storages];
    memset(s, 0, sizeof *s);
    s->key = strdup(key);
    if (!s->key)
        return wk_fail(e, "%s: out of memory", f->path);
    s->dtype = dt;
    s->numel = numel;
    s->nbytes = nbytes;
    if (index_storage(f, f->n_storages) != 0) {
        free(s->key);
        return wk_fail(e, "%s: out of memory", f->path);
    }
    *idx = f->n_storages++;
    return 0;
}

int wk_pt_register_storage(wk_pt_file *f, const wk_pval *persid, const char *name,
                           size_t *idx, wk_err *e)
{
    const wk_pval *pid = persid->persid.pid;
    unsigned long long at = (unsigned long long)persid->offset;
    if (pid->type != WK_PV_TUPLE || (pid->seq.n != 5 && pid->seq.n != 6) ||
        !wk_pv_is_str(pid->seq.items[0], "storage"))
        return wk_fail(e, "%s: %s: persistent id at pickle offset %llu is not ('storage', type, "
                          "key, location, numel)", f->path, name, at);
    wk_pval **p = pid->seq.items;
    if (p[1]->type != WK_PV_GLOBAL || p[1]->global->kind != WK_PG_STORAGE)
        return wk_fail(e, "%s: %s: persistent id at pickle offset %llu does not name a storage "
                          "type", f->path, name, at);
    if (!key_ok(p[2]))
        return wk_fail(e, "%s: %s: storage key at pickle offset %llu is not 1-64 letters, "
                          "digits, '_' or '-'", f->path, name, at);
    if (p[4]->type != WK_PV_INT || p[4]->i < 0)
        return wk_fail(e, "%s: %s: storage size at pickle offset %llu is not a non-negative "
                          "integer", f->path, name, at);
    if (pid->seq.n == 6 && p[5]->type != WK_PV_NONE)
        return wk_fail(e, "%s: %s: storage views (view_metadata) are not supported", f->path,
                       name);
    char key[65];
    memcpy(key, p[2]->s.ptr, p[2]->s.len);
    key[p[2]->s.len] = 0;
    return wk_pt_add_storage(f, key, p[1]->global->dtype, (uint64_t)p[4]->i, name, idx, e);
}

/* ---- tensors ---- */

int wk_pt_tensor_from_node(wk_pt_file *f, const char *name, const wk_pval *node,
                           wk_pt_tensor *t, wk_err *e)
{
    if (node->type != WK_PV_TENSOR)
        return wk_fail(e, "%s: '%s' is a %s, expected a tensor", f->path, name,
                       wk_pv_type_name(node->type));
    char what[300];
    snprintf(what, sizeof what, "tensor '%s'", name);
    size_t si;
    if (wk_pt_register_storage(f, node->tensor.storage, what, &si, e) != 0)
        return -1;
    memset(t, 0, sizeof *t);
    t->storage = si;
    t->dtype = f->storages[si].dtype;
    t->offset = node->tensor.storage_offset;
    t->n_dims = node->tensor.n_dims;
    memcpy(t->shape, node->tensor.shape, sizeof t->shape);
    memcpy(t->stride, node->tensor.stride, sizeof t->stride);
    return 0;
}

int wk_pt_tensor_check(const wk_pt_file *f, const wk_pt_tensor *t, wk_err *e)
{
    const wk_pt_storage *s = &f->storages[t->storage];
    uint64_t n = 1, last = t->offset;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (wk_mul_u64(n, t->shape[d], &n) != 0)
            return wk_fail(e, "%s: tensor '%s': element count overflows", f->path, t->name);
    if (n == 0)
        return 0;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t span;
        if (wk_mul_u64(t->shape[d] - 1, t->stride[d], &span) != 0 ||
            wk_add_u64(last, span, &last) != 0)
            return wk_fail(e, "%s: tensor '%s': element index overflows", f->path, t->name);
    }
    if (last >= s->numel)
        return wk_fail(e, "%s: tensor '%s' reaches element %llu of storage '%s', which has %llu "
                          "elements (storage offset %llu)", f->path, t->name,
                       (unsigned long long)last, s->key, (unsigned long long)s->numel,
                       (unsigned long long)t->offset);
    /* A broadcast view (a stride of 0) may claim far more elements than its storage holds,
     * and reading it expands it in memory: bounded, so a tiny file cannot make us allocate
     * gigabytes. */
    if (n > s->numel && n > WK_PT_MAX_EXPANDED / wk_type(t->dtype)->type_size)
        return wk_fail(e, "%s: tensor '%s' is a broadcast view of %llu elements over the %llu "
                          "elements of storage '%s'; expanding it beyond %llu MiB is refused",
                       f->path, t->name, (unsigned long long)n, (unsigned long long)s->numel,
                       s->key, (unsigned long long)(WK_PT_MAX_EXPANDED >> 20));
    return 0;
}
