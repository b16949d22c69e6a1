/*
 * test_banlist.c — host bans: a ban covers every port of an IPv4 address,
 * its IPv4-mapped IPv6 form, and a whole IPv6 /64 but not the next /64;
 * bans expire after BANLIST_TTL_MS (a renewal restarts the time), and a
 * full list evicts its oldest ban. On the shared addresses 127.0.0.1 and
 * ::1 a ban names one peer: its endpoint and its peer id, so the other
 * local peers stay welcome and the banned one stays out from a new port.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/sockaddr.h"
#include "engine/banlist.h"
#include "shoal.h"

static struct sockaddr_storage
at(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    assert_int_equal(sockaddr_from_ip(ip, port, &ss, NULL), 0);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void
test_keys(void **state)
{
    (void)state;
    /* Table: two addresses and whether one ban covers both. */
    static const struct {
        const char *a, *b;
        int same;
    } cases[] = {
        {"127.0.0.2", "127.0.0.2", 1},
        {"127.0.0.2", "127.0.0.3", 0},
        {"10.1.2.3", "::ffff:10.1.2.3", 1},
        {"::ffff:10.1.2.3", "::ffff:10.1.2.4", 0},
        {"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1},
        {"2001:db8:1:2::1", "2001:db8:1:3::1", 0},
        {"::2", "::3", 1},
        {"1.2.3.4", "::102:304", 0}, /* an IPv4-compatible form is not mapped */
        /* Shared addresses: the ports (1000, 2000) differ, so two peers. */
        {"127.0.0.1", "127.0.0.1", 0},
        {"127.0.0.1", "::ffff:127.0.0.1", 0},
        {"::1", "::1", 0},
        {"::1", "::2", 0},
        {"127.0.0.1", "127.0.0.2", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage a = at(cases[i].a, 1000), b = at(cases[i].b, 2000);
        assert_int_equal(banlist_same_host(SA(a), SA(b)), cases[i].same);
    }
    struct sockaddr_storage none;
    memset(&none, 0, sizeof(none));
    none.ss_family = AF_UNIX;
    struct ban_key k;
    assert_int_equal(banlist_key(SA(none), &k), SHOAL_EINVAL);
}

static void
test_ban_covers_every_port(void **state)
{
    (void)state;
    struct banlist *bl = banlist_new();
    assert_non_null(bl);
    struct sockaddr_storage bad = at("127.0.0.2", 40000);
    assert_false(banlist_has(bl, SA(bad), 0));
    assert_int_equal(banlist_add(bl, SA(bad), 1000), 1);
    assert_int_equal(banlist_add(bl, SA(bad), 1000), 0);
    for (uint16_t port = 1; port < 65000; port += 997) {
        struct sockaddr_storage again = at("127.0.0.2", port);
        assert_true(banlist_has(bl, SA(again), 2000));
    }
    struct sockaddr_storage mapped = at("::ffff:127.0.0.2", 6881);
    assert_true(banlist_has(bl, SA(mapped), 2000));
    struct sockaddr_storage honest = at("127.0.0.1", 40000);
    assert_false(banlist_has(bl, SA(honest), 2000));
    assert_int_equal(banlist_count(bl, 2000), 1);

    struct sockaddr_storage v6 = at("2001:db8:0:7::5", 1);
    assert_int_equal(banlist_add(bl, SA(v6), 1000), 1);
    struct sockaddr_storage v6same = at("2001:db8:0:7:abcd::9", 2);
    struct sockaddr_storage v6next = at("2001:db8:0:8::5", 1);
    assert_true(banlist_has(bl, SA(v6same), 2000));
    assert_false(banlist_has(bl, SA(v6next), 2000));
    banlist_free(bl);
    banlist_free(NULL);
}

static void
test_expiry_and_renewal(void **state)
{
    (void)state;
    struct banlist *bl = banlist_new();
    struct sockaddr_storage a = at("192.0.2.1", 1), b = at("192.0.2.2", 1);
    uint64_t t0 = 5000;
    banlist_add(bl, SA(a), t0);
    banlist_add(bl, SA(b), t0 + 10);
    assert_true(banlist_has(bl, SA(a), t0 + BANLIST_TTL_MS - 1));
    assert_false(banlist_has(bl, SA(a), t0 + BANLIST_TTL_MS));
    assert_true(banlist_has(bl, SA(b), t0 + BANLIST_TTL_MS));
    assert_int_equal(banlist_count(bl, t0 + BANLIST_TTL_MS), 1);
    /* Banned again while in force: the time starts over. */
    assert_int_equal(banlist_add(bl, SA(b), t0 + BANLIST_TTL_MS), 0);
    assert_true(banlist_has(bl, SA(b), t0 + 2 * BANLIST_TTL_MS - 1));
    assert_false(banlist_has(bl, SA(b), t0 + 2 * BANLIST_TTL_MS));
    /* An expired ban made again is a new ban. */
    assert_int_equal(banlist_add(bl, SA(a), t0 + 3 * BANLIST_TTL_MS), 1);
    assert_int_equal(banlist_count(bl, t0 + 3 * BANLIST_TTL_MS), 1);
    banlist_free(bl);
}

static void
test_full_list_evicts_oldest(void **state)
{
    (void)state;
    struct banlist *bl = banlist_new();
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof(sa));
    struct sockaddr_in *in = (struct sockaddr_in *)&sa;
    in->sin_family = AF_INET;
    for (uint32_t i = 0; i < BANLIST_MAX; i++) {
        in->sin_addr.s_addr = htonl(0x0a000000u + i);
        assert_int_equal(banlist_add(bl, SA(sa), 100 + i), 1);
    }
    assert_int_equal(banlist_count(bl, 100 + BANLIST_MAX), BANLIST_MAX);
    /* Renewing the oldest makes it the newest; the second oldest goes. */
    in->sin_addr.s_addr = htonl(0x0a000000u);
    assert_int_equal(banlist_add(bl, SA(sa), 100 + BANLIST_MAX), 0);
    in->sin_addr.s_addr = htonl(0x0b000000u);
    assert_int_equal(banlist_add(bl, SA(sa), 101 + BANLIST_MAX), 1);
    assert_int_equal(banlist_count(bl, 102 + BANLIST_MAX), BANLIST_MAX);
    in->sin_addr.s_addr = htonl(0x0a000001u);
    assert_false(banlist_has(bl, SA(sa), 102 + BANLIST_MAX));
    in->sin_addr.s_addr = htonl(0x0a000000u);
    assert_true(banlist_has(bl, SA(sa), 102 + BANLIST_MAX));
    in->sin_addr.s_addr = htonl(0x0a000002u);
    assert_true(banlist_has(bl, SA(sa), 102 + BANLIST_MAX));
    banlist_free(bl);
}

