/* Golden sets run through the engine (see golden.h): recording is greedy generation from
 * the reference; checking is one teacher-forced pass per prompt. Both run the prompt but
 * its last token first, then the rest, so that the logits kept are only the continuation's
 * (a long prompt on a large vocabulary would otherwise hold n_prompt x n_vocab floats). */
#include "verify/compare/golden.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/grow.h"
#include "engine/sample.h"

/* Greedy sampling's choice, so that checking picks what generating would have. */
static wk_token argmax(const float *logits, int n_vocab)
{
    wk_sampler greedy = {.temp = 0};
    return wk_sample(&greedy, logits, n_vocab, NULL);
}

uint32_t wk_golden_match(const float *logits, int n_vocab, const wk_token *want, uint32_t n,
                         wk_token *got)
{
    *got = WK_TOKEN_NULL;
    for (uint32_t i = 0; i < n; i++) {
        wk_token t = argmax(logits + (size_t)i * (size_t)n_vocab, n_vocab);
        if (t != want[i]) {
            *got = t;
            return i;
        }
    }
    return n;
}

static int push(wk_tokens *v, wk_token id, wk_err *e)
{
    if (wk_grow((void **)&v->ids, &v->cap, v->n + 1, sizeof *v->ids) != 0)
        return wk_fail(e, "out of memory");
    v->ids[v->n++] = id;
    return 0;
}

/* BOS (when the vocabulary adds one) and text's ids, as wk-run tokenizes a prompt; no EOS
 * even where the vocabulary adds one, since the continuation follows. */
static int tokenize(const wk_vocab *v, const char *text, wk_tokens *out, wk_err *e)
{
    const wk_vocab_info *in = wk_vocab_get_info(v);
    out->n = 0;
    if (in->add_bos && in->bos != WK_TOKEN_NULL && push(out, in->bos, e) != 0)
        return -1;
    return wk_tokenize(v, text, strlen(text), 0, out, e);
}

/* The prompt's tokens are not a prefix of prompt + expected's: the text joins across. */
static int boundary_error(const wk_golden *g, size_t it, const wk_vocab *v, wk_token id,
                          wk_err *e)
{
    size_t len = 0;
    const char *p = wk_token_piece(v, id, true, &len);
    char *show = wk_golden_show(p ? p : "", p ? len : 0, 40);
    wk_fail(e, "%s:%u: the prompt's token %s becomes part of another token when the expected "
               "text follows it, so the prompt's tokens do not start prompt + expected's; move "
               "the boundary (a trailing space of the prompt to the start of expected) or give "
               "\"tokens\"", g->path, g->items[it].line, show ? show : "");
    free(show);
    return -1;
}

int wk_golden_resolve(const wk_golden *g, size_t it, const wk_vocab *v, wk_tokens *prompt,
                      wk_tokens *cont, uint32_t *need, wk_err *e)
{
    const wk_golden_item *item = &g->items[it];
    uint32_t n_vocab = wk_vocab_get_info(v)->n_vocab;
    cont->n = 0;
    if (tokenize(v, item->prompt, prompt, e) != 0)
        return wk_fail_prefix(e, "%s:%u", g->path, item->line);
    if (item->has_tokens) {
        for (size_t i = 0; i < item->n_tokens; i++) {
            if ((uint32_t)item->tokens[i] >= n_vocab)
                return wk_fail(e, "%s:%u: \"tokens\"[%zu] is %d, outside the vocabulary of %u "
                                  "tokens", g->path, item->line, i, item->tokens[i], n_vocab);
            if (push(cont, item->tokens[i], e) != 0)
                return -1;
        }
    } else {
        size_t lp = strlen(item->prompt), lx = strlen(item->expected);
        char *both = malloc(lp + lx + 1);
        if (!both)
            return wk_fail(e, "out of memory");
        memcpy(both, item->prompt, lp);
        memcpy(both + lp, item->expected, lx + 1);
        int rc = tokenize(v, both, cont, e);
        free(both);
        if (rc != 0)
            return wk_fail_prefix(e, "%s:%u", g->path, item->line);
        size_t k = 0;
        while (k < prompt->n && k < cont->n && prompt->ids[k] == cont->ids[k])
            k++;
        if (k < prompt->n)
            return boundary_error(g, it, v, prompt->ids[k], e);
        memmove(cont->ids, cont->ids + k, (cont->n - k) * sizeof *cont->ids);
        cont->n -= k;
    }
    if (cont->n > UINT32_MAX / 2)
        return wk_fail(e, "%s:%u: a continuation of %zu tokens is too long", g->path,
                       item->line, cont->n);
    *need = item->min_match < 0 ? (uint32_t)cont->n : (uint32_t)item->min_match;
    if (*need > cont->n)
        return wk_fail(e, "%s:%u: min_match %ld is more than the %zu token%s of the expected "
                          "continuation", g->path, item->line, item->min_match, cont->n,
                       cont->n == 1 ? "" : "s");
    return 0;
}

