/*
 * magnet.c — parses and formats magnet links (BEP 9, with BEP 53 `so`).
 *
 * Codec layer: a NUL-terminated string in, a validated struct shoal_magnet
 * out, and a URI back from the struct. Pure: no I/O, no clock, no globals.
 * Every failure names the byte offset and a static reason, and allocates
 * nothing. Parameters this node does not use (xl, kt, as, xs, urn:btmh, other
 * x.*) are skipped without being validated, so links made by other clients
 * keep working.
 */
#include "codec/magnet.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/strv.h"
#include "base/util.h"

/* Parameters of any kind in one link: bounds the loop over a hostile link
 * long before MAGNET_MAX_URI would. */
#define MAX_PARAMS 4096
/* Trackers (tr, tr.N); the deduplication is quadratic, and no swarm needs
 * more. */
#define MAX_TRACKERS 1000
/* Web seeds (ws); same reasoning as trackers. */
#define MAX_WEBSEEDS 1000
/* Peers (x.pe); same reasoning again. */
#define MAX_PEERS 1000
/* Entries across all `so` parameters, before merging: bounds the sort. */
#define MAX_RANGES 4096
/* Largest file index `so` may name; no torrent has more files, and it keeps
 * last + 1 inside uint32_t while merging. */
#define MAX_FILE_INDEX (1u << 31)

static const char prefix[] = "magnet:?";
static const char btih[] = "urn:btih:";
static const char btmh[] = "urn:btmh:";

/* What the parser carries from one parameter to the next. */
struct pstate {
    const char *uri;
    struct shoal_magnet *mg;
    char *raw;   /* scratch: a value with '+' made ' ' (dn only) */
    char *val;   /* scratch: the decoded value, NUL-terminated */
    size_t vlen; /* decoded length of val */
    size_t nranges;
    int have_btih;
    int have_btmh;
    size_t btmh_off;
};

