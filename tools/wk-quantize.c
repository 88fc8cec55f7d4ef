/* wk-quantize: a GGUF or a Hugging Face checkpoint -> a quantized GGUF. Options and the
 * printing live here; the pipeline is models/quantize.c, the report verify/quantize/. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cli.h"
#include "common/progress.h"
#include "models/quantize.h"
#include "verify/quantize/report.h"

#define MAX_RULES 64

typedef struct rules {
    wk_quant_override overrides[MAX_RULES];
    size_t n_overrides;
    const char *keep[MAX_RULES];
    size_t n_keep;
} rules;

/* Every name wk-quantize accepts, for "unknown type" messages. */
static void valid_names(char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "recipes:");
    for (size_t i = 0; wk_recipes[i]; i++)
        k += (size_t)snprintf(buf + k, k < len ? len - k : 0, " %s", wk_recipes[i]->name);
    k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "; types:");
    for (int t = 0; t < WK_DTYPE_COUNT; t++) {
        const wk_type_traits *tt = wk_type((wk_dtype)t);
        if ((tt->quantize && t != WK_Q8_1 && t != WK_Q8_K) || t == WK_F32 || t == WK_F16 ||
            t == WK_BF16)
            k += (size_t)snprintf(buf + k, k < len ? len - k : 0, " %s", tt->name);
    }
}

/* A tensor type wk-quantize can write. */
static int parse_type(const char *s, wk_dtype *t, wk_err *e)
{
    char names[512];
    if (wk_type_from_name(s, t) == 0 && wk_type(*t)->from_float && wk_type(*t)->ggml_id >= 0 &&
        *t != WK_Q8_1 && *t != WK_Q8_K)
        return 0;
    valid_names(names, sizeof names);
    return wk_fail(e, "unknown tensor type '%s' (%s)", s, strstr(names, "types:") + 7);
}

static int parse_type_opt(void *target, const char *value, wk_err *e)
{
    wk_dtype t;
    if (parse_type(value, &t, e) != 0)
        return -1;
    *(int *)target = (int)t;
    return 0;
}

static int add_override(void *target, const char *value, wk_err *e)
{
    rules *r = target;
    const char *eq = strrchr(value, '=');
    if (!eq || eq == value)
        return wk_fail(e, "--tensor-type wants GLOB=TYPE, not '%s'", value);
    if (r->n_overrides == MAX_RULES)
        return wk_fail(e, "at most %d --tensor-type rules", MAX_RULES);
    wk_dtype t;
    if (parse_type(eq + 1, &t, e) != 0)
        return -1;
    char *glob = strndup(value, (size_t)(eq - value));
    if (!glob)
        return wk_fail(e, "out of memory");
    r->overrides[r->n_overrides++] = (wk_quant_override){glob, t};
    return 0;
}

static int add_keep(void *target, const char *value, wk_err *e)
{
    rules *r = target;
    if (r->n_keep == MAX_RULES)
        return wk_fail(e, "at most %d --keep globs", MAX_RULES);
    r->keep[r->n_keep++] = value;
    return 0;
}

