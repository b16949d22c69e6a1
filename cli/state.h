/*
 * state.h — the user's state folder for the session commands: where the
 * resume state, the parts file and the lock of each torrent live, named so
 * that one torrent downloaded into two folders keeps two states, and the
 * lock that keeps two processes off the same torrent and folder. CLI layer;
 * nothing here writes into a download folder.
 */
#ifndef SHOAL_CLI_STATE_H
#define SHOAL_CLI_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* Room for a state file's path. */
#define STATE_PATH_MAX 4096

/*
 * The state folder: override when not NULL, else $XDG_STATE_HOME/shoal
 * (when that is an absolute path, as the XDG spec asks), else
 * $HOME/.local/state/shoal. Written to out. Returns 0, -ENAMETOOLONG, or
 * -ENOENT when neither variable gives a folder. Creates nothing.
 */
int state_dir_path(const char *override, char *out, size_t len);

/* Creates folder path and the parents it lacks, each with mode. Returns 0,
 * -ENOTDIR when path is there but no folder, or another -errno. */
int state_mkdirs(const char *path, unsigned mode);

/* Creates the state folder and the parents it lacks, each 0700 (the XDG
 * spec's mode). Returns 0 or -errno. */
int state_dir_create(const char *path);

/*
 * The stem of a torrent's state files in state folder sdir, for download
 * folder real_dir (already resolved by realpath): "<sdir>/<infohash
 * hex>-<16 hex digits of a hash of real_dir>"; the files are the stem plus
 * ".resume", ".parts" and ".lock". Returns 0 or -ENAMETOOLONG.
 */
int state_stem(const char *sdir, const uint8_t *infohash, const char *real_dir, char *out,
               size_t len);

/* 64-bit FNV-1a of s: names a folder in a file name, not a secret. */
uint64_t state_hash(const char *s);

/*
 * Takes the lock <stem>.lock (created 0600 when missing) without waiting.
 * Returns a descriptor to keep open for as long as the lock is held (it is
 * not inherited by programs started later), -EWOULDBLOCK when another
 * process holds it, or another -errno.
 */
int state_lock(const char *stem);

/* Lets go of a lock from state_lock(); a negative fd does nothing. */
void state_unlock(int fd);

#endif
