/*
 * test_create.c — making torrents: the automatic piece length table, a small
 * folder (nested folders, an empty file, files that span pieces, a skipped
 * symlink) whose file list and every piece hash are checked against data
 * hashed here independently, single files, the error cases, tracker tiers,
 * determinism across runs and thread counts, cancelation, and every
 * allocation failing in turn.
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
#include "base/sha.h"
#include "shoal.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define TiB (1024 * GiB)

/* Where a string literal occurs in a buffer, or NULL. */
#define HAS(buf, len, lit) memmem((buf), (len), (lit), sizeof(lit) - 1)

/* ------------------------------------------------------------------ fixture */

static char root[256];

/* Deterministic bytes, different for each file. */
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
make_file(const char *rel, size_t size, unsigned seed)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    uint8_t *data = malloc(size ? size : 1);
    assert_non_null(data);
    fill(data, size, seed);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void
make_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void
rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int
setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/shoal-test-create-XXXXXX", tmp ? tmp : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    rm_tree(root);
    return 0;
}

/* The files of the sample folder in the order the torrent must list them:
 * bytewise by path components, so "B" sorts before "a", and the folder "b"
 * (component "b") before the file "b.txt". */
struct sample {
    const char *rel;
    size_t size;
};

static const struct sample sample_files[] = {
    {"B.txt", 5},          {"a.txt", 16384}, /* exactly one piece */
    {"b/c.bin", 40000},                      /* spans three pieces */
    {"b/d/e/deep.bin", 1}, {"b/empty", 0},   /* listed, with length 0 */
    {"b.txt", 20000},
};

static void
make_sample(const char *name)
{
    char rel[256];
    make_dir(name);
    snprintf(rel, sizeof(rel), "%s/b", name);
    make_dir(rel);
    snprintf(rel, sizeof(rel), "%s/b/d", name);
    make_dir(rel);
    snprintf(rel, sizeof(rel), "%s/b/d/e", name);
    make_dir(rel);
    snprintf(rel, sizeof(rel), "%s/emptydir", name);
    make_dir(rel);
    for (size_t i = 0; i < sizeof(sample_files) / sizeof(sample_files[0]); i++) {
        snprintf(rel, sizeof(rel), "%s/%s", name, sample_files[i].rel);
        make_file(rel, sample_files[i].size, (unsigned)i);
    }
    /* A symlink to a file and one to a folder: both skipped by default. */
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/link", root, name);
    assert_int_equal(symlink("a.txt", path), 0);
    snprintf(path, sizeof(path), "%s/%s/b/uplink", root, name);
    assert_int_equal(symlink("..", path), 0);
}

static int
create(const char *rel, uint32_t plen, unsigned threads, uint8_t **out, size_t *len,
       struct shoal_perr *err)
{
    char path[512];
    struct shoal_create_opts o;
    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    o.path = path;
    o.creation_date = -1;
    o.piece_length = plen;
    o.threads = threads;
    return shoal_create_torrent(&o, out, len, err);
}

/* ------------------------------------------------------------------ tests */

static void
test_auto_piece_length(void **state)
{
    (void)state;
    static const struct {
        uint64_t size;
        uint32_t plen;
    } cases[] = {
        {0, 16 * KiB},
        {1, 16 * KiB},
        {2000 * 16 * KiB, 16 * KiB}, /* exactly 2000 pieces */
        {2000 * 16 * KiB + 1, 32 * KiB},
        {100 * MiB, 64 * KiB},
        {700 * MiB, 512 * KiB},
        {1 * GiB, 1 * MiB},
        {2 * GiB, 2 * MiB},
        {4 * GiB + 1, 4 * MiB},
        {10 * GiB, 8 * MiB},
        {31 * GiB, 16 * MiB},
        {1 * TiB, 16 * MiB}, /* past 32 GB the count grows, not the piece */
        {4 * TiB, 16 * MiB}, /* 262144 pieces: the most that fit */
        {4 * TiB + 1, 32 * MiB},
        {16 * TiB, 64 * MiB},
        {64 * TiB, 64 * MiB}, /* the cap: creating this fails */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t got = shoal_create_auto_piece_length(cases[i].size);
        if (got != cases[i].plen)
            fail_msg("size %llu: got %u, want %u", (unsigned long long)cases[i].size, got,
                     cases[i].plen);
    }
}

