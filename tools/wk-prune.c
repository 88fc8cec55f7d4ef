/* wk-prune: magnitude, N:M and Wanda pruning of a GGUF or a checkpoint. Options, the
 * cross-option checks and the printing live here; the pipeline is models/prune.c, the
 * report verify/prune/, the --verify comparison wk-verify's (verify/compare/). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "engine/calibrate.h"
#include "models/prune.h"
#include "verify/compare/compare.h"
#include "verify/compare/report.h"
#include "verify/prune/report.h"

typedef struct opts {
    wk_prune_opts p;
    const char *out, *method, *verify;
    double sparsity;          /* < 0: not given */
    bool nm_given, json, quiet;
    long threads, calib_tokens;
} opts;

static int parse_method(void *target, const char *v, wk_err *e)
{
    opts *o = target;
    for (int m = 0; m < 3; m++)
        if (strcmp(v, wk_prune_method_name((wk_prune_method)m)) == 0) {
            o->p.method = (wk_prune_method)m;
            o->method = v;
            return 0;
        }
    return wk_fail(e, "unknown --method '%s' (magnitude, nm, wanda)", v);
}

static int parse_scope(void *target, const char *v, wk_err *e)
{
    wk_prune_opts *o = target;
    for (int s = 0; s < 3; s++)
        if (strcmp(v, wk_prune_scope_name((wk_prune_scope)s)) == 0) {
            o->scope = (wk_prune_scope)s;
            return 0;
        }
    return wk_fail(e, "unknown --scope '%s' (row, tensor, global)", v);
}

static int parse_sparsity(void *target, const char *v, wk_err *e)
{
    char *end;
    double s = strtod(v, &end);
    if (end == v || *end || !(s >= 0 && s < 1))
        return wk_fail(e, "--sparsity wants a number in [0, 1), not '%s'", v);
    *(double *)target = s;
    return 0;
}

static int parse_nm(void *target, const char *v, wk_err *e)
{
    opts *o = target;
    unsigned n, m;
    int used = 0;
    if (sscanf(v, "%u:%u%n", &n, &m, &used) != 2 || v[used] || m > 4096)
        return wk_fail(e, "--nm wants N:M such as 2:4 (M at most 4096), not '%s'", v);
    if (n < 1 || n >= m)
        return wk_fail(e, "--nm %s: N:M wants 1 <= N < M (keep N of every M)", v);
    o->p.nm_n = n;
    o->p.nm_m = m;
    o->nm_given = true;
    return 0;
}

static int add_only(void *target, const char *v, wk_err *e)
{
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (c != WK_CAT_OTHER && strcmp(v, wk_category_name((wk_category)c)) == 0) {
            *(unsigned *)target |= 1u << c;
            return 0;
        }
    return wk_fail(e, "unknown --only '%s' (embedding, attention, feedforward, norm, bias, "
                      "output)", v);
}

