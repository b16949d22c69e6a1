/*
 * test_picker.c — the piece picker without any network: geometry and block
 * sizes, rarest first and its seeded tie-break, partial pieces first,
 * suggestions, sequential mode, priorities, the per-peer piece limit,
 * endgame duplicates and requester lists, cancels and departed peers, hash
 * failures and contributors, trust (new peers, parole after a mixed failure,
 * rejected pieces, and a randomized run of them), the seed counter, a 2^21-piece torrent,
 * the pipeline sizing table, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/bitfield.h"
#include "engine/picker.h"
#include "shoal.h"

#define BS PICKER_BLOCK_SIZE

/* test_huge's time budget, in ms. ThreadSanitizer checks every memory access
 * and slows the picker about eightfold, so its budget is five times the plain
 * one: a pick that walks the whole torrent (tens of seconds even without
 * TSan, several minutes with it) still fails. */
#if defined(__SANITIZE_THREAD__)
#define HUGE_BUDGET_MS 25000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HUGE_BUDGET_MS 25000
#endif
#endif
#ifndef HUGE_BUDGET_MS
#define HUGE_BUDGET_MS 5000
#endif

/* Peer keys: addresses of these, never dereferenced by the picker. */
static char peer_a, peer_b, peer_c, peer_d;
#define A ((void *)&peer_a)
#define B ((void *)&peer_b)
#define C ((void *)&peer_c)
#define D ((void *)&peer_d)

static struct picker *
mk(uint32_t pieces, uint32_t plen, uint64_t seed)
{
    struct picker *p = picker_new(pieces, plen, (uint64_t)pieces * plen, seed);
    assert_non_null(p);
    return p;
}

/* A bitfield of n bits with the listed pieces set (list ends with -1). */
static void
bf_of(struct bitfield *bf, uint32_t n, const int *list)
{
    assert_int_equal(bitfield_init(bf, n), 0);
    for (; *list >= 0; list++)
        bitfield_set(bf, (uint32_t)*list);
}

static int
next(struct picker *p, void *peer, const struct bitfield *has, struct picker_block *out,
     int max)
{
    int n = picker_next_blocks(p, peer, has, NULL, 0, out, max);
    assert_true(n >= 0);
    return n;
}

static void
receive_all(struct picker *p, void *peer, const struct picker_block *b, int n)
{
    for (int i = 0; i < n; i++)
        assert_true(picker_block_received(p, peer, b[i].piece, b[i].begin, b[i].length) >=
                    0);
}

/* ------------------------------------------------------------------ geometry */

static void
test_geometry(void **state)
{
    (void)state;
    static const struct {
        uint32_t count, plen;
        uint64_t total;
        int ok;
    } cases[] = {
        {1, 16384, 16384, 1},
        {1, 16384, 1, 1},
        {4, 32768, 3 * 32768 + 20000, 1},
        {4, 32768, 3 * 32768, 0},     /* last piece would be empty */
        {4, 32768, 4 * 32768 + 1, 0}, /* too long */
        {0, 16384, 0, 0},
        {1, 0, 1, 0},
        {SHOAL_MAX_PIECES + 1, 16384, (uint64_t)(SHOAL_MAX_PIECES + 1) * 16384, 0},
        {2, (1u << 30) + 1, 1ull << 31, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct picker *p = picker_new(cases[i].count, cases[i].plen, cases[i].total, 1);
        assert_int_equal(p != NULL, cases[i].ok);
        picker_free(p);
    }
    picker_free(NULL);
}

static void
test_block_sizes(void **state)
{
    (void)state;
    /* Pieces of 40000 bytes (not a multiple of 16 KiB), last piece 20000. */
    struct picker *p = picker_new(3, 40000, 2 * 40000 + 20000, 7);
    assert_non_null(p);
    assert_int_equal(picker_piece_size(p, 0), 40000);
    assert_int_equal(picker_piece_size(p, 2), 20000);
    assert_int_equal(picker_piece_size(p, 3), 0);
    assert_int_equal(picker_left_bytes(p), 100000);
    picker_set_sequential(p, 1);
    struct picker_block b[16];
    int n = next(p, A, NULL, b, 5);
    assert_int_equal(n, 5);
    static const struct picker_block want[] = {
        {0, 0, BS}, {0, BS, BS}, {0, 2 * BS, 40000 - 2 * BS}, {1, 0, BS}, {1, BS, BS},
    };
    for (int i = 0; i < n; i++) {
        assert_int_equal(b[i].piece, want[i].piece);
        assert_int_equal(b[i].begin, want[i].begin);
        assert_int_equal(b[i].length, want[i].length);
    }
    n = next(p, A, NULL, b, 16);
    assert_int_equal(n, 3);
    assert_int_equal(b[0].length, 40000 - 2 * BS); /* piece 1's tail */
    assert_int_equal(b[1].piece, 2);
    assert_int_equal(b[1].length, BS);
    assert_int_equal(b[2].length, 20000 - BS);
    /* A wrong length for the short block is refused. */
    assert_int_equal(picker_block_received(p, A, 2, BS, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 2, BS, 20000 - BS), 0);
    assert_int_equal(picker_block_received(p, A, 2, 0, BS), 1);
    picker_piece_passed(p, 2);
    assert_int_equal(picker_left_bytes(p), 80000);
    picker_free(p);
}

/* ------------------------------------------------------------------ rarest first */

static void
test_rarest_first(void **state)
{
    (void)state;
    struct picker *p = mk(8, BS, 1);
    /* Availability of piece i: avail[i]. */
    static const int avail[8] = {5, 1, 3, 2, 7, 4, 6, 2};
    for (uint32_t i = 0; i < 8; i++)
        for (int k = 0; k < avail[i]; k++)
            picker_peer_have(p, i);
    picker_peer_have_all(p);
    assert_int_equal(picker_availability(p, 1), 2);
    struct picker_block b[8];
    int n = next(p, A, NULL, b, 8);
    assert_int_equal(n, 8);
    for (int i = 1; i < n; i++)
        assert_true(avail[b[i - 1].piece] <= avail[b[i].piece]);
    assert_int_equal(b[0].piece, 1);
    assert_int_equal(b[7].piece, 4);
    picker_free(p);
}

/* Availability past the exact buckets still orders pieces, coarser. */
static void
test_common_pieces(void **state)
{
    (void)state;
    struct picker *p = mk(4, BS, 2);
    static const int avail[4] = {200, 40, 33, 90};
    for (uint32_t i = 0; i < 4; i++)
        for (int k = 0; k < avail[i]; k++)
            picker_peer_have(p, i);
    struct picker_block b[4];
    assert_int_equal(next(p, A, NULL, b, 4), 4);
    /* 33 and 40 share a bucket; 90 and 200 come after, in that order. */
    assert_true(b[0].piece == 1 || b[0].piece == 2);
    assert_true(b[1].piece == 1 || b[1].piece == 2);
    assert_int_equal(b[2].piece, 3);
    assert_int_equal(b[3].piece, 0);
    assert_int_equal(picker_piece_count(p), 4);
    picker_free(p);
}

/* After random availability, priority and have changes (with the order built
 * and kept up incrementally), a seed's picks come out in (priority, rarity)
 * order and name every wanted missing piece once. */
static void
test_order_stays_consistent(void **state)
{
    (void)state;
    enum { N = 300 };
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct picker *p = mk(N, BS, seed);
        uint64_t r = seed * 977;
        struct picker_block b[N];
        /* Build the order once: a request from a peer whose only piece
         * nobody reported, so it gets nothing. */
        struct bitfield none;
        assert_int_equal(bitfield_init(&none, N), 0);
        bitfield_set(&none, 0);
        assert_int_equal(next(p, B, &none, b, 1), 0);
        for (int step = 0; step < 5000; step++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t piece = (uint32_t)((r >> 33) % N);
            switch ((r >> 20) % 8) {
            case 0:
            case 1:
            case 2:
                picker_peer_have(p, piece);
                break;
            case 3:
            case 4: {
                struct bitfield one;
                assert_int_equal(bitfield_init(&one, N), 0);
                bitfield_set(&one, piece);
                if (picker_availability(p, piece) > 0)
                    picker_peer_lost(p, &one);
                bitfield_cleanup(&one);
                break;
            }
            case 5:
                assert_int_equal(
                    picker_set_piece_priority(p, piece, (int)((r >> 40) % 8)), 0);
                break;
            case 6:
                if ((r >> 50) % 8 == 0)
                    picker_set_have(p, piece);
                break;
            default:
                assert_int_equal(picker_set_range_priority(p, piece,
                                                           piece + (N - piece) / 50,
                                                           (int)((r >> 40) % 8)),
                                 0);
                break;
            }
        }
        int n = next(p, A, NULL, b, N);
        int seen[N] = {0};
        for (int i = 0; i < n; i++) {
            seen[b[i].piece]++;
            if (i) {
                int p0 = picker_piece_priority(p, b[i - 1].piece);
                int p1 = picker_piece_priority(p, b[i].piece);
                assert_true(p0 >= p1);
                if (p0 == p1)
                    assert_true(picker_availability(p, b[i - 1].piece) <=
                                picker_availability(p, b[i].piece));
            }
        }
        for (uint32_t i = 0; i < N; i++) {
            int want = !picker_have(p, i) && picker_piece_priority(p, i) > 0;
            assert_int_equal(seen[i], want);
        }
        bitfield_cleanup(&none);
        picker_free(p);
    }
}

