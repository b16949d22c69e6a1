/*
 * netguard.h — the local-only guard. Base layer, pure.
 *
 * In local-only mode (settings.local_only, or SHOAL_LOCAL_ONLY=1 in the
 * environment) a session sends nothing — TCP, UDP, DNS look-ups, multicast —
 * to any address outside 127.0.0.0/8 and ::1. Every socket the session opens
 * toward a peer, tracker or DHT node is checked here first, so tests and
 * benchmarks can never reach the Internet or a real LAN.
 */
#ifndef SHOAL_NETGUARD_H
#define SHOAL_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; else 0. */
int netguard_is_loopback(const struct sockaddr *sa);

/* 0 when sending to sa is allowed, SHOAL_ELOCALONLY when local_only forbids
 * it. */
int netguard_check_addr(int local_only, const struct sockaddr *sa);

/* A socket for a connection to sa (family, type, protocol as socket(2)
 * takes them; SOCK_CLOEXEC is added), or -1 when local_only forbids sa:
 * what curl's open-socket callbacks of the HTTP clients return. */
int netguard_socket(int local_only, const struct sockaddr *sa, int family, int type,
                    int protocol);

/* 0 when a name may be looked up: in local-only mode only numeric loopback
 * literals and "localhost" pass, since a DNS query itself leaves the host. */
int netguard_check_name(int local_only, const char *host);

/* 1 when SHOAL_LOCAL_ONLY is set to a non-empty value other than "0". */
int netguard_env_local_only(void);

#endif
