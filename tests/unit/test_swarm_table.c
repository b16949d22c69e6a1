/*
 * test_swarm_table.c — the tracker's peer store (src/swarm_table.c):
 * seeder/leecher/completed counts through event sequences, samples (never
 * the asker, capped, random but reproducible, fair over peers and over
 * leechers for seeders whatever the share of seeders, around the switch from
 * the reservoir to strata, without expired peers), peers moving between the
 * leecher and seeder runs, announce-and-sample against announce then sample,
 * IPv6, leechers alone for a seeder asking from the other family, expiry by
 * the sweeper with fake time, closed mode, eviction under a flood of a
 * million random infohashes (which replaces its own one-shot swarms and
 * spares a lone seeder, proven swarms and their peers; empty swarms go
 * first), and the memory a million peers take.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <malloc.h>

#include "base/alloc.h"
#include "engine/swarm_table.h"
#include "shoal.h"

static void
make_ih(uint8_t ih[20], uint64_t n)
{
    memset(ih, 0, 20);
    for (int i = 0; i < 8; i++)
        ih[i] = (uint8_t)(n >> (8 * i));
}

/* Peer n: IPv4 10.(n>>16).(n>>8).n, port 1000 + n % 50000 (never 0). */
static struct swarm_announce
peer4(const uint8_t ih[20], uint64_t n, uint64_t left, int event)
{
    struct swarm_announce a = {.family = 4, .left = left, .event = event};
    memcpy(a.info_hash, ih, 20);
    a.ip[0] = 10;
    a.ip[1] = (uint8_t)(n >> 16);
    a.ip[2] = (uint8_t)(n >> 8);
    a.ip[3] = (uint8_t)n;
    a.port = (uint16_t)(1000 + (n >> 24) % 50000);
    return a;
}

static struct swarm_announce
peer6(const uint8_t ih[20], uint64_t n, uint64_t left, int event)
{
    struct swarm_announce a = {.family = 6, .left = left, .event = event};
    memcpy(a.info_hash, ih, 20);
    a.ip[0] = 0x20;
    a.ip[1] = 0x01;
    a.ip[2] = 0x0d;
    a.ip[3] = 0xb8;
    for (int i = 0; i < 8; i++)
        a.ip[8 + i] = (uint8_t)(n >> (8 * (7 - i)));
    a.port = 6881;
    return a;
}

static void
rec_of(const struct swarm_announce *a, uint8_t *rec)
{
    size_t alen = a->family == 4 ? 4 : 16;
    memcpy(rec, a->ip, alen);
    rec[alen] = (uint8_t)(a->port >> 8);
    rec[alen + 1] = (uint8_t)a->port;
}

static void
expect_stats(const struct swarm_stats *st, uint32_t seeders, uint32_t leechers,
             uint32_t completed, const char *what)
{
    if (st->seeders != seeders || st->leechers != leechers || st->completed != completed)
        fail_msg("%s: seeders %u leechers %u completed %u; want %u %u %u", what,
                 st->seeders, st->leechers, st->completed, seeders, leechers, completed);
}

struct count_ctx {
    size_t swarms, peers, seeders;
};

static int
count_cb(const uint8_t ih[20], const struct swarm_stats *st, void *user)
{
    (void)ih;
    struct count_ctx *c = user;
    c->swarms++;
    c->peers += st->seeders + st->leechers;
    c->seeders += st->seeders;
    return 0;
}

/* The totals agree with the sum over every swarm. */
static void
check_totals(const struct swarm_table *t)
{
    struct count_ctx c = {0};
    size_t calls = swarm_table_foreach(t, count_cb, &c);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(calls, tot.swarms);
    assert_int_equal(c.swarms, tot.swarms);
    assert_int_equal(c.peers, tot.peers);
    assert_int_equal(c.seeders, tot.seeders);
}

/* ------------------------------------------------------------------ counts */

struct step {
    const char *name;
    int peer; /* peers 0..3 over IPv4, 4..5 over IPv6 */
    uint64_t left;
    int event;
    int rc;
    uint32_t seeders, leechers, completed;
};

#define NONE SWARM_EVENT_NONE
#define STA  SWARM_EVENT_STARTED
#define COM  SWARM_EVENT_COMPLETED
#define STO  SWARM_EVENT_STOPPED

static const struct step steps[] = {
    {"A starts", 0, 100, STA, 0, 0, 1, 0},
    {"B starts", 1, 100, STA, 0, 0, 2, 0},
    {"C starts as a seeder", 2, 0, STA, 0, 1, 2, 0},
    {"A re-announces", 0, 50, NONE, 0, 1, 2, 0},
    {"A completes", 0, 0, COM, 0, 2, 1, 1},
    {"A completes again", 0, 0, COM, 0, 2, 1, 1},
    {"A plain announce", 0, 0, NONE, 0, 2, 1, 1},
    {"B done without the event", 1, 0, NONE, 0, 3, 0, 1},
    {"B sends completed late", 1, 0, COM, 0, 3, 0, 2},
    {"B completed once more", 1, 0, COM, 0, 3, 0, 2},
    {"C rechecks: a leecher again", 2, 10, NONE, 0, 2, 1, 2},
    {"A stops", 0, 0, STO, 0, 1, 1, 2},
    {"A stops twice", 0, 0, STO, 0, 1, 1, 2},
    {"A back, completed at once", 0, 0, COM, 0, 2, 1, 3},
    {"D stops without being there", 3, 5, STO, 0, 2, 1, 3},
    {"E over IPv6", 4, 5, STA, 0, 2, 2, 3},
    {"F over IPv6 completes", 5, 0, COM, 0, 3, 2, 4},
    {"E stops", 4, 5, STO, 0, 3, 1, 4},
    {"C stops", 2, 10, STO, 0, 3, 0, 4},
    {"B stops", 1, 0, STO, 0, 2, 0, 4},
};

static void
test_counts(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1};
    struct swarm_table *t = swarm_table_new(&cfg);
    assert_non_null(t);
    uint8_t ih[20];
    make_ih(ih, 1);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const struct step *s = &steps[i];
        struct swarm_announce a = s->peer < 4
                                      ? peer4(ih, (uint64_t)s->peer, s->left, s->event)
                                      : peer6(ih, (uint64_t)s->peer, s->left, s->event);
        struct swarm_stats st;
        int rc = swarm_table_announce(t, &a, 100 + i, &st);
        if (rc != s->rc)
            fail_msg("%s: rc %d", s->name, rc);
        expect_stats(&st, s->seeders, s->leechers, s->completed, s->name);
        struct swarm_stats sc;
        assert_int_equal(swarm_table_scrape(t, ih, &sc), 0);
        expect_stats(&sc, s->seeders, s->leechers, s->completed, s->name);
        check_totals(t);
    }
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 1);
    assert_int_equal(tot.peers, 2);
    assert_int_equal(tot.peers6, 1);
    assert_int_equal(tot.seeders, 2);

    /* A stop for a swarm nobody announced to creates nothing. */
    uint8_t other[20];
    make_ih(other, 2);
    struct swarm_announce a = peer4(other, 1, 0, STO);
    struct swarm_stats st = {9, 9, 9};
    assert_int_equal(swarm_table_announce(t, &a, 200, &st), 0);
    expect_stats(&st, 0, 0, 0, "stop unknown");
    assert_int_equal(swarm_table_scrape(t, other, &st), 0);
    expect_stats(&st, 0, 0, 0, "scrape unknown");
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 1);

    /* Bad arguments. */
    a = peer4(ih, 1, 0, NONE);
    a.family = 5;
    assert_int_equal(swarm_table_announce(t, &a, 200, NULL), SHOAL_EINVAL);
    a = peer4(ih, 1, 0, NONE);
    a.port = 0;
    assert_int_equal(swarm_table_announce(t, &a, 200, NULL), SHOAL_EINVAL);
    swarm_table_free(t);
    swarm_table_free(NULL);
}

/* ------------------------------------------------------------------ samples */

static int
has_rec(const uint8_t *out, size_t n, const uint8_t *rec, size_t klen)
{
    for (size_t i = 0; i < n; i += klen)
        if (memcmp(out + i, rec, klen) == 0)
            return 1;
    return 0;
}

static void
expect_distinct(const uint8_t *out, size_t n, size_t klen)
{
    for (size_t i = 0; i < n; i += klen)
        for (size_t j = i + klen; j < n; j += klen)
            assert_true(memcmp(out + i, out + j, klen) != 0);
}

/* Fills a swarm with n IPv4 leechers (and every `seed_every`-th a seeder). */
static struct swarm_table *
filled(const uint8_t ih[20], size_t n, size_t seed_every, uint64_t now)
{
    struct swarm_table_cfg cfg = {.open = 1, .seed = 42};
    struct swarm_table *t = swarm_table_new(&cfg);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        int seeder = seed_every && i % seed_every == 0;
        struct swarm_announce a = peer4(ih, i, seeder ? 0 : 100, STA);
        assert_int_equal(swarm_table_announce(t, &a, now, NULL), 0);
    }
    return t;
}

