/* Rotary position embeddings (see rope.h). The YaRN correction follows ggml's rope_yarn:
 * theta = theta_interp * (1 - mix) + theta_extrap * mix, where mix ramps from 1 to 0 between
 * the correction dimensions derived from beta_fast and beta_slow, and the magnitude gains
 * 1 + 0.1 ln(1 / freq_scale). */
#include "kernels/rope.h"

#include <math.h>

/* The dimension whose wavelength makes n_rot turns over the original context. */
static double corr_dim(uint32_t n_dims, uint32_t n_ctx, double n_rot, double base)
{
    return n_dims * log(n_ctx / (n_rot * 2 * M_PI)) / (2 * log(base));
}

static double ramp(double low, double high, uint32_t i0)
{
    double y = ((double)(i0 / 2) - low) / fmax(0.001, high - low);
    return 1 - fmin(1, fmax(0, y));
}

void wk_rope_angles(const wk_rope *r, int64_t pos, double *cs)
{
    double lo = 0, hi = 0, mscale = r->attn_factor > 0 ? r->attn_factor : 1.0;
    if (r->ext_factor != 0) {
        lo = fmax(0, floor(corr_dim(r->n_dims, r->n_ctx_orig, r->beta_fast, r->base)));
        hi = fmin(r->n_dims - 1, ceil(corr_dim(r->n_dims, r->n_ctx_orig, r->beta_slow, r->base)));
        mscale *= 1.0 + 0.1 * log(1.0 / r->freq_scale);
    }
    for (uint32_t i0 = 0; i0 < r->n_dims; i0 += 2) {
        double theta = (double)pos * pow(r->base, -(double)i0 / r->n_dims);
        if (r->freq_factors)
            theta /= r->freq_factors[i0 / 2];
        double t = r->freq_scale * theta;
        if (r->ext_factor != 0) {
            double mix = ramp(lo, hi, i0) * r->ext_factor;
            t = t * (1 - mix) + theta * mix;
        }
        cs[i0] = cos(t) * mscale;
        cs[i0 + 1] = sin(t) * mscale;
    }
}

void wk_rope_rotate(const wk_rope *r, float *x, int n_heads, int head_dim, const double *cs)
{
    uint32_t half = r->n_dims / 2;
    for (uint32_t i0 = 0; i0 < r->n_dims; i0 += 2) {
        double c = cs[i0], s = cs[i0 + 1];
        uint32_t a = r->neox ? i0 / 2 : i0, b = r->neox ? i0 / 2 + half : i0 + 1;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)h * head_dim;
            double x0 = v[a], x1 = v[b];
            v[a] = (float)(x0 * c - x1 * s);
            v[b] = (float)(x0 * s + x1 * c);
        }
    }
}
