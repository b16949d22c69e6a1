/*
 * test_webseed_size.c — how much one web seed request asks for
 * (webseed_job_blocks(), session/webseed.h): one piece, or 256 KiB of a
 * larger one, before the web seed is measured; then a few seconds' worth
 * at its rate, so a slow server holds one block and a fast one 1 MiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/picker.h"
#include "session/webseed.h"

#define BS PICKER_BLOCK_SIZE

static void
test_first_request(void **state)
{
    (void)state;
    assert_int_equal(webseed_job_blocks(BS, 0), 1);
    assert_int_equal(webseed_job_blocks(4 * BS, 0), 4);
    assert_int_equal(webseed_job_blocks(40000, 0), 3); /* a piece of 2.4 blocks */
    assert_int_equal(webseed_job_blocks(4 * 1024 * 1024, 0), 16);
}

static void
test_grows_with_the_rate(void **state)
{
    (void)state;
    /* 4 KB/s: a few seconds is less than a block; one block still. */
    assert_int_equal(webseed_job_blocks(BS, 4096), 1);
    assert_int_equal(webseed_job_blocks(4 * 1024 * 1024, 1), 1);
    /* 100 KiB/s: three seconds is 300 KiB, 19 blocks. */
    int mid = webseed_job_blocks(BS, 100 * 1024);
    assert_true(mid > 1 && mid < 64);
    assert_true(webseed_job_blocks(BS, 200 * 1024) > mid);
    /* Fast: 1 MiB at most, whatever the rate. */
    assert_int_equal(webseed_job_blocks(BS, 50u * 1024 * 1024), 64);
    assert_int_equal(webseed_job_blocks(BS, UINT64_MAX), 64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_request),
        cmocka_unit_test(test_grows_with_the_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
