/* tok-dump: the tokenizer runtime on many texts in one process, for
 * tests/e2e/test_tokenize.py (hundreds of strings against the oracles; wk-run --tokenize
 * does one text per run).
 *
 *   tok-dump MODEL.gguf FLAGS < TEXTS
 *
 * FLAGS: a letter set, "-" for none: b adds BOS/EOS (WK_TOK_ADD_SPECIAL), s parses special
 * tokens (WK_TOK_PARSE_SPECIAL), S decodes control tokens to their text (WK_DETOK_SPECIAL).
 * TEXTS: one text per line, in hex (texts are any bytes). For each, one line: the ids, a
 * tab, the decoded text in hex (wk_detokenize, with the dummy prefix's space stripped), a
 * tab, and the text the streaming decoder gives when the ids are pushed one at a time, in
 * hex. Exit 1 with
 * "tok-dump: error: <message>" when the model cannot be loaded or a text fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int unhex(const char *s, size_t n, wk_buf *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        uint8_t c = (uint8_t)(hi << 4 | lo);
        wk_buf_put(out, &c, 1);
    }
    return 0;
}

static void put_hex(const wk_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        printf("%02x", b->p[i]);
}

static int dump(const wk_vocab *v, const wk_buf *text, unsigned flags, unsigned dflags,
                wk_err *e)
{
    wk_tokens ids = {0};
    wk_buf whole = {0}, stream = {0};
    int rc = wk_tokenize(v, (const char *)text->p, text->len, flags, &ids, e);
    if (rc == 0)
        rc = wk_detokenize(v, ids.ids, ids.n, dflags, &whole, e);
    wk_detok d;
    wk_detok_init(&d, v, dflags);
    for (size_t i = 0; i < ids.n && rc == 0; i++)
        rc = wk_detok_push(&d, ids.ids[i], &stream, e);
    wk_detok_flush(&d, &stream);
    if (rc == 0) {
        for (size_t i = 0; i < ids.n; i++)
            printf("%s%d", i ? " " : "", (int)ids.ids[i]);
        putchar('\t');
        put_hex(&whole);
        putchar('\t');
        put_hex(&stream);
        putchar('\n');
    }
    wk_tokens_free(&ids);
    wk_buf_free(&whole);
    wk_buf_free(&stream);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tok-dump MODEL.gguf FLAGS < TEXTS\n");
        return 2;
    }
    unsigned flags = (strchr(argv[2], 'b') ? WK_TOK_ADD_SPECIAL : 0) |
                     (strchr(argv[2], 's') ? WK_TOK_PARSE_SPECIAL : 0);
    unsigned dflags = WK_DETOK_STRIP_SPACE | (strchr(argv[2], 'S') ? WK_DETOK_SPECIAL : 0);
    wk_err e;
    wk_gguf *g;
    wk_vocab *v = NULL;
    if (wk_gguf_open(argv[1], &g, &e) != 0) {
        fprintf(stderr, "tok-dump: error: %s\n", e.msg);
        return 1;
    }
    int rc = wk_vocab_load(g, &v, &e);
    wk_gguf_close(g);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        wk_buf text = {0};
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (unhex(line, (size_t)n, &text))
            rc = wk_fail(&e, "bad hex line: %s", line);
        else
            rc = dump(v, &text, flags, dflags, &e);
        wk_buf_free(&text);
    }
    free(line);
    wk_vocab_free(v);
    if (rc != 0) {
        fprintf(stderr, "tok-dump: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}
