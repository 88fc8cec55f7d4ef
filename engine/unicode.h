/* Code points as the tokenizers see them: llama.cpp's lenient UTF-8 decoding, general
 * category classes (\p{L}, \p{N}, ...) and the White_Space property.
 *
 * Decoding follows llama.cpp (unicode.cpp) rather than the standard, because a tokenizer
 * must split text exactly as the reference does: a lead byte and the right number of
 * continuation bytes make a code point, overlong forms and surrogates included; any other
 * byte becomes U+FFFD and is consumed alone. Only values above U+10FFFF (which llama.cpp
 * cannot encode back) are refused as well. The classes come from a table generated from
 * Python's unicodedata (scripts/gen_unicode_table.py -> unicode_table.c). */
#ifndef WK_ENGINE_UNICODE_H
#define WK_ENGINE_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The general category's first letter; Cn (unassigned) has a class of its own. Values are
 * those of the generated table. */
enum wk_ucat {
    WK_UCAT_CONTROL = 0,   /* Cc Cf Cs Co */
    WK_UCAT_NUMBER = 1,    /* Nd Nl No */
    WK_UCAT_LETTER = 2,    /* Lu Ll Lt Lm Lo */
    WK_UCAT_SEPARATOR = 3, /* Zs Zl Zp */
    WK_UCAT_MARK = 4,      /* Mn Mc Me */
    WK_UCAT_PUNCT = 5,     /* Pc Pd Ps Pe Pi Pf Po */
    WK_UCAT_SYMBOL = 6,    /* Sm Sc Sk So */
    WK_UCAT_UNDEFINED = 7, /* Cn */
};

#define WK_UNICODE_REPLACEMENT 0xFFFDu

/* The generated table (unicode_table.c): (first code point << 3) | class, in order. */
extern const uint32_t wk_ucat_ranges[];
extern const size_t wk_ucat_n_ranges;

/* The class of code point cp (WK_UCAT_UNDEFINED above U+10FFFF). */
enum wk_ucat wk_ucat_of(uint32_t cp);
/* Unicode's White_Space property (what \s matches in the tokenizers' regexes). */
bool wk_uspace(uint32_t cp);

/* The code point at p (n >= 1 bytes left), and its length in *len (1..4): see above.
 * Anything else is U+FFFD with *len 1. */
uint32_t wk_utf8_next(const uint8_t *p, size_t n, size_t *len);
/* Writes cp (<= U+10FFFF, surrogates included) as UTF-8 into out; returns the length 1..4,
 * or 0 for a larger value. */
size_t wk_utf8_put(uint32_t cp, uint8_t out[4]);
/* The length a lead byte announces, as llama.cpp's unicode_len_utf8: 1 below 0xC0 (ASCII
 * and stray continuation bytes), 2, 3 or 4 after. */
static inline size_t wk_utf8_lead_len(uint8_t b)
{
    return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* How many bytes at the end of p[0..n) are the start of a well-formed UTF-8 sequence that
 * needs more bytes (0..3): what a streaming decoder must hold back. Strict (Unicode table
 * 3-7): a prefix that can never complete well-formed is not held. */
size_t wk_utf8_incomplete_tail(const uint8_t *p, size_t n);

#endif