static uint32_t context_of(const wk_model *m, uint32_t n_ctx)
{
    return n_ctx ? n_ctx : m->info.n_ctx_train;
}

/* The prompt but its last token (which the first continuation position needs, so it is
 * run with the rest), into a fresh session; logits receives one row. */
static int prefill(wk_session *s, const wk_tokens *prompt, float *logits, wk_err *e)
{
    wk_session_reset(s);
    if (prompt->n < 2)
        return 0;
    return wk_session_eval(s, prompt->ids, (int)prompt->n - 1, logits, false, e);
}

/* Greedy generation for one item: fills its tokens, expected text and min_match. */
static int record_one(wk_session *s, const wk_vocab *v, wk_golden *g, size_t it,
                      int n_predict, float *logits, wk_tokens *prompt, wk_err *e)
{
    wk_golden_item *item = &g->items[it];
    wk_tokens out = {0};
    wk_buf text = {0};
    wk_detok d;
    int rc = -1;
    uint32_t n_vocab = s->model->info.n_vocab;
    if (tokenize(v, item->prompt, prompt, e) != 0)
        return wk_fail_prefix(e, "%s:%u", g->path, item->line);
    if (prompt->n > s->n_ctx)
        return wk_fail(e, "%s:%u: the prompt is %zu tokens but the context holds %u (raise "
                          "--ctx)", g->path, item->line, prompt->n, s->n_ctx);
    if (prefill(s, prompt, logits, e) != 0 ||
        wk_session_eval(s, prompt->ids + prompt->n - 1, 1, logits, false, e) != 0)
        goto done;
    for (int i = 0; i < n_predict; i++) {
        wk_token next = argmax(logits, (int)n_vocab);
        if (push(&out, next, e) != 0)
            goto done;
        if (wk_token_is_eog(v, next) || i + 1 == n_predict || s->pos == s->n_ctx)
            break;
        if (wk_session_eval(s, &next, 1, logits, false, e) != 0)
            goto done;
    }
    /* the prompt first, so that the continuation's text is what follows it in the whole */
    wk_detok_init(&d, v, WK_DETOK_STRIP_SPACE);
    for (size_t i = 0; i < prompt->n; i++)
        if (wk_detok_push(&d, prompt->ids[i], &text, e) != 0)
            goto done;
    text.len = 0;
    for (size_t i = 0; i < out.n; i++)
        if (wk_detok_push(&d, out.ids[i], &text, e) != 0)
            goto done;
    wk_detok_flush(&d, &text);
    wk_buf_put(&text, "", 1);
    if (text.oom) {
        wk_fail(e, "out of memory");
        goto done;
    }
    free(item->expected);
    free(item->tokens);
    item->expected = (char *)text.p;
    text.p = NULL;
    item->tokens = out.ids;
    item->n_tokens = out.n;
    item->has_tokens = true;
    item->min_match = (long)out.n;
    out.ids = NULL;
    rc = 0;
done:
    wk_buf_free(&text);
    wk_tokens_free(&out);
    return rc;
}

