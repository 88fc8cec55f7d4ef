/* wk-prune's pipeline (models/prune.c) with a stand-in for the engine's Wanda calibration
 * (fixed column norms): the order of the calls (layer by layer, norms before a layer's
 * matrices, every matrix reported after pruning), the scores |w| * norm per row and in N:M,
 * layers regrouped in the output, types and kept bits unchanged, q/k rows handed over in
 * GGUF order from a Hugging Face directory, and the refusals. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "formats/gguf/gguf.h"
#include "formats/source.h"
#include "models/prune.h"
#include "models/qk_permute.h"
#include "quant/half.h"
#include "quant/prune.h"

static char pm_dir[64];

static void pm_setup(void)
{
    snprintf(pm_dir, sizeof pm_dir, "/tmp/wk-prune-XXXXXX");
    cr_assert_not_null(mkdtemp(pm_dir));
}

static void pm_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pm_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(prune_pipeline, .init = pm_setup, .fini = pm_teardown);

static char *pm_path(const char *name)
{
    static char buf[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", pm_dir, name);
    return buf[k];
}

typedef struct pm_tensor {
    const char *name;
    wk_dtype type;
    uint32_t n_dims;
    uint64_t shape[2];
} pm_tensor;

/* Layer 1 before layer 0 on purpose: the output must come out grouped and in order. */
static const pm_tensor PM_TENSORS[] = {
    {"token_embd.weight", WK_F32, 2, {8, 16}},
    {"blk.1.attn_q.weight", WK_F16, 2, {16, 16}},
    {"blk.0.attn_norm.weight", WK_F32, 1, {16, 0}},
    {"blk.0.attn_q.weight", WK_F32, 2, {16, 16}},
    {"blk.1.ffn_down.weight", WK_BF16, 2, {16, 32}},
    {"blk.0.ffn_down.weight", WK_F32, 2, {16, 32}},
    {"output_norm.weight", WK_F32, 1, {16, 0}},
};
#define PM_N (sizeof PM_TENSORS / sizeof PM_TENSORS[0])

static float pm_value(size_t t, uint64_t i)
{
    uint64_t h = (t + 1) * 0x9e3779b97f4a7c15ull ^ (i + 1) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    return i % 11 == 3 ? 0.0f : (float)((int64_t)(h % 2001) - 1000) / 256.0f;
}

static void pm_write_gguf(const char *path, bool quantized)
{
    wk_gguf_writer *w;
    wk_err e;
    cr_assert_eq(wk_gguf_writer_open(path, &w, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_gguf_set_str(w, "general.architecture", "llama", &e), 0);
    for (size_t t = 0; t < PM_N; t++)
        cr_assert_eq(wk_gguf_add_tensor(w, PM_TENSORS[t].name, quantized && t == 4 ? WK_Q8_0
                                                                                    : PM_TENSORS[t].type,
                                        PM_TENSORS[t].n_dims, PM_TENSORS[t].shape, NULL, &e),
                     0, "%s", e.msg);
    for (size_t t = 0; t < PM_N; t++) {
        const pm_tensor *d = &PM_TENSORS[t];
        uint64_t n = d->shape[0] * (d->n_dims == 2 ? d->shape[1] : 1);
        uint8_t buf[4 * 512] = {0};
        uint64_t size = n * wk_type(d->type)->type_size;
        for (uint64_t i = 0; i < n; i++) {
            float v = pm_value(t, i);
            if (d->type == WK_F32)
                ((float *)buf)[i] = v;
            else
                ((uint16_t *)buf)[i] = d->type == WK_F16 ? wk_f32_to_f16(v) : wk_f32_to_bf16(v);
        }
        if (quantized && t == 4)
            size = n / 32 * 34;
        cr_assert_eq(wk_gguf_write_tensor(w, buf, size, &e), 0, "%s", e.msg);
    }
    cr_assert_eq(wk_gguf_writer_finish(w, &e), 0, "%s", e.msg);
}

/* ---- the stand-in calibration ---- */

typedef struct pm_calib {
    char calls[64][32];
    int n_calls;
    int64_t cols[WK_ROLE_COUNT]; /* the model's row lengths, which the engine would know */
    float *last_q;               /* layer 0's attn_q as handed to pruned() */
    int64_t q_rows;
    bool fail;
} pm_calib;

static float pm_norm(wk_role role, int64_t j)
{
    return 1.0f + (float)((j * 7 + (int64_t)role * 3) % 5);
}

static int pm_layer_norms(void *ctx, uint32_t l, float *const norms[WK_ROLE_COUNT], wk_err *e)
{
    pm_calib *c = ctx;
    cr_assert_lt(c->n_calls, 64);
    snprintf(c->calls[c->n_calls++], 32, "norms %u", l);
    if (c->fail)
        return wk_fail(e, "the text is too short");
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        if (!norms[r])
            continue;
        cr_assert_gt(c->cols[r], 0, "norms for role %s, which the model lacks",
                     wk_role_get((wk_role)r)->gguf);
        for (int64_t j = 0; j < c->cols[r]; j++)
            norms[r][j] = pm_norm((wk_role)r, j);
    }
    return 0;
}

