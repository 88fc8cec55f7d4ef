/* Rotary position embeddings at run time, as llama.cpp applies them (ggml's rope with its
 * YaRN and frequency-factor extensions): pairs of a head's first n_dims values are rotated
 * by pos * base^(-2i/n_dims), divided by a per-frequency factor (Llama 3.1's rope_freqs),
 * scaled linearly (freq_scale = 1/factor) or by YaRN's ramp between interpolation and
 * extrapolation. The pairs are adjacent (x[2i], x[2i+1]: GGUF `llama`, whose q/k rows the
 * converter un-permuted) or split (x[i], x[i + n_dims/2]: NeoX layout). Angles are computed in
 * double, so long positions stay exact. */
#ifndef WK_KERNELS_ROPE_H
#define WK_KERNELS_ROPE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct wk_rope {
    uint32_t n_dims;           /* rotated values per head (even, <= head size) */
    double base;               /* rope.freq_base */
    double freq_scale;         /* 1 / linear or YaRN factor; 1 without scaling */
    const float *freq_factors; /* n_dims / 2 divisors (rope_freqs.weight), or NULL */
    bool neox;                 /* split pairs instead of adjacent ones */
    /* YaRN (ext_factor 0: off) */
    double ext_factor, attn_factor, beta_fast, beta_slow;
    uint32_t n_ctx_orig;
} wk_rope;

/* The rotation at position pos: cs[2i] and cs[2i + 1] the cosine and sine of pair i's angle,
 * times the magnitude gain, for the n_dims / 2 pairs (n_dims values). One position's angles
 * serve every layer and both q and k. */
void wk_rope_angles(const wk_rope *r, int64_t pos, double *cs);

/* Rotates n_heads heads of head_dim values (x[h * head_dim + ...]) by angles cs. */
void wk_rope_rotate(const wk_rope *r, float *x, int n_heads, int head_dim, const double *cs);

#endif
