/*
 * test_loglimit.c — the repeated-line limiter (base/loglimit.c): the first
 * line goes out, repeats within the interval are counted and held, the next
 * line says how many were held, a flush reports a tail of held lines once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/loglimit.h"

/* One step of a scripted run: a hit or a flush at ms, and what it must say. */
struct step {
    int flush;     /* 0: loglimit_hit, 1: loglimit_flush */
    uint64_t ms;   /* when */
    int out;       /* expected return */
    uint64_t held; /* expected *held */
};

static void
run(const struct step *s, size_t n, uint64_t interval)
{
    struct loglimit l;
    loglimit_init(&l, interval);
    for (size_t i = 0; i < n; i++) {
        uint64_t held = 999;
        int out = s[i].flush ? loglimit_flush(&l, s[i].ms, &held)
                             : loglimit_hit(&l, s[i].ms, &held);
        assert_int_equal(out, s[i].out);
        assert_int_equal(held, s[i].held);
    }
}

static void
test_first_line_goes_out(void **state)
{
    (void)state;
    /* At time 0 too: a fresh limiter has no "last line" to wait for. */
    static const struct step s[] = {{0, 0, 1, 0}, {0, 1, 0, 0}};
    run(s, sizeof(s) / sizeof(s[0]), 10000);
}

static void
test_repeats_counted(void **state)
{
    (void)state;
    static const struct step s[] = {
        {0, 5000, 1, 0},  {0, 5001, 0, 0},  {0, 9000, 0, 0},  {0, 14999, 0, 0},
        {0, 15000, 1, 3}, {0, 15001, 0, 0}, {0, 40000, 1, 1}, {0, 50000, 1, 0},
    };
    run(s, sizeof(s) / sizeof(s[0]), 10000);
}

static void
test_flush_reports_tail_once(void **state)
{
    (void)state;
    static const struct step s[] = {
        {0, 1000, 1, 0},
        {0, 1100, 0, 0},
        {0, 1200, 0, 0},
        /* Too early: the interval has not passed. */
        {1, 5000, 0, 0},
        {1, 11000, 1, 2},
        /* Nothing held any more. */
        {1, 30000, 0, 0},
        /* A flush counts as a line: the next hit waits for its interval. */
        {0, 30001, 1, 0},
    };
    run(s, sizeof(s) / sizeof(s[0]), 10000);
}

static void
test_flush_of_fresh_limiter(void **state)
{
    (void)state;
    static const struct step s[] = {{1, 0, 0, 0}, {1, 123456, 0, 0}, {0, 123457, 1, 0}};
    run(s, sizeof(s) / sizeof(s[0]), 1000);
}

static void
test_storm_costs_one_line_per_interval(void **state)
{
    (void)state;
    /* A million hits over 60 s, one every 60 us: 6 lines, and the held
     * counts add up to every hit. */
    struct loglimit l;
    loglimit_init(&l, 10000);
    uint64_t lines = 0, total = 0, held;
    for (uint64_t i = 0; i < 1000000; i++) {
        if (loglimit_hit(&l, i * 60 / 1000, &held)) {
            lines++;
            total += 1 + held;
        }
    }
    if (loglimit_flush(&l, 1000000, &held))
        total += held;
    assert_int_equal(lines, 6);
    assert_int_equal(total, 1000000);
}

static void
test_clock_going_back(void **state)
{
    (void)state;
    /* A clock that jumps back must not silence the line for good. */
    static const struct step s[] = {{0, 100000, 1, 0}, {0, 100001, 0, 0}, {0, 50, 1, 1}};
    run(s, sizeof(s) / sizeof(s[0]), 10000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_goes_out),
        cmocka_unit_test(test_repeats_counted),
        cmocka_unit_test(test_flush_reports_tail_once),
        cmocka_unit_test(test_flush_of_fresh_limiter),
        cmocka_unit_test(test_storm_costs_one_line_per_interval),
        cmocka_unit_test(test_clock_going_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
