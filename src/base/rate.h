/*
 * rate.h — a transfer rate meter over the last few whole seconds. Base
 * layer: pure, the caller passes the time.
 */
#ifndef SHOAL_RATE_H
#define SHOAL_RATE_H

#include <stdint.h>

/* Rate estimates are averaged over this many one-second buckets. */
#define RATE_WINDOW 5

/* A rate meter over RATE_WINDOW one-second buckets; zeroed memory is an
 * empty meter. */
struct rate {
    uint64_t bucket[RATE_WINDOW];
    uint64_t second; /* which second bucket[second % RATE_WINDOW] holds */
};

/* Counts bytes moved at now_ms. */
void rate_add(struct rate *r, uint64_t now_ms, uint64_t bytes);
/* Bytes per second over the whole seconds before now_ms (the current one is
 * still filling and does not count). */
uint64_t rate_get(const struct rate *r, uint64_t now_ms);

#endif
