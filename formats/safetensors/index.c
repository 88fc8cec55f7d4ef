/* Sharded safetensors: model.safetensors.index.json (the Hugging Face transformers layout,
 * modeling_utils.py: {"metadata": {...}, "weight_map": {tensor: shard file}}).
 *
 * shard_index.c reads the index and holds its rules (shard names are relative to the
 * index's directory and cannot leave it). Each distinct shard is opened once, in sorted
 * name order, which is also the tensor order of the source, and fully validated; then the
 * source must hold exactly the tensors the weight_map puts in each shard. */
#include "formats/safetensors/safetensors.h"

#include <stdlib.h>

#include "formats/safetensors/internal.h"
#include "formats/shard_index.h"

static int open_shards(const wk_shard_index *x, wk_st_file *files, wk_err *e)
{
    for (size_t k = 0; k < x->n_shards; k++) {
        char *p;
        int rc = wk_shard_index_shard_path(x, k, &p, e);
        if (rc == 0)
            rc = wk_st_file_open(&files[k], p, e);
        free(p);
        if (rc != 0) {
            for (size_t j = 0; j < k; j++)
                wk_st_file_close(&files[j]);
            return -1;
        }
    }
    return 0;
}

int wk_st_open_index(const char *index_path, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_shard_index x;
    if (wk_shard_index_load(index_path, &x, e) != 0)
        return -1;
    wk_st_file *files = calloc(x.n_shards, sizeof *files);
    int rc = files ? open_shards(&x, files, e) : wk_fail(e, "%s: out of memory", index_path);
    if (rc == 0)
        rc = wk_st_source_build(files, x.n_shards, index_path, out, e);
    if (rc == 0 && wk_shard_index_check(&x, *out, e) != 0) {
        wk_source_close(*out);
        *out = NULL;
        rc = -1;
    }
    free(files);
    wk_shard_index_free(&x);
    return rc;
}
