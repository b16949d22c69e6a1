/*
 * tracker_req.c — the tracker server's request parsers and reply encoders:
 * HTTP announce and scrape queries (BEP 3, BEP 23, BEP 7, BEP 48) and UDP
 * tracker datagrams (BEP 15, BEP 41), plus stateless UDP connection ids.
 * Codec layer (used by the server): it never touches a socket or the clock
 * and allocates only inside the encoders' output buffers.
 *
 * Parsers check every byte they are given and report the first problem with
 * its offset and a static reason; slices they return point into the input.
 */
#include "codec/tracker_req.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/siphash.h"
#include "base/sockaddr.h"

#include "base/util.h"
#include "codec/bencode.h"

/* ------------------------------------------------------------------ helpers */

static uint32_t
clamp_numwant(uint64_t v)
{
    return v > TRACKER_REQ_NUMWANT_MAX ? TRACKER_REQ_NUMWANT_MAX : (uint32_t)v;
}

/* ------------------------------------------------------------------ queries */

/* One name=value pair of a query string, as raw slices. */
struct param {
    const char *name;
    size_t name_len;
    const char *val; /* empty, not NULL, when there is no '=' */
    size_t val_len;
    size_t off;     /* offset of the name */
    size_t val_off; /* offset of the value */
};

/* The next non-empty pair at or after *pos; 0 at the end. */
static int
next_param(const char *q, size_t len, size_t *pos, struct param *p)
{
    while (*pos < len && q[*pos] == '&')
        (*pos)++;
    if (*pos >= len)
        return 0;
    size_t start = *pos, end = start;
    while (end < len && q[end] != '&')
        end++;
    const char *eq = memchr(q + start, '=', end - start);
    p->name = q + start;
    p->off = start;
    if (eq) {
        p->name_len = (size_t)(eq - (q + start));
        p->val = eq + 1;
        p->val_off = (size_t)(eq + 1 - q);
        p->val_len = end - p->val_off;
    } else {
        p->name_len = end - start;
        p->val = q + end;
        p->val_off = end;
        p->val_len = 0;
    }
    *pos = end;
    return 1;
}

static int
is(const struct param *p, const char *name)
{
    size_t n = strlen(name);
    return p->name_len == n && memcmp(p->name, name, n) == 0;
}

static int
val_is(const struct param *p, const char *v)
{
    size_t n = strlen(v);
    return p->val_len == n && memcmp(p->val, v, n) == 0;
}

/* Percent-decodes a value that must come to exactly 20 bytes. */
static int
decode20(const struct param *p, uint8_t out[20], const char *name, struct shoal_perr *err)
{
    char tmp[60];
    /* Each decoded byte takes 1 to 3 characters. */
    if (p->val_len > sizeof(tmp))
        return perr_failf(err, p->off, SHOAL_EPARSE, "value is not 20 bytes",
                          "%s is %zu characters, too long for 20 bytes", name,
                          p->val_len);
    size_t bad_off = 0;
    long n = pct_decode(p->val, p->val_len, tmp, &bad_off);
    if (n < 0)
        return perr_fail(err, p->val_off + bad_off, SHOAL_EPARSE, "bad percent escape");
    if (n != 20)
        return perr_failf(err, p->off, SHOAL_EPARSE, "value is not 20 bytes",
                          "%s decodes to %ld bytes, want 20", name, n);
    memcpy(out, tmp, 20);
    return 0;
}

static int
decode_ip(const struct param *p, char out[TRACKER_REQ_MAX_IP + 1], struct shoal_perr *err)
{
    char tmp[3 * TRACKER_REQ_MAX_IP];
    if (p->val_len > sizeof(tmp))
        return perr_fail(err, p->off, SHOAL_EPARSE, "address too long");
    size_t bad_off = 0;
    long n = pct_decode(p->val, p->val_len, tmp, &bad_off);
    if (n < 0)
        return perr_fail(err, p->val_off + bad_off, SHOAL_EPARSE, "bad percent escape");
    if (n > TRACKER_REQ_MAX_IP)
        return perr_fail(err, p->off, SHOAL_EPARSE, "address too long");
    if (memchr(tmp, '\0', (size_t)n))
        return perr_fail(err, p->off, SHOAL_EPARSE, "address contains a NUL byte");
    memcpy(out, tmp, (size_t)n);
    out[n] = '\0';
    return 0;
}

