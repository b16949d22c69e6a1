/*
 * tracker_http.c — client side of the HTTP tracker protocol: builds announce
 * and scrape URLs and parses the bencoded replies (BEP 3, 7, 23, 48). Codec
 * layer.
 *
 * Pure: strings and byte buffers in, URLs and validated structs out. It must
 * not fetch anything, resolve host names or look at the clock; the session
 * drives the HTTP transfer and hands the body here. Replies come from
 * strangers and are checked the way peer messages are: sizes are capped
 * before anything is allocated, every field is type-checked, and the peer
 * list that comes out holds only addresses that can be dialed, once each.
 */
#include "codec/tracker_http.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/bencode.h"

/* Bencode tokens one reply may make. A dictionary peer costs 7 tokens, so
 * TRACKER_MAX_PEERS of them fit many times over; the cap bounds the token
 * array (32 bytes a token) for a hostile 4 MiB body of tiny values. */
#define TRACKER_MAX_TOKENS (1u << 18)
/* Longest "ip" text looked at in a dictionary peer: the longest IPv6 text
 * form is 45 characters; anything longer is a host name or junk. */
#define TRACKER_MAX_IP_TEXT 46

/* ------------------------------------------------------------------ helpers */

static int
is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive prefix test; `pre` is lowercase. */
static int
iprefix(const char *s, const char *pre)
{
    for (size_t i = 0; pre[i]; i++)
        if (lower((unsigned char)s[i]) != pre[i])
            return 0;
    return 1;
}

size_t
tracker_http_sanitize_text(char *out, size_t cap, const uint8_t *in, size_t n)
{
    static const uint8_t q = '?', sp = ' ';
    while (n > 0 && (in[n - 1] == '\0' || is_ws(in[n - 1])))
        n--;
    size_t o = 0, i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(in + i, n - i);
        const uint8_t *s = in + i;
        size_t take = l;
        if (l == 0) {
            s = &q, take = 1, l = 1;
        } else if (l == 1 && is_ws(in[i])) {
            s = &sp;
        } else if (l == 1 && (in[i] < 0x20 || in[i] == 0x7f)) {
            s = &q;
        } else if (l == 2 && in[i] == 0xc2 && in[i + 1] < 0xa0) {
            /* C1 controls (U+0080..U+009F) steer some terminals too. */
            s = &q, take = 1;
        }
        if (take > cap - 1 - o)
            break;
        memcpy(out + o, s, take);
        o += take;
        i += l;
    }
    /* A cut can leave a space at the end. */
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

/* ------------------------------------------------------------------ URLs */

/* Where the parts of an http(s) URL are. */
struct url_parts {
    size_t path;  /* first byte after the authority ('/', '?' or end) */
    size_t query; /* the '?' or `end` when there is none */
    size_t end;   /* the '#' of a fragment, or the length */
};

static int
split_url(const char *url, struct url_parts *u)
{
    size_t at;
    if (iprefix(url, "http://"))
        at = 7;
    else if (iprefix(url, "https://"))
        at = 8;
    else
        return SHOAL_EINVAL;
    /* Spaces and control bytes would break the request line. */
    size_t len = strlen(url);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)url[i];
        if (c <= 0x20 || c == 0x7f)
            return SHOAL_EINVAL;
    }
    const char *hash = strchr(url, '#');
    u->end = hash ? (size_t)(hash - url) : len;
    size_t p = at;
    while (p < u->end && url[p] != '/' && url[p] != '?')
        p++;
    if (p == at)
        return SHOAL_EINVAL;
    u->path = p;
    const char *qm = memchr(url + p, '?', u->end - p);
    u->query = qm ? (size_t)(qm - url) : u->end;
    return 0;
}

/* Appends what joins a new parameter to url[0..end). */
static void
put_separator(struct buf *out, const char *url, const struct url_parts *u)
{
    if (u->query == u->end) {
        buf_append_byte(out, '?');
        return;
    }
    char last = url[u->end - 1];
    if (last != '?' && last != '&')
        buf_append_byte(out, '&');
}

/* Appends p[0..n) with every byte that is not unreserved as %XX. */
static void
put_escaped(struct buf *out, const uint8_t *p, size_t n)
{
    static const char hexup[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        if (pct_is_unreserved(p[i])) {
            buf_append_byte(out, p[i]);
        } else {
            char e[3] = {'%', hexup[p[i] >> 4], hexup[p[i] & 15]};
            buf_append(out, e, 3);
        }
    }
}

