/* The Llama forward pass (GGUF architecture `llama`), read from the GGUF's bytes in place.
 *
 * As llama2.c's run.c reads: three structs -- the hyperparameters and the weights (matrices
 * pointing into the mapped file, in whatever type wk-quantize wrote: models/llama_model.h,
 * loaded from the GGUF's llama.* keys and tensors by models/llama_load.c), the state
 * (activation buffers for a batch of tokens and the KV cache, allocated once) -- and one
 * forward() that goes through the layers in the order of the paper: RMSNorm,
 * q/k/v projections, RoPE, grouped-query attention over the cache, the output projection and
 * the residual; RMSNorm, SwiGLU feed-forward and the residual; the final norm and the output
 * matrix (or the embeddings, when tied). Matrix products go through kernels/matmul.h (the
 * weight type's dot product, OpenMP over rows); RoPE through kernels/rope.h as llama.cpp
 * applies it. llama.cpp's src/models/llama.cpp builds the same graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <sys/mman.h>

#include "kernels/matmul.h"
#include "kernels/rope.h"
#include "kernels/team.h"
#include "kernels/traits.h"
#include "models/llama.h"
#include "models/llama_model.h"

/* ---- the state (the model and its layers: models/llama_model.h, loaded by
 * models/llama_load.c) ---- */

/* The key cache is kept in tiles of KEY_TILE positions, each a KV head's keys transposed:
 * value d of the tile's positions side by side, tile after tile. The scores of the query
 * heads that share the KV head are then one small product per tile (kernels/vec.h's
 * cols_dot): a vector holds the scores of 16 keys (8 with AVX2), no sum across lanes, and
 * each key value is loaded once for the group. Values stay rows of head_dim by position. */
enum { KEY_TILE = 32 };

typedef struct llama_state {
    uint32_t n_ctx, n_batch;
    uint32_t n_tiled;                      /* n_ctx rounded up to whole key tiles */
    float *x, *xb;                         /* (batch, dim): residual stream, normed copy */
    float *q, *k, *v, *att;                /* (batch, q_dim), (batch, kv_dim) x 2, (batch, q_dim) */
    float *gate, *up;                      /* (batch, ff) */
    float *scores;                         /* (threads, heads per kv head, n_ctx) */
    float *k_cache;                        /* (layer, kv head, n_tiled / KEY_TILE, head_dim,
                                            *  KEY_TILE) */
    float *v_cache;                        /* (layer, kv head, n_tiled, head_dim) */
    void *scratch;                         /* activations quantized for the dot products */
    double *rope_cs;                       /* (batch, rope n_dims): RoPE angles of ... */
    int64_t *rope_pos;                     /* (batch): ... these positions (-1: none yet) */
} llama_state;

/* ---- the state ---- */

void wk_llama_state_free(void *sv)
{
    llama_state *s = sv;
    if (!s)
        return;
    float *bufs[] = {s->x, s->xb, s->q, s->k, s->v, s->att, s->gate, s->up, s->scores,
                     s->k_cache, s->v_cache};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(s->scratch);
    free(s->rope_cs);
    free(s->rope_pos);
    free(s);
}

static size_t most_scratch(const llama_model *m, uint32_t n)
{
    size_t most = wk_matmul_scratch(&m->output, n);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const llama_layer *L = &m->layers[l];
        const wk_matrix *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                 &L->w_down};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) {
            size_t b = wk_matmul_scratch(ws[k], n);
            most = b > most ? b : most;
        }
        size_t qkv = wk_matvec_scratch(ws, 3), gate_up = wk_matvec_scratch(ws + 4, 2);
        most = qkv > most ? qkv : most;
        most = gate_up > most ? gate_up : most;
    }
    return most;
}

/* The KV cache in 2 MiB pages where the kernel gives them (transparent huge pages, asked
 * for with madvise): decoding streams the whole cache every token, and with 4 KiB pages the
 * prefetchers stop at every page. */
static void *huge_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* advice: no error matters */
    return p;
}

