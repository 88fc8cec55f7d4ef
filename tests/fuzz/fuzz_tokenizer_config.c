/* libFuzzer harness: a Hugging Face tokenizer_config.json (special tokens, added_tokens_decoder,
 * chat templates) parsed by wk_tokcfg_parse. */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_text(data, size);
    wk_tokcfg c;
    wk_err e;
    if (wk_tokcfg_parse(text, "tokenizer_config.json", &c, &e) == 0) {
        for (int k = 0; k < WK_SP_COUNT; k++)
            if (c.token[k])
                fz_touch(c.token[k], strlen(c.token[k]));
        for (uint64_t i = 0; i < c.n_decoder; i++)
            fz_touch(c.decoder[i].content, strlen(c.decoder[i].content));
        if (c.chat_template)
            fz_touch(c.chat_template, strlen(c.chat_template));
        for (uint64_t i = 0; i < c.n_named; i++)
            fz_touch(c.named[i].name, strlen(c.named[i].name));
        wk_tokcfg_free(&c);
    }
    free(text);
    return 0;
}
