/*
 * ut_metadata.h — BEP 9 metadata exchange messages: request, data and
 * reject, each a bencoded dictionary sent as a BEP 10 extended message; a
 * data message carries one 16 KiB piece of the info dictionary after its
 * dictionary. Codec layer: pure, bytes in and struct out, no allocation
 * beyond the bencode tokens of one small dictionary.
 */
#ifndef SHOAL_UT_METADATA_H
#define SHOAL_UT_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* BEP 9: the metadata is sent in pieces of 16 KiB (the last one shorter). */
#define UT_METADATA_PIECE (16u * 1024)
/* Largest metadata we fetch or serve: an info dictionary this big describes
 * millions of pieces; a bigger claim is a lie or a waste. */
#define UT_METADATA_MAX_SIZE (16u * 1024 * 1024)
/* Pieces of the largest metadata. */
#define UT_METADATA_MAX_PIECES (UT_METADATA_MAX_SIZE / UT_METADATA_PIECE)
/* Longest dictionary ut_metadata_encode() writes. */
#define UT_METADATA_MAX_HEADER 64
/* Bencode values decoded from one message's dictionary, at most: a real one
 * has three keys; room is left for a few extra a client may add. */
#define UT_METADATA_MAX_TOKENS 64

enum ut_metadata_type {
    UT_METADATA_REQUEST = 0,
    UT_METADATA_DATA = 1,
    UT_METADATA_REJECT = 2,
};

struct ut_metadata_msg {
    enum ut_metadata_type type;
    uint32_t piece;
    uint32_t total_size; /* data only: the whole metadata's size */
    const uint8_t *data; /* data only: the piece's bytes, a slice of the input */
    size_t data_len;
};

/*
 * Parses one ut_metadata payload (the bytes after the extended message id).
 * Rules:
 *   - a bencoded dictionary with integer `msg_type` and `piece`;
 *   - `piece` below UT_METADATA_MAX_PIECES;
 *   - data: `total_size` in 1..UT_METADATA_MAX_SIZE, the piece inside it,
 *     and exactly the piece's bytes after the dictionary (16 KiB, or what is
 *     left for the last piece);
 *   - request and reject: nothing after the dictionary.
 * A msg_type other than 0, 1, 2 gives SHOAL_EUNSUPPORTED (BEP 9: ignore it).
 * Returns 0, SHOAL_EUNSUPPORTED, SHOAL_EPARSE or SHOAL_ETOOBIG with
 * err->off and err->why, or SHOAL_ENOMEM. out->data points into p.
 */
int ut_metadata_parse(const uint8_t *p, size_t n, struct ut_metadata_msg *out,
                      struct shoal_perr *err);

/*
 * Writes the dictionary of a message into out[UT_METADATA_MAX_HEADER]:
 * `msg_type`, `piece`, and for data `total_size` (the piece's bytes follow
 * it on the wire; the caller sends them). Returns the byte count.
 */
size_t ut_metadata_encode(uint8_t *out, enum ut_metadata_type type, uint32_t piece,
                          uint32_t total_size);

/* Pieces of metadata of total_size bytes (0 for 0). */
uint32_t ut_metadata_piece_count(uint32_t total_size);
/* Bytes of piece i of metadata of total_size bytes; 0 past the end. */
uint32_t ut_metadata_piece_len(uint32_t total_size, uint32_t piece);

#endif
