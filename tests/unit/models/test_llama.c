/* The llama family (models/llama.c, models/rope.c, models/arch.c): config.json ->
 * hyperparameters (defaults, contradictions, rope scaling), the expected tensor list, and the
 * registry's answer for unsupported architectures. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"

static wk_hf_config *cv_config(const char *json)
{
    wk_hf_config *c;
    wk_err e;
    cr_assert_eq(wk_hf_config_parse(json, "m/config.json", &c, &e), 0, "%s", e.msg);
    return c;
}

#define CV_BASE "\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 100, " \
    "\"max_position_embeddings\": 64, \"hidden_size\": 32, \"num_hidden_layers\": 2, " \
    "\"intermediate_size\": 48, \"num_attention_heads\": 4, \"rms_norm_eps\": 1e-6"

Test(llama, hparams_defaults)
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
    cr_assert_eq(hp.rope.type, WK_ROPE_NONE);
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

Test(llama, hparams_contradictions_are_errors)
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

Test(llama, hparams_sliding_window_as_long_as_the_context_is_accepted)
{
    wk_hf_config *c = cv_config("{" CV_BASE ", \"sliding_window\": 64, \"head_dim\": 16}");
    wk_llama_hparams hp;
    wk_err e;
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.head_dim, 16);
    cr_assert(hp.head_dim_given);
    wk_hf_config_free(c);
}

Test(llama, hparams_rope_scaling)
{
    wk_hf_config *c = cv_config("{" CV_BASE ", \"rope_scaling\": {\"rope_type\": \"yarn\", "
                                "\"factor\": 4, \"original_max_position_embeddings\": 16, "
                                "\"attn_factor\": 0.5, \"rope_theta\": 5000}}");
    wk_llama_hparams hp;
    wk_err e;
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.rope.type, WK_ROPE_YARN);
    cr_assert_float_eq(hp.rope.factor, 4.0f, 0);
    cr_assert_eq(hp.rope.orig_ctx, 16);
    cr_assert_float_eq(hp.rope.yarn_attn_factor, 0.5f, 0);
    cr_assert(isnan(hp.rope.yarn_beta_fast));
    cr_assert_float_eq(hp.rope_theta, 5000.0f, 0);
    wk_hf_config_free(c);

    c = cv_config("{" CV_BASE ", \"head_dim\": 64, \"rope_scaling\": {\"rope_type\": \"llama3\"}}");
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), 0, "%s", e.msg);
    cr_assert_eq(hp.rope.type, WK_ROPE_LLAMA3);
    cr_assert_float_eq(hp.rope.factor, 8.0f, 0); /* transformers' defaults */
    cr_assert_eq(hp.rope.orig_ctx, 8192);
    float f[32];
    wk_rope_llama3_factors(&hp.rope, hp.rope_theta, hp.head_dim, f);
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

Test(llama, llama_tensor_plan)
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
Test(llama, every_layer_qk_is_unpermuted_in_deep_models)
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

Test(llama, unsupported_architecture_lists_the_supported)
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

/* The message wk_llama_hparams_load gives for config.json text json (it must fail). */
static void cv_error(const char *json, char *msg, size_t len)
{
    wk_hf_config *c = cv_config(json);
    wk_llama_hparams hp;
    wk_err e = {{0}};
    cr_assert_eq(wk_llama_hparams_load(c, &hp, &e), -1, "accepted %s", json);
    wk_hf_config_free(c);
    snprintf(msg, len, "%s", e.msg);
}

/* Messages about rope_scaling name the key the config actually used: older configs write
 * "type", newer ones "rope_type". */
Test(llama, rope_type_message_names_the_key_written)
{
    char msg[WK_ERR_MAX];
    cv_error("{" CV_BASE ", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}", msg,
             sizeof msg);
    cr_expect(strstr(msg, "m/config.json: \"rope_scaling.type\" is \"dynamic\"") != NULL, "%s",
              msg);
    cv_error("{" CV_BASE ", \"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2}}", msg,
             sizeof msg);
    cr_expect(strstr(msg, "\"rope_scaling.rope_type\" is \"dynamic\"") != NULL, "%s", msg);
    cv_error("{" CV_BASE ", \"rope_scaling\": {\"type\": 5}}", msg, sizeof msg);
    cr_expect(strstr(msg, "key \"rope_scaling.type\" must be a string") != NULL, "%s", msg);
    cv_error("{" CV_BASE ", \"rope_parameters\": {\"rope_type\": 5}}", msg, sizeof msg);
    cr_expect(strstr(msg, "key \"rope_parameters.rope_type\" must be a string") != NULL, "%s",
              msg);
}
