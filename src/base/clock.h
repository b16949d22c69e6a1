/*
 * clock.h — the monotonic clock. Base layer.
 *
 * Timers, rates and time-outs all read CLOCK_MONOTONIC: it never jumps when
 * the wall clock is set. Its zero is arbitrary (usually boot), so only
 * differences between two readings mean anything. Code that is sans-I/O
 * (the engine's policies) never calls this: it is handed `now`.
 */
#ifndef SHOAL_CLOCK_H
#define SHOAL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in milliseconds. Never decreases. */
uint64_t clock_now_ms(void);

/* Monotonic time in nanoseconds, for measuring short intervals. Never
 * decreases. */
uint64_t clock_now_ns(void);

/* The monotonic time `ns` nanoseconds from now as a struct timespec: the
 * deadline pthread_cond_timedwait() takes for a condition variable whose
 * clock is CLOCK_MONOTONIC (pthread_condattr_setclock). */
struct timespec clock_deadline_ns(uint64_t ns);

#endif
