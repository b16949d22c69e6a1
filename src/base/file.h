/*
 * file.h — whole small files: read one with a size cap, write one
 * atomically. Base layer: plain POSIX file calls, nothing else.
 *
 * These serve state files, .torrent files and the like, which are small and
 * read or written in one go; torrent data goes through engine/storage.h.
 */
#ifndef SHOAL_FILE_H
#define SHOAL_FILE_H

#include <stddef.h>
#include <stdint.h>

/* file_write_atomic flag: refuse (-EEXIST) to replace a file already at the
 * path, even one that appears while writing. */
#define FILE_NO_REPLACE 0x1u

/*
 * Writes data[0..len) to `path` so that a crash leaves either the old file
 * or the new one, whole, never a mix:
 *   1. the bytes go to "<path>.tmp", created afresh (O_CREAT | O_EXCL |
 *      O_NOFOLLOW) after any stale file of that name is removed, so no write
 *      ever goes through a symlink planted there or into an existing file;
 *   2. the temporary file is fsynced, then renamed over path (with
 *      FILE_NO_REPLACE: hard-linked to path, which fails when path exists,
 *      then removed; where hard links are unsupported, renamed after a check
 *      that path does not exist);
 *   3. the folder is fsynced, so the new name itself survives a crash.
 * On failure the temporary file is removed. Returns 0, -EEXIST (with
 * FILE_NO_REPLACE), -ENAMETOOLONG for a path of 4096 bytes or more, another
 * -errno, or SHOAL_EINVAL for an empty path. A failing folder fsync is
 * reported though the file is already in place. It allocates nothing, so it
 * may run on any thread (a disk worker saves resume state with it).
 */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned flags);

/* file_read_capped flag: refuse anything but a regular file (SHOAL_EINVAL).
 * Without it a folder is refused (-EISDIR) and pipes or devices are read up
 * to the cap. */
#define FILE_READ_REGULAR 0x1u

/* The step of file_read_capped that failed, for the caller's own message. */
enum file_step {
    FILE_STEP_NONE = 0,
    FILE_STEP_OPEN,   /* open(): -errno */
    FILE_STEP_STAT,   /* fstat(): -errno */
    FILE_STEP_TYPE,   /* a folder (-EISDIR) or, with FILE_READ_REGULAR, not a
                       * regular file (SHOAL_EINVAL) */
    FILE_STEP_SIZE,   /* larger than the cap: SHOAL_ETOOBIG */
    FILE_STEP_MEMORY, /* SHOAL_ENOMEM */
    FILE_STEP_READ,   /* read(): -errno */
};

/*
 * Reads the whole file at `path`, at most `cap` bytes of it. A regular file
 * larger than cap is refused before anything is read; a stream is refused
 * once it yields more than cap bytes. On success *out is a new buffer of *len
 * bytes plus a NUL after them (free with xfree), and *step (may be NULL) is
 * FILE_STEP_NONE. On failure returns a negative code (see enum file_step),
 * *out is NULL and *step names the step; after SHOAL_ETOOBIG *len is the
 * size of the regular file refused, or 0 for a stream.
 */
int file_read_capped(const char *path, size_t cap, unsigned flags, uint8_t **out,
                     size_t *len, enum file_step *step);

#endif
