/* GGUF architecture `llama` from Hugging Face Llama/Mistral checkpoints.
 *
 * Hyperparameters: every key llama.cpp's loader reads for `llama` (src/models/llama.cpp,
 * llama-model.cpp), written with the types gguf-py's GGUFWriter uses (u32 counts, f32
 * floats). Defaults are those of transformers' LlamaConfig (num_key_value_heads = heads,
 * head_dim = hidden / heads, rope_theta 10000, untied embeddings, no biases). RoPE scaling is
 * models/rope.c's. Contradictions (hidden not divisible by heads, heads not a multiple of kv
 * heads, odd head size, an activation other than SiLU, a real sliding window) are errors
 * naming the key. */
#include "models/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hparams.h"

#define ARCH "llama"

/* ---- hyperparameters ---- */

static int check_model_specifics(const wk_hf_config *c, const wk_llama_hparams *hp, wk_err *e)
{
    const char *act;
    int rc = wk_hf_get_str(c, "hidden_act", &act, e);
    if (rc < 0)
        return -1;
    if (rc == 0 && strcmp(act, "silu") != 0)
        return wk_fail(e, "%s: \"hidden_act\" is \"%s\"; architecture llama uses \"silu\"",
                       c->path, act);
    int64_t win;
    rc = wk_hf_get_int(c, "sliding_window", &win, e);
    if (rc < 0)
        return -1;
    if (rc == 0 && win < (int64_t)hp->n_ctx)
        return wk_fail(e, "%s: \"sliding_window\" is %lld, shorter than the context (%u); "
                       "sliding-window attention is not supported by architecture llama",
                       c->path, (long long)win, hp->n_ctx);
    return 0;
}

