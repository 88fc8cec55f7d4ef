/* The metadata part of wk-inspect's report (verify/inspect/meta.c) on GGUF files written
 * here: which keys are listed by default and with --meta, the tokenizer summary, the file
 * type's name, values shown safely (escapes, no terminal control bytes, valid JSON), and the
 * checksums checked while --stats and --hist hold a tensor's bytes. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include <sys/stat.h>

#include "tests/unit/formats/gguf/gguf_test_util.h"
#include "verify/inspect/report.h"

#define TEMPLATE "A\x1b[31mB\nC"   /* a terminal escape and a newline */
#define BAD_UTF8 "bad\xffname"     /* not UTF-8 */
#define C1_CSI "x\xc2\x9by"        /* UTF-8, but U+009B is a C1 control (CSI) */

static void im_write(const char *path, uint32_t file_type)
{
    wk_err e;
    wk_gguf_writer *w;
    OK(wk_gguf_writer_open(path, &w, &e));
    OK(wk_gguf_set_str(w, "general.architecture", "llama", &e));
    OK(wk_gguf_set_str(w, "general.name", "meta test", &e));
    OK(wk_gguf_set_u32(w, "general.file_type", file_type, &e));
    OK(wk_gguf_set_str(w, "general.description", BAD_UTF8, &e));
    OK(wk_gguf_set_str(w, "general.c1", C1_CSI, &e));
    OK(wk_gguf_set_u32(w, "llama.block_count", 2, &e));
    OK(wk_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &e));
    int32_t small[] = {-1, 0, 7};
    OK(wk_gguf_set_arr(w, "llama.small", WK_GGUF_I32, small, 3, &e));
    OK(wk_gguf_set_u32(w, "llamax.not_the_family", 1, &e));
    OK(wk_gguf_set_u32(w, "other.key", 7, &e));
    OK(wk_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", &e));
    OK(wk_gguf_set_str(w, "tokenizer.ggml.pre", "llama-bpe", &e));
    const char *toks[20];
    char tok_text[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(tok_text[i], sizeof tok_text[i], "t%d", i);
        toks[i] = tok_text[i];
    }
    OK(wk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 20, &e));
    float scores[20];
    for (int i = 0; i < 20; i++)
        scores[i] = 0.5f * (float)i;
    OK(wk_gguf_set_arr(w, "tokenizer.ggml.scores", WK_GGUF_F32, scores, 20, &e));
    OK(wk_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1, &e));
    OK(wk_gguf_set_u32(w, "tokenizer.ggml.eot_token_id", 9, &e));
    OK(wk_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true, &e));
    OK(wk_gguf_set_str(w, "tokenizer.chat_template", TEMPLATE, &e));
    OK(wk_gguf_set_str(w, "tokenizer.chat_template.tool_use", "x", &e));
    const char *srcs[] = {"model.safetensors"};
    OK(wk_gguf_set_provenance(w, "wk-test", srcs, 1, &e));
    uint64_t shape[] = {4};
    OK(wk_gguf_add_tensor(w, "blk.0.attn_norm.weight", WK_F32, 1, shape, NULL, &e));
    OK(wk_gguf_add_tensor(w, "blk.0.attn_q.weight", WK_IQ2_XXS, 1, (uint64_t[]){256}, NULL, &e));
    float norm[4] = {1, 2, 3, 4};
    uint8_t iq2[66] = {0};
    OK(wk_gguf_write_tensor(w, norm, sizeof norm, &e));
    OK(wk_gguf_write_tensor(w, iq2, sizeof iq2, &e));
    OK(wk_gguf_writer_finish(w, &e));
}

typedef struct {
    char *dir, *path;
    wk_source *src;
    wk_inspect_report *r;
    char *text, *json;
    cJSON *doc, *keys;
} im_case;

