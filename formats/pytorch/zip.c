/* The zip container torch.save writes since PyTorch 1.6 (torch/serialization.py,
 * caffe2/serialize/inline_container.cc; zip format: PKWARE APPNOTE.TXT 4.3).
 *
 * Layout: "<root>/data.pkl" (the pickle), "<root>/data/<key>" (one entry per storage, raw
 * little-endian bytes, stored and 64-byte aligned by torch), "<root>/version" and, since
 * 2.0, "<root>/byteorder" ("little"; big-endian files are refused).
 *
 * Design: libarchive reads entries but does not say where an entry's bytes lie in the file,
 * and stored tensor data should be used in place from the map. So this file parses the
 * central directory itself (EOCD, ZIP64 EOCD and zip64 extra fields), validates every
 * entry against its local header (signature, same name, data inside the file, no
 * encryption, method stored or deflate, stored size = compressed size, no path traversal,
 * no duplicate names) and maps stored entries in place, checking their CRC-32 (zlib) the
 * first time they are read. Deflated entries (a zip rewritten with ZIP_DEFLATED) go
 * through libarchive into the view's owned buffer: the claimed size must be plausible for
 * deflate (at most WK_PT_MAX_INFLATE_RATIO times the compressed size), the output may not
 * exceed it, and its CRC-32 must match the central directory's. */
#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/fileio.h"
#include "common/le.h"
#include "common/strutil.h"
#include "formats/pytorch/pytorch.h"

typedef struct zentry {
    char *name;
    uint16_t method, flags;
    uint32_t crc;
    uint64_t csize, usize, local, data;
    int crc_ok; /* set once a stored entry's CRC was verified (atomic) */
} zentry;

struct wk_pt_zip {
    size_t n;
    zentry *entries;
    struct zname { const char *name; size_t idx; } *by_name; /* sorted by name */
    char root[256];
    size_t pickle;   /* entry index of data.pkl */
};

void wk_pt_zip_free(wk_pt_zip *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->by_name);
    free(z);
}

/* ---- the central directory ---- */

/* Start offset, size and entry count of the central directory. */
static int find_cd(const wk_pt_file *f, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count,
                   wk_err *e)
{
    const uint8_t *m = f->map.data;
    uint64_t size = f->map.size;
    if (size < 22)
        return wk_fail(e, "%s: too small for a zip archive", f->path);
    uint64_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, eocd = UINT64_MAX;
    for (uint64_t p = size - 22 + 1; p-- > lo;)
        if (memcmp(m + p, "PK\x05\x06", 4) == 0) {
            eocd = p;
            break;
        }
    if (eocd == UINT64_MAX)
        return wk_fail(e, "%s: no zip end-of-central-directory record", f->path);
    if (wk_ld_le(m + eocd + 4, 2) != 0 || wk_ld_le(m + eocd + 6, 2) != 0)
        return wk_fail(e, "%s: multi-disk zip archives are not supported", f->path);
    *count = wk_ld_le(m + eocd + 10, 2);
    *cd_size = wk_ld_le(m + eocd + 12, 4);
    *cd_off = wk_ld_le(m + eocd + 16, 4);
    if (*count == 0xFFFF || *cd_size == 0xFFFFFFFF || *cd_off == 0xFFFFFFFF) {
        if (eocd < 20 || memcmp(m + eocd - 20, "PK\x06\x07", 4) != 0)
            return wk_fail(e, "%s offset %llu: zip64 locator missing", f->path,
                           (unsigned long long)eocd);
        uint64_t z64 = wk_ld_le(m + eocd - 20 + 8, 8);
        if (size < 56 || z64 > size - 56 || memcmp(m + z64, "PK\x06\x06", 4) != 0)
            return wk_fail(e, "%s offset %llu: bad zip64 end-of-central-directory record",
                           f->path, (unsigned long long)z64);
        *count = wk_ld_le(m + z64 + 32, 8);
        *cd_size = wk_ld_le(m + z64 + 40, 8);
        *cd_off = wk_ld_le(m + z64 + 48, 8);
    }
    uint64_t end;
    if (wk_add_u64(*cd_off, *cd_size, &end) != 0 || end > size)
        return wk_fail(e, "%s: zip central directory (offset %llu, %llu bytes) lies outside the "
                          "file (%llu bytes)", f->path, (unsigned long long)*cd_off,
                       (unsigned long long)*cd_size, (unsigned long long)size);
    if (*count > 2ull * WK_PT_MAX_TENSORS + 16 || *count > *cd_size / 46)
        return wk_fail(e, "%s: zip central directory claims %llu entries", f->path,
                       (unsigned long long)*count);
    return 0;
}

