/*
 * fuzz_tracker_reply.c — libFuzzer target for the HTTP tracker client codec.
 *
 * The whole input is handed to both reply parsers, as an announce reply and
 * as a scrape reply, and to the compact peer decoder for both families.
 * Whatever they accept must keep the promises tracker_http.h makes: peers
 * are dialable (port != 0, family 4 or 6, no unspecified, multicast or
 * broadcast address), unique and at most TRACKER_MAX_PEERS; intervals are 0
 * or inside the clamp range; counts are -1 or more; texts are NUL-terminated,
 * valid UTF-8 and free of control characters; a failure carries no peers;
 * scrape hashes are unique. Whatever they refuse must come with a known code,
 * a reason and an offset inside the input. The input is also sanitized into
 * buffers of several sizes and, as a C string, used as a tracker URL for the
 * announce and scrape URL builders, whose output must never hold a space or
 * a control byte. Any broken promise aborts so that the
 * fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/util.h"
#include "codec/tracker_http.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pairwise checks are quadratic; beyond this many items only the cheap
 * checks run. */
#define MAX_PAIRWISE 2000

/* NUL-terminated inside cap, valid UTF-8, no control characters. */
static void
check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    if (!utf8_valid((const uint8_t *)s, n))
        abort();
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7f)
            abort();
        if (c == 0xc2 && i + 1 < n && (uint8_t)s[i + 1] < 0xa0)
            abort();
    }
    /* Trailing whitespace is trimmed. */
    if (n && s[n - 1] == ' ')
        abort();
}

static void
check_peers(const struct tracker_peer *p, size_t n)
{
    static const uint8_t zero[16] = {0};
    if ((n == 0) != (p == NULL) || n > TRACKER_MAX_PEERS)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (p[i].port == 0)
            abort();
        if (p[i].family == 4) {
            if (memcmp(p[i].ip + 4, zero, 12) != 0)
                abort();
            if (p[i].ip[0] == 0 || p[i].ip[0] >= 224)
                abort();
        } else if (p[i].family == 6) {
            if (memcmp(p[i].ip, zero, 16) == 0 || p[i].ip[0] == 0xff)
                abort();
            /* IPv4-mapped addresses come out as IPv4. */
            if (memcmp(p[i].ip, zero, 10) == 0 && p[i].ip[10] == 0xff &&
                p[i].ip[11] == 0xff)
                abort();
        } else {
            abort();
        }
    }
    if (n > MAX_PAIRWISE)
        return;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (p[i].family == p[j].family && p[i].port == p[j].port &&
                memcmp(p[i].ip, p[j].ip, 16) == 0)
                abort();
}

static void
check_interval(uint32_t v)
{
    if (v != 0 && (v < TRACKER_MIN_INTERVAL_S || v > TRACKER_MAX_INTERVAL_S))
        abort();
}

static void
check_error(int rc, const struct shoal_perr *err, size_t size)
{
    if (rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG && rc != SHOAL_EINVAL)
        abort();
    if (err->why == NULL || err->off > size)
        abort();
    check_text(err->msg, sizeof(err->msg));
}

static void
fuzz_reply(const uint8_t *data, size_t size)
{
    struct tracker_reply r;
    struct shoal_perr err = {0};
    int rc = tracker_http_parse_reply(data, size, &r, &err);
    if (rc == 0) {
        check_text(r.failure, sizeof(r.failure));
        check_text(r.warning, sizeof(r.warning));
        check_interval(r.interval);
        check_interval(r.min_interval);
        if (strnlen(r.trackerid, sizeof(r.trackerid)) >= sizeof(r.trackerid))
            abort();
        if (r.complete < -1 || r.incomplete < -1 || r.downloaded < -1)
            abort();
        if (r.failure[0] && (r.npeers != 0 || r.complete != -1 || r.trackerid[0]))
            abort();
        check_peers(r.peers, r.npeers);
    } else {
        if (rc == SHOAL_EINVAL)
            abort();
        check_error(rc, &err, size);
        if (r.peers || r.npeers || r.failure[0])
            abort();
    }
    tracker_reply_cleanup(&r);
}

