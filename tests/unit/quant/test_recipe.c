/* The recipe table (quant/recipe.c) against llama.cpp's llama_tensor_get_type_impl for a
 * dense 32-layer model, and the fallback chain for rows a block does not divide. */
#include <criterion/criterion.h>

#include "quant/ftype.h"
#include "quant/recipe.h"

static wk_dtype rt_type(const char *recipe, wk_recipe_target target, int layer, int n,
                        uint32_t gqa, bool imatrix)
{
    const wk_recipe *r = wk_recipe_find(recipe);
    cr_assert_not_null(r, "%s", recipe);
    wk_recipe_tensor t = {target, layer, n, gqa, imatrix};
    return wk_recipe_type(r, &t, NULL);
}

/* llama.cpp's use_more_bits for 32 layers: 0-3, 28-31 and 6, 9, 12, ..., 27. */
static bool more_bits(int i)
{
    return i < 4 || i >= 28 || (i - 4) % 3 == 2;
}

Test(recipe, q4_k_m_bumps_attn_v_and_ffn_down_in_the_more_bits_layers)
{
    for (int i = 0; i < 32; i++) {
        wk_dtype want = more_bits(i) ? WK_Q6_K : WK_Q4_K;
        cr_expect_eq(rt_type("Q4_K_M", WK_RT_ATTN_V, i, 32, 1, false), want, "layer %d", i);
        cr_expect_eq(rt_type("q4_k_m", WK_RT_FFN_DOWN, i, 32, 1, false), want, "layer %d", i);
        cr_expect_eq(rt_type("Q4_K_M", WK_RT_OTHER, i, 32, 1, false), WK_Q4_K);
        cr_expect_eq(rt_type("Q5_K_M", WK_RT_FFN_DOWN, i, 32, 1, false),
                     more_bits(i) ? WK_Q6_K : WK_Q5_K);
    }
    cr_expect_eq(rt_type("Q4_K_M", WK_RT_OUTPUT, -1, 32, 1, false), WK_Q6_K);
    cr_expect_eq(rt_type("Q4_K_M", WK_RT_TOKEN_EMBD, -1, 32, 1, false), WK_Q4_K);
}

Test(recipe, the_other_rules)
{
    /* Q4_K_S: attn_v Q5_K in the first 4 layers, ffn_down Q5_K in the first eighth */
    cr_expect_eq(rt_type("Q4_K_S", WK_RT_ATTN_V, 3, 32, 1, false), WK_Q5_K);
    cr_expect_eq(rt_type("Q4_K_S", WK_RT_ATTN_V, 4, 32, 1, false), WK_Q4_K);
    cr_expect_eq(rt_type("Q4_K_S", WK_RT_FFN_DOWN, 3, 32, 1, false), WK_Q5_K);
    cr_expect_eq(rt_type("Q4_K_S", WK_RT_FFN_DOWN, 4, 32, 1, false), WK_Q4_K);
    /* Q3_K_M: attn_v Q5_K in layers 0-1 then Q4_K; ffn_down Q5_K in the first sixteenth */
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_ATTN_V, 1, 32, 1, false), WK_Q5_K);
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_ATTN_V, 2, 32, 1, false), WK_Q4_K);
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_FFN_DOWN, 1, 32, 1, false), WK_Q5_K);
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_FFN_DOWN, 2, 32, 1, false), WK_Q4_K);
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_ATTN_OUTPUT, 9, 32, 1, false), WK_Q4_K);
    cr_expect_eq(rt_type("Q3_K_M", WK_RT_OTHER, 9, 32, 1, false), WK_Q3_K);
    /* Q2_K: attn_v Q4_K with grouped-query attention (>= 4 heads per kv head), else Q3_K */
    cr_expect_eq(rt_type("Q2_K", WK_RT_ATTN_V, 5, 32, 4, false), WK_Q4_K);
    cr_expect_eq(rt_type("Q2_K", WK_RT_ATTN_V, 5, 32, 2, false), WK_Q3_K);
    cr_expect_eq(rt_type("Q2_K", WK_RT_FFN_DOWN, 5, 32, 1, false), WK_Q3_K);
    cr_expect_eq(rt_type("Q2_K", WK_RT_OTHER, 5, 32, 1, false), WK_Q2_K);
    /* IQ4_XS: ffn_down Q5_K in the first eighth without an imatrix only */
    cr_expect_eq(rt_type("IQ4_XS", WK_RT_FFN_DOWN, 2, 32, 1, false), WK_Q5_K);
    cr_expect_eq(rt_type("IQ4_XS", WK_RT_FFN_DOWN, 2, 32, 1, true), WK_IQ4_XS);
    cr_expect_eq(rt_type("IQ4_XS", WK_RT_ATTN_V, 2, 32, 8, true), WK_Q5_K);
    /* Q4_0: ffn_down Q4_1 in the first eighth with an imatrix only */
    cr_expect_eq(rt_type("Q4_0", WK_RT_FFN_DOWN, 0, 32, 1, true), WK_Q4_1);
    cr_expect_eq(rt_type("Q4_0", WK_RT_FFN_DOWN, 0, 32, 1, false), WK_Q4_0);
    /* Q8_0 keeps the output in Q8_0; the others give it Q6_K */
    cr_expect_eq(rt_type("Q8_0", WK_RT_OUTPUT, -1, 32, 1, false), WK_Q8_0);
    cr_expect_eq(rt_type("Q5_1", WK_RT_OUTPUT, -1, 32, 1, false), WK_Q6_K);
}

Test(recipe, every_recipe_names_a_llama_cpp_file_type)
{
    int n = 0;
    for (size_t i = 0; wk_recipes[i]; i++, n++) {
        const wk_ftype *f = wk_ftype_by_name(wk_recipes[i]->name);
        cr_assert_not_null(f, "%s", wk_recipes[i]->name);
        cr_expect_eq(f->main, wk_recipes[i]->base, "%s", wk_recipes[i]->name);
        cr_expect(wk_recipes[i]->summary && wk_recipes[i]->summary[0]);
    }
    cr_expect_eq(n, 16);
    cr_expect_null(wk_recipe_find("Q4_K"));
}

Test(recipe, fallback_for_rows_a_block_does_not_divide)
{
    cr_expect_eq(wk_recipe_fallback(WK_Q4_K, 4096), WK_Q4_K);
    cr_expect_eq(wk_recipe_fallback(WK_Q4_K, 64), WK_Q5_0);
    cr_expect_eq(wk_recipe_fallback(WK_Q5_K, 64), WK_Q5_1);
    cr_expect_eq(wk_recipe_fallback(WK_Q6_K, 64), WK_Q8_0);
    cr_expect_eq(wk_recipe_fallback(WK_Q2_K, 96), WK_Q4_0);
    cr_expect_eq(wk_recipe_fallback(WK_Q3_K, 96), WK_Q4_0);
    cr_expect_eq(wk_recipe_fallback(WK_IQ4_XS, 96), WK_IQ4_NL);
    /* 172-wide rows (stories260k's ffn_down): no block type fits; llama.cpp stops for the
     * 32-blocks, we keep F16 */
    cr_expect_eq(wk_recipe_fallback(WK_Q8_0, 172), WK_F16);
    cr_expect_eq(wk_recipe_fallback(WK_Q4_0, 172), WK_F16);
    cr_expect_eq(wk_recipe_fallback(WK_Q4_K, 172), WK_F16);
    cr_expect_eq(wk_recipe_fallback(WK_F32, 172), WK_F32);
}
