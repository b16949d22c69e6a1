/*
 * test_meta_fetch.c — assembling metadata from peers (engine/meta_fetch.c):
 * pieces spread over several peers and taken out of order, a reject or a
 * timeout sending the piece to another peer, metadata that fails its hash
 * check excluding its senders, peers lying about the size, and peers that
 * leave with requests outstanding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/sha.h"
#include "engine/meta_fetch.h"
#include "shoal.h"

/* Metadata of 40000 bytes: three pieces (16384, 16384, 7232). */
#define SIZE 40000u

static uint8_t meta[SIZE];
static uint8_t ih[20];
static int pa, pb, pc, pd; /* peer keys */

static int
setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < SIZE; i++)
        meta[i] = (uint8_t)(i * 7 + 3);
    sha1(meta, SIZE, ih);
    return 0;
}

/* Answers piece i for key from the true metadata (or a spoiled copy). */
static int
answer(struct meta_fetch *mf, void *key, uint32_t i, int spoil, uint64_t now)
{
    static uint8_t piece[UT_METADATA_PIECE];
    uint32_t len = ut_metadata_piece_len(SIZE, i);
    memcpy(piece, meta + (size_t)i * UT_METADATA_PIECE, len);
    if (spoil)
        piece[0] ^= 0xff;
    return meta_fetch_data(mf, key, i, SIZE, piece, len, now);
}

static void
test_spread_out_of_order(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    assert_int_equal(meta_fetch_add_peer(mf, &pa, SIZE), 0);
    assert_int_equal(meta_fetch_add_peer(mf, &pb, SIZE), 0);
    assert_int_equal(meta_fetch_peer_count(mf), 2);
    uint32_t a1, a2, b1, x;
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &a1), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &b1), 1);
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &a2), 1);
    /* Three different pieces, on two peers; nothing is left to ask. */
    assert_true(a1 != b1 && a1 != a2 && b1 != a2);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &x), 0);
    assert_int_equal(meta_fetch_size(mf), SIZE);
    assert_int_equal(answer(mf, &pa, a2, 0, 1), META_FETCH_TAKEN);
    assert_int_equal(answer(mf, &pb, b1, 0, 1), META_FETCH_TAKEN);
    /* A piece asked of another peer is not taken from this one. */
    assert_int_equal(answer(mf, &pb, a1, 0, 1), SHOAL_EINVAL);
    size_t len;
    assert_null(meta_fetch_result(mf, &len));
    assert_int_equal(answer(mf, &pa, a1, 0, 2), META_FETCH_DONE);
    const uint8_t *r = meta_fetch_result(mf, &len);
    assert_non_null(r);
    assert_int_equal(len, SIZE);
    assert_memory_equal(r, meta, SIZE);
    assert_int_equal(meta_fetch_next(mf, &pa, 3, &x), 0);
    meta_fetch_free(mf);
}

static void
test_bad_hash_excludes(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pa, SIZE); /* the liar */
    uint32_t p[3];
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &p[0]), 1);
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &p[1]), 1);
    assert_int_equal(answer(mf, &pa, p[0], 1, 1), META_FETCH_TAKEN);
    assert_int_equal(meta_fetch_next(mf, &pa, 1, &p[2]), 1);
    assert_int_equal(answer(mf, &pa, p[1], 0, 1), META_FETCH_TAKEN);
    assert_int_equal(answer(mf, &pa, p[2], 0, 1), META_FETCH_BAD_HASH);
    assert_true(meta_fetch_is_excluded(mf, &pa));
    assert_int_equal(meta_fetch_peer_count(mf), 0);
    assert_int_equal(meta_fetch_size(mf), 0); /* the buffer is gone */
    uint32_t x;
    assert_int_equal(meta_fetch_next(mf, &pa, 2, &x), 0);
    assert_int_equal(meta_fetch_add_peer(mf, &pa, SIZE), SHOAL_EBANNED);
    /* An honest peer completes it. */
    meta_fetch_add_peer(mf, &pb, SIZE);
    int done = 0;
    for (int round = 0; round < 10 && !done; round++) {
        uint32_t i;
        while (meta_fetch_next(mf, &pb, 3, &i) == 1) {
            int v = answer(mf, &pb, i, 0, 3);
            assert_true(v == META_FETCH_TAKEN || v == META_FETCH_DONE);
            done |= v == META_FETCH_DONE;
        }
    }
    assert_true(done);
    assert_false(meta_fetch_is_excluded(mf, &pb));
    meta_fetch_free(mf);
}