static int
parse_num(const struct param *p, uint64_t *out, const char *why, struct shoal_perr *err)
{
    if (parse_u64(p->val, p->val_len, out) != 0)
        return perr_fail(err, p->val_off, SHOAL_EPARSE, why);
    return 0;
}

static int
parse_flag(const struct param *p, int *out, const char *why, struct shoal_perr *err)
{
    if (val_is(p, "0"))
        *out = 0;
    else if (val_is(p, "1"))
        *out = 1;
    else
        return perr_fail(err, p->val_off, SHOAL_EPARSE, why);
    return 0;
}

/* numwant: negative or not a number means the default (clients send -1). */
static uint32_t
parse_numwant(const struct param *p)
{
    uint64_t v;
    if (parse_u64(p->val, p->val_len, &v) != 0) {
        /* A run of digits too big for 64 bits still asks for the most. */
        size_t i = 0;
        while (i < p->val_len && p->val[i] >= '0' && p->val[i] <= '9')
            i++;
        return i == p->val_len && i > 0 ? TRACKER_REQ_NUMWANT_MAX
                                        : TRACKER_REQ_NUMWANT_DEFAULT;
    }
    return clamp_numwant(v);
}

static int
check_query_len(size_t len, struct shoal_perr *err)
{
    if (len > TRACKER_REQ_MAX_QUERY)
        return perr_failf(err, TRACKER_REQ_MAX_QUERY, SHOAL_ETOOBIG, "query too long",
                          "query of %zu bytes, the limit is %u", len,
                          TRACKER_REQ_MAX_QUERY);
    return 0;
}

int
tracker_req_parse_announce(const char *query, size_t len,
                           struct tracker_req_announce *out, struct shoal_perr *err)
{
    memset(out, 0, sizeof(*out));
    out->left = UINT64_MAX;
    out->compact = 1;
    out->numwant = TRACKER_REQ_NUMWANT_DEFAULT;
    int rc = check_query_len(len, err);
    if (rc)
        return rc;

    int have_hash = 0, have_id = 0, have_port = 0;
    size_t pos = 0;
    struct param p;
    while (next_param(query, len, &pos, &p)) {
        uint64_t v;
        if (is(&p, "info_hash")) {
            /* A second info_hash is a scrape habit; an announce is for one. */
            if (have_hash)
                return perr_fail(err, p.off, SHOAL_EPARSE, "info_hash repeated");
            rc = decode20(&p, out->info_hash, "info_hash", err);
            have_hash = 1;
        } else if (is(&p, "peer_id")) {
            rc = decode20(&p, out->peer_id, "peer_id", err);
            have_id = 1;
        } else if (is(&p, "port")) {
            if (parse_u64(p.val, p.val_len, &v) != 0)
                return perr_fail(err, p.val_off, SHOAL_EPARSE, "port is not a number");
            if (v == 0)
                return perr_fail(err, p.val_off, SHOAL_EPARSE, "port 0");
            if (v > 65535)
                return perr_fail(err, p.val_off, SHOAL_EPARSE, "port above 65535");
            out->port = (uint16_t)v;
            have_port = 1;
        } else if (is(&p, "uploaded")) {
            rc = parse_num(&p, &out->uploaded, "uploaded is not a number", err);
        } else if (is(&p, "downloaded")) {
            rc = parse_num(&p, &out->downloaded, "downloaded is not a number", err);
        } else if (is(&p, "left")) {
            rc = parse_num(&p, &out->left, "left is not a number", err);
        } else if (is(&p, "event")) {
            out->paused = 0;
            if (val_is(&p, "started"))
                out->event = TRACKER_REQ_EVENT_STARTED;
            else if (val_is(&p, "completed"))
                out->event = TRACKER_REQ_EVENT_COMPLETED;
            else if (val_is(&p, "stopped"))
                out->event = TRACKER_REQ_EVENT_STOPPED;
            else if (val_is(&p, "") || val_is(&p, "empty"))
                out->event = TRACKER_REQ_EVENT_NONE;
            else if (val_is(&p, "paused")) {
                /* BEP 21: a partial seed that wants nothing more. */
                out->event = TRACKER_REQ_EVENT_NONE;
                out->paused = 1;
            } else
                return perr_fail(err, p.val_off, SHOAL_EPARSE, "unknown event");
        } else if (is(&p, "compact")) {
            rc = parse_flag(&p, &out->compact, "compact is not 0 or 1", err);
        } else if (is(&p, "no_peer_id")) {
            rc = parse_flag(&p, &out->no_peer_id, "no_peer_id is not 0 or 1", err);
        } else if (is(&p, "numwant")) {
            out->numwant = parse_numwant(&p);
        } else if (is(&p, "key")) {
            out->key = p.val;
            out->key_len = p.val_len;
        } else if (is(&p, "trackerid")) {
            out->trackerid = p.val;
            out->trackerid_len = p.val_len;
        } else if (is(&p, "ip")) {
            rc = decode_ip(&p, out->ip, err);
        } else if (is(&p, "ipv4")) {
            rc = decode_ip(&p, out->ipv4, err);
        } else if (is(&p, "ipv6")) {
            rc = decode_ip(&p, out->ipv6, err);
        }
        if (rc)
            return rc;
    }
    if (!have_hash)
        return perr_fail(err, len, SHOAL_EPARSE, "info_hash missing");
    if (!have_id)
        return perr_fail(err, len, SHOAL_EPARSE, "peer_id missing");
    if (!have_port)
        return perr_fail(err, len, SHOAL_EPARSE, "port missing");
    return 0;
}

