/* The Llama forward pass on an NVIDIA GPU (wk_arch_llama.cuda; built by make CUDA=1 only).
 *
 * The same pass as models/llama_forward.c, layer by layer, with the kernels of
 * kernels/cuda/cuda.h: the CPU model's weights (models/llama_model.h, pointers into the
 * mapped GGUF) are uploaded once, as they are, into one device allocation; the state (the
 * activations of a batch and the KV cache) lives on the device, so between layers nothing
 * crosses to the host: tokens and the position go in, logits come out. Products whose
 * weights are quantized take their activations quantized as the CPU engine quantizes them,
 * once per input and activation type (products()). Decoding one token queues the same
 * kernels every time, reading the position from device memory, so the first such step is
 * captured as a CUDA graph and later ones replay it (WK_CUDA_GRAPH=0: no graph). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda.h"
#include "kernels/dot.h"
#include "models/llama.h"
#include "models/llama_model.h"

#define DEVICE_BATCH 512 /* tokens per pass on the device, at most */

/* ---- the model: the weights in device memory ---- */

typedef struct cu_layer {
    const float *attn_norm, *ffn_norm, *bq, *bk, *bv, *bo;
    wk_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
} cu_layer;

typedef struct cu_model {
    const llama_model *cpu;
    wk_cuda_device_info dev;
    uint8_t *arena;                /* every weight; NULL while counting */
    size_t size;                   /* bytes placed (counting) or allocated */
    wk_matrix token_embd, output;
    const float *output_norm;
    wk_cu_rope rope;
    cu_layer *layers;
} cu_model;

static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

/* Places bytes of src (NULL: an absent optional tensor) in the arena: counts them, or
 * copies them there. */
static int place(cu_model *m, const void *src, size_t bytes, const void **dst, wk_err *e)
{
    size_t at = m->size;
    *dst = NULL;
    if (!src)
        return 0;
    m->size += align256(bytes);
    if (!m->arena)
        return 0;
    *dst = m->arena + at;
    return wk_cuda_upload(m->arena + at, src, bytes, e);
}

static int place_matrix(cu_model *m, const wk_matrix *w, const char *name, wk_matrix *out,
                        wk_err *e)
{
    if (!wk_cuda_type_supported(w->type))
        return wk_fail(e, "tensor '%s' has type %s, which the CUDA backend cannot run (it runs "
                          "%s)", name, wk_type(w->type)->name, wk_cuda_types_list);
    *out = *w;
    size_t bytes = (size_t)w->rows * (size_t)(w->cols / wk_type(w->type)->block_size) *
                   wk_type(w->type)->type_size;
    return place(m, w->data, bytes, &out->data, e);
}

static int place_vector(cu_model *m, const float *v, size_t n, const float **out, wk_err *e)
{
    return place(m, v, n * sizeof(float), (const void **)out, e);
}

static int place_layer(cu_model *m, uint32_t i, wk_err *e)
{
    const llama_layer *L = &m->cpu->layers[i];
    const wk_llama_hparams *p = &m->cpu->hp;
    cu_layer *D = &m->layers[i];
    size_t d = p->n_embd, nq = (size_t)p->n_head * p->head_dim;
    size_t nkv = (size_t)p->n_head_kv * p->head_dim;
    char n[96];
#define NAME(x) (snprintf(n, sizeof n, "blk.%u." x, i), n)
    return place_vector(m, L->attn_norm, d, &D->attn_norm, e) ||
           place_vector(m, L->ffn_norm, d, &D->ffn_norm, e) ||
           place_vector(m, L->bq, nq, &D->bq, e) || place_vector(m, L->bk, nkv, &D->bk, e) ||
           place_vector(m, L->bv, nkv, &D->bv, e) || place_vector(m, L->bo, d, &D->bo, e) ||
           place_matrix(m, &L->wq, NAME("attn_q.weight"), &D->wq, e) ||
           place_matrix(m, &L->wk, NAME("attn_k.weight"), &D->wk, e) ||
           place_matrix(m, &L->wv, NAME("attn_v.weight"), &D->wv, e) ||
           place_matrix(m, &L->wo, NAME("attn_output.weight"), &D->wo, e) ||
           place_matrix(m, &L->w_gate, NAME("ffn_gate.weight"), &D->w_gate, e) ||
           place_matrix(m, &L->w_up, NAME("ffn_up.weight"), &D->w_up, e) ||
           place_matrix(m, &L->w_down, NAME("ffn_down.weight"), &D->w_down, e)
               ? -1
               : 0;
#undef NAME
}

