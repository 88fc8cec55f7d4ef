/* Helpers shared by the Hugging Face tokenizer readers: JSON parsing with a byte offset in
 * the error, token ids checked to be integral and below WK_TOK_MAX_TOKENS, the two ways
 * tokenizer_config.json spells a token ("text" or an AddedToken object), and warnings that
 * name the file they are about. */
#define _GNU_SOURCE /* vasprintf */
#include "formats/tokenizer/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "formats/tokenizer/tokenizer.h"

cJSON *wk_tok_json_parse(const char *text, const char *path, wk_err *e)
{
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithOpts(text, &end, 1);
    if (!json) {
        wk_fail(e, "%s: invalid JSON near byte %lld", path,
                (long long)(end ? end - text : 0));
        return NULL;
    }
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        wk_fail(e, "%s: expected a JSON object at the top level", path);
        return NULL;
    }
    return json;
}

cJSON *wk_tok_json_load(const char *path, size_t max_bytes, wk_err *e)
{
    char *text;
    if (wk_read_small_file(path, max_bytes, &text, NULL, e) != 0)
        return NULL;
    cJSON *json = wk_tok_json_parse(text, path, e);
    free(text);
    return json;
}

int wk_tok_json_id(const cJSON *v, const char *path, const char *what, int64_t *out, wk_err *e)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < 0 || d >= (double)WK_TOK_MAX_TOKENS)
        return wk_fail(e, "%s: %s: expected a token id, an integer in 0..%u", path, what,
                       WK_TOK_MAX_TOKENS - 1);
    *out = (int64_t)d;
    return 0;
}

const char *wk_tok_json_content(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : NULL;
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

char *wk_tok_strdup(const char *s, const char *path, wk_err *e)
{
    char *d = strdup(s);
    if (!d)
        wk_fail(e, "%s: out of memory", path);
    return d;
}

void wk_tok_warn_in(wk_tokenizer *t, const char *dir, const char *file, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    char *path = dir ? wk_path_join(dir, file) : NULL;
    if (n < 0) {
        t->warnings.lost++; /* msg is undefined */
    } else {
        wk_warn(&t->warnings, "%s: %s", path ? path : file, msg);
        free(msg);
    }
    free(path);
}
