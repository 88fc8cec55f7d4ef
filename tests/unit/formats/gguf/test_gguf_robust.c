/* GGUF robustness (formats/gguf.h): writer errors leave no file behind, every truncation
 * and every flipped header byte of valid files fails cleanly with a printable message
 * naming the file, and names are escaped for messages. */
#include <criterion/criterion.h>

#include "tests/unit/formats/gguf/gguf_test_util.h"

/* ---- writer errors leave nothing behind ---- */

Test(gguf, writer_errors_leave_no_file)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "bad.gguf");
    const uint64_t shape[] = {2, 32};
    uint8_t data[256] = {0};
    wk_gguf_writer *w;

    /* size mismatch: the caller aborts */
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_add_tensor(w, "a", WK_F32, 2, shape, NULL, &e));
    cr_assert_eq(wk_gguf_write_tensor(w, data, 255, &e), -1);
    cr_assert(strstr(e.msg, "'a' is 256 bytes") && strstr(e.msg, "255"), "%s", e.msg);
    cr_assert_eq(wk_gguf_write_tensor_part(w, data, 200, &e), 0);
    cr_assert_eq(wk_gguf_write_tensor_part(w, data, 57, &e), -1, "pieces past the size");
    cr_assert_eq(wk_gguf_write_tensor(w, data, 256, &e), -1, "tensor partly written");
    wk_gguf_writer_abort(w);
    cr_assert_eq(gt_count_files(dir), 0);

    /* missing tensor: finish fails and removes the temp file */
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_add_tensor(w, "a", WK_F32, 2, shape, NULL, &e));
    OK(wk_gguf_add_tensor(w, "b", WK_F16, 2, shape, NULL, &e));
    OK(wk_gguf_write_tensor(w, data, 256, &e));
    cr_assert_eq(wk_gguf_writer_finish(w, &e), -1);
    cr_assert(strstr(e.msg, "'b'") && strstr(e.msg, "never written"), "%s", e.msg);
    cr_assert_eq(gt_count_files(dir), 0);

    /* half-written tensor */
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_add_tensor(w, "a", WK_F32, 2, shape, NULL, &e));
    OK(wk_gguf_write_tensor_part(w, data, 100, &e));
    cr_assert_eq(wk_gguf_writer_finish(w, &e), -1);
    cr_assert(strstr(e.msg, "incomplete"), "%s", e.msg);
    cr_assert_eq(gt_count_files(dir), 0);

    /* declaration errors */
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_add_tensor(w, "a", WK_F32, 2, shape, NULL, &e));
    cr_assert_eq(wk_gguf_add_tensor(w, "a", WK_F16, 2, shape, NULL, &e), -1);
    cr_assert(strstr(e.msg, "duplicate tensor name 'a'"), "%s", e.msg);
    char name[80];
    memset(name, 'n', sizeof name);
    name[64] = '\0';
    cr_assert_eq(wk_gguf_add_tensor(w, name, WK_F32, 2, shape, NULL, &e), -1);
    cr_assert(strstr(e.msg, "64 bytes"), "%s", e.msg);
    name[63] = '\0';
    OK(wk_gguf_add_tensor(w, name, WK_F32, 2, shape, NULL, &e)); /* 63 bytes is fine */
    cr_assert_eq(wk_gguf_add_tensor(w, "", WK_F32, 2, shape, NULL, &e), -1);
    const uint64_t five[] = {1, 1, 1, 1, 1};
    cr_assert_eq(wk_gguf_add_tensor(w, "five", WK_F32, 5, five, NULL, &e), -1);
    cr_assert(strstr(e.msg, "5 dimensions"), "%s", e.msg);
    const uint64_t q_bad[] = {4, 33};
    cr_assert_eq(wk_gguf_add_tensor(w, "q", WK_Q4_0, 2, q_bad, NULL, &e), -1);
    cr_assert(strstr(e.msg, "block size 32"), "%s", e.msg);
    cr_assert_eq(wk_gguf_add_tensor(w, "u16", WK_U16, 2, shape, NULL, &e), -1);
    cr_assert(strstr(e.msg, "no ggml"), "%s", e.msg);
    const uint64_t huge[] = {1ull << 40, 1ull << 40};
    cr_assert_eq(wk_gguf_add_tensor(w, "huge", WK_F32, 2, huge, NULL, &e), -1);
    wk_gguf_writer_abort(w);
    cr_assert_eq(gt_count_files(dir), 0);

    /* the finished file appears only under its final name */
    OK(wk_gguf_writer_open(path, &w, &e));
    cr_assert_eq(access(path, F_OK), -1, "nothing under the final name before finish");
    OK(wk_gguf_writer_finish(w, &e));
    cr_assert_eq(access(path, F_OK), 0);
    cr_assert_eq(gt_count_files(dir), 1);
    free(path);
    gt_rmdir(dir);
}