/* Every weight, counted (arena NULL) or uploaded. */
static int place_all(cu_model *m, wk_err *e)
{
    const llama_model *c = m->cpu;
    const float *factors = NULL;
    m->size = 0;
    if (place_matrix(m, &c->token_embd, "token_embd.weight", &m->token_embd, e) ||
        place_vector(m, c->output_norm, c->hp.n_embd, &m->output_norm, e) ||
        place_vector(m, c->rope.freq_factors, c->rope.n_dims / 2, &factors, e))
        return -1;
    if (c->output.data == c->token_embd.data)
        m->output = m->token_embd; /* tied embeddings: one copy */
    else if (place_matrix(m, &c->output, "output.weight", &m->output, e))
        return -1;
    for (uint32_t i = 0; i < c->hp.n_layer; i++)
        if (place_layer(m, i, e))
            return -1;
    const wk_rope *r = &c->rope;
    m->rope = (wk_cu_rope){r->n_dims, r->base, r->freq_scale, r->ext_factor, r->attn_factor,
                           r->beta_fast, r->beta_slow, r->n_ctx_orig, factors, r->neox};
    return 0;
}

static void describe(const void *mv, char *buf, size_t len)
{
    const cu_model *m = mv;
    const wk_cuda_device_info *d = &m->dev;
    snprintf(buf, len, "CUDA device 0: %s (compute capability %d.%d, %.1f GiB, driver for CUDA "
                       "%d.%d)", d->name, d->cc_major, d->cc_minor,
             (double)d->total_bytes / (1024.0 * 1024.0 * 1024.0), d->driver_version / 1000,
             d->driver_version % 1000 / 10);
}

static void where(const cu_model *m, char *buf, size_t len)
{
    snprintf(buf, len, "CUDA device 0 (%s)", m->dev.name);
}

static void cu_unload(void *mv)
{
    cu_model *m = mv;
    if (!m)
        return;
    wk_cuda_free(m->arena);
    free(m->layers);
    free(m);
}

static int cu_load(const void *cpu, void **out, wk_err *e)
{
    cu_model *m = calloc(1, sizeof *m);
    *out = m;
    if (!m)
        return wk_fail(e, "out of memory");
    m->cpu = cpu;
    if (m->cpu->hp.head_dim > WK_CUDA_MAX_HEAD_DIM)
        return wk_fail(e, "heads of %u values: the CUDA backend runs heads of at most %d",
                       m->cpu->hp.head_dim, WK_CUDA_MAX_HEAD_DIM);
    if (!(m->layers = calloc(m->cpu->hp.n_layer, sizeof *m->layers)))
        return wk_fail(e, "out of memory");
    /* the types first (no device needed to refuse a file), then the device and its room */
    if (place_all(m, e) || wk_cuda_open(&m->dev, e))
        return -1;
    size_t free_bytes, total, need = m->size;
    char at[300];
    where(m, at, sizeof at);
    if (wk_cuda_mem_info(&free_bytes, &total, e) ||
        wk_cuda_check_fits("the model's weights", need, free_bytes, at, e) ||
        !(m->arena = wk_cuda_alloc(need, "the weights", e)))
        return -1;
    return place_all(m, e);
}

/* ---- the state: activations and the KV cache on the device ---- */

