/* wk-inspect's report on a hand-made source: counting never reads tensor data, statistics
 * read each decodable tensor once, totals and categories add up, and the renderings. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify/inspect/report.h"

static int ir_reads;
static uint64_t ir_short; /* bytes the counting reader leaves out */
static float ir_data[4096];

static int ir_read_forbidden(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    cr_assert_fail("the report read tensor #%zu without --stats", i);
    return -1;
}

static int ir_read_counting(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    ir_reads++;
    v->data = ir_data;
    v->size = s->tensors[i].n_bytes - ir_short;
    return 0;
}

static void ir_close(wk_source *s)
{
    wk_source_free_common(s);
}

static const wk_source_ops ir_forbidden_ops = {ir_read_forbidden, ir_close};
static const wk_source_ops ir_counting_ops = {ir_read_counting, ir_close};

static void ir_add(wk_source *s, const char *name, wk_dtype dt, uint64_t rows, uint64_t cols)
{
    wk_tensor *t = &s->tensors[s->n_tensors++];
    t->name = strdup(name);
    t->dtype = dt;
    uint64_t shape[2] = {rows, cols};
    wk_err e;
    cr_assert_eq(wk_tensor_set_shape(t, cols ? 2 : 1, shape, &e), 0, "%s", e.msg);
}

static wk_source *ir_source(const wk_source_ops *ops)
{
    wk_source *s = wk_source_new("safetensors", "fake.safetensors");
    s->tensors = calloc(8, sizeof *s->tensors);
    ir_add(s, "model.embed_tokens.weight", WK_F32, 32, 16);       /* 512 */
    ir_add(s, "model.layers.0.self_attn.q_proj.weight", WK_BF16, 16, 16); /* 256 */
    ir_add(s, "model.layers.0.self_attn.q_proj.bias", WK_F16, 16, 0);     /* 16 */
    ir_add(s, "model.layers.0.mlp.up_proj.weight", WK_IQ2_XXS, 4, 256);      /* 1024 */
    ir_add(s, "model.layers.0.input_layernorm.weight", WK_F32, 16, 0);    /* 16 */
    ir_add(s, "model.norm.weight", WK_F32, 16, 0);                       /* 16 */
    ir_add(s, "lm_head.weight", WK_F16, 32, 16);                         /* 512 */
    ir_add(s, "rope_freqs.weight", WK_F32, 4, 0);                        /* 4 */
    s->ops = ops;
    for (size_t i = 0; i < sizeof ir_data / sizeof ir_data[0]; i++)
        ir_data[i] = (float)(i % 7) - 3.0f;
    return s;
}

Test(inspect_report, counting_never_reads_data)
{
    wk_source *s = ir_source(&ir_forbidden_ops);
    wk_inspect_opts o = {.filter = "model.layers.0.*"};
    wk_inspect_report *r;
    wk_err e;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->total.tensors, 8);
    cr_expect_eq(r->total.params, 512 + 256 + 16 + 1024 + 16 + 16 + 512 + 4);
    cr_expect_eq(r->total.bytes, 2048 + 512 + 32 + 4 * 66 + 64 + 64 + 1024 + 16);
    cr_expect_eq(r->by_category[WK_CAT_EMBEDDING].params, 512);
    cr_expect_eq(r->by_category[WK_CAT_ATTENTION].params, 256);
    cr_expect_eq(r->by_category[WK_CAT_BIAS].params, 16);
    cr_expect_eq(r->by_category[WK_CAT_FEEDFORWARD].bytes, 4 * 66);
    cr_expect_eq(r->by_category[WK_CAT_NORM].tensors, 2);
    cr_expect_eq(r->by_category[WK_CAT_OUTPUT].params, 512);
    cr_expect_eq(r->by_category[WK_CAT_OTHER].params, 4);
    uint64_t sum = 0;
    for (int c = 0; c < WK_CAT_COUNT; c++)
        sum += r->by_category[c].params;
    cr_expect_eq(sum, r->total.params);
    cr_expect_eq(r->n_rows, 4);
    cr_expect_eq(r->filtered.params, 256 + 16 + 1024 + 16);
    cr_expect_eq(r->rows[2].index, 3);
    cr_expect_eq(r->rows[2].layer, 0);
    char *text = wk_inspect_text(r), *json = wk_inspect_json(r);
    cr_assert(text && json);
    cr_expect(strstr(text, "Parameters    2356 (2.36 K)") != NULL, "%s", text);
    cr_expect(strstr(text, "model.layers.0.mlp.up_proj.weight") != NULL);
    cr_expect(strstr(text, "lm_head.weight") == NULL, "filtered out, yet listed:\n%s", text);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc, "invalid JSON:\n%s", json);
    cJSON *tensors = cJSON_GetObjectItem(doc, "tensors");
    cr_expect_eq(cJSON_GetArraySize(tensors), 4);
    cr_expect_null(cJSON_GetObjectItem(cJSON_GetArrayItem(tensors, 0), "stats"));
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "totals"), "parameters")->valuedouble,
                 2356);
    cJSON_Delete(doc);
    free(text);
    free(json);
    wk_inspect_free(r);
    wk_source_close(s);
}