static void
test_sample_small(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 7);
    struct swarm_table *t = filled(ih, 10, 0, 0);
    uint64_t rng = 1;
    uint8_t out[6 * 200];
    for (uint64_t asker = 0; asker < 10; asker++) {
        struct swarm_announce a = peer4(ih, asker, 100, NONE);
        size_t n = swarm_table_sample(t, ih, 4, 50, a.ip, a.port, &rng, out, sizeof(out));
        assert_int_equal(n, 9 * 6);
        uint8_t me[6];
        rec_of(&a, me);
        assert_false(has_rec(out, n, me, 6));
        expect_distinct(out, n, 6);
        for (uint64_t p = 0; p < 10; p++) {
            struct swarm_announce b = peer4(ih, p, 100, NONE);
            uint8_t r[6];
            rec_of(&b, r);
            assert_int_equal(has_rec(out, n, r, 6), p != asker);
        }
    }
    /* No asker given: everyone. */
    assert_int_equal(swarm_table_sample(t, ih, 4, 50, NULL, 0, &rng, out, sizeof(out)),
                     60);

    /* numwant and the output room both cap the sample. */
    assert_int_equal(swarm_table_sample(t, ih, 4, 5, NULL, 0, &rng, out, sizeof(out)),
                     30);
    assert_int_equal(swarm_table_sample(t, ih, 4, 50, NULL, 0, &rng, out, 6 * 4 + 5), 24);
    assert_int_equal(swarm_table_sample(t, ih, 4, 50, NULL, 0, &rng, out, 5), 0);
    assert_int_equal(swarm_table_sample(t, ih, 4, 0, NULL, 0, &rng, out, sizeof(out)), 0);
    /* Other family, unknown swarm, bad family: nothing. */
    assert_int_equal(swarm_table_sample(t, ih, 6, 50, NULL, 0, &rng, out, sizeof(out)),
                     0);
    uint8_t none[20];
    make_ih(none, 8);
    assert_int_equal(swarm_table_sample(t, none, 4, 50, NULL, 0, &rng, out, sizeof(out)),
                     0);
    assert_int_equal(swarm_table_sample(t, ih, 5, 50, NULL, 0, &rng, out, sizeof(out)),
                     0);
    swarm_table_free(t);
}

/* Same rng state, same sample; another state, another sample; and over many
 * draws every peer comes up about equally often. */
static void
check_randomness(size_t swarm, size_t numwant, size_t draws)
{
    uint8_t ih[20];
    make_ih(ih, 9);
    struct swarm_table *t = filled(ih, swarm, 0, 0);
    uint8_t a[6 * 200], b[6 * 200];
    uint64_t r1 = 12345, r2 = 12345, r3 = 999;
    size_t na = swarm_table_sample(t, ih, 4, numwant, NULL, 0, &r1, a, sizeof(a));
    size_t nb = swarm_table_sample(t, ih, 4, numwant, NULL, 0, &r2, b, sizeof(b));
    assert_int_equal(na, numwant * 6);
    assert_int_equal(nb, na);
    assert_memory_equal(a, b, na);
    assert_true(r1 == r2);
    nb = swarm_table_sample(t, ih, 4, numwant, NULL, 0, &r3, b, sizeof(b));
    assert_int_equal(nb, na);
    assert_true(memcmp(a, b, na) != 0);

    uint32_t *hits = calloc(swarm, sizeof(*hits));
    assert_non_null(hits);
    uint64_t rng = 7;
    for (size_t d = 0; d < draws; d++) {
        size_t n = swarm_table_sample(t, ih, 4, numwant, NULL, 0, &rng, a, sizeof(a));
        assert_int_equal(n, numwant * 6);
        expect_distinct(a, n, 6);
        for (size_t i = 0; i < n; i += 6) {
            size_t id = (size_t)a[i + 1] << 16 | (size_t)a[i + 2] << 8 | a[i + 3];
            assert_true(id < swarm);
            hits[id]++;
        }
    }
    /* Every peer comes up; groups of consecutive peers (neighbours in the
     * sorted buckets) come up as often as each other, within 15%. */
    size_t groups = swarm < 100 ? swarm : 100, per = swarm / groups;
    double expect = (double)draws * (double)numwant / (double)groups;
    uint32_t lo = UINT32_MAX, hi = 0;
    double glo = 1e300, ghi = 0;
    for (size_t g = 0; g < groups; g++) {
        double sum = 0;
        for (size_t i = g * per; i < (g + 1) * per; i++) {
            lo = hits[i] < lo ? hits[i] : lo;
            hi = hits[i] > hi ? hits[i] : hi;
            sum += hits[i];
        }
        glo = sum < glo ? sum : glo;
        ghi = sum > ghi ? sum : ghi;
    }
    print_message("sample of %zu from %zu, %zu draws: each peer %u..%u times, each group "
                  "%.0f..%.0f (mean %.0f)\n",
                  numwant, swarm, draws, lo, hi, glo, ghi, expect);
    assert_true(lo >= 1);
    assert_true(glo >= expect * 0.85);
    assert_true(ghi <= expect * 1.15);

    /* The first records are not always the lowest addresses (shuffled). */
    size_t first_low = 0;
    for (size_t d = 0; d < 100; d++) {
        swarm_table_sample(t, ih, 4, numwant, NULL, 0, &rng, a, sizeof(a));
        size_t id = (size_t)a[1] << 16 | (size_t)a[2] << 8 | a[3];
        first_low += id < swarm / numwant;
    }
    assert_true(first_low < 50);
    free(hits);
    swarm_table_free(t);
}

static void
test_sample_random(void **state)
{
    (void)state;
    check_randomness(100, 10, 4000);    /* reservoir: exact */
    check_randomness(20000, 100, 4000); /* strata */
}

static void
test_sample_large_excludes_asker(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 11);
    size_t n = 50000;
    struct swarm_table *t = filled(ih, n, 0, 0);
    uint8_t out[6 * 200];
    uint64_t rng = 3;
    for (uint64_t asker = 0; asker < 2000; asker += 7) {
        struct swarm_announce a = peer4(ih, asker, 100, NONE);
        uint8_t me[6];
        rec_of(&a, me);
        /* The asker sits in a stratum of n / numwant peers; with numwant
         * close to n / 2 every draw has a good chance to hit it. */
        for (size_t want = 50; want <= 200; want += 150) {
            size_t got =
                swarm_table_sample(t, ih, 4, want, a.ip, a.port, &rng, out, sizeof(out));
            assert_true(got >= (want - 1) * 6);
            assert_false(has_rec(out, got, me, 6));
            expect_distinct(out, got, 6);
        }
    }
    /* A tiny swarm of two: the asker gets exactly the other one. */
    uint8_t ih2[20];
    make_ih(ih2, 12);
    struct swarm_announce x = peer4(ih2, 1, 5, STA), y = peer4(ih2, 2, 5, STA);
    assert_int_equal(swarm_table_announce(t, &x, 0, NULL), 0);
    assert_int_equal(swarm_table_announce(t, &y, 0, NULL), 0);
    size_t got = swarm_table_sample(t, ih2, 4, 50, x.ip, x.port, &rng, out, sizeof(out));
    uint8_t ry[6];
    rec_of(&y, ry);
    assert_int_equal(got, 6);
    assert_memory_equal(out, ry, 6);
    swarm_table_free(t);
}

static void
test_sample_seeder_gets_leechers(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 13);
    /* Small: exact. Every 3rd peer is a seeder. */
    struct swarm_table *t = filled(ih, 300, 3, 0);
    uint8_t out[6 * 200];
    uint64_t rng = 5;
    struct swarm_announce s = peer4(ih, 0, 0, NONE); /* peer 0 is a seeder */
    struct swarm_announce l = peer4(ih, 1, 100, NONE);
    size_t got = swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 6);
    for (size_t i = 0; i < got; i += 6) {
        size_t id = (size_t)out[i + 1] << 16 | (size_t)out[i + 2] << 8 | out[i + 3];
        assert_true(id % 3 != 0);
    }
    /* A leecher gets both kinds. */
    got = swarm_table_sample(t, ih, 4, 200, l.ip, l.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 6);
    size_t seeders = 0;
    for (size_t i = 0; i < got; i += 6) {
        size_t id = (size_t)out[i + 1] << 16 | (size_t)out[i + 2] << 8 | out[i + 3];
        seeders += id % 3 == 0;
    }
    assert_true(seeders > 30);
    swarm_table_free(t);

    /* Large: strata with probes; still only leechers. */
    t = filled(ih, 30000, 3, 0);
    got = swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
    assert_true(got >= 190 * 6);
    for (size_t i = 0; i < got; i += 6) {
        size_t id = (size_t)out[i + 1] << 16 | (size_t)out[i + 2] << 8 | out[i + 3];
        assert_true(id % 3 != 0);
    }
    swarm_table_free(t);
}

/* The peer number of an IPv4 record made by peer4(). */
static size_t
id_of(const uint8_t *rec)
{
    return (size_t)rec[1] << 16 | (size_t)rec[2] << 8 | rec[3];
}