/* A relative path that stays inside the archive, in printable ASCII. */
static bool name_safe(const char *n)
{
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p > 0x7e)
            return false;
    return wk_rel_path_safe(n);
}

/* The zip64 extra field (id 1) replaces the 32-bit fields that read 0xFFFFFFFF. */
static int zip64_extra(const uint8_t *x, uint64_t xlen, zentry *z)
{
    for (uint64_t p = 0; p + 4 <= xlen;) {
        uint64_t id = wk_ld_le(x + p, 2), len = wk_ld_le(x + p + 2, 2);
        if (p + 4 + len > xlen)
            return -1;
        if (id == 1) {
            uint64_t q = p + 4;
            uint64_t *fields[3] = {&z->usize, &z->csize, &z->local};
            for (int i = 0; i < 3; i++)
                if (*fields[i] == 0xFFFFFFFF) {
                    if (q + 8 > p + 4 + len)
                        return -1;
                    *fields[i] = wk_ld_le(x + q, 8);
                    q += 8;
                }
        }
        p += 4 + len;
    }
    return 0;
}

static int parse_entry(const wk_pt_file *f, uint64_t *pos, uint64_t cd_end, zentry *z, wk_err *e)
{
    const uint8_t *m = f->map.data;
    uint64_t p = *pos;
    if (cd_end - p < 46 || memcmp(m + p, "PK\x01\x02", 4) != 0)
        return wk_fail(e, "%s offset %llu: expected a zip central directory entry", f->path,
                       (unsigned long long)p);
    uint64_t nlen = wk_ld_le(m + p + 28, 2), xlen = wk_ld_le(m + p + 30, 2),
             clen = wk_ld_le(m + p + 32, 2);
    if (cd_end - p - 46 < nlen + xlen + clen)
        return wk_fail(e, "%s offset %llu: zip entry overruns the central directory", f->path,
                       (unsigned long long)p);
    z->flags = (uint16_t)wk_ld_le(m + p + 8, 2);
    z->method = (uint16_t)wk_ld_le(m + p + 10, 2);
    z->crc = (uint32_t)wk_ld_le(m + p + 16, 4);
    z->csize = wk_ld_le(m + p + 20, 4);
    z->usize = wk_ld_le(m + p + 24, 4);
    z->local = wk_ld_le(m + p + 42, 4);
    z->name = strndup((const char *)m + p + 46, nlen);
    if (!z->name)
        return wk_fail(e, "%s: out of memory", f->path);
    if (strlen(z->name) != nlen || !name_safe(z->name)) {
        char esc[300];
        return wk_fail(e, "%s offset %llu: zip entry name '%s' is unsafe (absolute, '..', "
                          "backslash or not printable ASCII)", f->path, (unsigned long long)p,
                       wk_pk_escape((const char *)m + p + 46, nlen, esc, sizeof esc));
    }
    if (zip64_extra(m + p + 46 + nlen, xlen, z) != 0)
        return wk_fail(e, "%s offset %llu: bad zip64 extra field", f->path, (unsigned long long)p);
    if (z->flags & 1)
        return wk_fail(e, "%s: zip entry '%s' is encrypted", f->path, z->name);
    *pos = p + 46 + nlen + xlen + clen;
    /* the local header */
    uint64_t l = z->local;
    if (l > f->map.size || f->map.size - l < 30 || memcmp(m + l, "PK\x03\x04", 4) != 0)
        return wk_fail(e, "%s offset %llu: no zip local header for entry '%s'", f->path,
                       (unsigned long long)l, z->name);
    uint64_t lnlen = wk_ld_le(m + l + 26, 2), lxlen = wk_ld_le(m + l + 28, 2);
    if (lnlen != nlen || f->map.size - l - 30 < lnlen + lxlen ||
        memcmp(m + l + 30, z->name, nlen) != 0)
        return wk_fail(e, "%s offset %llu: zip local header does not match entry '%s'", f->path,
                       (unsigned long long)l, z->name);
    z->data = l + 30 + lnlen + lxlen;
    if (z->csize > f->map.size - z->data)
        return wk_fail(e, "%s: zip entry '%s' (%llu bytes at offset %llu) runs past the end of "
                          "the file", f->path, z->name, (unsigned long long)z->csize,
                       (unsigned long long)z->data);
    if (z->method == 0 && z->csize != z->usize)
        return wk_fail(e, "%s: stored zip entry '%s' has compressed size %llu but size %llu",
                       f->path, z->name, (unsigned long long)z->csize, (unsigned long long)z->usize);
    if (z->method == 8 && z->usize / WK_PT_MAX_INFLATE_RATIO > z->csize)
        return wk_fail(e, "%s: zip entry '%s' claims %llu bytes from %llu compressed bytes, more "
                          "than deflate can expand (a zip bomb?)", f->path, z->name,
                       (unsigned long long)z->usize, (unsigned long long)z->csize);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct zname *)a)->name, ((const struct zname *)b)->name);
}

