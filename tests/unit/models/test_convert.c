/* wk-convert's pieces: the q/k un-permutation against llama.cpp's reshape formula, the row
 * converter against the scalar reference conversions, config.json -> llama hyperparameters
 * (defaults, contradictions, rope scaling) and the expected tensor list. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/llama.h"
#include "models/convert.h"
#include "models/qk_permute.h"
#include "quant/half.h"

/* llama.cpp LlamaModel.permute as index arithmetic: out = w.reshape(H, 2, half, C)
 * .swapaxes(1, 2).reshape(R, C), so out[h][i][j] = w[h][j][i]. */
static uint64_t cv_numpy_src(uint64_t r, uint64_t rows, uint32_t heads)
{
    uint64_t half = rows / heads / 2;
    uint64_t h = r / (2 * half), i = (r % (2 * half)) / 2, j = r % 2;
    return h * 2 * half + j * half + i;
}

Test(convert, unpermute_matches_llama_cpp_formula)
{
    const uint32_t heads[] = {1, 2, 4, 8, 32};
    const uint64_t head_rows[] = {2, 4, 8, 64, 128};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++) {
            uint64_t rows = heads[a] * head_rows[b];
            for (uint64_t r = 0; r < rows; r++) {
                uint64_t s = wk_qk_unpermute_src(r, rows, heads[a]);
                cr_assert_eq(s, cv_numpy_src(r, rows, heads[a]));
                cr_assert_eq(wk_qk_permute_src(s, rows, heads[a]), r, "not inverse");
            }
        }
}

Test(convert, unpermute_rejects_bad_row_counts)
{
    wk_err e;
    cr_assert_eq(wk_qk_check("q", 64, 4, &e), 0);
    cr_assert_eq(wk_qk_check("q", 60, 8, &e), -1);
    cr_assert(strstr(e.msg, "'q'") && strstr(e.msg, "8 heads"), "%s", e.msg);
    cr_assert_eq(wk_qk_check("k", 12, 4, &e), -1); /* head of 3 rows: odd */
    cr_assert_eq(wk_qk_check("k", 12, 0, &e), -1);
}

/* Deterministic values spanning normal, tiny and large magnitudes. */
static float cv_value(uint64_t i)
{
    float v = sinf((float)i * 0.7f) * powf(2.0f, (float)((int)(i % 23) - 11));
    return i % 97 == 5 ? 0.0f : v;
}

static void cv_fill(void *dst, wk_dtype t, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        float v = cv_value(i);
        if (t == WK_F32)
            ((float *)dst)[i] = v;
        else if (t == WK_F16)
            ((uint16_t *)dst)[i] = wk_f32_to_f16(v);
        else
            ((uint16_t *)dst)[i] = wk_f32_to_bf16(v);
    }
}

static float cv_get(const void *p, wk_dtype t, uint64_t i)
{
    if (t == WK_F32)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return t == WK_F16 ? wk_f16_to_f32(h) : wk_bf16_to_f32(h);
}

static uint32_t cv_encode_bits(float v, wk_dtype t)
{
    if (t == WK_F32)
        return wk_f32_bits(v);
    return t == WK_F16 ? wk_f32_to_f16(v) : wk_f32_to_bf16(v);
}

static uint32_t cv_bits(const void *p, wk_dtype t, uint64_t i)
{
    return t == WK_F32 ? ((const uint32_t *)p)[i] : ((const uint16_t *)p)[i];
}

