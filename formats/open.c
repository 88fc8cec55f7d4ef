/* Opening a model from a path: a Hugging Face model directory (its weight files tried in a
 * fixed order), or a file whose reader the format registry below chooses by content first
 * and by name second (as git's refs.c keeps its backends in refs_backends[] and the
 * backends live in refs/). Each format's reader lives in its folder of formats/. */
#include "formats/source.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/grow.h"
#include "common/strutil.h"
#include "formats/gguf/gguf.h"
#include "formats/pytorch/pytorch.h"
#include "formats/safetensors/safetensors.h"

/* ---- model directories ---- */

/* Every "*.safetensors" in dir, sorted; *n = 0 when none. */
static int list_safetensors(const char *dir, char ***out, size_t *n, wk_err *e)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return wk_fail(e, "%s: cannot open directory: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!wk_has_suffix(de->d_name, ".safetensors"))
            continue;
        if (wk_grow((void **)out, &cap, *n + 1, sizeof **out) != 0) {
            rc = wk_fail(e, "%s: out of memory", dir);
            break;
        }
        if (((*out)[*n] = wk_path_join(dir, de->d_name)) == NULL)
            rc = wk_fail(e, "%s: out of memory", dir);
        else
            (*n)++;
    }
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            free((*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, wk_cmp_cstr);
    return 0;
}

/* The weight files a Hugging Face model directory may hold, in the order they are tried;
 * every *.safetensors file together comes between the safetensors and PyTorch names. */
typedef int (*open_fn)(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e);

static int open_st_index(const char *p, const wk_open_opts *o, wk_source **out, wk_err *e)
{
    (void)o;
    return wk_st_open_index(p, out, e);
}

static int open_st_file(const char *p, const wk_open_opts *o, wk_source **out, wk_err *e)
{
    (void)o;
    return wk_st_open_file(p, out, e);
}

static const struct {
    const char *name;
    open_fn open;
} DIR_CANDIDATES[] = {
    {"model.safetensors.index.json", open_st_index},
    {"model.safetensors", open_st_file},
    {"*.safetensors", NULL},
    {"pytorch_model.bin.index.json", wk_pt_open_index},
    {"pytorch_model.bin", wk_pt_open_file},
};

/* Tries one candidate: 1 when it is not there, else the opener's 0 / -1. */
static int try_candidate(const char *dir, size_t c, const wk_open_opts *opts, wk_source **out,
                         wk_err *e)
{
    if (DIR_CANDIDATES[c].open == NULL) {
        char **files;
        size_t n;
        if (list_safetensors(dir, &files, &n, e) != 0)
            return -1;
        int rc = n ? wk_st_open_files((const char *const *)files, n, out, e) : 1;
        for (size_t i = 0; i < n; i++)
            free(files[i]);
        free(files);
        return rc;
    }
    char *p = wk_path_join(dir, DIR_CANDIDATES[c].name);
    if (!p)
        return wk_fail(e, "%s: out of memory", dir);
    int kind = wk_optional_file(p, e);
    int rc = kind < 0 ? -1 : kind == 0 ? 1 : DIR_CANDIDATES[c].open(p, opts, out, e);
    free(p);
    return rc;
}

static int open_model_dir(const char *dir, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    for (size_t c = 0; c < sizeof DIR_CANDIDATES / sizeof DIR_CANDIDATES[0]; c++) {
        int rc = try_candidate(dir, c, opts, out, e);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue;
        char *d = strdup(dir), *p = strdup(dir);
        if (!d || !p) {
            free(d);
            free(p);
            wk_source_close(*out);
            *out = NULL;
            return wk_fail(e, "%s: out of memory", dir);
        }
        free((*out)->dir);
        free((*out)->path);
        (*out)->dir = d;
        (*out)->path = p;
        return 0;
    }
    return wk_fail(e, "%s: no model weights found (looked for model.safetensors.index.json, "
                      "model.safetensors, *.safetensors, pytorch_model.bin.index.json, "
                      "pytorch_model.bin)", dir);
}

/* Reads the first bytes of a file to tell formats apart (a FIFO or device is refused,
 * never waited on). */
static int sniff(const char *path, unsigned char *buf, size_t len, size_t *got, wk_err *e)
{
    int fd = wk_open_regular(path, NULL, e);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, buf, len, 0);
    close(fd);
    if (n < 0)
        return wk_fail(e, "%s: cannot read: %s", path, strerror(errno));
    *got = (size_t)n;
    return 0;
}

/* ---- the format registry: a file's reader, chosen from its first bytes and its name ---- */

