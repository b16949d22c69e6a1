/*
 * clock.c — reads the monotonic clock (clock.h), also for the public
 * shoal_now_ns(). Base layer: libc only.
 */
#include "base/clock.h"

#include <time.h>

#include "shoal.h"

uint64_t
clock_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
clock_now_ms(void)
{
    return clock_now_ns() / 1000000u;
}

struct timespec
clock_deadline_ns(uint64_t ns)
{
    uint64_t at = clock_now_ns() + ns;
    struct timespec ts = {
        .tv_sec = (time_t)(at / 1000000000u),
        .tv_nsec = (long)(at % 1000000000u),
    };
    return ts;
}

uint64_t
shoal_now_ns(void)
{
    return clock_now_ns();
}
