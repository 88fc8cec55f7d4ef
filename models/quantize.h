/* wk-quantize's pipeline: a GGUF (F32/F16/BF16) or a Hugging Face checkpoint in, a quantized
 * GGUF out, in one streaming pass.
 *
 * The plan comes first: for every tensor of the output, its type -- the recipe's choice for
 * its role and layer (quant/recipe.h), then --output-type / --embedding-type, then the
 * user's --tensor-type GLOB=TYPE overrides, then the fallback for rows the block does not
 * divide -- or its own type when it is not a quantizable matrix (norms, biases, --keep).
 * Checks before anything is written: an already quantized input needs allow_requantize; an
 * imatrix must have an entry of the right width for every tensor quantized with it (the
 * output and token embeddings excepted: llama-imatrix does not collect them by default) and
 * no entry for a tensor the model lacks. Then each tensor streams through
 * models/tensor_stream.h, quantized with its importance, its error measured. A checkpoint
 * goes through models/convert.c, so no intermediate file is written. */
#ifndef WK_MODELS_QUANTIZE_H
#define WK_MODELS_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/progress.h"
#include "common/warn.h"
#include "formats/gguf/gguf.h"
#include "models/tensor_stream.h"
#include "quant/recipe.h"

typedef struct wk_quant_override {
    const char *glob; /* fnmatch(3) pattern on either naming of the tensor */
    wk_dtype type;
} wk_quant_override;

typedef struct wk_quantize_opts {
    const wk_recipe *recipe;        /* a recipe, or NULL: every matrix gets `pure` */
    wk_dtype pure;
    const wk_quant_override *overrides; /* --tensor-type; the first that matches wins */
    size_t n_overrides;
    const char *const *keep;        /* --keep globs: tensors left as they are */
    size_t n_keep;
    int output_type, embedding_type; /* a wk_dtype, or -1 for the recipe's */
    const char *imatrix;            /* path, or NULL */
    bool allow_requantize;
    bool dry_run;                   /* plan only: nothing is written */
    const char *state_dict_key;     /* PyTorch checkpoints */
    wk_progress *progress;          /* NULL: quiet */
    wk_warnings *warnings;          /* NULL: dropped */
} wk_quantize_opts;

typedef struct wk_quant_tensor {
    char name[WK_GGUF_MAX_NAME];
    wk_dtype src, dst;
    uint64_t n_elements, bytes_in, bytes_out;
    bool quantized;        /* encoded to a quantized type: stats hold its error */
    bool importance;       /* an imatrix entry weighted its error */
    const char *why;       /* why this type: "", a recipe rule, "--tensor-type", "kept", ... */
    char fallback[160];    /* "" or why the recipe's type could not be used */
    wk_stream_stats stats;
} wk_quant_tensor;

typedef struct wk_quant_report {
    char *input, *output;
    const char *input_format;   /* "gguf" or the checkpoint's ("safetensors", "pytorch") */
    const char *recipe;         /* the recipe's name, or the pure type's */
    char *imatrix;              /* the imatrix's file name, or NULL */
    uint32_t file_type;
    size_t n;
    wk_quant_tensor *t;
    size_t n_fallbacks;
    uint64_t bytes_in, bytes_out; /* tensor data, before and after */
    uint64_t params;
    uint32_t files;             /* files written (0 for a dry run) */
    uint64_t file_bytes;        /* their size */
    double seconds;
    bool dry_run;
} wk_quant_report;

/* Quantizes in to out (see the file comment); *report describes the plan and, unless
 * dry_run, the result. On failure nothing is left under out and *report is NULL. */
int wk_quantize(const char *in, const char *out, const wk_quantize_opts *o,
                wk_quant_report **report, wk_err *e);
void wk_quant_report_free(wk_quant_report *r);

/* Bits per weight of a tensor or a whole report. */
double wk_quant_bpw(uint64_t bytes, uint64_t n_elements);

#endif