/* Checks the sticky error and NUL-terminates the result. */
static int
finish_url(struct buf *out)
{
    int rc = buf_error(out);
    if (rc)
        return rc;
    /* buf_reserve() always keeps a byte for a NUL after len. */
    rc = buf_reserve(out, 0);
    if (rc)
        return rc;
    out->data[out->len] = '\0';
    return 0;
}

static const char *
event_name(int event)
{
    switch (event) {
    case TRACKER_EVENT_STARTED:
        return "started";
    case TRACKER_EVENT_COMPLETED:
        return "completed";
    case TRACKER_EVENT_STOPPED:
        return "stopped";
    default:
        return NULL;
    }
}

int
tracker_http_announce_url(const char *announce_url, const struct tracker_announce *a,
                          struct buf *out)
{
    struct url_parts u;
    if (split_url(announce_url, &u))
        return SHOAL_EINVAL;
    if (a->event < TRACKER_EVENT_NONE || a->event > TRACKER_EVENT_STOPPED)
        return SHOAL_EINVAL;
    buf_append(out, announce_url, u.end);
    put_separator(out, announce_url, &u);
    buf_append_str(out, "info_hash=");
    put_escaped(out, a->infohash, sizeof(a->infohash));
    buf_append_str(out, "&peer_id=");
    put_escaped(out, a->peer_id, sizeof(a->peer_id));
    buf_printf(out, "&port=%u&uploaded=%" PRIu64 "&downloaded=%" PRIu64 "&left=%" PRIu64,
               (unsigned)a->port, a->uploaded, a->downloaded, a->left);
    if (a->compact)
        buf_append_str(out, "&compact=1");
    if (a->no_peer_id)
        buf_append_str(out, "&no_peer_id=1");
    const char *ev = event_name(a->event);
    if (ev)
        buf_printf(out, "&event=%s", ev);
    if (a->numwant >= 0)
        buf_printf(out, "&numwant=%d", a->numwant);
    buf_printf(out, "&key=%08" PRIX32, a->key);
    if (a->trackerid) {
        buf_append_str(out, "&trackerid=");
        put_escaped(out, (const uint8_t *)a->trackerid, strlen(a->trackerid));
    }
    return finish_url(out);
}

int
tracker_http_scrape_url(const char *announce_url, const uint8_t (*infohashes)[20],
                        size_t n, struct buf *out)
{
    static const char word[] = "announce";
    struct url_parts u;
    if (split_url(announce_url, &u))
        return SHOAL_EINVAL;
    if (n > TRACKER_HTTP_MAX_SCRAPE_HASHES)
        return SHOAL_ETOOBIG;
    /* BEP 48: the "announce" in the path becomes "scrape"; by the common
     * convention it must open the last path component. */
    size_t slash = u.query;
    while (slash > u.path && announce_url[slash - 1] != '/')
        slash--;
    if (slash == u.path || u.query - slash < sizeof(word) - 1 ||
        memcmp(announce_url + slash, word, sizeof(word) - 1) != 0)
        return SHOAL_EUNSUPPORTED;
    buf_append(out, announce_url, slash);
    buf_append_str(out, "scrape");
    size_t rest = slash + sizeof(word) - 1;
    buf_append(out, announce_url + rest, u.end - rest);
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            put_separator(out, announce_url, &u);
        else
            buf_append_byte(out, '&');
        buf_append_str(out, "info_hash=");
        put_escaped(out, infohashes[i], 20);
    }
    return finish_url(out);
}

/* ------------------------------------------------------------------ replies */

/*
 * Decodes a reply body that must be one bencoded dictionary. Whitespace
 * around it is allowed: some trackers are scripts that print a newline. On
 * success d->buf points at the dictionary and *lead is how far into buf.
 */
