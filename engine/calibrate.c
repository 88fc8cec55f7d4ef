/* Wanda's calibration (see calibrate.h). */
#include "engine/calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct wk_calib {
    wk_model *m;
    void *state;               /* the family's state for one sequence */
    uint32_t seq_len, n_seq, dim;
    float *hidden;             /* n_seq x seq_len x dim: the input of layer `at` */
    float *tmp;                /* one sequence's copy, run for the recording */
    uint32_t at;               /* the layer the hidden states enter */
    bool wanted[WK_ROLE_COUNT];    /* the roles being recorded */
    double *sums[WK_ROLE_COUNT];   /* their sums of squares per input column */
    int64_t cols[WK_ROLE_COUNT];
    bool oom;
    float *pruned[WK_ROLE_COUNT];  /* layer `at`'s pruned weights, installed in the model */
};

int wk_calib_open(wk_model *m, const char *text, size_t len, uint64_t n_tokens,
                  uint32_t seq_len, wk_calib **out, wk_err *e)
{
    *out = NULL;
    const wk_vocab *v = wk_model_vocab(m, e);
    if (!v)
        return -1;
    if (!m->arch->layer || !m->arch->set_weight)
        return wk_fail(e, "%s: architecture %s cannot be calibrated layer by layer", m->path,
                       m->arch->name);
    if (seq_len == 0 || n_tokens == 0 || n_tokens % seq_len != 0)
        return wk_fail(e, "%llu calibration tokens are not a whole number of sequences of %u",
                       (unsigned long long)n_tokens, seq_len);
    wk_tokens t = {0};
    if (wk_tokenize(v, text, len, WK_TOK_ADD_SPECIAL, &t, e) != 0)
        return -1;
    if (t.n < n_tokens) {
        wk_fail(e, "the calibration text is %zu tokens; %llu were asked for (--calib-tokens)",
                t.n, (unsigned long long)n_tokens);
        wk_tokens_free(&t);
        return -1;
    }
    wk_calib *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) {
        wk_tokens_free(&t);
        return wk_fail(e, "out of memory");
    }
    c->m = m;
    c->seq_len = seq_len;
    c->n_seq = (uint32_t)(n_tokens / seq_len);
    c->dim = m->info.n_embd;
    c->hidden = malloc(n_tokens * c->dim * sizeof(float));
    c->tmp = malloc((size_t)seq_len * c->dim * sizeof(float));
    int rc = !c->hidden || !c->tmp ? wk_fail(e, "out of memory for %llu hidden states",
                                             (unsigned long long)n_tokens)
                                   : m->arch->state_new(m->impl, seq_len, seq_len, &c->state, e);
    const wk_vocab_info *vi = wk_vocab_get_info(v);
    for (uint32_t s = 0; rc == 0 && s < c->n_seq; s++) {
        if (vi->add_bos && vi->bos != WK_TOKEN_NULL)
            t.ids[(size_t)s * seq_len] = vi->bos;
        m->arch->embed(m->impl, t.ids + (size_t)s * seq_len, (int)seq_len,
                       c->hidden + (size_t)s * seq_len * c->dim);
    }
    wk_tokens_free(&t);
    if (rc != 0) {
        wk_calib_free(c);
        *out = NULL;
    }
    return rc;
}

void wk_calib_free(wk_calib *c)
{
    if (!c)
        return;
    if (c->state)
        c->m->arch->state_free(c->state);
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        free(c->sums[r]);
        free(c->pruned[r]);
    }
    free(c->hidden);
    free(c->tmp);
    free(c);
}

/* The capture hook: adds the squares of each input column. */
static void record(void *ctx, uint32_t layer, wk_role role, const float *x, int n, int64_t cols)
{
    wk_calib *c = ctx;
    (void)layer;
    if (!c->wanted[role])
        return;
    if (!c->sums[role]) {
        c->cols[role] = cols;
        c->sums[role] = calloc((size_t)cols, sizeof(double));
        c->oom |= !c->sums[role];
        if (!c->sums[role])
            return;
    }
    double *s = c->sums[role];
    for (int t = 0; t < n; t++)
        for (int64_t j = 0; j < cols; j++)
            s[j] += (double)x[(size_t)t * cols + j] * x[(size_t)t * cols + j];
}

/* Runs layer `at` (now pruned) on every sequence's hidden states: the next layer's input. */
static void advance(wk_calib *c)
{
    for (uint32_t s = 0; s < c->n_seq; s++)
        c->m->arch->layer(c->m->impl, c->state, c->at,
                          c->hidden + (size_t)s * c->seq_len * c->dim, (int)c->seq_len, 0,
                          NULL, NULL);
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        free(c->pruned[r]);
        c->pruned[r] = NULL;
    }
    c->at++;
}

int wk_calib_layer_norms(void *ctx, uint32_t l, float *const norms[WK_ROLE_COUNT], wk_err *e)
{
    wk_calib *c = ctx;
    if (l < c->at || l >= c->m->info.n_layer)
        return wk_fail(e, "calibration: layer %u asked after layer %u (or past the last)", l,
                       c->at);
    while (c->at < l)
        advance(c);
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        free(c->sums[r]);
        c->sums[r] = NULL;
        c->wanted[r] = norms[r] != NULL;
    }
    size_t bytes = (size_t)c->seq_len * c->dim * sizeof(float);
    for (uint32_t s = 0; s < c->n_seq; s++) {
        memcpy(c->tmp, c->hidden + (size_t)s * c->seq_len * c->dim, bytes);
        c->m->arch->layer(c->m->impl, c->state, l, c->tmp, (int)c->seq_len, 0, record, c);
    }
    if (c->oom)
        return wk_fail(e, "out of memory for the calibration sums");
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        if (!norms[r])
            continue;
        if (!c->sums[r])
            return wk_fail(e, "calibration: layer %u has no matrix of role %d", l, r);
        for (int64_t j = 0; j < c->cols[r]; j++)
            norms[r][j] = (float)sqrt(c->sums[r][j]);
    }
    return 0;
}

int wk_calib_pruned(void *ctx, uint32_t l, wk_role role, const float *w, int64_t rows,
                    int64_t cols, wk_err *e)
{
    wk_calib *c = ctx;
    if (l != c->at)
        return wk_fail(e, "calibration: pruned weights of layer %u while at layer %u", l, c->at);
    size_t bytes = (size_t)rows * (size_t)cols * sizeof(float);
    float *copy = malloc(bytes);
    if (!copy)
        return wk_fail(e, "out of memory for a pruned matrix of layer %u", l);
    memcpy(copy, w, bytes);
    if (c->m->arch->set_weight(c->m->impl, l, role, copy, WK_F32, e) != 0) {
        free(copy);
        return -1;
    }
    free(c->pruned[role]);
    c->pruned[role] = copy;
    return 0;
}
