/* safetensors reader and writer (formats/safetensors.h): writer round trips (every dtype,
 * 0-rank and empty tensors, metadata, odd names, any chunking), a file written by PyTorch
 * values through tests/fixtures/st_write.py compared element by element with torch's own
 * numbers, the writer's output checked by Python's json module and torch.frombuffer,
 * hand-made headers the format allows, sharded indexes good and bad, several files as one
 * source, and writer errors that must leave no file behind. Runs from the repository root
 * (as `make unit` does) because it calls /usr/bin/python3 on tests/fixtures. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/safetensors/safetensors.h"

/* ---- helpers ---- */

static char *sf_tmpdir(void)
{
    char tmpl[] = "/tmp/wk-st-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert(d);
    return strdup(d);
}

static char *sf_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void sf_rmdir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

static int sf_count_files(const char *dir)
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

static void sf_write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* A raw file: 8-byte length, the header text as given (no padding added), data. */
static void sf_write_raw(const char *path, const char *header, const void *data, size_t n)
{
    size_t h = strlen(header);
    uint8_t *buf = malloc(8 + h + n + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (n)
        memcpy(buf + 8 + h, data, n);
    sf_write_bytes(path, buf, 8 + h + n);
    free(buf);
}

static void sf_run_python(const char *script_path, const char *arg)
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
static uint64_t sf_write_file(const char *path, const sf_decl *d, size_t n, size_t chunk,
                              const char *const *meta, size_t n_meta)
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
static void sf_check_source(wk_source *s, const sf_decl *d, size_t n)
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

static const char *sf_meta_get(const wk_source *s, const char *key)
{
    for (size_t i = 0; i < s->n_metadata; i++)
        if (strcmp(s->metadata[i].key, key) == 0)
            return s->metadata[i].value;
    return NULL;
}

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

/* ---- reading files made elsewhere ---- */

/* tests/fixtures/st_write.py writes torch tensors; torch also dumps their values as text.
 * Every element read through the type table must equal torch's value. */
Test(safetensors, file_from_torch_values)
{
    char *dir = sf_tmpdir(), *py = sf_path(dir, "mk.py"), *st = sf_path(dir, "t.safetensors");
    char *txt = sf_path(dir, "t.safetensors.txt");
    const char *script =
        "import sys, torch\n"
        "sys.path.insert(0, 'tests/fixtures')\n"
        "import st_write\n"
        "torch.manual_seed(1)\n"
        "ts = {'f32': torch.randn(3, 5), 'f16': torch.randn(4, 3).half(),\n"
        "      'bf16': torch.randn(2, 7).bfloat16(), 'f64': torch.randn(5, dtype=torch.float64),\n"
        "      'i8': torch.randint(-128, 128, (6,), dtype=torch.int8),\n"
        "      'i16': torch.randint(-3000, 3000, (2, 2), dtype=torch.int16),\n"
        "      'i32': torch.randint(-10**6, 10**6, (3,), dtype=torch.int32),\n"
        "      'i64': torch.randint(-10**6, 10**6, (2,), dtype=torch.int64),\n"
        "      'u8': torch.randint(0, 256, (9,), dtype=torch.uint8),\n"
        "      'bool': torch.rand(5) > 0.5, 'scalar': torch.tensor(2.5),\n"
        "      'empty': torch.zeros(0, 4)}\n"
        "st_write.save(sys.argv[1], ts, metadata={'format': 'pt'})\n"
        "with open(sys.argv[1] + '.txt', 'w') as f:\n"
        "    for n, t in ts.items():\n"
        "        v = t.to(torch.float64).flatten().tolist()\n"
        "        f.write(' '.join([n, st_write.TORCH_TO_ST[str(t.dtype)], str(t.dim())]\n"
        "                + [str(d) for d in t.shape] + [str(len(v))]\n"
        "                + [repr(x) for x in v]) + '\\n')\n";
    sf_write_bytes(py, script, strlen(script));
    sf_run_python(py, st);
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_file(st, &s, &e), 0, "%s", e.msg);
    cr_assert_str_eq(sf_meta_get(s, "format"), "pt");
    FILE *f = fopen(txt, "r");
    cr_assert(f);
    char name[64], dtype[16];
    unsigned n_dims;
    size_t seen = 0;
    while (fscanf(f, "%63s %15s %u", name, dtype, &n_dims) == 3) {
        long i = wk_source_find(s, name);
        cr_assert_geq(i, 0, "%s missing", name);
        const wk_tensor *t = &s->tensors[i];
        cr_assert_str_eq(wk_type(t->dtype)->name, dtype);
        cr_assert_eq(t->n_dims, n_dims, "%s", name);
        for (unsigned k = 0; k < n_dims; k++) {
            unsigned long long d;
            cr_assert_eq(fscanf(f, "%llu", &d), 1);
            cr_assert_eq(t->shape[k], d, "%s dim %u", name, k);
        }
        unsigned long long n;
        cr_assert_eq(fscanf(f, "%llu", &n), 1);
        cr_assert_eq(t->n_elements, n, "%s", name);
        wk_view v;
        cr_assert_eq(wk_source_read(s, (size_t)i, &v, &e), 0, "%s", e.msg);
        float *got = malloc((n + 1) * sizeof *got);
        wk_type(t->dtype)->to_float(v.data, got, (int64_t)n);
        for (unsigned long long k = 0; k < n; k++) {
            double want;
            cr_assert_eq(fscanf(f, "%lf", &want), 1);
            cr_assert_eq(got[k], (float)want, "%s[%llu]: %g vs torch %g", name, k, got[k], want);
        }
        free(got);
        wk_view_release(&v);
        seen++;
    }
    fclose(f);
    cr_assert_eq(seen, 12);
    cr_assert_eq(s->n_tensors, 12);
    wk_source_close(s);
    free(py);
    free(st);
    free(txt);
    sf_rmdir(dir);
}

