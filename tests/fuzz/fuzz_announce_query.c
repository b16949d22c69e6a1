/*
 * fuzz_announce_query.c — libFuzzer target for the tracker server's HTTP
 * query parsers and reply encoders (src/tracker_req.c).
 *
 * The input is a query string for both tracker_req_parse_announce() and
 * tracker_req_parse_scrape(). Either parses or fails cleanly (a known code,
 * a reason, an offset inside the query). An announce that parses keeps the
 * header's promises (port nonzero, numwant capped, event known, flags 0 or
 * 1, slices inside the input, addresses NUL-terminated) and survives being
 * written back as a canonical query and parsed again with the same result.
 * The same goes for the infohashes of a scrape. The replies built from what
 * was parsed must decode as bencode with the peers and hashes they were
 * given. Any broken promise aborts so that the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "codec/bencode.h"
#include "codec/tracker_req.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(int rc, const struct shoal_perr *err, size_t size)
{
    if (rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG)
        abort();
    if (!err->why || err->off > size)
        abort();
    if (rc == SHOAL_ETOOBIG && size <= TRACKER_REQ_MAX_QUERY &&
        strcmp(err->why, "too many info_hash") != 0)
        abort();
}

/* Appends name=%xx%xx... for 20 bytes. */
static void
put_hex20(struct buf *b, const char *name, const uint8_t v[20])
{
    buf_printf(b, "&%s=", name);
    for (int i = 0; i < 20; i++)
        buf_printf(b, "%%%02x", v[i]);
}

static const char *const events[] = {"", "completed", "started", "stopped"};

/* Writes the announce back as a query and parses it again. */
static void
round_trip(const struct tracker_req_announce *a)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    put_hex20(&b, "info_hash", a->info_hash);
    put_hex20(&b, "peer_id", a->peer_id);
    buf_printf(&b, "&port=%u&uploaded=%llu&downloaded=%llu", a->port,
               (unsigned long long)a->uploaded, (unsigned long long)a->downloaded);
    if (a->left != UINT64_MAX)
        buf_printf(&b, "&left=%llu", (unsigned long long)a->left);
    buf_printf(&b, "&event=%s&compact=%d&no_peer_id=%d&numwant=%u",
               a->paused ? "paused" : events[a->event], a->compact, a->no_peer_id,
               a->numwant);
    if (buf_error(&b))
        abort();
    struct tracker_req_announce c;
    struct shoal_perr err = {0};
    if (tracker_req_parse_announce((const char *)b.data, b.len, &c, &err) != 0)
        abort();
    if (memcmp(a->info_hash, c.info_hash, 20) || memcmp(a->peer_id, c.peer_id, 20) ||
        a->port != c.port || a->uploaded != c.uploaded || a->downloaded != c.downloaded ||
        a->left != c.left || a->event != c.event || a->paused != c.paused ||
        a->compact != c.compact || a->no_peer_id != c.no_peer_id ||
        a->numwant != c.numwant)
        abort();
    buf_cleanup(&b);
}

static void
check_announce(const struct tracker_req_announce *a, const char *q, size_t size)
{
    if (a->port == 0 || a->numwant > TRACKER_REQ_NUMWANT_MAX)
        abort();
    if (a->event < TRACKER_REQ_EVENT_NONE || a->event > TRACKER_REQ_EVENT_STOPPED)
        abort();
    if (a->paused && a->event != TRACKER_REQ_EVENT_NONE)
        abort();
    if ((a->compact != 0 && a->compact != 1) || (a->no_peer_id & ~1))
        abort();
    if (a->key && (a->key < q || a->key + a->key_len > q + size))
        abort();
    if (a->trackerid && (a->trackerid < q || a->trackerid + a->trackerid_len > q + size))
        abort();
    if (strnlen(a->ip, sizeof(a->ip)) > TRACKER_REQ_MAX_IP ||
        strnlen(a->ipv4, sizeof(a->ipv4)) > TRACKER_REQ_MAX_IP ||
        strnlen(a->ipv6, sizeof(a->ipv6)) > TRACKER_REQ_MAX_IP)
        abort();
    round_trip(a);
}

