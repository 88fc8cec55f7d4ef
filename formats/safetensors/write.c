/* Streaming safetensors writer (huggingface/safetensors README "Format"; the header layout
 * of safetensors/src/tensor.rs serialize: `__metadata__` first, JSON padded with spaces
 * so the data starts at a multiple of 8).
 *
 * Every tensor is declared first (name, dtype, shape) and its bytes then come in
 * declaration order, in chunks of any size; tensors are laid out back to back in that
 * order (declare larger element types first, as the reference writer orders them, and
 * every tensor stays aligned in the file). The header goes out on the first data write
 * (or at finish when there is no data). Names must be UTF-8, unique and not
 * `__metadata__`; offsets stay <= 2^53 so JSON readers hold them exactly. Output goes to
 * a temporary file that finish renames into place only once exactly the declared number
 * of bytes has been written. */
#include "formats/safetensors/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/fileio.h"
#include "common/grow.h"
#include "common/strutil.h"
#include "formats/safetensors/internal.h"

typedef struct st_decl {
    char *name;
    wk_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[WK_MAX_DIMS];
    uint64_t n_bytes;
} st_decl;

struct wk_st_writer {
    wk_outfile out;
    size_t n_tensors, tensors_cap;
    st_decl *tensors;
    size_t n_meta, meta_cap;
    wk_string_pair *meta;
    uint64_t total;   /* declared data bytes */
    uint64_t written; /* data bytes written so far */
    int header_done;
    int failed; /* a write went wrong: only abort is left */
};

/* A JSON string literal; s is already known to be UTF-8. */
static void sb_json_string(wk_buf *b, const char *s)
{
    wk_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            wk_buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            wk_buf_printf(b, "\\u%04x", *p);
        } else {
            wk_buf_put(b, (const char *)p, 1);
        }
    }
    wk_buf_put(b, "\"", 1);
}

static int check_text(const wk_st_writer *w, const char *what, const char *s, wk_err *e)
{
    size_t bad;
    if (!wk_utf8_valid((const uint8_t *)s, strlen(s), &bad))
        return wk_fail(e, "%s: %s '%s' is not valid UTF-8 (byte %zu)", w->out.final_path, what,
                       s, bad);
    return 0;
}

