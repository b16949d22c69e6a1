/*
 * test_pex_diff.c — the decisions of peer exchange (engine/pex_diff.c):
 * what successive messages to one peer say as connections come and go, the
 * 50-entry limits, and which received addresses are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/pex_diff.h"
#include "shoal.h"

static struct ut_pex_peer
v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    struct ut_pex_peer e = {.ip = {a, b, c, d}, .ip_len = 4, .port = port};
    return e;
}

static struct ut_pex_peer
v6(uint8_t first, uint8_t last, uint16_t port)
{
    struct ut_pex_peer e = {.ip_len = 16, .port = port};
    e.ip[0] = first;
    e.ip[15] = last;
    return e;
}

static void
test_diff_sequence(void **state)
{
    (void)state;
    struct pex_sent s;
    struct ut_pex_peer added[UT_PEX_MAX_SEND], dropped[UT_PEX_MAX_SEND];
    size_t na, nd;
    pex_sent_init(&s);

    struct ut_pex_peer cur[3] = {v4(10, 0, 0, 1, 1), v4(10, 0, 0, 2, 2), v6(0x20, 3, 3)};
    cur[0].flags = UT_PEX_F_SEED;
    /* First message: everyone. */
    assert_int_equal(pex_diff(&s, cur, 3, added, 50, &na, dropped, 50, &nd), 3);
    assert_int_equal(na, 3);
    assert_int_equal(nd, 0);
    assert_true(ut_pex_same(&added[0], &cur[0]));
    assert_int_equal(added[0].flags, UT_PEX_F_SEED);
    /* Nothing changed: nothing to say. */
    assert_int_equal(pex_diff(&s, cur, 3, added, 50, &na, dropped, 50, &nd), 0);
    /* One left, one came (and a flags change alone is no news). */
    struct ut_pex_peer next[3] = {v4(10, 0, 0, 1, 1), v6(0x20, 3, 3), v4(10, 0, 0, 4, 4)};
    assert_int_equal(pex_diff(&s, next, 3, added, 50, &na, dropped, 50, &nd), 2);
    assert_int_equal(na, 1);
    assert_true(ut_pex_same(&added[0], &next[2]));
    assert_int_equal(nd, 1);
    assert_true(ut_pex_same(&dropped[0], &cur[1]));
    assert_int_equal(dropped[0].flags, 0);
    /* The one that left comes back: added again. */
    assert_int_equal(pex_diff(&s, cur, 3, added, 50, &na, dropped, 50, &nd), 2);
    assert_int_equal(na, 1);
    assert_true(ut_pex_same(&added[0], &cur[1]));
    assert_int_equal(nd, 1);
    assert_true(ut_pex_same(&dropped[0], &next[2]));
    /* Everyone gone. */
    assert_int_equal(pex_diff(&s, NULL, 0, added, 50, &na, dropped, 50, &nd), 3);
    assert_int_equal(na, 0);
    assert_int_equal(s.n, 0);
    pex_sent_cleanup(&s);
}

static void
test_diff_limits(void **state)
{
    (void)state;
    struct pex_sent s;
    struct ut_pex_peer cur[120], added[UT_PEX_MAX_SEND], dropped[UT_PEX_MAX_SEND];
    size_t na, nd;
    pex_sent_init(&s);
    for (int i = 0; i < 120; i++)
        cur[i] = v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i, 6881);
    /* 120 peers go out 50, 50, 20: no message says more than BEP 11 allows. */
    assert_int_equal(pex_diff(&s, cur, 120, added, 50, &na, dropped, 50, &nd), 50);
    assert_true(ut_pex_same(&added[49], &cur[49]));
    assert_int_equal(pex_diff(&s, cur, 120, added, 50, &na, dropped, 50, &nd), 50);
    assert_true(ut_pex_same(&added[0], &cur[50]));
    assert_int_equal(pex_diff(&s, cur, 120, added, 50, &na, dropped, 50, &nd), 20);
    assert_int_equal(pex_diff(&s, cur, 120, added, 50, &na, dropped, 50, &nd), 0);
    /* All of them gone: dropped 50 at a time too. */
    assert_int_equal(pex_diff(&s, NULL, 0, added, 50, &na, dropped, 50, &nd), 50);
    assert_int_equal(nd, 50);
    assert_int_equal(s.n, 70);
    assert_int_equal(pex_diff(&s, NULL, 0, added, 50, &na, dropped, 50, &nd), 50);
    assert_int_equal(pex_diff(&s, NULL, 0, added, 50, &na, dropped, 50, &nd), 20);
    assert_int_equal(s.n, 0);
    /* A duplicate in the current list is told once. */
    struct ut_pex_peer dup[2] = {v4(1, 1, 1, 1, 1), v4(1, 1, 1, 1, 1)};
    assert_int_equal(pex_diff(&s, dup, 2, added, 50, &na, dropped, 50, &nd), 1);
    pex_sent_cleanup(&s);
}

