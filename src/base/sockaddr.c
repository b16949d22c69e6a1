/*
 * sockaddr.c — the one place that looks inside IPv4 and IPv6 socket
 * addresses: equality, length, port, text form and "host:port" parsing.
 * Base layer: pure functions over caller-owned memory; it never resolves a
 * name or opens a socket. shoal_parse_hostport() is the public face of the
 * parser, for the command line.
 */
#include "base/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "shoal.h"

/* Longest port text: "65535". */
#define PORT_DIGITS_MAX 5

socklen_t
sockaddr_len(int family)
{
    if (family == AF_INET)
        return sizeof(struct sockaddr_in);
    if (family == AF_INET6)
        return sizeof(struct sockaddr_in6);
    return 0;
}

int
sockaddr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    return 0;
}

int
sockaddr_same_endpoint(const struct sockaddr *a, const struct sockaddr *b)
{
    return sockaddr_same_host(a, b) && sockaddr_port(a) == sockaddr_port(b);
}

uint16_t
sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

void
sockaddr_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

void
sockaddr_format(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "(unknown address family %d)", sa->sa_family);
    }
}

int
sockaddr_split_hostport(const char *s, unsigned flags, char *host, size_t hostlen,
                        uint16_t *port)
{
    const char *h = s, *colon;
    size_t hl;
    if (!s)
        return SHOAL_EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return SHOAL_EINVAL;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        /* A second colon means an unbracketed IPv6 address: which colon
         * starts the port is anyone's guess. */
        if (!colon || strchr(colon + 1, ':'))
            return SHOAL_EINVAL;
        hl = (size_t)(colon - s);
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    uint64_t v;
    if (hl == 0 || hl >= hostlen || pl == 0 || pl > PORT_DIGITS_MAX ||
        parse_u64(p, pl, &v) != 0 || v > 65535 ||
        (v == 0 && !(flags & SOCKADDR_ANY_PORT)))
        return SHOAL_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)v;
    return 0;
}

int
sockaddr_from_ip(const char *ip, uint16_t port, struct sockaddr_storage *out,
                 socklen_t *len)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1)
        out->ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1)
        out->ss_family = AF_INET6;
    else
        return SHOAL_EINVAL;
    sockaddr_set_port((struct sockaddr *)out, port);
    if (len)
        *len = sockaddr_len(out->ss_family);
    return 0;
}

int
sockaddr_from_bytes(const uint8_t *ip, size_t iplen, uint16_t port,
                    struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof(*out));
    if (iplen == 4) {
        out->ss_family = AF_INET;
        memcpy(&((struct sockaddr_in *)(void *)out)->sin_addr, ip, 4);
    } else if (iplen == 16) {
        out->ss_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)(void *)out)->sin6_addr, ip, 16);
    } else {
        return SHOAL_EINVAL;
    }
    sockaddr_set_port((struct sockaddr *)out, port);
    if (len)
        *len = sockaddr_len(out->ss_family);
    return 0;
}

size_t
sockaddr_ip_bytes(const struct sockaddr *sa, unsigned flags, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a =
        &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if ((flags & SOCKADDR_UNMAP_V4) && IN6_IS_ADDR_V4MAPPED(a)) {
        memcpy(out, a->s6_addr + 12, 4);
        return 4;
    }
    memcpy(out, a->s6_addr, 16);
    return 16;
}

size_t
sockaddr_host_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    size_t n = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, out);
    return n == 16 ? 8 : n;
}

uint16_t
sockaddr_bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return sockaddr_port((struct sockaddr *)&sa);
}

int
sockaddr_parse(const char *s, unsigned flags, struct sockaddr_storage *out,
               socklen_t *len)
{
    char host[SOCKADDR_HOST_MAX];
    uint16_t port;
    int rc = sockaddr_split_hostport(s, flags, host, sizeof(host), &port);
    if (rc)
        return rc;
    return sockaddr_from_ip(host, port, out, len);
}

int
shoal_parse_hostport(const char *s, unsigned flags, char *host, size_t hostlen,
                     uint16_t *port)
{
    unsigned f = (flags & SHOAL_HOSTPORT_ANY_PORT) ? SOCKADDR_ANY_PORT : 0;
    return sockaddr_split_hostport(s, f, host, hostlen, port);
}
