/*
 * storage.h — a torrent's byte space laid over the files of a download folder.
 * Engine layer: plain blocking file I/O, meant for the disk worker threads
 * (disk.h). No event loop, no sockets, no clock.
 *
 * Torrent byte `off` lives in the file whose [offset, offset + size) holds it
 * (BEP 3: files are concatenated in order). Every function here is
 * thread-safe for one storage: several workers may read, write and hash at
 * once. Ordering between overlapping requests is the caller's business (the
 * disk pool orders them).
 *
 * Paths: the metainfo's paths are already made safe, and on top of that no
 * component under the download folder is ever followed when it is a symlink,
 * so a link planted in the folder cannot send a write elsewhere. Pad files
 * (BEP 47) are never created: they read as zeros, and writes to them must be
 * zeros (they are then dropped). A storage over files the caller lists
 * (storage_open_files, to make a torrent) is read-only and opens the paths
 * as they are given.
 */
#ifndef SHOAL_STORAGE_H
#define SHOAL_STORAGE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/sha.h"
#include "shoal.h"

/* storage_open() flags. */
/* Seed existing data: open files read-only, never create or extend any. */
#define STORAGE_READONLY 0x1
/* Reserve the full size of each file when it is created (posix_fallocate)
 * instead of leaving it sparse. */
#define STORAGE_PREALLOCATE 0x2

/* A read hit a file that is missing or shorter than the torrent says. */
#define STORAGE_EMISSING (-ENOENT)
/* A write to a pad file carried bytes other than zeros: the peer sent bad
 * data (BEP 47 pad files are all zeros). */
#define STORAGE_ECORRUPT (-EBADMSG)
/* A file of a storage_open_files() storage no longer has the size it was
 * listed with: it changed after it was listed, and listing it again may
 * succeed. */
#define STORAGE_ECHANGED (-EAGAIN)

struct storage;
struct shoal_metainfo;

/* What storage_open_with() is told beyond the torrent and its folder. */
struct storage_opts {
    int flags; /* STORAGE_READONLY, STORAGE_PREALLOCATE */
    /* Suffix of files not yet complete (".part"), NULL or "" for none;
     * ignored with STORAGE_READONLY (seeding uses final names only). */
    const char *incomplete_ext;
    /* The parts file (a path of the program's own, not under `dir`), NULL
     * for none. */
    const char *parts_path;
    /* Per file: 1 selected for download. NULL: every file. */
    const uint8_t *wanted;
};

/*
 * Opens the torrent described by m under folder `dir`. Keeps a pointer to m,
 * which must outlive the storage; copies what o points to. Nothing is read
 * or hashed here.
 *
 * Without STORAGE_READONLY, `dir` itself is created when missing (as with
 * mkdir -p), empty files are created at once under their final names, and
 * other files on their first write: a selected file at its full size
 * (sparse, or reserved with STORAGE_PREALLOCATE), an unselected one holding
 * only the bytes written to it.
 *
 * Names: each file is looked for under its final name first, then under
 * "<name><incomplete_ext>"; the one found is used. A file not found is
 * created under the incomplete name (when a suffix is set, the name has
 * room for it, and the suffixed name is not the name of another file of
 * the torrent) and keeps it until storage_finish_file().
 *
 * Parts file: an unselected file that is not on disk when the storage opens
 * is never created; the bytes of it that a shared piece brings are stored
 * in the parts file at their torrent offset (a sparse file, so that the
 * place of a byte never depends on the selection), and read from there. A
 * selected file that is not on disk takes over what the parts file holds of
 * it (from an earlier selection); a parts file that no file needs any more
 * is removed. A file that is on disk keeps its bytes, selected or not.
 *
 * Returns 0 and sets *out, or a negative code with err->why (err may be
 * NULL) saying which step failed.
 */
int storage_open_with(struct storage **out, const struct shoal_metainfo *m,
                      const char *dir, const struct storage_opts *o,
                      struct shoal_perr *err);

/* storage_open_with() with only flags: every file selected, final names,
 * no parts file. */