static void
order_for_seed(uint64_t seed, uint32_t *order)
{
    struct picker *p = mk(64, BS, seed);
    struct picker_block b[64];
    assert_int_equal(next(p, A, NULL, b, 64), 64);
    for (int i = 0; i < 64; i++)
        order[i] = b[i].piece;
    picker_free(p);
}

static void
test_tie_break_is_seeded(void **state)
{
    (void)state;
    uint32_t a1[64], a2[64], b1[64];
    order_for_seed(1, a1);
    order_for_seed(1, a2);
    order_for_seed(2, b1);
    assert_memory_equal(a1, a2, sizeof(a1));
    assert_memory_not_equal(a1, b1, sizeof(a1));
    /* Each is a permutation of all pieces. */
    int seen[64] = {0};
    for (int i = 0; i < 64; i++)
        seen[b1[i]]++;
    for (int i = 0; i < 64; i++)
        assert_int_equal(seen[i], 1);
    /* And not simply index order. */
    int sorted = 1;
    for (int i = 1; i < 64; i++)
        sorted &= a1[i - 1] < a1[i];
    assert_false(sorted);
}

/* A peer whose few pieces sit behind thousands of rarer ones it lacks. */
static void
test_sparse_peer(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct picker *p = mk(N, BS, 3);
    struct bitfield mine, rest;
    assert_int_equal(bitfield_init(&mine, N), 0);
    assert_int_equal(bitfield_init(&rest, N), 0);
    for (uint32_t i = 0; i < N; i++)
        bitfield_set(i < 100 ? &mine : &rest, i);
    picker_peer_bitfield(p, &mine);
    picker_peer_bitfield(p, &rest);
    /* Our peer's pieces are more common than everything else... */
    picker_peer_bitfield(p, &mine);
    picker_peer_bitfield(p, &mine);
    /* ...except piece 42, the rarest of them. */
    struct bitfield one;
    assert_int_equal(bitfield_init(&one, N), 0);
    bitfield_set(&one, 42);
    picker_peer_lost(p, &one);
    struct picker_block b[8];
    int n = next(p, A, &mine, b, 8);
    assert_int_equal(n, 8);
    assert_int_equal(b[0].piece, 42);
    for (int i = 0; i < n; i++)
        assert_true(b[i].piece < 100);
    bitfield_cleanup(&mine);
    bitfield_cleanup(&rest);
    bitfield_cleanup(&one);
    picker_free(p);
}

/* ------------------------------------------------------------------ partials */

