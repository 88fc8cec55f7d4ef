/* Pruning selection (quant/prune.c) against brute force: exact counts per row, per tensor
 * and across tensors, the tie rule (lower index first, row-major order), N:M in every group,
 * scales, kept weights bit-identical, NaN kept, quickselect on adversarial orders, and the
 * parallel paths agreeing with the serial ones. */
#include <criterion/criterion.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/half.h"
#include "quant/prune.h"

static uint64_t pr_rng = 88172645463325252ull;

static uint64_t next_u64(void)
{
    pr_rng ^= pr_rng << 13;
    pr_rng ^= pr_rng >> 7;
    pr_rng ^= pr_rng << 17;
    return pr_rng;
}

/* Values with many exact ties (a few levels, both signs) or spread widely. */
static float value(bool ties)
{
    uint64_t r = next_u64();
    if (ties)
        return (float)((int)(r % 7) - 3) * 0.25f;
    return ldexpf((float)(r % 2000001) / 1e6f - 1.0f, (int)(r >> 40) % 20 - 10);
}

/* Brute force: the index of the k smallest (score, index) pairs, as a mask. */
typedef struct scored {
    float s;
    int64_t j;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

static void expected_mask(const float *w, const float *scale, int64_t n, int64_t k, bool *zero)
{
    scored *s = malloc((size_t)n * sizeof *s);
    for (int64_t j = 0; j < n; j++)
        s[j] = (scored){fabsf(w[j]) * (scale ? scale[j] : 1.0f), j};
    qsort(s, (size_t)n, sizeof *s, cmp_scored);
    memset(zero, 0, (size_t)n);
    for (int64_t m = 0; m < k; m++)
        zero[s[m].j] = true;
    free(s);
}

/* Every weight either zeroed where the mask says, or bit-identical to the input. */
static void check_against(const float *in, const float *out, const bool *zero, int64_t n,
                          const char *what)
{
    for (int64_t j = 0; j < n; j++) {
        if (zero[j])
            cr_assert_eq(wk_f32_bits(out[j]), 0u, "%s: weight %lld should be +0", what,
                         (long long)j);
        else
            cr_assert_eq(wk_f32_bits(out[j]), wk_f32_bits(in[j]), "%s: weight %lld changed",
                         what, (long long)j);
    }
}

Test(prune, count_rounds_down_with_an_allowance_for_binary_fractions)
{
    cr_expect_eq(wk_prune_count(0.5, 172), 86);
    cr_expect_eq(wk_prune_count(0.5, 171), 85);
    cr_expect_eq(wk_prune_count(0.29, 100), 29); /* 0.29 * 100 is 28.999999999999996 */
    cr_expect_eq(wk_prune_count(0.999, 10), 9);
    cr_expect_eq(wk_prune_count(0.0, 1000), 0);
    cr_expect_eq(wk_prune_count(0.2, 4), 0);
    cr_expect_eq(wk_prune_count(0.25, 4), 1);
    cr_expect_eq(wk_prune_count(0.5, (int64_t)1 << 40), (int64_t)1 << 39);
}

Test(prune, rows_zero_exactly_the_k_smallest_with_ties_to_the_lower_index)
{
    uint64_t *scratch = malloc(700 * sizeof *scratch);
    float in[700], out[700];
    bool zero[700];
    for (int round = 0; round < 300; round++) {
        int64_t n = 1 + (int64_t)(next_u64() % 700);
        int64_t k = (int64_t)(next_u64() % (uint64_t)(n + 1));
        bool ties = round % 2;
        for (int64_t j = 0; j < n; j++)
            in[j] = value(ties);
        memcpy(out, in, sizeof(float) * (size_t)n);
        wk_prune_row(out, NULL, n, k, scratch);
        expected_mask(in, NULL, n, k, zero);
        check_against(in, out, zero, n, "row");
    }
    free(scratch);
}

Test(prune, ties_go_to_the_lower_index_first)
{
    uint64_t scratch[8];
    float w[5] = {3, -1, 1, 1, 2};
    wk_prune_row(w, NULL, 5, 2, scratch);
    cr_expect(w[0] == 3 && w[1] == 0 && w[2] == 0 && w[3] == 1 && w[4] == 2);
    float same[6] = {0.5f, -0.5f, 0.5f, 0.5f, -0.5f, 0.5f};
    wk_prune_row(same, NULL, 6, 4, scratch);
    for (int j = 0; j < 6; j++)
        cr_expect_eq(same[j] == 0.0f, j < 4, "weight %d", j);
}

Test(prune, scales_multiply_the_scores)
{
    uint64_t scratch[8];
    float w[4] = {1, 1, 1, 1}, scale[4] = {4, 1, 3, 2};
    wk_prune_row(w, scale, 4, 2, scratch);
    cr_expect(w[0] == 1 && w[1] == 0 && w[2] == 1 && w[3] == 0);
    /* a large weight with a tiny scale goes before a small one with a large scale */
    float v[2] = {100, 0.01f}, s[2] = {1e-6f, 1};
    wk_prune_row(v, s, 2, 1, scratch);
    cr_expect(v[0] == 0 && v[1] == 0.01f);
    float in[500], out[500], sc[500];
    bool zero[500];
    uint64_t big[500];
    for (int j = 0; j < 500; j++) {
        in[j] = value(true);
        sc[j] = (float)(next_u64() % 5);
    }
    memcpy(out, in, sizeof in);
    wk_prune_row(out, sc, 500, 250, big);
    expected_mask(in, sc, 500, 250, zero);
    check_against(in, out, zero, 500, "scaled");
}

Test(prune, kept_weights_are_bit_identical_signed_zeros_and_nan_included)
{
    uint64_t scratch[8];
    float w[6] = {-0.0f, 0.0f, NAN, -INFINITY, 1e-40f, -2.0f};
    uint32_t bits[6];
    for (int j = 0; j < 6; j++)
        bits[j] = wk_f32_bits(w[j]);
    wk_prune_row(w, NULL, 6, 3, scratch); /* -0, +0 and the denormal go */
    cr_expect_eq(wk_f32_bits(w[0]), 0u);
    cr_expect_eq(wk_f32_bits(w[1]), 0u);
    cr_expect_eq(wk_f32_bits(w[4]), 0u);
    cr_expect_eq(wk_f32_bits(w[2]), bits[2], "NaN ranks above everything: kept as it was");
    cr_expect_eq(wk_f32_bits(w[3]), bits[3]);
    cr_expect_eq(wk_f32_bits(w[5]), bits[5]);
}

Test(prune, quickselect_survives_adversarial_orders)
{
    const int64_t n = 4099;
    float *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    bool *zero = malloc((size_t)n);
    uint64_t *scratch = malloc((size_t)n * sizeof *scratch);
    for (int pattern = 0; pattern < 5; pattern++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t v = pattern == 0   ? j                           /* sorted */
                        : pattern == 1 ? n - j                       /* reversed */
                        : pattern == 2 ? (j < n / 2 ? j : n - j)     /* organ pipe */
                        : pattern == 3 ? (j % 2 ? j : n + j)         /* interleaved */
                                       : 7;                          /* all equal */
            in[j] = (float)v;
        }
        for (int64_t k = 0; k <= n; k += 1 + n / 7) {
            memcpy(out, in, (size_t)n * sizeof *in);
            wk_prune_row(out, NULL, n, k, scratch);
            expected_mask(in, NULL, n, k, zero);
            check_against(in, out, zero, n, "pattern");
        }
    }
    free(scratch);
    free(zero);
    free(out);
    free(in);
}

