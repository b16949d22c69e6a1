/*
 * dht_id.c — placeholder bodies while the interface settles. Engine layer.
 */
#include "engine/dht_id.h"

#include "shoal.h"

int
dht_addr_eq(const struct dht_addr *a, const struct dht_addr *b)
{
    (void)a;
    (void)b;
    return SHOAL_EUNSUPPORTED;
}

int
dht_addr_from_sockaddr(struct dht_addr *out, const struct sockaddr *sa)
{
    (void)out;
    (void)sa;
    return SHOAL_EUNSUPPORTED;
}

int
dht_addr_to_sockaddr(const struct dht_addr *a, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    (void)a;
    (void)ss;
    (void)len;
    return SHOAL_EUNSUPPORTED;
}

int
dht_addr_from_compact(struct dht_addr *out, const uint8_t *p, size_t len)
{
    (void)out;
    (void)p;
    (void)len;
    return SHOAL_EUNSUPPORTED;
}

size_t
dht_addr_to_compact(const struct dht_addr *a, uint8_t *out)
{
    (void)a;
    (void)out;
    return 0;
}

void
dht_node_from_compact(const uint8_t *nodes, size_t i, int family, uint8_t id[DHT_ID_LEN],
                      struct dht_addr *a)
{
    (void)nodes;
    (void)i;
    (void)family;
    (void)id;
    (void)a;
}

int
dht_id_cmp_dist(const uint8_t target[DHT_ID_LEN], const uint8_t a[DHT_ID_LEN],
                const uint8_t b[DHT_ID_LEN])
{
    (void)target;
    (void)a;
    (void)b;
    return SHOAL_EUNSUPPORTED;
}

int
dht_id_common_bits(const uint8_t a[DHT_ID_LEN], const uint8_t b[DHT_ID_LEN])
{
    (void)a;
    (void)b;
    return SHOAL_EUNSUPPORTED;
}

uint32_t
dht_crc32c(const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    return 0;
}

int
dht_id_make(uint8_t out[DHT_ID_LEN], const uint8_t *ip, size_t iplen,
            const uint8_t rnd[DHT_ID_LEN])
{
    (void)out;
    (void)ip;
    (void)iplen;
    (void)rnd;
    return SHOAL_EUNSUPPORTED;
}

int
dht_id_valid(const uint8_t id[DHT_ID_LEN], const uint8_t *ip, size_t iplen)
{
    (void)id;
    (void)ip;
    (void)iplen;
    return SHOAL_EUNSUPPORTED;
}

int
dht_id_exempt(const uint8_t *ip, size_t iplen)
{
    (void)ip;
    (void)iplen;
    return SHOAL_EUNSUPPORTED;
}