static void
test_reject_and_timeout(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pa, SIZE);
    uint32_t i, j, k;
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 1);
    meta_fetch_reject(mf, &pa, i, 10);
    /* The rejecting peer waits; another one gets that piece. */
    assert_int_equal(meta_fetch_next(mf, &pa, 20, &j), 0);
    meta_fetch_add_peer(mf, &pb, SIZE);
    assert_int_equal(meta_fetch_next(mf, &pb, 20, &j), 1);
    assert_int_equal(j, i);
    /* b never answers: after the timeout the piece goes to c. */
    assert_int_equal(meta_fetch_next(mf, &pb, 20, &k), 1);
    meta_fetch_add_peer(mf, &pc, SIZE);
    assert_int_equal(meta_fetch_next(mf, &pc, 5000, &k), 1); /* the third piece */
    uint32_t none;
    assert_int_equal(meta_fetch_next(mf, &pc, 5001, &none), 0);
    meta_fetch_tick(mf, 20 + META_FETCH_TIMEOUT_MS);
    uint32_t again;
    assert_int_equal(meta_fetch_next(mf, &pc, 20 + META_FETCH_TIMEOUT_MS, &again), 1);
    assert_true(again == i || again != k);
    /* b's late answer for a piece now asked of c is ignored. */
    assert_int_equal(answer(mf, &pb, again, 0, 30000), SHOAL_EINVAL);
    meta_fetch_free(mf);
}

static void
test_size_lies(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    /* Nothing is allocated by a claim past the cap. */
    assert_int_equal(meta_fetch_add_peer(mf, &pd, UT_METADATA_MAX_SIZE + 1),
                     SHOAL_EINVAL);
    assert_int_equal(meta_fetch_add_peer(mf, &pd, 0), SHOAL_EINVAL);
    assert_int_equal(meta_fetch_size(mf), 0);
    /* One liar claims a bigger size; two honest peers outvote it. */
    meta_fetch_add_peer(mf, &pd, 5u * 1024 * 1024);
    meta_fetch_add_peer(mf, &pa, SIZE);
    meta_fetch_add_peer(mf, &pb, SIZE);
    uint32_t i;
    assert_int_equal(meta_fetch_next(mf, &pd, 0, &i), 0);
    assert_int_equal(meta_fetch_size(mf), SIZE);
    /* Data for another size is not taken. */
    uint8_t junk[UT_METADATA_PIECE] = {0};
    assert_int_equal(meta_fetch_data(mf, &pd, 0, 5u * 1024 * 1024, junk, sizeof(junk), 0),
                     SHOAL_EINVAL);
    int done = 0;
    for (int round = 0; round < 10 && !done; round++) {
        void *keys[2] = {&pa, &pb};
        for (int k = 0; k < 2 && !done; k++)
            while (!done && meta_fetch_next(mf, keys[k], 1, &i) == 1)
                done = answer(mf, keys[k], i, 0, 1) == META_FETCH_DONE;
    }
    assert_true(done);
    meta_fetch_free(mf);

    /* The liar is first and alone at first: its size is fetched, fails,
     * and it is excluded; then the honest size is fetched. */
    mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pd, SIZE + 100);
    uint32_t p;
    assert_int_equal(meta_fetch_next(mf, &pd, 0, &p), 1);
    meta_fetch_add_peer(mf, &pa, SIZE);
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 0); /* another size */
    uint8_t lie[UT_METADATA_PIECE];
    memset(lie, 1, sizeof(lie));
    int v = META_FETCH_TAKEN;
    for (int n = 0; n < 10 && v == META_FETCH_TAKEN; n++) {
        v = meta_fetch_data(mf, &pd, p, SIZE + 100, lie,
                            ut_metadata_piece_len(SIZE + 100, p), 0);
        if (v == META_FETCH_TAKEN)
            assert_int_equal(meta_fetch_next(mf, &pd, 0, &p), 1);
    }
    assert_int_equal(v, META_FETCH_BAD_HASH);
    assert_true(meta_fetch_is_excluded(mf, &pd));
    assert_int_equal(meta_fetch_next(mf, &pa, 1, &i), 1);
    assert_int_equal(meta_fetch_size(mf), SIZE);
    meta_fetch_free(mf);
}

static void
test_peer_leaves(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pa, SIZE);
    meta_fetch_add_peer(mf, &pb, SIZE);
    uint32_t i, j;
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 1);
    assert_int_equal(answer(mf, &pa, i, 0, 0), META_FETCH_TAKEN);
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 1);
    /* a leaves with a request outstanding: b gets that piece at once. */
    meta_fetch_remove_peer(mf, &pa);
    assert_int_equal(meta_fetch_peer_count(mf), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &j), 1);
    assert_int_equal(j, i);
    /* Every supporter of the size gone: the next size is chosen afresh. */
    meta_fetch_remove_peer(mf, &pb);
    meta_fetch_add_peer(mf, &pc, SIZE);
    int done = 0;
    for (int round = 0; round < 10 && !done; round++)
        while (!done && meta_fetch_next(mf, &pc, 1, &i) == 1)
            done = answer(mf, &pc, i, 0, 1) == META_FETCH_DONE;
    assert_true(done);
    meta_fetch_free(mf);
}

