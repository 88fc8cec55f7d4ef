/* Hugging Face config.json: loading and typed look-ups with clear errors.
 * Architecture-specific interpretation (hyperparameters) lives with each architecture. */
#ifndef WK_FORMATS_HF_CONFIG_H
#define WK_FORMATS_HF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/err.h"

typedef struct wk_hf_config {
    char *path;        /* .../config.json */
    cJSON *json;       /* the whole document (an object) */
    const char *architecture; /* architectures[0], or NULL */
    const char *model_type;   /* model_type, or NULL */
} wk_hf_config;

/* Loads dir/config.json. Returns 1 (and *out NULL) when the file does not exist, 0 when
 * loaded, -1 on a read or parse error. */
int wk_hf_config_load(const char *dir, wk_hf_config **out, wk_err *e);
void wk_hf_config_free(wk_hf_config *c);

/* Typed look-ups. Return 0 when found with the right type, 1 when absent (or null), -1 with
 * a message naming the file and key when present but of the wrong type or range. */
int wk_hf_get_int(const wk_hf_config *c, const char *key, int64_t *out, wk_err *e);
int wk_hf_get_float(const wk_hf_config *c, const char *key, double *out, wk_err *e);
int wk_hf_get_bool(const wk_hf_config *c, const char *key, bool *out, wk_err *e);
int wk_hf_get_str(const wk_hf_config *c, const char *key, const char **out, wk_err *e);

#endif
