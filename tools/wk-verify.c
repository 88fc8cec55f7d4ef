/* wk-verify: does a quantized or pruned model still behave like the original? Options,
 * gates and printing live here; the comparison is verify/compare/. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "verify/compare/compare.h"
#include "verify/compare/default_text.h"
#include "verify/compare/golden.h"
#include "verify/compare/integrity.h"
#include "verify/compare/report.h"

typedef struct opts {
    const char *text_file, *save_ref, *integrity;
    const char *golden, *record, *prompts;
    long ctx, chunks, threads, n_predict;
    bool json, quiet;
    double max_kld, min_top1, max_ppl_ratio, golden_min; /* < 0: no gate */
    wk_device device;
} opts;

static void progress(void *ctx, const wk_compare_progress *p)
{
    wk_progress *bar = ctx;
    if (!bar->total_items)
        wk_progress_begin(bar, p->n_chunks, 0);
    char name[96];
    snprintf(name, sizeof name, "%.0f tokens/s  PPL %.4f  KLD %.6f", p->tokens_per_s, p->ppl,
             p->kld);
    wk_progress_step(bar, p->chunk - 1, name, 0);
}

/* Every gate against every candidate: 0 when all hold, else 1 with each failure on stderr. */
static int gates(const opts *o, const wk_verify_input *cands, const wk_compare_result *r)
{
    int failed = 0;
    for (size_t k = 0; k < r->n; k++) {
        const wk_score *s = &r->scores[k];
        if (o->max_kld >= 0 && !(s->kld.value <= o->max_kld))
            failed = fprintf(stderr, "wk-verify: gate: %s: KLD mean %.6f > --max-kld %g\n",
                             cands[k].path, s->kld.value, o->max_kld) > 0;
        if (o->min_top1 >= 0 && !(100 * s->top1 >= o->min_top1))
            failed = fprintf(stderr, "wk-verify: gate: %s: top-1 agreement %.2f %% < --min-top1 "
                                     "%g %%\n", cands[k].path, 100 * s->top1, o->min_top1) > 0;
        if (o->max_ppl_ratio >= 0 && !(s->ppl_ratio.value <= o->max_ppl_ratio))
            failed = fprintf(stderr, "wk-verify: gate: %s: PPL ratio %.4f > --max-ppl-ratio %g\n",
                             cands[k].path, s->ppl_ratio.value, o->max_ppl_ratio) > 0;
    }
    return failed ? WK_EXIT_BAD_INPUT : WK_EXIT_OK;
}

/* --integrity: every tensor against its checksum; each one that differs on stderr. */
static int integrity(const wk_tool *tool, const char *path)
{
    wk_err e;
    wk_integrity r;
    if (wk_integrity_run(path, &r, &e) != 0)
        return wk_cli_error(tool, &e);
    int rc = WK_EXIT_OK;
    if (r.state == WK_GGUF_SUMS_NONE)
        printf("%s: no checksums stored (weightkit.tensor_xxh64), so it cannot be verified; "
               "files from llama.cpp's tools have none\n", path);
    else if (r.state == WK_GGUF_SUMS_STALE)
        printf("%s: stale checksums (another tool rewrote the tensors and copied weightkit's "
               "keys), so it cannot be verified\n", path);
    else {
        for (size_t i = 0; i < r.n_bad; i++)
            fprintf(stderr, "wk-verify: %s\n", r.bad[i]);
        printf("%s: %zu of %zu tensors match their xxh64 checksums%s\n", path, r.n_matched,
               r.n_tensors, r.n_bad ? "; the file is corrupted" : "");
        rc = r.n_bad ? WK_EXIT_BAD_INPUT : WK_EXIT_OK;
    }
    wk_integrity_free(&r);
    return rc;
}

