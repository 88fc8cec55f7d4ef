/* GGUF reader and writer (formats/gguf.h): metadata round trips through the writer, a
 * hand-built file holding every value type and nested arrays, tensor layout and data at
 * several alignments, and checksums. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/formats/gguf/gguf_test_util.h"

/* ---- metadata through the writer ---- */

Test(gguf, writer_metadata_round_trip)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "meta.gguf");
    wk_gguf_writer *w;
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_set_str(w, "general.architecture", "llama", &e));
    OK(wk_gguf_set_u32(w, "a.u32", 4000000000u, &e));
    OK(wk_gguf_set_i32(w, "a.i32", -123456, &e));
    OK(wk_gguf_set_u64(w, "a.u64", 0xfedcba9876543210ull, &e));
    OK(wk_gguf_set_f32(w, "a.f32", 1e-5f, &e));
    OK(wk_gguf_set_bool(w, "a.bool", true, &e));
    OK(wk_gguf_set_str(w, "a.replaced", "first", &e));
    OK(wk_gguf_set_u32(w, "a.replaced", 7, &e)); /* replaces, keeps its position */
    const char *toks[] = {"<s>", "", "h\xc3\xa9llo", "a b"};
    OK(wk_gguf_set_arr_str(w, "a.strs", toks, 4, &e));
    OK(wk_gguf_set_arr_str(w, "a.empty_strs", NULL, 0, &e));
    OK(wk_gguf_set_arr(w, "a.empty_f32", WK_GGUF_F32, NULL, 0, &e));
    uint8_t u8s[] = {0, 255, 7};
    int8_t i8s[] = {-128, 127, -1};
    uint16_t u16s[] = {65535, 1};
    int16_t i16s[] = {-32768, 32767};
    uint32_t u32s[] = {0xffffffffu, 3};
    int32_t i32s[] = {INT32_MIN, -5};
    float f32s[] = {0.5f, -3.25f, 1e30f};
    uint8_t bools[] = {1, 0, 1};
    uint64_t u64s[] = {UINT64_MAX, 42};
    int64_t i64s[] = {INT64_MIN, -2};
    double f64s[] = {3.141592653589793, -1e-300};
    OK(wk_gguf_set_arr(w, "arr.u8", WK_GGUF_U8, u8s, 3, &e));
    OK(wk_gguf_set_arr(w, "arr.i8", WK_GGUF_I8, i8s, 3, &e));
    OK(wk_gguf_set_arr(w, "arr.u16", WK_GGUF_U16, u16s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.i16", WK_GGUF_I16, i16s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.u32", WK_GGUF_U32, u32s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.i32", WK_GGUF_I32, i32s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.f32", WK_GGUF_F32, f32s, 3, &e));
    OK(wk_gguf_set_arr(w, "arr.bool", WK_GGUF_BOOL, bools, 3, &e));
    OK(wk_gguf_set_arr(w, "arr.u64", WK_GGUF_U64, u64s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.i64", WK_GGUF_I64, i64s, 2, &e));
    OK(wk_gguf_set_arr(w, "arr.f64", WK_GGUF_F64, f64s, 2, &e));
    cr_assert_neq(wk_gguf_set_arr(w, "arr.bad", WK_GGUF_STRING, toks, 1, &e), 0);
    cr_assert_neq(wk_gguf_set_u32(w, "", 1, &e), 0);
    cr_assert_neq(wk_gguf_set_u64(w, "general.alignment", 64, &e), 0);
    cr_assert_neq(wk_gguf_set_alignment(w, 48, &e), 0);
    cr_assert_neq(wk_gguf_set_u64(w, "weightkit.tensor_xxh64", 1, &e), 0);
    const char *srcs[] = {"/home/user/models/x/model.safetensors"};
    OK(wk_gguf_set_provenance(w, "wk-test", srcs, 1, &e));
    OK(wk_gguf_writer_finish(w, &e));

    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_eq(g->version, 3);
    cr_assert_eq(g->n_tensors, 0);
    cr_assert_eq(g->alignment, 32);
    /* 21 set keys, 3 provenance keys, the checksum array and its tensor-info hash */
    cr_assert_eq(g->n_kv, 26, "n_kv %llu", (unsigned long long)g->n_kv);
    cr_assert(gt_streq(g->kv[0].key, "general.architecture"));
    cr_assert(gt_streq(g->kv[6].key, "a.replaced"));
    cr_assert(gt_streq(g->kv[24].key, "weightkit.tensor_infos_xxh64"));
    cr_assert(gt_streq(g->kv[25].key, "weightkit.tensor_xxh64"));
    char *s;
    cr_assert_eq(wk_gguf_get_str(g, "general.architecture", &s), 0);
    cr_assert_str_eq(s, "llama");
    free(s);
    uint64_t u;
    double f;
    cr_assert_eq(wk_gguf_find(g, "a.u32")->value.type, WK_GGUF_U32);
    cr_assert_eq(wk_gguf_get_u64(g, "a.u32", &u), 0);
    cr_assert_eq(u, 4000000000u);
    cr_assert_eq(wk_gguf_find(g, "a.i32")->value.i, -123456);
    cr_assert_eq(wk_gguf_get_u64(g, "a.i32", &u), -1, "negative does not fit in u64");
    cr_assert_eq(wk_gguf_get_f64(g, "a.i32", &f), 0);
    cr_assert_eq(f, -123456.0);
    cr_assert_eq(wk_gguf_get_u64(g, "a.u64", &u), 0);
    cr_assert_eq(u, 0xfedcba9876543210ull);
    cr_assert_eq(wk_gguf_find(g, "a.f32")->value.type, WK_GGUF_F32);
    cr_assert_eq(wk_gguf_get_f64(g, "a.f32", &f), 0);
    cr_assert_eq(f, (double)1e-5f);
    cr_assert_eq(wk_gguf_find(g, "a.bool")->value.type, WK_GGUF_BOOL);
    cr_assert_eq(wk_gguf_find(g, "a.bool")->value.u, 1);
    cr_assert_eq(wk_gguf_find(g, "a.replaced")->value.type, WK_GGUF_U32);
    cr_assert_eq(wk_gguf_find(g, "a.replaced")->value.u, 7);
    cr_assert_eq(wk_gguf_get_str(g, "a.replaced", &s), -1);
    cr_assert_null(wk_gguf_find(g, "a.missing"));

    const wk_gguf_value *v = &wk_gguf_find(g, "a.strs")->value;
    cr_assert_eq(v->type, WK_GGUF_ARRAY);
    cr_assert_eq(v->arr.elem_type, WK_GGUF_STRING);
    cr_assert_eq(v->arr.count, 4);
    for (int i = 0; i < 4; i++)
        cr_assert(gt_streq(v->arr.items[i].str, toks[i]), "token %d", i);
    v = &wk_gguf_find(g, "a.empty_strs")->value;
    cr_assert_eq(v->arr.elem_type, WK_GGUF_STRING);
    cr_assert_eq(v->arr.count, 0);
    v = &wk_gguf_find(g, "a.empty_f32")->value;
    cr_assert_eq(v->arr.elem_type, WK_GGUF_F32);
    cr_assert_eq(v->arr.count, 0);
    cr_assert_eq(wk_gguf_arr_f64(v, 0), 0.0, "out of range reads as 0");

    v = &wk_gguf_find(g, "arr.u8")->value;
    cr_assert_eq(wk_gguf_arr_u64(v, 1), 255);
    v = &wk_gguf_find(g, "arr.i8")->value;
    cr_assert_eq(wk_gguf_arr_f64(v, 0), -128.0);
    cr_assert_eq(wk_gguf_arr_u64(v, 1), 127);
    v = &wk_gguf_find(g, "arr.u16")->value;
    cr_assert_eq(wk_gguf_arr_u64(v, 0), 65535);
    v = &wk_gguf_find(g, "arr.i16")->value;
    cr_assert_eq(wk_gguf_arr_f64(v, 0), -32768.0);
    v = &wk_gguf_find(g, "arr.u32")->value;
    cr_assert_eq(wk_gguf_arr_u64(v, 0), 0xffffffffu);
    v = &wk_gguf_find(g, "arr.i32")->value;
    cr_assert_eq(wk_gguf_arr_f64(v, 0), (double)INT32_MIN);
    v = &wk_gguf_find(g, "arr.f32")->value;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(wk_gguf_arr_f64(v, (uint64_t)i), (double)f32s[i]);
    v = &wk_gguf_find(g, "arr.bool")->value;
    cr_assert_eq(v->arr.elem_type, WK_GGUF_BOOL);
    cr_assert_eq(wk_gguf_arr_u64(v, 0) + wk_gguf_arr_u64(v, 1) * 2 + wk_gguf_arr_u64(v, 2) * 4, 5);
    v = &wk_gguf_find(g, "arr.u64")->value;
    cr_assert_eq(wk_gguf_arr_u64(v, 0), UINT64_MAX);
    cr_assert_eq(wk_gguf_arr_u64(v, 1), 42);
    v = &wk_gguf_find(g, "arr.i64")->value;
    cr_assert_eq(wk_gguf_arr_f64(v, 0), (double)INT64_MIN);
    cr_assert_eq(wk_gguf_arr_u64(v, 1), 0, "negative reads as 0");
    v = &wk_gguf_find(g, "arr.f64")->value;
    cr_assert_eq(wk_gguf_arr_f64(v, 0), f64s[0]);
    cr_assert_eq(wk_gguf_arr_f64(v, 1), f64s[1]);

    cr_assert_eq(wk_gguf_get_str(g, "weightkit.version", &s), 0);
    free(s);
    cr_assert_eq(wk_gguf_get_str(g, "weightkit.tool", &s), 0);
    cr_assert_str_eq(s, "wk-test");
    free(s);
    v = &wk_gguf_find(g, "weightkit.sources")->value;
    cr_assert_eq(v->arr.count, 1);
    cr_assert(gt_streq(v->arr.items[0].str, "model.safetensors"), "directories are dropped");
    cr_assert_eq(wk_gguf_verify_checksums(g, &e), 0, "an empty checksum array matches");
    cr_assert_str_eq(wk_gguf_type_name(WK_GGUF_STRING), "str");
    wk_gguf_close(g);
    free(path);
    gt_rmdir(dir);
}

Test(gguf, reads_every_value_type_and_nested_arrays)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "hand.gguf");
    gt_bytes *b = calloc(1, sizeof *b);
    gt_handmade(b, 8);
    gt_write_file(path, b);
    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_eq(g->version, 2);
    cr_assert_eq(g->n_kv, 17);
    cr_assert_eq(g->alignment, 16);
    cr_assert_eq(g->data_offset % 16, 0);
    cr_assert_eq(wk_gguf_find(g, "t.u8")->value.u, 200);
    cr_assert_eq(wk_gguf_find(g, "t.i8")->value.i, -128);
    cr_assert_eq(wk_gguf_find(g, "t.u16")->value.u, 60000);
    cr_assert_eq(wk_gguf_find(g, "t.i16")->value.i, -2);
    cr_assert_eq(wk_gguf_find(g, "t.u32")->value.u, 123456789);
    cr_assert_eq(wk_gguf_find(g, "t.i32")->value.i, -1);
    cr_assert_eq(wk_gguf_find(g, "t.f32")->value.f, -2.5);
    cr_assert_eq(wk_gguf_find(g, "t.bool")->value.type, WK_GGUF_BOOL);
    cr_assert_eq(wk_gguf_find(g, "t.bool")->value.u, 0);
    cr_assert(gt_streq(wk_gguf_find(g, "t.str")->value.str, "value"));
    cr_assert_eq(wk_gguf_find(g, "t.u64")->value.u, 1ull << 63);
    cr_assert_eq(wk_gguf_find(g, "t.i64")->value.i, -9);
    cr_assert_eq(wk_gguf_find(g, "t.f64")->value.f, 6.02214076e23);
    const uint32_t types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 9, 9, 9, 9, 4};
    for (uint32_t k = 0; k < 17; k++)
        cr_assert_eq(g->kv[k].value.type, types[k], "kv %u has the type it was written with", k);

    const wk_gguf_value *v = &wk_gguf_find(g, "t.arr_of_str_arrs")->value;
    cr_assert_eq(v->arr.elem_type, WK_GGUF_ARRAY);
    cr_assert_eq(v->arr.count, 2);
    cr_assert_eq(v->arr.items[0].arr.elem_type, WK_GGUF_STRING);
    cr_assert_eq(v->arr.items[0].arr.count, 2);
    cr_assert(gt_streq(v->arr.items[0].arr.items[1].str, "yz"));
    cr_assert_eq(v->arr.items[1].arr.count, 0);
    v = &wk_gguf_find(g, "t.arr_of_i16_arrs")->value;
    cr_assert_eq(wk_gguf_arr_f64(&v->arr.items[0], 0), -1.0);
    cr_assert_eq(wk_gguf_arr_u64(&v->arr.items[1], 1), 4);
    v = &wk_gguf_find(g, "t.empty_arr_of_arrs")->value;
    cr_assert_eq(v->arr.elem_type, WK_GGUF_ARRAY);
    cr_assert_eq(v->arr.count, 0);
    v = &wk_gguf_find(g, "t.deep")->value;
    for (int d = 0; d < 7; d++) {
        cr_assert_eq(v->arr.elem_type, WK_GGUF_ARRAY);
        v = &v->arr.items[0];
    }
    cr_assert_eq(wk_gguf_arr_u64(v, 1), 2);
    cr_assert_eq(wk_gguf_verify_checksums(g, &e), 1, "no checksum key: 1");
    uint64_t h;
    cr_assert_eq(wk_gguf_stored_xxh64(g, 0, &h, &e), 1, "no checksum key: 1");
    cr_assert_eq(wk_gguf_check_xxh64(g, 0, "", 0, &e), 1);

    /* wk_gguf_arr_elem: each element as a value of its own */
    v = &wk_gguf_find(g, "t.arr_of_i16_arrs")->value;
    wk_gguf_value inner = wk_gguf_arr_elem(v, 1), x = wk_gguf_arr_elem(&inner, 0);
    cr_assert_eq(inner.type, WK_GGUF_ARRAY);
    cr_assert_eq(inner.arr.count, 2);
    cr_assert_eq(x.type, WK_GGUF_I16);
    cr_assert_eq(x.i, 3);
    inner = wk_gguf_arr_elem(v, 0);
    cr_assert_eq(wk_gguf_arr_elem(&inner, 0).i, -1, "sign-extended");
    inner = wk_gguf_arr_elem(&wk_gguf_find(g, "t.arr_of_str_arrs")->value, 0);
    x = wk_gguf_arr_elem(&inner, 1);
    cr_assert_eq(x.type, WK_GGUF_STRING);
    cr_assert(gt_streq(x.str, "yz"));
    x = wk_gguf_arr_elem(&inner, 2);
    cr_assert(x.type == WK_GGUF_U64 && x.u == 0, "out of range: a u64 0");
    x = wk_gguf_arr_elem(&wk_gguf_find(g, "t.u8")->value, 0);
    cr_assert(x.type == WK_GGUF_U64 && x.u == 0, "not an array: a u64 0");
    wk_gguf_close(g);

    gt_handmade(b, 9);
    gt_write_file(path, b);
    cr_assert_eq(wk_gguf_open(path, &g, &e), -1);
    cr_assert(strstr(e.msg, "nested more than 8 deep"), "%s", e.msg);
    cr_assert(strstr(e.msg, path), "%s", e.msg);
    free(b);
    free(path);
    gt_rmdir(dir);
}

