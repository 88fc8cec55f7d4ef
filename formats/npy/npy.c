/* NumPy .npy writing (see npy.h). The header is written at its final length from the start
 * (the shape padded with spaces), so patching the row count in place never moves the data. */
#include "formats/npy/npy.h"

#include <stdio.h>
#include <string.h>

#define HEADER_LEN 128 /* magic (6) + version (2) + length (2) + dict, a multiple of 64 */

static void header(char *h, uint64_t rows, uint64_t cols)
{
    char dict[HEADER_LEN];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, "
                                        "'shape': (%llu, %llu), }",
                     (unsigned long long)rows, (unsigned long long)cols);
    memset(h, ' ', HEADER_LEN);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    uint16_t len = HEADER_LEN - 10;
    h[8] = (char)(len & 0xff);
    h[9] = (char)(len >> 8);
    memcpy(h + 10, dict, (size_t)n);
    h[HEADER_LEN - 1] = '\n';
}

int wk_npy_open(wk_outfile *o, const char *path, uint64_t cols, wk_err *e)
{
    char h[HEADER_LEN];
    if (wk_out_open(o, path, e) != 0)
        return -1;
    header(h, 0, cols);
    if (wk_out_write(o, h, sizeof h, e) != 0) {
        wk_out_abort(o);
        return -1;
    }
    return 0;
}

int wk_npy_finish(wk_outfile *o, uint64_t rows, uint64_t cols, wk_err *e)
{
    char h[HEADER_LEN];
    header(h, rows, cols);
    if (wk_out_pwrite(o, h, sizeof h, 0, e) != 0 || wk_out_commit(o, e) != 0) {
        wk_out_abort(o);
        return -1;
    }
    return 0;
}
