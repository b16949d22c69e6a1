/*
 * test_resume.c — resume state files: a save/load round trip, the checks
 * against a torrent and against the files on disk, a table of damaged and
 * truncated files each refused with its reason, the size cap, replacing the
 * file atomically (a stale ".tmp" never harms the saved state), the parts
 * file's entry, and every allocation failing in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"
#include "engine/resume.h"
#include "engine/storage.h"
#include "shoal.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/shoal-resume-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/t.resume", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *p, const void *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *
read_whole(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *d = malloc((size_t)n + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return d;
}

static const uint8_t ih[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                               11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

/* A state of 13 pieces (spare bits in the last byte) and 3 files. */
static void
sample(struct resume_state *st)
{
    assert_int_equal(resume_init(st, ih, 13, 3), 0);
    st->have[0] = 0xa5;
    st->have[1] = 0xf8; /* pieces 8..12 */
    st->files[0].size = 1000;
    st->files[0].mtime_ns = 1700000000123456789;
    st->files[1].size = 0;
    st->files[1].mtime_ns = 0;
    st->files[2].size = (uint64_t)1 << 40;
    st->files[2].mtime_ns = -5; /* before 1970: allowed */
    st->uploaded = 123456789012;
    st->downloaded = 42;
}

static void
assert_same(const struct resume_state *a, const struct resume_state *b)
{
    assert_memory_equal(a->infohash, b->infohash, 20);
    assert_int_equal(a->piece_count, b->piece_count);
    assert_memory_equal(a->have, b->have, (a->piece_count + 7) / 8);
    assert_int_equal(a->file_count, b->file_count);
    for (size_t i = 0; i < a->file_count; i++) {
        assert_int_equal(a->files[i].size, b->files[i].size);
        assert_int_equal(a->files[i].mtime_ns, b->files[i].mtime_ns);
    }
    assert_int_equal(a->parts.size, b->parts.size);
    assert_int_equal(a->parts.mtime_ns, b->parts.mtime_ns);
    assert_int_equal(a->uploaded, b->uploaded);
    assert_int_equal(a->downloaded, b->downloaded);
}

/* ------------------------------------------------------------------ tests */

static void
test_round_trip(void **state)
{
    (void)state;
    struct resume_state a, b;
    struct shoal_perr err = {0};
    sample(&a);
    assert_int_equal(resume_save(path, &a), 0);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    resume_cleanup(&b);

    /* Saving again replaces the file; no ".tmp" is left behind. */
    a.have[0] = 0x01;
    a.uploaded = 7;
    assert_int_equal(resume_save(path, &a), 0);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    resume_cleanup(&b);
    resume_cleanup(&a);
    resume_cleanup(&a); /* twice is harmless */
    resume_cleanup(NULL);
}

static void
test_matches(void **state)
{
    (void)state;
    struct resume_state a;
    sample(&a);
    struct storage_file_state f[3];
    memset(f, 0, sizeof(f));
    for (int i = 0; i < 3; i++) {
        f[i].size = a.files[i].size;
        f[i].mtime_ns = a.files[i].mtime_ns;
        f[i].exists = 1;
    }
    assert_int_equal(resume_matches(&a, f, 3), 1);
    assert_int_equal(resume_matches(&a, f, 2), 0);
    f[2].mtime_ns++;
    assert_int_equal(resume_matches(&a, f, 3), 0);
    f[2].mtime_ns--;
    f[0].size--;
    assert_int_equal(resume_matches(&a, f, 3), 0);
    /* resume_set_files takes what storage_check_files saw. */
    assert_int_equal(resume_set_files(&a, f, 3), 0);
    assert_int_equal(resume_matches(&a, f, 3), 1);
    assert_int_equal(resume_set_files(&a, f, 2), SHOAL_EINVAL);
    resume_cleanup(&a);
}

/* The parts file's state is saved beside the files' and must match too;
 * a state without one (older, or no parts file) loads as "none". */
