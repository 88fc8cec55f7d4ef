/* The q/k un-permutation (models/qk_permute.c) against llama.cpp's reshape formula. */
#include <criterion/criterion.h>

#include <string.h>

#include "models/qk_permute.h"
#include "tests/unit/models/permute_formula.h"

Test(qk_permute, unpermute_matches_llama_cpp_formula)
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

Test(qk_permute, unpermute_rejects_bad_row_counts)
{
    wk_err e;
    cr_assert_eq(wk_qk_check("q", 64, 4, &e), 0);
    cr_assert_eq(wk_qk_check("q", 60, 8, &e), -1);
    cr_assert(strstr(e.msg, "'q'") && strstr(e.msg, "8 heads"), "%s", e.msg);
    cr_assert_eq(wk_qk_check("k", 12, 4, &e), -1); /* head of 3 rows: odd */
    cr_assert_eq(wk_qk_check("k", 12, 0, &e), -1);
}
