/* Byte-level BPE pre-tokenizers: the regexes of tokenizer.json's Split pre-tokenizers,
 * written out by hand, as llama.cpp's unicode.cpp does (so no regex library is needed).
 *
 * A pre-tokenizer is a list of passes; each pass splits every segment the previous pass
 * left, and a pass never looks past its segment (as in llama.cpp, where each regex runs on
 * the previous regex's pieces). Positions are in code points. The passes:
 *
 *   GPT-2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   Llama 3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *           | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   Qwen2   the same with \p{N} (one digit per word)
 *   runs    a class isolated: [\p{P}$+<=>^~|]+, \p{N}+, \p{N}, [0-9]{3}
 *
 * and the families: gpt-2 = GPT-2; llama-bpe = Llama 3; qwen2 = Qwen2; smollm = \p{N},
 * GPT-2; default = [\p{P}$+<=>^~|]+, GPT-2, \p{N}+, [0-9]{3}. Alternatives are tried in
 * order at each position, like a backtracking regex; "\s+(?!\S)" leaves the last space of a
 * run for the word after it. */
#include <stdlib.h>

#include "common/grow.h"
#include "engine/tokenizer_impl.h"
#include "engine/unicode.h"

typedef struct seg_list {
    size_t *len;
    size_t n, cap;
} seg_list;

/* One segment [ini, end) of cps being split. */
typedef struct seg {
    const uint32_t *cp;
    size_t ini, end;
    size_t prev;  /* where the current word started */
    seg_list *out;
    int err;
} seg;

enum { F_IN = 1, F_LETTER = 2, F_NUMBER = 4, F_SPACE = 8 };

static unsigned flags(const seg *s, size_t pos)
{
    if (pos < s->ini || pos >= s->end)
        return 0;
    enum wk_ucat c = wk_ucat_of(s->cp[pos]);
    return F_IN | (c == WK_UCAT_LETTER ? F_LETTER : 0) | (c == WK_UCAT_NUMBER ? F_NUMBER : 0) |
           (wk_uspace(s->cp[pos]) ? F_SPACE : 0);
}

static uint32_t cp_at(const seg *s, size_t pos)
{
    return pos >= s->ini && pos < s->end ? s->cp[pos] : UINT32_MAX;
}

/* Ends the current word at end; returns end so a branch can write pos = add(s, end). */
static size_t add(seg *s, size_t end)
{
    if (end > s->prev) {
        if (wk_grow((void **)&s->out->len, &s->out->cap, s->out->n + 1, sizeof(size_t)))
            s->err = -1;
        else
            s->out->len[s->out->n++] = end - s->prev;
    }
    s->prev = end;
    return end;
}

static uint32_t lower_ascii(uint32_t c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's 't 'm 'd 're 've 'll at pos: the end of the match, or 0. */
static size_t contraction(const seg *s, size_t pos, bool any_case)
{
    if (cp_at(s, pos) != '\'' || pos + 1 >= s->end)
        return 0;
    uint32_t a = cp_at(s, pos + 1), b = pos + 2 < s->end ? cp_at(s, pos + 2) : 0;
    if (any_case)
        a = lower_ascii(a), b = lower_ascii(b);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return pos + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return pos + 3;
    return 0;
}

/* \s*[\r\n]+ (when newlines allowed), \s+(?!\S), \s+, or one code point. */
static size_t spaces(seg *s, size_t pos, bool newlines)
{
    size_t k = 0, last_nl = 0;
    for (; flags(s, pos + k) & F_SPACE; k++)
        if (newlines && (cp_at(s, pos + k) == '\r' || cp_at(s, pos + k) == '\n'))
            last_nl = pos + k + 1;
    if (last_nl)
        return add(s, last_nl);
    if (k > 1 && cp_at(s, pos + k) != UINT32_MAX)
        return add(s, pos + k - 1);
    return add(s, pos + (k ? k : 1));
}

static void split_gpt2(seg *s)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        uint32_t c = s->cp[pos];
        size_t m = contraction(s, pos, false);
        if (m) {
            pos = add(s, m);
            continue;
        }
        size_t start = pos + (c == ' ');
        unsigned f = flags(s, start);
        unsigned kind = f & F_LETTER ? F_LETTER : f & F_NUMBER ? F_NUMBER : 0;
        if (kind) { /* ' ?\p{L}+' and ' ?\p{N}+' */
            for (pos = start; flags(s, pos) & kind;)
                pos++;
            pos = add(s, pos);
        } else if ((f & F_IN) && !(f & F_SPACE)) { /* ' ?[^\s\p{L}\p{N}]+' */
            for (pos = start; (f = flags(s, pos)) & F_IN && !(f & (F_SPACE | F_LETTER | F_NUMBER));)
                pos++;
            pos = add(s, pos);
        } else {
            pos = spaces(s, pos, false);
        }
    }
}

