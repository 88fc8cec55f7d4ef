/* GGUF tensor data: a parsed GGUF, or a whole split set, as a wk_source, and our checksum
 * check.
 *
 * The source lists the tensor infos with ggml's ne[] reversed into outermost-first shapes
 * (formats/source.h) and hands out zero-copy views into the map; the reader has already
 * checked that every tensor's bytes lie inside the file. A file with split.count > 1 is
 * one of a llama.cpp split set (formats/gguf/split.c names them): the set is opened from
 * whichever file was named, with the checks llama.cpp's loader makes (every file there,
 * split.no matching the name, split.count agreeing, split.tensors.count equal to the
 * tensors found, no tensor twice) and a message naming the file for each. The checksum
 * functions compare weightkit.tensor_xxh64 (docs/gguf.md) with xxh64 (seed 0) of those
 * bytes: all of them (wk_gguf_verify_checksums), or one tensor's bytes that a caller already
 * has in memory (wk_gguf_check_xxh64, used by wk-inspect while it computes statistics). */
#include "formats/gguf/gguf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/strutil.h"
#include "formats/gguf/layout_hash.h"

/* The files behind a source: one, or every file of a split set in order. */
typedef struct gguf_set {
    uint32_t n;
    wk_gguf **files;
    uint64_t *local; /* for each source tensor, its index in its file */
} gguf_set;

static int gguf_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    (void)e;
    const gguf_set *set = s->impl;
    const wk_gguf *g = set->files[s->tensors[i].file_index];
    const wk_gguf_tensor_info *t = &g->tensors[set->local[i]];
    v->data = g->data + g->data_offset + t->offset;
    v->size = t->n_bytes;
    v->owned = NULL;
    v->mapped = true;
    return 0;
}

static void set_free(gguf_set *set)
{
    if (!set)
        return;
    for (uint32_t k = 0; set->files && k < set->n; k++)
        wk_gguf_close(set->files[k]);
    free(set->files);
    free(set->local);
    free(set);
}

static void gguf_close(wk_source *s)
{
    set_free(s->impl);
    wk_source_free_common(s);
}

static const wk_source_ops GGUF_OPS = {gguf_read, gguf_close};

const wk_gguf *wk_gguf_source_file(const wk_source *s, size_t i)
{
    if (!s->gguf || s->ops != &GGUF_OPS || i >= s->n_files)
        return NULL;
    return ((const gguf_set *)s->impl)->files[i];
}

/* ---- split sets ---- */

typedef struct split_keys {
    uint32_t no, count;
    int64_t total; /* split.tensors.count; -1: absent */
} split_keys;

/* A u16 key as llama.cpp reads it: 1 with the value, 0 when absent, -1 of another type. */
static int get_u16(const wk_gguf *g, const char *key, uint32_t *out, wk_err *e)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->value.type != WK_GGUF_U16)
        return wk_fail(e, "%s: offset %" PRIu64 ": %s should be a u16, not %s", g->path,
                       kv->offset, key, wk_gguf_type_name(kv->value.type));
    *out = (uint32_t)kv->value.u;
    return 1;
}

/* 1 and the keys when g belongs to a set of two or more files; 0 when it stands alone (no
 * split.count, or a set of one); -1 for keys that are missing, mistyped or inconsistent. */
static int read_split_keys(const wk_gguf *g, split_keys *k, wk_err *e)
{
    int rc = get_u16(g, WK_GGUF_SPLIT_COUNT, &k->count, e);
    if (rc <= 0)
        return rc;
    if (k->count == 0)
        return wk_fail(e, "%s: split.count is 0; a split set has at least one file", g->path);
    if (k->count == 1)
        return 0;
    rc = get_u16(g, WK_GGUF_SPLIT_NO, &k->no, e);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return wk_fail(e, "%s: split.count is %u but split.no (which file of the set this "
                          "is) is missing", g->path, k->count);
    if (k->no >= k->count)
        return wk_fail(e, "%s: split.no %u is not below split.count %u", g->path, k->no,
                       k->count);
    k->total = -1;
    const wk_gguf_kv *kv = wk_gguf_find(g, WK_GGUF_SPLIT_TENSORS);
    if (kv && (kv->value.type != WK_GGUF_I32 || kv->value.i < 0))
        return wk_fail(e, "%s: offset %" PRIu64 ": split.tensors.count should be an i32 "
                          "count of tensors", g->path, kv->offset);
    if (kv)
        k->total = kv->value.i;
    return 1;
}