static void
test_partial_first(void **state)
{
    (void)state;
    /* 4 blocks per piece. */
    struct picker *p = mk(20, 4 * BS, 5);
    struct bitfield only3, only9;
    bf_of(&only3, 20, (const int[]){3, -1});
    bf_of(&only9, 20, (const int[]){9, -1});
    picker_peer_bitfield(p, &only3);
    picker_peer_bitfield(p, &only9);
    picker_peer_have_all(p);

    struct picker_block b[8];
    assert_int_equal(next(p, A, &only3, b, 1), 1);
    assert_int_equal(b[0].piece, 3);
    assert_int_equal(next(p, B, &only9, b, 1), 1);
    assert_int_equal(b[0].piece, 9);
    /* A seed that works on neither still finishes started pieces first. */
    assert_int_equal(next(p, C, NULL, b, 6), 6);
    int got3 = 0, got9 = 0;
    for (int i = 0; i < 6; i++) {
        got3 += b[i].piece == 3;
        got9 += b[i].piece == 9;
    }
    assert_int_equal(got3 + got9, 6);
    picker_free(p);

    /* Own partials come before other partials. */
    p = mk(20, 4 * BS, 5);
    picker_peer_bitfield(p, &only3);
    picker_peer_bitfield(p, &only9);
    assert_int_equal(next(p, A, &only3, b, 1), 1);
    assert_int_equal(next(p, B, &only9, b, 1), 1);
    assert_int_equal(next(p, A, NULL, b, 2), 2);
    assert_int_equal(b[0].piece, 3);
    assert_int_equal(b[1].piece, 3);
    assert_int_equal(next(p, B, NULL, b, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(b[i].piece, 9);
    bitfield_cleanup(&only3);
    bitfield_cleanup(&only9);
    picker_free(p);
}

static void
test_suggested(void **state)
{
    (void)state;
    struct picker *p = mk(10, BS, 9);
    for (uint32_t i = 0; i < 10; i++)
        picker_peer_have(p, i);
    picker_peer_have(p, 6); /* common, but suggested */
    const uint32_t sug[] = {6, 99 /* ignored */};
    struct picker_block b[2];
    assert_int_equal(picker_next_blocks(p, A, NULL, sug, 2, b, 2), 2);
    assert_int_equal(b[0].piece, 6);
    assert_int_not_equal(b[1].piece, 6);
    picker_free(p);
}

/* A peer is not spread over more pieces than its pipeline needs. */
static void
test_peer_piece_limit(void **state)
{
    (void)state;
    struct picker *p = mk(16, 4 * BS, 11);
    struct picker_block b[64];
    /* A takes 8 whole pieces, then gives back one block of each. */
    assert_int_equal(next(p, A, NULL, b, 32), 32);
    for (int i = 0; i < 32; i += 4)
        picker_block_cancelled(p, A, b[i].piece, b[i].begin);
    assert_int_equal(picker_peer_requests(p, A), 24);
    /* B asks for 8: 8 single free blocks in 8 pieces would spread it over 8
     * pieces; it gets at most PICKER_PEER_PIECES (4) pieces' worth. */
    int n = next(p, B, NULL, b, 8);
    assert_int_equal(n, 4);
    /* With a deeper pipeline it may take more. */
    n = next(p, C, NULL, b, 40);
    int pieces[16] = {0}, distinct = 0;
    for (int i = 0; i < n; i++)
        if (!pieces[b[i].piece]++)
            distinct++;
    assert_true(distinct <= (40 + 3) / 4 + 1);
    assert_true(n > 4);
    picker_free(p);
}

/* ------------------------------------------------------------------ sequential */

static void
test_sequential(void **state)
{
    (void)state;
    struct picker *p = mk(50, 2 * BS, 13);
    for (uint32_t i = 0; i < 50; i += 2)
        picker_peer_have(p, i); /* even pieces rarer-looking... irrelevant here */
    picker_set_sequential(p, 1);
    picker_set_have(p, 0);
    struct bitfield lacks1;
    assert_int_equal(bitfield_init(&lacks1, 50), 0);
    bitfield_set_all(&lacks1);
    bitfield_clear(&lacks1, 1);
    struct picker_block b[8];
    assert_int_equal(next(p, A, &lacks1, b, 4), 4);
    assert_int_equal(b[0].piece, 2);
    assert_int_equal(b[2].piece, 3);
    assert_int_equal(next(p, B, NULL, b, 2), 2);
    assert_int_equal(b[0].piece, 1);
    /* A higher priority wins over a lower index. */
    assert_int_equal(picker_set_piece_priority(p, 40, PICKER_PRIO_HIGH), 0);
    assert_int_equal(next(p, C, NULL, b, 4), 4);
    assert_int_equal(b[0].piece, 40);
    assert_int_equal(b[2].piece, 4);
    /* A lower index raised to high priority comes first again. */
    assert_int_equal(picker_set_piece_priority(p, 30, PICKER_PRIO_HIGH), 0);
    assert_int_equal(next(p, C, NULL, b, 2), 2);
    assert_int_equal(b[0].piece, 30);
    /* All at one priority: plain index order from the first free piece. */
    assert_int_equal(picker_set_all_priority(p, PICKER_PRIO_LOW), 0);
    assert_int_equal(next(p, C, NULL, b, 2), 2);
    assert_int_equal(b[0].piece, 5);
    /* Turning it off goes back to rarest first. */
    picker_set_sequential(p, 0);
    assert_int_equal(next(p, D, NULL, b, 2), 2);
    assert_int_equal(picker_availability(p, b[0].piece), 0);
    bitfield_cleanup(&lacks1);
    picker_free(p);
}

/* ------------------------------------------------------------------ priorities */

static void
test_priorities(void **state)
{
    (void)state;
    struct picker *p = mk(10, BS, 17);
    for (uint32_t i = 0; i < 10; i++)
        picker_peer_have(p, i);
    picker_peer_have(p, 8); /* common but high: still first */
    assert_int_equal(picker_set_piece_priority(p, 8, PICKER_PRIO_HIGH), 0);
    assert_int_equal(picker_set_piece_priority(p, 2, PICKER_PRIO_SKIP), 0);
    assert_int_equal(picker_set_piece_priority(p, 3, PICKER_PRIO_LOW), 0);
    assert_int_equal(picker_set_piece_priority(p, 3, 8), SHOAL_EINVAL);
    assert_int_equal(picker_set_piece_priority(p, 10, 1), SHOAL_EINVAL);
    assert_int_equal(picker_piece_priority(p, 3), PICKER_PRIO_LOW);
    struct picker_block b[10];
    int n = next(p, A, NULL, b, 10);
    assert_int_equal(n, 9);
    assert_int_equal(b[0].piece, 8);
    assert_int_equal(b[8].piece, 3);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(b[i].piece, 2);
    for (int i = 0; i < n; i++) {
        assert_int_equal(picker_block_received(p, A, b[i].piece, 0, BS), 1);
        picker_piece_passed(p, b[i].piece);
    }
    /* The skipped piece is not needed to be complete. */
    assert_true(picker_is_complete(p));
    assert_int_equal(picker_have_count(p), 9);
    assert_int_equal(picker_left_bytes(p), 0);
    assert_int_equal(next(p, A, NULL, b, 10), 0);
    assert_int_equal(picker_set_piece_priority(p, 2, PICKER_PRIO_NORMAL), 0);
    assert_false(picker_is_complete(p));
    assert_int_equal(picker_left_bytes(p), BS);
    picker_free(p);
}

static void
test_range_priority(void **state)
{
    (void)state;
    struct picker *p = mk(10, BS, 19);
    /* Files: [0..3] skip, [3..6] high, [6..9] low; pieces 3 and 6 shared. */
    assert_int_equal(picker_set_all_priority(p, PICKER_PRIO_SKIP), 0);
    assert_true(picker_is_complete(p));
    assert_int_equal(picker_set_range_priority(p, 0, 3, PICKER_PRIO_SKIP), 0);
    assert_int_equal(picker_set_range_priority(p, 3, 6, PICKER_PRIO_HIGH), 0);
    assert_int_equal(picker_set_range_priority(p, 6, 9, PICKER_PRIO_LOW), 0);
    static const int want[10] = {0, 0, 0, 7, 7, 7, 7, 1, 1, 1};
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(picker_piece_priority(p, i), want[i]);
    assert_int_equal(picker_set_range_priority(p, 5, 10, 1), SHOAL_EINVAL);
    assert_int_equal(picker_set_range_priority(p, 5, 4, 1), SHOAL_EINVAL);
    assert_int_equal(picker_set_all_priority(p, -1), SHOAL_EINVAL);
    assert_int_equal(picker_left_bytes(p), 7 * BS);
    picker_free(p);
}

/* ------------------------------------------------------------------ endgame */

static void
test_endgame(void **state)
{
    (void)state;
    struct picker *p = mk(2, 2 * BS, 23);
    struct picker_block b[8];
    assert_false(picker_in_endgame(p));
    assert_int_equal(next(p, A, NULL, b, 8), 4);
    assert_true(picker_in_endgame(p));
    /* B and C get duplicates; D finds every block at its limit of three. */
    assert_int_equal(next(p, B, NULL, b, 8), 4);
    assert_int_equal(next(p, C, NULL, b, 1), 1);
    assert_int_equal(next(p, C, NULL, b, 8), 3);
    assert_int_equal(next(p, C, NULL, b, 8), 0); /* never twice to one peer */
    assert_int_equal(next(p, D, NULL, b, 8), 0);
    void *who[4];
    assert_int_equal(picker_block_requesters(p, 0, 0, who, 4), 3);
    /* B delivers first: A and C remain listed for cancels. */
    assert_int_equal(picker_block_received(p, B, 0, 0, BS), 0);
    size_t nw = picker_block_requesters(p, 0, 0, who, 4);
    assert_int_equal(nw, 2);
    assert_true((who[0] == A && who[1] == C) || (who[0] == C && who[1] == A));
    assert_int_equal(picker_peer_requests(p, A), 3);
    assert_int_equal(picker_peer_requests(p, B), 3);
    /* The same block again is a duplicate. */
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), SHOAL_EINVAL);
    picker_block_cancelled(p, A, 0, 0);
    picker_block_cancelled(p, C, 0, 0);
    assert_int_equal(picker_block_requesters(p, 0, 0, who, 4), 0);
    /* A slot freed on a block: D can take it now. */
    picker_block_cancelled(p, C, 0, BS);
    assert_int_equal(next(p, D, NULL, b, 8), 1);
    assert_int_equal(b[0].piece, 0);
    assert_int_equal(b[0].begin, BS);
    /* Only truncation: requesters reports the total. */
    assert_int_equal(picker_block_requesters(p, 1, 0, who, 1), 3);
    picker_free(p);
}

/* ------------------------------------------------------------------ cancels and
 * departures */

