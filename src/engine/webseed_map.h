/*
 * webseed_map.h — where the bytes of a torrent live on a web seed (BEP 19):
 * which file a byte range falls in, and the URL of that file. Engine layer,
 * pure: no I/O, no clock.
 *
 * A torrent is one stream of bytes cut into pieces; a web seed serves it
 * as files. A range of the stream is fetched as one ranged GET per file it
 * crosses; BEP 47 pad files are zeros and are never asked for.
 */
#ifndef SHOAL_WEBSEED_MAP_H
#define SHOAL_WEBSEED_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* Longest URL built for a file; a longer one is refused. */
#define WEBSEED_MAX_URL 8192

/* The part of a torrent byte range that lies in one file. */
struct webseed_segment {
    size_t file;       /* index in the torrent's files */
    uint64_t file_off; /* its first byte, counted from the start of the file */
    uint64_t len;      /* bytes, at least 1 */
    int pad;           /* a BEP 47 pad file: zeros, never requested */
};

/*
 * The segment that starts at torrent byte off and ends at end or at the end
 * of the file holding off, whichever comes first. Needs off < end <=
 * total size; empty files never hold a byte. Returns 0, or SHOAL_EINVAL
 * for a range outside the torrent. O(log files).
 */
int webseed_map_segment(const shoal_metainfo *m, uint64_t off, uint64_t end,
                        struct webseed_segment *seg);

/*
 * The URL of file `file` on the web seed `base` (BEP 19): for a multi-file
 * torrent base, a '/' unless base ends in one, then the torrent's name and
 * the file's path, each component percent-encoded; for a single-file
 * torrent base itself, or base followed by the encoded name when base ends
 * in '/'. Paths are the torrent's as made safe by the parser. Returns 0
 * and *out (the caller frees it with xfree), SHOAL_EINVAL for a bad index,
 * SHOAL_ETOOBIG past WEBSEED_MAX_URL, or SHOAL_ENOMEM.
 */
int webseed_map_url(const char *base, const shoal_metainfo *m, size_t file, char **out);

#endif
