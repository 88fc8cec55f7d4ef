/* The tokenizer runtime: text to token ids and back, from a GGUF's tokenizer.* metadata,
 * as llama.cpp (src/llama-vocab.cpp) does it, so that our engine sees the ids llama.cpp
 * would feed the same model.
 *
 * Two vocabularies (docs/tokenizers.md, "The runtime"):
 * - tokenizer.ggml.model = "llama": SentencePiece. Spaces become U+2581, a space is put in
 *   front of the text (add_space_prefix), then adjacent pieces are merged, best score first,
 *   while the merged text is a token; what is left and is not a token falls back to its
 *   bytes (<0xXX> tokens). (tokenizer_spm.c)
 * - "gpt2": byte-level BPE. The text is split into words by the pre-tokenizer that
 *   tokenizer.ggml.pre names (gpt-2, llama-bpe / Llama 3, qwen2, smollm, default; written
 *   out by hand in tokenizer_pretok.c), each word's bytes are mapped to GPT-2's printable
 *   characters, and merges apply lowest rank first. (tokenizer_bpe.c)
 * Before either, the texts of special tokens in the input become their ids: user-defined
 * tokens always, control tokens only with WK_TOK_PARSE_SPECIAL (tokenizer.c).
 *
 * Decoding maps each id to its piece (the bytes it stands for) and streams them: a piece
 * that ends inside a UTF-8 sequence is held until the next one completes it
 * (tokenizer_decode.c). Loading is tokenizer_vocab.c; the hash tables tokenizer_map.c. */
#ifndef WK_ENGINE_TOKENIZER_H
#define WK_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytebuf.h"
#include "common/err.h"
#include "formats/gguf/gguf.h"
#include "formats/tokenizer/tokenizer.h"

typedef int32_t wk_token;
#define WK_TOKEN_NULL (-1)

enum wk_tok_kind { WK_TOK_SPM = 1, WK_TOK_BPE = 2 };

/* Token types: enum wk_tok_type (formats/tokenizer/tokenizer.h, tokenizer.ggml.token_type),
 * and 0 for a type outside it. */
#define WK_TOK_UNDEFINED 0

/* Byte-level BPE pre-tokenizers (the regex families of llama.cpp's llm_tokenizer_bpe). */
enum wk_tok_pre {
    WK_PRE_NONE = 0,   /* SentencePiece */
    WK_PRE_DEFAULT,    /* "default" or no tokenizer.ggml.pre */
    WK_PRE_GPT2,       /* 's|'t|...| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    WK_PRE_LLAMA3,     /* (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|... */
    WK_PRE_QWEN2,      /* as LLAMA3 with \p{N} one digit at a time */
    WK_PRE_SMOLLM,     /* \p{N} isolated, then GPT2 */
};

/* A loaded vocabulary with its encoder and decoder (the runtime's "tokenizer"; the name
 * wk_tokenizer is the converter's, in formats/tokenizer/). */
typedef struct wk_vocab wk_vocab;

/* What the metadata said, after llama.cpp's defaults. Ids are WK_TOKEN_NULL when absent. */
typedef struct wk_vocab_info {
    enum wk_tok_kind kind;
    const char *model;    /* tokenizer.ggml.model */
    const char *pre;      /* tokenizer.ggml.pre, "default" when absent; "" for SentencePiece */
    enum wk_tok_pre pre_type;
    uint32_t n_vocab;
    uint32_t n_merges;
    wk_token bos, eos, eot, eom, unk, sep, pad, mask;
    bool add_bos, add_eos;  /* what WK_TOK_ADD_SPECIAL adds */
    bool add_space_prefix;  /* SentencePiece's dummy prefix (and the space decoding strips) */
    bool ignore_merges;     /* a word that is a token is taken whole (Llama 3) */
} wk_vocab_info;

/* Reads tokenizer.* from g (which may be closed afterwards: everything is copied).
 * Errors name g->path and the key: no tokenizer, an unsupported model or pre-tokenizer,
 * arrays of the wrong type or too short, no merges for BPE. */
