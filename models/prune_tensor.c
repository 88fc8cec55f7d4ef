/* Pruning one tensor of wk-prune's pipeline (see prune_impl.h): read into F32 in the
 * output's layout, count the zeros it already has, select (quant/prune.h) by the method and
 * scope, with Wanda's column norms fetched from the engine once per layer, and hand back
 * the bytes to write. Kept weights are never converted back: an F16 or BF16 tensor's output
 * is its own input bytes with zeros written where the F32 copy was pruned, so nothing but
 * zeros can change, whatever a round trip through float would do to a NaN's payload. */
#include <stdlib.h>
#include <string.h>

#include "models/prune_impl.h"
#include "models/qk_permute.h"
#include "quant/half.h"

wk_stream_job wk_pr_job(const pr_item *it, const wk_view *v, wk_dtype dst)
{
    return (wk_stream_job){.name = it->name, .src = v, .src_type = it->type, .rows = it->rows,
                           .cols = it->cols, .dst_type = dst};
}

static bool matrix_role(wk_role r)
{
    return r == WK_ROLE_ATTN_Q || r == WK_ROLE_ATTN_K || r == WK_ROLE_ATTN_V ||
           r == WK_ROLE_ATTN_OUT || r == WK_ROLE_FFN_GATE || r == WK_ROLE_FFN_UP ||
           r == WK_ROLE_FFN_DOWN;
}

/* ---- counting zeros ---- */

static uint64_t zeros_f32(const float *w, uint64_t n)
{
    uint64_t z = 0;
    for (uint64_t i = 0; i < n; i++)
        z += (wk_f32_bits(w[i]) & 0x7fffffffu) == 0;
    return z;
}

void wk_pr_count_kept(pr_item *it, const void *data, wk_dtype type, uint64_t n)
{
    uint64_t z = 0;
    if (type == WK_F32) {
        z = zeros_f32(data, n);
    } else if (type == WK_F16 || type == WK_BF16) { /* both: sign bit 15, zero is the rest */
        const uint16_t *h = data;
        for (uint64_t i = 0; i < n; i++)
            z += (h[i] & 0x7fffu) == 0;
    }
    it->rep->c = (wk_prune_counts){n, z, z};
}

/* ---- Wanda's norms ---- */

static void drop_norms(pruner *p)
{
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        free(p->norms[r]);
        p->norms[r] = NULL;
    }
    p->norms_layer = -1;
}

/* Asks the engine for layer l's column norms, once, before its first matrix is pruned. */
static int layer_norms(pruner *p, int l, wk_err *e)
{
    if (p->norms_layer == l)
        return 0;
    drop_norms(p);
    const wk_prune_calib *c = p->o->calib;
    if (!c || !c->layer_norms || !c->pruned)
        return wk_fail(e, "Wanda needs the engine's calibration (engine/calibrate.h), and "
                          "none was given");
    for (size_t k = 0; k < p->n; k++) {
        const pr_item *it = &p->it[k];
        if (it->layer == l && matrix_role(it->role) && it->n_dims == 2 && !p->norms[it->role] &&
            !(p->norms[it->role] = calloc(it->cols, sizeof(float))))
            return wk_fail(e, "out of memory for layer %d's column norms", l);
    }
    if (c->layer_norms(c->ctx, (uint32_t)l, p->norms, e) != 0)
        return wk_fail_prefix(e, "calibrating layer %d", l);
    p->norms_layer = l;
    return 0;
}

/* Tells the engine what layer l's matrix became, its rows in GGUF order. */
static int report_pruned(pruner *p, const pr_item *it, const float *w, wk_err *e)
{
    const wk_prune_calib *c = p->o->calib;
    float *gguf = NULL;
    if (it->gguf_heads) { /* a Hugging Face q/k: the engine's rows are un-permuted */
        if (wk_qk_check(it->name, it->rows, it->gguf_heads, e))
            return -1;
        if (!(gguf = malloc(it->rows * it->cols * sizeof *gguf)))
            return wk_fail(e, "tensor '%s': out of memory", it->name);
        for (uint64_t r = 0; r < it->rows; r++)
            memcpy(gguf + r * it->cols,
                   w + wk_qk_unpermute_src(r, it->rows, it->gguf_heads) * it->cols,
                   it->cols * sizeof *gguf);
        w = gguf;
    }
    int rc = c->pruned(c->ctx, (uint32_t)it->layer, it->role, w, (int64_t)it->rows,
                       (int64_t)it->cols, e);
    free(gguf);
    return rc ? wk_fail_prefix(e, "calibration, after pruning '%s'", it->name) : 0;
}

/* ---- selection ---- */