static void
fuzz_scrape(const uint8_t *data, size_t size)
{
    struct tracker_scrape_entry *e = NULL;
    size_t n = 0;
    uint32_t wait = 7;
    struct shoal_perr err = {0};
    int rc = tracker_http_parse_scrape(data, size, &e, &n, &wait, &err);
    if (rc == 0) {
        if ((n == 0) != (e == NULL) || n > TRACKER_MAX_SCRAPE)
            abort();
        check_interval(wait);
        for (size_t i = 0; i < n; i++) {
            if (e[i].complete < -1 || e[i].incomplete < -1 || e[i].downloaded < -1)
                abort();
            if (n <= MAX_PAIRWISE)
                for (size_t j = 0; j < i; j++)
                    if (memcmp(e[i].infohash, e[j].infohash, 20) == 0)
                        abort();
        }
    } else {
        check_error(rc, &err, size);
        if (rc == SHOAL_EINVAL && strcmp(err.why, "tracker refused the scrape") != 0)
            abort();
        if (e || n || wait != 0)
            abort();
    }
    xfree(e);
}

static void
fuzz_compact(const uint8_t *data, size_t size, int family)
{
    struct tracker_peer *p = NULL;
    size_t n = 0;
    size_t stride = family == 4 ? 6 : 18;
    int rc = tracker_http_compact_peers(data, size, family, &p, &n);
    if (size % stride) {
        if (rc != SHOAL_EINVAL || p || n)
            abort();
        return;
    }
    if (rc != 0 || n > size / stride)
        abort();
    check_peers(p, n);
    xfree(p);
}

static void
fuzz_sanitize(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 2, 5, 64, 256};
    char out[256];
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t n = tracker_http_sanitize_text(out, caps[i], data, size);
        if (n != strlen(out) || n >= caps[i])
            abort();
        check_text(out, caps[i]);
    }
}

/* The input as a tracker URL: builders either refuse it or produce a URL
 * that starts with the tracker's own (up to any fragment) and holds no
 * spaces or control bytes. */
static void
fuzz_urls(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return;
    char *url = xmalloc(size + 1);
    if (!url)
        return;
    memcpy(url, data, size);
    url[size] = '\0';
    struct tracker_announce a;
    memset(&a, 0, sizeof(a));
    memcpy(a.infohash, "\x00\xff%&=?# abcdefghijkl", 20);
    memcpy(a.peer_id, "-SH0001-0123456789ab", 20);
    a.port = 6881;
    a.event = size % 5; /* 4 is an unknown event */
    a.numwant = (int)(size % 3) - 1;
    a.trackerid = size % 2 ? "t&id" : NULL;
    a.compact = size % 4 != 0;
    a.no_peer_id = size % 7 == 0;

    struct buf b;
    buf_init(&b, 16384);
    int rc = tracker_http_announce_url(url, &a, &b);
    size_t keep = strcspn(url, "#");
    if (rc == 0) {
        if (b.len < keep || memcmp(b.data, url, keep) != 0 || b.data[b.len] != '\0')
            abort();
        for (size_t i = 0; i < b.len; i++)
            if (b.data[i] <= 0x20 || b.data[i] == 0x7f)
                abort();
    } else if (rc != SHOAL_EINVAL) {
        abort();
    } else if (b.len != 0) {
        abort();
    }
    buf_reset(&b);

    static const uint8_t hashes[2][20] = {"aaaaaaaaaaaaaaaaaaaa",
                                          "\x01\x02 bbbbbbbbbbbbbbbbb"};
    rc = tracker_http_scrape_url(url, hashes, size % 3, &b);
    if (rc == 0) {
        if (!strstr((const char *)b.data, "scrape") || b.data[b.len] != '\0')
            abort();
        for (size_t i = 0; i < b.len; i++)
            if (b.data[i] <= 0x20 || b.data[i] == 0x7f)
                abort();
    } else if (rc != SHOAL_EINVAL && rc != SHOAL_EUNSUPPORTED) {
        abort();
    }
    buf_cleanup(&b);
    xfree(url);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reply(data, size);
    fuzz_scrape(data, size);
    fuzz_compact(data, size, 4);
    fuzz_compact(data, size, 6);
    fuzz_sanitize(data, size);
    fuzz_urls(data, size);
    return 0;
}
