/* mmap input, buffered temp-file output with atomic rename, small-file reads.
 *
 * Inputs are opened with O_NONBLOCK and must be regular files, so a FIFO or device named as
 * a model is refused instead of blocking. Output goes to a temporary file beside the final
 * name (through a symbolic link, beside its target), created as open(2) with mode 0666
 * would (the umask decides; a file being replaced keeps its permission bits); an existing
 * final name that is not a regular file is never replaced. While a temporary file exists,
 * SIGINT, SIGTERM and SIGHUP remove it before the process dies with the same signal, and
 * while it is open it holds a flock, so a temporary file of the output's name that nobody
 * locks was left by a run that was killed outright: wk_out_open lists those for the
 * caller to mention (never to delete). */
#define _GNU_SOURCE
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/grow.h"

/* Output is written in whole units of WK_OUT_ALIGN at file offsets that are multiples of it
 * (but the last write, wk_out_pwrite's patches, and what follows a patch of bytes that were
 * still buffered): the buffer is flushed only when full, and a write too large for it goes
 * out directly in whole units. Linux (6.16+ for ext4; xfs earlier) caches such a write in
 * one 2 MiB folio, and a reader that maps the file then gets it with 2 MiB pages, whereas
 * the same bytes written at arbitrary offsets stay in small folios, mapped 4 KiB at a time,
 * for as long as the file is cached. (wk-run decoded the
 * 1.1B shape's Q8_0 file at 36.6 tokens/s against 30.4 for the same bytes in small folios,
 * medians of 5 paired runs on a Zen 5 virtual machine: docs/benchmarks.md.) */
#define WK_OUT_ALIGN (2u << 20)
#define WK_OUT_BUF (4 * WK_OUT_ALIGN)

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

void wk_map_prefault(const void *p, uint64_t n)
{
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* linux/mman.h; glibc before 2.35 lacks it */
#endif
    uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(ps - 1), b = (uintptr_t)p + n;
    if (b <= a)
        return;
    madvise((void *)a, b - a, MADV_HUGEPAGE); /* advice: where refused, 4 KiB pages */
    if (madvise((void *)a, b - a, MADV_POPULATE_READ) != 0)
        madvise((void *)a, b - a, MADV_WILLNEED);
}

/* Temporary files to remove if a signal ends the process (one per wk_outfile from open to
 * commit or abort). */
static char *volatile pending[WK_OUT_MAX_PENDING];

