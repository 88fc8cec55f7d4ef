/* config.json getters every family shares, with one rule for absent keys and one wording for
 * range errors: a required key that is missing names the family that needs it; an optional
 * one takes the default given (transformers' default for that config class). Each returns 0
 * or -1 with e filled. */
#ifndef WK_MODELS_HPARAMS_H
#define WK_MODELS_HPARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/hf_config.h"

#define WK_HP_MAX_DIM 2147483647 /* what ggml's int32 dimensions hold */

/* A count in [1, WK_HP_MAX_DIM]. */
int wk_hp_count(const wk_hf_config *c, const char *arch, const char *key, bool required,
                uint32_t dflt, uint32_t *out, wk_err *e);
/* A finite positive number that fits a float. */
int wk_hp_positive(const wk_hf_config *c, const char *arch, const char *key, bool required,
                   double dflt, double *out, wk_err *e);
/* true/false; absent is false. */
int wk_hp_flag(const wk_hf_config *c, const char *key, bool *out, wk_err *e);

#endif