static void
test_cancel_and_gone(void **state)
{
    (void)state;
    struct picker *p = mk(3, 2 * BS, 29);
    struct picker_block b[8], c[8];
    assert_int_equal(next(p, A, NULL, b, 3), 3);
    assert_int_equal(picker_peer_requests(p, A), 3);
    picker_block_cancelled(p, A, b[1].piece, b[1].begin);
    picker_block_cancelled(p, A, b[1].piece, b[1].begin); /* twice: no-op */
    picker_block_cancelled(p, B, b[0].piece, b[0].begin); /* not B's */
    picker_block_cancelled(p, A, 99, 0);
    assert_int_equal(picker_peer_requests(p, A), 2);
    /* B gets the cancelled block back (a partial comes first). */
    assert_int_equal(next(p, B, NULL, c, 1), 1);
    assert_int_equal(c[0].piece, b[1].piece);
    assert_int_equal(c[0].begin, b[1].begin);
    /* A sends one block, then leaves: its other request returns to the pool,
     * but it stays a contributor. */
    assert_int_equal(picker_block_received(p, A, b[0].piece, b[0].begin, BS), 0);
    picker_peer_gone(p, A);
    assert_int_equal(picker_peer_requests(p, A), 0);
    void *who[4];
    assert_int_equal(picker_piece_contributors(p, b[0].piece, who, 4), 1);
    assert_ptr_equal(who[0], A);
    int n = next(p, C, NULL, c, 8);
    int found = 0;
    for (int i = 0; i < n; i++)
        found |= c[i].piece == b[2].piece && c[i].begin == b[2].begin;
    assert_true(found);
    /* A block that was cancelled but arrives anyway is still taken. */
    picker_block_cancelled(p, C, c[0].piece, c[0].begin);
    assert_true(picker_block_received(p, C, c[0].piece, c[0].begin, c[0].length) >= 0);
    picker_free(p);
}

static void
test_received_errors(void **state)
{
    (void)state;
    struct picker *p = mk(4, 2 * BS, 31);
    struct picker_block b[2];
    /* Never requested: no record, or a block of a started piece never asked. */
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), SHOAL_EINVAL);
    picker_set_sequential(p, 1);
    assert_int_equal(next(p, A, NULL, b, 1), 1);
    assert_int_equal(b[0].piece, 0);
    assert_int_equal(picker_block_received(p, A, 0, BS, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 0, 1, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 0, 2 * BS, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS - 1), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 4, 0, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), 0);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), SHOAL_EINVAL);
    /* From a peer that was not asked: accepted (data is data). */
    assert_int_equal(next(p, A, NULL, b, 1), 1);
    assert_int_equal(picker_block_received(p, B, b[0].piece, b[0].begin, BS), 1);
    assert_int_equal(picker_peer_requests(p, A), 0);
    picker_piece_passed(p, 0);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), SHOAL_EINVAL);
    picker_free(p);
}

static void
test_piece_failed(void **state)
{
    (void)state;
    struct picker *p = mk(2, 4 * BS, 37);
    picker_set_sequential(p, 1);
    struct picker_block a[4], b[4];
    assert_int_equal(next(p, A, NULL, a, 2), 2);
    assert_int_equal(next(p, B, NULL, b, 2), 2);
    assert_int_equal(a[0].piece, 0);
    assert_int_equal(b[0].piece, 0);
    assert_int_equal(picker_block_received(p, A, 0, a[0].begin, BS), 0);
    assert_int_equal(picker_block_received(p, B, 0, b[0].begin, BS), 0);
    assert_int_equal(picker_block_received(p, B, 0, b[1].begin, BS), 0);
    assert_int_equal(picker_block_received(p, A, 0, a[1].begin, BS), 1);
    void *who[4];
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 2);
    assert_int_equal(picker_piece_contributors(p, 0, who, 1), 2);
    picker_piece_failed(p, 0);
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 0);
    assert_false(picker_have(p, 0));
    /* Every block of it can be asked again. */
    assert_int_equal(next(p, C, NULL, a, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i].piece, 0);
    receive_all(p, C, a, 4);
    picker_piece_passed(p, 0);
    assert_true(picker_have(p, 0));
    assert_true(bitfield_get(picker_have_bits(p), 0));
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 0);
    picker_piece_failed(p, 5); /* out of range: ignored */
    /* Marked had (say, by a recheck) while blocks are out: they are dropped. */
    assert_int_equal(next(p, A, NULL, a, 3), 3);
    assert_int_equal(picker_peer_requests(p, A), 3);
    picker_set_have(p, 1);
    assert_int_equal(picker_peer_requests(p, A), 0);
    assert_int_equal(picker_block_requesters(p, 1, 0, who, 4), 0);
    assert_true(picker_is_complete(p));
    picker_free(p);
}

/* ------------------------------------------------------------------ trust */

/* A macro, so a failure names the caller's line. */
#define all_of_piece(b, n, want)                                                         \
    do {                                                                                 \
        for (int i_ = 0; i_ < (n); i_++)                                                 \
            assert_int_equal((b)[i_].piece, (want));                                     \
    } while (0)

static void
test_trust_new_holds_one_piece(void **state)
{
    (void)state;
    struct picker *p = mk(8, 4 * BS, 3);
    picker_set_sequential(p, 1);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_FULL);
    assert_int_equal(picker_peer_set_trust(p, A, PICKER_TRUST_NEW), 0);
    assert_int_equal(picker_peer_set_trust(p, B, PICKER_TRUST_NEW), 0);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_NEW);
    struct picker_block b[16];
    /* However deep its pipeline, a new peer gets one piece. */
    assert_int_equal(next(p, A, NULL, b, 16), 4);
    all_of_piece(b, 4, 0);
    assert_int_equal(next(p, B, NULL, b, 16), 4);
    all_of_piece(b, 4, 1);
    assert_int_equal(picker_peer_unverified(p, A), 1);
    assert_int_equal(picker_peer_unverified(p, C), 0);
    /* Its piece complete but not verified yet: still nothing more. */
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(picker_block_received(p, A, 0, i * BS, BS), i == 3);
    assert_int_equal(next(p, A, NULL, b, 16), 0);
    /* Verified: fully trusted from now on. */
    picker_piece_passed(p, 0);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_FULL);
    assert_int_equal(picker_peer_trust(p, B), PICKER_TRUST_NEW);
    assert_int_equal(next(p, A, NULL, b, 16), 16);
    /* A piece from one sender that fails puts nobody on parole: the session
     * bans that sender. */
    for (uint32_t i = 0; i < 4; i++)
        picker_block_received(p, B, 1, i * BS, BS);
    picker_piece_failed(p, 1);
    assert_int_equal(picker_peer_trust(p, B), PICKER_TRUST_NEW);
    picker_free(p);
}