static void gt_check_tensors(const char *path, uint32_t alignment)
{
    wk_err e;
    wk_source *s;
    OK(wk_gguf_open_source(path, &s, &e));
    cr_assert_str_eq(s->format, "gguf");
    cr_assert_not_null(s->gguf);
    const wk_gguf *g = s->gguf;
    cr_assert_eq(g->alignment, alignment);
    cr_assert_eq(g->data_offset % alignment, 0);
    cr_assert_eq(s->n_tensors, GT_N);
    uint64_t expect_off = 0;
    for (size_t i = 0; i < GT_N; i++) {
        const gt_tensor *t = &gt_tensors[i];
        const wk_gguf_tensor_info *ti = &g->tensors[i];
        cr_assert(gt_streq(ti->name, t->name));
        cr_assert_str_eq(s->tensors[i].name, t->name);
        cr_assert_eq(ti->ggml_type, t->ggml_type, "%s ggml type %u", t->name, ti->ggml_type);
        cr_assert_eq(ti->dtype, t->type);
        cr_assert_eq(s->tensors[i].dtype, t->type);
        cr_assert_eq(ti->n_dims, t->n_dims);
        cr_assert_eq(s->tensors[i].n_dims, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) {
            cr_assert_eq(ti->ne[d], t->shape[t->n_dims - 1 - d], "%s ne[%u]", t->name, d);
            cr_assert_eq(s->tensors[i].shape[d], t->shape[d]);
        }
        cr_assert_eq(ti->n_bytes, t->n_bytes);
        cr_assert_eq(s->tensors[i].n_bytes, t->n_bytes);
        cr_assert_eq(ti->offset, expect_off, "%s offset", t->name);
        cr_assert_eq(ti->offset % alignment, 0);
        expect_off += (t->n_bytes + alignment - 1) / alignment * alignment;
        wk_view v;
        OK(wk_source_read(s, i, &v, &e));
        cr_assert_eq(v.size, t->n_bytes);
        for (uint64_t j = 0; j < t->n_bytes; j++)
            cr_assert_eq(((const uint8_t *)v.data)[j], gt_byte(i, j), "%s byte %llu", t->name,
                         (unsigned long long)j);
        wk_view_release(&v);
    }
    cr_assert_eq(g->data_offset + expect_off, g->size, "each tensor, the last too, is padded");
    cr_assert_eq(wk_gguf_verify_checksums(g, &e), 0, "%s", e.msg);
    wk_source_close(s);
}

