/* gen-llama: writes a random Hugging Face Llama checkpoint directory, for tests, the demo
 * and the benchmarks.
 *
 * Layout follows transformers' LlamaForCausalLM save_pretrained: config.json,
 * model.safetensors (or model-0000i-of-0000n.safetensors shards and
 * model.safetensors.index.json {"metadata": {"total_size"}, "weight_map"}),
 * tokenizer.model (SentencePiece BPE with byte fallback, see spm_model.h),
 * tokenizer_config.json and special_tokens_map.json.
 *
 * Values are deterministic: every block of GEN_BLOCK elements of every tensor has its own
 * xoshiro256** stream seeded from (seed, tensor index, block index), so output does not
 * depend on the thread count. Matrices are ~N(0, 0.02) (Irwin-Hall sum of four uniforms,
 * scaled), norm weights ~1 + N(0, 0.02). Tensors are generated chunk by chunk in parallel
 * and streamed through the safetensors writer; the model is never held in memory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "common/cli.h"
#include "common/err.h"
#include "common/fileio.h"
#include "formats/safetensors/safetensors.h"
#include "kernels/half.h"
#include "quant/types.h"
#include "tests/gen/spm_model.h"

#define GEN_BLOCK (1u << 16)       /* elements per independently seeded stream */
#define GEN_CHUNK (64u * GEN_BLOCK) /* elements generated per write */
#define GEN_STD 0.02f

/* gen-llama parses its own options; its option list is kept as written (lines that start
 * with a space are not rewrapped) */
static const wk_tool gen_tool = {
    .name = "gen-llama",
    .synopsis = "[OPTIONS] -o DIR",
    .about =
    "Writes a random Hugging Face Llama model (config.json, safetensors, tokenizer.model).\n"
    "\n"
    "  --preset NAME       tiny (default: 256 hidden, 4 layers, vocab 1024) or\n"
    "                      tinyllama-1.1b (2048 hidden, 22 layers, vocab 32000)\n"
    "  --layers N  --hidden N  --ffn N  --heads N  --kv-heads N  --vocab N\n"
    "                      override the preset's shape\n"
    "  --dtype T           f32, f16 or bf16 (default bf16)\n"
    "  --seed N            random seed (default 42)\n"
    "  --tied              tie lm_head to the embeddings (no lm_head.weight)\n"
    "  --shard-size SIZE   split into shards of at most SIZE bytes (suffix K/M/G: powers\n"
    "                      of 1024, KB/MB/GB: powers of 1000) with an index\n"
    "  -o, --output DIR    output directory (created if missing)\n"
    "  -h, --help  --version\n",
};

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
                wk_f32_to_bf16_row(f, dst, (int64_t)len);
            else if (o->dtype == WK_F16)
                wk_f32_to_f16_row(f, dst, (int64_t)len);
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

/* Writes cJSON `doc` (consumed) as dir/name, atomically. */
static int gen_write_json(const char *dir, const char *name, cJSON *doc, wk_err *e)
{
    char *path = wk_path_join(dir, name);
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    int rc = -1;
    wk_outfile f;
    if (!path || !text)
        wk_fail(e, "%s/%s: out of memory", dir, name);
    else if (wk_out_open(&f, path, e) == 0) {
        if (wk_out_write(&f, text, strlen(text), e) == 0 && wk_out_write(&f, "\n", 1, e) == 0 &&
            wk_out_commit(&f, e) == 0)
            rc = 0;
        else
            wk_out_abort(&f);
    }
    free(text);
    free(path);
    return rc;
}

static int gen_write_index(const gen_opts *o, const gen_tensor *t, size_t n, uint32_t n_shards,
                           wk_err *e)
{
    cJSON *doc = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(doc, "metadata");
    cJSON *map = cJSON_AddObjectToObject(doc, "weight_map");
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char shard[64];
        gen_shard_name(shard, sizeof shard, t[i].shard, n_shards);
        cJSON_AddStringToObject(map, t[i].name, shard);
        total += t[i].n_bytes;
    }
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    return gen_write_json(o->out_dir, "model.safetensors.index.json", doc, e);
}