static void
test_parole_after_mixed_failure(void **state)
{
    (void)state;
    struct picker *p = mk(8, 4 * BS, 5);
    picker_set_sequential(p, 1);
    struct picker_block a[8], b[8], c[8];
    void *who[4];
    /* A and B share piece 0; A also has a block of piece 1 and a request
     * there. */
    assert_int_equal(next(p, A, NULL, a, 2), 2);
    assert_int_equal(next(p, B, NULL, b, 2), 2);
    all_of_piece(a, 2, 0);
    all_of_piece(b, 2, 0);
    assert_int_equal(next(p, A, NULL, c, 2), 2);
    all_of_piece(c, 2, 1);
    assert_int_equal(picker_block_received(p, A, 1, 0, BS), 0);
    receive_all(p, A, a, 2);
    assert_int_equal(picker_block_received(p, B, 0, b[0].begin, BS), 0);
    assert_int_equal(picker_block_received(p, B, 0, b[1].begin, BS), 1);
    picker_piece_failed(p, 0);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_PAROLE);
    assert_int_equal(picker_peer_trust(p, B), PICKER_TRUST_PAROLE);
    /* What A had in piece 1 is taken back: its block thrown away, its
     * request released, a late copy refused. */
    assert_int_equal(picker_piece_contributors(p, 1, who, 4), 0);
    assert_int_equal(picker_block_requesters(p, 1, BS, who, 4), 0);
    assert_int_equal(picker_peer_requests(p, A), 0);
    assert_int_equal(picker_block_received(p, A, 1, BS, BS), SHOAL_EINVAL);
    /* On parole each takes one whole piece, alone: A the piece it was
     * taken back from, now idle and empty, B the next. */
    assert_int_equal(next(p, A, NULL, a, 8), 4);
    all_of_piece(a, 4, 1);
    assert_int_equal(next(p, B, NULL, b, 8), 4);
    all_of_piece(b, 4, 0);
    /* Nobody else gets blocks of them, and blocks do not cross. */
    assert_int_equal(next(p, C, NULL, c, 4), 4);
    all_of_piece(c, 4, 2);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, C, 1, 0, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, B, 2, 0, BS), SHOAL_EINVAL);
    /* A rejects a block of its piece: the whole piece is given back, the
     * block it did send thrown away. */
    assert_int_equal(picker_block_received(p, A, 1, 0, BS), 0);
    assert_int_equal(picker_block_rejected(p, A, 1, BS), 1);
    assert_int_equal(picker_piece_contributors(p, 1, who, 4), 0);
    assert_int_equal(picker_block_requesters(p, 1, 2 * BS, who, 4), 0);
    assert_int_equal(picker_peer_requests(p, A), 0);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_PAROLE);
    /* B sends its piece alone and it passes: B is off parole. */
    receive_all(p, B, b, 4);
    picker_piece_passed(p, 0);
    assert_int_equal(picker_peer_trust(p, B), PICKER_TRUST_FULL);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_PAROLE);
    /* Fully trusted again, B may share pieces: piece 1 is free for all. */
    assert_int_equal(next(p, B, NULL, b, 2), 2);
    all_of_piece(b, 2, 1);
    assert_int_equal(next(p, D, NULL, c, 2), 2);
    all_of_piece(c, 2, 1);
    picker_free(p);
}

static void
test_parole_cancel_and_gone(void **state)
{
    (void)state;
    struct picker *p = mk(2, 4 * BS, 7);
    picker_set_sequential(p, 1);
    struct picker_block a[8];
    void *who[4];
    assert_int_equal(picker_peer_set_trust(p, A, PICKER_TRUST_PAROLE), 0);
    assert_int_equal(next(p, A, NULL, a, 8), 4);
    all_of_piece(a, 4, 0);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), 0);
    /* A request of its own piece dropped (choke, time-out): given back. */
    picker_block_cancelled(p, A, 0, BS);
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 0);
    assert_int_equal(picker_peer_requests(p, A), 0);
    /* It goes away with its piece half done: given back too, and its trust
     * level is forgotten with it. */
    assert_int_equal(next(p, A, NULL, a, 8), 4);
    assert_int_equal(picker_block_received(p, A, 0, 0, BS), 0);
    picker_peer_gone(p, A);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_FULL);
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 0);
    assert_int_equal(next(p, B, NULL, a, 4), 4);
    all_of_piece(a, 4, 0);
    /* B sends a block of piece 0 and leaves. A peer on parole claims the
     * idle piece only when nothing else is left, throwing B's block away. */
    assert_int_equal(picker_block_received(p, B, 0, 0, BS), 0);
    picker_peer_gone(p, B);
    assert_int_equal(picker_peer_set_trust(p, C, PICKER_TRUST_PAROLE), 0);
    assert_int_equal(next(p, C, NULL, a, 8), 4);
    all_of_piece(a, 4, 1);
    receive_all(p, C, a, 4);
    picker_piece_passed(p, 1);
    assert_int_equal(picker_peer_trust(p, C), PICKER_TRUST_FULL);
    assert_int_equal(picker_peer_set_trust(p, C, PICKER_TRUST_PAROLE), 0);
    assert_int_equal(next(p, C, NULL, a, 8), 4);
    all_of_piece(a, 4, 0);
    assert_int_equal(picker_piece_contributors(p, 0, who, 4), 0);
    receive_all(p, C, a, 4);
    picker_piece_passed(p, 0);
    assert_true(picker_is_complete(p));
    picker_free(p);
}

/* A source of whole pieces (a web seed): several pieces at once, each its
 * own, never shared or duplicated, and no verdict changes its level. */
static void
test_trust_whole(void **state)
{
    (void)state;
    struct picker *p = mk(8, 4 * BS, 11);
    struct picker_block a[16], b[32], c[32];
    void *who[4];
    assert_int_equal(picker_peer_set_trust(p, A, PICKER_TRUST_WHOLE), 0);
    /* The pieces it suggests, whole and in order: one run of bytes. */
    const uint32_t sug[] = {2, 3, 4};
    assert_int_equal(picker_next_blocks(p, A, NULL, sug, 3, a, 8), 8);
    all_of_piece(a, 4, 2);
    all_of_piece(a + 4, 4, 3);
    /* A peer gets everything else and nothing of A's pieces, even in
     * endgame; A gets no duplicates of the peer's blocks either. */
    assert_int_equal(next(p, B, NULL, b, 32), 24);
    for (int i = 0; i < 24; i++)
        assert_true(b[i].piece != 2 && b[i].piece != 3);
    assert_true(picker_in_endgame(p));
    int n = next(p, C, NULL, c, 32);
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        assert_true(c[i].piece != 2 && c[i].piece != 3);
    assert_int_equal(next(p, A, NULL, a + 8, 8), 0);
    /* Blocks do not cross between its pieces and the others'. */
    assert_int_equal(picker_block_received(p, B, 2, 0, BS), SHOAL_EINVAL);
    assert_int_equal(picker_block_received(p, A, b[0].piece, b[0].begin, BS),
                     SHOAL_EINVAL);
    /* A piece it sent passes: it stays what it is. */
    receive_all(p, A, a, 4);
    picker_piece_passed(p, 2);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_WHOLE);
    /* A request it drops gives the whole piece back, the block it sent
     * thrown away. */
    assert_int_equal(picker_block_received(p, A, 3, 0, BS), 0);
    picker_block_cancelled(p, A, 3, BS);
    assert_int_equal(picker_piece_contributors(p, 3, who, 4), 0);
    assert_int_equal(picker_block_requesters(p, 3, 2 * BS, who, 4), 0);
    assert_int_equal(picker_peer_requests(p, A), 0);
    /* Fetched again, by it alone; a failure names it alone and leaves its
     * level as it is (the session drops it). */
    const uint32_t again[] = {3};
    assert_int_equal(picker_next_blocks(p, A, NULL, again, 1, a, 4), 4);
    all_of_piece(a, 4, 3);
    receive_all(p, A, a, 4);
    assert_int_equal(picker_piece_contributors(p, 3, who, 4), 1);
    assert_ptr_equal(who[0], A);
    picker_piece_failed(p, 3);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_WHOLE);
    picker_peer_gone(p, A);
    assert_int_equal(picker_peer_trust(p, A), PICKER_TRUST_FULL);
    picker_free(p);
}

/* A peer left idle while a web seed holds pieces it has marks those
 * pieces; the web seed gives them back and the peer fetches them whole. */