static int
decode_reply(const uint8_t *buf, size_t len, struct benc_doc *d, size_t *lead,
             struct shoal_perr *err)
{
    memset(d, 0, sizeof(*d));
    if (len > TRACKER_MAX_REPLY)
        return perr_fail(err, 0, SHOAL_ETOOBIG, "reply larger than 4 MiB");
    size_t at = 0;
    while (at < len && is_ws(buf[at]))
        at++;
    *lead = at;
    if (at == len)
        return perr_fail(err, at, SHOAL_EPARSE, "empty reply");
    if (buf[at] == '<')
        return perr_fail(err, at, SHOAL_EPARSE, "reply is HTML, not bencode");
    if (buf[at] != 'd')
        return perr_fail(err, at, SHOAL_EPARSE, "reply is not a bencoded dictionary");
    size_t used = 0;
    if (err)
        err->msg[0] = '\0';
    int rc = benc_decode(d, buf + at, len - at, TRACKER_MAX_TOKENS, &used, err);
    if (rc) {
        if (err)
            err->off += at;
        return rc;
    }
    for (size_t i = at + used; i < len; i++)
        if (!is_ws(buf[i]))
            return perr_fail(err, i, SHOAL_EPARSE, "trailing data after the reply");
    return 0;
}

/* Integer value of `key` in the root dictionary, or -1 when absent, negative
 * or not an integer. */
static int64_t
get_count(const struct benc_doc *d, uint32_t dict, const char *key)
{
    uint32_t t = benc_dict_get_type(d, dict, key, BENC_INT);
    return t && d->tok[t].val >= 0 ? d->tok[t].val : -1;
}

/* An interval in seconds from dictionary `dict`, clamped, or 0 when
 * unusable. */
static uint32_t
get_interval(const struct benc_doc *d, uint32_t dict, const char *key)
{
    uint32_t t = benc_dict_get_type(d, dict, key, BENC_INT);
    if (!t || d->tok[t].val < 1)
        return 0;
    int64_t v = d->tok[t].val;
    if (v < TRACKER_MIN_INTERVAL_S)
        return TRACKER_MIN_INTERVAL_S;
    if (v > TRACKER_MAX_INTERVAL_S)
        return TRACKER_MAX_INTERVAL_S;
    return (uint32_t)v;
}

/* Sanitized copy of string `key`; 1 when the key was present as a string. */
static int
get_text(const struct benc_doc *d, const char *key, char *out, size_t cap)
{
    uint32_t t = benc_dict_get_type(d, 0, key, BENC_STR);
    if (!t)
        return 0;
    size_t n;
    const uint8_t *s = benc_str(d, t, &n);
    tracker_http_sanitize_text(out, cap, s, n);
    return 1;
}

/* A sort key for finding repeats: 20 bytes and the position in the input. */
struct dkey {
    uint8_t k[20];
    size_t idx;
};

static int
dkey_cmp(const void *pa, const void *pb)
{
    const struct dkey *a = pa, *b = pb;
    int c = memcmp(a->k, b->k, sizeof(a->k));
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sets dup[keys[i].idx] for every key equal to one earlier in the input.
 * Sorting first keeps this O(n log n) for the largest lists. */
static void
mark_dups(struct dkey *keys, size_t n, uint8_t *dup)
{
    memset(dup, 0, n);
    qsort(keys, n, sizeof(*keys), dkey_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(keys[i].k, keys[i - 1].k, sizeof(keys[i].k)) == 0)
            dup[keys[i].idx] = 1;
}

/* Peers gathered from one reply, up to TRACKER_MAX_PEERS. */
struct peerset {
    struct tracker_peer *v;
    size_t n, cap;
};

/* 1 when a TCP connection to p could work: a port, and an address that is
 * neither unspecified, multicast nor broadcast. */
static int
dialable(const struct tracker_peer *p)
{
    static const uint8_t zero[16] = {0};
    if (p->port == 0)
        return 0;
    if (p->family == 4)
        return p->ip[0] != 0 && p->ip[0] < 224;
    return memcmp(p->ip, zero, 16) != 0 && p->ip[0] != 0xff;
}

static void
add_peer(struct peerset *s, int family, const uint8_t *ip, uint16_t port)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct tracker_peer p;
    memset(&p, 0, sizeof(p));
    p.port = port;
    if (family == 6 && memcmp(ip, mapped, 12) == 0) {
        /* An IPv4-mapped address is an IPv4 peer; one form makes repeats
         * visible. */
        p.family = 4;
        memcpy(p.ip, ip + 12, 4);
    } else {
        p.family = (uint8_t)family;
        memcpy(p.ip, ip, family == 4 ? 4 : 16);
    }
    if (s->n < s->cap && dialable(&p))
        s->v[s->n++] = p;
}