Test(gguf, tensor_infos_offsets_and_data)
{
    char *dir = gt_tmpdir(), *path = gt_path(dir, "t.gguf");
    gt_write_tensors(path, 0, 0);
    gt_check_tensors(path, 32);
    gt_write_tensors(path, 256, 0);
    gt_check_tensors(path, 256);
    gt_write_tensors(path, 8, 3); /* streamed in pieces */
    gt_check_tensors(path, 8);
    cr_assert_eq(gt_count_files(dir), 1, "no temp files left");
    free(path);
    gt_rmdir(dir);
}

Test(gguf, checksum_detects_flipped_byte)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "c.gguf");
    gt_write_tensors(path, 64, 0);
    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    OK(wk_gguf_verify_checksums(g, &e));
    uint64_t at = g->data_offset + g->tensors[2].offset + 5;
    wk_gguf_close(g);
    gt_flip_byte(path, at, 0x10);
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_eq(wk_gguf_verify_checksums(g, &e), -1);
    cr_assert(strstr(e.msg, "checksum mismatch in tensor 'blk.0.ffn_up.weight'"), "%s", e.msg);
    cr_assert(strstr(e.msg, "the file is corrupted") && strstr(e.msg, path), "%s", e.msg);

    /* one tensor at a time, on bytes the caller has: the same comparison and message */
    char verify_msg[WK_ERR_MAX];
    snprintf(verify_msg, sizeof verify_msg, "%s", e.msg);
    const wk_gguf_tensor_info *t = &g->tensors[2];
    const uint8_t *bytes = g->data + g->data_offset + t->offset;
    cr_assert_eq(wk_gguf_check_xxh64(g, 2, bytes, t->n_bytes, &e), -1);
    cr_assert_str_eq(e.msg, verify_msg);
    uint64_t stored;
    OK(wk_gguf_stored_xxh64(g, 2, &stored, &e));
    char hex[20];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)stored);
    cr_assert(strstr(verify_msg, hex), "the stored hash is named: %s", verify_msg);
    uint8_t *fixed = malloc(t->n_bytes);
    memcpy(fixed, bytes, t->n_bytes);
    fixed[5] ^= 0x10; /* the bytes as written */
    OK(wk_gguf_check_xxh64(g, 2, fixed, t->n_bytes, &e));
    free(fixed);
    for (size_t i = 0; i < GT_N; i++)
        if (i != 2)
            OK(wk_gguf_check_xxh64(g, i, g->data + g->data_offset + g->tensors[i].offset,
                                   g->tensors[i].n_bytes, &e));
    cr_assert_eq(wk_gguf_stored_xxh64(g, GT_N, &stored, &e), -1, "out of range");
    wk_gguf_close(g);
    free(path);
    gt_rmdir(dir);
}

