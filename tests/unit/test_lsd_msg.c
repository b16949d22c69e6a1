/*
 * test_lsd_msg.c — the BEP 14 announce codec (codec/lsd_msg.c): announces
 * shaped like libtorrent's and ours, header spelling and line ends that
 * are tolerated, infohashes skipped or capped, announces refused with the
 * reason, the exact bytes we send, and how many infohashes fit in one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "codec/lsd_msg.h"
#include "shoal.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1
#define IH1  "0123456789abcdef0123456789abcdef01234567"
#define IH2  "FEDCBA9876543210FEDCBA9876543210FEDCBA98"

static void
test_libtorrent_announce(void **state)
{
    (void)state;
    struct lsd_msg m;
    struct shoal_perr err = {0};
    assert_int_equal(lsd_msg_parse(B("BT-SEARCH * HTTP/1.1\r\n"
                                     "Host: 239.192.152.143:6771\r\n"
                                     "Port: 6881\r\n"
                                     "Infohash: " IH1 "\r\n"
                                     "cookie: 1a2b3c\r\n"
                                     "\r\n\r\n"),
                                   &m, &err),
                     0);
    assert_int_equal(m.port, 6881);
    assert_int_equal(m.nih, 1);
    assert_int_equal(m.ih[0][0], 0x01);
    assert_int_equal(m.ih[0][19], 0x67);
    assert_string_equal(m.cookie, "1a2b3c");
    assert_int_equal(m.skipped, 0);
}

static void
test_tolerated(void **state)
{
    (void)state;
    struct lsd_msg m;
    /* Bare LF, any case, spaces around values, two infohashes (one upper
     * case), unknown headers, no cookie, no final empty line. */
    assert_int_equal(lsd_msg_parse(B("BT-SEARCH * HTTP/1.1\n"
                                     "HOST: [ff15::efc0:988f]:6771\n"
                                     "port:51413  \n"
                                     "X-Other: whatever\n"
                                     "infohash:   " IH1 "\n"
                                     "INFOHASH: " IH2),
                                   &m, NULL),
                     0);
    assert_int_equal(m.port, 51413);
    assert_int_equal(m.nih, 2);
    assert_int_equal(m.ih[1][0], 0xfe);
    assert_string_equal(m.cookie, "");
    /* A v2 hash (64 digits) and a short one are skipped, as libtorrent
     * does, as long as one good one is left; a long cookie is not kept. */
    assert_int_equal(lsd_msg_parse(B("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"
                                     "Infohash: " IH1 IH1 "\r\n"
                                     "Infohash: abc\r\n"
                                     "Infohash: " IH2 "\r\n"
                                     "cookie: 0123456789abcdef0123456789abcdef0\r\n\r\n"),
                                   &m, NULL),
                     0);
    assert_int_equal(m.nih, 1);
    assert_int_equal(m.skipped, 2);
    assert_string_equal(m.cookie, "");
    /* Headers after the empty line are not headers. */
    assert_int_equal(lsd_msg_parse(B("BT-SEARCH * HTTP/1.1\r\nPort: 7\r\nInfohash: " IH1
                                     "\r\n\r\nInfohash: " IH2 "\r\n"),
                                   &m, NULL),
                     0);
    assert_int_equal(m.nih, 1);
}

static void
test_full(void **state)
{
    (void)state;
    /* As many infohashes as the size limit lets in, in the shortest
     * spelling: every one is read (the cap is above what fits). */
    struct buf b;
    buf_init(&b, 4096);
    buf_append_str(&b, "BT-SEARCH * HTTP/1.1\nPort:1\n");
    int n = 0;
    while (b.len + 50 <= LSD_MAX_MSG)
        buf_printf(&b, "infohash:%040x\n", n++);
    assert_true(n <= LSD_MAX_INFOHASHES);
    struct lsd_msg m;
    assert_int_equal(lsd_msg_parse(b.data, b.len, &m, NULL), 0);
    assert_int_equal(m.nih, (size_t)n);
    assert_int_equal(m.skipped, 0);
    assert_int_equal(m.ih[n - 1][19], n - 1);
    buf_cleanup(&b);
}

struct bad_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    const char *why;
};

