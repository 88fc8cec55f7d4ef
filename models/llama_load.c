/* The Llama model from a GGUF (architecture `llama`): its hyperparameters from the llama.*
 * keys (RoPE scalings included) and its weights as matrices pointing into the mapped file,
 * each tensor checked for the shape the hyperparameters imply and for a type the engine can
 * run (models/llama_model.h's structs, which the CPU and CUDA forward passes read); and
 * wk_llama_set_weight, which points one matrix at other bytes (wk-prune's calibration,
 * engine/calibrate.c, runs the later layers on the pruned ones). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"
#include "kernels/traits.h"
#include "models/llama.h"
#include "models/llama_model.h"

static int key_u32(const wk_gguf *g, const char *key, bool required, uint32_t dflt,
                   uint32_t *out, wk_err *e)
{
    char k[96];
    uint64_t v;
    snprintf(k, sizeof k, "llama.%s", key);
    if (wk_gguf_get_u64(g, k, &v) != 0) {
        *out = dflt;
        return required ? wk_fail(e, "%s: key %s is missing (needed to run a llama model)",
                                  g->path, k)
                        : 0;
    }
    if (v == 0 || v > 1u << 30)
        return wk_fail(e, "%s: key %s is %llu", g->path, k, (unsigned long long)v);
    *out = (uint32_t)v;
    return 0;
}

static double key_f64(const wk_gguf *g, const char *key, double dflt)
{
    char k[96];
    double v;
    snprintf(k, sizeof k, "llama.%s", key);
    return wk_gguf_get_f64(g, k, &v) == 0 && isfinite(v) ? v : dflt;
}

static int load_hparams(const wk_gguf *g, wk_llama_hparams *hp, wk_rope *r, wk_err *e)
{
    memset(hp, 0, sizeof *hp);
    if (key_u32(g, "context_length", true, 0, &hp->n_ctx, e) ||
        key_u32(g, "embedding_length", true, 0, &hp->n_embd, e) ||
        key_u32(g, "block_count", true, 0, &hp->n_layer, e) ||
        key_u32(g, "feed_forward_length", true, 0, &hp->n_ff, e) ||
        key_u32(g, "attention.head_count", true, 0, &hp->n_head, e) ||
        key_u32(g, "attention.head_count_kv", false, hp->n_head, &hp->n_head_kv, e) ||
        key_u32(g, "attention.key_length", false, hp->n_embd / hp->n_head, &hp->head_dim, e))
        return -1;
    if (hp->n_head % hp->n_head_kv != 0 || hp->head_dim % 2 != 0)
        return wk_fail(e, "%s: %u heads do not share %u kv heads, or the head size %u is odd",
                       g->path, hp->n_head, hp->n_head_kv, hp->head_dim);
    hp->rms_eps = (float)key_f64(g, "attention.layer_norm_rms_epsilon", 1e-5);
    hp->rope_theta = (float)key_f64(g, "rope.freq_base", 10000.0);
    uint32_t n_rot;
    if (key_u32(g, "rope.dimension_count", false, hp->head_dim, &n_rot, e))
        return -1;
    *r = (wk_rope){.n_dims = n_rot > hp->head_dim ? hp->head_dim : n_rot,
                   .base = hp->rope_theta, .freq_scale = 1.0, .attn_factor = 1.0};
    char *type = NULL;
    if (wk_gguf_get_str(g, "llama.rope.scaling.type", &type) == 0 && type) {
        double factor = key_f64(g, "rope.scaling.factor", 1.0);
        if (strcmp(type, "linear") == 0 || strcmp(type, "yarn") == 0)
            r->freq_scale = factor > 0 ? 1.0 / factor : 1.0;
        if (strcmp(type, "yarn") == 0) {
            r->ext_factor = key_f64(g, "rope.scaling.yarn_ext_factor", 1.0);
            r->attn_factor = key_f64(g, "rope.scaling.yarn_attn_factor", 1.0);
            r->beta_fast = key_f64(g, "rope.scaling.yarn_beta_fast", 32.0);
            r->beta_slow = key_f64(g, "rope.scaling.yarn_beta_slow", 1.0);
            key_u32(g, "rope.scaling.original_context_length", false, hp->n_ctx, &r->n_ctx_orig,
                    e);
        }
    }
    free(type);
    return 0;
}

/* Finds tensor name with the expected shape (outermost first); keeps its view. */
static int tensor(llama_model *m, wk_source *s, const char *name, bool optional, uint64_t d0,
                  uint64_t d1, const void **data, wk_dtype *type, wk_err *e)
{
    *data = NULL;
    long i = wk_source_find(s, name);
    if (i < 0)
        return optional ? 0 : wk_fail(e, "%s: no tensor '%s'", s->path, name);
    const wk_tensor *t = &s->tensors[i];
    bool ok = d1 ? t->n_dims == 2 && t->shape[0] == d0 && t->shape[1] == d1
                 : t->n_dims == 1 && t->shape[0] == d0;
    if (!ok) {
        char got[96];
        wk_shape_format(t, got, sizeof got);
        return wk_fail(e, "%s: tensor '%s' has shape %s; the hyperparameters imply [%llu%s%llu]",
                       s->path, name, got, (unsigned long long)d0, d1 ? ", " : "",
                       (unsigned long long)d1);
    }
    if (!wk_cpu_type(t->dtype)->to_float || (d1 && !wk_cpu_type(t->dtype)->vec_dot))
        return wk_fail(e, "%s: tensor '%s' has type %s, which the engine cannot run", s->path,
                       name, wk_type(t->dtype)->name);
    if (!d1 && t->dtype != WK_F32)
        return wk_fail(e, "%s: tensor '%s' has type %s; vectors must be F32", s->path, name,
                       wk_type(t->dtype)->name);
    if (wk_source_read(s, (size_t)i, &m->views[m->n_views], e) != 0)
        return -1;
    *data = m->views[m->n_views++].data;
    *type = t->dtype;
    return 0;
}

