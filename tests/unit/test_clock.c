/*
 * test_clock.c — the monotonic clock never goes back, its two resolutions
 * agree, and a deadline lies the asked time ahead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/util.h"
#include "shoal.h"

static void
test_non_decreasing(void **state)
{
    (void)state;
    uint64_t ms = clock_now_ms(), ns = clock_now_ns(), pub = shoal_now_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t ms2 = clock_now_ms(), ns2 = clock_now_ns(), pub2 = shoal_now_ns();
        assert_true(ms2 >= ms);
        assert_true(ns2 >= ns);
        assert_true(pub2 >= pub && pub2 >= ns2);
        ms = ms2;
        ns = ns2;
        pub = pub2;
    }
}

static void
test_advances(void **state)
{
    (void)state;
    uint64_t ms = clock_now_ms(), ns = clock_now_ns();
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_true(clock_now_ns() - ns >= 20u * 1000 * 1000);
    assert_true(clock_now_ms() - ms >= 19);
    /* Milliseconds are nanoseconds divided down, read a moment apart. */
    uint64_t a = clock_now_ns() / 1000000, b = clock_now_ms();
    assert_true(b >= a && b - a <= 1000);
}

struct deadline_case {
    uint64_t ns;
};

static const struct deadline_case deadlines[] = {
    {0}, {1}, {999999999}, {1000000000}, {2500000000u}};

static void
test_deadline(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(deadlines); i++) {
        uint64_t before = clock_now_ns();
        struct timespec ts = clock_deadline_ns(deadlines[i].ns);
        uint64_t after = clock_now_ns();
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        uint64_t at = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        assert_true(at >= before + deadlines[i].ns);
        assert_true(at <= after + deadlines[i].ns);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_decreasing),
        cmocka_unit_test(test_advances),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
