/*
 * ut_pex.h — peer exchange messages (BEP 11): the bencoded dictionary a peer
 * sends as its ut_pex extended message to name peers it connected to
 * ("added", "added6" with one flags byte each in "added.f", "added6.f") and
 * peers it lost ("dropped", "dropped6"). Codec layer: pure, bytes in and
 * struct out, nothing allocated per entry.
 */
#ifndef SHOAL_UT_PEX_H
#define SHOAL_UT_PEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "shoal.h"

/* A longer payload is refused unread: 100 added and 100 dropped entries of
 * both families, the most any client sends, take under 5 KiB; 64 KiB leaves
 * room for clients that send more and still bounds what one costs us. */
#define UT_PEX_MAX_MSG (64u * 1024)
/* Bencode values in one message, at most: six lists and their keys, and a
 * few unknown keys a future client may add. */
#define UT_PEX_MAX_TOKENS 64
/* Entries read from each of the four lists, at most; the rest are counted
 * in ut_pex_msg.skipped and not looked at. */
#define UT_PEX_MAX_READ 200
/* BEP 11: at most 50 added (and 50 dropped) peers per message we send. */
#define UT_PEX_MAX_SEND 50

/* Flags of an added peer (BEP 11, "added.f"). */
#define UT_PEX_F_ENCRYPTION 0x01 /* prefers encrypted connections */
#define UT_PEX_F_SEED       0x02 /* seed or upload only */
#define UT_PEX_F_UTP        0x04 /* supports uTP */
#define UT_PEX_F_HOLEPUNCH  0x08 /* supports ut_holepunch (BEP 55) */
#define UT_PEX_F_REACHABLE  0x10 /* the sender connected to it: reachable */

/* One peer of a message. */
struct ut_pex_peer {
    uint8_t ip[16]; /* network order; the first ip_len bytes */
    uint8_t ip_len; /* 4 (IPv4) or 16 (IPv6) */
    uint8_t flags;  /* UT_PEX_F_*; 0 in dropped lists */
    uint16_t port;  /* host order; may be 0 as sent: the reader checks */
};

struct ut_pex_msg {
    /* IPv4 entries first, then IPv6, each in the order sent. */
    struct ut_pex_peer added[2 * UT_PEX_MAX_READ];
    size_t nadded;
    struct ut_pex_peer dropped[2 * UT_PEX_MAX_READ];
    size_t ndropped;
    size_t skipped; /* entries past UT_PEX_MAX_READ in some list, unread */
};

/*
 * Parses a ut_pex payload (the bytes after the extended message id) into
 * *out, which is zeroed first (it is large: about 16 KiB, so callers keep it
 * on the heap). Rules:
 *   - one bencoded dictionary of at most UT_PEX_MAX_MSG bytes and
 *     UT_PEX_MAX_TOKENS values, with nothing after it;
 *   - "added", "added6", "dropped", "dropped6", "added.f" and "added6.f",
 *     each optional, must be strings; the address lists a whole number of
 *     6-byte (IPv4) or 18-byte (IPv6) compact entries;
 *   - a flags string shorter than its list gives the missing entries flags
 *     0 (some clients leave it out); extra flag bytes are ignored;
 *   - unknown keys are ignored.
 * Entries are returned as sent; whether an address is worth dialing is the
 * caller's call. Returns 0, SHOAL_ETOOBIG for an oversized payload or too
 * many values, SHOAL_EPARSE with err->off and err->why, or SHOAL_ENOMEM.
 */
int ut_pex_parse(const uint8_t *p, size_t n, struct ut_pex_msg *out,
                 struct shoal_perr *err);

/*
 * Appends a ut_pex payload to out: every key of BEP 11 (empty lists too,
 * since some clients look for "added" without checking), IPv4 and IPv6
 * entries sorted into their lists in the order given, one flags byte per
 * added entry. Any count is written; keeping to UT_PEX_MAX_SEND is the
 * caller's part. Returns 0, SHOAL_EINVAL for an entry whose ip_len is not 4
 * or 16, or the buffer's error.
 */
int ut_pex_encode(const struct ut_pex_peer *added, size_t nadded,
                  const struct ut_pex_peer *dropped, size_t ndropped, struct buf *out);

/* 1 when a and b name the same address and port (flags ignored). */
int ut_pex_same(const struct ut_pex_peer *a, const struct ut_pex_peer *b);

#endif
