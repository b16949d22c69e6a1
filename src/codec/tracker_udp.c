/*
 * tracker_udp.c — client side of the UDP tracker protocol: connect, announce
 * (with the BEP 41 URLData option) and scrape requests, response parsing,
 * the retransmit schedule and udp:// URLs (BEP 15, BEP 41). Codec layer.
 *
 * Pure: packets are written into and read from caller buffers, and the only
 * allocation is the peer list of an announce response. It must not send or
 * receive anything, resolve host names or read the clock; the session owns
 * the socket and the timers and follows tracker_udp_timeout_s() and
 * TRACKER_UDP_CONN_ID_TTL_S. Every field of a response is checked against
 * the transaction it answers before the caller sees it.
 */
#include "codec/tracker_udp.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

/* ------------------------------------------------------------------ helpers */

/* The 16-byte header every request opens with. */
static void
put_header(uint8_t *out, uint64_t conn_id, uint32_t action, uint32_t tid)
{
    be64_put(out, conn_id);
    be32_put(out + 8, action);
    be32_put(out + 12, tid);
}

/* ------------------------------------------------------------------ requests */

size_t
tracker_udp_connect_req(uint8_t out[TRACKER_UDP_CONNECT_LEN], uint32_t tid)
{
    put_header(out, TRACKER_UDP_PROTOCOL_ID, TRACKER_UDP_CONNECT, tid);
    return TRACKER_UDP_CONNECT_LEN;
}

size_t
tracker_udp_announce_req(uint8_t *out, size_t cap, uint64_t conn_id, uint32_t tid,
                         const struct tracker_announce *a, uint32_t ip,
                         const char *urldata)
{
    size_t ulen = urldata ? strlen(urldata) : 0;
    if (ulen > TRACKER_UDP_MAX_URLDATA)
        return 0;
    if (a->event < TRACKER_EVENT_NONE || a->event > TRACKER_EVENT_STOPPED)
        return 0;
    size_t chunks = (ulen + 254) / 255;
    size_t need = TRACKER_UDP_ANNOUNCE_LEN + (ulen ? ulen + 2 * chunks + 1 : 0);
    if (cap < need)
        return 0;

    put_header(out, conn_id, TRACKER_UDP_ANNOUNCE, tid);
    memcpy(out + 16, a->infohash, 20);
    memcpy(out + 36, a->peer_id, 20);
    be64_put(out + 56, a->downloaded);
    be64_put(out + 64, a->left);
    be64_put(out + 72, a->uploaded);
    /* enum tracker_event uses the BEP 15 numbers. */
    be32_put(out + 80, (uint32_t)a->event);
    be32_put(out + 84, ip);
    be32_put(out + 88, a->key);
    be32_put(out + 92, a->numwant < 0 ? 0xffffffffu : (uint32_t)a->numwant);
    be16_put(out + 96, a->port);

    /* BEP 41: URLData chunks of at most 255 bytes, joined by the tracker,
     * and an explicit end so that nothing after them is read as options. */
    size_t o = TRACKER_UDP_ANNOUNCE_LEN;
    for (size_t done = 0; done < ulen;) {
        size_t k = ulen - done < 255 ? ulen - done : 255;
        out[o++] = TRACKER_UDP_OPT_URLDATA;
        out[o++] = (uint8_t)k;
        memcpy(out + o, urldata + done, k);
        o += k;
        done += k;
    }
    if (ulen)
        out[o++] = TRACKER_UDP_OPT_END;
    return o;
}

size_t
tracker_udp_scrape_req(uint8_t *out, size_t cap, uint64_t conn_id, uint32_t tid,
                       const uint8_t (*hashes)[20], size_t n)
{
    if (n == 0 || n > TRACKER_UDP_MAX_SCRAPE || cap < TRACKER_UDP_SCRAPE_LEN(n))
        return 0;
    put_header(out, conn_id, TRACKER_UDP_SCRAPE, tid);
    for (size_t i = 0; i < n; i++)
        memcpy(out + 16 + 20 * i, hashes[i], 20);
    return TRACKER_UDP_SCRAPE_LEN(n);
}

/* ------------------------------------------------------------------ responses */

