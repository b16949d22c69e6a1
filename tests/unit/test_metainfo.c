/*
 * test_metainfo.c — torrent file parsing: the hand-made bad torrents in
 * tests/data/torrents/bad (each must fail with its .expect text), the unsafe
 * ones in tests/data/torrents/unsafe (each must come out with exactly the
 * safe paths in its .expect), and the fields of well-formed torrents.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/sha.h"
#include "base/util.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"

static char datadir[4096];

static char *
read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

static size_t
for_each_case(const char *sub, void (*fn)(const char *base))
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/%s", datadir, sub);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 9 || strcmp(de->d_name + l - 8, ".torrent"))
            continue;
        char base[4400];
        snprintf(base, sizeof(base), "%s/%.*s", dir, (int)(l - 8), de->d_name);
        fn(base);
        n++;
    }
    closedir(d);
    return n;
}

static void
check_bad(const char *base)
{
    char path[4500];
    size_t len, elen;
    snprintf(path, sizeof(path), "%s.expect", base);
    char *expect = read_whole(path, &elen);
    while (elen && expect[elen - 1] == '\n')
        expect[--elen] = '\0';
    snprintf(path, sizeof(path), "%s.torrent", base);
    shoal_metainfo *m = (shoal_metainfo *)1;
    struct shoal_perr err;
    int rc = shoal_metainfo_load(path, &m, &err);
    if (rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG)
        fail_msg("%s: rc=%d, expected a parse error", path, rc);
    assert_null(m);
    if (!strstr(shoal_perr_text(&err), expect))
        fail_msg("%s: got \"%s\", want \"%s\"", path, shoal_perr_text(&err), expect);
    /* Parsing from memory gives the same verdict. */
    char *data = read_whole(path, &len);
    assert_int_equal(shoal_metainfo_parse(data, len, &m, &err), rc);
    free(data);
    free(expect);
}

static void
test_bad_torrents(void **state)
{
    (void)state;
    size_t n = for_each_case("bad", check_bad);
    assert_true(n >= 30);
}

static void
check_unsafe(const char *base)
{
    char path[4500];
    size_t elen;
    snprintf(path, sizeof(path), "%s.expect", base);
    char *expect = read_whole(path, &elen);
    snprintf(path, sizeof(path), "%s.torrent", base);
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    int rc = shoal_metainfo_load(path, &m, &err);
    if (rc)
        fail_msg("%s: %s", path, shoal_perr_text(&err));

    char got[8192];
    size_t o = 0;
    for (size_t i = 0; i < shoal_metainfo_file_count(m); i++) {
        const struct shoal_file *f = shoal_metainfo_file(m, i);
        const char *pfx = f->attr & SHOAL_FILE_PAD ? "pad " : f->symlink ? "link " : "";
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", pfx, f->path);
        if (f->symlink)
            o += (size_t)snprintf(got + o, sizeof(got) - o, " -> %s", f->symlink);
        o += (size_t)snprintf(got + o, sizeof(got) - o, "\n");
        /* Whatever the rewrite, the rules must hold. */
        assert_true(f->path[0] != '/');
        assert_null(strstr(f->path, "//"));
        assert_null(strstr(f->path, "\\"));
        assert_false(!strncmp(f->path, "../", 3) || strstr(f->path, "/../") ||
                     !strcmp(f->path, ".."));
        if (f->symlink)
            assert_true(f->attr & SHOAL_FILE_SYMLINK);
    }
    if (strcmp(got, expect))
        fail_msg("%s:\ngot:\n%swant:\n%s", path, got, expect);
    free(expect);
    shoal_metainfo_free(m);
}

static void
test_unsafe_torrents(void **state)
{
    (void)state;
    size_t n = for_each_case("unsafe", check_unsafe);
    assert_true(n >= 15);
}

/* A well-formed torrent with every optional field, keys deliberately out of
 * order in info so the infohash must come from the raw bytes. */
static size_t
make_full_torrent(uint8_t *out, size_t cap, const uint8_t **info, size_t *info_len)
{
    uint8_t pieces[40];
    memset(pieces, 0xab, sizeof(pieces));
    const char *head = "d8:announce22:http://a.example/annce"
                       "13:announce-listll22:http://a.example/anncee"
                       "l15:udp://b.example15:udp://c.example22:http://a.example/annceee"
                       "7:comment5:latin13:comment.utf-86:caf\xc3\xa9!"
                       "10:created by8:shoal/t013:creation datei1700000000e"
                       "4:info";
    const char *info_a = "d4:name4:data6:lengthi20000e12:piece lengthi16384e6:pieces40:";
    const char *info_b = "7:privatei1e6:source3:abce";
    const char *tail = "5:nodesll9:127.0.0.1i6881eel4:hosti0eel2:h2i65535eee"
                       "8:url-listl18:http://w.example/x0:ee";
    size_t n = 0;
#define PUT(p, l)                                                                        \
    do {                                                                                 \
        assert_true(n + (l) <= cap);                                                     \
        memcpy(out + n, (p), (l));                                                       \
        n += (l);                                                                        \
    } while (0)
    PUT(head, strlen(head));
    *info = out + n;
    PUT(info_a, strlen(info_a));
    PUT(pieces, sizeof(pieces));
    PUT(info_b, strlen(info_b));
    *info_len = (size_t)(out + n - *info);
    PUT(tail, strlen(tail));
#undef PUT
    return n;
}