/* Swarm of n peers where peer i is a leecher when i % leech_every == 0
 * (leech_every 0: all seeders). */
static struct swarm_table *
filled_leechers(const uint8_t ih[20], size_t n, size_t leech_every)
{
    struct swarm_table_cfg cfg = {.open = 1, .seed = 43};
    struct swarm_table *t = swarm_table_new(&cfg);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        int leecher = leech_every && i % leech_every == 0;
        struct swarm_announce a = peer4(ih, i, leecher ? 100 : 0, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    return t;
}

/* A seeder's sample comes from the leechers alone, whatever the share of
 * seeders, and fairly: strata over the leechers, not probes that hope to
 * hit one. */
static void
test_sample_seeder_few_leechers(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 15);
    /* 20000 peers, one in 40 a leecher: 500 leechers, 19500 seeders. */
    struct swarm_table *t = filled_leechers(ih, 20000, 40);
    struct swarm_announce s = peer4(ih, 1, 0, NONE);
    uint8_t out[6 * 256];
    uint64_t rng = 17;
    for (size_t want = 50; want <= 200; want += 150) {
        size_t got =
            swarm_table_sample(t, ih, 4, want, s.ip, s.port, &rng, out, sizeof(out));
        assert_int_equal(got, want * 6);
        expect_distinct(out, got, 6);
        for (size_t i = 0; i < got; i += 6)
            assert_int_equal(id_of(out + i) % 40, 0);
    }
    /* Every leecher about equally often: 4000 draws of 50 from 500. */
    uint32_t hits[500] = {0};
    for (int d = 0; d < 4000; d++) {
        size_t got =
            swarm_table_sample(t, ih, 4, 50, s.ip, s.port, &rng, out, sizeof(out));
        assert_int_equal(got, 50 * 6);
        for (size_t i = 0; i < got; i += 6) {
            size_t id = id_of(out + i);
            assert_int_equal(id % 40, 0);
            hits[id / 40]++;
        }
    }
    /* Groups of 25 neighbouring leechers: 10000 hits expected each. */
    uint32_t lo = UINT32_MAX;
    for (size_t g = 0; g < 20; g++) {
        uint32_t sum = 0;
        for (size_t i = g * 25; i < (g + 1) * 25; i++) {
            sum += hits[i];
            lo = hits[i] < lo ? hits[i] : lo;
        }
        assert_true(sum >= 8500 && sum <= 11500);
    }
    assert_true(lo >= 1);
    /* A leecher asker gets mostly seeders, as the swarm is. */
    struct swarm_announce l = peer4(ih, 40, 100, NONE);
    size_t got = swarm_table_sample(t, ih, 4, 200, l.ip, l.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 6);
    size_t leechers = 0;
    for (size_t i = 0; i < got; i += 6)
        leechers += id_of(out + i) % 40 == 0;
    assert_true(leechers < 30);
    swarm_table_free(t);

    /* 300 leechers among 3000: fewer than 2 x 200 candidates, so exact. */
    t = filled_leechers(ih, 3000, 10);
    got = swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 6);
    expect_distinct(out, got, 6);
    for (size_t i = 0; i < got; i += 6)
        assert_int_equal(id_of(out + i) % 10, 0);
    /* Fewer leechers than wanted: all of them. */
    got = swarm_table_sample(t, ih, 4, 256, s.ip, s.port, &rng, out, sizeof(out));
    assert_int_equal(got, 256 * 6);
    swarm_table_free(t);
    t = filled_leechers(ih, 3000, 100);
    got = swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
    assert_int_equal(got, 30 * 6);
    swarm_table_free(t);

    /* Only seeders: a seeder gets nobody, a newcomer everyone it asks for. */
    t = filled_leechers(ih, 5000, 0);
    struct swarm_announce s2 = peer4(ih, 2, 0, NONE);
    assert_int_equal(
        swarm_table_sample(t, ih, 4, 50, s2.ip, s2.port, &rng, out, sizeof(out)), 0);
    struct swarm_announce stranger = peer4(ih, 99999, 0, NONE);
    assert_int_equal(swarm_table_sample(t, ih, 4, 50, stranger.ip, stranger.port, &rng,
                                        out, sizeof(out)),
                     50 * 6);
    swarm_table_free(t);
}

/* Around the switch from the reservoir to strata (64 candidates, and
 * 2 x numwant), every size gives min(numwant, candidates) distinct peers
 * without the asker, and every peer comes up. */
static void
test_sample_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1,  2,  49, 50,  51,  63,  64,
                                   65, 66, 99, 100, 101, 129, 1000};
    uint8_t out[6 * 256];
    uint64_t rng = 23;
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        size_t n = sizes[z];
        uint8_t ih[20];
        make_ih(ih, 200 + n);
        struct swarm_table *t = filled(ih, n, 0, 0);
        struct swarm_announce me = peer4(ih, n / 2, 100, NONE);
        uint8_t rme[6];
        rec_of(&me, rme);
        uint32_t *hits = calloc(n, sizeof(*hits));
        assert_non_null(hits);
        for (int d = 0; d < 400; d++) {
            size_t got =
                swarm_table_sample(t, ih, 4, 50, me.ip, me.port, &rng, out, sizeof(out));
            size_t want = n - 1 < 50 ? n - 1 : 50;
            if (got != want * 6)
                fail_msg("swarm of %zu: %zu peers, want %zu", n, got / 6, want);
            assert_false(has_rec(out, got, rme, 6));
            expect_distinct(out, got, 6);
            for (size_t i = 0; i < got; i += 6)
                hits[id_of(out + i)]++;
            got = swarm_table_sample(t, ih, 4, 50, NULL, 0, &rng, out, sizeof(out));
            assert_int_equal(got, (n < 50 ? n : 50) * 6);
        }
        for (size_t i = 0; i < n; i++)
            if (i != n / 2 && hits[i] == 0)
                fail_msg("swarm of %zu: peer %zu never sampled", n, i);
        free(hits);
        swarm_table_free(t);
    }
}

/* numwant is capped at SWARM_SAMPLE_MAX however much room there is. */
static void
test_sample_cap(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 16);
    struct swarm_table *t = filled(ih, 2000, 0, 0);
    uint8_t *out = malloc(6 * 2000);
    assert_non_null(out);
    uint64_t rng = 29;
    size_t got = swarm_table_sample(t, ih, 4, 1000, NULL, 0, &rng, out, 6 * 2000);
    assert_int_equal(got, SWARM_SAMPLE_MAX * 6);
    expect_distinct(out, got, 6);
    /* And below the cap, numwant and the room decide. */
    assert_int_equal(swarm_table_sample(t, ih, 4, 200, NULL, 0, &rng, out, 6 * 2000),
                     200 * 6);
    assert_int_equal(swarm_table_sample(t, ih, 4, 200, NULL, 0, &rng, out, 6 * 70 + 3),
                     70 * 6);
    free(out);
    swarm_table_free(t);
}

/* Peers that turn seeder and back move between the runs; counts, samples
 * and the sweeper agree with where they are. */
static void
test_seeder_switch(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 17);
    struct swarm_table_cfg cfg = {.open = 1, .seed = 7, .peer_timeout_s = 1600};
    struct swarm_table *t = swarm_table_new(&cfg);
    const size_t n = 3000;
    for (size_t i = 0; i < n; i++) {
        struct swarm_announce a = peer4(ih, i, 100, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    /* Every even peer completes; every 6th goes back to leeching. */
    for (size_t i = 0; i < n; i += 2) {
        struct swarm_announce a = peer4(ih, i, 0, COM);
        assert_int_equal(swarm_table_announce(t, &a, 10, NULL), 0);
    }
    for (size_t i = 0; i < n; i += 6) {
        struct swarm_announce a = peer4(ih, i, 5, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 20, NULL), 0);
    }
    struct swarm_stats st;
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1000, 2000, 1500, "after switching");
    check_totals(t);
    /* Seeders are the peers i % 2 == 0 && i % 6 != 0. */
    struct swarm_announce s = peer4(ih, 2, 0, NONE);
    uint8_t out[6 * 200];
    uint64_t rng = 31;
    for (int d = 0; d < 200; d++) {
        size_t got =
            swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
        assert_int_equal(got, 200 * 6);
        for (size_t i = 0; i < got; i += 6) {
            size_t id = id_of(out + i);
            assert_false(id % 2 == 0 && id % 6 != 0);
        }
    }
    /* Each is found where it now is: announcing again changes no count, and
     * completing again counts nothing. */
    for (size_t i = 0; i < n; i++) {
        int seeder = i % 2 == 0 && i % 6 != 0;
        struct swarm_announce a = peer4(ih, i, seeder ? 0 : 5, seeder ? COM : NONE);
        assert_int_equal(swarm_table_announce(t, &a, 800, NULL), 0);
    }
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1000, 2000, 1500, "announced again");
    /* The odd peers go quiet and expire; the sweeper keeps both runs. */
    for (size_t i = 0; i < n; i += 2) {
        int seeder = i % 6 != 0;
        struct swarm_announce a = peer4(ih, i, seeder ? 0 : 5, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 1900, NULL), 0);
    }
    assert_int_equal(swarm_table_sweep(t, 1900, 1000000), 0);
    assert_int_equal(swarm_table_sweep(t, 2500, 1000000), n / 2);
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1000, 500, 1500, "after the sweep");
    check_totals(t);
    for (int d = 0; d < 50; d++) {
        size_t got =
            swarm_table_sample(t, ih, 4, 200, s.ip, s.port, &rng, out, sizeof(out));
        assert_int_equal(got, 200 * 6);
        for (size_t i = 0; i < got; i += 6)
            assert_int_equal(id_of(out + i) % 6, 0);
    }
    swarm_table_free(t);
}