Test(prune, nm_keeps_the_n_largest_in_every_group)
{
    const uint32_t pats[][2] = {{2, 4}, {1, 4}, {3, 4}, {4, 8}, {1, 2}, {7, 16}};
    uint64_t scratch[16];
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        uint32_t keep = pats[p][0], m = pats[p][1];
        int64_t n = 16 * 12;
        float in[192], out[192];
        bool zero[16];
        for (int round = 0; round < 20; round++) {
            for (int64_t j = 0; j < n; j++)
                in[j] = value(round % 2);
            memcpy(out, in, sizeof in);
            wk_prune_row_nm(out, NULL, n, keep, m, scratch);
            for (int64_t g = 0; g < n; g += m) {
                expected_mask(in + g, NULL, m, m - keep, zero);
                check_against(in + g, out + g, zero, m, "group");
                int zeros = 0;
                for (uint32_t j = 0; j < m; j++)
                    zeros += wk_f32_bits(out[g + j]) == 0;
                cr_assert_geq(zeros, (int)(m - keep), "%u:%u group %lld", keep, m, (long long)g);
            }
        }
    }
    float tie[4] = {1, -1, 1, -1};
    wk_prune_row_nm(tie, NULL, 4, 2, 4, scratch);
    cr_expect(tie[0] == 0 && tie[1] == 0 && tie[2] == 1 && tie[3] == -1);
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1}, s[8] = {1, 2, 3, 4, 4, 3, 2, 1};
    wk_prune_row_nm(w, s, 8, 2, 4, scratch); /* Wanda's scores in the N:M pattern */
    cr_expect(w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] == 1);
    cr_expect(w[4] == 1 && w[5] == 1 && w[6] == 0 && w[7] == 0);
}

