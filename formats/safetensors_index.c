/* Sharded safetensors: model.safetensors.index.json (the Hugging Face transformers layout,
 * modeling_utils.py: {"metadata": {...}, "weight_map": {tensor: shard file}}).
 *
 * The weight_map must be a non-empty object of strings with unique keys. Shard names are
 * relative to the index's directory; absolute paths and '..' components are refused, so
 * an index cannot point outside its model. Each distinct shard is opened once (in sorted
 * name order, which is also the tensor order of the source) and fully validated; then
 * every mapped tensor must be in the shard the map names and every shard tensor must be
 * mapped to its own shard, which also makes names unique across shards. The index's
 * "metadata" (total_size) is informational and not checked. */
#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "formats/safetensors_internal.h"

typedef struct map_entry {
    const char *name;  /* tensor name (points into the parsed JSON) */
    const char *shard; /* shard file name as written in the index */
    size_t shard_idx;
    int seen;
} map_entry;

typedef struct index_ctx {
    const char *path; /* the index file */
    char *dir;        /* its directory */
    cJSON *root;
    size_t n_entries;
    map_entry *entries; /* sorted by tensor name */
    size_t n_shards;
    const char **shards; /* distinct shard names, sorted */
} index_ctx;

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const map_entry *)a)->name, ((const map_entry *)b)->name);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A relative path with no '..' component. */
static int shard_name_safe(const char *name)
{
    if (name[0] == '\0' || name[0] == '/')
        return 0;
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        if (!slash)
            return 1;
        p = slash + 1;
    }
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int parse_index(index_ctx *x, wk_err *e)
{
    char *text;
    size_t len;
    if (wk_read_small_file(x->path, WK_ST_MAX_HEADER, &text, &len, e) != 0)
        return -1;
    size_t bad;
    if (!wk_st_utf8_valid((const uint8_t *)text, len, &bad)) {
        free(text);
        return wk_fail(e, "%s: byte at offset %zu is not valid UTF-8 (or is NUL)", x->path, bad);
    }
    const char *end = NULL;
    x->root = cJSON_ParseWithOpts(text, &end, 1);
    size_t at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!x->root)
        return wk_fail(e, "%s: not valid JSON (parse error near offset %zu)", x->path, at);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(x->root, "weight_map");
    if (!cJSON_IsObject(x->root) || !cJSON_IsObject(wm) || !wm->child)
        return wk_fail(e, "%s: expected a JSON object with a non-empty \"weight_map\" object",
                       x->path);
    for (const cJSON *c = wm->child; c; c = c->next)
        x->n_entries++;
    x->entries = calloc(x->n_entries, sizeof *x->entries);
    x->shards = calloc(x->n_entries, sizeof *x->shards);
    if (!x->entries || !x->shards)
        return wk_fail(e, "%s: out of memory", x->path);
    size_t k = 0;
    for (const cJSON *c = wm->child; c; c = c->next, k++) {
        if (!cJSON_IsString(c))
            return wk_fail(e, "%s: weight_map entry for tensor '%s' is not a string; expected a "
                              "shard file name", x->path, c->string);
        if (!shard_name_safe(c->valuestring))
            return wk_fail(e, "%s: weight_map puts tensor '%s' in '%s'; expected a file name "
                              "relative to the index's directory, without '..'",
                           x->path, c->string, c->valuestring);
        x->entries[k] = (map_entry){c->string, c->valuestring, 0, 0};
        x->shards[k] = c->valuestring;
    }
    qsort(x->entries, x->n_entries, sizeof *x->entries, cmp_entry_name);
    for (size_t i = 1; i < x->n_entries; i++)
        if (strcmp(x->entries[i - 1].name, x->entries[i].name) == 0)
            return wk_fail(e, "%s: weight_map lists tensor '%s' twice", x->path,
                           x->entries[i].name);
    qsort(x->shards, x->n_entries, sizeof *x->shards, cmp_cstr);
    for (size_t i = 0; i < x->n_entries; i++)
        if (x->n_shards == 0 || strcmp(x->shards[x->n_shards - 1], x->shards[i]) != 0)
            x->shards[x->n_shards++] = x->shards[i];
    for (size_t i = 0; i < x->n_entries; i++) {
        const char **hit = bsearch(&x->entries[i].shard, x->shards, x->n_shards,
                                   sizeof *x->shards, cmp_cstr);
        x->entries[i].shard_idx = (size_t)(hit - x->shards);
    }
    return 0;
}

static int open_shards(index_ctx *x, wk_st_file *files, wk_err *e)
{
    for (size_t k = 0; k < x->n_shards; k++) {
        char *p = wk_path_join(x->dir, x->shards[k]);
        int rc;
        if (!p)
            rc = wk_fail(e, "%s: out of memory", x->path);
        else if (!wk_file_exists(p))
            rc = wk_fail(e, "%s: weight_map names shard '%s', but %s is not a file", x->path,
                         x->shards[k], p);
        else
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

/* Every shard tensor is mapped to its own shard; every mapped tensor was found. */
static int check_mapping(index_ctx *x, const wk_st_file *files, wk_err *e)
{
    for (size_t k = 0; k < x->n_shards; k++) {
        for (size_t t = 0; t < files[k].n_tensors; t++) {
            map_entry key = {.name = files[k].tensors[t].name};
            map_entry *m = bsearch(&key, x->entries, x->n_entries, sizeof key, cmp_entry_name);
            if (!m)
                return wk_fail(e, "%s: tensor '%s' is not listed in the weight_map of %s",
                               files[k].map.path, key.name, x->path);
            if (m->shard_idx != k)
                return wk_fail(e, "%s: holds tensor '%s', but %s maps it to shard '%s'",
                               files[k].map.path, key.name, x->path, m->shard);
            m->seen = 1;
        }
    }
    for (size_t i = 0; i < x->n_entries; i++)
        if (!x->entries[i].seen)
            return wk_fail(e, "%s: weight_map puts tensor '%s' in shard '%s', but that shard "
                              "has no such tensor", x->path, x->entries[i].name,
                           x->entries[i].shard);
    return 0;
}

static void index_free(index_ctx *x)
{
    free(x->entries);
    free(x->shards);
    cJSON_Delete(x->root);
    free(x->dir);
}

int wk_st_open_index(const char *index_path, wk_source **out, wk_err *e)
{
    *out = NULL;
    index_ctx x = {.path = index_path, .dir = dir_of(index_path)};
    wk_st_file *files = NULL;
    int rc = -1;
    if (!x.dir) {
        wk_fail(e, "%s: out of memory", index_path);
        goto done;
    }
    if (parse_index(&x, e) != 0)
        goto done;
    files = calloc(x.n_shards, sizeof *files);
    if (!files) {
        wk_fail(e, "%s: out of memory", index_path);
        goto done;
    }
    if (open_shards(&x, files, e) != 0)
        goto done;
    if (check_mapping(&x, files, e) != 0) {
        for (size_t k = 0; k < x.n_shards; k++)
            wk_st_file_close(&files[k]);
        goto done;
    }
    rc = wk_st_source_build(files, x.n_shards, index_path, out, e);
done:
    free(files);
    index_free(&x);
    return rc;
}