int wk_llama_state_new(const void *mv, uint32_t n_ctx, uint32_t n_batch, void **out,
                       wk_err *e)
{
    const llama_model *m = mv;
    const wk_llama_hparams *p = &m->hp;
    size_t nb = n_batch, dim = p->n_embd, q = (size_t)p->n_head * p->head_dim;
    /* n_ctx <= 2^30: the file's context_length is held to that (key_u32), -c to 2^24 */
    uint32_t n_tiled = (n_ctx + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
    size_t kv = (size_t)p->n_head_kv * p->head_dim, cache = (size_t)p->n_layer * n_tiled * kv;
    llama_state *s = calloc(1, sizeof *s);
    *out = s;
    if (!s)
        return wk_fail(e, "out of memory");
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->n_tiled = n_tiled;
    s->x = malloc(nb * dim * sizeof(float));
    s->xb = malloc(nb * (dim > q ? dim : q) * sizeof(float));
    s->q = malloc(nb * q * sizeof(float));
    s->k = malloc(nb * kv * sizeof(float));
    s->v = malloc(nb * kv * sizeof(float));
    s->att = malloc(nb * q * sizeof(float));
    s->gate = malloc(nb * p->n_ff * sizeof(float));
    s->up = malloc(nb * p->n_ff * sizeof(float));
    s->scores = malloc((size_t)omp_get_max_threads() * (p->n_head / p->n_head_kv) * n_ctx *
                       sizeof(float));
    s->k_cache = huge_alloc(cache * sizeof(float));
    s->v_cache = huge_alloc(cache * sizeof(float));
    s->scratch = malloc(most_scratch(m, n_batch) + 64);
    s->rope_cs = malloc((nb * m->rope.n_dims + 1) * sizeof(double));
    s->rope_pos = malloc(nb * sizeof(int64_t));
    if (!s->x || !s->xb || !s->q || !s->k || !s->v || !s->att || !s->gate || !s->up ||
        !s->scores || !s->k_cache || !s->v_cache || !s->scratch ||
        !s->rope_cs || !s->rope_pos)
        return wk_fail(e, "out of memory for a context of %u tokens (%.1f MiB of KV cache)",
                       n_ctx, 2.0 * (double)cache * sizeof(float) / 1048576.0);
    for (size_t t = 0; t < nb; t++)
        s->rope_pos[t] = -1;
    return 0;
}

/* ---- the forward pass ---- */

static void add_bias(float *y, const float *b, int n, int64_t width)
{
    for (int t = 0; b && t < n; t++)
        for (int64_t i = 0; i < width; i++)
            y[t * width + i] += b[i];
}

/* Asks for the cache lines of n floats at p (locality 3: to L1, 2: to L2). */
static void prefetch_rows(const float *p, size_t n, int locality)
{
    for (size_t i = 0; i < n; i += 16)
        if (locality == 3)
            __builtin_prefetch(p + i, 0, 3);
        else
            __builtin_prefetch(p + i, 0, 2);
}

/* sc[g * ldo + j] = scale * (query g . key j) for the G query heads at q and the keys of
 * the tile that starts at position `from` among one KV head's tiles (those before len) */
static void score_tile(const wk_cpu_kernels *k, const float *q, int G, const float *tiles,
                       int hd, int from, int len, float scale, float *sc, size_t ldo)
{
    int n = len - from < KEY_TILE ? len - from : KEY_TILE;
    k->cols_dot(q, hd, G, tiles + (size_t)from * hd, KEY_TILE, n, hd, scale, sc + from,
                (int64_t)ldo);
}

/* One token's attention (see below), cut into pieces: a kv head's group of query heads, or a
 * part of it where the kv heads are fewer than the threads. */
typedef struct {
    llama_state *s;
    const wk_cpu_kernels *k;
    const float *kc, *vc, *q; /* the layer's cached keys and values, the token's queries */
    int hd, group, len, split, sub, pieces; /* sub: heads per piece */
    float scale;
    int next; /* pieces handed out */
} decode_attention;

/* The heads that share a kv head go together, so its keys and values come from memory once:
 * each key tile is scored for all of them at once, and their weighted sums take one pass over
 * the value rows. Threads take pieces until none is left. */
static void attend_pieces(void *arg, int t, int nt)
{
    decode_attention *a = arg;
    size_t n_ctx = a->s->n_ctx, head = a->s->n_tiled * (size_t)a->hd, hd = (size_t)a->hd;
    float *sc = a->s->scores + (size_t)t * a->group * n_ctx;
    for (int it; (it = __atomic_fetch_add(&a->next, 1, __ATOMIC_RELAXED)) < a->pieces;) {
        int kvh = it / a->split, h0 = kvh * a->group + it % a->split * a->sub;
        int heads = (kvh + 1) * a->group - h0 < a->sub ? (kvh + 1) * a->group - h0 : a->sub;
        const float *keys = a->kc + (size_t)kvh * head, *q = a->q + (size_t)h0 * hd;
        const float *values = a->vc + (size_t)kvh * head;
        for (int j = 0; j < a->len; j += KEY_TILE) {
            /* two tiles ahead, the keys to L1 and the values to L2, while the heads score
             * this one: the cache comes from memory every token */
            int ahead = j + 2 * KEY_TILE;
            int n = a->len - ahead < KEY_TILE ? a->len - ahead : KEY_TILE;
            if (n > 0) {
                prefetch_rows(keys + (size_t)ahead * hd, (size_t)KEY_TILE * hd, 3);
                prefetch_rows(values + (size_t)ahead * hd, (size_t)n * hd, 2);
            }
            score_tile(a->k, q, heads, keys, a->hd, j, a->len, a->scale, sc, n_ctx);
        }
        for (int g = 0; g < heads; g++)
            a->k->softmax(sc + (size_t)g * n_ctx, a->len);
        a->k->rows_wsum(sc, (int64_t)n_ctx, heads, values, (int64_t)hd, a->len, (int64_t)hd,
                        a->s->att + (size_t)h0 * hd, (int64_t)hd);
    }
}

/* att[t] for every head: softmax(q . k / sqrt(hd)) over positions 0 .. pos + t of the cache,
 * times v; head h reads kv head h / (n_head / n_head_kv).
 *
 * Both one token (decode: attend_pieces above, as one step of the decode team,
 * kernels/team.h) and a batch (a prompt: each token in turn) take the heads that share a kv
 * head together: their scores tile by tile from the key tiles (KEY_TILE), their weighted sums
 * as one pass over the value rows. */
static void attention(const llama_model *m, llama_state *s, int l, int n, int pos)
{
    const wk_llama_hparams *p = &m->hp;
    int hd = (int)p->head_dim, group = (int)(p->n_head / p->n_head_kv), len_all = pos + n;
    size_t kv_dim = (size_t)p->n_head_kv * hd, n_ctx = s->n_ctx, head = s->n_tiled * (size_t)hd;
    /* kv head h's key tiles (value rows) at kc + h * head (vc + h * head) */
    const float *kc = s->k_cache + (size_t)l * s->n_tiled * kv_dim;
    const float *vc = s->v_cache + (size_t)l * s->n_tiled * kv_dim;
    float scale = 1.0f / sqrtf((float)hd);
    const wk_cpu_kernels *k = wk_cpu_kernels_get();
    /* one thread for a small model's short context: waking the others costs more */
    bool parallel = (int64_t)n * p->n_head * len_all * hd >= (1 << 20);
    if (n == 1) {
        int threads = parallel ? wk_team_size() : 1;
        int split = (threads + (int)p->n_head_kv - 1) / (int)p->n_head_kv;
        split = split < group ? split : group;
        decode_attention job = {.s = s, .k = k, .kc = kc, .vc = vc, .q = s->q, .hd = hd,
                                .group = group, .len = len_all, .split = split,
                                .sub = (group + split - 1) / split, .scale = scale,
                                .pieces = (int)p->n_head_kv * split};
        wk_team_run(attend_pieces, &job, threads);
        return;
    }
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (parallel)
    for (int t = 0; t < n; t++)
        for (int kvh = 0; kvh < (int)p->n_head_kv; kvh++) {
            size_t h0 = (size_t)t * p->n_head + (size_t)kvh * group; /* the group's first */
            float *sc = s->scores + (size_t)omp_get_thread_num() * group * n_ctx;
            int len = pos + t + 1;
            for (int j = 0; j < len; j += KEY_TILE)
                score_tile(k, s->q + h0 * hd, group, kc + (size_t)kvh * head, hd, j, len,
                           scale, sc, n_ctx);
            for (int g = 0; g < group; g++)
                k->softmax(sc + (size_t)g * n_ctx, len);
            k->rows_wsum(sc, (int64_t)n_ctx, group, vc + (size_t)kvh * head, hd, len, hd,
                         s->att + h0 * hd, hd);
        }
}

/* x (n, dim) -> logits: the final norm, then the output matrix for the rows asked. */
static void logits_of(const llama_model *m, llama_state *s, int n, float *logits, bool all)
{
    int dim = (int)m->hp.n_embd, first = all ? 0 : n - 1;
    for (int t = first; t < n; t++)
        wk_rmsnorm(s->xb + (size_t)(t - first) * dim, s->x + (size_t)t * dim, m->output_norm,
                   dim, m->hp.rms_eps);
    wk_matmul(&m->output, s->xb, n - first, logits, s->scratch);
}

void wk_llama_embed(const void *mv, const int32_t *tokens, int n, float *x)
{
    const llama_model *m = mv;
    int dim = (int)m->hp.n_embd;
    const wk_cpu_type_traits *embd = wk_cpu_type(m->token_embd.type);
    size_t row = (size_t)dim / wk_type(m->token_embd.type)->block_size *
                 wk_type(m->token_embd.type)->type_size;
    for (int t = 0; t < n; t++)
        embd->to_float((const uint8_t *)m->token_embd.data + (size_t)tokens[t] * row,
                       x + (size_t)t * dim, dim);
}

/* y = in W (n rows), after showing in to the capture hook (wk-prune's calibration). */
static void product(const wk_matrix *w, const float *in, int n, float *y, llama_state *s,
                    uint32_t l, wk_role role, wk_capture_fn capture, void *ctx)
{
    if (capture)
        capture(ctx, l, role, in, n, w->cols);
    wk_matmul(w, in, n, y, s->scratch);
}

/* y[j] = in W[j] for k matrices that read the same rows; one token's products together
 * (kernels/matmul.h's wk_matvec: one parallel region) */
static void products(const wk_matrix *const *w, const wk_role *roles, int k, const float *in,
                     int n, float *const *y, llama_state *s, uint32_t l, wk_capture_fn capture,
                     void *ctx)
{
    if (n > 1 || capture) {
        for (int j = 0; j < k; j++)
            product(w[j], in, n, y[j], s, l, roles[j], capture, ctx);
        return;
    }
    wk_matvec(w, k, in, y, s->scratch);
}

/* Decoding: the product after the next parallel step, whose first rows the team's threads
 * fetch while they wait (kernels/matmul.h's wk_matvec_ahead); the rest of a step gets no
 * such help. */
static void ahead(bool decode, const wk_matrix *a, const wk_matrix *b, const wk_matrix *c)
{
    const wk_matrix *w[] = {a, b, c};
    if (decode)
        wk_matvec_ahead(w, c ? 3 : b ? 2 : 1);
}

void wk_llama_layer(const void *mv, void *sv, uint32_t l, float *x, int n, int pos,
                    wk_capture_fn capture, void *ctx)
{
    const llama_model *m = mv;
    llama_state *s = sv;
    const wk_llama_hparams *p = &m->hp;
    const llama_layer *L = &m->layers[l];
    int dim = (int)p->n_embd, hd = (int)p->head_dim;
    size_t q_dim = (size_t)p->n_head * hd, kv_dim = (size_t)p->n_head_kv * hd;
    bool decode = n == 1 && !capture;
    /* attention: xb = rmsnorm(x); q, k, v = xb Wq, xb Wk, xb Wv */
    for (int t = 0; t < n; t++)
        wk_rmsnorm(s->xb + (size_t)t * dim, x + (size_t)t * dim, L->attn_norm, dim, p->rms_eps);
    static const wk_role qkv_roles[] = {WK_ROLE_ATTN_Q, WK_ROLE_ATTN_K, WK_ROLE_ATTN_V};
    const wk_matrix *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[] = {s->q, s->k, s->v};
    products(qkv, qkv_roles, 3, s->xb, n, qkv_out, s, l, capture, ctx);
    add_bias(s->q, L->bq, n, (int64_t)q_dim);
    add_bias(s->k, L->bk, n, (int64_t)kv_dim);
    add_bias(s->v, L->bv, n, (int64_t)kv_dim);
    /* RoPE on q and k at their positions; k and v into the cache */
    for (int t = 0; t < n; t++) {
        double *cs = s->rope_cs + (size_t)t * m->rope.n_dims; /* layer 0 computes them */
        if (s->rope_pos[t] != pos + t) {
            wk_rope_angles(&m->rope, pos + t, cs);
            s->rope_pos[t] = pos + t;
        }
        wk_rope_rotate(&m->rope, s->q + t * q_dim, (int)p->n_head, hd, cs);
        wk_rope_rotate(&m->rope, s->k + t * kv_dim, (int)p->n_head_kv, hd, cs);
        for (size_t h = 0; h < p->n_head_kv; h++) { /* see KEY_TILE */
            size_t head = ((size_t)l * p->n_head_kv + h) * s->n_tiled * hd, at = (size_t)(pos + t);
            float *tile = s->k_cache + head + at / KEY_TILE * KEY_TILE * hd + at % KEY_TILE;
            for (int d = 0; d < hd; d++)
                tile[(size_t)d * KEY_TILE] = s->k[t * kv_dim + h * hd + (size_t)d];
            memcpy(s->v_cache + head + at * hd, s->v + t * kv_dim + h * hd,
                   (size_t)hd * sizeof(float));
        }
    }
    ahead(decode, &L->wo, NULL, NULL);
    attention(m, s, (int)l, n, pos);
    /* x += att Wo */
    ahead(decode, &L->w_gate, &L->w_up, NULL);
    product(&L->wo, s->att, n, s->xb, s, l, WK_ROLE_ATTN_OUT, capture, ctx);
    add_bias(s->xb, L->bo, n, dim);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        x[i] += s->xb[i];
    /* feed-forward: x += (silu(xb Wgate) * xb Wup) Wdown, xb = rmsnorm(x) */
    for (int t = 0; t < n; t++)
        wk_rmsnorm(s->xb + (size_t)t * dim, x + (size_t)t * dim, L->ffn_norm, dim, p->rms_eps);
    static const wk_role ffn_roles[] = {WK_ROLE_FFN_GATE, WK_ROLE_FFN_UP};
    const wk_matrix *gate_up[] = {&L->w_gate, &L->w_up};
    float *gate_up_out[] = {s->gate, s->up};
    ahead(decode, &L->w_down, NULL, NULL);
    products(gate_up, ffn_roles, 2, s->xb, n, gate_up_out, s, l, capture, ctx);
    wk_swiglu(s->gate, s->up, (int64_t)n * p->n_ff);
    if (l + 1 < p->n_layer)
        ahead(decode, &m->layers[l + 1].wq, &m->layers[l + 1].wk, &m->layers[l + 1].wv);
    else
        ahead(decode, &m->output, NULL, NULL);
    product(&L->w_down, s->gate, n, s->xb, s, l, WK_ROLE_FFN_DOWN, capture, ctx);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        x[i] += s->xb[i];
}

typedef struct {
    const llama_model *m;
    llama_state *s;
    const int32_t *tokens;
    int n, pos;
    float *logits;
    bool all;
} pass;

static void forward(void *arg)
{
    pass *a = arg;
    wk_llama_embed(a->m, a->tokens, a->n, a->s->x);
    for (uint32_t l = 0; l < a->m->hp.n_layer; l++)
        wk_llama_layer(a->m, a->s, l, a->s->x, a->n, a->pos, NULL, NULL);
    logits_of(a->m, a->s, a->n, a->logits, a->all);
}

void wk_llama_forward(const void *mv, void *sv, const int32_t *tokens, int n, int pos,
                      float *logits, bool all)
{
    pass a = {.m = mv, .s = sv, .tokens = tokens, .n = n, .pos = pos, .logits = logits,
              .all = all};
    /* A token's hundred-odd short parallel steps go to a team kept for the whole pass
     * (kernels/team.h); a batch's products are long enough for an OpenMP region each. */
    if (n == 1)
        wk_team_serve(omp_get_max_threads(), forward, &a);
    else
        forward(&a);
}