/* Expired peers that the sweeper has not reached are never handed out by
 * the strata either. */
static void
test_sample_skips_expired(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 18);
    struct swarm_table_cfg cfg = {.open = 1, .seed = 3, .peer_timeout_s = 1600};
    struct swarm_table *t = swarm_table_new(&cfg);
    /* Nine peers in ten at t=0, the tenth at t=1500 (time only goes on). */
    for (int late = 0; late < 2; late++)
        for (size_t i = 0; i < 10000; i++) {
            if ((i % 10 == 0) != late)
                continue;
            struct swarm_announce a = peer4(ih, i, 100, STA);
            assert_int_equal(swarm_table_announce(t, &a, late ? 1500 : 0, NULL), 0);
        }
    /* At t=2000 nine peers in ten are past their time. */
    struct swarm_announce me = peer4(ih, 10, 100, NONE);
    assert_int_equal(swarm_table_announce(t, &me, 2000, NULL), 0);
    uint8_t out[6 * 200];
    uint64_t rng = 37;
    size_t total = 0;
    for (int d = 0; d < 100; d++) {
        size_t got =
            swarm_table_sample(t, ih, 4, 100, me.ip, me.port, &rng, out, sizeof(out));
        for (size_t i = 0; i < got; i += 6)
            assert_int_equal(id_of(out + i) % 10, 0);
        total += got / 6;
    }
    /* Three probes per stratum of 100: about a quarter of them find one. */
    assert_true(total > 1000);
    swarm_table_free(t);
}

/* Strata in a large swarm through sweeps: peers past their time are left
 * out before the sweeper reaches them and after, and once time has moved
 * on without a sweep, everyone who went quiet is. */
static void
test_sample_expiry_strata(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 22);
    struct swarm_table_cfg cfg = {.open = 1, .seed = 9, .peer_timeout_s = 1600};
    struct swarm_table *t = swarm_table_new(&cfg);
    for (size_t i = 0; i < 3000; i++) {
        struct swarm_announce a = peer4(ih, i, 100, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    assert_int_equal(swarm_table_sweep(t, 10, 1000000), 0);
    /* All but every 30th re-announce at t=1000. */
    for (size_t i = 0; i < 3000; i++) {
        if (i % 30 == 0)
            continue;
        struct swarm_announce a = peer4(ih, i, 100, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 1000, NULL), 0);
    }
    uint8_t out[6 * 200];
    uint64_t rng = 43;
    /* t=1700: the t=0 peers are past their time, not swept yet. */
    struct swarm_announce me = peer4(ih, 1, 100, NONE);
    assert_int_equal(swarm_table_announce(t, &me, 1700, NULL), 0);
    for (int d = 0; d < 200; d++) {
        size_t got =
            swarm_table_sample(t, ih, 4, 200, me.ip, me.port, &rng, out, sizeof(out));
        assert_true(got >= 190 * 6);
        for (size_t i = 0; i < got; i += 6)
            assert_true(id_of(out + i) % 30 != 0);
    }
    /* Swept: the rest is fresh as of t=1000. */
    assert_int_equal(swarm_table_sweep(t, 1700, 1000000), 100);
    size_t got =
        swarm_table_sample(t, ih, 4, 200, me.ip, me.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 6);
    /* t=2700: everyone but the asker (t=1700) is past their time, with no
     * sweep in between. */
    assert_int_equal(swarm_table_announce(t, &me, 2700, NULL), 0);
    assert_int_equal(swarm_table_sample(t, ih, 4, 200, NULL, 0, &rng, out, sizeof(out)),
                     6);
    swarm_table_free(t);
}

/* swarm_table_announce_sample() gives what an announce and then a sample
 * with the peer as the asker give, draw for draw: through new peers, bucket
 * splits, refreshes, switches between seeding and leeching, stops, and
 * IPv6. */
static void
test_announce_sample(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1, .seed = 11};
    struct swarm_table *t1 = swarm_table_new(&cfg), *t2 = swarm_table_new(&cfg);
    uint8_t ih[20];
    make_ih(ih, 19);
    uint64_t r1 = 41, r2 = 41;
    uint8_t o1[18 * 200], o2[18 * 200];
    for (uint64_t i = 0; i < 6000; i++) {
        uint64_t p = i < 2000 ? i : (i * 7919) % 2100;
        uint64_t left = p % 3 ? 100 : 0;
        int event = STA;
        if (i >= 2000 && i % 5 == 0)
            left = left ? 0 : 7; /* switch runs */
        if (i >= 2000 && i % 11 == 0)
            event = STO;
        if (i % 13 == 0)
            event = COM;
        struct swarm_announce a =
            i % 17 == 0 ? peer6(ih, p, left, event) : peer4(ih, p, left, event);
        size_t want = i % 4 ? 50 : 200;
        size_t klen = a.family == 6 ? 18 : 6;
        struct swarm_stats s1, s2;
        size_t n1 = 7;
        int rc1 = swarm_table_announce_sample(t1, &a, i / 100, &s1, want, &r1, o1,
                                              sizeof(o1), &n1);
        int rc2 = swarm_table_announce(t2, &a, i / 100, &s2);
        assert_int_equal(rc1, rc2);
        assert_memory_equal(&s1, &s2, sizeof(s1));
        size_t n2 = 0;
        if (event != STO)
            n2 = swarm_table_sample(t2, ih, a.family, want, a.ip, a.port, &r2, o2,
                                    sizeof(o2));
        assert_int_equal(n1, n2);
        assert_memory_equal(o1, o2, n1);
        assert_true(r1 == r2);
        uint8_t me[18];
        rec_of(&a, me);
        assert_false(has_rec(o1, n1, me, klen));
    }
    check_totals(t1);
    swarm_table_free(t1);
    swarm_table_free(t2);
}

