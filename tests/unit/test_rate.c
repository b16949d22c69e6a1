/*
 * test_rate.c — the per-second rate meter (base/rate.c) that peers and
 * torrents use: whole seconds only, idle seconds count as zero, and a long
 * pause clears the window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rate.h"

static void
test_steady(void **state)
{
    (void)state;
    struct rate r;
    memset(&r, 0, sizeof(r));
    /* 1000 bytes every 100 ms for 10 s: 10000 bytes/s. */
    for (uint64_t ms = 100000; ms < 110000; ms += 100)
        rate_add(&r, ms, 1000);
    assert_int_equal(rate_get(&r, 110000), 10000);
}

static void
test_current_second_ignored(void **state)
{
    (void)state;
    struct rate r;
    memset(&r, 0, sizeof(r));
    rate_add(&r, 50500, 123456);
    /* Still inside second 50: nothing complete yet. */
    assert_int_equal(rate_get(&r, 50900), 0);
    /* One second later it counts, averaged over the window. */
    assert_int_equal(rate_get(&r, 51000), 123456 / (RATE_WINDOW - 1));
}

static void
test_idle_decays(void **state)
{
    (void)state;
    struct rate r;
    memset(&r, 0, sizeof(r));
    for (uint64_t s = 10; s < 20; s++)
        rate_add(&r, s * 1000, 4000);
    assert_int_equal(rate_get(&r, 20000), 4000);
    /* After a window of silence the rate is zero... */
    assert_int_equal(rate_get(&r, 20000 + RATE_WINDOW * 1000), 0);
    /* ...and stale buckets do not come back when traffic resumes. */
    rate_add(&r, 100000, 8000);
    assert_int_equal(rate_get(&r, 101000), 8000 / (RATE_WINDOW - 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady),
        cmocka_unit_test(test_current_second_ignored),
        cmocka_unit_test(test_idle_decays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
