/*
 * test_storage.c — the torrent byte space over files: a multi-file torrent
 * whose first piece spans a file, an empty file, another file and a pad file,
 * written in odd-sized blocks and with writev and read back; piece hashes;
 * pad files (never created, read as zeros, non-zero writes refused); missing
 * and truncated files; read-only storage; symlinks planted in the download
 * folder; file state for resume; the descriptor cache with more files than
 * it holds; preallocation; runs of pieces hashed with reads that cross piece
 * boundaries; a read-only storage over files the caller lists
 * (symlinks followed, sizes held to the list, the failing file named); and
 * the error classes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/sha.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"
#include "engine/storage.h"
#include "shoal.h"

/* ------------------------------------------------------------------ fixture */

struct tfile {
    const char *path; /* under the torrent name, '/'-separated */
    size_t size;
    int pad;
};

/* A torrent of named files, its data and a temp folder to store it in. */
struct fixture {
    char dir[64];
    shoal_metainfo *m;
    uint8_t *data; /* the whole torrent, zeros in pad ranges */
    size_t total;
};

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = 2463534242u ^ seed * 2654435761u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static void
put_path(struct benc_enc *e, const char *path)
{
    benc_list_begin(e);
    for (;;) {
        const char *slash = strchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) : strlen(path);
        benc_put_str(e, path, n);
        if (!slash)
            break;
        path = slash + 1;
    }
    benc_end(e);
}

/* Builds the torrent "t" over files (or one file named "t" when single),
 * parses it, and makes an empty temp folder. */
static struct fixture *
make_fixture(const struct tfile *files, size_t n, uint32_t plen, int single)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    for (size_t i = 0; i < n; i++)
        fx->total += files[i].size;
    fx->data = calloc(1, fx->total ? fx->total : 1);
    assert_non_null(fx->data);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!files[i].pad)
            fill(fx->data + off, files[i].size, (unsigned)i + 1);
        off += files[i].size;
    }
    size_t npieces = (fx->total + plen - 1) / plen;
    uint8_t *hashes = malloc(npieces * SHA1_LEN);
    assert_non_null(hashes);
    for (size_t p = 0; p < npieces; p++) {
        size_t start = p * plen;
        size_t len = fx->total - start < plen ? fx->total - start : plen;
        assert_int_equal(sha1(fx->data + start, len, hashes + p * SHA1_LEN), 0);
    }

    struct benc_enc e;
    benc_enc_init(&e, 1 << 20);
    benc_dict_begin(&e);
    benc_key(&e, "info");
    benc_dict_begin(&e);
    if (single) {
        benc_key(&e, "length");
        benc_put_int(&e, (int64_t)fx->total);
    } else {
        benc_key(&e, "files");
        benc_list_begin(&e);
        for (size_t i = 0; i < n; i++) {
            benc_dict_begin(&e);
            if (files[i].pad) {
                benc_key(&e, "attr");
                benc_put_cstr(&e, "p");
            }
            benc_key(&e, "length");
            benc_put_int(&e, (int64_t)files[i].size);
            benc_key(&e, "path");
            put_path(&e, files[i].path);
            benc_end(&e);
        }
        benc_end(&e);
    }
    benc_key(&e, "name");
    benc_put_cstr(&e, "t");
    benc_key(&e, "piece length");
    benc_put_int(&e, plen);
    benc_key(&e, "pieces");
    benc_put_str(&e, hashes, npieces * SHA1_LEN);
    benc_end(&e);
    benc_end(&e);
    uint8_t *tor;
    size_t torlen;
    assert_int_equal(benc_enc_finish(&e, &tor, &torlen), 0);
    benc_enc_cleanup(&e);
    struct shoal_perr err = {0};
    int rc = shoal_metainfo_parse(tor, torlen, &fx->m, &err);
    if (rc)
        fail_msg("parse: %s", shoal_perr_text(&err));
    shoal_free(tor);
    free(hashes);

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/shoal-storage-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    return fx;
}

static void
rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void
free_fixture(struct fixture *fx)
{
    rm_tree(fx->dir);
    shoal_metainfo_free(fx->m);
    free(fx->data);
    free(fx);
}

/* Path of rel under the fixture's folder. */
static const char *
at(const struct fixture *fx, const char *rel)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
    return path;
}

static int
file_size(const char *path, off_t *size)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    *size = st.st_size;
    return 0;
}

static struct storage *
open_ok(struct fixture *fx, int flags)
{
    struct storage *s = NULL;
    struct shoal_perr err = {0};
    int rc = storage_open(&s, fx->m, fx->dir, flags, &err);
    if (rc)
        fail_msg("storage_open: %s (%s)", shoal_perr_text(&err), shoal_strerror(rc));
    return s;
}

/* Writes the whole torrent in blocks of `block` bytes. */
static void
write_all(struct storage *s, const struct fixture *fx, size_t block)
{
    for (size_t off = 0; off < fx->total; off += block) {
        size_t n = fx->total - off < block ? fx->total - off : block;
        assert_int_equal(storage_write(s, off, fx->data + off, n), 0);
    }
}

/* a (1000) + empty + b (10) + pad (14) make piece 0 exactly; c and d follow. */
static const struct tfile layout[] = {
    {"a.bin", 1000, 0}, {"sub/empty", 0, 0},    {"sub/b.bin", 10, 0},
    {".pad/14", 14, 1}, {"c/d/c.bin", 2500, 0}, {"d.bin", 100, 0},
};
#define PLEN 1024