Test(inspect_report, stats_read_each_decodable_tensor_once)
{
    wk_source *s = ir_source(&ir_counting_ops);
    wk_inspect_opts o = {.stats = true};
    wk_inspect_report *r;
    wk_err e;
    ir_reads = 0;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(ir_reads, 7, "IQ2_XXS must not be read; %d reads", ir_reads);
    cr_expect_not(r->rows[3].has_stats);
    cr_expect_str_eq(r->rows[3].note, "stats not available for type IQ2_XXS");
    cr_expect(r->rows[0].has_stats);
    cr_expect_eq(r->rows[0].stats.min, -3.0);
    cr_expect_eq(r->rows[0].stats.max, 3.0);
    char *text = wk_inspect_text(r), *json = wk_inspect_json(r);
    cr_expect(strstr(text, "(stats not available for type IQ2_XXS)") != NULL, "%s", text);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc);
    cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 3);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(q, "stats")));
    cr_expect_str_eq(cJSON_GetObjectItem(q, "stats_note")->valuestring,
                     "stats not available for type IQ2_XXS");
    cJSON_Delete(doc);
    free(text);
    free(json);
    wk_inspect_free(r);
    wk_source_close(s);
}

Test(inspect_report, read_failure_is_an_error)
{
    wk_source *s = ir_source(&ir_counting_ops);
    ir_short = 4; /* the view is shorter than the tensor */
    wk_inspect_opts o = {.stats = true};
    wk_inspect_report *r;
    wk_err e;
    cr_expect_eq(wk_inspect_build(s, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "fake.safetensors") && strstr(e.msg, "model.embed_tokens.weight"),
              "%s", e.msg);
    ir_short = 0;
    wk_source_close(s);
}

Test(inspect_report, histogram_of_quantized_tensor_is_refused)
{
    wk_source *s = ir_source(&ir_forbidden_ops);
    wk_inspect_opts o = {.hist = "model.layers.0.mlp.up_proj.weight"};
    wk_inspect_report *r;
    wk_err e;
    cr_expect_eq(wk_inspect_build(s, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "histogram not available for type IQ2_XXS") != NULL, "%s", e.msg);
    wk_source_close(s);
}

Test(inspect_report, human_counts)
{
    static const struct {
        uint64_t n;
        const char *count, *bytes;
    } cases[] = {
        {0, "0", "0 B"},
        {999, "999", "999 B"},
        {1000, "1.00 K", "1000 B"},
        {1536, "1.54 K", "1.50 KiB"},
        {9994, "9.99 K", "9.76 KiB"},
        {260000, "260.0 K", "253.9 KiB"},
        {999999, "1.00 M", "976.6 KiB"},
        {2600000, "2.60 M", "2.48 MiB"},
        {1100000000, "1.10 B", "1.02 GiB"},
        {1048575, "1.05 M", "1.00 MiB"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wk_human_count(cases[i].n, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].count, "%llu", (unsigned long long)cases[i].n);
        wk_human_bytes(cases[i].n, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].bytes, "%llu bytes", (unsigned long long)cases[i].n);
    }
}

