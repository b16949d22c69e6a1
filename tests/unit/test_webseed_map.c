/*
 * test_webseed_map.c — torrent byte ranges to web seed files and URLs
 * (engine/webseed_map.h, BEP 19, BEP 47): single- and multi-file URLs with
 * and without a trailing '/', names that need percent-encoding, ranges
 * that cross files, empty files that hold no byte, and pad files marked so
 * that they are never requested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "codec/metainfo.h"
#include "engine/webseed_map.h"

/* A torrent of the given files (path, size, attr), laid end to end. */
static void
make(struct shoal_metainfo *m, struct shoal_file *files, size_t n, const char *name,
     int multifile)
{
    memset(m, 0, sizeof(*m));
    m->name = (char *)name;
    m->multifile = multifile;
    m->files = files;
    m->file_count = n;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        files[i].offset = off;
        off += files[i].size;
    }
    m->total_size = off;
}

static void
expect_url(const char *base, const struct shoal_metainfo *m, size_t file,
           const char *want)
{
    char *url = NULL;
    assert_int_equal(webseed_map_url(base, m, file, &url), 0);
    assert_string_equal(url, want);
    xfree(url);
}

static void
test_single_file_urls(void **state)
{
    (void)state;
    struct shoal_file f[] = {{.path = "notes v1.bin", .size = 1000}};
    struct shoal_metainfo m;
    make(&m, f, 1, "notes v1.bin", 0);
    /* A URL naming the file is used as it is... */
    expect_url("http://h/files/notes.bin", &m, 0, "http://h/files/notes.bin");
    /* ...one ending in '/' gets the name, encoded. */
    expect_url("http://h/files/", &m, 0, "http://h/files/notes%20v1.bin");
    char *url = (char *)1;
    assert_int_equal(webseed_map_url("http://h/", &m, 1, &url), SHOAL_EINVAL);
    assert_null(url);
    assert_int_equal(webseed_map_url("", &m, 0, &url), SHOAL_EINVAL);
}

static void
test_multi_file_urls(void **state)
{
    (void)state;
    struct shoal_file f[] = {
        {.path = "My Album/01 intro.flac", .size = 10},
        {.path = "My Album/sub dir/100% done?.bin", .size = 10},
        {.path = "My Album/caf\xc3\xa9 #2&x=y.txt", .size = 10},
        {.path = "My Album/a-b_c.d~e", .size = 10},
    };
    struct shoal_metainfo m;
    make(&m, f, 4, "My Album", 1);
    /* BEP 19: url + name + "/" + path; a '/' is added when missing. */
    expect_url("http://h/base", &m, 0, "http://h/base/My%20Album/01%20intro.flac");
    expect_url("http://h/base/", &m, 0, "http://h/base/My%20Album/01%20intro.flac");
    /* Each component is encoded; the separators stay. */
    expect_url("http://h/", &m, 1, "http://h/My%20Album/sub%20dir/100%25%20done%3F.bin");
    expect_url("http://h/", &m, 2, "http://h/My%20Album/caf%C3%A9%20%232%26x%3Dy.txt");
    /* Unreserved characters go as they are. */
    expect_url("http://h/", &m, 3, "http://h/My%20Album/a-b_c.d~e");
}

static void
test_url_cap(void **state)
{
    (void)state;
    static char name[WEBSEED_MAX_URL];
    memset(name, ' ', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct shoal_file f[] = {{.path = name, .size = 1}};
    struct shoal_metainfo m;
    make(&m, f, 1, name, 0);
    char *url = (char *)1;
    /* Each space becomes three bytes: far past the cap. */
    assert_int_equal(webseed_map_url("http://h/", &m, 0, &url), SHOAL_ETOOBIG);
    assert_null(url);
}

struct seg_case {
    uint64_t off, end;
    int rc;
    size_t file;
    uint64_t file_off, len;
    int pad;
};

static void
test_segments(void **state)
{
    (void)state;
    /* a: 0-99, (empty), pad: 100-123, b: 124-223, (empty at the end). */
    struct shoal_file f[] = {
        {.path = "t/a", .size = 100},
        {.path = "t/empty", .size = 0},
        {.path = "t/.pad/24", .size = 24, .attr = SHOAL_FILE_PAD},
        {.path = "t/b", .size = 100},
        {.path = "t/last-empty", .size = 0},
    };
    struct shoal_metainfo m;
    make(&m, f, 5, "t", 1);
    static const struct seg_case cases[] = {
        /* Inside one file. */
        {0, 50, 0, 0, 0, 50, 0},
        {10, 100, 0, 0, 10, 90, 0},
        /* Across a file's end: the segment stops there. */
        {90, 200, 0, 0, 90, 10, 0},
        /* The empty file holds nothing: the pad file starts at 100. */
        {100, 200, 0, 2, 0, 24, 1},
        {110, 124, 0, 2, 10, 14, 1},
        {124, 224, 0, 3, 0, 100, 0},
        {200, 224, 0, 3, 76, 24, 0},
        /* Outside the torrent, or empty. */
        {224, 225, SHOAL_EINVAL, 0, 0, 0, 0},
        {0, 225, SHOAL_EINVAL, 0, 0, 0, 0},
        {50, 50, SHOAL_EINVAL, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct seg_case *c = &cases[i];
        struct webseed_segment s = {0};
        assert_int_equal(webseed_map_segment(&m, c->off, c->end, &s), c->rc);
        if (c->rc)
            continue;
        assert_int_equal(s.file, c->file);
        assert_int_equal(s.file_off, c->file_off);
        assert_int_equal(s.len, c->len);
        assert_int_equal(s.pad, c->pad);
    }
}

/* Walking a range segment by segment covers it exactly once, in order,
 * whatever the file sizes. */
static void
test_segments_cover(void **state)
{
    (void)state;
    struct shoal_file f[40];
    char paths[40][16];
    for (size_t i = 0; i < 40; i++) {
        snprintf(paths[i], sizeof(paths[i]), "t/%zu", i);
        f[i] = (struct shoal_file){.path = paths[i], .size = (i * 37) % 11};
    }
    struct shoal_metainfo m;
    make(&m, f, 40, "t", 1);
    for (uint64_t a = 0; a < m.total_size; a += 7) {
        for (uint64_t b = a + 1; b <= m.total_size; b += 13) {
            uint64_t off = a;
            size_t last = 0;
            while (off < b) {
                struct webseed_segment s;
                assert_int_equal(webseed_map_segment(&m, off, b, &s), 0);
                assert_true(s.len > 0);
                assert_true(s.file >= last);
                assert_int_equal(f[s.file].offset + s.file_off, off);
                assert_true(s.file_off + s.len <= f[s.file].size);
                last = s.file;
                off += s.len;
            }
            assert_int_equal(off, b);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_file_urls), cmocka_unit_test(test_multi_file_urls),
        cmocka_unit_test(test_url_cap),          cmocka_unit_test(test_segments),
        cmocka_unit_test(test_segments_cover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
