/* wk-run: run a model from its GGUF: generate a continuation of a prompt (engine/generate.h),
 * write the logits of every position (--logits), or show how the tokenizer splits a text
 * (--tokenize). Options and printing live here; the work is in engine/. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "engine/generate.h"
#include "engine/model.h"

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

typedef struct run_opts {
    const char *prompt, *prompt_file, *logits;
    long n_predict, top_k, threads, ctx, batch, seed;
    double temp, top_p;
    bool ignore_eos, quiet;
    unsigned tok_flags;
    wk_device device;
} run_opts;

static int print_text(const char *text, size_t len, void *ctx)
{
    (void)ctx;
    return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
}

static void print_stats(const wk_gen_stats *st)
{
    char median[64] = "";
    if (st->pass_median_s > 0)
        snprintf(median, sizeof median, ", median forward pass %.3f ms", 1e3 * st->pass_median_s);
    fprintf(stderr, "prompt: %d tokens in %.3f s (%.2f tokens/s); generated: %d tokens in "
                    "%.3f s (%.2f tokens/s)%s%s\n",
            st->n_prompt, st->prefill_s, st->prefill_s > 0 ? st->n_prompt / st->prefill_s : 0,
            st->n_generated, st->decode_s,
            st->decode_s > 0 ? st->n_generated / st->decode_s : 0, median,
            st->hit_ctx ? "; stopped: the context is full" : "");
}

/* The model, its tokenizer, the prompt's tokens and a session sized for them. */
static int generate(const wk_tool *tool, const char *path, const run_opts *o, char *text)
{
    wk_err e;
    wk_model *m = NULL;
    wk_session *s = NULL;
    wk_tokens ids = {0};
    const wk_vocab *v;
    int rc = WK_EXIT_BAD_INPUT;
    if (wk_model_open_on(path, o->device, &m, &e) != 0 || !(v = wk_model_vocab(m, &e)) ||
        wk_tokenize(v, text, strlen(text), o->tok_flags, &ids, &e) != 0)
        goto fail;
    uint32_t n_ctx = o->ctx ? (uint32_t)o->ctx : m->info.n_ctx_train;
    if (ids.n > n_ctx) {
        wk_fail(&e, "the prompt is %zu tokens but the context holds %u (raise --ctx; the "
                    "model was trained on %u)", ids.n, n_ctx, m->info.n_ctx_train);
        goto fail;
    }
    if (wk_session_new(m, n_ctx, (uint32_t)o->batch, &s, &e) != 0)
        goto fail;
    wk_gen_opts g = {
        .n_predict = o->n_predict < 0 ? (int)n_ctx : (int)o->n_predict,
        .sampler = {.temp = (float)o->temp, .top_k = (int)o->top_k, .top_p = (float)o->top_p},
        .ignore_eos = o->ignore_eos,
        .echo_prompt = true,
        .logits_path = o->logits,
    };
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : (uint64_t)time(NULL);
    wk_sampler_seed(&g.sampler, seed);
    char where[400];
    wk_model_describe_device(m, where, sizeof where);
    if (!o->quiet)
        fprintf(stderr, "wk-run: %s: %s, %u layers, %u wide, vocabulary %u; context %u, "
                        "%s, seed %llu\n",
                path, m->arch->name, m->info.n_layer, m->info.n_embd, m->info.n_vocab, n_ctx,
                where, (unsigned long long)seed);
    wk_gen_stats st;
    if (wk_generate(s, v, ids.ids, (int)ids.n, &g, print_text, NULL, &st, &e) != 0)
        goto fail;
    putchar('\n');
    fflush(stdout);
    if (!o->quiet)
        print_stats(&st);
    rc = WK_EXIT_OK;
    goto done;
fail:
    rc = wk_cli_error(tool, &e);
done:
    wk_tokens_free(&ids);
    wk_session_free(s);
    wk_model_close(m);
    return rc;
}

/* The prompt: -p's text, or the contents of -f's file. */
static char *prompt_text(const run_opts *o, wk_err *e)
{
    if (o->prompt)
        return strdup(o->prompt);
    char *data;
    size_t len;
    if (wk_read_small_file(o->prompt_file, (size_t)64 << 20, &data, &len, e) != 0)
        return NULL;
    return data;
}