int
tracker_req_parse_scrape(const char *query, size_t len, uint8_t (*out)[20], size_t max,
                         size_t *n, struct shoal_perr *err)
{
    *n = 0;
    int rc = check_query_len(len, err);
    if (rc)
        return rc;
    size_t pos = 0;
    struct param p;
    while (next_param(query, len, &pos, &p)) {
        if (!is(&p, "info_hash"))
            continue;
        if (*n == max)
            return perr_failf(err, p.off, SHOAL_ETOOBIG, "too many info_hash",
                              "more than %zu info_hash in one scrape", max);
        rc = decode20(&p, out[*n], "info_hash", err);
        if (rc)
            return rc;
        (*n)++;
    }
    return 0;
}

/* ------------------------------------------------------------------ replies */

/* Appends the finished encoder output to out, all or nothing. */
static int
flush(struct benc_enc *e, struct buf *out)
{
    int rc = benc_enc_error(e);
    if (!rc && e->depth != 0)
        rc = SHOAL_EINVAL;
    if (!rc)
        rc = buf_append(out, e->buf.data, e->buf.len);
    benc_enc_cleanup(e);
    return rc;
}

static void
put_peer_dict(struct benc_enc *e, int af, const uint8_t *rec, size_t alen)
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, rec, text, sizeof(text)))
        text[0] = '\0';
    benc_dict_begin(e);
    benc_key(e, "ip");
    benc_put_cstr(e, text);
    benc_key(e, "port");
    benc_put_int(e, (int64_t)rec[alen] << 8 | rec[alen + 1]);
    benc_end(e);
}