static void
test_ipv6(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 14);
    struct swarm_table *t = swarm_table_new(&(struct swarm_table_cfg){.open = 1});
    for (uint64_t i = 0; i < 3000; i++) {
        struct swarm_announce a = peer6(ih, i, i % 2 ? 0 : 9, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    for (uint64_t i = 0; i < 5; i++) {
        struct swarm_announce a = peer4(ih, i, 9, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    struct swarm_stats st;
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1500, 1505, 0, "v6 + v4");
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, 3005);
    assert_int_equal(tot.peers6, 3000);

    uint8_t out[18 * 200];
    uint64_t rng = 1;
    struct swarm_announce me = peer6(ih, 2, 9, NONE); /* a leecher */
    size_t got =
        swarm_table_sample(t, ih, 6, 200, me.ip, me.port, &rng, out, sizeof(out));
    assert_int_equal(got, 200 * 18);
    uint8_t r[18];
    rec_of(&me, r);
    assert_false(has_rec(out, got, r, 18));
    expect_distinct(out, got, 18);
    for (size_t i = 0; i < got; i += 18) {
        assert_memory_equal(out + i, "\x20\x01\x0d\xb8\0\0\0\0", 8);
        assert_int_equal(out[i + 16] << 8 | out[i + 17], 6881);
    }
    /* The IPv4 sample holds only the IPv4 peers. */
    got = swarm_table_sample(t, ih, 4, 200, NULL, 0, &rng, out, sizeof(out));
    assert_int_equal(got, 5 * 6);

    /* IPv6 peers leave; their part of the swarm is freed by the sweeper. */
    for (uint64_t i = 0; i < 3000; i++) {
        struct swarm_announce a = peer6(ih, i, 0, STO);
        assert_int_equal(swarm_table_announce(t, &a, 10, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers6, 0);
    assert_int_equal(tot.peers, 5);
    size_t before = tot.mem_bytes;
    swarm_table_sweep(t, 10, 1000);
    swarm_table_stats(t, &tot);
    assert_true(tot.mem_bytes < before);
    assert_int_equal(tot.peers, 5);
    check_totals(t);
    swarm_table_free(t);
}

/* An asker of the other family (an IPv4 client's peers6): a seeder gets the
 * leechers alone, in the reservoir and in strata; a leecher gets both. */
static void
test_sample_other_family(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 16);
    static const size_t sizes[] = {40, 3000};
    for (size_t z = 0; z < 2; z++) {
        struct swarm_table *t = swarm_table_new(&(struct swarm_table_cfg){.open = 1});
        assert_non_null(t);
        /* IPv6 peer i seeds when i is odd. */
        for (uint64_t i = 0; i < sizes[z]; i++) {
            struct swarm_announce a = peer6(ih, i, i % 2 ? 0 : 9, STA);
            assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        }
        uint8_t out[18 * 200];
        uint64_t rng = 3;
        size_t want = sizes[z] / 2 < 200 ? sizes[z] / 2 : 200;
        size_t got = swarm_table_sample_other(t, ih, 6, 200, 1, &rng, out, sizeof(out));
        assert_true(got >= (want - 2) * 18);
        expect_distinct(out, got, 18);
        for (size_t i = 0; i < got; i += 18)
            assert_int_equal(out[i + 15] % 2, 0);
        got = swarm_table_sample_other(t, ih, 6, 200, 0, &rng, out, sizeof(out));
        size_t seeders = 0;
        for (size_t i = 0; i < got; i += 18)
            seeders += out[i + 15] % 2;
        assert_true(seeders > 0 && seeders < got / 18);
        /* No IPv4 peers, unknown swarm, bad family: nothing. */
        assert_int_equal(
            swarm_table_sample_other(t, ih, 4, 50, 1, &rng, out, sizeof(out)), 0);
        uint8_t none[20];
        make_ih(none, 17);
        assert_int_equal(
            swarm_table_sample_other(t, none, 6, 50, 1, &rng, out, sizeof(out)), 0);
        assert_int_equal(
            swarm_table_sample_other(t, ih, 5, 50, 1, &rng, out, sizeof(out)), 0);
        swarm_table_free(t);
    }
}

/* ------------------------------------------------------------------ expiry */

static void
test_sweep_expiry(void **state)
{
    (void)state;
    /* Timeout 3200 s: ticks of 200 s. */
    struct swarm_table_cfg cfg = {.open = 1, .peer_timeout_s = 3200};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[3][20];
    for (int s = 0; s < 3; s++)
        make_ih(ih[s], 100 + (uint64_t)s);
    /* Swarm 0: 2000 peers at t=0; swarm 1: 10 at t=0; swarm 2: 10 at t=0. */
    for (uint64_t i = 0; i < 2000; i++) {
        struct swarm_announce a = peer4(ih[0], i, i % 4 ? 5 : 0, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    for (int s = 1; s < 3; s++)
        for (uint64_t i = 0; i < 10; i++) {
            struct swarm_announce a = peer4(ih[s], i, 5, STA);
            assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        }
    /* Half of swarm 0 and all of swarm 1 re-announce at t=2000. */
    for (uint64_t i = 0; i < 1000; i++) {
        struct swarm_announce a = peer4(ih[0], i, i % 4 ? 5 : 0, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 2000, NULL), 0);
    }
    for (uint64_t i = 0; i < 10; i++) {
        struct swarm_announce a = peer4(ih[1], i, 5, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 2000, NULL), 0);
    }

    /* Before the timeout nothing goes. */
    assert_int_equal(swarm_table_sweep(t, 3199, 1000000), 0);
    /* Past the timeout plus the tick rounding, the t=0 peers go. */
    size_t removed = 0;
    for (int i = 0; i < 1000; i++)
        removed += swarm_table_sweep(t, 3500, 64); /* small steps */
    assert_int_equal(removed, 1000 + 10);
    struct swarm_stats st;
    swarm_table_scrape(t, ih[0], &st);
    expect_stats(&st, 250, 750, 0, "swarm 0 after sweep");
    swarm_table_scrape(t, ih[1], &st);
    expect_stats(&st, 0, 10, 0, "swarm 1 after sweep");
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.expired_peers, 1010);
    /* Swarm 2 is empty; it goes once its last announce is a timeout old
     * (already the case), at the sweeper's next pass. */
    swarm_table_sweep(t, 3500, 1000000);
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 2);
    assert_int_equal(tot.peers, 1010);
    check_totals(t);

    /* Not-yet-swept expired peers are not handed out: at t=5400 the t=2000
     * peers are past their time. */
    uint8_t out[6 * 50];
    uint64_t rng = 1;
    struct swarm_announce fresh = peer4(ih[1], 99, 5, STA);
    assert_int_equal(swarm_table_announce(t, &fresh, 5400, NULL), 0);
    assert_int_equal(swarm_table_sample(t, ih[1], 4, 50, NULL, 0, &rng, out, sizeof(out)),
                     6);

    /* Later everything goes and the memory comes back. */
    size_t gone = swarm_table_sweep(t, 100000, 1000000);
    assert_int_equal(gone, 1011);
    swarm_table_sweep(t, 100000, 1000000);
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 0);
    assert_int_equal(tot.peers, 0);
    assert_int_equal(tot.seeders, 0);
    print_message("empty table after sweeping: %zu bytes\n", tot.mem_bytes);
    assert_true(tot.mem_bytes < 4096);
    assert_int_equal(swarm_table_sweep(t, 100000, 100), 0);
    swarm_table_free(t);
}

/* The exact edge: ticks of 1 s for a 20 s timeout. */
static void
test_sweep_edge(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1, .peer_timeout_s = 20};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[20];
    make_ih(ih, 1);
    struct swarm_announce a = peer4(ih, 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 1000, NULL), 0);
    assert_int_equal(swarm_table_sweep(t, 1020, 100), 0);
    assert_int_equal(swarm_table_sweep(t, 1021, 100), 1);
    /* Peers survive many wraps of the 7-bit tick as long as they announce. */
    a = peer4(ih, 2, 5, STA);
    for (uint64_t now = 2000; now < 2000 + 3 * 16384; now += 15) {
        assert_int_equal(swarm_table_announce(t, &a, now, NULL), 0);
        assert_int_equal(swarm_table_sweep(t, now, 100), 0);
    }
    swarm_table_free(t);
}

/* ------------------------------------------------------------------ closed */

static void
test_closed(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 0, .max_swarms = 3};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[5][20];
    for (int i = 0; i < 5; i++)
        make_ih(ih[i], 200 + (uint64_t)i);
    struct swarm_announce a = peer4(ih[0], 1, 5, STA);
    struct swarm_stats st;
    assert_int_equal(swarm_table_announce(t, &a, 0, &st), SWARM_ENOTREGISTERED);
    assert_int_equal(swarm_table_scrape(t, ih[0], &st), SWARM_ENOTREGISTERED);
    a.event = STO;
    assert_int_equal(swarm_table_announce(t, &a, 0, &st), SWARM_ENOTREGISTERED);
    uint8_t out[60];
    uint64_t rng = 0;
    assert_int_equal(swarm_table_sample(t, ih[0], 4, 5, NULL, 0, &rng, out, sizeof(out)),
                     0);

    for (int i = 0; i < 3; i++)
        assert_int_equal(swarm_table_register(t, ih[i]), 0);
    assert_int_equal(swarm_table_register(t, ih[0]), 0); /* again: fine */
    /* Registered swarms are never evicted: the fourth does not fit. */
    assert_int_equal(swarm_table_register(t, ih[3]), SHOAL_ETOOBIG);

    a = peer4(ih[0], 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 0, &st), 0);
    expect_stats(&st, 0, 1, 0, "registered");
    assert_int_equal(swarm_table_scrape(t, ih[1], &st), 0);
    expect_stats(&st, 0, 0, 0, "registered, empty");
    a = peer4(ih[3], 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 0, &st), SWARM_ENOTREGISTERED);

    /* Registered swarms outlive their peers. */
    assert_int_equal(swarm_table_sweep(t, 1000000, 1000000), 1);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 3);
    assert_int_equal(tot.peers, 0);

    /* Unregistering drops the swarm and makes room. */
    a = peer4(ih[1], 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 1000000, &st), 0);
    assert_int_equal(swarm_table_unregister(t, ih[1]), 0);
    assert_int_equal(swarm_table_unregister(t, ih[1]), SWARM_ENOTREGISTERED);
    assert_int_equal(swarm_table_unregister(t, ih[4]), SWARM_ENOTREGISTERED);
    assert_int_equal(swarm_table_announce(t, &a, 1000000, &st), SWARM_ENOTREGISTERED);
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 2);
    assert_int_equal(tot.peers, 0);
    assert_int_equal(swarm_table_register(t, ih[3]), 0);
    check_totals(t);
    swarm_table_free(t);
}

/* ------------------------------------------------------------------ eviction */

