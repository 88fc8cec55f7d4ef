/* GGUF split sets (llama.cpp's gguf-split layout): the writer's cut (gguf-split's rule,
 * never an empty file), file names, split keys and per-file checksums; a set that fits in
 * one file; all-or-nothing output; leftovers reported; and the reader opening a set from
 * any of its files, or refusing a malformed one (missing file, split.count or split.no
 * disagreeing, renamed files, tensor counts, a tensor twice, mistyped keys) with a message
 * naming the file. Also wk_gguf_set_value, which copies metadata between files. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "formats/source.h"
#include "tests/unit/formats/gguf/gguf_test_util.h"

/* F32 tensors of these element counts; with alignment 32 and 64 bytes per file the cut is
 * [a b] [c] [d] [e]: b just fits, c would pass the limit, d alone is over it. */
typedef struct {
    const char *name;
    uint64_t n;
} sp_tensor;

static const sp_tensor sp_five[] = {{"a", 8}, {"b", 8}, {"c", 16}, {"d", 40}, {"e", 3}};

static int sp_leftover_calls;
static char sp_leftover_path[512];

static void sp_on_leftover(void *ctx, const char *path, uint64_t size)
{
    (void)ctx;
    sp_leftover_calls++;
    snprintf(sp_leftover_path, sizeof sp_leftover_path, "%s (%llu)", path,
             (unsigned long long)size);
}

/* Writes the tensors to path split at max bytes; returns the number of files. */
static uint32_t sp_write(const char *path, const sp_tensor *ts, size_t n, uint64_t max,
                         uint32_t alignment, size_t seed)
{
    wk_err e;
    wk_gguf_writer *w;
    wk_gguf_writer_opts o = {.max_shard_bytes = max, .on_leftover = sp_on_leftover};
    OK(wk_gguf_writer_open_opts(path, &o, &w, &e));
    OK(wk_gguf_set_str(w, "general.architecture", "llama", &e));
    OK(wk_gguf_set_u32(w, "llama.block_count", 1, &e));
    if (alignment)
        OK(wk_gguf_set_alignment(w, alignment, &e));
    for (size_t i = 0; i < n; i++)
        OK(wk_gguf_add_tensor(w, ts[i].name, WK_F32, 1, &ts[i].n, NULL, &e));
    cr_assert_eq(wk_gguf_writer_n_files(w), 0, "the layout waits for the first write");
    for (size_t i = 0; i < n; i++) {
        uint8_t d[256];
        for (uint64_t j = 0; j < 4 * ts[i].n; j++)
            d[j] = gt_byte(seed + i, j);
        OK(wk_gguf_write_tensor(w, d, 4 * ts[i].n, &e));
    }
    uint32_t files = wk_gguf_writer_n_files(w);
    OK(wk_gguf_writer_finish(w, &e));
    return files;
}

static char *sp_file(const char *dir, const char *base, uint32_t no, uint32_t count)
{
    char *p = gt_path(dir, base), *f = wk_gguf_split_path(p, no, count);
    free(p);
    return f;
}

/* File k of count of the set written as dir/m.gguf, parsed. */
static wk_gguf *sp_open(const char *dir, uint32_t k, uint32_t count)
{
    wk_err e;
    wk_gguf *g;
    char *f = sp_file(dir, "m.gguf", k, count);
    OK(wk_gguf_open(f, &g, &e));
    free(f);
    return g;
}

static uint64_t sp_u(const wk_gguf *g, const char *key, uint32_t want_type)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    cr_assert_not_null(kv, "%s: no %s", g->path, key);
    cr_assert_eq(kv->value.type, want_type, "%s: %s is %s", g->path, key,
                 wk_gguf_type_name(kv->value.type));
    return kv->value.u;
}

Test(gguf_split, names_follow_llama_split_path)
{
    char *p = wk_gguf_split_path("out/k.gguf", 1, 3);
    cr_assert_str_eq(p, "out/k-00002-of-00003.gguf");
    free(p);
    p = wk_gguf_split_path("k", 0, 12);
    cr_assert_str_eq(p, "k-00001-of-00012.gguf");
    free(p);
    p = wk_gguf_split_prefix("d/k-00002-of-00003.gguf", 1, 3);
    cr_assert_str_eq(p, "d/k");
    free(p);
    cr_assert_null(wk_gguf_split_prefix("d/k-00002-of-00003.gguf", 0, 3));
    cr_assert_null(wk_gguf_split_prefix("k.gguf", 0, 1));
    cr_assert_null(wk_gguf_split_prefix("-00001-of-00002.gguf", 0, 2), "no prefix at all");
}

