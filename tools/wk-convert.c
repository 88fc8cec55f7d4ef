/* wk-convert: a Hugging Face model directory -> GGUF that llama.cpp runs.
 * The work is in formats/convert.c; this file parses options and prints. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/progress.h"
#include "models/convert.h"

static const wk_tool tool = {
    "wk-convert",
    "Usage: wk-convert MODEL_DIR -o OUT.gguf [--outtype f32|f16|bf16|auto] [--key KEY] [--quiet]\n"
    "Converts a Hugging Face checkpoint directory (config.json, *.safetensors or\n"
    "pytorch_model*.bin, tokenizer files) to a GGUF file that llama.cpp loads.\n"
    "\n"
    "  -o, --output FILE   the GGUF to write (replaced only when conversion succeeds)\n"
    "      --outtype T     f16 (default), f32, bf16, or auto (keep each tensor's F32/F16/BF16\n"
    "                      type); 1-D tensors (norms, biases) are always F32\n"
    "      --key KEY       PyTorch checkpoints: the entry of a wrapping dict that holds the\n"
    "                      state dict (default: found automatically)\n"
    "  -q, --quiet         no progress line\n"
    "  -h, --help          this text\n"
    "  -V, --version       the version\n"
    "\n"
    "Supported architectures: LlamaForCausalLM, MistralForCausalLM (no sliding window).\n"
    "Exit status: 0 converted, 1 bad input (nothing written), 2 usage error.\n",
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"outtype", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"key", required_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool quiet = false;
    wk_convert_opts o = {.outtype = WK_OUTTYPE_F16};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 't':
            if (wk_outtype_parse(optarg, &o.outtype) != 0)
                return wk_cli_usage_error(&tool, "unknown --outtype '%s' (f32, f16, bf16, auto)",
                                          optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'k':
            o.state_dict_key = optarg;
            break;
        case 'h':
            return wk_cli_help(&tool);
        case 'V':
            return wk_cli_version(&tool);
        default:
            return wk_cli_option_error(&tool, c, argv, optind);
        }
    }
    if (optind + 1 != argc)
        return wk_cli_usage_error(&tool, "expected exactly one MODEL_DIR");
    if (argv[optind][0] == '\0')
        return wk_cli_usage_error(&tool, "the model directory path is empty");
    if (!out || !out[0])
        return wk_cli_usage_error(&tool, "missing -o OUT.gguf");
    wk_progress pg;
    wk_progress_init(&pg, "wk-convert", quiet);
    wk_tokenizer_info tok = {0};
    wk_warnings warnings = {0};
    o.progress = &pg;
    o.tokenizer = &tok;
    o.warnings = &warnings;
    wk_err e;
    int rc = wk_convert_hf(argv[optind], out, &o, &e);
    if (rc == 0) {
        wk_cli_warnings(&tool, &tok.warnings);
        wk_cli_warnings(&tool, &warnings);
    }
    wk_warnings_free(&tok.warnings);
    wk_warnings_free(&warnings);
    return rc == 0 ? WK_EXIT_OK : wk_cli_error(&tool, &e);
}