static int
fail(struct shoal_perr *err, int rc, size_t off, const char *why)
{
    err->off = off;
    err->why = why;
    return rc;
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive prefix test; `pre` is lowercase. */
static int
iprefix(const char *s, size_t n, const char *pre)
{
    size_t m = strlen(pre);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (lower((unsigned char)s[i]) != pre[i])
            return 0;
    return 1;
}

/* Exactly `name`, or `name` followed by ".<digits>" (the "tr.1" form some
 * clients write for a list of trackers). */
static int
keyis(const char *k, size_t n, const char *name)
{
    size_t m = strlen(name);
    if (n < m || memcmp(k, name, m) != 0)
        return 0;
    if (n == m)
        return 1;
    if (k[m] != '.' || n == m + 1)
        return 0;
    for (size_t i = m + 1; i < n; i++)
        if (k[i] < '0' || k[i] > '9')
            return 0;
    return 1;
}

/*
 * Percent-decodes the value at uri[vo..vo+n) into st->val. With `plus`, a
 * literal '+' becomes a space first, as HTML forms write it; "%2B" still
 * decodes to '+'.
 */
static int
decode(struct pstate *st, size_t vo, size_t n, int plus, struct shoal_perr *err)
{
    const char *in = st->uri + vo;
    if (plus) {
        for (size_t i = 0; i < n; i++)
            st->raw[i] = in[i] == '+' ? ' ' : in[i];
        in = st->raw;
    }
    size_t bad = 0;
    long got = pct_decode(in, n, st->val, &bad);
    if (got < 0)
        return fail(err, SHOAL_EPARSE, vo + bad, "malformed percent escape");
    st->vlen = (size_t)got;
    st->val[st->vlen] = '\0';
    /* The URI itself is a C string, so a NUL can only come from "%00"; the
     * strings handed out are C strings too, and a NUL would cut them short. */
    if (memchr(st->val, '\0', st->vlen)) {
        size_t at = vo;
        for (size_t i = 0; i + 2 < n; i++) {
            if (in[i] == '%' && in[i + 1] == '0' && in[i + 2] == '0') {
                at = vo + i;
                break;
            }
        }
        return fail(err, SHOAL_EPARSE, at, "value contains a NUL byte (%00)");
    }
    return 0;
}

/* BEP 9: xt=urn:btih:<hash>, the hash as 40 hex digits or 32 base32
 * characters. Other URNs (BEP 52 urn:btmh, urn:sha1, ...) are noted or
 * skipped. */
static int
on_xt(struct pstate *st, size_t po, size_t vo, struct shoal_perr *err)
{
    const char *v = st->val;
    size_t n = st->vlen;
    if (iprefix(v, n, btmh)) {
        if (!st->have_btmh)
            st->btmh_off = po;
        st->have_btmh = 1;
        return 0;
    }
    if (!iprefix(v, n, btih))
        return 0;
    const char *h = v + strlen(btih);
    size_t hn = n - strlen(btih);
    uint8_t ih[SHOAL_INFOHASH_LEN];
    int bad = 1;
    if (hn == 40)
        bad = hex_decode(h, ih, sizeof(ih));
    else if (hn == 32)
        bad = base32_decode_20(h, ih);
    if (bad)
        return fail(err, SHOAL_EPARSE, vo,
                    "xt: btih hash must be 40 hex or 32 base32 characters");
    if (st->have_btih) {
        if (memcmp(ih, st->mg->infohash, sizeof(ih)) != 0)
            return fail(err, SHOAL_EPARSE, po, "xt: two different btih hashes");
        return 0;
    }
    memcpy(st->mg->infohash, ih, sizeof(ih));
    st->have_btih = 1;
    return 0;
}

/* Display name: the first non-empty `dn` wins; later ones are ignored. */
static int
on_dn(struct pstate *st)
{
    if (st->mg->name || st->vlen == 0)
        return 0;
    st->mg->name = xstrndup(st->val, st->vlen);
    return st->mg->name ? 0 : SHOAL_ENOMEM;
}

static int
hostch(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

static int
v6ch(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

/*
 * BEP 9 x.pe: "host:port" or "[v6]:port". An unbracketed IPv6 address is
 * refused because its last colon cannot be told from the port separator.
 * Returns NULL when the address is well formed, else the reason; *at is the
 * offset of the offending character in s.
 */
static const char *
peer_check(const char *s, size_t n, size_t *at)
{
    size_t colon;
    *at = 0;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return "x.pe: expected [v6]:port";
        size_t end = (size_t)(close - s);
        int colons = 0;
        for (size_t i = 1; i < end; i++) {
            if (!v6ch(s[i])) {
                *at = i;
                return "x.pe: bad character in IPv6 address";
            }
            colons += s[i] == ':';
        }
        if (colons == 0)
            return "x.pe: expected [v6]:port";
        colon = end + 1;
        if (colon >= n || s[colon] != ':') {
            *at = colon < n ? colon : n;
            return "x.pe: expected ':' and a port after ']'";
        }
    } else {
        const char *c = memchr(s, ':', n);
        if (!c || c == s)
            return "x.pe: expected host:port or [v6]:port";
        colon = (size_t)(c - s);
        for (size_t i = 0; i < colon; i++) {
            if (!hostch(s[i])) {
                *at = i;
                return "x.pe: bad character in host name";
            }
        }
    }
    uint64_t port;
    if (parse_u64(s + colon + 1, n - colon - 1, &port) != 0 || port < 1 || port > 65535) {
        *at = colon + 1;
        return "x.pe: port must be a number from 1 to 65535";
    }
    return NULL;
}

/* Offset in the URI of character i of the decoded value. Exact when the
 * value had no escapes; otherwise the value's start, which is close enough
 * for a person to find the problem. */
static size_t
at_char(const struct pstate *st, size_t vo, size_t rawlen, size_t i)
{
    return st->vlen == rawlen ? vo + i : vo;
}

static int
on_pe(struct pstate *st, size_t po, size_t vo, size_t rawlen, struct shoal_perr *err)
{
    if (st->vlen == 0)
        return 0;
    size_t i;
    const char *why = peer_check(st->val, st->vlen, &i);
    if (why)
        return fail(err, SHOAL_EPARSE, at_char(st, vo, rawlen, i), why);
    int rc = strv_add_unique(&st->mg->pe, st->val, MAX_PEERS);
    if (rc == SHOAL_ETOOBIG)
        return fail(err, rc, po, "x.pe: too many peers");
    return rc;
}

static int
add_range(struct pstate *st, uint32_t first, uint32_t last)
{
    struct shoal_magnet *mg = st->mg;
    if (mg->nso == mg->socap) {
        size_t cap = mg->socap ? mg->socap * 2 : 8;
        struct magnet_range *r = xreallocarray(mg->so, cap, sizeof(*r));
        if (!r)
            return SHOAL_ENOMEM;
        mg->so = r;
        mg->socap = cap;
    }
    mg->so[mg->nso].first = first;
    mg->so[mg->nso].last = last;
    mg->nso++;
    return 0;
}

/* Reads one file index at v[*i..), advancing *i past its digits. */
static int
index_at(const char *v, size_t n, size_t *i, uint32_t *out)
{
    size_t s = *i;
    while (*i < n && v[*i] >= '0' && v[*i] <= '9')
        (*i)++;
    uint64_t x;
    /* Eleven digits already exceed MAX_FILE_INDEX; stopping there keeps
     * parse_u64 from seeing absurdly long runs. */
    if (*i - s > 11 || parse_u64(v + s, *i - s, &x) != 0 || x > MAX_FILE_INDEX)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

/* BEP 53: so=0,2,4-6 — file indices and inclusive ranges. */
static int
on_so(struct pstate *st, size_t po, size_t vo, size_t rawlen, struct shoal_perr *err)
{
    const char *v = st->val;
    size_t n = st->vlen;
    size_t i = 0;
    if (n == 0)
        return fail(err, SHOAL_EPARSE, vo, "so: empty file selection");
    for (;;) {
        size_t start = i;
        uint32_t first, last;
        if (index_at(v, n, &i, &first) != 0)
            return fail(err, SHOAL_EPARSE, at_char(st, vo, rawlen, start),
                        "so: expected a file index from 0 to 2^31");
        last = first;
        if (i < n && v[i] == '-') {
            size_t s2 = ++i;
            if (index_at(v, n, &i, &last) != 0)
                return fail(err, SHOAL_EPARSE, at_char(st, vo, rawlen, s2),
                            "so: expected a file index from 0 to 2^31");
            if (last < first)
                return fail(err, SHOAL_EPARSE, at_char(st, vo, rawlen, start),
                            "so: range ends before it starts");
        }
        if (++st->nranges > MAX_RANGES)
            return fail(err, SHOAL_ETOOBIG, po, "so: too many entries");
        int rc = add_range(st, first, last);
        if (rc)
            return rc;
        if (i == n)
            return 0;
        if (v[i] != ',')
            return fail(err, SHOAL_EPARSE, at_char(st, vo, rawlen, i),
                        "so: expected ',' between entries");
        i++;
    }
}

static int
cmp_range(const void *a, const void *b)
{
    const struct magnet_range *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->last < y->last ? -1 : x->last > y->last;
}

/* Sorts the ranges and merges the ones that overlap or touch, so that
 * "4-6,5,7" reads back as "4-7". */
static void
merge_ranges(struct shoal_magnet *mg)
{
    if (mg->nso < 2)
        return;
    qsort(mg->so, mg->nso, sizeof(*mg->so), cmp_range);
    size_t k = 0;
    for (size_t i = 1; i < mg->nso; i++) {
        struct magnet_range *cur = &mg->so[k];
        /* last <= 2^31, so last + 1 cannot wrap. */
        if (mg->so[i].first <= cur->last + 1) {
            if (mg->so[i].last > cur->last)
                cur->last = mg->so[i].last;
        } else {
            mg->so[++k] = mg->so[i];
        }
    }
    mg->nso = k + 1;
}

/* One key=value parameter at uri[po..), key length kn, value at vo. */
static int
param(struct pstate *st, size_t po, size_t kn, size_t vo, size_t vn,
      struct shoal_perr *err)
{
    const char *k = st->uri + po;
    int rc;
    if (keyis(k, kn, "xt")) {
        rc = decode(st, vo, vn, 0, err);
        return rc ? rc : on_xt(st, po, vo, err);
    }
    if (kn == 2 && memcmp(k, "dn", 2) == 0) {
        rc = decode(st, vo, vn, 1, err);
        return rc ? rc : on_dn(st);
    }
    if (keyis(k, kn, "tr")) {
        if ((rc = decode(st, vo, vn, 0, err)) != 0 || st->vlen == 0)
            return rc;
        rc = strv_add_unique(&st->mg->tr, st->val, MAX_TRACKERS);
        if (rc == SHOAL_ETOOBIG)
            return fail(err, rc, po, "tr: more than 1000 trackers");
        return rc;
    }
    if (kn == 2 && memcmp(k, "ws", 2) == 0) {
        if ((rc = decode(st, vo, vn, 0, err)) != 0 || st->vlen == 0)
            return rc;
        rc = strv_add_unique(&st->mg->ws, st->val, MAX_WEBSEEDS);
        if (rc == SHOAL_ETOOBIG)
            return fail(err, rc, po, "ws: more than 1000 web seeds");
        return rc;
    }
    if (kn == 4 && memcmp(k, "x.pe", 4) == 0) {
        rc = decode(st, vo, vn, 0, err);
        return rc ? rc : on_pe(st, po, vo, vn, err);
    }
    if (kn == 2 && memcmp(k, "so", 2) == 0) {
        rc = decode(st, vo, vn, 0, err);
        return rc ? rc : on_so(st, po, vo, vn, err);
    }
    return 0;
}

int
shoal_magnet_parse(const char *uri, shoal_magnet **out, struct shoal_perr *err)
{
    struct shoal_perr scratch_err;
    struct pstate st = {0};
    int rc = 0;

    if (!err)
        err = &scratch_err;
    if (out)
        *out = NULL;
    if (!uri || !out)
        return fail(err, SHOAL_EINVAL, 0, "no magnet link given");
    size_t len = strnlen(uri, (size_t)MAGNET_MAX_URI + 1);
    if (len > MAGNET_MAX_URI)
        return fail(err, SHOAL_ETOOBIG, MAGNET_MAX_URI, "magnet link longer than 64 KiB");
    /* RFC 3986: the scheme is case-insensitive; the '?' is not part of it. */
    if (!iprefix(uri, len, prefix))
        return fail(err, SHOAL_EPARSE, 0,
                    "not a magnet link (must start with \"magnet:?\")");

    st.uri = uri;
    st.mg = xcalloc(1, sizeof(*st.mg));
    /* Decoding never lengthens a value, so one scratch block sized by the
     * whole link serves every parameter. */
    st.raw = xmalloc(2 * (len + 1));
    if (!st.mg || !st.raw) {
        rc = fail(err, SHOAL_ENOMEM, 0, "out of memory");
        goto out;
    }
    st.val = st.raw + len + 1;

    size_t nparams = 0;
    for (size_t p = strlen(prefix); p < len;) {
        const char *amp = memchr(uri + p, '&', len - p);
        size_t end = amp ? (size_t)(amp - uri) : len;
        /* Empty parameters ("&&", a trailing '&') are harmless and common. */
        if (end > p) {
            if (++nparams > MAX_PARAMS) {
                rc = fail(err, SHOAL_ETOOBIG, p, "more than 4096 parameters");
                goto out;
            }
            const char *eq = memchr(uri + p, '=', end - p);
            size_t kn = eq ? (size_t)(eq - uri) - p : end - p;
            size_t vo = eq ? (size_t)(eq - uri) + 1 : end;
            if (kn == 0) {
                rc = fail(err, SHOAL_EPARSE, p, "empty parameter name");
                goto out;
            }
            rc = param(&st, p, kn, vo, end - vo, err);
            if (rc == SHOAL_ENOMEM)
                fail(err, rc, p, "out of memory");
            if (rc)
                goto out;
        }
        p = end + 1;
    }

    if (!st.have_btih) {
        if (st.have_btmh)
            rc = fail(err, SHOAL_EPARSE, st.btmh_off,
                      "v2-only magnet (urn:btmh) is not supported");
        else
            rc = fail(err, SHOAL_EPARSE, len, "missing xt=urn:btih: (the infohash)");
        goto out;
    }
    merge_ranges(st.mg);
    *out = st.mg;
    st.mg = NULL;
out:
    xfree(st.raw);
    shoal_magnet_free(st.mg);
    return rc;
}

void
shoal_magnet_free(shoal_magnet *mg)
{
    if (!mg)
        return;
    xfree(mg->name);
    strv_cleanup(&mg->tr);
    strv_cleanup(&mg->ws);
    strv_cleanup(&mg->pe);
    xfree(mg->so);
    xfree(mg);
}

const uint8_t *
shoal_magnet_infohash(const shoal_magnet *mg)
{
    return mg ? mg->infohash : NULL;
}

const char *
shoal_magnet_name(const shoal_magnet *mg)
{
    return mg ? mg->name : NULL;
}

size_t
shoal_magnet_tracker_count(const shoal_magnet *mg)
{
    return mg ? mg->tr.n : 0;
}

const char *
shoal_magnet_tracker(const shoal_magnet *mg, size_t i)
{
    return mg && i < mg->tr.n ? mg->tr.v[i] : NULL;
}

size_t
shoal_magnet_webseed_count(const shoal_magnet *mg)
{
    return mg ? mg->ws.n : 0;
}

const char *
shoal_magnet_webseed(const shoal_magnet *mg, size_t i)
{
    return mg && i < mg->ws.n ? mg->ws.v[i] : NULL;
}

size_t
shoal_magnet_peer_count(const shoal_magnet *mg)
{
    return mg ? mg->pe.n : 0;
}

const char *
shoal_magnet_peer(const shoal_magnet *mg, size_t i)
{
    return mg && i < mg->pe.n ? mg->pe.v[i] : NULL;
}

size_t
shoal_magnet_select_count(const shoal_magnet *mg)
{
    return mg ? mg->nso : 0;
}

void
shoal_magnet_select(const shoal_magnet *mg, size_t i, uint32_t *first, uint32_t *last)
{
    int ok = mg && i < mg->nso;
    if (first)
        *first = ok ? mg->so[i].first : 0;
    if (last)
        *last = ok ? mg->so[i].last : 0;
}

/* ------------------------------------------------------------------ format */

/* Appends s percent-encoding every byte that is not RFC 3986 unreserved.
 * Uppercase hex digits, as RFC 3986 section 2.1 recommends. */
static void
put_enc(struct buf *b, const char *s)
{
    static const char hexu[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (pct_is_unreserved(*p)) {
            buf_append_byte(b, *p);
        } else {
            char e[3] = {'%', hexu[*p >> 4], hexu[*p & 15]};
            buf_append(b, e, sizeof(e));
        }
    }
}

static void
put_param(struct buf *b, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    buf_append_byte(b, '&');
    buf_append_str(b, key);
    buf_append_byte(b, '=');
    put_enc(b, val);
}

/* The part of a magnet link a torrent file also knows. */
static void
put_parts(struct buf *b, const uint8_t infohash[20], const char *name,
          const char *const *trackers, size_t ntrackers, const char *const *webseeds,
          size_t nwebseeds)
{
    char hex[2 * SHOAL_INFOHASH_LEN + 1];
    hex_encode(infohash, SHOAL_INFOHASH_LEN, hex);
    buf_append_str(b, prefix);
    buf_append_str(b, "xt=");
    buf_append_str(b, btih);
    buf_append(b, hex, 2 * SHOAL_INFOHASH_LEN);
    put_param(b, "dn", name);
    for (size_t i = 0; i < ntrackers; i++)
        put_param(b, "tr", trackers[i]);
    for (size_t i = 0; i < nwebseeds; i++)
        put_param(b, "ws", webseeds[i]);
}

char *
magnet_format_parts(const uint8_t infohash[20], const char *name,
                    const char *const *trackers, size_t ntrackers,
                    const char *const *webseeds, size_t nwebseeds)
{
    struct buf b;
    if (!infohash)
        return NULL;
    buf_init(&b, MAGNET_MAX_FORMAT);
    put_parts(&b, infohash, name, trackers, ntrackers, webseeds, nwebseeds);
    char *s = (char *)buf_steal(&b, NULL);
    buf_cleanup(&b);
    return s;
}

/* Appends "&so=" and the ranges. Written without escapes: digits, '-' and
 * ',' are all allowed in a URI query (',' is an RFC 3986 sub-delim), and
 * BEP 53 shows them this way. */
static void
put_select(struct buf *b, const struct shoal_magnet *mg)
{
    if (mg->nso == 0)
        return;
    buf_append_str(b, "&so=");
    for (size_t i = 0; i < mg->nso; i++) {
        if (i > 0)
            buf_append_byte(b, ',');
        buf_printf(b, "%u", (unsigned)mg->so[i].first);
        if (mg->so[i].last != mg->so[i].first)
            buf_printf(b, "-%u", (unsigned)mg->so[i].last);
    }
}

char *
shoal_magnet_format(const shoal_magnet *mg)
{
    struct buf b;
    if (!mg)
        return NULL;
    buf_init(&b, MAGNET_MAX_FORMAT);
    put_parts(&b, mg->infohash, mg->name, (const char *const *)mg->tr.v, mg->tr.n,
              (const char *const *)mg->ws.v, mg->ws.n);
    for (size_t i = 0; i < mg->pe.n; i++)
        put_param(&b, "x.pe", mg->pe.v[i]);
    put_select(&b, mg);
    char *s = (char *)buf_steal(&b, NULL);
    buf_cleanup(&b);
    return s;
}