Test(gguf_split, writes_a_set_and_reads_it_from_any_file)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    cr_assert_eq(sp_write(path, sp_five, 5, 64, 0, 0), 4);
    cr_assert_eq(gt_count_files(dir), 4, "four files, no temp files, no plain m.gguf");
    static const uint64_t per_file[] = {2, 1, 1, 1};
    for (uint32_t k = 0; k < 4; k++) {
        wk_gguf *g = sp_open(dir, k, 4);
        const char *f = g->path;
        cr_assert_eq(g->n_tensors, per_file[k], "%s", f);
        cr_assert_eq(sp_u(g, "split.no", WK_GGUF_U16), k);
        cr_assert_eq(sp_u(g, "split.count", WK_GGUF_U16), 4);
        const wk_gguf_kv *kv = wk_gguf_find(g, "split.tensors.count");
        cr_assert(kv && kv->value.type == WK_GGUF_I32 && kv->value.i == 5);
        cr_assert_eq(wk_gguf_verify_checksums(g, &e), 0, "%s: own checksums: %s", f, e.msg);
        /* the metadata is in the first file only */
        cr_assert_eq(wk_gguf_find(g, "general.architecture") != NULL, k == 0);
        cr_assert_eq(g->n_kv, k == 0 ? 2 + 3 + 2 : 3 + 2, "%s", f);
        cr_assert_eq(g->tensors[0].offset, 0, "each file's data starts at its own 0");
        wk_gguf_close(g);
    }
    /* any file opens the whole set, in order */
    for (uint32_t k = 0; k < 4; k++) {
        char *f = sp_file(dir, "m.gguf", k, 4);
        wk_source *s;
        OK(wk_source_open(f, NULL, &s, &e));
        cr_assert_str_eq(s->format, "gguf");
        cr_assert_eq(s->n_files, 4);
        cr_assert_eq(s->n_tensors, 5);
        char *first = sp_file(dir, "m.gguf", 0, 4);
        cr_assert_str_eq(s->files[0], first);
        cr_assert_str_eq(s->gguf->path, first, "the metadata comes from the first file");
        free(first);
        static const uint32_t file_of[] = {0, 0, 1, 2, 3};
        for (size_t i = 0; i < 5; i++) {
            cr_assert_str_eq(s->tensors[i].name, sp_five[i].name);
            cr_assert_eq(s->tensors[i].file_index, file_of[i]);
            cr_assert_eq(s->tensors[i].shape[0], sp_five[i].n);
            wk_view v;
            OK(wk_source_read(s, i, &v, &e));
            cr_assert_eq(v.size, 4 * sp_five[i].n);
            for (uint64_t j = 0; j < v.size; j++)
                cr_assert_eq(((const uint8_t *)v.data)[j], gt_byte(i, j));
            wk_view_release(&v);
        }
        for (size_t j = 0; j < 4; j++)
            cr_assert_eq(wk_gguf_verify_checksums(wk_gguf_source_file(s, j), &e), 0);
        cr_assert_null(wk_gguf_source_file(s, 4));
        wk_source_close(s);
        free(f);
    }
    /* the name the set was written for opens it too */
    wk_source *s;
    OK(wk_source_open(path, NULL, &s, &e));
    cr_assert_eq(s->n_files, 4);
    wk_source_close(s);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, a_set_that_fits_in_one_file_is_a_plain_file)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    cr_assert_eq(sp_write(path, sp_five, 5, 1000000, 0, 0), 1);
    cr_assert_eq(gt_count_files(dir), 1);
    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_null(wk_gguf_find(g, "split.count"));
    cr_assert_null(wk_gguf_find(g, "split.no"));
    cr_assert_eq(g->n_tensors, 5);
    wk_gguf_close(g);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, one_tensor_larger_than_the_limit_gets_its_own_file)
{
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    static const sp_tensor big_first[] = {{"d", 40}, {"a", 8}, {"b", 8}};
    cr_assert_eq(sp_write(path, big_first, 3, 64, 0, 0), 2, "never an empty first file");
    wk_gguf *g = sp_open(dir, 1, 2);
    cr_assert_eq(g->n_tensors, 2);
    wk_gguf_close(g);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, alignment_travels_to_every_file)
{
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    /* padded to 64: a, b, c take 64 bytes each */
    cr_assert_eq(sp_write(path, sp_five, 5, 128, 64, 0), 4);
    for (uint32_t k = 0; k < 4; k++) {
        wk_gguf *g = sp_open(dir, k, 4);
        cr_assert_eq(g->alignment, 64, "%s", g->path);
        cr_assert_eq(g->data_offset % 64, 0);
        cr_assert_eq(sp_u(g, "general.alignment", WK_GGUF_U32), 64);
        wk_gguf_close(g);
    }
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, split_keys_belong_to_the_writer)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    wk_gguf_writer *w;
    OK(wk_gguf_writer_open(path, &w, &e));
    static const char *const keys[] = {"split.no", "split.count", "split.tensors.count"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wk_gguf_set_u32(w, keys[i], 1, &e), -1);
        cr_assert(strstr(e.msg, keys[i]) && strstr(e.msg, "set by the writer"), "%s", e.msg);
    }
    wk_gguf_writer_abort(w);
    cr_assert_eq(gt_count_files(dir), 0);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, a_failed_set_leaves_no_file)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    uint8_t d[256] = {0};
    wk_gguf_writer_opts o = {.max_shard_bytes = 64};
    wk_gguf_writer *w;
    /* aborted after two files were written */
    OK(wk_gguf_writer_open_opts(path, &o, &w, &e));
    for (size_t i = 0; i < 5; i++)
        OK(wk_gguf_add_tensor(w, sp_five[i].name, WK_F32, 1, &sp_five[i].n, NULL, &e));
    for (size_t i = 0; i < 3; i++)
        OK(wk_gguf_write_tensor(w, d, 4 * sp_five[i].n, &e));
    cr_assert_eq(gt_count_files(dir), 3, "two files written, the third begun: temp files");
    wk_gguf_writer_abort(w);
    cr_assert_eq(gt_count_files(dir), 0);

    /* the last rename fails: the files already renamed are removed again */
    OK(wk_gguf_writer_open_opts(path, &o, &w, &e));
    for (size_t i = 0; i < 5; i++)
        OK(wk_gguf_add_tensor(w, sp_five[i].name, WK_F32, 1, &sp_five[i].n, NULL, &e));
    for (size_t i = 0; i < 5; i++)
        OK(wk_gguf_write_tensor(w, d, 4 * sp_five[i].n, &e));
    char *last = sp_file(dir, "m.gguf", 3, 4);
    cr_assert_eq(mkdir(last, 0755), 0);
    char *inside = gt_path(last, "x");
    gt_bytes b = {.n = 1};
    gt_write_file(inside, &b); /* a non-empty directory: rename cannot replace it */
    cr_assert_eq(wk_gguf_writer_finish(w, &e), -1);
    cr_assert(strstr(e.msg, "m-00004-of-00004.gguf") && strstr(e.msg, "the 3 file(s) of the "
                                                                      "set already in place "
                                                                      "were removed"),
              "%s", e.msg);
    cr_assert_eq(gt_count_files(dir), 1, "only the directory is left");
    unlink(inside);
    rmdir(last);
    free(inside);
    free(last);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, leftovers_of_each_file_are_reported)
{
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    char *second = sp_file(dir, "m.gguf", 1, 4), *left = malloc(strlen(second) + 16);
    sprintf(left, "%s.tmp.Abc123", second);
    gt_bytes b = {.n = 7};
    gt_write_file(left, &b);
    sp_leftover_calls = 0;
    cr_assert_eq(sp_write(path, sp_five, 5, 64, 0, 0), 4);
    cr_assert_eq(sp_leftover_calls, 1);
    char want[600];
    snprintf(want, sizeof want, "%s (7)", left);
    cr_assert_str_eq(sp_leftover_path, want);
    cr_assert_eq(access(left, F_OK), 0, "never removed");
    free(left);
    free(second);
    free(path);
    gt_rmdir(dir);
}