static void remove_pending_and_die(int sig)
{
    for (int i = 0; i < WK_OUT_MAX_PENDING; i++) {
        char *p = pending[i];
        if (p)
            unlink(p); /* async-signal-safe */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Replaces the entry old with path (NULL for a free slot); -1 when no slot is free. */
static int pending_set(const char *old, char *path)
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
    for (int i = 0; i < WK_OUT_MAX_PENDING; i++)
        if (pending[i] == old) {
            pending[i] = path;
            return 0;
        }
    return -1;
}

static bool is_pending(const char *path)
{
    for (int i = 0; i < WK_OUT_MAX_PENDING; i++)
        if (pending[i] && strcmp(pending[i], path) == 0)
            return true;
    return false;
}

/* The name to write: path itself, or the file a symbolic link at path points to, and in
 * *mode the permission bits of the file there (-1 when there is none). Fails when path
 * exists and is not a regular file. */
static int resolve_output(const char *path, char **out, int *mode, wk_err *e)
{
    struct stat st;
    *out = NULL;
    *mode = -1;
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
        *mode = (int)(st.st_mode & 0777);
    } else if (!S_ISREG(st.st_mode)) {
        return wk_fail(e, "%s: exists and is not a regular file (%s); refusing to replace it",
                       path, S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
    } else {
        *out = strdup(path);
        *mode = (int)(st.st_mode & 0777);
    }
    return *out ? 0 : wk_fail(e, "%s: out of memory", path);
}

static int list_leftovers(const char *path, wk_leftover **out, size_t *n, wk_err *e);

#define TEMP_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define TEMP_SUFFIX ".tmp.XXXXXX"

/* Creates the file named by tmpl, whose last 6 characters are replaced by random letters
 * and digits (as mkostemp does), with open(2)'s mode 0666: unlike mkostemp's fixed 0600, the
 * umask and a default ACL then decide, as for any file the user creates. O_EXCL: an
 * existing name (a symbolic link included) is never opened. */
static int create_temp(char *tmpl)
{
    char *x = tmpl + strlen(tmpl) - 6;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid() << 40;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        r += 0x9e3779b97f4a7c15ull; /* splitmix64 */
        uint64_t z = r;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++, z /= 62)
            x[i] = TEMP_CHARS[z % 62];
        int fd = open(tmpl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int wk_out_open(wk_outfile *o, const char *path, wk_err *e)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    int mode;
    if (resolve_output(path, &o->final_path, &mode, e) != 0)
        return -1;
    /* before our own temp file exists, so it is never listed */
    if (list_leftovers(o->final_path, &o->leftovers, &o->n_leftovers, NULL) != 0)
        o->n_leftovers = 0;
    size_t n = strlen(o->final_path) + sizeof TEMP_SUFFIX;
    o->tmp_path = malloc(n);
    o->buf = malloc(WK_OUT_BUF);
    if (!o->tmp_path || !o->buf) {
        wk_out_abort(o);
        return wk_fail(e, "%s: out of memory", path);
    }
    snprintf(o->tmp_path, n, "%s" TEMP_SUFFIX, o->final_path);
    /* the cleanup signals wait while the file is created and registered, so it is never
     * there unregistered, and a half-chosen name is never unlinked */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = 0;
    if ((o->fd = create_temp(o->tmp_path)) < 0)
        err = errno;
    else if (pending_set(NULL, o->tmp_path) != 0) {
        unlink(o->tmp_path);
        close(o->fd);
        o->fd = -1;
        err = EMFILE;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (o->fd < 0) {
        free(o->tmp_path);
        o->tmp_path = NULL;
        wk_out_abort(o);
        if (err == EMFILE)
            return wk_fail(e, "%s: more than %d outputs at once", path, WK_OUT_MAX_PENDING);
        return wk_fail(e, "%s: cannot create temporary output: %s", path, strerror(err));
    }
    /* held until the file is closed: another run looking for leftovers passes over it */
    flock(o->fd, LOCK_EX | LOCK_NB);
    /* a file being replaced keeps its permissions (an error is harmless: the new file
     * then has the umask's) */
    if (mode >= 0)
        fchmod(o->fd, (mode_t)mode);
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
    while (n > 0) {
        if (o->buf_len == 0 && n >= WK_OUT_BUF) { /* no extra copy for large writes */
            /* at most 1 GiB a call: Linux writes at most 0x7ffff000 bytes per write(2), and
             * a short write would leave the rest unaligned */
            size_t k = n < (1u << 30) ? n / WK_OUT_ALIGN * WK_OUT_ALIGN : (size_t)1 << 30;
            if (write_all(o->fd, src, k, o->final_path, e) != 0)
                return -1;
            src += k;
            n -= k;
            continue;
        }
        size_t k = WK_OUT_BUF - o->buf_len < n ? WK_OUT_BUF - o->buf_len : n;
        memcpy(o->buf + o->buf_len, src, k);
        o->buf_len += k;
        src += k;
        n -= k;
        if (o->buf_len == WK_OUT_BUF && out_flush(o, e) != 0)
            return -1;
    }
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
    /* bytes still in the buffer are flushed first; a patch wholly before them leaves the
     * buffer (and the alignment of the writes after it) alone */
    if (off + n > o->pos - o->buf_len && out_flush(o, e) != 0)
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

int wk_out_close(wk_outfile *o, wk_err *e)
{
    if (o->fd < 0)
        return 0;
    if (out_flush(o, e) != 0)
        return -1;
    int rc = close(o->fd);
    o->fd = -1;
    free(o->buf);
    o->buf = NULL;
    if (rc != 0)
        return wk_fail(e, "%s: close failed: %s", o->final_path, strerror(errno));
    return 0;
}

int wk_out_commit(wk_outfile *o, wk_err *e)
{
    if (wk_out_close(o, e) != 0)
        return -1;
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
    wk_leftovers_free(o->leftovers, o->n_leftovers);
    o->tmp_path = o->final_path = NULL;
    o->buf = NULL;
    o->buf_len = 0;
    o->leftovers = NULL;
    o->n_leftovers = 0;
}

/* ---- leftovers of interrupted runs ---- */

/* "<base>.tmp." followed by 6 of TEMP_CHARS, nothing more. */
static bool is_temp_name(const char *name, const char *base, size_t base_len)
{
    if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, ".tmp.", 5) != 0)
        return false;
    const char *x = name + base_len + 5;
    return strlen(x) == 6 && strspn(x, TEMP_CHARS) == 6;
}

/* True when some process holds a lock on the file (a run writing it now). */
static bool in_use(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return true; /* cannot tell: say nothing about it */
    bool busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd);
    return busy;
}

static int cmp_leftover(const void *a, const void *b)
{
    return strcmp(((const wk_leftover *)a)->path, ((const wk_leftover *)b)->path);
}

/* wk_out_leftovers for a path already resolved by resolve_output. */
static int list_leftovers(const char *path, wk_leftover **out, size_t *n, wk_err *e)
{
    *out = NULL;
    *n = 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    if (!dir)
        return wk_fail(e, "%s: out of memory", path);
    DIR *d = opendir(dir);
    if (!d) {
        int err = errno;
        free(dir);
        return wk_fail(e, "%s: cannot list the output's directory: %s", path, strerror(err));
    }
    size_t base_len = strlen(base), cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!is_temp_name(de->d_name, base, base_len))
            continue;
        char *p = slash ? wk_path_join(dir, de->d_name) : strdup(de->d_name);
        struct stat st;
        if (!p) {
            rc = wk_fail(e, "%s: out of memory", path);
        } else if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || is_pending(p) || in_use(p)) {
            free(p);
        } else {
            if (*n == cap) {
                cap = cap ? 2 * cap : 4;
                wk_leftover *nl = realloc(*out, cap * sizeof *nl);
                if (!nl) {
                    free(p);
                    rc = wk_fail(e, "%s: out of memory", path);
                    break;
                }
                *out = nl;
            }
            (*out)[(*n)++] = (wk_leftover){p, (uint64_t)st.st_size};
        }
    }
    closedir(d);
    free(dir);
    if (rc != 0) {
        wk_leftovers_free(*out, *n);
        *out = NULL;
        *n = 0;
        return -1;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_leftover);
    return 0;
}

int wk_out_leftovers(const char *path, wk_leftover **out, size_t *n, wk_err *e)
{
    char *real;
    int mode;
    *out = NULL;
    *n = 0;
    if (resolve_output(path, &real, &mode, e) != 0)
        return -1;
    int rc = list_leftovers(real, out, n, e);
    free(real);
    return rc;
}

void wk_leftovers_free(wk_leftover *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].path);
    free(l);
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
