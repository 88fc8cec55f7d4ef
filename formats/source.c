/* Tensor sources: format detection for a path, and the parts every reader shares. */
#include "formats/source.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/grow.h"
#include "common/strutil.h"
#include "formats/gguf/gguf.h"
#include "formats/pytorch/pytorch.h"
#include "formats/safetensors/safetensors.h"

/* ---- sources and tensors, whatever the format ---- */

wk_source *wk_source_new(const char *format, const char *path)
{
    wk_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->format = format;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return NULL;
    }
    return s;
}

void wk_source_free_common(wk_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tensors; i++)
        free(s->tensors[i].name);
    free(s->tensors);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    for (size_t i = 0; i < s->n_metadata; i++) {
        free(s->metadata[i].key);
        free(s->metadata[i].value);
    }
    free(s->metadata);
    free(s->path);
    free(s->dir);
    free(s);
}

int wk_tensor_set_shape(wk_tensor *t, uint32_t n_dims, const uint64_t *shape, wk_err *e)
{
    if (n_dims > WK_MAX_DIMS)
        return wk_fail(e, "tensor '%s' has %u dimensions; at most %d are supported", t->name,
                       n_dims, WK_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (wk_mul_u64(n, shape[d], &n) != 0)
            return wk_fail(e, "tensor '%s': element count overflows 64 bits", t->name);
        t->shape[d] = shape[d];
    }
    t->n_dims = n_dims;
    t->n_elements = n;
    if (wk_type_nbytes(t->dtype, n, &t->n_bytes, e) != 0)
        return wk_fail_prefix(e, "tensor '%s'", t->name);
    return 0;
}

void wk_shape_format(const wk_tensor *t, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "[");
    for (uint32_t d = 0; d < t->n_dims; d++)
        k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%llu", d ? ", " : "",
                              (unsigned long long)t->shape[d]);
    snprintf(buf + k, k < len ? len - k : 0, "]");
}

