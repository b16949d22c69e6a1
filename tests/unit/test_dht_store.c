/*
 * test_dht_store.c — the announce_peer store (src/engine/dht_store.c) with
 * a fake clock: peers by family, re-announces, the per-infohash cap (the
 * oldest peer gives way), random gets, expiry and the sweep, the total caps
 * under a flood of random infohashes and of peers (a swarm in use
 * survives), BEP 51 samples, refusals, and the arithmetic behind
 * DHT_STORE_GET4 / DHT_STORE_GET6: the largest get_peers reply, encoded,
 * stays under KRPC_REPLY_BUDGET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/rng.h"
#include "codec/krpc.h"
#include "engine/dht_store.h"
#include "shoal.h"

#define MIN (60 * 1000)

static void
make_ih(uint8_t ih[20], uint64_t n)
{
    memset(ih, 0xee, 20);
    for (int i = 0; i < 8; i++)
        ih[i] = (uint8_t)(n >> (8 * i));
}

static struct dht_addr
peer4(uint32_t n)
{
    struct dht_addr a = {.len = 4, .port = (uint16_t)(1 + n % 60000)};
    a.ip[0] = 10;
    a.ip[1] = (uint8_t)(n >> 16);
    a.ip[2] = (uint8_t)(n >> 8);
    a.ip[3] = (uint8_t)n;
    return a;
}

static struct dht_addr
peer6(uint32_t n)
{
    struct dht_addr a = {.len = 16, .port = 6881};
    a.ip[0] = 0x20;
    a.ip[1] = 0x01;
    a.ip[14] = (uint8_t)(n >> 8);
    a.ip[15] = (uint8_t)n;
    return a;
}

static void
test_families_and_reannounce(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(0, 0, 1);
    uint8_t ih[20], out[50 * 18];
    make_ih(ih, 1);
    for (uint32_t i = 0; i < 3; i++) {
        struct dht_addr a = peer4(i);
        assert_int_equal(dht_store_announce(s, ih, &a, 0), 0);
    }
    for (uint32_t i = 0; i < 2; i++) {
        struct dht_addr a = peer6(i);
        assert_int_equal(dht_store_announce(s, ih, &a, 0), 0);
    }
    struct dht_addr again = peer4(1);
    assert_int_equal(dht_store_announce(s, ih, &again, 10), 0);
    assert_int_equal(dht_store_count(s, ih, 10), 5);
    assert_int_equal(dht_store_get(s, ih, 4, 10, out, 50), 3);
    /* Compact IPv4 peers, each one of ours. */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i * 6], 10);
        assert_true(out[i * 6 + 3] < 3);
    }
    assert_int_equal(dht_store_get(s, ih, 6, 10, out, 50), 2);
    assert_int_equal(out[0], 0x20);
    uint8_t none[20];
    make_ih(none, 2);
    assert_int_equal(dht_store_get(s, none, 4, 10, out, 50), 0);
    assert_int_equal(dht_store_count(s, none, 10), 0);
    struct dht_store_stats st;
    dht_store_stats(s, &st);
    assert_int_equal(st.hashes, 1);
    assert_int_equal(st.peers, 5);
    dht_store_free(s);
}

static void
test_per_hash_cap_and_random_get(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(0, 0, 1);
    uint8_t ih[20];
    make_ih(ih, 1);
    for (uint32_t i = 0; i < DHT_STORE_MAX_PER_HASH + 50; i++) {
        struct dht_addr a = peer4(i);
        assert_int_equal(dht_store_announce(s, ih, &a, i), 0);
    }
    int64_t now = DHT_STORE_MAX_PER_HASH + 50;
    assert_int_equal(dht_store_count(s, ih, now), DHT_STORE_MAX_PER_HASH);
    struct dht_store_stats st;
    dht_store_stats(s, &st);
    assert_int_equal(st.replaced_peers, 50);
    /* The 50 announced first gave way. */
    static uint8_t out[DHT_STORE_MAX_PER_HASH * 6];
    assert_int_equal(dht_store_get(s, ih, 4, now, out, DHT_STORE_MAX_PER_HASH),
                     DHT_STORE_MAX_PER_HASH);
    for (size_t i = 0; i < DHT_STORE_MAX_PER_HASH; i++) {
        uint32_t n = (uint32_t)out[i * 6 + 2] << 8 | out[i * 6 + 3];
        assert_true(n >= 50);
    }
    /* A capped get is a random sample without repeats, not always the
     * same one. */
    uint8_t a[DHT_STORE_GET4 * 6], b[DHT_STORE_GET4 * 6];
    assert_int_equal(dht_store_get(s, ih, 4, now, a, DHT_STORE_GET4), DHT_STORE_GET4);
    assert_int_equal(dht_store_get(s, ih, 4, now, b, DHT_STORE_GET4), DHT_STORE_GET4);
    assert_memory_not_equal(a, b, sizeof(a));
    for (size_t i = 0; i < DHT_STORE_GET4; i++)
        for (size_t j = i + 1; j < DHT_STORE_GET4; j++)
            assert_memory_not_equal(a + i * 6, a + j * 6, 6);
    dht_store_free(s);
}

