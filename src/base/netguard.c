/*
 * netguard.c — decides which addresses a local-only session may talk to.
 * Base layer: pure functions over socket addresses, no I/O.
 */
#include "base/netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/sockaddr.h"
#include "shoal.h"

int
netguard_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int
netguard_check_addr(int local_only, const struct sockaddr *sa)
{
    if (!local_only || netguard_is_loopback(sa))
        return 0;
    return SHOAL_ELOCALONLY;
}

int
netguard_check_name(int local_only, const char *host)
{
    if (!local_only)
        return 0;
    if (!strcasecmp(host, "localhost"))
        return 0;
    struct sockaddr_storage ss;
    if (sockaddr_from_ip(host, 0, &ss, NULL) == 0)
        return netguard_check_addr(1, (struct sockaddr *)&ss);
    return SHOAL_ELOCALONLY;
}

int
netguard_env_local_only(void)
{
    const char *v = getenv("SHOAL_LOCAL_ONLY");
    return v && v[0] && strcmp(v, "0") != 0;
}
