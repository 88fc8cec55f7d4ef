/* Sharded-checkpoint index files (model.safetensors.index.json, pytorch_model.bin.index.json;
 * transformers modeling_utils.py writes {"metadata": {...}, "weight_map": {tensor: shard}}).
 *
 * The file is at most WK_SHARD_INDEX_MAX_BYTES of UTF-8 without NUL bytes and must parse
 * as a JSON object with nothing after it whose keys are unique (cJSON keeps duplicates
 * silently where Python's json takes the last one, so we sort and compare). The
 * weight_map is a non-empty object of unique tensor names, each mapped to a string that
 * wk_rel_path_safe accepts, so an index cannot point outside its own directory. The
 * distinct shard names are sorted: that is the order the formats open them in. Once the
 * shards are open, every tensor they hold must be mapped to its own shard (which also
 * makes names unique across shards) and every mapped tensor must have been found. The
 * "metadata" object (total_size) is informational and not read. */
#include "formats/shard_index.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/strutil.h"
#include "formats/pytorch/pickle.h"

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const wk_shard_entry *)a)->tensor, ((const wk_shard_entry *)b)->tensor);
}

static int parse_json(wk_shard_index *x, wk_err *e)
{
    char *text;
    size_t len, bad;
    if (wk_read_small_file(x->path, WK_SHARD_INDEX_MAX_BYTES, &text, &len, e) != 0)
        return -1;
    if (!wk_utf8_valid((const uint8_t *)text, len, &bad)) {
        free(text);
        return wk_fail(e, "%s: byte at offset %zu is not valid UTF-8 (or is NUL)", x->path, bad);
    }
    const char *end = NULL;
    x->json = cJSON_ParseWithOpts(text, &end, 1);
    size_t at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!x->json)
        return wk_fail(e, "%s: not valid JSON (parse error near offset %zu)", x->path, at);
    return 0;
}

/* The top-level keys are unique. */
static int check_root_keys(const wk_shard_index *x, wk_err *e)
{
    int n = cJSON_GetArraySize(x->json);
    if (n < 2)
        return 0;
    const char **keys = malloc((size_t)n * sizeof *keys);
    if (!keys)
        return wk_fail(e, "%s: out of memory", x->path);
    size_t k = 0;
    for (const cJSON *c = x->json->child; c; c = c->next)
        keys[k++] = c->string;
    const char *dup = wk_find_duplicate(keys, k);
    int rc = dup ? wk_fail(e, "%s: the index has the key '%s' twice", x->path, dup) : 0;
    free(keys);
    return rc;
}

/* entries[] from the weight_map (checking each shard name), then the sorted distinct
 * shard names and each entry's shard index. */
static int read_weight_map(wk_shard_index *x, const cJSON *wm, wk_err *e)
{
    size_t n = (size_t)cJSON_GetArraySize(wm);
    x->entries = calloc(n, sizeof *x->entries);
    x->shards = calloc(n, sizeof *x->shards);
    if (!x->entries || !x->shards)
        return wk_fail(e, "%s: out of memory", x->path);
    for (const cJSON *c = wm->child; c; c = c->next, x->n_entries++) {
        if (!cJSON_IsString(c))
            return wk_fail(e, "%s: weight_map entry for tensor '%s' is not a string; expected a "
                              "shard file name", x->path, c->string);
        if (!wk_rel_path_safe(c->valuestring)) {
            char esc[256];
            return wk_fail(e, "%s: weight_map puts tensor '%s' in '%s', which does not name a "
                              "shard file: expected a path relative to the index's directory, "
                              "without '..', a leading '/', backslashes or control characters",
                           x->path, c->string,
                           wk_pk_escape(c->valuestring, strlen(c->valuestring), esc, sizeof esc));
        }
        x->entries[x->n_entries].tensor = c->string;
        x->shards[x->n_entries] = c->valuestring;
    }
    qsort(x->shards, n, sizeof *x->shards, wk_cmp_cstr);
    for (size_t i = 0; i < n; i++)
        if (x->n_shards == 0 || strcmp(x->shards[x->n_shards - 1], x->shards[i]) != 0)
            x->shards[x->n_shards++] = x->shards[i];
    size_t k = 0;
    for (const cJSON *c = wm->child; c; c = c->next, k++) {
        const char **hit = bsearch(&c->valuestring, x->shards, x->n_shards, sizeof *x->shards,
                                   wk_cmp_cstr);
        x->entries[k].shard = (size_t)(hit - x->shards);
    }
    qsort(x->entries, n, sizeof *x->entries, cmp_entry);
    for (size_t i = 1; i < n; i++)
        if (strcmp(x->entries[i - 1].tensor, x->entries[i].tensor) == 0)
            return wk_fail(e, "%s: weight_map lists tensor '%s' twice", x->path,
                           x->entries[i].tensor);
    return 0;
}