static void
test_expiry_and_sweep(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(0, 0, 1);
    uint8_t ih[20], ih2[20], out[6 * 4];
    make_ih(ih, 1);
    make_ih(ih2, 2);
    struct dht_addr a = peer4(1), b = peer4(2);
    assert_int_equal(dht_store_announce(s, ih, &a, 0), 0);
    assert_int_equal(dht_store_announce(s, ih2, &b, 0), 0);
    assert_int_equal(dht_store_announce(s, ih, &b, 20 * MIN), 0);
    int64_t end = DHT_STORE_PEER_TTL_MS;
    assert_int_equal(dht_store_get(s, ih, 4, end - 1, out, 4), 2);
    /* Expired peers are never handed out, swept or not. */
    assert_int_equal(dht_store_get(s, ih, 4, end, out, 4), 1);
    assert_int_equal(dht_store_count(s, ih, end), 1);
    assert_int_equal(dht_store_sweep(s, end), 2);
    struct dht_store_stats st;
    dht_store_stats(s, &st);
    assert_int_equal(st.hashes, 1); /* ih2 had nobody left */
    assert_int_equal(st.peers, 1);
    assert_int_equal(st.expired_peers, 2);
    /* A re-announce renews. */
    assert_int_equal(dht_store_announce(s, ih, &b, end + 10 * MIN), 0);
    assert_int_equal(dht_store_sweep(s, end + 39 * MIN), 0);
    assert_int_equal(dht_store_sweep(s, end + 40 * MIN), 1);
    dht_store_stats(s, &st);
    assert_int_equal(st.hashes, 0);
    dht_store_free(s);
}

static void
test_flood_of_infohashes(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(100, 1000, 1);
    uint8_t popular[20], ih[20], out[6 * 8];
    make_ih(popular, 0xabcdef);
    for (uint32_t i = 0; i < 5; i++) {
        struct dht_addr a = peer4(i);
        assert_int_equal(dht_store_announce(s, popular, &a, 0), 0);
    }
    uint64_t rng = 5;
    for (uint32_t i = 0; i < 20000; i++) {
        make_ih(ih, rng_next(&rng));
        struct dht_addr a = peer4(100 + i);
        assert_int_equal(dht_store_announce(s, ih, &a, i + 1), 0);
        if (i % 50 == 0)
            assert_int_equal(dht_store_get(s, popular, 4, i + 1, out, 8), 5);
        struct dht_store_stats st;
        dht_store_stats(s, &st);
        assert_true(st.hashes <= 100);
        assert_true(st.peers <= 1000);
    }
    assert_int_equal(dht_store_count(s, popular, 20001), 5);
    struct dht_store_stats st;
    dht_store_stats(s, &st);
    assert_int_equal(st.hashes, 100);
    assert_true(st.evicted_hashes >= 19900);

    /* A flood of peers: the total cap holds, swarms give way oldest first,
     * and the swarm being announced to keeps its newest. */
    struct dht_store *p = dht_store_new(1000, 500, 1);
    for (uint32_t i = 0; i < 20000; i++) {
        make_ih(ih, i % 40);
        struct dht_addr a = peer4(i);
        assert_int_equal(dht_store_announce(p, ih, &a, i), 0);
        dht_store_stats(p, &st);
        assert_true(st.peers <= 500);
    }
    make_ih(ih, 19999 % 40);
    assert_true(dht_store_count(p, ih, 20000) > 0);
    dht_store_free(p);
    dht_store_free(s);
}

