/*
 * tracker_client.h — a session's announces to HTTP(S) and UDP trackers, on
 * its event loop. Protocol layer; see tracker_client.c.
 */
#ifndef SHOAL_TRACKER_CLIENT_H
#define SHOAL_TRACKER_CLIENT_H

#include <stdint.h>

struct shoal_session;
struct torrent;

/* Tries per UDP announce before the announcer moves to another tracker. */
#define TRACKER_UDP_CLIENT_MAX_TRIES 4

enum tracker_job_kind { TRACKER_JOB_NONE, TRACKER_JOB_HTTP, TRACKER_JOB_UDP };

/* Sets up libcurl's multi handle on the loop and the UDP sockets. Returns 0
 * or SHOAL_ENOMEM; tracker_client_cleanup() is safe after a failure. */
int tracker_client_init(struct shoal_session *ss);
/* Cancels transfers in flight and frees everything. */
void tracker_client_cleanup(struct shoal_session *ss);
/* Starts the announce that is due for t, and handles UDP retransmits. */
void tracker_client_tick(struct torrent *t, uint64_t now);
/* 1 when no announce of t is in flight. */
int tracker_client_idle(const struct torrent *t);

#endif
