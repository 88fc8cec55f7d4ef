/* PyTorch checkpoints (pytorch_model.bin, *.pt, *.pth) read without executing code.
 *
 * Three containers (torch/serialization.py): the zip torch.save writes since 1.6
 * (pytorch_zip.c), the legacy stream of consecutive pickles followed by raw storages, and
 * the older tar (pytorch_legacy.c). Each yields a pickle tree from the restricted
 * unpickler (pickle.h); pytorch_state.c finds the state dict in it and turns every tensor
 * into a wk_pt_tensor (storage, offset, shape, strides) checked against its storage;
 * pytorch_file.c hands out the bytes (mapped in place when contiguous, gathered otherwise);
 * pytorch_index.c makes one or several files (a sharded pytorch_model.bin.index.json) a
 * wk_source of format "pytorch". */
#ifndef WK_FORMATS_PYTORCH_H
#define WK_FORMATS_PYTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/fileio.h"
#include "formats/pytorch/pickle.h"
#include "formats/source.h"

#define WK_PT_MAX_TENSORS 1000000u
#define WK_PT_MAX_PICKLE_ENTRY (1ull << 30) /* data.pkl and tar members other than storages */
#define WK_PT_MAX_INFLATE_RATIO 1100u       /* deflate cannot expand more than ~1032:1 */

/* ---- public ---- */

/* True when the first bytes look like a zip or a legacy torch.save stream. */
bool wk_pt_sniff(const unsigned char *magic, size_t got);
/* One checkpoint file of any of the three containers. */
int wk_pt_open_file(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e);
/* pytorch_model.bin.index.json and the shards it names (below its directory). */
int wk_pt_open_index(const char *index_path, const wk_open_opts *opts, wk_source **out,
                     wk_err *e);

/* ---- shared by the pytorch_*.c files ---- */

/* The largest tensor a broadcast (stride 0) view may expand to when it is read. */
#define WK_PT_MAX_EXPANDED (256ull << 20)

/* Where a storage's bytes are. */
typedef enum wk_pt_where { WK_PT_MAPPED, WK_PT_ZIP_DEFLATED, WK_PT_BUFFER } wk_pt_where;

typedef struct wk_pt_storage {
    char *key;
    wk_dtype dtype;
    uint64_t numel;     /* elements of dtype, from the persistent id */
    uint64_t nbytes;
    wk_pt_where where;
    uint64_t offset;    /* MAPPED: file offset; BUFFER: offset into the file's buffer */
    size_t entry;       /* zip entry holding it (zip files) */
    bool located;       /* bytes found in the container */
} wk_pt_storage;

typedef struct wk_pt_tensor {
    char *name;
    size_t storage;
    wk_dtype dtype;
    uint64_t offset; /* in elements */
    uint32_t n_dims;
    uint64_t shape[WK_MAX_DIMS];
    uint64_t stride[WK_MAX_DIMS];
    size_t alias_plus1; /* 1 + index of an earlier tensor of the file that is the very same
                           data (tied weights), else 0 */
} wk_pt_tensor;

typedef struct wk_pt_zip wk_pt_zip;

typedef struct wk_pt_file {
    char *path;
    wk_map map;
    wk_pt_zip *zip;      /* zip container, else NULL */
    uint8_t *buf;        /* tar: the storages member, read whole; data.pkl when deflated */
    uint64_t buf_len;
    size_t n_storages, cap_storages;
    wk_pt_storage *storages;
    size_t *key_slots;   /* open-addressing index of storage keys: storage index + 1, 0 empty */
    size_t n_slots;      /* a power of two, at least twice n_storages */
    size_t n_tensors;
    wk_pt_tensor *tensors;
} wk_pt_file;

/* pytorch_file.c */
int wk_pt_file_open(const char *path, const wk_open_opts *opts, wk_pt_file **out, wk_err *e);
void wk_pt_file_close(wk_pt_file *f);
/* Tensor i's bytes, contiguous, into v. Safe from several threads. */
int wk_pt_file_read(wk_pt_file *f, size_t i, wk_view *v, wk_err *e);

/* pytorch_state.c: the state dict inside a loaded pickle. Tensors may be TENSOR nodes
 * (zip and legacy stream) or, in the tar format, PERSID nodes naming a tensor key. */
typedef struct wk_pt_item {
    char *name;
    const wk_pval *value;
} wk_pt_item;
int wk_pt_find_state_dict(const wk_pval *root, const char *key, const char *where,
                          wk_pt_item **items, size_t *n, wk_err *e);
void wk_pt_items_free(wk_pt_item *items, size_t n);
/* The storage called key, added on first sight; a later mention must agree on dtype and
 * element count. name says who mentions it, for messages. */
int wk_pt_add_storage(wk_pt_file *f, const char *key, wk_dtype dt, uint64_t numel,
                      const char *name, size_t *idx, wk_err *e);
/* The same for a PERSID node ('storage', StorageType, key, location, numel[, None]). */
int wk_pt_register_storage(wk_pt_file *f, const wk_pval *persid, const char *name,
                           size_t *idx, wk_err *e);
/* Resolves a TENSOR node's persistent id ('storage', StorageType, key, location, numel
 * [, view_metadata]) into f->storages (adding it on first sight) and fills t. */
int wk_pt_tensor_from_node(wk_pt_file *f, const char *name, const wk_pval *node,
                           wk_pt_tensor *t, wk_err *e);
/* Every element t touches lies inside its storage. */
int wk_pt_tensor_check(const wk_pt_file *f, const wk_pt_tensor *t, wk_err *e);
/* Index of the storage called key, or -1. */
long wk_pt_storage_find(const wk_pt_file *f, const char *key);

/* pytorch_zip.c */
int wk_pt_zip_open(wk_pt_file *f, wk_pt_zip **out, wk_err *e);
void wk_pt_zip_free(wk_pt_zip *z);
/* The bytes of data.pkl (pointing into the map, or into f->buf when deflated) and the
 * archive's root folder name. */
int wk_pt_zip_pickle(wk_pt_file *f, const uint8_t **data, uint64_t *len, wk_err *e);
/* Finds every storage's entry "<root>/data/<key>" and checks its size. */
int wk_pt_zip_locate(wk_pt_file *f, wk_err *e);
/* Storage bytes: *data points into the map (stored entry, CRC checked) or into *owned
 * (deflated entry, inflated through libarchive, CRC checked). */
int wk_pt_zip_storage(wk_pt_file *f, const wk_pt_storage *s, const uint8_t **data,
                      uint8_t **owned, wk_err *e);

/* pytorch_legacy.c */
bool wk_pt_is_legacy(const uint8_t *p, uint64_t n);
bool wk_pt_is_tar(const uint8_t *p, uint64_t n);
int wk_pt_legacy_load(wk_pt_file *f, const wk_open_opts *opts, wk_parena *a, wk_err *e);
int wk_pt_tar_load(wk_pt_file *f, const wk_open_opts *opts, wk_parena *a, wk_err *e);

/* pytorch_file.c: the state dict of root into f->tensors (zip and legacy stream). */
int wk_pt_collect(wk_pt_file *f, const wk_pval *root, const wk_open_opts *opts,
                  const char *where, wk_err *e);

#endif