/* Opens file k of the set and checks it says it is file k of count. */
static int open_member(const char *prefix, uint32_t k, const split_keys *named,
                       const char *named_path, wk_gguf **out, wk_err *e)
{
    size_t len = strlen(prefix) + 32;
    char *path = malloc(len);
    if (!path)
        return wk_fail(e, "%s: out of memory", named_path);
    snprintf(path, len, "%s-%05u-of-%05u.gguf", prefix, k + 1, named->count);
    struct stat st;
    int rc = 0;
    split_keys mine = {0};
    if (stat(path, &st) != 0 && errno == ENOENT)
        rc = wk_fail(e, "%s: file %u of the %u of a split GGUF set is missing (the set of %s)",
                     path, k + 1, named->count, named_path);
    else if (wk_gguf_open(path, out, e) != 0)
        rc = -1;
    else if ((rc = read_split_keys(*out, &mine, e)) == 0)
        rc = wk_fail(e, "%s: no split.count key; as file %u of %u of the set of %s it needs "
                        "one", path, k + 1, named->count, named_path);
    else if (rc > 0 && mine.count != named->count)
        rc = wk_fail(e, "%s: split.count is %u but %s says %u", path, mine.count, named_path,
                     named->count);
    else if (rc > 0 && mine.no != k)
        rc = wk_fail(e, "%s: split.no is %u (file %u) but the name makes it file %u of %u",
                     path, mine.no, mine.no + 1, k + 1, named->count);
    else if (rc > 0 && mine.total >= 0 && named->total >= 0 && mine.total != named->total)
        rc = wk_fail(e, "%s: split.tensors.count is %" PRId64 " but %s says %" PRId64, path,
                     mine.total, named_path, named->total);
    free(path);
    return rc < 0 ? -1 : 0;
}

/* Fills set with every file of the set named's file belongs to (named is taken over). */
static int open_set(const char *path, wk_gguf *named, const split_keys *keys, gguf_set *set,
                    wk_err *e)
{
    set->files = calloc(keys->count, sizeof *set->files);
    if (!set->files) {
        wk_gguf_close(named);
        return wk_fail(e, "%s: out of memory", path);
    }
    set->n = keys->count;
    set->files[keys->no] = named;
    char *prefix = wk_gguf_split_prefix(path, keys->no, keys->count);
    if (!prefix)
        return wk_fail(e, "%s: file %u of a split GGUF set of %u, but its name does not end "
                          "in -%05u-of-%05u.gguf, so the other files cannot be found", path,
                       keys->no + 1, keys->count, keys->no + 1, keys->count);
    int rc = 0;
    for (uint32_t k = 0; k < keys->count && rc == 0; k++)
        if (k != keys->no)
            rc = open_member(prefix, k, keys, path, &set->files[k], e);
    free(prefix);
    if (rc != 0)
        return -1;
    split_keys first;
    if (read_split_keys(set->files[0], &first, e) < 0)
        return -1;
    uint64_t n = 0;
    for (uint32_t k = 0; k < set->n; k++)
        n += set->files[k]->n_tensors;
    if (first.total < 0)
        return wk_fail(e, "%s: split.tensors.count is missing (the first file of a split set "
                          "must have it)", set->files[0]->path);
    if ((uint64_t)first.total != n)
        return wk_fail(e, "%s: split.tensors.count says %" PRId64 " tensors but the %u files "
                          "of the set hold %" PRIu64, set->files[0]->path, first.total, set->n,
                       n);
    return 0;
}

/* ---- the source ---- */

static int fill_tensor(const wk_gguf *g, const wk_gguf_tensor_info *ti, wk_tensor *t, wk_err *e)
{
    t->name = wk_gguf_strdup(ti->name);
    if (!t->name)
        return wk_fail(e, "%s: out of memory", g->path);
    t->dtype = ti->dtype;
    uint64_t shape[4];
    for (uint32_t d = 0; d < ti->n_dims; d++)
        shape[d] = ti->ne[ti->n_dims - 1 - d];
    if (wk_tensor_set_shape(t, ti->n_dims, shape, e) != 0)
        return wk_fail_prefix(e, "%s", g->path);
    return 0;
}

/* A name held by two files of a set (each file's own names are unique). */
static int check_unique(const wk_source *s, wk_err *e)
{
    const char **names = malloc((s->n_tensors ? s->n_tensors : 1) * sizeof *names);
    if (!names)
        return wk_fail(e, "%s: out of memory", s->path);
    for (size_t i = 0; i < s->n_tensors; i++)
        names[i] = s->tensors[i].name;
    const char *dup = wk_find_duplicate(names, s->n_tensors);
    free(names);
    if (!dup)
        return 0;
    long first = wk_source_find(s, dup);
    size_t second = (size_t)first + 1;
    while (strcmp(s->tensors[second].name, dup) != 0)
        second++;
    return wk_fail(e, "tensor '%s' is in two files of the split set: %s and %s", dup,
                   s->files[s->tensors[first].file_index],
                   s->files[s->tensors[second].file_index]);
}

