/*
 * peercheck.c — checks a peer address the way shoal_torrent_add_peer()
 * will use it, blocking, for a program before its session starts: so that
 * a name that does not resolve is refused before any port is opened or any
 * tracker contacted. Session layer; the local-only guard decides first, so
 * that a name it refuses is never looked up.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "base/netguard.h"
#include "base/sockaddr.h"
#include "base/util.h"
#include "session/dns.h"
#include "shoal.h"

int
shoal_peer_check(const char *hostport, int local_only, struct shoal_perr *err)
{
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    if (sockaddr_split_hostport(hostport, 0, host, sizeof(host), &port) != 0)
        return perr_failf(err, 0, SHOAL_EINVAL, "malformed address",
                          "expected HOST:PORT or [IPV6]:PORT, port 1-65535");
    local_only = local_only || netguard_env_local_only();
    if (netguard_check_name(local_only, host) != 0)
        return perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                          "local-only mode allows only 127.0.0.0/8, ::1 and localhost");
    /* Literals and "localhost" are answered without a look-up, as the
     * session answers them. */
    struct sockaddr_storage lit;
    if (dns_literal(host, port, AF_UNSPEC, &lit) == 0)
        return 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, NULL, &hints, &res);
    if (g != 0)
        return perr_failf(err, 0, -ENOENT, "name does not resolve",
                          "%s does not resolve: %s", host, gai_strerror(g));
    int allowed = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (netguard_check_addr(local_only, a->ai_addr) == 0)
            allowed = 1;
    freeaddrinfo(res);
    if (!allowed)
        return perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                          "%s is not a loopback address (local-only mode)", host);
    return 0;
}
