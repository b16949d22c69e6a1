/*
 * netguard.c — decides which addresses a local-only session may talk to.
 * Base layer: pure functions over socket addresses, no I/O.
 */
#include "base/netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
        return netguard_check_addr(1, (struct sockaddr *)&v4);
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
        return netguard_check_addr(1, (struct sockaddr *)&v6);
    return SHOAL_ELOCALONLY;
}

int
netguard_env_local_only(void)
{
    const char *v = getenv("SHOAL_LOCAL_ONLY");
    return v && v[0] && strcmp(v, "0") != 0;
}

void
netguard_format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "(unknown address family %d)", sa->sa_family);
    }
}
