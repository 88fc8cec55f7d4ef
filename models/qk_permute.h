/* Undoing Hugging Face's rotate-half permutation of q_proj / k_proj rows.
 *
 * HF's Llama conversion (transformers convert_llama_weights_to_hf.py, `permute`) reorders
 * the rows of each attention head from interleaved pairs (x0, x1, x2, x3, ...) to halves
 * (x0, x2, ..., x1, x3, ...) so RoPE can rotate halves. GGUF `llama` wants the original
 * interleaved order; llama.cpp's convert_hf_to_gguf.py (LlamaModel.permute) restores it with
 * w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(rows, cols).
 * That is a pure row permutation, so the converter copies rows in the order given here. */
#ifndef WK_FORMATS_QK_PERMUTE_H
#define WK_FORMATS_QK_PERMUTE_H

#include <stdint.h>

#include "common/err.h"

/* Checks that a tensor of `rows` rows splits into n_head heads of an even row count. */
int wk_qk_check(const char *tensor, uint64_t rows, uint32_t n_head, wk_err *e);

/* The source (HF) row that lands in GGUF row r (the un-permutation). */
uint64_t wk_qk_unpermute_src(uint64_t r, uint64_t rows, uint32_t n_head);

/* The inverse: the GGUF row that HF row r came from (HF's permutation). */
uint64_t wk_qk_permute_src(uint64_t r, uint64_t rows, uint32_t n_head);

#endif
