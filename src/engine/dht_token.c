/*
 * dht_token.c — placeholder bodies while the interface settles. Engine layer.
 */
#include "engine/dht_token.h"

#include "shoal.h"

void
dht_token_init(struct dht_token *t, const uint8_t key[DHT_TOKEN_KEY_LEN], int64_t now_ms)
{
    (void)t;
    (void)key;
    (void)now_ms;
}

size_t
dht_token_make(const struct dht_token *t, const uint8_t *ip, size_t iplen, int64_t now_ms,
               uint8_t out[DHT_TOKEN_LEN])
{
    (void)t;
    (void)ip;
    (void)iplen;
    (void)now_ms;
    (void)out;
    return 0;
}

int
dht_token_check(const struct dht_token *t, const uint8_t *ip, size_t iplen,
                const uint8_t *tok, size_t toklen, int64_t now_ms)
{
    (void)t;
    (void)ip;
    (void)iplen;
    (void)tok;
    (void)toklen;
    (void)now_ms;
    return SHOAL_EUNSUPPORTED;
}