/* ---- the archive root and opening ---- */

static long zip_find(const wk_pt_zip *z, const char *name)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(z->by_name[mid].name, name);
        if (c == 0)
            return (long)z->by_name[mid].idx;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Finds "<root>/data.pkl" (exactly one folder deep) and checks "<root>/byteorder". */
static int find_root(const wk_pt_file *f, wk_pt_zip *z, wk_err *e)
{
    long found = -1;
    for (size_t i = 0; i < z->n; i++) {
        const char *n = z->entries[i].name, *slash = strchr(n, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0)
            continue;
        if (found >= 0)
            return wk_fail(e, "%s: zip holds two data.pkl entries ('%s', '%s')", f->path,
                           z->entries[found].name, n);
        if ((size_t)(slash - n) >= sizeof z->root)
            return wk_fail(e, "%s: zip root folder name is too long", f->path);
        found = (long)i;
        memcpy(z->root, n, (size_t)(slash - n));
        z->root[slash - n] = 0;
    }
    if (found < 0)
        return wk_fail(e, "%s: zip archive has no '<name>/data.pkl' entry: not a torch.save "
                          "checkpoint", f->path);
    z->pickle = (size_t)found;
    char bo[300];
    snprintf(bo, sizeof bo, "%s/byteorder", z->root);
    long b = zip_find(z, bo);
    if (b >= 0) {
        const zentry *be = &z->entries[b];
        if (be->method != 0 || be->usize != 6 || memcmp(f->map.data + be->data, "little", 6) != 0)
            return wk_fail(e, "%s: entry '%s' is not \"little\": only little-endian checkpoints "
                              "are supported", f->path, bo);
    }
    return 0;
}

int wk_pt_zip_open(wk_pt_file *f, wk_pt_zip **out, wk_err *e)
{
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    *out = NULL;
    if (find_cd(f, &cd_off, &cd_size, &count, e) != 0)
        return -1;
    wk_pt_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->entries = calloc(count ? count : 1, sizeof *z->entries)) ||
        !(z->by_name = calloc(count ? count : 1, sizeof *z->by_name))) {
        wk_pt_zip_free(z);
        return wk_fail(e, "%s: out of memory", f->path);
    }
    uint64_t pos = cd_off;
    for (uint64_t i = 0; i < count; i++) {
        z->n = i + 1;
        if (parse_entry(f, &pos, cd_off + cd_size, &z->entries[i], e) != 0) {
            wk_pt_zip_free(z);
            return -1;
        }
        z->by_name[i].name = z->entries[i].name;
        z->by_name[i].idx = i;
    }
    qsort(z->by_name, z->n, sizeof *z->by_name, cmp_name);
    for (size_t i = 1; i < z->n; i++)
        if (strcmp(z->by_name[i].name, z->by_name[i - 1].name) == 0) {
            wk_fail(e, "%s: zip entry '%s' appears twice", f->path, z->by_name[i].name);
            wk_pt_zip_free(z);
            return -1;
        }
    if (find_root(f, z, e) != 0) {
        wk_pt_zip_free(z);
        return -1;
    }
    *out = z;
    return 0;
}