static void
test_samples(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(0, 0, 9);
    uint8_t ih[20], out[DHT_STORE_SAMPLES][20];
    size_t num;
    assert_int_equal(dht_store_sample(s, out, DHT_STORE_SAMPLES, &num), 0);
    assert_int_equal(num, 0);
    for (uint32_t i = 0; i < 10; i++) {
        make_ih(ih, i);
        struct dht_addr a = peer4(i);
        dht_store_announce(s, ih, &a, 0);
    }
    assert_int_equal(dht_store_sample(s, out, DHT_STORE_SAMPLES, &num), 10);
    assert_int_equal(num, 10);
    for (uint32_t i = 10; i < 1000; i++) {
        make_ih(ih, i);
        struct dht_addr a = peer4(i);
        dht_store_announce(s, ih, &a, 0);
    }
    assert_int_equal(dht_store_sample(s, out, DHT_STORE_SAMPLES, &num),
                     DHT_STORE_SAMPLES);
    assert_int_equal(num, 1000);
    for (size_t i = 0; i < DHT_STORE_SAMPLES; i++) {
        assert_int_equal(out[i][19], 0xee);
        for (size_t j = i + 1; j < DHT_STORE_SAMPLES; j++)
            assert_memory_not_equal(out[i], out[j], 20);
    }
    dht_store_free(s);
}

static void
test_refusals(void **state)
{
    (void)state;
    struct dht_store *s = dht_store_new(0, 0, 1);
    uint8_t ih[20];
    make_ih(ih, 1);
    struct dht_addr a = peer4(1);
    a.port = 0;
    assert_int_equal(dht_store_announce(s, ih, &a, 0), SHOAL_EINVAL);
    struct dht_addr none = {0};
    none.port = 5;
    assert_int_equal(dht_store_announce(s, ih, &none, 0), SHOAL_EINVAL);
    struct dht_store_stats st;
    dht_store_stats(s, &st);
    assert_int_equal(st.hashes, 0);
    dht_store_free(s);
    dht_store_free(NULL);
}

/* The largest get_peers reply we write, with n values of one family. */
static size_t
reply_size(int family, size_t n)
{
    static uint8_t nodes[8 * KRPC_NODE4_LEN], nodes6[8 * KRPC_NODE6_LEN];
    memset(nodes, 0x11, sizeof(nodes));
    memset(nodes6, 0x22, sizeof(nodes6));
    uint8_t tid[KRPC_MAX_TID], id[20];
    memset(tid, 't', sizeof(tid));
    memset(id, 'i', sizeof(id));
    struct krpc_msg m;
    krpc_response_init(&m, tid, sizeof(tid), id);
    m.has |= KRPC_HAS_NODES | KRPC_HAS_NODES6 | KRPC_HAS_TOKEN | KRPC_HAS_VALUES |
             KRPC_HAS_IP | KRPC_HAS_V;
    m.nodes.p = nodes;
    m.nodes.len = sizeof(nodes);
    m.nodes6.p = nodes6;
    m.nodes6.len = sizeof(nodes6);
    m.token_len = 8;
    m.ip_len = 18;
    m.v_len = 4;
    if (family == 4)
        m.nvalues4 = n;
    else
        m.nvalues6 = n;
    struct buf b;
    buf_init(&b, KRPC_MAX_PACKET);
    assert_int_equal(krpc_encode(&m, &b), 0);
    size_t len = b.len;
    buf_cleanup(&b);
    return len;
}

static void
test_reply_budget(void **state)
{
    (void)state;
    size_t v4 = reply_size(4, DHT_STORE_GET4), v6 = reply_size(6, DHT_STORE_GET6);
    print_message("largest get_peers replies: %zu bytes (IPv4), %zu bytes (IPv6)\n", v4,
                  v6);
    assert_int_equal(v4, 658 + DHT_STORE_GET4 * 8);
    assert_int_equal(v6, 658 + DHT_STORE_GET6 * 21);
    assert_true(v4 <= KRPC_REPLY_BUDGET);
    assert_true(v6 <= KRPC_REPLY_BUDGET);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families_and_reannounce),
        cmocka_unit_test(test_per_hash_cap_and_random_get),
        cmocka_unit_test(test_expiry_and_sweep),
        cmocka_unit_test(test_flood_of_infohashes),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reply_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
