/* libFuzzer harness: the whole tokenizer import (formats/tokenizer_import.h) over a model
 * directory made from one input. The input is split at the line "#WKFUZZ#" into up to four
 * files: tokenizer.model when the first part starts with the protobuf key byte 0x0a, else
 * tokenizer.json; then tokenizer_config.json, config.json, added_tokens.json. Absent parts
 * leave their files absent. Then wk_tokenizer_load (build + special-token resolution) and
 * wk_tokenizer_write into a GGUF writer that is aborted. */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

#define SEP "\n#WKFUZZ#\n"

static const uint8_t *find_sep(const uint8_t *p, size_t n)
{
    size_t k = strlen(SEP);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, SEP, k) == 0)
            return p + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"tokenizer_config.json", "config.json",
                                        "added_tokens.json"};
    const uint8_t *part = data, *end = data + size;
    const uint8_t *cut = find_sep(part, size);
    size_t len = cut ? (size_t)(cut - part) : size;
    bool spm = len > 0 && part[0] == 0x0a;
    fz_remove("tokenizer.model");
    fz_remove("tokenizer.json");
    fz_write(spm ? "tokenizer.model" : "tokenizer.json", part, len);
    for (int k = 0; k < 3; k++) {
        fz_remove(names[k]);
        if (!cut)
            continue;
        part = cut + strlen(SEP);
        cut = find_sep(part, (size_t)(end - part));
        len = cut ? (size_t)(cut - part) : (size_t)(end - part);
        fz_write(names[k], part, len);
    }
    wk_err e;
    wk_hf_config *cfg = NULL;
    if (wk_hf_config_load(fz_tmpdir(), &cfg, &e) < 0)
        return 0;
    wk_tokenizer t;
    if (wk_tokenizer_load(fz_tmpdir(), cfg, &t, &e) == 0) {
        char out[256];
        snprintf(out, sizeof out, "%s/out.gguf", fz_tmpdir());
        wk_gguf_writer *w;
        if (wk_gguf_writer_open(out, &w, &e) == 0) {
            wk_tokenizer_write(&t, w, &e);
            wk_gguf_writer_abort(w);
        }
        wk_tokenizer_free(&t);
    }
    wk_hf_config_free(cfg);
    return 0;
}
