/* Tensor name -> (layer, category).
 *
 * Names are split on '.' into segments. The layer is the all-digit segment that follows a
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
#include <string.h>

#include "common/strutil.h"

#define SEG_MAX 64 /* longer segments never match a keyword */

static const char *const category_names[WK_CAT_COUNT] = {
    [WK_CAT_EMBEDDING] = "embedding", [WK_CAT_ATTENTION] = "attention",
    [WK_CAT_FEEDFORWARD] = "feedforward", [WK_CAT_NORM] = "norm",
    [WK_CAT_BIAS] = "bias", [WK_CAT_OUTPUT] = "output", [WK_CAT_OTHER] = "other",
};

const char *wk_category_name(wk_category c)
{
    return (unsigned)c < WK_CAT_COUNT ? category_names[c] : "other";
}

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

wk_category wk_tensor_category(const char *name, int *layer)
{
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
