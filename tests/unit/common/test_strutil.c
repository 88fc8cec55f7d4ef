/* The small shared helpers (common/strutil.h, common/le.h, wk_gguf_prim_size) and the parts
 * of the shard-index reader (formats/shard_index.h) that the format readers cannot reach.
 * UTF-8 is held against a decode-then-check-the-code-point definition (Unicode table 3-7
 * stated as ranges of code points), over every 1-, 2- and 3-byte sequence. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/le.h"
#include "common/strutil.h"
#include "formats/gguf/gguf.h"
#include "formats/pytorch/pickle.h"
#include "formats/shard_index.h"

/* Length of the well-formed sequence at p by decoding it: lead byte pattern, continuation
 * bytes, then the code point must need that many bytes, not be a surrogate and be at most
 * U+10FFFF. */
static unsigned su_ref_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    unsigned len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t cp = c & (0x7f >> len);
    for (unsigned i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

Test(strutil, utf8_seq_len_matches_the_decoding_definition)
{
    uint8_t b[4];
    for (unsigned x = 0; x < 1u << 24; x++) {
        b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
        /* n = 1 and 2 see only the first bytes: once per value of those is enough */
        for (size_t n = (x & 0xff) ? 3 : (x & 0xffff) ? 2 : 1; n <= 3; n++)
            if (wk_utf8_seq_len(b, n) != su_ref_len(b, n))
                cr_assert_fail("%02x %02x %02x (n=%zu): %u, expected %u", b[0], b[1], b[2], n,
                         wk_utf8_seq_len(b, n), su_ref_len(b, n));
    }
    static const uint8_t tails[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (unsigned c = 0xf0; c <= 0xff; c++)
        for (unsigned d = 0; d < 256; d++)
            for (size_t i = 0; i < sizeof tails; i++)
                for (size_t j = 0; j < sizeof tails; j++) {
                    b[0] = (uint8_t)c, b[1] = (uint8_t)d, b[2] = tails[i], b[3] = tails[j];
                    cr_assert_eq(wk_utf8_seq_len(b, 4), su_ref_len(b, 4), "%02x %02x %02x %02x",
                                 b[0], b[1], b[2], b[3]);
                }
}

Test(strutil, utf8_valid_reports_the_first_bad_byte)
{
    size_t bad = 99;
    cr_assert(wk_utf8_valid((const uint8_t *)"", 0, &bad));
    cr_assert(wk_utf8_valid((const uint8_t *)"a\xc3\xa9\xf0\x9f\x98\x80\x01", 8, &bad));
    cr_assert_eq(bad, 99, "untouched on success");
    cr_assert_not(wk_utf8_valid((const uint8_t *)"ab\0c", 4, &bad));
    cr_assert_eq(bad, 2, "NUL is refused");
    cr_assert_not(wk_utf8_valid((const uint8_t *)"a\xc3\xa9\xed\xa0\x80", 6, &bad));
    cr_assert_eq(bad, 3, "a surrogate, reported at its lead byte");
    cr_assert_not(wk_utf8_valid((const uint8_t *)"abc\xe2\x82", 5, &bad));
    cr_assert_eq(bad, 3, "a sequence cut by the end");
}

Test(strutil, pickle_names_are_utf8_without_controls)
{
    cr_assert(wk_pk_name_ok("layer.0.w\xc3\xa9ight", 13));
    cr_assert(wk_pk_name_ok("\xc2\x85", 2), "C1 controls are code points, not bytes < 0x20");
    cr_assert_not(wk_pk_name_ok("a\tb", 3));
    cr_assert_not(wk_pk_name_ok("a\x7f", 2));
    cr_assert_not(wk_pk_name_ok("a\0b", 3));
    cr_assert_not(wk_pk_name_ok("\xc0\x80", 2), "overlong NUL");
    cr_assert_not(wk_pk_name_ok("\xf4\x90\x80\x80", 4), "above U+10FFFF");
    cr_assert_not(wk_pk_name_ok("\xe2\x82\xac", 2), "cut by the length given");
}

Test(strutil, relative_paths_stay_below_their_directory)
{
    static const char *const ok[] = {"model-00001-of-00002.safetensors", "sub/s1.bin",
                                     "./x.bin", "a..b/c..", "caf\xc3\xa9.bin", "a/.../b"};
    static const char *const refused[] = {"", "/etc/passwd", "..", "../x", "a/../b", "a/..",
                                          "a\\b", "a\001b", "a\x7f", "a\nb", "x/../../y"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(wk_rel_path_safe(ok[i]), "refused '%s'", ok[i]);
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        cr_assert_not(wk_rel_path_safe(refused[i]), "accepted '%s'", refused[i]);
}

Test(strutil, names_dirs_and_suffixes)
{
    const char *names[] = {"b", "a", "c", "a"};
    cr_assert_str_eq(wk_find_duplicate(names, 4), "a");
    cr_assert_str_eq(names[0], "a", "sorted in place");
    const char *unique[] = {"b", "a", "c"};
    cr_assert_null(wk_find_duplicate(unique, 3));
    cr_assert_null(wk_find_duplicate(unique, 0));
    static const char *const dirs[][2] = {{"m/x.json", "m"}, {"x.json", "."}, {"/x.json", "/"},
                                          {"/a/b/x.json", "/a/b"}, {"a/", "a"}};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *d = wk_dir_of(dirs[i][0]);
        cr_assert_str_eq(d, dirs[i][1], "dir of '%s'", dirs[i][0]);
        free(d);
    }
    cr_assert(wk_has_suffix("model.safetensors", ".safetensors"));
    cr_assert(wk_has_suffix(".bin", ".bin"));
    cr_assert_not(wk_has_suffix("bin", ".bin"));
    cr_assert_not(wk_has_suffix("model.bin.json", ".bin"));
}

Test(strutil, little_endian_loads_and_sign_extension)
{
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88};
    cr_assert_eq(wk_ld_le(b, 1), 0x01);
    cr_assert_eq(wk_ld_le(b, 2), 0x0201);
    cr_assert_eq(wk_ld_le(b + 1, 4), 0x05040302);
    cr_assert_eq(wk_ld_le(b, 8), 0x8807060504030201ull);
    cr_assert_eq(wk_sign_extend(0xff, 1), -1);
    cr_assert_eq(wk_sign_extend(0x7f, 1), 127);
    cr_assert_eq(wk_sign_extend(0x8000, 2), -32768);
    cr_assert_eq(wk_sign_extend(0xfffffffe, 4), -2);
    cr_assert_eq(wk_sign_extend(0x80000000, 8), 0x80000000);
    cr_assert_eq(wk_sign_extend(0xffffffffffffffffull, 8), -1);
    cr_assert_eq(wk_sign_extend(0x800000, 3), -8388608);
}

Test(strutil, gguf_primitive_sizes)
{
    /* ggml docs/gguf.md: uint8 int8 uint16 int16 uint32 int32 float32 bool(1 byte) string
     * array uint64 int64 float64 */
    static const unsigned want[] = {sizeof(uint8_t), sizeof(int8_t), sizeof(uint16_t),
                                    sizeof(int16_t), sizeof(uint32_t), sizeof(int32_t),
                                    sizeof(float), 1, 0, 0, sizeof(uint64_t), sizeof(int64_t),
                                    sizeof(double)};
    for (uint32_t t = 0; t < sizeof want / sizeof *want; t++)
        cr_assert_eq(wk_gguf_prim_size(t), want[t], "type %u", t);
    cr_assert_eq(wk_gguf_prim_size(13), 0);
    cr_assert_eq(wk_gguf_prim_size(UINT32_MAX), 0);
}

/* ---- shard index ---- */

static char *su_index(const char *json)
{
    char tmpl[] = "/tmp/wk-shard-index-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    size_t n = strlen(tmpl) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/model.safetensors.index.json", tmpl);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fputs(json, f);
    fclose(f);
    return p;
}

