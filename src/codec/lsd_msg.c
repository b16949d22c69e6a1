/*
 * lsd_msg.c — the BEP 14 announce codec. Codec layer.
 *
 * An announce arrives from anyone on the local network, so the parser
 * reads at most LSD_MAX_MSG bytes, walks the lines in place without
 * copying, and keeps only a port, a bounded list of infohashes and a
 * short cookie. Nothing here touches a socket or the clock.
 */
#include "codec/lsd_msg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

static const char request_line[] = "BT-SEARCH * HTTP/1.1";

/* The line starting at p[off]: its length without the line end in *len;
 * returns the offset of the next line (n when this one is the last). */
static size_t
next_line(const uint8_t *p, size_t n, size_t off, size_t *len)
{
    const uint8_t *nl = memchr(p + off, '\n', n - off);
    size_t end = nl ? (size_t)(nl - p) : n;
    size_t l = end - off;
    if (l > 0 && p[off + l - 1] == '\r')
        l--;
    *len = l;
    return nl ? end + 1 : n;
}

static int
is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int
name_is(const uint8_t *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp((const char *)s, name, n) == 0;
}

static int
printable_n(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int
parse_port(const uint8_t *s, size_t n, uint16_t *port)
{
    uint64_t v;
    if (n == 0 || n > 5 || s[0] == '0' || parse_u64((const char *)s, n, &v) != 0 ||
        v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int
lsd_msg_parse(const uint8_t *p, size_t n, struct lsd_msg *out, struct shoal_perr *err)
{
    size_t len, off;
    int have_port = 0;

    memset(out, 0, sizeof(*out));
    if (n > LSD_MAX_MSG)
        return perr_fail(err, LSD_MAX_MSG, SHOAL_ETOOBIG, "announce too large");
    if (err)
        err->msg[0] = '\0';
    off = next_line(p, n, 0, &len);
    if (len != sizeof(request_line) - 1 || memcmp(p, request_line, len) != 0)
        return perr_fail(err, 0, SHOAL_EPARSE, "not a BT-SEARCH request");

    while (off < n) {
        size_t start = off;
        off = next_line(p, n, off, &len);
        if (len == 0)
            break; /* the empty line ends the headers */
        const uint8_t *line = p + start;
        const uint8_t *colon = memchr(line, ':', len);
        if (!colon)
            return perr_fail(err, start, SHOAL_EPARSE, "header line without a colon");
        size_t nlen = (size_t)(colon - line);
        size_t v = nlen + 1, vend = len;
        while (v < vend && is_space(line[v]))
            v++;
        while (vend > v && is_space(line[vend - 1]))
            vend--;
        const uint8_t *val = line + v;
        size_t vlen = vend - v;

        if (name_is(line, nlen, "port")) {
            if (have_port)
                return perr_fail(err, start, SHOAL_EPARSE, "two Port headers");
            if (parse_port(val, vlen, &out->port) != 0)
                return perr_fail(err, start + v, SHOAL_EPARSE, "Port is not 1-65535");
            have_port = 1;
        } else if (name_is(line, nlen, "infohash")) {
            if (vlen != 40 || out->nih >= LSD_MAX_INFOHASHES ||
                hex_decode((const char *)val, out->ih[out->nih], 20) != 0) {
                out->skipped++;
                continue;
            }
            out->nih++;
        } else if (name_is(line, nlen, "cookie")) {
            /* One we could not have sent is not ours: not kept. */
            if (vlen <= LSD_MAX_COOKIE && printable_n(val, vlen)) {
                memcpy(out->cookie, val, vlen);
                out->cookie[vlen] = '\0';
            }
        }
    }
    if (!have_port)
        return perr_fail(err, n, SHOAL_EPARSE, "no Port header");
    if (out->nih == 0)
        return perr_fail(err, n, SHOAL_EPARSE, "no infohash");
    return 0;
}

static int
printable(const char *s)
{
    return printable_n((const uint8_t *)s, strlen(s));
}

int
lsd_msg_format(const char *host, uint16_t port, const uint8_t (*ih)[20], size_t nih,
               const char *cookie, struct buf *out)
{
    /* "Infohash: " + 40 hex digits + CRLF */
    const size_t ih_line = 10 + 40 + 2;
    char head[LSD_MAX_MSG], tail[LSD_MAX_COOKIE + 16];

    if (nih == 0 || port == 0 || !printable(host) || (cookie && !printable(cookie)) ||
        (cookie && strlen(cookie) > LSD_MAX_COOKIE))
        return SHOAL_EINVAL;
    int hl = snprintf(head, sizeof(head), "%s\r\nHost: %s\r\nPort: %u\r\n", request_line,
                      host, (unsigned)port);
    int tl = cookie ? snprintf(tail, sizeof(tail), "cookie: %s\r\n\r\n\r\n", cookie)
                    : snprintf(tail, sizeof(tail), "\r\n\r\n");
    if (hl < 0 || (size_t)hl >= sizeof(head) || tl < 0 ||
        (size_t)hl + (size_t)tl + ih_line > LSD_MAX_MSG)
        return SHOAL_EINVAL;
    size_t fit = (LSD_MAX_MSG - (size_t)hl - (size_t)tl) / ih_line;
    if (fit > nih)
        fit = nih;
    buf_append(out, head, (size_t)hl);
    for (size_t i = 0; i < fit; i++) {
        char hex[41];
        hex_encode(ih[i], 20, hex);
        buf_printf(out, "Infohash: %.40s\r\n", hex);
    }
    buf_append(out, tail, (size_t)tl);
    return buf_error(out) ? buf_error(out) : (int)fit;
}
