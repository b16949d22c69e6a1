/*
 * test_ut_pex.c — the BEP 11 peer exchange codec (codec/ut_pex.c): messages
 * shaped like the ones libtorrent and Transmission send, flags lists that
 * are short or missing, the caps on entries read, messages refused with
 * the reason, the exact bytes we send, and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/ut_pex.h"
#include "shoal.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

static struct ut_pex_msg *
parse_ok(const uint8_t *p, size_t n)
{
    struct ut_pex_msg *m = xmalloc(sizeof(*m));
    struct shoal_perr err = {0};
    assert_non_null(m);
    int rc = ut_pex_parse(p, n, m, &err);
    if (rc != 0)
        fail_msg("parse failed: %s at %zu", shoal_perr_text(&err), err.off);
    return m;
}

static void
test_libtorrent_shape(void **state)
{
    (void)state;
    /* Two IPv4 peers with flags, one IPv6, one dropped of each family. */
    struct ut_pex_msg *m =
        parse_ok(B("d5:added12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\x00\x50"
                   "7:added.f2:\x12\x01"
                   "6:added618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05\x1a\xe2"
                   "8:added6.f1:\x10"
                   "7:dropped6:\x01\x02\x03\x04\x00\x01"
                   "8:dropped618:\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x02"
                   "e"));
    assert_int_equal(m->nadded, 3);
    assert_int_equal(m->added[0].ip_len, 4);
    assert_memory_equal(m->added[0].ip, "\x0a\x00\x00\x01", 4);
    assert_int_equal(m->added[0].port, 6881);
    assert_int_equal(m->added[0].flags, UT_PEX_F_REACHABLE | UT_PEX_F_SEED);
    assert_int_equal(m->added[1].port, 80);
    assert_int_equal(m->added[1].flags, UT_PEX_F_ENCRYPTION);
    assert_int_equal(m->added[2].ip_len, 16);
    assert_int_equal(m->added[2].ip[15], 5);
    assert_int_equal(m->added[2].port, 6882);
    assert_int_equal(m->added[2].flags, UT_PEX_F_REACHABLE);
    assert_int_equal(m->ndropped, 2);
    assert_int_equal(m->dropped[0].port, 1);
    assert_int_equal(m->dropped[1].ip_len, 16);
    assert_int_equal(m->dropped[1].port, 2);
    assert_int_equal(m->skipped, 0);
    xfree(m);
}

static void
test_flags_short_or_missing(void **state)
{
    (void)state;
    /* Three peers, one flags byte: the others read 0. */
    struct ut_pex_msg *m = parse_ok(
        B("d5:added18:"
          "\x01\x01\x01\x01\x00\x01\x02\x02\x02\x02\x00\x02\x03\x03\x03\x03\x00\x03"
          "7:added.f1:\x02"
          "e"));
    assert_int_equal(m->nadded, 3);
    assert_int_equal(m->added[0].flags, UT_PEX_F_SEED);
    assert_int_equal(m->added[1].flags, 0);
    assert_int_equal(m->added[2].flags, 0);
    xfree(m);
    /* No flags at all, extra flag bytes, unknown keys: all fine. */
    m = parse_ok(B("d5:added6:\x01\x01\x01\x01\x00\x01"
                   "3:foo3:bare"));
    assert_int_equal(m->nadded, 1);
    assert_int_equal(m->added[0].flags, 0);
    xfree(m);
    m = parse_ok(B("d5:added6:\x01\x01\x01\x01\x00\x01"
                   "7:added.f3:\x01\x02\x03"
                   "e"));
    assert_int_equal(m->nadded, 1);
    assert_int_equal(m->added[0].flags, 1);
    xfree(m);
    /* An empty dictionary is an empty message. */
    m = parse_ok(B("de"));
    assert_int_equal(m->nadded + m->ndropped, 0);
    xfree(m);
}