static void
test_shared_address_bans_one_peer(void **state)
{
    (void)state;
    struct banlist *bl = banlist_new();
    uint8_t bad_id[20], honest_id[20];
    memset(bad_id, 'b', sizeof(bad_id));
    memset(honest_id, 'h', sizeof(honest_id));
    struct sockaddr_storage bad = at("127.0.0.1", 40000);
    struct sockaddr_storage again = at("127.0.0.1", 40001);
    struct sockaddr_storage seeder = at("127.0.0.1", 6881);
    struct ban_key k;
    assert_int_equal(banlist_key(SA(bad), &k), 0);
    assert_int_equal(k.kind, BAN_ENDPOINT);

    assert_int_equal(banlist_add_peer(bl, SA(bad), bad_id, 1000), 1);
    /* The endpoint, and the peer id from any port; two bans. */
    assert_int_equal(banlist_count(bl, 1000), 2);
    assert_true(banlist_has(bl, SA(bad), 2000));
    assert_true(banlist_has_peer(bl, SA(bad), NULL, 2000));
    /* At accept only the endpoint is known: a new port gets in ... */
    assert_false(banlist_has(bl, SA(again), 2000));
    assert_false(banlist_has_peer(bl, SA(again), NULL, 2000));
    /* ... and its handshake names it. */
    assert_true(banlist_has_peer(bl, SA(again), bad_id, 2000));
    /* Every other local peer is welcome. */
    assert_false(banlist_has_peer(bl, SA(seeder), honest_id, 2000));
    struct sockaddr_storage v6 = at("::1", 40001);
    assert_true(banlist_has_peer(bl, SA(v6), bad_id, 2000));
    assert_false(banlist_has_peer(bl, SA(v6), honest_id, 2000));
    /* A peer id names a peer on shared addresses only: elsewhere the host
     * ban says everything, and an id alone proves nothing. */
    struct sockaddr_storage other = at("127.0.0.2", 40001);
    assert_false(banlist_has_peer(bl, SA(other), bad_id, 2000));
    /* Both bans expire. */
    assert_false(banlist_has_peer(bl, SA(again), bad_id, 1000 + BANLIST_TTL_MS));
    assert_false(banlist_has(bl, SA(bad), 1000 + BANLIST_TTL_MS));

    /* Lifting (parole ended) removes both. */
    banlist_add_peer(bl, SA(bad), bad_id, 5000);
    banlist_del_peer(bl, SA(bad), bad_id);
    assert_false(banlist_has_peer(bl, SA(again), bad_id, 6000));
    assert_false(banlist_has(bl, SA(bad), 6000));

    /* Off the shared addresses, banlist_add_peer bans the host alone. */
    struct sockaddr_storage host = at("127.0.0.2", 40000);
    assert_int_equal(banlist_add_peer(bl, SA(host), bad_id, 7000), 1);
    assert_int_equal(banlist_count(bl, 7000), 1);
    assert_true(banlist_has_peer(bl, SA(other), honest_id, 7000));
    banlist_free(bl);
}

