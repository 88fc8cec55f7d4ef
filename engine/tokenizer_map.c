/* The tokenizer's hash tables (vocabulary text -> id, merge -> rank): open addressing with
 * linear probing over FNV-1a hashes, sized once for a known number of keys, so a lookup
 * in the encoders' inner loops is a hash and usually one compare. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer_impl.h"

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 32);
}

int tok_map_init(tok_map *m, size_t n_keys)
{
    size_t cap = 16;
    while (cap < 2 * n_keys)
        cap *= 2;
    m->slot = calloc(cap, sizeof *m->slot);
    m->mask = cap - 1;
    return m->slot ? 0 : -1;
}

void tok_map_free(tok_map *m)
{
    free(m->slot);
    m->slot = NULL;
}

void tok_map_put(tok_map *m, const char *key, size_t len, int32_t val, bool replace)
{
    for (size_t i = fnv1a(key, len) & m->mask;; i = (i + 1) & m->mask) {
        tok_map_entry *s = &m->slot[i];
        if (!s->key) {
            *s = (tok_map_entry){key, (uint32_t)len, val};
            return;
        }
        if (s->len == len && (len == 0 || memcmp(s->key, key, len) == 0)) {
            if (replace)
                s->val = val;
            return;
        }
    }
}

int32_t tok_map_get(const tok_map *m, const char *key, size_t len)
{
    if (!m->slot)
        return -1;
    for (size_t i = fnv1a(key, len) & m->mask;; i = (i + 1) & m->mask) {
        const tok_map_entry *s = &m->slot[i];
        if (!s->key)
            return -1;
        if (s->len == len && (len == 0 || memcmp(s->key, key, len) == 0))
            return s->val;
    }
}