Test(convert, rows_convert_and_permute_like_the_reference)
{
    const wk_dtype types[] = {WK_F32, WK_F16, WK_BF16};
    const uint64_t rows = 48, cols = 300; /* cols > 256: F16 -> BF16 goes in blocks */
    const uint32_t heads = 3;
    void *src = malloc(rows * cols * 4), *dst = malloc(rows * cols * 4);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (uint32_t h = 0; h <= heads; h += heads) {
                cv_fill(src, types[a], rows * cols);
                memset(dst, 0xab, rows * cols * 4);
                /* in two uneven pieces, as the streaming code does */
                size_t out_row = cols * wk_type(types[b])->type_size;
                wk_convert_rows(src, types[a], dst, types[b], 0, 18, rows, cols, h);
                wk_convert_rows(src, types[a], (uint8_t *)dst + 18 * out_row, types[b], 18,
                                rows, rows, cols, h);
                for (uint64_t r = 0; r < rows; r++) {
                    uint64_t from = h ? cv_numpy_src(r, rows, h) : r;
                    for (uint64_t c = 0; c < cols; c++) {
                        float v = cv_get(src, types[a], from * cols + c);
                        cr_assert_eq(cv_bits(dst, types[b], r * cols + c),
                                     cv_encode_bits(v, types[b]), "%s -> %s heads %u row %llu",
                                     wk_type(types[a])->name, wk_type(types[b])->name, h,
                                     (unsigned long long)r);
                    }
                }
            }
    free(src);
    free(dst);
}

Test(convert, outtype_rules)
{
    wk_outtype o;
    cr_assert_eq(wk_outtype_parse("bf16", &o), 0);
    cr_assert_eq(o, WK_OUTTYPE_BF16);
    cr_assert_eq(wk_outtype_parse("auto", &o), 0);
    cr_assert_eq(wk_outtype_parse("q8_0", &o), -1);
    wk_conv_tensor mat = {.hf_name = "w", .n_dims = 2}, vec = {.hf_name = "n", .n_dims = 1};
    wk_dtype d;
    wk_err e;
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_BF16, WK_OUTTYPE_AUTO, &d, &e), 0);
    cr_assert_eq(d, WK_BF16);
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_BF16, WK_OUTTYPE_F16, &d, &e), 0);
    cr_assert_eq(d, WK_F16);
    cr_assert_eq(wk_convert_out_dtype(&vec, WK_F16, WK_OUTTYPE_BF16, &d, &e), 0);
    cr_assert_eq(d, WK_F32);
    cr_assert_eq(wk_convert_out_dtype(&mat, WK_I32, WK_OUTTYPE_F16, &d, &e), -1);
    cr_assert(strstr(e.msg, "'w'") && strstr(e.msg, "I32"), "%s", e.msg);
}

/* ---- config.json -> hyperparameters ---- */

static char cv_dir[64];

static wk_hf_config *cv_config(const char *json)
{
    snprintf(cv_dir, sizeof cv_dir, "/tmp/wk-conv-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(cv_dir));
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", cv_dir);
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
    wk_hf_config *c;
    wk_err e;
    cr_assert_eq(wk_hf_config_load(cv_dir, &c, &e), 0, "%s", e.msg);
    unlink(path);
    rmdir(cv_dir);
    return c;
}

#define CV_BASE "\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 100, " \
    "\"max_position_embeddings\": 64, \"hidden_size\": 32, \"num_hidden_layers\": 2, " \
    "\"intermediate_size\": 48, \"num_attention_heads\": 4, \"rms_norm_eps\": 1e-6"

Test(convert, hparams_defaults)
{
    wk_hf_config *c = cv_config("{" CV_BASE "}");
    wk_llama_hparams hp;
    wk_err e;
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.n_head_kv, 4);
    cr_assert_eq(hp.head_dim, 8);
    cr_assert(!hp.head_dim_given);
    cr_assert_float_eq(hp.rope_theta, 10000.0f, 0);
    cr_assert(!hp.tie_embeddings && !hp.attention_bias && !hp.mlp_bias);
    cr_assert_eq(hp.rope, WK_ROPE_NONE);
    cr_assert_eq(wk_arch_find(c, &e), &wk_arch_llama);
    wk_hf_config_free(c);
}

static void cv_expect_error(const char *json, const char *w1, const char *w2)
{
    wk_hf_config *c = cv_config(json);
    wk_llama_hparams hp;
    wk_err e = {{0}};
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), -1, "accepted %s", json);
    cr_assert(strstr(e.msg, "config.json"), "%s", e.msg);
    cr_assert(strstr(e.msg, w1), "'%s' not in: %s", w1, e.msg);
    cr_assert(!w2 || strstr(e.msg, w2), "'%s' not in: %s", w2, e.msg);
    wk_hf_config_free(c);
}

