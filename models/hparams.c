/* Shared config.json getters for the families (see hparams.h). */
#include "models/hparams.h"

static int absent(const wk_hf_config *c, const char *arch, const char *key, bool required,
                  wk_err *e)
{
    return required ? wk_fail(e, "%s: missing key \"%s%s\" (needed for architecture %s)",
                              c->path, c->prefix, key, arch)
                    : 0;
}

int wk_hp_count(const wk_hf_config *c, const char *arch, const char *key, bool required,
                uint32_t dflt, uint32_t *out, wk_err *e)
{
    int64_t v;
    int rc = wk_hf_get_int(c, key, &v, e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        *out = dflt;
        return absent(c, arch, key, required, e);
    }
    if (v < 1 || v > WK_HP_MAX_DIM)
        return wk_fail(e, "%s: key \"%s%s\" is %lld; expected 1 to %d", c->path, c->prefix, key,
                       (long long)v, WK_HP_MAX_DIM);
    *out = (uint32_t)v;
    return 0;
}

int wk_hp_positive(const wk_hf_config *c, const char *arch, const char *key, bool required,
                   double dflt, double *out, wk_err *e)
{
    double v;
    int rc = wk_hf_get_float(c, key, &v, e);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (absent(c, arch, key, required, e) != 0)
            return -1;
        v = dflt;
    }
    if (!(v > 0) || v > 3.4e38)
        return wk_fail(e, "%s: key \"%s%s\" must be a positive number", c->path, c->prefix, key);
    *out = v;
    return 0;
}

int wk_hp_flag(const wk_hf_config *c, const char *key, bool *out, wk_err *e)
{
    *out = false;
    return wk_hf_get_bool(c, key, out, e) < 0 ? -1 : 0;
}
