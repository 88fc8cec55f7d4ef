/* RoPE scaling as config.json gives it (rope_scaling, or rope_parameters in newer
 * transformers) and as GGUF stores it: linear and yarn become `<arch>.rope.scaling.*` keys,
 * llama3 a rope_freqs.weight tensor of per-frequency factors (llama.cpp's
 * convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors). Shared by every family that
 * uses RoPE. */
#ifndef WK_MODELS_ROPE_H
#define WK_MODELS_ROPE_H

#include <stdint.h>

#include "common/err.h"
#include "formats/gguf/gguf.h"
#include "formats/hf_config.h"

typedef enum wk_rope_type {
    WK_ROPE_NONE,
    WK_ROPE_LINEAR,
    WK_ROPE_YARN,
    WK_ROPE_LLAMA3,
} wk_rope_type;

typedef struct wk_rope_scaling {
    wk_rope_type type;
    float factor;             /* linear, yarn, llama3 */
    uint32_t orig_ctx;        /* yarn, llama3 */
    /* yarn extras; NaN when absent */
    float yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    float llama3_low_freq, llama3_high_freq;
} wk_rope_scaling;

/* Reads the scaling object of config c for family arch. A rope_theta inside it replaces
 * *theta. Unknown types and missing or malformed values are errors naming the key as the
 * config wrote it ("rope_scaling.type" or "rope_parameters.rope_type"). */
int wk_rope_scaling_load(const wk_hf_config *c, const char *arch, wk_rope_scaling *out,
                         float *theta, wk_err *e);

/* Writes `<arch>.rope.scaling.*` for linear and yarn; nothing for none and llama3. */
int wk_rope_scaling_write(const wk_rope_scaling *r, const char *arch, wk_gguf_writer *w,
                          wk_err *e);

/* The llama3 factors (head_dim / 2 floats) for rope_freqs.weight. */
void wk_rope_llama3_factors(const wk_rope_scaling *r, float theta, uint32_t head_dim,
                            float *out);

#endif
