/* Tensor name -> (layer, category) for every naming family wk-inspect meets. */
#include <criterion/criterion.h>

#include "models/tensor_names.h"

typedef struct {
    const char *name;
    wk_category cat;
    int layer;
} name_case;

#define E WK_CAT_EMBEDDING
#define A WK_CAT_ATTENTION
#define F WK_CAT_FEEDFORWARD
#define N WK_CAT_NORM
#define B WK_CAT_BIAS
#define O WK_CAT_OUTPUT
#define X WK_CAT_OTHER

static const name_case tn_cases[] = {
    /* Llama / Mistral / Qwen2 / Gemma (Hugging Face) */
    {"model.embed_tokens.weight", E, -1},
    {"model.layers.0.self_attn.q_proj.weight", A, 0},
    {"model.layers.7.self_attn.k_proj.weight", A, 7},
    {"model.layers.12.self_attn.v_proj.weight", A, 12},
    {"model.layers.31.self_attn.o_proj.weight", A, 31},
    {"model.layers.3.mlp.gate_proj.weight", F, 3},
    {"model.layers.3.mlp.up_proj.weight", F, 3},
    {"model.layers.3.mlp.down_proj.weight", F, 3},
    {"model.layers.4.input_layernorm.weight", N, 4},
    {"model.layers.4.post_attention_layernorm.weight", N, 4},
    {"model.layers.5.pre_feedforward_layernorm.weight", N, 5},  /* Gemma 2 */
    {"model.layers.5.post_feedforward_layernorm.weight", N, 5}, /* Gemma 2 */
    {"model.layers.6.self_attn.q_norm.weight", N, 6},           /* Qwen3 */
    {"model.norm.weight", N, -1},
    {"lm_head.weight", O, -1},
    {"model.layers.2.self_attn.rotary_emb.inv_freq", X, 2},
    /* Qwen2 attention biases */
    {"model.layers.9.self_attn.q_proj.bias", B, 9},
    {"model.layers.9.self_attn.k_proj.bias", B, 9},
    {"model.layers.9.self_attn.v_proj.bias", B, 9},
    /* Mixtral */
    {"model.layers.1.block_sparse_moe.gate.weight", F, 1},
    {"model.layers.1.block_sparse_moe.experts.0.w1.weight", F, 1},
    {"model.layers.1.block_sparse_moe.experts.7.w2.weight", F, 1},
    {"model.layers.11.block_sparse_moe.experts.3.w3.weight", F, 11},
    /* GPT-2, with and without the transformer. prefix */
    {"transformer.wte.weight", E, -1},
    {"transformer.wpe.weight", E, -1},
    {"wte.weight", E, -1},
    {"wpe.weight", E, -1},
    {"transformer.h.0.attn.c_attn.weight", A, 0},
    {"transformer.h.0.attn.c_attn.bias", B, 0},
    {"transformer.h.10.attn.c_proj.weight", A, 10},
    {"transformer.h.10.attn.c_proj.bias", B, 10},
    {"transformer.h.2.mlp.c_fc.weight", F, 2},
    {"transformer.h.2.mlp.c_fc.bias", B, 2},
    {"transformer.h.2.mlp.c_proj.weight", F, 2},
    {"h.3.mlp.c_proj.weight", F, 3},
    {"transformer.h.1.ln_1.weight", N, 1},
    {"transformer.h.1.ln_1.bias", B, 1},
    {"transformer.h.1.ln_2.weight", N, 1},
    {"h.11.ln_2.weight", N, 11},
    {"transformer.ln_f.weight", N, -1},
    {"transformer.ln_f.bias", B, -1},
    {"h.0.attn.bias", B, 0},
    /* GGUF */
    {"token_embd.weight", E, -1},
    {"position_embd.weight", E, -1},
    {"blk.0.attn_q.weight", A, 0},
    {"blk.0.attn_k.weight", A, 0},
    {"blk.0.attn_v.weight", A, 0},
    {"blk.15.attn_output.weight", A, 15},
    {"blk.15.attn_qkv.weight", A, 15},
    {"blk.2.attn_norm.weight", N, 2},
    {"blk.2.attn_q_norm.weight", N, 2},
    {"blk.2.ffn_norm.weight", N, 2},
    {"blk.2.ffn_gate.weight", F, 2},
    {"blk.2.ffn_up.weight", F, 2},
    {"blk.2.ffn_down.weight", F, 2},
    {"blk.2.ffn_gate_exps.weight", F, 2},
    {"blk.2.ffn_up_exps.weight", F, 2},
    {"blk.2.ffn_down_exps.weight", F, 2},
    {"blk.2.ffn_gate_inp.weight", F, 2},
    {"blk.4.attn_q.bias", B, 4},
    {"output_norm.weight", N, -1},
    {"output.weight", O, -1},
    {"rope_freqs.weight", X, -1},
    /* odd and hostile names */
    {"", X, -1},
    {".", X, -1},
    {"weight", X, -1},
    {"bias", X, -1},
    {".bias", B, -1},
    {"blk.99999999999999999999.attn_q.weight", A, -1},
    {"blk.x.attn_q.weight", A, -1},
    {"layers.", X, -1},
    {"model.layers..self_attn.q_proj.weight", A, -1},
    {"model.layers.1.2.mlp.up_proj.weight", F, 1},
    {"encoder.experts.5.w1.weight", F, -1},
    {"some.random.tensor", X, -1},
};

