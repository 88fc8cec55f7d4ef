/* Hugging Face model directory -> GGUF, generic over model families.
 *
 * A family (models/<family>.c, registered in models/arch.c) reads config.json into its
 * hyperparameters, writes its `<arch>.*` keys, and lists every tensor the config implies
 * (models/plan.h): the HF name, the GGUF name, the shape, whether it may be absent, and
 * whether its rows must be un-permuted (q/k of rotate-half checkpoints). The pipeline in
 * convert.c checks the checkpoint against that list (missing, unexpected, mis-shaped
 * tensors are errors), then streams one tensor at a time through models/tensor_stream.h:
 * rows are converted (or, for wk-quantize, quantized) in bounded chunks and appended to the
 * GGUF, so memory stays flat whatever the model size. */
#ifndef WK_FORMATS_CONVERT_H
#define WK_FORMATS_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/progress.h"
#include "formats/gguf/gguf.h"
#include "formats/hf_config.h"
#include "formats/tokenizer/tokenizer.h"
#include "models/arch.h"

typedef enum wk_outtype { WK_OUTTYPE_F32, WK_OUTTYPE_F16, WK_OUTTYPE_BF16, WK_OUTTYPE_AUTO } wk_outtype;

/* "f32", "f16", "bf16", "auto" -> *out; -1 when unknown. */
int wk_outtype_parse(const char *s, wk_outtype *out);

typedef struct wk_stream_stats wk_stream_stats;
typedef struct wk_stream_job wk_stream_job;

typedef struct wk_convert_opts {
    wk_outtype outtype;
    wk_progress *progress;         /* NULL: quiet */
    const char *state_dict_key;    /* PyTorch: wrapping-dict entry holding the state dict */
    wk_tokenizer_info *tokenizer;  /* when not NULL, receives the tokenizer's summary and
                                      warnings (for the tool to print and free) */
    wk_warnings *warnings;         /* when not NULL: the conversion's own warnings are
                                      appended to it */
    uint64_t max_shard_bytes;      /* > 0: write a llama.cpp split set of files this size */
    bool vocab_only;               /* metadata and tokenizer only, no tensors */
    /* What wk-quantize adds (all may be NULL/0 for a plain conversion): */
    const wk_dtype *types;         /* per plan tensor: its GGUF type (instead of outtype) */
    const float *const *importance; /* per plan tensor: imatrix weights, or NULL */
    wk_stream_stats *stats;        /* per plan tensor: the error report, filled */
    const char *tool;              /* weightkit.tool (default "wk-convert") */
    const uint32_t *file_type;     /* general.file_type to write (default: from the types) */
    int (*extra_kv)(void *ctx, wk_gguf_writer *w, wk_err *e); /* more metadata */
    /* What wk-prune adds: writes plan tensor k (progress item `item`) instead of the plain
     * stream, given the job the stream would run (which it may still run itself). */
    int (*write_tensor)(void *ctx, wk_gguf_writer *w, size_t k, const wk_stream_job *job,
                        uint64_t item, wk_err *e);
    void *ctx;
} wk_convert_opts;

/* What a write produced, for the tool's closing line. */
typedef struct wk_convert_result {
    uint64_t tensors, bytes;   /* tensor count and total bytes of the file(s) */
    uint32_t files;            /* 1, or the files of a split set */
    uint32_t file_type;        /* general.file_type written */
} wk_convert_result;

/* A model directory opened for conversion: config read, family found, tensor list planned
 * and matched against the checkpoint, nothing written yet. With no_weights the checkpoint
 * is not opened (for --vocab-only): the plan lists no tensors to write. */
typedef struct wk_convert_job wk_convert_job;

int wk_convert_open(const char *dir, const char *state_dict_key, bool no_weights,
                    wk_convert_job **out, wk_err *e);
/* The plan's tensors; src_type receives the checkpoint's type (F32 for generated tensors).
 * Returns NULL for a tensor that will not be written (dropped, or absent and optional). */
size_t wk_convert_count(const wk_convert_job *j);
const wk_conv_tensor *wk_convert_tensor(const wk_convert_job *j, size_t k, wk_dtype *src_type);
const wk_arch *wk_convert_arch(const wk_convert_job *j);
void wk_convert_shape(const wk_convert_job *j, wk_model_shape *out);
const wk_source *wk_convert_source(const wk_convert_job *j);
/* Writes the GGUF. On failure nothing is left under out_path. */
int wk_convert_write(wk_convert_job *j, const char *out_path, const wk_convert_opts *o,
                     wk_convert_result *result, wk_err *e);
void wk_convert_close(wk_convert_job *j);

/* open + write + close; result may be NULL. */
int wk_convert_hf(const char *dir, const char *out_path, const wk_convert_opts *o,
                  wk_convert_result *result, wk_err *e);

/* The output name llama.cpp's converter would choose when none is given: inside the model
 * directory, "<directory name>-<type>.gguf" (type: f32, f16, bf16; for auto, the type of
 * the checkpoint's first matrix). A new heap string. */
char *wk_convert_default_output(const wk_convert_job *j, wk_outtype o);

/* The GGUF type tensor t gets: 1-D tensors stay F32, others follow outtype (auto keeps the
 * source type, which must be F32, F16 or BF16). */
int wk_convert_out_dtype(const wk_conv_tensor *t, wk_dtype src, wk_outtype o, wk_dtype *out,
                         wk_err *e);

/* A plan tensor as the rows x cols the stream converts (a 1-D tensor is one row, except
 * q/k biases, whose single values per row are un-permuted like the weight rows). */
void wk_convert_rows_cols(const wk_conv_tensor *t, uint64_t *rows, uint64_t *cols);

#endif