static void
test_flood(void **state)
{
    (void)state;
    const size_t max_swarms = 1000, max_peers = 5000;
    struct swarm_table_cfg cfg = {
        .open = 1, .max_swarms = max_swarms, .max_peers_total = max_peers, .seed = 99};
    struct swarm_table *t = swarm_table_new(&cfg);
    /* A real swarm of 50 peers that re-announce steadily. */
    uint8_t real[20];
    make_ih(real, 0xabcdef);
    for (uint64_t i = 0; i < 50; i++) {
        struct swarm_announce a = peer4(real, i, i < 10 ? 0 : 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    uint64_t x = 88172645463325252ull;
    size_t peak_mem = 0;
    for (uint64_t i = 0; i < 1000000; i++) {
        uint64_t now = i / 100; /* 100 announces a second */
        uint8_t ih[20];
        for (int k = 0; k < 20; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ih[k] = (uint8_t)x;
        }
        struct swarm_announce a = peer4(ih, x & 0xffffff, 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, now, NULL), 0);
        if (i % 1000 == 0) {
            /* Every 10 s one of the real peers re-announces. */
            struct swarm_announce r =
                peer4(real, (i / 1000) % 50, (i / 1000) % 50 < 10 ? 0 : 5, NONE);
            assert_int_equal(swarm_table_announce(t, &r, now, NULL), 0);
            struct swarm_table_totals tot;
            swarm_table_stats(t, &tot);
            assert_true(tot.swarms <= max_swarms);
            assert_true(tot.peers <= max_peers);
            peak_mem = tot.mem_bytes > peak_mem ? tot.mem_bytes : peak_mem;
        }
        if (i % 100 == 0)
            swarm_table_sweep(t, now, 500);
    }
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    print_message("flood: %zu swarms, %zu peers, %llu evicted, peak %zu bytes\n",
                  tot.swarms, tot.peers, (unsigned long long)tot.evicted_swarms,
                  peak_mem);
    assert_true(tot.swarms <= max_swarms);
    assert_true(tot.evicted_swarms > 900000);
    assert_int_equal(tot.refused, 0);
    /* Memory stays bounded by the limits, not by the flood. */
    assert_true(peak_mem < 400 * 1024);
    /* The real swarm survived with every peer. */
    struct swarm_stats st;
    assert_int_equal(swarm_table_scrape(t, real, &st), 0);
    expect_stats(&st, 10, 40, 0, "real swarm");
    check_totals(t);
    swarm_table_free(t);
}

static void
test_evict_limits(void **state)
{
    (void)state;
    /* Peer pressure: the swarm being announced to is never the victim. */
    struct swarm_table_cfg cfg = {.open = 1, .max_peers_total = 10};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[20], ih2[20];
    make_ih(ih, 1);
    make_ih(ih2, 2);
    for (uint64_t i = 0; i < 10; i++) {
        struct swarm_announce a = peer4(ih, i, 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    struct swarm_announce a = peer4(ih, 10, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 1, NULL), SHOAL_ETOOBIG);
    /* A known peer still refreshes. */
    a = peer4(ih, 3, 0, NONE);
    struct swarm_stats st;
    assert_int_equal(swarm_table_announce(t, &a, 1, &st), 0);
    expect_stats(&st, 1, 9, 0, "refresh when full");
    /* Another swarm's first peer evicts the full, older swarm. */
    a = peer4(ih2, 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 2, &st), 0);
    expect_stats(&st, 0, 1, 0, "new swarm");
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 1);
    assert_int_equal(tot.peers, 1);
    assert_int_equal(tot.refused, 1);
    assert_int_equal(tot.evicted_swarms, 1);
    assert_int_equal(tot.evicted_peers, 10);
    swarm_table_free(t);

    /* Swarm pressure with only registered swarms: nothing can go. */
    cfg = (struct swarm_table_cfg){.open = 1, .max_swarms = 4};
    t = swarm_table_new(&cfg);
    for (uint64_t i = 0; i < 4; i++) {
        make_ih(ih, 10 + i);
        assert_int_equal(swarm_table_register(t, ih), 0);
    }
    a = peer4(ih2, 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 0, NULL), SHOAL_ETOOBIG);
    /* But registered swarms take announces. */
    a = peer4(ih, 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    /* In an open table, unregistering leaves the swarm until it empties. */
    assert_int_equal(swarm_table_unregister(t, ih), 0);
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 4);
    a = peer4(ih2, 1, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 10, NULL), 0); /* evicts it */
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 4);
    assert_int_equal(tot.peers, 1);
    check_totals(t);
    swarm_table_free(t);
}

/* xorshift64: the flood's random infohashes. */
static void
random_ih(uint8_t ih[20], uint64_t *x)
{
    for (int k = 0; k < 20; k++) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        ih[k] = (uint8_t)*x;
    }
}

/* n announces, each of a new random infohash from a new address, at now_s;
 * every one must be taken. */
static void
flood(struct swarm_table *t, uint64_t *x, size_t n, uint64_t now_s, uint64_t left)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t ih[20];
        random_ih(ih, x);
        struct swarm_announce a = peer4(ih, 0x100000 + (*x & 0xffffff), left, STA);
        assert_int_equal(swarm_table_announce(t, &a, now_s, NULL), 0);
    }
}

/* The asker gets the lone seeder's address from the swarm. */
static void
expect_seeder_sampled(struct swarm_table *t, const uint8_t ih[20],
                      const struct swarm_announce *seeder)
{
    struct swarm_announce l = peer4(ih, 77, 1000, STA);
    struct swarm_stats st;
    uint8_t out[6 * 50], rec[6];
    size_t len = 0;
    uint64_t rng = 1;
    assert_int_equal(
        swarm_table_announce_sample(t, &l, 5000, &st, 50, &rng, out, sizeof(out), &len),
        0);
    expect_stats(&st, 1, 1, 0, "leecher joins the seeder");
    rec_of(seeder, rec);
    assert_int_equal(len, 6);
    assert_memory_equal(out, rec, 6);
}

/*
 * The case seen on a full tracker: a swarm of one seeder, its only peer,
 * announced and re-announced long before a flood of random infohashes ten
 * times the table's size. Oldest and smallest, it was the victim the sample
 * chose whenever it drew it; now the flood replaces its own swarms.
 */
static void
test_evict_keeps_lone_seeder(void **state)
{
    (void)state;
    const size_t max_swarms = 1000;
    struct swarm_table_cfg cfg = {.open = 1, .max_swarms = max_swarms, .seed = 7};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[20];
    make_ih(ih, 0x5eed);
    struct swarm_announce s = peer4(ih, 1, 0, STA);
    assert_int_equal(swarm_table_announce(t, &s, 0, NULL), 0);
    s.event = NONE;
    assert_int_equal(swarm_table_announce(t, &s, 1800, NULL), 0);
    uint64_t x = 88172645463325252ull;
    for (uint64_t k = 0; k < 10; k++)
        flood(t, &x, max_swarms, 1801 + k, 5);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, max_swarms);
    assert_int_equal(tot.evicted_swarms, 10 * max_swarms - (max_swarms - 1));
    assert_int_equal(tot.refused, 0);
    struct swarm_stats st;
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1, 0, 0, "lone seeder after the flood");
    expect_seeder_sampled(t, ih, &s);
    check_totals(t);
    swarm_table_free(t);

    /* A seeder that announced once outlasts a flood of leechers too: a
     * one-shot leecher's swarm always goes before it. */
    t = swarm_table_new(&cfg);
    s = peer4(ih, 1, 0, STA);
    assert_int_equal(swarm_table_announce(t, &s, 0, NULL), 0);
    for (uint64_t k = 0; k < 10; k++)
        flood(t, &x, max_swarms, 1 + k, 5);
    assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
    expect_stats(&st, 1, 0, 0, "one-shot seeder after a leecher flood");
    check_totals(t);
    swarm_table_free(t);
}

/* Proven swarms (announced to again a minute later, by one peer or by two)
 * all outlive a flood, seeders' or leechers', that fills the table many
 * times over; the flood's swarms are the only victims, newest first, and a
 * flood that announces each infohash twice in a row proves none. */
static void
test_evict_own_kind(void **state)
{
    (void)state;
    const size_t max_swarms = 2000, proven = 1500;
    struct swarm_table_cfg cfg = {.open = 1, .max_swarms = max_swarms, .seed = 3};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[20];
    for (uint64_t i = 0; i < proven; i++) {
        make_ih(ih, 1 + i);
        struct swarm_announce a = peer4(ih, i, i % 3 ? 10 : 0, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        if (i % 2)
            a = peer4(ih, i + 100000, 10, STA); /* a second peer */
        else
            a.event = NONE; /* the same peer again */
        assert_int_equal(swarm_table_announce(t, &a, 60, NULL), 0);
    }
    uint64_t x = 42, last_round = 0;
    for (uint64_t k = 0; k < 20; k++) {
        last_round = x;
        flood(t, &x, max_swarms, 100 + k, k % 2 ? 0 : 5);
    }
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, max_swarms);
    assert_int_equal(tot.evicted_swarms, 20 * max_swarms - (max_swarms - proven));
    for (uint64_t i = 0; i < proven; i++) {
        make_ih(ih, 1 + i);
        struct swarm_stats st;
        assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
        if (st.seeders + st.leechers != (i % 2 ? 2u : 1u))
            fail_msg("proven swarm %llu lost peers", (unsigned long long)i);
    }
    /* The newest one-shot swarm is the next to go, so the flood replaced
     * its own latest swarms: its very last one is there, and few others of
     * the last round. */
    size_t kept = 0;
    for (size_t i = 0; i < max_swarms; i++) {
        random_ih(ih, &last_round);
        struct swarm_stats st;
        assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
        kept += st.seeders == 1;
        if (i == max_swarms - 1 && st.seeders != 1)
            fail_msg("the last swarm of the flood is gone");
    }
    assert_true(kept >= 1 && kept <= max_swarms - proven);
    /* Twice in a row for each infohash: still one-shot, still its own
     * victims; every proven swarm stays. */
    for (size_t i = 0; i < 3 * max_swarms; i++) {
        random_ih(ih, &x);
        struct swarm_announce a = peer4(ih, 0x100000 + (x & 0xffffff), 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, 200, NULL), 0);
        a.event = NONE;
        assert_int_equal(swarm_table_announce(t, &a, 201, NULL), 0);
    }
    for (uint64_t i = 0; i < proven; i++) {
        make_ih(ih, 1 + i);
        struct swarm_stats st;
        assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
        if (st.seeders + st.leechers != (i % 2 ? 2u : 1u))
            fail_msg("proven swarm %llu lost peers to a doubled flood",
                     (unsigned long long)i);
    }
    check_totals(t);
    swarm_table_free(t);
}