static void
test_folder(void **state)
{
    (void)state;
    const size_t nfiles = sizeof(sample_files) / sizeof(sample_files[0]);
    uint8_t *out = NULL;
    size_t len = 0;
    struct shoal_perr err = {0};
    make_sample("folder");
    assert_int_equal(create("folder", 16 * KiB, 2, &out, &len, &err), 0);

    shoal_metainfo *m = NULL;
    assert_int_equal(shoal_metainfo_parse(out, len, &m, &err), 0);
    assert_string_equal(shoal_metainfo_name(m), "folder");
    assert_true(shoal_metainfo_is_multifile(m));
    assert_false(shoal_metainfo_is_private(m));
    assert_int_equal(shoal_metainfo_piece_length(m), 16 * KiB);
    assert_int_equal(shoal_metainfo_file_count(m), nfiles);

    /* The data as the torrent sees it: the files end to end. */
    size_t total = 0;
    for (size_t i = 0; i < nfiles; i++)
        total += sample_files[i].size;
    assert_int_equal(shoal_metainfo_total_size(m), total);
    uint8_t *all = malloc(total);
    assert_non_null(all);
    size_t off = 0;
    for (size_t i = 0; i < nfiles; i++) {
        const struct shoal_file *f = shoal_metainfo_file(m, i);
        char want[256];
        snprintf(want, sizeof(want), "folder/%s", sample_files[i].rel);
        /* The metainfo may or may not put the torrent name in front. */
        if (strcmp(f->path, want) != 0)
            assert_string_equal(f->path, sample_files[i].rel);
        assert_int_equal(f->size, sample_files[i].size);
        assert_int_equal(f->offset, off);
        fill(all + off, sample_files[i].size, (unsigned)i);
        off += sample_files[i].size;
    }

    uint32_t npieces = (uint32_t)((total + 16 * KiB - 1) / (16 * KiB));
    assert_int_equal(shoal_metainfo_piece_count(m), npieces);
    for (uint32_t p = 0; p < npieces; p++) {
        size_t start = (size_t)p * 16 * KiB;
        size_t n = total - start < 16 * KiB ? total - start : 16 * KiB;
        uint8_t want[SHA1_LEN];
        assert_int_equal(sha1(all + start, n, want), 0);
        assert_memory_equal(shoal_metainfo_piece_hash(m, p), want, SHA1_LEN);
    }
    free(all);
    shoal_metainfo_free(m);
    shoal_free(out);
}

/* A folder shoal downloaded into: the torrent holds the data only, not the
 * unfinished files, parts files or old state folder a download left. */
static void
test_skips_download_leftovers(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t len = 0;
    struct shoal_perr err = {0};
    make_dir("dl");
    make_file("dl/song.flac", 5000, 1);
    make_file("dl/video.mkv.part", 7000, 2);
    make_file("dl/t.parts", 300, 3);
    make_file("dl/.part", 10, 4); /* nothing before the suffix: a name */
    make_dir("dl/.shoal");
    make_file("dl/.shoal/0123.resume", 200, 5);
    make_dir("dl/sub");
    make_file("dl/sub/notes.part.txt", 40, 6);
    make_file("dl/sub/b.part", 50, 7);
    make_dir("dl/sub/x.part");
    make_file("dl/sub/x.part/inner", 60, 8);
    assert_int_equal(create("dl", 16 * KiB, 1, &out, &len, &err), 0);
    shoal_metainfo *m = NULL;
    assert_int_equal(shoal_metainfo_parse(out, len, &m, &err), 0);
    static const char *const want[] = {".part", "song.flac", "sub/notes.part.txt",
                                       "sub/x.part/inner"};
    assert_int_equal(shoal_metainfo_file_count(m), 4);
    for (size_t i = 0; i < 4; i++) {
        const char *p = shoal_metainfo_file(m, i)->path;
        const char *rel = strncmp(p, "dl/", 3) == 0 ? p + 3 : p;
        assert_string_equal(rel, want[i]);
    }
    assert_int_equal(shoal_metainfo_total_size(m), 10 + 5000 + 40 + 60);
    shoal_metainfo_free(m);
    shoal_free(out);

    /* A file named by the user is shared whatever its name. */
    assert_int_equal(create("dl/video.mkv.part", 16 * KiB, 1, &out, &len, &err), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, &err), 0);
    assert_int_equal(shoal_metainfo_total_size(m), 7000);
    shoal_metainfo_free(m);
    shoal_free(out);
}

