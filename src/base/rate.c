/*
 * rate.c — the rate meter: bytes counted into one-second buckets, read back
 * as the average of the last whole seconds. Base layer, no clock of its own.
 */
#include "base/rate.h"

void
rate_add(struct rate *r, uint64_t now_ms, uint64_t bytes)
{
    uint64_t sec = now_ms / 1000;
    if (sec != r->second) {
        /* Clear the buckets of the seconds that passed without traffic. */
        uint64_t gap = sec - r->second;
        for (uint64_t i = 1; i <= gap && i <= RATE_WINDOW; i++)
            r->bucket[(r->second + i) % RATE_WINDOW] = 0;
        r->second = sec;
    }
    r->bucket[sec % RATE_WINDOW] += bytes;
}

uint64_t
rate_get(const struct rate *r, uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000, sum = 0;
    /* Whole seconds only: the current one is still filling. */
    for (uint64_t i = 1; i <= RATE_WINDOW - 1; i++) {
        uint64_t s = sec - i;
        if (s <= r->second && r->second - s < RATE_WINDOW)
            sum += r->bucket[s % RATE_WINDOW];
    }
    return sum / (RATE_WINDOW - 1);
}
