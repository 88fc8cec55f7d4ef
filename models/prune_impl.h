/* What wk-prune's files share among themselves (not for other modules): the list of tensors
 * to write, in the order written, and the pruning of one of them. prune.c plans the list
 * from the input, prune_tensor.c prunes a tensor, prune_write.c writes the GGUF or the
 * Hugging Face directory. */
#ifndef WK_MODELS_PRUNE_IMPL_H
#define WK_MODELS_PRUNE_IMPL_H

#include "formats/source.h"
#include "models/convert.h"
#include "models/prune.h"
#include "models/tensor_stream.h"
#include "quant/prune.h"

typedef struct pr_item {
    const char *name;          /* as written */
    long src;                  /* its source tensor, or -1 for a generated one */
    long plan;                 /* its plan tensor (checkpoint into a GGUF), else -1 */
    wk_role role;              /* WK_ROLE_COUNT: no role */
    int layer;                 /* -1: outside the blocks */
    wk_category category;
    wk_dtype type;             /* in the input (and in the output, unless out_type says) */
    uint32_t n_dims;
    uint64_t shape[WK_MAX_DIMS];
    uint64_t rows, cols;       /* as pruned: a vector is one row */
    uint32_t gguf_heads;       /* Hugging Face output: q/k heads, to hand Wanda's pruned()
                                  the rows in GGUF order */
    bool prune;
    wk_prune_tensor *rep;      /* its row of the report */
} pr_item;

typedef struct pruner {
    const wk_prune_opts *o;
    wk_source *src;
    wk_convert_job *conv;      /* a checkpoint input, else NULL */
    pr_item *it;
    size_t n;
    wk_prune_report *r;
    bool have_global;          /* scope global: the threshold below is known */
    wk_prune_select global;
    long norms_layer;          /* Wanda: the layer whose norms are held, or -1 */
    float *norms[WK_ROLE_COUNT];
    uint64_t step;             /* progress item */
} pruner;

/* Scope global: the two passes over every pruned tensor that fix the model's threshold. */
int wk_pr_global_threshold(pruner *p, wk_err *e);

/* Prunes one tensor: job says how its rows come from the source in the output's layout and
 * the type written (its own, or F32 for a checkpoint's vector in a GGUF). *out receives the
 * tensor's output bytes (a heap buffer of *size bytes) and it->rep its counts. */
int wk_pr_tensor(pruner *p, pr_item *it, const wk_stream_job *job, void **out, uint64_t *size,
                 wk_err *e);

/* The zeros of a tensor written as it is (F32, F16 or BF16 bytes; others count none). */
void wk_pr_count_kept(pr_item *it, const void *data, wk_dtype type, uint64_t n);

/* The job that reads item it from view v as it is stored (no permutation), written as dst. */
wk_stream_job wk_pr_job(const pr_item *it, const wk_view *v, wk_dtype dst);

void wk_pr_release(pruner *p); /* Wanda's norms and the global threshold */

/* The writers (prune_write.c). */
int wk_pr_write_gguf(pruner *p, const char *out, wk_err *e);        /* from a GGUF */
int wk_pr_write_converted(pruner *p, const char *out, wk_err *e);   /* from a checkpoint */
int wk_pr_write_hf(pruner *p, const char *out, wk_err *e);          /* a Hugging Face dir */

#endif
