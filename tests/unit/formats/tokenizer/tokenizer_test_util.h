/* Helpers shared by the tokenizer import tests: temporary model directories, shared-file
 * look-ups that skip outside CI, and reading the written GGUF keys back. */
#ifndef WK_TEST_TOKENIZER_UTIL_H
#define WK_TEST_TOKENIZER_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "formats/gguf/gguf.h"
#include "formats/tokenizer/tokenizer.h"

/* ---- helpers ---- */

static inline char *tok_shared(const char *rel)
{
    const char *root = getenv("WK_SHARED") ? getenv("WK_SHARED") : "../shared";
    char *p = wk_path_join(root, rel);
    if (access(p, F_OK) != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            cr_assert_fail("%s is missing, and CI must have it", p);
        free(p);
        cr_skip_test("%s/%s not present (a user's clone has no ../shared)", root, rel);
    }
    return p;
}

static inline char *tok_tmpdir(void)
{
    char tmpl[] = "/tmp/wk-tok-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static inline void tok_write(const char *dir, const char *name, const char *text)
{
    char *p = wk_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
    free(p);
}

static inline void tok_rmdir(char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

static inline wk_hf_config *tok_config(const char *dir, const char *json)
{
    wk_hf_config *c;
    wk_err e = {{0}};
    tok_write(dir, "config.json", json);
    cr_assert_eq(wk_hf_config_load(dir, &c, &e), 0, "%s", e.msg);
    return c;
}

/* The first warning that contains needle, or NULL. */
static inline const char *tok_warned(const wk_warnings *w, const char *needle)
{
    for (size_t i = 0; i < w->n; i++)
        if (strstr(w->msg[i], needle))
            return w->msg[i];
    return NULL;
}

/* All warnings, one per line, for failure messages (cut at 16 KiB). */
static inline const char *tok_warnings_text(const wk_warnings *w)
{
    static char buf[16384];
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < w->n && k < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\n", w->msg[i]);
    return buf;
}

/* ---- the GGUF keys, read back ---- */

static inline const wk_gguf_value *tok_find(const wk_gguf *g, const char *key, uint32_t type)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    cr_assert_not_null(kv, "%s missing", key);
    cr_assert_eq(kv->value.type, type, "%s has type %s", key, wk_gguf_type_name(kv->value.type));
    return &kv->value;
}

static inline bool tok_str_eq(wk_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static inline wk_gguf *tok_import_to_gguf(const char *dir, const wk_hf_config *cfg,
                                   wk_tokenizer_info *info, char *path, size_t path_len)
{
    wk_gguf_writer *w;
    wk_gguf *g;
    wk_err e = {{0}};
    snprintf(path, path_len, "%s/vocab.gguf", dir);
    cr_assert_eq(wk_gguf_writer_open(path, &w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_tokenizer_import(dir, cfg, w, info, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_gguf_writer_finish(w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_gguf_open(path, &g, &e), 0, "%s", e.msg);
    return g;
}

#endif