/* ------------------------------------------------------------------ tests */

static void
test_round_trip(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    assert_int_equal(fx->m->piece_count, 4);
    struct storage *s = open_ok(fx, 0);
    off_t size;

    /* The empty file exists at once; the others come with their writes. */
    assert_int_equal(file_size(at(fx, "t/sub/empty"), &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(file_size(at(fx, "t/a.bin"), &size), -ENOENT);

    write_all(s, fx, 333); /* blocks that straddle every file boundary */
    uint8_t *back = malloc(fx->total);
    assert_non_null(back);
    assert_int_equal(storage_read(s, 0, back, fx->total), 0);
    assert_memory_equal(back, fx->data, fx->total);

    /* A read that starts inside one file and ends inside another. */
    memset(back, 0xee, fx->total);
    assert_int_equal(storage_read(s, 990, back, 40), 0);
    assert_memory_equal(back, fx->data + 990, 40);

    for (uint32_t p = 0; p < fx->m->piece_count; p++) {
        uint8_t h[SHA1_LEN];
        assert_int_equal(storage_hash_piece(s, p, h), 0);
        assert_memory_equal(h, fx->m->pieces + p * SHA1_LEN, SHA1_LEN);
        assert_int_equal(storage_verify_piece(s, p), 1);
    }
    assert_int_equal(storage_piece_size(s, 0), PLEN);
    assert_int_equal(storage_piece_size(s, 3), fx->total - 3 * PLEN);
    assert_int_equal(storage_piece_size(s, 4), 0);
    assert_int_equal(storage_verify_piece(s, 4), SHOAL_EINVAL);

    /* Every file has its size; the pad file was never made. */
    assert_int_equal(file_size(at(fx, "t/a.bin"), &size), 0);
    assert_int_equal(size, 1000);
    assert_int_equal(file_size(at(fx, "t/c/d/c.bin"), &size), 0);
    assert_int_equal(size, 2500);
    assert_int_equal(file_size(at(fx, "t/.pad"), &size), -ENOENT);
    assert_int_equal(storage_fsync(s), 0);
    storage_close(s);

    /* Read-only, the same data is there to seed. */
    s = open_ok(fx, STORAGE_READONLY);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);
    free(back);
    free_fixture(fx);
}

static void
test_writev(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage *s = open_ok(fx, 0);
    /* Many small buffers, some empty, crossing all files in one call. */
    struct iovec v[200];
    size_t off = 0;
    int k = 0;
    while (off < fx->total) {
        size_t n = (size_t)(k % 7) * 5;
        if (n > fx->total - off)
            n = fx->total - off;
        v[k].iov_base = fx->data + off;
        v[k].iov_len = n;
        off += n;
        k++;
        if (k == 200) {
            /* Flush and go on with the next call. */
            size_t sum = 0;
            for (int j = 0; j < k; j++)
                sum += v[j].iov_len;
            assert_int_equal(storage_writev(s, off - sum, v, k), 0);
            k = 0;
        }
    }
    size_t sum = 0;
    for (int j = 0; j < k; j++)
        sum += v[j].iov_len;
    assert_int_equal(storage_writev(s, off - sum, v, k), 0);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);
    free_fixture(fx);
}

static void
test_pad(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage *s = open_ok(fx, 0);
    uint8_t buf[64];

    /* Zeros for a pad file are accepted and dropped. */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(storage_write(s, 1010, buf, 14), 0);
    memset(buf, 0x55, sizeof(buf));
    assert_int_equal(storage_read(s, 1010, buf, 14), 0);
    for (int i = 0; i < 14; i++)
        assert_int_equal(buf[i], 0);

    /* A non-zero pad byte is bad data, but the real bytes around it land. */
    memcpy(buf, fx->data + 1005, 30);
    buf[10] = 1; /* torrent byte 1015, inside the pad file */
    assert_int_equal(storage_write(s, 1005, buf, 30), STORAGE_ECORRUPT);
    assert_string_equal(storage_error_kind(STORAGE_ECORRUPT), "corrupt data");
    uint8_t back[30];
    assert_int_equal(storage_read(s, 1005, back, 30), 0);
    assert_memory_equal(back, fx->data + 1005, 5);
    assert_memory_equal(back + 5, fx->data + 1010, 14);
    assert_memory_equal(back + 19, fx->data + 1024, 11);
    storage_close(s);
    free_fixture(fx);
}