static void
test_follow_symlinks(void **state)
{
    (void)state;
    char path[512];
    struct shoal_create_opts o;
    uint8_t *out = NULL;
    size_t len = 0;
    shoal_metainfo *m = NULL;
    make_dir("follow");
    make_dir("follow/sub");
    make_file("follow/sub/x", 3, 1);
    make_file("target", 7, 2);
    snprintf(path, sizeof(path), "%s/follow/ln", root);
    assert_int_equal(symlink("../target", path), 0);
    snprintf(path, sizeof(path), "%s/follow/sub/loop", root);
    assert_int_equal(symlink("..", path), 0); /* back to the root: not walked */
    snprintf(path, sizeof(path), "%s/follow/dangling", root);
    assert_int_equal(symlink("nowhere", path), 0);

    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/follow", root);
    o.path = path;
    o.creation_date = -1;
    o.follow_symlinks = 1;
    assert_int_equal(shoal_create_torrent(&o, &out, &len, NULL), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, NULL), 0);
    assert_int_equal(shoal_metainfo_file_count(m), 2);
    assert_int_equal(shoal_metainfo_file(m, 0)->size, 7); /* "ln" */
    assert_int_equal(shoal_metainfo_file(m, 1)->size, 3); /* "sub/x" */
    shoal_metainfo_free(m);
    shoal_free(out);
}

static void
test_single_file(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t len = 0;
    shoal_metainfo *m = NULL;
    make_file("one.bin", 100000, 9);
    assert_int_equal(create("one.bin", 0, 0, &out, &len, NULL), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, NULL), 0);
    assert_false(shoal_metainfo_is_multifile(m));
    assert_string_equal(shoal_metainfo_name(m), "one.bin");
    assert_int_equal(shoal_metainfo_total_size(m), 100000);
    assert_int_equal(shoal_metainfo_piece_length(m), 16 * KiB);
    assert_int_equal(shoal_metainfo_piece_count(m), 7);
    uint8_t *data = malloc(100000);
    assert_non_null(data);
    fill(data, 100000, 9);
    uint8_t want[SHA1_LEN];
    assert_int_equal(sha1(data + 6 * 16 * KiB, 100000 - 6 * 16 * KiB, want), 0);
    assert_memory_equal(shoal_metainfo_piece_hash(m, 6), want, SHA1_LEN);
    free(data);
    shoal_metainfo_free(m);
    shoal_free(out);

    /* A trailing slash or "." in the path does not change the name. */
    make_dir("named");
    make_file("named/f", 10, 1);
    assert_int_equal(create("named/", 0, 0, &out, &len, NULL), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, NULL), 0);
    assert_string_equal(shoal_metainfo_name(m), "named");
    shoal_metainfo_free(m);
    shoal_free(out);
    assert_int_equal(create("named/.", 0, 0, &out, &len, NULL), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, NULL), 0);
    assert_string_equal(shoal_metainfo_name(m), "named");
    shoal_metainfo_free(m);
    shoal_free(out);
}

static void
test_errors(void **state)
{
    (void)state;
    uint8_t *out = (uint8_t *)"x";
    size_t len = 1;
    struct shoal_perr err = {0};

    make_dir("nodata");
    make_dir("nodata/sub");
    make_dir("nodata/sub/deeper");
    make_file("nodata/sub/zero", 0, 0);
    assert_int_equal(create("nodata", 0, 0, &out, &len, &err), SHOAL_ENODATA);
    assert_non_null(strstr(err.why, "nothing to share"));
    assert_null(out);
    assert_int_equal(len, 0);

    make_file("zero.bin", 0, 0);
    assert_int_equal(create("zero.bin", 0, 0, &out, &len, &err), SHOAL_ENODATA);

    make_file("small", 10, 0);
    static const uint32_t bad[] = {1, 1000, 8 * KiB, 48 * KiB, 128 * MiB, 0x80000000u};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.why = NULL;
        assert_int_equal(create("small", bad[i], 0, &out, &len, &err), SHOAL_EINVAL);
        assert_non_null(strstr(err.why, "piece length"));
    }
    assert_int_equal(create("small", 64 * MiB, 0, &out, &len, &err), 0);
    shoal_free(out);

    assert_int_equal(create("does-not-exist", 0, 0, &out, &len, &err), -ENOENT);
    assert_non_null(err.why);
    assert_int_equal(shoal_create_torrent(NULL, &out, &len, &err), SHOAL_EINVAL);

    /* Tracker URLs need a scheme. */
    char path[512];
    struct shoal_create_opts o;
    const char *const trackers[] = {"tracker.example:80", NULL};
    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/small", root);
    o.path = path;
    o.trackers = trackers;
    assert_int_equal(shoal_create_torrent(&o, &out, &len, &err), SHOAL_EINVAL);
}

