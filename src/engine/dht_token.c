/*
 * dht_token.c — BEP 5 write tokens: a keyed hash of the requester's IP
 * under a secret that changes every five minutes. Engine layer, pure: the
 * time and the key come in as arguments.
 */
#include "engine/dht_token.h"

#include <string.h>

#include "base/siphash.h"
#include "base/util.h"

static uint64_t
load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void
dht_token_init(struct dht_token *t, const uint8_t key[DHT_TOKEN_KEY_LEN], int64_t now_ms)
{
    t->k0 = load64(key);
    t->k1 = load64(key + 8);
    t->epoch0_ms = now_ms;
}

/* The epoch now_ms falls in; times before the start count as epoch 0. */
static uint64_t
epoch_of(const struct dht_token *t, int64_t now_ms)
{
    if (now_ms <= t->epoch0_ms)
        return 0;
    return (uint64_t)(now_ms - t->epoch0_ms) / DHT_TOKEN_ROTATE_MS;
}

static void
token_for(const struct dht_token *t, uint64_t epoch, const uint8_t *ip, size_t iplen,
          uint8_t out[DHT_TOKEN_LEN])
{
    uint8_t e[8];
    be64_put(e, epoch);
    /* The epoch's secret, then the IP under it: rotating secrets without
     * keeping any. */
    uint64_t s0 = siphash24(t->k0, t->k1, e, sizeof(e));
    uint64_t s1 = siphash24(t->k1, t->k0, e, sizeof(e));
    be64_put(out, siphash24(s0, s1, ip, iplen));
}

size_t
dht_token_make(const struct dht_token *t, const uint8_t *ip, size_t iplen, int64_t now_ms,
               uint8_t out[DHT_TOKEN_LEN])
{
    token_for(t, epoch_of(t, now_ms), ip, iplen, out);
    return DHT_TOKEN_LEN;
}

static int
same(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

int
dht_token_check(const struct dht_token *t, const uint8_t *ip, size_t iplen,
                const uint8_t *tok, size_t toklen, int64_t now_ms)
{
    if (toklen != DHT_TOKEN_LEN)
        return 0;
    uint64_t e = epoch_of(t, now_ms);
    uint8_t want[DHT_TOKEN_LEN];
    token_for(t, e, ip, iplen, want);
    int ok = same(want, tok, DHT_TOKEN_LEN);
    if (e > 0) {
        token_for(t, e - 1, ip, iplen, want);
        ok |= same(want, tok, DHT_TOKEN_LEN);
    }
    return ok;
}
