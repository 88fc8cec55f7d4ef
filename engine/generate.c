/* Generation (see generate.h). */
#include "engine/generate.h"

#include <stdlib.h>
#include <time.h>

#include "formats/npy/npy.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorted in place); 0 for none. */
static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The text of the tokens pushed since the last call, handed to emit. */
static int emit_held(wk_buf *text, wk_gen_emit emit, void *ctx)
{
    int rc = text->len && emit ? emit((const char *)text->p, text->len, ctx) : 0;
    text->len = 0;
    return rc;
}

typedef struct run {
    wk_session *s;
    float *logits;       /* n_batch rows (logits file) or one */
    uint32_t n_vocab;
    wk_outfile npy;
    bool npy_open;
    uint64_t rows;
} run;

/* Evaluates tokens[0..n), leaving the last position's logits in r->logits (row 0 when
 * there is no logits file, else the last row written), writing every row to the file. */
static int eval(run *r, const wk_token *tokens, int n, float **last, wk_err *e)
{
    if (!r->npy_open) {
        if (wk_session_eval(r->s, tokens, n, r->logits, false, e) != 0)
            return -1;
        *last = r->logits;
        return 0;
    }
    for (int at = 0; at < n; at += (int)r->s->n_batch) {
        int m = n - at < (int)r->s->n_batch ? n - at : (int)r->s->n_batch;
        size_t row = (size_t)r->n_vocab * sizeof(float);
        if (wk_session_eval(r->s, tokens + at, m, r->logits, true, e) != 0 ||
            wk_out_write(&r->npy, r->logits, (size_t)m * row, e) != 0)
            return -1;
        r->rows += (uint64_t)m;
        *last = r->logits + (size_t)(m - 1) * r->n_vocab;
    }
    return 0;
}

static int generate(run *r, const wk_vocab *tok, const wk_token *prompt, int n_prompt,
                    const wk_gen_opts *o, wk_gen_emit emit, void *ctx, wk_gen_stats *st,
                    wk_err *e)
{
    wk_detok d;
    wk_buf text = {0};
    int rc = -1;
    float *last = NULL;
    void *scratch = malloc(wk_sample_scratch((int)r->n_vocab));
    /* one time per decode pass: fewer than the context holds, however large n_predict is */
    size_t most = o->n_predict < (int)r->s->n_ctx ? (size_t)o->n_predict : r->s->n_ctx;
    double *pass_s = malloc((most + 1) * sizeof *pass_s);
    int passes = 0;
    wk_sampler sampler = o->sampler;
    wk_detok_init(&d, tok, WK_DETOK_STRIP_SPACE);
    if (!scratch || !pass_s) {
        wk_fail(e, "out of memory");
        goto done;
    }
    double t0 = now();
    if (eval(r, prompt, n_prompt, &last, e) != 0)
        goto done;
    st->prefill_s = now() - t0;
    st->n_prompt = n_prompt;
    for (int i = 0; o->echo_prompt && i < n_prompt; i++)
        if (wk_detok_push(&d, prompt[i], &text, e) != 0)
            goto done;
    if (emit_held(&text, emit, ctx) != 0)
        goto stopped;
    t0 = now();
    for (int i = 0; i < o->n_predict; i++) {
        wk_token next = wk_sample(&sampler, last, (int)r->n_vocab, scratch);
        if (wk_token_is_eog(tok, next) && !o->ignore_eos) {
            st->hit_eog = true;
            break;
        }
        st->n_generated++;
        if (wk_detok_push(&d, next, &text, e) != 0)
            goto done;
        if (emit_held(&text, emit, ctx) != 0)
            goto stopped;
        if (i + 1 == o->n_predict)
            break;
        if (r->s->pos == r->s->n_ctx) {
            st->hit_ctx = true;
            break;
        }
        double t1 = now();
        if (eval(r, &next, 1, &last, e) != 0)
            goto done;
        pass_s[passes++] = now() - t1;
    }
    st->decode_s = now() - t0;
    st->pass_median_s = median(pass_s, passes);
    wk_detok_flush(&d, &text);
    if (emit_held(&text, emit, ctx) != 0)
        goto stopped;
    rc = 0;
    goto done;
stopped:
    wk_fail(e, "writing the generated text failed");
done:
    wk_buf_free(&text);
    free(scratch);
    free(pass_s);
    return rc;
}

int wk_generate(wk_session *s, const wk_vocab *tok, const wk_token *prompt, int n_prompt,
                const wk_gen_opts *o, wk_gen_emit emit, void *ctx, wk_gen_stats *st,
                wk_err *e)
{
    *st = (wk_gen_stats){0};
    if (n_prompt <= 0)
        return wk_fail(e, "the prompt has no tokens");
    if ((uint32_t)n_prompt > s->n_ctx)
        return wk_fail(e, "the prompt is %d tokens but the context holds %u (raise --ctx, "
                          "at most the model's %u)",
                       n_prompt, s->n_ctx, s->model->info.n_ctx_train);
    run r = {.s = s, .n_vocab = s->model->info.n_vocab};
    wk_session_reset(s);
    r.logits = malloc((size_t)(o->logits_path ? s->n_batch : 1) * r.n_vocab * sizeof(float));
    if (!r.logits)
        return wk_fail(e, "out of memory for the logits");
    if (o->logits_path) {
        if (wk_npy_open(&r.npy, o->logits_path, r.n_vocab, e) != 0) {
            free(r.logits);
            return -1;
        }
        r.npy_open = true;
    }
    int rc = generate(&r, tok, prompt, n_prompt, o, emit, ctx, st, e);
    if (r.npy_open) {
        if (rc == 0)
            rc = wk_npy_finish(&r.npy, r.rows, r.n_vocab, e);
        else
            wk_out_abort(&r.npy);
    }
    free(r.logits);
    return rc;
}