static const struct bad_vector bads[] = {
    {"empty", B(""), "not a BT-SEARCH request"},
    {"M-SEARCH", B("M-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " IH1 "\r\n\r\n"),
     "not a BT-SEARCH request"},
    {"HTTP/1.0", B("BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nInfohash: " IH1 "\r\n\r\n"),
     "not a BT-SEARCH request"},
    {"no port", B("BT-SEARCH * HTTP/1.1\r\nInfohash: " IH1 "\r\n\r\n"), "no Port header"},
    {"port 0", B("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: " IH1 "\r\n\r\n"),
     "Port is not 1-65535"},
    {"port 65536", B("BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: " IH1 "\r\n\r\n"),
     "Port is not 1-65535"},
    {"port -1", B("BT-SEARCH * HTTP/1.1\r\nPort: -1\r\nInfohash: " IH1 "\r\n\r\n"),
     "Port is not 1-65535"},
    {"port 0080", B("BT-SEARCH * HTTP/1.1\r\nPort: 0080\r\nInfohash: " IH1 "\r\n\r\n"),
     "Port is not 1-65535"},
    {"two ports",
     B("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\nInfohash: " IH1 "\r\n\r\n"),
     "two Port headers"},
    {"no infohash", B("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n"), "no infohash"},
    {"bad infohash",
     B("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"
       "Infohash: g123456789abcdef0123456789abcdef01234567\r\n\r\n"),
     "no infohash"},
    {"no colon", B("BT-SEARCH * HTTP/1.1\r\nPort 1\r\nInfohash: " IH1 "\r\n\r\n"),
     "header line without a colon"},
};

static void
test_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct lsd_msg m;
        struct shoal_perr err = {0};
        int rc = lsd_msg_parse(bads[i].in, bads[i].len, &m, &err);
        if (rc != SHOAL_EPARSE || !err.why || strcmp(err.why, bads[i].why) != 0)
            fail_msg("%s: rc %d why %s", bads[i].name, rc, err.why ? err.why : "-");
        assert_true(err.off <= bads[i].len);
    }
    uint8_t big[LSD_MAX_MSG + 1];
    memset(big, 'a', sizeof(big));
    struct lsd_msg m;
    struct shoal_perr err = {0};
    assert_int_equal(lsd_msg_parse(big, sizeof(big), &m, &err), SHOAL_ETOOBIG);
}

static void
test_format(void **state)
{
    (void)state;
    uint8_t ih[2][20];
    for (int i = 0; i < 20; i++) {
        ih[0][i] = (uint8_t)i;
        ih[1][i] = (uint8_t)(0xff - i);
    }
    struct buf b;
    buf_init(&b, LSD_MAX_MSG);
    assert_int_equal(lsd_msg_format("239.192.152.143:6771", 6881,
                                    (const uint8_t(*)[20])ih, 2, "c00k1e", &b),
                     2);
    static const char want[] = "BT-SEARCH * HTTP/1.1\r\n"
                               "Host: 239.192.152.143:6771\r\n"
                               "Port: 6881\r\n"
                               "Infohash: 000102030405060708090a0b0c0d0e0f10111213\r\n"
                               "Infohash: fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedec\r\n"
                               "cookie: c00k1e\r\n"
                               "\r\n\r\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    struct lsd_msg m;
    assert_int_equal(lsd_msg_parse(b.data, b.len, &m, NULL), 0);
    assert_int_equal(m.nih, 2);
    assert_memory_equal(m.ih, ih, 40);
    assert_string_equal(m.cookie, "c00k1e");
    buf_cleanup(&b);

    /* Refused: nothing to announce, port 0, a line break in a header. */
    buf_init(&b, LSD_MAX_MSG);
    assert_int_equal(lsd_msg_format("h:1", 1, (const uint8_t(*)[20])ih, 0, NULL, &b),
                     SHOAL_EINVAL);
    assert_int_equal(lsd_msg_format("h:1", 0, (const uint8_t(*)[20])ih, 1, NULL, &b),
                     SHOAL_EINVAL);
    assert_int_equal(
        lsd_msg_format("h:1\r\nPort: 2", 1, (const uint8_t(*)[20])ih, 1, NULL, &b),
        SHOAL_EINVAL);
    assert_int_equal(lsd_msg_format("h:1", 1, (const uint8_t(*)[20])ih, 1, "a\nb", &b),
                     SHOAL_EINVAL);
    buf_cleanup(&b);
}

static void
test_format_splits(void **state)
{
    (void)state;
    /* 100 infohashes go out in several announces, each within the limit
     * and each parsing back to its share, in order. */
    static uint8_t ih[100][20];
    for (int i = 0; i < 100; i++)
        ih[i][0] = (uint8_t)i;
    size_t done = 0, msgs = 0;
    while (done < 100) {
        struct buf b;
        buf_init(&b, LSD_MAX_MSG);
        int k = lsd_msg_format("[ff15::efc0:988f]:6771", 51413,
                               (const uint8_t(*)[20])ih + done, 100 - done,
                               "0123456789abcdef", &b);
        assert_true(k > 0);
        assert_true(b.len <= LSD_MAX_MSG);
        struct lsd_msg m;
        assert_int_equal(lsd_msg_parse(b.data, b.len, &m, NULL), 0);
        assert_int_equal(m.nih, (size_t)k);
        assert_int_equal(m.ih[0][0], done);
        done += (size_t)k;
        msgs++;
        buf_cleanup(&b);
    }
    assert_int_equal(msgs, 4); /* 25 a message */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libtorrent_announce),
        cmocka_unit_test(test_tolerated),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