/* Drops repeated peers, keeping the first of each in reply order. */
static int
dedupe_peers(struct peerset *s)
{
    if (s->n < 2)
        return 0;
    struct dkey *keys = xreallocarray(NULL, s->n, sizeof(*keys));
    uint8_t *dup = xmalloc(s->n);
    if (!keys || !dup) {
        xfree(keys);
        xfree(dup);
        return SHOAL_ENOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        memset(keys[i].k, 0, sizeof(keys[i].k));
        keys[i].k[0] = s->v[i].family;
        memcpy(keys[i].k + 1, s->v[i].ip, 16);
        be16_put(keys[i].k + 17, s->v[i].port);
        keys[i].idx = i;
    }
    mark_dups(keys, s->n, dup);
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!dup[i])
            s->v[o++] = s->v[i];
    s->n = o;
    xfree(keys);
    xfree(dup);
    return 0;
}

/* Adds the peers of a compact string (stride 6 for IPv4, 18 for IPv6). */
static void
add_compact(struct peerset *s, const uint8_t *p, size_t n, int family)
{
    size_t stride = family == 4 ? 6 : 18;
    for (size_t i = 0; i + stride <= n; i += stride)
        add_peer(s, family, p + i, be16_get(p + i + stride - 2));
}

/* Adds one peer of a dictionary list: {"ip": text, "port": int}. Entries that
 * are not usable as they are (host names, bad ports) are skipped. */
static void
add_dict_peer(struct peerset *s, const struct benc_doc *d, uint32_t e)
{
    uint32_t ti = benc_dict_get_type(d, e, "ip", BENC_STR);
    uint32_t tp = benc_dict_get_type(d, e, "port", BENC_INT);
    if (!ti || !tp || d->tok[tp].val < 1 || d->tok[tp].val > 65535)
        return;
    size_t n;
    const uint8_t *ip = benc_str(d, ti, &n);
    char text[TRACKER_MAX_IP_TEXT + 1];
    if (n == 0 || n > TRACKER_MAX_IP_TEXT || memchr(ip, '\0', n))
        return;
    memcpy(text, ip, n);
    text[n] = '\0';
    uint8_t addr[16];
    if (inet_pton(AF_INET, text, addr) == 1)
        add_peer(s, 4, addr, (uint16_t)d->tok[tp].val);
    else if (inet_pton(AF_INET6, text, addr) == 1)
        add_peer(s, 6, addr, (uint16_t)d->tok[tp].val);
}

/* Hands the gathered peers over as *out / *count after removing repeats. */
static int
finish_peers(struct peerset *s, struct tracker_peer **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (dedupe_peers(s)) {
        xfree(s->v);
        return SHOAL_ENOMEM;
    }
    if (s->n == 0) {
        xfree(s->v);
        return 0;
    }
    *out = s->v;
    *count = s->n;
    return 0;
}

int
tracker_http_compact_peers(const uint8_t *p, size_t n, int family,
                           struct tracker_peer **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (family != 4 && family != 6)
        return SHOAL_EINVAL;
    size_t stride = family == 4 ? 6 : 18;
    if (n % stride)
        return SHOAL_EINVAL;
    size_t want = n / stride < TRACKER_MAX_PEERS ? n / stride : TRACKER_MAX_PEERS;
    if (want == 0)
        return 0;
    struct peerset s = {xreallocarray(NULL, want, sizeof(struct tracker_peer)), 0, want};
    if (!s.v)
        return SHOAL_ENOMEM;
    add_compact(&s, p, n, family);
    return finish_peers(&s, out, count);
}