int main(int argc, char **argv)
{
    const char *text = NULL;
    bool no_bos = false, special = false, json = false;
    run_opts o = {.n_predict = -1, .top_k = 40, .seed = -1, .temp = 0.8, .top_p = 0.95,
                  .batch = 512};
    const wk_option options[] = {
        WK_OPT_STRING("prompt", 'p', "TEXT", &o.prompt, "the text to continue"),
        WK_OPT_STRING("file", 'f', "FILE", &o.prompt_file, "the prompt is FILE's text"),
        WK_OPT_LONG("n-predict", 'n', "N", &o.n_predict, -1, 1L << 30,
                    "new tokens at most (default -1: until an end-of-generation token or a "
                    "full context); 0 runs the prompt only (for --logits)"),
        WK_OPT_DOUBLE("temp", 0, "T", &o.temp, 0, 100,
                      "temperature (default 0.8); 0 takes the most likely token (greedy)"),
        WK_OPT_LONG("top-k", 0, "K", &o.top_k, 0, 1L << 30,
                    "sample from the K most likely tokens (default 40; 0: all)"),
        WK_OPT_DOUBLE("top-p", 0, "P", &o.top_p, 0, 1,
                      "then from the fewest whose probabilities sum to P (default 0.95; 1: "
                      "all)"),
        WK_OPT_LONG("seed", 's', "S", &o.seed, -1, 0x7fffffffffffffffL,
                    "the sampler's seed (default -1: from the clock; printed)"),
        WK_OPT_LONG("threads", 't', "N", &o.threads, 1, 1024, "threads (default: all cores)"),
        WK_OPT_CALL("device", 0, "DEV", wk_device_option, &o.device,
                    "where the model runs: cpu (default) or cuda (the first NVIDIA GPU; "
                    "CUDA_VISIBLE_DEVICES picks another; needs a build made with make "
                    "CUDA=1)"),
        WK_OPT_LONG("ctx", 'c', "N", &o.ctx, 1, 1L << 24,
                    "context length in tokens (default: the model's training context)"),
        WK_OPT_LONG("batch", 'b', "N", &o.batch, 1, 1L << 16,
                    "prompt tokens per forward pass (default 512)"),
        WK_OPT_FLAG("ignore-eos", 0, &o.ignore_eos,
                    "keep generating after an end-of-generation token"),
        WK_OPT_STRING("logits", 0, "OUT.npy", &o.logits,
                      "write the logits of every position as a float32 NumPy array: row i "
                      "is the distribution after token i of the sequence (BOS, the prompt, "
                      "then the generated tokens but the last), so token i + 1 was drawn "
                      "from row i"),
        WK_OPT_STRING("tokenize", 0, "TEXT", &text,
                      "print the ids and pieces TEXT tokenizes to, and their count"),
        WK_OPT_FLAG("no-bos", 0, &no_bos,
                    "add neither BOS nor EOS to the prompt or TEXT, even when the model's "
                    "metadata asks for them (tokenizer.ggml.add_bos_token / add_eos_token)"),
        WK_OPT_FLAG("special", 0, &special,
                    "the texts of control tokens in the prompt or TEXT (<s>, <|eot_id|>, "
                    "...) become their ids; without it they are tokenized as text "
                    "(user-defined tokens always become their ids)"),
        WK_OPT_FLAG("json", 0, &json, "with --tokenize: print {\"ids\": [...], \"pieces\": "
                                      "[...], \"count\": N}"),
        WK_OPT_FLAG("quiet", 'q', &o.quiet, "no model line and no speed figures on stderr"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "wk-run",
        .synopsis = "MODEL.gguf -p PROMPT [-n N] [--temp T --top-k K --top-p P --seed S] "
                    "[--threads N] [--ctx N] [--ignore-eos] [--logits OUT.npy]\n"
                    "       wk-run MODEL.gguf --tokenize TEXT [--no-bos] [--special] [--json]",
        .about = "Runs a model from its GGUF (any type wk-quantize writes) and prints the "
                 "prompt and its continuation as they are generated, then the prompt's and "
                 "the generation's speed in tokens per second on stderr. Sampling as "
                 "llama.cpp's: top-k, then top-p, then the temperature.\n"
                 "--tokenize shows how the model's tokenizer (SentencePiece or byte-level "
                 "BPE, from the tokenizer.* metadata) splits TEXT, exactly as llama.cpp "
                 "would: one line per token with its id and its piece (the bytes it stands "
                 "for, quoted; \\xNN for bytes that are not printable UTF-8 on their own), "
                 "then the number of tokens.",
        .options = options,
        .operand = "MODEL",
        .min_operands = 1,
        .max_operands = 1,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    unsigned flags = (no_bos ? 0 : WK_TOK_ADD_SPECIAL) | (special ? WK_TOK_PARSE_SPECIAL : 0);
    if (text)
        return tokenize(&tool, args[0], text, flags, json);
    if (!o.prompt == !o.prompt_file)
        return wk_cli_usage_error(&tool, o.prompt ? "give -p or -f, not both"
                                                  : "nothing to do: give -p PROMPT, -f FILE "
                                                    "or --tokenize TEXT");
    if (o.threads)
        omp_set_num_threads((int)o.threads);
    o.tok_flags = flags;
    wk_err e;
    char *prompt = prompt_text(&o, &e);
    if (!prompt)
        return wk_cli_error(&tool, &e);
    rc = generate(&tool, args[0], &o, prompt);
    free(prompt);
    return rc;
}