int
tracker_req_encode_announce_reply(struct buf *out, uint32_t interval,
                                  uint32_t min_interval, int64_t complete,
                                  int64_t incomplete, const uint8_t *peers4,
                                  size_t n4bytes, const uint8_t *peers6, size_t n6bytes,
                                  int compact, const char *warning)
{
    if (n4bytes % 6 || n6bytes % 18 || (n4bytes && !peers4) || (n6bytes && !peers6))
        return SHOAL_EINVAL;
    if (out->err)
        return out->err;
    struct benc_enc e;
    benc_enc_init(&e, out->max - out->len);
    /* BEP 3: keys in byte order. */
    benc_dict_begin(&e);
    benc_key(&e, "complete");
    benc_put_int(&e, complete);
    benc_key(&e, "incomplete");
    benc_put_int(&e, incomplete);
    benc_key(&e, "interval");
    benc_put_int(&e, interval);
    if (min_interval) {
        benc_key(&e, "min interval");
        benc_put_int(&e, min_interval);
    }
    benc_key(&e, "peers");
    if (compact) {
        /* BEP 23 and BEP 7: the records as they are stored. */
        benc_put_str(&e, n4bytes ? peers4 : (const uint8_t *)"", n4bytes);
        if (n6bytes) {
            benc_key(&e, "peers6");
            benc_put_str(&e, peers6, n6bytes);
        }
    } else {
        benc_list_begin(&e);
        for (size_t i = 0; i < n4bytes; i += 6)
            put_peer_dict(&e, AF_INET, peers4 + i, 4);
        for (size_t i = 0; i < n6bytes; i += 18)
            put_peer_dict(&e, AF_INET6, peers6 + i, 16);
        benc_end(&e);
    }
    if (warning) {
        benc_key(&e, "warning message");
        benc_put_cstr(&e, warning);
    }
    benc_end(&e);
    return flush(&e, out);
}

int
tracker_req_encode_failure(struct buf *out, const char *reason)
{
    if (out->err)
        return out->err;
    struct benc_enc e;
    benc_enc_init(&e, out->max - out->len);
    benc_dict_begin(&e);
    benc_key(&e, "failure reason");
    benc_put_cstr(&e, reason ? reason : "");
    benc_end(&e);
    return flush(&e, out);
}

static int
cmp_entry(const void *a, const void *b)
{
    return memcmp(((const struct tracker_req_scrape_entry *)a)->info_hash,
                  ((const struct tracker_req_scrape_entry *)b)->info_hash, 20);
}

int
tracker_req_encode_scrape_reply(struct buf *out, struct tracker_req_scrape_entry *e,
                                size_t n)
{
    if (out->err)
        return out->err;
    if (n > 1)
        qsort(e, n, sizeof(*e), cmp_entry);
    /* The files dictionary has binary keys, which the encoder's C-string
     * keys cannot carry, so it is written here and put in as a raw value.
     * Sorting above puts the keys in the byte order BEP 3 asks for. */
    struct buf files;
    buf_init(&files, out->max - out->len);
    buf_append_byte(&files, 'd');
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && memcmp(e[i].info_hash, e[i - 1].info_hash, 20) == 0)
            continue;
        buf_append(&files, "20:", 3);
        buf_append(&files, e[i].info_hash, 20);
        buf_printf(&files, "d8:completei%llue10:downloadedi%llue10:incompletei%lluee",
                   (unsigned long long)e[i].complete, (unsigned long long)e[i].downloaded,
                   (unsigned long long)e[i].incomplete);
    }
    buf_append_byte(&files, 'e');
    int rc = buf_error(&files);
    if (rc) {
        buf_cleanup(&files);
        return rc;
    }
    struct benc_enc enc;
    benc_enc_init(&enc, out->max - out->len);
    benc_dict_begin(&enc);
    benc_key(&enc, "files");
    benc_put_raw(&enc, files.data, files.len);
    benc_end(&enc);
    buf_cleanup(&files);
    return flush(&enc, out);
}

/* ------------------------------------------------------------------ UDP */

/* BEP 41 options after the announce: EndOfOptions (0), NOP (1), and
 * type, length, data for every other type. URLData (2) is collected. */
static void
parse_options(const uint8_t *p, size_t n, size_t pos, struct tracker_req_udp *out)
{
    while (pos < n) {
        uint8_t type = p[pos];
        if (type == 0)
            return;
        if (type == 1) {
            pos++;
            continue;
        }
        if (n - pos < 2 || n - pos - 2 < p[pos + 1]) {
            out->url_truncated = 1;
            return;
        }
        size_t len = p[pos + 1];
        if (type == 2) {
            size_t room = sizeof(out->url) - out->url_len;
            size_t take = len < room ? len : room;
            memcpy(out->url + out->url_len, p + pos + 2, take);
            out->url_len += take;
            if (take < len)
                out->url_truncated = 1;
        }
        pos += 2 + len;
    }
}