int wk_llama_hparams_load(const wk_hf_config *c, wk_llama_hparams *hp, wk_err *e)
{
    memset(hp, 0, sizeof *hp);
    double eps, theta;
    if (wk_hp_count(c, ARCH, "vocab_size", true, 0, &hp->n_vocab, e) ||
        wk_hp_count(c, ARCH, "max_position_embeddings", true, 0, &hp->n_ctx, e) ||
        wk_hp_count(c, ARCH, "hidden_size", true, 0, &hp->n_embd, e) ||
        wk_hp_count(c, ARCH, "num_hidden_layers", true, 0, &hp->n_layer, e) ||
        wk_hp_count(c, ARCH, "intermediate_size", true, 0, &hp->n_ff, e) ||
        wk_hp_count(c, ARCH, "num_attention_heads", true, 0, &hp->n_head, e) ||
        wk_hp_count(c, ARCH, "num_key_value_heads", false, hp->n_head, &hp->n_head_kv, e) ||
        wk_hp_positive(c, ARCH, "rms_norm_eps", true, 0, &eps, e) ||
        wk_hp_positive(c, ARCH, "rope_theta", false, 10000.0, &theta, e) ||
        wk_hp_flag(c, "tie_word_embeddings", &hp->tie_embeddings, e) ||
        wk_hp_flag(c, "attention_bias", &hp->attention_bias, e) ||
        wk_hp_flag(c, "mlp_bias", &hp->mlp_bias, e))
        return -1;
    hp->rms_eps = (float)eps;
    hp->rope_theta = (float)theta;
    int rc = wk_hp_count(c, ARCH, "head_dim", false, 0, &hp->head_dim, e);
    if (rc < 0)
        return -1;
    hp->head_dim_given = hp->head_dim != 0;
    if (!hp->head_dim_given) {
        if (hp->n_embd % hp->n_head != 0)
            return wk_fail(e, "%s: \"hidden_size\" (%u) is not divisible by "
                           "\"num_attention_heads\" (%u)", c->path, hp->n_embd, hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    if (hp->head_dim % 2 != 0)
        return wk_fail(e, "%s: the head size %u is odd; RoPE needs an even head size", c->path,
                       hp->head_dim);
    if (hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv != 0)
        return wk_fail(e, "%s: \"num_attention_heads\" (%u) is not a multiple of "
                       "\"num_key_value_heads\" (%u)", c->path, hp->n_head, hp->n_head_kv);
    if ((uint64_t)hp->n_head * hp->head_dim > WK_HP_MAX_DIM)
        return wk_fail(e, "%s: heads x head size is too large", c->path);
    if (check_model_specifics(c, hp, e))
        return -1;
    return wk_rope_scaling_load(c, ARCH, &hp->rope, &hp->rope_theta, e);
}

/* ---- GGUF keys ---- */

static int llama_write_kv(const void *hpv, wk_gguf_writer *w, wk_err *e)
{
    const wk_llama_hparams *hp = hpv;
    if (wk_gguf_set_u32(w, "llama.vocab_size", hp->n_vocab, e) ||
        wk_gguf_set_u32(w, "llama.context_length", hp->n_ctx, e) ||
        wk_gguf_set_u32(w, "llama.embedding_length", hp->n_embd, e) ||
        wk_gguf_set_u32(w, "llama.block_count", hp->n_layer, e) ||
        wk_gguf_set_u32(w, "llama.feed_forward_length", hp->n_ff, e) ||
        wk_gguf_set_u32(w, "llama.attention.head_count", hp->n_head, e) ||
        wk_gguf_set_u32(w, "llama.attention.head_count_kv", hp->n_head_kv, e) ||
        wk_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->rms_eps, e) ||
        wk_gguf_set_f32(w, "llama.rope.freq_base", hp->rope_theta, e) ||
        wk_gguf_set_u32(w, "llama.rope.dimension_count", hp->head_dim, e))
        return -1;
    if (hp->head_dim_given &&
        (wk_gguf_set_u32(w, "llama.attention.key_length", hp->head_dim, e) ||
         wk_gguf_set_u32(w, "llama.attention.value_length", hp->head_dim, e)))
        return -1;
    return wk_rope_scaling_write(&hp->rope, ARCH, w, e);
}

/* ---- tensors ---- */

/* Adds one tensor of layer i (or a model-wide one); q and k, which HF stores permuted for
 * rotate-half RoPE, get the head count to undo that with. The flag is set at once: a later
 * add may move the plan's array. */
static bool add(wk_conv_plan *p, wk_role r, uint32_t i, const char *suffix, uint32_t n_dims,
                uint64_t d0, uint64_t d1, uint32_t unpermute_heads, wk_err *e)
{
    wk_conv_tensor *t = wk_arch_plan_add(&wk_arch_llama, p, r, (int)i, suffix, n_dims, d0, d1, e);
    if (t)
        t->unpermute_heads = unpermute_heads;
    return t != NULL;
}

static int plan_layer(const wk_llama_hparams *hp, uint32_t i, wk_conv_plan *p, wk_err *e)
{
    uint64_t d = hp->n_embd, ff = hp->n_ff;
    uint64_t nq = (uint64_t)hp->n_head * hp->head_dim, nkv = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint32_t hq = hp->n_head, hk = hp->n_head_kv;
    if (!add(p, WK_ROLE_ATTN_NORM, i, "weight", 1, d, 0, 0, e) ||
        !add(p, WK_ROLE_ATTN_Q, i, "weight", 2, nq, d, hq, e) ||
        !add(p, WK_ROLE_ATTN_K, i, "weight", 2, nkv, d, hk, e) ||
        !add(p, WK_ROLE_ATTN_V, i, "weight", 2, nkv, d, 0, e) ||
        !add(p, WK_ROLE_ATTN_OUT, i, "weight", 2, d, nq, 0, e))
        return -1;
    if (hp->attention_bias &&
        (!add(p, WK_ROLE_ATTN_Q, i, "bias", 1, nq, 0, hq, e) ||
         !add(p, WK_ROLE_ATTN_K, i, "bias", 1, nkv, 0, hk, e) ||
         !add(p, WK_ROLE_ATTN_V, i, "bias", 1, nkv, 0, 0, e) ||
         !add(p, WK_ROLE_ATTN_OUT, i, "bias", 1, d, 0, 0, e)))
        return -1;
    if (!add(p, WK_ROLE_FFN_NORM, i, "weight", 1, d, 0, 0, e) ||
        !add(p, WK_ROLE_FFN_GATE, i, "weight", 2, ff, d, 0, e) ||
        !add(p, WK_ROLE_FFN_UP, i, "weight", 2, ff, d, 0, e) ||
        !add(p, WK_ROLE_FFN_DOWN, i, "weight", 2, d, ff, 0, e))
        return -1;
    if (hp->mlp_bias &&
        (!add(p, WK_ROLE_FFN_GATE, i, "bias", 1, ff, 0, 0, e) ||
         !add(p, WK_ROLE_FFN_UP, i, "bias", 1, ff, 0, 0, e) ||
         !add(p, WK_ROLE_FFN_DOWN, i, "bias", 1, d, 0, 0, e)))
        return -1;
    return 0;
}

static int llama_plan(const wk_hf_config *c, void **hpv, wk_conv_plan *p, wk_err *e)
{
    wk_llama_hparams *hp = calloc(1, sizeof *hp);
    if (!hp)
        return wk_fail(e, "out of memory");
    *hpv = hp;
    if (wk_llama_hparams_load(c, hp, e))
        return -1;
    if (hp->rope.type == WK_ROPE_LLAMA3) { /* generated, not in the checkpoint */
        char name[WK_GGUF_MAX_NAME];
        wk_role_gguf_name(WK_ROLE_ROPE_FREQS, -1, "weight", name, sizeof name);
        wk_conv_tensor *t = wk_conv_plan_add(p, "", name, 1, hp->head_dim / 2, 0, e);
        if (!t)
            return -1;
        t->role = WK_ROLE_ROPE_FREQS;
        if (!(t->values = malloc(sizeof(float) * (hp->head_dim / 2))))
            return wk_fail(e, "out of memory");
        wk_rope_llama3_factors(&hp->rope, hp->rope_theta, hp->head_dim, t->values);
    }
    if (!add(p, WK_ROLE_TOKEN_EMBD, 0, "weight", 2, hp->n_vocab, hp->n_embd, 0, e))
        return -1;
    for (uint32_t i = 0; i < hp->n_layer; i++)
        if (plan_layer(hp, i, p, e))
            return -1;
    wk_conv_tensor *out;
    if (!add(p, WK_ROLE_OUTPUT_NORM, 0, "weight", 1, hp->n_embd, 0, 0, e) ||
        !(out = wk_arch_plan_add(&wk_arch_llama, p, WK_ROLE_OUTPUT, 0, "weight", 2,
                                 hp->n_vocab, hp->n_embd, e)))
        return -1;
    out->optional = true;
    out->drop = hp->tie_embeddings;
    snprintf(out->same_as, sizeof out->same_as, "%s.weight",
             wk_arch_llama.hf_names[WK_ROLE_TOKEN_EMBD]);
    return 0;
}

static bool llama_ignored(const char *name)
{
    const char *suffix = ".rotary_emb.inv_freq";
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

static void llama_shape(const void *hpv, wk_model_shape *out)
{
    const wk_llama_hparams *hp = hpv;
    *out = (wk_model_shape){hp->n_layer, hp->n_head, hp->n_head_kv};
}

static const char *const llama_hf_archs[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};

const wk_arch wk_arch_llama = {
    .name = ARCH,
    .hf_archs = llama_hf_archs,
    .hf_names = {
        [WK_ROLE_TOKEN_EMBD] = "model.embed_tokens",
        [WK_ROLE_OUTPUT_NORM] = "model.norm",
        [WK_ROLE_OUTPUT] = "lm_head",
        [WK_ROLE_ATTN_NORM] = "input_layernorm",
        [WK_ROLE_ATTN_Q] = "self_attn.q_proj",
        [WK_ROLE_ATTN_K] = "self_attn.k_proj",
        [WK_ROLE_ATTN_V] = "self_attn.v_proj",
        [WK_ROLE_ATTN_OUT] = "self_attn.o_proj",
        [WK_ROLE_FFN_NORM] = "post_attention_layernorm",
        [WK_ROLE_FFN_GATE] = "mlp.gate_proj",
        [WK_ROLE_FFN_UP] = "mlp.up_proj",
        [WK_ROLE_FFN_DOWN] = "mlp.down_proj",
    },
    .hf_layer_prefix = "model.layers.",
    .plan = llama_plan,
    .write_kv = llama_write_kv,
    .ignored = llama_ignored,
    .shape = llama_shape,
    .load = wk_llama_load,
    .unload = wk_llama_unload,
    .state_new = wk_llama_state_new,
    .state_free = wk_llama_state_free,
    .forward = wk_llama_forward,
    .embed = wk_llama_embed,
    .layer = wk_llama_layer,
    .set_weight = wk_llama_set_weight,
#ifdef WK_CUDA
    .cuda = &wk_llama_cuda,
#endif
};
