/* safetensors header validation (huggingface/safetensors README "Format"; the rules of
 * safetensors/src/tensor.rs: read_metadata and Metadata::validate).
 *
 * A file is a u64 little-endian N, N bytes of UTF-8 JSON (an object, possibly padded with
 * spaces), then the byte buffer. Before any tensor byte is touched we check: N <= 100 MB
 * and 8 + N <= file size; the header is UTF-8 without NUL bytes and parses as a JSON
 * object (cJSON, which limits nesting to 1000 levels) whose strings hold no escaped NUL
 * (\u0000, which cJSON would cut the string at); keys are unique at every level
 * (cJSON keeps duplicates silently, so we sort and compare); `__metadata__` is null or a
 * string -> string object; every other entry is an object with a known dtype, a shape of
 * at most WK_MAX_DIMS integers in [0, 2^53], and data_offsets [begin, end] with begin <=
 * end <= buffer size; elements x dtype size (overflow-checked) equals end - begin; sorted
 * by offset the tensors start at 0 and follow each other with no gap or overlap, and the
 * last ends exactly at the end of the file. Fields an entry has beyond those three are
 * ignored, as the reference's serde derive ignores them. */
#include "formats/safetensors/internal.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "common/strutil.h"
#include "formats/safetensors/safetensors.h"

typedef struct st_entry {
    wk_tensor t;
    uint64_t begin, end;
} st_entry;

/* ---- JSON helpers ---- */

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    return "null";
}

/* A JSON number that is an exact integer in [0, 2^53]. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= (double)WK_ST_MAX_JSON_INT) || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

/* "a number (-1)" / "a string": what was found where an integer was expected. */
static void describe(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsNumber(v))
        snprintf(buf, len, "%.17g", v->valuedouble);
    else
        snprintf(buf, len, "%s", json_kind(v));
}

/* Keys of one JSON object must be unique; `where` names the object in the message. */
static int check_unique_keys(const char *path, const cJSON *obj, const char *where, wk_err *e)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return 0;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys)
        return wk_fail(e, "%s: out of memory", path);
    size_t k = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        keys[k++] = c->string;
    const char *dup = wk_find_duplicate(keys, n);
    int rc = dup ? wk_fail(e, "%s: %s has the key '%s' twice", path, where, dup) : 0;
    free(keys);
    return rc;
}

/* ---- the header text: no escaped NUL, a JSON object ---- */

/* The raw text of a JSON string from start up to (not including) end, cut to fit buf, with
 * bytes below 0x20 as '?', for a message. */
static const char *raw_prefix(const char *start, const char *end, char *buf, size_t len)
{
    size_t k = 0;
    for (; start < end && k + 1 < len; start++)
        buf[k++] = (unsigned char)*start < 0x20 ? '?' : *start;
    buf[k] = 0;
    return buf;
}

/* cJSON ends a string at an escaped NUL, so "a\u0000b" would silently become "a" (and a
 * second tensor "a" would then look like a duplicate): every header string holding \u0000
 * is refused. text is valid JSON here, so following strings and backslash escapes finds
 * each one; a string is a tensor name when it is a key of the top-level object (depth 1,
 * after '{' or ','). */
static int check_no_nul(const char *path, const char *text, size_t n, wk_err *e)
{
    int depth = 0;
    bool key = false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c == '{' || c == '[') {
            depth++;
            key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' || c == ':') {
            key = c == ',' && depth == 1;
        } else if (c == '"') {
            size_t start = ++i;
            for (; text[i] != '"'; i++) {
                if (text[i] != '\\')
                    continue;
                if (text[++i] != 'u' || memcmp(text + i + 1, "0000", 4) != 0)
                    continue;
                char pre[80];
                raw_prefix(text + start, text + i - 1, pre, sizeof pre);
                if (key && depth == 1)
                    return wk_fail(e, "%s: the tensor name starting '%s' (file offset %llu) "
                                      "contains \\u0000, a NUL character; tensor names cannot "
                                      "contain NUL", path, pre, 8 + (unsigned long long)start);
                return wk_fail(e, "%s: the header string starting '%s' (file offset %llu) "
                                  "contains \\u0000, a NUL character; header strings cannot "
                                  "contain NUL", path, pre, 8 + (unsigned long long)start);
            }
        }
    }
    return 0;
}

