/* Hugging Face model directory -> GGUF, generic over model families.
 *
 * A family (models/<family>.c, registered in models/arch.c) reads config.json into its
 * hyperparameters, writes its `<arch>.*` keys, and lists every tensor the config implies
 * (models/plan.h): the HF name, the GGUF name, the shape, whether it may be absent, and
 * whether its rows must be un-permuted (q/k of rotate-half checkpoints). The pipeline in
 * convert.c checks the checkpoint against that
 * list (missing, unexpected, mis-shaped tensors are errors), then streams one tensor at a
 * time: rows are converted between F32/F16/BF16 in bounded chunks and appended to the
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

typedef struct wk_convert_opts {
    wk_outtype outtype;
    wk_progress *progress;         /* NULL: quiet */
    const char *state_dict_key;    /* PyTorch: wrapping-dict entry holding the state dict */
    wk_tokenizer_info *tokenizer;  /* when not NULL, receives the tokenizer's summary and
                                      warnings (for the tool to print and free) */
    wk_warnings *warnings;         /* when not NULL: the conversion's own warnings are
                                      appended to it */
} wk_convert_opts;

/* Converts the model in dir to out_path. On failure nothing is left under out_path. */
int wk_convert_hf(const char *dir, const char *out_path, const wk_convert_opts *o, wk_err *e);

/* The GGUF type tensor t gets: 1-D tensors stay F32, others follow outtype (auto keeps the
 * source type, which must be F32, F16 or BF16). */
int wk_convert_out_dtype(const wk_conv_tensor *t, wk_dtype src, wk_outtype o, wk_dtype *out,
                         wk_err *e);

/* Converts rows [r0, r1) of the GGUF tensor (rows x cols) into dst (dst_type, packed
 * rows): each row is read from src (src_type, the checkpoint layout), from the row that
 * wk_qk_unpermute_src names when heads > 0, else from the same row. Parallel over rows.
 * Types are F32, F16 or BF16. */
void wk_convert_rows(const void *src, wk_dtype src_type, void *dst, wk_dtype dst_type,
                     uint64_t r0, uint64_t r1, uint64_t rows, uint64_t cols, uint32_t heads);

#endif
