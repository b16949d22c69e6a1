/*
 * test_bitfield.c — piece sets: set/clear/get keep the count exact, the bytes
 * are BEP 3 wire order (piece 0 is the high bit of byte 0), wire input with
 * spare bits set or the wrong length is refused, and the next-set/next-clear
 * scans agree with a bit-by-bit scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/bitfield.h"
#include "shoal.h"

static void
test_set_clear_count(void **state)
{
    (void)state;
    struct bitfield bf;
    assert_int_equal(bitfield_init(&bf, 20), 0);
    assert_int_equal(bitfield_count(&bf), 0);
    bitfield_set(&bf, 0);
    bitfield_set(&bf, 0); /* twice: counted once */
    bitfield_set(&bf, 7);
    bitfield_set(&bf, 8);
    bitfield_set(&bf, 19);
    bitfield_set(&bf, 20); /* out of range: ignored */
    assert_int_equal(bitfield_count(&bf), 4);
    assert_true(bitfield_get(&bf, 0));
    assert_true(bitfield_get(&bf, 19));
    assert_false(bitfield_get(&bf, 1));
    assert_false(bitfield_get(&bf, 20));
    assert_int_equal(bf.bits[0], 0x81);
    assert_int_equal(bf.bits[1], 0x80);
    assert_int_equal(bf.bits[2], 0x10);
    bitfield_clear(&bf, 7);
    bitfield_clear(&bf, 7);
    bitfield_clear(&bf, 3);
    assert_int_equal(bitfield_count(&bf), 3);
    assert_int_equal(bf.bits[0], 0x80);
    assert_false(bitfield_is_full(&bf));
    bitfield_cleanup(&bf);
}

static void
test_set_all_keeps_spare_bits_clear(void **state)
{
    (void)state;
    static const struct {
        uint32_t nbits;
        uint8_t last;
    } cases[] = {{1, 0x80}, {7, 0xfe}, {8, 0xff}, {9, 0x80}, {15, 0xfe}, {16, 0xff}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bitfield bf;
        assert_int_equal(bitfield_init(&bf, cases[i].nbits), 0);
        bitfield_set_all(&bf);
        assert_true(bitfield_is_full(&bf));
        assert_int_equal(bitfield_count(&bf), cases[i].nbits);
        assert_int_equal(bf.bits[BITFIELD_BYTES(cases[i].nbits) - 1], cases[i].last);
        bitfield_clear_all(&bf);
        assert_int_equal(bitfield_count(&bf), 0);
        bitfield_cleanup(&bf);
    }
}

static void
test_zero_bits(void **state)
{
    (void)state;
    struct bitfield bf;
    assert_int_equal(bitfield_init(&bf, 0), 0);
    assert_true(bitfield_is_full(&bf));
    bitfield_set_all(&bf);
    assert_int_equal(bitfield_count(&bf), 0);
    assert_int_equal(bitfield_from_bytes(&bf, NULL, 0), 0);
    assert_int_equal(bitfield_next_set(&bf, 0), 0);
    bitfield_cleanup(&bf);
    bitfield_cleanup(&bf); /* twice is harmless */
}

static void
test_from_bytes(void **state)
{
    (void)state;
    static const struct {
        uint32_t nbits;
        uint8_t bytes[3];
        size_t len;
        int rc;
        uint32_t count;
    } cases[] = {
        {10, {0xff, 0xc0}, 2, 0, 10},
        {10, {0xff, 0xe0}, 2, SHOAL_EPARSE, 0},    /* spare bit 10 set */
        {10, {0x00, 0x01}, 2, SHOAL_EPARSE, 0},    /* last spare bit set */
        {10, {0xff}, 1, SHOAL_EPARSE, 0},          /* too short */
        {10, {0xff, 0xc0, 0}, 3, SHOAL_EPARSE, 0}, /* too long */
        {16, {0xa5, 0x5a}, 2, 0, 8},
        {3, {0xa0}, 1, 0, 2},
        {3, {0x10}, 1, SHOAL_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bitfield bf;
        assert_int_equal(bitfield_init(&bf, cases[i].nbits), 0);
        bitfield_set(&bf, 1);
        int rc = bitfield_from_bytes(&bf, cases[i].bytes, cases[i].len);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(bitfield_count(&bf), cases[i].count);
            assert_memory_equal(bf.bits, cases[i].bytes, cases[i].len);
        } else {
            /* Unchanged on failure. */
            assert_int_equal(bitfield_count(&bf), 1);
            assert_true(bitfield_get(&bf, 1));
        }
        bitfield_cleanup(&bf);
    }
    /* Wire order: piece 0 is the most significant bit. */
    struct bitfield bf;
    assert_int_equal(bitfield_init(&bf, 8), 0);
    uint8_t one = 0x80;
    assert_int_equal(bitfield_from_bytes(&bf, &one, 1), 0);
    assert_true(bitfield_get(&bf, 0));
    assert_false(bitfield_get(&bf, 7));
    bitfield_cleanup(&bf);
}

static void
test_copy(void **state)
{
    (void)state;
    struct bitfield a, b;
    assert_int_equal(bitfield_init(&a, 100), 0);
    bitfield_set(&a, 3);
    bitfield_set(&a, 99);
    assert_int_equal(bitfield_copy(&b, &a), 0);
    assert_int_equal(b.nbits, 100);
    assert_int_equal(bitfield_count(&b), 2);
    assert_true(bitfield_get(&b, 99));
    bitfield_set(&b, 4);
    assert_false(bitfield_get(&a, 4));
    bitfield_cleanup(&a);
    bitfield_cleanup(&b);
}

static uint32_t
slow_next(const struct bitfield *bf, uint32_t from, int want)
{
    for (uint32_t i = from; i < bf->nbits; i++)
        if (bitfield_get(bf, i) == want)
            return i;
    return bf->nbits;
}

static void
test_next_scans(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 7, 8, 9, 63, 64, 65, 200, 1000, 4099};
    uint64_t rng = 12345;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int density = 0; density < 4; density++) {
            struct bitfield bf;
            assert_int_equal(bitfield_init(&bf, sizes[s]), 0);
            for (uint32_t i = 0; i < sizes[s]; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                int on = density == 0   ? 0
                         : density == 3 ? 1
                         : density == 1 ? (rng >> 60) == 0
                                        : (rng >> 60) != 0;
                if (on)
                    bitfield_set(&bf, i);
            }
            for (uint32_t from = 0; from <= sizes[s] + 1; from++) {
                assert_int_equal(bitfield_next_set(&bf, from), slow_next(&bf, from, 1));
                assert_int_equal(bitfield_next_clear(&bf, from), slow_next(&bf, from, 0));
            }
            bitfield_cleanup(&bf);
        }
    }
}

static void
test_alloc_failure(void **state)
{
    (void)state;
    struct bitfield bf;
    alloc_fail_after(0);
    int rc = bitfield_init(&bf, 64);
    alloc_fail_after(-1);
    assert_int_equal(rc, SHOAL_ENOMEM);
    bitfield_cleanup(&bf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_clear_count),
        cmocka_unit_test(test_set_all_keeps_spare_bits_clear),
        cmocka_unit_test(test_zero_bits),
        cmocka_unit_test(test_from_bytes),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_next_scans),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
