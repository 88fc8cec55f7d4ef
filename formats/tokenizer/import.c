/* Assembles the GGUF vocabulary from a model directory, following llama.cpp's
 * convert_hf_to_gguf.py (conversion/base.py):
 *
 * tokenizer.model present -> _create_vocab_sentencepiece, tokenizer.ggml.model "llama",
 *   pre "default". n = config vocab_size (else the piece count); ids start as "[PAD<id>]",
 *   score -10000, UNUSED; pieces below n fill in (SentencePiece UNKNOWN/CONTROL/UNUSED/BYTE
 *   keep their type, NORMAL and USER_DEFINED become NORMAL); added_tokens.json entries become
 *   USER_DEFINED with score -1000; tokenizer_config.json's added_tokens_decoder entries get
 *   score -1000 and CONTROL when "special" or special-looking, else USER_DEFINED (with U+2581
 *   written as a space).
 * else tokenizer.json with a byte-level BPE model -> get_vocab_base, model "gpt2": n =
 *   config vocab_size (else the highest id + 1); holes are "[PAD<id>]" UNUSED; added tokens
 *   are CONTROL or USER_DEFINED as above, the rest NORMAL; merges and the detected
 *   pre-tokenizer come from tokenizer_json.c. A BPE with byte_fallback is SentencePiece-style
 *   and needs its tokenizer.model.
 * Special ids and flags: special.c. */
#include "formats/tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "formats/tokenizer/internal.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's space */

