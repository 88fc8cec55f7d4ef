/* libFuzzer harness: one .safetensors file (huggingface/safetensors README) through
 * wk_st_open_file, then every tensor read. */
#include "formats/safetensors/safetensors.h"
#include "tests/fuzz/fuzz_source_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("model.safetensors", data, size);
    wk_source *s;
    wk_err e;
    if (wk_st_open_file(path, &s, &e) == 0)
        fz_read_all(s);
    return 0;
}