static void
test_missing(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    uint8_t buf[100];

    /* Nothing on disk: read-only reads find files missing. */
    struct storage *s = open_ok(fx, STORAGE_READONLY);
    int rc = storage_read(s, 0, buf, 10);
    assert_int_equal(rc, STORAGE_EMISSING);
    assert_string_equal(storage_error_kind(rc), "files missing");
    assert_int_equal(storage_verify_piece(s, 1), STORAGE_EMISSING);
    /* Writes are refused, and nothing is created. */
    rc = storage_write(s, 0, fx->data, 10);
    assert_int_equal(rc, -EROFS);
    assert_string_equal(storage_error_kind(rc), "read-only");
    off_t size;
    assert_int_equal(file_size(at(fx, "t"), &size), -ENOENT);
    storage_close(s);

    /* A writable storage does not create files to read them either. */
    s = open_ok(fx, 0);
    assert_int_equal(storage_read(s, 2000, buf, 10), STORAGE_EMISSING);
    assert_int_equal(file_size(at(fx, "t/c/d/c.bin"), &size), -ENOENT);
    write_all(s, fx, 4096);
    storage_close(s);

    /* A truncated file: the bytes past its end are missing. */
    assert_int_equal(truncate(at(fx, "t/c/d/c.bin"), 1500), 0);
    s = open_ok(fx, STORAGE_READONLY);
    assert_int_equal(storage_read(s, 1024, buf, 100), 0);
    assert_memory_equal(buf, fx->data + 1024, 100);
    assert_int_equal(storage_read(s, 1024 + 1490, buf, 20), STORAGE_EMISSING);
    assert_int_equal(storage_verify_piece(s, 0), 1);
    assert_int_equal(storage_verify_piece(s, 1), 1);
    assert_int_equal(storage_verify_piece(s, 2), STORAGE_EMISSING);

    /* A deleted file, and one whose folder is gone (in a fresh storage: an
     * open descriptor would still read a deleted file). */
    storage_close(s);
    s = open_ok(fx, STORAGE_READONLY);
    assert_int_equal(unlink(at(fx, "t/d.bin")), 0);
    assert_int_equal(storage_read(s, fx->total - 10, buf, 10), STORAGE_EMISSING);
    rm_tree(at(fx, "t/sub"));
    assert_int_equal(storage_read(s, 1000, buf, 5), STORAGE_EMISSING);
    storage_close(s);

    /* Out of range. */
    s = open_ok(fx, 0);
    assert_int_equal(storage_read(s, fx->total - 5, buf, 6), SHOAL_EINVAL);
    assert_int_equal(storage_write(s, fx->total + 1, buf, 0), SHOAL_EINVAL);
    assert_int_equal(storage_read(s, fx->total, buf, 0), 0);
    storage_close(s);

    /* A read-only storage of a folder that does not exist cannot open. */
    struct shoal_perr err = {0};
    struct storage *none = NULL;
    assert_int_equal(
        storage_open(&none, fx->m, at(fx, "nowhere"), STORAGE_READONLY, &err), -ENOENT);
    assert_null(none);
    assert_non_null(err.why);
    free_fixture(fx);
}

static void
test_check_files(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage *s = open_ok(fx, 0);
    size_t n = storage_file_count(s);
    assert_int_equal(n, 6);
    struct storage_file_state st[6];

    assert_int_equal(storage_check_files(s, st), 0);
    assert_int_equal(st[0].exists, 0);
    assert_int_equal(st[0].size_ok, 0);
    assert_int_equal(st[1].exists, 1); /* the empty file, made at open */
    assert_int_equal(st[1].size_ok, 1);
    assert_int_equal(st[3].exists, 1); /* pad */
    assert_int_equal(st[3].size_ok, 1);
    assert_int_equal(st[3].mtime_ns, 0);

    /* One write makes c.bin at its full size (sparse). */
    assert_int_equal(storage_write(s, 1100, fx->data + 1100, 10), 0);
    assert_int_equal(storage_check_files(s, st), 0);
    assert_int_equal(st[4].exists, 1);
    assert_int_equal(st[4].size, 2500);
    assert_int_equal(st[4].size_ok, 1);
    assert_true(st[4].mtime_ns > 0);

    write_all(s, fx, 1000);
    assert_int_equal(storage_check_files(s, st), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(st[i].exists, 1);
        assert_int_equal(st[i].size_ok, 1);
    }
    storage_close(s);

    /* A file of the wrong size, and a folder where a file should be. */
    assert_int_equal(truncate(at(fx, "t/a.bin"), 999), 0);
    assert_int_equal(unlink(at(fx, "t/d.bin")), 0);
    assert_int_equal(mkdir(at(fx, "t/d.bin"), 0755), 0);
    s = open_ok(fx, STORAGE_READONLY);
    assert_int_equal(storage_check_files(s, st), 0);
    assert_int_equal(st[0].exists, 1);
    assert_int_equal(st[0].size, 999);
    assert_int_equal(st[0].size_ok, 0);
    assert_int_equal(st[5].exists, 0);
    uint8_t buf[10];
    assert_int_equal(storage_read(s, fx->total - 10, buf, 10), -EISDIR);
    storage_close(s);
    free_fixture(fx);
}

