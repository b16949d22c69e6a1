/*
 * test_magnet.c — the magnet link codec (src/magnet.c), table-driven:
 * links that parse and what they parse to, links that fail and where and
 * why, links and their formatted form, and the error paths under failing
 * allocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/util.h"
#include "codec/magnet.h"
#include "shoal.h"

#define H   "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
#define HU  "C12FE1C06BBA254A9DC9F519B335AA7C1367A88A"
#define B32 "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" /* base32 of H */
#define H2  "0123456789abcdef0123456789abcdef01234567"
/* 60 bytes: a parameter right after it starts at offset 61. */
#define M "magnet:?xt=urn:btih:" H

/* ------------------------------------------------------------------ helpers */

/* The `so` ranges as text, "0,2,4-6", or "" when there are none. */
static void
so_text(const shoal_magnet *mg, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < shoal_magnet_select_count(mg); i++) {
        uint32_t a, b;
        shoal_magnet_select(mg, i, &a, &b);
        int w = a == b ? snprintf(out + n, cap - n, "%s%u", i ? "," : "", (unsigned)a)
                       : snprintf(out + n, cap - n, "%s%u-%u", i ? "," : "", (unsigned)a,
                                  (unsigned)b);
        assert_true(w > 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
}

static void
check_list(size_t ci, const char *what, size_t count,
           const char *(*get)(const shoal_magnet *, size_t), const shoal_magnet *mg,
           const char *const *want, size_t maxwant)
{
    size_t n = 0;
    while (n < maxwant && want[n])
        n++;
    if (count != n)
        fail_msg("case %zu: %s count %zu, want %zu", ci, what, count, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(get(mg, i), want[i]) != 0)
            fail_msg("case %zu: %s[%zu] = \"%s\", want \"%s\"", ci, what, i, get(mg, i),
                     want[i]);
    assert_null(get(mg, n));
}

static void
check_same(const shoal_magnet *a, const shoal_magnet *b)
{
    assert_memory_equal(shoal_magnet_infohash(a), shoal_magnet_infohash(b), 20);
    if (!shoal_magnet_name(a))
        assert_null(shoal_magnet_name(b));
    else
        assert_string_equal(shoal_magnet_name(a), shoal_magnet_name(b));
    assert_int_equal(shoal_magnet_tracker_count(a), shoal_magnet_tracker_count(b));
    for (size_t i = 0; i < shoal_magnet_tracker_count(a); i++)
        assert_string_equal(shoal_magnet_tracker(a, i), shoal_magnet_tracker(b, i));
    assert_int_equal(shoal_magnet_webseed_count(a), shoal_magnet_webseed_count(b));
    for (size_t i = 0; i < shoal_magnet_webseed_count(a); i++)
        assert_string_equal(shoal_magnet_webseed(a, i), shoal_magnet_webseed(b, i));
    assert_int_equal(shoal_magnet_peer_count(a), shoal_magnet_peer_count(b));
    for (size_t i = 0; i < shoal_magnet_peer_count(a); i++)
        assert_string_equal(shoal_magnet_peer(a, i), shoal_magnet_peer(b, i));
    char sa[256], sb[256];
    so_text(a, sa, sizeof(sa));
    so_text(b, sb, sizeof(sb));
    assert_string_equal(sa, sb);
}

/* ------------------------------------------------------------------ parse ok */

struct ok_case {
    const char *uri;
    const char *hash; /* 40 lowercase hex */
    const char *name; /* NULL: no dn */
    const char *tr[4];
    const char *ws[3];
    const char *pe[4];
    const char *so; /* as so_text() writes it */
};

static const struct ok_case ok_cases[] = {
    {M, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* BEP 9: hex in either case, or base32 in either case. */
    {"magnet:?xt=urn:btih:" HU, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    {"magnet:?xt=urn:btih:" B32, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    {"magnet:?xt=urn:btih:yex6dqdlxisuvhoj6um3gnnkpqjwpkek",
     H,
     NULL,
     {NULL},
     {NULL},
     {NULL},
     ""},
    /* The scheme and the URN prefix are case-insensitive. */
    {"MAGNET:?xt=URN:BTIH:" H, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    {"Magnet:?xt=urn:BtIh:" H2, H2, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* Parameters in any order. */
    {"magnet:?dn=x&xt=urn:btih:" H, H, "x", {NULL}, {NULL}, {NULL}, ""},
    /* dn: '+' is a space, %2B a plus. */
    {M "&dn=Hello+World%21%2B", H, "Hello World!+", {NULL}, {NULL}, {NULL}, ""},
    {M "&dn=caf%C3%A9%20au%20lait", H, "caf\xc3\xa9 au lait", {NULL}, {NULL}, {NULL}, ""},
    /* The first non-empty dn wins; an empty one is no name. */
    {M "&dn=&dn=one&dn=two", H, "one", {NULL}, {NULL}, {NULL}, ""},
    {M "&dn=", H, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* tr: encoded or raw; '+' kept; a second '=' belongs to the value. */
    {M
     "&tr=udp%3A%2F%2Ftracker.example.org%3A6969%2Fannounce&tr=http://t.example/a?k=1+2",
     H,
     NULL,
     {"udp://tracker.example.org:6969/announce", "http://t.example/a?k=1+2"},
     {NULL},
     {NULL},
     ""},
    /* tr.N forms, duplicates dropped, first-seen order kept, empty skipped. */
    {M "&tr.1=udp://a:1&tr.2=udp://b:2&tr=udp://a:1&tr=&tr.10=udp%3A//b:2&tr=udp://c:3",
     H,
     NULL,
     {"udp://a:1", "udp://b:2", "udp://c:3"},
     {NULL},
     {NULL},
     ""},
    /* "tr." without digits, or "tr.x", is some other parameter. */
    {M "&tr.=udp://a:1&tr.x=udp://b:2&trx=udp://c:3",
     H,
     NULL,
     {NULL},
     {NULL},
     {NULL},
     ""},
    /* ws repeatable and deduplicated (BEP 19). */
    {M "&ws=http%3A%2F%2Fw1.example%2Ff&ws=http://w2.example/f&ws=http://w1.example/f",
     H,
     NULL,
     {NULL},
     {"http://w1.example/f", "http://w2.example/f"},
     {NULL},
     ""},
    /* x.pe: host:port and [v6]:port, raw or encoded, deduplicated. */
    {M "&x.pe=1.2.3.4:6881&x.pe=%5B2001:db8::1%5D:51413&x.pe=peer.example:1"
       "&x.pe=1.2.3.4%3A6881&x.pe=[::ffff:1.2.3.4]:65535",
     H,
     NULL,
     {NULL},
     {NULL},
     {"1.2.3.4:6881", "[2001:db8::1]:51413", "peer.example:1", "[::ffff:1.2.3.4]:65535"},
     ""},
    /* BEP 53 so: indices and inclusive ranges, sorted and merged. */
    {M "&so=0,2,4-6", H, NULL, {NULL}, {NULL}, {NULL}, "0,2,4-6"},
    {M "&so=4-6,5,7,0", H, NULL, {NULL}, {NULL}, {NULL}, "0,4-7"},
    {M "&so=9&so=1-3%2C8", H, NULL, {NULL}, {NULL}, {NULL}, "1-3,8-9"},
    {M "&so=3-3,3,1-5,0-2", H, NULL, {NULL}, {NULL}, {NULL}, "0-5"},
    {M "&so=2147483648,0-2147483647", H, NULL, {NULL}, {NULL}, {NULL}, "0-2147483648"},
    /* The same btih twice, even in two spellings, is one hash. */
    {M "&xt=urn:btih:" B32, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* A hybrid v1/v2 link: the btmh is ignored. */
    {"magnet:?xt=urn:btmh:1220" H "abcdefabcdefabcdefabcdef&xt=urn:btih:" H,
     H,
     NULL,
     {NULL},
     {NULL},
     {NULL},
     ""},
    /* xt.N form, and xt URNs of other networks beside the btih. */
    {"magnet:?xt.1=urn:sha1:ABCD&xt.2=urn:btih:" H, H, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* Unknown parameters are ignored without being checked. */
    {M "&xl=12345&kt=a+b&x.foo=%zz&xs=http://x/y&as=%&foo&x.pe2=bad",
     H,
     NULL,
     {NULL},
     {NULL},
     {NULL},
     ""},
    /* Empty parameters. */
    {"magnet:?&&xt=urn:btih:" H "&&dn=a&", H, "a", {NULL}, {NULL}, {NULL}, ""},
    /* Keys are case-sensitive: DN is not dn. */
    {M "&DN=x&TR=udp://a:1", H, NULL, {NULL}, {NULL}, {NULL}, ""},
    /* Empty tr, ws and x.pe values are skipped. */
    {M "&tr=&ws=&x.pe=", H, NULL, {NULL}, {NULL}, {NULL}, ""},
};

static void
test_parse_ok(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < ARRAY_LEN(ok_cases); ci++) {
        const struct ok_case *c = &ok_cases[ci];
        shoal_magnet *mg = NULL;
        struct shoal_perr err = {0};
        int rc = shoal_magnet_parse(c->uri, &mg, &err);
        if (rc != 0)
            fail_msg("case %zu (%s): rc %d at %zu: %s", ci, c->uri, rc, err.off, err.why);
        char hex[41];
        hex_encode(shoal_magnet_infohash(mg), 20, hex);
        if (strcmp(hex, c->hash) != 0)
            fail_msg("case %zu: hash %s, want %s", ci, hex, c->hash);
        if (!c->name)
            assert_null(shoal_magnet_name(mg));
        else if (!shoal_magnet_name(mg) || strcmp(shoal_magnet_name(mg), c->name) != 0)
            fail_msg("case %zu: name \"%s\", want \"%s\"", ci,
                     shoal_magnet_name(mg) ? shoal_magnet_name(mg) : "(null)", c->name);
        check_list(ci, "tracker", shoal_magnet_tracker_count(mg), shoal_magnet_tracker,
                   mg, c->tr, ARRAY_LEN(c->tr));
        check_list(ci, "webseed", shoal_magnet_webseed_count(mg), shoal_magnet_webseed,
                   mg, c->ws, ARRAY_LEN(c->ws));
        check_list(ci, "peer", shoal_magnet_peer_count(mg), shoal_magnet_peer, mg, c->pe,
                   ARRAY_LEN(c->pe));
        char so[256];
        so_text(mg, so, sizeof(so));
        if (strcmp(so, c->so) != 0)
            fail_msg("case %zu: so \"%s\", want \"%s\"", ci, so, c->so);
        shoal_magnet_free(mg);
    }
}

/* ------------------------------------------------------------------ parse errors */

struct bad_case {
    const char *uri;
    int rc;
    size_t off;
    const char *why; /* a part of the reason */
};

static const struct bad_case bad_cases[] = {
    {"", SHOAL_EPARSE, 0, "not a magnet link"},
    {"http://example.org/x.torrent", SHOAL_EPARSE, 0, "not a magnet link"},
    {"magnet:", SHOAL_EPARSE, 0, "not a magnet link"},
    {"magnet:xt=urn:btih:" H, SHOAL_EPARSE, 0, "not a magnet link"},
    {" magnet:?xt=urn:btih:" H, SHOAL_EPARSE, 0, "not a magnet link"},
    {"magnet:?", SHOAL_EPARSE, 8, "missing xt=urn:btih:"},
    {"magnet:?dn=x&tr=udp://a:1", SHOAL_EPARSE, 25, "missing xt=urn:btih:"},
    {"magnet:?xt=urn:sha1:" H, SHOAL_EPARSE, 60, "missing xt=urn:btih:"},
    {"magnet:?xt", SHOAL_EPARSE, 10, "missing xt=urn:btih:"},
    {"magnet:?XT=urn:btih:" H, SHOAL_EPARSE, 60, "missing xt=urn:btih:"},
    /* The hash: value starts at offset 11. */
    {"magnet:?xt=urn:btih:abc", SHOAL_EPARSE, 11, "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:", SHOAL_EPARSE, 11, "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88", SHOAL_EPARSE, 11,
     "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88aa", SHOAL_EPARSE, 11,
     "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:g12fe1c06bba254a9dc9f519b335aa7c1367a88a", SHOAL_EPARSE, 11,
     "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:1EX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK", SHOAL_EPARSE, 11,
     "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:+EX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK", SHOAL_EPARSE, 11,
     "40 hex or 32 base32"},
    {"magnet:?xt=urn:btih:" H "&xt=urn:btih:" H2, SHOAL_EPARSE, 61, "two different btih"},
    /* BEP 52 v2-only links: the offset is the first btmh parameter. */
    {"magnet:?dn=a&xt=urn:btmh:1220" H "abcdefabcdefabcdefabcdef", SHOAL_EPARSE, 13,
     "v2-only magnet"},
    {M "&=foo", SHOAL_EPARSE, 61, "empty parameter name"},
    {"magnet:?=&xt=urn:btih:" H, SHOAL_EPARSE, 8, "empty parameter name"},
    /* Percent escapes: the offset is the '%'. dn= is 61..63. */
    {M "&dn=a%zz", SHOAL_EPARSE, 65, "malformed percent escape"},
    {M "&dn=a%2", SHOAL_EPARSE, 65, "malformed percent escape"},
    {M "&dn=a%", SHOAL_EPARSE, 65, "malformed percent escape"},
    {M "&tr=%g0", SHOAL_EPARSE, 64, "malformed percent escape"},
    {"magnet:?xt=urn:btih:%x1", SHOAL_EPARSE, 20, "malformed percent escape"},
    {M "&dn=ab%00c", SHOAL_EPARSE, 66, "NUL"},
    {M "&tr=udp://a%00b", SHOAL_EPARSE, 71, "NUL"},
    /* x.pe: value starts at 66. */
    {M "&x.pe=1.2.3.4:0", SHOAL_EPARSE, 74, "port must be"},
    {M "&x.pe=1.2.3.4:65536", SHOAL_EPARSE, 74, "port must be"},
    {M "&x.pe=1.2.3.4:", SHOAL_EPARSE, 74, "port must be"},
    {M "&x.pe=1.2.3.4:06881", SHOAL_EPARSE, 74, "port must be"},
    {M "&x.pe=1.2.3.4:80x", SHOAL_EPARSE, 74, "port must be"},
    {M "&x.pe=1.2.3.4", SHOAL_EPARSE, 66, "expected host:port"},
    {M "&x.pe=:80", SHOAL_EPARSE, 66, "expected host:port"},
    {M "&x.pe=::1:80", SHOAL_EPARSE, 66, "expected host:port"},
    {M "&x.pe=a::1:80", SHOAL_EPARSE, 68, "port must be"},
    {M "&x.pe=ho/st:80", SHOAL_EPARSE, 68, "bad character in host"},
    {M "&x.pe=[::1]80", SHOAL_EPARSE, 71, "expected ':' and a port"},
    {M "&x.pe=[::1]", SHOAL_EPARSE, 71, "expected ':' and a port"},
    {M "&x.pe=[]:80", SHOAL_EPARSE, 66, "expected [v6]:port"},
    {M "&x.pe=[::1:80", SHOAL_EPARSE, 66, "expected [v6]:port"},
    {M "&x.pe=[1.2.3.4]:80", SHOAL_EPARSE, 66, "expected [v6]:port"},
    {M "&x.pe=[::g]:80", SHOAL_EPARSE, 69, "bad character in IPv6"},
    /* Escaped values report the value's start. */
    {M "&x.pe=%5B::1%5D:0", SHOAL_EPARSE, 66, "port must be"},
    /* so: value starts at 64. */
    {M "&so=", SHOAL_EPARSE, 64, "empty file selection"},
    {M "&so=1,,2", SHOAL_EPARSE, 66, "expected a file index"},
    {M "&so=1,2,", SHOAL_EPARSE, 68, "expected a file index"},
    {M "&so=,1", SHOAL_EPARSE, 64, "expected a file index"},
    {M "&so=6-4", SHOAL_EPARSE, 64, "range ends before it starts"},
    {M "&so=0,2147483649", SHOAL_EPARSE, 66, "expected a file index"},
    {M "&so=99999999999999999999999", SHOAL_EPARSE, 64, "expected a file index"},
    {M "&so=1-2147483649", SHOAL_EPARSE, 66, "expected a file index"},
    {M "&so=a", SHOAL_EPARSE, 64, "expected a file index"},
    {M "&so=1-", SHOAL_EPARSE, 66, "expected a file index"},
    {M "&so=-1", SHOAL_EPARSE, 64, "expected a file index"},
    {M "&so=01", SHOAL_EPARSE, 64, "expected a file index"},
    {M "&so=1-2-3", SHOAL_EPARSE, 67, "expected ','"},
    {M "&so=1+2", SHOAL_EPARSE, 65, "expected ','"},
    {M "&so=1%2C%2C2", SHOAL_EPARSE, 64, "expected a file index"},
};

static void
test_parse_bad(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < ARRAY_LEN(bad_cases); ci++) {
        const struct bad_case *c = &bad_cases[ci];
        shoal_magnet *mg = (shoal_magnet *)&mg; /* must be reset to NULL */
        struct shoal_perr err = {0};
        int rc = shoal_magnet_parse(c->uri, &mg, &err);
        if (rc != c->rc || err.off != c->off || !err.why || !strstr(err.why, c->why))
            fail_msg("case %zu (%s): rc %d off %zu why \"%s\"; want rc %d off %zu \"%s\"",
                     ci, c->uri, rc, err.off, err.why ? err.why : "(null)", c->rc, c->off,
                     c->why);
        assert_null(mg);
    }
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    shoal_magnet *mg = NULL;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_magnet_parse(NULL, &mg, &err), SHOAL_EINVAL);
    assert_null(mg);
    assert_non_null(err.why);
    assert_int_equal(shoal_magnet_parse(M, NULL, &err), SHOAL_EINVAL);
    /* err is optional. */
    assert_int_equal(shoal_magnet_parse("nope", &mg, NULL), SHOAL_EPARSE);
    assert_int_equal(shoal_magnet_parse(M, &mg, NULL), 0);

    /* Accessors take NULL and out-of-range indices. */
    assert_null(shoal_magnet_tracker(mg, 0));
    assert_null(shoal_magnet_webseed(mg, 0));
    assert_null(shoal_magnet_peer(mg, 0));
    uint32_t a = 7, b = 7;
    shoal_magnet_select(mg, 0, &a, &b);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
    shoal_magnet_free(mg);
    assert_null(shoal_magnet_infohash(NULL));
    assert_null(shoal_magnet_name(NULL));
    assert_int_equal(shoal_magnet_tracker_count(NULL), 0);
    assert_int_equal(shoal_magnet_webseed_count(NULL), 0);
    assert_int_equal(shoal_magnet_peer_count(NULL), 0);
    assert_int_equal(shoal_magnet_select_count(NULL), 0);
    assert_null(shoal_magnet_format(NULL));
    shoal_magnet_free(NULL);
}

/* ------------------------------------------------------------------ limits */

static void
test_limits(void **state)
{
    (void)state;
    struct buf b;
    shoal_magnet *mg = NULL;
    struct shoal_perr err = {0};

    /* Exactly MAGNET_MAX_URI bytes parse; one more does not. */
    buf_init(&b, 2 * MAGNET_MAX_URI);
    buf_append_str(&b, M "&dn=");
    while (b.len < MAGNET_MAX_URI)
        buf_append_byte(&b, 'a');
    char *s = (char *)buf_steal(&b, NULL);
    assert_non_null(s);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), 0);
    assert_int_equal(strlen(shoal_magnet_name(mg)), MAGNET_MAX_URI - 64);
    shoal_magnet_free(mg);
    xfree(s);
    buf_append_str(&b, M "&dn=");
    while (b.len < MAGNET_MAX_URI + 1)
        buf_append_byte(&b, 'a');
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), SHOAL_ETOOBIG);
    assert_int_equal(err.off, MAGNET_MAX_URI);
    assert_null(mg);
    xfree(s);

    /* 1000 distinct trackers parse; the 1001st is refused at its offset. */
    buf_append_str(&b, M);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "&tr=udp://t%d:1", i);
    size_t at = b.len + 1;
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), 0);
    assert_int_equal(shoal_magnet_tracker_count(mg), 1000);
    shoal_magnet_free(mg);
    buf_append_str(&b, s);
    xfree(s);
    /* A duplicate does not count against the cap. */
    buf_append_str(&b, "&tr=udp://t999:1&tr=udp://new:1");
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), SHOAL_ETOOBIG);
    assert_int_equal(err.off, at + strlen("tr=udp://t999:1&"));
    assert_non_null(strstr(err.why, "1000 trackers"));
    xfree(s);

    /* Too many parameters of any kind. */
    buf_append_str(&b, M);
    for (int i = 0; i < 4096; i++)
        buf_append_str(&b, "&x=1");
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), SHOAL_ETOOBIG);
    assert_int_equal(err.off, strlen(M) + 4095 * 4 + 1);
    xfree(s);

    /* Too many so entries. */
    buf_append_str(&b, M "&so=0");
    for (int i = 1; i <= 4096; i++)
        buf_printf(&b, ",%d", i);
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), SHOAL_ETOOBIG);
    xfree(s);

    /* Many so entries merge into one range. */
    buf_append_str(&b, M "&so=4000");
    for (int i = 3999; i >= 0; i--)
        buf_printf(&b, ",%d", i);
    s = (char *)buf_steal(&b, NULL);
    assert_int_equal(shoal_magnet_parse(s, &mg, &err), 0);
    assert_int_equal(shoal_magnet_select_count(mg), 1);
    uint32_t first, last;
    shoal_magnet_select(mg, 0, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 4000);
    shoal_magnet_free(mg);
    xfree(s);
    buf_cleanup(&b);
}