/* Lists the tensors of every file of the set, in file order. */
static int fill_source(wk_source *s, gguf_set *set, wk_err *e)
{
    size_t total = 0;
    for (uint32_t k = 0; k < set->n; k++)
        total += set->files[k]->n_tensors;
    s->files = calloc(set->n, sizeof *s->files);
    s->tensors = total ? calloc(total, sizeof *s->tensors) : NULL;
    set->local = total ? calloc(total, sizeof *set->local) : NULL;
    if (!s->files || (total && (!s->tensors || !set->local)))
        return wk_fail(e, "%s: out of memory", s->path);
    for (uint32_t k = 0; k < set->n; k++) {
        if (!(s->files[k] = strdup(set->files[k]->path)))
            return wk_fail(e, "%s: out of memory", s->path);
        s->n_files = k + 1;
    }
    for (uint32_t k = 0; k < set->n; k++) {
        const wk_gguf *g = set->files[k];
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            wk_tensor *t = &s->tensors[s->n_tensors];
            set->local[s->n_tensors] = i;
            t->file_index = k;
            s->n_tensors++;
            if (fill_tensor(g, &g->tensors[i], t, e) != 0)
                return -1;
        }
    }
    return set->n > 1 ? check_unique(s, e) : 0;
}

int wk_gguf_open_source(const char *path, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_gguf *g;
    if (wk_gguf_open(path, &g, e) != 0)
        return -1;
    split_keys keys = {0};
    int split = read_split_keys(g, &keys, e);
    if (split < 0) {
        wk_gguf_close(g);
        return -1;
    }
    wk_source *s = wk_source_new("gguf", path);
    gguf_set *set = calloc(1, sizeof *set);
    if (!s || !set) {
        free(set);
        wk_source_free_common(s);
        wk_gguf_close(g);
        return wk_fail(e, "%s: out of memory", path);
    }
    s->ops = &GGUF_OPS;
    s->impl = set;
    int rc;
    if (split) {
        rc = open_set(path, g, &keys, set, e);
    } else if ((set->files = calloc(1, sizeof *set->files)) != NULL) {
        set->files[0] = g;
        set->n = 1;
        rc = 0;
    } else {
        wk_gguf_close(g);
        rc = wk_fail(e, "%s: out of memory", path);
    }
    if (rc == 0) {
        s->gguf = set->files[0];
        rc = fill_source(s, set, e);
    }
    if (rc != 0) {
        gguf_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

wk_gguf_sums wk_gguf_checksums_state(const wk_gguf *g)
{
    if (!wk_gguf_find(g, WK_GGUF_CHECKSUM_KEY))
        return WK_GGUF_SUMS_NONE;
    const wk_gguf_kv *layout = wk_gguf_find(g, WK_GGUF_LAYOUT_KEY);
    if (!layout) /* written before the layout hash existed */
        return WK_GGUF_SUMS_STORED;
    XXH64_state_t *st = wk_gguf_layout_hash_start();
    if (layout->value.type != WK_GGUF_U64 || !st) {
        if (st)
            XXH64_freeState(st);
        return WK_GGUF_SUMS_STALE;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const wk_gguf_tensor_info *t = &g->tensors[i];
        wk_gguf_layout_hash_add(st, t->name.ptr, t->name.len, t->n_dims, t->ne, t->ggml_type,
                                t->offset);
    }
    return wk_gguf_layout_hash_finish(st) == layout->value.u ? WK_GGUF_SUMS_STORED
                                                              : WK_GGUF_SUMS_STALE;
}

/* The checksum array: 0 with *out, 1 when the file has none (or only stale ones), -1 when
 * it is malformed. */
static int checksum_array(const wk_gguf *g, const wk_gguf_value **out, wk_err *e)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, WK_GGUF_CHECKSUM_KEY);
    if (!kv || wk_gguf_checksums_state(g) == WK_GGUF_SUMS_STALE)
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

int wk_gguf_source_check_xxh64(const wk_source *s, size_t i, const void *data, uint64_t size,
                               wk_err *e)
{
    const wk_gguf *g = wk_gguf_source_file(s, s->tensors[i].file_index);
    if (!g)
        return 1;
    size_t first = i; /* a set lists each file's tensors together, in the file's order */
    while (first > 0 && s->tensors[first - 1].file_index == s->tensors[i].file_index)
        first--;
    return wk_gguf_check_xxh64(g, i - first, data, size, e);
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
