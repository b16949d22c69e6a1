/*
 * smartban.h — finds which peer sent the bad block of a piece that failed
 * its hash check. Engine layer, pure: no I/O, no clock.
 *
 * A piece usually comes from several peers, so a hash failure alone does not
 * say who lied. The session records the sender of every block of a piece in
 * progress. When the piece fails, it hands over the bad data; the SHA-1 of
 * each block is kept with its sender. When the same piece later passes, the
 * good data is compared block by block: a peer whose block differed sent
 * corrupt data and is named; peers whose blocks matched are cleared. A piece
 * that came from a single peer names that peer at once.
 */
#ifndef SHOAL_SMARTBAN_H
#define SHOAL_SMARTBAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Pieces with recorded senders at once; beyond it the oldest record of a
 * piece that never failed is dropped (its blame is then unknown). */
#define SMARTBAN_MAX_RECORDS 4096

struct smartban;

struct smartban *smartban_new(uint32_t piece_length, uint64_t total_size);
void smartban_free(struct smartban *sb);

/* Records that `who` sent the block at byte `begin` of `piece`. Returns 0 or
 * SHOAL_ENOMEM (then the block's sender is simply unknown). */
int smartban_block(struct smartban *sb, uint32_t piece, uint32_t begin,
                   const struct sockaddr_storage *who);

/* 1 when the piece has failed before and its good data should be passed to
 * smartban_piece_passed() to settle the blame. */
int smartban_is_suspect(const struct smartban *sb, uint32_t piece);

/*
 * The piece failed. Moves the senders of this attempt aside (blocks of the
 * next attempt are recorded fresh) and marks the piece suspect. Writes into
 * *single the one peer that sent every block and returns 1 when there was
 * exactly one; returns 0 when several or unknown peers sent it. Then read
 * the bad data back and pass it to smartban_bad_data().
 */
int smartban_piece_failed(struct smartban *sb, uint32_t piece,
                          struct sockaddr_storage *single);

/* The bad data of a failed piece, as stored (len = the piece's size): the
 * hash of each block is kept. Returns 0 or SHOAL_ENOMEM. */
int smartban_bad_data(struct smartban *sb, uint32_t piece, const uint8_t *data,
                      size_t len);

/*
 * The piece passed. For a suspect piece, data is the good piece: writes up
 * to max senders whose earlier block differed into out and returns how many
 * (data may be NULL for a piece that is not suspect). The record is dropped.
 */
size_t smartban_piece_passed(struct smartban *sb, uint32_t piece, const uint8_t *data,
                             size_t len, struct sockaddr_storage *out, size_t max);

/* Forgets a piece (for example when its data could not be read back). */
void smartban_forget(struct smartban *sb, uint32_t piece);

#endif