static int report(const opts *o, const wk_verify_report *v)
{
    if (!o->json) {
        wk_verify_print_text(stdout, v);
        return 0;
    }
    char *s = wk_verify_json(v);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* Opens every model (or the saved reference), compares, reports, applies the gates. */
static int verify(const wk_tool *tool, const opts *o, char **args, int n_args)
{
    wk_err e;
    wk_verify_input ref = {0}, *cands = calloc((size_t)n_args, sizeof *cands);
    wk_ref_store saved = {0};
    wk_compare_result r = {0};
    char *text = NULL;
    size_t len = 0;
    int rc = WK_EXIT_BAD_INPUT, n = 0;
    bool is_saved = wk_ref_store_is(args[0]);
    if (!cands) {
        wk_fail(&e, "out of memory");
        goto fail;
    }
    if (is_saved ? wk_ref_store_load(args[0], &saved, &e) != 0
                 : wk_verify_input_open_on(args[0], o->device, &ref, &e) != 0)
        goto fail;
    for (n = 0; n < n_args - 1; n++)
        if (wk_verify_input_open_on(args[n + 1], o->device, &cands[n], &e) != 0)
            goto fail;
    if (o->text_file) {
        if (wk_read_small_file(o->text_file, (size_t)1 << 30, &text, &len, &e) != 0)
            goto fail;
    } else if (!is_saved) {
        text = strdup(wk_default_eval_text);
        len = text ? strlen(text) : 0;
    }
    wk_progress bar;
    wk_progress_init(&bar, "scoring", o->quiet || o->json);
    const char *text_name = is_saved ? saved.text
                            : o->text_file ? o->text_file : "built-in evaluation text";
    wk_compare_opts co = {.n_ctx = (uint32_t)o->ctx, .max_chunks = (uint32_t)o->chunks,
                          .save_ref = o->save_ref, .text_name = text_name,
                          .progress = progress, .progress_ctx = &bar};
    if (is_saved && o->text_file && !o->quiet)
        wk_cli_warn(tool, "%s is a saved reference: its own chunks are scored, not %s",
                    args[0], o->text_file);
    int cmp = wk_compare(is_saved ? NULL : &ref, is_saved ? &saved : NULL, cands,
                         (size_t)n, text, len, &co, &r, &e);
    wk_progress_end(&bar);
    if (cmp != 0)
        goto fail;
    wk_verify_report v = {.ref = is_saved ? NULL : &ref, .saved = is_saved ? &saved : NULL,
                          .cands = cands, .r = &r, .text_name = text_name};
    if (report(o, &v) != 0) {
        wk_fail(&e, "out of memory for the report");
        goto fail;
    }
    if (o->save_ref && !o->quiet && !o->json)
        fprintf(stderr, "wk-verify: saved the reference's figures to %s\n", o->save_ref);
    rc = gates(o, cands, &r);
    goto done;
fail:
    rc = wk_cli_error(tool, &e);
done:
    wk_compare_result_free(&r);
    for (int k = 0; k < n; k++)
        wk_verify_input_close(&cands[k]);
    free(cands);
    wk_verify_input_close(&ref);
    wk_ref_store_free(&saved);
    free(text);
    return rc;
}

/* ---- golden sets (--record, --golden) ---- */

/* --record: the reference continues every prompt; the golden file gets one line each. */
static int record(const wk_tool *tool, const opts *o, const char *path)
{
    wk_err e;
    wk_golden g;
    wk_verify_input ref = {0};
    long n_predict = o->n_predict ? o->n_predict : 32;
    if (wk_golden_load_prompts(o->prompts, &g, &e) != 0)
        return wk_cli_error(tool, &e);
    int rc = WK_EXIT_OK;
    if (wk_verify_input_open_on(path, o->device, &ref, &e) != 0 ||
        wk_golden_record(ref.model, (uint32_t)o->ctx, (int)n_predict, &g, &e) != 0 ||
        wk_golden_save(&g, o->record, &e) != 0) {
        rc = wk_cli_error(tool, &e);
    } else {
        size_t tokens = 0;
        for (size_t i = 0; i < g.n; i++)
            tokens += g.items[i].n_tokens;
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "record", o->record);
            cJSON_AddStringToObject(j, "reference", path);
            cJSON_AddNumberToObject(j, "prompts", (double)g.n);
            cJSON_AddNumberToObject(j, "tokens", (double)tokens);
            char *text = cJSON_Print(j);
            if (text)
                puts(text);
            free(text);
            cJSON_Delete(j);
        } else
            printf("%s: %zu prompts, %zu tokens from %s (greedy, at most %ld each)\n",
                   o->record, g.n, tokens, path, n_predict);
    }
    wk_verify_input_close(&ref);
    wk_golden_free(&g);
    return rc;
}

/* A token's text for the report: its piece (control tokens' text included). */
static const char *piece(const wk_vocab *v, wk_token id, size_t *len)
{
    const char *p = id == WK_TOKEN_NULL ? NULL : wk_token_piece(v, id, true, len);
    if (!p)
        *len = 0;
    return p ? p : "";
}