/* base.py does_token_look_special: added tokens some models forget to mark special. */
static bool looks_special(const char *s)
{
    static const char *const exact[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    static const char *const wrap[][2] = {
        {"<|", "|>"}, {"<\xef\xbd\x9c", "\xef\xbd\x9c>"} /* U+FF5C */, {"<unused", ">"},
    };
    size_t n = strlen(s);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(s, exact[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof wrap / sizeof wrap[0]; i++) {
        size_t a = strlen(wrap[i][0]), b = strlen(wrap[i][1]);
        if (n >= a && n >= b && memcmp(s, wrap[i][0], a) == 0 &&
            memcmp(s + n - b, wrap[i][1], b) == 0)
            return true;
    }
    return false;
}

/* A copy of s with every U+2581 written as a space (user-defined tokens are pre-normalized). */
static char *spaces_restored(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    while (*s) {
        if (strncmp(s, SPM_SPACE, 3) == 0) {
            *o++ = ' ';
            s += 3;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

/* Replaces token id with an added token's text and type. */
static int set_added(wk_tokenizer *t, uint64_t id, const char *content, bool special,
                     wk_err *e)
{
    bool control = special || looks_special(content);
    char *s = control ? strdup(content) : spaces_restored(content);
    if (!s)
        return wk_fail(e, "out of memory");
    free(t->tokens[id]);
    t->tokens[id] = s;
    t->types[id] = control ? WK_TOK_CONTROL : WK_TOK_USER_DEFINED;
    return 0;
}

static int alloc_vocab(wk_tokenizer *t, uint64_t n, bool with_scores, wk_err *e)
{
    t->n_tokens = n;
    t->tokens = calloc(n, sizeof *t->tokens);
    t->types = calloc(n, sizeof *t->types);
    t->scores = with_scores ? calloc(n, sizeof *t->scores) : NULL;
    if (!t->tokens || !t->types || (with_scores && !t->scores))
        return wk_fail(e, "out of memory for %llu tokens", (unsigned long long)n);
    return 0;
}

/* "[PAD<id>]" for every id still without a token. */
static int fill_holes(wk_tokenizer *t, wk_err *e)
{
    for (uint64_t i = 0; i < t->n_tokens; i++) {
        if (t->tokens[i])
            continue;
        char buf[32];
        snprintf(buf, sizeof buf, "[PAD%llu]", (unsigned long long)i);
        if (!(t->tokens[i] = strdup(buf)))
            return wk_fail(e, "out of memory");
        t->types[i] = WK_TOK_UNUSED;
        if (t->scores)
            t->scores[i] = -10000.0f;
    }
    return 0;
}

/* config.json vocab_size: 0 when there is none. */
static int config_vocab_size(const wk_hf_config *cfg, uint64_t *out, wk_err *e)
{
    int64_t v = 0;
    *out = 0;
    if (!cfg)
        return 0;
    int rc = wk_hf_get_int(cfg, "vocab_size", &v, e);
    if (rc < 0)
        return -1;
    if (rc == 0 && (v < 1 || v > WK_TOK_MAX_TOKENS))
        return wk_fail(e, "%s: vocab_size %lld is outside 1..%u", cfg->path, (long long)v,
                       WK_TOK_MAX_TOKENS);
    *out = rc == 0 ? (uint64_t)v : 0;
    return 0;
}

static int build_spm(wk_tokenizer *t, const char *dir, wk_spm_model *m, const wk_tokcfg *c,
                     uint64_t n, wk_err *e)
{
    t->model = "llama";
    t->pre = "default";
    if (!n)
        n = m->n_pieces;
    if (alloc_vocab(t, n, true, e) != 0)
        return -1;
    if (m->n_pieces > n)
        wk_tok_warn_in(t, dir, "tokenizer.model", "%llu pieces but config.json vocab_size is "
                       "%llu: pieces from id %llu on are dropped",
                          (unsigned long long)m->n_pieces, (unsigned long long)n,
                          (unsigned long long)n);
    for (uint64_t i = 0; i < n && i < m->n_pieces; i++) {
        int32_t ty = m->pieces[i].type;
        t->tokens[i] = m->pieces[i].piece; /* moved */
        m->pieces[i].piece = NULL;
        t->scores[i] = m->pieces[i].score;
        t->types[i] = ty == WK_TOK_USER_DEFINED ? WK_TOK_NORMAL : ty;
    }
    if (fill_holes(t, e) != 0)
        return -1;
    for (uint64_t i = 0; i < c->n_added_json + c->n_decoder; i++) {
        bool from_json = i < c->n_added_json;
        const wk_tok_added *a = from_json ? &c->added_json[i] : &c->decoder[i - c->n_added_json];
        if ((uint64_t)a->id >= n) {
            wk_tok_warn_in(t, dir, from_json ? "added_tokens.json" : "tokenizer_config.json",
                           "token %lld \"%s\" is outside the vocabulary; ignored",
                           (long long)a->id, a->content);
            continue;
        }
        if (from_json) {
            char *s = strdup(a->content);
            if (!s)
                return wk_fail(e, "out of memory");
            free(t->tokens[a->id]);
            t->tokens[a->id] = s;
            t->types[a->id] = WK_TOK_USER_DEFINED;
        } else if (set_added(t, (uint64_t)a->id, a->content, a->special, e) != 0) {
            return -1;
        }
        t->scores[a->id] = -1000.0f;
    }
    return 0;
}

static int build_bpe(wk_tokenizer *t, wk_tokjson *j, uint64_t n, wk_err *e)
{
    if (j->byte_fallback)
        return wk_fail(e, "%s: a SentencePiece-style BPE (byte_fallback) is converted from its "
                          "tokenizer.model, which this directory lacks", j->path);
    if (n && j->n_vocab > n)
        return wk_fail(e, "%s: token id %llu is not below config.json vocab_size %llu", j->path,
                       (unsigned long long)(j->n_vocab - 1), (unsigned long long)n);
    t->model = "gpt2";
    t->pre = j->pre;
    if (!j->pre_known)
        wk_tok_warn_in(t, NULL, j->path, "pre-tokenizer not recognised; writing "
                       "tokenizer.ggml.pre \"default\", so llama.cpp may split text differently "
                       "from the original tokenizer");
    if (alloc_vocab(t, n ? n : j->n_vocab, false, e) != 0)
        return -1;
    for (uint64_t i = 0; i < j->n_vocab; i++) {
        t->tokens[i] = j->vocab[i]; /* moved */
        j->vocab[i] = NULL;
        t->types[i] = WK_TOK_NORMAL;
    }
    for (uint64_t i = 0; i < j->n_added; i++)
        if (set_added(t, (uint64_t)j->added[i].id, j->added[i].content, j->added[i].special,
                      e) != 0)
            return -1;
    t->merges = j->merges; /* moved */
    t->n_merges = j->n_merges;
    j->merges = NULL;
    j->n_merges = 0;
    return fill_holes(t, e);
}

int wk_tokenizer_load(const char *dir, const wk_hf_config *cfg, wk_tokenizer *t, wk_err *e)
{
    *t = (wk_tokenizer){.add_bos = -1, .add_eos = -1, .add_sep = -1, .add_space_prefix = -1};
    char *spm_path = wk_path_join(dir, "tokenizer.model");
    char *json_path = wk_path_join(dir, "tokenizer.json");
    wk_spm_model spm = {0};
    wk_tokjson tj = {0};
    wk_tokcfg c;
    uint64_t n;
    int rc = -1;
    if (!spm_path || !json_path) {
        wk_fail(e, "%s: out of memory", dir);
        goto out0;
    }
    int spm_kind = wk_optional_file(spm_path, e);
    int json_kind = spm_kind < 0 ? 0 : wk_optional_file(json_path, e);
    if (spm_kind < 0 || json_kind < 0)
        goto out0;
    bool has_spm = spm_kind == 1, has_json = json_kind == 1;
    if (!has_spm && !has_json) {
        wk_fail(e, "no tokenizer found in %s: expected tokenizer.model or tokenizer.json", dir);
        goto out0;
    }
    if (config_vocab_size(cfg, &n, e) != 0 || wk_tokcfg_load(dir, &c, e) != 0)
        goto out0;
    if (has_json && wk_tokjson_load(json_path, !has_spm, &tj, e) != 0)
        goto out1;
    if (has_spm && wk_spm_load(spm_path, &spm, e) != 0)
        goto out1;
    if (has_spm ? build_spm(t, dir, &spm, &c, n, e) : build_bpe(t, &tj, n, e))
        goto out1;
    wk_tok_resolve_special(t, dir, has_json ? &tj : NULL, &c, cfg, has_spm ? &spm : NULL);
    rc = 0;
out1:
    wk_spm_free(&spm);
    wk_tokjson_free(&tj);
    wk_tokcfg_free(&c);
out0:
    free(spm_path);
    free(json_path);
    if (rc != 0)
        wk_tokenizer_free(t);
    return rc;
}

void wk_tokenizer_free(wk_tokenizer *t)
{
    if (!t)
        return;
    for (uint64_t i = 0; t->tokens && i < t->n_tokens; i++)
        free(t->tokens[i]);
    for (uint64_t i = 0; i < t->n_merges; i++)
        free(t->merges[i]);
    for (uint64_t i = 0; i < t->n_named; i++) {
        free(t->named[i].name);
        free(t->named[i].text);
    }
    free(t->tokens);
    free(t->scores);
    free(t->types);
    free(t->merges);
    free(t->named);
    free(t->chat_template);
    wk_warnings_free(&t->warnings);
    *t = (wk_tokenizer){.add_bos = -1, .add_eos = -1, .add_sep = -1, .add_space_prefix = -1};
}