int
tracker_req_parse_udp(const uint8_t *p, size_t n, struct tracker_req_udp *out,
                      struct shoal_perr *err)
{
    /* Everything but the URL bytes, which only url_len of count: clearing
     * the whole kilobyte for every datagram would cost more than the rest
     * of the parse. */
    memset(out, 0, offsetof(struct tracker_req_udp, url));
    out->url_len = 0;
    out->url_truncated = 0;
    out->hashes = NULL;
    out->nhashes = 0;
    if (n < 16)
        return perr_failf(err, n, SHOAL_EPARSE, "packet too short",
                          "a request of %zu bytes, want at least 16", n);
    out->conn_id = be64_get(p);
    out->action = be32_get(p + 8);
    out->tid = be32_get(p + 12);
    switch (out->action) {
    case TRACKER_REQ_CONNECT:
        /* BEP 15: the magic constant tells a tracker request from noise. */
        if (out->conn_id != TRACKER_REQ_UDP_PROTOCOL_ID)
            return perr_fail(err, 0, SHOAL_EPARSE, "connect without the protocol id");
        return 0;
    case TRACKER_REQ_ANNOUNCE: {
        if (n < TRACKER_REQ_UDP_ANNOUNCE_LEN)
            return perr_failf(err, n, SHOAL_EPARSE, "announce too short",
                              "an announce of %zu bytes, want at least 98", n);
        memcpy(out->info_hash, p + 16, 20);
        memcpy(out->peer_id, p + 36, 20);
        out->downloaded = be64_get(p + 56);
        out->left = be64_get(p + 64);
        out->uploaded = be64_get(p + 72);
        out->event = be32_get(p + 80);
        out->ip = be32_get(p + 84);
        out->key = be32_get(p + 88);
        out->numwant_raw = (int32_t)be32_get(p + 92);
        out->port = (uint16_t)(p[96] << 8 | p[97]);
        if (out->event > TRACKER_REQ_EVENT_STOPPED)
            return perr_failf(err, 80, SHOAL_EPARSE, "unknown event",
                              "event %u, want 0 to 3", (unsigned)out->event);
        if (out->port == 0)
            return perr_fail(err, 96, SHOAL_EPARSE, "port 0");
        out->numwant = out->numwant_raw < 0 ? TRACKER_REQ_NUMWANT_DEFAULT
                                            : clamp_numwant((uint64_t)out->numwant_raw);
        parse_options(p, n, TRACKER_REQ_UDP_ANNOUNCE_LEN, out);
        return 0;
    }
    case TRACKER_REQ_SCRAPE: {
        size_t k = (n - 16) / 20;
        if ((n - 16) % 20)
            return perr_failf(err, 16 + k * 20, SHOAL_EPARSE,
                              "scrape length is not 16 + 20k", "a scrape of %zu bytes",
                              n);
        if (k == 0)
            return perr_fail(err, 16, SHOAL_EPARSE, "scrape without an info_hash");
        if (k > TRACKER_REQ_UDP_MAX_SCRAPE)
            return perr_failf(err, 16 + 20 * TRACKER_REQ_UDP_MAX_SCRAPE, SHOAL_ETOOBIG,
                              "too many info_hash",
                              "a scrape of %zu info_hash, at most %d", k,
                              TRACKER_REQ_UDP_MAX_SCRAPE);
        out->hashes = p + 16;
        out->nhashes = k;
        return 0;
    }
    default:
        return perr_failf(err, 8, SHOAL_EPARSE, "unknown action", "action %u",
                          (unsigned)out->action);
    }
}

size_t
tracker_req_udp_connect_resp(uint8_t *out, uint32_t tid, uint64_t conn_id)
{
    be32_put(out, TRACKER_REQ_CONNECT);
    be32_put(out + 4, tid);
    be64_put(out + 8, conn_id);
    return 16;
}