Test(tensor_names, every_family)
{
    for (size_t i = 0; i < sizeof tn_cases / sizeof tn_cases[0]; i++) {
        const name_case *c = &tn_cases[i];
        int layer = 1234;
        wk_category got = wk_tensor_category(c->name, &layer);
        cr_expect_eq(got, c->cat, "'%s': category %s, expected %s", c->name,
                     wk_category_name(got), wk_category_name(c->cat));
        cr_expect_eq(layer, c->layer, "'%s': layer %d, expected %d", c->name, layer, c->layer);
    }
}

Test(tensor_names, layer_pointer_may_be_null)
{
    cr_expect_eq(wk_tensor_category("blk.3.ffn_up.weight", NULL), WK_CAT_FEEDFORWARD);
}

Test(tensor_names, long_segments_never_match)
{
    char name[300];
    memset(name, 'a', sizeof name);
    memcpy(name, "blk.1.", 6);
    memcpy(name + sizeof name - 8, "attn_q\0", 7);
    int layer;
    cr_expect_eq(wk_tensor_category(name, &layer), WK_CAT_OTHER);
    cr_expect_eq(layer, 1);
}

Test(tensor_names, category_names)
{
    static const char *const want[WK_CAT_COUNT] = {"embedding", "attention", "feedforward",
                                                   "norm", "bias", "output", "other"};
    for (int c = 0; c < WK_CAT_COUNT; c++)
        cr_expect_str_eq(wk_category_name((wk_category)c), want[c]);
    cr_expect_str_eq(wk_category_name(WK_CAT_COUNT), "other");
}

static void tn_expect_other(const char *name, const char *want)
{
    char out[256];
    int rc = wk_tensor_name_other(name, out, sizeof out);
    if (!want) {
        cr_expect_eq(rc, -1, "%s translated to %s", name, out);
        cr_expect_str_empty(out);
        return;
    }
    cr_assert_eq(rc, 0, "%s not translated", name);
    cr_expect_str_eq(out, want);
}

Test(tensor_names, translation_between_hf_and_gguf_names)
{
    tn_expect_other("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight");
    tn_expect_other("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight");
    tn_expect_other("token_embd.weight", "model.embed_tokens.weight");
    tn_expect_other("lm_head.weight", "output.weight");
    tn_expect_other("model.norm.weight", "output_norm.weight");
    tn_expect_other("blk.31.ffn_down.bias", "model.layers.31.mlp.down_proj.bias");
    tn_expect_other("model.layers.2.post_attention_layernorm.weight", "blk.2.ffn_norm.weight");
    tn_expect_other("transformer.h.0.attn.c_attn.weight", NULL);
    tn_expect_other("blk.x.attn_q.weight", NULL);
    tn_expect_other("blk.1.attn_q", NULL);            /* no suffix */
    tn_expect_other("model.layers.1.self_attn.q_proj.", NULL);
    tn_expect_other("rope_freqs.weight", NULL);       /* generated: no HF name */
    tn_expect_other("attn_q.weight", NULL);           /* a per-layer role without a layer */
    tn_expect_other("blk.0.output.weight", NULL);     /* a model-wide role inside a layer */
}

/* Every role the llama family names: both spellings translate into each other and agree on
 * the category and the layer. */
Test(tensor_names, every_role_round_trips_with_one_category)
{
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        if (r == WK_ROLE_ROPE_FREQS)
            continue;
        for (int s = 0; s < 2; s++) {
            const char *suffix = s ? "bias" : "weight";
            char gguf[128], hf[256], back[128];
            wk_role_gguf_name((wk_role)r, 5, suffix, gguf, sizeof gguf);
            cr_assert_eq(wk_tensor_name_other(gguf, hf, sizeof hf), 0, "%s", gguf);
            cr_assert_eq(wk_tensor_name_other(hf, back, sizeof back), 0, "%s", hf);
            cr_expect_str_eq(back, gguf);
            int lg, lh;
            wk_category cg = wk_tensor_category(gguf, &lg), ch = wk_tensor_category(hf, &lh);
            cr_expect_eq(cg, ch, "%s is %s but %s is %s", gguf, wk_category_name(cg), hf,
                         wk_category_name(ch));
            cr_expect_eq(lg, lh, "%s", gguf);
            cr_expect_eq(lg, wk_role_get((wk_role)r)->per_layer ? 5 : -1, "%s", gguf);
            cr_expect_eq(cg, s ? WK_CAT_BIAS : wk_role_get((wk_role)r)->category, "%s", gguf);
        }
    }
}
