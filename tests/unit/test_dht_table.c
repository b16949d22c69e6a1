/*
 * test_dht_table.c — the routing table (src/engine/dht_table.c) with a fake
 * clock: bucket splits around our own id only, replacement caches, node
 * quality over time (good, questionable, bad), bad nodes replaced at once,
 * questionable ones pinged and replaced when they fail, nodes that only
 * queried us kept unverified, saved nodes loaded and pinged, closest-k
 * (bucket members and good replacements) against brute force, bucket refresh targets in
 * range, the hard cap under a flood (random ids, and ids crafted to force every split),
 * refusals (own id, port 0, other family, BEP 42 for public addresses only), one node per
 * public IP, and an id that moves or an endpoint that changes id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "engine/dht_table.h"
#include "shoal.h"

#define MIN_MS (60 * 1000)

static const uint8_t ZERO[20];

/* An id whose first byte is `first` and the rest from n. */
static void
make_id(uint8_t id[20], uint8_t first, uint64_t n)
{
    memset(id, 0, 20);
    id[0] = first;
    for (int i = 0; i < 8; i++)
        id[12 + i] = (uint8_t)(n >> (8 * i));
    id[11] = 1; /* never our all-zero id */
}

/* 10.(n>>16).(n>>8).n:6881, a private address (BEP 42 and the one-per-IP
 * rule do not apply). */
static struct dht_addr
addr4(uint32_t n)
{
    struct dht_addr a = {0};
    a.len = 4;
    a.ip[0] = 10;
    a.ip[1] = (uint8_t)(n >> 16);
    a.ip[2] = (uint8_t)(n >> 8);
    a.ip[3] = (uint8_t)n;
    a.port = 6881;
    return a;
}

static void
random_id(uint64_t *rng, uint8_t id[20])
{
    for (int i = 0; i < 20; i += 4) {
        uint64_t r = rng_next(rng);
        memcpy(id + i, &r, 4);
    }
}

static void
test_split_only_own_bucket(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    assert_non_null(t);
    uint8_t id[20];
    struct dht_addr a;
    /* 8 far nodes (first bit 1) fill the one bucket. */
    for (uint32_t i = 0; i < 8; i++) {
        make_id(id, 0x80, i);
        a = addr4(i + 1);
        assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    }
    struct dht_table_stats st;
    dht_table_stats(t, 0, &st);
    assert_int_equal(st.buckets, 1);
    assert_int_equal(st.nodes, 8);
    /* A near node splits it (the bucket covers our id). */
    make_id(id, 0x40, 100);
    a = addr4(100);
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    dht_table_stats(t, 0, &st);
    assert_int_equal(st.buckets, 2);
    assert_int_equal(st.nodes, 9);
    /* A ninth far node: its bucket no longer covers our id, no split. */
    make_id(id, 0x80, 8);
    a = addr4(9);
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_CACHED);
    dht_table_stats(t, 0, &st);
    assert_int_equal(st.buckets, 2);
    assert_int_equal(st.replacements, 1);
    /* Near nodes keep splitting the last bucket: 0x40 nodes share 1 bit,
     * 0x20 nodes 2 bits, and so on. */
    for (uint32_t i = 0; i < 8; i++) {
        make_id(id, 0x20, i);
        a = addr4(200 + i);
        assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    }
    for (uint32_t i = 0; i < 8; i++) {
        make_id(id, 0x10, i);
        a = addr4(300 + i);
        assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    }
    dht_table_stats(t, 0, &st);
    assert_int_equal(st.buckets, 4); /* 0x80 / 0x40 / 0x20 / 0x10 and nearer */
    assert_int_equal(st.nodes, 8 + 1 + 8 + 8);
    dht_table_free(t);
}