/* The same under the peer bound: the flood's one-peer swarms are dropped
 * to make room for its new peers; proven swarms keep every peer. */
static void
test_evict_own_kind_peers(void **state)
{
    (void)state;
    const size_t max_peers = 1000;
    struct swarm_table_cfg cfg = {.open = 1, .max_peers_total = max_peers, .seed = 5};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t ih[20];
    for (uint64_t i = 0; i < 10; i++) {
        make_ih(ih, 1 + i);
        for (uint64_t p = 0; p < 60; p++) {
            struct swarm_announce a = peer4(ih, i * 1000 + p, p ? 10 : 0, STA);
            assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        }
    }
    uint64_t x = 9;
    flood(t, &x, 10 * max_peers, 10, 5);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, max_peers);
    for (uint64_t i = 0; i < 10; i++) {
        make_ih(ih, 1 + i);
        struct swarm_stats st;
        assert_int_equal(swarm_table_scrape(t, ih, &st), 0);
        expect_stats(&st, 1, 59, 0, "proven swarm under peer pressure");
    }
    check_totals(t);
    swarm_table_free(t);
}

/* A swarm without peers (its only peer stopped, or expired) is the first
 * to go, before a one-shot swarm that still has a peer; a new peer in it
 * proves it again. */
static void
test_evict_empty_first(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1, .max_swarms = 3, .seed = 1};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint8_t a_ih[20], b_ih[20], c_ih[20], d_ih[20];
    make_ih(a_ih, 1);
    make_ih(b_ih, 2);
    make_ih(c_ih, 3);
    make_ih(d_ih, 4);
    struct swarm_announce a = peer4(a_ih, 1, 5, STA);
    struct swarm_announce b = peer4(b_ih, 2, 5, STA);
    struct swarm_announce c = peer4(c_ih, 3, 5, STA);
    struct swarm_announce d = peer4(d_ih, 4, 5, STA);
    assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    a.event = NONE;
    /* Too soon after the first to prove anything; the interval proves it. */
    assert_int_equal(swarm_table_announce(t, &a, 1, NULL), 0);
    assert_int_equal(swarm_table_announce(t, &a, SWARM_PROVE_S, NULL), 0);
    assert_int_equal(swarm_table_announce(t, &b, 40, NULL), 0);
    assert_int_equal(swarm_table_announce(t, &c, 41, NULL), 0);
    /* a's only peer leaves: a, proven before, holds nothing now. */
    a.event = STO;
    assert_int_equal(swarm_table_announce(t, &a, 42, NULL), 0);
    assert_int_equal(swarm_table_announce(t, &d, 43, NULL), 0);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.swarms, 3);
    assert_int_equal(tot.evicted_swarms, 1);
    assert_int_equal(tot.evicted_peers, 0);
    struct swarm_stats st;
    assert_int_equal(swarm_table_scrape(t, b_ih, &st), 0);
    expect_stats(&st, 0, 1, 0, "b kept");
    /* Next, the newest one-shot swarm: d; b and c, older, stay. */
    a.event = STA;
    assert_int_equal(swarm_table_announce(t, &a, 44, NULL), 0);
    assert_int_equal(swarm_table_scrape(t, d_ih, &st), 0);
    expect_stats(&st, 0, 0, 0, "d evicted");
    assert_int_equal(swarm_table_scrape(t, b_ih, &st), 0);
    expect_stats(&st, 0, 1, 0, "b kept");
    assert_int_equal(swarm_table_scrape(t, c_ih, &st), 0);
    expect_stats(&st, 0, 1, 0, "c kept");
    /* A swarm whose peers expired goes back to the front too. */
    assert_int_equal(swarm_table_sweep(t, 100000, 1000), 3);
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, 0);
    check_totals(t);
    swarm_table_free(t);
}

/*
 * Random announces, stops, re-announces and sweeps on a small table, with
 * both bounds hit all the time: the counts stay right and the table never
 * grows past its bounds (the list links follow every swarm that moves in
 * the dense array; ASan would see a stale one).
 */
static void
test_evict_churn(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1,
                                  .max_swarms = 200,
                                  .max_peers_total = 500,
                                  .peer_timeout_s = 100,
                                  .seed = 11};
    struct swarm_table *t = swarm_table_new(&cfg);
    uint64_t x = 1234567;
    for (uint64_t i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint8_t ih[20];
        /* Half the announces go to 300 known infohashes, half to new ones. */
        make_ih(ih, x & 1 ? (x >> 8) % 300 : 1000 + (x >> 8));
        static const int events[] = {STA, NONE, NONE, STO, COM};
        struct swarm_announce a =
            peer4(ih, (x >> 20) % 64, (x >> 30) & 1 ? 0 : 7, events[(x >> 40) % 5]);
        int rc = swarm_table_announce(t, &a, i / 100, NULL);
        assert_true(rc == 0 || rc == SHOAL_ETOOBIG);
        if (i % 50 == 0)
            swarm_table_sweep(t, i / 100, 40);
        if (i % 5000 == 0) {
            struct swarm_table_totals tot;
            swarm_table_stats(t, &tot);
            assert_true(tot.swarms <= 200);
            assert_true(tot.peers <= 500);
            check_totals(t);
        }
    }
    check_totals(t);
    swarm_table_free(t);
}

/* ------------------------------------------------------------------ scale */

