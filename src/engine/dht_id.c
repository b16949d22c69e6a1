/*
 * dht_id.c — node addresses, XOR distance and BEP 42 node ids. Engine
 * layer, pure: it touches no socket and no clock, and draws no random
 * numbers (they come in as arguments).
 */
#include "engine/dht_id.h"

#include <netinet/in.h>
#include <string.h>

#include "base/util.h"
#include "shoal.h"

/* BEP 42: the bits of the address that count; the rest is free to vary
 * within a subnet a host may hold. */
static const uint8_t mask4[4] = {0x03, 0x0f, 0x3f, 0xff};
static const uint8_t mask6[8] = {0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};

int
dht_addr_eq(const struct dht_addr *a, const struct dht_addr *b)
{
    return a->len == b->len && a->port == b->port && memcmp(a->ip, b->ip, a->len) == 0;
}

int
dht_addr_from_sockaddr(struct dht_addr *out, const struct sockaddr *sa)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        out->len = 4;
        memcpy(out->ip, &s4->sin_addr, 4);
        out->port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *ip = s6->sin6_addr.s6_addr;
        if (memcmp(ip, v4mapped, 12) == 0) {
            out->len = 4;
            memcpy(out->ip, ip + 12, 4);
        } else {
            out->len = 16;
            memcpy(out->ip, ip, 16);
        }
        out->port = ntohs(s6->sin6_port);
        return 0;
    }
    return SHOAL_EINVAL;
}

int
dht_addr_to_sockaddr(const struct dht_addr *a, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (a->len == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
        if (len)
            *len = sizeof(*s4);
        return 0;
    }
    if (a->len == 16) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
        if (len)
            *len = sizeof(*s6);
        return 0;
    }
    return SHOAL_EINVAL;
}

int
dht_addr_from_compact(struct dht_addr *out, const uint8_t *p, size_t len)
{
    memset(out, 0, sizeof(*out));
    if (len != 6 && len != 18)
        return SHOAL_EINVAL;
    out->len = (uint8_t)(len - 2);
    memcpy(out->ip, p, out->len);
    out->port = be16_get(p + out->len);
    return 0;
}

size_t
dht_addr_to_compact(const struct dht_addr *a, uint8_t *out)
{
    if (a->len != 4 && a->len != 16)
        return 0;
    memcpy(out, a->ip, a->len);
    be16_put(out + a->len, a->port);
    return (size_t)a->len + 2;
}

void
dht_node_from_compact(const uint8_t *nodes, size_t i, int family, uint8_t id[DHT_ID_LEN],
                      struct dht_addr *a)
{
    size_t iplen = family == 6 ? 16 : 4;
    const uint8_t *p = nodes + i * (DHT_ID_LEN + iplen + 2);
    memcpy(id, p, DHT_ID_LEN);
    dht_addr_from_compact(a, p + DHT_ID_LEN, iplen + 2);
}

int
dht_id_cmp_dist(const uint8_t target[DHT_ID_LEN], const uint8_t a[DHT_ID_LEN],
                const uint8_t b[DHT_ID_LEN])
{
    for (int i = 0; i < DHT_ID_LEN; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int
dht_id_common_bits(const uint8_t a[DHT_ID_LEN], const uint8_t b[DHT_ID_LEN])
{
    for (int i = 0; i < DHT_ID_LEN; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x)
            return i * 8 + __builtin_clz((unsigned)x) - 24;
    }
    return DHT_ID_LEN * 8;
}

uint32_t
dht_crc32c(const uint8_t *p, size_t n)
{
    /* Bitwise: BEP 42 hashes 4 or 8 bytes, once per node heard. */
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The crc BEP 42 derives an id's first 21 bits from. */
static int
bep42_crc(const uint8_t *ip, size_t iplen, uint8_t r, uint32_t *crc)
{
    uint8_t masked[8];
    size_t n;
    const uint8_t *mask;
    if (iplen == 4) {
        n = 4;
        mask = mask4;
    } else if (iplen == 16) {
        n = 8;
        mask = mask6;
    } else {
        return SHOAL_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        masked[i] = ip[i] & mask[i];
    masked[0] |= (uint8_t)((r & 7) << 5);
    *crc = dht_crc32c(masked, n);
    return 0;
}

int
dht_id_make(uint8_t out[DHT_ID_LEN], const uint8_t *ip, size_t iplen,
            const uint8_t rnd[DHT_ID_LEN])
{
    uint32_t crc;
    int rc = bep42_crc(ip, iplen, rnd[19] & 7, &crc);
    if (rc)
        return rc;
    memcpy(out, rnd, DHT_ID_LEN);
    out[0] = (uint8_t)(crc >> 24);
    out[1] = (uint8_t)(crc >> 16);
    out[2] = (uint8_t)(((crc >> 8) & 0xf8) | (rnd[2] & 0x7));
    return 0;
}

int
dht_id_valid(const uint8_t id[DHT_ID_LEN], const uint8_t *ip, size_t iplen)
{
    uint32_t crc;
    if (bep42_crc(ip, iplen, id[19] & 7, &crc))
        return 0;
    return id[0] == (uint8_t)(crc >> 24) && id[1] == (uint8_t)(crc >> 16) &&
           (id[2] & 0xf8) == ((crc >> 8) & 0xf8);
}

static int
exempt4(const uint8_t *ip)
{
    return ip[0] == 0 || ip[0] == 10 || ip[0] == 127 ||
           (ip[0] == 100 && (ip[1] & 0xc0) == 64) || (ip[0] == 169 && ip[1] == 254) ||
           (ip[0] == 172 && (ip[1] & 0xf0) == 16) || (ip[0] == 192 && ip[1] == 168);
}

int
dht_id_exempt(const uint8_t *ip, size_t iplen)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t zero[15] = {0};
    if (iplen == 4)
        return exempt4(ip);
    if (iplen != 16)
        return 0;
    if (memcmp(ip, v4mapped, 12) == 0)
        return exempt4(ip + 12);
    if (memcmp(ip, zero, 15) == 0 && (ip[15] == 0 || ip[15] == 1))
        return 1;
    return (ip[0] & 0xfe) == 0xfc || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80);
}
