/*
 * admission.c — which connection gives way when a table is full: the oldest
 * half-open connection of the most crowded address, or the established peer
 * idle longest (admission.h has the rules). Engine layer: pure functions
 * over a snapshot the session fills; the time comes in as an argument.
 */
#include "engine/admission.h"

#include <string.h>

#include "base/sockaddr.h"

/* IPv4 keys carry this tag in their top 16 bits: ffff::/16 lies in the
 * multicast range, which never opens a TCP connection, so no IPv6 /64 key
 * can take these values. */
#define ADMISSION_V4_TAG 0xffff000000000000ull

uint64_t
admission_addr_key(const struct sockaddr *sa)
{
    uint8_t host[16];
    size_t n = sockaddr_host_bytes(sa, host);
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k = k << 8 | host[i];
    if (n == 4)
        return ADMISSION_V4_TAG | k;
    return k;
}

int
admission_addr_shared(const struct sockaddr *sa)
{
    static const uint8_t v4[4] = {127, 0, 0, 1};
    static const uint8_t v6[16] = {[15] = 1};
    uint8_t ip[16];
    size_t n = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, ip);
    return (n == 4 && !memcmp(ip, v4, 4)) || (n == 16 && !memcmp(ip, v6, 16));
}

static int
aged(const struct admission_conn *c, uint64_t now)
{
    return c->since_ms <= now && now - c->since_ms >= ADMISSION_HALFOPEN_GRACE_MS;
}

/* The oldest connection of address key, aged ones only when grace is set,
 * or -1. */
static long
oldest_of(const struct admission_conn *c, size_t n, uint64_t key, uint64_t now, int grace)
{
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (c[i].key == key && (!grace || aged(&c[i], now)) &&
            (best < 0 || c[i].since_ms < c[best].since_ms))
            best = (long)i;
    return best;
}

/* The oldest connection (aged only, with grace) of the most crowded
 * address, or -1. */
static long
crowded_victim(const struct admission_conn *c, size_t n, uint64_t now, int grace)
{
    /* Tables are small (tens of entries): counting by a second pass keeps
     * this free of allocation. */
    long best = -1;
    size_t best_count = 0;
    for (size_t i = 0; i < n; i++) {
        long v = oldest_of(c, n, c[i].key, now, grace);
        if (v != (long)i)
            continue; /* count each address once, from its oldest */
        size_t count = 0;
        for (size_t j = 0; j < n; j++)
            count += c[j].key == c[i].key;
        if (best < 0 || count > best_count ||
            (count == best_count && c[i].since_ms < c[best].since_ms)) {
            best = (long)i;
            best_count = count;
        }
    }
    return best;
}

long
admission_halfopen_victim(const struct admission_conn *c, size_t n, const uint64_t *key,
                          uint64_t now)
{
    if (key)
        return oldest_of(c, n, *key, now, 1);
    long v = crowded_victim(c, n, now, 1);
    return v >= 0 ? v : crowded_victim(c, n, now, 0);
}

/* When c last did something useful: its last payload, else its start. */
static uint64_t
idle_since(const struct admission_conn *c)
{
    return c->last_payload_ms > c->since_ms ? c->last_payload_ms : c->since_ms;
}

int
admission_idle_candidate(const struct admission_conn *c, uint64_t now)
{
    if (!c->active || c->since_ms > now || now - c->since_ms < ADMISSION_MIN_AGE_MS)
        return 0;
    return c->last_payload_ms == 0 ||
           (c->last_payload_ms <= now && now - c->last_payload_ms >= ADMISSION_IDLE_MS);
}

int
admission_idle_before(const struct admission_conn *a, const struct admission_conn *b)
{
    if (!a->interested != !b->interested)
        return !a->interested;
    uint64_t ia = idle_since(a), ib = idle_since(b);
    if (ia != ib)
        return ia < ib;
    return a->since_ms < b->since_ms;
}

long
admission_idle_victim(const struct admission_conn *c, size_t n, uint64_t now)
{
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (admission_idle_candidate(&c[i], now) &&
            (best < 0 || admission_idle_before(&c[i], &c[best])))
            best = (long)i;
    return best;
}
