/* Output files (common/fileio.h): the permissions a new or replacing output gets, closing
 * before the rename, the limit on outputs at once, and the leftovers of killed runs
 * (named like our temp files, not locked, not ours, regular files only). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

static char fio_dir[64];

static void fio_setup(void)
{
    snprintf(fio_dir, sizeof fio_dir, "/tmp/wk-fileio-XXXXXX");
    cr_assert_not_null(mkdtemp(fio_dir));
}

static void fio_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fio_dir);
    cr_assert_eq(system(cmd), 0);
}

static char *fio_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", fio_dir, name);
    return p;
}

static void fio_touch(const char *name, size_t size, mode_t mode)
{
    int fd = open(fio_path(name), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static mode_t fio_mode(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_mode & 07777;
}

static void fio_write(const char *path, const char *text)
{
    wk_outfile o;
    wk_err e;
    cr_assert_eq(wk_out_open(&o, path, &e), 0, "%s", e.msg);
    cr_assert_eq(wk_out_write(&o, text, strlen(text), &e), 0, "%s", e.msg);
    cr_assert_eq(wk_out_commit(&o, &e), 0, "%s", e.msg);
}

TestSuite(fileio, .init = fio_setup, .fini = fio_teardown);

Test(fileio, a_new_output_gets_0666_less_the_umask)
{
    static const mode_t masks[] = {022, 077, 002, 027, 0};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "new%zu.gguf", i);
        umask(masks[i]);
        fio_write(fio_path(name), "x");
        cr_assert_eq(fio_mode(fio_path(name)), 0666 & ~masks[i], "umask %03o",
                     (unsigned)masks[i]);
    }
}

Test(fileio, a_replaced_output_keeps_its_permissions)
{
    umask(022);
    static const mode_t modes[] = {0600, 0640, 0755, 0444};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "old%zu.gguf", i);
        fio_touch(name, 3, modes[i]);
        fio_write(fio_path(name), "new");
        cr_assert_eq(fio_mode(fio_path(name)), modes[i]);
    }
}

Test(fileio, the_temp_file_is_named_after_the_output_and_locked)
{
    wk_outfile o;
    wk_err e;
    cr_assert_eq(wk_out_open(&o, fio_path("m.gguf"), &e), 0, "%s", e.msg);
    const char *x = o.tmp_path + strlen(fio_path("m.gguf"));
    cr_assert_eq(strncmp(x, ".tmp.", 5), 0, "%s", o.tmp_path);
    cr_assert_eq(strlen(x + 5), 6);
    cr_assert_eq(strspn(x + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                 6);
    int fd = open(o.tmp_path, O_RDONLY);
    cr_assert_neq(flock(fd, LOCK_SH | LOCK_NB), 0, "another open file sees the lock");
    close(fd);
    wk_out_abort(&o);
    cr_assert_eq(access(fio_path("m.gguf"), F_OK), -1);
}

Test(fileio, close_then_commit_or_abort)
{
    wk_outfile a, b;
    wk_err e;
    cr_assert_eq(wk_out_open(&a, fio_path("a"), &e), 0);
    cr_assert_eq(wk_out_open(&b, fio_path("b"), &e), 0);
    cr_assert_eq(wk_out_write(&a, "aa", 2, &e), 0);
    cr_assert_eq(wk_out_write(&b, "bb", 2, &e), 0);
    cr_assert_eq(wk_out_close(&a, &e), 0);
    cr_assert_eq(wk_out_close(&b, &e), 0);
    cr_assert_eq(wk_out_close(&b, &e), 0, "a second close does nothing");
    char *tmp_b = strdup(b.tmp_path);
    cr_assert_eq(access(tmp_b, F_OK), 0, "closed, the temp file waits");
    cr_assert_eq(wk_out_commit(&a, &e), 0, "%s", e.msg);
    wk_out_abort(&b);
    cr_assert_eq(access(tmp_b, F_OK), -1);
    cr_assert_eq(access(fio_path("b"), F_OK), -1);
    FILE *f = fopen(fio_path("a"), "rb");
    char buf[8] = {0};
    cr_assert_eq(fread(buf, 1, sizeof buf, f), 2);
    fclose(f);
    cr_assert_str_eq(buf, "aa");
    free(tmp_b);
}

Test(fileio, leftovers_are_temp_names_of_that_output_only)
{
    fio_touch("k.gguf.tmp.21UKnf", 1500, 0600);
    fio_touch("k.gguf.tmp.AAAAAA", 0, 0644);
    fio_touch("k.gguf.tmp.21UKn", 1, 0644);    /* 5 characters */
    fio_touch("k.gguf.tmp.21UKnf7", 1, 0644);  /* 7 */
    fio_touch("k.gguf.tmp.21-Knf", 1, 0644);   /* not a mkostemp character */
    fio_touch("xk.gguf.tmp.21UKnf", 1, 0644);  /* another output */
    fio_touch("k.gguf.tmp.21UKnf.x", 1, 0644);
    cr_assert_eq(mkdir(fio_path("k.gguf.tmp.dirdir"), 0755), 0);
    cr_assert_eq(symlink("k.gguf.tmp.21UKnf", fio_path("k.gguf.tmp.linkkk")), 0);
    wk_leftover *l;
    size_t n;
    wk_err e;
    cr_assert_eq(wk_out_leftovers(fio_path("k.gguf"), &l, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(l[0].path, fio_path("k.gguf.tmp.21UKnf"));
    cr_assert_eq(l[0].size, 1500);
    cr_assert_str_eq(l[1].path, fio_path("k.gguf.tmp.AAAAAA"));
    cr_assert_eq(l[1].size, 0);
    wk_leftovers_free(l, n);

    /* wk_out_open finds the same, and never lists its own temp file */
    wk_outfile o;
    cr_assert_eq(wk_out_open(&o, fio_path("k.gguf"), &e), 0, "%s", e.msg);
    cr_assert_eq(o.n_leftovers, 2);
    cr_assert_str_eq(o.leftovers[1].path, fio_path("k.gguf.tmp.AAAAAA"));
    cr_assert_eq(wk_out_leftovers(fio_path("k.gguf"), &l, &n, &e), 0);
    cr_assert_eq(n, 2, "an open output's temp file is locked");
    wk_leftovers_free(l, n);
    cr_assert_eq(wk_out_close(&o, &e), 0);
    cr_assert_eq(wk_out_leftovers(fio_path("k.gguf"), &l, &n, &e), 0);
    cr_assert_eq(n, 2, "a closed one still belongs to this process");
    wk_leftovers_free(l, n);
    wk_out_abort(&o);
    cr_assert_eq(access(fio_path("k.gguf.tmp.21UKnf"), F_OK), 0, "leftovers are never removed");
}

Test(fileio, a_locked_temp_file_is_in_use)
{
    fio_touch("m.gguf.tmp.Locked", 10, 0644);
    int fd = open(fio_path("m.gguf.tmp.Locked"), O_RDONLY);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    wk_leftover *l;
    size_t n;
    wk_err e;
    cr_assert_eq(wk_out_leftovers(fio_path("m.gguf"), &l, &n, &e), 0);
    cr_assert_eq(n, 0);
    close(fd);
    cr_assert_eq(wk_out_leftovers(fio_path("m.gguf"), &l, &n, &e), 0);
    cr_assert_eq(n, 1);
    wk_leftovers_free(l, n);
}

Test(fileio, leftovers_in_the_current_directory_and_through_a_link)
{
    fio_touch("real.gguf", 1, 0644);
    fio_touch("real.gguf.tmp.qwerty", 7, 0644);
    cr_assert_eq(symlink(fio_path("real.gguf"), fio_path("link.gguf")), 0);
    cr_assert_eq(chdir(fio_dir), 0);
    wk_leftover *l;
    size_t n;
    wk_err e;
    cr_assert_eq(wk_out_leftovers("real.gguf", &l, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(l[0].path, "real.gguf.tmp.qwerty");
    wk_leftovers_free(l, n);
    cr_assert_eq(wk_out_leftovers("link.gguf", &l, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_assert(strstr(l[0].path, "/real.gguf.tmp.qwerty"), "%s", l[0].path);
    wk_leftovers_free(l, n);
    cr_assert_eq(wk_out_leftovers("nodir/x.gguf", &l, &n, &e), -1);
    cr_assert(strstr(e.msg, "nodir/x.gguf: cannot list the output's directory"), "%s", e.msg);
}

Test(fileio, too_many_outputs_at_once_is_an_error)
{
    static wk_outfile o[WK_OUT_MAX_PENDING + 1];
    wk_err e;
    char name[32];
    /* 64 folders of 64: each open lists only its own folder for leftovers */
    for (int i = 0; i < WK_OUT_MAX_PENDING; i++) {
        snprintf(name, sizeof name, "d%d", i / 64);
        if (i % 64 == 0)
            cr_assert_eq(mkdir(fio_path(name), 0700), 0);
        snprintf(name, sizeof name, "d%d/o%d", i / 64, i);
        cr_assert_eq(wk_out_open(&o[i], fio_path(name), &e), 0, "%d: %s", i, e.msg);
        cr_assert_eq(wk_out_close(&o[i], &e), 0);
    }
    cr_assert_eq(wk_out_open(&o[WK_OUT_MAX_PENDING], fio_path("last"), &e), -1);
    cr_assert(strstr(e.msg, "more than 4096 outputs at once"), "%s", e.msg);
    for (int i = 0; i < WK_OUT_MAX_PENDING; i++)
        wk_out_abort(&o[i]);
    for (int d = 0; d < WK_OUT_MAX_PENDING / 64; d++) {
        snprintf(name, sizeof name, "d%d", d);
        cr_assert_eq(rmdir(fio_path(name)), 0, "every temp file in %s was removed", name);
    }
    cr_assert_eq(access(fio_path("last"), F_OK), -1);
}

/* Bytes written through wk_out_write in pieces of every size, some larger than its buffer,
 * then patches with wk_out_pwrite, one before the bytes still buffered and one into them:
 * the file holds them in order. */
Test(fileio, pieces_of_any_size_arrive_in_order)
{
    static const size_t sizes[] = {1, 4095, 3u << 20, 9u << 20, (17u << 20) + 3, 100, 8u << 20,
                                   (2u << 20) - 1, 1};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    uint8_t *want = malloc(total);
    for (size_t i = 0; i < total; i++)
        want[i] = (uint8_t)(i * 2654435761u >> 13);
    wk_outfile o;
    wk_err e;
    cr_assert_eq(wk_out_open(&o, fio_path("pieces"), &e), 0, "%s", e.msg);
    size_t at = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        cr_assert_eq(wk_out_write(&o, want + at, sizes[i], &e), 0, "%s", e.msg);
        at += sizes[i];
        cr_assert_eq(o.pos, at);
    }
    memset(want + 5000, 0xab, 300); /* before the buffered bytes: no flush */
    cr_assert_eq(wk_out_pwrite(&o, want + 5000, 300, 5000, &e), 0, "%s", e.msg);
    memset(want + total - 100, 0xcd, 50); /* into them: flushed first */
    cr_assert_eq(wk_out_pwrite(&o, want + total - 100, 50, total - 100, &e), 0, "%s", e.msg);
    cr_assert_eq(o.pos, total);
    cr_assert_eq(wk_out_commit(&o, &e), 0, "%s", e.msg);
    FILE *f = fopen(fio_path("pieces"), "rb");
    uint8_t *got = malloc(total + 1);
    cr_assert_eq(fread(got, 1, total + 1, f), total);
    fclose(f);
    cr_assert(memcmp(got, want, total) == 0);
    free(got);
    free(want);
}

/* FilePmdMapped of the mapping at p (kB), from /proc/self/smaps; -1 where not listed */
static long pmd_mapped_kb(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    bool in = false;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (in && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

/* kB of the file at path mapped with 2 MiB pages once mapped for them and read */
static long pmd_mapped_file_kb(const char *path, size_t size)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    cr_assert(p != MAP_FAILED);
    wk_map_prefault(p, size);
    long kb = pmd_mapped_kb(p);
    munmap(p, size);
    return kb;
}

/* The same 24 MiB written in aligned 2 MiB writes and through wk_out_write in pieces of odd
 * sizes: where the kernel caches the first in 2 MiB folios (and a mapping gets them as
 * 2 MiB pages), it caches the second so too (its writes stay aligned). Flushing the buffer
 * wherever a piece overflowed it left most of such a file in small folios. */
Test(fileio, pieces_are_cached_like_aligned_writes)
{
    size_t size = 24u << 20, piece = 1000003;
    uint8_t *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 11);
    int fd = open(fio_path("aligned"), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    cr_assert_geq(fd, 0);
    for (size_t at = 0; at < size; at += 2u << 20)
        cr_assert_eq(write(fd, data + at, 2u << 20), (ssize_t)(2u << 20));
    close(fd);
    wk_outfile o;
    wk_err e;
    cr_assert_eq(wk_out_open(&o, fio_path("pieces"), &e), 0, "%s", e.msg);
    for (size_t at = 0; at < size; at += piece)
        cr_assert_eq(wk_out_write(&o, data + at, size - at < piece ? size - at : piece, &e), 0);
    cr_assert_eq(wk_out_commit(&o, &e), 0, "%s", e.msg);
    free(data);
    long ref = pmd_mapped_file_kb(fio_path("aligned"), size);
    if (ref <= 0)
        cr_skip_test("this kernel or file system maps no cached file with 2 MiB pages");
    long got = pmd_mapped_file_kb(fio_path("pieces"), size);
    cr_expect_geq(got, ref, "%ld kB of the pieces mapped with 2 MiB pages, %ld of the aligned",
                  got, ref);
}
