/* A tokenization shown to a person (wk-run --tokenize): one line per token with its id and
 * its piece quoted, then the count; or the same as JSON. Pieces are bytes, not always text
 * (a byte token is a third of a CJK character), so the text form escapes what is not
 * printable UTF-8 (\xNN), and the JSON form, whose strings must be Unicode, writes such
 * bytes as U+FFFD. */
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "engine/tokenizer.h"

static void quote(wk_buf *b, const char *s, size_t n)
{
    wk_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)s[i];
        unsigned l = wk_utf8_seq_len((const uint8_t *)s + i, n - i);
        if (c == '"' || c == '\\') {
            wk_buf_printf(b, "\\%c", c);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            wk_buf_printf(b, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        } else if (l == 0 || c < 0x20 || c == 0x7F) {
            wk_buf_printf(b, "\\x%02x", c);
        } else {
            wk_buf_put(b, s + i, l);
            i += l;
            continue;
        }
        i++;
    }
    wk_buf_put(b, "\"", 1);
}

/* The piece as a JSON string: bytes that are not UTF-8 become U+FFFD. */
static void json_string(wk_buf *b, const char *s, size_t n)
{
    wk_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)s[i];
        unsigned l = wk_utf8_seq_len((const uint8_t *)s + i, n - i);
        if (c == '"' || c == '\\')
            wk_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            wk_buf_printf(b, "\\u%04x", c);
        else if (l == 0)
            wk_buf_put(b, "\xEF\xBF\xBD", 3);
        else {
            wk_buf_put(b, s + i, l);
            i += l;
            continue;
        }
        i++;
    }
    wk_buf_put(b, "\"", 1);
}

/* The piece of ids[i] (empty for an id outside the vocabulary). */
static const char *piece(const wk_vocab *t, wk_token id, size_t *len)
{
    const char *s = wk_token_piece(t, id, true, len);
    if (!s)
        *len = 0;
    return s ? s : "";
}

static void listing_json(wk_buf *b, const wk_vocab *t, const wk_token *ids, size_t n)
{
    wk_buf_put(b, "{\"ids\": [", 9);
    for (size_t i = 0; i < n; i++)
        wk_buf_printf(b, "%s%d", i ? ", " : "", (int)ids[i]);
    wk_buf_put(b, "], \"pieces\": [", 14);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = piece(t, ids[i], &len);
        wk_buf_put(b, ", ", i ? 2 : 0);
        json_string(b, s, len);
    }
    wk_buf_printf(b, "], \"count\": %zu}\n", n);
}

static void listing_text(wk_buf *b, const wk_vocab *t, const wk_token *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = piece(t, ids[i], &len);
        wk_buf_printf(b, "%8d  ", (int)ids[i]);
        quote(b, s, len);
        wk_buf_put(b, "\n", 1);
    }
    wk_buf_printf(b, "%zu token%s\n", n, n == 1 ? "" : "s");
}

char *wk_tokenize_listing(const wk_vocab *t, const wk_token *ids, size_t n, bool json)
{
    wk_buf b = {0};
    if (json)
        listing_json(&b, t, ids, n);
    else
        listing_text(&b, t, ids, n);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}