/* How a format recognises a file from its first bytes and its path: by content (or a name
 * that only that format uses), or only as a fallback by extension, so that a misnamed file
 * still opens and a damaged one gets its own format's message. */
typedef enum { CLAIM_NO, CLAIM_BY_NAME, CLAIM_BY_CONTENT } claim;

typedef struct wk_format {
    const char *name;
    claim (*claims)(const char *path, const unsigned char *magic, size_t got);
    open_fn open;
} wk_format;

static claim gguf_claims(const char *path, const unsigned char *magic, size_t got)
{
    if (got >= 4 && memcmp(magic, "GGUF", 4) == 0)
        return CLAIM_BY_CONTENT;
    return wk_has_suffix(path, ".gguf") ? CLAIM_BY_NAME : CLAIM_NO;
}

static claim st_index_claims(const char *path, const unsigned char *magic, size_t got)
{
    (void)magic;
    (void)got;
    return wk_has_suffix(path, ".json") && strstr(path, "safetensors.index") ? CLAIM_BY_CONTENT
                                                                              : CLAIM_NO;
}

static claim pt_index_claims(const char *path, const unsigned char *magic, size_t got)
{
    (void)magic;
    (void)got;
    return wk_has_suffix(path, ".json") && strstr(path, ".bin.index") ? CLAIM_BY_CONTENT
                                                                       : CLAIM_NO;
}

/* A u64 header length followed by '{' -- tested before the pickle test, because a header
 * length such as 640 starts with the bytes 0x80 0x02 -- or the extension, which wins over
 * a PyTorch magic so that a damaged .safetensors file gets safetensors' message. */
static claim st_claims(const char *path, const unsigned char *magic, size_t got)
{
    return (got == 9 && magic[8] == '{') || wk_has_suffix(path, ".safetensors")
               ? CLAIM_BY_CONTENT
               : CLAIM_NO;
}

static claim pt_claims(const char *path, const unsigned char *magic, size_t got)
{
    if (wk_pt_sniff(magic, got))
        return CLAIM_BY_CONTENT;
    return wk_has_suffix(path, ".bin") || wk_has_suffix(path, ".pt") || wk_has_suffix(path, ".pth")
               ? CLAIM_BY_NAME
               : CLAIM_NO;
}

static int open_gguf(const char *p, const wk_open_opts *o, wk_source **out, wk_err *e)
{
    (void)o;
    return wk_gguf_open_source(p, out, e);
}

/* In order: the first format that claims a file by content opens it; failing that, the
 * first that claims it by name. A new format is a row here and a reader in its folder. */
static const wk_format FORMATS[] = {
    {"gguf", gguf_claims, open_gguf},
    {"safetensors index", st_index_claims, open_st_index},
    {"pytorch index", pt_index_claims, wk_pt_open_index},
    {"safetensors", st_claims, open_st_file},
    {"pytorch", pt_claims, wk_pt_open_file},
};

/* A directory; a missing NAME.gguf that names a split set; else the registry. */
static int open_any(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    *out = NULL;
    if (wk_is_dir(path))
        return open_model_dir(path, opts, out, e);
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        /* NAME.gguf written as a split set: NAME-00001-of-0000N.gguf ... */
        char *first = wk_gguf_find_split_set(path);
        if (first) {
            int rc = wk_gguf_open_source(first, out, e);
            free(first);
            return rc;
        }
    }
    unsigned char magic[9] = {0};
    size_t got = 0;
    if (sniff(path, magic, sizeof magic, &got, e) != 0)
        return -1;
    for (claim level = CLAIM_BY_CONTENT; level > CLAIM_NO; level--)
        for (size_t f = 0; f < sizeof FORMATS / sizeof FORMATS[0]; f++)
            if (FORMATS[f].claims(path, magic, got) == level)
                return FORMATS[f].open(path, opts, out, e);
    return wk_fail(e, "%s: unrecognised model file (expected a model directory, .safetensors, "
                      ".gguf or a PyTorch checkpoint)", path);
}

int wk_source_open(const char *path, const wk_open_opts *opts, wk_source **out, wk_err *e)
{
    if (open_any(path, opts, out, e) != 0)
        return -1;
    if (opts && opts->state_dict_key && strcmp((*out)->format, "pytorch") != 0) {
        int rc = wk_fail(e, "%s: a state-dict key ('%s') applies to PyTorch checkpoints, and "
                            "this is a %s model", path, opts->state_dict_key, (*out)->format);
        wk_source_close(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}