static void
test_read_cap(void **state)
{
    (void)state;
    /* 10,000 IPv4 entries: the first UT_PEX_MAX_READ read, the rest counted. */
    size_t n = 10000;
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_printf(&b, "d5:added%zu:", n * 6);
    for (size_t i = 0; i < n; i++) {
        uint8_t e[6] = {10,  (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 0x1a,
                        0xe1};
        buf_append(&b, e, 6);
    }
    buf_append_str(&b, "e");
    assert_int_equal(buf_error(&b), 0);
    struct ut_pex_msg *m = parse_ok(b.data, b.len);
    assert_int_equal(m->nadded, UT_PEX_MAX_READ);
    assert_int_equal(m->skipped, n - UT_PEX_MAX_READ);
    assert_int_equal(m->added[UT_PEX_MAX_READ - 1].ip[3], UT_PEX_MAX_READ - 1);
    xfree(m);
    buf_cleanup(&b);
}

struct bad_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    int rc;
    const char *why;
};

static const struct bad_vector bads[] = {
    {"not bencode", B("garbage"), SHOAL_EPARSE, NULL},
    {"a list", B("le"), SHOAL_EPARSE, "ut_pex message is not a dictionary"},
    {"an integer", B("i5e"), SHOAL_EPARSE, "ut_pex message is not a dictionary"},
    {"trailing bytes", B("dexx"), SHOAL_EPARSE, NULL},
    {"added 5 bytes",
     B("d5:added5:\x01\x02\x03\x04\x05"
       "e"),
     SHOAL_EPARSE, "IPv4 peer list is not a multiple of 6 bytes"},
    {"added6 6 bytes",
     B("d6:added66:\x01\x02\x03\x04\x05\x06"
       "e"),
     SHOAL_EPARSE, "IPv6 peer list is not a multiple of 18 bytes"},
    {"dropped 7 bytes",
     B("d7:dropped7:\x01\x02\x03\x04\x05\x06\x07"
       "e"),
     SHOAL_EPARSE, "IPv4 peer list is not a multiple of 6 bytes"},
    {"added an int", B("d5:addedi1ee"), SHOAL_EPARSE, "peer list is not a string"},
    {"dropped6 a list", B("d8:dropped6lee"), SHOAL_EPARSE, "peer list is not a string"},
    {"flags a dict",
     B("d5:added6:\x01\x01\x01\x01\x00\x01"
       "7:added.fdee"),
     SHOAL_EPARSE, "peer flags are not a string"},
    {"too many values",
     B("d1:ali1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1e"
       "i1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1e"
       "i1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1e"
       "i1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ei1ee"
       "e"),
     SHOAL_ETOOBIG, NULL},
};

static void
test_refused(void **state)
{
    (void)state;
    struct ut_pex_msg *m = xmalloc(sizeof(*m));
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct shoal_perr err = {0};
        int rc = ut_pex_parse(bads[i].in, bads[i].len, m, &err);
        if (rc != bads[i].rc)
            fail_msg("%s: rc %d, want %d", bads[i].name, rc, bads[i].rc);
        assert_non_null(err.why);
        assert_true(err.off <= bads[i].len);
        if (bads[i].why && strcmp(err.why, bads[i].why) != 0)
            fail_msg("%s: why \"%s\", want \"%s\"", bads[i].name, err.why, bads[i].why);
        assert_int_equal(m->nadded + m->ndropped, 0);
    }
    /* Oversized: refused before it is decoded. */
    size_t big = UT_PEX_MAX_MSG + 1;
    uint8_t *p = xcalloc(1, big);
    struct shoal_perr err = {0};
    assert_int_equal(ut_pex_parse(p, big, m, &err), SHOAL_ETOOBIG);
    xfree(p);
    xfree(m);
}

