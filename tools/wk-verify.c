/* wk-verify: does a quantized or pruned model still behave like the original? Options,
 * gates and printing live here; the comparison is verify/compare/. */
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
#include "verify/compare/integrity.h"
#include "verify/compare/report.h"

typedef struct opts {
    const char *text_file, *save_ref, *integrity;
    long ctx, chunks, threads;
    bool json, quiet;
    double max_kld, min_top1, max_ppl_ratio; /* < 0: no gate */
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
                 : wk_verify_input_open(args[0], &ref, &e) != 0)
        goto fail;
    for (n = 0; n < n_args - 1; n++)
        if (wk_verify_input_open(args[n + 1], &cands[n], &e) != 0)
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

int main(int argc, char **argv)
{
    opts o = {.max_kld = -1, .min_top1 = -1, .max_ppl_ratio = -1};
    const wk_option options[] = {
        WK_OPT_STRING("text", 0, "FILE", &o.text_file,
                      "score on FILE's text (default: a built-in text of simple English "
                      "stories, about 5000 tokens)"),
        WK_OPT_LONG("ctx", 'c', "N", &o.ctx, 4, 1L << 20,
                    "tokens per chunk (default 512, or the training context if shorter)"),
        WK_OPT_LONG("chunks", 0, "K", &o.chunks, 1, 1L << 30,
                    "score only the first K chunks (default: all)"),
        WK_OPT_LONG("threads", 't', "N", &o.threads, 1, 1024, "threads (default: all cores)"),
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
        WK_OPT_FLAG("json", 0, &o.json, "the report as one JSON document"),
        WK_OPT_FLAG("quiet", 'q', &o.quiet, "no progress line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-verify",
        .synopsis = "REFERENCE CANDIDATE [CANDIDATE ...] [--text FILE] [--ctx N] [--chunks K] "
                    "[--json] [gates]\n       wk-verify --integrity MODEL.gguf",
        .about = "Runs the reference and every candidate on the same chunks of a text and "
                 "reports, per candidate, perplexity (with its standard error, the difference "
                 "and the ratio to the reference's), the KL divergence of its next-token "
                 "distributions from the reference's (mean, median, p90, p99, max), top-1 "
                 "agreement, top-5 overlap, the RMS difference of the probability of the "
                 "right token, file size and bits per weight. Models are GGUF files or "
                 "Hugging Face checkpoint directories (converted for the run). Chunks as "
                 "llama-perplexity cuts them: BOS first, the second half of each scored.",
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