static void
test_quality_over_time(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20];
    make_id(id, 0x80, 1);
    struct dht_addr a = addr4(1);
    struct dht_table_entry e;
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 1000), DHT_TABLE_ADDED);
    assert_true(dht_table_find(t, id, 1000, &e));
    assert_int_equal(e.quality, DHT_GOOD);
    assert_true(dht_table_find(t, id, 1000 + 15 * MIN_MS - 1, &e));
    assert_int_equal(e.quality, DHT_GOOD);
    assert_true(dht_table_find(t, id, 1000 + 15 * MIN_MS, &e));
    assert_int_equal(e.quality, DHT_QUESTIONABLE);
    /* A query from a node that replied once makes it good again. */
    int64_t now = 1000 + 20 * MIN_MS;
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_QUERY, now), DHT_TABLE_UPDATED);
    assert_true(dht_table_find(t, id, now, &e));
    assert_int_equal(e.quality, DHT_GOOD);
    /* Failures: bad after DHT_TABLE_BAD_FAILURES in a row. */
    for (int i = 0; i < DHT_TABLE_BAD_FAILURES; i++) {
        assert_true(dht_table_find(t, id, now, &e));
        assert_int_not_equal(e.quality, DHT_BAD);
        dht_table_failed(t, id, &a, now);
    }
    assert_true(dht_table_find(t, id, now, &e));
    assert_int_equal(e.quality, DHT_BAD);
    assert_int_equal(e.failures, DHT_TABLE_BAD_FAILURES);
    /* A failure reported for another address is not this node's. */
    struct dht_addr other = addr4(2);
    dht_table_failed(t, id, &other, now);
    assert_true(dht_table_find(t, id, now, &e));
    assert_int_equal(e.failures, DHT_TABLE_BAD_FAILURES);
    /* A reply clears the failures. */
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, now), DHT_TABLE_UPDATED);
    assert_true(dht_table_find(t, id, now, &e));
    assert_int_equal(e.quality, DHT_GOOD);
    assert_int_equal(e.failures, 0);
    assert_string_equal(dht_quality_name(DHT_QUESTIONABLE), "questionable");
    dht_table_free(t);
}

/* Fills the far bucket (first bit 1) with 8 nodes that replied at `now`
 * and splits it off with one near node. */
static struct dht_table *
full_far_bucket(int64_t now)
{
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20];
    for (uint32_t i = 0; i < 8; i++) {
        make_id(id, 0x80, i);
        struct dht_addr a = addr4(i + 1);
        assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, now),
                         DHT_TABLE_ADDED);
    }
    make_id(id, 0x40, 0);
    struct dht_addr a = addr4(1000);
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, now), DHT_TABLE_ADDED);
    return t;
}

static void
test_bad_replaced_at_once(void **state)
{
    (void)state;
    struct dht_table *t = full_far_bucket(0);
    uint8_t id[20], nid[20];
    make_id(id, 0x80, 3);
    struct dht_addr a = addr4(4);
    for (int i = 0; i < DHT_TABLE_BAD_FAILURES; i++)
        dht_table_failed(t, id, &a, 1000);
    /* No replacement was waiting: the bad node stays, but is not offered
     * to others. */
    struct dht_table_entry e[16];
    uint8_t target[20];
    make_id(target, 0x80, 3);
    size_t n = dht_table_closest(t, target, 0, 1000, e, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_memory_not_equal(e[i].id, id, 20);
    /* A newcomer takes its slot at once. */
    make_id(nid, 0x80, 50);
    struct dht_addr na = addr4(50);
    assert_int_equal(dht_table_heard(t, nid, &na, DHT_HEARD_REPLY, 2000),
                     DHT_TABLE_ADDED);
    assert_false(dht_table_find(t, id, 2000, &e[0]));
    assert_true(dht_table_find(t, nid, 2000, &e[0]));
    assert_int_equal(e[0].replacement, 0);
    dht_table_free(t);
}

static void
test_questionable_pinged_then_replaced(void **state)
{
    (void)state;
    struct dht_table *t = full_far_bucket(0);
    uint8_t nid[20];
    make_id(nid, 0x80, 77);
    struct dht_addr na = addr4(77);
    struct dht_table_entry e[16];
    /* All good: the newcomer waits, nobody is pinged. */
    assert_int_equal(dht_table_heard(t, nid, &na, DHT_HEARD_REPLY, 1000),
                     DHT_TABLE_CACHED);
    assert_int_equal(dht_table_pings(t, 1000, e, 16), 0);
    assert_true(dht_table_find(t, nid, 1000, &e[0]));
    assert_int_equal(e[0].replacement, 1);
    /* 16 minutes later the bucket's nodes are questionable and, since a
     * replacement waits, are pinged (once per gap). */
    int64_t now = 16 * MIN_MS;
    size_t n = dht_table_pings(t, now, e, 16);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e[i].quality, DHT_QUESTIONABLE);
    assert_int_equal(dht_table_pings(t, now + 1, e, 16), 0);
    /* Seven answer; one fails every time and gives way to the waiting
     * node. */
    struct dht_table_entry pinged[8];
    memcpy(pinged, e, sizeof(pinged));
    for (size_t i = 1; i < 8; i++)
        assert_int_equal(
            dht_table_heard(t, pinged[i].id, &pinged[i].addr, DHT_HEARD_REPLY, now + 100),
            DHT_TABLE_UPDATED);
    for (int f = 0; f < DHT_TABLE_BAD_FAILURES; f++) {
        assert_true(dht_table_find(t, pinged[0].id, now, &e[0]));
        dht_table_failed(t, pinged[0].id, &pinged[0].addr, now + 200);
    }
    assert_false(dht_table_find(t, pinged[0].id, now + 200, &e[0]));
    assert_true(dht_table_find(t, nid, now + 200, &e[0]));
    assert_int_equal(e[0].replacement, 0);
    struct dht_table_stats st;
    dht_table_stats(t, now + 200, &st);
    assert_int_equal(st.replacements, 0);
    assert_int_equal(st.nodes, 9);
    dht_table_free(t);
}