static im_case im_open(uint32_t file_type, wk_inspect_opts o)
{
    im_case c = {.dir = gt_tmpdir()};
    wk_err e;
    c.path = gt_path(c.dir, "m.gguf");
    im_write(c.path, file_type);
    OK(wk_source_open(c.path, NULL, &c.src, &e));
    OK(wk_inspect_build(c.src, &o, &c.r, &e));
    c.text = wk_inspect_text(c.r);
    c.json = wk_inspect_json(c.r);
    cr_assert(c.text && c.json);
    c.doc = cJSON_Parse(c.json);
    cr_assert(c.doc, "invalid JSON:\n%s", c.json);
    c.keys = cJSON_GetObjectItem(cJSON_GetObjectItem(c.doc, "metadata"), "keys");
    cr_assert(c.keys);
    return c;
}

static void im_close(im_case *c)
{
    cJSON_Delete(c->doc);
    free(c->text);
    free(c->json);
    wk_inspect_free(c->r);
    wk_source_close(c->src);
    free(c->path);
    gt_rmdir(c->dir);
}

static bool im_has_key(const im_case *c, const char *key)
{
    for (size_t k = 0; k < c->r->meta.n_shown; k++)
        if (gt_streq(c->r->meta.shown[k]->key, key))
            return true;
    return false;
}

/* No byte that drives a terminal: C0 controls but newline, DEL, and the C1 range as UTF-8. */
static void im_assert_printable(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        cr_assert(*p >= 0x20 || *p == '\n', "control byte 0x%02x in:\n%s", *p, text);
        cr_assert(*p != 0x7f);
        cr_assert(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0), "C1 control in:\n%s", text);
    }
}