long wk_source_find(const wk_source *s, const char *name)
{
    for (size_t i = 0; i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The alignment a type's decoders need: the largest power of two dividing its block size
 * in bytes, at most 8 (F32 4, F16 2, Q4_0's 18-byte blocks 2). */
static uintptr_t type_alignment(wk_dtype t)
{
    uintptr_t ts = wk_type(t)->type_size, a = ts & (~ts + 1);
    return a > 8 ? 8 : a;
}

int wk_source_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    memset(v, 0, sizeof *v);
    if (i >= s->n_tensors)
        return wk_fail(e, "%s: no tensor #%zu (it has %zu)", s->path, i, s->n_tensors);
    if (s->ops->read(s, i, v, e) != 0)
        return -1;
    /* Containers need not align tensor data (legacy torch.save streams, safetensors, a GGUF
     * with a small general.alignment): hand out an aligned copy, since every consumer reads
     * whole elements. */
    const wk_tensor *t = &s->tensors[i];
    if (v->size == 0 || (uintptr_t)v->data % type_alignment(t->dtype) == 0)
        return 0;
    uint64_t size = v->size;
    void *copy = malloc(size);
    if (!copy) {
        wk_view_release(v);
        return wk_fail(e, "%s: tensor '%s': out of memory for an aligned copy of %llu bytes",
                       s->files[t->file_index], t->name, (unsigned long long)size);
    }
    memcpy(copy, v->data, size);
    wk_view_release(v);
    v->data = copy;
    v->owned = copy;
    v->size = size;
    return 0;
}

void wk_view_drop_range(const wk_view *v, uint64_t off, uint64_t len)
{
    if (!v->mapped || off >= v->size)
        return;
    if (len > v->size - off)
        len = v->size - off;
    wk_map_drop((const uint8_t *)v->data + off, len);
}

void wk_view_release(wk_view *v)
{
    wk_view_drop_range(v, 0, v->size);
    free(v->owned);
    memset(v, 0, sizeof *v);
}

void wk_source_close(wk_source *s)
{
    if (s)
        s->ops->close(s);
}

/* ---- opening: a model directory, or one file by its magic ---- */

/* Every "*.safetensors" in dir, sorted; *n = 0 when none. */
static int list_safetensors(const char *dir, char ***out, size_t *n, wk_err *e)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return wk_fail(e, "%s: cannot open directory: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!wk_has_suffix(de->d_name, ".safetensors"))
            continue;
        if (wk_grow((void **)out, &cap, *n + 1, sizeof **out) != 0) {
            rc = wk_fail(e, "%s: out of memory", dir);
            break;
        }
        if (((*out)[*n] = wk_path_join(dir, de->d_name)) == NULL)
            rc = wk_fail(e, "%s: out of memory", dir);
        else
            (*n)++;
    }
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            free((*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, wk_cmp_cstr);
    return 0;
}

/* The weight files a Hugging Face model directory may hold, in the order they are tried;
 * every *.safetensors file together comes between the safetensors and PyTorch names. */
typedef int (*open_fn)(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e);

static int open_st_index(const char *p, const wk_open_opts *o, wk_source **out, wk_err *e)
{
    (void)o;
    return wk_st_open_index(p, out, e);
}

static int open_st_file(const char *p, const wk_open_opts *o, wk_source **out, wk_err *e)
{
    (void)o;
    return wk_st_open_file(p, out, e);
}

static const struct {
    const char *name;
    open_fn open;
} DIR_CANDIDATES[] = {
    {"model.safetensors.index.json", open_st_index},
    {"model.safetensors", open_st_file},
    {"*.safetensors", NULL},
    {"pytorch_model.bin.index.json", wk_pt_open_index},
    {"pytorch_model.bin", wk_pt_open_file},
};

/* Tries one candidate: 1 when it is not there, else the opener's 0 / -1. */
static int try_candidate(const char *dir, size_t c, const wk_open_opts *opts, wk_source **out,
                         wk_err *e)
{
    if (DIR_CANDIDATES[c].open == NULL) {
        char **files;
        size_t n;
        if (list_safetensors(dir, &files, &n, e) != 0)
            return -1;
        int rc = n ? wk_st_open_files((const char *const *)files, n, out, e) : 1;
        for (size_t i = 0; i < n; i++)
            free(files[i]);
        free(files);
        return rc;
    }
    char *p = wk_path_join(dir, DIR_CANDIDATES[c].name);
    if (!p)
        return wk_fail(e, "%s: out of memory", dir);
    int kind = wk_optional_file(p, e);
    int rc = kind < 0 ? -1 : kind == 0 ? 1 : DIR_CANDIDATES[c].open(p, opts, out, e);
    free(p);
    return rc;
}

static int open_model_dir(const char *dir, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    for (size_t c = 0; c < sizeof DIR_CANDIDATES / sizeof DIR_CANDIDATES[0]; c++) {
        int rc = try_candidate(dir, c, opts, out, e);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue;
        char *d = strdup(dir), *p = strdup(dir);
        if (!d || !p) {
            free(d);
            free(p);
            wk_source_close(*out);
            *out = NULL;
            return wk_fail(e, "%s: out of memory", dir);
        }
        free((*out)->dir);
        free((*out)->path);
        (*out)->dir = d;
        (*out)->path = p;
        return 0;
    }
    return wk_fail(e, "%s: no model weights found (looked for model.safetensors.index.json, "
                      "model.safetensors, *.safetensors, pytorch_model.bin.index.json, "
                      "pytorch_model.bin)", dir);
}

/* Reads the first bytes of a file to tell formats apart (a FIFO or device is refused,
 * never waited on). */
static int sniff(const char *path, unsigned char *buf, size_t len, size_t *got, wk_err *e)
{
    int fd = wk_open_regular(path, NULL, e);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, buf, len, 0);
    close(fd);
    if (n < 0)
        return wk_fail(e, "%s: cannot read: %s", path, strerror(errno));
    *got = (size_t)n;
    return 0;
}

static int open_any(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e);

int wk_source_open(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    if (open_any(path, opts, out, e) != 0)
        return -1;
    if (opts && opts->state_dict_key && strcmp((*out)->format, "pytorch") != 0) {
        int rc = wk_fail(e, "%s: a state-dict key ('%s') applies to PyTorch checkpoints, and "
                            "this is a %s model", path, opts->state_dict_key, (*out)->format);
        wk_source_close(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}

/* Chooses the reader: a directory; a missing NAME.gguf that names a split set; GGUF magic; the names of the sharded-index files; a u64
 * length followed by '{' (safetensors); a zip or pickle from torch.save; then the file's
 * extension, so a misnamed file still opens and a damaged one gets its own format's
 * message. */
static int open_any(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    *out = NULL;
    if (wk_is_dir(path))
        return open_model_dir(path, opts, out, e);
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        /* NAME.gguf written as a split set: NAME-00001-of-0000N.gguf ... */
        char *first = wk_gguf_find_split_set(path);
        if (first) {
            int rc = wk_gguf_open_source(first, out, e);
            free(first);
            return rc;
        }
    }
    unsigned char magic[9] = {0};
    size_t got = 0;
    if (sniff(path, magic, sizeof magic, &got, e) != 0)
        return -1;
    if (got >= 4 && memcmp(magic, "GGUF", 4) == 0)
        return wk_gguf_open_source(path, out, e);
    if (wk_has_suffix(path, ".json") && strstr(path, "safetensors.index"))
        return wk_st_open_index(path, out, e);
    if (wk_has_suffix(path, ".json") && strstr(path, ".bin.index"))
        return wk_pt_open_index(path, opts, out, e);
    /* before the pickle test: a header length such as 640 starts with the bytes 0x80 0x02 */
    if ((got == 9 && magic[8] == '{') || wk_has_suffix(path, ".safetensors"))
        return wk_st_open_file(path, out, e);
    if (wk_pt_sniff(magic, got))
        return wk_pt_open_file(path, opts, out, e);
    if (wk_has_suffix(path, ".gguf"))
        return wk_gguf_open_source(path, out, e);
    if (wk_has_suffix(path, ".bin") || wk_has_suffix(path, ".pt") || wk_has_suffix(path, ".pth"))
        return wk_pt_open_file(path, opts, out, e);
    return wk_fail(e, "%s: unrecognised model file (expected a model directory, .safetensors, "
                      ".gguf or a PyTorch checkpoint)", path);
}
