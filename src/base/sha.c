/*
 * sha.c — SHA-1/SHA-256 wrappers over OpenSSL 3 EVP. Base layer.
 */
#include "base/sha.h"

#include <openssl/evp.h>

#include "shoal.h"

int
sha1_init(struct sha1_ctx *c)
{
    c->md = EVP_MD_CTX_new();
    return c->md ? 0 : SHOAL_ENOMEM;
}

void
sha1_cleanup(struct sha1_ctx *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

int
sha1_begin(struct sha1_ctx *c)
{
    return EVP_DigestInit_ex(c->md, EVP_sha1(), NULL) == 1 ? 0 : SHOAL_ENOMEM;
}

int
sha1_update(struct sha1_ctx *c, const void *p, size_t n)
{
    return EVP_DigestUpdate(c->md, p, n) == 1 ? 0 : SHOAL_ENOMEM;
}

int
sha1_end(struct sha1_ctx *c, uint8_t out[SHA1_LEN])
{
    return EVP_DigestFinal_ex(c->md, out, NULL) == 1 ? 0 : SHOAL_ENOMEM;
}

int
sha1(const void *p, size_t n, uint8_t out[SHA1_LEN])
{
    return EVP_Digest(p, n, out, NULL, EVP_sha1(), NULL) == 1 ? 0 : SHOAL_ENOMEM;
}

int
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
    return EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : SHOAL_ENOMEM;
}
