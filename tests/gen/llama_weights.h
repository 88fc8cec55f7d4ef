/* gen-llama's weights: the options that shape the model, the tensor list in transformers'
 * LlamaForCausalLM order, deterministic random values and the safetensors shards they are
 * streamed into.
 *
 * Values are deterministic: every block of GEN_BLOCK elements of every tensor has its own
 * xoshiro256** stream seeded from (seed, tensor index, block index), so output does not
 * depend on the thread count. Matrices are ~N(0, 0.02) (Irwin-Hall sum of four uniforms,
 * scaled), norm weights ~1 + N(0, 0.02). Tensors are generated chunk by chunk in parallel
 * and streamed through the safetensors writer; the model is never held in memory.
 * Included by gen-llama.c only: each .c file in tests/gen is a program of its own. */
#ifndef WK_GEN_LLAMA_WEIGHTS_H
#define WK_GEN_LLAMA_WEIGHTS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <omp.h>

#include "common/err.h"
#include "common/fileio.h"
#include "formats/safetensors/safetensors.h"
#include "kernels/traits.h"
#include "quant/types.h"

#define GEN_BLOCK (1u << 16)       /* elements per independently seeded stream */
#define GEN_CHUNK (64u * GEN_BLOCK) /* elements generated per write */
#define GEN_STD 0.02f

typedef struct gen_opts {
    uint64_t hidden, ffn, layers, heads, kv_heads, vocab, max_pos;
    wk_dtype dtype;
    uint64_t seed;
    int tied;
    uint64_t shard_size; /* 0: one file */
    const char *out_dir;
} gen_opts;

typedef struct gen_tensor {
    char name[96];
    uint32_t n_dims;
    uint64_t shape[2];
    uint64_t n_el, n_bytes;
    float mean;
    uint32_t shard;
} gen_tensor;

/* ---- random numbers ---- */

static uint64_t gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t gen_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* One block: xoshiro256** seeded by splitmix64; each output gives four 16-bit uniforms
 * whose sum, centred and scaled to unit variance, approximates a standard normal. */
static void gen_fill(float *dst, uint64_t n, uint64_t seed, float mean, float std)
{
    uint64_t s[4], x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = gen_splitmix(&x);
    const float scale = std / (65536.0f / 1.7320508f); /* sd of the sum: 65536/sqrt(3) */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = gen_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = gen_rotl(s[3], 45);
        int32_t sum = (int32_t)(r & 0xffff) + (int32_t)((r >> 16) & 0xffff) +
                      (int32_t)((r >> 32) & 0xffff) + (int32_t)(r >> 48);
        dst[i] = mean + (float)(sum - 131070) * scale;
    }
}

static uint64_t gen_block_seed(uint64_t seed, size_t tensor, uint64_t block)
{
    uint64_t x = seed ^ ((uint64_t)tensor * 0xd1342543de82ef95ull) ^ (block * 0xaf251af3b0f025b5ull);
    return gen_splitmix(&x);
}

/* ---- the tensor list ---- */

/* rows 0: a vector of cols elements. Option limits (2^20 per dimension, 10^4 layers,
 * 4*10^6 vocabulary) keep every size here far below 2^64. */
static void gen_add(gen_tensor *t, size_t *n, const gen_opts *o, const char *name,
                    uint64_t rows, uint64_t cols, float mean)
{
    gen_tensor *g = &t[(*n)++];
    snprintf(g->name, sizeof g->name, "%s", name);
    g->n_dims = rows ? 2 : 1;
    g->shape[0] = rows ? rows : cols;
    g->shape[1] = cols;
    g->n_el = rows ? rows * cols : cols;
    g->n_bytes = g->n_el * wk_type(o->dtype)->type_size;
    g->mean = mean;
}

static gen_tensor *gen_plan(const gen_opts *o, size_t *count)
{
    size_t max = 3 + 9 * (size_t)o->layers;
    gen_tensor *t = calloc(max, sizeof *t);
    if (!t)
        return NULL;
    uint64_t hd = o->hidden / o->heads, q = o->heads * hd, kv = o->kv_heads * hd;
    size_t n = 0;
    char name[96];
    gen_add(t, &n, o, "model.embed_tokens.weight", o->vocab, o->hidden, 0.0f);
    for (uint64_t l = 0; l < o->layers; l++) {
        /* In transformers' module order; rows 0 marks the RMS norm vectors. */
        const struct { const char *suffix; uint64_t rows, cols; } parts[] = {
            {"input_layernorm", 0, o->hidden},     {"self_attn.q_proj", q, o->hidden},
            {"self_attn.k_proj", kv, o->hidden},   {"self_attn.v_proj", kv, o->hidden},
            {"self_attn.o_proj", o->hidden, q},    {"post_attention_layernorm", 0, o->hidden},
            {"mlp.gate_proj", o->ffn, o->hidden},  {"mlp.up_proj", o->ffn, o->hidden},
            {"mlp.down_proj", o->hidden, o->ffn},
        };
        for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
            snprintf(name, sizeof name, "model.layers.%" PRIu64 ".%s.weight", l, parts[p].suffix);
            gen_add(t, &n, o, name, parts[p].rows, parts[p].cols, parts[p].rows ? 0.0f : 1.0f);
        }
    }
    gen_add(t, &n, o, "model.norm.weight", 0, o->hidden, 1.0f);
    if (!o->tied)
        gen_add(t, &n, o, "lm_head.weight", o->vocab, o->hidden, 0.0f);
    *count = n;
    return t;
}

