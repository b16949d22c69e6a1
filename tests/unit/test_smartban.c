/*
 * test_smartban.c — block-level blame: a piece from one peer names it at
 * once; a piece from several peers names only the peer whose block differed
 * from the verified data; honest peers are never named. A full table makes
 * room by dropping the oldest record that never failed, the oldest suspect
 * only when every record is one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/smartban.h"

#define BLOCK 16384
#define PLEN  (4 * BLOCK)

static struct sockaddr_storage
addr(int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ss;
}

static int
port_of(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static uint8_t good[PLEN], bad[PLEN];

static void
fill(void)
{
    for (size_t i = 0; i < PLEN; i++)
        good[i] = (uint8_t)(i * 31 + 7);
    memcpy(bad, good, PLEN);
}

static void
test_single_sender(void **state)
{
    (void)state;
    struct smartban *sb = smartban_new(PLEN, 10 * PLEN);
    struct sockaddr_storage a = addr(1000), who;
    for (int b = 0; b < 4; b++)
        assert_int_equal(smartban_block(sb, 3, (uint32_t)b * BLOCK, &a), 0);
    assert_int_equal(smartban_piece_failed(sb, 3, &who), 1);
    assert_int_equal(port_of(&who), 1000);
    smartban_free(sb);
}

static void
test_mixed_senders_blame_the_liar(void **state)
{
    (void)state;
    fill();
    bad[2 * BLOCK + 5] ^= 0xff; /* peer 2002 sent block 2 wrong */
    struct smartban *sb = smartban_new(PLEN, 10 * PLEN);
    struct sockaddr_storage p[4] = {addr(2000), addr(2001), addr(2002), addr(2003)}, who;
    for (int b = 0; b < 4; b++)
        smartban_block(sb, 5, (uint32_t)b * BLOCK, &p[b]);
    assert_int_equal(smartban_piece_failed(sb, 5, &who), 0);
    assert_true(smartban_is_suspect(sb, 5));
    assert_int_equal(smartban_bad_data(sb, 5, bad, PLEN), 0);
    /* The refetch comes from someone else entirely. */
    struct sockaddr_storage honest = addr(3000);
    for (int b = 0; b < 4; b++)
        smartban_block(sb, 5, (uint32_t)b * BLOCK, &honest);
    struct sockaddr_storage out[8];
    size_t n = smartban_piece_passed(sb, 5, good, PLEN, out, 8);
    assert_int_equal(n, 1);
    assert_int_equal(port_of(&out[0]), 2002);
    assert_false(smartban_is_suspect(sb, 5));
    smartban_free(sb);
}

static void
test_passing_piece_names_nobody(void **state)
{
    (void)state;
    fill();
    struct smartban *sb = smartban_new(PLEN, 10 * PLEN);
    struct sockaddr_storage a = addr(4000), b = addr(4001), out[4];
    smartban_block(sb, 1, 0, &a);
    smartban_block(sb, 1, BLOCK, &b);
    assert_false(smartban_is_suspect(sb, 1));
    assert_int_equal(smartban_piece_passed(sb, 1, NULL, 0, out, 4), 0);
    smartban_free(sb);
}

static void
test_short_last_piece(void **state)
{
    (void)state;
    fill();
    /* Total 2.5 blocks past the first piece: the last piece has 3 blocks. */
    uint64_t total = PLEN + 2 * BLOCK + BLOCK / 2;
    size_t last = 2 * BLOCK + BLOCK / 2;
    bad[2 * BLOCK + 1] ^= 1;
    struct smartban *sb = smartban_new(PLEN, total);
    struct sockaddr_storage a = addr(5000), c = addr(5002), who, out[4];
    smartban_block(sb, 1, 0, &a);
    smartban_block(sb, 1, BLOCK, &a);
    smartban_block(sb, 1, 2 * BLOCK, &c);
    assert_int_equal(smartban_piece_failed(sb, 1, &who), 0);
    smartban_bad_data(sb, 1, bad, last);
    assert_int_equal(smartban_piece_passed(sb, 1, good, last, out, 4), 1);
    assert_int_equal(port_of(&out[0]), 5002);
    /* Past the end: nothing is recorded. */
    assert_int_not_equal(smartban_block(sb, 2, 0, &a), 0);
    smartban_free(sb);
}

/* Whether sb holds a record of `piece`, whose blocks all came from one
 * peer. Fails the piece to find out, so it is suspect afterwards. */
static int
recorded(struct smartban *sb, uint32_t piece)
{
    struct sockaddr_storage who;
    return smartban_piece_failed(sb, piece, &who) == 1;
}

static void
test_many_records_bounded(void **state)
{
    (void)state;
    const uint32_t max = SMARTBAN_MAX_RECORDS;
    struct smartban *sb = smartban_new(BLOCK, (uint64_t)BLOCK * 100000);
    struct sockaddr_storage a = addr(6000);
    /* A full table, pieces 0 .. max-1 recorded in that order; the two
     * oldest failed, so their blame is still to be settled. */
    for (uint32_t i = 0; i < max; i++)
        assert_int_equal(smartban_block(sb, i, 0, &a), 0);
    assert_true(recorded(sb, 0));
    assert_true(recorded(sb, 1));
    /* Each new piece drops the oldest record that never failed: piece 2,
     * then piece 3; suspects stay whatever their age. */
    assert_int_equal(smartban_block(sb, max, 0, &a), 0);
    assert_false(recorded(sb, 2));
    assert_true(smartban_is_suspect(sb, 0));
    assert_true(smartban_is_suspect(sb, 1));
    assert_int_equal(smartban_block(sb, max + 1, 0, &a), 0);
    assert_false(recorded(sb, 3));
    assert_true(smartban_is_suspect(sb, 0));
    assert_true(smartban_is_suspect(sb, 1));
    /* A block of a piece already recorded takes no room. */
    assert_int_equal(smartban_block(sb, 4, 0, &a), 0);
    /* Everything else is still there, the newest included. */
    for (uint32_t i = 4; i < max + 2; i++)
        assert_true(recorded(sb, i));
    /* Now every record is suspect: the oldest of them goes, piece 0. */
    assert_int_equal(smartban_block(sb, max + 2, 0, &a), 0);
    assert_false(smartban_is_suspect(sb, 0));
    for (uint32_t i = 1; i < max + 2; i++)
        if (i != 2 && i != 3)
            assert_true(smartban_is_suspect(sb, i));
    assert_true(recorded(sb, max + 2));
    smartban_free(sb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_sender),
        cmocka_unit_test(test_mixed_senders_blame_the_liar),
        cmocka_unit_test(test_passing_piece_names_nobody),
        cmocka_unit_test(test_short_last_piece),
        cmocka_unit_test(test_many_records_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
