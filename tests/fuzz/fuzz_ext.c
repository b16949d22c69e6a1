/*
 * fuzz_ext.c — libFuzzer target for the BEP 10 extension handshake codec.
 *
 * Any input must parse or fail cleanly with a reason. A handshake that
 * parses must hold only values ext.h allows (printable UTF-8 client name,
 * reqq and metadata_size in range, yourip of 0, 4 or 16 bytes), must encode,
 * and the encoding must parse back to the same values and encode to the same
 * bytes again. Otherwise the target aborts so the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/util.h"
#include "codec/ext.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_values(const struct ext_handshake *h)
{
    size_t n = strnlen(h->client, sizeof(h->client));
    if (n == sizeof(h->client))
        abort();
    const uint8_t *s = (const uint8_t *)h->client;
    if (!utf8_valid(s, n))
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < n && s[i + 1] < 0xa0))
            abort();
    if (h->reqq > EXT_MAX_REQQ || h->metadata_size > EXT_MAX_METADATA_SIZE)
        abort();
    if (h->yourip_len != 0 && h->yourip_len != 4 && h->yourip_len != 16)
        abort();
    if (h->upload_only != 0 && h->upload_only != 1)
        abort();
    if (h->ut_metadata && h->ut_metadata == h->ut_pex)
        abort();
    if ((h->ut_metadata && !(h->present & EXT_HAS_UT_METADATA)) ||
        (h->ut_pex && !(h->present & EXT_HAS_UT_PEX)))
        abort();
}

static void
check_same(const struct ext_handshake *a, const struct ext_handshake *b)
{
    /* Only nonzero ids are written, so only they come back as present. */
    unsigned present =
        (a->ut_metadata ? EXT_HAS_UT_METADATA : 0) | (a->ut_pex ? EXT_HAS_UT_PEX : 0);
    if (a->ut_metadata != b->ut_metadata || a->ut_pex != b->ut_pex ||
        b->present != present || strcmp(a->client, b->client) != 0 ||
        a->reqq != b->reqq || a->listen_port != b->listen_port ||
        a->metadata_size != b->metadata_size || a->yourip_len != b->yourip_len ||
        memcmp(a->yourip, b->yourip, a->yourip_len) != 0 ||
        a->upload_only != b->upload_only)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ext_handshake a, b;
    struct shoal_perr err = {0};
    int rc = ext_parse_handshake(data, size, &a, &err);
    if (rc != 0) {
        if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || err.why == NULL ||
            err.off > size)
            abort();
        return 0;
    }
    check_values(&a);

    struct buf one, two;
    buf_init(&one, EXT_MAX_HANDSHAKE);
    buf_init(&two, EXT_MAX_HANDSHAKE);
    if (ext_encode_handshake(&a, &one) != 0)
        abort();
    if (ext_parse_handshake(one.data, one.len, &b, &err) != 0)
        abort();
    check_values(&b);
    check_same(&a, &b);
    /* Encoding is a fixed point after one round. */
    if (ext_encode_handshake(&b, &two) != 0 || two.len != one.len ||
        memcmp(one.data, two.data, one.len) != 0)
        abort();
    buf_cleanup(&one);
    buf_cleanup(&two);
    return 0;
}
