/* The tensor-info hash (see layout_hash.h). */
#include "formats/gguf/layout_hash.h"

XXH64_state_t *wk_gguf_layout_hash_start(void)
{
    XXH64_state_t *st = XXH64_createState();
    if (st && XXH64_reset(st, 0) != XXH_OK) {
        XXH64_freeState(st);
        return NULL;
    }
    return st;
}

/* v as n little-endian bytes, as the file stores it */
static void add_le(XXH64_state_t *st, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    XXH64_update(st, b, n);
}

void wk_gguf_layout_hash_add(XXH64_state_t *st, const char *name, uint64_t name_len,
                             uint32_t n_dims, const uint64_t *ne, uint32_t ggml_type,
                             uint64_t offset)
{
    add_le(st, name_len, 8);
    XXH64_update(st, name, (size_t)name_len);
    add_le(st, n_dims, 4);
    for (uint32_t d = 0; d < n_dims; d++)
        add_le(st, ne[d], 8);
    add_le(st, ggml_type, 4);
    add_le(st, offset, 8);
}

uint64_t wk_gguf_layout_hash_finish(XXH64_state_t *st)
{
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}
