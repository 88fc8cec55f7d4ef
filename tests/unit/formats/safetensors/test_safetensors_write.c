/* The safetensors writer (formats/safetensors/safetensors.h): round trips through our reader
 * (every dtype, 0-rank and empty tensors, metadata, odd names, any chunking), the output
 * checked by Python's json module and torch.frombuffer, and writer errors that must leave
 * no file behind. Runs from the repository root (as `make unit` does) because it calls
 * /usr/bin/python3. */
#include "tests/unit/formats/safetensors/st_test_util.h"

static const sf_decl SF_ALL_DTYPES[] = {
    {"f64", WK_F64, 2, {2, 3}},     {"f32", WK_F32, 1, {5}},       {"f16", WK_F16, 3, {1, 2, 3}},
    {"bf16", WK_BF16, 1, {7}},      {"i64", WK_I64, 1, {2}},       {"i32", WK_I32, 2, {3, 1}},
    {"i16", WK_I16, 1, {3}},        {"i8", WK_I8, 1, {9}},         {"u64", WK_U64, 1, {1}},
    {"u32", WK_U32, 1, {2}},        {"u16", WK_U16, 1, {5}},       {"u8", WK_U8, 1, {3}},
    {"bool", WK_BOOL, 1, {4}},      {"e4m3", WK_F8_E4M3, 1, {6}},  {"e5m2", WK_F8_E5M2, 1, {2}},
};
#define SF_N_ALL (sizeof SF_ALL_DTYPES / sizeof SF_ALL_DTYPES[0])

/* ---- writer round trips ---- */

Test(safetensors, roundtrip_every_dtype_with_metadata)
{
    char *dir = sf_tmpdir(), *p = sf_path(dir, "all.safetensors");
    const char *meta[] = {"format", "pt", "note", "quote \" backslash \\ tab \t é"};
    sf_write_file(p, SF_ALL_DTYPES, SF_N_ALL, 1 << 20, meta, 2);
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_file(p, &s, &e), 0, "%s", e.msg);
    cr_assert_str_eq(s->format, "safetensors");
    cr_assert_eq(s->n_files, 1);
    sf_check_source(s, SF_ALL_DTYPES, SF_N_ALL);
    /* f64 sits at data offset 0 (8-aligned): zero-copy; i64 at offset 94: an aligned copy */
    wk_view v;
    cr_assert_eq(wk_source_read(s, 0, &v, &e), 0);
    cr_assert_null(v.owned);
    wk_view_release(&v);
    cr_assert_str_eq(s->tensors[4].name, "i64");
    cr_assert_eq(wk_source_read(s, 4, &v, &e), 0);
    cr_assert_not_null(v.owned);
    wk_view_release(&v);
    cr_assert_eq(s->n_metadata, 2);
    cr_assert_str_eq(sf_meta_get(s, "format"), "pt");
    cr_assert_str_eq(sf_meta_get(s, "note"), meta[3]);
    wk_source_close(s);
    cr_assert_eq(sf_count_files(dir), 1, "temporary file left behind");
    free(p);
    sf_rmdir(dir);
}

Test(safetensors, zero_rank_empty_and_odd_chunking)
{
    const sf_decl d[] = {
        {"scalar", WK_F32, 0, {0}},  {"empty", WK_BF16, 2, {0, 5}}, {"a", WK_I16, 2, {3, 7}},
        {"also_empty", WK_U8, 1, {0}}, {"b", WK_F64, 1, {3}},
    };
    const size_t chunks[] = {1, 3, 5, 13, 1000};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        char *dir = sf_tmpdir(), *p = sf_path(dir, "z.safetensors");
        cr_assert_eq(sf_write_file(p, d, 5, chunks[c], NULL, 0), 4 + 42 + 24);
        wk_source *s;
        wk_err e;
        cr_assert_eq(wk_source_open(p, NULL, &s, &e), 0, "%s", e.msg);
        sf_check_source(s, d, 5);
        cr_assert_eq(s->tensors[0].n_elements, 1);
        cr_assert_eq(s->tensors[1].n_bytes, 0);
        cr_assert_eq(s->n_metadata, 0);
        wk_source_close(s);
        free(p);
        sf_rmdir(dir);
    }
}

