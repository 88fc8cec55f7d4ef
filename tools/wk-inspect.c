/* wk-inspect: what a checkpoint holds. Parses options, opens the source, builds the report
 * (verify/inspect_report.h) and prints it as text or JSON. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "formats/source.h"
#include "verify/inspect/report.h"

static const wk_tool tool = {
    .name = "wk-inspect",
    .usage =
        "Usage: wk-inspect [OPTIONS] MODEL\n"
        "Show what a model holds: format, architecture, parameter counts and bytes per\n"
        "category, and a table of every tensor. MODEL is a .safetensors file, a Hugging Face\n"
        "model directory (sharded or not, safetensors or PyTorch), a .gguf file, or a\n"
        "PyTorch checkpoint (.bin/.pt/.pth, read without executing code). Without --stats\n"
        "or --hist only the headers are read (a tar-format PyTorch file's storages are read\n"
        "whole). Tensors that share their data (tied weights) are counted once.\n"
        "\n"
        "Options:\n"
        "  --stats          per-tensor min, max, mean, std, L1/L2 norms, zero fraction,\n"
        "                   max|x|/std, excess kurtosis, NaN/Inf counts (reads the data)\n"
        "  --hist NAME      a histogram of tensor NAME instead of the report\n"
        "  --bins N         histogram bins (default 40, at most 1000)\n"
        "  --filter GLOB    list (and compute stats for) only tensors whose names match the\n"
        "                   shell glob; the totals still describe the whole model\n"
        "  --meta           list every metadata key of a GGUF (default: general.*, the\n"
        "                   architecture's keys, weightkit.* and a tokenizer summary)\n"
        "  --json           print the report as one JSON document (docs/wk-inspect.md)\n"
        "  --threads N      threads for --stats and --hist, 1 to 1024 (default: all cores)\n"
        "  --key KEY        PyTorch: the entry of a wrapping dict that holds the state dict\n"
        "                   (default: found automatically: state_dict, model, module, ...)\n"
        "  -h, --help       show this help and exit\n"
        "  -V, --version    show the version and exit\n"
        "\n"
        "Exit status: 0 success, 1 bad input, 2 usage error.\n",
};

enum { OPT_STATS = 256, OPT_HIST, OPT_BINS, OPT_FILTER, OPT_JSON, OPT_THREADS, OPT_KEY,
       OPT_META };

/* A decimal integer in [lo, hi], or -1. */
static long parse_count(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stats", no_argument, NULL, OPT_STATS},
        {"hist", required_argument, NULL, OPT_HIST},
        {"bins", required_argument, NULL, OPT_BINS},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"json", no_argument, NULL, OPT_JSON},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"key", required_argument, NULL, OPT_KEY},
        {"meta", no_argument, NULL, OPT_META},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    wk_inspect_opts o = {0};
    wk_open_opts open_opts = {0};
    int json = 0, opt;
    long threads = 0, bins = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_STATS: o.stats = true; break;
        case OPT_HIST: o.hist = optarg; break;
        case OPT_FILTER: o.filter = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_KEY: open_opts.state_dict_key = optarg; break;
        case OPT_META: o.meta = true; break;
        case OPT_BINS:
            if ((bins = parse_count(optarg, 1, WK_INSPECT_MAX_BINS)) < 0)
                return wk_cli_usage_error(&tool, "--bins wants a number from 1 to %d, not '%s'",
                                          WK_INSPECT_MAX_BINS, optarg);
            break;
        case OPT_THREADS:
            if ((threads = parse_count(optarg, 1, 1024)) < 0)
                return wk_cli_usage_error(&tool, "--threads wants a number from 1 to 1024, "
                                                 "not '%s'", optarg);
            break;
        case 'h': return wk_cli_help(&tool);
        case 'V': return wk_cli_version(&tool);
        default:
            return wk_cli_option_error(&tool, opt, argv, optind);
        }
    }
    if (argc - optind != 1)
        return wk_cli_usage_error(&tool, argc == optind ? "no model given"
                                                         : "expected one model, got %d",
                                  argc - optind);
    if (argv[optind][0] == '\0')
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
    if (wk_source_open(argv[optind], &open_opts, &src, &e) != 0)
        return wk_cli_error(&tool, &e);
    wk_inspect_report *r;
    if (wk_inspect_build(src, &o, &r, &e) != 0) {
        wk_source_close(src);
        return wk_cli_error(&tool, &e);
    }
    for (size_t i = 0; i < r->n_warnings; i++)
        wk_cli_warn(&tool, "%s", r->warnings[i]);
    char *text = json ? wk_inspect_json(r) : wk_inspect_text(r);
    int rc = WK_EXIT_OK;
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