static int parse_json(const char *path, const wk_map *m, uint64_t n, cJSON **root, wk_err *e)
{
    size_t bad;
    if (!wk_utf8_valid(m->data + 8, (size_t)n, &bad))
        return wk_fail(e, "%s: header byte at file offset %llu is %s; the header must be UTF-8 "
                          "JSON", path, (unsigned long long)(8 + bad),
                       m->data[8 + bad] ? "not valid UTF-8" : "a NUL byte");
    /* the reference reader requires the JSON to open at once (InvalidHeaderStart) */
    if (n == 0 || m->data[8] != '{')
        return wk_fail(e, "%s: header at file offset 8 starts with %s; expected a JSON object "
                          "starting with '{'", path,
                       n == 0 ? "nothing" : m->data[8] == ' ' ? "a space" : "another character");
    char *text = malloc((size_t)n + 1);
    if (!text)
        return wk_fail(e, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
    memcpy(text, m->data + 8, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    unsigned long long at = 8 + (unsigned long long)(end ? end - text : 0);
    int nul = *root ? check_no_nul(path, text, (size_t)n, e) : 0;
    free(text);
    if (!*root)
        return wk_fail(e, "%s: header is not valid JSON (parse error near file offset %llu)",
                       path, at);
    if (nul != 0) {
        cJSON_Delete(*root);
        *root = NULL;
        return -1;
    }
    if (!cJSON_IsObject(*root)) {
        int rc = wk_fail(e, "%s: header is %s; expected a JSON object", path, json_kind(*root));
        cJSON_Delete(*root);
        return rc;
    }
    return 0;
}

/* ---- one entry: __metadata__, or a tensor (dtype, shape, data_offsets) ---- */

static int parse_metadata(const char *path, const cJSON *v, wk_st_file *f, wk_err *e)
{
    if (cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return wk_fail(e, "%s: __metadata__ is %s; expected an object of strings", path,
                       json_kind(v));
    if (check_unique_keys(path, v, "__metadata__", e) != 0)
        return -1;
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return wk_fail(e, "%s: __metadata__ value of '%s' is %s; expected a string", path,
                           c->string, json_kind(c));
        n++;
    }
    f->metadata = calloc(n ? n : 1, sizeof *f->metadata);
    if (!f->metadata)
        return wk_fail(e, "%s: out of memory", path);
    for (const cJSON *c = v->child; c; c = c->next) {
        wk_string_pair *p = &f->metadata[f->n_metadata++];
        p->key = strdup(c->string);
        p->value = strdup(c->valuestring);
        if (!p->key || !p->value)
            return wk_fail(e, "%s: out of memory", path);
    }
    return 0;
}

static int parse_shape(const char *path, const char *name, const cJSON *sh, uint32_t *n_dims,
                       uint64_t *shape, wk_err *e)
{
    if (!cJSON_IsArray(sh))
        return wk_fail(e, "%s: tensor '%s': \"shape\" is %s; expected an array of integers",
                       path, name, sh ? json_kind(sh) : "missing");
    int n = cJSON_GetArraySize(sh);
    if (n > WK_MAX_DIMS)
        return wk_fail(e, "%s: tensor '%s': shape has %d dimensions; at most %d are supported",
                       path, name, n, WK_MAX_DIMS);
    int d = 0;
    for (const cJSON *c = sh->child; c; c = c->next, d++) {
        if (json_uint(c, &shape[d]) != 0) {
            char what[64];
            describe(c, what, sizeof what);
            return wk_fail(e, "%s: tensor '%s': shape[%d] is %s; expected an integer in "
                              "[0, 2^53]", path, name, d, what);
        }
    }
    *n_dims = (uint32_t)n;
    return 0;
}

static int parse_offsets(const char *path, const char *name, const cJSON *off,
                         uint64_t buf_size, st_entry *en, wk_err *e)
{
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return wk_fail(e, "%s: tensor '%s': \"data_offsets\" is %s; expected [begin, end]",
                       path, name,
                       !off ? "missing" : cJSON_IsArray(off) ? "an array of the wrong length"
                                                             : json_kind(off));
    uint64_t v[2];
    const cJSON *c = off->child;
    for (int k = 0; k < 2; k++, c = c->next) {
        if (json_uint(c, &v[k]) != 0) {
            char what[64];
            describe(c, what, sizeof what);
            return wk_fail(e, "%s: tensor '%s': data_offsets[%d] is %s; expected an integer in "
                              "[0, 2^53]", path, name, k, what);
        }
    }
    if (v[0] > v[1])
        return wk_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] begin after they end",
                       path, name, (unsigned long long)v[0], (unsigned long long)v[1]);
    if (v[1] > buf_size)
        return wk_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the "
                          "%llu-byte data buffer", path, name, (unsigned long long)v[0],
                       (unsigned long long)v[1], (unsigned long long)buf_size);
    en->begin = v[0];
    en->end = v[1];
    return 0;
}