static void
test_symlinks(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    char outside[128], target[200];
    snprintf(outside, sizeof(outside), "%s/outside", fx->dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    assert_int_equal(mkdir(at(fx, "dl"), 0755), 0);

    /* A symlink named like the torrent's folder, pointing outside. */
    assert_int_equal(symlink(outside, at(fx, "dl/t")), 0);
    char dl[200];
    snprintf(dl, sizeof(dl), "%s/dl", fx->dir);
    struct storage *s = NULL;
    struct shoal_perr err = {0};
    /* Opening fails when an empty file must be made through the link. */
    int rc = storage_open(&s, fx->m, dl, 0, &err);
    assert_true(rc == -ELOOP || rc == -ENOTDIR);
    assert_null(s);
    assert_int_equal(storage_open(&s, fx->m, dl, STORAGE_READONLY, &err), 0);
    uint8_t buf[16];
    rc = storage_read(s, 0, buf, 16);
    assert_true(rc == -ELOOP || rc == -ENOTDIR || rc == STORAGE_EMISSING);
    struct storage_file_state st[6];
    assert_int_equal(storage_check_files(s, st), 0);
    assert_int_equal(st[0].exists, 0);
    storage_close(s);
    /* Nothing appeared outside. */
    snprintf(target, sizeof(target), "%s/a.bin", outside);
    off_t size;
    assert_int_equal(file_size(target, &size), -ENOENT);
    snprintf(target, sizeof(target), "%s/sub", outside);
    assert_int_equal(file_size(target, &size), -ENOENT);

    /* A symlink in place of one file, pointing at a file outside. */
    assert_int_equal(unlink(at(fx, "dl/t")), 0);
    assert_int_equal(mkdir(at(fx, "dl/t"), 0755), 0);
    snprintf(target, sizeof(target), "%s/victim", outside);
    int fd = open(target, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(symlink(target, at(fx, "dl/t/a.bin")), 0);
    /* And one in place of a folder of the torrent. */
    assert_int_equal(symlink(outside, at(fx, "dl/t/c")), 0);
    s = NULL;
    assert_int_equal(storage_open(&s, fx->m, dl, 0, &err), 0);
    assert_int_equal(storage_write(s, 0, fx->data, 100), -ELOOP);
    rc = storage_write(s, 1100, fx->data + 1100, 100);
    assert_true(rc == -ELOOP || rc == -ENOTDIR);
    assert_string_equal(storage_error_kind(rc), "disk error");
    /* Other files are fine. */
    assert_int_equal(storage_write(s, fx->total - 100, fx->data + fx->total - 100, 100),
                     0);
    storage_close(s);
    assert_int_equal(file_size(target, &size), 0);
    assert_int_equal(size, 4);
    snprintf(target, sizeof(target), "%s/d", outside);
    assert_int_equal(file_size(target, &size), -ENOENT);
    free_fixture(fx);
}

static void
test_single_file(void **state)
{
    (void)state;
    static const struct tfile one[] = {{"t", 5000, 0}};
    struct fixture *fx = make_fixture(one, 1, 2048, 1);
    assert_int_equal(fx->m->file_count, 1);
    struct storage *s = open_ok(fx, STORAGE_PREALLOCATE);
    /* A write of the last bytes makes the whole file. */
    assert_int_equal(storage_write(s, 4990, fx->data + 4990, 10), 0);
    off_t size;
    assert_int_equal(file_size(at(fx, "t"), &size), 0);
    assert_int_equal(size, 5000);
    assert_int_equal(storage_verify_piece(s, 2), 0); /* the rest is still zeros */
    write_all(s, fx, 700);
    for (uint32_t p = 0; p < 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    /* A changed byte fails its piece only. */
    uint8_t x = fx->data[3000] ^ 0xff;
    assert_int_equal(storage_write(s, 3000, &x, 1), 0);
    assert_int_equal(storage_verify_piece(s, 0), 1);
    assert_int_equal(storage_verify_piece(s, 1), 0);
    assert_int_equal(storage_fsync(s), 0);
    storage_close(s);
    free_fixture(fx);
}

static void
test_many_files(void **state)
{
    (void)state;
    /* More files than the descriptor cache holds, written twice over. */
    enum { N = 150 };
    static struct tfile many[N];
    static char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "d%d/f%03d", i % 7, i);
        many[i].path = names[i];
        many[i].size = 37 + (size_t)i % 5;
        many[i].pad = 0;
    }
    struct fixture *fx = make_fixture(many, N, 256, 0);
    struct storage *s = open_ok(fx, 0);
    write_all(s, fx, 100);
    write_all(s, fx, 64);
    uint8_t *back = malloc(fx->total);
    assert_non_null(back);
    /* Backwards, so the least recent descriptors are the ones wanted. */
    for (size_t off = fx->total; off > 0;) {
        size_t n = off < 50 ? off : 50;
        off -= n;
        assert_int_equal(storage_read(s, off, back + off, n), 0);
    }
    assert_memory_equal(back, fx->data, fx->total);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    assert_int_equal(storage_fsync(s), 0);
    free(back);
    storage_close(s);
    free_fixture(fx);
}

static void
test_error_kinds(void **state)
{
    (void)state;
    static const struct {
        int err;
        enum storage_error_class cls;
        const char *kind;
    } cases[] = {
        {0, STORAGE_ERR_NONE, "ok"},
        {-ENOSPC, STORAGE_ERR_FULL, "disk full"},
        {-EDQUOT, STORAGE_ERR_FULL, "disk full"},
        {-EFBIG, STORAGE_ERR_FULL, "disk full"},
        {-EROFS, STORAGE_ERR_READONLY, "read-only"},
        {-EACCES, STORAGE_ERR_READONLY, "read-only"},
        {-EPERM, STORAGE_ERR_READONLY, "read-only"},
        {-ENOENT, STORAGE_ERR_MISSING, "files missing"},
        {STORAGE_EMISSING, STORAGE_ERR_MISSING, "files missing"},
        {STORAGE_ECORRUPT, STORAGE_ERR_CORRUPT, "corrupt data"},
        {-EIO, STORAGE_ERR_IO, "disk error"},
        {-ELOOP, STORAGE_ERR_IO, "disk error"},
        {SHOAL_ENOMEM, STORAGE_ERR_IO, "disk error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(storage_error_class(cases[i].err), cases[i].cls);
        assert_string_equal(storage_error_kind(cases[i].err), cases[i].kind);
    }
}

/* Hashes runs of `run` pieces with one hasher; checks them against the
 * torrent's hashes. */
static void
check_runs(struct storage *s, const struct fixture *fx, uint32_t run)
{
    struct storage_hasher h;
    uint32_t np = fx->m->piece_count;
    uint8_t *got = malloc((size_t)np * SHA1_LEN);
    assert_non_null(got);
    memset(got, 0, (size_t)np * SHA1_LEN);
    assert_int_equal(storage_hasher_init(&h), 0);
    for (uint32_t p = 0; p < np; p += run) {
        uint32_t n = np - p < run ? np - p : run;
        assert_int_equal(
            storage_hash_pieces_with(s, p, n, got + (size_t)p * SHA1_LEN, &h), 0);
    }
    assert_memory_equal(got, fx->m->pieces, (size_t)np * SHA1_LEN);
    storage_hasher_cleanup(&h);
    free(got);
}

static void
test_hash_runs(void **state)
{
    (void)state;
    /* Pieces of 100000 bytes: every 256 KiB read ends inside a piece. */
    static const struct tfile big[] = {
        {"x.bin", 300000, 0}, {"y.bin", 1, 0}, {"pad", 4999, 1}, {"z.bin", 700000, 0}};
    struct fixture *fx = make_fixture(big, 4, 100000, 0);
    struct storage *s = open_ok(fx, 0);
    write_all(s, fx, 65536);
    assert_int_equal(fx->m->piece_count, 11);
    check_runs(s, fx, 11);
    check_runs(s, fx, 3);
    check_runs(s, fx, 1);

    /* No pieces, or pieces past the end. */
    struct storage_hasher h;
    uint8_t out[2 * SHA1_LEN];
    assert_int_equal(storage_hasher_init(&h), 0);
    assert_int_equal(storage_hash_pieces_with(s, 0, 0, out, &h), SHOAL_EINVAL);
    assert_int_equal(storage_hash_pieces_with(s, 10, 2, out, &h), SHOAL_EINVAL);
    assert_int_equal(storage_hash_pieces_with(s, UINT32_MAX, 2, out, &h), SHOAL_EINVAL);
    /* A missing file stops the run with its error. */
    assert_int_equal(unlink(at(fx, "t/z.bin")), 0);
    storage_close(s);
    s = open_ok(fx, STORAGE_READONLY);
    assert_int_equal(storage_hash_pieces_with(s, 0, 2, out, &h), 0);
    assert_memory_equal(out, fx->m->pieces, 2 * SHA1_LEN);
    assert_int_equal(storage_hash_pieces_with(s, 2, 2, out, &h), STORAGE_EMISSING);
    storage_hasher_cleanup(&h);
    storage_close(s);
    free_fixture(fx);

    /* Pieces of 1 KiB: one read covers them all, across five files. */
    fx = make_fixture(layout, 6, PLEN, 0);
    s = open_ok(fx, 0);
    write_all(s, fx, 4096);
    check_runs(s, fx, 4);
    check_runs(s, fx, 3);
    storage_close(s);
    free_fixture(fx);
}

/* The layout without its pad file, for a list of files on disk. */
static const struct tfile plain[] = {
    {"a.bin", 1000, 0},     {"sub/empty", 0, 0}, {"sub/b.bin", 10, 0},
    {"c/d/c.bin", 2500, 0}, {"d.bin", 100, 0},
};
#define NPLAIN (sizeof(plain) / sizeof(plain[0]))

static void
test_listed_files(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(plain, NPLAIN, PLEN, 0);
    struct storage *s = open_ok(fx, 0);
    write_all(s, fx, 777);
    storage_close(s);

    /* Paths as the user gives them; the last is a symlink, followed. */
    char paths[NPLAIN][600];
    struct shoal_file list[NPLAIN];
    memset(list, 0, sizeof(list));
    for (size_t i = 0; i < NPLAIN; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/t/%s", fx->dir, plain[i].path);
        list[i].path = paths[i];
        list[i].size = plain[i].size;
        list[i].offset = 12345; /* ignored: offsets follow from the sizes */
    }
    snprintf(paths[NPLAIN - 1], sizeof(paths[0]), "%s/link", fx->dir);
    assert_int_equal(symlink("t/d.bin", paths[NPLAIN - 1]), 0);

    struct shoal_perr err = {0};
    assert_int_equal(storage_open_files(&s, list, NPLAIN, PLEN, &err), 0);
    assert_int_equal(storage_file_count(s), NPLAIN);
    uint32_t np = fx->m->piece_count;
    assert_int_equal(storage_piece_size(s, np - 1), fx->total - (size_t)(np - 1) * PLEN);
    for (uint32_t p = 0; p < np; p++) {
        uint8_t got[SHA1_LEN];
        assert_int_equal(storage_hash_piece(s, p, got), 0);
        assert_memory_equal(got, fx->m->pieces + (size_t)p * SHA1_LEN, SHA1_LEN);
    }
    size_t file = 99;
    assert_int_equal(storage_first_error(s, &file), 0);
    assert_int_equal(file, 99);
    /* No hashes to compare with, and nothing to write. */
    assert_int_equal(storage_verify_piece(s, 0), SHOAL_EINVAL);
    assert_int_equal(storage_write(s, 0, fx->data, 10), -EROFS);
    storage_close(s);

    /* A file that grew since it was listed. */
    int fd = open(paths[2], O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    uint8_t buf[64];
    assert_int_equal(storage_open_files(&s, list, NPLAIN, PLEN, NULL), 0);
    assert_int_equal(storage_read(s, 0, buf, sizeof(buf)), 0);
    assert_int_equal(storage_read(s, 1000, buf, 10), STORAGE_ECHANGED);
    assert_int_equal(storage_first_error(s, &file), STORAGE_ECHANGED);
    assert_int_equal(file, 2);

    /* One that shrank under an open descriptor: the first error stays. */
    assert_int_equal(storage_read(s, 1010, buf, 10), 0);
    assert_int_equal(truncate(paths[3], 5), 0);
    assert_int_equal(storage_read(s, 1010, buf, 10), STORAGE_ECHANGED);
    assert_int_equal(storage_first_error(s, &file), STORAGE_ECHANGED);
    assert_int_equal(file, 2);
    storage_close(s);

    /* One that is gone. */
    assert_int_equal(unlink(paths[0]), 0);
    assert_int_equal(storage_open_files(&s, list, NPLAIN, PLEN, NULL), 0);
    assert_int_equal(storage_read(s, 0, buf, 10), -ENOENT);
    assert_int_equal(storage_first_error(s, &file), -ENOENT);
    assert_int_equal(file, 0);
    storage_close(s);

    /* No files, no piece length, a file without a path. */
    assert_int_equal(storage_open_files(&s, list, 0, PLEN, &err), SHOAL_EINVAL);
    assert_null(s);
    assert_non_null(err.why);
    assert_int_equal(storage_open_files(&s, list, NPLAIN, 0, NULL), SHOAL_EINVAL);
    list[1].path = NULL;
    assert_int_equal(storage_open_files(&s, list, NPLAIN, PLEN, NULL), SHOAL_EINVAL);
    free_fixture(fx);
}

static void
test_bad_args(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage *s = (struct storage *)1;
    struct shoal_perr err = {0};
    assert_int_equal(storage_open(&s, fx->m, "", 0, &err), SHOAL_EINVAL);
    assert_null(s);
    assert_int_equal(storage_open(&s, NULL, fx->dir, 0, NULL), SHOAL_EINVAL);
    assert_int_equal(storage_open(&s, fx->m, fx->dir, 0x100, NULL), SHOAL_EINVAL);
    /* A file where the download folder should be. */
    int fd = open(at(fx, "file"), O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(storage_open(&s, fx->m, at(fx, "file"), 0, &err), -ENOTDIR);
    storage_close(NULL);
    free_fixture(fx);
}

/* ------------------------------------------------------------------ names */

static struct storage *
open_with(struct fixture *fx, const struct storage_opts *o)
{
    struct storage *s = NULL;
    struct shoal_perr err = {0};
    int rc = storage_open_with(&s, fx->m, fx->dir, o, &err);
    if (rc)
        fail_msg("storage_open_with: %s (%s)", shoal_perr_text(&err), shoal_strerror(rc));
    return s;
}

static int
exists(const char *path)
{
    off_t size;
    return file_size(path, &size) == 0;
}

/* Reads the whole torrent over and over while another thread renames. */
struct reader {
    struct storage *s;
    const struct fixture *fx;
    atomic_int stop, reads, bad;
};

static void *
read_loop(void *arg)
{
    struct reader *r = arg;
    uint8_t *buf = malloc(r->fx->total);
    while (buf && !r->stop) {
        int rc = storage_read(r->s, 0, buf, r->fx->total);
        if (rc || memcmp(buf, r->fx->data, r->fx->total) != 0)
            r->bad++;
        r->reads++;
    }
    free(buf);
    return NULL;
}

static void
test_part_names(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage_opts o = {.incomplete_ext = ".part"};
    struct storage *s = open_with(fx, &o);
    off_t size;

    /* Empty files take their final names at once; the others are written
     * under the incomplete ones; pad files are nowhere. */
    assert_true(exists(at(fx, "t/sub/empty")));
    assert_false(exists(at(fx, "t/sub/empty.part")));
    write_all(s, fx, 333);
    assert_int_equal(file_size(at(fx, "t/a.bin.part"), &size), 0);
    assert_int_equal(size, 1000);
    assert_true(exists(at(fx, "t/c/d/c.bin.part")));
    assert_false(exists(at(fx, "t/a.bin")));
    assert_false(exists(at(fx, "t/.pad/14.part")));
    assert_int_equal(storage_file_is_part(s, 0), 1);
    assert_int_equal(storage_file_is_part(s, 1), 0);

    struct storage_file_state before[6], after[6];
    assert_int_equal(storage_check_files(s, before), 0);
    assert_true(before[0].exists && before[0].size_ok);

    /* Renamed while another thread reads through cached descriptors and
     * opens new ones: every read sees the whole torrent. */
    struct reader r = {.s = s, .fx = fx};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
    while (r.reads < 3)
        usleep(1000);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(storage_finish_file(s, i), 0);
    int seen = r.reads;
    while (r.reads < seen + 3)
        usleep(1000);
    r.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(r.bad, 0);

    assert_true(exists(at(fx, "t/a.bin")));
    assert_false(exists(at(fx, "t/a.bin.part")));
    assert_true(exists(at(fx, "t/c/d/c.bin")));
    assert_true(exists(at(fx, "t/d.bin")));
    assert_false(exists(at(fx, "t/d.bin.part")));
    assert_int_equal(storage_file_is_part(s, 0), 0);
    /* A rename changes neither size nor mtime: resume state stays true. */
    assert_int_equal(storage_check_files(s, after), 0);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(after[i].size, before[i].size);
        assert_true(after[i].mtime_ns == before[i].mtime_ns);
    }
    /* Done twice is nothing. */
    assert_int_equal(storage_finish_file(s, 0), 0);
    storage_close(s);

    /* Opened again, the files are found under their final names. */
    s = open_with(fx, &o);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(storage_file_is_part(s, i), 0);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);
    free_fixture(fx);
}

static void
test_part_restart(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage_opts o = {.incomplete_ext = ".part"};
    struct storage *s = open_with(fx, &o);
    /* Half the torrent, then a stop. */
    assert_int_equal(storage_write(s, 0, fx->data, 2 * PLEN), 0);
    storage_close(s);
    assert_true(exists(at(fx, "t/c/d/c.bin.part")));

    /* The next start finds the incomplete files and goes on with them. */
    s = open_with(fx, &o);
    assert_int_equal(storage_file_is_part(s, 0), 1);
    assert_int_equal(storage_file_is_part(s, 4), 1);
    assert_int_equal(storage_verify_piece(s, 0), 1);
    assert_int_equal(storage_verify_piece(s, 1), 1);
    assert_int_equal(
        storage_write(s, 2 * PLEN, fx->data + 2 * PLEN, fx->total - 2 * PLEN), 0);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    assert_false(exists(at(fx, "t/c/d/c.bin")));
    storage_close(s);

    /* A final name beside an incomplete one wins (a rename that completed
     * as a link before the incomplete name went). */
    char from[512];
    snprintf(from, sizeof(from), "%s", at(fx, "t/d.bin.part"));
    assert_int_equal(link(from, at(fx, "t/d.bin")), 0);
    s = open_with(fx, &o);
    assert_int_equal(storage_file_is_part(s, 5), 0);
    assert_int_equal(storage_file_is_part(s, 4), 1);
    storage_close(s);

    /* Seeding uses the final names only. */
    o.flags = STORAGE_READONLY;
    s = open_with(fx, &o);
    assert_int_equal(storage_file_is_part(s, 4), 0);
    uint8_t back[100];
    assert_int_equal(storage_read(s, 3524, back, 100), 0); /* d.bin, final */
    assert_memory_equal(back, fx->data + 3524, 100);
    assert_int_equal(storage_verify_piece(s, 2), STORAGE_EMISSING); /* c.bin.part */
    storage_close(s);
    free_fixture(fx);
}

/* A torrent holding both "a" and "a.part": "a" is written under its own
 * name, never into the other file's; "a.part" takes the suffix itself. */
static void
test_part_clash(void **state)
{
    (void)state;
    static const struct tfile clash[] = {
        {"a", 700, 0}, {"a.part", 900, 0}, {"b", 500, 0}};
    struct fixture *fx = make_fixture(clash, 3, PLEN, 0);
    struct storage_opts o = {.incomplete_ext = ".part"};
    struct storage *s = open_with(fx, &o);
    assert_int_equal(storage_file_is_part(s, 0), 0);
    assert_int_equal(storage_file_is_part(s, 1), 1);
    assert_int_equal(storage_file_is_part(s, 2), 1);
    write_all(s, fx, 300);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    off_t size;
    assert_int_equal(file_size(at(fx, "t/a"), &size), 0);
    assert_int_equal(size, 700);
    assert_int_equal(file_size(at(fx, "t/a.part.part"), &size), 0);
    assert_int_equal(size, 900);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(storage_finish_file(s, i), 0);
    assert_int_equal(file_size(at(fx, "t/a.part"), &size), 0);
    assert_int_equal(size, 900);
    assert_true(exists(at(fx, "t/b")));
    storage_close(s);
    s = open_with(fx, &o);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);
    free_fixture(fx);
}

static void
write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void
test_finish_taken(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(layout, 6, PLEN, 0);
    struct storage_opts o = {.incomplete_ext = ".part"};
    struct storage *s = open_with(fx, &o);
    write_all(s, fx, 4096);

    /* Someone else's file took the name meanwhile: it is left alone. */
    uint8_t other[1000];
    memset(other, 'x', sizeof(other));
    write_file(at(fx, "t/a.bin"), other, sizeof(other));
    assert_int_equal(storage_finish_file(s, 0), -EEXIST);
    assert_true(exists(at(fx, "t/a.bin.part")));
    assert_int_equal(storage_file_is_part(s, 0), 1);
    uint8_t back[1000];
    FILE *f = fopen(at(fx, "t/a.bin"), "rb");
    assert_non_null(f);
    assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(back));
    fclose(f);
    assert_memory_equal(back, other, sizeof(other));
    assert_int_equal(storage_verify_piece(s, 0), 1); /* still served from .part */

    /* The same bytes under the final name: that file is used. */
    write_file(at(fx, "t/a.bin"), fx->data, 1000);
    assert_int_equal(storage_finish_file(s, 0), 0);
    assert_false(exists(at(fx, "t/a.bin.part")));
    assert_int_equal(storage_file_is_part(s, 0), 0);
    assert_int_equal(storage_verify_piece(s, 0), 1);

    /* A symlink at the incomplete name is not renamed. */
    assert_int_equal(unlink(at(fx, "t/d.bin.part")), 0);
    assert_int_equal(symlink("/etc/passwd", at(fx, "t/d.bin.part")), 0);
    assert_int_not_equal(storage_finish_file(s, 5), 0);
    assert_false(exists(at(fx, "t/d.bin")));
    storage_close(s);
    free_fixture(fx);
}

