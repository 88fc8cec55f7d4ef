/* The safetensors reader (formats/safetensors/safetensors.h) on files our writer never
 * makes: a file written by PyTorch through tests/fixtures/st_write.py compared element by
 * element with torch's own numbers, hand-made headers the format allows, sharded indexes
 * good and bad, and several files as one source. Runs from the repository root (as `make
 * unit` does) because it calls /usr/bin/python3 on tests/fixtures. */
#include "tests/unit/formats/safetensors/st_test_util.h"

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
