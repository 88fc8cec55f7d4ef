/* mmap input, buffered temp-file output with atomic rename, small-file reads.
 *
 * Inputs are opened with O_NONBLOCK and must be regular files, so a FIFO or device named as
 * a model is refused instead of blocking. Output goes to a temporary file beside the final
 * name (through a symbolic link, beside its target); an existing final name that is not a
 * regular file is never replaced. While a temporary file exists, SIGINT, SIGTERM and SIGHUP
 * remove it before the process dies with the same signal. */
#define _GNU_SOURCE
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/grow.h"

#define WK_OUT_BUF (8u << 20)

int wk_open_regular(const char *path, uint64_t *size, wk_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return wk_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return wk_fail(e, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return wk_fail(e, "%s: not a regular file", path);
    }
    if (size)
        *size = (uint64_t)st.st_size;
    return fd;
}

int wk_map_open(wk_map *m, const char *path, wk_err *e)
{
    memset(m, 0, sizeof *m);
    uint64_t size;
    int fd = wk_open_regular(path, &size, e);
    if (fd < 0)
        return -1;
    m->size = size;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            return wk_fail(e, "%s: cannot map %llu bytes: %s", path,
                           (unsigned long long)m->size, strerror(err));
        }
        m->data = p;
    }
    close(fd);
    m->path = strdup(path);
    return 0;
}

void wk_map_close(wk_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    free(m->path);
    memset(m, 0, sizeof *m);
}

