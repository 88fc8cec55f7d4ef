/* libFuzzer harness: a SentencePiece tokenizer.model (sentencepiece_model.proto, protobuf
 * wire format) parsed in memory by wk_spm_parse. */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1); /* exact size: reads past the end are caught */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    wk_spm_model m;
    wk_err e;
    if (wk_spm_parse(buf, size, "tokenizer.model", &m, &e) == 0) {
        for (uint64_t i = 0; i < m.n_pieces; i++)
            fz_touch(m.pieces[i].piece, strlen(m.pieces[i].piece));
        wk_spm_free(&m);
    }
    free(buf);
    return 0;
}
