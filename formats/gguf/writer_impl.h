/* The GGUF writer's state, shared by its two halves: write.c collects metadata and tensor
 * declarations, write_data.c plans the files (one, or a llama.cpp split set) and streams
 * headers and tensor data into them. Not for use outside formats/gguf/. */
#ifndef WK_FORMATS_GGUF_WRITER_IMPL_H
#define WK_FORMATS_GGUF_WRITER_IMPL_H

#include <xxhash.h>

#include "common/fileio.h"
#include "formats/gguf/gguf.h"

#define WK_GGUF_ALIGNMENT_KEY "general.alignment"

typedef struct wk_gguf_kv_entry {
    char *key;
    uint8_t *val; /* u32 type + encoded value */
    size_t len;
} wk_gguf_kv_entry;

typedef struct wk_gguf_tensor_entry {
    char *name;
    wk_dtype dtype;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t n_bytes;
    uint64_t offset; /* in its file's data section */
} wk_gguf_tensor_entry;

/* One output file: tensors [t0, t1) of the writer. */
typedef struct wk_gguf_shard {
    wk_outfile out;
    bool opened;
    size_t t0, t1;
    uint64_t sums_off; /* file offset of its checksum array's elements */
} wk_gguf_shard;

struct wk_gguf_writer {
    char *path; /* as the caller named it; shard names derive from it */
    wk_gguf_writer_opts opts;
    wk_gguf_kv_entry *kv;
    size_t n_kv, cap_kv;
    wk_gguf_tensor_entry *t;
    size_t n_t, cap_t;
    uint32_t alignment;
    bool started;       /* files planned, the first header written */
    bool failed;        /* an output error: only abort is left */
    wk_gguf_shard *shards;
    uint32_t n_shards;  /* 0 until started (or until the single file is opened) */
    uint32_t cur_shard;
    size_t cur;         /* tensor being written */
    uint64_t cur_done;  /* its bytes written so far */
    XXH64_state_t *xx;
    uint64_t *digests;
};

/* The file named in messages: the one being written, else the name the caller gave. */
const char *wk_gguf_writer_path(const wk_gguf_writer *w);
/* Frees what write.c allocated (not the files). */
void wk_gguf_writer_free(wk_gguf_writer *w);
/* Opens shard k's file (its final name is the plain path for a single file) and reports
 * its leftovers to the caller's callback. */
int wk_gguf_shard_open(wk_gguf_writer *w, uint32_t k, wk_err *e);

#endif
