/*
 * loglimit.h — holds back a log line that repeats: at most one line per
 * interval, and the line that goes out says how many were held back since
 * the last one. Base layer: pure, the caller passes the time.
 *
 * A condition that recurs thousands of times a second (accept() failing
 * for want of descriptors, say) must cost one line per interval, not one
 * per occurrence: a log that grows by gigabytes is a denial of service of
 * its own.
 */
#ifndef SHOAL_LOGLIMIT_H
#define SHOAL_LOGLIMIT_H

#include <stdint.h>

/* One kind of line; zeroed memory with interval_ms set is a fresh one. */
struct loglimit {
    uint64_t interval_ms; /* at most one line per this many ms */
    uint64_t last_ms;     /* when the last line went out */
    uint64_t held;        /* occurrences held back since then */
    int started;          /* a line has gone out */
};

/* A fresh limiter allowing one line per interval_ms. */
void loglimit_init(struct loglimit *l, uint64_t interval_ms);

/*
 * Counts one occurrence at now_ms (monotonic). Returns 1 when its line
 * should be written, with *held set to the occurrences held back before it
 * (to be said in the line); 0 when the line is held back and counted.
 */
int loglimit_hit(struct loglimit *l, uint64_t now_ms, uint64_t *held);

/*
 * For a timer that reports what is still held: returns 1, with *held set
 * and the count reset, when occurrences are held back and a whole
 * interval has passed since the last line; 0 otherwise. A flushed report
 * counts as a line for the interval.
 */
int loglimit_flush(struct loglimit *l, uint64_t now_ms, uint64_t *held);

#endif
