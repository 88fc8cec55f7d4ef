/* Sampling (see sample.h). */
#define _GNU_SOURCE
#include "engine/sample.h"

#include <math.h>
#include <stdlib.h>

void wk_sampler_seed(wk_sampler *s, uint64_t seed)
{
    s->state = seed ? seed : 0x9e3779b97f4a7c15u;
}

static double uniform(wk_sampler *s)
{
    s->state ^= s->state >> 12;
    s->state ^= s->state << 25;
    s->state ^= s->state >> 27;
    return (double)((s->state * 2685821657736338717u) >> 11) / 9007199254740992.0;
}

unsigned long wk_sample_scratch(int n_vocab)
{
    return (unsigned long)n_vocab * (sizeof(float) + sizeof(int));
}


static int by_logit_desc(const void *a, const void *b, void *ctx)
{
    const float *logits = ctx;
    float x = logits[*(const int *)a], y = logits[*(const int *)b];
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

int32_t wk_sample(wk_sampler *s, const float *logits, int n_vocab, void *scratch)
{
    /* the best value kept in a register: comparing with logits[best] made each step wait for
     * the load the last one chose (32000 logits: 142 against 24 us) */
    int best = 0;
    float top = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > top) {
            top = logits[i];
            best = i;
        }
    if (s->temp <= 0)
        return best;
    float *p = scratch;
    int *idx = (int *)(p + n_vocab);
    for (int i = 0; i < n_vocab; i++)
        idx[i] = i;
    qsort_r(idx, (size_t)n_vocab, sizeof *idx, by_logit_desc, (void *)logits);
    int n = s->top_k > 0 && s->top_k < n_vocab ? s->top_k : n_vocab;
    /* probabilities at temperature 1 for top-p, as llama.cpp's top-p precedes temperature */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        p[i] = expf(logits[idx[i]] - logits[idx[0]]);
        sum += p[i];
    }
    if (s->top_p < 1) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += p[i] / sum;
            if (cum >= s->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    sum = 0;
    for (int i = 0; i < n; i++) {
        p[i] = expf((logits[idx[i]] - logits[idx[0]]) / s->temp);
        sum += p[i];
    }
    double r = uniform(s) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += p[i];
        if (r < acc)
            return idx[i];
    }
    return idx[n - 1];
}