static void
test_acceptable(void **state)
{
    (void)state;
    struct ut_pex_peer self[2] = {v4(127, 0, 0, 1, 6881), v4(203, 0, 113, 9, 6881)};
    struct {
        struct ut_pex_peer e;
        int from_loopback;
        int ok;
    } cases[] = {
        {v4(198, 51, 100, 7, 6881), 0, 1},
        {v4(10, 0, 0, 7, 51413), 0, 1},
        {v4(198, 51, 100, 7, 0), 0, 0},       /* port 0 */
        {v4(0, 0, 0, 0, 6881), 0, 0},         /* unspecified */
        {v4(0, 1, 2, 3, 6881), 1, 0},         /* this network */
        {v4(239, 192, 152, 143, 6771), 0, 0}, /* multicast */
        {v4(224, 0, 0, 1, 6881), 1, 0},
        {v4(255, 255, 255, 255, 6881), 0, 0}, /* broadcast */
        {v4(240, 0, 0, 1, 6881), 0, 0},       /* reserved */
        {v4(127, 0, 0, 2, 6881), 0, 0},       /* loopback from a remote peer */
        {v4(127, 0, 0, 2, 6881), 1, 1},       /* loopback from a local one */
        {v4(127, 0, 0, 1, 6881), 1, 0},       /* ourselves */
        {v4(127, 0, 0, 1, 6882), 1, 1},       /* a neighbour on our host */
        {v4(203, 0, 113, 9, 6881), 0, 0},     /* ourselves as seen from outside */
        {v4(203, 0, 113, 9, 6882), 0, 1},
        {v6(0x20, 1, 6881), 0, 1},
        {v6(0, 0, 6881), 0, 0}, /* :: */
        {v6(0, 1, 6881), 0, 0}, /* ::1 from a remote peer */
        {v6(0, 1, 6881), 1, 1},
        {v6(0xff, 1, 6881), 0, 0}, /* multicast */
        {v6(0xff, 1, 6881), 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = pex_acceptable(&cases[i].e, cases[i].from_loopback, self, 2);
        if (got != cases[i].ok)
            fail_msg("case %zu: %d, want %d", i, got, cases[i].ok);
    }
    /* IPv4-mapped IPv6 is judged as IPv4, ourselves included. */
    struct ut_pex_peer m = {
        .ip = {[10] = 0xff, [11] = 0xff, [12] = 224, [15] = 1}, .ip_len = 16, .port = 1};
    assert_int_equal(pex_acceptable(&m, 1, self, 2), 0);
    m.ip[12] = 203, m.ip[13] = 0, m.ip[14] = 113, m.ip[15] = 9, m.port = 6881;
    assert_int_equal(pex_acceptable(&m, 0, self, 2), 0);
    m.port = 6882;
    assert_int_equal(pex_acceptable(&m, 0, self, 2), 1);
    m.ip[12] = 127;
    assert_int_equal(pex_acceptable(&m, 0, self, 2), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_sequence),
        cmocka_unit_test(test_diff_limits),
        cmocka_unit_test(test_acceptable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
