/* The Hugging Face tokenizer side files, read the way gguf-py's SpecialVocab and
 * convert_hf_to_gguf.py's _create_vocab_sentencepiece read them:
 *   tokenizer_config.json  <typ>_token ("text" or {"content": "text"}), add_<typ>_token
 *                          (booleans only), add_prefix_space, added_tokens_decoder
 *                          ({"<id>": {"content", "special"}}), chat_template (a string, or a
 *                          list of {"name", "template"}: "default" is the main one);
 *   chat_template.jinja    the template text, used when tokenizer_config.json has no
 *   chat_template.json     "chat_template" key (the .jinja file first);
 *   added_tokens.json      {"content": id}.
 * Template names keep only [A-Za-z0-9], others become '_', as gguf-py does. */
#include "formats/tokenizer/tokenizer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "formats/tokenizer/internal.h"

const char *const wk_tok_special_names[WK_SP_COUNT] = {
    "bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom",
};

/* The special types tokenizer_config.json is searched for (SpecialVocab's defaults). */
#define N_CONFIG_TYPES (WK_SP_MASK + 1)

/* {"<id>": {"content": ..., "special": ...}} or {"content": id} into a list. */
static int read_added_map(const cJSON *obj, bool keys_are_ids, const char *path,
                          const char *what, wk_tok_added **out, uint64_t *n_out, wk_err *e)
{
    if (!obj || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return wk_fail(e, "%s: %s: expected an object", path, what);
    uint64_t n = (uint64_t)cJSON_GetArraySize(obj);
    if (n > WK_TOK_MAX_TOKENS)
        return wk_fail(e, "%s: %s: more than %u entries", path, what, WK_TOK_MAX_TOKENS);
    wk_tok_added *list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return wk_fail(e, "%s: out of memory", path);
    *out = list;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        wk_tok_added *a = &list[*n_out];
        char where[96];
        snprintf(where, sizeof where, "%s \"%.40s\"", what, it->string);
        const char *content = it->string;
        if (keys_are_ids) {
            char *end;
            unsigned long long id = strtoull(it->string, &end, 10);
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
            if (!isdigit((unsigned char)it->string[0]) || *end || id >= WK_TOK_MAX_TOKENS)
                return wk_fail(e, "%s: %s: expected a token id in 0..%u as the key", path,
                               where, WK_TOK_MAX_TOKENS - 1);
            if (!cJSON_IsString(c))
                return wk_fail(e, "%s: %s: expected an object with a string \"content\"",
                               path, where);
            a->id = (int64_t)id;
            content = c->valuestring;
            a->special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        } else if (wk_tok_json_id(it, path, where, &a->id, e) != 0) {
            return -1;
        }
        if (!(a->content = wk_tok_strdup(content, path, e)))
            return -1;
        (*n_out)++;
    }
    return 0;
}

/* gguf-py's add_chat_template: names keep [A-Za-z0-9]; "default" is the main template. */
static int read_template_list(wk_tokcfg *c, const cJSON *list, const char *path, wk_err *e)
{
    uint64_t n = (uint64_t)cJSON_GetArraySize(list);
    c->named = calloc(n ? n : 1, sizeof *c->named);
    if (!c->named)
        return wk_fail(e, "%s: out of memory", path);
    const cJSON *it;
    uint64_t i = 0;
    cJSON_ArrayForEach(it, list) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(it, "template");
        if (!cJSON_IsObject(it) || (name && !cJSON_IsString(name)) ||
            (text && !cJSON_IsNull(text) && !cJSON_IsString(text)))
            return wk_fail(e, "%s: chat_template[%llu]: expected {\"name\": string, "
                              "\"template\": string}", path, (unsigned long long)i);
        i++;
        if (!name || !name->valuestring[0] || !cJSON_IsString(text))
            continue;
        if (strcmp(name->valuestring, "default") == 0) {
            free(c->chat_template);
            if (!(c->chat_template = wk_tok_strdup(text->valuestring, path, e)))
                return -1;
            continue;
        }
        wk_tok_named_template *t = &c->named[c->n_named];
        if (!(t->name = wk_tok_strdup(name->valuestring, path, e)))
            return -1;
        c->n_named++;
        if (!(t->text = wk_tok_strdup(text->valuestring, path, e)))
            return -1;
        /* one '_' per character that is not an ASCII letter or digit */
        char *w = t->name;
        for (const unsigned char *p = (const unsigned char *)t->name; *p; p++)
            if ((*p & 0xc0) != 0x80)
                *w++ = *p < 0x80 && isalnum(*p) ? (char)*p : '_';
        *w = '\0';
    }
    return 0;
}

static int read_template(wk_tokcfg *c, const cJSON *v, const char *path, wk_err *e)
{
    if (cJSON_IsString(v))
        return (c->chat_template = wk_tok_strdup(v->valuestring, path, e)) ? 0 : -1;
    if (cJSON_IsArray(v))
        return read_template_list(c, v, path, e);
    c->chat_template_ignored = v && !cJSON_IsNull(v);
    return 0;
}

