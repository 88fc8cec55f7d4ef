/* The hash that ties weightkit.tensor_xxh64 to the tensor infos it was written for
 * (weightkit.tensor_infos_xxh64, docs/gguf.md): xxh64 (seed 0) of the tensor-info section as
 * GGUF v3 lays it out (per tensor: u64 name length, name, u32 n_dims, u64 ne[n_dims], u32
 * ggml type, u64 offset; little-endian). A tool that copies our keys into a file whose
 * tensors it rewrote (llama-quantize, gguf-split) leaves a hash that no longer matches, so
 * the checksums are known to be stale instead of reported as corruption. Shared by the
 * writer and the reader; not for use outside formats/gguf/. */
#ifndef WK_FORMATS_GGUF_LAYOUT_HASH_H
#define WK_FORMATS_GGUF_LAYOUT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

/* Starts a hash (returns NULL when out of memory); add each tensor in file order; finish
 * frees the state and returns the hash. */
XXH64_state_t *wk_gguf_layout_hash_start(void);
void wk_gguf_layout_hash_add(XXH64_state_t *st, const char *name, uint64_t name_len,
                             uint32_t n_dims, const uint64_t *ne, uint32_t ggml_type,
                             uint64_t offset);
uint64_t wk_gguf_layout_hash_finish(XXH64_state_t *st);

#endif
