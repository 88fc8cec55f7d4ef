/* Wanda's calibration (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large
 * Language Models", section 3): the L2 norm of each input column of each matrix over the
 * tokens of a calibration text, measured layer by layer on the model with the layers before
 * already pruned, as the paper's code does: the calibration sequences' hidden states enter
 * layer l, the layer runs once to record its matrices' inputs, the pruned matrices replace
 * its weights, and the layer runs again to give the next layer its input.
 *
 * It serves models/prune.h's wk_prune_calib: wk_calib_layer_norms and wk_calib_pruned are
 * its two callbacks with a wk_calib as ctx. Memory: the hidden states (calibration tokens x
 * n_embd floats) and one layer's pruned matrices in F32. */
#ifndef WK_ENGINE_CALIBRATE_H
#define WK_ENGINE_CALIBRATE_H

#include <stdint.h>

#include "common/err.h"
#include "engine/model.h"

typedef struct wk_calib wk_calib;

/* Tokenizes text[0..len) with m's tokenizer (BOS first), takes its first n_tokens tokens as
 * n_tokens / seq_len sequences of seq_len tokens, each starting with BOS, and embeds them.
 * Fails when the text has fewer than n_tokens tokens (saying how many), or n_tokens is not
 * a multiple of seq_len. m must stay open while the calibration is used. */
int wk_calib_open(wk_model *m, const char *text, size_t len, uint64_t n_tokens,
                  uint32_t seq_len, wk_calib **out, wk_err *e);
void wk_calib_free(wk_calib *c);

int wk_calib_layer_norms(void *calib, uint32_t l, float *const norms[WK_ROLE_COUNT],
                         wk_err *e);
int wk_calib_pruned(void *calib, uint32_t l, wk_role role, const float *w, int64_t rows,
                    int64_t cols, wk_err *e);

#endif