/* A tool that rewrites the tensors but copies every key (llama-quantize does) leaves
 * checksums for other tensor infos: they are stale, counted as none, not as corruption. */
Test(gguf, checksums_for_other_tensor_infos_are_stale)
{
    wk_err e;
    char *dir = gt_tmpdir(), *path = gt_path(dir, "s.gguf");
    gt_write_tensors(path, 64, 0);
    wk_gguf *g;
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_eq(wk_gguf_checksums_state(g), WK_GGUF_SUMS_STORED);
    /* the last letter of the first tensor's name, in the tensor-info section */
    uint64_t at = (uint64_t)(g->tensors[0].name.ptr - (const char *)g->data) +
                  g->tensors[0].name.len - 1;
    /* and a tensor's data byte: with stale checksums nothing is compared */
    uint64_t data_at = g->data_offset + g->tensors[2].offset + 5;
    wk_gguf_close(g);
    gt_flip_byte(path, at, 0x01);
    gt_flip_byte(path, data_at, 0x10);
    OK(wk_gguf_open(path, &g, &e));
    cr_assert_eq(wk_gguf_checksums_state(g), WK_GGUF_SUMS_STALE);
    cr_assert_eq(wk_gguf_verify_checksums(g, &e), 1);
    uint64_t h;
    cr_assert_eq(wk_gguf_stored_xxh64(g, 0, &h, &e), 1);
    wk_gguf_close(g);
    free(path);
    gt_rmdir(dir);
}
