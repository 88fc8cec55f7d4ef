/* The conversion plan: every tensor a Hugging Face checkpoint must hold for its config, and
 * what each becomes in the GGUF. A family's plan() (models/arch.h) fills it from config.json;
 * the pipeline (models/convert.c) matches the checkpoint against it and streams the data. */
#ifndef WK_MODELS_PLAN_H
#define WK_MODELS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/gguf/gguf.h"
#include "models/tensor_roles.h"

#define WK_CONV_HF_NAME 192

/* One tensor of the converted file. Shapes are outermost first (PyTorch order). */
typedef struct wk_conv_tensor {
    char hf_name[WK_CONV_HF_NAME];     /* source name; "" for a generated tensor */
    char gguf_name[WK_GGUF_MAX_NAME];
    wk_role role;
    uint32_t n_dims;                   /* 1 or 2 */
    uint64_t shape[2];
    uint32_t unpermute_heads;          /* > 0: undo HF's q/k row permutation (qk_permute.h) */
    bool optional;                     /* may be absent from the checkpoint */
    bool drop;                         /* accepted in the checkpoint but not written */
    char same_as[WK_CONV_HF_NAME];     /* drop: the tensor it should equal (tied weights) */
    float *values;                     /* generated F32 data (shape[0] floats), else NULL */
} wk_conv_tensor;

typedef struct wk_conv_plan {
    wk_conv_tensor *t;
    size_t n, cap;
} wk_conv_plan;

/* Appends a tensor named by its names; returns it (zeroed flags) or NULL with e filled on
 * allocation failure. The pointer is valid until the next add. */
wk_conv_tensor *wk_conv_plan_add(wk_conv_plan *p, const char *hf_name, const char *gguf_name,
                                 uint32_t n_dims, uint64_t d0, uint64_t d1, wk_err *e);
void wk_conv_plan_free(wk_conv_plan *p);

#endif
