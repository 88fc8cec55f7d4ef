/* The tensor-source interface: one logical model, whatever the files behind it.
 *
 * A source lists tensors (name, dtype, shape, byte size) from headers alone, and hands out
 * one tensor's bytes on request. safetensors (single or sharded), GGUF and PyTorch
 * checkpoints all implement it, so wk-inspect, wk-convert and wk-quantize never care which
 * format they read. Shapes are always stored outermost dimension first (PyTorch order);
 * the GGUF reader reverses ggml's ne[] to fit. Data is row-major and contiguous. */
#ifndef WK_FORMATS_SOURCE_H
#define WK_FORMATS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "quant/types.h"

#define WK_MAX_DIMS 8

typedef struct wk_tensor {
    char *name;
    wk_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[WK_MAX_DIMS]; /* outermost first; shape[n_dims-1] is the row length */
    uint64_t n_elements;
    uint64_t n_bytes;
    uint32_t file_index; /* index into wk_source.files */
    size_t alias_of_plus1; /* 1 + the index of an earlier tensor that is the very same data
                              (PyTorch tied weights: one storage, same offset, shape and
                              strides); 0 (the zeroed default): none */
} wk_tensor;

/* One tensor's bytes, aligned for its element type (wk_source_read copies data that the
 * container left misaligned). `data` stays valid until wk_view_release (or wk_source_close for
 * mapped data). `owned` is non-NULL when the reader had to allocate (decompression,
 * gathering strided data) and is freed by wk_view_release. `mapped` is true when data
 * points straight into a read-only file mapping: a consumer that streams through a large
 * tensor may then drop the pages it has used (madvise MADV_DONTNEED) to keep its resident
 * memory flat; the kernel reads them again from the page cache if they are touched. */
typedef struct wk_view {
    const void *data;
    uint64_t size;
    void *owned;
    bool mapped;
} wk_view;

typedef struct wk_source wk_source;

typedef struct wk_source_ops {
    /* Fills v with tensor i's bytes. Must be safe to call from several threads at once
     * for different tensors. */
    int (*read)(wk_source *s, size_t i, wk_view *v, wk_err *e);
    void (*close)(wk_source *s);
} wk_source_ops;

typedef struct wk_string_pair {
    char *key;
    char *value;
} wk_string_pair;

struct wk_source {
    const char *format;      /* "safetensors", "gguf", "pytorch" */
    char *path;              /* what the user named: a file or a model directory */
    char *dir;               /* model directory holding config.json and tokenizer files, or NULL */
    size_t n_tensors;
    wk_tensor *tensors;      /* in file order (shard order, then offset order) */
    size_t n_files;
    char **files;            /* the data files read, for provenance and error messages */
    size_t n_metadata;       /* safetensors __metadata__ (string -> string); empty otherwise */
    wk_string_pair *metadata;
    struct wk_gguf *gguf;    /* the parsed GGUF (metadata) when format is "gguf", else NULL */
    const wk_source_ops *ops;
    void *impl;
};

/* Opens a model from a path: a model directory (Hugging Face layout: sharded or single
 * safetensors, or PyTorch .bin), a .safetensors file, a .gguf file, or a .bin/.pt/.pth
 * PyTorch checkpoint. Detection looks at magic bytes, not just names. */
typedef struct wk_open_opts {
    const char *state_dict_key; /* PyTorch: which entry of a wrapping dict holds the state
                                   dict ("state_dict", "model", ...); NULL: find it */
} wk_open_opts;

int wk_source_open(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e);
int wk_source_read(wk_source *s, size_t i, wk_view *v, wk_err *e);
/* Frees what the view owns; for a mapped view, drops its pages from this process. */
void wk_view_release(wk_view *v);
/* For a mapped view: drops the pages wholly inside [off, off + len) of it, so a consumer
 * streaming through a large tensor keeps its resident memory flat. No-op otherwise. */
void wk_view_drop_range(const wk_view *v, uint64_t off, uint64_t len);
void wk_source_close(wk_source *s);

/* Index of the tensor called name, or -1. Linear scan unless the source built an index. */
long wk_source_find(const wk_source *s, const char *name);

/* Helpers for implementations: allocate the wk_source shell and free the common parts. */
wk_source *wk_source_new(const char *format, const char *path);
void wk_source_free_common(wk_source *s);

/* Shape helpers shared by the readers. */
int wk_tensor_set_shape(wk_tensor *t, uint32_t n_dims, const uint64_t *shape, wk_err *e);
/* "[32000, 2048]" into buf. */
void wk_shape_format(const wk_tensor *t, char *buf, size_t len);

#endif
