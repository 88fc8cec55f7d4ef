/* libFuzzer harness: one PyTorch checkpoint (zip, legacy stream or tar; torch/serialization.py)
 * as a .bin through wk_source_open (detection by magic), then every tensor read. */
#include "formats/source.h"
#include "tests/fuzz/fuzz_source_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("pytorch_model.bin", data, size);
    wk_source *s;
    wk_err e;
    if (wk_source_open(path, NULL, &s, &e) == 0)
        fz_read_all(s);
    return 0;
}