/* ------------------------------------------------------------------ format */

struct fmt_case {
    const char *uri;
    const char *want;
};

static const struct fmt_case fmt_cases[] = {
    {M, M},
    {"MAGNET:?xt=urn:btih:" B32, M},
    {"magnet:?xt=urn:btih:" HU "&dn=a b", M "&dn=a%20b"},
    /* Fixed order; everything but unreserved characters escaped (RFC 3986). */
    {M "&so=4-6,0&x.pe=[::1]:80&ws=http://w/&tr=udp://t:1/a&dn=Hello+World",
     M "&dn=Hello%20World&tr=udp%3A%2F%2Ft%3A1%2Fa&ws=http%3A%2F%2Fw%2F"
       "&x.pe=%5B%3A%3A1%5D%3A80&so=0,4-6"},
    {M "&dn=a-b.c_d~e%2Bf%26g%3Dh%25", M "&dn=a-b.c_d~e%2Bf%26g%3Dh%25"},
    {M "&dn=%c3%a9", M "&dn=%C3%A9"},
    {M "&tr=x&tr.1=y&tr=x&ws=z", M "&tr=x&tr=y&ws=z"},
    {M "&so=2147483648&so=7", M "&so=7,2147483648"},
    {M "&xl=10&x.pe=h:1", M "&x.pe=h%3A1"},
};