int wk_vocab_load(const wk_gguf *g, wk_vocab **out, wk_err *e);
void wk_vocab_free(wk_vocab *t);
const wk_vocab_info *wk_vocab_get_info(const wk_vocab *t);

/* The vocabulary. Ids outside 0..n_vocab-1 give NULL / WK_TOK_UNDEFINED / 0 / false. */
const char *wk_token_text(const wk_vocab *t, wk_token id, size_t *len);
enum wk_tok_type wk_token_type(const wk_vocab *t, wk_token id);
float wk_token_score(const wk_vocab *t, wk_token id);
/* End of generation: eos, eot, eom, and control tokens llama.cpp knows as such by text
 * (<|eot_id|>, <|im_end|>, <|endoftext|>, <end_of_turn>, ...). */
bool wk_token_is_eog(const wk_vocab *t, wk_token id);
/* The id whose text is exactly text[0..len), or WK_TOKEN_NULL (the last of duplicates). */
wk_token wk_token_find(const wk_vocab *t, const char *text, size_t len);

/* ---- encoding ---- */

/* A growing list of ids; start from {0} and wk_tokens_free when done. */
typedef struct wk_tokens {
    wk_token *ids;
    size_t n, cap;
} wk_tokens;
void wk_tokens_free(wk_tokens *v);

enum {
    WK_TOK_ADD_SPECIAL = 1,   /* BOS / EOS as add_bos / add_eos ask (llama.cpp's add_special) */
    WK_TOK_PARSE_SPECIAL = 2, /* control tokens' texts in the input become their ids */
};

/* Appends the ids of text[0..len) (any bytes; invalid UTF-8 is tokenized as llama.cpp
 * does) to out. Fails only when out of memory or when BOS/EOS is asked for and the
 * vocabulary has none. */
int wk_tokenize(const wk_vocab *t, const char *text, size_t len, unsigned flags,
                wk_tokens *out, wk_err *e);

/* ---- decoding ---- */

/* The bytes token id stands for (llama.cpp's token_to_piece): SentencePiece text with
 * U+2581 as a space, a byte token's byte, a BPE token's characters mapped back to bytes,
 * user-defined text as is. Control and unknown tokens give their text when special is
 * set, else nothing; unused ones nothing. NULL for an id out of range. */
const char *wk_token_piece(const wk_vocab *t, wk_token id, bool special, size_t *len);

enum {
    WK_DETOK_SPECIAL = 1,     /* control and unknown tokens give their text */
    WK_DETOK_STRIP_SPACE = 2, /* the first non-empty piece loses one leading space when the
                                 vocabulary adds a space prefix (SentencePiece's decode) */
};

/* A streaming decoder: push ids one at a time, get text whose UTF-8 sequences are whole.
 * A piece that ends inside a sequence is held until a later piece completes it; bytes that
 * can never complete one are passed through unchanged, so the concatenated output always
 * equals the concatenated pieces. */
typedef struct wk_detok {
    const wk_vocab *t;
    unsigned flags;
    bool started;     /* a non-empty piece was seen */
    uint8_t held[4];
    size_t n_held;
} wk_detok;

void wk_detok_init(wk_detok *d, const wk_vocab *t, unsigned flags);
/* Appends to out what id completes. -1 for an id out of range (out is unchanged). */
int wk_detok_push(wk_detok *d, wk_token id, wk_buf *out, wk_err *e);
/* Appends the held bytes (an incomplete sequence at the very end) and resets the hold. */
void wk_detok_flush(wk_detok *d, wk_buf *out);
/* The whole text of ids[0..n) (push each, then flush). */
int wk_detokenize(const wk_vocab *t, const wk_token *ids, size_t n, unsigned flags,
                  wk_buf *out, wk_err *e);

/* ids shown to a person, as wk-run --tokenize prints them: a line per token (the id, the
 * piece quoted, with \xNN for bytes that are not printable UTF-8) and "N tokens"; or with
 * json {"ids": [...], "pieces": [...], "count": N} (bytes that are not UTF-8 as U+FFFD).
 * A new heap string; NULL when out of memory. */
char *wk_tokenize_listing(const wk_vocab *t, const wk_token *ids, size_t n, bool json);

#endif
