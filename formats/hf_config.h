/* Hugging Face config.json: loading and typed look-ups with clear errors.
 * Architecture-specific interpretation (hyperparameters) lives with each family in models/. */
#ifndef WK_FORMATS_HF_CONFIG_H
#define WK_FORMATS_HF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* A JSON object of config.json: the document itself, or an object inside it reached with
 * wk_hf_get_object (which names its keys "outer.inner" in messages). */
typedef struct wk_hf_config {
    char *path;               /* .../config.json */
    const char *architecture; /* architectures[0], or NULL */
    const char *model_type;   /* model_type, or NULL */
    const void *node;         /* the object (a cJSON node, private to hf_config.c) */
    char prefix[64];          /* "" for the document, "rope_scaling." inside that object */
    void *root;               /* the parsed document; NULL in a nested view (not owned) */
} wk_hf_config;

/* Loads dir/config.json. Returns 1 (and *out NULL) when the file does not exist, 0 when
 * loaded, -1 on a read or parse error. */
int wk_hf_config_load(const char *dir, wk_hf_config **out, wk_err *e);
/* The same from text in memory; path names it in messages. */
int wk_hf_config_parse(const char *text, const char *path, wk_hf_config **out, wk_err *e);
void wk_hf_config_free(wk_hf_config *c);

/* Typed look-ups. Return 0 when found with the right type, 1 when absent (or null), -1 with
 * a message naming the file and key when present but of the wrong type or range. Integers
 * must be integral and within +-2^53 (JSON numbers are doubles). */
int wk_hf_get_int(const wk_hf_config *c, const char *key, int64_t *out, wk_err *e);
int wk_hf_get_float(const wk_hf_config *c, const char *key, double *out, wk_err *e);
int wk_hf_get_bool(const wk_hf_config *c, const char *key, bool *out, wk_err *e);
int wk_hf_get_str(const wk_hf_config *c, const char *key, const char **out, wk_err *e);
/* An object inside c, as a view that lives as long as c (nothing to free). */
int wk_hf_get_object(const wk_hf_config *c, const char *key, wk_hf_config *out, wk_err *e);

#endif
