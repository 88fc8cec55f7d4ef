/* RoPE scaling: config.json -> wk_rope_scaling -> GGUF keys or factors (see rope.h). The
 * defaults are transformers' (modeling_rope_utils.py): llama3 factor 8, low/high frequency
 * factors 1 and 4, original context 8192 unless config.json gives one. */
#include "models/rope.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/hparams.h"

/* An optional float: NaN when absent. */
static int opt_float(const wk_hf_config *s, const char *key, float *out, wk_err *e)
{
    double v;
    int rc = wk_hf_get_float(s, key, &v, e);
    if (rc < 0)
        return -1;
    *out = rc == 1 ? NAN : (float)v;
    return 0;
}

static int load_yarn(const wk_hf_config *s, const char *arch, bool orig_required,
                     double dflt_orig, wk_rope_scaling *r, double *factor, double *orig,
                     wk_err *e)
{
    if (wk_hp_positive(s, arch, "factor", true, 0, factor, e) ||
        wk_hp_positive(s, arch, "original_max_position_embeddings", orig_required, dflt_orig,
                       orig, e) ||
        opt_float(s, "extrapolation_factor", &r->yarn_ext_factor, e) ||
        opt_float(s, "beta_fast", &r->yarn_beta_fast, e) ||
        opt_float(s, "beta_slow", &r->yarn_beta_slow, e) ||
        opt_float(s, "attention_factor", &r->yarn_attn_factor, e))
        return -1;
    if (isnan(r->yarn_attn_factor) && opt_float(s, "attn_factor", &r->yarn_attn_factor, e))
        return -1;
    r->type = WK_ROPE_YARN;
    return 0;
}

static int load_llama3(const wk_hf_config *s, const char *arch, double dflt_orig,
                       wk_rope_scaling *r, double *factor, double *orig, wk_err *e)
{
    double lo, hi;
    if (wk_hp_positive(s, arch, "factor", false, 8.0, factor, e) ||
        wk_hp_positive(s, arch, "original_max_position_embeddings", false, dflt_orig, orig, e) ||
        wk_hp_positive(s, arch, "low_freq_factor", false, 1.0, &lo, e) ||
        wk_hp_positive(s, arch, "high_freq_factor", false, 4.0, &hi, e))
        return -1;
    if (lo == hi)
        return wk_fail(e, "%s: \"%slow_freq_factor\" equals \"high_freq_factor\"", s->path,
                       s->prefix);
    r->type = WK_ROPE_LLAMA3;
    r->llama3_low_freq = (float)lo;
    r->llama3_high_freq = (float)hi;
    return 0;
}

int wk_rope_scaling_load(const wk_hf_config *c, const char *arch, wk_rope_scaling *r,
                         float *theta, wk_err *e)
{
    memset(r, 0, sizeof *r);
    r->type = WK_ROPE_NONE;
    wk_hf_config s;
    int rc = wk_hf_get_object(c, "rope_parameters", &s, e);
    if (rc == 1)
        rc = wk_hf_get_object(c, "rope_scaling", &s, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    double th;
    if (wk_hp_positive(&s, arch, "rope_theta", false, *theta, &th, e))
        return -1;
    *theta = (float)th;
    const char *ty_key = "rope_type", *t; /* older configs say "type": name what was written */
    rc = wk_hf_get_str(&s, ty_key, &t, e);
    if (rc == 1) {
        ty_key = "type";
        rc = wk_hf_get_str(&s, ty_key, &t, e);
    }
    if (rc != 0 || strcmp(t, "default") == 0)
        return rc < 0 ? -1 : 0;
    double factor, orig;
    if (strcmp(t, "linear") == 0) {
        if (wk_hp_positive(&s, arch, "factor", true, 0, &factor, e))
            return -1;
        r->type = WK_ROPE_LINEAR;
        r->factor = (float)factor;
        return 0;
    }
    int64_t top_orig;
    rc = wk_hf_get_int(c, "original_max_position_embeddings", &top_orig, e);
    if (rc < 0)
        return -1;
    double dflt_orig = rc == 0 ? (double)top_orig : 8192;
    if (strcmp(t, "yarn") == 0)
        rc = load_yarn(&s, arch, rc == 1, dflt_orig, r, &factor, &orig, e);
    else if (strcmp(t, "llama3") == 0)
        rc = load_llama3(&s, arch, dflt_orig, r, &factor, &orig, e);
    else
        rc = wk_fail(e, "%s: \"%s%s\" is \"%s\"; architecture %s supports default, linear, yarn "
                     "and llama3", s.path, s.prefix, ty_key, t, arch);
    if (rc)
        return -1;
    if (orig > WK_HP_MAX_DIM || orig != floor(orig))
        return wk_fail(e, "%s: \"%soriginal_max_position_embeddings\" must be an integer",
                       s.path, s.prefix);
    r->factor = (float)factor;
    r->orig_ctx = (uint32_t)orig;
    return 0;
}

static int set_opt_f32(wk_gguf_writer *w, const char *arch, const char *key, float v,
                       wk_err *e)
{
    char k[96];
    snprintf(k, sizeof k, "%s.rope.scaling.%s", arch, key);
    return isnan(v) ? 0 : wk_gguf_set_f32(w, k, v, e);
}

int wk_rope_scaling_write(const wk_rope_scaling *r, const char *arch, wk_gguf_writer *w,
                          wk_err *e)
{
    if (r->type != WK_ROPE_LINEAR && r->type != WK_ROPE_YARN)
        return 0;
    char type_key[96], orig_key[96];
    snprintf(type_key, sizeof type_key, "%s.rope.scaling.type", arch);
    snprintf(orig_key, sizeof orig_key, "%s.rope.scaling.original_context_length", arch);
    if (wk_gguf_set_str(w, type_key, r->type == WK_ROPE_LINEAR ? "linear" : "yarn", e) ||
        set_opt_f32(w, arch, "factor", r->factor, e))
        return -1;
    if (r->type == WK_ROPE_YARN &&
        (wk_gguf_set_u32(w, orig_key, r->orig_ctx, e) ||
         set_opt_f32(w, arch, "yarn_ext_factor", r->yarn_ext_factor, e) ||
         set_opt_f32(w, arch, "yarn_attn_factor", r->yarn_attn_factor, e) ||
         set_opt_f32(w, arch, "yarn_beta_fast", r->yarn_beta_fast, e) ||
         set_opt_f32(w, arch, "yarn_beta_slow", r->yarn_beta_slow, e)))
        return -1;
    return 0;
}

/* Llama 3.1's frequency-dependent scaling: wavelengths shorter than orig/high are kept,
 * longer than orig/low divided by factor, and those between interpolated smoothly. */
void wk_rope_llama3_factors(const wk_rope_scaling *r, float theta, uint32_t head_dim,
                            float *out)
{
    const double two_pi = 6.283185307179586;
    double base = theta, dim = head_dim, factor = r->factor;
    double lo = r->llama3_low_freq, hi = r->llama3_high_freq, old = r->orig_ctx;
    double lo_wavelen = old / lo, hi_wavelen = old / hi;
    for (uint32_t i = 0; i < head_dim / 2; i++) {
        double freq = 1.0 / pow(base, (2.0 * i) / dim);
        double wavelen = two_pi / freq;
        if (wavelen < hi_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > lo_wavelen) {
            out[i] = (float)factor;
        } else {
            double smooth = (old / wavelen - lo) / (hi - lo);
            out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
}