/* Fetches the rest of the copy from key alone; returns the last verdict. */
static int
finish_from(struct meta_fetch *mf, void *key, int spoil)
{
    int v = META_FETCH_TAKEN;
    uint32_t i;
    for (int n = 0; n < 20 && v == META_FETCH_TAKEN; n++) {
        if (meta_fetch_next(mf, key, 100, &i) != 1)
            return -1;
        v = answer(mf, key, i, spoil, 100);
    }
    return v;
}

static void
test_mixed_failure(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pa, SIZE); /* the liar */
    meta_fetch_add_peer(mf, &pb, SIZE);
    uint32_t i, j, k;
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &j), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &k), 1);
    assert_int_equal(answer(mf, &pb, j, 0, 1), META_FETCH_TAKEN);
    assert_int_equal(answer(mf, &pb, k, 0, 1), META_FETCH_TAKEN);
    assert_int_equal(answer(mf, &pa, i, 1, 1), META_FETCH_BAD_HASH);
    /* Either may have lied: neither is excluded yet, both are suspects. */
    assert_false(meta_fetch_is_excluded(mf, &pa));
    assert_false(meta_fetch_is_excluded(mf, &pb));
    /* A new peer is asked, the suspects are not. */
    meta_fetch_add_peer(mf, &pc, SIZE);
    assert_int_equal(meta_fetch_next(mf, &pa, 2, &i), 0);
    assert_int_equal(meta_fetch_next(mf, &pb, 2, &i), 0);
    assert_int_equal(meta_fetch_next(mf, &pc, 2, &i), 1);
    /* It leaves at once: the suspects are tried one at a time, the liar
     * first; its own copy fails and it is excluded; then b alone. */
    meta_fetch_remove_peer(mf, &pc);
    assert_int_equal(finish_from(mf, &pa, 1), META_FETCH_BAD_HASH);
    assert_true(meta_fetch_is_excluded(mf, &pa));
    assert_int_equal(meta_fetch_next(mf, &pa, 3, &i), 0);
    assert_int_equal(finish_from(mf, &pb, 0), META_FETCH_DONE);
    meta_fetch_free(mf);
}

/* A peer sends a spoiled piece and leaves before the check: the one left,
 * which sent the rest, may be honest. It is not excluded, and its own
 * copy then verifies. */
static void
test_departed_liar(void **state)
{
    (void)state;
    struct meta_fetch *mf = meta_fetch_new(ih);
    meta_fetch_add_peer(mf, &pa, SIZE); /* the liar */
    meta_fetch_add_peer(mf, &pb, SIZE);
    uint32_t i, j, k;
    assert_int_equal(meta_fetch_next(mf, &pa, 0, &i), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &j), 1);
    assert_int_equal(meta_fetch_next(mf, &pb, 0, &k), 1);
    assert_int_equal(answer(mf, &pa, i, 1, 1), META_FETCH_TAKEN);
    meta_fetch_remove_peer(mf, &pa);
    assert_int_equal(answer(mf, &pb, j, 0, 1), META_FETCH_TAKEN);
    assert_int_equal(answer(mf, &pb, k, 0, 1), META_FETCH_BAD_HASH);
    assert_false(meta_fetch_is_excluded(mf, &pb));
    assert_int_equal(finish_from(mf, &pb, 0), META_FETCH_DONE);
    meta_fetch_free(mf);
}

static void
test_table_cap(void **state)
{
    (void)state;
    static int keys[META_FETCH_MAX_PEERS + 1];
    struct meta_fetch *mf = meta_fetch_new(ih);
    for (int i = 0; i < META_FETCH_MAX_PEERS; i++)
        assert_int_equal(meta_fetch_add_peer(mf, &keys[i], SIZE), 0);
    assert_int_equal(meta_fetch_add_peer(mf, &keys[META_FETCH_MAX_PEERS], SIZE),
                     SHOAL_ETOOBIG);
    meta_fetch_free(mf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spread_out_of_order),
        cmocka_unit_test(test_bad_hash_excludes),
        cmocka_unit_test(test_reject_and_timeout),
        cmocka_unit_test(test_size_lies),
        cmocka_unit_test(test_peer_leaves),
        cmocka_unit_test(test_table_cap),
        cmocka_unit_test(test_mixed_failure),
        cmocka_unit_test(test_departed_liar),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