Test(convert, hparams_contradictions_are_errors)
{
    cv_expect_error("{\"vocab_size\": 10}", "max_position_embeddings", NULL);
    cv_expect_error("{" CV_BASE ", \"num_key_value_heads\": 3}", "num_key_value_heads", NULL);
    cv_expect_error("{" CV_BASE ", \"num_key_value_heads\": 8}", "num_key_value_heads", NULL);
    cv_expect_error("{" CV_BASE ", \"head_dim\": 7}", "odd", NULL);
    cv_expect_error("{" CV_BASE ", \"hidden_act\": \"relu\"}", "hidden_act", "relu");
    cv_expect_error("{" CV_BASE ", \"sliding_window\": 32}", "sliding_window", NULL);
    cv_expect_error("{" CV_BASE ", \"rope_theta\": -5}", "rope_theta", NULL);
    cv_expect_error("{\"vocab_size\": 100, \"max_position_embeddings\": 64, \"hidden_size\": 30, "
                    "\"num_hidden_layers\": 2, \"intermediate_size\": 48, "
                    "\"num_attention_heads\": 4, \"rms_norm_eps\": 1e-6}",
                    "hidden_size", "num_attention_heads");
    cv_expect_error("{\"vocab_size\": 0}", "vocab_size", NULL);
    cv_expect_error("{" CV_BASE ", \"rope_scaling\": {\"type\": \"linear\"}}", "factor", NULL);
    cv_expect_error("{" CV_BASE ", \"rope_scaling\": {\"rope_type\": \"longrope\"}}", "longrope",
                    "llama3");
    cv_expect_error("{" CV_BASE ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2}}",
                    "original_max_position_embeddings", NULL);
    cv_expect_error("{" CV_BASE ", \"rope_scaling\": 3}", "rope_scaling", NULL);
}

Test(convert, hparams_sliding_window_as_long_as_the_context_is_accepted)
{
    wk_hf_config *c = cv_config("{" CV_BASE ", \"sliding_window\": 64, \"head_dim\": 16}");
    wk_llama_hparams hp;
    wk_err e;
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.head_dim, 16);
    cr_assert(hp.head_dim_given);
    wk_hf_config_free(c);
}

Test(convert, hparams_rope_scaling)
{
    wk_hf_config *c = cv_config("{" CV_BASE ", \"rope_scaling\": {\"rope_type\": \"yarn\", "
                                "\"factor\": 4, \"original_max_position_embeddings\": 16, "
                                "\"attn_factor\": 0.5, \"rope_theta\": 5000}}");
    wk_llama_hparams hp;
    wk_err e;
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.rope, WK_ROPE_YARN);
    cr_assert_float_eq(hp.rope_factor, 4.0f, 0);
    cr_assert_eq(hp.rope_orig_ctx, 16);
    cr_assert_float_eq(hp.yarn_attn_factor, 0.5f, 0);
    cr_assert(isnan(hp.yarn_beta_fast));
    cr_assert_float_eq(hp.rope_theta, 5000.0f, 0);
    wk_hf_config_free(c);

    c = cv_config("{" CV_BASE ", \"head_dim\": 64, \"rope_scaling\": {\"rope_type\": \"llama3\"}}");
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.rope, WK_ROPE_LLAMA3);
    cr_assert_float_eq(hp.rope_factor, 8.0f, 0); /* transformers' defaults */
    cr_assert_eq(hp.rope_orig_ctx, 8192);
    float f[32];
    wk_llama3_rope_factors(&hp, f);
    cr_assert_float_eq(f[0], 1.0f, 0);   /* short wavelengths unscaled */
    cr_assert_float_eq(f[31], 8.0f, 0);  /* long wavelengths scaled by factor */
    for (int i = 1; i < 32; i++)
        cr_assert(f[i] >= f[i - 1], "not monotone at %d", i);
    wk_hf_config_free(c);
}

static const wk_conv_tensor *cv_find(const wk_conv_plan *p, const char *gguf)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->t[i].gguf_name, gguf) == 0)
            return &p->t[i];
    return NULL;
}