static double percent(size_t passed, size_t n)
{
    return n ? 100.0 * (double)passed / (double)n : 100.0;
}

static void golden_text(const wk_golden *g, const wk_verify_input *m, const wk_vocab *v,
                        const wk_golden_result *r, size_t passed)
{
    printf("%s against %s (%zu prompts):\n  line  matched     result  prompt\n", m->path,
           g->path, g->n);
    for (size_t i = 0; i < g->n; i++) {
        const wk_golden_item *it = &g->items[i];
        char count[48], need[32] = "";
        snprintf(count, sizeof count, "%u/%u", r[i].matched, r[i].n_expected);
        if (r[i].need < r[i].n_expected)
            snprintf(need, sizeof need, " (needs %u)", r[i].need);
        char *p = wk_golden_show(it->prompt, strlen(it->prompt), 32);
        printf("  %4u  %-10s  %-6s  %s%s", it->line, count, r[i].pass ? "pass" : "FAIL",
               p ? p : "", need);
        free(p);
        if (r[i].matched < r[i].n_expected) {
            size_t lw, lg;
            const char *w = piece(v, r[i].want, &lw), *gt = piece(v, r[i].got, &lg);
            char *sw = wk_golden_show(w, lw, 64), *sg = wk_golden_show(gt, lg, 64);
            printf("; token %u: expected %s, got %s", r[i].matched + 1, sw ? sw : "",
                   sg ? sg : "");
            free(sw);
            free(sg);
        }
        putchar('\n');
    }
    printf("%s: %zu of %zu prompts pass (%.2f %%)\n\n", m->path, passed, g->n,
           percent(passed, g->n));
}

/* {"id": N, "text": "..."} for a token. */
static cJSON *token_json(const wk_vocab *v, wk_token id)
{
    size_t len;
    const char *p = piece(v, id, &len);
    char *t = wk_golden_utf8(p, len);
    cJSON *o = cJSON_CreateObject();
    if (o && t) {
        cJSON_AddNumberToObject(o, "id", id);
        cJSON_AddStringToObject(o, "text", t);
    }
    free(t);
    return o;
}

static cJSON *golden_model_json(const wk_golden *g, const wk_verify_input *m,
                                const wk_vocab *v, const wk_golden_result *r, size_t passed)
{
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", m->path);
    cJSON_AddNumberToObject(o, "prompts", (double)g->n);
    cJSON_AddNumberToObject(o, "passed", (double)passed);
    cJSON_AddNumberToObject(o, "percent", percent(passed, g->n));
    cJSON_AddItemToObject(o, "results", rows);
    for (size_t i = 0; i < g->n; i++) {
        cJSON *x = cJSON_CreateObject();
        char *p = wk_golden_utf8(g->items[i].prompt, strlen(g->items[i].prompt));
        cJSON_AddNumberToObject(x, "line", g->items[i].line);
        cJSON_AddStringToObject(x, "prompt", p ? p : "");
        free(p);
        cJSON_AddNumberToObject(x, "prompt_tokens", r[i].n_prompt);
        cJSON_AddNumberToObject(x, "expected_tokens", r[i].n_expected);
        cJSON_AddNumberToObject(x, "min_match", r[i].need);
        cJSON_AddNumberToObject(x, "matched", r[i].matched);
        cJSON_AddBoolToObject(x, "pass", r[i].pass);
        if (r[i].matched < r[i].n_expected) {
            cJSON *d = cJSON_AddObjectToObject(x, "divergence");
            cJSON_AddNumberToObject(d, "index", r[i].matched);
            cJSON_AddItemToObject(d, "expected", token_json(v, r[i].want));
            cJSON_AddItemToObject(d, "got", token_json(v, r[i].got));
        } else {
            cJSON_AddNullToObject(x, "divergence");
        }
        cJSON_AddItemToArray(rows, x);
    }
    return o;
}