static int select_tensor_scope(float *w, const pr_item *it, double s, wk_err *e)
{
    wk_prune_select sel;
    uint64_t n = it->rows * it->cols;
    if (wk_prune_select_init(&sel, (uint64_t)wk_prune_count(s, (int64_t)n), e) != 0)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        wk_prune_select_add(&sel, w, (int64_t)n);
        wk_prune_select_next(&sel);
    }
    int rc = wk_prune_select_apply(&sel, w, (int64_t)it->rows, (int64_t)it->cols, e);
    wk_prune_select_free(&sel);
    return rc;
}

static int select_weights(pruner *p, const pr_item *it, float *w, wk_err *e)
{
    const wk_prune_opts *o = p->o;
    const float *scale = NULL;
    if (o->method == WK_PRUNE_WANDA) {
        if (layer_norms(p, it->layer, e) != 0)
            return -1;
        if (!(scale = p->norms[it->role]))
            return wk_fail(e, "tensor '%s': no column norms for it", it->name);
    }
    int rc;
    if (o->nm_m)
        rc = wk_prune_rows_nm(w, (int64_t)it->rows, (int64_t)it->cols, scale, o->nm_n, o->nm_m,
                              e);
    else if (o->scope == WK_PRUNE_TENSOR)
        rc = select_tensor_scope(w, it, o->sparsity, e);
    else if (o->scope == WK_PRUNE_GLOBAL)
        rc = wk_prune_select_apply(&p->global, w, (int64_t)it->rows, (int64_t)it->cols, e);
    else
        rc = wk_prune_rows(w, (int64_t)it->rows, (int64_t)it->cols, scale, o->sparsity, e);
    if (rc)
        return wk_fail_prefix(e, "tensor '%s'", it->name);
    return o->method == WK_PRUNE_WANDA ? report_pruned(p, it, w, e) : 0;
}

/* ---- one tensor ---- */

/* The tensor's rows, in the output's layout, as F32 (dst F32) or as stored. */
static void *read_rows(const wk_stream_job *job, wk_dtype dst, wk_err *e)
{
    wk_stream_job j = *job;
    j.dst_type = dst;
    j.stats = NULL;
    j.importance = NULL;
    uint64_t bytes = j.rows * (j.cols / wk_type(dst)->block_size) * wk_type(dst)->type_size;
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        wk_fail(e, "tensor '%s': out of memory for %llu bytes", j.name, (unsigned long long)bytes);
        return NULL;
    }
    if (wk_stream_rows(&j, 0, j.rows, buf, e) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int wk_pr_tensor(pruner *p, pr_item *it, const wk_stream_job *job, void **out, uint64_t *size,
                 wk_err *e)
{
    *out = NULL;
    uint64_t n = it->rows * it->cols;
    if (job->dst_type != WK_F32 && job->dst_type != it->type)
        return wk_fail(e, "tensor '%s': pruning writes %s or F32, not %s", it->name,
                       wk_type(it->type)->name, wk_type(job->dst_type)->name);
    float *w = read_rows(job, WK_F32, e);
    if (!w)
        return -1;
    uint64_t before = zeros_f32(w, n);
    if (select_weights(p, it, w, e) != 0) {
        free(w);
        return -1;
    }
    it->rep->c = (wk_prune_counts){n, before, zeros_f32(w, n)};
    if (job->dst_type == WK_F32) {
        *out = w;
        *size = n * sizeof(float);
        return 0;
    }
    uint16_t *raw = read_rows(job, job->dst_type, e); /* F16 or BF16, as stored */
    if (!raw) {
        free(w);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++)
        if (wk_f32_bits(w[i]) == 0)
            raw[i] = 0;
    free(w);
    *out = raw;
    *size = n * sizeof *raw;
    return 0;
}

/* ---- the global threshold ---- */

static int add_tensor(pruner *p, const pr_item *it, wk_err *e)
{
    wk_view v;
    if (wk_source_read(p->src, (size_t)it->src, &v, e) != 0)
        return -1;
    wk_stream_job job = wk_pr_job(it, &v, WK_F32);
    float *w = read_rows(&job, WK_F32, e);
    wk_view_release(&v);
    if (!w)
        return -1;
    wk_prune_select_add(&p->global, w, (int64_t)(it->rows * it->cols));
    free(w);
    return 0;
}

int wk_pr_global_threshold(pruner *p, wk_err *e)
{
    uint64_t total = 0;
    for (size_t k = 0; k < p->n; k++)
        if (p->it[k].prune)
            total += p->it[k].rows * p->it[k].cols;
    uint64_t k = (uint64_t)wk_prune_count(p->o->sparsity, (int64_t)total);
    if (wk_prune_select_init(&p->global, k, e) != 0)
        return -1;
    p->have_global = true;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < p->n && p->global.pass < 2; i++)
            if (p->it[i].prune && add_tensor(p, &p->it[i], e) != 0)
                return -1;
        wk_prune_select_next(&p->global);
    }
    return 0;
}

void wk_pr_release(pruner *p)
{
    drop_norms(p);
    if (p->have_global)
        wk_prune_select_free(&p->global);
    p->have_global = false;
}
