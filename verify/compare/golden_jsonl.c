/* Golden files and prompt files read and written (see golden.h): one JSON object per line,
 * parsed with cJSON line by line so that every error names the line (and, for JSON that
 * does not parse, the column). Unknown keys are errors, not ignored: a misspelt "min_match"
 * would otherwise silently loosen a gate. */
#include "verify/compare/golden.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/fileio.h"
#include "common/grow.h"
#include "common/strutil.h"

#define GOLDEN_MAX_FILE ((size_t)1 << 30)

typedef struct lines {
    const char *p, *end;
    unsigned no;             /* of the line last returned */
} lines;

/* The next line (without its "\r\n" or "\n"); false at the end of the text. */
static bool next_line(lines *it, const char **s, size_t *n)
{
    if (it->p >= it->end)
        return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *s = it->p;
    *n = (size_t)(stop - it->p);
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    it->p = nl ? nl + 1 : it->end;
    it->no++;
    return true;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static const char *json_kind(const cJSON *j)
{
    return cJSON_IsString(j) ? "a string" : cJSON_IsNumber(j) ? "a number"
           : cJSON_IsArray(j) ? "an array" : cJSON_IsObject(j) ? "an object"
           : cJSON_IsBool(j) ? "a boolean" : "null";
}

static cJSON *parse_object(const char *name, unsigned no, const char *s, size_t n, wk_err *e)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, false);
    if (!j)
        return wk_fail(e, "%s:%u: column %zu: not valid JSON (expected one object per line, "
                          "{\"prompt\": \"...\", ...})",
                       name, no, end && end >= s ? (size_t)(end - s) + 1 : 1), NULL;
    while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (end < s + n) {
        wk_fail(e, "%s:%u: column %zu: text after the JSON object (one object per line)",
                name, no, (size_t)(end - s) + 1);
    } else if (!cJSON_IsObject(j)) {
        wk_fail(e, "%s:%u: %s, expected an object {\"prompt\": \"...\", ...}", name, no,
                json_kind(j));
    } else {
        return j;
    }
    cJSON_Delete(j);
    return NULL;
}

/* A string that must be UTF-8 text, copied; -1 naming the key otherwise. */
static int take_text(const char *name, unsigned no, const cJSON *v, const char *key,
                     char **out, wk_err *e)
{
    if (!cJSON_IsString(v))
        return wk_fail(e, "%s:%u: \"%s\" is %s, expected a string", name, no, key,
                       json_kind(v));
    size_t len = strlen(v->valuestring), bad;
    if (!wk_utf8_valid((const uint8_t *)v->valuestring, len, &bad))
        return wk_fail(e, "%s:%u: \"%s\": byte %zu is not UTF-8", name, no, key, bad + 1);
    if (!(*out = strdup(v->valuestring)))
        return wk_fail(e, "out of memory");
    return 0;
}

/* A JSON number that is a whole number in [0, max]; -1 otherwise. */
static long long whole(const cJSON *v, double max)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= max) ||
        floor(v->valuedouble) != v->valuedouble)
        return -1;
    return (long long)v->valuedouble;
}

static int take_tokens(const char *name, unsigned no, const cJSON *v, wk_golden_item *it,
                       wk_err *e)
{
    if (!cJSON_IsArray(v))
        return wk_fail(e, "%s:%u: \"tokens\" is %s, expected an array of token ids", name, no,
                       json_kind(v));
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    it->has_tokens = true;
    if (n && !(it->tokens = malloc(n * sizeof *it->tokens)))
        return wk_fail(e, "out of memory");
    for (const cJSON *t = v->child; t; t = t->next, i++) {
        long long id = whole(t, INT32_MAX);
        if (id < 0 && cJSON_IsNumber(t))
            return wk_fail(e, "%s:%u: \"tokens\"[%zu] is %g, expected a token id (a whole "
                              "number from 0)", name, no, i, t->valuedouble);
        if (id < 0)
            return wk_fail(e, "%s:%u: \"tokens\"[%zu] is %s, expected a token id (a whole "
                              "number from 0)", name, no, i, json_kind(t));
        it->tokens[i] = (wk_token)id;
    }
    it->n_tokens = n;
    return 0;
}