/* lm_head.weight tied to the embedding (wk_tensor.alias_of_plus1, as the PyTorch reader
 * sets it): its data is counted once, in the embedding's category; the table and the JSON
 * name the tensor it shares with. */
Test(inspect_report, tied_tensor_is_counted_once)
{
    wk_source *s = ir_source(&ir_forbidden_ops);
    s->tensors[6].alias_of_plus1 = 1; /* lm_head.weight = model.embed_tokens.weight */
    s->tensors[6].dtype = WK_F32;
    s->tensors[6].n_bytes = 2048;
    wk_inspect_opts o = {0};
    wk_inspect_report *r;
    wk_err e;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->total.tensors, 8);
    cr_expect_eq(r->total.shared, 1);
    cr_expect_eq(r->total.params, 512 + 256 + 16 + 1024 + 16 + 16 + 4);
    cr_expect_eq(r->total.bytes, 2048 + 512 + 32 + 4 * 66 + 64 + 64 + 16);
    cr_expect_eq(r->by_category[WK_CAT_OUTPUT].tensors, 1);
    cr_expect_eq(r->by_category[WK_CAT_OUTPUT].shared, 1);
    cr_expect_eq(r->by_category[WK_CAT_OUTPUT].params, 0);
    cr_expect_eq(r->by_category[WK_CAT_EMBEDDING].params, 512);
    cr_expect_eq(r->rows[6].shares_with, 0);
    cr_expect_eq(r->rows[0].shares_with, -1);
    char *text = wk_inspect_text(r), *json = wk_inspect_json(r);
    cr_assert(text && json);
    cr_expect(strstr(text, "Tensors       8 (1 shares its data with another;") != NULL, "%s",
              text);
    cr_expect(strstr(text, "Parameters    1844 (1.84 K)") != NULL, "%s", text);
    const char *row = strstr(text, "\nlm_head.weight ");
    cr_assert(row, "%s", text);
    const char *end = strchr(row + 1, '\n');
    const char *note = "  = model.embed_tokens.weight";
    cr_expect(end && end - row > (long)strlen(note) &&
                  strncmp(end - strlen(note), note, strlen(note)) == 0,
              "%s", text);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc);
    cJSON *totals = cJSON_GetObjectItem(doc, "totals");
    cr_expect_eq(cJSON_GetObjectItem(totals, "parameters")->valuedouble, 1844);
    cr_expect_eq(cJSON_GetObjectItem(totals, "shared")->valuedouble, 1);
    cJSON *tensors = cJSON_GetObjectItem(doc, "tensors");
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(tensors, 6),
                                         "shares_data_with")->valuestring,
                     "model.embed_tokens.weight");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(tensors, 0),
                                               "shares_data_with")));
    cJSON_Delete(doc);
    free(text);
    free(json);
    wk_inspect_free(r);

    /* a filter that leaves the embedding out counts lm_head's data; one that keeps both
     * counts it once */
    o.filter = "lm_head.*";
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->filtered.params, 512);
    cr_expect_eq(r->filtered.shared, 0);
    wk_inspect_free(r);
    o.filter = "*e*.weight";
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->filtered.tensors, 7);
    cr_expect_eq(r->filtered.shared, 1);
    cr_expect_eq(r->filtered.params, 512 + 256 + 1024 + 16 + 16 + 4);
    wk_inspect_free(r);
    wk_source_close(s);
}

/* One value repeated: every bin is [v, v], and the last holds every value (x = max goes
 * to the last bin). No finite value: the edges are undefined, null in JSON. */
static float ir_hist_data[6];

static int ir_read_hist(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    v->data = ir_hist_data;
    v->size = s->tensors[i].n_bytes;
    return 0;
}

static const wk_source_ops ir_hist_ops = {ir_read_hist, ir_close};

