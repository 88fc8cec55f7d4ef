/* Helpers shared by the safetensors unit tests (test_safetensors_write.c,
 * test_safetensors_read.c): temporary directories, raw file writes, running a Python check,
 * and a table-driven writer (sf_write_file) whose data pattern sf_check_source verifies. */
#ifndef WK_TESTS_ST_TEST_UTIL_H
#define WK_TESTS_ST_TEST_UTIL_H

#include <criterion/criterion.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/safetensors/safetensors.h"

static inline char *sf_tmpdir(void)
{
    char tmpl[] = "/tmp/wk-st-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert(d);
    return strdup(d);
}

static inline char *sf_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static inline void sf_rmdir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

static inline int sf_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static inline void sf_write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static inline void sf_run_python(const char *script_path, const char *arg)
{
    cr_assert_eq(access("tests/fixtures/st_write.py", R_OK), 0,
                 "run the unit tests from the repository root");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script_path, arg);
    cr_assert_eq(system(cmd), 0, "python check failed: %s", cmd);
}

typedef struct sf_decl {
    const char *name;
    wk_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[4];
} sf_decl;

/* Writes the declared tensors with byte i of the data stream = (i * 7 + 3) & 255, in
 * chunks of `chunk` bytes regardless of tensor boundaries. Returns the byte count. */
static inline uint64_t sf_write_file(const char *path, const sf_decl *d, size_t n,
                                     size_t chunk, const char *const *meta, size_t n_meta)
{
    wk_err e;
    wk_st_writer *w;
    cr_assert_eq(wk_st_writer_open(path, &w, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < n_meta; i++)
        cr_assert_eq(wk_st_writer_add_metadata(w, meta[2 * i], meta[2 * i + 1], &e), 0, "%s",
                     e.msg);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(wk_st_writer_add_tensor(w, d[i].name, d[i].dtype, d[i].n_dims, d[i].shape,
                                             &e), 0, "%s", e.msg);
        uint64_t elems = 1;
        for (uint32_t k = 0; k < d[i].n_dims; k++)
            elems *= d[i].shape[k];
        total += elems * wk_type(d[i].dtype)->type_size;
    }
    uint8_t *buf = malloc(total + 1);
    for (uint64_t i = 0; i < total; i++)
        buf[i] = (uint8_t)((i * 7 + 3) & 255);
    for (uint64_t off = 0; off < total; off += chunk) {
        uint64_t k = total - off < chunk ? total - off : chunk;
        cr_assert_eq(wk_st_writer_write(w, buf + off, k, &e), 0, "%s", e.msg);
    }
    free(buf);
    cr_assert_eq(wk_st_writer_finish(w, &e), 0, "%s", e.msg);
    return total;
}

/* Checks that s holds exactly d, in order, with the data pattern of sf_write_file. */
static inline void sf_check_source(wk_source *s, const sf_decl *d, size_t n)
{
    cr_assert_eq(s->n_tensors, n);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const wk_tensor *t = &s->tensors[i];
        cr_assert_str_eq(t->name, d[i].name);
        cr_assert_eq(t->dtype, d[i].dtype, "%s", t->name);
        cr_assert_eq(t->n_dims, d[i].n_dims, "%s", t->name);
        for (uint32_t k = 0; k < t->n_dims; k++)
            cr_assert_eq(t->shape[k], d[i].shape[k]);
        wk_view v;
        wk_err e;
        cr_assert_eq(wk_source_read(s, i, &v, &e), 0, "%s", e.msg);
        cr_assert_eq(v.size, t->n_bytes);
        cr_assert_eq((uintptr_t)v.data % wk_type(t->dtype)->type_size, 0, "%s unaligned",
                     t->name);
        const uint8_t *p = v.data;
        for (uint64_t b = 0; b < v.size; b++, pos++)
            cr_assert_eq(p[b], (uint8_t)((pos * 7 + 3) & 255), "%s byte %llu", t->name,
                         (unsigned long long)b);
        wk_view_release(&v);
    }
}

static inline const char *sf_meta_get(const wk_source *s, const char *key)
{
    for (size_t i = 0; i < s->n_metadata; i++)
        if (strcmp(s->metadata[i].key, key) == 0)
            return s->metadata[i].value;
    return NULL;
}

#endif