/* The tokenizer_config.json document itself. */
static int read_config(wk_tokcfg *c, const cJSON *doc, const char *path, wk_err *e)
{
    c->present = doc->child != NULL;
    for (int t = 0; t < N_CONFIG_TYPES; t++) {
        char key[32];
        snprintf(key, sizeof key, "add_%s_token", wk_tok_special_names[t]);
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(doc, key);
        if (cJSON_IsBool(add))
            c->add[t] = cJSON_IsTrue(add);
        snprintf(key, sizeof key, "%s_token", wk_tok_special_names[t]);
        const char *s = wk_tok_json_content(cJSON_GetObjectItemCaseSensitive(doc, key));
        if (s && !(c->token[t] = wk_tok_strdup(s, path, e)))
            return -1;
    }
    const cJSON *aps = cJSON_GetObjectItemCaseSensitive(doc, "add_prefix_space");
    if (cJSON_IsBool(aps))
        c->add_prefix_space = cJSON_IsTrue(aps);
    return read_added_map(cJSON_GetObjectItemCaseSensitive(doc, "added_tokens_decoder"), true,
                          path, "added_tokens_decoder", &c->decoder, &c->n_decoder, e);
}

static void init(wk_tokcfg *c)
{
    *c = (wk_tokcfg){.add_prefix_space = -1};
    memset(c->add, -1, sizeof c->add);
}

int wk_tokcfg_parse(const char *text, const char *path, wk_tokcfg *c, wk_err *e)
{
    init(c);
    cJSON *doc = wk_tok_json_parse(text, path, e);
    int rc = -1;
    if (doc && read_config(c, doc, path, e) == 0)
        rc = read_template(c, cJSON_GetObjectItemCaseSensitive(doc, "chat_template"), path, e);
    cJSON_Delete(doc);
    if (rc != 0)
        wk_tokcfg_free(c);
    return rc;
}

/* dir/name as a parsed JSON object; NULL with *rc 0 when the file is absent. */
static cJSON *load_optional(const char *dir, const char *name, char **path, int *rc, wk_err *e)
{
    cJSON *doc = NULL;
    *rc = 0;
    if (!(*path = wk_path_join(dir, name)))
        *rc = wk_fail(e, "%s: out of memory", dir);
    else if ((*rc = wk_optional_file(*path, e)) == 1) {
        *rc = 0;
        if (!(doc = wk_tok_json_load(*path, WK_TOK_MAX_CONFIG_BYTES, e)))
            *rc = -1;
    }
    return doc;
}

/* No "chat_template" key: chat_template.jinja, else chat_template.json's "chat_template". */
static int read_template_files(wk_tokcfg *c, const char *dir, wk_err *e)
{
    char *path = wk_path_join(dir, "chat_template.jinja");
    int rc = 0;
    if (!path)
        return wk_fail(e, "%s: out of memory", dir);
    int kind = wk_optional_file(path, e);
    if (kind != 0) {
        rc = kind < 0 ? -1
                      : wk_read_small_file(path, WK_TOK_MAX_CONFIG_BYTES, &c->chat_template, NULL, e);
        free(path);
        return rc;
    }
    free(path);
    cJSON *doc = load_optional(dir, "chat_template.json", &path, &rc, e);
    if (doc)
        rc = read_template(c, cJSON_GetObjectItemCaseSensitive(doc, "chat_template"), path, e);
    cJSON_Delete(doc);
    free(path);
    return rc;
}

int wk_tokcfg_load(const char *dir, wk_tokcfg *c, wk_err *e)
{
    init(c);
    char *path;
    int rc;
    cJSON *doc = load_optional(dir, "tokenizer_config.json", &path, &rc, e);
    if (doc && (rc = read_config(c, doc, path, e)) == 0 && c->present) {
        const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(doc, "chat_template");
        rc = tmpl ? read_template(c, tmpl, path, e) : read_template_files(c, dir, e);
    }
    cJSON_Delete(doc);
    free(path);
    if (rc == 0) {
        cJSON *added = load_optional(dir, "added_tokens.json", &path, &rc, e);
        if (added)
            rc = read_added_map(added, false, path, "entry", &c->added_json, &c->n_added_json,
                                e);
        cJSON_Delete(added);
        free(path);
    }
    if (rc != 0)
        wk_tokcfg_free(c);
    return rc;
}

void wk_tokcfg_free(wk_tokcfg *c)
{
    if (!c)
        return;
    for (int t = 0; t < WK_SP_COUNT; t++)
        free(c->token[t]);
    for (uint64_t i = 0; i < c->n_decoder; i++)
        free(c->decoder[i].content);
    for (uint64_t i = 0; i < c->n_added_json; i++)
        free(c->added_json[i].content);
    for (uint64_t i = 0; i < c->n_named; i++) {
        free(c->named[i].name);
        free(c->named[i].text);
    }
    free(c->decoder);
    free(c->added_json);
    free(c->named);
    free(c->chat_template);
    init(c);
}
