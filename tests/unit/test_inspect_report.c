/* wk-inspect's report on a hand-made source: counting never reads tensor data, statistics
 * read each decodable tensor once, totals and categories add up, and the renderings. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "verify/inspect_report.h"

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
    ir_add(s, "model.layers.0.mlp.up_proj.weight", WK_Q4_K, 4, 256);      /* 1024 */
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
    cr_expect_eq(r->total.bytes, 2048 + 512 + 32 + 4 * 144 + 64 + 64 + 1024 + 16);
    cr_expect_eq(r->by_category[WK_CAT_EMBEDDING].params, 512);
    cr_expect_eq(r->by_category[WK_CAT_ATTENTION].params, 256);
    cr_expect_eq(r->by_category[WK_CAT_BIAS].params, 16);
    cr_expect_eq(r->by_category[WK_CAT_FEEDFORWARD].bytes, 4 * 144);
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
    cr_expect_eq(ir_reads, 7, "Q4_K must not be read; %d reads", ir_reads);
    cr_expect_not(r->rows[3].has_stats);
    cr_expect_str_eq(r->rows[3].note, "stats not available for type Q4_K");
    cr_expect(r->rows[0].has_stats);
    cr_expect_eq(r->rows[0].stats.min, -3.0);
    cr_expect_eq(r->rows[0].stats.max, 3.0);
    char *text = wk_inspect_text(r), *json = wk_inspect_json(r);
    cr_expect(strstr(text, "(stats not available for type Q4_K)") != NULL, "%s", text);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc);
    cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 3);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(q, "stats")));
    cr_expect_str_eq(cJSON_GetObjectItem(q, "stats_note")->valuestring,
                     "stats not available for type Q4_K");
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
    cr_expect(strstr(e.msg, "histogram not available for type Q4_K") != NULL, "%s", e.msg);
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
