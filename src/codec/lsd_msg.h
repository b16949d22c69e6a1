/*
 * lsd_msg.h — local service discovery announces (BEP 14): the HTTP-like
 * datagram a node multicasts on its local network to say which torrents
 * it has and where it listens:
 *
 *   BT-SEARCH * HTTP/1.1\r\n
 *   Host: 239.192.152.143:6771\r\n
 *   Port: 6881\r\n
 *   Infohash: <40 hex digits>\r\n        (one line per torrent)
 *   cookie: <token>\r\n
 *   \r\n
 *   \r\n
 *
 * Codec layer: pure, bytes in and struct out.
 */
#ifndef SHOAL_LSD_MSG_H
#define SHOAL_LSD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* A longer datagram is refused unread, and ours stay within it: it fits
 * one Ethernet frame with room for the IPv6 and UDP headers. */
#define LSD_MAX_MSG 1400
/* Infohashes read from one announce, at most (more than LSD_MAX_MSG bytes
 * can hold); any past it would be counted in skipped. */
#define LSD_MAX_INFOHASHES 32
/* A cookie longer than this is not ours, so it is not kept. */
#define LSD_MAX_COOKIE 32

struct lsd_msg {
    uint16_t port; /* where the sender listens, 1..65535 */
    uint8_t ih[LSD_MAX_INFOHASHES][20];
    size_t nih;
    size_t skipped; /* infohash lines past the cap or not 40 hex digits */
    char cookie[LSD_MAX_COOKIE + 1]; /* "" when absent, too long or not printable */
};

/*
 * Parses a datagram into *out (zeroed first). The request line must be
 * "BT-SEARCH * HTTP/1.1"; lines end in CRLF or a bare LF; header names are
 * matched without regard to case and unknown ones ignored; the headers end
 * at an empty line or at the end of the datagram. "Port" is required once,
 * decimal 1..65535; each "Infohash" is 40 hex digits (other lengths, such
 * as a v2 hash, are skipped, as libtorrent does) and at least one must be
 * good; "cookie" is optional. Returns 0, SHOAL_ETOOBIG for a datagram over
 * LSD_MAX_MSG, or SHOAL_EPARSE with err->off and err->why.
 */
int lsd_msg_parse(const uint8_t *p, size_t n, struct lsd_msg *out,
                  struct shoal_perr *err);

/*
 * Appends an announce to out: host is the group as the Host header names
 * it ("239.192.152.143:6771", "[ff15::efc0:988f]:6771"), port our
 * listening port, cookie (may be NULL) our token, and as many of
 * ih[0..nih) as fit in LSD_MAX_MSG bytes, in order. Returns how many
 * infohashes it wrote (at least one), or SHOAL_EINVAL when nih is 0, port
 * is 0, host or cookie holds a control character or is too long for even
 * one infohash to fit, or the buffer's error.
 */
int lsd_msg_format(const char *host, uint16_t port, const uint8_t (*ih)[20], size_t nih,
                   const char *cookie, struct buf *out);

#endif