static int pm_pruned(void *ctx, uint32_t l, wk_role role, const float *w, int64_t rows,
                     int64_t cols, wk_err *e)
{
    pm_calib *c = ctx;
    cr_assert_lt(c->n_calls, 64);
    snprintf(c->calls[c->n_calls++], 32, "pruned %u %s", l, wk_role_get(role)->gguf);
    if (l == 0 && role == WK_ROLE_ATTN_Q) {
        free(c->last_q);
        c->last_q = malloc((size_t)(rows * cols) * sizeof *w);
        memcpy(c->last_q, w, (size_t)(rows * cols) * sizeof *w);
        c->q_rows = rows;
    }
    return 0;
}

/* The synthetic model's row lengths, or stories260k's. */
static pm_calib pm_stand_in(bool stories)
{
    pm_calib c = {0};
    for (int r = WK_ROLE_ATTN_Q; r <= WK_ROLE_FFN_DOWN; r++)
        c.cols[r] = stories ? 64 : 16;
    c.cols[WK_ROLE_ATTN_NORM] = c.cols[WK_ROLE_FFN_NORM] = 0;
    c.cols[WK_ROLE_FFN_DOWN] = stories ? 172 : 32;
    return c;
}

static wk_prune_opts pm_wanda(const wk_prune_calib *calib)
{
    return (wk_prune_opts){.method = WK_PRUNE_WANDA, .sparsity = 0.5, .calib = calib};
}

static float pm_get(const wk_view *v, wk_dtype t, uint64_t i)
{
    if (t == WK_F32)
        return ((const float *)v->data)[i];
    uint16_t h = ((const uint16_t *)v->data)[i];
    return t == WK_F16 ? wk_f16_to_f32(h) : wk_bf16_to_f32(h);
}

static uint32_t pm_bits(const wk_view *v, wk_dtype t, uint64_t i)
{
    return t == WK_F32 ? ((const uint32_t *)v->data)[i] : ((const uint16_t *)v->data)[i];
}

/* The output against the input: same names grouped by layer, same types, each pruned
 * matrix equal to quant/prune.h's selection on |w| * norm, everything else bit-identical. */