typedef struct cu_state {
    uint32_t n_ctx, n_batch;
    wk_cuda_stream *st;
    void *block;                         /* every buffer below, one allocation */
    float *x, *xb;                       /* (batch, dim): residual stream, normed copy */
    float *q, *k, *v, *att;              /* (batch, q_dim), (batch, kv_dim) x 2, (batch, q_dim) */
    float *gate, *up;                    /* (batch, ff) */
    float *logits;                       /* (batch, vocab) */
    float *k_cache, *v_cache;            /* (layer, n_ctx, kv_dim) */
    int32_t *io;                         /* the first position, then the batch's tokens */
    wk_cuda_acts acts;                   /* activations quantized for the products */
    const float *acts_of;                /* what acts holds (as acts.type), or NULL */
    int acts_n;
    int32_t *h_io;                       /* page-locked copies of io and one row of logits */
    float *h_logits;
    bool use_graph;
} cu_state;

static void cu_state_free(void *sv)
{
    cu_state *s = sv;
    if (!s)
        return;
    wk_cuda_stream_free(s->st);
    wk_cuda_free(s->block);
    wk_cuda_host_free(s->h_io);
    wk_cuda_host_free(s->h_logits);
    free(s);
}

/* Carves the buffers out of block (NULL: only counts); returns the bytes. */
static size_t carve(const cu_model *m, cu_state *s, uint8_t *block)
{
    const wk_llama_hparams *p = &m->cpu->hp;
    size_t rows = (size_t)wk_cuda_rows(s->n_batch), dim = p->n_embd, ff = p->n_ff;
    size_t q = (size_t)p->n_head * p->head_dim, kv = (size_t)p->n_head_kv * p->head_dim;
    size_t cache = (size_t)p->n_layer * s->n_ctx * kv, widest = dim, at = 0;
    widest = q > widest ? q : widest;
    widest = ff > widest ? ff : widest;
#define TAKE(field, type, bytes) \
    (s->field = block ? (type *)(block + at) : NULL, at += align256(bytes))
    TAKE(x, float, rows * dim * 4);
    TAKE(xb, float, rows * dim * 4);
    TAKE(q, float, rows * q * 4);
    TAKE(k, float, rows * kv * 4);
    TAKE(v, float, rows * kv * 4);
    TAKE(att, float, rows * q * 4);
    TAKE(gate, float, rows * ff * 4);
    TAKE(up, float, rows * ff * 4);
    TAKE(logits, float, rows * p->n_vocab * 4);
    TAKE(k_cache, float, cache * 4);
    TAKE(v_cache, float, cache * 4);
    TAKE(io, int32_t, (rows + 1) * 4);
    TAKE(acts.buf, void, wk_cuda_acts_bytes((int64_t)rows, (int64_t)widest));
#undef TAKE
    return at;
}

static int cu_state_new(const void *mv, uint32_t n_ctx, uint32_t n_batch, void **out,
                        wk_err *e)
{
    const cu_model *m = mv;
    const wk_llama_hparams *p = &m->cpu->hp;
    cu_state *s = calloc(1, sizeof *s);
    *out = s;
    if (!s)
        return wk_fail(e, "out of memory");
    s->n_ctx = n_ctx;
    s->n_batch = n_batch < DEVICE_BATCH ? n_batch : DEVICE_BATCH;
    const char *graph = getenv("WK_CUDA_GRAPH");
    s->use_graph = !(graph && strcmp(graph, "0") == 0);
    size_t need = carve(m, s, NULL), free_bytes, total;
    double cache = 2.0 * p->n_layer * n_ctx * p->n_head_kv * p->head_dim * 4 / (1 << 30);
    char what[160], at[300];
    snprintf(what, sizeof what, "a context of %u tokens (%.2f GiB of KV cache) with batches "
                                "of %u", n_ctx, cache, s->n_batch);
    where(m, at, sizeof at);
    if (wk_cuda_mem_info(&free_bytes, &total, e) ||
        wk_cuda_check_fits(what, need, free_bytes, at, e) ||
        !(s->block = wk_cuda_alloc(need, "the context", e)) ||
        !(s->h_io = wk_cuda_host_alloc((s->n_batch + 1) * sizeof(int32_t), "tokens", e)) ||
        !(s->h_logits = wk_cuda_host_alloc((size_t)p->n_vocab * sizeof(float), "logits", e)) ||
        wk_cuda_stream_new(&s->st, e))
        return -1;
    carve(m, s, s->block);
    return 0;
}

/* ---- the forward pass ---- */

