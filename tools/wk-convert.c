/* wk-convert: a Hugging Face model directory -> GGUF that llama.cpp runs.
 * The work is in models/convert.c; this file parses options and prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"
#include "common/human.h"
#include "common/progress.h"
#include "models/convert.h"
#include "quant/ftype.h"

static int parse_outtype(void *target, const char *value, wk_err *e)
{
    if (wk_outtype_parse(value, target) != 0)
        return wk_fail(e, "unknown --outtype '%s' (f32, f16, bf16, auto)", value);
    return 0;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* "wrote OUT (291 tensors, 2.05 GiB, F16) in 2.3 s" */
static void say_done(const wk_tool *tool, const char *out, const wk_convert_result *r,
                     double secs)
{
    char size[32], files[48] = "";
    wk_human_bytes(r->bytes, size, sizeof size);
    char *first = r->files > 1 ? wk_gguf_split_path(out, 0, r->files) : NULL;
    if (r->files > 1)
        snprintf(files, sizeof files, " and %u more files", r->files - 1);
    const wk_ftype *ft = wk_ftype_by_id(r->file_type);
    printf("%s: wrote %s%s (%llu tensors, %s, %s) in %.1f s\n", tool->name, first ? first : out,
           files, (unsigned long long)r->tensors, size,
           r->tensors ? (ft ? ft->name : "?") : "vocab only", secs);
    free(first);
}

int main(int argc, char **argv)
{
    wk_cli_passive_openmp(argv);
    const char *out = NULL;
    bool quiet = false;
    wk_convert_opts o = {.outtype = WK_OUTTYPE_F16};
    const wk_option options[] = {
        WK_OPT_STRING("output", 'o', "FILE",
                      &out, "the GGUF to write (replaced only when conversion succeeds); "
                            "default: <model dir>/<dir name>-<outtype>.gguf, as llama.cpp's "
                            "converter names it"),
        WK_OPT_CALL("outtype", 0, "T", parse_outtype, &o.outtype,
                    "f16 (default), f32, bf16, or auto (keep each tensor's F32/F16/BF16 type); "
                    "1-D tensors (norms, biases) are always F32"),
        WK_OPT_SIZE("split-max-size", 0, "SIZE", &o.max_shard_bytes, 1,
                    "write a split set of files of at most SIZE bytes each (K, M, G suffixes: "
                    "powers of 1000), named OUT-00001-of-0000N.gguf as llama.cpp's gguf-split "
                    "does; every llama.cpp loader and every weightkit tool reads it"),
        WK_OPT_FLAG("vocab-only", 0, &o.vocab_only,
                    "write the metadata and the tokenizer only, no tensors (the weights are "
                    "not read)"),
        WK_OPT_STRING("key", 0, "KEY", &o.state_dict_key,
                      "PyTorch checkpoints: the entry of a wrapping dict that holds the state "
                      "dict (default: found automatically)"),
        WK_OPT_FLAG("quiet", 'q', &quiet, "no progress line and no closing line"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-convert",
        .synopsis = "MODEL_DIR [-o OUT.gguf] [OPTIONS]",
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
    if (out && !out[0])
        return wk_cli_usage_error(&tool, "the output path is empty");
    double t0 = seconds_now();
    wk_progress pg;
    wk_progress_init(&pg, "wk-convert", quiet);
    wk_tokenizer_info tok = {0};
    wk_warnings warnings = {0};
    o.progress = &pg;
    o.tokenizer = &tok;
    o.warnings = &warnings;
    wk_err e;
    wk_convert_job *job;
    wk_convert_result result;
    char *chosen = NULL;
    rc = wk_convert_open(args[0], o.state_dict_key, o.vocab_only, &job, &e);
    if (rc == 0) {
        if (!out && !(out = chosen = wk_convert_default_output(job, o.outtype)))
            rc = wk_fail(&e, "out of memory");
        if (rc == 0)
            rc = wk_convert_write(job, out, &o, &result, &e);
        wk_convert_close(job);
    }
    wk_cli_warnings(&tool, &warnings);
    if (rc == 0) {
        wk_cli_warnings(&tool, &tok.warnings);
        if (!quiet)
            say_done(&tool, out, &result, seconds_now() - t0);
    }
    free(chosen);
    wk_warnings_free(&tok.warnings);
    wk_warnings_free(&warnings);
    return rc == 0 ? WK_EXIT_OK : wk_cli_error(&tool, &e);
}