Test(prune, matrices_in_parallel_equal_the_rows_one_by_one)
{
    const int64_t rows = 301, cols = 256;
    float *in = malloc(rows * cols * sizeof *in), *a = malloc(rows * cols * sizeof *a),
          *b = malloc(rows * cols * sizeof *b), sc[256];
    uint64_t scratch[256];
    for (int64_t i = 0; i < rows * cols; i++)
        in[i] = value(i % 3 == 0);
    for (int j = 0; j < 256; j++)
        sc[j] = (float)(j % 17) + 0.5f;
    wk_err e;
    omp_set_num_threads(4);
    memcpy(a, in, rows * cols * sizeof *a);
    memcpy(b, in, rows * cols * sizeof *b);
    cr_assert_eq(wk_prune_rows(a, rows, cols, sc, 0.37, &e), 0);
    for (int64_t r = 0; r < rows; r++)
        wk_prune_row(b + r * cols, sc, cols, wk_prune_count(0.37, cols), scratch);
    cr_expect_eq(memcmp(a, b, rows * cols * sizeof *a), 0);
    memcpy(a, in, rows * cols * sizeof *a);
    memcpy(b, in, rows * cols * sizeof *b);
    cr_assert_eq(wk_prune_rows_nm(a, rows, cols, NULL, 2, 4, &e), 0);
    for (int64_t r = 0; r < rows; r++)
        wk_prune_row_nm(b + r * cols, NULL, cols, 2, 4, scratch);
    cr_expect_eq(memcmp(a, b, rows * cols * sizeof *a), 0);
    cr_expect_eq(wk_prune_rows_nm(a, rows, cols, NULL, 4, 4, &e), -1);
    cr_expect(strstr(e.msg, "1 <= N < M") != NULL, "%s", e.msg);
    cr_expect_eq(wk_prune_rows_nm(a, rows, cols, NULL, 2, 3, &e), -1);
    cr_expect(strstr(e.msg, "not a multiple of M = 3") != NULL, "%s", e.msg);
    free(b);
    free(a);
    free(in);
}

/* Tensor scope: the k smallest |w| of the whole matrix, ties in row-major order. */
static void threshold_case(int64_t rows, int64_t cols, double s, bool ties)
{
    int64_t n = rows * cols;
    float *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    bool *zero = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++)
        out[i] = in[i] = value(ties);
    wk_prune_select sel;
    wk_err e;
    int64_t k = wk_prune_count(s, n);
    cr_assert_eq(wk_prune_select_init(&sel, (uint64_t)k, &e), 0);
    for (int pass = 0; pass < 2; pass++) {
        wk_prune_select_add(&sel, out, n);
        wk_prune_select_next(&sel);
    }
    cr_assert_eq(wk_prune_select_apply(&sel, out, rows, cols, &e), 0);
    wk_prune_select_free(&sel);
    expected_mask(in, NULL, n, k, zero);
    check_against(in, out, zero, n, "tensor");
    free(zero);
    free(out);
    free(in);
}

Test(prune, tensor_threshold_is_exact)
{
    threshold_case(37, 91, 0.5, true);
    threshold_case(37, 91, 0.5, false);
    threshold_case(10, 10, 0.0, true);
    threshold_case(10, 10, 0.99, true);
    threshold_case(1, 7, 0.3, true);
    omp_set_num_threads(4); /* over 2^18 weights: per-thread histograms */
    threshold_case(600, 512, 0.3, true);
    threshold_case(600, 512, 0.77, false);
}

Test(prune, global_threshold_spans_tensors_in_the_order_applied)
{
    /* two tensors of equal weights: the ties go to the first tensor first */
    float a[12], b[8], all[20];
    for (int i = 0; i < 12; i++)
        a[i] = (i % 2) ? 0.5f : -0.5f;
    for (int i = 0; i < 8; i++)
        b[i] = i < 2 ? 0.25f : 0.5f;
    wk_prune_select sel;
    wk_err e;
    uint64_t k = (uint64_t)wk_prune_count(0.75, 20); /* 15: both 0.25 and 13 of the 0.5s */
    cr_assert_eq(k, 15);
    cr_assert_eq(wk_prune_select_init(&sel, k, &e), 0);
    for (int pass = 0; pass < 2; pass++) {
        wk_prune_select_add(&sel, a, 12);
        wk_prune_select_add(&sel, b, 8);
        wk_prune_select_next(&sel);
    }
    cr_expect_eq(sel.threshold, wk_f32_bits(0.5f));
    cr_expect_eq(sel.ties, 13);
    memcpy(all, a, sizeof a);
    memcpy(all + 12, b, sizeof b);
    cr_assert_eq(wk_prune_select_apply(&sel, a, 3, 4, &e), 0);
    cr_assert_eq(wk_prune_select_apply(&sel, b, 2, 4, &e), 0);
    wk_prune_select_free(&sel);
    for (int i = 0; i < 12; i++)
        cr_expect_eq(a[i], 0.0f, "a[%d]", i);
    cr_expect(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0.5f, "only one more 0.5 goes");
    int zeros = 0;
    for (int i = 0; i < 8; i++)
        zeros += b[i] == 0;
    cr_expect_eq(zeros, 3);
}
