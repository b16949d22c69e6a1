/*
 * test_rng.c — the splitmix64 step gives the reference outputs (Vigna's
 * splitmix64.c, also the seeds shoal's modules start from), and rng_bytes
 * fills exactly the bytes asked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "base/util.h"

struct step_case {
    uint64_t seed;
    uint64_t out[3]; /* the first three outputs */
};

static const struct step_case steps[] = {
    {0, {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full}},
    {1234567, {0x599ed017fb08fc85ull, 0x2c73f08458540fa5ull, 0x883ebce5a3f27c77ull}},
    {UINT64_MAX, {0xe4d971771b652c20ull, 0xe99ff867dbf682c9ull, 0x382ff84cb27281e9ull}},
};

static void
test_next_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        uint64_t s = steps[i].seed;
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(rng_next(&s), steps[i].out[k]);
        /* The state moves by the golden-ratio increment, one step a call. */
        assert_int_equal(s, steps[i].seed + 3 * 0x9e3779b97f4a7c15ull);
    }
}

static void
test_bytes_lengths(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 7, 8, 20, 32, 4096, 300000};
    static uint8_t buf[300000 + 16];
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        /* Guard bytes past the end must stay as they were. */
        memset(buf, 0xa5, sizeof(buf));
        assert_int_equal(rng_bytes(buf, lens[i]), 0);
        for (size_t k = lens[i]; k < lens[i] + 16; k++)
            assert_int_equal(buf[k], 0xa5);
        /* 32 bytes or more are all 0xa5 with odds of 2^-256. */
        if (lens[i] >= 32) {
            size_t same = 0;
            for (size_t k = 0; k < lens[i]; k++)
                same += buf[k] == 0xa5;
            assert_true(same < lens[i]);
        }
    }
}

static void
test_bytes_differ(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(rng_bytes(a, sizeof(a)), 0);
    assert_int_equal(rng_bytes(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_vectors),
        cmocka_unit_test(test_bytes_lengths),
        cmocka_unit_test(test_bytes_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
