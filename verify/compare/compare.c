/* The comparison loop (see compare.h). */
#include "verify/compare/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* exp of the mean of n values summing to sum (a running perplexity); 0 for none. */
static double exp_mean(double sum, uint64_t n)
{
    return n ? exp(sum / (double)n) : 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct cmp {
    const wk_chunks *ch;
    uint32_t n_vocab, scored;
    wk_session *ref_s, **s;       /* the reference's session (or NULL), each candidate's */
    float *ref_logits, *logits;   /* n_ctx x n_vocab each */
    wk_ref_pos *pos;              /* every position (saving) or one chunk's */
    wk_pos_measure *m;            /* one chunk's */
    wk_score_acc *acc;
} cmp;

/* Whether a chunk's per-position figures are worth more than one thread (a small
 * vocabulary's are done before the others would wake). */
static bool big(const cmp *x)
{
    return (uint64_t)x->scored * x->n_vocab >= (1u << 20);
}

/* The reference's chunk c: run it and summarize each scored position into pos. */
static int run_reference(cmp *x, uint32_t c, wk_ref_pos *pos, wk_err *e)
{
    const wk_token *toks = x->ch->tokens + (size_t)c * x->ch->n_ctx;
    wk_session_reset(x->ref_s);
    if (wk_session_eval(x->ref_s, toks, (int)x->ch->n_ctx, x->ref_logits, true, e) != 0)
        return -1;
#pragma omp parallel for schedule(static) if (big(x))
    for (uint32_t j = 0; j < x->scored; j++) {
        uint32_t at = x->ch->first + j;
        wk_ref_summarize(x->ref_logits + (size_t)at * x->n_vocab, (int)x->n_vocab, toks[at + 1],
                         &pos[j]);
    }
    return 0;
}

/* Candidate k on chunk c, measured against pos (and the reference's logits when run). */
static int run_candidate(cmp *x, size_t k, uint32_t c, const wk_ref_pos *pos, wk_err *e)
{
    const wk_token *toks = x->ch->tokens + (size_t)c * x->ch->n_ctx;
    wk_session_reset(x->s[k]);
    if (wk_session_eval(x->s[k], toks, (int)x->ch->n_ctx, x->logits, true, e) != 0)
        return -1;
#pragma omp parallel for schedule(static) if (big(x))
    for (uint32_t j = 0; j < x->scored; j++) {
        uint32_t at = x->ch->first + j;
        const float *l = x->logits + (size_t)at * x->n_vocab;
        if (x->ref_s)
            wk_measure_full(x->ref_logits + (size_t)at * x->n_vocab, &pos[j], l,
                            (int)x->n_vocab, toks[at + 1], &x->m[j]);
        else
            wk_measure_summary(&pos[j], l, (int)x->n_vocab, toks[at + 1], &x->m[j]);
    }
    for (uint32_t j = 0; j < x->scored; j++)
        if (wk_score_add(&x->acc[k], &x->m[j]) != 0)
            return wk_fail(e, "out of memory for the per-position figures");
    return 0;
}

/* Chunks and vocabulary checks; fills r->chunks. */
static int prepare(wk_verify_input *ref, const wk_ref_store *saved, wk_verify_input *cands,
                   size_t n, const char *text, size_t len, const wk_compare_opts *o,
                   wk_compare_result *r, wk_err *e)
{
    if (saved) {
        r->chunks = saved->chunks;
        size_t bytes = (size_t)saved->chunks.n_chunks * saved->chunks.n_ctx * sizeof(wk_token);
        if (!(r->chunks.tokens = malloc(bytes)))
            return wk_fail(e, "out of memory");
        memcpy(r->chunks.tokens, saved->chunks.tokens, bytes);
        for (size_t k = 0; k < n; k++) {
            const wk_vocab *v = wk_model_vocab(cands[k].model, e);
            if (!v)
                return -1;
            if (cands[k].model->info.n_vocab != saved->n_vocab ||
                wk_vocab_fingerprint(v) != saved->vocab_xxh64)
                return wk_fail(e, "%s: its vocabulary is not the saved reference's (%s, %u "
                                  "tokens)", cands[k].path, saved->reference, saved->n_vocab);
        }
        return 0;
    }
    const wk_vocab *v = wk_model_vocab(ref->model, e);
    if (!v)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (wk_verify_same_vocab(ref, &cands[k], e) != 0)
            return -1;
    uint32_t n_ctx = o->n_ctx;
    if (!n_ctx)
        n_ctx = ref->model->info.n_ctx_train < 512 ? ref->model->info.n_ctx_train : 512;
    return wk_chunks_make(v, text, len, n_ctx, o->max_chunks, &r->chunks, e);
}

static int save_reference(const cmp *x, const wk_verify_input *ref, const wk_compare_opts *o,
                          wk_err *e)
{
    const char *base = strrchr(ref->path, '/');
    wk_ref_store s = {
        .chunks = *x->ch,
        .pos = x->pos,
        .n_vocab = x->n_vocab,
        .vocab_xxh64 = wk_vocab_fingerprint(ref->model->vocab),
        .reference = (char *)(base ? base + 1 : ref->path),
        .text = (char *)(o->text_name ? o->text_name : "built-in"),
    };
    return wk_ref_store_save(&s, o->save_ref, e);
}

static int compare(cmp *x, wk_verify_input *ref, const wk_ref_store *saved,
                   wk_verify_input *cands, size_t n, const wk_compare_opts *o,
                   wk_compare_result *r, wk_err *e)
{
    const wk_chunks *ch = x->ch;
    size_t logits = (size_t)ch->n_ctx * x->n_vocab * sizeof(float);
    bool all_pos = saved || o->save_ref;
    size_t n_pos = (size_t)(all_pos ? ch->n_chunks : 1) * x->scored;
    uint32_t batch = ch->n_ctx < 512 ? ch->n_ctx : 512;
    x->s = calloc(n, sizeof *x->s);
    x->acc = calloc(n, sizeof *x->acc);
    x->m = malloc(x->scored * sizeof *x->m);
    x->logits = malloc(logits);
    x->pos = saved ? NULL : malloc(n_pos * sizeof *x->pos);
    if (!x->s || !x->acc || !x->m || !x->logits || (!saved && !x->pos) ||
        (ref && !(x->ref_logits = malloc(logits))))
        return wk_fail(e, "out of memory for the logits of %u positions", ch->n_ctx);
    if (ref && wk_session_new(ref->model, ch->n_ctx, batch, &x->ref_s, e) != 0)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (wk_session_new(cands[k].model, ch->n_ctx, batch, &x->s[k], e) != 0)
            return -1;
    double t0 = now();
    for (uint32_t c = 0; c < ch->n_chunks; c++) {
        const wk_ref_pos *pos;
        if (saved) {
            pos = saved->pos + (size_t)c * x->scored;
        } else {
            wk_ref_pos *p = x->pos + (all_pos ? (size_t)c * x->scored : 0);
            if (run_reference(x, c, p, e) != 0)
                return -1;
            r->tokens_evaluated += ch->n_ctx;
            pos = p;
        }
        for (size_t k = 0; k < n; k++) {
            if (run_candidate(x, k, c, pos, e) != 0)
                return -1;
            r->tokens_evaluated += ch->n_ctx;
        }
        if (o->progress && n) {
            wk_score_acc *a = &x->acc[0];
            wk_compare_progress p = {c + 1, ch->n_chunks,
                                     (double)r->tokens_evaluated / (now() - t0),
                                     exp_mean(a->nll, a->n), a->n ? a->kld / (double)a->n : 0};
            o->progress(o->progress_ctx, &p);
        }
    }
    r->seconds = now() - t0;
    if (o->save_ref && save_reference(x, ref, o, e) != 0)
        return -1;
    for (size_t k = 0; k < n; k++)
        wk_score_finish(&x->acc[k], &r->scores[k]);
    return 0;
}

int wk_compare(wk_verify_input *ref, const wk_ref_store *saved, wk_verify_input *cands,
               size_t n, const char *text, size_t len, const wk_compare_opts *o,
               wk_compare_result *r, wk_err *e)
{
    memset(r, 0, sizeof *r);
    if (!ref == !saved)
        return wk_fail(e, "a reference model or a saved reference, not both or neither");
    if (saved && o->save_ref)
        return wk_fail(e, "--save-ref needs the reference model, not a saved reference");
    if (prepare(ref, saved, cands, n, text, len, o, r, e) != 0)
        return -1;
    r->n = n;
    if (!(r->scores = calloc(n ? n : 1, sizeof *r->scores)))
        return wk_fail(e, "out of memory");
    cmp x = {.ch = &r->chunks, .scored = wk_chunks_scored(&r->chunks),
             .n_vocab = saved ? saved->n_vocab : ref->model->info.n_vocab};
    int rc = compare(&x, ref, saved, cands, n, o, r, e);
    wk_session_free(x.ref_s);
    for (size_t k = 0; k < n; k++) {
        if (x.s)
            wk_session_free(x.s[k]);
        if (x.acc)
            wk_score_free(&x.acc[k]);
    }
    free(x.s);
    free(x.acc);
    free(x.m);
    free(x.logits);
    free(x.ref_logits);
    free(x.pos);
    if (rc != 0)
        wk_compare_result_free(r);
    return rc;
}

void wk_compare_result_free(wk_compare_result *r)
{
    wk_chunks_free(&r->chunks);
    free(r->scores);
    memset(r, 0, sizeof *r);
}