/* Llama 3 (max_digits 3) and Qwen2 (1). */
static void split_llama3(seg *s, size_t max_digits)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        uint32_t c = s->cp[pos];
        unsigned f = flags(s, pos);
        size_t m = contraction(s, pos, true);
        if (m) {
            pos = add(s, m);
            continue;
        }
        if (c != '\r' && c != '\n' && !(f & F_NUMBER) &&
            ((f & F_LETTER) || (flags(s, pos + 1) & F_LETTER))) { /* [^\r\n\p{L}\p{N}]?\p{L}+ */
            for (pos++; flags(s, pos) & F_LETTER;)
                pos++;
            pos = add(s, pos);
            continue;
        }
        if (f & F_NUMBER) { /* \p{N}{1,max_digits}, repeatedly */
            for (size_t ini = pos; flags(s, pos) & F_NUMBER;)
                if (++pos - ini >= max_digits)
                    ini = add(s, pos);
            pos = add(s, pos);
            continue;
        }
        unsigned f2 = c == ' ' ? flags(s, pos + 1) : f;
        if (!(f2 & (F_SPACE | F_LETTER | F_NUMBER))) { /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
            for (pos += (c == ' '); (f2 = flags(s, pos)) & F_IN &&
                                    !(f2 & (F_SPACE | F_LETTER | F_NUMBER));)
                pos++;
            while (cp_at(s, pos) == '\r' || cp_at(s, pos) == '\n')
                pos++;
            pos = add(s, pos);
            continue;
        }
        pos = spaces(s, pos, true);
    }
}

enum run_class { RUN_PUNCT, RUN_NUMBERS, RUN_DIGIT, RUN_ASCII_TRIPLE };

static bool in_class(uint32_t c, enum run_class k)
{
    switch (k) {
    case RUN_PUNCT:
        return wk_ucat_of(c) == WK_UCAT_PUNCT || c == '$' || c == '+' || c == '<' || c == '=' ||
               c == '>' || c == '^' || c == '~' || c == '|';
    case RUN_NUMBERS:
    case RUN_DIGIT:
        return wk_ucat_of(c) == WK_UCAT_NUMBER;
    default:
        return c >= '0' && c <= '9';
    }
}

/* Matches of the class (runs; one code point for RUN_DIGIT; exactly three ASCII digits
 * for RUN_ASCII_TRIPLE) become words, and so do the stretches between them. */
static void split_runs(seg *s, enum run_class k)
{
    size_t want = k == RUN_DIGIT ? 1 : k == RUN_ASCII_TRIPLE ? 3 : SIZE_MAX;
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        size_t n = 0;
        while (pos + n < s->end && n < want && in_class(s->cp[pos + n], k))
            n++;
        if (n == 0 || (k == RUN_ASCII_TRIPLE && n < 3)) {
            pos++;
            continue;
        }
        add(s, pos);
        pos = add(s, pos + n);
    }
    add(s, s->end);
}

enum pass { P_GPT2, P_LLAMA3, P_QWEN2, P_PUNCT, P_NUMBERS, P_DIGIT, P_TRIPLE, P_END };

static const enum pass PASSES[][5] = {
    [WK_PRE_NONE] = {P_END},
    [WK_PRE_DEFAULT] = {P_PUNCT, P_GPT2, P_NUMBERS, P_TRIPLE, P_END},
    [WK_PRE_GPT2] = {P_GPT2, P_END},
    [WK_PRE_LLAMA3] = {P_LLAMA3, P_END},
    [WK_PRE_QWEN2] = {P_QWEN2, P_END},
    [WK_PRE_SMOLLM] = {P_DIGIT, P_GPT2, P_END},
};

static void run_pass(enum pass p, seg *s)
{
    switch (p) {
    case P_GPT2: split_gpt2(s); break;
    case P_LLAMA3: split_llama3(s, 3); break;
    case P_QWEN2: split_llama3(s, 1); break;
    case P_PUNCT: split_runs(s, RUN_PUNCT); break;
    case P_NUMBERS: split_runs(s, RUN_NUMBERS); break;
    case P_DIGIT: split_runs(s, RUN_DIGIT); break;
    default: split_runs(s, RUN_ASCII_TRIPLE); break;
    }
}

int tok_pretokenize(enum wk_tok_pre pre, const uint32_t *cps, size_t n, size_t **lens,
                    size_t *n_lens)
{
    seg_list cur = {0}, next = {0};
    *lens = NULL;
    *n_lens = 0;
    if (n == 0)
        return 0;
    if (wk_grow((void **)&cur.len, &cur.cap, 1, sizeof(size_t)))
        return -1;
    cur.len[cur.n++] = n;
    for (const enum pass *p = PASSES[pre]; *p != P_END; p++) {
        next.n = 0;
        size_t ini = 0;
        for (size_t i = 0; i < cur.n; ini += cur.len[i++]) {
            seg s = {cps, ini, ini + cur.len[i], ini, &next, 0};
            run_pass(*p, &s);
            if (s.err) {
                free(cur.len);
                free(next.len);
                return -1;
            }
        }
        seg_list tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.len);
    *lens = cur.len;
    *n_lens = cur.n;
    return 0;
}