int wk_golden_record(wk_model *m, uint32_t n_ctx, int n_predict, wk_golden *g, wk_err *e)
{
    const wk_vocab *v = wk_model_vocab(m, e);
    if (!v)
        return -1;
    if (n_predict < 1)
        return wk_fail(e, "%d tokens to generate: at least 1", n_predict);
    wk_session *s = NULL;
    wk_tokens prompt = {0};
    float *logits = malloc((size_t)m->info.n_vocab * sizeof *logits);
    int rc = logits ? 0 : wk_fail(e, "out of memory for the logits");
    if (rc == 0)
        rc = wk_session_new(m, context_of(m, n_ctx), 0, &s, e);
    for (size_t i = 0; rc == 0 && i < g->n; i++)
        rc = record_one(s, v, g, i, n_predict, logits, &prompt, e);
    wk_tokens_free(&prompt);
    wk_session_free(s);
    free(logits);
    return rc;
}

typedef struct checker {
    wk_session *s;
    const wk_vocab *v;
    wk_tokens prompt, cont, feed;
    float *logits;
    size_t rows;          /* logits holds this many rows */
} checker;

static int check_one(checker *c, const wk_golden *g, size_t it, wk_golden_result *r,
                     wk_err *e)
{
    uint32_t need, n_vocab = c->s->model->info.n_vocab;
    if (wk_golden_resolve(g, it, c->v, &c->prompt, &c->cont, &need, e) != 0)
        return -1;
    size_t n_p = c->prompt.n, n_c = c->cont.n;
    /* the last expected token is never fed: nothing is predicted after it */
    size_t fed = n_p + (n_c ? n_c - 1 : 0);
    *r = (wk_golden_result){.n_prompt = (uint32_t)n_p, .n_expected = (uint32_t)n_c,
                            .need = need, .want = WK_TOKEN_NULL, .got = WK_TOKEN_NULL};
    if (fed > c->s->n_ctx)
        return wk_fail(e, "%s:%u: the prompt (%zu tokens) and its continuation (%zu) need a "
                          "context of %zu; it holds %u (raise --ctx)", g->path,
                       g->items[it].line, n_p, n_c, fed, c->s->n_ctx);
    if (n_c == 0) {
        r->pass = true;
        return 0;
    }
    if (c->rows < n_c) {
        float *p = realloc(c->logits, n_c * n_vocab * sizeof *p);
        if (!p)
            return wk_fail(e, "out of memory for the logits of %zu positions", n_c);
        c->logits = p;
        c->rows = n_c;
    }
    /* the prompt's last token, then every expected token but the last: n_c positions */
    c->feed.n = 0;
    if (push(&c->feed, c->prompt.ids[n_p - 1], e) != 0)
        return -1;
    for (size_t i = 0; i + 1 < n_c; i++)
        if (push(&c->feed, c->cont.ids[i], e) != 0)
            return -1;
    if (prefill(c->s, &c->prompt, c->logits, e) != 0 ||
        wk_session_eval(c->s, c->feed.ids, (int)n_c, c->logits, true, e) != 0)
        return wk_fail_prefix(e, "%s:%u", g->path, g->items[it].line);
    r->matched = wk_golden_match(c->logits, (int)n_vocab, c->cont.ids, (uint32_t)n_c, &r->got);
    if (r->matched < n_c)
        r->want = c->cont.ids[r->matched];
    r->pass = r->matched >= need;
    return 0;
}

int wk_golden_check(const wk_golden *g, wk_model *m, uint32_t n_ctx, wk_golden_result *out,
                    wk_err *e)
{
    checker c = {0};
    if (!(c.v = wk_model_vocab(m, e)))
        return -1;
    int rc = wk_session_new(m, context_of(m, n_ctx), 0, &c.s, e);
    for (size_t i = 0; rc == 0 && i < g->n; i++)
        rc = check_one(&c, g, i, &out[i], e);
    wk_session_free(c.s);
    wk_tokens_free(&c.prompt);
    wk_tokens_free(&c.cont);
    wk_tokens_free(&c.feed);
    free(c.logits);
    return rc;
}