/* ---- every truncation and every single-byte change of valid files ---- */

static void gt_load(const char *path, gt_bytes *b)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    b->n = fread(b->b, 1, sizeof b->b, f);
    cr_assert(feof(f), "fixture larger than the buffer");
    fclose(f);
}

/* Opens the bytes as a source and touches everything; returns the open result. */
static int gt_try(const char *path, const gt_bytes *b, wk_err *e)
{
    gt_write_file(path, b);
    wk_source *s;
    if (wk_gguf_open_source(path, &s, e) != 0) {
        cr_assert(strstr(e->msg, path), "message names the file: %s", e->msg);
        for (const char *c = e->msg; *c; c++)
            cr_assert((unsigned char)*c >= 0x20, "printable message: %s", e->msg);
        return -1;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n_tensors; i++) {
        wk_view v;
        cr_assert_eq(wk_source_read(s, i, &v, e), 0);
        for (uint64_t j = 0; j < v.size; j++)
            sum += ((const uint8_t *)v.data)[j];
        wk_view_release(&v);
    }
    wk_gguf_verify_checksums(s->gguf, e);
    wk_source_close(s);
    return sum == UINT64_MAX; /* 0; keeps the reads */
}

/* Every truncation and every flipped byte of the header (up to data_start); truncations
 * before data_end must fail. Data bytes only matter to the checksums, tested above. */
static void gt_mutate_all(const char *dir, const char *fixture, uint64_t data_start,
                          uint64_t data_end)
{
    wk_err e;
    char *path = gt_path(dir, "mut.gguf");
    gt_bytes *orig = calloc(1, sizeof *orig), *b = calloc(1, sizeof *b);
    gt_load(fixture, orig);
    cr_assert_eq(gt_try(path, orig, &e), 0, "%s", e.msg);
    for (size_t len = 0; len < orig->n; len++) {
        memcpy(b->b, orig->b, len);
        b->n = len;
        int rc = gt_try(path, b, &e);
        if (len < data_end)
            cr_assert_eq(rc, -1, "a %zu-byte prefix of %zu must be rejected", len, orig->n);
    }
    for (size_t at = 0; at < orig->n && at < data_start; at++) {
        *b = *orig;
        b->b[at] ^= 0xff;
        gt_try(path, b, &e);
    }
    free(orig);
    free(b);
    free(path);
}

Test(gguf, truncations_and_byte_flips_fail_cleanly)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "t.gguf");
    gt_write_tensors(path, 16, 0);
    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    const wk_gguf_tensor_info *last = &g->tensors[g->n_tensors - 1];
    uint64_t data_start = g->data_offset, data_end = data_start + last->offset + last->n_bytes;
    wk_gguf_close(g);
    gt_mutate_all(dir, path, data_start, data_end);

    gt_bytes *b = calloc(1, sizeof *b);
    gt_handmade(b, 8);
    gt_write_file(path, b);
    gt_mutate_all(dir, path, b->n, b->n);
    free(b);
    free(path);
    gt_rmdir(dir);
}

Test(gguf, str_show_escapes_for_messages)
{
    char buf[32];
    wk_gguf_str s = {"a\x01\xc3\xa9\xff\xed\xa0\x80z", 9};
    cr_assert_str_eq(wk_gguf_str_show(s, buf, sizeof buf), "a\\x01\xc3\xa9\\xff\\xed\\xa0\\x80z");
    wk_gguf_str long_s = {"0123456789012345678901234567890123456789", 40};
    cr_assert_str_eq(wk_gguf_str_show(long_s, buf, sizeof buf), "0123456789012345678901234567...");
    wk_gguf_str empty = {"", 0};
    cr_assert_str_eq(wk_gguf_str_show(empty, buf, sizeof buf), "");
}
