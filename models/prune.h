/* wk-prune's pipeline: a GGUF (F32/F16/BF16) or a Hugging Face checkpoint in, a pruned GGUF
 * or (from a checkpoint) a pruned Hugging Face directory out, one tensor at a time.
 *
 * Which tensors: by default the attention and feed-forward matrices; `categories` names
 * others (embedding, norm, bias, output). Each selected tensor is read into F32 in the
 * output's layout, pruned by quant/prune.h (magnitude, N:M, or Wanda's |w| * ||x_j|| with the
 * engine's calibration), and written back in its own type with only zeros changed, so F16
 * stays F16 and every kept weight is bit-identical. The rest is copied as wk-convert (from
 * a checkpoint) or wk-quantize (from a GGUF) would copy it. Tensors are written grouped by
 * layer, in increasing order, whatever the input's order, so Wanda's calibration sees the
 * layers in turn. Checks before anything is written: a quantized input (prune before
 * quantizing), rows that N:M's M does not divide, a safetensors output from a GGUF. Any
 * failure leaves nothing under the output's name. */
#ifndef WK_MODELS_PRUNE_H
#define WK_MODELS_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/progress.h"
#include "common/warn.h"
#include "models/plan.h"
#include "models/tensor_roles.h"
#include "quant/types.h"

/* Wanda's calibration, run by the engine (engine/calibrate.h). Before layer l's matrices
 * are pruned the pipeline calls layer_norms(ctx, l, norms): norms[role] (cols floats,
 * allocated by the pipeline for each matrix role the layer has, NULL for the others) get
 * the L2 norm over the calibration tokens of each input column of that matrix, measured
 * on the model with layers < l already pruned. After pruning each matrix of layer l it
 * calls pruned(ctx, l, role, w, rows, cols) with the pruned F32 weights (valid during the
 * call only). Layers are visited in increasing order; every matrix of a layer is pruned
 * before the next layer's layer_norms call. */
typedef struct wk_prune_calib {
    int (*layer_norms)(void *ctx, uint32_t l, float *const norms[WK_ROLE_COUNT], wk_err *e);
    int (*pruned)(void *ctx, uint32_t l, wk_role role, const float *w, int64_t rows,
                  int64_t cols, wk_err *e);
    void *ctx;
} wk_prune_calib;
/* In this pipeline: a layer none of whose matrices is pruned gets no layer_norms call (the
 * engine runs it as it is); the weights handed to pruned() are in GGUF row order (q and k
 * un-permuted) even when the output is a Hugging Face directory. */

typedef enum wk_prune_method { WK_PRUNE_MAGNITUDE, WK_PRUNE_NM, WK_PRUNE_WANDA } wk_prune_method;
typedef enum wk_prune_scope { WK_PRUNE_ROW, WK_PRUNE_TENSOR, WK_PRUNE_GLOBAL } wk_prune_scope;

const char *wk_prune_method_name(wk_prune_method m); /* "magnitude", "nm", "wanda" */
const char *wk_prune_scope_name(wk_prune_scope s);   /* "row", "tensor", "global" */

/* The default categories: attention and feed-forward. */
#define WK_PRUNE_DEFAULT_CATEGORIES (1u << WK_CAT_ATTENTION | 1u << WK_CAT_FEEDFORWARD)

typedef struct wk_prune_opts {
    wk_prune_method method;
    double sparsity;             /* unstructured: the share zeroed, in [0, 1) */
    uint32_t nm_n, nm_m;         /* nm_m > 0: keep nm_n of every nm_m (method nm or wanda) */
    wk_prune_scope scope;        /* tensor and global: magnitude only */
    unsigned categories;         /* bit 1 << wk_category per category pruned; 0: default */
    bool safetensors;            /* write a Hugging Face directory, not a GGUF */
    const char *calib_path;      /* Wanda: the calibration text and how many tokens of it, */
    uint64_t calib_tokens;       /* for the engine's provider (engine/calibrate.h) */
    const wk_prune_calib *calib; /* Wanda: the provider; NULL is an error for Wanda */
    const char *state_dict_key;  /* PyTorch checkpoints */
    wk_progress *progress;       /* NULL: quiet */
    wk_warnings *warnings;       /* NULL: dropped */
} wk_prune_opts;

/* Zero counts of a tensor, a category or the whole model. */
typedef struct wk_prune_counts {
    uint64_t elements;
    uint64_t zeros_before;  /* already zero in the input (either sign) */
    uint64_t zeros_after;   /* zero in the output */
} wk_prune_counts;

typedef struct wk_prune_tensor {
    char name[WK_CONV_HF_NAME]; /* as written (GGUF or Hugging Face naming) */
    wk_category category;
    wk_dtype type;
    uint32_t n_dims;
    uint64_t shape[2];          /* as pruned: rows x row length (a vector: 1 x n) */
    bool pruned;
    wk_prune_counts c;
} wk_prune_tensor;

typedef struct wk_prune_report {
    char *input, *output;
    const char *input_format;   /* "gguf", "safetensors", "pytorch" */
    bool safetensors;           /* the output is a Hugging Face directory */
    wk_prune_method method;
    wk_prune_scope scope;
    double sparsity;            /* asked (unstructured) */
    uint32_t nm_n, nm_m;
    unsigned categories;
    size_t n;
    wk_prune_tensor *t;         /* in the order written */
    wk_prune_counts cat[WK_CAT_COUNT];
    wk_prune_counts pruned;     /* the pruned tensors together */
    wk_prune_counts all;        /* every tensor */
    size_t n_pruned;
    uint64_t file_bytes;        /* the GGUF, or the directory's files */
    double seconds;
} wk_prune_report;

/* Prunes in to out (see the file comment). On failure nothing is left under out and
 * *report is NULL. */
int wk_prune(const char *in, const char *out, const wk_prune_opts *o, wk_prune_report **report,
             wk_err *e);
void wk_prune_report_free(wk_prune_report *r);

/* The checks on the options alone ("--sparsity 1.2 is outside [0, 1)", N >= M, a scope or
 * category that the method does not take): 0, or -1 with the message. */
int wk_prune_check_opts(const wk_prune_opts *o, wk_err *e);

#endif
