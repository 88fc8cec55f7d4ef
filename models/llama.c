/* GGUF architecture `llama` from Hugging Face Llama/Mistral checkpoints.
 *
 * Hyperparameters: every key llama.cpp's loader reads for `llama` (src/models/llama.cpp,
 * llama-model.cpp), written with the types gguf-py's GGUFWriter uses (u32 counts, f32
 * floats). Defaults are those of transformers' LlamaConfig (num_key_value_heads = heads,
 * head_dim = hidden / heads, rope_theta 10000, untied embeddings, no biases). RoPE scaling
 * follows convert_hf_to_gguf.py: linear and yarn become rope.scaling.* keys; llama3 becomes a
 * rope_freqs.weight tensor of per-frequency factors (LlamaModel.generate_extra_tensors).
 * Contradictions (hidden not divisible by heads, heads not a multiple of kv heads, odd head
 * size, an activation other than SiLU, a real sliding window) are errors naming the key. */
#include "models/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_DIM 2147483647

/* An absent key: an error when required, else the caller takes its default (returns 0). */
static int absent(const wk_hf_config *c, const char *key, bool required, wk_err *e)
{
    return required ? wk_fail(e, "%s: missing key \"%s\" (needed for architecture llama)",
                              c->path, key)
                    : 0;
}

static int get_count(const wk_hf_config *c, const char *key, bool required, uint32_t dflt,
                     uint32_t *out, wk_err *e)
{
    int64_t v;
    int rc = wk_hf_get_int(c, key, &v, e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *out = dflt;
        return absent(c, key, required, e);
    }
    if (v < 1 || v > MAX_DIM)
        return wk_fail(e, "%s: key \"%s\" is %lld; expected 1 to %d", c->path, key,
                       (long long)v, MAX_DIM);
    *out = (uint32_t)v;
    return 0;
}

static int get_positive(const wk_hf_config *c, const char *key, bool required, double dflt,
                        float *out, wk_err *e)
{
    double v;
    int rc = wk_hf_get_float(c, key, &v, e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (absent(c, key, required, e) != 0)
            return -1;
        v = dflt;
    }
    if (!(v > 0) || v > 3.4e38)
        return wk_fail(e, "%s: key \"%s\" must be a positive number", c->path, key);
    *out = (float)v;
    return 0;
}

static int get_flag(const wk_hf_config *c, const char *key, bool *out, wk_err *e)
{
    *out = false;
    return wk_hf_get_bool(c, key, out, e) < 0 ? -1 : 0;
}

/* A number inside the rope_scaling object: 0 found, 1 absent/null, -1 wrong type. */
static int rope_num(const wk_hf_config *c, const cJSON *rs, const char *obj, const char *key,
                    double *out, wk_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rs, key);
    if (!v || cJSON_IsNull(v))
        return 1;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return wk_fail(e, "%s: key \"%s.%s\" must be a finite number", c->path, obj, key);
    *out = v->valuedouble;
    return 0;
}

static int rope_positive(const wk_hf_config *c, const cJSON *rs, const char *obj,
                         const char *key, bool required, double dflt, double *out, wk_err *e)
{
    int rc = rope_num(c, rs, obj, key, out, e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (required)
            return wk_fail(e, "%s: key \"%s.%s\" is missing (needed for this rope type)",
                           c->path, obj, key);
        *out = dflt;
    }
    if (!(*out > 0) || *out > 3.4e38)
        return wk_fail(e, "%s: key \"%s.%s\" must be a positive number", c->path, obj, key);
    return 0;
}

/* Optional yarn float: NaN when absent. */
static int rope_opt(const wk_hf_config *c, const cJSON *rs, const char *obj, const char *key,
                    float *out, wk_err *e)
{
    double v = 0;
    int rc = rope_num(c, rs, obj, key, &v, e);
    if (rc < 0)
        return -1;
    *out = rc == 1 ? NAN : (float)v;
    return 0;
}