static int gen_write_config(const gen_opts *o, wk_err *e)
{
    cJSON *c = cJSON_CreateObject();
    const char *arch[] = {"LlamaForCausalLM"};
    cJSON_AddItemToObject(c, "architectures", cJSON_CreateStringArray(arch, 1));
    cJSON_AddStringToObject(c, "model_type", "llama");
    cJSON_AddNumberToObject(c, "hidden_size", (double)o->hidden);
    cJSON_AddNumberToObject(c, "intermediate_size", (double)o->ffn);
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)o->layers);
    cJSON_AddNumberToObject(c, "num_attention_heads", (double)o->heads);
    cJSON_AddNumberToObject(c, "num_key_value_heads", (double)o->kv_heads);
    cJSON_AddNumberToObject(c, "head_dim", (double)(o->hidden / o->heads));
    cJSON_AddNumberToObject(c, "vocab_size", (double)o->vocab);
    cJSON_AddNumberToObject(c, "max_position_embeddings", (double)o->max_pos);
    cJSON_AddNumberToObject(c, "rms_norm_eps", 1e-5);
    cJSON_AddNumberToObject(c, "rope_theta", 10000.0);
    cJSON_AddNullToObject(c, "rope_scaling");
    cJSON_AddStringToObject(c, "hidden_act", "silu");
    cJSON_AddBoolToObject(c, "attention_bias", 0);
    cJSON_AddBoolToObject(c, "mlp_bias", 0);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", o->tied);
    cJSON_AddNumberToObject(c, "bos_token_id", 1);
    cJSON_AddNumberToObject(c, "eos_token_id", 2);
    cJSON_AddNullToObject(c, "pad_token_id");
    cJSON_AddStringToObject(c, "torch_dtype", wk_type(o->dtype)->torch_name);
    cJSON_AddBoolToObject(c, "use_cache", 1);
    return gen_write_json(o->out_dir, "config.json", c, e);
}

static int gen_write_tokenizer_files(const gen_opts *o, wk_err *e)
{
    char *path = wk_path_join(o->out_dir, "tokenizer.model");
    int rc = path ? spm_write_model(path, (uint32_t)o->vocab, e)
                  : wk_fail(e, "%s: out of memory", o->out_dir);
    free(path);
    if (rc != 0)
        return -1;
    cJSON *tc = cJSON_CreateObject();
    cJSON_AddStringToObject(tc, "tokenizer_class", "LlamaTokenizer");
    cJSON_AddBoolToObject(tc, "add_bos_token", 1);
    cJSON_AddBoolToObject(tc, "add_eos_token", 0);
    cJSON_AddStringToObject(tc, "bos_token", "<s>");
    cJSON_AddStringToObject(tc, "eos_token", "</s>");
    cJSON_AddStringToObject(tc, "unk_token", "<unk>");
    cJSON_AddNullToObject(tc, "pad_token");
    cJSON_AddBoolToObject(tc, "legacy", 1);
    cJSON_AddNumberToObject(tc, "model_max_length", (double)o->max_pos);
    if (gen_write_json(o->out_dir, "tokenizer_config.json", tc, e) != 0)
        return -1;
    cJSON *sm = cJSON_CreateObject();
    cJSON_AddStringToObject(sm, "bos_token", "<s>");
    cJSON_AddStringToObject(sm, "eos_token", "</s>");
    cJSON_AddStringToObject(sm, "unk_token", "<unk>");
    return gen_write_json(o->out_dir, "special_tokens_map.json", sm, e);
}

/* Removes model files of an earlier run that this run did not write (another shard
 * count, or sharded vs single), so the directory holds exactly one model. */
