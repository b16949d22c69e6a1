/*
 * session.h — internal view of a session: the event loop, listening sockets,
 * the disk pool, the torrents and the half-open connections. Session layer:
 * session.c owns the loop and the sockets, transport.c makes the streams
 * peers talk over, torrent.c (torrent.h) one torrent, peer_wire.c and
 * peer_io.c (peer.h) one connection. All of it runs on the session's one loop thread;
 * disk work runs on the disk pool and reports back through disk_drain() on the loop.
 */
#ifndef SHOAL_SESSION_H
#define SHOAL_SESSION_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "session/hooks.h"
#include "session/listen_guard.h"
#include "session/peer.h"
#include "session/torrent.h"
#include "session/tracker_client.h"
#include "shoal.h"

struct banlist;
struct dht;
struct disk;
struct dns_resolver;
struct http_client;
struct lsd;
struct tracker_client;
struct udp_mux;
struct utp_refuse;

/* Seconds a TCP connect may take before the peer is given up. */
#define SESSION_CONNECT_TIMEOUT_S 10
/* Calls from other threads waiting for the loop, at most: memory stays
 * bounded while the loop is stalled or not running; a poster then gets
 * -EAGAIN and may try again. */
#define SESSION_MAX_POSTED 1024

/* A call waiting to run on the loop thread (shoal_session_post). */
struct session_post {
    shoal_session_fn fn;
    void *arg;
};

struct shoal_session {
    struct event_base *base;
    struct shoal_settings cfg;
    int local_only;
    struct evconnlistener *lis4, *lis6;
    struct listen_guard *guard4, *guard6; /* pause the listeners on EMFILE */
    int port;
    uint8_t peer_id[20];
    struct disk *disk;
    struct event *disk_ev;
    struct event *tick_ev;
    struct event *stop_ev;
    int stop_fd; /* eventfd: shoal_session_stop() writes, the loop wakes */
    /* shoal_session_post(): a ring of calls that any thread fills under
     * post_mu and the loop empties, woken by post_fd (an eventfd). Nothing
     * else in the session is shared between threads. */
    pthread_mutex_t post_mu;
    struct session_post *posted; /* SESSION_MAX_POSTED slots */
    size_t post_head, post_count;
    int post_closed; /* shoal_session_free() began: posts are refused */
    int post_fd;
    struct event *post_ev;
    struct bufferevent_rate_limit_group *rl;
    struct http_client *http;       /* HTTP(S) requests: trackers, web seeds */
    struct dns_resolver *dns;       /* name look-ups: trackers, peers given by name */
    struct udp_mux *udp;            /* the UDP sockets: DHT, trackers, uTP */
    struct utp_refuse *utp;         /* resets uTP connection attempts */
    struct dht *dht;                /* the DHT node, or NULL (dht.h) */
    struct hooks hooks;             /* how modules below report up (hooks.h) */
    struct tracker_client *tracker; /* announces and scrapes (tracker_client.h) */
    struct lsd *lsd;                /* local service discovery (lsd.h); NULL: off */
    struct banlist *bans; /* refused hosts, for every torrent (engine/banlist.h) */
    struct torrent *torrents;
    struct peer *halfopen; /* accepted, handshake not read yet */
    int npeers; /* connections of every kind: peer_new() counts, peer_free() uncounts */
    uint64_t next_peer_id;
    shoal_event_cb cb;
    void *cb_user;
    int exit_when_done;
    uint64_t rng;
};

uint64_t session_now_ms(const struct shoal_session *ss);
uint64_t session_random(struct shoal_session *ss);
/* Emits an event to the user's callback (if any). */
void session_emit(struct shoal_session *ss, enum shoal_event_type type, struct torrent *t,
                  const struct peer *p, uint32_t piece, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Logs a line (as an SHOAL_EV_LOG event, and to stderr when verbose). */
void session_log(struct shoal_session *ss, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Finds the torrent for an infohash, or NULL. */
struct torrent *session_find_torrent(struct shoal_session *ss, const uint8_t ih[20]);
/* Opens an outgoing connection for t (checked against local-only mode). */
int session_dial(struct shoal_session *ss, struct torrent *t, const struct sockaddr *sa);
/*
 * Makes a half-open peer of an incoming connection over any transport; its
 * handshake will name the torrent. Takes bev in every case: when the
 * connection limits refuse it or memory runs out, bev is freed and NULL
 * returned. To make room it may close the half-open connection that gives
 * way to it (engine/admission.h) and frees the dead half-open ones: call it
 * from outside every peer's callbacks (a listener's or a socket's of its own).
 */
struct peer *session_accept(struct shoal_session *ss, struct bufferevent *bev,
                            const struct sockaddr *sa, socklen_t len);
/* Moves a half-open incoming peer into its torrent, or closes it when the
 * per-address or connection limits refuse it; a full torrent or session
 * first closes the idle peer that gives way to it (engine/admission.h). */
void session_adopt_peer(struct shoal_session *ss, struct peer *p, struct torrent *t);

/* The DHT node of the session (dht_api.c): made when settings.dht is on,
 * on the session's UDP socket; the tick names the public torrents to it. */
int session_dht_start(struct shoal_session *ss);
void session_dht_tick(struct shoal_session *ss);

#endif
