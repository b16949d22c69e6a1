/*
 * test_admission.c — who gives way when a connection table is full, as pure
 * functions: address keys (IPv4, IPv4-mapped, IPv6 by /64), the addresses
 * local clients share, the half-open victim (own address first, else the
 * most crowded address, one inside its grace time only when the whole table
 * is), and the idle established victim (old enough, no payload for a while;
 * those interested neither way first, then the one idle longest).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/sockaddr.h"
#include "engine/admission.h"

#define NOW 1000000000ull

static uint64_t
key_of(const char *ip)
{
    struct sockaddr_storage sa;
    socklen_t len;
    assert_int_equal(sockaddr_from_ip(ip, 6881, &sa, &len), 0);
    return admission_addr_key((struct sockaddr *)&sa);
}

static int
shared(const char *ip)
{
    struct sockaddr_storage sa;
    socklen_t len;
    assert_int_equal(sockaddr_from_ip(ip, 6881, &sa, &len), 0);
    return admission_addr_shared((struct sockaddr *)&sa);
}

static void
test_keys(void **state)
{
    (void)state;
    assert_int_equal(key_of("10.1.2.3"), key_of("::ffff:10.1.2.3"));
    assert_int_not_equal(key_of("10.1.2.3"), key_of("10.1.2.4"));
    /* One /64 is one host; the next /64 is another. */
    assert_int_equal(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:2:ffff::9"));
    assert_int_not_equal(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:3::1"));
    /* No IPv4 key equals an IPv6 one, even for ::a.b.c.d-like prefixes. */
    assert_int_not_equal(key_of("0.0.0.1"), key_of("::1"));
    assert_int_not_equal(key_of("127.0.0.1"), key_of("::1"));
    assert_int_not_equal(key_of("127.0.0.1"), 0);
}

static void
test_shared(void **state)
{
    (void)state;
    assert_true(shared("127.0.0.1"));
    assert_true(shared("::1"));
    assert_true(shared("::ffff:127.0.0.1"));
    assert_false(shared("127.0.0.2"));
    assert_false(shared("10.0.0.1"));
    assert_false(shared("::2"));
}

/* A half-open connection of address a, accepted age_ms before NOW. */
static struct admission_conn
half(uint64_t a, uint64_t age_ms)
{
    return (struct admission_conn){.key = a, .since_ms = NOW - age_ms};
}

static void
test_halfopen_own_address(void **state)
{
    (void)state;
    struct admission_conn c[] = {half(1, 9000), half(2, 3000), half(2, 8000),
                                 half(2, 100), half(3, 7000)};
    uint64_t k = 2;
    /* The oldest of the newcomer's own address, not the oldest overall. */
    assert_int_equal(admission_halfopen_victim(c, 5, &k, NOW), 2);
    k = 3;
    assert_int_equal(admission_halfopen_victim(c, 5, &k, NOW), 4);
    k = 9;
    assert_int_equal(admission_halfopen_victim(c, 5, &k, NOW), -1);
}

static void
test_halfopen_crowded_address(void **state)
{
    (void)state;
    /* Address 2 holds three; the oldest overall is address 1's. */
    struct admission_conn c[] = {half(1, 9000), half(2, 3000), half(2, 8000),
                                 half(2, 1000), half(3, 7000)};
    assert_int_equal(admission_halfopen_victim(c, 5, NULL, NOW), 2);
    /* A tie between addresses goes to the one whose oldest is oldest. */
    struct admission_conn d[] = {half(1, 2000), half(2, 3000), half(1, 6000),
                                 half(2, 5000)};
    assert_int_equal(admission_halfopen_victim(d, 4, NULL, NOW), 2);
}

static void
test_halfopen_grace(void **state)
{
    (void)state;
    uint64_t young = ADMISSION_HALFOPEN_GRACE_MS - 1;
    struct admission_conn c[] = {half(1, young), half(1, young), half(2, young)};
    uint64_t k = 1;
    assert_int_equal(admission_halfopen_victim(c, 3, &k, NOW), -1);
    /* A whole table that young is a flood: its oldest goes rather than
     * every newcomer being refused. */
    c[1].since_ms -= 1;
    assert_int_equal(admission_halfopen_victim(c, 3, NULL, NOW), 1);
    /* The crowded address has only young ones: an older one elsewhere goes. */
    struct admission_conn d[] = {half(1, young), half(1, young), half(2, 600)};
    assert_int_equal(admission_halfopen_victim(d, 3, NULL, NOW), 2);
    assert_int_equal(admission_halfopen_victim(d, 0, NULL, NOW), -1);
}

/* An established peer connected age_ms ago whose last payload was
 * payload_ago_ms ago (0: never). */
static struct admission_conn
peer(uint64_t age_ms, uint64_t payload_ago_ms, int interested)
{
    return (struct admission_conn){
        .key = 1,
        .since_ms = NOW - age_ms,
        .last_payload_ms = payload_ago_ms ? NOW - payload_ago_ms : 0,
        .interested = interested,
        .active = 1,
    };
}

static void
test_idle_candidate(void **state)
{
    (void)state;
    struct admission_conn c = peer(60000, 0, 0);
    assert_true(admission_idle_candidate(&c, NOW));
    c = peer(ADMISSION_MIN_AGE_MS - 1, 0, 0); /* too new to judge */
    assert_false(admission_idle_candidate(&c, NOW));
    c = peer(ADMISSION_MIN_AGE_MS, 0, 0);
    assert_true(admission_idle_candidate(&c, NOW));
    c = peer(600000, 0, 1); /* interested, yet nothing traded: no slot kept */
    assert_true(admission_idle_candidate(&c, NOW));
    c = peer(600000, ADMISSION_IDLE_MS - 1, 1); /* interested and trading */
    assert_false(admission_idle_candidate(&c, NOW));
    c = peer(600000, ADMISSION_IDLE_MS - 1, 0); /* traded data lately */
    assert_false(admission_idle_candidate(&c, NOW));
    c = peer(600000, ADMISSION_IDLE_MS, 0);
    assert_true(admission_idle_candidate(&c, NOW));
    c = peer(600000, 0, 0);
    c.active = 0; /* still connecting, or dead */
    assert_false(admission_idle_candidate(&c, NOW));
}

static void
test_idle_victim(void **state)
{
    (void)state;
    struct admission_conn c[] = {
        peer(900000, 0, 1),      /* interested, never traded, 900 s */
        peer(20000, 0, 0),       /* idle since it connected, 20 s */
        peer(900000, 10000, 0),  /* traded 10 s ago */
        peer(900000, 400000, 0), /* idle since its last block, 400 s */
        peer(2000, 0, 0),        /* too new */
    };
    assert_int_equal(admission_idle_victim(c, 5, NOW), 3);
    assert_int_equal(admission_idle_victim(c, 3, NOW), 1);
    /* Only interested idlers left: the one idle longest goes. */
    struct admission_conn i2[] = {peer(30000, 0, 1), peer(900000, 0, 1)};
    assert_int_equal(admission_idle_victim(i2, 2, NOW), 1);
    /* A table of working peers keeps them all: the newcomer is refused. */
    struct admission_conn w[] = {peer(30000, 5000, 1), peer(900000, 1000, 0)};
    assert_int_equal(admission_idle_victim(w, 2, NOW), -1);
    /* Equal idleness: the older connection goes first. */
    struct admission_conn a = peer(50000, 0, 0), b = a;
    b.since_ms += 1;
    assert_true(admission_idle_before(&a, &b));
    assert_false(admission_idle_before(&b, &a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_halfopen_own_address),
        cmocka_unit_test(test_halfopen_crowded_address),
        cmocka_unit_test(test_halfopen_grace),
        cmocka_unit_test(test_idle_candidate),
        cmocka_unit_test(test_idle_victim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
