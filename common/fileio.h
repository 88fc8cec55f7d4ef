/* Files in and out.
 *
 * Input files are mapped read-only (wk_map): readers validate every offset against
 * map.size before touching map.data. Output goes through wk_outfile, which writes to a
 * temporary file beside the final name with a large buffer and renames it into place only
 * on wk_out_commit, so a failed or interrupted run never leaves a partial file under the
 * final name. A run killed with SIGKILL (or a power cut) does leave its temporary file;
 * the next run writing the same output finds it (wk_out_leftovers) so the tool can say so.
 * Nothing here ever deletes a file it did not create. */
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
/* Maps the pages of [p, p + n) into this process now (MADV_POPULATE_READ, Linux 5.14; else
 * MADV_WILLNEED), reading them from disk if they are not cached: a model that is about to
 * be read whole then takes one pass of the kernel instead of a page fault per 4 KiB on its
 * first token. The range is marked for 2 MiB pages first (MADV_HUGEPAGE): where the file
 * system caches large folios (ext4 from Linux 6.16, xfs), what this reads from disk comes
 * into the page cache in 2 MiB folios and is mapped with 2 MiB pages (the TLB then covers
 * 512 times more of the weights); what is cached already keeps its folios (wk_out_write's
 * aligned writes make them large too). */
void wk_map_prefault(const void *p, uint64_t n);

/* A temporary file that a killed run left beside an output: named like the ones
 * wk_out_open creates for that output ("<name>.tmp.XXXXXX"), a regular file, and held by
 * no running wk_out_open (each holds a lock on its temp file until it is closed). */
typedef struct wk_leftover {
    char *path;
    uint64_t size;
} wk_leftover;

typedef struct wk_outfile {
    int fd;
    char *final_path;
    char *tmp_path;
    uint8_t *buf;
    size_t buf_len;
    uint64_t pos; /* logical position: bytes written so far */
    wk_leftover *leftovers; /* found by wk_out_open, for the caller to warn about; freed with */
    size_t n_leftovers;     /* the outfile (copy what must outlive it) */
} wk_outfile;

/* At most this many temporary files exist at once (open, or closed and waiting for their
 * rename) in one process: the signal handler's fixed list. */
#define WK_OUT_MAX_PENDING 4096

/* Creates a temporary file beside path (through a symbolic link at path, beside its
 * target) as open(2) with mode 0666 would: the umask and a default ACL apply, and when path
 * names an existing file its permission bits are kept. An existing path that is not a
 * regular file is refused. Lists leftovers of earlier runs in o->leftovers (best effort:
 * a directory that cannot be listed lists none). */
int wk_out_open(wk_outfile *o, const char *path, wk_err *e);
int wk_out_write(wk_outfile *o, const void *p, size_t n, wk_err *e);
/* Writes n zero bytes. */
int wk_out_zeros(wk_outfile *o, size_t n, wk_err *e);
/* Overwrites bytes already written (flushing the buffer first if the range reaches into
 * it); pos is unchanged. */
int wk_out_pwrite(wk_outfile *o, const void *p, size_t n, uint64_t off, wk_err *e);
/* Flushes and closes the temporary file and frees the buffer, leaving the file to a later
 * wk_out_commit or wk_out_abort (a writer of several files closes each as it is done and
 * renames them all at the end). Nothing may be written after it. */
int wk_out_close(wk_outfile *o, wk_err *e);
/* Flushes, closes and renames the temporary file to the final name. */
int wk_out_commit(wk_outfile *o, wk_err *e);
/* Closes and removes the temporary file; safe to call after a failed commit or twice. */
void wk_out_abort(wk_outfile *o);

/* The leftovers of interrupted runs beside the output path (through a symbolic link,
 * beside its target; see wk_leftover), sorted by name; temp files of this process's
 * outputs are not listed. Fails as wk_out_open would for a path that is not a regular file,
 * or when the directory cannot be listed. */
int wk_out_leftovers(const char *path, wk_leftover **out, size_t *n, wk_err *e);
void wk_leftovers_free(wk_leftover *l, size_t n);

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
