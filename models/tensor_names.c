/* Tensor name -> (layer, category), and HF <-> GGUF name translation.
 *
 * Names of the role table (models/tensor_roles.c) -- GGUF names, and the Hugging Face names
 * of registered families -- take their role's category. Other names (families not yet
 * registered: GPT-2, Mixtral, ...) are classified by keywords. Names are split on '.' into segments. The layer is the all-digit segment that follows a
 * block container segment: "layers" (Llama, Mistral, Mixtral, Qwen2, Gemma), "h" (GPT-2),
 * "blk" (GGUF), "blocks"/"block"/"layer" (other families). Digits elsewhere (Mixtral's
 * "experts.3") are not layers. The category is decided in this order:
 *   1. a name ending in ".bias" is a bias (its layer is still reported);
 *   2. any segment naming a norm ("norm", "layernorm", GPT-2's ln_1/ln_2/ln_f) is a norm, so
 *      GGUF's attn_norm/ffn_norm and Qwen3's q_norm count as norms, not as their block part;
 *   3. the first segment (left to right) that names a category decides: lm_head, embed_out
 *      and a leading GGUF "output" are the output; embed_tokens, wte, wpe, token_embd,
 *      position_embd are embeddings; self_attn, attn, attention, attn_* and *_proj of q/k/v/o
 *      are attention; mlp, ffn_*, feed_forward, block_sparse_moe, experts are feed-forward;
 *   4. rotary tables (GGUF rope_freqs, HF rotary_emb.inv_freq) and anything else are
 *      "other". */
#include "models/tensor_names.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "models/arch.h"

#define SEG_MAX 64 /* longer segments never match a keyword */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_one_of(const char *seg, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(seg, *words) == 0)
            return true;
    return false;
}

static bool is_norm(const char *seg)
{
    static const char *const gpt2[] = {"ln_1", "ln_2", "ln_f", "ln", NULL};
    return strstr(seg, "norm") != NULL || is_one_of(seg, gpt2);
}

/* The category a single segment names, or WK_CAT_COUNT when it names none. `first` says
 * whether it is the name's first segment (GGUF's top-level "output"). */
static wk_category segment_category(const char *seg, bool first)
{
    static const char *const output[] = {"lm_head", "embed_out", NULL};
    static const char *const embedding[] = {"embed_tokens", "wte", "wpe", "token_embd",
                                            "position_embd", "embed_positions",
                                            "word_embeddings", "position_embeddings",
                                            "embeddings", NULL};
    static const char *const attention[] = {"self_attn", "attn", "attention", "c_attn",
                                            "q_proj", "k_proj", "v_proj", "o_proj",
                                            "qkv_proj", NULL};
    static const char *const feedforward[] = {"mlp", "feed_forward", "block_sparse_moe",
                                              "experts", "c_fc", "moe", NULL};
    if (is_one_of(seg, output) || (first && strcmp(seg, "output") == 0))
        return WK_CAT_OUTPUT;
    if (is_one_of(seg, embedding))
        return WK_CAT_EMBEDDING;
    if (is_one_of(seg, attention) || starts_with(seg, "attn_"))
        return WK_CAT_ATTENTION;
    if (is_one_of(seg, feedforward) || starts_with(seg, "ffn_"))
        return WK_CAT_FEEDFORWARD;
    return WK_CAT_COUNT;
}

static bool is_rotary(const char *seg)
{
    static const char *const rotary[] = {"rope_freqs", "rotary_emb", "inv_freq", NULL};
    return is_one_of(seg, rotary);
}

static bool is_block_container(const char *seg)
{
    static const char *const containers[] = {"layers", "h", "blk", "blocks", "block", "layer",
                                             NULL};
    return is_one_of(seg, containers);
}

/* The segment as a non-negative int, or -1 when it is not all digits or too large. */
static int parse_index(const char *seg)
{
    if (!*seg)
        return -1;
    long v = 0;
    for (const char *p = seg; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > INT_MAX)
            return -1;
    }
    return (int)v;
}