/* ---- entry data: deflated or stored, CRC-checked ---- */

/* Inflates entry ze through libarchive into a new buffer of exactly ze->usize bytes. */
static int inflate_entry(const wk_pt_file *f, const zentry *ze, uint8_t **out, wk_err *e)
{
    *out = NULL;
    struct archive *a = archive_read_new();
    if (!a)
        return wk_fail(e, "%s: out of memory", f->path);
    archive_read_support_format_zip(a);
    int rc = -1;
    uint8_t *buf = NULL;
    if (archive_read_open_memory(a, f->map.data, f->map.size) != ARCHIVE_OK) {
        wk_fail(e, "%s: libarchive: %s", f->path, archive_error_string(a));
        goto done;
    }
    struct archive_entry *ent;
    int r;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK &&
           strcmp(archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "", ze->name) != 0)
        ;
    if (r != ARCHIVE_OK) {
        wk_fail(e, "%s: libarchive cannot find zip entry '%s': %s", f->path, ze->name,
                r == ARCHIVE_EOF ? "end of archive" : archive_error_string(a));
        goto done;
    }
    buf = malloc(ze->usize ? ze->usize : 1);
    if (!buf) {
        wk_fail(e, "%s: out of memory for %llu bytes of zip entry '%s'", f->path,
                (unsigned long long)ze->usize, ze->name);
        goto done;
    }
    uint64_t got = 0;
    for (;;) {
        uint8_t tmp;
        uint8_t *dst = got < ze->usize ? buf + got : &tmp;
        size_t want = got < ze->usize ? (size_t)(ze->usize - got) : 1;
        la_ssize_t n = archive_read_data(a, dst, want);
        if (n < 0) {
            wk_fail(e, "%s: zip entry '%s': %s", f->path, ze->name, archive_error_string(a));
            goto done;
        }
        if (n == 0)
            break;
        if (got >= ze->usize) {
            wk_fail(e, "%s: zip entry '%s' inflates to more than its declared %llu bytes",
                    f->path, ze->name, (unsigned long long)ze->usize);
            goto done;
        }
        got += (uint64_t)n;
    }
    if (got != ze->usize) {
        wk_fail(e, "%s: zip entry '%s' inflates to %llu bytes, declared %llu", f->path, ze->name,
                (unsigned long long)got, (unsigned long long)ze->usize);
        goto done;
    }
    if (crc32_z(0, buf, got) != ze->crc) {
        wk_fail(e, "%s: zip entry '%s': CRC-32 mismatch", f->path, ze->name);
        goto done;
    }
    *out = buf;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    archive_read_free(a);
    return rc;
}

/* CRC-32 of a stored entry in the map: pieces summed in parallel and joined with
 * crc32_combine64 (zlib). Pieces of an entry over CRC_DROP_BYTES are dropped from memory once
 * summed, so checking a huge tensor does not make it all resident at once. */
#define CRC_PIECE (8ull << 20)
#define CRC_DROP_BYTES (64ull << 20)

