/*
 * dht_table.c — placeholder bodies while the interface settles. Engine layer.
 */
#include "engine/dht_table.h"

#include "shoal.h"

struct dht_table *
dht_table_new(const uint8_t id[DHT_ID_LEN], int family, unsigned flags, uint64_t seed)
{
    (void)id;
    (void)family;
    (void)flags;
    (void)seed;
    return NULL;
}

void
dht_table_free(struct dht_table *t)
{
    (void)t;
}

const uint8_t *
dht_table_id(const struct dht_table *t)
{
    (void)t;
    return NULL;
}

int
dht_table_family(const struct dht_table *t)
{
    (void)t;
    return SHOAL_EUNSUPPORTED;
}

int
dht_table_heard(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                const struct dht_addr *a, int how, int64_t now_ms)
{
    (void)t;
    (void)id;
    (void)a;
    (void)how;
    (void)now_ms;
    return SHOAL_EUNSUPPORTED;
}

void
dht_table_failed(struct dht_table *t, const uint8_t id[DHT_ID_LEN],
                 const struct dht_addr *a, int64_t now_ms)
{
    (void)t;
    (void)id;
    (void)a;
    (void)now_ms;
}

size_t
dht_table_pings(struct dht_table *t, int64_t now_ms, struct dht_table_entry *out,
                size_t max)
{
    (void)t;
    (void)now_ms;
    (void)out;
    (void)max;
    return 0;
}

size_t
dht_table_refresh(struct dht_table *t, int64_t now_ms, uint8_t (*targets)[DHT_ID_LEN],
                  size_t max)
{
    (void)t;
    (void)now_ms;
    (void)targets;
    (void)max;
    return 0;
}

size_t
dht_table_closest(const struct dht_table *t, const uint8_t target[DHT_ID_LEN],
                  unsigned flags, int64_t now_ms, struct dht_table_entry *out, size_t k)
{
    (void)t;
    (void)target;
    (void)flags;
    (void)now_ms;
    (void)out;
    (void)k;
    return 0;
}

int
dht_table_find(const struct dht_table *t, const uint8_t id[DHT_ID_LEN], int64_t now_ms,
               struct dht_table_entry *out)
{
    (void)t;
    (void)id;
    (void)now_ms;
    (void)out;
    return SHOAL_EUNSUPPORTED;
}

size_t
dht_table_dump(const struct dht_table *t, int64_t now_ms, struct dht_table_entry *out,
               size_t max)
{
    (void)t;
    (void)now_ms;
    (void)out;
    (void)max;
    return 0;
}

void
dht_table_stats(const struct dht_table *t, int64_t now_ms, struct dht_table_stats *out)
{
    (void)t;
    (void)now_ms;
    (void)out;
}

const char *
dht_quality_name(int quality)
{
    (void)quality;
    return NULL;
}
