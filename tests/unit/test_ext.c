/*
 * test_ext.c — the BEP 10 extension handshake codec (src/ext.c): handshakes
 * shaped like the ones libtorrent, Transmission, aria2 and uTorrent send,
 * fields that are ignored or clamped, handshakes that are refused with the
 * offset and reason, the exact bytes we send, round trips, and the error
 * paths under failing allocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/util.h"
#include "codec/ext.h"
#include "shoal.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* ------------------------------------------------------------------ valid */

struct good_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    uint8_t ut_metadata, ut_pex;
    unsigned present;
    const char *client;
    uint32_t reqq;
    uint16_t port;
    uint32_t metadata_size;
    const char *yourip;
    uint8_t yourip_len;
    int upload_only;
};

#define BOTH (EXT_HAS_UT_METADATA | EXT_HAS_UT_PEX)

static const struct good_vector goods[] = {
    /* libtorrent (qBittorrent): many extensions, sorted keys. */
    {"libtorrent",
     B("d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e"
       "12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e"
       "1:pi6881e4:reqqi500e11:upload_onlyi0e1:v17:qBittorrent/4.5.2"
       "6:yourip4:\xc0\xa8\x01\x02"
       "e"),
     2, 1, BOTH, "qBittorrent/4.5.2", 500, 6881, 31235, "\xc0\xa8\x01\x02", 4, 0},
    /* Transmission: encryption flag, its own addresses, upload_only. */
    {"transmission",
     B("d1:ei1e4:ipv616:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
       "1:md12:ut_holepunchi4e11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei5235e"
       "1:pi51413e4:reqqi512e11:upload_onlyi1e1:v18:Transmission 4.0.5"
       "6:yourip16:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"
       "e"),
     3, 1, BOTH, "Transmission 4.0.5", 512, 51413, 5235,
     "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16, 1},
    /* aria2: no yourip, small reqq. */
    {"aria2",
     B("d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei16384e1:pi6881e"
       "4:reqqi256e1:v12:aria2/1.36.0e"),
     2, 1, BOTH, "aria2/1.36.0", 256, 6881, 16384, NULL, 0, 0},
    /* uTorrent: keys out of order, no metadata_size (it has none to offer). */
    {"utorrent",
     B("d1:v15:\xc2\xb5Torrent 3.5.54:reqqi255e1:md11:upload_onlyi3e"
       "11:ut_metadatai2e6:ut_pexi1e10:ut_commenti6ee1:pi32768ee"),
     2, 1, BOTH, "\xc2\xb5Torrent 3.5.5", 255, 32768, 0, NULL, 0, 0},
    /* A later handshake disabling ut_pex: present, id 0. */
    {"disable pex", B("d1:md6:ut_pexi0eee"), 0, 0, EXT_HAS_UT_PEX, "", 0, 0, 0, NULL, 0,
     0},
    {"empty", B("de"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"empty m", B("d1:mdee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    /* Ignored: ids out of range or of the wrong type, bad ports, bad reqq,
     * yourip of the wrong length, v that is not a string. */
    {"ids out of range", B("d1:md11:ut_metadatai256e6:ut_pexi-1eee"), 0, 0, 0, "", 0, 0,
     0, NULL, 0, 0},
    {"ids not integers", B("d1:md11:ut_metadata1:16:ut_pexli1eeee"), 0, 0, 0, "", 0, 0, 0,
     NULL, 0, 0},
    {"id 255", B("d1:md11:ut_metadatai255eee"), 255, 0, EXT_HAS_UT_METADATA, "", 0, 0, 0,
     NULL, 0, 0},
    {"both disabled", B("d1:md11:ut_metadatai0e6:ut_pexi0eee"), 0, 0, BOTH, "", 0, 0, 0,
     NULL, 0, 0},
    {"port 0", B("d1:pi0ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"port 65536", B("d1:pi65536ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"port 65535", B("d1:pi65535ee"), 0, 0, 0, "", 0, 65535, 0, NULL, 0, 0},
    {"port negative", B("d1:pi-80ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"port string", B("d1:p4:6881e"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"reqq 0", B("d4:reqqi0ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"reqq negative", B("d4:reqqi-5ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"reqq 1", B("d4:reqqi1ee"), 0, 0, 0, "", 1, 0, 0, NULL, 0, 0},
    {"reqq at the cap", B("d4:reqqi2048ee"), 0, 0, 0, "", 2048, 0, 0, NULL, 0, 0},
    {"reqq clamped", B("d4:reqqi250000ee"), 0, 0, 0, "", EXT_MAX_REQQ, 0, 0, NULL, 0, 0},
    {"reqq huge", B("d4:reqqi9223372036854775807ee"), 0, 0, 0, "", EXT_MAX_REQQ, 0, 0,
     NULL, 0, 0},
    {"yourip 5 bytes", B("d6:yourip5:abcdee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"yourip empty", B("d6:yourip0:e"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"v integer", B("d1:vi5ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"metadata_size string", B("d13:metadata_size3:123e"), 0, 0, 0, "", 0, 0, 0, NULL, 0,
     0},
    {"metadata_size 1", B("d13:metadata_sizei1ee"), 0, 0, 0, "", 0, 0, 1, NULL, 0, 0},
    {"metadata_size 10 MiB", B("d13:metadata_sizei10485760ee"), 0, 0, 0, "", 0, 0,
     10485760, NULL, 0, 0},
    /* A metadata_size no torrent can have is ignored, not fatal. */
    {"metadata_size 0", B("d13:metadata_sizei0ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"metadata_size negative", B("d13:metadata_sizei-1ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0,
     0},
    {"metadata_size over 10 MiB", B("d13:metadata_sizei10485761ee"), 0, 0, 0, "", 0, 0, 0,
     NULL, 0, 0},
    {"metadata_size huge", B("d1:md11:ut_metadatai2ee13:metadata_sizei4294967296ee"), 2,
     0, EXT_HAS_UT_METADATA, "", 0, 0, 0, NULL, 0, 0},
    {"upload_only string", B("d11:upload_only1:1e"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 0},
    {"upload_only 2", B("d11:upload_onlyi2ee"), 0, 0, 0, "", 0, 0, 0, NULL, 0, 1},
    /* Client names are made printable. */
    {"v control bytes", B("d1:v6:a\001b\177\nce"), 0, 0, 0, "a?b??c", 0, 0, 0, NULL, 0,
     0},
    {"v invalid utf-8", B("d1:v4:\xff\xc3(xe"), 0, 0, 0, "?\?(x", 0, 0, 0, NULL, 0, 0},
    {"v C1 control", B("d1:v4:a\302\205be"), 0, 0, 0, "a?b", 0, 0, 0, NULL, 0, 0},
    {"v NUL", B("d1:v3:a\0be"), 0, 0, 0, "a?b", 0, 0, 0, NULL, 0, 0},
    {"v four-byte character", B("d1:v6:\360\237\220\237oke"), 0, 0, 0,
     "\360\237\220\237ok", 0, 0, 0, NULL, 0, 0},
};

static void
check_good(const struct good_vector *v)
{
    struct ext_handshake hs;
    struct shoal_perr err = {0};
    int rc = ext_parse_handshake(v->in, v->len, &hs, &err);
    if (rc != 0)
        fail_msg("%s: rc %d (%s at %zu)", v->name, rc, shoal_perr_text(&err), err.off);
    if (hs.ut_metadata != v->ut_metadata || hs.ut_pex != v->ut_pex ||
        hs.present != v->present || strcmp(hs.client, v->client) != 0 ||
        hs.reqq != v->reqq || hs.listen_port != v->port ||
        hs.metadata_size != v->metadata_size || hs.yourip_len != v->yourip_len ||
        hs.upload_only != v->upload_only)
        fail_msg("%s: ut_metadata %u ut_pex %u present %u v \"%s\" reqq %u p %u "
                 "metadata_size %u yourip_len %u upload_only %d",
                 v->name, hs.ut_metadata, hs.ut_pex, hs.present, hs.client,
                 (unsigned)hs.reqq, hs.listen_port, (unsigned)hs.metadata_size,
                 hs.yourip_len, hs.upload_only);
    if (v->yourip_len)
        assert_memory_equal(hs.yourip, v->yourip, v->yourip_len);
}

static void
test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(goods); i++)
        check_good(&goods[i]);
}

/* Long names are cut at a character boundary, leaving room for the NUL. */
static void
test_client_truncation(void **state)
{
    (void)state;
    char in[128];
    struct ext_handshake hs;
    struct shoal_perr err = {0};

    /* 100 ASCII bytes: the first 63 are kept. */
    int n = snprintf(in, sizeof(in), "d1:v100:");
    memset(in + n, 'x', 100);
    memcpy(in + n + 100, "e", 2);
    assert_int_equal(ext_parse_handshake((uint8_t *)in, (size_t)n + 101, &hs, &err), 0);
    assert_int_equal(strlen(hs.client), sizeof(hs.client) - 1);

    /* 62 bytes then a two-byte character: it does not fit, and is not split. */
    n = snprintf(in, sizeof(in), "d1:v64:");
    memset(in + n, 'y', 62);
    memcpy(in + n + 62, "\303\251e", 4);
    assert_int_equal(ext_parse_handshake((uint8_t *)in, (size_t)n + 65, &hs, &err), 0);
    assert_int_equal(strlen(hs.client), 62);
    assert_true(utf8_valid((const uint8_t *)hs.client, strlen(hs.client)));

    /* 61 bytes then the same character: it fits exactly. */
    n = snprintf(in, sizeof(in), "d1:v63:");
    memset(in + n, 'z', 61);
    memcpy(in + n + 61, "\303\251e", 4);
    assert_int_equal(ext_parse_handshake((uint8_t *)in, (size_t)n + 64, &hs, &err), 0);
    assert_int_equal(strlen(hs.client), 63);
    assert_memory_equal(hs.client + 61, "\xc3\xa9", 2);
}

/* ------------------------------------------------------------------ invalid */

struct bad_vector {
    const char *name;
    const uint8_t *in;
    size_t len;
    int rc;
    size_t off;
    const char *why;
};

static const struct bad_vector bads[] = {
    {"empty", B(""), SHOAL_EPARSE, 0, "empty input"},
    {"list", B("li1ee"), SHOAL_EPARSE, 0, "extension handshake is not a dictionary"},
    {"string", B("3:abc"), SHOAL_EPARSE, 0, "extension handshake is not a dictionary"},
    {"m list", B("d1:mli1eee"), SHOAL_EPARSE, 4, "m is not a dictionary"},
    {"m integer", B("d1:mi1ee"), SHOAL_EPARSE, 4, "m is not a dictionary"},
    {"m string", B("d1:m0:e"), SHOAL_EPARSE, 4, "m is not a dictionary"},
    {"shared id", B("d1:md11:ut_metadatai1e6:ut_pexi1eee"), SHOAL_EPARSE, 4,
     "m gives two extensions one id"},
    {"truncated", B("d1:md"), SHOAL_EPARSE, 5, "truncated: container not closed"},
    {"trailing", B("dee"), SHOAL_EPARSE, 2, "trailing data after the value"},
    {"bad integer", B("d1:pi01ee"), SHOAL_EPARSE, 4, "integer has a leading zero"},
    {"key not a string", B("di1ei2ee"), SHOAL_EPARSE, 1,
     "dictionary key is not a string"},
};

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
        const struct bad_vector *v = &bads[i];
        struct ext_handshake hs;
        struct shoal_perr err = {0};
        int rc = ext_parse_handshake(v->in, v->len, &hs, &err);
        if (rc != v->rc || err.why == NULL || err.off != v->off ||
            strcmp(err.why, v->why) != 0)
            fail_msg("%s: rc %d off %zu why \"%s\" (want %d, %zu, \"%s\")", v->name, rc,
                     err.off, err.why ? err.why : "-", v->rc, v->off, v->why);
        /* Nothing half-parsed is left behind. */
        assert_int_equal(hs.ut_metadata, 0);
        assert_int_equal(hs.metadata_size, 0);
        assert_int_equal(hs.client[0], '\0');
    }
}

static void
test_limits(void **state)
{
    (void)state;
    static uint8_t big[EXT_MAX_HANDSHAKE + 1];
    struct ext_handshake hs;
    struct shoal_perr err = {0};

    /* Exactly the size cap parses: one long unknown string value. */
    size_t slen = EXT_MAX_HANDSHAKE - 11;
    int h = snprintf((char *)big, sizeof(big), "d1:x%zu:", slen);
    assert_int_equal(h, 10);
    memset(big + h, 'a', slen);
    big[h + slen] = 'e';
    assert_int_equal(ext_parse_handshake(big, EXT_MAX_HANDSHAKE, &hs, &err), 0);

    /* One byte over is refused before decoding. */
    assert_int_equal(ext_parse_handshake(big, EXT_MAX_HANDSHAKE + 1, &hs, &err),
                     SHOAL_ETOOBIG);
    assert_string_equal(err.why, "extension handshake too large");

    /* Too many values. */
    size_t n = 0;
    big[n++] = 'd';
    for (int i = 0; i < 600; i++) {
        int w = snprintf((char *)big + n, sizeof(big) - n, "4:k%03di%de", i, i);
        n += (size_t)w;
    }
    big[n++] = 'e';
    assert_int_equal(ext_parse_handshake(big, n, &hs, &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "too many bencode values");
}

/* ------------------------------------------------------------------ encoding */

static void
test_encode_exact(void **state)
{
    (void)state;
    struct ext_handshake ours = {
        .ut_metadata = EXT_ID_UT_METADATA,
        .ut_pex = EXT_ID_UT_PEX,
        .client = "shoal 0.1",
        .reqq = 500,
        .listen_port = 6881,
        .metadata_size = 12345,
        .yourip = {1, 2, 3, 4},
        .yourip_len = 4,
    };
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(ext_encode_handshake(&ours, &b), 0);
    static const char want[] = "d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei12345e"
                               "1:pi6881e4:reqqi500e1:v9:shoal 0.16:yourip4:\1\2\3\4e";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, sizeof(want) - 1);
    buf_cleanup(&b);

    /* Nothing set: an empty m, which every client understands. */
    struct ext_handshake none = {0};
    buf_init(&b, 1024);
    assert_int_equal(ext_encode_handshake(&none, &b), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "d1:mdee", 7);
    buf_cleanup(&b);

    /* A seed with only ut_pex and an IPv6 yourip; bad yourip lengths are left out. */
    struct ext_handshake seed = {.ut_pex = 2, .upload_only = 1, .yourip_len = 16};
    seed.yourip[15] = 1;
    buf_init(&b, 1024);
    assert_int_equal(ext_encode_handshake(&seed, &b), 0);
    static const char want_seed[] = "d1:md6:ut_pexi2ee11:upload_onlyi1e"
                                    "6:yourip16:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1e";
    assert_int_equal(b.len, sizeof(want_seed) - 1);
    assert_memory_equal(b.data, want_seed, sizeof(want_seed) - 1);
    buf_cleanup(&b);
    seed.yourip_len = 5;
    buf_init(&b, 1024);
    assert_int_equal(ext_encode_handshake(&seed, &b), 0);
    assert_memory_equal(b.data, "d1:md6:ut_pexi2ee11:upload_onlyi1ee", b.len);
    buf_cleanup(&b);
}

/* Encoding appends to what the buffer holds and respects its cap. */
static void
test_encode_buffer(void **state)
{
    (void)state;
    struct ext_handshake ours = {.ut_metadata = 1, .client = "x"};
    struct buf b;
    buf_init(&b, 1024);
    buf_append(&b, "\0\0\0\0\x14\0", 6);
    assert_int_equal(ext_encode_handshake(&ours, &b), 0);
    assert_memory_equal(b.data, "\0\0\0\0\x14\0d1:md11:ut_metadatai1ee1:v1:xe", b.len);
    buf_cleanup(&b);

    buf_init(&b, 10);
    assert_int_equal(ext_encode_handshake(&ours, &b), SHOAL_ETOOBIG);
    buf_cleanup(&b);
}

static void
same(const struct ext_handshake *a, const struct ext_handshake *b)
{
    assert_int_equal(a->ut_metadata, b->ut_metadata);
    assert_int_equal(a->ut_pex, b->ut_pex);
    assert_string_equal(a->client, b->client);
    assert_int_equal(a->reqq, b->reqq);
    assert_int_equal(a->listen_port, b->listen_port);
    assert_int_equal(a->metadata_size, b->metadata_size);
    assert_int_equal(a->yourip_len, b->yourip_len);
    assert_memory_equal(a->yourip, b->yourip, a->yourip_len);
    assert_int_equal(a->upload_only, b->upload_only);
}

/* Every handshake that parses encodes to one that parses to the same. */
static void
test_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
        struct ext_handshake a, b;
        struct shoal_perr err = {0};
        assert_int_equal(ext_parse_handshake(goods[i].in, goods[i].len, &a, &err), 0);
        struct buf out;
        buf_init(&out, EXT_MAX_HANDSHAKE);
        assert_int_equal(ext_encode_handshake(&a, &out), 0);
        assert_int_equal(ext_parse_handshake(out.data, out.len, &b, &err), 0);
        same(&a, &b);
        buf_cleanup(&out);
    }
}

/* Failing allocations fail cleanly at every step (and leak nothing). */
static void
test_alloc_failures(void **state)
{
    (void)state;
    const struct good_vector *v = &goods[0];
    int ok = 0;
    for (long n = 0; n < 100 && !ok; n++) {
        struct ext_handshake hs;
        struct shoal_perr err = {0};
        struct buf out;
        buf_init(&out, EXT_MAX_HANDSHAKE);
        alloc_fail_after(n);
        int rc = ext_parse_handshake(v->in, v->len, &hs, &err);
        if (rc == 0)
            rc = ext_encode_handshake(&hs, &out);
        alloc_fail_after(-1);
        buf_cleanup(&out);
        if (rc == 0)
            ok = 1;
        else
            assert_int_equal(rc, SHOAL_ENOMEM);
    }
    assert_true(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),         cmocka_unit_test(test_client_truncation),
        cmocka_unit_test(test_bad),          cmocka_unit_test(test_limits),
        cmocka_unit_test(test_encode_exact), cmocka_unit_test(test_encode_buffer),
        cmocka_unit_test(test_round_trips),  cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
