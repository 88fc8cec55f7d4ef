/* The llama.cpp file-type table (see ftype.h); numbers from llama.cpp's include/llama.h.
 * Numbers 4-6 and 33-35 belong to types llama.cpp removed and are not listed. */
#include "quant/ftype.h"

#include <string.h>
#include <strings.h>

static const wk_ftype FTYPES[] = {
    {"F32", 0, WK_F32},        {"F16", 1, WK_F16},         {"Q4_0", 2, WK_Q4_0},
    {"Q4_1", 3, WK_Q4_1},      {"Q8_0", 7, WK_Q8_0},       {"Q5_0", 8, WK_Q5_0},
    {"Q5_1", 9, WK_Q5_1},      {"Q2_K", 10, WK_Q2_K},      {"Q3_K_S", 11, WK_Q3_K},
    {"Q3_K_M", 12, WK_Q3_K},   {"Q3_K_L", 13, WK_Q3_K},    {"Q4_K_S", 14, WK_Q4_K},
    {"Q4_K_M", 15, WK_Q4_K},   {"Q5_K_S", 16, WK_Q5_K},    {"Q5_K_M", 17, WK_Q5_K},
    {"Q6_K", 18, WK_Q6_K},     {"IQ2_XXS", 19, WK_IQ2_XXS}, {"IQ2_XS", 20, WK_IQ2_XS},
    {"Q2_K_S", 21, WK_Q2_K},   {"IQ3_XS", 22, WK_IQ3_S},   {"IQ3_XXS", 23, WK_IQ3_XXS},
    {"IQ1_S", 24, WK_IQ1_S},   {"IQ4_NL", 25, WK_IQ4_NL},  {"IQ3_S", 26, WK_IQ3_S},
    {"IQ3_M", 27, WK_IQ3_S},   {"IQ2_S", 28, WK_IQ2_S},    {"IQ2_M", 29, WK_IQ2_S},
    {"IQ4_XS", 30, WK_IQ4_XS}, {"IQ1_M", 31, WK_IQ1_M},    {"BF16", 32, WK_BF16},
    {"TQ1_0", 36, WK_TQ1_0},   {"TQ2_0", 37, WK_TQ2_0},
};
#define N_FTYPES (sizeof FTYPES / sizeof FTYPES[0])

const wk_ftype *wk_ftype_by_name(const char *name)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (strcasecmp(FTYPES[i].name, name) == 0)
            return &FTYPES[i];
    return NULL;
}

const wk_ftype *wk_ftype_by_id(uint32_t id)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (FTYPES[i].id == id)
            return &FTYPES[i];
    return NULL;
}

const wk_ftype *wk_ftype_of_type(wk_dtype t)
{
    const wk_type_traits *tt = wk_type(t);
    for (size_t i = 0; tt && i < N_FTYPES; i++)
        if (FTYPES[i].main == t && strcmp(FTYPES[i].name, tt->name) == 0)
            return &FTYPES[i];
    return NULL;
}