static void su_remove(char *path)
{
    char *d = wk_dir_of(path);
    unlink(path);
    rmdir(d);
    free(d);
    free(path);
}

Test(strutil, shard_index_load_sorts_names_and_shards)
{
    char *p = su_index("{\"metadata\":{\"total_size\":1},\"weight_map\":{\"z\":\"sub/b.st\","
                       "\"y\":\"a.st\",\"x\":\"sub/b.st\"}}");
    wk_shard_index x;
    wk_err e;
    cr_assert_eq(wk_shard_index_load(p, &x, &e), 0, "%s", e.msg);
    char *d = wk_dir_of(p);
    cr_assert_str_eq(x.dir, d);
    cr_assert_eq(x.n_shards, 2);
    cr_assert_str_eq(x.shards[0], "a.st");
    cr_assert_str_eq(x.shards[1], "sub/b.st");
    cr_assert_eq(x.n_entries, 3);
    static const char *const names[] = {"x", "y", "z"};
    static const size_t shard[] = {1, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(x.entries[i].tensor, names[i]);
        cr_assert_eq(x.entries[i].shard, shard[i], "tensor %s", names[i]);
    }
    char *sp = (char *)1;
    cr_assert_eq(wk_shard_index_shard_path(&x, 0, &sp, &e), -1, "a.st does not exist");
    cr_assert_null(sp);
    cr_assert(strstr(e.msg, "weight_map names shard 'a.st', but"), "%s", e.msg);
    wk_shard_index_free(&x);
    free(d);
    su_remove(p);
}

