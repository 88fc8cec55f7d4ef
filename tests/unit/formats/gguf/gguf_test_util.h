/* Helpers shared by the GGUF unit tests (test_gguf.c, test_gguf_robust.c): temporary
 * directories, a byte builder for hand-made files (laid out from ggml's docs/gguf.md,
 * independent of our writer), a hand-made file holding every value type, and a table of
 * tensors written through the writer. */
#ifndef WK_TESTS_GGUF_TEST_UTIL_H
#define WK_TESTS_GGUF_TEST_UTIL_H

#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf/gguf.h"

/* ---- helpers ---- */

/* A fresh directory, in memory when the system has /dev/shm (the mutation test writes
 * thousands of small files). */
static inline char *gt_tmpdir(void)
{
    char shm[] = "/dev/shm/wk-gguf-test-XXXXXX", tmp[] = "/tmp/wk-gguf-test-XXXXXX";
    char *d = access("/dev/shm", W_OK) == 0 ? mkdtemp(shm) : NULL;
    if (!d)
        d = mkdtemp(tmp);
    cr_assert(d);
    return strdup(d);
}

static inline char *gt_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Number of entries in dir other than . and .. */
static inline int gt_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline void gt_rmdir(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            char *p = gt_path(dir, de->d_name);
            unlink(p);
            free(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

static inline int gt_streq(wk_gguf_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

#define OK(call) cr_assert_eq((call), 0, "%s failed: %s", #call, e.msg)

/* A byte builder for hand-made files. */
typedef struct {
    uint8_t b[8192];
    size_t n;
} gt_bytes;

static inline void gt_put(gt_bytes *g, const void *p, size_t n)
{
    cr_assert(g->n + n <= sizeof g->b);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static inline void gt_u8(gt_bytes *g, uint8_t v) { gt_put(g, &v, 1); }
static inline void gt_u16(gt_bytes *g, uint16_t v) { gt_put(g, &v, 2); }
static inline void gt_u32(gt_bytes *g, uint32_t v) { gt_put(g, &v, 4); }
static inline void gt_u64(gt_bytes *g, uint64_t v) { gt_put(g, &v, 8); }
static inline void gt_str(gt_bytes *g, const char *s)
{
    gt_u64(g, strlen(s));
    gt_put(g, s, strlen(s));
}
static inline void gt_key(gt_bytes *g, const char *k, uint32_t type)
{
    gt_str(g, k);
    gt_u32(g, type);
}

/* Flips the bits of mask in the byte at offset `at` of the file. */
static inline void gt_flip_byte(const char *path, uint64_t at, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0, "%s", path);
    uint8_t c;
    cr_assert_eq(pread(fd, &c, 1, (off_t)at), 1);
    c ^= mask;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t)at), 1);
    close(fd);
}

static inline void gt_write_file(const char *path, const gt_bytes *g)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(g->b, 1, g->n, f), g->n);
    fclose(f);
}

/* ---- every value type and nested arrays, laid out by hand ---- */

/* depth levels of arrays around one u16 array of 2 elements */
static inline void gt_nested(gt_bytes *g, int depth)
{
    for (int d = 0; d < depth - 1; d++) {
        gt_u32(g, WK_GGUF_ARRAY);
        gt_u64(g, 1);
    }
    gt_u32(g, WK_GGUF_U16);
    gt_u64(g, 2);
    gt_u16(g, 1);
    gt_u16(g, 2);
}

