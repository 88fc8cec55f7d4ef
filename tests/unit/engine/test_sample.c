/* Sampling (engine/sample.c): greedy picks the largest logit; top-k and top-p keep only the
 * tokens they should; the draws follow the softmax at the temperature; a seed repeats. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "engine/sample.h"

static float sm_logits[6] = {1.0f, 3.0f, 2.0f, -1.0f, 2.5f, 0.0f};

static int sm_draw_counts(wk_sampler *s, int counts[6], int draws)
{
    void *scratch = malloc(wk_sample_scratch(6));
    for (int i = 0; i < 6; i++)
        counts[i] = 0;
    for (int i = 0; i < draws; i++)
        counts[wk_sample(s, sm_logits, 6, scratch)]++;
    free(scratch);
    return 0;
}

Test(sample, greedy_takes_the_largest_logit)
{
    wk_sampler s = {.temp = 0};
    wk_sampler_seed(&s, 1);
    int c[6];
    sm_draw_counts(&s, c, 10);
    cr_expect_eq(c[1], 10);
}

Test(sample, greedy_takes_the_first_of_equal_largest_logits)
{
    enum { N = 32000 };
    float *logits = malloc(N * sizeof *logits);
    void *scratch = malloc(wk_sample_scratch(N));
    cr_assert(logits && scratch);
    for (int i = 0; i < N; i++)
        logits[i] = (float)(i % 97) * 0.01f;
    wk_sampler s = {.temp = 0};
    logits[N - 1] = 5.0f;
    cr_expect_eq(wk_sample(&s, logits, N, scratch), N - 1, "the largest at the end");
    logits[12345] = 5.0f;
    cr_expect_eq(wk_sample(&s, logits, N, scratch), 12345, "the first of two equal");
    logits[0] = NAN; /* no comparison with a NaN holds: the first logit stays the pick */
    cr_expect_eq(wk_sample(&s, logits, N, scratch), 0);
    free(scratch);
    free(logits);
}

Test(sample, top_k_and_top_p_keep_the_right_tokens)
{
    wk_sampler s = {.temp = 1, .top_k = 2, .top_p = 1};
    wk_sampler_seed(&s, 7);
    int c[6];
    sm_draw_counts(&s, c, 4000);
    cr_expect(c[1] > 0 && c[4] > 0 && c[1] + c[4] == 4000, "%d %d", c[1], c[4]);
    /* p(1) = e^3 / (e^3 + e^2.5) = 0.622 */
    cr_expect(fabs(c[1] / 4000.0 - 0.6225) < 0.03, "%d", c[1]);
    /* top-p 0.5: token 1 alone holds 0.44 of the full softmax, 1 and 4 hold 0.71 */
    wk_sampler p = {.temp = 1, .top_k = 0, .top_p = 0.5f};
    wk_sampler_seed(&p, 7);
    sm_draw_counts(&p, c, 2000);
    cr_expect(c[1] + c[4] == 2000 && c[4] > 0, "%d %d", c[1], c[4]);
}

Test(sample, temperature_and_seed)
{
    wk_sampler a = {.temp = 0.5f, .top_k = 0, .top_p = 1}, b = a;
    wk_sampler_seed(&a, 42);
    wk_sampler_seed(&b, 42);
    int ca[6], cb[6];
    sm_draw_counts(&a, ca, 3000);
    sm_draw_counts(&b, cb, 3000);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(ca[i], cb[i]);
    /* at temperature 0.5 the logits double: p(1) = e^6 / sum e^(2 l) */
    double z = 0;
    for (int i = 0; i < 6; i++)
        z += exp(2 * sm_logits[i]);
    cr_expect(fabs(ca[1] / 3000.0 - exp(6) / z) < 0.03, "%d vs %.3f", ca[1], exp(6) / z);
}