/* --golden: every model checked against every line, reported, then the gate. */
static int golden(const wk_tool *tool, const opts *o, char **args, int n_args)
{
    wk_err e;
    wk_golden g;
    if (wk_golden_load(o->golden, &g, &e) != 0)
        return wk_cli_error(tool, &e);
    wk_verify_input *m = calloc((size_t)n_args, sizeof *m);
    wk_golden_result *r = calloc((size_t)n_args * g.n, sizeof *r);
    size_t *passed = calloc((size_t)n_args, sizeof *passed);
    int rc = WK_EXIT_BAD_INPUT, n = 0;
    double min = o->golden_min >= 0 ? o->golden_min : 100;
    if (!m || !r || !passed) {
        wk_fail(&e, "out of memory");
        goto fail;
    }
    for (n = 0; n < n_args; n++)
        if (wk_verify_input_open_on(args[n], o->device, &m[n], &e) != 0 ||
            !wk_model_vocab(m[n].model, &e) ||
            wk_golden_check(&g, m[n].model, (uint32_t)o->ctx, r + (size_t)n * g.n, &e) != 0) {
            n++;
            goto fail;
        }
    cJSON *doc = o->json ? cJSON_CreateObject() : NULL, *models = cJSON_CreateArray();
    for (int k = 0; k < n; k++) {
        const wk_golden_result *rk = r + (size_t)k * g.n;
        for (size_t i = 0; i < g.n; i++)
            passed[k] += rk[i].pass;
        if (o->json)
            cJSON_AddItemToArray(models, golden_model_json(&g, &m[k], m[k].model->vocab, rk,
                                                           passed[k]));
        else
            golden_text(&g, &m[k], m[k].model->vocab, rk, passed[k]);
    }
    if (doc) {
        cJSON_AddStringToObject(doc, "golden", o->golden);
        cJSON_AddNumberToObject(doc, "golden_min", min);
        cJSON_AddItemToObject(doc, "models", models);
        char *s = cJSON_Print(doc);
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(doc);
    } else {
        cJSON_Delete(models);
    }
    rc = WK_EXIT_OK;
    for (int k = 0; k < n; k++)
        if (percent(passed[k], g.n) < min)
            rc = fprintf(stderr, "wk-verify: gate: %s: %zu of %zu golden prompts pass (%.2f %%) "
                                 "< --golden-min %g %%\n", m[k].path, passed[k], g.n,
                         percent(passed[k], g.n), min) > 0 ? WK_EXIT_BAD_INPUT : rc;
    goto done;
fail:
    rc = wk_cli_error(tool, &e);
done:
    for (int k = 0; k < n; k++)
        wk_verify_input_close(&m[k]);
    free(m);
    free(r);
    free(passed);
    wk_golden_free(&g);
    return rc;
}

/* Options that do not go together with --record or --golden; NULL when all is well. */
static const char *golden_usage(const opts *o, int n_args)
{
    if (o->prompts && !o->record)
        return "--prompts goes with --record";
    if (o->n_predict && !o->record)
        return "-n / --n-predict goes with --record";
    if (o->golden_min >= 0 && !o->golden)
        return "--golden-min goes with --golden";
    if (!o->record && !o->golden)
        return NULL;
    if (o->record && o->golden)
        return "--record and --golden are separate runs";
    if (o->text_file || o->chunks || o->save_ref || o->integrity || o->max_kld >= 0 ||
        o->min_top1 >= 0 || o->max_ppl_ratio >= 0)
        return "--text, --chunks, --save-ref, --integrity and the comparison's gates do not "
               "apply to --record or --golden";
    if (o->record && !o->prompts)
        return "--record needs --prompts FILE";
    if (o->record && n_args != 1)
        return "--record takes the reference alone";
    if (o->golden && n_args < 1)
        return "--golden needs at least one MODEL";
    return NULL;
}

