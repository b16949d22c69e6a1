/*
 * resume.h — what a torrent had on disk when the node last stopped: the
 * pieces it held, the size and mtime of each file at that moment, and the
 * transfer totals. Engine layer: reads and writes only the one state file it
 * is given, bencoded:
 *
 *   d 10:downloaded i..e  5:files l d 5:mtime i<ns>e 4:size i..e e ... e
 *     4:have <(pieces + 7) / 8 bytes, MSB first>  8:infohash 20:...
 *     5:parts d 5:mtime i<ns>e 4:size i..e e   (only when there is one)
 *     6:pieces i..e  8:uploaded i..e  7:version i1e e
 *
 * Files are recorded by index, not by name: a file renamed from its
 * incomplete name to its final one keeps its size and mtime, so the state
 * stays true across that rename. "parts" is the parts file (storage.h),
 * which holds pieces' bytes as the data files do.
 *
 * How the session uses it: at start, resume_load() + resume_check() against
 * the torrent, then storage_check_files() and resume_matches(); when all
 * agree the `have` bits are trusted, otherwise every piece is rechecked
 * (disk_submit_check). To save, take the file states (storage_check_files())
 * first and the have bits once every piece hash in flight at that moment has
 * landed, so that the state claims every piece verified before the file
 * times it records, and every piece whole on disk then (a piece it claims
 * that was written later changed its file, and a restart checks again);
 * then fsync the storage, then write the state, so that it never claims
 * data that is not on stable storage. The session encodes on its loop and
 * leaves the fsyncs and the write to the disk pool (resume_write).
 */
#ifndef SHOAL_RESUME_H
#define SHOAL_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

struct shoal_metainfo;
struct storage_file_state;

/* A state file larger than this is refused before it is read. */
#define RESUME_MAX_FILE (64u * 1024 * 1024)
/* The format version written; others are refused. */
#define RESUME_VERSION 1

struct resume_file {
    uint64_t size;    /* on disk, 0 when missing */
    int64_t mtime_ns; /* 0 when missing */
};

struct resume_state {
    uint8_t infohash[SHOAL_INFOHASH_LEN];
    uint32_t piece_count;
    uint8_t *have; /* (piece_count + 7) / 8 bytes, MSB first; spare bits 0 */
    size_t file_count;
    struct resume_file *files;
    struct resume_file parts; /* the parts file; all 0 when there is none */
    uint64_t uploaded;
    uint64_t downloaded;
};

/*
 * Fills *st for a torrent of `piece_count` pieces and `file_count` files:
 * zeroed have bits and file entries, allocated here. Returns 0 or
 * SHOAL_ENOMEM / SHOAL_EINVAL (then *st is empty). Free with resume_cleanup.
 */
int resume_init(struct resume_state *st, const uint8_t infohash[SHOAL_INFOHASH_LEN],
                uint32_t piece_count, size_t file_count);

/* Frees what *st holds and zeroes it. */
void resume_cleanup(struct resume_state *st);

/* Copies size and mtime of n file states into st->files (n must equal
 * st->file_count, else SHOAL_EINVAL). */
int resume_set_files(struct resume_state *st, const struct storage_file_state *f,
                     size_t n);

/*
 * Writes *st to `path` atomically: the bytes go to "<path>.tmp", which is
 * fsynced and renamed over path, and then the folder is fsynced. A crash at
 * any point leaves either the old state file or the new one, whole. Returns
 * 0 or a negative code (-errno from the file system, SHOAL_EINVAL for an
 * inconsistent state, SHOAL_ENOMEM).
 */
int resume_save(const char *path, const struct resume_state *st);

/*
 * resume_save() in two halves, so that the slow half can run on a disk
 * worker. resume_encode() checks *st and encodes it: on 0, *out holds *len
 * bytes (free with xfree); SHOAL_EINVAL or SHOAL_ENOMEM otherwise, with
 * *out NULL. resume_write() writes such bytes to `path` the way
 * resume_save() does (base/file.h's atomic write); it keeps no state, so it
 * may run on any thread (one write per path at a time). Returns 0 or a negative
 * code (SHOAL_ETOOBIG for a path of 4096 bytes or more).
 */
int resume_encode(const struct resume_state *st, uint8_t **out, size_t *len);
int resume_write(const char *path, const uint8_t *data, size_t len);

/*
 * Reads and validates the state file at `path` into *out (zeroed first; free
 * with resume_cleanup, also after a failure). Files over RESUME_MAX_FILE are
 * refused (SHOAL_ETOOBIG). Returns 0; -ENOENT when there is no state file;
 * SHOAL_EPARSE with err (may be NULL) at the offending byte and the reason
 * for a damaged or truncated one; other -errno for I/O failures.
 */
int resume_load(const char *path, struct resume_state *out, struct shoal_perr *err);

/* Whether the loaded state belongs to torrent m: same infohash, piece count
 * and file count. Returns 0, or SHOAL_EINVAL with err->why saying which. */
int resume_check(const struct resume_state *st, const struct shoal_metainfo *m,
                 struct shoal_perr *err);

/* 1 when the n file states seen now (storage_check_files) equal the ones
 * saved (size and mtime of every file, n == file_count), else 0. */
int resume_matches(const struct resume_state *st, const struct storage_file_state *f,
                   size_t n);

/* Copies the parts file's state (storage_check_parts) into st. */
void resume_set_parts(struct resume_state *st, const struct storage_file_state *p);

/* 1 when the parts file seen now equals the one saved, else 0. */
int resume_parts_match(const struct resume_state *st, const struct storage_file_state *p);

#endif
