/* The role table (see tensor_roles.h). GGUF names follow gguf-py's constants.py
 * (MODEL_TENSOR -> TENSOR_NAMES), which llama.cpp's loader uses. */
#include "models/tensor_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wk_role_info ROLES[WK_ROLE_COUNT] = {
    [WK_ROLE_TOKEN_EMBD] = {"token_embd", false, WK_CAT_EMBEDDING},
    [WK_ROLE_ROPE_FREQS] = {"rope_freqs", false, WK_CAT_OTHER},
    [WK_ROLE_OUTPUT_NORM] = {"output_norm", false, WK_CAT_NORM},
    [WK_ROLE_OUTPUT] = {"output", false, WK_CAT_OUTPUT},
    [WK_ROLE_ATTN_NORM] = {"attn_norm", true, WK_CAT_NORM},
    [WK_ROLE_ATTN_Q] = {"attn_q", true, WK_CAT_ATTENTION},
    [WK_ROLE_ATTN_K] = {"attn_k", true, WK_CAT_ATTENTION},
    [WK_ROLE_ATTN_V] = {"attn_v", true, WK_CAT_ATTENTION},
    [WK_ROLE_ATTN_OUT] = {"attn_output", true, WK_CAT_ATTENTION},
    [WK_ROLE_FFN_NORM] = {"ffn_norm", true, WK_CAT_NORM},
    [WK_ROLE_FFN_GATE] = {"ffn_gate", true, WK_CAT_FEEDFORWARD},
    [WK_ROLE_FFN_UP] = {"ffn_up", true, WK_CAT_FEEDFORWARD},
    [WK_ROLE_FFN_DOWN] = {"ffn_down", true, WK_CAT_FEEDFORWARD},
};

static const char *const CATEGORY_NAMES[WK_CAT_COUNT] = {
    [WK_CAT_EMBEDDING] = "embedding", [WK_CAT_ATTENTION] = "attention",
    [WK_CAT_FEEDFORWARD] = "feedforward", [WK_CAT_NORM] = "norm",
    [WK_CAT_BIAS] = "bias", [WK_CAT_OUTPUT] = "output", [WK_CAT_OTHER] = "other",
};

const char *wk_category_name(wk_category c)
{
    return (unsigned)c < WK_CAT_COUNT ? CATEGORY_NAMES[c] : "other";
}

const wk_role_info *wk_role_get(wk_role r)
{
    return (unsigned)r < WK_ROLE_COUNT ? &ROLES[r] : NULL;
}

/* "<gguf>.<suffix>" at s for some role of the wanted kind; the suffix must be non-empty. */
static int match_role(const char *s, bool per_layer, wk_role *role, const char **suffix)
{
    for (int r = 0; r < WK_ROLE_COUNT; r++) {
        size_t n = strlen(ROLES[r].gguf);
        if (ROLES[r].per_layer == per_layer && strncmp(s, ROLES[r].gguf, n) == 0 &&
            s[n] == '.' && s[n + 1] != '\0') {
            *role = (wk_role)r;
            *suffix = s + n + 1;
            return 0;
        }
    }
    return -1;
}

int wk_role_parse_gguf(const char *name, wk_role *role, int *layer, const char **suffix)
{
    if (strncmp(name, "blk.", 4) != 0) {
        *layer = -1;
        return match_role(name, false, role, suffix);
    }
    const char *p = name + 4;
    char *end;
    if (*p < '0' || *p > '9')
        return -1;
    long i = strtol(p, &end, 10);
    if (*end != '.' || i > 1000000)
        return -1;
    *layer = (int)i;
    return match_role(end + 1, true, role, suffix);
}

void wk_role_gguf_name(wk_role r, int layer, const char *suffix, char *out, size_t len)
{
    if (ROLES[r].per_layer)
        snprintf(out, len, "blk.%d.%s.%s", layer, ROLES[r].gguf, suffix);
    else
        snprintf(out, len, "%s.%s", ROLES[r].gguf, suffix);
}
