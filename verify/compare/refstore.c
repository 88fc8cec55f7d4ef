/* Saved references (see refstore.h). */
#include "verify/compare/refstore.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"

#define KEY(k) "weightkit.verify." k
#define PART 4096 /* positions gathered per write */

static int put_u64(wk_gguf_writer *w, const char *key, uint64_t v, wk_err *e)
{
    return wk_gguf_set_u64(w, key, v, e);
}

/* Writes field `which` of every position (0 logp_next, 1 top_id, 2 top_logp) as one tensor,
 * gathered PART positions at a time. */
static int write_positions(wk_gguf_writer *w, const wk_ref_store *r, uint64_t n_pos, int which,
                           void *buf, wk_err *e)
{
    for (uint64_t p0 = 0; p0 < n_pos; p0 += PART) {
        uint64_t k = n_pos - p0 < PART ? n_pos - p0 : PART;
        size_t each = which == 0 ? 4 : 4 * WK_REF_TOPK;
        for (uint64_t i = 0; i < k; i++) {
            const wk_ref_pos *p = &r->pos[p0 + i];
            const void *src = which == 0 ? (const void *)&p->logp_next
                              : which == 1 ? (const void *)p->top_id : (const void *)p->top_logp;
            memcpy((uint8_t *)buf + i * each, src, each);
        }
        if (wk_gguf_write_tensor_part(w, buf, k * each, e) != 0)
            return -1;
    }
    return 0;
}

int wk_ref_store_save(const wk_ref_store *r, const char *path, wk_err *e)
{
    const wk_chunks *c = &r->chunks;
    uint64_t n_pos = (uint64_t)c->n_chunks * wk_chunks_scored(c);
    uint64_t tok_shape[2] = {c->n_chunks, c->n_ctx}, one[1] = {n_pos},
             two[2] = {n_pos, WK_REF_TOPK};
    wk_gguf_writer *w;
    void *buf = malloc((size_t)PART * 4 * WK_REF_TOPK);
    if (!buf)
        return wk_fail(e, "out of memory");
    if (wk_gguf_writer_open(path, &w, e) != 0) {
        free(buf);
        return -1;
    }
    int rc = wk_gguf_set_str(w, "general.architecture", "weightkit-verify-reference", e) ||
             wk_gguf_set_str(w, KEY("reference"), r->reference, e) ||
             wk_gguf_set_str(w, KEY("text"), r->text, e) ||
             wk_gguf_set_u32(w, KEY("n_vocab"), r->n_vocab, e) ||
             put_u64(w, KEY("vocab_xxh64"), r->vocab_xxh64, e) ||
             wk_gguf_set_u32(w, KEY("n_ctx"), c->n_ctx, e) ||
             wk_gguf_set_u32(w, KEY("first"), c->first, e) ||
             wk_gguf_set_u32(w, KEY("n_chunks"), c->n_chunks, e) ||
             wk_gguf_set_u32(w, KEY("top_k"), WK_REF_TOPK, e) ||
             put_u64(w, KEY("text_tokens"), c->n_text_tokens, e) ||
             wk_gguf_add_tensor(w, "tokens", WK_I32, 2, tok_shape, NULL, e) ||
             wk_gguf_add_tensor(w, "logp_next", WK_F32, 1, one, NULL, e) ||
             wk_gguf_add_tensor(w, "top_id", WK_I32, 2, two, NULL, e) ||
             wk_gguf_add_tensor(w, "top_logp", WK_F32, 2, two, NULL, e) ||
             wk_gguf_write_tensor(w, c->tokens, (uint64_t)c->n_chunks * c->n_ctx * 4, e) ||
             write_positions(w, r, n_pos, 0, buf, e) || write_positions(w, r, n_pos, 1, buf, e) ||
             write_positions(w, r, n_pos, 2, buf, e)
                 ? -1
                 : 0;
    free(buf);
    if (rc != 0) {
        wk_gguf_writer_abort(w);
        return -1;
    }
    return wk_gguf_writer_finish(w, e);
}

bool wk_ref_store_is(const char *path)
{
    wk_gguf *g;
    wk_err e;
    if (wk_gguf_open(path, &g, &e) != 0)
        return false;
    bool is = wk_gguf_find(g, KEY("n_ctx")) != NULL;
    wk_gguf_close(g);
    return is;
}

/* The tensor `name` of type t and exactly these dims (outermost first), or NULL with e. */
static const uint8_t *tensor(const wk_gguf *g, const char *name, wk_dtype t, uint32_t n_dims,
                             const uint64_t *shape, wk_err *e)
{
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const wk_gguf_tensor_info *ti = &g->tensors[i];
        if (ti->name.len != strlen(name) || memcmp(ti->name.ptr, name, ti->name.len) != 0)
            continue;
        bool ok = ti->dtype == t && ti->n_dims == n_dims;
        for (uint32_t d = 0; ok && d < n_dims; d++)
            ok = ti->ne[d] == shape[n_dims - 1 - d];
        if (!ok) {
            wk_fail(e, "%s: tensor '%s' is not %s of %" PRIu64 " x %" PRIu64
                       " as the keys say: not a saved reference, or a damaged one",
                    g->path, name, wk_type(t)->name, shape[0], n_dims > 1 ? shape[1] : 1);
            return NULL;
        }
        return g->data + g->data_offset + ti->offset;
    }
    wk_fail(e, "%s: no tensor '%s': not a saved reference", g->path, name);
    return NULL;
}