size_t
tracker_req_udp_announce_resp(uint8_t *out, size_t outcap, uint32_t tid,
                              uint32_t interval, uint32_t leechers, uint32_t seeders,
                              const uint8_t *peers, size_t peers_len)
{
    if (outcap < TRACKER_REQ_UDP_ANNOUNCE_HDR ||
        peers_len > outcap - TRACKER_REQ_UDP_ANNOUNCE_HDR)
        return 0;
    be32_put(out, TRACKER_REQ_ANNOUNCE);
    be32_put(out + 4, tid);
    be32_put(out + 8, interval);
    be32_put(out + 12, leechers);
    be32_put(out + 16, seeders);
    if (peers && peers_len)
        memcpy(out + 20, peers, peers_len);
    return TRACKER_REQ_UDP_ANNOUNCE_HDR + peers_len;
}

static uint32_t
clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

size_t
tracker_req_udp_scrape_resp(uint8_t *out, size_t outcap, uint32_t tid,
                            const struct tracker_req_scrape_entry *e, size_t n)
{
    if (outcap < 8 || n > (outcap - 8) / 12)
        return 0;
    be32_put(out, TRACKER_REQ_SCRAPE);
    be32_put(out + 4, tid);
    for (size_t i = 0; i < n; i++) {
        uint8_t *q = out + 8 + 12 * i;
        be32_put(q, clamp32(e[i].complete));
        be32_put(q + 4, clamp32(e[i].downloaded));
        be32_put(q + 8, clamp32(e[i].incomplete));
    }
    return 8 + 12 * n;
}

size_t
tracker_req_udp_error_resp(uint8_t *out, size_t outcap, uint32_t tid, const char *msg)
{
    if (outcap < 8)
        return 0;
    be32_put(out, TRACKER_REQ_ERROR);
    be32_put(out + 4, tid);
    size_t len = msg ? strlen(msg) : 0;
    if (len > outcap - 8)
        len = outcap - 8;
    if (len)
        memcpy(out + 8, msg, len);
    return 8 + len;
}

/* ------------------------------------------------------------------ conn ids */

/* The MAC input for a client: family, address, port, window. Returns its
 * length, or 0 for an address family that has no connection ids. */
static size_t
conn_input(const struct sockaddr *sa, uint64_t window, uint8_t out[1 + 16 + 2 + 8])
{
    /* The same client over a dual-stack socket gets the same id. */
    size_t n = sockaddr_ip_bytes(sa, SOCKADDR_UNMAP_V4, out + 1);
    if (n == 0)
        return 0;
    out[0] = n == 4 ? 4 : 6;
    be16_put(out + 1 + n, sockaddr_port(sa));
    be64_put(out + 1 + n + 2, window);
    return 1 + n + 2 + 8;
}

/* The id for one window into out[8]; 0 on failure. */
static int
conn_mac(const uint8_t key[32], const struct sockaddr *sa, uint64_t window,
         uint8_t out[8])
{
    uint8_t in[1 + 16 + 2 + 8];
    size_t n = conn_input(sa, window, in);
    if (n == 0)
        return 0;
    uint64_t k0, k1;
    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);
    /* SipHash-2-4: a MAC that costs well under a microsecond, where an
     * HMAC-SHA256 cost 1.4 us per datagram. */
    uint64_t h = siphash24(k0, k1, in, n);
    memcpy(out, &h, 8);
    return 1;
}

uint64_t
tracker_req_conn_id(const uint8_t key[32], const struct sockaddr *client, uint64_t now_s)
{
    uint8_t id[8];
    if (!conn_mac(key, client, now_s / TRACKER_REQ_CONN_WINDOW, id))
        return 0;
    return be64_get(id);
}

int
tracker_req_conn_id_ok(const uint8_t key[32], const struct sockaddr *client,
                       uint64_t conn_id, uint64_t now_s)
{
    uint64_t w = now_s / TRACKER_REQ_CONN_WINDOW;
    uint8_t given[8], mac[8];
    be64_put(given, conn_id);
    /* BEP 15: a tracker should accept an id for two minutes after it sent
     * it, so the two windows before count too and an id lives 120 to 180
     * seconds. Older windows are tried only when the newer ones fail,
     * which honest clients rarely make them do. */
    for (uint64_t back = 0; back < TRACKER_REQ_CONN_WINDOWS && back <= w; back++) {
        if (!conn_mac(key, client, w - back, mac))
            return 0;
        if (CRYPTO_memcmp(given, mac, 8) == 0)
            return 1;
    }
    return 0;
}
