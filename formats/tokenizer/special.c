/* Special token ids and add_*_token flags, resolved as gguf-py's SpecialVocab does
 * (gguf-py/gguf/vocab.py, _try_load_from_tokenizer_json then _try_load_from_config_json):
 *
 * 1. tokenizer.json's post_processor: RobertaProcessing adds bos, eos and sep;
 *    TemplateProcessing's "single" template decides add_bos (leading special token is the
 *    bos or cls token) and add_eos (trailing one is the eos token; a different trailing
 *    token becomes eos and the old eos becomes eot), its "pair" template decides add_sep.
 * 2. tokenizer_config.json (only when it is a non-empty object): add_<typ>_token booleans
 *    override; each <typ>_token string is looked up among tokenizer.json's added_tokens
 *    (first match) to give its id.
 * 3. config.json's <typ>_token_id (or text_config's) fills types still unset.
 * 4. Ours: the SentencePiece trainer spec's unk/bos/eos/pad ids fill what is still unset.
 * The first id found for a type wins; ids outside the vocabulary or negative are skipped
 * with a warning (gguf-py refuses negative ids; configs often say pad_token_id -1). */
#include "formats/tokenizer/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct resolver {
    wk_tokenizer *t;
    const char *dir;              /* the model directory, for warnings */
    const char *tok[WK_SP_COUNT]; /* content strings, updated as gguf-py updates its copy */
    bool wanted[WK_SP_COUNT];     /* SpecialVocab.special_token_types */
    bool present;                 /* tokenizer_config.json is a non-empty object */
} resolver;

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* SpecialVocab._set_special_token. from is a file of r->dir, or (dir NULL) a path. */
static void set_id(resolver *r, int typ, int64_t id, const char *dir, const char *from)
{
    wk_tokenizer *t = r->t;
    if (id < 0 || (uint64_t)id >= t->n_tokens) {
        wk_tok_warn_in(t, dir, from, "special token %s id %lld is outside the vocabulary "
                                     "(0..%llu); not written", wk_tok_special_names[typ],
                       (long long)id, (unsigned long long)(t->n_tokens - 1));
        return;
    }
    if (t->special_id[typ] < 0)
        t->special_id[typ] = id;
}

/* items[i].SpecialToken.id, or NULL. */
static const char *special_at(const cJSON *items, int i)
{
    const cJSON *it = cJSON_GetArrayItem(items, i);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(it, "SpecialToken"), "id");
    return cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : NULL;
}

/* items[i].Sequence.id, or NULL. */
static const char *sequence_at(const cJSON *items, int i)
{
    const cJSON *it = cJSON_GetArrayItem(items, i);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(it, "Sequence"), "id");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

static void roberta(resolver *r, const cJSON *p)
{
    wk_tokenizer *t = r->t;
    t->add_bos = t->add_eos = t->add_sep = 1;
    /* "cls": ["<s>", 0] is a (token, id) pair */
    const cJSON *cls = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "cls"), 0);
    const cJSON *sep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "sep"), 0);
    if (!r->tok[WK_SP_CLS] && r->present)
        r->tok[WK_SP_CLS] = cJSON_IsString(cls) ? cls->valuestring : r->tok[WK_SP_BOS];
    if (!r->tok[WK_SP_SEP] && r->present)
        r->tok[WK_SP_SEP] = cJSON_IsString(sep) ? sep->valuestring : r->tok[WK_SP_EOS];
}

/* The "pair" template: A [sep] [eos] B decides add_sep. */
static void template_pair(resolver *r, const cJSON *pair, const char *first, const char *last)
{
    int n = cJSON_GetArraySize(pair);
    int start = first && eq(special_at(pair, 0), first) ? 1 : 0;
    int stop = last && eq(special_at(pair, n - 1), last) ? n - 1 : n;
    if (stop - start < 1)
        return;
    const char *a = sequence_at(pair, start), *b = sequence_at(pair, stop - 1);
    if (!eq(a, "A") || !eq(b, "B") || stop - start <= 2)
        return;
    const char *sep = r->tok[WK_SP_SEP], *eos = r->tok[WK_SP_EOS];
    bool add_sep = false;
    const char *mid = special_at(pair, start + 1);
    if (mid && (eq(mid, sep) || eq(mid, eos)) && !last)
        add_sep = true;
    if (stop - start - 2 == 2) {
        mid = special_at(pair, start + 2);
        if (mid && (eq(mid, sep) || eq(mid, eos)))
            add_sep = true;
    }
    r->t->add_sep = add_sep;
    if (add_sep && !sep && r->present)
        r->tok[WK_SP_SEP] = eos;
}

