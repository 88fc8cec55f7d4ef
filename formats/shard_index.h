/* Sharded-checkpoint index files: model.safetensors.index.json and
 * pytorch_model.bin.index.json (transformers modeling_utils.py: {"metadata": {...},
 * "weight_map": {tensor name: shard file}}). One reader and one set of rules for both
 * formats; each format opens the shards itself and builds its source, then asks
 * wk_shard_index_check whether the shards hold exactly what the map says. */
#ifndef WK_FORMATS_SHARD_INDEX_H
#define WK_FORMATS_SHARD_INDEX_H

#include <stddef.h>

#include "common/err.h"
#include "formats/source.h"

#define WK_SHARD_INDEX_MAX_BYTES 100000000u /* the cap of a safetensors header */

typedef struct wk_shard_entry {
    const char *tensor; /* tensor name (points into the parsed JSON) */
    size_t shard;       /* index into wk_shard_index.shards */
} wk_shard_entry;

typedef struct wk_shard_index {
    const char *path;         /* the index file, as given */
    char *dir;                /* its directory; shard names are relative to it */
    size_t n_shards;
    const char **shards;      /* distinct shard names, sorted (the order to open them in) */
    size_t n_entries;
    wk_shard_entry *entries;  /* the weight_map, sorted by tensor name */
    struct cJSON *json;       /* the parsed file, which the names point into */
} wk_shard_index;

/* Reads and checks index_path: at most WK_SHARD_INDEX_MAX_BYTES of UTF-8 JSON without NUL
 * bytes, an object whose top-level keys are unique, with a non-empty "weight_map" object of
 * unique tensor names mapped to shard names that wk_rel_path_safe accepts. "metadata" is
 * informational and not read. On failure x holds nothing. */
int wk_shard_index_load(const char *index_path, wk_shard_index *x, wk_err *e);
void wk_shard_index_free(wk_shard_index *x);

/* Shard k's path (the index's directory joined with its name) as a new heap string in
 * *path; fails when it is not a file. */
int wk_shard_index_shard_path(const wk_shard_index *x, size_t k, char **path, wk_err *e);

/* s was opened from the shards in x's order: s->files[k] is shard k and every tensor's
 * file_index names its shard. Checks that every tensor of a shard is mapped to that shard
 * (so no name is in two shards) and appears once, and that every mapped tensor was found. */
int wk_shard_index_check(const wk_shard_index *x, const wk_source *s, wk_err *e);

#endif
