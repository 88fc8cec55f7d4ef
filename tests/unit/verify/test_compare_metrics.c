/* wk-verify's measures (verify/compare/metrics.c) on distributions worked out by hand: the
 * KLD of two known distributions, the saved-reference KLD (exact when the top-32 hold all the
 * mass, a lower bound otherwise), top-1/top-5, and the sums' means, quantiles and errors. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "verify/compare/metrics.h"

Test(compare_metrics, identical_logits_measure_zero)
{
    float l[6] = {0.5f, -1, 2, 0, 1, -3};
    wk_ref_pos r;
    wk_ref_summarize(l, 6, 4, &r);
    cr_assert_eq(r.top_id[0], 2);
    cr_assert_eq(r.top_id[1], 4);
    cr_assert_eq(r.top_id[2], 0);
    cr_assert_eq(r.top_id[6], -1, "a vocabulary of 6 fills 6 entries");
    double lse = log(exp(0.5) + exp(-1) + exp(2) + exp(0) + exp(1) + exp(-3));
    cr_assert_float_eq(r.logp_next, 1 - lse, 1e-6);
    wk_pos_measure m;
    wk_measure_full(l, &r, l, 6, 4, &m);
    cr_assert_eq(m.kld, 0);
    cr_assert_eq(m.dp, 0);
    cr_assert(m.top1);
    cr_assert_eq(m.top5, 5);
    cr_assert_float_eq(m.nll, lse - 1, 1e-12);
}

Test(compare_metrics, kld_of_known_distributions)
{
    /* p = (1/2, 1/4, 1/4), q = (1/4, 1/2, 1/4): KLD = 1/2 ln 2 - 1/4 ln 2 = ln 2 / 4 */
    float p[3] = {logf(2), 0, 0}, q[3] = {0, logf(2), 0};
    wk_ref_pos r;
    wk_ref_summarize(p, 3, 1, &r);
    wk_pos_measure m;
    wk_measure_full(p, &r, q, 3, 1, &m);
    cr_assert_float_eq(m.kld, log(2) / 4, 1e-7);
    cr_assert(!m.top1);
    cr_assert_float_eq(m.dp, 0.5 - 0.25, 1e-7);
    cr_assert_float_eq(m.nll, log(2), 1e-7);
    cr_assert_float_eq(m.ref_nll, log(4), 1e-7);
    /* all the mass in the saved top-K: the summary's KLD is the full one */
    wk_pos_measure s;
    wk_measure_summary(&r, q, 3, 1, &s);
    cr_assert_float_eq(s.kld, m.kld, 1e-7);
    cr_assert_eq(s.top1, m.top1);
}

Test(compare_metrics, summary_kld_is_a_lower_bound_beyond_the_top_k)
{
    enum { V = 300 };
    float p[V], q[V];
    srand(7);
    for (int i = 0; i < V; i++) {
        p[i] = (float)(rand() % 1000) / 200.0f;
        q[i] = p[i] + (float)(rand() % 1000) / 1000.0f - 0.5f;
    }
    wk_ref_pos r;
    wk_ref_summarize(p, V, 3, &r);
    for (int k = 1; k < WK_REF_TOPK; k++)
        cr_assert(r.top_logp[k] <= r.top_logp[k - 1], "sorted");
    wk_pos_measure full, sum;
    wk_measure_full(p, &r, q, V, 3, &full);
    wk_measure_summary(&r, q, V, 3, &sum);
    cr_assert(sum.kld <= full.kld + 1e-9 && sum.kld > 0, "%g vs %g", sum.kld, full.kld);
    cr_assert_float_eq(sum.nll, full.nll, 1e-9);
    cr_assert_eq(sum.top5, full.top5);
}

Test(compare_metrics, sums_means_quantiles_and_errors)
{
    wk_score_acc a = {0};
    /* KLDs 1..100 (times 1e-3), NLL alternating 1 and 3, reference NLL 2 */
    for (int i = 1; i <= 100; i++) {
        wk_pos_measure m = {.nll = i % 2 ? 1 : 3, .ref_nll = 2, .kld = i * 1e-3, .dp = 0.1,
                            .top1 = i <= 90, .top5 = 4};
        cr_assert_eq(wk_score_add(&a, &m), 0);
    }
    wk_score s;
    wk_score_finish(&a, &s);
    cr_assert_eq(s.n, 100);
    cr_assert_float_eq(s.ppl.value, exp(2), 1e-12);
    /* sample variance of the NLLs: 100/99; se of the mean: sqrt(1/99) */
    cr_assert_float_eq(s.ppl.se, exp(2) * sqrt(1.0 / 99), 1e-12);
    cr_assert_float_eq(s.ref_ppl.value, exp(2), 1e-12);
    cr_assert_float_eq(s.ref_ppl.se, 0, 1e-12);
    cr_assert_float_eq(s.ppl_ratio.value, 1, 1e-12);
    cr_assert_float_eq(s.kld.value, 50.5e-3, 1e-9);
    cr_assert_float_eq(s.kld_median, 50.5e-3, 1e-7);
    cr_assert_float_eq(s.kld_p90, 90e-3, 1e-7);
    cr_assert_float_eq(s.kld_p99, 99e-3, 1e-7);
    cr_assert_float_eq(s.kld_max, 100e-3, 1e-7);
    cr_assert_float_eq(s.top1, 0.9, 1e-12);
    cr_assert_float_eq(s.top5, 0.8, 1e-12);
    cr_assert_float_eq(s.rms_dp, 0.1, 1e-12);
    wk_score_free(&a);
}
