/*
 * transport.h — the byte streams the peer protocol runs over. Session layer,
 * loop thread only.
 *
 * A transport is a libevent bufferevent that its user did not create. The
 * peer code sets its callbacks, reads its input evbuffer, writes its output
 * evbuffer and frees it with transport_free(), and never learns what carries
 * the bytes: today a TCP socket (bufferevent_socket), later MSE as a
 * bufferevent_filter stacked on either kind, and uTP as one end of a
 * bufferevent_pair whose other end the uTP state machine feeds. The layers
 * stack the way curl's connection filters do: socket (TCP or uTP), then
 * encryption, then the rate limit, then the framing the peer code does.
 *
 * Why a bufferevent rather than an interface struct of our own callbacks:
 * libevent already stacks filters on any bufferevent and gives a pair that
 * stands in for a socket, its rate-limit groups already apply to every
 * stream of a session, and framing can pull a whole message out of an
 * evbuffer without copying it. Our own interface would re-implement all of
 * that. A test plays the remote peer on the far end of a bufferevent_pair.
 *
 * Whatever the kind, a transport reports to its owner's event callback
 * BEV_EVENT_CONNECTED once an outgoing stream is up, BEV_EVENT_EOF when the
 * far side closed, BEV_EVENT_ERROR on failure (errno says why), and
 * BEV_EVENT_TIMEOUT for timeouts the owner set on it.
 */
#ifndef SHOAL_TRANSPORT_H
#define SHOAL_TRANSPORT_H

#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

/*
 * Opens a listening TCP socket on port (0: the system picks) for family
 * (AF_INET or AF_INET6; IPv6 sockets accept IPv6 only), on the loopback
 * address when loopback_only, else on every address. cb runs with arg for
 * every accepted socket. Returns NULL on failure with errno set.
 */
struct evconnlistener *transport_tcp_listen(struct event_base *base, int family, int port,
                                            int loopback_only, evconnlistener_cb cb,
                                            void *arg);
/* The port a listener from transport_tcp_listen() is bound to, or 0. */
int transport_tcp_port(struct evconnlistener *lis);

/*
 * Wraps an accepted TCP socket. On success the transport owns fd and closes
 * it when freed; on failure returns NULL and fd stays the caller's. rl, when
 * not NULL, is the rate-limit group the stream joins.
 */
struct bufferevent *transport_tcp_accept(struct event_base *base, evutil_socket_t fd,
                                         struct bufferevent_rate_limit_group *rl);
/*
 * Makes a TCP transport that is not connected yet, in rate-limit group rl
 * when not NULL. Its owner sets the callbacks first, then starts it with
 * transport_tcp_connect(). Returns NULL when out of memory.
 */
struct bufferevent *transport_tcp_new(struct event_base *base,
                                      struct bufferevent_rate_limit_group *rl);
/*
 * Starts connecting bev (from transport_tcp_new()) to sa. Returns 0, and
 * then the owner's event callback runs later, from the loop, with
 * BEV_EVENT_CONNECTED or an error. Returns -errno (SHOAL_EINVAL when errno
 * is not set) when the connect fails at once; the event callback then never
 * runs for it.
 */
int transport_tcp_connect(struct bufferevent *bev, const struct sockaddr *sa,
                          socklen_t len);

/*
 * Frees a transport and every bufferevent it is stacked on, after taking
 * each out of its rate-limit group: the group may be freed before libevent
 * finishes releasing a bufferevent. NULL does nothing.
 */
void transport_free(struct bufferevent *bev);

#endif
