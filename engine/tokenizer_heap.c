/* What both merging encoders share: the symbols of a word as a linked list over its
 * characters, and the queue of candidate merges (a binary heap; see tokenizer_impl.h). */
#include <stdlib.h>

#include "common/grow.h"
#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"

static bool before(const tok_bigram *a, const tok_bigram *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

int tok_heap_push(tok_heap *h, tok_bigram x)
{
    if (wk_grow((void **)&h->b, &h->cap, h->n + 1, sizeof *h->b))
        return -1;
    size_t i = h->n++;
    while (i > 0 && before(&x, &h->b[(i - 1) / 2])) {
        h->b[i] = h->b[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->b[i] = x;
    return 0;
}

bool tok_heap_pop(tok_heap *h, tok_bigram *x)
{
    if (h->n == 0)
        return false;
    *x = h->b[0];
    tok_bigram last = h->b[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->b[c + 1], &h->b[c]))
            c++;
        if (!before(&h->b[c], &last))
            break;
        h->b[i] = h->b[c];
        i = c;
    }
    if (h->n)
        h->b[i] = last;
    return true;
}

long tok_split_chars(const char *text, size_t len, tok_sym **syms, size_t *cap)
{
    size_t n = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = wk_utf8_lead_len((uint8_t)text[off]);
        if (cl > len - off)
            cl = len - off;
        if (wk_grow((void **)syms, cap, n + 1, sizeof **syms))
            return -1;
        (*syms)[n] = (tok_sym){(int32_t)n - 1, off + cl < len ? (int32_t)n + 1 : -1, off, cl};
        off += cl;
    }
    return (long)n;
}

void tok_sym_merge(tok_sym *s, int32_t left)
{
    int32_t right = s[left].next;
    s[left].n += s[right].n;
    s[right].n = 0;
    s[left].next = s[right].next;
    if (s[right].next >= 0)
        s[s[right].next].prev = left;
}
