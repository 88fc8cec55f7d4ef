/* wk-inspect: what a checkpoint holds. Parses options, opens the source, builds the report
 * (verify/inspect/report.h) and prints it as text or JSON. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "formats/source.h"
#include "verify/inspect/report.h"

int main(int argc, char **argv)
{
    wk_cli_passive_openmp(argv);
    wk_inspect_opts o = {0};
    wk_open_opts open_opts = {0};
    bool json = false;
    long threads = 0, bins = 0;
    const wk_option options[] = {
        WK_OPT_FLAG("stats", 0, &o.stats,
                    "per-tensor min, max, mean, std, L1/L2 norms, zero fraction, max|x|/std, "
                    "excess kurtosis, NaN/Inf counts (reads the data, and checks each GGUF "
                    "tensor against its stored xxh64 checksum)"),
        WK_OPT_STRING("hist", 0, "NAME", &o.hist, "a histogram of tensor NAME instead of the "
                                                   "report"),
        WK_OPT_LONG("bins", 0, "N", &bins, 1, WK_INSPECT_MAX_BINS,
                    "histogram bins (default 40, at most 1000)"),
        WK_OPT_STRING("filter", 0, "GLOB", &o.filter,
                      "list (and compute stats for) only tensors whose names match the shell "
                      "glob, in either naming (model.layers.0.* or blk.0.*); the totals still "
                      "describe the whole model"),
        WK_OPT_FLAG("meta", 0, &o.meta,
                    "list every metadata key (default: general.*, the architecture's keys, "
                    "weightkit.* and a tokenizer summary)"),
        WK_OPT_FLAG("json", 0, &json, "print the report as one JSON document "
                                      "(docs/wk-inspect.md)"),
        WK_OPT_LONG("threads", 0, "N", &threads, 1, 1024,
                    "threads for --stats and --hist, 1 to 1024 (default: all cores)"),
        WK_OPT_STRING("key", 0, "KEY", &open_opts.state_dict_key,
                      "PyTorch: the entry of a wrapping dict that holds the state dict "
                      "(default: found automatically: state_dict, model, module, ...)"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-inspect",
        .synopsis = "[OPTIONS] MODEL",
        .about = "Show what a model holds: format, architecture, parameter counts and bytes "
                 "per category, and a table of every tensor. MODEL is a .safetensors file, a "
                 "Hugging Face model directory (sharded or not, safetensors or PyTorch), a "
                 ".gguf file (or any file of a split GGUF set), or a PyTorch checkpoint "
                 "(.bin/.pt/.pth, read without executing code). Without --stats or --hist "
                 "only the headers are read (a tar-format PyTorch file's storages are read "
                 "whole). Tensors that share their data (tied weights) are counted once.",
        .options = options,
        .operand = "MODEL",
        .min_operands = 1,
        .max_operands = 1,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (args[0][0] == '\0')
        return wk_cli_usage_error(&tool, "the model path is empty");
    if (o.hist && (o.stats || o.filter))
        return wk_cli_usage_error(&tool, "--hist cannot be combined with --stats or --filter");
    if (bins && !o.hist)
        return wk_cli_usage_error(&tool, "--bins only applies to --hist");
    o.hist_bins = (uint32_t)bins;
    if (threads)
        omp_set_num_threads((int)threads);

    wk_err e;
    wk_source *src;
    if (wk_source_open(args[0], &open_opts, &src, &e) != 0)
        return wk_cli_error(&tool, &e);
    wk_inspect_report *r;
    if (wk_inspect_build(src, &o, &r, &e) != 0) {
        wk_source_close(src);
        return wk_cli_error(&tool, &e);
    }
    for (size_t i = 0; i < r->n_warnings; i++)
        wk_cli_warn(&tool, "%s", r->warnings[i]);
    char *text = json ? wk_inspect_json(r) : wk_inspect_text(r);
    rc = WK_EXIT_OK;
    if (!text) {
        fprintf(stderr, "%s: error: out of memory rendering the report\n", tool.name);
        rc = WK_EXIT_BAD_INPUT;
    } else {
        fputs(text, stdout);
        if (json)
            fputc('\n', stdout);
    }
    free(text);
    wk_inspect_free(r);
    wk_source_close(src);
    return rc;
}