/* One golden line's object into it. */
static int take_item(const char *name, unsigned no, const cJSON *o, wk_golden_item *it,
                     wk_err *e)
{
    static const char *keys[] = {"prompt", "expected", "tokens", "min_match"};
    const cJSON *seen[4] = {0};
    for (const cJSON *c = o->child; c; c = c->next) {
        size_t k = 0;
        while (k < 4 && strcmp(c->string, keys[k]) != 0)
            k++;
        if (k == 4)
            return wk_fail(e, "%s:%u: unknown key \"%s\" (prompt, expected, tokens, "
                              "min_match)", name, no, c->string);
        if (seen[k])
            return wk_fail(e, "%s:%u: \"%s\" given twice", name, no, keys[k]);
        seen[k] = c;
    }
    if (!seen[0])
        return wk_fail(e, "%s:%u: no \"prompt\"", name, no);
    if (take_text(name, no, seen[0], "prompt", &it->prompt, e) != 0)
        return -1;
    if (!*it->prompt)
        return wk_fail(e, "%s:%u: the prompt is empty", name, no);
    if (seen[1] && take_text(name, no, seen[1], "expected", &it->expected, e) != 0)
        return -1;
    if (seen[2] && take_tokens(name, no, seen[2], it, e) != 0)
        return -1;
    if (!seen[1] && !seen[2])
        return wk_fail(e, "%s:%u: neither \"expected\" nor \"tokens\": nothing to check a "
                          "model against", name, no);
    if (seen[3]) {
        if ((it->min_match = whole(seen[3], INT32_MAX)) < 0)
            return cJSON_IsNumber(seen[3])
                   ? wk_fail(e, "%s:%u: \"min_match\" is %g, expected a whole number from 0",
                             name, no, seen[3]->valuedouble)
                   : wk_fail(e, "%s:%u: \"min_match\" is %s, expected a whole number from 0",
                             name, no, json_kind(seen[3]));
        if (it->has_tokens && (size_t)it->min_match > it->n_tokens)
            return wk_fail(e, "%s:%u: min_match %ld is more than the %zu token%s given", name,
                           no, it->min_match, it->n_tokens, it->n_tokens == 1 ? "" : "s");
    }
    return 0;
}

/* A prompts-file line: the line's text, or a JSON object's "prompt". */
static int take_prompt(const char *name, unsigned no, const char *s, size_t n,
                       wk_golden_item *it, wk_err *e)
{
    size_t lead = 0, bad;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (lead < n && s[lead] == '{') {
        cJSON *o = parse_object(name, no, s, n, e);
        if (!o)
            return -1;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
        int rc = p ? take_text(name, no, p, "prompt", &it->prompt, e)
                   : wk_fail(e, "%s:%u: a JSON line without \"prompt\"", name, no);
        cJSON_Delete(o);
        if (rc == 0 && !*it->prompt)
            rc = wk_fail(e, "%s:%u: the prompt is empty", name, no);
        return rc;
    }
    if (!wk_utf8_valid((const uint8_t *)s, n, &bad))
        return wk_fail(e, "%s:%u: byte %zu is not UTF-8 (a prompt per line, in UTF-8)", name,
                       no, bad + 1);
    if (!(it->prompt = strndup(s, n)))
        return wk_fail(e, "out of memory");
    return 0;
}

static int parse(const char *name, const char *text, size_t len, bool prompts, wk_golden *g,
                 wk_err *e)
{
    memset(g, 0, sizeof *g);
    size_t cap = 0;
    lines it = {text, text + len, 0};
    const char *s;
    size_t n;
    if (!(g->path = strdup(name)))
        return wk_fail(e, "out of memory");
    while (next_line(&it, &s, &n)) {
        if (blank(s, n))
            continue;
        if (wk_grow((void **)&g->items, &cap, g->n + 1, sizeof *g->items) != 0) {
            wk_golden_free(g);
            return wk_fail(e, "out of memory");
        }
        wk_golden_item *item = &g->items[g->n++];
        *item = (wk_golden_item){.line = it.no, .min_match = -1};
        cJSON *o = NULL;
        int rc = prompts ? take_prompt(name, it.no, s, n, item, e)
                 : !(o = parse_object(name, it.no, s, n, e)) ? -1
                                                             : take_item(name, it.no, o, item, e);
        cJSON_Delete(o);
        if (rc != 0) {
            wk_golden_free(g);
            return -1;
        }
    }
    if (g->n == 0) {
        wk_golden_free(g);
        return wk_fail(e, "%s: no %s (an empty file)", name,
                       prompts ? "prompts" : "golden lines");
    }
    return 0;
}