static void
test_format(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < ARRAY_LEN(fmt_cases); ci++) {
        shoal_magnet *mg = NULL, *again = NULL;
        struct shoal_perr err = {0};
        if (shoal_magnet_parse(fmt_cases[ci].uri, &mg, &err) != 0)
            fail_msg("case %zu: parse failed at %zu: %s", ci, err.off, err.why);
        char *s = shoal_magnet_format(mg);
        assert_non_null(s);
        if (strcmp(s, fmt_cases[ci].want) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", ci, s, fmt_cases[ci].want);
        /* Formatting is a fixed point: parse(format(x)) formats the same. */
        assert_int_equal(shoal_magnet_parse(s, &again, &err), 0);
        char *s2 = shoal_magnet_format(again);
        assert_string_equal(s, s2);
        shoal_free(s2);
        shoal_free(s);
        shoal_magnet_free(again);
        shoal_magnet_free(mg);
    }
}

/* Every ok case survives format and parse unchanged. */
static void
test_round_trip(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < ARRAY_LEN(ok_cases); ci++) {
        shoal_magnet *mg = NULL, *again = NULL;
        assert_int_equal(shoal_magnet_parse(ok_cases[ci].uri, &mg, NULL), 0);
        char *s = shoal_magnet_format(mg);
        assert_non_null(s);
        struct shoal_perr err = {0};
        if (shoal_magnet_parse(s, &again, &err) != 0)
            fail_msg("case %zu: %s does not parse: %s at %zu", ci, s, err.why, err.off);
        check_same(mg, again);
        shoal_free(s);
        shoal_magnet_free(again);
        shoal_magnet_free(mg);
    }
}

