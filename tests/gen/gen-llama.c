/* gen-llama: writes a random Hugging Face Llama checkpoint directory, for tests, the demo
 * and the benchmarks.
 *
 * Layout follows transformers' LlamaForCausalLM save_pretrained: config.json,
 * model.safetensors (or model-0000i-of-0000n.safetensors shards and
 * model.safetensors.index.json), tokenizer.model, tokenizer_config.json and
 * special_tokens_map.json. This file holds the options and the directory handling; the
 * weights are made in llama_weights.h, the side files in llama_files.h (with the
 * tokenizer in spm_model.h). */
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

#include "common/cli.h"
#include "common/err.h"
#include "common/fileio.h"
#include "quant/types.h"
#include "tests/gen/llama_files.h"
#include "tests/gen/llama_weights.h"

/* gen-llama parses its own options; its option list is kept as written (lines that start
 * with a space are not rewrapped) */
static const wk_tool gen_tool = {
    .name = "gen-llama",
    .synopsis = "[OPTIONS] -o DIR",
    .about =
    "Writes a random Hugging Face Llama model (config.json, safetensors, tokenizer.model).\n"
    "\n"
    "  --preset NAME       tiny (default: 256 hidden, 4 layers, vocab 1024),\n"
    "                      tinyllama-1.1b (2048 hidden, 22 layers, vocab 32000) or\n"
    "                      llama2-7b (4096 hidden, 32 layers, 11008 ffn, 32 heads)\n"
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
    } else if (strcmp(preset, "llama2-7b") == 0) {
        o->hidden = 4096, o->ffn = 11008, o->layers = 32, o->heads = 32, o->kv_heads = 32;
        o->vocab = 32000, o->max_pos = 4096;
    } else {
        return wk_cli_usage_error(&gen_tool, "--preset: unknown '%s' (tiny, tinyllama-1.1b, "
                                  "llama2-7b)", preset);
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