static void
test_query_only_is_unverified(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20];
    make_id(id, 0x80, 1);
    struct dht_addr a = addr4(1);
    struct dht_table_entry e[4];
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_QUERY, 5000), DHT_TABLE_ADDED);
    assert_true(dht_table_find(t, id, 5000, &e[0]));
    assert_int_equal(e[0].quality, DHT_QUESTIONABLE);
    assert_int_equal(e[0].last_reply, 0);
    assert_int_equal(e[0].last_query, 5000);
    /* It is pinged to be verified, at most once per gap. */
    assert_int_equal(dht_table_pings(t, 5000, e, 4), 1);
    assert_int_equal(dht_table_pings(t, 5000 + DHT_TABLE_PING_GAP_MS - 1, e, 4), 0);
    assert_int_equal(dht_table_pings(t, 5000 + DHT_TABLE_PING_GAP_MS, e, 4), 1);
    /* Good-only closest leaves it out; a reply makes it good. */
    assert_int_equal(dht_table_closest(t, id, DHT_CLOSEST_GOOD, 6000, e, 4), 0);
    assert_int_equal(dht_table_closest(t, id, 0, 6000, e, 4), 1);
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 6000),
                     DHT_TABLE_UPDATED);
    assert_int_equal(dht_table_closest(t, id, DHT_CLOSEST_GOOD, 6000, e, 4), 1);
    assert_int_equal(dht_table_pings(t, 7000 + DHT_TABLE_PING_GAP_MS, e, 4), 0);

    /* In a full bucket a querier waits behind every node that replied, and
     * does not push out a waiting node that replied. */
    struct dht_table *f = full_far_bucket(0);
    for (uint32_t i = 0; i < DHT_TABLE_REPLACEMENTS; i++) {
        make_id(id, 0x80, 100 + i);
        a = addr4(100 + i);
        assert_int_equal(dht_table_heard(f, id, &a, DHT_HEARD_REPLY, 10),
                         DHT_TABLE_CACHED);
    }
    make_id(id, 0x80, 999);
    a = addr4(999);
    assert_int_equal(dht_table_heard(f, id, &a, DHT_HEARD_QUERY, 20), DHT_TABLE_IGNORED);
    dht_table_free(f);
    dht_table_free(t);
}

static void
test_saved_nodes(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20];
    for (uint32_t i = 0; i < 5; i++) {
        make_id(id, (uint8_t)(0x80 >> i), i);
        struct dht_addr a = addr4(i + 1);
        assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_SAVED, 0), DHT_TABLE_ADDED);
    }
    struct dht_table_entry e[8];
    assert_int_equal(dht_table_dump(t, 0, e, 8), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(e[i].quality, DHT_QUESTIONABLE);
        assert_int_equal(e[i].last_reply, 0);
        assert_int_equal(e[i].last_query, 0);
    }
    /* They seed lookups (closest includes questionable nodes)... */
    assert_int_equal(dht_table_closest(t, ZERO, 0, 0, e, 8), 5);
    /* ...and are pinged to be verified. */
    assert_int_equal(dht_table_pings(t, 0, e, 8), 5);
    /* dump reports the total even when out is small. */
    assert_int_equal(dht_table_dump(t, 0, e, 2), 5);
    dht_table_free(t);
}