/* ys[i] (+)= in W_i for the matrices of one input (n rows): in is quantized once per
 * activation type the matrices need (unless acts already holds it so), and runs of matrices
 * of one type share a launch. */
static void products(cu_state *s, const wk_matrix *const *ws, float *const *ys, int count,
                     const float *in, int n, bool add)
{
    for (int i = 0; i < count;) {
        int j = i + 1;
        while (j < count && ws[j]->type == ws[i]->type)
            j++;
        wk_dtype at = wk_vec_dot_type(ws[i]->type);
        const wk_cuda_acts *q = NULL;
        if (at != WK_F32) {
            if (s->acts_of != in || s->acts.type != at || s->acts_n != n) {
                s->acts.type = at;
                wk_cuda_quantize(s->st, in, n, ws[i]->cols, &s->acts);
                s->acts_of = in;
                s->acts_n = n;
            }
            q = &s->acts;
        }
        wk_matrix w[3];
        float *y[3];
        for (int k = i; k < j; k++) {
            w[k - i] = *ws[k];
            y[k - i] = ys[k];
        }
        wk_cuda_matmul(s->st, j - i, w, y, in, q, n, add);
        i = j;
    }
}

/* out = rmsnorm(x) * w, quantized on the way for next's products. */
static void norm(cu_state *s, const float *x, const float *w, int n, int64_t cols, float eps,
                 float *out, const wk_matrix *next)
{
    wk_dtype at = wk_vec_dot_type(next->type);
    s->acts.type = at;
    wk_cuda_rmsnorm(s->st, x, w, n, cols, eps, out, at == WK_F32 ? NULL : &s->acts);
    s->acts_of = at == WK_F32 ? NULL : out;
    s->acts_n = n;
}

static void add_bias(cu_state *s, float *y, const float *b, int n, int64_t width)
{
    if (b)
        wk_cuda_add_rows(s->st, y, b, n, width);
}

static void layer(const cu_model *m, cu_state *s, uint32_t l, int n)
{
    const wk_llama_hparams *p = &m->cpu->hp;
    const cu_layer *L = &m->layers[l];
    int dim = (int)p->n_embd, hd = (int)p->head_dim;
    size_t q_dim = (size_t)p->n_head * hd, kv_dim = (size_t)p->n_head_kv * hd;
    float *kc = s->k_cache + (size_t)l * s->n_ctx * kv_dim;
    float *vc = s->v_cache + (size_t)l * s->n_ctx * kv_dim;
    /* attention: xb = rmsnorm(x); q, k, v = xb Wq, xb Wk, xb Wv */
    norm(s, s->x, L->attn_norm, n, dim, p->rms_eps, s->xb, &L->wq);
    const wk_matrix *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *const qkv_out[] = {s->q, s->k, s->v};
    products(s, qkv, qkv_out, 3, s->xb, n, false);
    add_bias(s, s->q, L->bq, n, (int64_t)q_dim);
    add_bias(s, s->k, L->bk, n, (int64_t)kv_dim);
    add_bias(s, s->v, L->bv, n, (int64_t)kv_dim);
    /* RoPE on q and k at their positions; k and v into the cache; att over the cache */
    wk_cuda_rope_store(s->st, &m->rope, s->q, s->k, s->v, n, s->io, (int)p->n_head,
                       (int)p->n_head_kv, hd, kc, vc);
    wk_cuda_attention(s->st, s->q, kc, vc, n, s->io, (int)p->n_head, (int)p->n_head_kv, hd,
                      1.0f / sqrtf((float)hd), s->att);
    s->acts_of = NULL; /* in case it held att's last layer's */
    /* x += att Wo (+ its bias, added to the product first, as on the CPU) */
    const wk_matrix *wo[] = {&L->wo};
    if (L->bo) {
        products(s, wo, &s->xb, 1, s->att, n, false);
        add_bias(s, s->xb, L->bo, n, dim);
        wk_cuda_add_rows(s->st, s->x, s->xb, 1, (int64_t)n * dim);
    } else {
        products(s, wo, &s->x, 1, s->att, n, true);
    }
    /* feed-forward: x += (silu(xb Wgate) * xb Wup) Wdown, xb = rmsnorm(x) */
    norm(s, s->x, L->ffn_norm, n, dim, p->rms_eps, s->xb, &L->w_gate);
    const wk_matrix *gate_up[] = {&L->w_gate, &L->w_up};
    float *const gate_up_out[] = {s->gate, s->up};
    products(s, gate_up, gate_up_out, 2, s->xb, n, false);
    wk_dtype at = wk_vec_dot_type(L->w_down.type);
    s->acts.type = at;
    wk_cuda_swiglu(s->st, s->gate, s->up, n, p->n_ff, at == WK_F32 ? NULL : &s->acts);
    s->acts_of = at == WK_F32 ? NULL : s->gate;
    s->acts_n = n;
    const wk_matrix *down[] = {&L->w_down};
    products(s, down, &s->x, 1, s->gate, n, true);
}

