/*
 * test_ut_metadata.c — the BEP 9 message codec (codec/ut_metadata.c):
 * messages as libtorrent and others send them, the ones refused with their
 * reason, the exact bytes we send, and the piece arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "codec/ut_metadata.h"
#include "shoal.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

static void
test_request_reject(void **state)
{
    (void)state;
    struct ut_metadata_msg m;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(ut_metadata_parse(B("d8:msg_typei0e5:piecei3ee"), &m, &err), 0);
    assert_int_equal(m.type, UT_METADATA_REQUEST);
    assert_int_equal(m.piece, 3);
    assert_null(m.data);
    assert_int_equal(ut_metadata_parse(B("d8:msg_typei2e5:piecei0ee"), &m, &err), 0);
    assert_int_equal(m.type, UT_METADATA_REJECT);
    /* Extra keys some clients add are ignored. */
    assert_int_equal(
        ut_metadata_parse(B("d8:msg_typei2e5:piecei1e10:total_sizei5ee"), &m, &err), 0);
    assert_int_equal(m.piece, 1);
    assert_int_equal(m.total_size, 0);
}

static void
test_data(void **state)
{
    (void)state;
    static uint8_t in[128 + UT_METADATA_PIECE];
    const char *hdr = "d8:msg_typei1e5:piecei0e10:total_sizei20000ee";
    size_t h = strlen(hdr);
    memcpy(in, hdr, h);
    for (size_t i = 0; i < UT_METADATA_PIECE; i++)
        in[h + i] = (uint8_t)i;
    struct ut_metadata_msg m;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(ut_metadata_parse(in, h + UT_METADATA_PIECE, &m, &err), 0);
    assert_int_equal(m.type, UT_METADATA_DATA);
    assert_int_equal(m.total_size, 20000);
    assert_int_equal(m.data_len, UT_METADATA_PIECE);
    assert_ptr_equal(m.data, in + h);
    /* The last piece: what is left. */
    const char *last = "d8:msg_typei1e5:piecei1e10:total_sizei20000eeXXXX";
    uint8_t buf[64 + 3616];
    memset(buf, 'x', sizeof(buf));
    memcpy(buf, last, strlen(last) - 4);
    size_t lh = strlen(last) - 4;
    assert_int_equal(ut_metadata_parse(buf, lh + 3616, &m, &err), 0);
    assert_int_equal(m.data_len, 3616);
    /* One byte short or long is refused. */
    assert_int_equal(ut_metadata_parse(buf, lh + 3615, &m, &err), SHOAL_EPARSE);
    assert_string_equal(err.why, "wrong piece length");
    assert_int_equal(ut_metadata_parse(buf, lh + 3617, &m, &err), SHOAL_EPARSE);
}

struct bad {
    const char *name;
    const uint8_t *in;
    size_t len;
    int rc;
    const char *why;
};

static const struct bad bads[] = {
    {"not bencode", B("xx"), SHOAL_EPARSE, NULL},
    {"list", B("li1ee"), SHOAL_EPARSE, "message is not a dictionary"},
    {"no msg_type", B("d5:piecei0ee"), SHOAL_EPARSE, "message without msg_type"},
    {"no piece", B("d8:msg_typei0ee"), SHOAL_EPARSE, "message without piece"},
    {"string piece", B("d8:msg_typei0e5:piece1:0e"), SHOAL_EPARSE,
     "message without piece"},
    {"unknown type", B("d8:msg_typei3e5:piecei0ee"), SHOAL_EUNSUPPORTED,
     "unknown msg_type"},
    {"negative piece", B("d8:msg_typei0e5:piecei-1ee"), SHOAL_EPARSE,
     "piece out of range"},
    {"piece past 16 MiB", B("d8:msg_typei0e5:piecei1024ee"), SHOAL_EPARSE,
     "piece out of range"},
    {"trailing bytes", B("d8:msg_typei0e5:piecei0eexx"), SHOAL_EPARSE,
     "bytes after the dictionary"},
    {"data without size", B("d8:msg_typei1e5:piecei0eex"), SHOAL_EPARSE,
     "data message without total_size"},
    {"size 0", B("d8:msg_typei1e5:piecei0e10:total_sizei0ee"), SHOAL_ETOOBIG,
     "total_size out of range"},
    {"size over 16 MiB", B("d8:msg_typei1e5:piecei0e10:total_sizei16777217ee"),
     SHOAL_ETOOBIG, "total_size out of range"},
    {"piece past the size", B("d8:msg_typei1e5:piecei1e10:total_sizei10eex"),
     SHOAL_EPARSE, "piece past the end of the metadata"},
    {"empty data", B("d8:msg_typei1e5:piecei0e10:total_sizei10ee"), SHOAL_EPARSE,
     "wrong piece length"},
};

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct ut_metadata_msg m;
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        int rc = ut_metadata_parse(bads[i].in, bads[i].len, &m, &err);
        if (rc != bads[i].rc)
            fail_msg("%s: rc %d, want %d", bads[i].name, rc, bads[i].rc);
        assert_non_null(err.why);
        if (bads[i].why && strcmp(err.why, bads[i].why))
            fail_msg("%s: why \"%s\", want \"%s\"", bads[i].name, err.why, bads[i].why);
        assert_null(m.data);
    }
}

static void
test_encode(void **state)
{
    (void)state;
    uint8_t out[UT_METADATA_MAX_HEADER];
    size_t n = ut_metadata_encode(out, UT_METADATA_REQUEST, 2, 0);
    assert_memory_equal(out, "d8:msg_typei0e5:piecei2ee", n);
    assert_int_equal(n, strlen("d8:msg_typei0e5:piecei2ee"));
    n = ut_metadata_encode(out, UT_METADATA_DATA, 1, 31235);
    assert_memory_equal(out, "d8:msg_typei1e5:piecei1e10:total_sizei31235ee", n);
    n = ut_metadata_encode(out, UT_METADATA_REJECT, 1023, 0);
    assert_memory_equal(out, "d8:msg_typei2e5:piecei1023ee", n);
    n = ut_metadata_encode(out, UT_METADATA_DATA, UINT32_MAX, UINT32_MAX);
    assert_true(n > 0 && n < UT_METADATA_MAX_HEADER);
}

static void
test_arith(void **state)
{
    (void)state;
    assert_int_equal(ut_metadata_piece_count(0), 0);
    assert_int_equal(ut_metadata_piece_count(1), 1);
    assert_int_equal(ut_metadata_piece_count(16384), 1);
    assert_int_equal(ut_metadata_piece_count(16385), 2);
    assert_int_equal(ut_metadata_piece_count(UT_METADATA_MAX_SIZE), 1024);
    assert_int_equal(ut_metadata_piece_len(16385, 0), 16384);
    assert_int_equal(ut_metadata_piece_len(16385, 1), 1);
    assert_int_equal(ut_metadata_piece_len(16385, 2), 0);
    assert_int_equal(ut_metadata_piece_len(16384, 1), 0);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    struct ut_metadata_msg m;
    struct shoal_perr err;
    int ok = 0;
    for (long n = 0; n < 10 && !ok; n++) {
        memset(&err, 0, sizeof(err));
        alloc_fail_after(n);
        int rc = ut_metadata_parse(B("d8:msg_typei0e5:piecei3ee"), &m, &err);
        alloc_fail_after(-1);
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
        cmocka_unit_test(test_request_reject),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
