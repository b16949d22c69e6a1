/*
 * loglimit.c — one line per interval for a repeating condition, with the
 * count of the lines held back. Base layer: pure, no clock of its own.
 */
#include "base/loglimit.h"

#include <string.h>

void
loglimit_init(struct loglimit *l, uint64_t interval_ms)
{
    memset(l, 0, sizeof(*l));
    l->interval_ms = interval_ms;
}

/* 1 when a line may go out at now_ms. A clock that went back (it should
 * not: the caller's is monotonic) opens the window rather than closing it
 * for good. */
static int
window_open(const struct loglimit *l, uint64_t now_ms)
{
    return !l->started || now_ms < l->last_ms || now_ms - l->last_ms >= l->interval_ms;
}

int
loglimit_hit(struct loglimit *l, uint64_t now_ms, uint64_t *held)
{
    if (!window_open(l, now_ms)) {
        l->held++;
        *held = 0;
        return 0;
    }
    *held = l->held;
    l->held = 0;
    l->last_ms = now_ms;
    l->started = 1;
    return 1;
}

int
loglimit_flush(struct loglimit *l, uint64_t now_ms, uint64_t *held)
{
    *held = 0;
    if (l->held == 0 || !window_open(l, now_ms))
        return 0;
    *held = l->held;
    l->held = 0;
    l->last_ms = now_ms;
    return 1;
}