static int load_rope_scaling(const wk_hf_config *c, wk_llama_hparams *hp, wk_err *e)
{
    const char *obj = "rope_parameters";
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->json, obj);
    if (!rs || cJSON_IsNull(rs)) {
        obj = "rope_scaling";
        rs = cJSON_GetObjectItemCaseSensitive(c->json, obj);
    }
    hp->rope = WK_ROPE_NONE;
    if (!rs || cJSON_IsNull(rs))
        return 0;
    if (!cJSON_IsObject(rs))
        return wk_fail(e, "%s: key \"%s\" must be an object or null", c->path, obj);
    double theta;
    int rc = rope_num(c, rs, obj, "rope_theta", &theta, e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (!(theta > 0) || theta > 3.4e38)
            return wk_fail(e, "%s: key \"%s.rope_theta\" must be a positive number", c->path,
                           obj);
        hp->rope_theta = (float)theta;
    }
    const char *ty_key = "rope_type"; /* older configs say "type": name what was written */
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, ty_key);
    if (!ty || cJSON_IsNull(ty)) {
        ty_key = "type";
        ty = cJSON_GetObjectItemCaseSensitive(rs, ty_key);
    }
    if (!ty || cJSON_IsNull(ty))
        return 0;
    if (!cJSON_IsString(ty))
        return wk_fail(e, "%s: key \"%s.%s\" must be a string", c->path, obj, ty_key);
    const char *t = ty->valuestring;
    double factor, orig, lo, hi;
    if (strcmp(t, "default") == 0)
        return 0;
    if (strcmp(t, "linear") == 0) {
        if (rope_positive(c, rs, obj, "factor", true, 0, &factor, e))
            return -1;
        hp->rope = WK_ROPE_LINEAR;
        hp->rope_factor = (float)factor;
        return 0;
    }
    int64_t top_orig;
    double dflt_orig = 8192;
    rc = wk_hf_get_int(c, "original_max_position_embeddings", &top_orig, e);
    if (rc < 0)
        return -1;
    if (rc == 0)
        dflt_orig = (double)top_orig;
    if (strcmp(t, "yarn") == 0) {
        if (rope_positive(c, rs, obj, "factor", true, 0, &factor, e) ||
            rope_positive(c, rs, obj, "original_max_position_embeddings", rc == 1, dflt_orig,
                          &orig, e) ||
            rope_opt(c, rs, obj, "extrapolation_factor", &hp->yarn_ext_factor, e) ||
            rope_opt(c, rs, obj, "beta_fast", &hp->yarn_beta_fast, e) ||
            rope_opt(c, rs, obj, "beta_slow", &hp->yarn_beta_slow, e))
            return -1;
        if (rope_opt(c, rs, obj, "attention_factor", &hp->yarn_attn_factor, e))
            return -1;
        if (isnan(hp->yarn_attn_factor) &&
            rope_opt(c, rs, obj, "attn_factor", &hp->yarn_attn_factor, e))
            return -1;
        hp->rope = WK_ROPE_YARN;
    } else if (strcmp(t, "llama3") == 0) {
        if (rope_positive(c, rs, obj, "factor", false, 8.0, &factor, e) ||
            rope_positive(c, rs, obj, "original_max_position_embeddings", false, dflt_orig,
                          &orig, e) ||
            rope_positive(c, rs, obj, "low_freq_factor", false, 1.0, &lo, e) ||
            rope_positive(c, rs, obj, "high_freq_factor", false, 4.0, &hi, e))
            return -1;
        if (lo == hi)
            return wk_fail(e, "%s: \"%s.low_freq_factor\" equals \"high_freq_factor\"", c->path,
                           obj);
        hp->rope = WK_ROPE_LLAMA3;
        hp->llama3_low_freq = (float)lo;
        hp->llama3_high_freq = (float)hi;
    } else {
        return wk_fail(e, "%s: \"%s.%s\" is \"%s\"; architecture llama supports "
                       "default, linear, yarn and llama3", c->path, obj, ty_key, t);
    }
    if (orig > MAX_DIM || orig != floor(orig))
        return wk_fail(e, "%s: \"%s.original_max_position_embeddings\" must be an integer",
                       c->path, obj);
    hp->rope_factor = (float)factor;
    hp->rope_orig_ctx = (uint32_t)orig;
    return 0;
}

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
    if (get_count(c, "vocab_size", true, 0, &hp->n_vocab, e) ||
        get_count(c, "max_position_embeddings", true, 0, &hp->n_ctx, e) ||
        get_count(c, "hidden_size", true, 0, &hp->n_embd, e) ||
        get_count(c, "num_hidden_layers", true, 0, &hp->n_layer, e) ||
        get_count(c, "intermediate_size", true, 0, &hp->n_ff, e) ||
        get_count(c, "num_attention_heads", true, 0, &hp->n_head, e) ||
        get_count(c, "num_key_value_heads", false, hp->n_head, &hp->n_head_kv, e) ||
        get_positive(c, "rms_norm_eps", true, 0, &hp->rms_eps, e) ||
        get_positive(c, "rope_theta", false, 10000.0, &hp->rope_theta, e) ||
        get_flag(c, "tie_word_embeddings", &hp->tie_embeddings, e) ||
        get_flag(c, "attention_bias", &hp->attention_bias, e) ||
        get_flag(c, "mlp_bias", &hp->mlp_bias, e))
        return -1;
    int64_t hd;
    int rc = wk_hf_get_int(c, "head_dim", &hd, e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (hd < 1 || hd > MAX_DIM)
            return wk_fail(e, "%s: key \"head_dim\" is %lld; expected 1 to %d", c->path,
                           (long long)hd, MAX_DIM);
        hp->head_dim = (uint32_t)hd;
        hp->head_dim_given = true;
    } else {
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
    if ((uint64_t)hp->n_head * hp->head_dim > MAX_DIM)
        return wk_fail(e, "%s: heads x head size is too large", c->path);
    if (check_model_specifics(c, hp, e))
        return -1;
    return load_rope_scaling(c, hp, e);
}

