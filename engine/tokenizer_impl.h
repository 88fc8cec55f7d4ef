/* Inside the tokenizer runtime: the loaded vocabulary, shared by engine/tokenizer*.c. */
#ifndef WK_ENGINE_TOKENIZER_IMPL_H
#define WK_ENGINE_TOKENIZER_IMPL_H

#include "engine/tokenizer.h"

/* An open-addressing hash table from byte strings to ids. Keys are not copied: they must
 * outlive the table (they point into the tokenizer's text block). Its size is fixed at
 * creation, for the number of keys the vocabulary has. */
typedef struct tok_map_entry {
    const char *key; /* NULL: empty slot */
    uint32_t len;
    int32_t val;
} tok_map_entry;

typedef struct tok_map {
    tok_map_entry *slot;
    size_t mask; /* slots - 1, a power of two at least twice the keys */
} tok_map;

int tok_map_init(tok_map *m, size_t n_keys);
void tok_map_free(tok_map *m);
/* key -> val. A key already there keeps its value unless replace is set. */
void tok_map_put(tok_map *m, const char *key, size_t len, int32_t val, bool replace);
/* The value of key, or -1. */
int32_t tok_map_get(const tok_map *m, const char *key, size_t len);

struct wk_vocab {
    wk_vocab_info info;
    char *model, *pre;   /* the strings info points to */
    char *texts;         /* every token's text, each followed by a NUL */
    size_t *text_off;    /* [n_vocab] */
    uint32_t *text_len;
    float *score;
    uint8_t *type;       /* enum wk_tok_type */
    char *pieces;        /* token_to_piece with special set, for every token */
    size_t *piece_off;
    uint32_t *piece_len;
    tok_map vocab;       /* text -> id (the last id of a duplicated text) */
    /* BPE merges: "first second" -> rank, the first part's length beside each rank. */
    char *merge_text;
    tok_map merges;
    uint32_t *merge_first_len;
    wk_token byte_token[256]; /* the token of each byte for the fallbacks; NULL: none */
    wk_token *special;   /* control, user-defined and unknown tokens, longest text first */
    size_t n_special;
    wk_token eog[16];    /* eos, eot, eom and the end-of-generation texts found */
    size_t n_eog;
};

static inline const char *tok_text(const wk_vocab *t, wk_token id)
{
    return t->texts + t->text_off[id];
}

/* The per-kind encoders, on one fragment of text that holds no special token. Append to
 * out; -1 (out of memory) with e filled. */
int tok_spm_encode(const wk_vocab *t, const char *text, size_t len, bool space_prefix,
                   wk_tokens *out, wk_err *e);
int tok_bpe_encode(const wk_vocab *t, const char *text, size_t len, wk_tokens *out,
                   wk_err *e);

/* The pre-tokenizer of kind pre: splits cps[0..n) into words, writing each word's length
 * (in code points) to *lens (allocated, *n_lens of them). -1 when out of memory. */
int tok_pretokenize(enum wk_tok_pre pre, const uint32_t *cps, size_t n, size_t **lens,
                    size_t *n_lens);

/* GPT-2's reversible byte <-> printable character map. */
uint32_t tok_byte_to_cp(uint8_t b);
/* The byte whose character is cp, or -1. */
int tok_cp_to_byte(uint32_t cp);

/* Fills t->pieces (tokenizer_decode.c). */
int tok_build_pieces(wk_vocab *t, wk_err *e);

int tok_push(wk_tokens *out, wk_token id);

/* The merge queue both encoders share: a binary heap of candidate merges of two adjacent
 * symbols, smallest key first, then leftmost (SentencePiece: key = -score; BPE: the rank).
 * ln and rn are the symbols' lengths when the candidate was made: a candidate whose
 * symbols have changed since is stale and skipped. */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    size_t ln, rn;
} tok_bigram;

typedef struct tok_heap {
    tok_bigram *b;
    size_t n, cap;
} tok_heap;

int tok_heap_push(tok_heap *h, tok_bigram x);
/* Removes the first candidate into *x; false when the heap is empty. */
bool tok_heap_pop(tok_heap *h, tok_bigram *x);

/* One symbol of a word being merged: bytes [start, start + n) of the word, in a list. */
typedef struct tok_sym {
    int32_t prev, next;
    size_t start, n;
} tok_sym;

/* Splits text[0..len) into symbols of one UTF-8 character each (the lead byte's length,
 * clipped at the end) into *syms; returns how many, or -1 when out of memory. */
long tok_split_chars(const char *text, size_t len, tok_sym **syms, size_t *cap);
/* Merges right into left (adjacent, both alive). */
void tok_sym_merge(tok_sym *s, int32_t left);

#endif