static void
test_full_torrent(void **state)
{
    (void)state;
    uint8_t buf[1024];
    const uint8_t *info;
    size_t info_len;
    size_t n = make_full_torrent(buf, sizeof(buf), &info, &info_len);
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    int rc = shoal_metainfo_parse(buf, n, &m, &err);
    if (rc)
        fail_msg("parse: %s at %zu", shoal_perr_text(&err), err.off);

    uint8_t want[20];
    sha1(info, info_len, want);
    assert_memory_equal(shoal_metainfo_infohash(m), want, 20);
    assert_string_equal(shoal_metainfo_name(m), "data");
    assert_int_equal(shoal_metainfo_total_size(m), 20000);
    assert_int_equal(shoal_metainfo_piece_length(m), 16384);
    assert_int_equal(shoal_metainfo_piece_count(m), 2);
    assert_int_equal(shoal_metainfo_piece_hash(m, 1)[0], 0xab);
    assert_null(shoal_metainfo_piece_hash(m, 2));
    assert_true(shoal_metainfo_is_private(m));
    assert_false(shoal_metainfo_is_multifile(m));
    assert_int_equal(shoal_metainfo_file_count(m), 1);
    assert_string_equal(shoal_metainfo_file(m, 0)->path, "data");
    assert_string_equal(shoal_metainfo_comment(m), "caf\xc3\xa9!");
    assert_string_equal(shoal_metainfo_creator(m), "shoal/t0");
    assert_string_equal(shoal_metainfo_source(m), "abc");
    assert_int_equal(shoal_metainfo_creation_date(m), 1700000000);

    /* announce-list wins over announce; duplicates dropped; tiers kept. */
    assert_int_equal(shoal_metainfo_tracker_count(m), 3);
    int tier = -1;
    assert_string_equal(shoal_metainfo_tracker(m, 0, &tier), "http://a.example/annce");
    assert_int_equal(tier, 0);
    assert_string_equal(shoal_metainfo_tracker(m, 1, &tier), "udp://b.example");
    assert_int_equal(tier, 1);
    assert_string_equal(shoal_metainfo_tracker(m, 2, &tier), "udp://c.example");
    assert_int_equal(tier, 1);

    /* Empty url-list entries are skipped; a bad node port is skipped. */
    assert_int_equal(shoal_metainfo_webseed_count(m), 1);
    assert_string_equal(shoal_metainfo_webseed(m, 0), "http://w.example/x");
    assert_int_equal(shoal_metainfo_node_count(m), 2);
    int port = 0;
    assert_string_equal(shoal_metainfo_node(m, 0, &port), "127.0.0.1");
    assert_int_equal(port, 6881);
    assert_string_equal(shoal_metainfo_node(m, 1, &port), "h2");
    assert_int_equal(port, 65535);

    char *magnet = shoal_metainfo_magnet(m);
    assert_non_null(magnet);
    char hex[41];
    hex_encode(want, 20, hex);
    assert_non_null(strstr(magnet, hex));
    assert_non_null(strstr(magnet, "&dn=data"));
    shoal_free(magnet);

    /* The raw info bytes are kept for serving metadata later. */
    assert_int_equal(m->info_len, info_len);
    assert_memory_equal(m->info, info, info_len);
    shoal_metainfo_free(m);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    uint8_t buf[1024];
    const uint8_t *info;
    size_t info_len;
    size_t n = make_full_torrent(buf, sizeof(buf), &info, &info_len);
    /* Fail each allocation in turn: ENOMEM, no crash, no leak (ASan). */
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        shoal_metainfo *m = NULL;
        struct shoal_perr err;
        alloc_fail_after(k);
        int rc = shoal_metainfo_parse(buf, n, &m, &err);
        alloc_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            shoal_metainfo_free(m);
        } else {
            assert_int_equal(rc, SHOAL_ENOMEM);
            assert_null(m);
        }
    }
    assert_true(ok);
}

static void
test_load_limits(void **state)
{
    (void)state;
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    assert_int_equal(shoal_metainfo_load("/nonexistent/x.torrent", &m, &err), -ENOENT);
    assert_int_equal(shoal_metainfo_load("/", &m, &err), -EISDIR);

    /* A sparse 11 MiB file is refused from its size alone. */
    char path[] = "/tmp/shoal-test-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 11 * 1024 * 1024), 0);
    close(fd);
    assert_int_equal(shoal_metainfo_load(path, &m, &err), SHOAL_ETOOBIG);
    assert_non_null(strstr(shoal_perr_text(&err), "limit 10485760"));
    unlink(path);

    /* Over the limit in memory too. */
    assert_int_equal(shoal_metainfo_parse("", SHOAL_MAX_TORRENT_FILE + 1, &m, &err),
                     SHOAL_ETOOBIG);
}

static void
test_pad_and_attrs(void **state)
{
    (void)state;
    char path[4500];
    snprintf(path, sizeof(path), "%s/unsafe/pad-files-kept.torrent", datadir);
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    assert_int_equal(shoal_metainfo_load(path, &m, &err), 0);
    assert_int_equal(shoal_metainfo_file_count(m), 5);
    /* Offsets count pad files: the file after a pad starts on a piece. */
    assert_int_equal(shoal_metainfo_file(m, 2)->offset, 16384);
    assert_int_equal(shoal_metainfo_file(m, 4)->offset, 32768);
    assert_true(shoal_metainfo_file(m, 1)->attr & SHOAL_FILE_PAD);
    assert_int_equal(shoal_metainfo_total_size(m), 32768 + 5);
    shoal_metainfo_free(m);
}

int
main(void)
{
    const char *src = getenv("SHOAL_SRC");
    snprintf(datadir, sizeof(datadir), "%s/tests/data/torrents", src ? src : "../..");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_torrents), cmocka_unit_test(test_unsafe_torrents),
        cmocka_unit_test(test_full_torrent), cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_load_limits),  cmocka_unit_test(test_pad_and_attrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