/* Greedy split: a shard takes tensors until the next would push it past shard_size. */
static uint32_t gen_assign_shards(gen_tensor *t, size_t n, uint64_t shard_size)
{
    uint32_t shard = 0;
    uint64_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (shard_size && used > 0 && used + t[i].n_bytes > shard_size) {
            shard++;
            used = 0;
        }
        t[i].shard = shard;
        used += t[i].n_bytes;
    }
    return shard + 1;
}

static void gen_shard_name(char *buf, size_t len, uint32_t shard, uint32_t n_shards)
{
    if (n_shards == 1)
        snprintf(buf, len, "model.safetensors");
    else
        snprintf(buf, len, "model-%05u-of-%05u.safetensors", shard + 1, n_shards);
}

/* ---- writing ---- */

/* Streams tensor `ti`'s values: GEN_CHUNK elements at a time, GEN_BLOCK per thread task. */
static int gen_write_tensor(wk_st_writer *w, const gen_opts *o, const gen_tensor *t, size_t ti,
                            uint8_t *out, float *scratch, wk_err *e)
{
    uint32_t esz = wk_type(o->dtype)->type_size;
    for (uint64_t c0 = 0; c0 < t->n_el; c0 += GEN_CHUNK) {
        uint64_t cn = t->n_el - c0 < GEN_CHUNK ? t->n_el - c0 : GEN_CHUNK;
        int64_t nb = (int64_t)((cn + GEN_BLOCK - 1) / GEN_BLOCK);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            uint64_t first = (uint64_t)b * GEN_BLOCK;
            uint64_t len = cn - first < GEN_BLOCK ? cn - first : GEN_BLOCK;
            uint8_t *dst = out + first * esz;
            float *f = o->dtype == WK_F32 ? (float *)dst
                                          : scratch + (size_t)omp_get_thread_num() * GEN_BLOCK;
            gen_fill(f, len, gen_block_seed(o->seed, ti, (c0 + first) / GEN_BLOCK), t->mean,
                     GEN_STD);
            if (o->dtype == WK_BF16)
                wk_cpu_type(WK_BF16)->from_float(f, dst, (int64_t)len);
            else if (o->dtype == WK_F16)
                wk_cpu_type(WK_F16)->from_float(f, dst, (int64_t)len);
        }
        if (wk_st_writer_write(w, out, cn * esz, e) != 0)
            return -1;
    }
    return 0;
}

static int gen_write_shard(const gen_opts *o, const gen_tensor *t, size_t n, uint32_t shard,
                           uint32_t n_shards, wk_err *e)
{
    char name[64];
    gen_shard_name(name, sizeof name, shard, n_shards);
    char *path = wk_path_join(o->out_dir, name);
    uint8_t *out = malloc((size_t)GEN_CHUNK * 4);
    float *scratch = malloc((size_t)omp_get_max_threads() * GEN_BLOCK * sizeof(float));
    wk_st_writer *w = NULL;
    int rc = -1;
    if (!path || !out || !scratch) {
        wk_fail(e, "%s: out of memory", o->out_dir);
        goto out;
    }
    if (wk_st_writer_open(path, &w, e) != 0 ||
        wk_st_writer_add_metadata(w, "format", "pt", e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (t[i].shard == shard &&
            wk_st_writer_add_tensor(w, t[i].name, o->dtype, t[i].n_dims, t[i].shape, e) != 0)
            goto out;
    for (size_t i = 0; i < n; i++)
        if (t[i].shard == shard && gen_write_tensor(w, o, &t[i], i, out, scratch, e) != 0)
            goto out;
    rc = wk_st_writer_finish(w, e);
    w = NULL;
out:
    if (w)
        wk_st_writer_abort(w);
    free(scratch);
    free(out);
    free(path);
    return rc;
}

#endif