Test(inspect_meta, default_groups_and_tokenizer_summary)
{
    im_case c = im_open(15, (wk_inspect_opts){0});
    const wk_inspect_meta *m = &c.r->meta;
    cr_assert_str_eq(m->format, "gguf");
    cr_assert_eq(m->gguf_version, 3);
    cr_assert_eq(m->alignment, 32);
    cr_assert_not(m->all);
    const char *shown[] = {"general.architecture", "general.name", "general.file_type",
                           "general.description", "general.c1", "llama.block_count",
                           "llama.attention.layer_norm_rms_epsilon", "llama.small",
                           "weightkit.version", "weightkit.tool", "weightkit.sources"};
    cr_assert_eq(m->n_shown, sizeof shown / sizeof shown[0]);
    for (size_t k = 0; k < m->n_shown; k++)
        cr_assert(gt_streq(m->shown[k]->key, shown[k]), "key %zu", k);
    cr_assert_not(im_has_key(&c, "llamax.not_the_family") || im_has_key(&c, "other.key") ||
                  im_has_key(&c, "weightkit.tensor_xxh64"));
    cr_assert(m->has_file_type && m->file_type == 15);
    cr_assert_str_eq(m->file_type_info->name, "Q4_K_M");
    const wk_inspect_tokenizer *t = &m->tok;
    cr_assert(t->present && gt_streq(t->model->str, "gpt2") && gt_streq(t->pre->str, "llama-bpe"));
    cr_assert_eq(t->n_tokens, 20);
    cr_assert_eq(t->n_special, 2);
    cr_assert(gt_streq(t->special[0].name, "bos") && t->special[0].id->u == 1);
    cr_assert(gt_streq(t->special[1].name, "eot") && t->special[1].id->u == 9);
    cr_assert_eq(t->add_bos, 1);
    cr_assert_eq(t->add_eos, -1, "absent");
    cr_assert_eq(t->chat_template_bytes, (int64_t)strlen(TEMPLATE));
    cr_assert_eq(t->named_templates, 1);

    const char *text = c.text;
    im_assert_printable(text);
    cr_expect(strstr(text, "Metadata      GGUF v3, alignment 32, 24 keys; general.*, llama.*, "
                           "weightkit.* below (--meta: all)\n"), "%s", text);
    cr_expect(strstr(text, "\n  general.file_type                        15 (Q4_K_M)\n"), "%s",
              text);
    cr_expect(strstr(text, "  llama.attention.layer_norm_rms_epsilon   1e-05\n"), "%s", text);
    cr_expect(strstr(text, "  llama.small                              [-1, 0, 7]\n"), "%s", text);
    cr_expect(strstr(text, "  general.description                      bad\\xffname\n"), "%s",
              text);
    cr_expect(strstr(text, "  general.c1                               x?y\n"), "%s", text);
    cr_expect(strstr(text, "  weightkit.sources                        [\"model.safetensors\"]\n"),
              "%s", text);
    cr_expect(strstr(text, "Tokenizer     model gpt2, pre llama-bpe, 20 tokens\n"
                           "              special ids: bos 1, eot 9\n"
                           "              add_bos_token true, add_eos_token unset\n"
                           "              chat template: 9 bytes, 1 named\n"), "%s", text);
    cr_expect(strstr(text, "Checksums     stored, not verified") != NULL, "%s", text);
    cr_expect_not(strstr(text, "other.key") || strstr(text, "tokenizer.ggml.tokens"));

    cJSON *meta = cJSON_GetObjectItem(c.doc, "metadata");
    cr_expect_eq(cJSON_GetObjectItem(meta, "key_count")->valuedouble, 24);
    cJSON *ft = cJSON_GetObjectItem(meta, "file_type");
    cr_expect_str_eq(cJSON_GetObjectItem(ft, "name")->valuestring, "Q4_K_M");
    cr_expect_str_eq(cJSON_GetObjectItem(c.keys, "general.description")->valuestring,
                     "bad\\xffname", "not UTF-8: escaped");
    cr_expect_str_eq(cJSON_GetObjectItem(c.keys, "general.c1")->valuestring, C1_CSI,
                     "UTF-8: exact (JSON escapes what it must)");
    cr_expect_eq(cJSON_GetObjectItem(c.keys, "llama.attention.layer_norm_rms_epsilon")->valuedouble,
                 1e-5);
    cr_expect(strstr(c.json, "\"llama.attention.layer_norm_rms_epsilon\":\t1e-05"), "%s", c.json);
    cJSON *small = cJSON_GetObjectItem(c.keys, "llama.small");
    cr_expect(cJSON_IsArray(small) && cJSON_GetArraySize(small) == 3);
    cr_expect_eq(cJSON_GetArrayItem(small, 0)->valuedouble, -1);
    cJSON *tok = cJSON_GetObjectItem(meta, "tokenizer");
    cr_expect_eq(cJSON_GetObjectItem(tok, "tokens")->valuedouble, 20);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(tok, "add_bos_token")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(tok, "add_eos_token")));
    cr_expect_eq(cJSON_GetObjectItem(tok, "chat_template_bytes")->valuedouble, 9);
    cJSON *ids = cJSON_GetObjectItem(tok, "special_token_ids");
    cr_expect_eq(cJSON_GetObjectItem(ids, "eot")->valuedouble, 9);
    cJSON *sums = cJSON_GetObjectItem(c.doc, "checksums");
    cr_expect_str_eq(cJSON_GetObjectItem(sums, "status")->valuestring, "not read");
    im_close(&c);
}