Test(safetensors, names_needing_json_escapes)
{
    const sf_decl d[] = {{"a\"b\\c\nd", WK_F32, 1, {1}}, {"тензор.weight", WK_F16, 1, {2}},
                         {"", WK_U8, 1, {1}}};
    char *dir = sf_tmpdir(), *p = sf_path(dir, "n.safetensors");
    sf_write_file(p, d, 3, 2, NULL, 0);
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_file(p, &s, &e), 0, "%s", e.msg);
    sf_check_source(s, d, 3);
    wk_source_close(s);
    free(p);
    sf_rmdir(dir);
}

Test(safetensors, no_tensors_and_header_padding)
{
    char *dir = sf_tmpdir(), *p = sf_path(dir, "empty.safetensors");
    sf_write_file(p, NULL, 0, 1, NULL, 0);
    FILE *f = fopen(p, "rb");
    uint8_t buf[32];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(n, 16); /* the reference writer's bytes for an empty dict */
    cr_assert_eq(memcmp(buf, "\x08\0\0\0\0\0\0\0{}      ", 16), 0);
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_file(p, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s->n_tensors, 0);
    wk_source_close(s);
    free(p);
    sf_rmdir(dir);
}

/* Python's json module and torch.frombuffer read what the writer wrote: the header is
 * JSON padded with spaces to 8 bytes and every tensor holds the values written. */