static int matrix(llama_model *m, wk_source *s, const char *name, bool optional, uint64_t rows,
                  uint64_t cols, wk_matrix *out, wk_err *e)
{
    *out = (wk_matrix){.rows = (int64_t)rows, .cols = (int64_t)cols};
    return tensor(m, s, name, optional, rows, cols, &out->data, &out->type, e);
}

static int vector(llama_model *m, wk_source *s, const char *name, bool optional, uint64_t n,
                  const float **out, wk_err *e)
{
    wk_dtype t;
    return tensor(m, s, name, optional, n, 0, (const void **)out, &t, e);
}

static int load_layer(llama_model *m, wk_source *s, uint32_t i, llama_layer *L, wk_err *e)
{
    const wk_llama_hparams *p = &m->hp;
    uint64_t d = p->n_embd, nq = (uint64_t)p->n_head * p->head_dim;
    uint64_t nkv = (uint64_t)p->n_head_kv * p->head_dim, ff = p->n_ff;
    char n[WK_GGUF_MAX_NAME];
#define NAME(x) (snprintf(n, sizeof n, "blk.%u." x, i), n)
    return vector(m, s, NAME("attn_norm.weight"), false, d, &L->attn_norm, e) ||
           matrix(m, s, NAME("attn_q.weight"), false, nq, d, &L->wq, e) ||
           matrix(m, s, NAME("attn_k.weight"), false, nkv, d, &L->wk, e) ||
           matrix(m, s, NAME("attn_v.weight"), false, nkv, d, &L->wv, e) ||
           matrix(m, s, NAME("attn_output.weight"), false, d, nq, &L->wo, e) ||
           vector(m, s, NAME("attn_q.bias"), true, nq, &L->bq, e) ||
           vector(m, s, NAME("attn_k.bias"), true, nkv, &L->bk, e) ||
           vector(m, s, NAME("attn_v.bias"), true, nkv, &L->bv, e) ||
           vector(m, s, NAME("attn_output.bias"), true, d, &L->bo, e) ||
           vector(m, s, NAME("ffn_norm.weight"), false, d, &L->ffn_norm, e) ||
           matrix(m, s, NAME("ffn_gate.weight"), false, ff, d, &L->w_gate, e) ||
           matrix(m, s, NAME("ffn_up.weight"), false, ff, d, &L->w_up, e) ||
           matrix(m, s, NAME("ffn_down.weight"), false, d, ff, &L->w_down, e)
               ? -1
               : 0;
#undef NAME
}