void wk_llama3_rope_factors(const wk_llama_hparams *hp, float *out)
{
    const double two_pi = 6.283185307179586;
    double base = hp->rope_theta, dim = hp->head_dim, factor = hp->rope_factor;
    double lo = hp->llama3_low_freq, hi = hp->llama3_high_freq, old = hp->rope_orig_ctx;
    double lo_wavelen = old / lo, hi_wavelen = old / hi;
    for (uint32_t i = 0; i < hp->head_dim / 2; i++) {
        double freq = 1.0 / pow(base, (2.0 * i) / dim);
        double wavelen = two_pi / freq;
        if (wavelen < hi_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > lo_wavelen) {
            out[i] = (float)factor;
        } else {
            double smooth = (old / wavelen - lo) / (hi - lo);
            out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
}

static int set_opt_f32(wk_gguf_writer *w, const char *key, float v, wk_err *e)
{
    return isnan(v) ? 0 : wk_gguf_set_f32(w, key, v, e);
}

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
    if (hp->rope == WK_ROPE_LINEAR || hp->rope == WK_ROPE_YARN) {
        if (wk_gguf_set_str(w, "llama.rope.scaling.type",
                            hp->rope == WK_ROPE_LINEAR ? "linear" : "yarn", e) ||
            wk_gguf_set_f32(w, "llama.rope.scaling.factor", hp->rope_factor, e))
            return -1;
    }
    if (hp->rope == WK_ROPE_YARN &&
        (wk_gguf_set_u32(w, "llama.rope.scaling.original_context_length", hp->rope_orig_ctx, e) ||
         set_opt_f32(w, "llama.rope.scaling.yarn_ext_factor", hp->yarn_ext_factor, e) ||
         set_opt_f32(w, "llama.rope.scaling.yarn_attn_factor", hp->yarn_attn_factor, e) ||
         set_opt_f32(w, "llama.rope.scaling.yarn_beta_fast", hp->yarn_beta_fast, e) ||
         set_opt_f32(w, "llama.rope.scaling.yarn_beta_slow", hp->yarn_beta_slow, e)))
        return -1;
    return 0;
}

/* Adds "model.layers.<i>.<hf>" -> "blk.<i>.<gguf>". */
static wk_conv_tensor *add_layer(wk_conv_plan *p, uint32_t i, const char *hf, const char *gguf,
                                 uint32_t n_dims, uint64_t d0, uint64_t d1, wk_err *e)
{
    char hn[WK_CONV_HF_NAME], gn[WK_GGUF_MAX_NAME];
    snprintf(hn, sizeof hn, "model.layers.%u.%s", i, hf);
    snprintf(gn, sizeof gn, "blk.%u.%s", i, gguf);
    return wk_conv_plan_add(p, hn, gn, n_dims, d0, d1, e);
}

/* Adds a q or k tensor, which HF stores permuted for rotate-half RoPE: the converter undoes
 * that per head. The flag is set at once: a later add may move the plan's array. */
static bool add_roped(wk_conv_plan *p, uint32_t i, const char *hf, const char *gguf,
                      uint32_t n_dims, uint64_t d0, uint64_t d1, uint32_t heads, wk_err *e)
{
    wk_conv_tensor *t = add_layer(p, i, hf, gguf, n_dims, d0, d1, e);
    if (t)
        t->unpermute_heads = heads;
    return t != NULL;
}

static int plan_layer(const wk_llama_hparams *hp, uint32_t i, wk_conv_plan *p, wk_err *e)
{
    uint64_t d = hp->n_embd, ff = hp->n_ff;
    uint64_t nq = (uint64_t)hp->n_head * hp->head_dim, nkv = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint32_t hq = hp->n_head, hk = hp->n_head_kv;
    if (!add_layer(p, i, "input_layernorm.weight", "attn_norm.weight", 1, d, 0, e) ||
        !add_roped(p, i, "self_attn.q_proj.weight", "attn_q.weight", 2, nq, d, hq, e) ||
        !add_roped(p, i, "self_attn.k_proj.weight", "attn_k.weight", 2, nkv, d, hk, e) ||
        !add_layer(p, i, "self_attn.v_proj.weight", "attn_v.weight", 2, nkv, d, e) ||
        !add_layer(p, i, "self_attn.o_proj.weight", "attn_output.weight", 2, d, nq, e))
        return -1;
    if (hp->attention_bias &&
        (!add_roped(p, i, "self_attn.q_proj.bias", "attn_q.bias", 1, nq, 0, hq, e) ||
         !add_roped(p, i, "self_attn.k_proj.bias", "attn_k.bias", 1, nkv, 0, hk, e) ||
         !add_layer(p, i, "self_attn.v_proj.bias", "attn_v.bias", 1, nkv, 0, e) ||
         !add_layer(p, i, "self_attn.o_proj.bias", "attn_output.bias", 1, d, 0, e)))
        return -1;
    if (!add_layer(p, i, "post_attention_layernorm.weight", "ffn_norm.weight", 1, d, 0, e) ||
        !add_layer(p, i, "mlp.gate_proj.weight", "ffn_gate.weight", 2, ff, d, e) ||
        !add_layer(p, i, "mlp.up_proj.weight", "ffn_up.weight", 2, ff, d, e) ||
        !add_layer(p, i, "mlp.down_proj.weight", "ffn_down.weight", 2, d, ff, e))
        return -1;
    if (hp->mlp_bias &&
        (!add_layer(p, i, "mlp.gate_proj.bias", "ffn_gate.bias", 1, ff, 0, e) ||
         !add_layer(p, i, "mlp.up_proj.bias", "ffn_up.bias", 1, ff, 0, e) ||
         !add_layer(p, i, "mlp.down_proj.bias", "ffn_down.bias", 1, d, 0, e)))
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
    if (hp->rope == WK_ROPE_LLAMA3) {
        wk_conv_tensor *t = wk_conv_plan_add(p, "", "rope_freqs.weight", 1, hp->head_dim / 2, 0, e);
        if (!t)
            return -1;
        t->values = malloc(sizeof(float) * (hp->head_dim / 2));
        if (!t->values)
            return wk_fail(e, "out of memory");
        wk_llama3_rope_factors(hp, t->values);
    }
    if (!wk_conv_plan_add(p, "model.embed_tokens.weight", "token_embd.weight", 2, hp->n_vocab,
                          hp->n_embd, e))
        return -1;
    for (uint32_t i = 0; i < hp->n_layer; i++)
        if (plan_layer(hp, i, p, e))
            return -1;
    wk_conv_tensor *out;
    if (!wk_conv_plan_add(p, "model.norm.weight", "output_norm.weight", 1, hp->n_embd, 0, e) ||
        !(out = wk_conv_plan_add(p, "lm_head.weight", "output.weight", 2, hp->n_vocab,
                                 hp->n_embd, e)))
        return -1;
    out->optional = true;
    out->drop = hp->tie_embeddings;
    snprintf(out->same_as, sizeof out->same_as, "model.embed_tokens.weight");
    return 0;
}

static bool llama_ignored(const char *name)
{
    const char *suffix = ".rotary_emb.inv_freq";
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

static const char *const llama_hf_archs[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};

const wk_arch wk_arch_llama = {
    .name = "llama",
    .hf_archs = llama_hf_archs,
    .plan = llama_plan,
    .write_kv = llama_write_kv,
    .ignored = llama_ignored,
};
