/*
 * magnet.h — magnet links (BEP 9, BEP 53 `so`): internal view.
 * Codec layer: a string in, a validated struct out, and back. No I/O.
 *
 * Programs use the shoal_magnet_* functions in shoal.h; this header adds what
 * other modules of the library need (the metainfo module formats a torrent's
 * magnet link with magnet_format_parts()).
 */
#ifndef SHOAL_MAGNET_H
#define SHOAL_MAGNET_H

#include <stddef.h>
#include <stdint.h>

#include "base/strv.h"
#include "shoal.h"

/* Longest magnet link shoal_magnet_parse() reads; longer ones fail with
 * SHOAL_ETOOBIG. Real links are a few hundred bytes; 64 KiB leaves room for
 * hundreds of trackers while bounding the work a pasted link can cause. */
#define MAGNET_MAX_URI (64u * 1024)

/* Longest string magnet_format_parts() builds. Percent-encoding at most
 * triples the input, so a torrent within SHOAL_MAX_TORRENT_FILE never gets
 * near it; it exists only so the buffer has a hard cap. */
#define MAGNET_MAX_FORMAT (64u * 1024 * 1024)

/* One inclusive range of file indices from `so` (BEP 53). */
struct magnet_range {
    uint32_t first;
    uint32_t last;
};

struct shoal_magnet {
    uint8_t infohash[SHOAL_INFOHASH_LEN];
    char *name;              /* `dn`, decoded, or NULL */
    struct strv tr;          /* trackers, first-seen order, no duplicates */
    struct strv ws;          /* web seeds, same */
    struct strv pe;          /* peers ("host:port", "[v6]:port"), same */
    struct magnet_range *so; /* sorted, merged, never overlapping or adjacent */
    size_t nso;
    size_t socap;
};

/*
 * Builds "magnet:?xt=urn:btih:<40 lowercase hex>" followed by "&dn=<name>",
 * one "&tr=" per tracker and one "&ws=" per web seed, in the order given.
 * Every value is percent-encoded except RFC 3986 unreserved characters, so
 * any bytes round-trip through shoal_magnet_parse().
 *
 * infohash: 20 bytes, must not be NULL. name: NULL or "" for no `dn`.
 * trackers/webseeds: arrays of n NUL-terminated strings (may be NULL when n
 * is 0); empty strings are skipped, since the parser ignores them anyway.
 * Nothing is deduplicated or validated: the caller passes what it means.
 *
 * Returns a new NUL-terminated string the caller frees with xfree() (or
 * shoal_free()), or NULL when out of memory (or, in theory, past
 * MAGNET_MAX_FORMAT bytes). Keeps no reference to the arguments.
 */
char *magnet_format_parts(const uint8_t infohash[20], const char *name,
                          const char *const *trackers, size_t ntrackers,
                          const char *const *webseeds, size_t nwebseeds);

#endif