static const uint8_t *cmp_target;

static int
by_dist(const void *a, const void *b)
{
    return dht_id_cmp_dist(cmp_target, ((const struct dht_table_entry *)a)->id,
                           ((const struct dht_table_entry *)b)->id);
}

static void
test_closest_brute_force(void **state)
{
    (void)state;
    uint64_t rng = 7;
    uint8_t own[20], id[20];
    random_id(&rng, own);
    struct dht_table *t = dht_table_new(own, 4, 0, 1);
    for (uint32_t i = 0; i < 5000; i++) {
        random_id(&rng, id);
        /* Some share a long prefix with us, so deep buckets fill too. */
        if (i % 3 == 0)
            memcpy(id, own, 1 + i % 4);
        struct dht_addr a = addr4(i + 1);
        int how = i % 5 == 0 ? DHT_HEARD_QUERY : DHT_HEARD_REPLY;
        assert_true(dht_table_heard(t, id, &a, how, i) != DHT_TABLE_REFUSED);
        if (i % 11 == 0)
            for (int f = 0; f < DHT_TABLE_BAD_FAILURES; f++)
                dht_table_failed(t, id, &a, i);
    }
    static struct dht_table_entry all[DHT_TABLE_MAX_NODES];
    size_t total = dht_table_dump(t, 5000, all, DHT_TABLE_MAX_NODES);
    assert_true(total <= DHT_TABLE_MAX_NODES);
    /* What closest may return: bucket members that are not bad, and good
     * replacements. */
    size_t n = 0, nrepl = 0;
    for (size_t i = 0; i < total; i++) {
        int member = !all[i].replacement && all[i].quality != DHT_BAD;
        int repl = all[i].replacement && all[i].quality == DHT_GOOD;
        nrepl += repl;
        if (member || repl)
            all[n++] = all[i];
    }
    assert_true(nrepl > 0);
    assert_true(n > 50);
    for (int round = 0; round < 200; round++) {
        uint8_t target[20];
        random_id(&rng, target);
        if (round % 2)
            memcpy(target, own, round % 6);
        for (size_t k = 1; k <= 16; k += 7) {
            struct dht_table_entry got[16];
            size_t m = dht_table_closest(t, target, 0, 5000, got, k);
            assert_int_equal(m, k < n ? k : n);
            cmp_target = target;
            qsort(all, n, sizeof(all[0]), by_dist);
            for (size_t i = 0; i < m; i++)
                assert_memory_equal(got[i].id, all[i].id, 20);
        }
    }
    dht_table_free(t);
}

static void
test_cap_under_flood(void **state)
{
    (void)state;
    uint64_t rng = 99;
    uint8_t id[20];
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    /* Random ids from replies. */
    for (uint32_t i = 0; i < 200000; i++) {
        random_id(&rng, id);
        struct dht_addr a = addr4(i + 1);
        dht_table_heard(t, id, &a, i % 2 ? DHT_HEARD_REPLY : DHT_HEARD_QUERY, i);
    }
    /* Ids crafted to share 0..159 bits with ours: every split happens. */
    for (uint32_t i = 0; i < 160 * 20; i++) {
        memset(id, 0, 20);
        size_t cpl = i % 160;
        id[cpl / 8] = (uint8_t)(0x80 >> (cpl % 8));
        if (cpl < 150) {
            id[19] |= (uint8_t)(i / 160);
            id[18] |= (uint8_t)(i >> 10);
        }
        struct dht_addr a = addr4(300000 + i);
        dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 300000);
    }
    struct dht_table_stats st;
    dht_table_stats(t, 300000, &st);
    assert_true(st.buckets <= DHT_TABLE_MAX_BUCKETS);
    assert_true(st.buckets >= 150);
    assert_true(st.nodes + st.replacements <= DHT_TABLE_MAX_NODES);
    assert_int_equal(dht_table_dump(t, 300000, NULL, 0), st.nodes + st.replacements);
    dht_table_free(t);
}

