/*
 * listen_guard.h — keeps a listening socket from spinning when the process
 * runs out of file descriptors. Session layer, loop thread only.
 *
 * libevent's listener, when accept() fails with EMFILE or ENFILE, logs a
 * line and returns; the pending connection is still there, so the socket
 * is readable again at once and the loop spins at full CPU writing the
 * same line. A guard set on a listener instead:
 *   - sheds the connections waiting in the queue: it keeps one descriptor
 *     in reserve (/dev/null), closes it to make room, accepts and closes
 *     each pending connection (the client sees a close at once instead of
 *     hanging), then opens the reserve again;
 *   - pauses the listener and tries again after a short time, until
 *     descriptors have come free;
 *   - logs the condition at most once per interval, with a count.
 * Other accept() errors pause the listener the same way, without shedding.
 *
 * Used for the session's peer listener and the tracker's HTTP listener
 * (whose evconnlistener belongs to evhttp): the guard never owns the
 * listener it watches.
 */
#ifndef SHOAL_LISTEN_GUARD_H
#define SHOAL_LISTEN_GUARD_H

#include <event2/listener.h>

struct listen_guard;

/* Where a guard's (rate-limited) lines go: one line, no newline, borrowed
 * until the call returns. The same shape as struct hooks' log. */
typedef void (*listen_guard_log_fn)(void *ctx, const char *msg);

/*
 * Watches lis, which must outlive the guard: sets its error callback and
 * opens the reserve descriptor. name starts each line ("peer listener");
 * it is copied. log, with ctx, receives the lines; NULL drops them.
 * Returns NULL when out of memory or descriptors.
 */
struct listen_guard *listen_guard_new(struct evconnlistener *lis, const char *name,
                                      listen_guard_log_fn log, void *ctx);

/* Stops watching (the listener's error callback is cleared) and frees the
 * guard. NULL does nothing. */
void listen_guard_free(struct listen_guard *g);

/* Pauses so far (each a failed accept that paused the listener), for
 * tests and stats. */
unsigned long long listen_guard_pauses(const struct listen_guard *g);

#endif