/* An HF name of family a: "<hf_names[r]>.<suffix>" or "<prefix><i>.<hf_names[r]>.<suffix>". */
static int parse_hf(const wk_arch *a, const char *name, wk_role *role, int *layer,
                    const char **suffix)
{
    const char *rest = name;
    size_t pl = strlen(a->hf_layer_prefix);
    *layer = -1;
    if (strncmp(name, a->hf_layer_prefix, pl) == 0 && name[pl] >= '0' && name[pl] <= '9') {
        char *end;
        long i = strtol(name + pl, &end, 10);
        if (*end != '.' || i > 1000000)
            return -1;
        *layer = (int)i;
        rest = end + 1;
    }
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        const char *hf = a->hf_names[r];
        size_t n = hf ? strlen(hf) : 0;
        if (hf && wk_role_get((wk_role)r)->per_layer == (*layer >= 0) &&
            strncmp(rest, hf, n) == 0 && rest[n] == '.' && rest[n + 1]) {
            *role = (wk_role)r;
            *suffix = rest + n + 1;
            return 0;
        }
    }
    return -1;
}

/* The role of a GGUF name or of an HF name of any registered family; a is set to the family
 * for HF names and to NULL for GGUF names. */
static int find_role(const char *name, const wk_arch **a, wk_role *role, int *layer,
                     const char **suffix)
{
    *a = NULL;
    if (wk_role_parse_gguf(name, role, layer, suffix) == 0)
        return 0;
    for (size_t k = 0; wk_archs[k]; k++)
        if (parse_hf(wk_archs[k], name, role, layer, suffix) == 0) {
            *a = wk_archs[k];
            return 0;
        }
    return -1;
}

int wk_tensor_name_other(const char *name, char *out, size_t len)
{
    const wk_arch *a;
    wk_role r;
    int layer;
    const char *suffix;
    out[0] = '\0';
    if (find_role(name, &a, &r, &layer, &suffix) != 0)
        return -1;
    if (a) {
        wk_role_gguf_name(r, layer, suffix, out, len);
        return 0;
    }
    for (size_t k = 0; wk_archs[k]; k++) {
        const wk_arch *f = wk_archs[k];
        if (!f->hf_names[r])
            continue;
        if (layer >= 0)
            snprintf(out, len, "%s%d.%s.%s", f->hf_layer_prefix, layer, f->hf_names[r], suffix);
        else
            snprintf(out, len, "%s.%s", f->hf_names[r], suffix);
        return 0;
    }
    return -1;
}

wk_category wk_tensor_category(const char *name, int *layer)
{
    const wk_arch *a;
    wk_role role;
    int role_layer;
    const char *suffix;
    if (find_role(name, &a, &role, &role_layer, &suffix) == 0) {
        if (layer)
            *layer = role_layer;
        return strcmp(suffix, "bias") == 0 ? WK_CAT_BIAS : wk_role_get(role)->category;
    }
    int found_layer = -1;
    bool any_norm = false, any_rotary = false;
    wk_category by_segment = WK_CAT_COUNT;
    char seg[SEG_MAX], prev[SEG_MAX] = "";
    const char *p = name;
    for (bool first = true;; first = false) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len < SEG_MAX) {
            memcpy(seg, p, len);
            seg[len] = '\0';
        } else {
            seg[0] = '\0';
        }
        int idx = parse_index(seg);
        if (found_layer < 0 && idx >= 0 && is_block_container(prev))
            found_layer = idx;
        if (is_norm(seg))
            any_norm = true;
        if (is_rotary(seg))
            any_rotary = true;
        if (by_segment == WK_CAT_COUNT)
            by_segment = segment_category(seg, first);
        memcpy(prev, seg, sizeof prev);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (layer)
        *layer = found_layer;
    if (wk_has_suffix(name, ".bias"))
        return WK_CAT_BIAS;
    if (any_norm)
        return WK_CAT_NORM;
    return by_segment == WK_CAT_COUNT || any_rotary ? WK_CAT_OTHER : by_segment;
}
