/*
 * test_choker.c — the choker as a pure function: tit-for-tat picks the
 * fastest interested peers, snubbed peers get no regular slot, ties keep the
 * current holders, seeding rotates slots through every interested peer,
 * the optimistic slot moves only when asked (or when vacant), newcomers are
 * drawn three times as often, and not-interested peers keep their state
 * without using a slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/choker.h"

#define NOW 1000000000ull /* some time well after every connection */

static char keys[64];

static void
init_peers(struct choker_peer *p, size_t n)
{
    memset(p, 0, n * sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i].key = &keys[i];
        p[i].interested = 1;
        p[i].choked = 1;
        p[i].connected_ms = NOW - 3600 * 1000; /* an hour ago: no newcomer */
    }
}

static size_t
count_on(const int *out, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += out[i] != 0;
    return c;
}

/* Applies a round's answer the way the session does. */
static void
apply(struct choker_peer *p, const int *out, size_t n, uint64_t now)
{
    for (size_t i = 0; i < n; i++) {
        if (out[i] && p[i].choked)
            p[i].last_unchoked_ms = now;
        p[i].choked = !out[i];
    }
}

static void
test_tit_for_tat(void **state)
{
    (void)state;
    static const uint64_t rates[8] = {500, 100, 900, 50, 700, 300, 800, 10};
    struct choker_peer p[8];
    init_peers(p, 8);
    for (size_t i = 0; i < 8; i++)
        p[i].down_rate = rates[i];
    p[6].interested = 0; /* fast but does not want anything */
    struct choker_cfg cfg = {4, 1};
    uint64_t rng = 1;
    int out[8];
    choker_run(p, 8, &cfg, 0, 1, NOW, &rng, out);
    /* Regular: 2 (900), 4 (700), 0 (500), 5 (300). */
    static const int regular[] = {2, 4, 0, 5};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(out[regular[i]], 1);
        assert_int_equal(p[regular[i]].optimistic, 0);
    }
    assert_int_equal(out[6], 0); /* not interested, was choked: stays so */
    /* One optimistic among 1, 3, 7. */
    int opt = 0;
    for (size_t i = 0; i < 8; i++)
        if (p[i].optimistic) {
            opt++;
            assert_true(i == 1 || i == 3 || i == 7);
            assert_int_equal(out[i], 1);
        }
    assert_int_equal(opt, 1);
    assert_int_equal(count_on(out, 8), 5);
}

static void
test_snubbed_excluded(void **state)
{
    (void)state;
    struct choker_peer p[5];
    init_peers(p, 5);
    for (size_t i = 0; i < 5; i++)
        p[i].down_rate = 100 * (i + 1);
    p[4].snubbed = 1; /* the fastest, but snubbing us */
    p[3].snubbed = 1;
    struct choker_cfg cfg = {2, 0};
    uint64_t rng = 2;
    int out[5];
    choker_run(p, 5, &cfg, 0, 0, NOW, &rng, out);
    static const int want[5] = {0, 1, 1, 0, 0};
    assert_memory_equal(out, want, sizeof(want));
    /* Seeding ignores snubbing (it is about what they send us). */
    choker_run(p, 5, &cfg, 1, 0, NOW, &rng, out);
    assert_int_equal(count_on(out, 5), 2);
}

static void
test_ties_keep_holders(void **state)
{
    (void)state;
    struct choker_peer p[10];
    init_peers(p, 10);
    for (size_t i = 6; i < 10; i++)
        p[i].choked = 0;
    struct choker_cfg cfg = {4, 0};
    for (uint64_t seed = 0; seed < 20; seed++) {
        uint64_t rng = seed;
        int out[10];
        choker_run(p, 10, &cfg, 0, 0, NOW, &rng, out);
        for (size_t i = 0; i < 10; i++)
            assert_int_equal(out[i], i >= 6);
    }
}

