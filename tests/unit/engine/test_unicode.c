/* Code points as the tokenizers see them (engine/unicode.h): llama.cpp's lenient UTF-8
 * decoding, encoding, the incomplete tail a streaming decoder holds, general category
 * classes and White_Space; GPT-2's byte map; and the pre-tokenizers' word splits on texts
 * worked out by hand from their regexes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"

static void expect_next(const char *s, size_t n, uint32_t cp, size_t len)
{
    size_t l;
    uint32_t got = wk_utf8_next((const uint8_t *)s, n, &l);
    cr_expect(got == cp && l == len, "%zu bytes: U+%04X/%zu, expected U+%04X/%zu", n, got, l, cp,
              len);
}

Test(unicode, decodes_as_llama_cpp)
{
    expect_next("A", 1, 'A', 1);
    expect_next("\xC3\xA9", 2, 0xE9, 2);
    expect_next("\xE4\xB8\xAD", 3, 0x4E2D, 3);
    expect_next("\xF0\x9F\x98\x80", 4, 0x1F600, 4);
    /* Lenient where llama.cpp is: overlong forms and surrogates decode. */
    expect_next("\xC0\x80", 2, 0, 2);
    expect_next("\xED\xA0\x80", 3, 0xD800, 3);
    /* Invalid: one byte, U+FFFD. */
    expect_next("\x80", 1, WK_UNICODE_REPLACEMENT, 1);
    expect_next("\xC3(", 2, WK_UNICODE_REPLACEMENT, 1);
    expect_next("\xE4\xB8", 2, WK_UNICODE_REPLACEMENT, 1);
    expect_next("\xF4\x90\x80\x80", 4, WK_UNICODE_REPLACEMENT, 1);
    expect_next("\xF8\x88\x80\x80\x80", 5, WK_UNICODE_REPLACEMENT, 1);
    expect_next("\xFF", 1, WK_UNICODE_REPLACEMENT, 1);
    for (int b = 0xC0; b < 0x100; b++) {
        uint8_t one = (uint8_t)b;
        size_t l;
        cr_expect_eq(wk_utf8_next(&one, 1, &l), WK_UNICODE_REPLACEMENT);
        cr_expect_eq(wk_utf8_lead_len(one), b < 0xE0 ? 2u : b < 0xF0 ? 3u : 4u);
    }
}

Test(unicode, encodes_every_code_point)
{
    for (uint32_t cp = 0; cp < 0x110000; cp += cp < 0x800 ? 1 : 7) {
        uint8_t u[4];
        size_t n = wk_utf8_put(cp, u), l;
        cr_assert(n >= 1 && n <= 4);
        cr_assert_eq(wk_utf8_next(u, n, &l), cp, "U+%04X", cp);
        cr_assert_eq(l, n);
    }
    uint8_t u[4];
    cr_expect_eq(wk_utf8_put(0x110000, u), 0);
}