static void
test_refusals(void **state)
{
    (void)state;
    uint8_t own[20], id[20];
    memset(own, 0x11, 20);
    struct dht_table *t = dht_table_new(own, 4, DHT_TABLE_BEP42, 1);
    struct dht_addr a = addr4(1);
    /* Our own id, port 0, the other family. */
    assert_int_equal(dht_table_heard(t, own, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_REFUSED);
    make_id(id, 0x80, 1);
    a.port = 0;
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_REFUSED);
    struct dht_addr v6 = {.len = 16, .port = 1};
    v6.ip[15] = 1;
    assert_int_equal(dht_table_heard(t, id, &v6, DHT_HEARD_REPLY, 0), DHT_TABLE_REFUSED);
    /* BEP 42: a public address needs a matching id... */
    struct dht_addr pub = {.len = 4, .ip = {124, 31, 75, 21}, .port = 6881};
    assert_int_equal(dht_table_heard(t, id, &pub, DHT_HEARD_REPLY, 0), DHT_TABLE_REFUSED);
    uint8_t rnd[20] = {0}, good[20];
    rnd[19] = 1;
    assert_int_equal(dht_id_make(good, pub.ip, 4, rnd), 0);
    assert_int_equal(dht_table_heard(t, good, &pub, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    /* ...but loopback and private addresses do not. */
    struct dht_addr lo = {.len = 4, .ip = {127, 0, 0, 1}, .port = 6881};
    assert_int_equal(dht_table_heard(t, id, &lo, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    struct dht_table_stats st;
    dht_table_stats(t, 0, &st);
    assert_int_equal(st.refused, 4);
    dht_table_free(t);
    assert_null(dht_table_new(own, 5, 0, 1));
}

static void
test_one_node_per_public_ip(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20];
    struct dht_addr pub = {.len = 4, .ip = {8, 8, 8, 8}, .port = 1000};
    make_id(id, 0x80, 1);
    assert_int_equal(dht_table_heard(t, id, &pub, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    make_id(id, 0x80, 2);
    pub.port = 1001;
    assert_int_equal(dht_table_heard(t, id, &pub, DHT_HEARD_REPLY, 0), DHT_TABLE_IGNORED);
    /* IPv6: one node per /64. */
    struct dht_table *t6 = dht_table_new(ZERO, 6, 0, 1);
    struct dht_addr v6 = {
        .len = 16, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, .port = 1};
    make_id(id, 0x80, 1);
    assert_int_equal(dht_table_heard(t6, id, &v6, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    v6.ip[15] = 9;
    make_id(id, 0x80, 2);
    assert_int_equal(dht_table_heard(t6, id, &v6, DHT_HEARD_REPLY, 0), DHT_TABLE_IGNORED);
    v6.ip[7] = 2;
    assert_int_equal(dht_table_heard(t6, id, &v6, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    dht_table_free(t6);
    /* Loopback: many nodes on one address, ports apart (tests). */
    struct dht_addr lo = {.len = 4, .ip = {127, 0, 0, 1}, .port = 1000};
    for (uint32_t i = 0; i < 5; i++) {
        make_id(id, 0x40, i);
        lo.port = (uint16_t)(1000 + i);
        assert_int_equal(dht_table_heard(t, id, &lo, DHT_HEARD_REPLY, 0),
                         DHT_TABLE_ADDED);
    }
    dht_table_free(t);
}

static void
test_id_and_endpoint_changes(void **state)
{
    (void)state;
    struct dht_table *t = dht_table_new(ZERO, 4, 0, 1);
    uint8_t id[20], id2[20];
    make_id(id, 0x80, 1);
    struct dht_addr a = addr4(1), b = addr4(2);
    struct dht_table_entry e;
    assert_int_equal(dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 0), DHT_TABLE_ADDED);
    /* A live node's id is not taken over from another address. */
    assert_int_equal(dht_table_heard(t, id, &b, DHT_HEARD_REPLY, 0), DHT_TABLE_IGNORED);
    assert_true(dht_table_find(t, id, 0, &e));
    assert_true(dht_addr_eq(&e.addr, &a));
    /* Once it is bad, the id may move. */
    for (int i = 0; i < DHT_TABLE_BAD_FAILURES; i++)
        dht_table_failed(t, id, &a, 10);
    assert_int_equal(dht_table_heard(t, id, &b, DHT_HEARD_REPLY, 20), DHT_TABLE_UPDATED);
    assert_true(dht_table_find(t, id, 20, &e));
    assert_true(dht_addr_eq(&e.addr, &b));
    assert_int_equal(e.quality, DHT_GOOD);
    /* A node that restarted with a new id at the same endpoint replaces
     * its old entry when it replies (not when it only queries). */
    make_id(id2, 0x40, 9);
    assert_int_equal(dht_table_heard(t, id2, &b, DHT_HEARD_QUERY, 30), DHT_TABLE_IGNORED);
    assert_int_equal(dht_table_heard(t, id2, &b, DHT_HEARD_REPLY, 30), DHT_TABLE_ADDED);
    assert_false(dht_table_find(t, id, 30, &e));
    assert_true(dht_table_find(t, id2, 30, &e));
    struct dht_table_stats st;
    dht_table_stats(t, 30, &st);
    assert_int_equal(st.nodes, 1);
    dht_table_free(t);
}

static void
test_refresh_targets(void **state)
{
    (void)state;
    uint64_t rng = 3;
    uint8_t own[20], id[20];
    random_id(&rng, own);
    struct dht_table *t = dht_table_new(own, 4, 0, 42);
    uint8_t targets[DHT_TABLE_MAX_BUCKETS][20];
    /* The first call only learns the time. */
    assert_int_equal(dht_table_refresh(t, 0, targets, DHT_TABLE_MAX_BUCKETS), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        random_id(&rng, id);
        if (i % 2)
            memcpy(id, own, 1 + i % 3);
        struct dht_addr a = addr4(i + 1);
        dht_table_heard(t, id, &a, DHT_HEARD_REPLY, 1000);
    }
    struct dht_table_stats st;
    dht_table_stats(t, 1000, &st);
    assert_true(st.buckets > 5);
    assert_int_equal(dht_table_refresh(t, 1000 + DHT_TABLE_REFRESH_MS - 1, targets,
                                       DHT_TABLE_MAX_BUCKETS),
                     0);
    size_t n =
        dht_table_refresh(t, 1000 + DHT_TABLE_REFRESH_MS, targets, DHT_TABLE_MAX_BUCKETS);
    assert_int_equal(n, st.buckets);
    for (size_t i = 0; i < n; i++) {
        int cpl = dht_id_common_bits(own, targets[i]);
        if (i < n - 1)
            assert_int_equal(cpl, (int)i);
        else
            assert_true(cpl >= (int)i);
    }
    /* Handed out: refreshed for another interval. */
    assert_int_equal(
        dht_table_refresh(t, 2000 + DHT_TABLE_REFRESH_MS, targets, DHT_TABLE_MAX_BUCKETS),
        0);
    /* A reply into a bucket keeps it fresh. */
    int64_t later = 1000 + 2 * DHT_TABLE_REFRESH_MS;
    struct dht_table_entry e[1];
    assert_int_equal(dht_table_closest(t, own, 0, later, e, 1), 1);
    dht_table_heard(t, e[0].id, &e[0].addr, DHT_HEARD_REPLY, later - 1);
    n = dht_table_refresh(t, later, targets, DHT_TABLE_MAX_BUCKETS);
    assert_int_equal(n, st.buckets - 1);
    dht_table_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_only_own_bucket),
        cmocka_unit_test(test_quality_over_time),
        cmocka_unit_test(test_bad_replaced_at_once),
        cmocka_unit_test(test_questionable_pinged_then_replaced),
        cmocka_unit_test(test_query_only_is_unverified),
        cmocka_unit_test(test_saved_nodes),
        cmocka_unit_test(test_closest_brute_force),
        cmocka_unit_test(test_cap_under_flood),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_one_node_per_public_ip),
        cmocka_unit_test(test_id_and_endpoint_changes),
        cmocka_unit_test(test_refresh_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