static void
test_trust_whole_awaited(void **state)
{
    (void)state;
    struct picker *p = mk(6, 2 * BS, 5);
    struct picker_block a[8], b[16], c[16];
    void *who[4];
    assert_int_equal(picker_peer_set_trust(p, A, PICKER_TRUST_WHOLE), 0);
    const uint32_t sug[] = {0, 1, 2};
    assert_int_equal(picker_next_blocks(p, A, NULL, sug, 3, a, 6), 6);
    all_of_piece(a, 2, 0);
    /* Piece 0 is whole and being hashed: never awaited. */
    receive_all(p, A, a, 2);
    /* A peer with work to do waits for nothing. */
    assert_int_equal(next(p, B, NULL, b, 16), 6);
    assert_int_equal(next(p, B, NULL, b + 6, 16), 0);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(picker_piece_awaited(p, i), 0);
    /* Idle: everything it could fetch is the web seed's. A peer without
     * piece 1, idle too, marks only what it has. */
    receive_all(p, B, b, 6);
    struct bitfield some;
    const int list[] = {2, 3, 4, 5, -1};
    bf_of(&some, 6, list);
    assert_int_equal(next(p, C, &some, c, 16), 0);
    assert_int_equal(picker_piece_awaited(p, 1), 0);
    assert_int_equal(picker_piece_awaited(p, 2), 1);
    assert_int_equal(next(p, B, NULL, b, 16), 0);
    assert_int_equal(picker_piece_awaited(p, 0), 0);
    assert_int_equal(picker_piece_awaited(p, 1), 1);
    assert_int_equal(picker_piece_awaited(p, 2), 1);
    /* The web seed never marks its own pieces. */
    assert_int_equal(next(p, A, NULL, a, 8), 0);
    /* It gives piece 1 back after sending half of it: the half is thrown
     * away and the peer fetches the piece whole, alone. */
    assert_int_equal(picker_block_received(p, A, 1, 0, BS), 0);
    picker_block_cancelled(p, A, 1, BS);
    assert_int_equal(picker_piece_awaited(p, 1), 0);
    assert_int_equal(next(p, B, NULL, b, 16), 2);
    all_of_piece(b, 2, 1);
    receive_all(p, B, b, 2);
    assert_int_equal(picker_piece_contributors(p, 1, who, 4), 1);
    assert_ptr_equal(who[0], B);
    bitfield_cleanup(&some);
    picker_free(p);
}

static void
test_reject_bars_the_piece(void **state)
{
    (void)state;
    struct picker *p = mk(4, 4 * BS, 9);
    picker_set_sequential(p, 1);
    struct picker_block a[8], b[8];
    assert_int_equal(next(p, A, NULL, a, 4), 4);
    all_of_piece(a, 4, 0);
    assert_int_equal(picker_block_rejected(p, A, 0, 0), 0);
    assert_int_equal(picker_block_rejected(p, A, 0, 0), 0); /* twice: no-op */
    assert_int_equal(picker_block_rejected(p, A, 3, 0), 0); /* never asked */
    assert_int_equal(picker_peer_requests(p, A), 3);
    /* Refilled at once, but not with the piece it refused. */
    int n = next(p, A, NULL, a, 4);
    assert_int_equal(n, 4);
    all_of_piece(a, 4, 1);
    /* Someone else takes the refused block. */
    assert_int_equal(next(p, B, NULL, b, 1), 1);
    assert_int_equal(b[0].piece, 0);
    assert_int_equal(b[0].begin, 0);
    picker_block_cancelled(p, B, 0, 0);
    /* Forgiven, A may be asked for it again. */
    picker_peer_forgive(p, A);
    assert_int_equal(next(p, A, NULL, a, 1), 1);
    assert_int_equal(a[0].piece, 0);
    assert_int_equal(a[0].begin, 0);
    picker_free(p);
}

/* ------------------------------------------------------------------ availability */

static void
test_have_all_counter(void **state)
{
    (void)state;
    struct picker *p = mk(1000, BS, 41);
    for (int i = 0; i < 100; i++)
        picker_peer_have_all(p);
    picker_peer_have(p, 5);
    assert_int_equal(picker_availability(p, 5), 101);
    assert_int_equal(picker_availability(p, 999), 100);
    for (int i = 0; i < 100; i++)
        picker_peer_lost_all(p);
    picker_peer_lost_all(p); /* more than added: stays at zero */
    assert_int_equal(picker_availability(p, 999), 0);
    assert_int_equal(picker_availability(p, 5), 1);
    assert_int_equal(picker_availability(p, 1000), 0);
    /* A non-seed peer only gets pieces somebody reported. */
    struct bitfield has;
    bf_of(&has, 1000, (const int[]){5, 6, -1});
    struct picker_block b[4];
    int n = next(p, A, &has, b, 4);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].piece, 5);
    bitfield_cleanup(&has);
    picker_free(p);
}

static double
ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* 2^21 pieces: resume half, many availability changes, then picks. Linear
 * work is fine; a pick that walked the whole torrent each time would take
 * tens of seconds here, anything quadratic hours. */
static void
test_huge(void **state)
{
    (void)state;
    const uint32_t n = SHOAL_MAX_PIECES;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct picker *p = picker_new(n, BS, (uint64_t)n * BS - 100, 43);
    assert_non_null(p);
    for (uint32_t i = 0; i < n; i += 2)
        picker_set_have(p, i);
    struct bitfield odd, all;
    assert_int_equal(bitfield_init(&odd, n), 0);
    assert_int_equal(bitfield_init(&all, n), 0);
    bitfield_set_all(&all);
    for (uint32_t i = 1; i < n; i += 2)
        bitfield_set(&odd, i);
    picker_peer_bitfield(p, &all);
    picker_peer_have_all(p);
    struct picker_block b[64];
    assert_int_equal(next(p, A, NULL, b, 64), 64);
    picker_peer_bitfield(p, &odd);
    for (int round = 0; round < 200; round++) {
        int k = next(p, B, &odd, b, 64);
        assert_int_equal(k, 64);
        for (int i = 0; i < k; i++) {
            assert_true(b[i].piece & 1);
            assert_int_equal(picker_block_received(p, B, b[i].piece, 0, b[i].length), 1);
            picker_piece_passed(p, b[i].piece);
            picker_peer_have(p, b[i].piece);
        }
    }
    assert_int_equal(picker_have_count(p), n / 2 + 200 * 64);
    /* A peer with just the very last piece (the short one). */
    struct bitfield last;
    assert_int_equal(bitfield_init(&last, n), 0);
    bitfield_set(&last, n - 1);
    assert_int_equal(next(p, C, &last, b, 4), 1);
    assert_int_equal(b[0].piece, n - 1);
    assert_int_equal(b[0].length, BS - 100);
    /* Sequential over the same picker. */
    picker_set_sequential(p, 1);
    assert_int_equal(next(p, D, NULL, b, 8), 8);
    for (int i = 0; i < 8; i++) {
        assert_true(b[i].piece & 1);
        assert_false(picker_have(p, b[i].piece));
        if (i)
            assert_true(b[i - 1].piece < b[i].piece);
    }
    assert_true(b[0].piece < 1000);
    /* Streaming: one high-priority piece in flight must not make every
     * later call walk the whole torrent looking for more of its level. */
    uint32_t hot = b[7].piece + 2;
    assert_int_equal(picker_set_piece_priority(p, hot, PICKER_PRIO_HIGH), 0);
    assert_int_equal(next(p, A, NULL, b, 1), 1);
    assert_int_equal(b[0].piece, hot);
    for (int round = 0; round < 3000; round++) {
        assert_int_equal(next(p, D, NULL, b, 1), 1);
        assert_int_not_equal(b[0].piece, hot);
        assert_int_equal(picker_block_received(p, D, b[0].piece, 0, b[0].length), 1);
        picker_piece_passed(p, b[0].piece);
    }
    picker_peer_lost(p, &odd);
    picker_peer_lost(p, &all);
    double ms = ms_since(&t0);
    print_message("huge picker: %.0f ms\n", ms);
    assert_true(ms < HUGE_BUDGET_MS);
    bitfield_cleanup(&odd);
    bitfield_cleanup(&all);
    bitfield_cleanup(&last);
    picker_free(p);
}

/* ------------------------------------------------------------------ simulation */

/*
 * Several peers download a torrent with random requests, arrivals, cancels,
 * departures and hash failures, checked at every step against a plain model
 * of which blocks are received and which peer has which block outstanding.
 */
enum { SIM_PIECES = 24, SIM_BPP = 3, SIM_PEERS = 5 };

struct sim {
    uint8_t received[SIM_PIECES][SIM_BPP];
    uint8_t out[SIM_PIECES][SIM_BPP][SIM_PEERS]; /* outstanding with peer */
    uint64_t r;
};