/* Things the format allows that our writer never produces. */
Test(safetensors, hand_made_headers_the_format_allows)
{
    char *dir = sf_tmpdir(), *p = sf_path(dir, "h.safetensors");
    const uint8_t data[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* trailing spaces, tensors listed out of offset order, an unknown field, a null
     * __metadata__, integral numbers written as 8.0 */
    sf_write_raw(p, "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12],\"x\":[1]},"
                    "\"__metadata__\":null,"
                    "\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}   ",
                 data, sizeof data);
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_file(p, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s->n_tensors, 2);
    cr_assert_str_eq(s->tensors[0].name, "a"); /* offset order */
    cr_assert_str_eq(s->tensors[1].name, "b");
    cr_assert_eq(s->n_metadata, 0);
    wk_view v;
    cr_assert_eq(wk_source_read(s, 1, &v, &e), 0);
    cr_assert_eq(v.size, 4);
    cr_assert_eq(memcmp(v.data, data + 8, 4), 0);
    wk_source_close(s);
    free(p);
    sf_rmdir(dir);
}

/* ---- several files and sharded indexes ---- */

static const sf_decl SF_SHARD1[] = {{"a", WK_F32, 1, {4}}, {"b", WK_F16, 2, {2, 2}}};
static const sf_decl SF_SHARD2[] = {{"c", WK_I8, 1, {3}}};

static char *sf_model(const char *index_json)
{
    char *dir = sf_tmpdir();
    char *p1 = sf_path(dir, "model-00001-of-00002.safetensors");
    char *p2 = sf_path(dir, "model-00002-of-00002.safetensors");
    char *ix = sf_path(dir, "model.safetensors.index.json");
    const char *m1[] = {"format", "pt", "shard", "one"}, *m2[] = {"shard", "two"};
    sf_write_file(p1, SF_SHARD1, 2, 1000, m1, 2);
    sf_write_file(p2, SF_SHARD2, 1, 1000, m2, 1);
    sf_write_bytes(ix, index_json, strlen(index_json));
    free(p1);
    free(p2);
    free(ix);
    return dir;
}

#define SF_GOOD_INDEX                                                                      \
    "{\"metadata\":{\"total_size\":27},\"weight_map\":{"                                   \
    "\"c\":\"model-00002-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\"," \
    "\"a\":\"model-00001-of-00002.safetensors\"}}"

Test(safetensors, sharded_index_opens_in_shard_order)
{
    char *dir = sf_model(SF_GOOD_INDEX);
    char *ix = sf_path(dir, "model.safetensors.index.json");
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_index(ix, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s->n_files, 2);
    cr_assert_eq(s->n_tensors, 3);
    cr_assert_str_eq(s->tensors[0].name, "a");
    cr_assert_str_eq(s->tensors[1].name, "b");
    cr_assert_str_eq(s->tensors[2].name, "c");
    cr_assert_eq(s->tensors[1].file_index, 0);
    cr_assert_eq(s->tensors[2].file_index, 1);
    cr_assert(strstr(s->files[1], "model-00002-of-00002.safetensors"));
    cr_assert_str_eq(sf_meta_get(s, "format"), "pt");
    cr_assert_str_eq(sf_meta_get(s, "shard"), "one", "the first shard's value is kept");
    cr_assert_eq(s->n_metadata, 2);
    wk_view v;
    cr_assert_eq(wk_source_read(s, 2, &v, &e), 0);
    cr_assert_eq(((const uint8_t *)v.data)[0], 3, "shard 2 starts its own data stream");
    wk_source_close(s);
    cr_assert_eq(wk_source_open(dir, NULL, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s->n_tensors, 3);
    cr_assert_str_eq(s->dir, dir);
    wk_source_close(s);
    free(ix);
    sf_rmdir(dir);
}

static void sf_expect_index_error(const char *index_json, const char *fragment)
{
    char *dir = sf_model(index_json);
    char *ix = sf_path(dir, "model.safetensors.index.json");
    wk_source *s = (wk_source *)1;
    wk_err e;
    cr_assert_eq(wk_st_open_index(ix, &s, &e), -1, "accepted: %s", index_json);
    cr_assert_null(s);
    cr_assert(strstr(e.msg, fragment), "'%s' not in: %s", fragment, e.msg);
    free(ix);
    sf_rmdir(dir);
}

Test(safetensors, sharded_index_errors)
{
    sf_expect_index_error("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                          "\"c\":\"model-00002-of-00002.safetensors\"}}",
                          "tensor 'b' is not listed in the weight_map");
    sf_expect_index_error("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                          "\"b\":\"model-00002-of-00002.safetensors\","
                          "\"c\":\"model-00002-of-00002.safetensors\"}}",
                          "holds tensor 'b', but");
    sf_expect_index_error("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                          "\"b\":\"model-00001-of-00002.safetensors\","
                          "\"c\":\"model-00002-of-00002.safetensors\","
                          "\"d\":\"model-00002-of-00002.safetensors\"}}",
                          "puts tensor 'd' in shard 'model-00002-of-00002.safetensors', but");
    sf_expect_index_error("{\"weight_map\":{\"a\":\"x/../../etc/passwd\"}}", "without '..'");
    sf_expect_index_error("{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "without '..'");
    sf_expect_index_error("{\"weight_map\":{\"a\":\"missing.safetensors\"}}", "is not a file");
    sf_expect_index_error("{\"weight_map\":{}}", "non-empty \"weight_map\"");
    sf_expect_index_error("[]", "non-empty \"weight_map\"");
}

Test(safetensors, several_files_as_one_source)
{
    char *dir = sf_model(SF_GOOD_INDEX);
    char *p1 = sf_path(dir, "model-00001-of-00002.safetensors");
    char *p2 = sf_path(dir, "model-00002-of-00002.safetensors");
    const char *paths[] = {p2, p1, p1};
    wk_source *s;
    wk_err e;
    cr_assert_eq(wk_st_open_files(paths, 2, &s, &e), 0, "%s", e.msg);
    cr_assert_str_eq(s->tensors[0].name, "c"); /* the order given */
    cr_assert_eq(s->tensors[1].file_index, 1);
    cr_assert_str_eq(sf_meta_get(s, "shard"), "two");
    wk_source_close(s);
    cr_assert_eq(wk_st_open_files(paths + 1, 2, &s, &e), -1);
    cr_assert(strstr(e.msg, "tensor 'a' is in both"), "%s", e.msg);
    cr_assert_eq(wk_st_open_files(paths, 0, &s, &e), -1);
    free(p1);
    free(p2);
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
