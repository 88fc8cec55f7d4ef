/* wk-verify's comparison: every candidate against the reference on the same chunks of a
 * text (chunks.h), with the measures of metrics.h. The reference is a model, run once per
 * chunk (its logits kept for the exact KLD while every candidate runs that chunk), or a
 * saved reference (refstore.h). */
#ifndef WK_VERIFY_COMPARE_COMPARE_H
#define WK_VERIFY_COMPARE_COMPARE_H

#include <stddef.h>

#include "common/err.h"
#include "verify/compare/inputs.h"
#include "verify/compare/refstore.h"

typedef struct wk_compare_progress {
    uint32_t chunk, n_chunks;  /* chunks done */
    double tokens_per_s;       /* tokens evaluated per second so far, all models */
    double ppl, kld;           /* the first candidate's running figures */
} wk_compare_progress;

typedef struct wk_compare_opts {
    uint32_t n_ctx;             /* 0: 512, at most the reference's training context */
    uint32_t max_chunks;        /* 0: every chunk of the text */
    const char *save_ref;       /* write the reference's summary here */
    const char *text_name;      /* for the saved reference and the report */
    void (*progress)(void *ctx, const wk_compare_progress *p);
    void *progress_ctx;
} wk_compare_opts;

typedef struct wk_compare_result {
    wk_chunks chunks;           /* as scored */
    size_t n;                   /* candidates */
    wk_score *scores;
    double seconds;
    uint64_t tokens_evaluated;  /* all models */
} wk_compare_result;

/* With ref a model: text is tokenized by it and cut into chunks. With saved instead (ref
 * NULL), the saved chunks are used and text is ignored. Candidates must share the
 * reference's vocabulary. */
int wk_compare(wk_verify_input *ref, const wk_ref_store *saved, wk_verify_input *cands,
               size_t n, const char *text, size_t len, const wk_compare_opts *o,
               wk_compare_result *r, wk_err *e);
void wk_compare_result_free(wk_compare_result *r);

#endif