static void
test_parts_state(void **state)
{
    (void)state;
    struct resume_state a, b;
    struct shoal_perr err = {0};
    sample(&a);
    struct storage_file_state p = {
        .size = 4096, .mtime_ns = 1700000000000000001, .exists = 1};
    resume_set_parts(&a, &p);
    assert_int_equal(resume_save(path, &a), 0);
    size_t len;
    uint8_t *raw = read_whole(path, &len);
    raw[len] = '\0';
    assert_non_null(
        strstr((char *)raw, "5:partsd5:mtimei1700000000000000001e4:sizei4096ee"));
    free(raw);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    assert_int_equal(resume_parts_match(&b, &p), 1);
    p.mtime_ns++;
    assert_int_equal(resume_parts_match(&b, &p), 0);
    /* The parts file went away: no match either. */
    struct storage_file_state none = {0};
    assert_int_equal(resume_parts_match(&b, &none), 0);
    resume_cleanup(&b);
    resume_cleanup(&a);

    /* No parts file: no key written, and "none" matches. */
    sample(&a);
    assert_int_equal(resume_save(path, &a), 0);
    raw = read_whole(path, &len);
    raw[len] = '\0';
    assert_null(strstr((char *)raw, "5:parts"));
    free(raw);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_int_equal(resume_parts_match(&b, &none), 1);
    assert_int_equal(resume_parts_match(&b, &p), 0);
    resume_cleanup(&b);
    resume_cleanup(&a);

    /* A damaged parts entry is refused with its reason. */
    static const char bad[] = "d10:downloadedi0e5:filesle4:have1:\x80"
                              "8:infohash20:aaaaaaaaaaaaaaaaaaaa5:partsd4:sizei1ee"
                              "6:piecesi1e8:uploadedi0e7:versioni1ee";
    write_file(path, bad, sizeof(bad) - 1);
    assert_int_equal(resume_load(path, &b, &err), SHOAL_EPARSE);
    assert_string_equal(err.why, "resume state file entry has no mtime");
    resume_cleanup(&b);
}

static void
test_check_torrent(void **state)
{
    (void)state;
    /* A one-file torrent of 3 pieces, made with the encoder. */
    uint8_t hashes[60] = {0};
    struct benc_enc e;
    benc_enc_init(&e, 4096);
    benc_dict_begin(&e);
    benc_key(&e, "info");
    benc_dict_begin(&e);
    benc_key(&e, "length");
    benc_put_int(&e, 40000);
    benc_key(&e, "name");
    benc_put_cstr(&e, "x");
    benc_key(&e, "piece length");
    benc_put_int(&e, 16384);
    benc_key(&e, "pieces");
    benc_put_str(&e, hashes, 60);
    benc_end(&e);
    benc_end(&e);
    uint8_t *tor;
    size_t len;
    assert_int_equal(benc_enc_finish(&e, &tor, &len), 0);
    benc_enc_cleanup(&e);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(tor, len, &m, NULL), 0);
    shoal_free(tor);

    struct resume_state st;
    struct shoal_perr err = {0};
    assert_int_equal(resume_init(&st, m->infohash, 3, 1), 0);
    assert_int_equal(resume_check(&st, m, &err), 0);
    st.infohash[0] ^= 1;
    assert_int_equal(resume_check(&st, m, &err), SHOAL_EINVAL);
    assert_non_null(strstr(err.why, "another torrent"));
    st.infohash[0] ^= 1;
    st.piece_count = 2;
    assert_int_equal(resume_check(&st, m, &err), SHOAL_EINVAL);
    assert_non_null(strstr(err.why, "pieces"));
    st.piece_count = 3;
    st.file_count = 2;
    assert_int_equal(resume_check(&st, m, NULL), SHOAL_EINVAL);
    st.file_count = 1;
    resume_cleanup(&st);
    shoal_metainfo_free(m);
}

/* A good file body with one field replaced, for the table below. */
#define IH20                                                                             \
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
#define FILES "5:filesld5:mtimei5e4:sizei10eee"
#define GOOD                                                                             \
    "d10:downloadedi0e" FILES "4:have2:\xff\x80"                                         \
    "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee"