static void
test_encode_exact(void **state)
{
    (void)state;
    struct ut_pex_peer added[2] = {
        {.ip = {10, 0, 0, 1}, .ip_len = 4, .flags = 0x12, .port = 6881},
        {.ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 5},
         .ip_len = 16,
         .flags = 0x10,
         .port = 6882},
    };
    struct ut_pex_peer dropped[1] = {{.ip = {1, 2, 3, 4}, .ip_len = 4, .port = 1}};
    struct buf b;
    buf_init(&b, UT_PEX_MAX_MSG);
    assert_int_equal(ut_pex_encode(added, 2, dropped, 1, &b), 0);
    static const char want[] =
        "d5:added6:\x0a\x00\x00\x01\x1a\xe1"
        "7:added.f1:\x12"
        "6:added618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05\x1a\xe2"
        "8:added6.f1:\x10"
        "7:dropped6:\x01\x02\x03\x04\x00\x01"
        "8:dropped60:"
        "e";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    buf_cleanup(&b);

    /* Nothing to say: every key, empty. */
    buf_init(&b, UT_PEX_MAX_MSG);
    assert_int_equal(ut_pex_encode(NULL, 0, NULL, 0, &b), 0);
    static const char empty[] = "d5:added0:7:added.f0:6:added60:8:added6.f0:"
                                "7:dropped0:8:dropped60:e";
    assert_int_equal(b.len, sizeof(empty) - 1);
    assert_memory_equal(b.data, empty, b.len);
    buf_cleanup(&b);

    /* An entry of no family is refused. */
    struct ut_pex_peer odd = {.ip_len = 5, .port = 1};
    buf_init(&b, UT_PEX_MAX_MSG);
    assert_int_equal(ut_pex_encode(&odd, 1, NULL, 0, &b), SHOAL_EINVAL);
    assert_int_equal(ut_pex_encode(NULL, 0, &odd, 1, &b), SHOAL_EINVAL);
    buf_cleanup(&b);
}

static void
test_round_trip(void **state)
{
    (void)state;
    struct ut_pex_peer added[UT_PEX_MAX_SEND], dropped[UT_PEX_MAX_SEND];
    for (size_t i = 0; i < UT_PEX_MAX_SEND; i++) {
        memset(&added[i], 0, sizeof(added[i]));
        memset(&dropped[i], 0, sizeof(dropped[i]));
        added[i].ip_len = i % 3 ? 4 : 16;
        added[i].ip[0] = (uint8_t)(i + 1);
        added[i].ip[3] = (uint8_t)(i * 7);
        added[i].port = (uint16_t)(1000 + i);
        added[i].flags = (uint8_t)(i & 0x1f);
        dropped[i].ip_len = i % 2 ? 4 : 16;
        dropped[i].ip[1] = (uint8_t)i;
        dropped[i].port = (uint16_t)(2000 + i);
    }
    struct buf b;
    buf_init(&b, UT_PEX_MAX_MSG);
    assert_int_equal(ut_pex_encode(added, UT_PEX_MAX_SEND, dropped, UT_PEX_MAX_SEND, &b),
                     0);
    struct ut_pex_msg *m = parse_ok(b.data, b.len);
    assert_int_equal(m->nadded, UT_PEX_MAX_SEND);
    assert_int_equal(m->ndropped, UT_PEX_MAX_SEND);
    /* Every entry comes back, IPv4 first, each with its flags. */
    for (size_t i = 0; i < UT_PEX_MAX_SEND; i++) {
        int found = 0;
        for (size_t j = 0; j < m->nadded; j++)
            if (ut_pex_same(&added[i], &m->added[j]) &&
                added[i].flags == m->added[j].flags)
                found = 1;
        assert_true(found);
        found = 0;
        for (size_t j = 0; j < m->ndropped; j++)
            if (ut_pex_same(&dropped[i], &m->dropped[j]))
                found = 1;
        assert_true(found);
    }
    assert_int_equal(m->added[0].ip_len, 4);
    assert_int_equal(m->added[m->nadded - 1].ip_len, 16);
    xfree(m);
    buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libtorrent_shape),
        cmocka_unit_test(test_flags_short_or_missing),
        cmocka_unit_test(test_read_cap),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_encode_exact),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