void wk_llama_unload(void *mv)
{
    llama_model *m = mv;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_views; i++)
        wk_view_release(&m->views[i]);
    free(m->views);
    free(m->layers);
    free(m);
}

int wk_llama_load(wk_source *s, void **out, wk_model_info *info, wk_err *e)
{
    llama_model *m = calloc(1, sizeof *m);
    *out = m;
    if (!m || load_hparams(s->gguf, &m->hp, &m->rope, e) != 0)
        return m ? -1 : wk_fail(e, "out of memory");
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    m->views = calloc(s->n_tensors + 1, sizeof *m->views);
    if (!m->layers || !m->views)
        return wk_fail(e, "out of memory");
    long embd = wk_source_find(s, "token_embd.weight");
    if (embd < 0 || s->tensors[embd].n_dims != 2)
        return wk_fail(e, "%s: no 2-D tensor 'token_embd.weight'", s->path);
    m->hp.n_vocab = (uint32_t)s->tensors[embd].shape[0];
    uint64_t d = m->hp.n_embd, v = m->hp.n_vocab;
    if (matrix(m, s, "token_embd.weight", false, v, d, &m->token_embd, e) ||
        vector(m, s, "output_norm.weight", false, d, &m->output_norm, e) ||
        matrix(m, s, "output.weight", true, v, d, &m->output, e) ||
        vector(m, s, "rope_freqs.weight", true, m->rope.n_dims / 2, &m->rope.freq_factors, e))
        return -1;
    if (!m->output.data)
        m->output = m->token_embd; /* tied embeddings */
    for (uint32_t i = 0; i < m->hp.n_layer; i++)
        if (load_layer(m, s, i, &m->layers[i], e) != 0)
            return -1;
    *info = (wk_model_info){m->hp.n_vocab, m->hp.n_ctx, m->hp.n_embd, m->hp.n_layer};
    return 0;
}

int wk_llama_set_weight(void *mv, uint32_t l, wk_role role, const void *data, wk_dtype type,
                        wk_err *e)
{
    llama_model *m = mv;
    if (l >= m->hp.n_layer)
        return wk_fail(e, "no layer %u (the model has %u)", l, m->hp.n_layer);
    llama_layer *L = &m->layers[l];
    wk_matrix *w = role == WK_ROLE_ATTN_Q     ? &L->wq
                   : role == WK_ROLE_ATTN_K   ? &L->wk
                   : role == WK_ROLE_ATTN_V   ? &L->wv
                   : role == WK_ROLE_ATTN_OUT ? &L->wo
                   : role == WK_ROLE_FFN_GATE ? &L->w_gate
                   : role == WK_ROLE_FFN_UP   ? &L->w_up
                   : role == WK_ROLE_FFN_DOWN ? &L->w_down
                                              : NULL;
    if (!w)
        return wk_fail(e, "layer %u has no matrix of role %d", l, (int)role);
    if (!wk_cpu_type(type)->vec_dot || w->cols % wk_type(type)->block_size != 0)
        return wk_fail(e, "the engine cannot run a %s matrix %lld wide", wk_type(type)->name,
                       (long long)w->cols);
    w->data = data;
    w->type = type;
    return 0;
}