/* Queues the pass of n tokens (s->io: the position, the tokens) and, when logits, the final
 * norm and the output matrix for every row (all) or the last into s->logits. */
static void enqueue(const cu_model *m, cu_state *s, int n, bool logits, bool all)
{
    const wk_llama_hparams *p = &m->cpu->hp;
    int dim = (int)p->n_embd;
    s->acts_of = NULL;
    wk_cuda_embed(s->st, &m->token_embd, s->io + 1, n, s->x);
    for (uint32_t l = 0; l < p->n_layer; l++)
        layer(m, s, l, n);
    if (!logits)
        return;
    int first = all ? 0 : n - 1;
    const wk_matrix *out[] = {&m->output};
    norm(s, s->x + (size_t)first * dim, m->output_norm, n - first, dim, p->rms_eps, s->xb,
         &m->output);
    products(s, out, &s->logits, 1, s->xb, n - first, false);
}

/* One pass of n <= n_batch tokens at pos; the logits (every row, or the last) into out
 * unless out is NULL. */
static int pass(const cu_model *m, cu_state *s, const int32_t *tokens, int n, int pos,
                float *out, bool all, wk_err *e)
{
    size_t row = (size_t)m->cpu->hp.n_vocab * sizeof(float);
    s->h_io[0] = pos;
    memcpy(s->h_io + 1, tokens, (size_t)n * sizeof *tokens);
    if (wk_cuda_copy_in(s->st, s->io, s->h_io, (size_t)(n + 1) * sizeof *tokens, e))
        return -1;
    if (n == 1 && out && s->use_graph) {
        if (!wk_cuda_has_graph(s->st)) {
            if (wk_cuda_capture_begin(s->st, e))
                return -1;
            enqueue(m, s, 1, true, false);
            if (wk_cuda_capture_end(s->st, e))
                return -1;
        }
        if (wk_cuda_replay(s->st, e))
            return -1;
    } else {
        enqueue(m, s, n, out != NULL, all);
    }
    bool rows = out && all && n > 1;
    if ((rows && wk_cuda_copy_out(s->st, out, s->logits, (size_t)n * row, e)) ||
        (out && !rows && wk_cuda_copy_out(s->st, s->h_logits, s->logits, row, e)) ||
        wk_cuda_finish(s->st, e))
        return wk_fail_prefix(e, "the forward pass on the GPU");
    if (out && !rows)
        memcpy(out, s->h_logits, row);
    return 0;
}

static int cu_forward(const void *mv, void *sv, const int32_t *tokens, int n, int pos,
                      float *logits, bool all, wk_err *e)
{
    const cu_model *m = mv;
    cu_state *s = sv;
    for (int done = 0; done < n;) {
        int k = n - done < (int)s->n_batch ? n - done : (int)s->n_batch;
        float *out = all ? logits + (size_t)done * m->cpu->hp.n_vocab
                         : done + k == n ? logits : NULL;
        if (pass(m, s, tokens + done, k, pos + done, out, all, e))
            return -1;
        done += k;
    }
    return 0;
}

const wk_arch_device wk_llama_cuda = {
    .load = cu_load,
    .unload = cu_unload,
    .describe = describe,
    .state_new = cu_state_new,
    .state_free = cu_state_free,
    .forward = cu_forward,
};