int wk_st_writer_open(const char *path, wk_st_writer **out, wk_err *e)
{
    *out = NULL;
    wk_st_writer *w = calloc(1, sizeof *w);
    if (!w)
        return wk_fail(e, "%s: out of memory", path);
    if (wk_out_open(&w->out, path, e) != 0) {
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int wk_st_writer_add_metadata(wk_st_writer *w, const char *key, const char *value, wk_err *e)
{
    if (w->header_done)
        return wk_fail(e, "%s: metadata '%s' added after data writing began", w->out.final_path,
                       key);
    if (check_text(w, "metadata key", key, e) != 0 ||
        check_text(w, "metadata value", value, e) != 0)
        return -1;
    if (wk_grow((void **)&w->meta, &w->meta_cap, w->n_meta + 1, sizeof *w->meta) != 0)
        return wk_fail(e, "%s: out of memory", w->out.final_path);
    wk_string_pair p = {strdup(key), strdup(value)};
    if (!p.key || !p.value) {
        free(p.key);
        free(p.value);
        return wk_fail(e, "%s: out of memory", w->out.final_path);
    }
    w->meta[w->n_meta++] = p;
    return 0;
}

int wk_st_writer_add_tensor(wk_st_writer *w, const char *name, wk_dtype dtype, uint32_t n_dims,
                            const uint64_t *shape, wk_err *e)
{
    const char *path = w->out.final_path;
    if (w->header_done)
        return wk_fail(e, "%s: tensor '%s' declared after data writing began", path, name);
    if (check_text(w, "tensor name", name, e) != 0)
        return -1;
    if (strcmp(name, "__metadata__") == 0)
        return wk_fail(e, "%s: '__metadata__' is reserved and cannot name a tensor", path);
    const wk_type_traits *tt = wk_type(dtype);
    if (!tt || !tt->in_safetensors)
        return wk_fail(e, "%s: tensor '%s': type %s has no safetensors dtype", path, name,
                       tt ? tt->name : "(unknown)");
    st_decl d = {.dtype = dtype};
    wk_tensor t = {.name = (char *)name, .dtype = dtype};
    if (wk_tensor_set_shape(&t, n_dims, shape, e) != 0)
        return wk_fail_prefix(e, "%s", path);
    for (uint32_t i = 0; i < n_dims; i++)
        if (shape[i] > WK_ST_MAX_JSON_INT)
            return wk_fail(e, "%s: tensor '%s': dimension %u is over 2^53", path, name, i);
    uint64_t end;
    if (wk_add_u64(w->total, t.n_bytes, &end) != 0 || end > WK_ST_MAX_JSON_INT)
        return wk_fail(e, "%s: tensor '%s' would end past 2^53 bytes of data", path, name);
    if (wk_grow((void **)&w->tensors, &w->tensors_cap, w->n_tensors + 1, sizeof *w->tensors))
        return wk_fail(e, "%s: out of memory", path);
    d.name = strdup(name);
    if (!d.name)
        return wk_fail(e, "%s: out of memory", path);
    d.n_dims = n_dims;
    if (n_dims)
        memcpy(d.shape, shape, n_dims * sizeof *shape);
    d.n_bytes = t.n_bytes;
    w->tensors[w->n_tensors++] = d;
    w->total = end;
    return 0;
}

static int check_unique(const wk_st_writer *w, wk_err *e)
{
    size_t n = w->n_tensors > w->n_meta ? w->n_tensors : w->n_meta;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names)
        return wk_fail(e, "%s: out of memory", w->out.final_path);
    for (size_t i = 0; i < w->n_tensors; i++)
        names[i] = w->tensors[i].name;
    const char *dup = wk_find_duplicate(names, w->n_tensors);
    int rc = dup ? wk_fail(e, "%s: tensor '%s' declared twice", w->out.final_path, dup) : 0;
    for (size_t i = 0; rc == 0 && i < w->n_meta; i++)
        names[i] = w->meta[i].key;
    dup = rc == 0 ? wk_find_duplicate(names, w->n_meta) : NULL;
    if (dup)
        rc = wk_fail(e, "%s: metadata key '%s' added twice", w->out.final_path, dup);
    free(names);
    return rc;
}

static void build_header(const wk_st_writer *w, wk_buf *b)
{
    wk_buf_put(b, "{", 1);
    if (w->n_meta) {
        wk_buf_put(b, "\"__metadata__\":{", 16);
        for (size_t i = 0; i < w->n_meta; i++) {
            if (i)
                wk_buf_put(b, ",", 1);
            sb_json_string(b, w->meta[i].key);
            wk_buf_put(b, ":", 1);
            sb_json_string(b, w->meta[i].value);
        }
        wk_buf_put(b, "}", 1);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const st_decl *d = &w->tensors[i];
        if (i || w->n_meta)
            wk_buf_put(b, ",", 1);
        sb_json_string(b, d->name);
        wk_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", wk_type(d->dtype)->name);
        for (uint32_t k = 0; k < d->n_dims; k++)
            wk_buf_printf(b, "%s%llu", k ? "," : "", (unsigned long long)d->shape[k]);
        wk_buf_printf(b, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += d->n_bytes;
        wk_buf_printf(b, "%llu]}", (unsigned long long)off);
    }
    wk_buf_put(b, "}", 1);
    while (b->len % 8)
        wk_buf_put(b, " ", 1);
}

static int write_header(wk_st_writer *w, wk_err *e)
{
    if (check_unique(w, e) != 0)
        return -1;
    wk_buf b = {0};
    build_header(w, &b);
    if (b.oom) {
        wk_buf_free(&b);
        return wk_fail(e, "%s: out of memory for the header", w->out.final_path);
    }
    if (b.len > WK_ST_MAX_HEADER) {
        wk_buf_free(&b);
        return wk_fail(e, "%s: header would be %zu bytes, over the %llu-byte limit",
                       w->out.final_path, b.len, WK_ST_MAX_HEADER);
    }
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
    int rc = wk_out_write(&w->out, len, sizeof len, e);
    if (rc == 0)
        rc = wk_out_write(&w->out, b.p, b.len, e);
    wk_buf_free(&b);
    w->header_done = 1;
    return rc;
}

int wk_st_writer_write(wk_st_writer *w, const void *data, uint64_t size, wk_err *e)
{
    if (w->failed)
        return wk_fail(e, "%s: writer already failed", w->out.final_path);
    int rc = w->header_done ? 0 : write_header(w, e);
    if (rc == 0 && size > w->total - w->written)
        rc = wk_fail(e, "%s: %llu more bytes written than the %llu declared", w->out.final_path,
                     (unsigned long long)(size - (w->total - w->written)),
                     (unsigned long long)w->total);
    if (rc == 0)
        rc = wk_out_write(&w->out, data, (size_t)size, e);
    if (rc != 0) {
        w->failed = 1;
        return -1;
    }
    w->written += size;
    return 0;
}

/* The tensor that data offset `pos` falls in (the last one when pos is at the end). */
static const char *tensor_at(const wk_st_writer *w, uint64_t pos)
{
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        off += w->tensors[i].n_bytes;
        if (pos < off)
            return w->tensors[i].name;
    }
    return w->n_tensors ? w->tensors[w->n_tensors - 1].name : "";
}

int wk_st_writer_finish(wk_st_writer *w, wk_err *e)
{
    int rc = -1;
    if (w->failed)
        wk_fail(e, "%s: writer already failed", w->out.final_path);
    else if (!w->header_done && write_header(w, e) != 0)
        w->failed = 1;
    else if (w->written != w->total)
        wk_fail(e, "%s: only %llu of the %llu declared data bytes were written (tensor '%s' is "
                   "incomplete)", w->out.final_path, (unsigned long long)w->written,
                (unsigned long long)w->total, tensor_at(w, w->written));
    else
        rc = wk_out_commit(&w->out, e);
    wk_st_writer_abort(w);
    return rc;
}

void wk_st_writer_abort(wk_st_writer *w)
{
    if (!w)
        return;
    wk_out_abort(&w->out);
    for (size_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->meta);
    free(w);
}