/* wk-inspect --json --hist c --bins 3 of six copies of value. */
static cJSON *ir_hist_json(float value)
{
    wk_source *s = wk_source_new("safetensors", "fake.safetensors");
    s->tensors = calloc(1, sizeof *s->tensors);
    ir_add(s, "c", WK_F32, 6, 0);
    s->ops = &ir_hist_ops;
    for (int i = 0; i < 6; i++)
        ir_hist_data[i] = value;
    wk_inspect_opts o = {.hist = "c", .hist_bins = 3};
    wk_inspect_report *r;
    wk_err e;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    char *json = wk_inspect_json(r);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc, "%s", json);
    free(json);
    wk_inspect_free(r);
    wk_source_close(s);
    return doc;
}

Test(inspect_report, histogram_of_constant_and_non_finite_tensors)
{
    cJSON *doc = ir_hist_json(2.5f);
    cJSON *h = cJSON_GetObjectItem(doc, "histogram");
    cJSON *bins = cJSON_GetObjectItem(h, "bins");
    cr_expect_eq(cJSON_GetObjectItem(h, "lo")->valuedouble, 2.5);
    cr_expect_eq(cJSON_GetObjectItem(h, "hi")->valuedouble, 2.5);
    cr_assert_eq(cJSON_GetArraySize(bins), 3);
    for (int k = 0; k < 3; k++) {
        cJSON *b = cJSON_GetArrayItem(bins, k);
        cr_expect_eq(cJSON_GetObjectItem(b, "lo")->valuedouble, 2.5);
        cr_expect_eq(cJSON_GetObjectItem(b, "hi")->valuedouble, 2.5);
        cr_expect_eq(cJSON_GetObjectItem(b, "count")->valuedouble, k == 2 ? 6 : 0, "bin %d", k);
    }
    cJSON_Delete(doc);

    doc = ir_hist_json(NAN);
    h = cJSON_GetObjectItem(doc, "histogram");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "stats"), "min")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(h, "lo")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(h, "hi")));
    bins = cJSON_GetObjectItem(h, "bins");
    cr_assert_eq(cJSON_GetArraySize(bins), 3);
    for (int k = 0; k < 3; k++) {
        cJSON *b = cJSON_GetArrayItem(bins, k);
        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(b, "lo")), "bin %d", k);
        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(b, "hi")), "bin %d", k);
        cr_expect_eq(cJSON_GetObjectItem(b, "count")->valuedouble, 0);
    }
    cJSON_Delete(doc);
}

/* Names with multi-byte and wide characters: in both tables every tensor's line reaches its
 * second column at the same display column (1 per character, 2 for CJK). */
static int ir_columns(const char *s, size_t n)
{
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) == 0x80)
            continue;
        cols += c >= 0xe3 && c <= 0xe9 ? 2 : 1; /* U+3000..U+9FFF in this test's names */
    }
    return cols;
}

Test(inspect_report, table_pads_by_display_columns)
{
    wk_source *s = wk_source_new("safetensors", "fake.safetensors");
    s->tensors = calloc(4, sizeof *s->tensors);
    ir_add(s, "caf\xc3\xa9.weight", WK_F32, 4, 0);           /* café: 1 column for é */
    ir_add(s, "\xe5\xb5\x8c\xe5\x85\xa5.weight", WK_F32, 4, 0); /* 嵌入: 2 columns each */
    ir_add(s, "plain_ascii_name.weight", WK_F32, 4, 0);
    ir_add(s, "ctl\x1b[31m\xc2\x9b.weight", WK_F32, 4, 0);     /* ESC and C1 CSI: '?' */
    s->ops = &ir_hist_ops;
    for (int i = 0; i < 6; i++)
        ir_hist_data[i] = (float)i;
    wk_inspect_opts o = {.stats = true};
    wk_inspect_report *r;
    wk_err e;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    char *text = wk_inspect_text(r);
    cr_assert(text);
    cr_expect(strchr(text, 0x1b) == NULL && strstr(text, "\xc2\x9b") == NULL, "%s", text);
    cr_expect(strstr(text, "ctl?[31m?.weight") != NULL, "%s", text);
    /* the table and the statistics table: each line of a tensor puts the next column at
     * the same display column as the header's */
    int header_col = -1, rows = 0;
    for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *nl = strchr(line, '\n'), *w = NULL;
        if (!nl)
            break;
        if (strncmp(line, "Tensor ", 7) == 0)
            w = line + 6;
        else if (strstr(line, ".weight") && strstr(line, ".weight") < nl)
            w = strstr(line, ".weight") + 7;
        if (!w)
            continue;
        while (*w == ' ')
            w++;
        int col = ir_columns(line, (size_t)(w - line));
        if (strncmp(line, "Tensor ", 7) == 0) {
            /* the main table's next column is left-aligned like its header; the statistics
             * are right-aligned, so there the rows (equal data) are compared with the first */
            header_col = strstr(line, "  Category") ? col : -1;
            continue;
        }
        if (header_col < 0)
            header_col = col;
        cr_expect_eq(col, header_col, "line: %.*s", (int)(nl - line), line);
        rows++;
    }
    cr_expect_eq(rows, 8, "%s", text);
    free(text);
    wk_inspect_free(r);
    wk_source_close(s);
}