/* The recipe or plain type the third operand names. */
static int parse_target(const char *s, wk_quantize_opts *o, wk_err *e)
{
    char names[512];
    if ((o->recipe = wk_recipe_find(s)) != NULL)
        return 0;
    wk_err ignore;
    if (parse_type(s, &o->pure, &ignore) == 0)
        return 0;
    valid_names(names, sizeof names);
    return wk_fail(e, "unknown type or recipe '%s' (%s)", s, names);
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int main(int argc, char **argv)
{
    wk_cli_passive_openmp(argv);
    wk_quantize_opts o = {.output_type = -1, .embedding_type = -1};
    rules r = {0};
    bool json = false, quiet = false, verbose = false;
    long threads = 0;
    const wk_option options[] = {
        WK_OPT_STRING("imatrix", 0, "FILE", &o.imatrix,
                      "weight each column's error by its importance from llama.cpp's imatrix "
                      "(the GGUF form or the older .dat)"),
        WK_OPT_CALL("tensor-type", 0, "GLOB=TYPE", add_override, &r,
                    "give tensors whose name matches GLOB (either naming: blk.*.attn_v.weight "
                    "or model.layers.*.self_attn.v_proj.weight) type TYPE; repeatable, the "
                    "first match wins"),
        WK_OPT_CALL("keep", 0, "GLOB", add_keep, &r,
                    "leave matching tensors as they are (repeatable)"),
        WK_OPT_CALL("output-type", 0, "TYPE", parse_type_opt, &o.output_type,
                    "type of output.weight (default: the recipe's, Q6_K for most)"),
        WK_OPT_CALL("embedding-type", 0, "TYPE", parse_type_opt, &o.embedding_type,
                    "type of token_embd.weight"),
        WK_OPT_FLAG("allow-requantize", 0, &o.allow_requantize,
                    "accept an already quantized input (the losses compound)"),
        WK_OPT_FLAG("dry-run", 0, &o.dry_run,
                    "print the plan (type per tensor, size, bits per weight) and write "
                    "nothing; OUT may then be left out"),
        WK_OPT_FLAG("json", 0, &json, "print the report as one JSON document "
                                      "(docs/wk-quantize.md)"),
        WK_OPT_FLAG("verbose", 'v', &verbose, "list every tensor, not only the quantized"),
        WK_OPT_LONG("threads", 0, "N", &threads, 1, 1024, "threads (default: all cores)"),
        WK_OPT_STRING("key", 0, "KEY", &o.state_dict_key,
                      "PyTorch checkpoints: the entry of a wrapping dict that holds the state "
                      "dict"),
        WK_OPT_FLAG("quiet", 'q', &quiet, "no progress line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-quantize",
        .synopsis = "IN OUT.gguf TYPE_OR_RECIPE [OPTIONS]",
        .about = "Quantizes a model to a GGUF that llama.cpp, LM Studio and Ollama run. IN is a "
                 "GGUF (F32, F16 or BF16) or a Hugging Face checkpoint directory (converted and "
                 "quantized in one streaming pass, no intermediate file). TYPE_OR_RECIPE is a "
                 "llama.cpp file type (Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q3_K_L, "
                 "Q3_K_M, Q3_K_S, Q2_K, Q5_1, Q5_0, Q4_1, Q4_0, IQ4_NL, IQ4_XS), choosing the "
                 "type per tensor as llama-quantize does, or a tensor type given to every "
                 "matrix. Rows that a type's block does not divide fall back to the nearest "
                 "type that fits; the report says which and why.",
        .options = options,
        .notes = "Recipes and types: docs/quantization.md.",
        .exit_status = "0 quantized, 1 bad input (nothing written), 2 usage error.",
        .operand = "argument",
        .min_operands = 2,
        .max_operands = 3,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (n_args == 2 && !o.dry_run)
        return wk_cli_usage_error(&tool, "expected IN OUT.gguf TYPE_OR_RECIPE (OUT may be left "
                                         "out only with --dry-run)");
    const char *in = args[0], *out = n_args == 3 ? args[1] : NULL, *what = args[n_args - 1];
    if (!in[0] || (out && !out[0]))
        return wk_cli_usage_error(&tool, "empty path");
    wk_err e;
    if (parse_target(what, &o, &e) != 0)
        return wk_cli_usage_error(&tool, "%s", e.msg);
    if (out && !o.dry_run && same_file(in, out))
        return wk_cli_usage_error(&tool, "%s: the output would replace the input", out);
    if (threads)
        omp_set_num_threads((int)threads);
    o.overrides = r.overrides;
    o.n_overrides = r.n_overrides;
    o.keep = r.keep;
    o.n_keep = r.n_keep;
    wk_progress pg;
    wk_progress_init(&pg, "wk-quantize", quiet || json);
    wk_warnings warnings = {0};
    o.progress = &pg;
    o.warnings = &warnings;
    wk_quant_report *report;
    rc = wk_quantize(in, out, &o, &report, &e);
    wk_cli_warnings(&tool, &warnings);
    wk_warnings_free(&warnings);
    for (size_t k = 0; k < r.n_overrides; k++)
        free((char *)r.overrides[k].glob);
    if (rc != 0)
        return wk_cli_error(&tool, &e);
    if (o.allow_requantize)
        for (size_t k = 0; k < report->n; k++)
            if (wk_type(report->t[k].src)->is_quantized && report->t[k].src != report->t[k].dst) {
                wk_cli_warn(&tool, "requantized from %s: the losses of both quantizations add up",
                            wk_type(report->t[k].src)->name);
                break;
            }
    char *text = json ? wk_quant_report_json(report) : wk_quant_report_text(report, verbose);
    wk_quant_report_free(report);
    if (!text) {
        fprintf(stderr, "%s: error: out of memory rendering the report\n", tool.name);
        return WK_EXIT_BAD_INPUT;
    }
    fputs(text, stdout);
    if (json)
        fputc('\n', stdout);
    free(text);
    return WK_EXIT_OK;
}
