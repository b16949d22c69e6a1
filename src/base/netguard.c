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
#include <sys/socket.h>

#include "base/sockaddr.h"
#include "shoal.h"

int
netguard_is_loopback(const struct sockaddr *sa)
{
    uint8_t ip[16];
    size_t n = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, ip);
    if (n == 4)
        return ip[0] == 127; /* 127.0.0.0/8 */
    return n == 16 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)ip);
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

int
netguard_socket(int local_only, const struct sockaddr *sa, int family, int type,
                int protocol)
{
    if (netguard_check_addr(local_only, sa) != 0)
        return -1;
    return socket(family, type | SOCK_CLOEXEC, protocol);
}
