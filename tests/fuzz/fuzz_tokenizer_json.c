/* libFuzzer harness: a Hugging Face tokenizer.json parsed by wk_tokjson_parse, both without
 * and with the vocabulary (model.vocab, model.merges, pre_tokenizer detection). */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

static void check(const wk_tokjson *t)
{
    for (uint64_t i = 0; i < t->n_added; i++)
        fz_touch(t->added[i].content, strlen(t->added[i].content));
    for (uint64_t i = 0; i < t->n_vocab; i++)
        if (t->vocab[i])
            fz_touch(t->vocab[i], strlen(t->vocab[i]));
    for (uint64_t i = 0; i < t->n_merges; i++)
        fz_touch(t->merges[i], strlen(t->merges[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_text(data, size);
    for (int want_vocab = 0; want_vocab < 2; want_vocab++) {
        wk_tokjson t;
        wk_err e;
        if (wk_tokjson_parse(text, "tokenizer.json", want_vocab, &t, &e) == 0) {
            check(&t);
            wk_tokjson_free(&t);
        }
    }
    free(text);
    return 0;
}
