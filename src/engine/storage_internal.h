/*
 * storage_internal.h — what the files of the storage module share: the
 * storage's state and the helpers that name and open its files. Engine
 * layer; only src/engine/storage*.c include it.
 */
#ifndef SHOAL_STORAGE_INTERNAL_H
#define SHOAL_STORAGE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* Open descriptors kept: enough for the files a swarm touches at once, far
 * below the usual limit of 1024 per process. */
#define STORAGE_MAX_FDS 64
/* Bytes compared per step when a finished file meets one of its final
 * name (two halves of this). */
#define STORAGE_COMPARE_CHUNK (128u * 1024)

/* A cached descriptor. */
struct slot {
    int fd;        /* -1 when the slot is free */
    size_t file;   /* index of the file it belongs to */
    unsigned refs; /* threads using it now; evicted only at 0 */
    uint64_t used; /* tick of the last use, for LRU */
};

/* Per-file state, under the mutex. */
struct sfile {
    int slot;           /* cache slot holding its descriptor, or -1 */
    int dirty;          /* written since the last fsync */
    unsigned char part; /* named "<name><ext>" until storage_finish_file() */
    /* Fixed at open: its bytes live in the parts file (an unselected file
     * that was not on disk), or it is never extended to its full size (an
     * unselected file without a parts file). */
    unsigned char in_parts;
    unsigned char partial;
    unsigned char plain; /* never takes the suffix (mark_clashes) */
};

struct storage {
    const struct shoal_metainfo *m; /* the torrent, or &layout */
    int flags;
    int root; /* the download folder; -1 for listed files */
    pthread_mutex_t mu;
    struct sfile *files;
    struct slot slots[STORAGE_MAX_FDS];
    uint64_t tick;
    int first_err;         /* first failed read or write (under mu) */
    size_t first_err_file; /* ... and the file it failed on */
    /* storage_open_files: the files and pieces of the caller's list, with
     * no hashes, and the copy of the list it points into (else NULL). */
    struct shoal_metainfo layout;
    struct shoal_file *listed;
    char *ext; /* suffix of incomplete files, or NULL */
    /* Comparing a finished file with one already at its final name: rare,
     * so one buffer, made at open, taken in turn. */
    uint8_t *scratch;
    pthread_mutex_t scratch_mu;
    char *parts_path; /* the parts file, or NULL */
    int parts_fd;     /* -1 until first used (under mu) */
    int parts_dirty;  /* written since the last fsync (under mu) */
    size_t nparts;    /* files whose bytes live in the parts file */
};

/*
 * Opens the folder that holds `path` (relative to the download folder), one
 * component at a time without following symlinks, creating missing folders
 * when `create` is set. Returns a descriptor (the root itself when path has
 * one component: *owned tells whether the caller must close it) and points
 * *name at the last component; or -errno.
 */
int storage_open_parent(struct storage *s, const char *path, int create,
                        const char **name, int *owned);

/* Whether file i carries its incomplete name now (under the mutex). */
int storage_name_is_part(struct storage *s, size_t i);

/* The name of a file in its folder: `leaf`, or while it is incomplete
 * leaf + suffix, built in buf. */
const char *storage_disk_name(const struct storage *s, const char *leaf, int part,
                              char buf[NAME_MAX + 1]);

#endif