static uint32_t
sim_rand(struct sim *m, uint32_t n)
{
    m->r = m->r * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((m->r >> 33) % n);
}

static uint32_t
sim_outstanding(const struct sim *m, int peer)
{
    uint32_t n = 0;
    for (int i = 0; i < SIM_PIECES; i++)
        for (int b = 0; b < SIM_BPP; b++)
            n += m->out[i][b][peer];
    return n;
}

static int
sim_endgame(const struct sim *m, const struct picker *p)
{
    int missing = 0;
    for (int i = 0; i < SIM_PIECES; i++) {
        if (picker_have(p, (uint32_t)i) || picker_piece_priority(p, (uint32_t)i) == 0)
            continue;
        missing = 1;
        for (int b = 0; b < SIM_BPP; b++) {
            int busy = m->received[i][b];
            for (int k = 0; k < SIM_PEERS; k++)
                busy |= m->out[i][b][k];
            if (!busy)
                return 0;
        }
    }
    return missing;
}

static void
test_simulation(void **state)
{
    (void)state;
    static char peers[SIM_PEERS];
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct sim m;
        memset(&m, 0, sizeof(m));
        m.r = seed;
        uint64_t total = (uint64_t)(SIM_PIECES - 1) * SIM_BPP * BS + 2 * BS + 5;
        struct picker *p = picker_new(SIM_PIECES, SIM_BPP * BS, total, seed);
        assert_non_null(p);
        if (seed % 3 == 0)
            picker_set_sequential(p, 1);
        if (seed % 4 == 0)
            assert_int_equal(picker_set_piece_priority(p, 5, PICKER_PRIO_SKIP), 0);
        struct bitfield has[SIM_PEERS];
        for (int k = 0; k < SIM_PEERS; k++) {
            assert_int_equal(bitfield_init(&has[k], SIM_PIECES), 0);
            for (uint32_t i = 0; i < SIM_PIECES; i++)
                if (k == 0 || sim_rand(&m, 3))
                    bitfield_set(&has[k], i);
            picker_peer_bitfield(p, &has[k]);
        }
        int steps = 0;
        while (!picker_is_complete(p)) {
            assert_true(++steps < 20000);
            int k = (int)sim_rand(&m, SIM_PEERS);
            void *key = &peers[k];
            uint32_t op = sim_rand(&m, 10);
            if (op < 4) {
                struct picker_block b[8];
                int eg = picker_in_endgame(p);
                int n = picker_next_blocks(p, key, &has[k], NULL, 0, b,
                                           1 + (int)sim_rand(&m, 8));
                assert_true(n >= 0);
                for (int j = 0; j < n; j++) {
                    uint32_t i = b[j].piece, bi = b[j].begin / BS;
                    assert_true(bitfield_get(&has[k], i));
                    assert_false(picker_have(p, i));
                    assert_int_not_equal(picker_piece_priority(p, i), 0);
                    assert_false(m.received[i][bi]);
                    assert_false(m.out[i][bi][k]);
                    int others = 0;
                    for (int q = 0; q < SIM_PEERS; q++)
                        others += m.out[i][bi][q];
                    /* Duplicates only in endgame, which the call itself
                     * may have started by taking the last free blocks. */
                    if (others)
                        assert_true(eg || picker_in_endgame(p));
                    assert_true(others < 3);
                    m.out[i][bi][k] = 1;
                }
            } else if (op < 8) {
                /* Something outstanding with k arrives, or is cancelled. */
                for (int tries = 0; tries < 50; tries++) {
                    uint32_t i = sim_rand(&m, SIM_PIECES), bi = sim_rand(&m, SIM_BPP);
                    if (!m.out[i][bi][k])
                        continue;
                    uint32_t len = picker_piece_size(p, i) - bi * BS;
                    len = len < BS ? len : BS;
                    if (op == 7) {
                        picker_block_cancelled(p, key, i, bi * BS);
                        m.out[i][bi][k] = 0;
                        break;
                    }
                    int rc = picker_block_received(p, key, i, bi * BS, len);
                    assert_true(rc >= 0);
                    for (int q = 0; q < SIM_PEERS; q++)
                        m.out[i][bi][q] = 0;
                    m.received[i][bi] = 1;
                    int done = 1;
                    for (uint32_t x = 0; x < picker_piece_size(p, i); x += BS)
                        done &= m.received[i][x / BS];
                    assert_int_equal(rc, done);
                    if (done && sim_rand(&m, 5) == 0) {
                        void *who[SIM_PEERS];
                        assert_true(picker_piece_contributors(p, i, who, SIM_PEERS) >= 1);
                        /* Blame and parole have tests of their own; here
                         * the piece is only fetched again. */
                        picker_piece_reset(p, i);
                        memset(m.received[i], 0, sizeof(m.received[i]));
                    } else if (done) {
                        picker_piece_passed(p, i);
                    }
                    break;
                }
            } else if (op == 8 && sim_rand(&m, 4) == 0) {
                /* Files are deselected and selected again mid-download. */
                uint32_t i = sim_rand(&m, SIM_PIECES);
                int prio = sim_rand(&m, 2) ? PICKER_PRIO_SKIP : (int)sim_rand(&m, 7) + 1;
                assert_int_equal(picker_set_piece_priority(p, i, prio), 0);
            } else if (op == 8) {
                picker_peer_gone(p, key);
                for (int i = 0; i < SIM_PIECES; i++)
                    for (int b = 0; b < SIM_BPP; b++)
                        m.out[i][b][k] = 0;
            } else {
                /* A late block nobody has outstanding: taken when it was
                 * asked before and is still missing, else refused. */
                uint32_t i = sim_rand(&m, SIM_PIECES);
                if (!picker_have(p, i) && !m.received[i][0]) {
                    int busy = 0;
                    for (int q = 0; q < SIM_PEERS; q++)
                        busy |= m.out[i][0][q];
                    if (!busy) {
                        int rc = picker_block_received(p, key, i, 0, BS);
                        if (rc >= 0) {
                            m.received[i][0] = 1;
                            if (rc == 1)
                                picker_piece_passed(p, i);
                        } else {
                            assert_int_equal(rc, SHOAL_EINVAL);
                        }
                    }
                }
            }
            for (int q = 0; q < SIM_PEERS; q++)
                assert_int_equal(picker_peer_requests(p, &peers[q]),
                                 sim_outstanding(&m, q));
            assert_int_equal(picker_in_endgame(p), sim_endgame(&m, p));
        }
        for (int k = 0; k < SIM_PEERS; k++) {
            picker_peer_lost(p, &has[k]);
            bitfield_cleanup(&has[k]);
        }
        for (uint32_t i = 0; i < SIM_PIECES; i++)
            assert_int_equal(picker_availability(p, i), 0);
        picker_free(p);
    }
}

/* ------------------------------------------------------------------ pipeline */

/* ------------------------------------------------------------------ trust simulation */

#define TS_PEERS  5
#define TS_PIECES 24
#define TS_MAXOUT 512

/* Random deliveries, rejects, cancels, departures and hash verdicts with
 * peers of every trust level: the download always ends, a peer not fully
 * trusted never holds data in more than one unverified piece, and what a
 * peer on parole is asked for belongs to a piece nobody else is asked for. */
