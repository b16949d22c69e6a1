/*
 * dht_token.h — the write tokens of get_peers and announce_peer (BEP 5).
 * Engine layer, pure: the time comes in as now_ms and the secret as bytes.
 *
 * A node that answers get_peers hands the querier a token, and accepts an
 * announce_peer only with a token it handed to that IP address within the
 * last 10 minutes: so nobody can announce another host into the store.
 * BEP 5's scheme: the token is a hash of the requester's IP and a secret
 * that changes every 5 minutes, and tokens of the current and the previous
 * secret are accepted. Here the secret of each 5-minute epoch (counted from
 * dht_token_init) is SipHash-2-4 of the epoch number under a key that never
 * leaves the node, and the token is SipHash-2-4 of the IP under the epoch's
 * secret: the same as a secret rotated every 5 minutes with the previous
 * one kept, without a timer. A token made at time T is thus accepted until
 * the end of the epoch after T's: between 5 and 10 minutes. The port is
 * not hashed (BEP 5: the token is for an IP address).
 */
#ifndef SHOAL_DHT_TOKEN_H
#define SHOAL_DHT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* BEP 5: the secret changes every five minutes. */
#define DHT_TOKEN_ROTATE_MS (5 * 60 * 1000)
/* Bytes of a token: 64 bits of MAC are beyond guessing by datagram. */
#define DHT_TOKEN_LEN 8
/* Bytes of the key given to dht_token_init. */
#define DHT_TOKEN_KEY_LEN 16

struct dht_token {
    uint64_t k0, k1;   /* the node's key */
    int64_t epoch0_ms; /* start of epoch 0 */
};

/* Starts the scheme at now_ms with a key of DHT_TOKEN_KEY_LEN random
 * bytes (from rng_bytes in the session). */
void dht_token_init(struct dht_token *t, const uint8_t key[DHT_TOKEN_KEY_LEN],
                    int64_t now_ms);

/* Writes the token for the requester's IP ip[0..iplen) (4 or 16 bytes,
 * network order) at now_ms into out; returns DHT_TOKEN_LEN. */
size_t dht_token_make(const struct dht_token *t, const uint8_t *ip, size_t iplen,
                      int64_t now_ms, uint8_t out[DHT_TOKEN_LEN]);

/* 1 when tok[0..toklen) is a token made for ip[0..iplen) in the current or
 * the previous epoch at now_ms, else 0. Compares in constant time. */
int dht_token_check(const struct dht_token *t, const uint8_t *ip, size_t iplen,
                    const uint8_t *tok, size_t toklen, int64_t now_ms);

#endif