/* A source shell listing (name, shard) pairs over two shard paths; only what the check
 * reads is filled in. */
static wk_source *su_source(const char *const *names, const uint32_t *shard, size_t n)
{
    wk_source *s = wk_source_new("test", "index.json");
    s->files = calloc(2, sizeof *s->files);
    s->files[0] = strdup("dir/a.st");
    s->files[1] = strdup("dir/sub/b.st");
    s->n_files = 2;
    s->tensors = calloc(n, sizeof *s->tensors);
    for (size_t i = 0; i < n; i++) {
        s->tensors[i].name = strdup(names[i]);
        s->tensors[i].file_index = shard[i];
    }
    s->n_tensors = n;
    return s;
}

static void su_expect_check(const wk_shard_index *x, const char *const *names,
                            const uint32_t *shard, size_t n, const char *fragment)
{
    wk_source *s = su_source(names, shard, n);
    wk_err e;
    int rc = wk_shard_index_check(x, s, &e);
    wk_source_free_common(s);
    if (!fragment) {
        cr_assert_eq(rc, 0, "%s", e.msg);
        return;
    }
    cr_assert_eq(rc, -1, "accepted, expected '%s'", fragment);
    cr_assert(strstr(e.msg, fragment), "'%s' not in: %s", fragment, e.msg);
}

Test(strutil, shard_index_check_compares_map_and_shards)
{
    char *p = su_index("{\"weight_map\":{\"x\":\"sub/b.st\",\"y\":\"a.st\",\"z\":\"sub/b.st\"}}");
    wk_shard_index x;
    wk_err e;
    cr_assert_eq(wk_shard_index_load(p, &x, &e), 0, "%s", e.msg);
    const char *good[] = {"y", "z", "x"};
    su_expect_check(&x, good, (const uint32_t[]){0, 1, 1}, 3, NULL);
    const char *twice[] = {"y", "z", "x", "z"};
    su_expect_check(&x, twice, (const uint32_t[]){0, 1, 1, 1}, 4,
                    "dir/sub/b.st: holds tensor 'z' twice");
    const char *extra[] = {"y", "w", "x", "z"};
    su_expect_check(&x, extra, (const uint32_t[]){0, 0, 1, 1}, 4,
                    "dir/a.st: tensor 'w' is not listed in the weight_map of");
    su_expect_check(&x, good, (const uint32_t[]){0, 0, 1}, 3,
                    "dir/a.st: holds tensor 'z', but");
    su_expect_check(&x, good, (const uint32_t[]){0, 1, 1}, 2,
                    "weight_map puts tensor 'x' in shard 'sub/b.st', but that shard has no");
    wk_shard_index_free(&x);
    su_remove(p);
}

static void su_expect_load_error(const char *json, const char *fragment)
{
    char *p = su_index(json);
    wk_shard_index x;
    wk_err e;
    cr_assert_eq(wk_shard_index_load(p, &x, &e), -1, "accepted: %s", json);
    cr_assert_null(x.json, "nothing held after a failure");
    cr_assert(strstr(e.msg, fragment), "'%s' not in: %s", fragment, e.msg);
    su_remove(p);
}

Test(strutil, shard_index_load_errors)
{
    su_expect_load_error("{\"weight_map\":{\"a\":\"s\"},\"weight_map\":{\"a\":\"t\"}}",
                         "the index has the key 'weight_map' twice");
    su_expect_load_error("{\"weight_map\":{\"a\":\"s\",\"b\":\"s\",\"a\":\"t\"}}",
                         "weight_map lists tensor 'a' twice");
    su_expect_load_error("{\"weight_map\":{\"a\":\"s\\\\t\"}}", "does not name a shard file");
    su_expect_load_error("{\"weight_map\":{\"a\":\"s\\u001bt\"}}", "'s\\x1bt', which does not");
    su_expect_load_error("{\"weight_map\":{\"a\":\"\"}}", "does not name a shard file");
    su_expect_load_error("{\"weight_map\":{\"a\":\"\xff\"}}", "offset 20 is not valid UTF-8");
    su_expect_load_error("{\"weight_map\":{\"a\":\"s\"}}{}", "not valid JSON");
    su_expect_load_error("{\"weight_map\":[]}", "non-empty \"weight_map\" object");
}