/* --filter and --hist take either naming: GGUF names find the Hugging Face tensors here. A
 * filter that matches nothing says so, with an example of the file's own naming. */
Test(inspect_report, names_in_either_naming)
{
    wk_source *s = ir_source(&ir_counting_ops);
    wk_inspect_report *r;
    wk_err e;
    wk_inspect_opts o = {.filter = "blk.0.*"};
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->n_rows, 4, "q_proj weight and bias, up_proj, input_layernorm");
    cr_expect_eq(r->rows[0].index, 1);
    cr_expect_eq(r->rows[3].index, 4);
    cr_expect_null(r->filter_note);
    wk_inspect_free(r);

    o.filter = "output.weight";
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect(r->n_rows == 1 && r->rows[0].index == 6, "lm_head.weight");
    wk_inspect_free(r);

    o.filter = "blk.9.*";
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->n_rows, 0);
    cr_assert_not_null(r->filter_note);
    cr_expect(strstr(r->filter_note, "no tensor matches; tensor names in this file look like "
                                     "'model.layers.0.self_attn.q_proj.weight'"),
              "%s", r->filter_note);
    char *text = wk_inspect_text(r), *json = wk_inspect_json(r);
    cr_expect(strstr(text, r->filter_note) != NULL, "%s", text);
    cJSON *doc = cJSON_Parse(json);
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "filter"), "note")->valuestring,
                     r->filter_note);
    cJSON_Delete(doc);
    free(text);
    free(json);
    wk_inspect_free(r);

    wk_inspect_opts h = {.hist = "blk.0.attn_q.weight"};
    cr_assert_eq(wk_inspect_build(s, &h, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r->hist->index, 1);
    wk_inspect_free(r);
    h.hist = "blk.0.attn_k.weight";
    cr_expect_eq(wk_inspect_build(s, &h, &r, &e), -1);
    cr_expect(strstr(e.msg, "no tensor named 'blk.0.attn_k.weight'; tensor names in this file "
                            "look like 'model.layers.0.self_attn.q_proj.weight'"), "%s", e.msg);
    wk_source_close(s);
}

/* config.json only names the model: a broken one is a warning and the report goes on. */
Test(inspect_report, invalid_config_json_is_a_warning)
{
    char dir[] = "/tmp/wk-inspect-config-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"architectures\": [", f);
    fclose(f);
    wk_source *s = ir_source(&ir_forbidden_ops);
    s->dir = strdup(dir);
    wk_inspect_opts o = {0};
    wk_inspect_report *r;
    wk_err e;
    cr_assert_eq(wk_inspect_build(s, &o, &r, &e), 0, "%s", e.msg);
    cr_expect_null(r->architecture);
    cr_expect_eq(r->n_rows, 8);
    cr_assert_eq(r->n_warnings, 1);
    char want[sizeof path + 64];
    snprintf(want, sizeof want, "%s: invalid JSON near byte 19; architecture unknown", path);
    cr_expect_str_eq(r->warnings[0], want);
    char *json = wk_inspect_json(r);
    cJSON *doc = cJSON_Parse(json);
    cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "warnings"), 0)->valuestring,
                     want);
    cJSON_Delete(doc);
    free(json);
    wk_inspect_free(r);
    wk_source_close(s);
    unlink(path);
    rmdir(dir);
}
