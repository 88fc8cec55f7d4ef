/* gen-llama's side files, as transformers' save_pretrained and the Llama tokenizer write
 * them: config.json, model.safetensors.index.json {"metadata": {"total_size"},
 * "weight_map"} for sharded models, tokenizer.model (spm_model.h), tokenizer_config.json and
 * special_tokens_map.json. Each is written atomically (temp file + rename).
 * Included by gen-llama.c only: each .c file in tests/gen is a program of its own. */
#ifndef WK_GEN_LLAMA_FILES_H
#define WK_GEN_LLAMA_FILES_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/err.h"
#include "common/fileio.h"
#include "tests/gen/llama_weights.h"
#include "tests/gen/spm_model.h"

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

#endif
