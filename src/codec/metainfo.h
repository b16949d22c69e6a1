/*
 * metainfo.h — BitTorrent v1 torrent files (BEP 3, 12, 19, 5, 27, 47).
 * Codec layer: bytes in, a validated struct out; no I/O except
 * shoal_metainfo_load(), which only reads the one file it is given.
 *
 * The struct is the library's internal view of a torrent; programs use the
 * accessors in shoal.h.
 */
#ifndef SHOAL_METAINFO_H
#define SHOAL_METAINFO_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* The largest piece this node will handle: bounds per-piece buffers. */
#define METAINFO_MAX_PIECE_LENGTH (256u * 1024 * 1024)
/* Bencode tokens a torrent may hold: enough for ~250k files with paths. */
#define METAINFO_MAX_TOKENS (2u * 1024 * 1024)
/* Longest file name component kept; longer ones are cut at a UTF-8 boundary
 * (most file systems allow 255 bytes, and a rename may add a suffix). */
#define METAINFO_MAX_COMPONENT 240

struct shoal_metainfo {
    uint8_t infohash[SHOAL_INFOHASH_LEN];
    char *name;
    uint64_t total_size;
    uint32_t piece_length;
    uint32_t piece_count;
    uint8_t *pieces; /* piece_count * 20 bytes */
    int multifile;
    int private_flag;

    struct shoal_file *files;
    size_t file_count;

    char **trackers;
    int *tracker_tiers;
    size_t tracker_count;
    char **webseeds;
    size_t webseed_count;
    char **nodes;
    int *node_ports;
    size_t node_count;

    char *comment;
    char *creator;
    char *source;
    int64_t creation_date;

    char **warnings;
    size_t warning_count;

    uint8_t *info; /* the raw info dictionary, as hashed */
    size_t info_len;
};

#endif
