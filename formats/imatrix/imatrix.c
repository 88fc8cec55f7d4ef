/* Reading llama.cpp imatrix files, GGUF and legacy (see imatrix.h). */
#include "formats/imatrix/imatrix.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/grow.h"
#include "common/le.h"
#include "formats/gguf/gguf.h"

#define MAX_ENTRIES (1u << 20)
#define MAX_NAME 4096

static float le_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)wk_ld_le(p, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const wk_imatrix_entry *)a)->name, ((const wk_imatrix_entry *)b)->name);
}

const wk_imatrix_entry *wk_imatrix_find(const wk_imatrix *im, const char *name)
{
    wk_imatrix_entry key = {.name = (char *)name};
    return bsearch(&key, im->entries, im->n, sizeof key, cmp_entry);
}

void wk_imatrix_free(wk_imatrix *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n; i++) {
        free(im->entries[i].name);
        free(im->entries[i].importance);
    }
    free(im->entries);
    free(im->dataset);
    free(im->path);
    free(im);
}

static wk_imatrix_entry *add_entry(wk_imatrix *im, size_t *cap, const char *name, size_t len,
                                   uint64_t n_values, wk_err *e)
{
    if (wk_grow((void **)&im->entries, cap, im->n + 1, sizeof *im->entries) != 0) {
        wk_fail(e, "%s: out of memory", im->path);
        return NULL;
    }
    wk_imatrix_entry *en = &im->entries[im->n];
    memset(en, 0, sizeof *en);
    en->name = strndup(name, len);
    en->importance = malloc((n_values ? n_values : 1) * sizeof(float));
    if (!en->name || !en->importance) {
        free(en->name);
        free(en->importance);
        wk_fail(e, "%s: out of memory", im->path);
        return NULL;
    }
    im->n++;
    return en;
}

/* ---- GGUF ---- */

static int find_f32_tensor(const wk_gguf *g, const char *name, const wk_gguf_tensor_info **out)
{
    size_t n = strlen(name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name.len == n && memcmp(g->tensors[i].name.ptr, name, n) == 0) {
            *out = &g->tensors[i];
            return 0;
        }
    return -1;
}

static int gguf_entry(wk_imatrix *im, size_t *cap, const wk_gguf *g,
                      const wk_gguf_tensor_info *sums, wk_err *e)
{
    size_t base = sums->name.len - strlen(".in_sum2");
    char counts_name[MAX_NAME + 16];
    if (base > MAX_NAME)
        return wk_fail(e, "%s: tensor name of %" PRIu64 " bytes is too long", im->path,
                       sums->name.len);
    snprintf(counts_name, sizeof counts_name, "%.*s.counts", (int)base, sums->name.ptr);
    const wk_gguf_tensor_info *counts;
    if (find_f32_tensor(g, counts_name, &counts) != 0)
        return wk_fail(e, "%s: '%.*s.in_sum2' has no '%s' beside it", im->path, (int)base,
                       sums->name.ptr, counts_name);
    if (sums->dtype != WK_F32 || counts->dtype != WK_F32)
        return wk_fail(e, "%s: '%.*s' sums and counts must be F32", im->path, (int)base,
                       sums->name.ptr);
    uint64_t n_in = sums->ne[0], n_mat = sums->n_dims > 1 ? sums->ne[1] : 1;
    uint64_t n_counts = counts->ne[0] * (counts->n_dims > 1 ? counts->ne[1] : 1);
    if (n_counts != n_mat || n_in == 0)
        return wk_fail(e, "%s: '%.*s' has %" PRIu64 " counts for %" PRIu64 " matrices of %" PRIu64
                          " columns", im->path, (int)base, sums->name.ptr, n_counts, n_mat, n_in);
    wk_imatrix_entry *en = add_entry(im, cap, sums->name.ptr, base, n_in * n_mat, e);
    if (!en)
        return -1;
    en->n_in = n_in;
    en->n_mat = n_mat;
    const uint8_t *s = g->data + g->data_offset + sums->offset;
    const uint8_t *c = g->data + g->data_offset + counts->offset;
    for (uint64_t m = 0; m < n_mat; m++) {
        float count = le_f32(c + 4 * m);
        for (uint64_t j = 0; j < n_in; j++) {
            float v = le_f32(s + 4 * (m * n_in + j));
            en->importance[m * n_in + j] = count > 0 ? v / count : 1.0f;
        }
    }
    return 0;
}