/* ---- malformed sets ---- */

static void sp_expect(const char *path, const char *part1, const char *part2)
{
    wk_err e;
    wk_source *s = NULL;
    cr_assert_eq(wk_source_open(path, NULL, &s, &e), -1, "%s opened", path);
    cr_assert_null(s);
    cr_assert(strstr(e.msg, part1) && (!part2 || strstr(e.msg, part2)), "%s", e.msg);
}

static void sp_move(const char *dir, const char *from, const char *to)
{
    char *a = gt_path(dir, from), *b = gt_path(dir, to);
    cr_assert_eq(rename(a, b), 0, "%s -> %s", a, b);
    free(a);
    free(b);
}

Test(gguf_split, a_missing_file_is_named)
{
    char *dir = gt_tmpdir(), *path = gt_path(dir, "m.gguf");
    sp_write(path, sp_five, 5, 64, 0, 0);
    char *third = sp_file(dir, "m.gguf", 2, 4), *first = sp_file(dir, "m.gguf", 0, 4);
    unlink(third);
    sp_expect(first, "m-00003-of-00004.gguf: file 3 of the 4 of a split GGUF set is missing",
              "m-00001-of-00004.gguf");
    char *last = sp_file(dir, "m.gguf", 3, 4);
    sp_expect(last, "file 3 of the 4", NULL);
    free(third);
    free(first);
    free(last);
    free(path);
    gt_rmdir(dir);
}

