/*
 * dht_lookup.c — placeholder bodies while the interface settles. Engine layer.
 */
#include "engine/dht_lookup.h"

#include "shoal.h"

struct dht_lookup *
dht_lookup_new(int kind, const uint8_t target[DHT_ID_LEN], int family, int64_t now_ms)
{
    (void)kind;
    (void)target;
    (void)family;
    (void)now_ms;
    return NULL;
}

void
dht_lookup_free(struct dht_lookup *l)
{
    (void)l;
}

int
dht_lookup_add(struct dht_lookup *l, const uint8_t *id, const struct dht_addr *a)
{
    (void)l;
    (void)id;
    (void)a;
    return SHOAL_EUNSUPPORTED;
}

size_t
dht_lookup_step(struct dht_lookup *l, int64_t now_ms, struct dht_lookup_action *out,
                size_t max, int64_t *wake_ms)
{
    (void)l;
    (void)now_ms;
    (void)out;
    (void)max;
    (void)wake_ms;
    return 0;
}

int
dht_lookup_reply(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                 const struct krpc_msg *m, int64_t now_ms)
{
    (void)l;
    (void)qid;
    (void)from;
    (void)m;
    (void)now_ms;
    return SHOAL_EUNSUPPORTED;
}

int
dht_lookup_error(struct dht_lookup *l, uint32_t qid, const struct dht_addr *from,
                 int64_t now_ms)
{
    (void)l;
    (void)qid;
    (void)from;
    (void)now_ms;
    return SHOAL_EUNSUPPORTED;
}

int
dht_lookup_done(const struct dht_lookup *l)
{
    (void)l;
    return SHOAL_EUNSUPPORTED;
}

int
dht_lookup_kind(const struct dht_lookup *l)
{
    (void)l;
    return SHOAL_EUNSUPPORTED;
}

const uint8_t *
dht_lookup_target(const struct dht_lookup *l)
{
    (void)l;
    return NULL;
}

const struct dht_addr *
dht_lookup_peers(const struct dht_lookup *l, size_t *n)
{
    (void)l;
    (void)n;
    return NULL;
}

size_t
dht_lookup_responders(const struct dht_lookup *l, struct dht_lookup_responder *out,
                      size_t max)
{
    (void)l;
    (void)out;
    (void)max;
    return 0;
}

void
dht_lookup_stats(const struct dht_lookup *l, struct dht_lookup_stats *out)
{
    (void)l;
    (void)out;
}
const uint8_t (*dht_lookup_samples(const struct dht_lookup *l, size_t *n))[DHT_ID_LEN]
{
    (void)l;
    *n = 0;
    return NULL;
}
