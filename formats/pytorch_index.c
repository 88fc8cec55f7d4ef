/* PyTorch checkpoints as a wk_source (format "pytorch"): one file, or the shards named by
 * pytorch_model.bin.index.json (transformers' sharded save: {"metadata": {...},
 * "weight_map": {tensor name: shard file name}}).
 *
 * Index rules, as for safetensors: shard names are plain file names beside the index (no
 * path separators, no ".."), every tensor of weight_map must be in the shard it names, every
 * tensor of a shard must be listed, and names are unique across shards. Shards are opened
 * in sorted name order; tensors keep their state-dict order within a shard. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pytorch.h"

#define WK_PT_MAX_INDEX (64u << 20)

typedef struct pt_ref {
    uint32_t file;
    size_t tensor;
} pt_ref;

typedef struct pt_src {
    size_t n_files;
    wk_pt_file **files;
    pt_ref *refs;
} pt_src;

static int pt_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    pt_src *p = s->impl;
    return wk_pt_file_read(p->files[p->refs[i].file], p->refs[i].tensor, v, e);
}

static void pt_close(wk_source *s)
{
    pt_src *p = s->impl;
    if (p) {
        for (size_t i = 0; i < p->n_files; i++)
            wk_pt_file_close(p->files[i]);
        free(p->files);
        free(p->refs);
        free(p);
    }
    wk_source_free_common(s);
}

static const wk_source_ops pt_ops = {pt_read, pt_close};

bool wk_pt_sniff(const unsigned char *magic, size_t got)
{
    return (got >= 4 && memcmp(magic, "PK\x03\x04", 4) == 0) || wk_pt_is_legacy(magic, got);
}

/* A source over files[0..n) (taking them over), tensors in file order. */
static int make_source(const char *path, wk_pt_file **files, size_t n, wk_source **out,
                       wk_err *e)
{
    wk_source *s = wk_source_new("pytorch", path);
    pt_src *p = calloc(1, sizeof *p);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += files[i]->n_tensors;
    if (!s || !p) {
        wk_source_free_common(s);
        free(p);
        for (size_t i = 0; i < n; i++)
            wk_pt_file_close(files[i]);
        free(files);
        return wk_fail(e, "%s: out of memory", path);
    }
    p->files = files;
    p->n_files = n;
    s->impl = p;
    s->ops = &pt_ops;
    p->refs = calloc(total ? total : 1, sizeof *p->refs);
    s->tensors = calloc(total ? total : 1, sizeof *s->tensors);
    s->files = calloc(n ? n : 1, sizeof *s->files);
    if (!p->refs || !s->tensors || !s->files) {
        pt_close(s);
        return wk_fail(e, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        if (!(s->files[i] = strdup(files[i]->path))) {
            pt_close(s);
            return wk_fail(e, "%s: out of memory", path);
        }
        s->n_files = i + 1;
        for (size_t j = 0; j < files[i]->n_tensors; j++) {
            const wk_pt_tensor *pt = &files[i]->tensors[j];
            wk_tensor *t = &s->tensors[s->n_tensors];
            t->name = strdup(pt->name);
            t->dtype = pt->dtype;
            t->file_index = (uint32_t)i;
            p->refs[s->n_tensors] = (pt_ref){(uint32_t)i, j};
            if (!t->name) {
                pt_close(s);
                return wk_fail(e, "%s: out of memory", path);
            }
            s->n_tensors++;
            if (wk_tensor_set_shape(t, pt->n_dims, pt->shape, e) != 0) {
                pt_close(s);
                return wk_fail_prefix(e, "%s", files[i]->path);
            }
        }
    }
    *out = s;
    return 0;
}

int wk_pt_open_file(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    *out = NULL;
    wk_pt_file **files = calloc(1, sizeof *files);
    if (!files)
        return wk_fail(e, "%s: out of memory", path);
    if (wk_pt_file_open(path, opts, &files[0], e) != 0) {
        free(files);
        return -1;
    }
    return make_source(path, files, 1, out, e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct shard names of weight_map, sorted. */
static int shard_names(const char *index, const cJSON *map, char ***out, size_t *n, wk_err *e)
{
    size_t count = (size_t)cJSON_GetArraySize(map), k = 0;
    char **names = calloc(count ? count : 1, sizeof *names);
    if (!names)
        return wk_fail(e, "%s: out of memory", index);
    const cJSON *it;
    cJSON_ArrayForEach(it, map) {
        const char *v = cJSON_GetStringValue(it);
        if (!v || !v[0] || strchr(v, '/') || strchr(v, '\\') || strcmp(v, "..") == 0 ||
            strcmp(v, ".") == 0) {
            char esc[200];
            free(names);
            return wk_fail(e, "%s: weight_map entry '%s' does not name a shard file beside the "
                              "index", index, it->string ? wk_pk_escape(it->string,
                              strlen(it->string), esc, sizeof esc) : "?");
        }
        names[k++] = (char *)v;
    }
    qsort(names, k, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
            names[u++] = names[i];
    *out = names;
    *n = u;
    return 0;
}

/* Every tensor of every shard is in weight_map under that shard, and vice versa. */
static int check_index(const char *index, const cJSON *map, wk_pt_file **files, char **names,
                       size_t n, wk_err *e)
{
    size_t listed = (size_t)cJSON_GetArraySize(map), found = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < files[i]->n_tensors; j++) {
            const char *t = files[i]->tensors[j].name;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, t);
            if (!v)
                return wk_fail(e, "%s: tensor '%s' of shard %s is not in weight_map", index, t,
                               names[i]);
            if (strcmp(cJSON_GetStringValue(v), names[i]) != 0)
                return wk_fail(e, "%s: weight_map puts '%s' in %s but it is in %s", index, t,
                               cJSON_GetStringValue(v), names[i]);
            found++;
        }
    if (found != listed)
        return wk_fail(e, "%s: weight_map lists %zu tensors but the shards hold %zu (a tensor "
                          "is missing from its shard, or named twice)", index, listed, found);
    return 0;
}

int wk_pt_open_index(const char *index_path, const wk_open_opts *opts, wk_source **out,
                     wk_err *e)
{
    *out = NULL;
    char *text;
    size_t len;
    if (wk_read_small_file(index_path, WK_PT_MAX_INDEX, &text, &len, e) != 0)
        return -1;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(doc, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(doc);
        return wk_fail(e, "%s: not JSON with a \"weight_map\" object", index_path);
    }
    char **names = NULL;
    size_t n = 0;
    if (shard_names(index_path, map, &names, &n, e) != 0) {
        cJSON_Delete(doc);
        return -1;
    }
    wk_pt_file **files = calloc(n ? n : 1, sizeof *files);
    char *dir = strdup(index_path);
    int rc = files && dir ? 0 : wk_fail(e, "%s: out of memory", index_path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        slash[slash == dir ? 1 : 0] = 0;
    else if (dir)
        dir[0] = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = dir[0] ? wk_path_join(dir, names[i]) : strdup(names[i]);
        rc = p ? wk_pt_file_open(p, opts, &files[i], e) : wk_fail(e, "out of memory");
        if (rc != 0)
            wk_fail_prefix(e, "%s: shard %s", index_path, names[i]);
        free(p);
    }
    if (rc == 0)
        rc = check_index(index_path, map, files, names, n, e);
    if (rc == 0 && n == 0)
        rc = wk_fail(e, "%s: weight_map is empty", index_path);
    free(names);
    free(dir);
    cJSON_Delete(doc);
    if (rc != 0) {
        for (size_t i = 0; files && i < n; i++)
            wk_pt_file_close(files[i]);
        free(files);
        return -1;
    }
    return make_source(index_path, files, n, out, e);
}