static void
test_damaged(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t len;      /* 0: strlen */
        const char *why; /* expected in err.why, or NULL for success */
    } cases[] = {
        {GOOD, 0, NULL},
        {"", 0, ""},
        {"i1e", 0, "not a dictionary"},
        {"d7:versioni1ee", 0, "infohash"},
        {"d7:versioni2ee", 0, "version"},
        {"d10:downloadedi0e" FILES "4:have2:\xff\x80"
         "8:infohash19:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, ""},
        {"d10:downloadedi0e" FILES "4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi0e8:uploadedi0e7:versioni1ee",
         0, "piece count"},
        {"d10:downloadedi0e" FILES "4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi17e8:uploadedi0e7:versioni1ee",
         0, "have bits do not match"},
        {"d10:downloadedi0e" FILES "4:have2:\xff\xc0"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "past the last piece"},
        {"d10:downloadedi-1e" FILES "4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "download total"},
        {"d10:downloadedi0e" FILES "4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e7:versioni1ee",
         0, "upload total"},
        {"d10:downloadedi0e4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "file list"},
        {"d10:downloadedi0e5:filesli3ee4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "not a dictionary"},
        {"d10:downloadedi0e5:filesld5:mtimei5e4:sizei-10eee4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "size"},
        {"d10:downloadedi0e5:filesld4:sizei10eee4:have2:\xff\x80"
         "8:infohash20:" IH20 "6:piecesi9e8:uploadedi0e7:versioni1ee",
         0, "mtime"},
        {GOOD "x", 0, ""},            /* trailing garbage */
        {GOOD, sizeof(GOOD) - 2, ""}, /* truncated by one byte */
        {GOOD, sizeof(GOOD) / 2, ""}, /* truncated by half */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        write_file(path, cases[i].body, len);
        struct resume_state st;
        struct shoal_perr err = {0};
        int rc = resume_load(path, &st, &err);
        if (!cases[i].why) {
            if (rc)
                fail_msg("case %zu: %s", i, shoal_perr_text(&err));
            assert_int_equal(st.piece_count, 9);
            assert_int_equal(st.file_count, 1);
            assert_int_equal(st.files[0].size, 10);
            assert_int_equal(st.files[0].mtime_ns, 5);
            resume_cleanup(&st);
            continue;
        }
        if (rc != SHOAL_EPARSE)
            fail_msg("case %zu: rc %d (%s)", i, rc, shoal_strerror(rc));
        assert_non_null(err.why);
        if (!strstr(err.why, cases[i].why))
            fail_msg("case %zu: reason \"%s\", want \"%s\"", i, err.why, cases[i].why);
        /* Nothing is held after a failure. */
        assert_null(st.have);
        assert_null(st.files);
    }
}

static void
test_limits(void **state)
{
    (void)state;
    struct resume_state st;
    struct shoal_perr err = {0};
    /* No file. */
    assert_int_equal(resume_load(path, &st, &err), -ENOENT);
    /* Too large: refused before it is read. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, RESUME_MAX_FILE + 1), 0);
    close(fd);
    assert_int_equal(resume_load(path, &st, &err), SHOAL_ETOOBIG);
    assert_non_null(strstr(err.why, "64 MiB"));
    /* A folder. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(resume_load(path, &st, &err), SHOAL_EINVAL);
    assert_int_equal(rmdir(path), 0);

    /* Bad states are not saved. */
    struct resume_state a;
    sample(&a);
    a.have[1] |= 0x01; /* a bit past piece 12 */
    assert_int_equal(resume_save(path, &a), SHOAL_EINVAL);
    a.have[1] &= 0xf8;
    a.files[0].size = UINT64_MAX;
    assert_int_equal(resume_save(path, &a), SHOAL_EINVAL);
    a.files[0].size = 1;
    assert_int_equal(resume_init(&st, ih, 0, 1), SHOAL_EINVAL);
    assert_int_equal(resume_init(&st, ih, SHOAL_MAX_PIECES + 1, 1), SHOAL_EINVAL);
    /* Totals past 2^63 are capped, not wrapped. */
    a.uploaded = UINT64_MAX;
    assert_int_equal(resume_save(path, &a), 0);
    assert_int_equal(resume_load(path, &st, &err), 0);
    assert_int_equal(st.uploaded, (uint64_t)INT64_MAX);
    resume_cleanup(&st);
    /* A folder that does not exist: nothing is left anywhere. */
    char bad[200];
    snprintf(bad, sizeof(bad), "%s/none/t.resume", dir);
    assert_int_equal(resume_save(bad, &a), -ENOENT);
    resume_cleanup(&a);
}

static void
test_atomic_replace(void **state)
{
    (void)state;
    struct resume_state a, b;
    struct shoal_perr err = {0};
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    sample(&a);
    assert_int_equal(resume_save(path, &a), 0);
    size_t len1;
    uint8_t *first = read_whole(path, &len1);

    /* A crash during a later save leaves a half-written ".tmp": the state
     * file itself is untouched and still loads. */
    write_file(tmp, "d10:downloadedi0e5:fil", 22);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    resume_cleanup(&b);

    /* The next save goes through the stale ".tmp" and replaces the file. */
    a.downloaded = 99;
    assert_int_equal(resume_save(path, &a), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    resume_cleanup(&b);

    /* A save that fails (the ".tmp" name is taken by a folder) keeps the
     * old file whole. */
    assert_int_equal(mkdir(tmp, 0755), 0);
    a.downloaded = 100;
    assert_true(resume_save(path, &a) < 0);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_int_equal(b.downloaded, 99);
    resume_cleanup(&b);
    assert_int_equal(rmdir(tmp), 0);

    /* A symlink named like the ".tmp" is replaced, never written through. */
    char victim[160];
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    write_file(victim, "keep", 4);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(resume_save(path, &a), 0);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_int_equal(b.downloaded, 100);
    resume_cleanup(&b);
    assert_int_equal(access(tmp, F_OK), -1);
    size_t vlen;
    uint8_t *v = read_whole(victim, &vlen);
    assert_int_equal(vlen, 4);
    free(v);
    free(first);
    resume_cleanup(&a);
}

/* The two halves of a save: encode (allocates), then write (allocates
 * nothing, so a disk worker may run it). */
static void
test_encode_then_write(void **state)
{
    (void)state;
    struct resume_state a, b;
    struct shoal_perr err = {0};
    sample(&a);
    uint8_t *data;
    size_t len;
    assert_int_equal(resume_encode(&a, &data, &len), 0);
    assert_int_equal(resume_write(path, data, len), 0);
    assert_int_equal(resume_load(path, &b, &err), 0);
    assert_same(&a, &b);
    resume_cleanup(&b);
    /* The same bytes resume_save writes. */
    size_t n;
    uint8_t *saved = read_whole(path, &n);
    assert_int_equal(resume_save(path, &a), 0);
    uint8_t *again = read_whole(path, &n);
    assert_int_equal(n, len);
    assert_memory_equal(saved, data, len);
    assert_memory_equal(again, data, len);
    free(saved);
    free(again);
    xfree(data);
    /* A bad state is not encoded; a path too long is refused. */
    a.have[1] |= 0x01;
    assert_int_equal(resume_encode(&a, &data, &len), SHOAL_EINVAL);
    assert_null(data);
    char *longp = malloc(5000);
    assert_non_null(longp);
    memset(longp, 'a', 4999);
    longp[4999] = '\0';
    assert_int_equal(resume_write(longp, (const uint8_t *)"x", 1), SHOAL_ETOOBIG);
    free(longp);
    resume_cleanup(&a);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    struct resume_state a, b;
    sample(&a);
    /* Save: each allocation fails in turn; the old file stays good. */
    assert_int_equal(resume_save(path, &a), 0);
    for (long n = 0;; n++) {
        alloc_fail_after(n);
        a.downloaded = (uint64_t)n + 1000;
        int rc = resume_save(path, &a);
        alloc_fail_after(-1);
        struct shoal_perr err = {0};
        assert_int_equal(resume_load(path, &b, &err), 0);
        if (rc == 0) {
            assert_int_equal(b.downloaded, (uint64_t)n + 1000);
            resume_cleanup(&b);
            break;
        }
        /* A failed save leaves the previous state. */
        assert_int_equal(rc, SHOAL_ENOMEM);
        assert_int_equal(b.downloaded, 42);
        resume_cleanup(&b);
        assert_true(n < 100);
    }
    /* Load. */
    for (long n = 0;; n++) {
        struct shoal_perr err = {0};
        alloc_fail_after(n);
        int rc = resume_load(path, &b, &err);
        alloc_fail_after(-1);
        if (rc == 0) {
            resume_cleanup(&b);
            break;
        }
        assert_int_equal(rc, SHOAL_ENOMEM);
        assert_null(b.have);
        assert_true(n < 100);
    }
    resume_cleanup(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_torrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_then_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
