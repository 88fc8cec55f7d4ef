/* The tensor type table (quant/types.c) and the llama.cpp file-type table (quant/ftype.c):
 * ids, block sizes and names as ggml and llama.cpp define them. */
#include <criterion/criterion.h>

#include <string.h>

#include "quant/ftype.h"
#include "quant/types.h"

/* ggml ids, elements and bytes per block from ggml/src/ggml-common.h and ggml.h. */
static const struct {
    wk_dtype t;
    int id;
    uint32_t block, bytes;
} ggml_facts[] = {
    {WK_F32, 0, 1, 4},         {WK_F16, 1, 1, 2},        {WK_Q4_0, 2, 32, 18},
    {WK_Q4_1, 3, 32, 20},      {WK_Q5_0, 6, 32, 22},     {WK_Q5_1, 7, 32, 24},
    {WK_Q8_0, 8, 32, 34},      {WK_Q8_1, 9, 32, 36},     {WK_Q2_K, 10, 256, 84},
    {WK_Q3_K, 11, 256, 110},   {WK_Q4_K, 12, 256, 144},  {WK_Q5_K, 13, 256, 176},
    {WK_Q6_K, 14, 256, 210},   {WK_Q8_K, 15, 256, 292},  {WK_IQ2_XXS, 16, 256, 66},
    {WK_IQ2_XS, 17, 256, 74},  {WK_IQ3_XXS, 18, 256, 98}, {WK_IQ1_S, 19, 256, 50},
    {WK_IQ4_NL, 20, 32, 18},   {WK_IQ3_S, 21, 256, 110}, {WK_IQ2_S, 22, 256, 82},
    {WK_IQ4_XS, 23, 256, 136}, {WK_I8, 24, 1, 1},        {WK_I16, 25, 1, 2},
    {WK_I32, 26, 1, 4},        {WK_I64, 27, 1, 8},       {WK_F64, 28, 1, 8},
    {WK_IQ1_M, 29, 256, 56},   {WK_BF16, 30, 1, 2},      {WK_TQ1_0, 34, 256, 54},
    {WK_TQ2_0, 35, 256, 66},
};

Test(types, ggml_ids_and_block_sizes)
{
    for (size_t i = 0; i < sizeof ggml_facts / sizeof ggml_facts[0]; i++) {
        const wk_type_traits *tt = wk_type(ggml_facts[i].t);
        cr_expect_eq(tt->ggml_id, ggml_facts[i].id, "%s", tt->name);
        cr_expect_eq(tt->block_size, ggml_facts[i].block, "%s", tt->name);
        cr_expect_eq(tt->type_size, ggml_facts[i].bytes, "%s", tt->name);
        cr_expect_eq(tt->is_quantized, ggml_facts[i].block > 1, "%s", tt->name);
        wk_dtype back;
        cr_expect_eq(wk_type_from_ggml((uint32_t)ggml_facts[i].id, &back), 0);
        cr_expect_eq(back, ggml_facts[i].t);
    }
}

Test(types, names_in_any_case_and_torch_spelling)
{
    wk_dtype t;
    cr_expect(wk_type_from_name("q4_k", &t) == 0 && t == WK_Q4_K);
    cr_expect(wk_type_from_name("BF16", &t) == 0 && t == WK_BF16);
    cr_expect(wk_type_from_name("float16", &t) == 0 && t == WK_F16);
    cr_expect_eq(wk_type_from_name("q4_k_m", &t), -1); /* a file type, not a tensor type */
    cr_expect(wk_type_from_safetensors("F8_E4M3", &t) == 0 && t == WK_F8_E4M3);
    cr_expect_eq(wk_type_from_safetensors("Q8_0", &t), -1); /* not a safetensors dtype */
}

Test(ftype, llama_cpp_numbers)
{
    cr_expect_eq(wk_ftype_by_name("Q4_K_M")->id, 15);
    cr_expect_eq(wk_ftype_by_name("q8_0")->id, 7);
    cr_expect_eq(wk_ftype_by_name("IQ4_XS")->main, WK_IQ4_XS);
    cr_expect_eq(wk_ftype_by_name("Q3_K_L")->main, WK_Q3_K);
    cr_expect_null(wk_ftype_by_name("Q4_K"));
    cr_expect_str_eq(wk_ftype_by_id(32)->name, "BF16");
    cr_expect_null(wk_ftype_by_id(4)); /* removed from llama.cpp */
    cr_expect_eq(wk_ftype_of_type(WK_F32)->id, 0);
    cr_expect_eq(wk_ftype_of_type(WK_F16)->id, 1);
    cr_expect_eq(wk_ftype_of_type(WK_BF16)->id, 32);
    cr_expect_eq(wk_ftype_of_type(WK_Q6_K)->id, 18);
    cr_expect_null(wk_ftype_of_type(WK_Q4_K)); /* only Q4_K_S and Q4_K_M */
    cr_expect_null(wk_ftype_of_type(WK_I32));
}
