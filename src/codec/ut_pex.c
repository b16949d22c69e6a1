/*
 * ut_pex.c — the BEP 11 peer exchange codec. Codec layer.
 *
 * A ut_pex message comes from a stranger and names more strangers, so the
 * parser bounds everything before looking: the payload size, the number of
 * bencode values and the entries read per list. It returns the addresses
 * as sent; filtering out addresses nobody should dial (loopback from a
 * remote peer, multicast, port 0, our own) belongs to the reader, which
 * knows who sent them. Nothing here touches a socket or the clock.
 */
#include "codec/ut_pex.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/bencode.h"

/* One address list of a message and where its entries go. */
struct list_spec {
    const char *key;
    const char *flags_key; /* NULL for dropped lists */
    size_t ip_len;
    int dropped;
};

static const struct list_spec lists[] = {
    {"added", "added.f", 4, 0},
    {"added6", "added6.f", 16, 0},
    {"dropped", NULL, 4, 1},
    {"dropped6", NULL, 16, 1},
};

/* The string under key, or 0 when absent; *bad is set when present with
 * another type. */
static uint32_t
get_str(const struct benc_doc *d, const char *key, int *bad)
{
    uint32_t t = benc_dict_get(d, 0, key);
    *bad = t && d->tok[t].type != BENC_STR;
    return *bad ? 0 : t;
}

static int
read_list(const struct benc_doc *d, const struct list_spec *ls, struct ut_pex_msg *out,
          struct shoal_perr *err)
{
    int bad;
    uint32_t t = get_str(d, ls->key, &bad);
    if (bad)
        return perr_fail(err, d->tok[benc_dict_get(d, 0, ls->key)].start, SHOAL_EPARSE,
                         "peer list is not a string");
    if (!t)
        return 0;
    size_t len, flen = 0;
    const uint8_t *s = benc_str(d, t, &len);
    const uint8_t *f = NULL;
    size_t entry = ls->ip_len + 2;
    if (len % entry != 0)
        return perr_fail(err, d->tok[t].start, SHOAL_EPARSE,
                         ls->ip_len == 4
                             ? "IPv4 peer list is not a multiple of 6 bytes"
                             : "IPv6 peer list is not a multiple of 18 bytes");
    if (ls->flags_key) {
        uint32_t ft = get_str(d, ls->flags_key, &bad);
        if (bad)
            return perr_fail(err, d->tok[benc_dict_get(d, 0, ls->flags_key)].start,
                             SHOAL_EPARSE, "peer flags are not a string");
        if (ft)
            f = benc_str(d, ft, &flen);
    }
    size_t count = len / entry;
    if (count > UT_PEX_MAX_READ) {
        out->skipped += count - UT_PEX_MAX_READ;
        count = UT_PEX_MAX_READ;
    }
    struct ut_pex_peer *v = ls->dropped ? out->dropped : out->added;
    size_t *n = ls->dropped ? &out->ndropped : &out->nadded;
    for (size_t i = 0; i < count; i++) {
        struct ut_pex_peer *e = &v[(*n)++];
        memcpy(e->ip, s + i * entry, ls->ip_len);
        e->ip_len = (uint8_t)ls->ip_len;
        e->port = be16_get(s + i * entry + ls->ip_len);
        /* Missing flags read as 0: a shorter flags string is tolerated. */
        e->flags = i < flen ? f[i] : 0;
    }
    return 0;
}

int
ut_pex_parse(const uint8_t *p, size_t n, struct ut_pex_msg *out, struct shoal_perr *err)
{
    struct benc_doc d;
    int rc;

    memset(out, 0, sizeof(*out));
    if (n > UT_PEX_MAX_MSG)
        return perr_fail(err, UT_PEX_MAX_MSG, SHOAL_ETOOBIG, "ut_pex message too large");
    if (err)
        err->msg[0] = '\0';
    rc = benc_decode(&d, p, n, UT_PEX_MAX_TOKENS, NULL, err);
    if (rc)
        goto out;
    if (d.tok[0].type != BENC_DICT) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "ut_pex message is not a dictionary");
        goto out;
    }
    /* IPv4 before IPv6 in each list, as ut_pex.h promises. */
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        rc = read_list(&d, &lists[i], out, err);
        if (rc)
            goto out;
    }
out:
    benc_doc_cleanup(&d);
    if (rc) {
        out->nadded = out->ndropped = out->skipped = 0;
    }
    return rc;
}

int
ut_pex_same(const struct ut_pex_peer *a, const struct ut_pex_peer *b)
{
    return a->ip_len == b->ip_len && a->port == b->port &&
           memcmp(a->ip, b->ip, a->ip_len) == 0;
}

/* Writes the entries of v[0..n) whose ip_len is ip_len as one compact
 * string, and their flags as another when flags is set. */
static void
put_list(struct benc_enc *e, struct buf *tmp, const struct ut_pex_peer *v, size_t n,
         size_t ip_len, int flags)
{
    buf_reset(tmp);
    for (size_t i = 0; i < n; i++) {
        if (v[i].ip_len != ip_len)
            continue;
        if (flags) {
            buf_append_byte(tmp, v[i].flags);
        } else {
            uint8_t port[2];
            be16_put(port, v[i].port);
            buf_append(tmp, v[i].ip, ip_len);
            buf_append(tmp, port, 2);
        }
    }
    benc_put_str(e, tmp->data ? tmp->data : (const uint8_t *)"", tmp->len);
}

int
ut_pex_encode(const struct ut_pex_peer *added, size_t nadded,
              const struct ut_pex_peer *dropped, size_t ndropped, struct buf *out)
{
    struct benc_enc e;
    struct buf tmp;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    for (size_t i = 0; i < nadded; i++)
        if (added[i].ip_len != 4 && added[i].ip_len != 16)
            return SHOAL_EINVAL;
    for (size_t i = 0; i < ndropped; i++)
        if (dropped[i].ip_len != 4 && dropped[i].ip_len != 16)
            return SHOAL_EINVAL;

    /* Keys in byte order (BEP 3): "added" < "added.f" < "added6" <
     * "added6.f" < "dropped" < "dropped6". */
    benc_enc_init(&e, UT_PEX_MAX_MSG);
    buf_init(&tmp, UT_PEX_MAX_MSG);
    benc_dict_begin(&e);
    benc_key(&e, "added");
    put_list(&e, &tmp, added, nadded, 4, 0);
    benc_key(&e, "added.f");
    put_list(&e, &tmp, added, nadded, 4, 1);
    benc_key(&e, "added6");
    put_list(&e, &tmp, added, nadded, 16, 0);
    benc_key(&e, "added6.f");
    put_list(&e, &tmp, added, nadded, 16, 1);
    benc_key(&e, "dropped");
    put_list(&e, &tmp, dropped, ndropped, 4, 0);
    benc_key(&e, "dropped6");
    put_list(&e, &tmp, dropped, ndropped, 16, 0);
    benc_end(&e);

    rc = buf_error(&tmp);
    if (rc == 0)
        rc = benc_enc_finish(&e, &data, &len);
    if (rc == 0)
        rc = buf_append(out, data, len);
    xfree(data);
    buf_cleanup(&tmp);
    benc_enc_cleanup(&e);
    return rc;
}