int wk_shard_index_load(const char *index_path, wk_shard_index *x, wk_err *e)
{
    memset(x, 0, sizeof *x);
    x->path = index_path;
    x->dir = wk_dir_of(index_path);
    int rc = x->dir ? parse_json(x, e) : wk_fail(e, "%s: out of memory", index_path);
    if (rc == 0 && cJSON_IsObject(x->json))
        rc = check_root_keys(x, e);
    if (rc == 0) {
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(x->json, "weight_map");
        if (!cJSON_IsObject(x->json) || !cJSON_IsObject(wm) || !wm->child)
            rc = wk_fail(e, "%s: expected a JSON object with a non-empty \"weight_map\" object",
                         index_path);
        else
            rc = read_weight_map(x, wm, e);
    }
    if (rc != 0)
        wk_shard_index_free(x);
    return rc;
}

void wk_shard_index_free(wk_shard_index *x)
{
    free(x->entries);
    free(x->shards);
    cJSON_Delete(x->json);
    free(x->dir);
    memset(x, 0, sizeof *x);
}

int wk_shard_index_shard_path(const wk_shard_index *x, size_t k, char **path, wk_err *e)
{
    *path = wk_path_join(x->dir, x->shards[k]);
    if (!*path)
        return wk_fail(e, "%s: out of memory", x->path);
    if (!wk_file_exists(*path)) {
        int rc = wk_fail(e, "%s: weight_map names shard '%s', but %s is not a file", x->path,
                         x->shards[k], *path);
        free(*path);
        *path = NULL;
        return rc;
    }
    return 0;
}

int wk_shard_index_check(const wk_shard_index *x, const wk_source *s, wk_err *e)
{
    bool *seen = calloc(x->n_entries, sizeof *seen);
    if (!seen)
        return wk_fail(e, "%s: out of memory", x->path);
    int rc = 0;
    for (size_t i = 0; i < s->n_tensors && rc == 0; i++) {
        const wk_tensor *t = &s->tensors[i];
        const char *shard_path = s->files[t->file_index];
        wk_shard_entry key = {.tensor = t->name};
        const wk_shard_entry *m = bsearch(&key, x->entries, x->n_entries, sizeof key, cmp_entry);
        if (!m)
            rc = wk_fail(e, "%s: tensor '%s' is not listed in the weight_map of %s", shard_path,
                         t->name, x->path);
        else if (m->shard != t->file_index)
            rc = wk_fail(e, "%s: holds tensor '%s', but %s maps it to shard '%s'", shard_path,
                         t->name, x->path, x->shards[m->shard]);
        else if (seen[m - x->entries])
            rc = wk_fail(e, "%s: holds tensor '%s' twice (%s lists it once)", shard_path,
                         t->name, x->path);
        else
            seen[m - x->entries] = true;
    }
    for (size_t i = 0; i < x->n_entries && rc == 0; i++)
        if (!seen[i])
            rc = wk_fail(e, "%s: weight_map puts tensor '%s' in shard '%s', but that shard "
                            "has no such tensor", x->path, x->entries[i].tensor,
                         x->shards[x->entries[i].shard]);
    free(seen);
    return rc;
}
