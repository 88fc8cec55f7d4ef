/* The figures wk-verify reports for a candidate against a reference, accumulated over the
 * scored positions of a text.
 *
 * At each position the reference is summarized (wk_ref_pos: the log-probability of the token
 * that actually comes next, and its top WK_REF_TOPK tokens with log-probabilities) — from
 * its logits when the reference model runs, or from a saved reference file. The candidate
 * contributes its logits. Per position:
 *   NLL      -log p(next), for both (perplexity = exp(mean NLL));
 *   KLD      sum_v p_ref(v) log(p_ref(v) / p_cand(v)): over the whole vocabulary when the
 *            reference logits are at hand, else over the saved top-K tokens plus the rest of
 *            the mass as one more outcome (a lower bound, equal to the full sum when the top-K
 *            hold all the reference's mass; measured in docs/wk-verify.md);
 *   top-1    whether both put the same token first; top-5 the share of the reference's five
 *            most likely tokens among the candidate's five;
 *   dp       p_cand(next) - p_ref(next) (its RMS is llama.cpp's "RMS Δp"). */
#ifndef WK_VERIFY_COMPARE_METRICS_H
#define WK_VERIFY_COMPARE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WK_REF_TOPK 32

typedef struct wk_ref_pos {
    float logp_next;                /* log p_ref(next token) */
    int32_t top_id[WK_REF_TOPK];    /* most likely first */
    float top_logp[WK_REF_TOPK];
} wk_ref_pos;

/* The reference's summary at one position, from its n_vocab logits. */
void wk_ref_summarize(const float *logits, int n_vocab, int32_t next, wk_ref_pos *out);

/* One position's measures of a candidate. */
typedef struct wk_pos_measure {
    double nll, ref_nll, kld, dp;
    bool top1;
    int top5; /* 0..5 shared tokens */
} wk_pos_measure;

/* With the reference's logits at hand (exact KLD); ref is their summary. */
void wk_measure_full(const float *ref_logits, const wk_ref_pos *ref, const float *logits,
                     int n_vocab, int32_t next, wk_pos_measure *out);
/* With the summary only (KLD over the top-K and the rest). */
void wk_measure_summary(const wk_ref_pos *ref, const float *logits, int n_vocab,
                        int32_t next, wk_pos_measure *out);

/* The running sums of one candidate. */
typedef struct wk_score_acc {
    uint64_t n;
    double nll, nll2, ref_nll, ref_nll2, cross; /* sums of nll, nll^2, ref's, nll * ref_nll */
    double kld, kld2, dp2, top5;
    uint64_t top1;
    float *klds; /* every position's KLD, for the quantiles */
    size_t cap;
} wk_score_acc;

/* Adds a position; -1 when out of memory. */
int wk_score_add(wk_score_acc *a, const wk_pos_measure *m);
void wk_score_free(wk_score_acc *a);

/* Mean and standard error. */
typedef struct wk_est {
    double value, se;
} wk_est;

typedef struct wk_score {
    uint64_t n;
    wk_est ppl, ref_ppl, dppl, ppl_ratio, kld;
    double kld_median, kld_p90, kld_p99, kld_max;
    double top1, top5, rms_dp; /* fractions */
} wk_score;

/* The figures (sorts a's KLDs). Standard errors: of means, from the sample variance over
 * positions; PPL's by the delta method (PPL x se of the mean NLL), ΔPPL's with the
 * covariance of the two NLLs, the ratio's from the NLL differences — as llama-perplexity
 * computes them. Positions are not independent, so these are scales, not exact intervals. */
void wk_score_finish(wk_score_acc *a, wk_score *out);

#endif