static inline void gt_handmade(gt_bytes *g, int nest_depth)
{
    g->n = 0;
    gt_put(g, "GGUF", 4);
    gt_u32(g, 2); /* v2 is read the same way */
    gt_u64(g, 0);
    gt_u64(g, 17);
    gt_key(g, "t.u8", WK_GGUF_U8);
    gt_u8(g, 200);
    gt_key(g, "t.i8", WK_GGUF_I8);
    gt_u8(g, 0x80);
    gt_key(g, "t.u16", WK_GGUF_U16);
    gt_u16(g, 60000);
    gt_key(g, "t.i16", WK_GGUF_I16);
    gt_u16(g, 0xfffe);
    gt_key(g, "t.u32", WK_GGUF_U32);
    gt_u32(g, 123456789);
    gt_key(g, "t.i32", WK_GGUF_I32);
    gt_u32(g, 0xffffffff);
    gt_key(g, "t.f32", WK_GGUF_F32);
    float f = -2.5f;
    gt_put(g, &f, 4);
    gt_key(g, "t.bool", WK_GGUF_BOOL);
    gt_u8(g, 0);
    gt_key(g, "t.str", WK_GGUF_STRING);
    gt_str(g, "value");
    gt_key(g, "t.u64", WK_GGUF_U64);
    gt_u64(g, 1ull << 63);
    gt_key(g, "t.i64", WK_GGUF_I64);
    gt_u64(g, (uint64_t)-9);
    gt_key(g, "t.f64", WK_GGUF_F64);
    double d = 6.02214076e23;
    gt_put(g, &d, 8);
    gt_key(g, "t.arr_of_str_arrs", WK_GGUF_ARRAY); /* [["x", "yz"], []] */
    gt_u32(g, WK_GGUF_ARRAY);
    gt_u64(g, 2);
    gt_u32(g, WK_GGUF_STRING);
    gt_u64(g, 2);
    gt_str(g, "x");
    gt_str(g, "yz");
    gt_u32(g, WK_GGUF_STRING);
    gt_u64(g, 0);
    gt_key(g, "t.arr_of_i16_arrs", WK_GGUF_ARRAY); /* [[-1], [3, 4]] */
    gt_u32(g, WK_GGUF_ARRAY);
    gt_u64(g, 2);
    gt_u32(g, WK_GGUF_I16);
    gt_u64(g, 1);
    gt_u16(g, 0xffff);
    gt_u32(g, WK_GGUF_I16);
    gt_u64(g, 2);
    gt_u16(g, 3);
    gt_u16(g, 4);
    gt_key(g, "t.empty_arr_of_arrs", WK_GGUF_ARRAY);
    gt_u32(g, WK_GGUF_ARRAY);
    gt_u64(g, 0);
    gt_key(g, "t.deep", WK_GGUF_ARRAY);
    gt_nested(g, nest_depth);
    gt_key(g, "general.alignment", WK_GGUF_U32);
    gt_u32(g, 16);
}

/* ---- tensors ---- */

typedef struct {
    const char *name;
    wk_dtype type;
    uint32_t n_dims;
    uint64_t shape[4];
    uint64_t n_bytes;
    uint32_t ggml_type;
} gt_tensor;

static const gt_tensor gt_tensors[] = {
    {"token_embd.weight", WK_F32, 2, {5, 3}, 60, 0},
    {"blk.0.attn_norm.weight", WK_F16, 1, {7}, 14, 1},
    {"blk.0.ffn_up.weight", WK_BF16, 3, {2, 3, 4}, 48, 30},
    {"blk.0.attn_q.weight", WK_Q8_0, 2, {2, 64}, 2 * 2 * 34, 8},
    {"empty", WK_I32, 2, {0, 4}, 0, 26},
    {"four_d", WK_I8, 4, {1, 2, 3, 5}, 30, 24},
};
#define GT_N (sizeof gt_tensors / sizeof gt_tensors[0])

static inline uint8_t gt_byte(size_t t, uint64_t j)
{
    return (uint8_t)(t * 31 + j * 7 + 1);
}

/* Writes gt_tensors with the given alignment; pieces > 0 streams each tensor in parts. */
static inline void gt_write_tensors(const char *path, uint32_t alignment, int pieces)
{
    wk_err e;
    wk_gguf_writer *w;
    OK(wk_gguf_writer_open(path, &w, &e));
    if (alignment)
        OK(wk_gguf_set_alignment(w, alignment, &e));
    for (size_t i = 0; i < GT_N; i++) {
        size_t idx;
        const gt_tensor *t = &gt_tensors[i];
        OK(wk_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->shape, &idx, &e));
        cr_assert_eq(idx, i);
    }
    for (size_t i = 0; i < GT_N; i++) {
        uint64_t n = gt_tensors[i].n_bytes;
        uint8_t *d = malloc(n + 1);
        for (uint64_t j = 0; j < n; j++)
            d[j] = gt_byte(i, j);
        if (pieces) {
            uint64_t at = 0;
            while (at < n) {
                uint64_t k = n / pieces + 1 < n - at ? n / pieces + 1 : n - at;
                OK(wk_gguf_write_tensor_part(w, d + at, k, &e));
                at += k;
            }
            if (n == 0)
                OK(wk_gguf_write_tensor_part(w, d, 0, &e));
        } else {
            OK(wk_gguf_write_tensor(w, d, n, &e));
        }
        free(d);
    }
    cr_assert_neq(wk_gguf_write_tensor(w, "x", 1, &e), 0, "no tensor left to write");
    cr_assert_neq(wk_gguf_set_u32(w, "late", 1, &e), 0, "metadata after data");
    OK(wk_gguf_writer_finish(w, &e));
}

#endif