Test(unicode, incomplete_tail)
{
    struct { const char *s; size_t want; } cases[] = {
        {"abc", 0}, {"a\xC3", 1}, {"a\xE4\xB8", 2}, {"\xF0\x9F\x98", 3}, {"\xF0\x9F\x98\x80", 0},
        {"\xE4\xB8\xAD", 0}, {"\x80", 0}, {"\xC0", 0}, {"\xC1", 0}, {"\xF5", 0}, {"\xFF", 0},
        {"\xE0\x80", 0}, {"\xE0\xA0", 2}, {"\xED\xA0", 0}, {"\xED\x9F", 2}, {"\xF0\x8F", 0},
        {"\xF4\x90", 0}, {"\xF4\x8F\xBF", 3}, {"\xC3\xA9\xC3", 1}, {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(wk_utf8_incomplete_tail((const uint8_t *)cases[i].s, strlen(cases[i].s)),
                     cases[i].want, "case %zu", i);
}

Test(unicode, categories_and_spaces)
{
    struct { uint32_t cp; enum wk_ucat c; } cases[] = {
        {'A', WK_UCAT_LETTER}, {'z', WK_UCAT_LETTER}, {'5', WK_UCAT_NUMBER},
        {' ', WK_UCAT_SEPARATOR}, {'\n', WK_UCAT_CONTROL}, {'!', WK_UCAT_PUNCT},
        {'$', WK_UCAT_SYMBOL}, {'`', WK_UCAT_SYMBOL}, {0xE9, WK_UCAT_LETTER},
        {0x301, WK_UCAT_MARK}, {0x4E2D, WK_UCAT_LETTER}, {0x1F600, WK_UCAT_SYMBOL},
        {0x967, WK_UCAT_NUMBER}, {0xBD, WK_UCAT_NUMBER}, {0x2160, WK_UCAT_NUMBER},
        {0x378, WK_UCAT_UNDEFINED}, {0xE000, WK_UCAT_CONTROL}, {0xD800, WK_UCAT_CONTROL},
        {0x3000, WK_UCAT_SEPARATOR}, {0x200D, WK_UCAT_CONTROL}, {0x10FFFF, WK_UCAT_UNDEFINED},
        {0x110000, WK_UCAT_UNDEFINED}, {0, WK_UCAT_CONTROL}, {0x2019, WK_UCAT_PUNCT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(wk_ucat_of(cases[i].cp), cases[i].c, "U+%04X", cases[i].cp);
    uint32_t spaces[] = {9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                         0x2029, 0x202F, 0x205F, 0x3000};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        cr_expect(wk_uspace(spaces[i]), "U+%04X", spaces[i]);
    uint32_t not_spaces[] = {0, 8, 14, 0x1C, 'a', 0x200B, 0x180E, 0xFEFF, 0x2060};
    for (size_t i = 0; i < sizeof not_spaces / sizeof not_spaces[0]; i++)
        cr_expect(!wk_uspace(not_spaces[i]), "U+%04X", not_spaces[i]);
    /* The table is in order and starts at 0. */
    cr_expect_eq(wk_ucat_ranges[0] >> 3, 0u);
    for (size_t i = 1; i < wk_ucat_n_ranges; i++)
        cr_assert_gt(wk_ucat_ranges[i] >> 3, wk_ucat_ranges[i - 1] >> 3);
}

Test(unicode, gpt2_byte_map_round_trips)
{
    bool seen[0x200] = {false};
    for (int b = 0; b < 256; b++) {
        uint32_t cp = tok_byte_to_cp((uint8_t)b);
        cr_assert_lt(cp, 0x144u);
        cr_assert(!seen[cp], "byte %d: U+%04X twice", b, cp);
        seen[cp] = true;
        cr_assert_eq(tok_cp_to_byte(cp), b);
    }
    cr_expect_eq(tok_byte_to_cp(' '), 0x120u);
    cr_expect_eq(tok_byte_to_cp('\n'), 0x10Au);
    cr_expect_eq(tok_byte_to_cp(0xAD), 0x143u);
    cr_expect_eq(tok_cp_to_byte(0x144), -1);
    cr_expect_eq(tok_cp_to_byte(0x4E2D), -1);
}

/* Splits s with pre; the words, joined with '|', must be want. */
static void expect_split(enum wk_tok_pre pre, const char *s, const char *want)
{
    size_t n = strlen(s), nc = 0, *lens, n_lens;
    uint32_t *cps = malloc((n + 1) * sizeof *cps);
    size_t *at = malloc((n + 1) * sizeof *at); /* byte offset of each code point */
    for (size_t off = 0, l; off < n; off += l) {
        at[nc] = off;
        cps[nc++] = wk_utf8_next((const uint8_t *)s + off, n - off, &l);
    }
    at[nc] = n;
    cr_assert_eq(tok_pretokenize(pre, cps, nc, &lens, &n_lens), 0);
    char got[512] = "";
    size_t pos = 0;
    for (size_t i = 0; i < n_lens; i++) {
        cr_assert_gt(lens[i], 0u);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%.*s", i ? "|" : "",
                 (int)(at[pos + lens[i]] - at[pos]), s + at[pos]);
        pos += lens[i];
    }
    cr_expect_eq(pos, nc, "the words cover the text");
    cr_expect_str_eq(got, want, "pre %d on '%s'", pre);
    free(cps);
    free(at);
    free(lens);
}

Test(pretok, gpt2)
{
    expect_split(WK_PRE_GPT2, "Hello world's  123 !!", "Hello| world|'s| | 123| !!");
    expect_split(WK_PRE_GPT2, "a\n\nb", "a|\n|\n|b");
    expect_split(WK_PRE_GPT2, "IT'S it's", "IT|'|S| it|'s");
    expect_split(WK_PRE_GPT2, "x   ", "x|   ");
    expect_split(WK_PRE_GPT2, "  x", " | x");
    expect_split(WK_PRE_GPT2, "e\xCC\x81x \xE4\xB8\xAD\xE6\x96\x87",
                 "e|\xCC\x81|x| \xE4\xB8\xAD\xE6\x96\x87");
    expect_split(WK_PRE_GPT2, "a1b2", "a|1|b|2");
    expect_split(WK_PRE_GPT2, "", "");
}

Test(pretok, llama3_and_qwen2)
{
    expect_split(WK_PRE_LLAMA3, "Hello world's  123456 !!\n\nx",
                 "Hello| world|'s| | |123|456| !!\n\n|x");
    expect_split(WK_PRE_LLAMA3, "IT'S it'LL", "IT|'S| it|'LL");
    expect_split(WK_PRE_LLAMA3, "a \n\n b", "a| \n\n| b");
    expect_split(WK_PRE_LLAMA3, "\xE4\xB8\xAD\xE6\x96\x87 e\xCC\x81x",
                 "\xE4\xB8\xAD\xE6\x96\x87| e|\xCC\x81x");
    expect_split(WK_PRE_LLAMA3, "$hello 1234567", "$hello| |123|456|7");
    expect_split(WK_PRE_LLAMA3, "x  ", "x|  ");
    expect_split(WK_PRE_QWEN2, "ab12345", "ab|1|2|3|4|5");
    expect_split(WK_PRE_QWEN2, "\xE0\xA5\xA7\xE0\xA5\xA8", "\xE0\xA5\xA7|\xE0\xA5\xA8");
}

Test(pretok, smollm_and_default)
{
    expect_split(WK_PRE_SMOLLM, "ab12 x", "ab|1|2| x");
    expect_split(WK_PRE_SMOLLM, "x \xE0\xA5\xA7", "x| |\xE0\xA5\xA7");
    expect_split(WK_PRE_DEFAULT, "a+b=12345.6", "a|+|b|=|123|45|.|6");
    expect_split(WK_PRE_DEFAULT, "x  1234 ...", "x| | |123|4| |...");
    expect_split(WK_PRE_DEFAULT, "\xE2\x80\x94hi", "\xE2\x80\x94|hi");
}
