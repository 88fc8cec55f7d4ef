/* Files in and out.
 *
 * Input files are mapped read-only (wk_map): readers validate every offset against
 * map.size before touching map.data. Output goes through wk_outfile, which writes to a
 * temporary file beside the final name with a large buffer and renames it into place only
 * on wk_out_commit, so a failed or interrupted run never leaves a partial file under the
 * final name. */
#ifndef WK_COMMON_FILEIO_H
#define WK_COMMON_FILEIO_H

#include <stdint.h>
#include <stddef.h>

#include "common/err.h"

typedef struct wk_map {
    const uint8_t *data; /* NULL for an empty file */
    uint64_t size;
    char *path;
} wk_map;

/* Opens path for reading, refusing anything but a regular file (without waiting on a
 * FIFO); returns the descriptor, with the size in *size when size is not NULL, or -1. */
int wk_open_regular(const char *path, uint64_t *size, wk_err *e);
int wk_map_open(wk_map *m, const char *path, wk_err *e);
void wk_map_close(wk_map *m);
/* Drops the pages wholly inside [p, p + n) of a read-only file mapping from this process
 * (MADV_DONTNEED): they stay in the page cache and are read again if touched. Streaming
 * consumers use it to keep resident memory flat whatever the file size. */
void wk_map_drop(const void *p, uint64_t n);

typedef struct wk_outfile {
    int fd;
    char *final_path;
    char *tmp_path;
    uint8_t *buf;
    size_t buf_len;
    uint64_t pos; /* logical position: bytes written so far */
} wk_outfile;

int wk_out_open(wk_outfile *o, const char *path, wk_err *e);
int wk_out_write(wk_outfile *o, const void *p, size_t n, wk_err *e);
/* Writes n zero bytes. */
int wk_out_zeros(wk_outfile *o, size_t n, wk_err *e);
/* Overwrites bytes already written (flushes the buffer first); pos is unchanged. */
int wk_out_pwrite(wk_outfile *o, const void *p, size_t n, uint64_t off, wk_err *e);
/* Flushes, closes and renames the temporary file to the final name. */
int wk_out_commit(wk_outfile *o, wk_err *e);
/* Closes and removes the temporary file; safe to call after a failed commit or twice. */
void wk_out_abort(wk_outfile *o);

/* Reads a whole (small) file into a NUL-terminated heap buffer, refusing files over
 * max_size. */
int wk_read_small_file(const char *path, size_t max_size, char **out, size_t *out_len, wk_err *e);

/* Joins dir and name with a '/' into a new heap string. */
char *wk_path_join(const char *dir, const char *name);
int wk_is_dir(const char *path);
int wk_file_exists(const char *path);
/* For files a model directory may or may not hold: 1 when path is a regular file, 0 when
 * nothing is there, -1 (with a message) when something else is there or it cannot be
 * checked, so a directory or FIFO named config.json is an error, not an absent file. */
int wk_optional_file(const char *path, wk_err *e);

#endif