/* Reads "peers" and "peers6" into out->peers. */
static int
parse_peers(const struct benc_doc *d, size_t lead, struct tracker_reply *out,
            struct shoal_perr *err)
{
    uint32_t tp = benc_dict_get(d, 0, "peers");
    uint32_t t6 = benc_dict_get(d, 0, "peers6");
    size_t want = 0;
    if (tp) {
        const struct benc_tok *t = &d->tok[tp];
        if (t->type == BENC_STR) {
            if (t->count % 6)
                return perr_fail(err, lead + t->start, SHOAL_EPARSE,
                                 "compact peers length not a multiple of 6");
            want += t->count / 6;
        } else if (t->type == BENC_LIST) {
            want += t->count;
        } else {
            return perr_fail(err, lead + t->start, SHOAL_EPARSE,
                             "peers is neither a string nor a list");
        }
    }
    if (t6) {
        const struct benc_tok *t = &d->tok[t6];
        if (t->type != BENC_STR)
            return perr_fail(err, lead + t->start, SHOAL_EPARSE,
                             "peers6 is not a string");
        if (t->count % 18)
            return perr_fail(err, lead + t->start, SHOAL_EPARSE,
                             "compact peers6 length not a multiple of 18");
        want += t->count / 18;
    }
    if (want > TRACKER_MAX_PEERS)
        want = TRACKER_MAX_PEERS;
    if (want == 0)
        return 0;

    struct peerset s = {xreallocarray(NULL, want, sizeof(struct tracker_peer)), 0, want};
    if (!s.v)
        return perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
    if (tp && d->tok[tp].type == BENC_STR) {
        size_t n;
        const uint8_t *p = benc_str(d, tp, &n);
        add_compact(&s, p, n, 4);
    } else if (tp) {
        uint32_t e = benc_first(tp);
        for (uint32_t i = 0; i < d->tok[tp].count; i++, e = benc_next(d, e))
            if (d->tok[e].type == BENC_DICT)
                add_dict_peer(&s, d, e);
    }
    if (t6) {
        size_t n;
        const uint8_t *p = benc_str(d, t6, &n);
        add_compact(&s, p, n, 6);
    }
    if (finish_peers(&s, &out->peers, &out->npeers))
        return perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
    return 0;
}

void
tracker_reply_cleanup(struct tracker_reply *r)
{
    xfree(r->peers);
    memset(r, 0, sizeof(*r));
}

int
tracker_http_parse_reply(const uint8_t *buf, size_t len, struct tracker_reply *out,
                         struct shoal_perr *err)
{
    memset(out, 0, sizeof(*out));
    out->complete = out->incomplete = out->downloaded = -1;
    struct benc_doc d;
    size_t lead = 0;
    int rc = decode_reply(buf, len, &d, &lead, err);
    if (rc)
        goto out;

    /* BEP 3: a failure reason means the query failed; nothing else counts
     * except the hints on when to ask again. */
    uint32_t tf = benc_dict_get(&d, 0, "failure reason");
    if (!tf)
        tf = benc_dict_get(&d, 0, "failure_reason");
    get_text(&d, "warning message", out->warning, sizeof(out->warning));
    out->interval = get_interval(&d, 0, "interval");
    out->min_interval = get_interval(&d, 0, "min interval");
    if (tf) {
        if (d.tok[tf].type != BENC_STR) {
            rc = perr_fail(err, lead + d.tok[tf].start, SHOAL_EPARSE,
                           "failure reason is not a string");
            goto out;
        }
        size_t n;
        const uint8_t *s = benc_str(&d, tf, &n);
        if (tracker_http_sanitize_text(out->failure, sizeof(out->failure), s, n) == 0)
            snprintf(out->failure, sizeof(out->failure), "%s", "no reason given");
        goto out;
    }

    out->complete = get_count(&d, 0, "complete");
    out->incomplete = get_count(&d, 0, "incomplete");
    out->downloaded = get_count(&d, 0, "downloaded");
    uint32_t tt = benc_dict_get_type(&d, 0, "tracker id", BENC_STR);
    if (tt) {
        /* Sent back verbatim later, so kept as is or not at all. */
        size_t n;
        const uint8_t *s = benc_str(&d, tt, &n);
        if (n < sizeof(out->trackerid) && !memchr(s, '\0', n)) {
            memcpy(out->trackerid, s, n);
            out->trackerid[n] = '\0';
        }
    }
    if (!benc_dict_get(&d, 0, "peers") && !benc_dict_get(&d, 0, "peers6") &&
        !benc_dict_get(&d, 0, "interval")) {
        rc = perr_fail(err, lead, SHOAL_EPARSE,
                       "reply has neither peers, an interval nor a failure reason");
        goto out;
    }
    rc = parse_peers(&d, lead, out, err);

out:
    benc_doc_cleanup(&d);
    if (rc) {
        tracker_reply_cleanup(out);
        out->complete = out->incomplete = out->downloaded = -1;
    }
    return rc;
}