static void
test_format_parts(void **state)
{
    (void)state;
    uint8_t ih[20];
    for (int i = 0; i < 20; i++)
        ih[i] = (uint8_t)(i % 16 * 17);
    const char *hex = "magnet:?xt=urn:btih:00112233445566778899aabbccddeeff00112233";

    char *s = magnet_format_parts(ih, NULL, NULL, 0, NULL, 0);
    assert_string_equal(s, hex);
    xfree(s);

    /* An empty name is no name; empty entries are skipped. */
    const char *tr[] = {"udp://a.example:6969/announce", "", "http://b/x?y=1&z"};
    const char *ws[] = {"https://w.example/files/", ""};
    s = magnet_format_parts(ih, "", tr, 3, ws, 2);
    assert_string_equal(s, "magnet:?xt=urn:btih:00112233445566778899aabbccddeeff00112233"
                           "&tr=udp%3A%2F%2Fa.example%3A6969%2Fannounce"
                           "&tr=http%3A%2F%2Fb%2Fx%3Fy%3D1%26z"
                           "&ws=https%3A%2F%2Fw.example%2Ffiles%2F");
    xfree(s);

    s = magnet_format_parts(ih, "My Files (2024) + more", tr, 1, NULL, 0);
    assert_string_equal(s, "magnet:?xt=urn:btih:00112233445566778899aabbccddeeff00112233"
                           "&dn=My%20Files%20%282024%29%20%2B%20more"
                           "&tr=udp%3A%2F%2Fa.example%3A6969%2Fannounce");
    /* And it parses back to what went in. */
    shoal_magnet *mg = NULL;
    assert_int_equal(shoal_magnet_parse(s, &mg, NULL), 0);
    assert_memory_equal(shoal_magnet_infohash(mg), ih, 20);
    assert_string_equal(shoal_magnet_name(mg), "My Files (2024) + more");
    assert_int_equal(shoal_magnet_tracker_count(mg), 1);
    assert_string_equal(shoal_magnet_tracker(mg, 0), tr[0]);
    shoal_magnet_free(mg);
    xfree(s);

    assert_null(magnet_format_parts(NULL, NULL, NULL, 0, NULL, 0));
}