static uint32_t crc32_mapped(const uint8_t *p, uint64_t n)
{
    if (n <= CRC_PIECE)
        return (uint32_t)crc32_z(0, p, n);
    uint64_t pieces = (n + CRC_PIECE - 1) / CRC_PIECE;
    uLong *crc = malloc(pieces * sizeof *crc);
    if (!crc) /* no memory for the list: one serial pass gives the same sum */
        return (uint32_t)crc32_z(0, p, n);
    bool drop = n > CRC_DROP_BYTES;
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < pieces; i++) {
        uint64_t len = i + 1 < pieces ? CRC_PIECE : n - i * CRC_PIECE;
        crc[i] = crc32_z(0, p + i * CRC_PIECE, len);
        if (drop)
            wk_map_drop(p + i * CRC_PIECE, len);
    }
    uLong sum = crc[0];
    for (uint64_t i = 1; i < pieces; i++)
        sum = crc32_combine64(sum, crc[i], (z_off64_t)(i + 1 < pieces ? CRC_PIECE : n - i * CRC_PIECE));
    free(crc);
    return (uint32_t)sum;
}

/* A stored entry's bytes, CRC-checked the first time. */
static int stored_entry(const wk_pt_file *f, zentry *ze, const uint8_t **data, wk_err *e)
{
    *data = f->map.data + ze->data;
    if (__atomic_load_n(&ze->crc_ok, __ATOMIC_ACQUIRE))
        return 0;
    if (crc32_mapped(*data, ze->usize) != ze->crc)
        return wk_fail(e, "%s: zip entry '%s' (offset %llu): CRC-32 mismatch", f->path, ze->name,
                       (unsigned long long)ze->data);
    __atomic_store_n(&ze->crc_ok, 1, __ATOMIC_RELEASE);
    return 0;
}

static int entry_bytes(wk_pt_file *f, zentry *ze, const uint8_t **data, uint8_t **owned,
                       wk_err *e)
{
    *owned = NULL;
    if (ze->method == 0)
        return stored_entry(f, ze, data, e);
    if (ze->method != 8)
        return wk_fail(e, "%s: zip entry '%s' uses compression method %u; only stored and "
                          "deflate are supported", f->path, ze->name, ze->method);
    if (inflate_entry(f, ze, owned, e) != 0)
        return -1;
    *data = *owned;
    return 0;
}

/* ---- what the PyTorch reader asks for ---- */

int wk_pt_zip_pickle(wk_pt_file *f, const uint8_t **data, uint64_t *len, wk_err *e)
{
    zentry *ze = &f->zip->entries[f->zip->pickle];
    if (ze->usize > WK_PT_MAX_PICKLE_ENTRY)
        return wk_fail(e, "%s: '%s' is %llu bytes; at most %llu are supported", f->path,
                       ze->name, (unsigned long long)ze->usize,
                       (unsigned long long)WK_PT_MAX_PICKLE_ENTRY);
    uint8_t *owned;
    if (entry_bytes(f, ze, data, &owned, e) != 0)
        return -1;
    if (owned) {
        f->buf = owned;
        f->buf_len = ze->usize;
    }
    *len = ze->usize;
    return 0;
}

int wk_pt_zip_locate(wk_pt_file *f, wk_err *e)
{
    char name[400];
    for (size_t i = 0; i < f->n_storages; i++) {
        wk_pt_storage *s = &f->storages[i];
        snprintf(name, sizeof name, "%s/data/%s", f->zip->root, s->key);
        long k = zip_find(f->zip, name);
        if (k < 0)
            return wk_fail(e, "%s: storage '%s' has no zip entry '%s'", f->path, s->key, name);
        const zentry *ze = &f->zip->entries[k];
        if (ze->usize != s->nbytes)
            return wk_fail(e, "%s: zip entry '%s' holds %llu bytes; storage '%s' needs %llu "
                              "(%llu %s elements)", f->path, name, (unsigned long long)ze->usize,
                           s->key, (unsigned long long)s->nbytes, (unsigned long long)s->numel,
                           wk_type(s->dtype)->torch_name);
        s->entry = (size_t)k;
        s->where = ze->method == 0 ? WK_PT_MAPPED : WK_PT_ZIP_DEFLATED;
        s->offset = ze->data;
        s->located = true;
    }
    return 0;
}

int wk_pt_zip_storage(wk_pt_file *f, const wk_pt_storage *s, const uint8_t **data,
                      uint8_t **owned, wk_err *e)
{
    return entry_bytes(f, &f->zip->entries[s->entry], data, owned, e);
}
