/* wk-run: run a model from its GGUF. For now: --tokenize, the tokenizer runtime
 * (engine/tokenizer.h) on one text, printing ids, pieces and the count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "engine/tokenizer.h"

/* Tokenizes text with the model's vocabulary and prints the listing. */
static int tokenize(const wk_tool *tool, const char *model, const char *text, unsigned flags,
                    bool json)
{
    wk_err e;
    wk_gguf *g;
    wk_vocab *t;
    if (wk_gguf_open(model, &g, &e) != 0)
        return wk_cli_error(tool, &e);
    int rc = wk_vocab_load(g, &t, &e);
    wk_gguf_close(g);
    if (rc != 0)
        return wk_cli_error(tool, &e);
    wk_tokens ids = {0};
    char *out = NULL;
    if (wk_tokenize(t, text, strlen(text), flags, &ids, &e) == 0 &&
        !(out = wk_tokenize_listing(t, ids.ids, ids.n, json)))
        snprintf(e.msg, sizeof e.msg, "out of memory");
    rc = out ? (fputs(out, stdout), WK_EXIT_OK) : wk_cli_error(tool, &e);
    free(out);
    wk_tokens_free(&ids);
    wk_vocab_free(t);
    return rc;
}

int main(int argc, char **argv)
{
    const char *text = NULL;
    bool no_bos = false, special = false, json = false;
    const wk_option options[] = {
        WK_OPT_STRING("tokenize", 0, "TEXT", &text,
                      "print the ids and pieces TEXT tokenizes to, and their count"),
        WK_OPT_FLAG("no-bos", 0, &no_bos,
                    "with --tokenize: add neither BOS nor EOS, even when the model's metadata "
                    "asks for them (tokenizer.ggml.add_bos_token / add_eos_token)"),
        WK_OPT_FLAG("special", 0, &special,
                    "with --tokenize: the texts of control tokens in TEXT (<s>, "
                    "<|eot_id|>, ...) become their ids; without it they are tokenized as "
                    "text (user-defined tokens always become their ids)"),
        WK_OPT_FLAG("json", 0, &json, "with --tokenize: print {\"ids\": [...], \"pieces\": "
                                      "[...], \"count\": N}"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-run",
        .synopsis = "MODEL.gguf --tokenize TEXT [--no-bos] [--special] [--json]",
        .about = "Run a model from its GGUF. --tokenize shows how the model's tokenizer "
                 "(SentencePiece or byte-level BPE, from the tokenizer.* metadata) splits "
                 "TEXT, exactly as llama.cpp would: one line per token with its id and its "
                 "piece (the bytes it stands for, quoted; \\xNN for bytes that are not "
                 "printable UTF-8 on their own), then the number of tokens.",
        .options = options,
        .operand = "MODEL",
        .min_operands = 1,
        .max_operands = 1,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    if (!text)
        return wk_cli_usage_error(&tool, "nothing to do: give --tokenize TEXT");
    unsigned flags = (no_bos ? 0 : WK_TOK_ADD_SPECIAL) | (special ? WK_TOK_PARSE_SPECIAL : 0);
    return tokenize(&tool, args[0], text, flags, json);
}