/* ------------------------------------------------------------------ allocation failures
 */

static const char full[] =
    M "&dn=name&tr=udp://a:1&tr=udp://b:2&ws=http://w/&ws=http://v/"
      "&x.pe=1.2.3.4:5&x.pe=[::1]:6&so=1,3-4,0";

static void
test_alloc_failures(void **state)
{
    (void)state;
    long n;
    for (n = 0;; n++) {
        shoal_magnet *mg = NULL;
        struct shoal_perr err = {0};
        alloc_fail_after(n);
        int rc = shoal_magnet_parse(full, &mg, &err);
        alloc_fail_after(-1);
        if (rc == 0) {
            shoal_magnet_free(mg);
            break;
        }
        assert_int_equal(rc, SHOAL_ENOMEM);
        assert_null(mg);
        assert_non_null(err.why);
        assert_true(n < 1000);
    }
    assert_true(n > 5);

    shoal_magnet *mg = NULL;
    assert_int_equal(shoal_magnet_parse(full, &mg, NULL), 0);
    for (n = 0;; n++) {
        alloc_fail_after(n);
        char *s = shoal_magnet_format(mg);
        alloc_fail_after(-1);
        if (s) {
            shoal_free(s);
            break;
        }
        assert_true(n < 1000);
    }
    shoal_magnet_free(mg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),      cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_format),        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format_parts),  cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