Test(convert, llama_tensor_plan)
{
    wk_hf_config *c = cv_config("{" CV_BASE ", \"num_key_value_heads\": 2, "
                                "\"tie_word_embeddings\": true, \"attention_bias\": true}");
    wk_conv_plan p = {0};
    void *hp = NULL;
    wk_err e;
    cr_assert_eq(wk_arch_llama.plan(c, &hp, &p, &e), 0, "%s", e.msg);
    cr_assert_eq(p.n, 1 + 2 * (9 + 4) + 2);
    const wk_conv_tensor *q = cv_find(&p, "blk.1.attn_q.weight");
    const wk_conv_tensor *k = cv_find(&p, "blk.1.attn_k.weight");
    const wk_conv_tensor *kb = cv_find(&p, "blk.0.attn_k.bias");
    const wk_conv_tensor *out = cv_find(&p, "output.weight");
    cr_assert(q && k && kb && out);
    cr_assert_str_eq(q->hf_name, "model.layers.1.self_attn.q_proj.weight");
    cr_assert(q->shape[0] == 32 && q->shape[1] == 32 && q->unpermute_heads == 4);
    cr_assert(k->shape[0] == 16 && k->unpermute_heads == 2);
    cr_assert(kb->n_dims == 1 && kb->shape[0] == 16 && kb->unpermute_heads == 2);
    cr_assert(cv_find(&p, "blk.0.attn_v.weight")->unpermute_heads == 0);
    cr_assert_str_eq(cv_find(&p, "blk.0.ffn_down.weight")->hf_name,
                     "model.layers.0.mlp.down_proj.weight");
    cr_assert(cv_find(&p, "blk.0.ffn_down.weight")->shape[1] == 48);
    cr_assert(out->optional && out->drop);
    cr_assert(wk_arch_llama.ignored("model.layers.3.self_attn.rotary_emb.inv_freq"));
    cr_assert(!wk_arch_llama.ignored("model.norm.weight"));
    wk_conv_plan_free(&p);
    free(hp);
    wk_hf_config_free(c);
}

/* Deep models make the plan's array grow between the adds of one layer (found by
 * fuzz_hf_config): every q and k of every layer must still be marked for un-permutation. */
Test(convert, every_layer_qk_is_unpermuted_in_deep_models)
{
    static const char *const extra[] = {
        ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
        "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
        "\"original_max_position_embeddings\": 32}",
        ", \"attention_bias\": true",
    };
    for (size_t x = 0; x < 2; x++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 32, "
                 "\"max_position_embeddings\": 64, \"hidden_size\": 16, "
                 "\"num_hidden_layers\": 200, \"intermediate_size\": 16, "
                 "\"num_attention_heads\": 2, \"rms_norm_eps\": 1e-5%s}", extra[x]);
        wk_hf_config *c = cv_config(json);
        wk_conv_plan p = {0};
        void *hp = NULL;
        wk_err e;
        cr_assert_eq(wk_arch_llama.plan(c, &hp, &p, &e), 0, "%s", e.msg);
        size_t marked = 0;
        for (size_t j = 0; j < p.n; j++) {
            bool qk = strstr(p.t[j].gguf_name, "attn_q.") || strstr(p.t[j].gguf_name, "attn_k.");
            cr_assert_eq(p.t[j].unpermute_heads != 0, qk, "%s", p.t[j].gguf_name);
            marked += qk;
        }
        cr_assert_eq(marked, x == 0 ? 2 * 200 : 4 * 200);
        wk_conv_plan_free(&p);
        free(hp);
        wk_hf_config_free(c);
    }
}

Test(convert, unsupported_architecture_lists_the_supported)
{
    wk_hf_config *c = cv_config("{\"architectures\": [\"GPT2LMHeadModel\"]}");
    wk_err e;
    cr_assert_null(wk_arch_find(c, &e));
    cr_assert(strstr(e.msg, "GPT2LMHeadModel") && strstr(e.msg, "LlamaForCausalLM") &&
              strstr(e.msg, "MistralForCausalLM"), "%s", e.msg);
    wk_hf_config_free(c);
    c = cv_config("{}");
    cr_assert_null(wk_arch_find(c, &e));
    cr_assert(strstr(e.msg, "architectures"), "%s", e.msg);
    wk_hf_config_free(c);
}
