/*
 * test_cliutil.c — how the command line reads sizes and rates (binary
 * units, decimals), durations, plain numbers and flags (cli/cliutil.c,
 * compiled in here: the CLI is not part of libshoal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/cliutil.c"

static void
test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"1048576", 0, 1048576},
        {"512K", 0, 512 * 1024},
        {"500k", 0, 500 * 1024},
        {"4M", 0, 4 << 20},
        {"1.5M", 0, 3 << 19},
        {"1.5MiB", 0, 3 << 19},
        {"2MiB/s", 0, 2 << 20},
        {"10M/s", 0, 10 << 20},
        {"0.5K", 0, 512},
        {"1.25G", 0, 5ull << 28},
        {"2T", 0, 2ull << 40},
        {"100B", 0, 100},
        {"100B/s", 0, 100},
        {"1.5", -1, 0}, /* a fraction of a byte */
        {"", -1, 0},
        {"M", -1, 0},
        {".5M", -1, 0},
        {"1.M", -1, 0},
        {"1.5Q", -1, 0},
        {"fast", -1, 0},
        {"-1", -1, 0},
        {"1 M", -1, 0},
        {"99999999999999999999", -1, 0},
        {"17179869184G", -1, 0}, /* 2^64 bytes */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = cli_parse_size(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want))
            fail_msg("'%s': rc %d value %llu", cases[i].in, rc, (unsigned long long)v);
    }
}

static void
test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"90", 0, 90},    {"90s", 0, 90},     {"30m", 0, 1800},       {"2h", 0, 7200},
        {"1d", 0, 86400}, {"1h30m", 0, 5400}, {"1d2h3m4s", 0, 93784}, {"", -1, 0},
        {"h", -1, 0},     {"1h30", -1, 0},    {"1x", -1, 0},          {"1.5h", -1, 0},
        {"-5", -1, 0},    {"5 m", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        int rc = cli_parse_duration(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want))
            fail_msg("'%s': rc %d value %llu", cases[i].in, rc, (unsigned long long)v);
    }
}

static void
test_uint_and_bool(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_uint("6881", 0, 65535, &v), 0);
    assert_int_equal(v, 6881);
    assert_int_equal(cli_parse_uint("65536", 0, 65535, &v), -1);
    assert_int_equal(cli_parse_uint("5", 10, 100, &v), -1);
    assert_int_equal(cli_parse_uint("1K", 0, 65535, &v), -1);
    assert_int_equal(cli_parse_uint("", 0, 65535, &v), -1);
    assert_int_equal(cli_parse_bool("yes"), 1);
    assert_int_equal(cli_parse_bool("TRUE"), 1);
    assert_int_equal(cli_parse_bool("on"), 1);
    assert_int_equal(cli_parse_bool("1"), 1);
    assert_int_equal(cli_parse_bool("no"), 0);
    assert_int_equal(cli_parse_bool("false"), 0);
    assert_int_equal(cli_parse_bool("0"), 0);
    assert_int_equal(cli_parse_bool("maybe"), -1);
    assert_int_equal(cli_parse_bool(""), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_uint_and_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