int wk_golden_parse(const char *name, const char *text, size_t len, wk_golden *g, wk_err *e)
{
    return parse(name, text, len, false, g, e);
}

int wk_golden_parse_prompts(const char *name, const char *text, size_t len, wk_golden *g,
                            wk_err *e)
{
    return parse(name, text, len, true, g, e);
}

static int load(const char *path, bool prompts, wk_golden *g, wk_err *e)
{
    char *text;
    size_t len;
    memset(g, 0, sizeof *g);
    if (wk_read_small_file(path, GOLDEN_MAX_FILE, &text, &len, e) != 0)
        return -1;
    int rc = parse(path, text, len, prompts, g, e);
    free(text);
    return rc;
}

int wk_golden_load(const char *path, wk_golden *g, wk_err *e)
{
    return load(path, false, g, e);
}

int wk_golden_load_prompts(const char *path, wk_golden *g, wk_err *e)
{
    return load(path, true, g, e);
}

char *wk_golden_utf8(const char *s, size_t n)
{
    wk_buf b = {0};
    for (size_t i = 0; i < n;) {
        unsigned l = wk_utf8_seq_len((const uint8_t *)s + i, n - i);
        if (l == 0 || s[i] == 0) {
            wk_buf_put(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            wk_buf_put(&b, s + i, l);
            i += l;
        }
    }
    wk_buf_put(&b, "", 1);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

char *wk_golden_show(const char *s, size_t n, size_t max)
{
    wk_buf b = {0};
    wk_buf_put(&b, "'", 1);
    size_t i = 0;
    while (i < n && i < max) {
        uint8_t c = (uint8_t)s[i];
        unsigned l = wk_utf8_seq_len((const uint8_t *)s + i, n - i);
        if (c == '\n' || c == '\t' || c == '\\')
            wk_buf_printf(&b, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : '\\');
        else if (l == 0 || c < 0x20 || c == 0x7F)
            wk_buf_printf(&b, "\\x%02x", c);
        else {
            wk_buf_put(&b, s + i, l);
            i += l;
            continue;
        }
        i++;
    }
    wk_buf_printf(&b, "'%s", i < n ? "..." : "");
    wk_buf_put(&b, "", 1);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

/* One item as a JSON object (NULL when out of memory). */
static cJSON *item_json(const wk_golden_item *it)
{
    cJSON *o = cJSON_CreateObject();
    char *p = wk_golden_utf8(it->prompt, strlen(it->prompt));
    char *x = it->expected ? wk_golden_utf8(it->expected, strlen(it->expected)) : NULL;
    bool ok = o && p && (!it->expected || x) && cJSON_AddStringToObject(o, "prompt", p) &&
              (!x || cJSON_AddStringToObject(o, "expected", x));
    free(p);
    free(x);
    if (ok && it->has_tokens) {
        cJSON *t = cJSON_AddArrayToObject(o, "tokens");
        for (size_t i = 0; ok && i < it->n_tokens; i++) {
            cJSON *id = cJSON_CreateNumber(it->tokens[i]);
            ok = id && cJSON_AddItemToArray(t, id);
        }
        ok = ok && t;
    }
    if (ok && it->min_match >= 0)
        ok = cJSON_AddNumberToObject(o, "min_match", (double)it->min_match) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *wk_golden_jsonl(const wk_golden *g)
{
    wk_buf b = {0};
    for (size_t i = 0; i < g->n && !b.oom; i++) {
        cJSON *o = item_json(&g->items[i]);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!s)
            b.oom = true;
        else
            wk_buf_printf(&b, "%s\n", s);
        free(s);
    }
    wk_buf_put(&b, "", 1);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

int wk_golden_save(const wk_golden *g, const char *path, wk_err *e)
{
    char *text = wk_golden_jsonl(g);
    if (!text)
        return wk_fail(e, "out of memory for %s", path);
    wk_outfile o;
    int rc = wk_out_open(&o, path, e);
    if (rc == 0 && (wk_out_write(&o, text, strlen(text), e) != 0 || wk_out_commit(&o, e) != 0)) {
        wk_out_abort(&o);
        rc = -1;
    }
    free(text);
    return rc;
}

void wk_golden_free(wk_golden *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->items[i].prompt);
        free(g->items[i].expected);
        free(g->items[i].tokens);
    }
    free(g->items);
    free(g->path);
    memset(g, 0, sizeof *g);
}