static void
test_same_peer(void **state)
{
    (void)state;
    uint8_t a_id[20], b_id[20];
    memset(a_id, 'a', sizeof(a_id));
    memset(b_id, 'b', sizeof(b_id));
    struct sockaddr_storage l1 = at("127.0.0.1", 1000), l2 = at("127.0.0.1", 2000);
    struct sockaddr_storage v6 = at("::1", 3000);
    struct sockaddr_storage h1 = at("127.0.0.2", 1000), h2 = at("127.0.0.2", 2000);
    /* One host off the shared addresses, whatever the ids. */
    assert_true(banlist_same_peer(SA(h1), a_id, SA(h2), b_id));
    assert_true(banlist_same_peer(SA(h1), NULL, SA(h2), NULL));
    /* On them: one endpoint, or one peer id. */
    assert_true(banlist_same_peer(SA(l1), a_id, SA(l1), NULL));
    assert_false(banlist_same_peer(SA(l1), a_id, SA(l2), b_id));
    assert_false(banlist_same_peer(SA(l1), NULL, SA(l2), NULL));
    assert_false(banlist_same_peer(SA(l1), a_id, SA(l2), NULL));
    assert_true(banlist_same_peer(SA(l1), a_id, SA(l2), a_id));
    assert_true(banlist_same_peer(SA(l1), a_id, SA(v6), a_id));
    /* A shared address and a host are never one peer. */
    assert_false(banlist_same_peer(SA(l1), a_id, SA(h1), a_id));
}

static void
test_full_list_with_peer_ids(void **state)
{
    (void)state;
    struct banlist *bl = banlist_new();
    uint8_t id[20];
    memset(id, 0, sizeof(id));
    /* Each banned local peer takes two entries; the cap still holds. */
    for (uint32_t i = 0; i < BANLIST_MAX; i++) {
        struct sockaddr_storage sa = at("127.0.0.1", (uint16_t)(1000 + i));
        memcpy(id, &i, sizeof(i));
        banlist_add_peer(bl, SA(sa), id, 100 + i);
    }
    assert_int_equal(banlist_count(bl, 100 + BANLIST_MAX), BANLIST_MAX);
    uint32_t first = 0, last = BANLIST_MAX - 1;
    struct sockaddr_storage fresh = at("127.0.0.1", 60000);
    memcpy(id, &first, sizeof(first));
    assert_false(banlist_has_peer(bl, SA(fresh), id, 100 + BANLIST_MAX));
    memcpy(id, &last, sizeof(last));
    assert_true(banlist_has_peer(bl, SA(fresh), id, 100 + BANLIST_MAX));
    banlist_free(bl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_ban_covers_every_port),
        cmocka_unit_test(test_expiry_and_renewal),
        cmocka_unit_test(test_full_list_evicts_oldest),
        cmocka_unit_test(test_shared_address_bans_one_peer),
        cmocka_unit_test(test_same_peer),
        cmocka_unit_test(test_full_list_with_peer_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