void wk_map_drop(const void *p, uint64_t n)
{
    uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + ps - 1) & ~(ps - 1), b = ((uintptr_t)p + n) & ~(ps - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Temporary files to remove if a signal ends the process (one per open wk_outfile). */
#define WK_PENDING_MAX 8
static char *volatile pending[WK_PENDING_MAX];

static void remove_pending_and_die(int sig)
{
    for (int i = 0; i < WK_PENDING_MAX; i++) {
        char *p = pending[i];
        if (p)
            unlink(p); /* async-signal-safe */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void pending_set(const char *old, char *path)
{
    static int installed;
    if (!installed) {
        installed = 1;
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            struct sigaction cur;
            if (sigaction(sigs[i], NULL, &cur) == 0 && cur.sa_handler == SIG_DFL) {
                struct sigaction sa = {0};
                sa.sa_handler = remove_pending_and_die;
                sigemptyset(&sa.sa_mask);
                sigaction(sigs[i], &sa, NULL);
            }
        }
    }
    for (int i = 0; i < WK_PENDING_MAX; i++)
        if (pending[i] == old) {
            pending[i] = path;
            return;
        }
}

/* The name to write: path itself, or the file a symbolic link at path points to. Fails
 * when path exists and is not a regular file. */
static int resolve_output(const char *path, char **out, wk_err *e)
{
    struct stat st;
    *out = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return wk_fail(e, "%s: cannot check the output: %s", path, strerror(errno));
        *out = strdup(path);
    } else if (S_ISLNK(st.st_mode)) {
        char *target = realpath(path, NULL);
        if (!target)
            return wk_fail(e, "%s: the output is a symbolic link that cannot be followed: %s",
                           path, strerror(errno));
        if (stat(target, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(target);
            return wk_fail(e, "%s: the output is a link to something that is not a regular "
                              "file; refusing to replace it", path);
        }
        *out = target;
    } else if (!S_ISREG(st.st_mode)) {
        return wk_fail(e, "%s: exists and is not a regular file (%s); refusing to replace it",
                       path, S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
    } else {
        *out = strdup(path);
    }
    return *out ? 0 : wk_fail(e, "%s: out of memory", path);
}

int wk_out_open(wk_outfile *o, const char *path, wk_err *e)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (resolve_output(path, &o->final_path, e) != 0)
        return -1;
    size_t n = strlen(o->final_path);
    o->tmp_path = malloc(n + 16);
    o->buf = malloc(WK_OUT_BUF);
    if (!o->tmp_path || !o->buf) {
        free(o->final_path);
        free(o->tmp_path);
        free(o->buf);
        memset(o, 0, sizeof *o);
        o->fd = -1;
        return wk_fail(e, "%s: out of memory", path);
    }
    snprintf(o->tmp_path, n + 16, "%s.tmp.XXXXXX", o->final_path);
    /* the cleanup signals wait while the file is created and registered, so it is never
     * there unregistered, and a half-chosen name is never unlinked */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    o->fd = mkostemp(o->tmp_path, O_CLOEXEC);
    if (o->fd >= 0)
        pending_set(NULL, o->tmp_path);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (o->fd < 0) {
        free(o->tmp_path);
        o->tmp_path = NULL;
        wk_out_abort(o);
        return wk_fail(e, "%s: cannot create temporary output: %s", path, strerror(err));
    }
    fchmod(o->fd, 0644);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *path, wk_err *e)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return wk_fail(e, "%s: write failed: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int out_flush(wk_outfile *o, wk_err *e)
{
    if (o->buf_len == 0)
        return 0;
    if (write_all(o->fd, o->buf, o->buf_len, o->final_path, e) != 0)
        return -1;
    o->buf_len = 0;
    return 0;
}

int wk_out_write(wk_outfile *o, const void *p, size_t n, wk_err *e)
{
    const uint8_t *src = p;
    o->pos += n;
    if (o->buf_len + n <= WK_OUT_BUF) {
        memcpy(o->buf + o->buf_len, src, n);
        o->buf_len += n;
        return 0;
    }
    if (out_flush(o, e) != 0)
        return -1;
    if (n >= WK_OUT_BUF) /* large writes bypass the buffer: no extra copy */
        return write_all(o->fd, src, n, o->final_path, e);
    memcpy(o->buf, src, n);
    o->buf_len = n;
    return 0;
}

int wk_out_zeros(wk_outfile *o, size_t n, wk_err *e)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (wk_out_write(o, zeros, k, e) != 0)
            return -1;
        n -= k;
    }
    return 0;
}

int wk_out_pwrite(wk_outfile *o, const void *p, size_t n, uint64_t off, wk_err *e)
{
    if (out_flush(o, e) != 0)
        return -1;
    const uint8_t *src = p;
    while (n > 0) {
        ssize_t w = pwrite(o->fd, src, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return wk_fail(e, "%s: write at offset %llu failed: %s", o->final_path,
                           (unsigned long long)off, strerror(errno));
        }
        src += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return 0;
}

int wk_out_commit(wk_outfile *o, wk_err *e)
{
    if (out_flush(o, e) != 0)
        return -1;
    if (close(o->fd) != 0) {
        o->fd = -1;
        return wk_fail(e, "%s: close failed: %s", o->final_path, strerror(errno));
    }
    o->fd = -1;
    if (rename(o->tmp_path, o->final_path) != 0)
        return wk_fail(e, "%s: cannot rename temporary output into place: %s", o->final_path,
                       strerror(errno));
    pending_set(o->tmp_path, NULL);
    free(o->tmp_path);
    o->tmp_path = NULL;
    wk_out_abort(o); /* frees the rest; nothing left to unlink */
    return 0;
}

void wk_out_abort(wk_outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->tmp_path) {
        unlink(o->tmp_path);
        pending_set(o->tmp_path, NULL);
    }
    free(o->tmp_path);
    free(o->final_path);
    free(o->buf);
    o->tmp_path = o->final_path = NULL;
    o->buf = NULL;
    o->buf_len = 0;
}

int wk_read_small_file(const char *path, size_t max_size, char **out, size_t *out_len, wk_err *e)
{
    *out = NULL;
    int fd = wk_open_regular(path, NULL, e);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return wk_fail(e, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 0, len = 0;
    char *buf = NULL;
    for (;;) {
        /* room for at least 4 KiB more and the final NUL */
        if (wk_grow((void **)&buf, &cap, len + 4096 + 1, 1) != 0) {
            free(buf);
            fclose(f);
            return wk_fail(e, "%s: out of memory", path);
        }
        size_t r = fread(buf + len, 1, cap - 1 - len, f);
        len += r;
        if (len > max_size) {
            free(buf);
            fclose(f);
            return wk_fail(e, "%s: larger than the %zu bytes allowed for this kind of file", path,
                           max_size);
        }
        if (r == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return wk_fail(e, "%s: read error", path);
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return 0;
}

char *wk_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int wk_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int wk_optional_file(const char *path, wk_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : wk_fail(e, "%s: %s", path, strerror(errno));
    return S_ISREG(st.st_mode) ? 1 : wk_fail(e, "%s: not a regular file", path);
}

int wk_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
