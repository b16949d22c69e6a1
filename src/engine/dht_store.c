/*
 * dht_store.c — placeholder bodies while the interface settles. Engine layer.
 */
#include "engine/dht_store.h"

#include "shoal.h"

struct dht_store *
dht_store_new(size_t max_hashes, size_t max_peers, uint64_t seed)
{
    (void)max_hashes;
    (void)max_peers;
    (void)seed;
    return NULL;
}

void
dht_store_free(struct dht_store *s)
{
    (void)s;
}

int
dht_store_announce(struct dht_store *s, const uint8_t ih[DHT_ID_LEN],
                   const struct dht_addr *a, int64_t now_ms)
{
    (void)s;
    (void)ih;
    (void)a;
    (void)now_ms;
    return SHOAL_EUNSUPPORTED;
}

size_t
dht_store_get(struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int family,
              int64_t now_ms, uint8_t *out, size_t max)
{
    (void)s;
    (void)ih;
    (void)family;
    (void)now_ms;
    (void)out;
    (void)max;
    return 0;
}

size_t
dht_store_count(const struct dht_store *s, const uint8_t ih[DHT_ID_LEN], int64_t now_ms)
{
    (void)s;
    (void)ih;
    (void)now_ms;
    return 0;
}

size_t
dht_store_sample(struct dht_store *s, uint8_t (*out)[DHT_ID_LEN], size_t max, size_t *num)
{
    (void)s;
    (void)out;
    (void)max;
    (void)num;
    return 0;
}

size_t
dht_store_sweep(struct dht_store *s, int64_t now_ms)
{
    (void)s;
    (void)now_ms;
    return 0;
}

void
dht_store_stats(const struct dht_store *s, struct dht_store_stats *out)
{
    (void)s;
    (void)out;
}