static void
test_not_interested(void **state)
{
    (void)state;
    struct choker_peer p[8];
    init_peers(p, 8);
    /* 0..3 not interested: 0 unchoked, 1 choked, 2 unchoked seed, 3 unchoked
     * and fastest. 4..7 interested. */
    for (size_t i = 0; i < 4; i++)
        p[i].interested = 0;
    p[0].choked = 0;
    p[2].choked = 0;
    p[2].is_seed = 1;
    p[3].choked = 0;
    p[3].down_rate = 1u << 30;
    p[3].optimistic = 1; /* lost interest while optimistic */
    struct choker_cfg cfg = {4, 1};
    uint64_t rng = 3;
    int out[8];
    choker_run(p, 8, &cfg, 0, 0, NOW, &rng, out);
    static const int want[8] = {1, 0, 0, 1, 1, 1, 1, 1};
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(p[3].optimistic, 0);
    /* All four interested peers hold regular slots; nothing is optimistic
     * because no candidate is left. */
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(p[i].optimistic, 0);
}

static void
test_seeding_rotation(void **state)
{
    (void)state;
    enum { N = 8 };
    struct choker_peer p[N];
    init_peers(p, N);
    for (size_t i = 0; i < N; i++)
        p[i].up_rate = 1000 * (i + 1);
    struct choker_cfg cfg = {2, 0};
    uint64_t rng = 4;
    int served[N] = {0};
    uint64_t now = NOW;
    int out[N];
    for (int round = 0; round < 40; round++, now += 10000) {
        uint8_t was_unchoked[N];
        uint64_t since[N];
        for (size_t i = 0; i < N; i++) {
            was_unchoked[i] = !p[i].choked;
            since[i] = p[i].last_unchoked_ms;
        }
        choker_run(p, N, &cfg, 1, 0, now, &rng, out);
        assert_int_equal(count_on(out, N), 2);
        for (size_t i = 0; i < N; i++) {
            /* A peer in its turn keeps the slot. */
            if (was_unchoked[i] && now - since[i] < CHOKER_SEED_TURN_MS)
                assert_int_equal(out[i], 1);
            served[i] += out[i];
        }
        apply(p, out, N, now);
    }
    /* 40 rounds of 10 s, 2 slots, turns of 60 s: every peer gets a turn. */
    for (size_t i = 0; i < N; i++)
        assert_true(served[i] >= 3);
    /* With fewer interested peers than slots, nobody is rotated out. */
    init_peers(p, 2);
    for (int round = 0; round < 20; round++, now += 10000) {
        choker_run(p, 2, &cfg, 1, 0, now, &rng, out);
        assert_int_equal(count_on(out, 2), 2);
        apply(p, out, 2, now);
    }
}

static int
find_optimistic(const struct choker_peer *p, size_t n)
{
    int who = -1;
    for (size_t i = 0; i < n; i++)
        if (p[i].optimistic) {
            assert_int_equal(who, -1);
            who = (int)i;
        }
    return who;
}

static void
test_optimistic_rotation(void **state)
{
    (void)state;
    enum { N = 6 };
    struct choker_peer p[N];
    init_peers(p, N);
    struct choker_cfg cfg = {1, 1};
    p[0].down_rate = 1000; /* takes the one regular slot */
    uint64_t rng = 5;
    int out[N];
    choker_run(p, N, &cfg, 0, 1, NOW, &rng, out);
    apply(p, out, N, NOW);
    int first = find_optimistic(p, N);
    assert_true(first > 0);
    /* Without rotation it stays. */
    for (int r = 0; r < 5; r++) {
        choker_run(p, N, &cfg, 0, 0, NOW + 10000 * (r + 1), &rng, out);
        apply(p, out, N, NOW);
        assert_int_equal(find_optimistic(p, N), first);
        assert_int_equal(out[first], 1);
    }
    /* Rotation moves it to someone else (others are available). */
    for (int r = 0; r < 20; r++) {
        int before = find_optimistic(p, N);
        choker_run(p, N, &cfg, 0, 1, NOW, &rng, out);
        apply(p, out, N, NOW);
        int after = find_optimistic(p, N);
        assert_true(after > 0);
        assert_int_not_equal(after, before);
        assert_int_equal(out[before], 0);
    }
    /* A holder that turns out fast is promoted; the vacant optimistic slot
     * is filled at once, even without rotation. */
    int holder = find_optimistic(p, N);
    p[holder].down_rate = 5000;
    choker_run(p, N, &cfg, 0, 0, NOW, &rng, out);
    assert_int_equal(out[holder], 1);
    assert_int_equal(p[holder].optimistic, 0);
    int now_opt = find_optimistic(p, N);
    assert_true(now_opt >= 0 && now_opt != holder);
    /* A single candidate is re-picked on rotation rather than left idle. */
    init_peers(p, 2);
    p[0].down_rate = 10;
    choker_run(p, 2, &cfg, 0, 1, NOW, &rng, out);
    assert_int_equal(find_optimistic(p, 2), 1);
    choker_run(p, 2, &cfg, 0, 1, NOW, &rng, out);
    assert_int_equal(find_optimistic(p, 2), 1);
}