Test(gguf_split, files_of_another_set_are_refused)
{
    char *dir = gt_tmpdir(), *a = gt_path(dir, "a.gguf"), *b = gt_path(dir, "b.gguf");
    sp_write(a, sp_five, 5, 64, 0, 0); /* 4 files */
    /* the same names, 3 + 2 to a file: 2 files */
    static const sp_tensor two[] = {{"a", 8}, {"b", 8}, {"c", 8}, {"d", 8}, {"e", 8}};
    cr_assert_eq(sp_write(b, two, 5, 96, 0, 0), 2);
    cr_assert_eq(gt_count_files(dir), 6);
    /* wrong split.count: b's second file under a's name */
    sp_move(dir, "a-00002-of-00004.gguf", "keep.gguf");
    sp_move(dir, "b-00002-of-00002.gguf", "a-00002-of-00004.gguf");
    char *a1 = sp_file(dir, "a.gguf", 0, 4);
    sp_expect(a1, "a-00002-of-00004.gguf: split.count is 2 but", "a-00001-of-00004.gguf says 4");
    sp_move(dir, "a-00002-of-00004.gguf", "b-00002-of-00002.gguf");
    sp_move(dir, "keep.gguf", "a-00002-of-00004.gguf");
    /* files swapped: split.no disagrees with the name */
    sp_move(dir, "a-00002-of-00004.gguf", "keep.gguf");
    sp_move(dir, "a-00003-of-00004.gguf", "a-00002-of-00004.gguf");
    sp_move(dir, "keep.gguf", "a-00003-of-00004.gguf");
    sp_expect(a1, "a-00002-of-00004.gguf: split.no is 2 (file 3) but the name makes it file 2 "
                  "of 4", NULL);
    sp_move(dir, "a-00002-of-00004.gguf", "keep.gguf");
    sp_move(dir, "a-00003-of-00004.gguf", "a-00002-of-00004.gguf");
    sp_move(dir, "keep.gguf", "a-00003-of-00004.gguf");
    wk_source *s;
    wk_err e;
    OK(wk_source_open(a1, NULL, &s, &e));
    wk_source_close(s);
    /* a renamed file cannot find the others */
    sp_move(dir, "a-00001-of-00004.gguf", "renamed.gguf");
    char *renamed = gt_path(dir, "renamed.gguf");
    sp_expect(renamed, "renamed.gguf: file 1 of a split GGUF set of 4, but its name does not "
                       "end in -00001-of-00004.gguf", NULL);
    free(renamed);
    free(a1);
    free(a);
    free(b);
    gt_rmdir(dir);
}

Test(gguf_split, tensor_counts_and_duplicates_across_files)
{
    char *dir = gt_tmpdir(), *a = gt_path(dir, "a.gguf"), *b = gt_path(dir, "b.gguf");
    char *c = gt_path(dir, "c.gguf");
    sp_write(a, sp_five, 5, 64, 0, 0);
    /* the same cut, but its last file holds tensor "b" (already in a's first file) */
    static const sp_tensor dup[] = {{"v", 8}, {"w", 8}, {"x", 16}, {"y", 40}, {"b", 3}};
    sp_write(b, dup, 5, 64, 0, 5);
    /* four files too, of one tensor each: split.tensors.count 4 */
    static const sp_tensor four[] = {{"p", 16}, {"q", 16}, {"r", 16}, {"s", 16}};
    cr_assert_eq(sp_write(c, four, 4, 64, 0, 9), 4);
    char *a1 = sp_file(dir, "a.gguf", 0, 4);
    sp_move(dir, "a-00004-of-00004.gguf", "keep.gguf");
    sp_move(dir, "b-00004-of-00004.gguf", "a-00004-of-00004.gguf");
    sp_expect(a1, "tensor 'b' is in two files of the split set", "a-00004-of-00004.gguf");
    sp_move(dir, "a-00004-of-00004.gguf", "b-00004-of-00004.gguf");
    sp_move(dir, "keep.gguf", "a-00004-of-00004.gguf");
    /* c's files say 4 tensors; a's first says 5 */
    sp_move(dir, "c-00004-of-00004.gguf", "a-00004-of-00004.gguf");
    sp_expect(a1, "a-00004-of-00004.gguf: split.tensors.count is 4 but",
              "a-00001-of-00004.gguf says 5");
    free(a1);
    free(a);
    free(b);
    free(c);
    gt_rmdir(dir);
}