int main(int argc, char **argv)
{
    opts o = {.max_kld = -1, .min_top1 = -1, .max_ppl_ratio = -1, .golden_min = -1};
    const wk_option options[] = {
        WK_OPT_STRING("text", 0, "FILE", &o.text_file,
                      "score on FILE's text (default: a built-in text of simple English "
                      "stories, about 5000 tokens)"),
        WK_OPT_LONG("ctx", 'c', "N", &o.ctx, 4, 1L << 20,
                    "tokens per chunk (default 512, or the training context if shorter); "
                    "with --record and --golden, the context (default: the training "
                    "context)"),
        WK_OPT_LONG("chunks", 0, "K", &o.chunks, 1, 1L << 30,
                    "score only the first K chunks (default: all)"),
        WK_OPT_LONG("threads", 't', "N", &o.threads, 1, 1024, "threads (default: all cores)"),
        WK_OPT_CALL("device", 0, "DEV", wk_device_option, &o.device,
                    "where the models run: cpu (default) or cuda (the first NVIDIA GPU, "
                    "every model on it; needs a build made with make CUDA=1)"),
        WK_OPT_STRING("save-ref", 0, "FILE", &o.save_ref,
                      "also save the reference's figures to FILE; give FILE as REFERENCE "
                      "later to score candidates without the reference model"),
        WK_OPT_DOUBLE("max-kld", 0, "X", &o.max_kld, 0, 1e9,
                      "gate: exit 1 when a candidate's mean KLD exceeds X"),
        WK_OPT_DOUBLE("min-top1", 0, "P", &o.min_top1, 0, 100,
                      "gate: exit 1 when a candidate's top-1 agreement is below P percent"),
        WK_OPT_DOUBLE("max-ppl-ratio", 0, "R", &o.max_ppl_ratio, 0, 1e9,
                      "gate: exit 1 when a candidate's perplexity exceeds R times the "
                      "reference's"),
        WK_OPT_STRING("integrity", 0, "MODEL.gguf", &o.integrity,
                      "only check MODEL's tensors against its stored xxh64 checksums, naming "
                      "every tensor that differs (exit 1)"),
        WK_OPT_STRING("golden", 0, "FILE", &o.golden,
                      "check every MODEL against the golden set FILE (JSONL: prompts with "
                      "expected continuations, see --record): per prompt, how many expected "
                      "tokens the model's greedy choice matches before it first diverges"),
        WK_OPT_DOUBLE("golden-min", 0, "P", &o.golden_min, 0, 100,
                      "gate for --golden: exit 1 when fewer than P percent of a model's "
                      "prompts pass (default 100)"),
        WK_OPT_STRING("record", 0, "OUT.jsonl", &o.record,
                      "write a golden set to OUT.jsonl: the one MODEL (the reference) "
                      "continues each prompt of --prompts greedily"),
        WK_OPT_STRING("prompts", 0, "FILE", &o.prompts,
                      "with --record: the prompts, one per line (or JSONL with \"prompt\")"),
        WK_OPT_LONG("n-predict", 'n', "N", &o.n_predict, 1, 1L << 20,
                    "with --record: tokens to generate per prompt (default 32; fewer where "
                    "the reference ends the text)"),
        WK_OPT_FLAG("json", 0, &o.json, "the report as one JSON document"),
        WK_OPT_FLAG("quiet", 'q', &o.quiet, "no progress line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-verify",
        .synopsis = "REFERENCE CANDIDATE [CANDIDATE ...] [--text FILE] [--ctx N] [--chunks K] "
                    "[--json] [gates]\n       wk-verify --record OUT.jsonl --prompts FILE [-n N] REFERENCE"
                    "\n       wk-verify --golden FILE MODEL [MODEL ...] [--golden-min P] "
                    "[--json]\n       wk-verify --integrity MODEL.gguf",
        .about = "Runs the reference and every candidate on the same chunks of a text and "
                 "reports, per candidate, perplexity (with its standard error, the difference "
                 "and the ratio to the reference's), the KL divergence of its next-token "
                 "distributions from the reference's (mean, median, p90, p99, max), top-1 "
                 "agreement, top-5 overlap, the RMS difference of the probability of the "
                 "right token, file size and bits per weight. Models are GGUF files or "
                 "Hugging Face checkpoint directories (converted for the run). Chunks as "
                 "llama-perplexity cuts them: BOS first, the second half of each scored.\n\n"
                 "Golden sets: --record writes the reference's greedy continuation of every "
                 "prompt (text and token ids) as JSONL; --golden checks models against it, "
                 "one teacher-forced pass per prompt, reporting how many expected tokens "
                 "each model's greedy choice matches before it first diverges, and what it "
                 "chose there.",
        .options = options,
        .operand = "MODEL",
        .min_operands = 0,
        .max_operands = 64,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (o.threads)
        omp_set_num_threads((int)o.threads);
    const char *bad = golden_usage(&o, n_args);
    if (bad)
        return wk_cli_usage_error(&tool, "%s", bad);
    if (o.record)
        return record(&tool, &o, args[0]);
    if (o.golden)
        return golden(&tool, &o, args, n_args);
    if (o.integrity) {
        if (n_args)
            return wk_cli_usage_error(&tool, "--integrity takes its one model, no operands");
        return integrity(&tool, o.integrity);
    }
    if (n_args < 1 || (n_args < 2 && !o.save_ref))
        return wk_cli_usage_error(&tool, "give a reference and at least one candidate (or "
                                         "--save-ref FILE with the reference alone)");
    return verify(&tool, &o, args, n_args);
}