static int load_gguf(wk_imatrix *im, wk_err *e)
{
    wk_gguf *g;
    if (wk_gguf_open(im->path, &g, e) != 0)
        return -1;
    int rc = 0;
    uint64_t chunks;
    const wk_gguf_kv *ds = wk_gguf_find(g, "imatrix.datasets");
    if (!ds || wk_gguf_get_u64(g, "imatrix.chunk_count", &chunks) != 0 ||
        !wk_gguf_find(g, "imatrix.chunk_size"))
        rc = wk_fail(e, "%s: not an imatrix GGUF (imatrix.datasets, imatrix.chunk_count and "
                        "imatrix.chunk_size are required, as llama-quantize requires them)",
                     im->path);
    if (rc == 0) {
        im->chunk_count = chunks > UINT32_MAX ? UINT32_MAX : (uint32_t)chunks;
        if (ds->value.type == WK_GGUF_ARRAY && ds->value.arr.elem_type == WK_GGUF_STRING &&
            ds->value.arr.count > 0)
            im->dataset = wk_gguf_strdup(ds->value.arr.items[0].str);
    }
    size_t cap = 0;
    for (uint64_t i = 0; rc == 0 && i < g->n_tensors; i++) {
        const wk_gguf_tensor_info *t = &g->tensors[i];
        size_t k = strlen(".in_sum2");
        if (t->name.len > k && memcmp(t->name.ptr + t->name.len - k, ".in_sum2", k) == 0)
            rc = gguf_entry(im, &cap, g, t, e);
    }
    wk_gguf_close(g);
    return rc;
}

/* ---- legacy .dat ---- */

typedef struct {
    const wk_map *m;
    uint64_t off;
} cursor;

static int read_i32(cursor *c, int32_t *v, const char *what, wk_err *e)
{
    if (c->m->size - c->off < 4)
        return wk_fail(e, "%s: offset %" PRIu64 ": file ends inside %s", c->m->path, c->off, what);
    *v = (int32_t)(uint32_t)wk_ld_le(c->m->data + c->off, 4);
    c->off += 4;
    return 0;
}

static int load_legacy(wk_imatrix *im, const wk_map *m, wk_err *e)
{
    cursor c = {m, 0};
    int32_t n_entries;
    if (read_i32(&c, &n_entries, "the entry count", e))
        return -1;
    if (n_entries < 0 || (uint32_t)n_entries > MAX_ENTRIES)
        return wk_fail(e, "%s: offset 0: %d entries; expected 0 to %u (is this an imatrix file?)",
                       m->path, n_entries, MAX_ENTRIES);
    size_t cap = 0;
    for (int32_t k = 0; k < n_entries; k++) {
        int32_t len, ncall, nval;
        uint64_t at = c.off;
        if (read_i32(&c, &len, "an entry's name length", e))
            return -1;
        if (len <= 0 || len > MAX_NAME || (uint64_t)len > m->size - c.off)
            return wk_fail(e, "%s: offset %" PRIu64 ": entry %d has a name of %d bytes; expected "
                              "1 to %d within the file", m->path, at, k, len, MAX_NAME);
        const char *name = (const char *)m->data + c.off;
        c.off += (uint64_t)len;
        if (read_i32(&c, &ncall, "an entry's call count", e) ||
            read_i32(&c, &nval, "an entry's value count", e))
            return -1;
        if (nval <= 0 || (uint64_t)nval * 4 > m->size - c.off)
            return wk_fail(e, "%s: offset %" PRIu64 ": entry '%.*s' has %d values; expected a "
                              "positive count within the file", m->path, c.off - 4, len, name, nval);
        wk_imatrix_entry *en = add_entry(im, &cap, name, (size_t)len, (uint64_t)nval, e);
        if (!en)
            return -1;
        en->n_in = (uint64_t)nval;
        en->n_mat = 1;
        for (int32_t j = 0; j < nval; j++) {
            float v = le_f32(m->data + c.off + 4 * (uint64_t)j);
            en->importance[j] = ncall > 0 ? v / (float)ncall : v;
        }
        c.off += 4 * (uint64_t)nval;
    }
    int32_t chunks = 0, dlen = 0;
    if (m->size - c.off >= 4 && read_i32(&c, &chunks, "the chunk count", e) == 0)
        im->chunk_count = chunks > 0 ? (uint32_t)chunks : 0;
    if (m->size - c.off >= 4 && read_i32(&c, &dlen, "the dataset name", e) == 0 && dlen > 0 &&
        (uint64_t)dlen <= m->size - c.off)
        im->dataset = strndup((const char *)m->data + c.off, (size_t)dlen);
    return 0;
}

int wk_imatrix_load(const char *path, wk_imatrix **out, wk_err *e)
{
    *out = NULL;
    wk_imatrix *im = calloc(1, sizeof *im);
    if (!im || !(im->path = strdup(path))) {
        free(im);
        return wk_fail(e, "%s: out of memory", path);
    }
    wk_map m;
    int rc = wk_map_open(&m, path, e);
    if (rc == 0) {
        bool gguf = m.size >= 4 && memcmp(m.data, "GGUF", 4) == 0;
        im->format = gguf ? "gguf" : "legacy";
        rc = gguf ? load_gguf(im, e) : load_legacy(im, &m, e);
        wk_map_close(&m);
    }
    if (rc == 0 && im->n == 0)
        rc = wk_fail(e, "%s: the imatrix holds no entries", path);
    if (rc == 0)
        qsort(im->entries, im->n, sizeof *im->entries, cmp_entry);
    for (size_t j = 1; rc == 0 && j < im->n; j++)
        if (strcmp(im->entries[j - 1].name, im->entries[j].name) == 0)
            rc = wk_fail(e, "%s: entry '%s' appears twice", path, im->entries[j].name);
    if (rc != 0) {
        wk_imatrix_free(im);
        return -1;
    }
    *out = im;
    return 0;
}