void
tracker_udp_response_cleanup(struct tracker_udp_response *r)
{
    xfree(r->peers);
    memset(r, 0, sizeof(*r));
}

/* The interval rule of HTTP replies: clamped, or 0 when unusable. BEP 15
 * sends it as a signed 32-bit number. */
static uint32_t
clamp_interval(uint32_t raw)
{
    int32_t v = (int32_t)raw;
    if (v < 1)
        return 0;
    if (v < TRACKER_MIN_INTERVAL_S)
        return TRACKER_MIN_INTERVAL_S;
    if (v > TRACKER_MAX_INTERVAL_S)
        return TRACKER_MAX_INTERVAL_S;
    return (uint32_t)v;
}

static int
parse_announce(const uint8_t *p, size_t n, int family, struct tracker_udp_response *out,
               struct shoal_perr *err)
{
    if (n == 8) {
        /* opentracker answers an announce for a torrent its whitelist does
         * not hold with the bare 8-byte header and nothing else. No reading
         * of BEP 15 makes that a valid announce, but it is a refusal, and
         * the user should hear it as one rather than as a broken packet. */
        out->action = TRACKER_UDP_ERROR;
        snprintf(out->error, sizeof(out->error), "%s", TRACKER_UDP_EMPTY_ANNOUNCE);
        return 0;
    }
    if (n < 20)
        return perr_fail(err, n, SHOAL_EPARSE, "announce response shorter than 20 bytes");
    size_t stride = family == 4 ? 6 : 18;
    /* The peers run to the end of the packet, so a partial one cannot be a
     * later extension: the packet is broken. */
    if ((n - 20) % stride)
        return perr_fail(err, 20 + (n - 20) / stride * stride, SHOAL_EPARSE,
                         family == 4 ? "peer list length not a multiple of 6"
                                     : "peer list length not a multiple of 18");
    out->interval = clamp_interval(be32_get(p + 8));
    out->leechers = be32_get(p + 12);
    out->seeders = be32_get(p + 16);
    if (tracker_http_compact_peers(p + 20, n - 20, family, &out->peers, &out->npeers))
        return perr_fail(err, 20, SHOAL_ENOMEM, "out of memory");
    return 0;
}

static int
parse_scrape(const uint8_t *p, size_t n, struct tracker_udp_response *out,
             struct shoal_perr *err)
{
    if ((n - 8) % 12)
        return perr_fail(err, 8 + (n - 8) / 12 * 12, SHOAL_EPARSE,
                         "scrape response length not a multiple of 12");
    size_t count = (n - 8) / 12;
    if (count > TRACKER_UDP_MAX_SCRAPE)
        return perr_fail(err, 8 + TRACKER_UDP_MAX_SCRAPE * 12, SHOAL_EPARSE,
                         "more scrape entries than a request can ask for");
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = p + 8 + 12 * i;
        out->scrape[i].seeders = be32_get(e);
        out->scrape[i].completed = be32_get(e + 4);
        out->scrape[i].leechers = be32_get(e + 8);
    }
    out->nscrape = count;
    return 0;
}

int
tracker_udp_parse_response(const uint8_t *p, size_t n, uint32_t expect_tid, int family,
                           struct tracker_udp_response *out, struct shoal_perr *err)
{
    memset(out, 0, sizeof(*out));
    if (family != 4 && family != 6)
        return perr_fail(err, 0, SHOAL_EINVAL, "address family is neither 4 nor 6");
    /* BEP 15: every response opens with the action and the transaction id. */
    if (n < 8)
        return perr_fail(err, n, SHOAL_EPARSE, "response shorter than 8 bytes");
    uint32_t action = be32_get(p);
    uint32_t tid = be32_get(p + 4);
    /* Older opentracker releases wrote the error action in host order, so on
     * the x86 machines they run on it arrives as 0x03000000. No other
     * action comes near that value, so it is read as the error it is. */
    if (action == TRACKER_UDP_ERROR_LE)
        action = TRACKER_UDP_ERROR;
    if (tid != expect_tid)
        return perr_fail(err, 4, SHOAL_EPARSE, "transaction id mismatch");
    out->tid = tid;
    int rc = 0;
    switch (action) {
    case TRACKER_UDP_CONNECT:
        /* BEP 15: packets may grow in later versions, so bytes after the
         * connection id are not an error. */
        if (n < 16) {
            rc =
                perr_fail(err, n, SHOAL_EPARSE, "connect response shorter than 16 bytes");
            break;
        }
        out->conn_id = be64_get(p + 8);
        break;
    case TRACKER_UDP_ANNOUNCE:
        rc = parse_announce(p, n, family, out, err);
        break;
    case TRACKER_UDP_SCRAPE:
        rc = parse_scrape(p, n, out, err);
        break;
    case TRACKER_UDP_ERROR:
        tracker_http_sanitize_text(out->error, sizeof(out->error), p + 8, n - 8);
        break;
    default:
        rc = perr_fail(err, 0, SHOAL_EPARSE, "unknown action");
        break;
    }
    if (rc) {
        tracker_udp_response_cleanup(out);
        return rc;
    }
    /* parse_announce() may have turned an empty announce into an error. */
    if (out->action == 0)
        out->action = (int)action;
    return 0;
}