static int gen_remove_stale(const char *dir, uint32_t n_shards, wk_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return wk_fail(e, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        unsigned part, of;
        int shard = fnmatch("model-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"
                            ".safetensors", nm, 0) == 0 &&
                    sscanf(nm, "model-%5u-of-%5u", &part, &of) == 2;
        int written = n_shards == 1 ? strcmp(nm, "model.safetensors") == 0
                                    : strcmp(nm, "model.safetensors.index.json") == 0 ||
                                          (shard && of == n_shards && part >= 1 && part <= of);
        int ours = shard || strcmp(nm, "model.safetensors") == 0 ||
                   strcmp(nm, "model.safetensors.index.json") == 0;
        if (ours && !written) {
            char *p = wk_path_join(dir, nm);
            if (!p || unlink(p) != 0)
                rc = wk_fail(e, "%s/%s: cannot remove stale file", dir, nm);
            free(p);
        }
    }
    closedir(d);
    return rc;
}

static int gen_mkdirs(const char *dir, wk_err *e)
{
    char *p = strdup(dir);
    if (!p)
        return wk_fail(e, "%s: out of memory", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int err = errno;
            free(p);
            return wk_fail(e, "%s: cannot create directory: %s", dir, strerror(err));
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return wk_is_dir(dir) ? 0 : wk_fail(e, "%s: exists and is not a directory", dir);
}

/* ---- options ---- */

static int gen_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'M' || *end == 'G') {
        int k = *end == 'K' ? 1 : *end == 'M' ? 2 : 3;
        int dec = end[1] == 'B';
        for (int i = 0; i < k; i++)
            mult *= dec ? 1000 : 1024;
        end += 1 + dec;
    }
    if (s[0] == '-' || end == s || *end || errno || wk_mul_u64(v, mult, out) != 0)
        return -1;
    return *out >= lo && *out <= hi ? 0 : -1;
}

static int gen_check_shape(const gen_opts *o, char *why, size_t len)
{
    uint64_t hd = o->hidden / o->heads;
    if (o->hidden % o->heads || hd % 2)
        snprintf(why, len, "--hidden %" PRIu64 " must be --heads %" PRIu64
                 " times an even head size", o->hidden, o->heads);
    else if (o->heads % o->kv_heads)
        snprintf(why, len, "--heads %" PRIu64 " must be a multiple of --kv-heads %" PRIu64,
                 o->heads, o->kv_heads);
    else
        return 0;
    return -1;
}

