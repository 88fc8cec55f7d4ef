/* The recipe table (see recipe.h). Rules transcribe llama.cpp's llama_tensor_get_type_impl
 * for dense models that are not Falcon: the layer conditions there count attn_v and
 * ffn_down tensors in file order, which for dense models is the layer number. */
#include "quant/recipe.h"

#include <strings.h>

#define R(target, when, arg, type) {WK_RT_##target, WK_WHEN_##when, arg, WK_##type}

static const wk_recipe Q4_0 = {"Q4_0", WK_Q4_0, WK_Q6_K,
                               {R(FFN_DOWN, IMATRIX_FIRST_EIGHTH, 0, Q4_1)}, 1,
                               "4.5 bits per weight, round to nearest; ffn_down of the first "
                               "eighth Q4_1 with an imatrix"};
static const wk_recipe Q4_1 = {"Q4_1", WK_Q4_1, WK_Q6_K, {{0}}, 0,
                               "5.0 bits per weight with a minimum per block"};
static const wk_recipe Q5_0 = {"Q5_0", WK_Q5_0, WK_Q6_K,
                               {R(FFN_DOWN, IMATRIX_FIRST_EIGHTH, 0, Q5_1)}, 1,
                               "5.5 bits per weight, round to nearest"};
static const wk_recipe Q5_1 = {"Q5_1", WK_Q5_1, WK_Q6_K, {{0}}, 0,
                               "6.0 bits per weight with a minimum per block"};
static const wk_recipe Q8_0 = {"Q8_0", WK_Q8_0, WK_Q8_0, {{0}}, 0,
                               "8.5 bits per weight, nearly lossless"};
static const wk_recipe Q2_K = {"Q2_K", WK_Q2_K, WK_Q6_K,
                               {R(ATTN_V, GQA_AT_LEAST, 4, Q4_K), R(ATTN_V, ALWAYS, 0, Q3_K),
                                R(FFN_DOWN, ALWAYS, 0, Q3_K), R(ATTN_OUTPUT, ALWAYS, 0, Q3_K)},
                               4, "Q2_K with attn_v, attn_output and ffn_down in Q3_K"};
static const wk_recipe Q3_K_S = {"Q3_K_S", WK_Q3_K, WK_Q6_K, {{0}}, 0, "Q3_K throughout"};
static const wk_recipe Q3_K_M = {"Q3_K_M", WK_Q3_K, WK_Q6_K,
                                 {R(ATTN_V, FIRST, 2, Q5_K), R(ATTN_V, ALWAYS, 0, Q4_K),
                                  R(FFN_DOWN, FIRST_SIXTEENTH, 0, Q5_K),
                                  R(FFN_DOWN, ALWAYS, 0, Q4_K),
                                  R(ATTN_OUTPUT, ALWAYS, 0, Q4_K)},
                                 5, "Q3_K; attn_v, attn_output and ffn_down in Q4_K (Q5_K "
                                    "early)"};
static const wk_recipe Q3_K_L = {"Q3_K_L", WK_Q3_K, WK_Q6_K,
                                 {R(ATTN_V, ALWAYS, 0, Q5_K), R(FFN_DOWN, ALWAYS, 0, Q5_K),
                                  R(ATTN_OUTPUT, ALWAYS, 0, Q5_K)},
                                 3, "Q3_K; attn_v, attn_output and ffn_down in Q5_K"};
static const wk_recipe Q4_K_S = {"Q4_K_S", WK_Q4_K, WK_Q6_K,
                                 {R(ATTN_V, FIRST, 4, Q5_K),
                                  R(FFN_DOWN, FIRST_EIGHTH, 0, Q5_K)},
                                 2, "Q4_K; attn_v of the first 4 layers and ffn_down of the "
                                    "first eighth in Q5_K"};
static const wk_recipe Q4_K_M = {"Q4_K_M", WK_Q4_K, WK_Q6_K,
                                 {R(ATTN_V, MORE_BITS, 0, Q6_K),
                                  R(FFN_DOWN, MORE_BITS, 0, Q6_K)},
                                 2, "Q4_K; attn_v and ffn_down in Q6_K in the more-bits layers"};
static const wk_recipe Q5_K_S = {"Q5_K_S", WK_Q5_K, WK_Q6_K, {{0}}, 0, "Q5_K throughout"};
static const wk_recipe Q5_K_M = {"Q5_K_M", WK_Q5_K, WK_Q6_K,
                                 {R(ATTN_V, MORE_BITS, 0, Q6_K),
                                  R(FFN_DOWN, MORE_BITS, 0, Q6_K)},
                                 2, "Q5_K; attn_v and ffn_down in Q6_K in the more-bits layers"};