/* A one-tensor file whose split keys are laid out by hand. */
static void sp_handmade(const char *path, int count_type, uint64_t count, int no_type,
                        uint64_t no)
{
    gt_bytes g = {0};
    gt_put(&g, "GGUF", 4);
    gt_u32(&g, 3);
    gt_u64(&g, 0);
    gt_u64(&g, (count_type >= 0) + (no_type >= 0));
    if (count_type >= 0) {
        gt_key(&g, "split.count", (uint32_t)count_type);
        gt_put(&g, &count, wk_gguf_prim_size((uint32_t)count_type));
    }
    if (no_type >= 0) {
        gt_key(&g, "split.no", (uint32_t)no_type);
        gt_put(&g, &no, wk_gguf_prim_size((uint32_t)no_type));
    }
    gt_write_file(path, &g);
}

Test(gguf_split, split_keys_are_checked)
{
    char *dir = gt_tmpdir(), *p = gt_path(dir, "k-00001-of-00002.gguf");
    sp_handmade(p, WK_GGUF_U16, 0, -1, 0);
    sp_expect(p, "split.count is 0", NULL);
    sp_handmade(p, WK_GGUF_U32, 2, WK_GGUF_U16, 0);
    sp_expect(p, "split.count should be a u16, not u32", NULL);
    sp_handmade(p, WK_GGUF_U16, 2, -1, 0);
    sp_expect(p, "split.count is 2 but split.no", "is missing");
    sp_handmade(p, WK_GGUF_U16, 2, WK_GGUF_I32, 0);
    sp_expect(p, "split.no should be a u16, not i32", NULL);
    sp_handmade(p, WK_GGUF_U16, 2, WK_GGUF_U16, 2);
    sp_expect(p, "split.no 2 is not below split.count 2", NULL);
    /* a set of one is a plain file */
    wk_err e;
    wk_source *s;
    sp_handmade(p, WK_GGUF_U16, 1, WK_GGUF_U16, 0);
    OK(wk_source_open(p, NULL, &s, &e));
    cr_assert_eq(s->n_files, 1);
    wk_source_close(s);
    free(p);
    gt_rmdir(dir);
}

/* ---- copying values ---- */

Test(gguf_split, set_value_copies_every_type)
{
    wk_err e;
    char *dir = gt_tmpdir(), *src = gt_path(dir, "src.gguf"), *dst = gt_path(dir, "dst.gguf");
    gt_bytes g;
    gt_handmade(&g, 3);
    gt_write_file(src, &g);
    wk_gguf *in, *out;
    OK(wk_gguf_open(src, &in, &e));
    wk_gguf_writer *w;
    OK(wk_gguf_writer_open(dst, &w, &e));
    char key[128];
    for (uint64_t i = 0; i < in->n_kv; i++) {
        snprintf(key, sizeof key, "%.*s", (int)in->kv[i].key.len, in->kv[i].key.ptr);
        OK(wk_gguf_set_value(w, key, &in->kv[i].value, &e));
    }
    OK(wk_gguf_writer_finish(w, &e));
    OK(wk_gguf_open(dst, &out, &e));
    cr_assert_eq(out->alignment, 16, "general.alignment goes through set_u32");
    cr_assert_eq(out->n_kv, in->n_kv + 2, "and the checksum keys");
    /* the encoded bytes of every value are the same: compare the spans between keys */
    for (uint64_t i = 0; i < in->n_kv; i++) {
        const wk_gguf_kv *a = &in->kv[i], *b = &out->kv[i];
        cr_assert(gt_streq(b->key, (snprintf(key, sizeof key, "%.*s", (int)a->key.len,
                                             a->key.ptr), key)));
        uint64_t alen = (i + 1 < in->n_kv ? in->kv[i + 1].offset : in->data_offset) - a->offset;
        uint64_t blen = out->kv[i + 1].offset - b->offset;
        if (i + 1 == in->n_kv) /* the last value runs into the tensor infos: no tensors */
            alen = blen;
        cr_assert_eq(alen, blen, "%s", key);
        cr_assert_eq(memcmp(in->data + a->offset, out->data + b->offset, (size_t)alen), 0,
                     "%s", key);
    }
    wk_gguf_close(in);
    wk_gguf_close(out);
    free(src);
    free(dst);
    gt_rmdir(dir);
}