static void pm_check_output(const char *in, const char *out, uint32_t nm_m)
{
    static const char *const order[] = {"token_embd.weight", "blk.0.attn_norm.weight",
                                        "blk.0.attn_q.weight", "blk.0.ffn_down.weight",
                                        "blk.1.attn_q.weight", "blk.1.ffn_down.weight",
                                        "output_norm.weight"};
    wk_source *a, *b;
    wk_err e;
    cr_assert_eq(wk_source_open(in, NULL, &a, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_source_open(out, NULL, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(b->n_tensors, PM_N);
    for (size_t k = 0; k < PM_N; k++) {
        const wk_tensor *t = &b->tensors[k];
        cr_assert_str_eq(t->name, order[k]);
        long i = wk_source_find(a, t->name);
        cr_assert_eq(t->dtype, a->tensors[i].dtype, "%s keeps its type", t->name);
        wk_view va, vb;
        cr_assert_eq(wk_source_read(a, (size_t)i, &va, &e), 0);
        cr_assert_eq(wk_source_read(b, k, &vb, &e), 0);
        bool pruned = strstr(t->name, "attn_q") || strstr(t->name, "ffn_down");
        uint64_t cols = t->shape[t->n_dims - 1], rows = t->n_elements / cols;
        float *want = malloc(t->n_elements * sizeof *want), scale[32];
        for (uint64_t j = 0; j < t->n_elements; j++)
            want[j] = pm_get(&va, t->dtype, j);
        wk_role role = strstr(t->name, "attn_q") ? WK_ROLE_ATTN_Q : WK_ROLE_FFN_DOWN;
        for (uint64_t j = 0; j < cols && j < 32; j++)
            scale[j] = pm_norm(role, (int64_t)j);
        if (pruned && nm_m)
            cr_assert_eq(wk_prune_rows_nm(want, (int64_t)rows, (int64_t)cols, scale, 2, nm_m, &e),
                         0);
        else if (pruned)
            cr_assert_eq(wk_prune_rows(want, (int64_t)rows, (int64_t)cols, scale, 0.5, &e), 0);
        for (uint64_t j = 0; j < t->n_elements; j++) {
            if (wk_f32_bits(want[j]) == 0 && pm_get(&va, t->dtype, j) != 0)
                cr_assert_eq(pm_bits(&vb, t->dtype, j), 0u, "%s[%llu] pruned", t->name,
                             (unsigned long long)j);
            else
                cr_assert_eq(pm_bits(&vb, t->dtype, j), pm_bits(&va, t->dtype, j),
                             "%s[%llu] kept", t->name, (unsigned long long)j);
        }
        free(want);
        wk_view_release(&va);
        wk_view_release(&vb);
    }
    wk_source_close(b);
    wk_source_close(a);
}

Test(prune_pipeline, wanda_visits_the_layers_in_order_and_scores_by_the_norms)
{
    char *in = pm_path("in.gguf"), *out = pm_path("out.gguf");
    pm_write_gguf(in, false);
    pm_calib c = pm_stand_in(false);
    wk_prune_calib calib = {pm_layer_norms, pm_pruned, &c};
    wk_prune_opts o = pm_wanda(&calib);
    wk_prune_report *r;
    wk_err e;
    cr_assert_eq(wk_prune(in, out, &o, &r, &e), 0, "%s", e.msg);
    const char *want[] = {"norms 0", "pruned 0 attn_q", "pruned 0 ffn_down", "norms 1",
                          "pruned 1 attn_q", "pruned 1 ffn_down"};
    cr_assert_eq(c.n_calls, 6);
    for (int k = 0; k < 6; k++)
        cr_expect_str_eq(c.calls[k], want[k]);
    cr_expect_eq(r->n_pruned, 4);
    cr_expect_eq(r->pruned.elements, 2 * 256 + 2 * 512);
    cr_expect_eq(r->pruned.zeros_after, r->pruned.elements / 2); /* input zeros go first */
    cr_expect_gt(r->pruned.zeros_before, 0);
    cr_expect_eq(r->cat[WK_CAT_NORM].zeros_after, r->cat[WK_CAT_NORM].zeros_before);
    wk_prune_report_free(r);
    pm_check_output(in, out, 0);
    free(c.last_q);
}

Test(prune_pipeline, wanda_in_the_nm_pattern)
{
    char *in = pm_path("in.gguf"), *out = pm_path("nm.gguf");
    pm_write_gguf(in, false);
    pm_calib c = pm_stand_in(false);
    wk_prune_calib calib = {pm_layer_norms, pm_pruned, &c};
    wk_prune_opts o = pm_wanda(&calib);
    o.nm_n = 2;
    o.nm_m = 8;
    o.sparsity = 0;
    wk_prune_report *r;
    wk_err e;
    cr_assert_eq(wk_prune(in, out, &o, &r, &e), 0, "%s", e.msg);
    wk_prune_report_free(r);
    pm_check_output(in, out, 8);
    free(c.last_q);
}

Test(prune_pipeline, wanda_refusals)
{
    char *in = pm_path("in.gguf"), *out = pm_path("x.gguf");
    pm_write_gguf(in, false);
    wk_prune_opts o = {.method = WK_PRUNE_WANDA, .sparsity = 0.5};
    wk_prune_report *r;
    wk_err e;
    cr_expect_eq(wk_prune(in, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "Wanda needs the engine's calibration") != NULL, "%s", e.msg);
    pm_calib c = pm_stand_in(false);
    c.fail = true;
    wk_prune_calib calib = {pm_layer_norms, pm_pruned, &c};
    o.calib = &calib;
    cr_expect_eq(wk_prune(in, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "calibrating layer 0: the text is too short") != NULL, "%s", e.msg);
    cr_expect_eq(access(out, F_OK), -1, "nothing written");
    o.scope = WK_PRUNE_TENSOR;
    cr_expect_eq(wk_prune(in, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "scope tensor does not apply") != NULL, "%s", e.msg);
    o.scope = WK_PRUNE_ROW;
    o.categories = 1u << WK_CAT_EMBEDDING;
    cr_expect_eq(wk_prune(in, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "attention and feed-forward matrices only") != NULL, "%s", e.msg);
}

Test(prune_pipeline, option_and_input_refusals)
{
    wk_err e;
    wk_prune_opts o = {.sparsity = 1.0};
    cr_expect_eq(wk_prune_check_opts(&o, &e), -1);
    cr_expect(strstr(e.msg, "outside [0, 1)") != NULL, "%s", e.msg);
    o = (wk_prune_opts){.method = WK_PRUNE_NM, .nm_n = 4, .nm_m = 4};
    cr_expect_eq(wk_prune_check_opts(&o, &e), -1);
    cr_expect(strstr(e.msg, "1 <= N < M") != NULL, "%s", e.msg);
    o = (wk_prune_opts){.method = WK_PRUNE_NM, .nm_n = 2, .nm_m = 4, .scope = WK_PRUNE_GLOBAL};
    cr_expect_eq(wk_prune_check_opts(&o, &e), -1);
    o = (wk_prune_opts){.categories = 1u << WK_CAT_OTHER};
    cr_expect_eq(wk_prune_check_opts(&o, &e), -1);

    char *q = pm_path("q.gguf"), *out = pm_path("y.gguf");
    pm_write_gguf(q, true);
    wk_prune_report *r;
    o = (wk_prune_opts){.sparsity = 0.5};
    cr_expect_eq(wk_prune(q, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "tensor 'blk.1.ffn_down.weight' is Q8_0: prune before quantizing"),
              "%s", e.msg);
    char *in = pm_path("in.gguf");
    pm_write_gguf(in, false);
    o = (wk_prune_opts){.method = WK_PRUNE_NM, .nm_n = 2, .nm_m = 32};
    cr_expect_eq(wk_prune(in, out, &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "tensor 'blk.0.attn_q.weight': rows of 16 values are not a multiple "
                            "of M = 32"), "%s", e.msg);
    o = (wk_prune_opts){.sparsity = 0.5, .safetensors = true};
    cr_expect_eq(wk_prune(in, pm_path("dir"), &o, &r, &e), -1);
    cr_expect(strstr(e.msg, "is a GGUF; a Hugging Face directory") != NULL, "%s", e.msg);
    cr_expect_eq(access(out, F_OK), -1, "nothing written");
    cr_expect_eq(access(pm_path("dir"), F_OK), -1, "nothing written");
}

static int pm_cmp_call(const void *x, const void *y)
{
    return strcmp(x, y);
}

/* Every "pruned l ..." comes after "norms l" and before the next layer's norms. */
static void pm_check_order(const pm_calib *c)
{
    int layer = -1;
    for (int k = 0; k < c->n_calls; k++) {
        unsigned l;
        if (sscanf(c->calls[k], "norms %u", &l) == 1) {
            cr_expect_gt((int)l, layer, "layers in increasing order");
            layer = (int)l;
        } else {
            cr_assert_eq(sscanf(c->calls[k], "pruned %u", &l), 1);
            cr_expect_eq((int)l, layer, "%s after norms %d", c->calls[k], layer);
        }
    }
}

/* From a Hugging Face directory, q and k are stored permuted; the engine wants GGUF rows. */
Test(prune_pipeline, wanda_gets_gguf_rows_from_a_hugging_face_directory)
{
    const char *root = getenv("WK_SHARED") ? getenv("WK_SHARED") : "../shared";
    char model[256];
    snprintf(model, sizeof model, "%s/models/stories260k-hf", root);
    if (access(model, F_OK) != 0)
        cr_skip_test("%s not present (a user's clone has no ../shared)", model);
    pm_calib a = pm_stand_in(true), b = pm_stand_in(true);
    wk_prune_calib ca = {pm_layer_norms, pm_pruned, &a}, cb = {pm_layer_norms, pm_pruned, &b};
    wk_prune_opts oa = pm_wanda(&ca), ob = pm_wanda(&cb);
    ob.safetensors = true;
    wk_prune_report *r;
    wk_err e;
    cr_assert_eq(wk_prune(model, pm_path("s.gguf"), &oa, &r, &e), 0, "%s", e.msg);
    wk_prune_report_free(r);
    cr_assert_eq(wk_prune(model, pm_path("hf"), &ob, &r, &e), 0, "%s", e.msg);
    wk_prune_report_free(r);
    /* the same calls, in another order within each layer (the directory's own order) */
    pm_check_order(&a);
    pm_check_order(&b);
    cr_assert_eq(a.n_calls, 5 * 8);
    cr_assert_eq(a.n_calls, b.n_calls);
    qsort(a.calls, (size_t)a.n_calls, sizeof a.calls[0], pm_cmp_call);
    qsort(b.calls, (size_t)b.n_calls, sizeof b.calls[0], pm_cmp_call);
    for (int k = 0; k < a.n_calls; k++)
        cr_expect_str_eq(a.calls[k], b.calls[k]);
    cr_assert_eq(a.q_rows, 64);
    cr_expect_eq(memcmp(a.last_q, b.last_q, 64 * 64 * sizeof(float)), 0,
                 "the same rows from the GGUF path and the directory path");
    /* and the directory holds them permuted, as Hugging Face does */
    wk_source *s;
    cr_assert_eq(wk_source_open(pm_path("hf"), NULL, &s, &e), 0, "%s", e.msg);
    long i = wk_source_find(s, "model.layers.0.self_attn.q_proj.weight");
    wk_view v;
    cr_assert_eq(wk_source_read(s, (size_t)i, &v, &e), 0);
    for (uint64_t row = 0; row < 64; row++)
        cr_expect_eq(memcmp((const float *)v.data + wk_qk_unpermute_src(row, 64, 8) * 64,
                            a.last_q + row * 64, 64 * sizeof(float)), 0, "row %llu",
                     (unsigned long long)row);
    wk_view_release(&v);
    wk_source_close(s);
    free(a.last_q);
    free(b.last_q);
}