/* ------------------------------------------------------------------ timing */

uint32_t
tracker_udp_timeout_s(int attempt)
{
    if (attempt < 0)
        attempt = 0;
    if (attempt > TRACKER_UDP_MAX_ATTEMPT)
        attempt = TRACKER_UDP_MAX_ATTEMPT;
    return (uint32_t)TRACKER_UDP_BASE_TIMEOUT_S << attempt;
}

int
tracker_udp_give_up(int attempt)
{
    return attempt > TRACKER_UDP_MAX_ATTEMPT;
}

/* ------------------------------------------------------------------ URLs */

static int
is_hex_or_sep(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

/* Copies s[0..n) as a C string into out[0..cap). */
static int
copy_out(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return SHOAL_ETOOBIG;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int
tracker_udp_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port,
                      char *urldata, size_t urldatalen)
{
    static const char scheme[] = "udp://";
    for (size_t i = 0; i < sizeof(scheme) - 1; i++) {
        char c = url[i];
        if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != scheme[i])
            return SHOAL_EINVAL;
    }
    size_t len = strlen(url);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)url[i];
        if (c <= 0x20 || c == 0x7f)
            return SHOAL_EINVAL;
    }
    const char *frag = strchr(url, '#');
    size_t end = frag ? (size_t)(frag - url) : len;
    size_t at = sizeof(scheme) - 1;
    size_t auth_end = at;
    while (auth_end < end && url[auth_end] != '/' && url[auth_end] != '?')
        auth_end++;
    if (memchr(url + at, '@', auth_end - at))
        return SHOAL_EINVAL;

    size_t h0, h1, colon;
    if (at < auth_end && url[at] == '[') {
        const char *close = memchr(url + at, ']', auth_end - at);
        if (!close)
            return SHOAL_EINVAL;
        h0 = at + 1;
        h1 = (size_t)(close - url);
        for (size_t i = h0; i < h1; i++)
            if (!is_hex_or_sep(url[i]))
                return SHOAL_EINVAL;
        colon = h1 + 1;
        if (colon >= auth_end || url[colon] != ':')
            return SHOAL_EINVAL;
    } else {
        const char *c = memchr(url + at, ':', auth_end - at);
        if (!c)
            return SHOAL_EINVAL;
        h0 = at;
        h1 = colon = (size_t)(c - url);
        /* A second colon: an IPv6 address without brackets. */
        if (memchr(url + colon + 1, ':', auth_end - colon - 1))
            return SHOAL_EINVAL;
    }
    if (h1 == h0)
        return SHOAL_EINVAL;
    uint64_t pv;
    size_t pn = auth_end - colon - 1;
    if (pn == 0 || pn > 5 || parse_u64(url + colon + 1, pn, &pv) || pv < 1 || pv > 65535)
        return SHOAL_EINVAL;
    size_t un = end - auth_end;
    if (un > TRACKER_UDP_MAX_URLDATA)
        return SHOAL_ETOOBIG;
    int rc = copy_out(host, hostlen, url + h0, h1 - h0);
    if (rc)
        return rc;
    rc = copy_out(urldata, urldatalen, url + auth_end, un);
    if (rc)
        return rc;
    *port = (uint16_t)pv;
    return 0;
}
