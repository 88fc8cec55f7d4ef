/* What the safetensors files share among themselves (not for other modules).
 *
 * safetensors_header.c validates one file into a wk_st_file; safetensors_read.c turns
 * validated files into a wk_source; safetensors_index.c resolves a sharded index into
 * files. */
#ifndef WK_FORMATS_SAFETENSORS_INTERNAL_H
#define WK_FORMATS_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/fileio.h"
#include "formats/source.h"

/* JSON numbers are doubles: integers above 2^53 cannot be represented exactly, so the
 * reader refuses them and the writer never produces them. */
#define WK_ST_MAX_JSON_INT 9007199254740992ull

/* One mapped, fully validated .safetensors file. */
typedef struct wk_st_file {
    wk_map map;
    uint64_t data_start;       /* 8 + header length: where the byte buffer begins */
    size_t n_tensors;
    wk_tensor *tensors;        /* sorted by data offset; file_index is 0 */
    uint64_t *begin;           /* begin[i]: tensor i's offset inside the byte buffer */
    size_t n_metadata;         /* __metadata__ entries, in header order */
    wk_string_pair *metadata;
} wk_st_file;

/* Maps path and validates its header and layout; on failure nothing is left open. */
int wk_st_file_open(wk_st_file *f, const char *path, wk_err *e);
void wk_st_file_close(wk_st_file *f);

/* Builds one source over n validated files, in the order given; the caller has made sure
 * tensor names are unique across them. Always takes over (or frees) the contents of
 * files[]; the caller frees only the array itself. */
int wk_st_source_build(wk_st_file *files, size_t n, const char *path, wk_source **out,
                       wk_err *e);

#endif