static void template_single(resolver *r, const cJSON *p)
{
    wk_tokenizer *t = r->t;
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(p, "single");
    const char *first = NULL, *last = NULL;
    int n = cJSON_IsArray(single) ? cJSON_GetArraySize(single) : 0;
    if (n > 1 && (first = special_at(single, 0))) {
        if (!r->present) {
            r->tok[WK_SP_BOS] = first;
        } else if (!eq(first, r->tok[WK_SP_BOS]) && !eq(first, r->tok[WK_SP_CLS])) {
            if (!r->tok[WK_SP_BOS])
                r->tok[WK_SP_BOS] = first;
            if (!r->tok[WK_SP_CLS])
                r->tok[WK_SP_CLS] = first;
        }
        t->add_bos = eq(first, r->tok[WK_SP_BOS]) || eq(first, r->tok[WK_SP_CLS]);
    }
    if (n > 1 && (last = special_at(single, n - 1))) {
        if (!r->present) {
            r->tok[WK_SP_EOS] = last;
        } else if (!eq(last, r->tok[WK_SP_EOS])) {
            int keep = !r->wanted[WK_SP_EOT] ? WK_SP_EOT : !r->wanted[WK_SP_EOM] ? WK_SP_EOM : -1;
            if (keep >= 0) {
                r->wanted[keep] = true;
                r->tok[keep] = r->tok[WK_SP_EOS];
            }
            r->tok[WK_SP_EOS] = last;
        }
        t->add_eos = eq(last, r->tok[WK_SP_EOS]);
    }
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(p, "pair");
    if (cJSON_IsArray(pair) && cJSON_GetArraySize(pair) > 0)
        template_pair(r, pair, first, last);
}

static void post_processor(resolver *r, const cJSON *pp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
    const cJSON *p;
    if (!cJSON_IsArray(list)) {
        list = NULL;
        p = pp;
    } else {
        p = list->child;
    }
    for (; p; p = list ? p->next : NULL) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (eq(cJSON_IsString(type) ? type->valuestring : NULL, "RobertaProcessing"))
            roberta(r, p);
        else if (eq(cJSON_IsString(type) ? type->valuestring : NULL, "TemplateProcessing"))
            template_single(r, p);
    }
}

/* Step 2: tokenizer_config.json's flags, token strings and chat templates. */
static void from_config(resolver *r, const wk_tokjson *tj, wk_tokcfg *c)
{
    wk_tokenizer *t = r->t;
    if (c->add[WK_SP_BOS] >= 0)
        t->add_bos = c->add[WK_SP_BOS];
    if (c->add[WK_SP_EOS] >= 0)
        t->add_eos = c->add[WK_SP_EOS];
    if (c->add[WK_SP_SEP] >= 0)
        t->add_sep = c->add[WK_SP_SEP];
    for (int typ = 0; typ < WK_SP_COUNT && tj; typ++) {
        if (!r->wanted[typ] || !r->tok[typ])
            continue;
        for (uint64_t i = 0; i < tj->n_added; i++) {
            if (strcmp(tj->added[i].content, r->tok[typ]) == 0) {
                set_id(r, typ, tj->added[i].id, r->dir, "tokenizer_config.json");
                break;
            }
        }
    }
    t->chat_template = c->chat_template;
    t->named = c->named;
    t->n_named = c->n_named;
    c->chat_template = NULL;
    c->named = NULL;
    c->n_named = 0;
    if (c->chat_template_ignored)
        wk_tok_warn_in(t, r->dir, "tokenizer_config.json",
                       "chat_template is neither a string nor a list; ignored");
}

/* Step 3: config.json's <typ>_token_id, then text_config's. gguf-py takes Python ints
 * only: a value of another type (a list of eos ids) is skipped, not an error. */
static void from_hf_config(resolver *r, const wk_hf_config *cfg)
{
    wk_hf_config text;
    wk_err ignored;
    bool have_text = wk_hf_get_object(cfg, "text_config", &text, &ignored) == 0;
    for (int typ = 0; typ < WK_SP_COUNT; typ++) {
        if (!r->wanted[typ])
            continue;
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", wk_tok_special_names[typ]);
        int64_t id;
        int rc = wk_hf_get_int(cfg, key, &id, &ignored);
        if (rc == 1 && have_text)
            rc = wk_hf_get_int(&text, key, &id, &ignored);
        if (rc == 0)
            set_id(r, typ, id, NULL, cfg->path);
    }
}

void wk_tok_resolve_special(wk_tokenizer *t, const char *dir, const wk_tokjson *tj,
                            wk_tokcfg *c, const wk_hf_config *cfg, const wk_spm_model *spm)
{
    resolver r = {.t = t, .dir = dir, .present = c->present};
    for (int typ = 0; typ < WK_SP_COUNT; typ++) {
        t->special_id[typ] = -1;
        r.tok[typ] = c->token[typ];
        r.wanted[typ] = typ <= WK_SP_MASK;
    }
    t->add_bos = t->add_eos = t->add_sep = -1;
    t->add_space_prefix = c->add_prefix_space;
    if (tj) {
        if (!r.tok[WK_SP_BOS] && r.tok[WK_SP_CLS] && r.present)
            r.tok[WK_SP_BOS] = r.tok[WK_SP_CLS];
        if (!r.tok[WK_SP_EOS] && r.tok[WK_SP_SEP] && r.present)
            r.tok[WK_SP_EOS] = r.tok[WK_SP_SEP];
        if (tj->post_processor)
            post_processor(&r, tj->post_processor);
    }
    if (r.present)
        from_config(&r, tj, c);
    if (cfg)
        from_hf_config(&r, cfg);
    if (spm) {
        const int32_t ids[] = {spm->bos_id, spm->eos_id, spm->unk_id, spm->pad_id};
        const int typs[] = {WK_SP_BOS, WK_SP_EOS, WK_SP_UNK, WK_SP_PAD};
        for (int i = 0; i < 4; i++)
            if (ids[i] >= 0 && t->special_id[typs[i]] < 0)
                set_id(&r, typs[i], ids[i], dir, "tokenizer.model");
    }
}