static int gen_parse(int argc, char **argv, gen_opts *o, int *done)
{
    enum { O_PRESET = 256, O_LAYERS, O_HIDDEN, O_FFN, O_HEADS, O_KV, O_VOCAB, O_DTYPE,
           O_SEED, O_TIED, O_SHARD, O_VERSION };
    static const struct option lo[] = {
        {"preset", 1, 0, O_PRESET}, {"layers", 1, 0, O_LAYERS},   {"hidden", 1, 0, O_HIDDEN},
        {"ffn", 1, 0, O_FFN},       {"heads", 1, 0, O_HEADS},     {"kv-heads", 1, 0, O_KV},
        {"vocab", 1, 0, O_VOCAB},   {"dtype", 1, 0, O_DTYPE},     {"seed", 1, 0, O_SEED},
        {"tied", 0, 0, O_TIED},     {"shard-size", 1, 0, O_SHARD}, {"output", 1, 0, 'o'},
        {"help", 0, 0, 'h'},        {"version", 0, 0, O_VERSION}, {0, 0, 0, 0},
    };
    const char *preset = "tiny", *dtype = "bf16";
    uint64_t over[O_VOCAB - O_LAYERS + 1] = {0}; /* shape overrides; 0: not given */
    int c;
    *done = 0;
    o->seed = 42;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        uint64_t limit = c == O_LAYERS ? 10000 : c == O_VOCAB ? 4000000 : 1u << 20;
        switch (c) {
        case O_PRESET: preset = optarg; break;
        case O_DTYPE: dtype = optarg; break;
        case O_TIED: o->tied = 1; break;
        case 'o': o->out_dir = optarg; break;
        case 'h': *done = 1; return wk_cli_help(&gen_tool);
        case O_VERSION: *done = 1; return wk_cli_version(&gen_tool);
        case O_SEED:
            if (gen_parse_u64(optarg, 0, UINT64_MAX, &o->seed) != 0)
                return wk_cli_usage_error(&gen_tool, "--seed: '%s' is not a number", optarg);
            break;
        case O_SHARD:
            if (gen_parse_u64(optarg, 1, UINT64_MAX, &o->shard_size) != 0)
                return wk_cli_usage_error(&gen_tool, "--shard-size: '%s' is not a size", optarg);
            break;
        case O_LAYERS: case O_HIDDEN: case O_FFN: case O_HEADS: case O_KV: case O_VOCAB:
            if (gen_parse_u64(optarg, c == O_VOCAB ? 260 : 1, limit, &over[c - O_LAYERS]) != 0)
                return wk_cli_usage_error(&gen_tool, "--%s: '%s' is not a number in %s..%" PRIu64,
                                          lo[c - O_PRESET].name, optarg,
                                          c == O_VOCAB ? "260" : "1", limit);
            break;
        default: return wk_cli_usage_error(&gen_tool, "invalid option");
        }
    }
    if (optind < argc)
        return wk_cli_usage_error(&gen_tool, "unexpected argument '%s'", argv[optind]);
    if (!o->out_dir)
        return wk_cli_usage_error(&gen_tool, "missing -o DIR");
    if (strcmp(preset, "tiny") == 0) {
        o->hidden = 256, o->ffn = 688, o->layers = 4, o->heads = 8, o->kv_heads = 4;
        o->vocab = 1024, o->max_pos = 512;
    } else if (strcmp(preset, "tinyllama-1.1b") == 0) {
        o->hidden = 2048, o->ffn = 5632, o->layers = 22, o->heads = 32, o->kv_heads = 4;
        o->vocab = 32000, o->max_pos = 2048;
    } else {
        return wk_cli_usage_error(&gen_tool, "--preset: unknown '%s' (tiny, tinyllama-1.1b)", preset);
    }
    uint64_t *field[] = {&o->layers, &o->hidden, &o->ffn, &o->heads, &o->kv_heads, &o->vocab};
    for (int k = 0; k <= O_VOCAB - O_LAYERS; k++)
        if (over[k])
            *field[k] = over[k];
    if (strcmp(dtype, "f32") == 0)
        o->dtype = WK_F32;
    else if (strcmp(dtype, "f16") == 0)
        o->dtype = WK_F16;
    else if (strcmp(dtype, "bf16") == 0)
        o->dtype = WK_BF16;
    else
        return wk_cli_usage_error(&gen_tool, "--dtype: unknown '%s' (f32, f16, bf16)", dtype);
    char why[256];
    if (gen_check_shape(o, why, sizeof why) != 0)
        return wk_cli_usage_error(&gen_tool, "%s", why);
    return WK_EXIT_OK;
}

int main(int argc, char **argv)
{
    gen_opts o = {0};
    int done, rc = gen_parse(argc, argv, &o, &done);
    if (rc != WK_EXIT_OK || done)
        return rc;
    wk_err e = {{0}};
    size_t n;
    gen_tensor *t = gen_plan(&o, &n);
    if (!t) {
        wk_fail(&e, "out of memory planning %" PRIu64 " layers", o.layers);
        return wk_cli_error(&gen_tool, &e);
    }
    uint32_t n_shards = gen_assign_shards(t, n, o.shard_size);
    int ok = gen_mkdirs(o.out_dir, &e) == 0 && gen_write_config(&o, &e) == 0 &&
             gen_write_tokenizer_files(&o, &e) == 0;
    for (uint32_t s = 0; ok && s < n_shards; s++)
        ok = gen_write_shard(&o, t, n, s, n_shards, &e) == 0;
    if (ok && n_shards > 1)
        ok = gen_write_index(&o, t, n, n_shards, &e) == 0;
    if (ok)
        ok = gen_remove_stale(o.out_dir, n_shards, &e) == 0;
    uint64_t params = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        params += t[i].n_el;
        bytes += t[i].n_bytes;
    }
    free(t);
    if (!ok)
        return wk_cli_error(&gen_tool, &e);
    printf("gen-llama: wrote %s: %zu tensors, %" PRIu64 " parameters, %" PRIu64
           " bytes of %s in %u file(s)\n", o.out_dir, n, params, bytes, wk_type(o.dtype)->name,
           n_shards);
    return WK_EXIT_OK;
}
