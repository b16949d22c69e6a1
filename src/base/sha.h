/*
 * sha.h — SHA-1 and SHA-256 over OpenSSL's EVP interface. Base layer.
 *
 * A sha1_ctx fetches the digest implementation once and is reused across
 * pieces, which matters at several GB/s: a fresh EVP_MD_CTX per piece costs
 * more than hashing a small piece.
 */
#ifndef SHOAL_SHA_H
#define SHOAL_SHA_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN   20
#define SHA256_LEN 32

struct sha1_ctx {
    void *md; /* EVP_MD_CTX */
};

int sha1_init(struct sha1_ctx *c);
void sha1_cleanup(struct sha1_ctx *c);
/* Starts a new digest on an initialized context. */
int sha1_begin(struct sha1_ctx *c);
int sha1_update(struct sha1_ctx *c, const void *p, size_t n);
int sha1_end(struct sha1_ctx *c, uint8_t out[SHA1_LEN]);

/* One-shot SHA-1. Returns 0 or SHOAL_ENOMEM. */
int sha1(const void *p, size_t n, uint8_t out[SHA1_LEN]);
int sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

#endif