static void
test_trust_simulation(void **state)
{
    (void)state;
    static char keys[TS_PEERS];
    static struct {
        uint32_t piece, begin;
    } out[TS_PEERS][TS_MAXOUT];
    int nout[TS_PEERS];
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct sim m = {.r = seed};
        struct picker *p = mk(TS_PIECES, 4 * BS, seed);
        memset(nout, 0, sizeof(nout));
        for (int k = 0; k < TS_PEERS; k++)
            assert_int_equal(picker_peer_set_trust(p, &keys[k], PICKER_TRUST_NEW), 0);
        int failures = 0, steps = 0;
        while (!picker_is_complete(p)) {
            assert_true(++steps < 200000);
            int k = (int)sim_rand(&m, TS_PEERS);
            void *key = &keys[k];
            /* Drop what the picker took back, as the session does. */
            for (int i = 0; i < nout[k]; i++) {
                void *who[4];
                size_t n =
                    picker_block_requesters(p, out[k][i].piece, out[k][i].begin, who, 4);
                int listed = 0;
                for (size_t j = 0; j < n && j < 4; j++)
                    listed |= who[j] == key;
                if (!listed)
                    out[k][i--] = out[k][--nout[k]];
            }
            uint32_t op = sim_rand(&m, 12);
            if (op < 4) {
                struct picker_block b[16];
                int room = TS_MAXOUT - nout[k];
                int n = next(p, key, NULL, b, room < 16 ? room : 16);
                int parole = picker_peer_trust(p, key) == PICKER_TRUST_PAROLE;
                for (int i = 0; i < n; i++) {
                    out[k][nout[k]].piece = b[i].piece;
                    out[k][nout[k]++].begin = b[i].begin;
                    for (uint32_t x = 0; parole && x < 4; x++) {
                        void *who[4];
                        size_t w = picker_block_requesters(p, b[i].piece, x * BS, who, 4);
                        for (size_t j = 0; j < w && j < 4; j++)
                            assert_ptr_equal(who[j], key);
                    }
                }
            } else if (op < 8 && nout[k]) {
                int i = (int)sim_rand(&m, (uint32_t)nout[k]);
                uint32_t piece = out[k][i].piece, begin = out[k][i].begin;
                out[k][i] = out[k][--nout[k]];
                int rc = picker_block_received(p, key, piece, begin, BS);
                if (rc == 1 && failures < 30 && sim_rand(&m, 4) == 0) {
                    failures++;
                    picker_piece_failed(p, piece);
                } else if (rc == 1) {
                    picker_piece_passed(p, piece);
                }
            } else if (op < 10 && nout[k]) {
                int i = (int)sim_rand(&m, (uint32_t)nout[k]);
                if (op == 8)
                    picker_block_rejected(p, key, out[k][i].piece, out[k][i].begin);
                else
                    picker_block_cancelled(p, key, out[k][i].piece, out[k][i].begin);
                out[k][i] = out[k][--nout[k]];
            } else if (op == 10 && sim_rand(&m, 20) == 0) {
                /* It leaves and comes back, new. */
                picker_peer_gone(p, key);
                nout[k] = 0;
                assert_int_equal(picker_peer_set_trust(p, key, PICKER_TRUST_NEW), 0);
            } else if (op == 11 && sim_rand(&m, 10) == 0) {
                for (int q = 0; q < TS_PEERS; q++)
                    picker_peer_forgive(p, &keys[q]);
            }
            for (int q = 0; q < TS_PEERS; q++)
                if (picker_peer_trust(p, &keys[q]) != PICKER_TRUST_FULL)
                    assert_true(picker_peer_unverified(p, &keys[q]) <= 1);
        }
        picker_free(p);
    }
}

static void
test_pipeline_depth(void **state)
{
    (void)state;
    static const struct {
        uint64_t rate;
        uint32_t rtt;
        int depth;
    } cases[] = {
        {0, 0, PICKER_PIPELINE_MIN},
        {0, 100000, PICKER_PIPELINE_MIN},
        {16384, 0, PICKER_PIPELINE_MIN},
        {100 * 1024, 0, 7},     /* 100 KiB/s over 1 s */
        {100 * 1024, 1000, 13}, /* over 2 s */
        {1024 * 1024, 50, 68},  /* 1 MiB/s, 50 ms: 1.05 MiB */
        {10 * 1024 * 1024, 200, 768},
        {1000000000ull, 1, PICKER_PIPELINE_MAX},
        {UINT64_MAX, UINT32_MAX, PICKER_PIPELINE_MAX},
        {32 * 1024 * 1024, 0, PICKER_PIPELINE_MAX},
        {16384 * 1999ull, 0, 1999},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(picker_pipeline_depth(cases[i].rate, cases[i].rtt),
                         cases[i].depth);
}

/* ------------------------------------------------------------------ allocation */

/* Three peers are asked for 40 blocks each of a 40-piece torrent (four
 * blocks a piece) and send them, then one leaves. Returns 0, or SHOAL_ENOMEM
 * when a step ran out of memory; *passed is the number of pieces that
 * passed. Out of memory part way, a pick may also come back short (see
 * picker_next_blocks), so fewer pieces pass without an error. */
static int
scenario(uint32_t *passed)
{
    int rc = 0;
    *passed = 0;
    struct picker *p = picker_new(40, 4 * BS, 40 * 4 * BS, 47);
    if (!p)
        return SHOAL_ENOMEM;
    struct picker_block b[64];
    for (int peer = 0; peer < 3; peer++) {
        void *key = peer == 0 ? A : peer == 1 ? B : C;
        int n = picker_next_blocks(p, key, NULL, NULL, 0, b, 40);
        if (n < 0) {
            assert_int_equal(n, SHOAL_ENOMEM);
            rc = n;
            continue;
        }
        for (int i = 0; i < n; i++) {
            int r = picker_block_received(p, key, b[i].piece, b[i].begin, b[i].length);
            assert_true(r == 0 || r == 1 || r == SHOAL_ENOMEM);
            if (r == SHOAL_ENOMEM)
                rc = r;
            if (r == 1)
                picker_piece_passed(p, b[i].piece);
        }
    }
    *passed = picker_have_count(p);
    picker_peer_gone(p, A);
    picker_free(p);
    return rc;
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    uint32_t passed;
    /* Without an injected failure every step succeeds and all 120 blocks
     * make 30 pieces; count the allocations that takes. */
    alloc_fail_after(-1);
    assert_int_equal(scenario(&passed), 0);
    assert_int_equal(passed, 30);
    long total = alloc_fail_after(-1);
    assert_true(total > 0);
    /* Fail each of those allocations in turn: never a crash, a leak (ASan)
     * or an error other than SHOAL_ENOMEM, and the failures are seen. */
    int reported = 0;
    for (long n = 0; n < total; n++) {
        alloc_fail_after(n);
        int rc = scenario(&passed);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        assert_true(passed <= 30);
        reported += rc == SHOAL_ENOMEM;
    }
    assert_true(reported > 0);
    /* With the injection off again, it succeeds in full again. */
    assert_int_equal(scenario(&passed), 0);
    assert_int_equal(passed, 30);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_block_sizes),
        cmocka_unit_test(test_rarest_first),
        cmocka_unit_test(test_common_pieces),
        cmocka_unit_test(test_order_stays_consistent),
        cmocka_unit_test(test_tie_break_is_seeded),
        cmocka_unit_test(test_sparse_peer),
        cmocka_unit_test(test_partial_first),
        cmocka_unit_test(test_suggested),
        cmocka_unit_test(test_peer_piece_limit),
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_range_priority),
        cmocka_unit_test(test_endgame),
        cmocka_unit_test(test_cancel_and_gone),
        cmocka_unit_test(test_received_errors),
        cmocka_unit_test(test_piece_failed),
        cmocka_unit_test(test_have_all_counter),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_trust_new_holds_one_piece),
        cmocka_unit_test(test_parole_after_mixed_failure),
        cmocka_unit_test(test_parole_cancel_and_gone),
        cmocka_unit_test(test_trust_whole),
        cmocka_unit_test(test_trust_whole_awaited),
        cmocka_unit_test(test_reject_bars_the_piece),
        cmocka_unit_test(test_simulation),
        cmocka_unit_test(test_trust_simulation),
        cmocka_unit_test(test_pipeline_depth),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