static void
test_fields(void **state)
{
    (void)state;
    char path[512];
    struct shoal_create_opts o;
    uint8_t *out = NULL;
    size_t len = 0;
    shoal_metainfo *m = NULL;
    int tier = -1;
    const char *const trackers[] = {"udp://a.example:1/ann, http://b.example/ann", "",
                                    "https://c.example/ann", NULL};
    const char *const webseeds[] = {"http://w.example/", NULL};

    make_file("fields.bin", 1000, 3);
    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/fields.bin", root);
    o.path = path;
    o.trackers = trackers;
    o.webseeds = webseeds;
    o.comment = "a comment";
    o.source = "SRC";
    o.creator = "shoal/test";
    o.creation_date = 1700000000;
    o.private_flag = 1;
    assert_int_equal(shoal_create_torrent(&o, &out, &len, NULL), 0);
    assert_int_equal(shoal_metainfo_parse(out, len, &m, NULL), 0);
    assert_int_equal(shoal_metainfo_tracker_count(m), 3);
    assert_string_equal(shoal_metainfo_tracker(m, 0, &tier), "udp://a.example:1/ann");
    assert_int_equal(tier, 0);
    assert_string_equal(shoal_metainfo_tracker(m, 1, &tier), "http://b.example/ann");
    assert_int_equal(tier, 0);
    assert_string_equal(shoal_metainfo_tracker(m, 2, &tier), "https://c.example/ann");
    assert_int_equal(tier, 1);
    assert_int_equal(shoal_metainfo_webseed_count(m), 1);
    assert_string_equal(shoal_metainfo_webseed(m, 0), "http://w.example/");
    assert_string_equal(shoal_metainfo_comment(m), "a comment");
    assert_string_equal(shoal_metainfo_source(m), "SRC");
    assert_string_equal(shoal_metainfo_creator(m), "shoal/test");
    assert_int_equal(shoal_metainfo_creation_date(m), 1700000000);
    assert_true(shoal_metainfo_is_private(m));
    /* BEP 19: one web seed is a plain string. */
    assert_non_null(HAS(out, len, "8:url-list17:http://w.example/"));
    shoal_metainfo_free(m);
    shoal_free(out);

    /* One tracker: `announce` only, no announce-list (BEP 12 is for more). */
    const char *const one[] = {"http://only.example/ann", NULL};
    o.trackers = one;
    o.webseeds = NULL;
    o.creation_date = -1;
    assert_int_equal(shoal_create_torrent(&o, &out, &len, NULL), 0);
    assert_non_null(HAS(out, len, "8:announce23:http://only.example/ann"));
    assert_null(HAS(out, len, "announce-list"));
    assert_null(HAS(out, len, "creation date"));
    shoal_free(out);
}

static void
test_deterministic(void **state)
{
    (void)state;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    make_sample("det");
    make_file("det/big.bin", 3 * MiB + 12345, 77);
    assert_int_equal(create("det", 16 * KiB, 1, &a, &alen, NULL), 0);
    for (unsigned threads = 2; threads <= 5; threads++) {
        assert_int_equal(create("det", 16 * KiB, threads, &b, &blen, NULL), 0);
        assert_int_equal(alen, blen);
        assert_memory_equal(a, b, alen);
        shoal_free(b);
    }
    shoal_free(a);
}

static int
cancel_cb(uint64_t done, uint64_t total, void *user)
{
    int *calls = user;
    (*calls)++;
    assert_true(done <= total);
    return 1;
}

static void
test_cancel(void **state)
{
    (void)state;
    char path[512];
    struct shoal_create_opts o;
    uint8_t *out = NULL;
    size_t len = 0;
    int calls = 0;
    make_file("cancel.bin", 1 * MiB, 5);
    memset(&o, 0, sizeof(o));
    snprintf(path, sizeof(path), "%s/cancel.bin", root);
    o.path = path;
    o.creation_date = -1;
    o.progress = cancel_cb;
    o.user = &calls;
    assert_int_equal(shoal_create_torrent(&o, &out, &len, NULL), SHOAL_ECANCELED);
    assert_null(out);
    assert_true(calls >= 1);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    make_sample("alloc");
    int ok = 0;
    for (long k = 0; k < 10000 && !ok; k++) {
        uint8_t *out = NULL;
        size_t len = 0;
        alloc_fail_after(k);
        int rc = create("alloc", 0, 2, &out, &len, NULL);
        alloc_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            shoal_free(out);
        } else {
            assert_int_equal(rc, SHOAL_ENOMEM);
            assert_null(out);
        }
    }
    assert_true(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_piece_length),
        cmocka_unit_test(test_folder),
        cmocka_unit_test(test_skips_download_leftovers),
        cmocka_unit_test(test_follow_symlinks),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