static void
test_million_one_swarm(void **state)
{
    (void)state;
    uint8_t ih[20];
    make_ih(ih, 77);
    struct swarm_table_cfg cfg = {.open = 1, .seed = 5};
    size_t heap0 = mallinfo2().uordblks;
    struct swarm_table *t = swarm_table_new(&cfg);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    size_t base = tot.mem_bytes;
    const uint64_t n = 1000000;
    for (uint64_t i = 0; i < n; i++) {
        struct swarm_announce a =
            peer4(ih, i * 2654435761u % (1ull << 32), i % 5 ? 7 : 0, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, n);
    double per = (double)(tot.mem_bytes - base) / (double)n;
    /* The estimate against what the allocator really handed out. */
    size_t heap = mallinfo2().uordblks - heap0;
    print_message("1M IPv4 peers in one swarm: estimate %zu bytes (%.2f per peer), "
                  "heap %zu bytes (%.2f per peer)\n",
                  tot.mem_bytes, per, heap, (double)heap / (double)n);
    assert_true((double)heap <= (double)tot.mem_bytes * 1.1);
    assert_true(per <= 16.0);
    struct swarm_stats st;
    swarm_table_scrape(t, ih, &st);
    expect_stats(&st, 200000, 800000, 0, "1M");

    /* Every peer is found again: re-announcing changes no count. */
    for (uint64_t i = 0; i < n; i += 3) {
        struct swarm_announce a =
            peer4(ih, i * 2654435761u % (1ull << 32), i % 5 ? 7 : 0, NONE);
        assert_int_equal(swarm_table_announce(t, &a, 1, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, n);

    uint8_t out[6 * 200];
    uint64_t rng = 1;
    assert_int_equal(swarm_table_sample(t, ih, 4, 200, NULL, 0, &rng, out, sizeof(out)),
                     1200);

    /* Half leave; the buckets merge back as the sweeper passes. */
    for (uint64_t i = 0; i < n; i += 2) {
        struct swarm_announce a = peer4(ih, i * 2654435761u % (1ull << 32), 7, STO);
        assert_int_equal(swarm_table_announce(t, &a, 2, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, n / 2);
    swarm_table_scrape(t, ih, &st);
    expect_stats(&st, 100000, 400000, 0, "half");
    /* The rest expire. */
    size_t gone = 0;
    for (int i = 0; i < 100000 && tot.swarms; i++) {
        gone += swarm_table_sweep(t, 100000, 10000);
        swarm_table_stats(t, &tot);
    }
    assert_int_equal(gone, n / 2);
    assert_int_equal(tot.swarms, 0);
    /* Only the packed swarm array stays allocated. */
    assert_true(tot.mem_bytes <= base + 512);
    swarm_table_free(t);
}

static void
test_million_many_swarms(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1};
    struct swarm_table *t = swarm_table_new(&cfg);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    size_t base = tot.mem_bytes;
    const uint64_t swarms = 1000, per_swarm = 1000;
    for (uint64_t p = 0; p < per_swarm; p++)
        for (uint64_t s = 0; s < swarms; s++) {
            uint8_t ih[20];
            make_ih(ih, s);
            struct swarm_announce a = peer4(ih, p * 7919 + s, p % 2, STA);
            assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        }
    swarm_table_stats(t, &tot);
    assert_int_equal(tot.peers, swarms * per_swarm);
    assert_int_equal(tot.swarms, swarms);
    double per = (double)(tot.mem_bytes - base) / (double)tot.peers;
    print_message("1M IPv4 peers in 1000 swarms: %zu bytes, %.2f bytes per peer "
                  "(swarm overhead included)\n",
                  tot.mem_bytes, per);
    assert_true(per <= 16.0);
    check_totals(t);

    /* And 100k one-peer swarms: the per-swarm overhead. */
    swarm_table_free(t);
    t = swarm_table_new(&cfg);
    for (uint64_t s = 0; s < 100000; s++) {
        uint8_t ih[20];
        make_ih(ih, s + 1);
        struct swarm_announce a = peer4(ih, s, 1, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    print_message("100k one-peer swarms: %.1f bytes per swarm\n",
                  (double)(tot.mem_bytes - base) / 100000.0);
    swarm_table_free(t);
}

/* A swarm that split while growing and then stays at its size gives the
 * room it got for growth back as its peers come and go. */
static void
test_split_room_returned(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1, .seed = 13};
    struct swarm_table *t = swarm_table_new(&cfg);
    struct swarm_table_totals tot;
    swarm_table_stats(t, &tot);
    size_t base = tot.mem_bytes;
    uint8_t ih[20];
    make_ih(ih, 21);
    for (uint64_t i = 0; i < 600; i++) {
        struct swarm_announce a = peer4(ih, i, 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    double grown = (double)(tot.mem_bytes - base) / 600.0;
    /* Churn: a peer leaves, another comes, 100 times. */
    for (uint64_t i = 0; i < 100; i++) {
        struct swarm_announce a = peer4(ih, i, 5, STO);
        assert_int_equal(swarm_table_announce(t, &a, 1, NULL), 0);
        a = peer4(ih, 1000 + i, 5, STA);
        assert_int_equal(swarm_table_announce(t, &a, 1, NULL), 0);
    }
    swarm_table_stats(t, &tot);
    double settled = (double)(tot.mem_bytes - base) / 600.0;
    print_message("600 peers after a split: %.1f bytes per peer, %.1f after churn\n",
                  grown, settled);
    assert_int_equal(tot.peers, 600);
    assert_true(settled < 10.0);
    check_totals(t);
    swarm_table_free(t);
}

static int
stop_after_two(const uint8_t ih[20], const struct swarm_stats *st, void *user)
{
    (void)ih;
    (void)st;
    return ++*(int *)user == 2;
}

static void
test_foreach(void **state)
{
    (void)state;
    /* No cfg: a closed table. */
    struct swarm_table *t = swarm_table_new(NULL);
    assert_non_null(t);
    uint8_t ih[20];
    make_ih(ih, 0);
    struct swarm_announce a0 = peer4(ih, 0, 0, STA);
    assert_int_equal(swarm_table_announce(t, &a0, 0, NULL), SWARM_ENOTREGISTERED);
    swarm_table_free(t);

    t = swarm_table_new(&(struct swarm_table_cfg){.open = 1});
    for (uint64_t s = 0; s < 5; s++) {
        make_ih(ih, s);
        for (uint64_t p = 0; p <= s; p++) {
            struct swarm_announce a = peer4(ih, p, p == 0 ? 0 : 1, STA);
            assert_int_equal(swarm_table_announce(t, &a, 0, NULL), 0);
        }
    }
    struct count_ctx c = {0};
    assert_int_equal(swarm_table_foreach(t, count_cb, &c), 5);
    assert_int_equal(c.peers, 15);
    assert_int_equal(c.seeders, 5);
    int calls = 0;
    assert_int_equal(swarm_table_foreach(t, stop_after_two, &calls), 2);
    swarm_table_free(t);
}

/* ------------------------------------------------------------------ failures */

/* One scripted run: bucket growth and splits, IPv6, new swarms that grow the
 * hash, stops that shrink and merge, and a sweep. Every call either works or
 * says SHOAL_ENOMEM. */
static void
script(struct swarm_table *t)
{
    uint8_t ih[20];
    make_ih(ih, 1);
    for (uint64_t i = 0; i < 1500; i++) {
        struct swarm_announce a = peer4(ih, i, i % 3, STA);
        int rc = swarm_table_announce(t, &a, 0, NULL);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
    }
    for (uint64_t i = 0; i < 20; i++) {
        struct swarm_announce a = peer6(ih, i, 1, COM);
        int rc = swarm_table_announce(t, &a, 1, NULL);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
    }
    for (uint64_t s = 0; s < 50; s++) {
        uint8_t other[20];
        make_ih(other, 1000 + s);
        struct swarm_announce a = peer4(other, s, 1, STA);
        int rc = swarm_table_announce(t, &a, 2, NULL);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        rc = swarm_table_register(t, other);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
    }
    for (uint64_t i = 0; i < 1500; i += 2) {
        struct swarm_announce a = peer4(ih, i, 0, STO);
        assert_int_equal(swarm_table_announce(t, &a, 3, NULL), 0);
    }
    uint8_t out[6 * 50];
    uint64_t rng = 1;
    swarm_table_sample(t, ih, 4, 50, NULL, 0, &rng, out, sizeof(out));
    swarm_table_sweep(t, 4, 100000);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    struct swarm_table_cfg cfg = {.open = 1, .peer_timeout_s = 60};
    assert_null((alloc_fail_after(0), swarm_table_new(&cfg)));
    assert_null((alloc_fail_after(1), swarm_table_new(&cfg)));
    alloc_fail_after(-1);
    long runs = 0;
    for (long n = 0;; n++) {
        struct swarm_table *t = swarm_table_new(&cfg);
        assert_non_null(t);
        struct swarm_table_totals tot;
        swarm_table_stats(t, &tot);
        size_t base = tot.mem_bytes;
        alloc_fail_after(n);
        script(t);
        long attempts = alloc_fail_after(-1);
        check_totals(t);
        /* Still works, and everything goes back once all peers expire. */
        script(t);
        check_totals(t);
        swarm_table_sweep(t, 100000, 1000000);
        swarm_table_sweep(t, 100000, 1000000);
        swarm_table_stats(t, &tot);
        assert_int_equal(tot.peers, 0);
        assert_int_equal(tot.swarms, 50); /* the registered ones */
        for (uint64_t s = 0; s < 50; s++) {
            uint8_t other[20];
            make_ih(other, 1000 + s);
            assert_int_equal(swarm_table_unregister(t, other), 0);
        }
        swarm_table_sweep(t, 100000, 1000000);
        swarm_table_stats(t, &tot);
        assert_int_equal(tot.swarms, 0);
        /* The accounting survived the failures: what is left is the hash and
         * the packed swarm array. */
        assert_true(tot.mem_bytes <= base + 3 * 128 * sizeof(void *) + 64);
        swarm_table_free(t);
        runs++;
        if (attempts <= n)
            break;
    }
    print_message("%ld runs with an allocation failing\n", runs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_sample_small),
        cmocka_unit_test(test_sample_random),
        cmocka_unit_test(test_sample_large_excludes_asker),
        cmocka_unit_test(test_sample_seeder_gets_leechers),
        cmocka_unit_test(test_sample_seeder_few_leechers),
        cmocka_unit_test(test_sample_sizes),
        cmocka_unit_test(test_sample_cap),
        cmocka_unit_test(test_seeder_switch),
        cmocka_unit_test(test_sample_skips_expired),
        cmocka_unit_test(test_sample_expiry_strata),
        cmocka_unit_test(test_announce_sample),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_sample_other_family),
        cmocka_unit_test(test_sweep_expiry),
        cmocka_unit_test(test_sweep_edge),
        cmocka_unit_test(test_closed),
        cmocka_unit_test(test_flood),
        cmocka_unit_test(test_evict_limits),
        cmocka_unit_test(test_evict_keeps_lone_seeder),
        cmocka_unit_test(test_evict_own_kind),
        cmocka_unit_test(test_evict_own_kind_peers),
        cmocka_unit_test(test_evict_empty_first),
        cmocka_unit_test(test_evict_churn),
        cmocka_unit_test(test_million_one_swarm),
        cmocka_unit_test(test_million_many_swarms),
        cmocka_unit_test(test_split_room_returned),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
