/* Shared by the libFuzzer harnesses (LLVM libFuzzer docs: LLVMFuzzerTestOneInput): the readers
 * that only open paths get the input through one file per process, rewritten for each input,
 * in a private temp directory that is removed at exit. Header-only: each harness is one
 * translation unit linked with the library. */
#ifndef WK_FUZZ_UTIL_H
#define WK_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[64];

static inline void fz_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (fz_dir[0] && system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fz_dir);
}

/* The per-process directory, made on first use. */
static inline const char *fz_tmpdir(void)
{
    if (!fz_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/wkfuzz.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_dir;
}

/* Writes data to <tmpdir>/name and returns the path (static storage, reused). */
static inline const char *fz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: writing the input file");
        abort();
    }
    return path;
}

/* Removes <tmpdir>/name if present. */
static inline void fz_remove(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), name);
    unlink(path);
}

/* Touches every byte so ASan sees a read past a mapping or buffer. */
static inline uint64_t fz_touch(const void *p, uint64_t n)
{
    const volatile uint8_t *b = p;
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

/* A NUL-terminated copy of the input (the JSON parsers take C strings). */
static inline char *fz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        abort();
    memcpy(t, data, size);
    t[size] = 0;
    return t;
}

#endif