static int get_u32(const wk_gguf *g, const char *key, uint64_t lo, uint64_t hi, uint64_t *v,
                   wk_err *e)
{
    if (wk_gguf_get_u64(g, key, v) != 0)
        return wk_fail(e, "%s: no integer %s: not a saved reference", g->path, key);
    if (*v < lo || *v > hi)
        return wk_fail(e, "%s: %s is %" PRIu64 ", expected %" PRIu64 " to %" PRIu64, g->path,
                       key, *v, lo, hi);
    return 0;
}

static int load(const wk_gguf *g, wk_ref_store *r, wk_err *e)
{
    uint64_t n_ctx, first, n_chunks, top_k, n_vocab, text_tokens;
    if (get_u32(g, KEY("n_ctx"), 4, 1u << 24, &n_ctx, e) ||
        get_u32(g, KEY("first"), n_ctx / 2, n_ctx / 2, &first, e) ||
        get_u32(g, KEY("n_chunks"), 1, UINT32_MAX, &n_chunks, e) ||
        get_u32(g, KEY("top_k"), WK_REF_TOPK, WK_REF_TOPK, &top_k, e) ||
        get_u32(g, KEY("n_vocab"), 1, INT32_MAX, &n_vocab, e) ||
        get_u32(g, KEY("text_tokens"), n_ctx * n_chunks, UINT64_MAX, &text_tokens, e))
        return -1;
    if (wk_gguf_get_u64(g, KEY("vocab_xxh64"), &r->vocab_xxh64) != 0)
        return wk_fail(e, "%s: no %s", g->path, KEY("vocab_xxh64"));
    if (wk_gguf_get_str(g, KEY("reference"), &r->reference) != 0 ||
        wk_gguf_get_str(g, KEY("text"), &r->text) != 0)
        return wk_fail(e, "%s: no %s or %s string", g->path, KEY("reference"), KEY("text"));
    wk_chunks *c = &r->chunks;
    *c = (wk_chunks){.n_ctx = (uint32_t)n_ctx, .first = (uint32_t)first,
                     .n_chunks = (uint32_t)n_chunks, .n_text_tokens = text_tokens};
    r->n_vocab = (uint32_t)n_vocab;
    uint64_t n_pos = n_chunks * wk_chunks_scored(c);
    uint64_t tok_shape[2] = {n_chunks, n_ctx}, one[1] = {n_pos}, two[2] = {n_pos, WK_REF_TOPK};
    const uint8_t *tok = tensor(g, "tokens", WK_I32, 2, tok_shape, e), *lp, *ids, *tlp;
    if (!tok || !(lp = tensor(g, "logp_next", WK_F32, 1, one, e)) ||
        !(ids = tensor(g, "top_id", WK_I32, 2, two, e)) ||
        !(tlp = tensor(g, "top_logp", WK_F32, 2, two, e)))
        return -1;
    c->tokens = malloc(n_chunks * n_ctx * sizeof *c->tokens);
    r->pos = malloc(n_pos * sizeof *r->pos);
    if (!c->tokens || !r->pos)
        return wk_fail(e, "%s: out of memory for %" PRIu64 " positions", g->path, n_pos);
    memcpy(c->tokens, tok, n_chunks * n_ctx * 4);
    for (uint64_t i = 0; i < n_chunks * n_ctx; i++)
        if (c->tokens[i] < 0 || (uint64_t)c->tokens[i] >= n_vocab)
            return wk_fail(e, "%s: tokens[%" PRIu64 "] is %d, outside the vocabulary of %" PRIu64,
                           g->path, i, c->tokens[i], n_vocab);
    for (uint64_t i = 0; i < n_pos; i++) {
        wk_ref_pos *p = &r->pos[i];
        memcpy(&p->logp_next, lp + 4 * i, 4);
        memcpy(p->top_id, ids + 4 * WK_REF_TOPK * i, 4 * WK_REF_TOPK);
        memcpy(p->top_logp, tlp + 4 * WK_REF_TOPK * i, 4 * WK_REF_TOPK);
        for (int k = 0; k < WK_REF_TOPK; k++)
            if (p->top_id[k] < -1 || p->top_id[k] >= (int64_t)n_vocab)
                return wk_fail(e, "%s: top_id[%" PRIu64 "][%d] is %d, outside the vocabulary",
                               g->path, i, k, p->top_id[k]);
    }
    return 0;
}

int wk_ref_store_load(const char *path, wk_ref_store *out, wk_err *e)
{
    wk_gguf *g;
    memset(out, 0, sizeof *out);
    if (wk_gguf_open(path, &g, e) != 0)
        return -1;
    int rc = load(g, out, e);
    wk_gguf_close(g);
    if (rc != 0)
        wk_ref_store_free(out);
    return rc;
}

void wk_ref_store_free(wk_ref_store *r)
{
    wk_chunks_free(&r->chunks);
    free(r->pos);
    free(r->reference);
    free(r->text);
    memset(r, 0, sizeof *r);
}