Test(inspect_meta, meta_lists_every_key_and_summarises_long_arrays)
{
    im_case c = im_open(99, (wk_inspect_opts){.meta = true});
    cr_assert(c.r->meta.all);
    cr_assert_eq(c.r->meta.n_shown, c.src->gguf->n_kv);
    cr_assert_eq(cJSON_GetArraySize(c.keys), (int)c.src->gguf->n_kv);
    const char *text = c.text;
    im_assert_printable(text);
    cr_expect(strstr(text, "Metadata      GGUF v3, alignment 32, all 24 keys\n"), "%s", text);
    cr_expect(strstr(text, "  general.file_type                        99 (unknown file type)\n"),
              "%s", text);
    cr_expect(strstr(text, "  other.key                                7\n"), "%s", text);
    cr_expect(strstr(text, "  tokenizer.chat_template                  A\\x1b[31mB\\x0aC\n"), "%s",
              text);
    cr_expect(strstr(text, "  tokenizer.ggml.tokens                    [str x 20: \"t0\", \"t1\", "
                           "\"t2\", \"t3\", \"t4\", ...]\n"), "%s", text);
    cr_expect(strstr(text, "  tokenizer.ggml.scores                    [f32 x 20: 0, 0.5, 1, 1.5, "
                           "2, ...]\n"), "%s", text);
    cr_expect(strstr(text, "  weightkit.tensor_xxh64                   [") != NULL, "%s", text);

    cr_expect_str_eq(cJSON_GetObjectItem(c.keys, "tokenizer.chat_template")->valuestring,
                     TEMPLATE);
    cJSON *tokens = cJSON_GetObjectItem(c.keys, "tokenizer.ggml.tokens");
    cr_expect_str_eq(cJSON_GetObjectItem(tokens, "type")->valuestring, "str");
    cr_expect_eq(cJSON_GetObjectItem(tokens, "count")->valuedouble, 20);
    cJSON *first = cJSON_GetObjectItem(tokens, "first");
    cr_expect_eq(cJSON_GetArraySize(first), 5);
    cr_expect_str_eq(cJSON_GetArrayItem(first, 4)->valuestring, "t4");
    cJSON *ft = cJSON_GetObjectItem(cJSON_GetObjectItem(c.doc, "metadata"), "file_type");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(ft, "name")));
    cr_expect_eq(cJSON_GetObjectItem(ft, "id")->valuedouble, 99);
    im_close(&c);
}

/* --stats reads every listed tensor, even an IQ2_XXS one it has no statistics for, to check its
 * checksum; --hist checks the one it reads. A flipped byte fails both, naming the tensor. */
Test(inspect_meta, checksums_checked_while_reading)
{
    im_case c = im_open(1, (wk_inspect_opts){.stats = true});
    cr_expect(c.r->checksums.applies && c.r->checksums.stored);
    cr_expect_eq(c.r->checksums.verified, 2);
    cr_expect(strstr(c.text, "Checksums     verified (xxh64, 2 of 2 tensors)\n"), "%s", c.text);
    cr_expect_str_eq(c.r->rows[1].note, "stats not available for type IQ2_XXS");
    uint64_t at = c.src->gguf->data_offset + c.src->gguf->tensors[0].offset + 6;
    char *path = strdup(c.path), *dir = strdup(c.dir);
    im_close(&c);
    /* im_close removed the directory: write the file again, then corrupt it */
    mkdir(dir, 0700);
    im_write(path, 1);
    gt_flip_byte(path, at, 0x01);
    wk_err e;
    wk_source *s;
    wk_inspect_report *r;
    OK(wk_source_open(path, NULL, &s, &e));
    wk_inspect_opts stats = {.stats = true}, hist = {.hist = "blk.0.attn_norm.weight"};
    wk_inspect_opts none = {0};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(wk_inspect_build(s, k ? &hist : &stats, &r, &e), -1);
        cr_expect(strstr(e.msg, "checksum mismatch in tensor 'blk.0.attn_norm.weight'") &&
                  strstr(e.msg, path) && strstr(e.msg, "corrupted"), "%s", e.msg);
    }
    OK(wk_inspect_build(s, &none, &r, &e)); /* headers only: nothing to check */
    cr_expect_eq(r->checksums.verified, 0);
    wk_inspect_free(r);
    wk_source_close(s);
    free(path);
    gt_rmdir(dir);
}

Test(inspect_meta, sources_without_metadata)
{
    wk_source *s = wk_source_new("pytorch", "x.bin");
    wk_inspect_report *r;
    wk_err e;
    OK(wk_inspect_build(s, &(wk_inspect_opts){.meta = true}, &r, &e));
    cr_expect_null(r->meta.format);
    cr_expect_not(r->checksums.applies);
    char *json = wk_inspect_json(r), *text = wk_inspect_text(r);
    cJSON *doc = cJSON_Parse(json);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(doc, "metadata")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(doc, "checksums")));
    cr_expect_not(strstr(text, "Metadata") || strstr(text, "Checksum"), "%s", text);
    cJSON_Delete(doc);
    free(json);
    free(text);
    wk_inspect_free(r);
    wk_source_free_common(s);
}