/* The announce reply for peers taken from the input decodes back to them. */
static void
check_reply(const uint8_t *data, size_t size, int compact)
{
    size_t n4 = size / 6 * 6 > 600 ? 600 : size / 6 * 6;
    size_t n6 = size / 18 * 18 > 1800 ? 1800 : size / 18 * 18;
    struct buf b;
    buf_init(&b, 1 << 20);
    if (tracker_req_encode_announce_reply(&b, 1800, 60, (int64_t)size, 7, data, n4, data,
                                          n6, compact, size & 1 ? "w" : NULL) != 0)
        abort();
    struct benc_doc d = {0};
    struct shoal_perr err = {0};
    if (benc_decode(&d, b.data, b.len, 100000, NULL, &err) != 0)
        abort();
    uint32_t peers = benc_dict_get(&d, 0, "peers");
    if (!peers || benc_dict_get(&d, 0, "complete") == 0)
        abort();
    if (compact) {
        size_t len;
        if (d.tok[peers].type != BENC_STR)
            abort();
        const uint8_t *p = benc_str(&d, peers, &len);
        if (len != n4 || (n4 && memcmp(p, data, n4)))
            abort();
        uint32_t p6 = benc_dict_get(&d, 0, "peers6");
        if (n6) {
            if (!p6 || d.tok[p6].type != BENC_STR)
                abort();
            p = benc_str(&d, p6, &len);
            if (len != n6 || memcmp(p, data, n6))
                abort();
        } else if (p6) {
            abort();
        }
    } else if (d.tok[peers].type != BENC_LIST || d.tok[peers].count != n4 / 6 + n6 / 18) {
        abort();
    }
    benc_doc_cleanup(&d);
    buf_cleanup(&b);
}

static void
check_scrape(uint8_t (*h)[20], size_t n)
{
    /* Written back as a query, the same hashes come out. */
    struct buf b;
    buf_init(&b, 1 << 16);
    for (size_t i = 0; i < n; i++)
        put_hex20(&b, "info_hash", h[i]);
    uint8_t again[TRACKER_REQ_MAX_SCRAPE][20];
    size_t m = 0;
    struct shoal_perr err = {0};
    if (b.len > TRACKER_REQ_MAX_QUERY) {
        buf_cleanup(&b);
        return;
    }
    if (tracker_req_parse_scrape((const char *)b.data, b.len, again,
                                 TRACKER_REQ_MAX_SCRAPE, &m, &err) != 0 ||
        m != n || (n && memcmp(again, h, n * 20) != 0))
        abort();
    buf_cleanup(&b);

    /* The reply names each distinct hash once, in byte order. */
    struct tracker_req_scrape_entry e[TRACKER_REQ_MAX_SCRAPE];
    for (size_t i = 0; i < n; i++) {
        memcpy(e[i].info_hash, h[i], 20);
        e[i].complete = i;
        e[i].downloaded = 2 * i;
        e[i].incomplete = 3 * i;
    }
    buf_init(&b, 1 << 16);
    if (tracker_req_encode_scrape_reply(&b, e, n) != 0)
        abort();
    struct benc_doc d = {0};
    if (benc_decode(&d, b.data, b.len, 100000, NULL, &err) != 0)
        abort();
    uint32_t files = benc_dict_get_type(&d, 0, "files", BENC_DICT);
    if (!files)
        abort();
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || memcmp(e[i].info_hash, e[i - 1].info_hash, 20) != 0;
    if (d.tok[files].count != distinct)
        abort();
    const uint8_t *prev = NULL;
    uint32_t t = benc_first(files);
    for (uint32_t i = 0; i < d.tok[files].count; i++) {
        size_t len;
        const uint8_t *k = benc_str(&d, t, &len);
        if (len != 20 || (prev && memcmp(prev, k, 20) >= 0))
            abort();
        prev = k;
        t = benc_next(&d, benc_next(&d, t));
    }
    benc_doc_cleanup(&d);
    buf_cleanup(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    struct tracker_req_announce a;
    struct shoal_perr err = {0};
    int rc = tracker_req_parse_announce(q, size, &a, &err);
    if (rc == 0)
        check_announce(&a, q, size);
    else
        check_err(rc, &err, size);

    uint8_t h[TRACKER_REQ_MAX_SCRAPE][20];
    size_t n = 999;
    struct shoal_perr serr = {0};
    rc = tracker_req_parse_scrape(q, size, h, TRACKER_REQ_MAX_SCRAPE, &n, &serr);
    if (n > TRACKER_REQ_MAX_SCRAPE)
        abort();
    if (rc == 0)
        check_scrape(h, n);
    else
        check_err(rc, &serr, size);

    check_reply(data, size, size % 3 != 0);

    struct buf b;
    buf_init(&b, 1 << 16);
    char reason[64];
    snprintf(reason, sizeof(reason), "%.*s", (int)(size < 40 ? size : 40), q);
    if (tracker_req_encode_failure(&b, reason) != 0)
        abort();
    buf_cleanup(&b);
    return 0;
}