/* Three files whose pieces span their boundaries: 0 [0, 1500), 1 [1500,
 * 3500), 2 [3500, 4800); pieces of 1024: 1, 2 and 3 cover file 1, 1 and 3
 * shared with files 0 and 2. */
static const struct tfile three[] = {
    {"f0", 1500, 0},
    {"f1", 2000, 0},
    {"f2", 1300, 0},
};

static void
write_pieces(struct storage *s, const struct fixture *fx, uint32_t first, uint32_t last)
{
    for (uint32_t p = first; p <= last; p++) {
        uint64_t off = (uint64_t)p * PLEN;
        assert_int_equal(storage_write(s, off, fx->data + off, storage_piece_size(s, p)),
                         0);
    }
}

static void
test_parts_file(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(three, 3, PLEN, 0);
    char parts[128];
    snprintf(parts, sizeof(parts), "%s/state/t.parts", fx->dir);
    uint8_t only1[3] = {0, 1, 0};
    struct storage_opts o = {
        .incomplete_ext = ".part", .parts_path = parts, .wanted = only1};
    struct storage *s = open_with(fx, &o);
    assert_int_equal(storage_file_in_parts(s, 0), 1);
    assert_int_equal(storage_file_in_parts(s, 1), 0);
    write_pieces(s, fx, 1, 3);
    for (uint32_t p = 1; p <= 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    assert_int_equal(storage_verify_piece(s, 0), 0); /* its bytes never came */
    /* Only the selected file is in the download folder. */
    assert_false(exists(at(fx, "t/f0")) || exists(at(fx, "t/f0.part")));
    assert_false(exists(at(fx, "t/f2")) || exists(at(fx, "t/f2.part")));
    assert_true(exists(at(fx, "t/f1.part")));
    assert_true(exists(parts));
    struct storage_file_state fs[3], ps;
    assert_int_equal(storage_check_files(s, fs), 0);
    assert_false(fs[0].exists || fs[2].exists);
    assert_true(fs[1].exists && fs[1].size_ok);
    assert_int_equal(storage_check_parts(s, &ps), 0);
    assert_true(ps.exists && ps.mtime_ns != 0);
    /* Served across the boundaries from both places. */
    uint8_t back[3 * PLEN];
    assert_int_equal(storage_read(s, PLEN, back, sizeof(back)), 0);
    assert_memory_equal(back, fx->data + PLEN,
                        fx->total - PLEN < sizeof(back) ? fx->total - PLEN
                                                        : sizeof(back));
    assert_int_equal(storage_finish_file(s, 1), 0);
    assert_int_equal(storage_fsync(s), 0);
    storage_close(s);

    /* The same selection again: the pieces are where they were. */
    s = open_with(fx, &o);
    for (uint32_t p = 1; p <= 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);

    /* File 0 selected too: it takes its bytes of piece 1 from the parts
     * file, which stays for file 2. */
    uint8_t first2[3] = {1, 1, 0};
    o.wanted = first2;
    s = open_with(fx, &o);
    assert_int_equal(storage_file_in_parts(s, 0), 0);
    assert_true(exists(at(fx, "t/f0.part")));
    assert_true(exists(parts));
    for (uint32_t p = 1; p <= 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    write_pieces(s, fx, 0, 0);
    assert_int_equal(storage_verify_piece(s, 0), 1);
    storage_close(s);

    /* Everything selected: nothing is left in the parts file, so it goes. */
    o.wanted = NULL;
    s = open_with(fx, &o);
    assert_false(exists(parts));
    for (uint32_t p = 0; p <= 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    /* File 2 took its bytes of piece 3; the rest of it is still to come. */
    assert_true(exists(at(fx, "t/f2.part")));
    assert_int_equal(storage_verify_piece(s, 4), 0);
    write_pieces(s, fx, 4, 4);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    storage_close(s);
    free_fixture(fx);
}

static void
test_unselected_partial(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(three, 3, PLEN, 0);
    uint8_t only1[3] = {0, 1, 0};
    struct storage_opts o = {.wanted = only1};
    struct storage *s = open_with(fx, &o);
    write_pieces(s, fx, 1, 3);
    for (uint32_t p = 1; p <= 3; p++)
        assert_int_equal(storage_verify_piece(s, p), 1);
    /* Without a parts file, unselected files hold what was written: file 2
     * its first 596 bytes, not its 1300. */
    off_t size;
    assert_int_equal(file_size(at(fx, "t/f2"), &size), 0);
    assert_int_equal(size, 4096 - 3500);
    assert_int_equal(file_size(at(fx, "t/f1"), &size), 0);
    assert_int_equal(size, 2000);
    storage_close(s);
    free_fixture(fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writev),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_check_files),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_many_files),
        cmocka_unit_test(test_error_kinds),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_hash_runs),
        cmocka_unit_test(test_listed_files),
        cmocka_unit_test(test_part_names),
        cmocka_unit_test(test_part_restart),
        cmocka_unit_test(test_finish_taken),
        cmocka_unit_test(test_parts_file),
        cmocka_unit_test(test_unselected_partial),
        cmocka_unit_test(test_part_clash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