static const wk_recipe Q6_K = {"Q6_K", WK_Q6_K, WK_Q6_K, {{0}}, 0, "Q6_K throughout"};
static const wk_recipe IQ4_NL = {"IQ4_NL", WK_IQ4_NL, WK_Q6_K,
                                 {R(ATTN_V, GQA_AT_LEAST, 4, Q5_K),
                                  R(FFN_DOWN, NO_IMATRIX_FIRST_EIGHTH, 0, Q5_K)},
                                 2, "4.5 bits per weight on a non-linear grid"};
static const wk_recipe IQ4_XS = {"IQ4_XS", WK_IQ4_XS, WK_Q6_K,
                                 {R(ATTN_V, GQA_AT_LEAST, 4, Q5_K),
                                  R(FFN_DOWN, NO_IMATRIX_FIRST_EIGHTH, 0, Q5_K)},
                                 2, "4.25 bits per weight on a non-linear grid"};
#undef R

const wk_recipe *const wk_recipes[] = {&Q8_0,   &Q6_K,   &Q5_K_M, &Q5_K_S, &Q4_K_M, &Q4_K_S,
                                       &Q3_K_L, &Q3_K_M, &Q3_K_S, &Q2_K,   &Q5_1,   &Q5_0,
                                       &Q4_1,   &Q4_0,   &IQ4_NL, &IQ4_XS, NULL};

const wk_recipe *wk_recipe_find(const char *name)
{
    for (size_t i = 0; wk_recipes[i]; i++)
        if (strcasecmp(wk_recipes[i]->name, name) == 0)
            return wk_recipes[i];
    return NULL;
}

static bool holds(const wk_recipe_rule *r, const wk_recipe_tensor *t)
{
    int i = t->layer, n = t->n_layers;
    bool in_layer = i >= 0 && n > 0;
    switch (r->when) {
    case WK_WHEN_ALWAYS:
        return true;
    case WK_WHEN_MORE_BITS:
        return in_layer && (i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2);
    case WK_WHEN_FIRST:
        return in_layer && i < r->arg;
    case WK_WHEN_FIRST_EIGHTH:
        return in_layer && i < n / 8;
    case WK_WHEN_FIRST_SIXTEENTH:
        return in_layer && i < n / 16;
    case WK_WHEN_GQA_AT_LEAST:
        return t->n_gqa >= (uint32_t)r->arg;
    case WK_WHEN_IMATRIX_FIRST_EIGHTH:
        return t->has_imatrix && in_layer && i < n / 8;
    case WK_WHEN_NO_IMATRIX_FIRST_EIGHTH:
        return !t->has_imatrix && in_layer && i < n / 8;
    }
    return false;
}

static const char *describe(const wk_recipe_rule *r)
{
    static const char *const what[] = {
        [WK_WHEN_ALWAYS] = "recipe rule for this kind of tensor",
        [WK_WHEN_MORE_BITS] = "a more-bits layer",
        [WK_WHEN_FIRST] = "one of the first layers",
        [WK_WHEN_FIRST_EIGHTH] = "in the first eighth of the layers",
        [WK_WHEN_FIRST_SIXTEENTH] = "in the first sixteenth of the layers",
        [WK_WHEN_GQA_AT_LEAST] = "grouped-query attention",
        [WK_WHEN_IMATRIX_FIRST_EIGHTH] = "first eighth, with an imatrix",
        [WK_WHEN_NO_IMATRIX_FIRST_EIGHTH] = "first eighth, without an imatrix",
    };
    return what[r->when];
}

wk_dtype wk_recipe_type(const wk_recipe *r, const wk_recipe_tensor *t, const char **why)
{
    if (why)
        *why = "";
    if (t->target == WK_RT_OUTPUT) {
        if (why)
            *why = r->output == r->base ? "" : "output";
        return r->output;
    }
    for (int k = 0; k < r->n_rules; k++)
        if (r->rules[k].target == t->target && holds(&r->rules[k], t)) {
            if (why)
                *why = describe(&r->rules[k]);
            return r->rules[k].type;
        }
    return r->base;
}

wk_dtype wk_recipe_fallback(wk_dtype t, uint64_t cols)
{
    static const struct {
        wk_dtype from, to;
    } chain[] = {{WK_Q4_K, WK_Q5_0}, {WK_Q5_K, WK_Q5_1}, {WK_Q6_K, WK_Q8_0},
                 {WK_Q2_K, WK_Q4_0}, {WK_Q3_K, WK_Q4_0}, {WK_IQ4_XS, WK_IQ4_NL}};
    if (cols % wk_type(t)->block_size == 0)
        return t;
    for (size_t k = 0; k < sizeof chain / sizeof chain[0]; k++)
        if (chain[k].from == t && cols % wk_type(chain[k].to)->block_size == 0)
            return chain[k].to;
    return WK_F16;
}
