/* safetensors reading (single file, several files, sharded with an index) and streaming
 * writing. Format: huggingface/safetensors README; rules: safetensors/src/tensor.rs
 * (see docs/formats in ../shared and the header of safetensors_read.c). */
#ifndef WK_FORMATS_SAFETENSORS_H
#define WK_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/source.h"

#define WK_ST_MAX_HEADER 100000000ull

/* One .safetensors file as a source. */
int wk_st_open_file(const char *path, wk_source **out, wk_err *e);
/* Several files as one logical model (tensor names must be unique across them). */
int wk_st_open_files(const char *const *paths, size_t n, wk_source **out, wk_err *e);
/* model.safetensors.index.json: every tensor of weight_map must be in the shard it names,
 * and every tensor in a shard must be listed. */
int wk_st_open_index(const char *index_path, wk_source **out, wk_err *e);

/* Streaming writer: declare every tensor first, then write data in declaration order. The
 * header (padded with spaces to a multiple of 8) goes out on the first data write. */
typedef struct wk_st_writer wk_st_writer;
int wk_st_writer_open(const char *path, wk_st_writer **out, wk_err *e);
int wk_st_writer_add_metadata(wk_st_writer *w, const char *key, const char *value, wk_err *e);
int wk_st_writer_add_tensor(wk_st_writer *w, const char *name, wk_dtype dtype, uint32_t n_dims,
                            const uint64_t *shape, wk_err *e);
int wk_st_writer_write(wk_st_writer *w, const void *data, uint64_t size, wk_err *e); /* any chunking */
int wk_st_writer_finish(wk_st_writer *w, wk_err *e);  /* frees w */
void wk_st_writer_abort(wk_st_writer *w);            /* frees w */

#endif