static int parse_format(void *target, const char *v, wk_err *e)
{
    if (strcmp(v, "gguf") != 0 && strcmp(v, "safetensors") != 0)
        return wk_fail(e, "unknown --format '%s' (gguf, safetensors)", v);
    *(bool *)target = strcmp(v, "safetensors") == 0;
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The checks between options; a message for a usage error, or NULL. */
static const char *cross_check(opts *o, wk_err *e)
{
    wk_prune_opts *p = &o->p;
    if (!o->method)
        return "--method is required (magnitude, nm or wanda)";
    if (p->method == WK_PRUNE_MAGNITUDE && o->nm_given)
        p->method = WK_PRUNE_NM; /* magnitude scores, N:M pattern: the same thing */
    if (p->method == WK_PRUNE_NM && !o->nm_given) {
        p->nm_n = 2;
        p->nm_m = 4;
    }
    if (p->nm_m && o->sparsity >= 0)
        return "--sparsity does not apply to N:M pruning (its sparsity is 1 - N/M)";
    p->sparsity = o->sparsity >= 0 ? o->sparsity : p->nm_m ? 0 : 0.5;
    if ((p->calib_path || o->calib_tokens) && p->method != WK_PRUNE_WANDA)
        return "--calib and --calib-tokens are for --method wanda";
    if (p->method == WK_PRUNE_WANDA && !p->calib_path)
        return "--method wanda needs --calib FILE (a calibration text)";
    p->calib_tokens = o->calib_tokens ? (uint64_t)o->calib_tokens : 16 * 512;
    if (wk_prune_check_opts(p, e) != 0)
        return e->msg;
    return NULL;
}

/* --verify: wk-verify's comparison of OUT against IN on the text, appended to the report. */
static int verify(const char *in, const char *out, const char *text, size_t len,
                  const char *text_name, bool json, char **verify_json, wk_err *e)
{
    wk_verify_input ref = {0}, cand = {0};
    wk_compare_result r = {0};
    wk_compare_opts co = {.text_name = text_name};
    int rc = wk_verify_input_open(in, &ref, e) || wk_verify_input_open(out, &cand, e) ||
             wk_compare(&ref, NULL, &cand, 1, text, len, &co, &r, e) ? -1 : 0;
    if (rc == 0) {
        wk_verify_report v = {.ref = &ref, .cands = &cand, .r = &r, .text_name = text_name};
        if (json && !(*verify_json = wk_verify_json(&v)))
            rc = wk_fail(e, "out of memory for the report");
        if (!json) {
            printf("\nAgainst the input (wk-verify, %s):\n", text_name);
            wk_verify_print_text(stdout, &v);
        }
    }
    wk_compare_result_free(&r);
    wk_verify_input_close(&cand);
    wk_verify_input_close(&ref);
    return rc;
}

static int prune(const wk_tool *tool, opts *o, const char *in)
{
    wk_err e;
    char *text = NULL, *verify_json = NULL, *shown;
    size_t len = 0;
    if (o->verify && wk_read_small_file(o->verify, (size_t)1 << 30, &text, &len, &e) != 0)
        return wk_cli_error(tool, &e);
    wk_progress pg;
    wk_progress_init(&pg, "wk-prune", o->quiet || o->json);
    wk_warnings warnings = {0};
    o->p.progress = &pg;
    o->p.warnings = &warnings;
    wk_prune_report *report;
    int rc = wk_prune(in, o->out, &o->p, &report, &e);
    wk_cli_warnings(tool, &warnings);
    wk_warnings_free(&warnings);
    if (rc != 0) {
        free(text);
        return wk_cli_error(tool, &e);
    }
    if (!o->json && (shown = wk_prune_report_text(report)) != NULL) {
        fputs(shown, stdout);
        free(shown);
    }
    rc = o->verify ? verify(in, o->out, text, len, o->verify, o->json, &verify_json, &e) : 0;
    if (rc == 0 && o->json) {
        if ((shown = wk_prune_report_json(report, verify_json)) != NULL)
            puts(shown);
        else
            rc = wk_fail(&e, "out of memory rendering the report");
        free(shown);
    }
    free(verify_json);
    free(text);
    wk_prune_report_free(report);
    return rc ? wk_cli_error(tool, &e) : WK_EXIT_OK;
}

/* Wanda's calibration by the engine (engine/calibrate.h) on IN itself, a checkpoint being
 * converted for the run as wk-verify does: --calib-tokens tokens of the text, in sequences
 * of 512 tokens (the Wanda paper's 128 x 2048 scaled to our models) or the training context
 * when shorter. */
typedef struct wanda {
    wk_verify_input model;
    wk_calib *calib;
    wk_prune_calib provider;
} wanda;

static int wanda_open(wanda *w, const char *in, const wk_prune_opts *p, wk_err *e)
{
    char *text;
    size_t len;
    if (wk_read_small_file(p->calib_path, (size_t)1 << 30, &text, &len, e) != 0)
        return -1;
    int rc = wk_verify_input_open(in, &w->model, e);
    if (rc == 0) {
        uint32_t seq = w->model.model->info.n_ctx_train;
        seq = seq && seq < 512 ? seq : 512;
        if (p->calib_tokens % seq != 0)
            rc = wk_fail(e, "--calib-tokens %llu: calibration runs in sequences of %u tokens; "
                            "give a multiple of %u", (unsigned long long)p->calib_tokens, seq,
                         seq);
        else if (wk_calib_open(w->model.model, text, len, p->calib_tokens, seq, &w->calib,
                               e) != 0)
            rc = wk_fail_prefix(e, "%s", p->calib_path);
    }
    free(text);
    w->provider = (wk_prune_calib){.layer_norms = wk_calib_layer_norms,
                                   .pruned = wk_calib_pruned, .ctx = w->calib};
    return rc;
}

static void wanda_close(wanda *w)
{
    wk_calib_free(w->calib);
    if (w->model.model)
        wk_verify_input_close(&w->model);
}

int main(int argc, char **argv)
{
    wk_cli_passive_openmp(argv);
    opts o = {.sparsity = -1};
    const wk_option options[] = {
        WK_OPT_STRING("output", 'o', "OUT", &o.out,
                      "the pruned model: a GGUF file, or with --format safetensors a new "
                      "Hugging Face directory"),
        WK_OPT_CALL("method", 0, "METHOD", parse_method, &o,
                    "magnitude (smallest |w|), nm (N:M by |w|) or wanda (|w| times the norm "
                    "of its input column over a calibration text)"),
        WK_OPT_CALL("sparsity", 0, "S", parse_sparsity, &o.sparsity,
                    "the share of weights zeroed, in [0, 1) (default 0.5)"),
        WK_OPT_CALL("nm", 0, "N:M", parse_nm, &o,
                    "keep N of every M consecutive weights of a row (default 2:4 for --method "
                    "nm; with --method wanda, Wanda's scores in that pattern)"),
        WK_OPT_CALL("scope", 0, "SCOPE", parse_scope, &o.p,
                    "row (default: each row loses the same share), tensor or global (one "
                    "threshold on |w| for the tensor or the whole model; magnitude only)"),
        WK_OPT_CALL("only", 0, "CATEGORY", add_only, &o.p.categories,
                    "prune this category instead of the default attention and feedforward "
                    "(embedding, attention, feedforward, norm, bias, output); repeatable"),
        WK_OPT_STRING("calib", 0, "FILE", &o.p.calib_path,
                      "Wanda: the calibration text (use another text than the one you "
                      "evaluate on)"),
        WK_OPT_LONG("calib-tokens", 0, "T", &o.calib_tokens, 1, 1L << 30,
                    "Wanda: calibration tokens (default 8192, 16 x 512)"),
        WK_OPT_CALL("format", 0, "FORMAT", parse_format, &o.p.safetensors,
                    "gguf (default) or safetensors (a Hugging Face directory with the same "
                    "tensor names, config and tokenizer files; from a checkpoint only)"),
        WK_OPT_STRING("verify", 0, "TEXT", &o.verify,
                      "then compare OUT with IN on the text in file TEXT as wk-verify does "
                      "(perplexity, KL divergence, top-1) and add its table to the report"),
        WK_OPT_STRING("key", 0, "KEY", &o.p.state_dict_key,
                      "PyTorch checkpoints: the entry of a wrapping dict that holds the state "
                      "dict"),
        WK_OPT_FLAG("json", 0, &o.json, "print the report as one JSON document "
                                        "(docs/wk-prune.md)"),
        WK_OPT_LONG("threads", 't', "N", &o.threads, 1, 1024, "threads (default: all cores)"),
        WK_OPT_FLAG("quiet", 'q', &o.quiet, "no progress line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-prune",
        .synopsis = "IN -o OUT --method magnitude|nm|wanda [--sparsity S] [--nm N:M] "
                    "[--scope row|tensor|global] [--only CATEGORY ...] [--calib FILE "
                    "--calib-tokens T] [--format gguf|safetensors] [--verify TEXT] [--json]",
        .about = "Zeroes the weights that matter least. IN is a GGUF (F32, F16 or BF16: prune "
                 "before quantizing) or a Hugging Face checkpoint directory. By default the "
                 "attention and feed-forward matrices are pruned, each row losing the same "
                 "share; kept weights are bit-identical and every tensor keeps its type, so "
                 "the GGUF runs in llama.cpp and can be quantized by wk-quantize. The report "
                 "gives the sparsity achieved per tensor, per category and overall.",
        .options = options,
        .notes = "Methods, their math and the report: docs/wk-prune.md.",
        .exit_status = "0 pruned, 1 bad input (nothing written), 2 usage error.",
        .operand = "IN",
        .min_operands = 1,
        .max_operands = 1,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    wk_err e;
    const char *bad = cross_check(&o, &e);
    if (bad)
        return wk_cli_usage_error(&tool, "%s", bad);
    if (!o.out || !o.out[0] || !args[0][0])
        return wk_cli_usage_error(&tool, "give IN and -o OUT");
    if (same_file(args[0], o.out))
        return wk_cli_usage_error(&tool, "%s: the output would replace the input", o.out);
    if (o.threads)
        omp_set_num_threads((int)o.threads);

    if (o.p.method != WK_PRUNE_WANDA)
        return prune(&tool, &o, args[0]);
    wanda w = {0};
    if (wanda_open(&w, args[0], &o.p, &e) != 0) {
        wanda_close(&w);
        return wk_cli_error(&tool, &e);
    }
    o.p.calib = &w.provider;
    rc = prune(&tool, &o, args[0]);
    wanda_close(&w);
    return rc;
    return prune(&tool, &o, args[0]);
}