static int parse_entry(const char *path, const cJSON *v, uint64_t buf_size, st_entry *en,
                       wk_err *e)
{
    const char *name = v->string;
    if (!cJSON_IsObject(v))
        return wk_fail(e, "%s: tensor '%s' is %s; expected an object with dtype, shape and "
                          "data_offsets", path, name, json_kind(v));
    char where[WK_ERR_MAX / 2];
    snprintf(where, sizeof where, "tensor '%s'", name);
    if (check_unique_keys(path, v, where, e) != 0)
        return -1;
    en->t.name = strdup(name);
    if (!en->t.name)
        return wk_fail(e, "%s: out of memory", path);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    if (!cJSON_IsString(dt))
        return wk_fail(e, "%s: tensor '%s': \"dtype\" is %s; expected a string", path, name,
                       dt ? json_kind(dt) : "missing");
    if (wk_type_from_safetensors(dt->valuestring, &en->t.dtype) != 0)
        return wk_fail(e, "%s: tensor '%s': unknown dtype '%s' (expected one of F64 F32 F16 "
                          "BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2)",
                       path, name, dt->valuestring);
    uint32_t n_dims = 0;
    uint64_t shape[WK_MAX_DIMS];
    if (parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(v, "shape"), &n_dims, shape,
                    e) != 0)
        return -1;
    if (parse_offsets(path, name, cJSON_GetObjectItemCaseSensitive(v, "data_offsets"), buf_size,
                      en, e) != 0)
        return -1;
    if (wk_tensor_set_shape(&en->t, n_dims, shape, e) != 0)
        return wk_fail_prefix(e, "%s", path);
    if (en->t.n_bytes != en->end - en->begin) {
        char sh[256];
        wk_shape_format(&en->t, sh, sizeof sh);
        return wk_fail(e, "%s: tensor '%s' data_offsets [%llu, %llu] give %llu bytes but dtype "
                          "%s x shape %s needs %llu", path, name, (unsigned long long)en->begin,
                       (unsigned long long)en->end, (unsigned long long)(en->end - en->begin),
                       wk_type(en->t.dtype)->name, sh, (unsigned long long)en->t.n_bytes);
    }
    return 0;
}

/* ---- all entries: tiling the data buffer in offset order ---- */

