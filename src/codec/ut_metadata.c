/*
 * ut_metadata.c — the BEP 9 message codec. Codec layer.
 *
 * Every message comes from a stranger: the dictionary is decoded with a
 * small token cap, each number range-checked, and a data message must carry
 * exactly the bytes its piece has, so the caller can copy them without a
 * second look. A size claim is only a number here: nothing is allocated by
 * it. Nothing touches a socket or the clock.
 */
#include "codec/ut_metadata.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "codec/bencode.h"

uint32_t
ut_metadata_piece_count(uint32_t total_size)
{
    return (uint32_t)(((uint64_t)total_size + UT_METADATA_PIECE - 1) / UT_METADATA_PIECE);
}

uint32_t
ut_metadata_piece_len(uint32_t total_size, uint32_t piece)
{
    uint64_t start = (uint64_t)piece * UT_METADATA_PIECE;
    if (start >= total_size)
        return 0;
    uint64_t left = total_size - start;
    return left < UT_METADATA_PIECE ? (uint32_t)left : UT_METADATA_PIECE;
}

/* An integer value of the dictionary: 1 with *v set, 0 when absent or not
 * an integer. */
static int
get_int(const struct benc_doc *d, const char *key, int64_t *v)
{
    uint32_t t = benc_dict_get_type(d, 0, key, BENC_INT);
    if (!t)
        return 0;
    *v = d->tok[t].val;
    return 1;
}

static int
check_data(struct ut_metadata_msg *out, const struct benc_doc *d, size_t dict_len,
           size_t n, struct shoal_perr *err)
{
    int64_t total;
    if (!get_int(d, "total_size", &total))
        return perr_fail(err, 0, SHOAL_EPARSE, "data message without total_size");
    if (total < 1 || total > UT_METADATA_MAX_SIZE)
        return perr_failf(err, 0, SHOAL_ETOOBIG, "total_size out of range",
                          "total_size %lld, limit %u", (long long)total,
                          (unsigned)UT_METADATA_MAX_SIZE);
    out->total_size = (uint32_t)total;
    uint32_t want = ut_metadata_piece_len(out->total_size, out->piece);
    if (want == 0)
        return perr_failf(err, 0, SHOAL_EPARSE, "piece past the end of the metadata",
                          "piece %u of metadata of %u bytes", (unsigned)out->piece,
                          (unsigned)out->total_size);
    if (n - dict_len != want)
        return perr_failf(err, dict_len, SHOAL_EPARSE, "wrong piece length",
                          "piece %u has %zu bytes, want %u", (unsigned)out->piece,
                          n - dict_len, (unsigned)want);
    return 0;
}

int
ut_metadata_parse(const uint8_t *p, size_t n, struct ut_metadata_msg *out,
                  struct shoal_perr *err)
{
    memset(out, 0, sizeof(*out));
    struct benc_doc d;
    size_t used = 0;
    int rc = benc_decode(&d, p, n, UT_METADATA_MAX_TOKENS, &used, err);
    if (rc)
        goto out;
    if (d.tok[0].type != BENC_DICT) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "message is not a dictionary");
        goto out;
    }
    int64_t type, piece;
    if (!get_int(&d, "msg_type", &type)) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "message without msg_type");
        goto out;
    }
    if (!get_int(&d, "piece", &piece)) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "message without piece");
        goto out;
    }
    if (type < UT_METADATA_REQUEST || type > UT_METADATA_REJECT) {
        rc = perr_fail(err, 0, SHOAL_EUNSUPPORTED, "unknown msg_type");
        goto out;
    }
    if (piece < 0 || piece >= UT_METADATA_MAX_PIECES) {
        rc =
            perr_failf(err, 0, SHOAL_EPARSE, "piece out of range", "piece %lld, limit %u",
                       (long long)piece, (unsigned)UT_METADATA_MAX_PIECES);
        goto out;
    }
    out->type = (enum ut_metadata_type)type;
    out->piece = (uint32_t)piece;
    if (out->type == UT_METADATA_DATA) {
        rc = check_data(out, &d, used, n, err);
        if (!rc) {
            out->data = p + used;
            out->data_len = n - used;
        }
    } else if (used != n) {
        rc = perr_fail(err, used, SHOAL_EPARSE, "bytes after the dictionary");
    }
out:
    benc_doc_cleanup(&d);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

size_t
ut_metadata_encode(uint8_t *out, enum ut_metadata_type type, uint32_t piece,
                   uint32_t total_size)
{
    int n;
    /* Keys in byte order, as bencode wants: msg_type, piece, total_size. */
    if (type == UT_METADATA_DATA)
        n = snprintf((char *)out, UT_METADATA_MAX_HEADER,
                     "d8:msg_typei%de5:piecei%ue10:total_sizei%uee", (int)type,
                     (unsigned)piece, (unsigned)total_size);
    else
        n = snprintf((char *)out, UT_METADATA_MAX_HEADER, "d8:msg_typei%de5:piecei%uee",
                     (int)type, (unsigned)piece);
    return n > 0 ? (size_t)n : 0;
}
