/* wk-convert: a Hugging Face model directory -> GGUF that llama.cpp runs.
 * The work is in models/convert.c; this file parses options and prints. */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "models/convert.h"

static int parse_outtype(void *target, const char *value, wk_err *e)
{
    if (wk_outtype_parse(value, target) != 0)
        return wk_fail(e, "unknown --outtype '%s' (f32, f16, bf16, auto)", value);
    return 0;
}

/* Temp files of killed runs (SIGKILL, a power cut) that would otherwise stay unnoticed;
 * they are the user's to remove. When the output cannot be checked, conversion says why. */
static void warn_leftovers(const wk_tool *tool, const char *out)
{
    wk_leftover *l;
    size_t n;
    if (wk_out_leftovers(out, &l, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        wk_cli_warn(tool, "left over from an interrupted run: %s (%.1f MB); remove it",
                    l[i].path, (double)l[i].size / 1e6);
    wk_leftovers_free(l, n);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    bool quiet = false;
    wk_convert_opts o = {.outtype = WK_OUTTYPE_F16};
    const wk_option options[] = {
        WK_OPT_STRING("output", 'o', "FILE", &out,
                      "the GGUF to write (replaced only when conversion succeeds)"),
        WK_OPT_CALL("outtype", 0, "T", parse_outtype, &o.outtype,
                    "f16 (default), f32, bf16, or auto (keep each tensor's F32/F16/BF16 type); "
                    "1-D tensors (norms, biases) are always F32"),
        WK_OPT_STRING("key", 0, "KEY", &o.state_dict_key,
                      "PyTorch checkpoints: the entry of a wrapping dict that holds the state "
                      "dict (default: found automatically)"),
        WK_OPT_FLAG("quiet", 'q', &quiet, "no progress line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-convert",
        .synopsis = "MODEL_DIR -o OUT.gguf [OPTIONS]",
        .about = "Converts a Hugging Face checkpoint directory (config.json, *.safetensors or "
                 "pytorch_model*.bin, tokenizer files) to a GGUF file that llama.cpp loads.",
        .options = options,
        .notes = "Supported architectures: LlamaForCausalLM, MistralForCausalLM (no sliding "
                 "window).",
        .exit_status = "0 converted, 1 bad input (nothing written), 2 usage error.",
        .operand = "MODEL_DIR",
        .min_operands = 1,
        .max_operands = 1,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (args[0][0] == '\0')
        return wk_cli_usage_error(&tool, "the model directory path is empty");
    if (!out || !out[0])
        return wk_cli_usage_error(&tool, "missing -o OUT.gguf");
    warn_leftovers(&tool, out);
    wk_progress pg;
    wk_progress_init(&pg, "wk-convert", quiet);
    wk_tokenizer_info tok = {0};
    wk_warnings warnings = {0};
    o.progress = &pg;
    o.tokenizer = &tok;
    o.warnings = &warnings;
    wk_err e;
    rc = wk_convert_hf(args[0], out, &o, &e);
    if (rc == 0) {
        wk_cli_warnings(&tool, &tok.warnings);
        wk_cli_warnings(&tool, &warnings);
    }
    wk_warnings_free(&tok.warnings);
    wk_warnings_free(&warnings);
    return rc == 0 ? WK_EXIT_OK : wk_cli_error(&tool, &e);
}
