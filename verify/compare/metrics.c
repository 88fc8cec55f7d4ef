/* The per-position measures and their sums (see metrics.h). */
#include "verify/compare/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

/* log sum_v exp(x[v]), in double around the maximum. */
static double log_sum_exp(const float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += exp((double)x[i] - max);
    return max + log(s);
}

/* The k largest of x (k <= WK_REF_TOPK), largest first, ties to the lower id. */
static void top_k(const float *x, int n, int k, int32_t *id)
{
    float val[WK_REF_TOPK];
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && x[i] <= val[k - 1])
            continue;
        int at = have < k ? have++ : k - 1;
        while (at > 0 && val[at - 1] < x[i]) {
            val[at] = val[at - 1];
            id[at] = id[at - 1];
            at--;
        }
        val[at] = x[i];
        id[at] = i;
    }
}

void wk_ref_summarize(const float *logits, int n_vocab, int32_t next, wk_ref_pos *out)
{
    double lse = log_sum_exp(logits, n_vocab);
    int k = n_vocab < WK_REF_TOPK ? n_vocab : WK_REF_TOPK;
    memset(out, 0, sizeof *out);
    top_k(logits, n_vocab, k, out->top_id);
    for (int i = 0; i < WK_REF_TOPK; i++) {
        if (i >= k) {
            out->top_id[i] = -1;
            out->top_logp[i] = -INFINITY;
            continue;
        }
        out->top_logp[i] = (float)(logits[out->top_id[i]] - lse);
    }
    out->logp_next = (float)(logits[next] - lse);
}

/* What both measures share: NLLs, dp, top-1, top-5; returns the candidate's lse. */
static double common(const wk_ref_pos *ref, const float *logits, int n_vocab, int32_t next,
                     wk_pos_measure *m)
{
    double lse = log_sum_exp(logits, n_vocab);
    int32_t top5[5];
    int k = n_vocab < 5 ? n_vocab : 5;
    top_k(logits, n_vocab, k, top5);
    m->nll = lse - logits[next];
    m->ref_nll = -(double)ref->logp_next;
    m->dp = exp(-m->nll) - exp(-m->ref_nll);
    m->top1 = top5[0] == ref->top_id[0];
    m->top5 = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            m->top5 += top5[i] == ref->top_id[j];
    return lse;
}

void wk_measure_full(const float *ref_logits, const wk_ref_pos *ref, const float *logits,
                     int n_vocab, int32_t next, wk_pos_measure *out)
{
    double lse = common(ref, logits, n_vocab, next, out);
    double ref_lse = log_sum_exp(ref_logits, n_vocab), kld = 0;
    /* in double from the logits, not from the summary's float */
    out->ref_nll = ref_lse - ref_logits[next];
    out->dp = exp(-out->nll) - exp(-out->ref_nll);
    for (int i = 0; i < n_vocab; i++) {
        double lr = ref_logits[i] - ref_lse, lc = logits[i] - lse;
        kld += exp(lr) * (lr - lc);
    }
    out->kld = kld;
}

void wk_measure_summary(const wk_ref_pos *ref, const float *logits, int n_vocab,
                        int32_t next, wk_pos_measure *out)
{
    double lse = common(ref, logits, n_vocab, next, out);
    double kld = 0, ref_mass = 0, mass = 0;
    for (int i = 0; i < WK_REF_TOPK && ref->top_id[i] >= 0; i++) {
        double lr = ref->top_logp[i], lc = logits[ref->top_id[i]] - lse;
        kld += exp(lr) * (lr - lc);
        ref_mass += exp(lr);
        mass += exp(lc);
    }
    /* the other tokens as one outcome: its mass under each model. The saved log-probs are
     * floats, so a rest below 1e-6 is their rounding, not mass. */
    double ref_rest = 1 - ref_mass, rest = 1 - mass;
    if (ref_rest > 1e-6)
        kld += ref_rest * (log(ref_rest) - log(rest > 1e-30 ? rest : 1e-30));
    out->kld = kld;
}

int wk_score_add(wk_score_acc *a, const wk_pos_measure *m)
{
    if (wk_grow((void **)&a->klds, &a->cap, (size_t)a->n + 1, sizeof *a->klds) != 0)
        return -1;
    a->klds[a->n++] = (float)m->kld;
    a->nll += m->nll;
    a->nll2 += m->nll * m->nll;
    a->ref_nll += m->ref_nll;
    a->ref_nll2 += m->ref_nll * m->ref_nll;
    a->cross += m->nll * m->ref_nll;
    a->kld += m->kld;
    a->kld2 += m->kld * m->kld;
    a->dp2 += m->dp * m->dp;
    a->top1 += m->top1;
    a->top5 += m->top5 / 5.0;
    return 0;
}

void wk_score_free(wk_score_acc *a)
{
    free(a->klds);
    memset(a, 0, sizeof *a);
}

static int by_value(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The sample variance from sums over n (0 for n < 2). */
static double variance(double sum, double sum2, double n)
{
    if (n < 2)
        return 0;
    double v = (sum2 / n - (sum / n) * (sum / n)) * n / (n - 1);
    return v > 0 ? v : 0;
}

/* The nearest-rank quantile p of sorted x[0..n). */
static double quantile(const float *x, uint64_t n, double p)
{
    uint64_t r = (uint64_t)ceil(p * (double)n);
    return x[r > 0 ? r - 1 : 0];
}

void wk_score_finish(wk_score_acc *a, wk_score *o)
{
    memset(o, 0, sizeof *o);
    double n = (double)a->n;
    o->n = a->n;
    if (a->n == 0)
        return;
    double m = a->nll / n, mr = a->ref_nll / n;
    double v = variance(a->nll, a->nll2, n), vr = variance(a->ref_nll, a->ref_nll2, n);
    double cov = n > 1 ? (a->cross / n - m * mr) * n / (n - 1) : 0;
    o->ppl = (wk_est){exp(m), exp(m) * sqrt(v / n)};
    o->ref_ppl = (wk_est){exp(mr), exp(mr) * sqrt(vr / n)};
    double p = o->ppl.value, pr = o->ref_ppl.value;
    double vd = (p * p * v + pr * pr * vr - 2 * p * pr * cov) / n;
    o->dppl = (wk_est){p - pr, sqrt(vd > 0 ? vd : 0)};
    double vdiff = v + vr - 2 * cov;
    o->ppl_ratio = (wk_est){exp(m - mr), exp(m - mr) * sqrt(vdiff > 0 ? vdiff / n : 0)};
    o->kld = (wk_est){a->kld / n, sqrt(variance(a->kld, a->kld2, n) / n)};
    qsort(a->klds, a->n, sizeof *a->klds, by_value);
    uint64_t h = a->n / 2;
    o->kld_median = a->n % 2 ? a->klds[h] : 0.5 * ((double)a->klds[h - 1] + a->klds[h]);
    o->kld_p90 = quantile(a->klds, a->n, 0.90);
    o->kld_p99 = quantile(a->klds, a->n, 0.99);
    o->kld_max = a->klds[a->n - 1];
    o->top1 = (double)a->top1 / n;
    o->top5 = a->top5 / n;
    o->rms_dp = sqrt(a->dp2 / n);
}