int storage_open(struct storage **out, const struct shoal_metainfo *m, const char *dir,
                 int flags, struct shoal_perr *err);

/*
 * Opens, read-only, a torrent byte space over files listed by the caller
 * rather than by a metainfo: the `nfiles` entries of `files`, in torrent
 * order, with pieces of piece_length bytes. Only each entry's path and size
 * are used (offsets follow from the sizes, attributes are ignored). A path is
 * opened as given, absolute or relative to the current folder, following
 * symlinks: it names data the caller chose, not a path a torrent supplied.
 * The sizes are a snapshot: reading a file whose size is no longer its
 * listed size fails with STORAGE_ECHANGED, whether it grew or shrank. Copies
 * the array but keeps pointers to the path strings, which must outlive the
 * storage. The storage holds no piece hashes, so storage_verify_piece()
 * returns SHOAL_EINVAL; hash pieces with storage_hash_piece() instead.
 * Returns 0 and sets *out, or a negative code with err->why (err may be
 * NULL): SHOAL_EINVAL for no files, a piece length of 0, or more pieces than
 * a uint32_t counts.
 */
int storage_open_files(struct storage **out, const struct shoal_file *files,
                       size_t nfiles, uint32_t piece_length, struct shoal_perr *err);

/* Closes every file and frees the storage. No call may be running on it.
 * NULL does nothing. */
void storage_close(struct storage *s);

/* Piece length of `piece` (the last one may be shorter), 0 past the end. */
uint32_t storage_piece_size(const struct storage *s, uint32_t piece);

/*
 * The first error a read or a write of this storage met, and in *file the
 * index of the file it was met on, so that a caller can name that file.
 * Returns 0 (and leaves *file alone) while no read or write has failed.
 */
int storage_first_error(struct storage *s, size_t *file);

/*
 * Writes torrent bytes [offset, offset + len), across files as needed.
 * Returns 0 or a negative code: SHOAL_EINVAL past the end of the torrent,
 * -EROFS on a STORAGE_READONLY storage, STORAGE_ECORRUPT when a pad range
 * gets non-zero bytes (other ranges of the same call may have been written),
 * -ELOOP / -ENOTDIR when a path component is a symlink or not a folder, or
 * another -errno (-ENOSPC, -EDQUOT, -EACCES, -EIO ...).
 */
int storage_write(struct storage *s, uint64_t offset, const uint8_t *data, size_t len);

/* The same for data gathered from `iovcnt` buffers, written with pwritev:
 * the disk pool joins adjacent blocks this way. */
int storage_writev(struct storage *s, uint64_t offset, const struct iovec *iov,
                   int iovcnt);

/*
 * Reads torrent bytes [offset, offset + len) into out. Pad ranges read as
 * zeros. Returns 0, SHOAL_EINVAL past the end, STORAGE_EMISSING when a file
 * is missing or too short (a read never creates anything), or -errno.
 */
int storage_read(struct storage *s, uint64_t offset, uint8_t *out, size_t len);

/* A worker's hashing state: a SHA-1 context and a read buffer, reused from
 * piece to piece. One per thread; init on any thread, use on one at a time. */
struct storage_hasher {
    struct sha1_ctx sha;
    uint8_t *chunk;
};

/* Returns 0 or SHOAL_ENOMEM (then cleanup is still safe). */
int storage_hasher_init(struct storage_hasher *h);
void storage_hasher_cleanup(struct storage_hasher *h);

/*
 * SHA-1 of piece `piece` as stored, into out. Reads in 256 KiB chunks.
 * Returns 0, SHOAL_EINVAL for a piece past the end, or a storage_read()
 * error. storage_hash_piece() allocates its state per call; the _with form
 * uses h (for worker threads hashing many pieces).
 */
int storage_hash_piece(struct storage *s, uint32_t piece, uint8_t out[SHA1_LEN]);
int storage_hash_piece_with(struct storage *s, uint32_t piece, uint8_t out[SHA1_LEN],
                            struct storage_hasher *h);

