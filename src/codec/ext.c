/*
 * ext.c — the BEP 10 extension handshake codec. Codec layer.
 *
 * A peer's handshake tells us its message ids for the extensions we speak
 * (ut_metadata, ut_pex), its client name, how many requests it queues, its
 * listen port, the size of the metadata and the address it sees us at. All
 * of it comes from a stranger, so every field is range-checked here and the
 * client name is made safe to print. Decoding uses the zero-copy bencode
 * decoder with a small token cap; nothing touches a socket or the clock.
 */
#include "codec/ext.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/bencode.h"

/*
 * Copies a client name into out[cap], replacing bytes that are not valid
 * UTF-8, C0 and C1 control characters and DEL by '?', and cutting at a
 * character boundary so that the result is always valid UTF-8.
 */
static void
copy_client(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(s + i, n - i);
        int control = (l == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
                      (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0);
        int keep = l > 0 && !control;
        size_t w = keep ? l : 1;
        if (w > cap - 1 - o)
            break;
        if (keep)
            memcpy(out + o, s + i, l);
        else
            out[o] = '?';
        o += w;
        /* A control character is one '?' however many bytes it took. */
        i += l ? l : 1;
    }
    out[o] = '\0';
}

/* An extension id from `m`: 1 with *id set when the value is an integer in
 * 0..255, else 0 (BEP 10: names or values we cannot use are ignored). */
static int
get_id(const struct benc_doc *d, uint32_t m, const char *name, uint8_t *id)
{
    uint32_t t = benc_dict_get_type(d, m, name, BENC_INT);
    if (!t || d->tok[t].val < 0 || d->tok[t].val > 255)
        return 0;
    *id = (uint8_t)d->tok[t].val;
    return 1;
}

int
ext_parse_handshake(const uint8_t *p, size_t n, struct ext_handshake *out,
                    struct shoal_perr *err)
{
    struct benc_doc d;
    uint32_t m, t;
    int rc;

    memset(out, 0, sizeof(*out));
    if (n > EXT_MAX_HANDSHAKE)
        return perr_fail(err, EXT_MAX_HANDSHAKE, SHOAL_ETOOBIG,
                         "extension handshake too large");
    if (err)
        err->msg[0] = '\0';
    rc = benc_decode(&d, p, n, EXT_MAX_TOKENS, NULL, err);
    if (rc)
        goto out;
    if (d.tok[0].type != BENC_DICT) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "extension handshake is not a dictionary");
        goto out;
    }

    m = benc_dict_get(&d, 0, "m");
    if (m && d.tok[m].type != BENC_DICT) {
        rc = perr_fail(err, d.tok[m].start, SHOAL_EPARSE, "m is not a dictionary");
        goto out;
    }
    if (m) {
        if (get_id(&d, m, "ut_metadata", &out->ut_metadata))
            out->present |= EXT_HAS_UT_METADATA;
        if (get_id(&d, m, "ut_pex", &out->ut_pex))
            out->present |= EXT_HAS_UT_PEX;
        /* BEP 10: no two extension messages may share an id. */
        if (out->ut_metadata && out->ut_metadata == out->ut_pex) {
            rc = perr_fail(err, d.tok[m].start, SHOAL_EPARSE,
                           "m gives two extensions one id");
            goto out;
        }
    }

    t = benc_dict_get_type(&d, 0, "metadata_size", BENC_INT);
    if (t) {
        /* A size no torrent can have is ignored, not fatal: the peer may
         * still trade pieces; it is just never asked for the metadata. */
        int64_t v = d.tok[t].val;
        if (v >= 1 && v <= EXT_MAX_METADATA_SIZE)
            out->metadata_size = (uint32_t)v;
    }

    t = benc_dict_get_type(&d, 0, "v", BENC_STR);
    if (t) {
        size_t len;
        const uint8_t *s = benc_str(&d, t, &len);
        copy_client(s, len, out->client, sizeof(out->client));
    }

    t = benc_dict_get_type(&d, 0, "reqq", BENC_INT);
    if (t && d.tok[t].val >= 1)
        out->reqq = d.tok[t].val > EXT_MAX_REQQ ? EXT_MAX_REQQ : (uint32_t)d.tok[t].val;

    t = benc_dict_get_type(&d, 0, "p", BENC_INT);
    if (t && d.tok[t].val >= 1 && d.tok[t].val <= 65535)
        out->listen_port = (uint16_t)d.tok[t].val;

    t = benc_dict_get_type(&d, 0, "yourip", BENC_STR);
    if (t && (d.tok[t].count == 4 || d.tok[t].count == 16)) {
        size_t len;
        const uint8_t *s = benc_str(&d, t, &len);
        memcpy(out->yourip, s, len);
        out->yourip_len = (uint8_t)len;
    }

    /* BEP 21: upload_only is an integer, nonzero for a (partial) seed. */
    t = benc_dict_get_type(&d, 0, "upload_only", BENC_INT);
    if (t && d.tok[t].val != 0)
        out->upload_only = 1;
    rc = 0;

out:
    benc_doc_cleanup(&d);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

int
ext_encode_handshake(const struct ext_handshake *ours, struct buf *out)
{
    struct benc_enc e;
    uint8_t *data = NULL;
    size_t len = 0;

    /* Keys go in byte order (BEP 3); the encoder refuses them otherwise. */
    benc_enc_init(&e, EXT_MAX_HANDSHAKE);
    benc_dict_begin(&e);
    benc_key(&e, "m");
    benc_dict_begin(&e);
    if (ours->ut_metadata) {
        benc_key(&e, "ut_metadata");
        benc_put_int(&e, ours->ut_metadata);
    }
    if (ours->ut_pex) {
        benc_key(&e, "ut_pex");
        benc_put_int(&e, ours->ut_pex);
    }
    benc_end(&e);
    if (ours->metadata_size) {
        benc_key(&e, "metadata_size");
        benc_put_int(&e, ours->metadata_size);
    }
    if (ours->listen_port) {
        benc_key(&e, "p");
        benc_put_int(&e, ours->listen_port);
    }
    if (ours->reqq) {
        benc_key(&e, "reqq");
        benc_put_int(&e, ours->reqq);
    }
    if (ours->upload_only) {
        benc_key(&e, "upload_only");
        benc_put_int(&e, 1);
    }
    size_t vlen = strnlen(ours->client, sizeof(ours->client));
    if (vlen) {
        benc_key(&e, "v");
        benc_put_str(&e, ours->client, vlen);
    }
    if (ours->yourip_len == 4 || ours->yourip_len == 16) {
        benc_key(&e, "yourip");
        benc_put_str(&e, ours->yourip, ours->yourip_len);
    }
    benc_end(&e);

    int rc = benc_enc_finish(&e, &data, &len);
    if (rc == 0)
        rc = buf_append(out, data, len);
    xfree(data);
    benc_enc_cleanup(&e);
    return rc;
}
