/* The models wk-verify compares: a GGUF opened for the engine, or a Hugging Face checkpoint
 * directory converted for the run into a temporary GGUF (keeping each tensor's F32/F16/BF16
 * type), which is unlinked as soon as it is mapped; with the figures the report shows about
 * each (file size, parameters, bits per weight). */
#ifndef WK_VERIFY_COMPARE_INPUTS_H
#define WK_VERIFY_COMPARE_INPUTS_H

#include <stdint.h>

#include "common/err.h"
#include "engine/model.h"

typedef struct wk_verify_input {
    const char *path;          /* as the user named it */
    wk_model *model;
    bool converted;            /* a checkpoint, converted for the run */
    uint64_t file_bytes;       /* the GGUF's size (all files of a split set; 0 when converted) */
    uint64_t tensor_bytes, n_params;
} wk_verify_input;

int wk_verify_input_open(const char *path, wk_verify_input *in, wk_err *e);
/* The same, the model run on device (engine/model.h's wk_model_open_on). */
int wk_verify_input_open_on(const char *path, wk_device device, wk_verify_input *in,
                            wk_err *e);
void wk_verify_input_close(wk_verify_input *in);

/* 0 when b's vocabulary is a's (same size, every token's text the same); else -1 naming b,
 * the first token that differs and both texts. */
int wk_verify_same_vocab(const wk_verify_input *a, const wk_verify_input *b, wk_err *e);
/* A fingerprint of a vocabulary: xxh64 over its size and every token's text. */
uint64_t wk_vocab_fingerprint(const wk_vocab *v);

#endif