static int cmp_entry(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, the tensors must tile the data buffer exactly. */
static int check_layout(const char *path, const st_entry *en, size_t n, uint64_t buf_size,
                        wk_err *e)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (en[i].begin == pos) {
            pos = en[i].end;
            continue;
        }
        if (i == 0)
            return wk_fail(e, "%s: the first tensor '%s' starts at data offset %llu; expected 0",
                           path, en[i].t.name, (unsigned long long)en[i].begin);
        if (en[i].begin < pos)
            return wk_fail(e, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                           path, en[i - 1].t.name, (unsigned long long)en[i - 1].begin,
                           (unsigned long long)en[i - 1].end, en[i].t.name,
                           (unsigned long long)en[i].begin, (unsigned long long)en[i].end);
        return wk_fail(e, "%s: %llu-byte gap between tensor '%s' (ends at data offset %llu) and "
                          "tensor '%s' (begins at %llu)", path,
                       (unsigned long long)(en[i].begin - pos), en[i - 1].t.name,
                       (unsigned long long)pos, en[i].t.name, (unsigned long long)en[i].begin);
    }
    if (pos != buf_size)
        return wk_fail(e, "%s: tensor data ends at data offset %llu but the data buffer is %llu "
                          "bytes: %llu bytes at the end belong to no tensor", path,
                       (unsigned long long)pos, (unsigned long long)buf_size,
                       (unsigned long long)(buf_size - pos));
    return 0;
}

static void free_entries(st_entry *en, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(en[i].t.name);
    free(en);
}

/* Parses every entry of the header object into f (tensors in offset order). */
static int parse_entries(const char *path, const cJSON *root, wk_st_file *f, wk_err *e)
{
    uint64_t buf_size = f->map.size - f->data_start;
    size_t n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        n += strcmp(c->string, "__metadata__") != 0;
    st_entry *en = calloc(n ? n : 1, sizeof *en);
    if (!en)
        return wk_fail(e, "%s: out of memory for %zu tensors", path, n);
    size_t k = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        int rc = strcmp(c->string, "__metadata__") == 0
                     ? parse_metadata(path, c, f, e)
                     : parse_entry(path, c, buf_size, &en[k++], e);
        if (rc != 0) {
            free_entries(en, k);
            return -1;
        }
    }
    qsort(en, n, sizeof *en, cmp_entry);
    if (check_layout(path, en, n, buf_size, e) != 0) {
        free_entries(en, n);
        return -1;
    }
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->begin = calloc(n ? n : 1, sizeof *f->begin);
    if (!f->tensors || !f->begin) {
        free_entries(en, n);
        return wk_fail(e, "%s: out of memory for %zu tensors", path, n);
    }
    for (size_t i = 0; i < n; i++) {
        f->tensors[i] = en[i].t;
        f->begin[i] = en[i].begin;
    }
    f->n_tensors = n;
    free(en);
    return 0;
}

/* ---- opening a file ---- */

int wk_st_file_open(wk_st_file *f, const char *path, wk_err *e)
{
    memset(f, 0, sizeof *f);
    if (wk_map_open(&f->map, path, e) != 0)
        return -1;
    const wk_map *m = &f->map;
    if (m->size < 8) {
        wk_fail(e, "%s: file is %llu bytes; a safetensors file begins with an 8-byte header "
                   "length", path, (unsigned long long)m->size);
        goto fail;
    }
    uint64_t n = wk_ld_le(m->data, 8);
    if (n > WK_ST_MAX_HEADER) {
        wk_fail(e, "%s: header length %llu (file offset 0) is over the %llu-byte limit", path,
                (unsigned long long)n, WK_ST_MAX_HEADER);
        goto fail;
    }
    if (n > m->size - 8) {
        wk_fail(e, "%s: header length %llu (file offset 0) runs past the end of the %llu-byte "
                   "file", path, (unsigned long long)n, (unsigned long long)m->size);
        goto fail;
    }
    f->data_start = 8 + n;
    cJSON *root = NULL;
    if (parse_json(path, m, n, &root, e) != 0)
        goto fail;
    int rc = check_unique_keys(path, root, "the header", e);
    if (rc == 0)
        rc = parse_entries(path, root, f, e);
    cJSON_Delete(root);
    if (rc == 0)
        return 0;
fail:
    wk_st_file_close(f);
    return -1;
}

void wk_st_file_close(wk_st_file *f)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->begin);
    for (size_t i = 0; i < f->n_metadata; i++) {
        free(f->metadata[i].key);
        free(f->metadata[i].value);
    }
    free(f->metadata);
    wk_map_close(&f->map);
    memset(f, 0, sizeof *f);
}