Test(safetensors, writer_output_read_by_python)
{
    char *dir = sf_tmpdir(), *p = sf_path(dir, "w.safetensors"), *py = sf_path(dir, "c.py");
    wk_err e;
    wk_st_writer *w;
    cr_assert_eq(wk_st_writer_open(p, &w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_st_writer_add_metadata(w, "k", "v", &e), 0);
    uint64_t s23[] = {2, 3}, s5[] = {5}, s3[] = {3};
    cr_assert_eq(wk_st_writer_add_tensor(w, "f32", WK_F32, 2, s23, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "i16", WK_I16, 1, s5, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "f64", WK_F64, 1, s3, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "scalar", WK_F32, 0, NULL, &e), 0);
    float f32[6];
    int16_t i16[5];
    double f64[3];
    float scalar = 7.0f;
    for (int i = 0; i < 6; i++)
        f32[i] = (float)i * 0.5f;
    for (int i = 0; i < 5; i++)
        i16[i] = (int16_t)(i - 3);
    for (int i = 0; i < 3; i++)
        f64[i] = i / 3.0;
    cr_assert_eq(wk_st_writer_write(w, f32, sizeof f32, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, i16, sizeof i16, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, f64, sizeof f64, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, &scalar, sizeof scalar, &e), 0);
    cr_assert_eq(wk_st_writer_finish(w, &e), 0, "%s", e.msg);
    const char *script =
        "import json, struct, sys, torch\n"
        "b = open(sys.argv[1], 'rb').read()\n"
        "n = struct.unpack('<Q', b[:8])[0]\n"
        "assert n % 8 == 0, n\n"
        "text = b[8:8 + n].decode('utf-8')\n"
        "assert text.startswith('{') and set(text[len(text.rstrip(' ')):]) <= {' '}\n"
        "h = json.loads(text)\n"
        "assert h.pop('__metadata__') == {'k': 'v'}\n"
        "data = b[8 + n:]\n"
        "want = {'f32': (torch.float32, [2, 3], torch.arange(6, dtype=torch.float32) * 0.5),\n"
        "        'i16': (torch.int16, [5], torch.arange(5, dtype=torch.int16) - 3),\n"
        "        'f64': (torch.float64, [3], torch.arange(3, dtype=torch.float64) / 3),\n"
        "        'scalar': (torch.float32, [], torch.tensor(7.0))}\n"
        "types = {'F32': torch.float32, 'I16': torch.int16, 'F64': torch.float64}\n"
        "assert list(h) == list(want), list(h)\n"
        "end = 0\n"
        "for name, (dt, shape, vals) in want.items():\n"
        "    e = h[name]\n"
        "    assert types[e['dtype']] == dt and e['shape'] == shape, e\n"
        "    lo, hi = e['data_offsets']\n"
        "    assert lo == end, (name, lo, end)\n"
        "    end = hi\n"
        "    got = torch.frombuffer(bytearray(data[lo:hi]), dtype=dt).reshape(shape)\n"
        "    assert torch.equal(got, vals.reshape(shape)), (name, got, vals)\n"
        "assert end == len(data)\n";
    sf_write_bytes(py, script, strlen(script));
    sf_run_python(py, p);
    free(p);
    free(py);
    sf_rmdir(dir);
}

/* ---- writer errors: a clear message, and no file under the final name ---- */

Test(safetensors, writer_errors_leave_nothing)
{
    char *dir = sf_tmpdir(), *p = sf_path(dir, "bad.safetensors");
    wk_err e;
    wk_st_writer *w;
    uint64_t s4[] = {4}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, huge[] = {1ull << 40, 1ull << 20};
    uint8_t bytes[32] = {0};

    cr_assert_eq(wk_st_writer_open(p, &w, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "__metadata__", WK_F32, 1, s4, &e), -1);
    cr_assert_eq(wk_st_writer_add_tensor(w, "q", WK_Q4_0, 1, s4, &e), -1);
    cr_assert(strstr(e.msg, "no safetensors dtype"), "%s", e.msg);
    cr_assert_eq(wk_st_writer_add_tensor(w, "bad\xff", WK_F32, 1, s4, &e), -1);
    cr_assert(strstr(e.msg, "UTF-8"), "%s", e.msg);
    cr_assert_eq(wk_st_writer_add_tensor(w, "deep", WK_F32, 9, s9, &e), -1);
    cr_assert_eq(wk_st_writer_add_tensor(w, "huge", WK_F32, 2, huge, &e), -1);
    cr_assert(strstr(e.msg, "2^53"), "%s", e.msg);
    cr_assert_eq(wk_st_writer_add_tensor(w, "x", WK_U8, 1, s4, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "x", WK_U8, 1, s4, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, bytes, 4, &e), -1);
    cr_assert(strstr(e.msg, "tensor 'x' declared twice"), "%s", e.msg);
    cr_assert_eq(wk_st_writer_finish(w, &e), -1);
    cr_assert_eq(sf_count_files(dir), 0);

    cr_assert_eq(wk_st_writer_open(p, &w, &e), 0);
    cr_assert_eq(wk_st_writer_add_metadata(w, "k", "1", &e), 0);
    cr_assert_eq(wk_st_writer_add_metadata(w, "k", "2", &e), 0);
    cr_assert_eq(wk_st_writer_finish(w, &e), -1);
    cr_assert(strstr(e.msg, "metadata key 'k' added twice"), "%s", e.msg);
    cr_assert_eq(sf_count_files(dir), 0);

    cr_assert_eq(wk_st_writer_open(p, &w, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "a", WK_F32, 1, s4, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "b", WK_F32, 1, s4, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, bytes, 20, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "late", WK_F32, 1, s4, &e), -1);
    cr_assert_eq(wk_st_writer_finish(w, &e), -1);
    cr_assert(strstr(e.msg, "only 20 of the 32") && strstr(e.msg, "tensor 'b'"), "%s", e.msg);
    cr_assert_eq(sf_count_files(dir), 0);

    cr_assert_eq(wk_st_writer_open(p, &w, &e), 0);
    cr_assert_eq(wk_st_writer_add_tensor(w, "a", WK_F32, 1, s4, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, bytes, 12, &e), 0);
    cr_assert_eq(wk_st_writer_write(w, bytes, 8, &e), -1);
    cr_assert(strstr(e.msg, "4 more bytes written than the 16 declared"), "%s", e.msg);
    cr_assert_eq(wk_st_writer_write(w, bytes, 4, &e), -1, "a failed writer stays failed");
    wk_st_writer_abort(w);
    cr_assert_eq(sf_count_files(dir), 0);

    free(p);
    sf_rmdir(dir);
}