/*
 * The SHA-1s of the `count` consecutive pieces from `first` on, into
 * out[0 .. count * 20), read in 256 KiB chunks that run on across piece
 * boundaries, so that pieces smaller than a chunk cost one read per chunk
 * rather than one each. Returns 0, SHOAL_EINVAL when count is 0 or a piece
 * is past the end, or the first storage_read() error (out is then partly
 * written).
 */
int storage_hash_pieces_with(struct storage *s, uint32_t first, uint32_t count,
                             uint8_t *out, struct storage_hasher *h);

/* Hashes `piece` and compares it with the torrent's hash: 1 match,
 * 0 mismatch, < 0 error (STORAGE_EMISSING when its data is not there;
 * SHOAL_EINVAL on a storage_open_files() storage, which has no hashes). */
int storage_verify_piece(struct storage *s, uint32_t piece);
int storage_verify_piece_with(struct storage *s, uint32_t piece,
                              struct storage_hasher *h);

/* What one file looks like on disk, for resume data (resume.h). */
struct storage_file_state {
    uint64_t size;    /* size on disk; 0 when missing */
    int64_t mtime_ns; /* modification time, ns since the epoch; 0 when missing */
    int exists;       /* a regular file is there (pad files: always 1) */
    int size_ok;      /* exists with exactly the torrent's size */
};

/* Number of files of the torrent (the length of storage_check_files' out). */
size_t storage_file_count(const struct storage *s);

/*
 * Looks at every file of the torrent without opening or creating it: fills
 * out[0 .. storage_file_count()) in torrent order, each under the name it
 * has now (incomplete or final). Pad files are reported as present with the
 * right size and mtime 0; files kept in the parts file as absent. Returns 0,
 * or -errno when a file cannot be inspected for a reason other than being
 * absent.
 */
int storage_check_files(struct storage *s, struct storage_file_state *out);

/* The parts file as storage_check_files() would report a file (not there:
 * all zero, also when the storage has none), for resume data. 0 or -errno. */
int storage_check_parts(struct storage *s, struct storage_file_state *out);

/* 1 while file i carries its incomplete name, else 0. Any thread. */
int storage_file_is_part(struct storage *s, size_t i);

/* 1 when file i's bytes live in the parts file (it is never on disk). */
int storage_file_in_parts(const struct storage *s, size_t i);

/* Index of the file holding torrent byte `off` (empty files are skipped;
 * file count past the end). */
size_t storage_file_at(const struct storage *s, uint64_t off);

/*
 * File i is complete: gives it its final name, in its folder, with no
 * symlink followed. Never replaces a file that has the final name already:
 * if that file holds exactly the bytes of the incomplete one, the
 * incomplete one is removed and the final one used; otherwise both stay and
 * -EEXIST is returned (the file keeps its incomplete name). Descriptors
 * open on the file stay valid, so reads in flight go on; later opens use
 * the final name. The caller guarantees that no write to file i is in
 * flight or follows (every piece over it is verified). Returns 0 (also when
 * the file has its final name already), or -errno. Blocking: disk workers.
 */
int storage_finish_file(struct storage *s, size_t i);

/* Flushes every file written since the last flush to stable storage.
 * Returns 0 or the first -errno. */
int storage_fsync(struct storage *s);

/* How the session should describe a storage error to the user. */
enum storage_error_class {
    STORAGE_ERR_NONE,     /* 0: no error */
    STORAGE_ERR_FULL,     /* -ENOSPC, -EDQUOT, -EFBIG: the disk is full */
    STORAGE_ERR_READONLY, /* -EROFS, -EACCES, -EPERM: cannot write there */
    STORAGE_ERR_MISSING,  /* STORAGE_EMISSING: files were moved or deleted */
    STORAGE_ERR_CORRUPT,  /* STORAGE_ECORRUPT: bad data for a pad file */
    STORAGE_ERR_IO,       /* anything else */
};

enum storage_error_class storage_error_class(int err);

/* A short phrase for the error's class: "disk full", "read-only",
 * "files missing", "corrupt data", "disk error", or "ok" for 0. Static. */
const char *storage_error_kind(int err);

#endif
