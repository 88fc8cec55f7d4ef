/* NumPy .npy files (format version 1.0, numpy/lib/format.py): the magic, a header dict
 * padded so the data starts at a multiple of 64, then little-endian data. Written for
 * wk-run --logits, which users load with numpy.load. */
#ifndef WK_FORMATS_NPY_H
#define WK_FORMATS_NPY_H

#include <stdint.h>

#include "common/err.h"
#include "common/fileio.h"

/* Starts path (through a temp file, as every output) holding a float32 array of rows x cols;
 * the rows are then written with wk_out_write and the file committed with wk_out_commit. The
 * row count is patched at commit by wk_npy_finish, so rows may be appended as they come. */
int wk_npy_open(wk_outfile *o, const char *path, uint64_t cols, wk_err *e);
/* Writes the final shape (rows x cols) into the header and commits the file. */
int wk_npy_finish(wk_outfile *o, uint64_t rows, uint64_t cols, wk_err *e);

#endif