/* ------------------------------------------------------------------ scrape */

/* Drops entries whose hash repeats an earlier one. */
static int
dedupe_scrape(struct tracker_scrape_entry *v, size_t *n)
{
    if (*n < 2)
        return 0;
    struct dkey *keys = xreallocarray(NULL, *n, sizeof(*keys));
    uint8_t *dup = xmalloc(*n);
    if (!keys || !dup) {
        xfree(keys);
        xfree(dup);
        return SHOAL_ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        memcpy(keys[i].k, v[i].infohash, 20);
        keys[i].idx = i;
    }
    mark_dups(keys, *n, dup);
    size_t o = 0;
    for (size_t i = 0; i < *n; i++)
        if (!dup[i])
            v[o++] = v[i];
    *n = o;
    xfree(keys);
    xfree(dup);
    return 0;
}

int
tracker_http_parse_scrape(const uint8_t *buf, size_t len,
                          struct tracker_scrape_entry **out, size_t *n,
                          uint32_t *min_interval, struct shoal_perr *err)
{
    *out = NULL;
    *n = 0;
    if (min_interval)
        *min_interval = 0;
    struct tracker_scrape_entry *v = NULL;
    size_t count = 0;
    uint32_t wait = 0;
    struct benc_doc d;
    size_t lead = 0;
    int rc = decode_reply(buf, len, &d, &lead, err);
    if (rc)
        goto out;

    /* BEP 48 spells the key "failure_reason"; BEP 3 trackers use the
     * announce spelling for scrapes too. */
    uint32_t tf = benc_dict_get(&d, 0, "failure reason");
    if (!tf)
        tf = benc_dict_get(&d, 0, "failure_reason");
    if (tf) {
        rc = perr_fail(err, lead + d.tok[tf].start, SHOAL_EINVAL,
                       "tracker refused the scrape");
        if (err && d.tok[tf].type == BENC_STR) {
            size_t sn;
            const uint8_t *s = benc_str(&d, tf, &sn);
            tracker_http_sanitize_text(err->msg, sizeof(err->msg), s, sn);
        }
        goto out;
    }
    /* BEP 48: "flags" may say how long to wait before scraping again. */
    uint32_t tflags = benc_dict_get_type(&d, 0, "flags", BENC_DICT);
    wait = tflags ? get_interval(&d, tflags, "min_request_interval") : 0;
    uint32_t tfiles = benc_dict_get(&d, 0, "files");
    if (!tfiles || d.tok[tfiles].type != BENC_DICT) {
        rc = perr_fail(err, lead + (tfiles ? d.tok[tfiles].start : 0), SHOAL_EPARSE,
                       "scrape reply has no files dictionary");
        goto out;
    }
    size_t pairs = d.tok[tfiles].count;
    size_t want = pairs < TRACKER_MAX_SCRAPE ? pairs : TRACKER_MAX_SCRAPE;
    if (want == 0)
        goto out;
    v = xreallocarray(NULL, want, sizeof(*v));
    if (!v) {
        rc = perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
        goto out;
    }
    uint32_t k = benc_first(tfiles);
    for (size_t i = 0; i < pairs && count < want; i++) {
        uint32_t val = benc_next(&d, k);
        size_t kn;
        const uint8_t *key = benc_str(&d, k, &kn);
        if (kn == 20 && d.tok[val].type == BENC_DICT) {
            struct tracker_scrape_entry *e = &v[count++];
            memcpy(e->infohash, key, 20);
            e->complete = get_count(&d, val, "complete");
            e->incomplete = get_count(&d, val, "incomplete");
            e->downloaded = get_count(&d, val, "downloaded");
        }
        k = benc_next(&d, val);
    }
    if (dedupe_scrape(v, &count)) {
        rc = perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
        goto out;
    }

out:
    benc_doc_cleanup(&d);
    if (rc || count == 0) {
        xfree(v);
        v = NULL;
        count = 0;
    }
    *out = v;
    *n = count;
    if (min_interval && rc == 0)
        *min_interval = wait;
    return rc;
}