static void
test_newcomer_weight(void **state)
{
    (void)state;
    enum { N = 10, ROUNDS = 60000 };
    struct choker_peer p[N];
    init_peers(p, N);
    p[2].connected_ms = NOW - 1000;
    p[7].connected_ms = NOW - CHOKER_NEWCOMER_MS + 1;
    p[5].connected_ms = NOW - CHOKER_NEWCOMER_MS; /* just too old */
    struct choker_cfg cfg = {0, 1};
    uint64_t rng = 6;
    int hits[N] = {0};
    int out[N];
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++)
            p[i].optimistic = 0; /* a vacant slot: a fresh, unbiased draw */
        choker_run(p, N, &cfg, 0, 0, NOW, &rng, out);
        hits[find_optimistic(p, N)]++;
    }
    /* Weights 3,3 and eight 1s: 3/14 and 1/14 of the draws. */
    double newcomer = (hits[2] + hits[7]) / 2.0, old = 0;
    for (size_t i = 0; i < N; i++)
        if (i != 2 && i != 7)
            old += hits[i];
    old /= N - 2;
    double ratio = newcomer / old;
    print_message("newcomer/old ratio %.3f\n", ratio);
    assert_true(ratio > 2.8 && ratio < 3.2);
    assert_true(hits[5] > ROUNDS / 20 && hits[5] < ROUNDS / 10);
}

static void
test_defaults_and_determinism(void **state)
{
    (void)state;
    struct choker_peer a[12], b[12];
    init_peers(a, 12);
    for (size_t i = 0; i < 12; i++)
        a[i].down_rate = (i * 7919) % 13;
    memcpy(b, a, sizeof(a));
    uint64_t r1 = 99, r2 = 99;
    int o1[12], o2[12];
    choker_run(a, 12, NULL, 0, 1, NOW, &r1, o1);
    choker_run(b, 12, NULL, 0, 1, NOW, &r2, o2);
    assert_memory_equal(o1, o2, sizeof(o1));
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(r1, r2);
    assert_int_equal(count_on(o1, 12), CHOKER_DEFAULT_SLOTS + CHOKER_DEFAULT_OPTIMISTIC);
    /* No slots at all: everyone interested is choked. */
    struct choker_cfg none = {-1, 0};
    choker_run(a, 12, &none, 0, 1, NOW, &r1, o1);
    assert_int_equal(count_on(o1, 12), 0);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(a[i].optimistic, 0);
    /* No peers. */
    choker_run(a, 0, NULL, 1, 1, NOW, &r1, o1);
}

static void
test_is_snubbed(void **state)
{
    (void)state;
    static const struct {
        uint64_t last, now;
        int outstanding, want;
    } cases[] = {
        {0, CHOKER_SNUB_MS, 1, 1}, {0, CHOKER_SNUB_MS - 1, 1, 0},
        {0, CHOKER_SNUB_MS, 0, 0}, {1000, 1000 + CHOKER_SNUB_MS + 5, 1, 1},
        {5000, 1000, 1, 0}, /* clock before the last block */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(
            choker_is_snubbed(cases[i].last, cases[i].now, cases[i].outstanding),
            cases[i].want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tit_for_tat),
        cmocka_unit_test(test_snubbed_excluded),
        cmocka_unit_test(test_ties_keep_holders),
        cmocka_unit_test(test_not_interested),
        cmocka_unit_test(test_seeding_rotation),
        cmocka_unit_test(test_optimistic_rotation),
        cmocka_unit_test(test_newcomer_weight),
        cmocka_unit_test(test_defaults_and_determinism),
        cmocka_unit_test(test_is_snubbed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
